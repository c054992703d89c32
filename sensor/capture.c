/*
 * Capture: we own the pcap handle (live or file), the BPF filter and the
 * layer-2 decoding, and hand bare IPv4 packets on. libnids only ever sees
 * IPv4 behind a DLT_RAW handle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sensor.h"

#define BATCH 512
#define READ_BUFFER (1 << 20)
#define MAX_VLAN_TAGS 4
#define MAX_MPLS_LABELS 8
#define FILTER_MAX 8192

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif

struct ws_capture {
	pcap_t *p;
	char source[256];	/* file or interface, for messages */
	bool live;
	int timeout_ms;		/* live: how long one dispatch waits for packets */
	int dlt;
	struct ws_capture_stats st;
	ws_ip_handler handler;
	void *arg;
	/*
	 * Offline, the same selection as the BPF filter, in C: libpcap runs a
	 * savefile's filter in its interpreter for every packet, which costs
	 * more than the rest of our work on a capture where few packets matter.
	 */
	bool prefilter, tftp;
	uint16_t tftp_port;
	uint8_t tcp_ports[65536 / 8];
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Ethertype chain: VLAN/QinQ tags and MPLS stacks, up to IPv4. */
static long ether_payload_ipv4(const uint8_t *f, size_t caplen, size_t off, uint16_t type)
{
	for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
		if (tags == MAX_VLAN_TAGS || off + 4 > caplen)
			return -1;
		type = be16(f + off + 2);
		off += 4;
	}
	if (type == 0x8847) {	/* MPLS unicast: labels until bottom of stack */
		for (int n = 0;; n++) {
			if (n == MAX_MPLS_LABELS || off + 4 > caplen)
				return -1;
			off += 4;
			if (f[off - 2] & 1)
				break;
		}
		type = off < caplen && (f[off] >> 4) == 4 ? 0x0800 : 0;
	}
	return type == 0x0800 ? (long)off : -1;
}

long ws_l2_ipv4_offset(int dlt, const uint8_t *f, size_t caplen)
{
	long off;
	uint32_t af;

	switch (dlt) {
	case DLT_EN10MB:
		if (caplen < 14)
			return -1;
		off = ether_payload_ipv4(f, caplen, 14, be16(f + 12));
		break;
	case DLT_LINUX_SLL:	/* 16-byte cooked header, protocol last */
		if (caplen < 16)
			return -1;
		off = ether_payload_ipv4(f, caplen, 16, be16(f + 14));
		break;
	case DLT_LINUX_SLL2:	/* 20-byte cooked header, protocol first */
		if (caplen < 20)
			return -1;
		off = ether_payload_ipv4(f, caplen, 20, be16(f));
		break;
	case DLT_NULL:		/* address family in the capturing host's order */
	case DLT_LOOP:		/* ... or in network order */
		if (caplen < 4)
			return -1;
		memcpy(&af, f, 4);
		if (dlt == DLT_LOOP)
			af = ntohl(af);
		else if (af > 0xffff)
			af = __builtin_bswap32(af);
		off = af == 2 ? 4 : -1;	/* AF_INET is 2 on every BSD and Linux */
		break;
	case DLT_RAW:
	case DLT_IPV4:
		off = 0;
		break;
	default:
		return -1;
	}
	if (off < 0 || (size_t)off + 20 > caplen || (f[off] >> 4) != 4)
		return -1;
	return off;
}

static bool dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_NULL:
	case DLT_LOOP: case DLT_RAW: case DLT_IPV4:
		return true;
	default:
		return false;
	}
}

static struct ws_capture *capture_new(pcap_t *p, const char *source, bool live, char *err,
				      size_t errlen)
{
	struct ws_capture *c;
	int dlt = pcap_datalink(p);

	if (!dlt_supported(dlt)) {
		const char *name = pcap_datalink_val_to_name(dlt);

		snprintf(err, errlen, "%s: unsupported link type %s (%d)", source,
			 name ? name : "unknown", dlt);
		pcap_close(p);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", source);
		pcap_close(p);
		return NULL;
	}
	c->p = p;
	c->live = live;
	c->dlt = dlt;
	snprintf(c->source, sizeof(c->source), "%s", source);
	return c;
}

struct ws_capture *ws_capture_open_file(const char *path, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	FILE *f = fopen(path, "rb");
	pcap_t *p;

	if (!f) {
		snprintf(err, errlen, "%s: open: %s", path, strerror(errno));
		return NULL;
	}
	/* big reads: stdio's default 4 KiB makes a syscall every few packets */
	setvbuf(f, NULL, _IOFBF, READ_BUFFER);
	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p) {
		snprintf(err, errlen, "%s: pcap_open_offline: %s", path, ebuf);
		fclose(f);
		return NULL;
	}
	return capture_new(p, path, false, err, errlen);
}

struct ws_capture *ws_capture_open_live(const char *iface, const struct ws_config *cfg,
					char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(iface, ebuf);
	struct ws_capture *c;
	int rc;

	if (!p) {
		snprintf(err, errlen, "%s: pcap_create: %s", iface, ebuf);
		return NULL;
	}
	if (pcap_set_snaplen(p, cfg->capture.snaplen) != 0 ||
	    pcap_set_promisc(p, cfg->capture.promiscuous) != 0 ||
	    pcap_set_timeout(p, cfg->capture.timeout_ms) != 0 ||
	    pcap_set_buffer_size(p, cfg->capture.buffer_size) != 0) {
		snprintf(err, errlen, "%s: pcap_set: %s", iface, pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(err, errlen, "%s: pcap_activate: %s%s%s", iface, pcap_statustostr(rc),
			 pcap_geterr(p)[0] ? ": " : "", pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	if (rc > 0)
		fprintf(stderr, "wormsnare: %s: pcap_activate: %s\n", iface, pcap_statustostr(rc));
	/*
	 * We wait in poll() ourselves: with TPACKET_V3 a blocking dispatch may not
	 * return while no packet arrives, and an idle sensor must still expire
	 * streams, collect fetch results and act on signals.
	 */
	if (pcap_setnonblock(p, 1, ebuf) < 0 || pcap_get_selectable_fd(p) < 0) {
		snprintf(err, errlen, "%s: pcap_setnonblock: %s", iface, ebuf);
		pcap_close(p);
		return NULL;
	}
	c = capture_new(p, iface, true, err, errlen);
	if (c)
		c->timeout_ms = cfg->capture.timeout_ms;
	return c;
}

/* Append to a bounded buffer; false once it no longer fits. */
static bool appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/*
 * Non-first fragments always pass: their ports are in the first fragment,
 * which libnids needs with them to rebuild the datagram.
 */
static bool build_filter(char *buf, size_t cap, const struct ws_config *cfg, bool tftp,
			 bool ethernet)
{
	char inner[FILTER_MAX];
	size_t il = 0, len = 0;
	bool ok = appendf(inner, sizeof(inner), &il, "(ip[6:2] & 0x1fff != 0)");

	for (size_t i = 0; i < cfg->nports; i++)
		ok = ok && appendf(inner, sizeof(inner), &il, " or tcp port %u", cfg->ports[i]);
	if (tftp)
		ok = ok && appendf(inner, sizeof(inner), &il,
				   " or udp port %u or (udp and udp[8:2] >= 3 and udp[8:2] <= 6)",
				   cfg->carve.port);
	if (!ok)
		return false;
	ok = appendf(buf, cap, &len, "((%s)", inner);
	if (ethernet)
		ok = ok && appendf(buf, cap, &len, " or (vlan and ((%s) or (vlan and (%s))))", inner,
				   inner);
	ok = ok && appendf(buf, cap, &len, ")");
	if (cfg->capture.filter[0])
		ok = ok && appendf(buf, cap, &len, " and (%s)", cfg->capture.filter);
	return ok;
}

int ws_capture_set_filter(struct ws_capture *c, const struct ws_config *cfg, bool tftp,
			  char *err, size_t errlen)
{
	char expr[FILTER_MAX * 3 + 2048];
	struct bpf_program prog;

	c->prefilter = !c->live;
	c->tftp = tftp;
	c->tftp_port = cfg->carve.port;
	for (size_t i = 0; i < cfg->nports; i++)
		c->tcp_ports[cfg->ports[i] >> 3] |= (uint8_t)(1u << (cfg->ports[i] & 7));
	if (c->prefilter) {
		if (!cfg->capture.filter[0])
			return 0;
		snprintf(expr, sizeof(expr), "%s", cfg->capture.filter);
	} else if (!build_filter(expr, sizeof(expr), cfg, tftp, c->dlt == DLT_EN10MB)) {
		snprintf(err, errlen, "%s: BPF filter too long", c->source);
		return -1;
	}
	if (pcap_compile(c->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "%s: bad filter \"%s\": %s", c->source, cfg->capture.filter,
			 pcap_geterr(c->p));
		return -1;
	}
	if (pcap_setfilter(c->p, &prog) != 0) {
		snprintf(err, errlen, "%s: pcap_setfilter: %s", c->source, pcap_geterr(c->p));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

static bool port_set(const uint8_t *bits, uint16_t port)
{
	return bits[port >> 3] & (1u << (port & 7));
}

/* What the BPF filter keeps (see build_filter), on a whole IPv4 packet. */
static bool wanted(const struct ws_capture *c, const uint8_t *ip, size_t len)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	const uint8_t *l4 = ip + ihl;

	if (be16(ip + 6) & 0x1fff)
		return true;	/* non-first fragment */
	if (ihl < 20 || len < ihl + 4)
		return false;
	if (ip[9] == 6)
		return port_set(c->tcp_ports, be16(l4)) || port_set(c->tcp_ports, be16(l4 + 2));
	if (ip[9] == 17 && c->tftp) {
		if (be16(l4) == c->tftp_port || be16(l4 + 2) == c->tftp_port)
			return true;
		return len >= ihl + 10 && be16(l4 + 8) >= 3 && be16(l4 + 8) <= 6;
	}
	return false;
}

static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *frame)
{
	struct ws_capture *c = (struct ws_capture *)user;
	long off = ws_l2_ipv4_offset(c->dlt, frame, h->caplen);
	size_t iplen, have;

	c->st.packets++;
	c->st.bytes += h->len;
	if (off < 0) {
		c->st.non_ip++;
		return;
	}
	have = h->caplen - (size_t)off;
	iplen = be16(frame + off + 2);
	if (iplen < 20 || iplen > have) {
		/* snaplen cut it, or a TSO super-frame claims a length of 0 */
		c->st.truncated++;
		return;
	}
	if (c->prefilter && !wanted(c, frame + off, iplen))
		return;
	/* trailing Ethernet padding is not data: stop at the IP total length */
	c->handler(c->arg, &h->ts, frame + off, iplen);
}

int ws_capture_dispatch(struct ws_capture *c, ws_ip_handler h, void *arg, char *err,
			size_t errlen)
{
	int n;

	c->handler = h;
	c->arg = arg;
	if (c->live) {
		struct pollfd pfd = {.fd = pcap_get_selectable_fd(c->p), .events = POLLIN};

		if (poll(&pfd, 1, c->timeout_ms) <= 0)
			return 0;	/* timeout, or a signal to look at */
	}
	n = pcap_dispatch(c->p, BATCH, on_frame, (u_char *)c);
	if (n == PCAP_ERROR_BREAK)
		return -3;
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", c->source, pcap_geterr(c->p));
		return -2;
	}
	if (n == 0 && !c->live)
		return -1;
	return n;
}

void ws_capture_breakloop(struct ws_capture *c)
{
	pcap_breakloop(c->p);
}

void ws_capture_stats(struct ws_capture *c, struct ws_capture_stats *st)
{
	struct pcap_stat ps;

	*st = c->st;
	if (c->live && pcap_stats(c->p, &ps) == 0) {
		st->kernel_recv = ps.ps_recv;
		st->kernel_drop = ps.ps_drop;
		st->iface_drop = ps.ps_ifdrop;
	}
}

bool ws_capture_is_live(const struct ws_capture *c)
{
	return c->live;
}

void ws_capture_close(struct ws_capture *c)
{
	if (!c)
		return;
	pcap_close(c->p);
	free(c);
}
