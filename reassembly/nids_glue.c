/*
 * libnids glue: the only file that touches libnids, and so the only file
 * with the global state libnids forces on us.
 *
 * libnids follows a TCP stream only after it saw SYN, SYN/ACK and ACK, keeps
 * streams FIFO in a fixed table, and has no idle timeout. We therefore:
 *  - hide handshakes on watched ports from libnids and remember their ISNs in
 *    a small cache, so a scan flood never occupies its stream table;
 *  - synthesize the handshake when the first client data arrives (from the
 *    cached ISN, or from the segment itself when the capture started
 *    mid-stream), so every stream that carries commands is followed;
 *  - keep our own per-stream line buffer in an LRU list swept by capture time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <nids.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reassembly.h"

#define SYN_CACHE_SLOTS 65536u	/* power of two, in pairs; 20 bytes each */
#define ISN_PLAUSIBLE (1u << 24)	/* first data within 16 MiB of the SYN */
#define SYNTH_WSCALE 14		/* so a one-sided capture never runs out of window */
/* half_stream states private to libnids' tcp.c (1.26) */
#define NIDS_HALF_FIN_SENT 120
#define NIDS_HALF_FIN_CONFIRMED 121

struct flow {
	struct flow *older, *newer;	/* LRU by last data, capture time */
	struct tcp_stream *nids;
	struct ws_flow_key key;
	time_t last;
	size_t len;
	bool overlong;
	void *user;
	char line[];		/* max_line bytes, then flow_user_size bytes */
};

struct syn_slot {
	uint32_t saddr, daddr;	/* network order, as on the wire */
	uint16_t sport, dport;	/* host order */
	uint32_t isn;		/* client ISN; server ISN lives in a twin slot */
	uint32_t stamp;		/* insertion order: the older of a pair is replaced */
};

static struct {
	struct ws_reasm_params p;
	uint8_t watched[65536 / 8];
	struct ws_reasm_stats st;
	struct flow *oldest, *newest;
	size_t nflows;
	struct syn_slot *syn;
	pcap_t *dead;
	bool synthesizing, inited;
	struct timeval now;
	jmp_buf oom;
	bool oom_armed;
	uint32_t syn_stamp;
} G;

static bool port_watched(uint16_t port)
{
	return G.watched[port >> 3] & (1u << (port & 7));
}

/* ------------------------------------------------------------- flow list */

static void lru_unlink(struct flow *f)
{
	if (f->older)
		f->older->newer = f->newer;
	else
		G.oldest = f->newer;
	if (f->newer)
		f->newer->older = f->older;
	else
		G.newest = f->older;
	f->older = f->newer = NULL;
}

static void lru_push_newest(struct flow *f)
{
	f->older = G.newest;
	f->newer = NULL;
	if (G.newest)
		G.newest->newer = f;
	else
		G.oldest = f;
	G.newest = f;
}

static struct flow *flow_new(struct tcp_stream *s)
{
	size_t line = (size_t)G.p.max_line;
	size_t user_off = (line + 15) & ~(size_t)15;
	struct flow *f = calloc(1, sizeof(*f) + user_off + G.p.flow_user_size);

	if (!f)
		return NULL;
	f->nids = s;
	f->key.saddr = s->addr.saddr;
	f->key.daddr = s->addr.daddr;
	f->key.sport = s->addr.source;
	f->key.dport = s->addr.dest;
	f->last = G.now.tv_sec;
	f->user = f->line + user_off;
	lru_push_newest(f);
	G.nflows++;
	return f;
}

/* A pending unterminated line dies with its stream unless the close is orderly. */
static void flow_free(struct flow *f)
{
	if (f->len > 0 || f->overlong)
		G.st.partial_dropped++;
	lru_unlink(f);
	if (f->nids)
		f->nids->user = NULL;
	G.nflows--;
	free(f);
}

static void flow_emit(struct flow *f)
{
	if (f->overlong) {
		G.st.overlong++;
	} else {
		G.st.lines++;
		G.p.on_line(G.p.arg, &f->key, f->user, f->line, f->len, &G.now);
	}
	f->len = 0;
	f->overlong = false;
}

static void flow_take(struct flow *f, const char *data, size_t n)
{
	size_t cap = (size_t)G.p.max_line;

	while (n > 0) {
		const char *lf = memchr(data, '\n', n);
		size_t chunk = lf ? (size_t)(lf - data) : n;

		if (!f->overlong) {
			if (f->len + chunk > cap) {
				f->overlong = true;
			} else {
				memcpy(f->line + f->len, data, chunk);
				f->len += chunk;
			}
		}
		if (!lf)
			break;
		flow_emit(f);
		data = lf + 1;
		n -= chunk + 1;
	}
	f->last = G.now.tv_sec;
	if (G.newest != f) {
		lru_unlink(f);
		lru_push_newest(f);
	}
}

/* ------------------------------------------------------ libnids callbacks */

static void on_tcp(struct tcp_stream *s, void **param)
{
	struct flow *f = s->user;

	(void)param;
	switch (s->nids_state) {
	case NIDS_JUST_EST:
		if (!port_watched(s->addr.dest))
			return;
		f = flow_new(s);
		if (!f) {
			G.st.no_mem++;
			return;
		}
		s->user = f;
		s->server.collect++;
		G.st.streams++;
		return;
	case NIDS_DATA:
		/* the buffer holds count - offset bytes; the new ones are last */
		if (f && s->server.count_new > 0)
			flow_take(f, s->server.data + (s->server.count - s->server.offset) -
					     s->server.count_new,
				  (size_t)s->server.count_new);
		return;
	case NIDS_CLOSE:
		if (f && f->len > 0)
			flow_emit(f);	/* cmd.exe runs the last line at end of input */
		break;
	case NIDS_TIMED_OUT:	/* libnids' table was full: FIFO eviction */
		G.st.evictions++;
		break;
	default:		/* NIDS_RESET, NIDS_EXITING */
		break;
	}
	if (f)
		flow_free(f);
}

static void on_nids_log(int type, int err, struct ip *iph, void *data)
{
	(void)err;
	(void)iph;
	(void)data;
	switch (type) {
	case NIDS_WARN_IP:
		G.st.nids_warn[WS_NW_IP]++;
		break;
	case NIDS_WARN_TCP:
		G.st.nids_warn[WS_NW_TCP]++;
		break;
	case NIDS_WARN_UDP:
		G.st.nids_warn[WS_NW_UDP]++;
		break;
	case NIDS_WARN_SCAN:
		G.st.nids_warn[WS_NW_SCAN]++;
		break;
	default:
		G.st.nids_warn[WS_NW_OTHER]++;
		break;
	}
}

/* libnids dereferences whatever malloc returned: unwind to the feed instead. */
static void on_nids_no_mem(char *where)
{
	(void)where;
	G.st.no_mem++;
	if (G.oom_armed)
		longjmp(G.oom, 1);
	abort();
}

static void on_udp(struct tuple4 *addr, char *payload, int len, struct ip *iph)
{
	struct ws_flow_key k = {
		.saddr = addr->saddr, .daddr = addr->daddr,
		.sport = addr->source, .dport = addr->dest,
	};

	(void)iph;
	if (len < 0)
		return;
	G.st.udp_datagrams++;
	G.p.on_udp(G.p.arg, &k, (const uint8_t *)payload, (size_t)len, &G.now);
}

/* -------------------------------------------------------- TCP header view */

struct tcp_view {
	uint32_t saddr, daddr;	/* network order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	size_t datalen;
};

/* Parse an unfragmented IPv4/TCP packet; false if it is not one or is short. */
static bool tcp_view_parse(const uint8_t *p, size_t len, struct tcp_view *v)
{
	size_t ihl, iplen, thl;

	if (len < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP)
		return false;
	if (((p[6] & 0x3f) << 8 | p[7]) != 0)	/* MF set or offset != 0 */
		return false;
	ihl = (size_t)(p[0] & 15) * 4;
	iplen = (size_t)p[2] << 8 | p[3];
	if (ihl < 20 || iplen > len || iplen < ihl + 20)
		return false;
	thl = (size_t)(p[ihl + 12] >> 4) * 4;
	if (thl < 20 || ihl + thl > iplen)
		return false;
	memcpy(&v->saddr, p + 12, 4);
	memcpy(&v->daddr, p + 16, 4);
	v->sport = (uint16_t)(p[ihl] << 8 | p[ihl + 1]);
	v->dport = (uint16_t)(p[ihl + 2] << 8 | p[ihl + 3]);
	v->seq = (uint32_t)p[ihl + 4] << 24 | (uint32_t)p[ihl + 5] << 16 |
		 (uint32_t)p[ihl + 6] << 8 | p[ihl + 7];
	v->ack = (uint32_t)p[ihl + 8] << 24 | (uint32_t)p[ihl + 9] << 16 |
		 (uint32_t)p[ihl + 10] << 8 | p[ihl + 11];
	v->flags = p[ihl + 13];
	v->datalen = iplen - ihl - thl;
	return true;
}

/* ------------------------------------------------------------- SYN cache */

/*
 * Two-way set associative: a SYN evicts the older of its pair, so a scan
 * has to hit the same pair twice between a handshake and its first data.
 */
static struct syn_slot *syn_pair(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport)
{
	uint32_t h = saddr * 0x9e3779b1u ^ daddr * 0x85ebca6bu ^
		     ((uint32_t)sport << 16 | dport) * 0xc2b2ae35u;

	h ^= h >> 15;
	return &G.syn[h & (SYN_CACHE_SLOTS - 2)];
}

static bool syn_is(const struct syn_slot *s, uint32_t saddr, uint32_t daddr, uint16_t sport,
		   uint16_t dport)
{
	return s->saddr == saddr && s->daddr == daddr && s->sport == sport && s->dport == dport;
}

static void syn_remember(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
			 uint32_t isn)
{
	struct syn_slot *pair = syn_pair(saddr, daddr, sport, dport), *s;

	if (syn_is(&pair[1], saddr, daddr, sport, dport))
		s = &pair[1];	/* a retransmitted SYN: same slot */
	else if (syn_is(&pair[0], saddr, daddr, sport, dport))
		s = &pair[0];
	else
		s = pair[0].stamp <= pair[1].stamp ? &pair[0] : &pair[1];
	s->saddr = saddr;
	s->daddr = daddr;
	s->sport = sport;
	s->dport = dport;
	s->isn = isn;
	s->stamp = ++G.syn_stamp;
}

/* One use only: after an idle expiry the old ISN would leave a hole forever. */
static bool syn_recall(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
		       uint32_t *isn)
{
	struct syn_slot *pair = syn_pair(saddr, daddr, sport, dport);

	for (int i = 0; i < 2; i++) {
		if (!syn_is(&pair[i], saddr, daddr, sport, dport))
			continue;
		*isn = pair[i].isn;
		memset(&pair[i], 0, sizeof(pair[i]));
		return true;
	}
	return false;
}

/* ------------------------------------------------- handshake synthesis */

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Feed libnids one handshake packet of our own, with the current timestamp. */
static void feed_synthetic(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			   uint32_t seq, uint32_t ack, uint8_t flags, bool wscale)
{
	uint8_t pkt[44] = {0};
	size_t tcplen = wscale ? 24 : 20, len = 20 + tcplen;
	uint16_t sum;
	struct pcap_pkthdr h;

	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[6] = 0x40;		/* DF */
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, &src, 4);
	memcpy(pkt + 16, &dst, 4);
	sum = ip_checksum(pkt, 20);
	pkt[10] = (uint8_t)(sum >> 8);
	pkt[11] = (uint8_t)sum;
	pkt[20] = (uint8_t)(sport >> 8);
	pkt[21] = (uint8_t)sport;
	pkt[22] = (uint8_t)(dport >> 8);
	pkt[23] = (uint8_t)dport;
	put32(pkt + 24, seq);
	put32(pkt + 28, ack);
	pkt[32] = (uint8_t)((tcplen / 4) << 4);
	pkt[33] = flags;
	pkt[34] = 0xff;		/* window 65535 */
	pkt[35] = 0xff;
	if (wscale) {
		pkt[40] = 1;	/* NOP */
		pkt[41] = 3;	/* window scale */
		pkt[42] = 3;
		pkt[43] = SYNTH_WSCALE;
	}
	h.ts = G.now;
	h.caplen = h.len = (bpf_u_int32)len;
	nids_pcap_handler(NULL, &h, pkt);
}

static void synthesize_handshake(const struct tcp_view *v, uint32_t client_isn,
				 uint32_t server_isn)
{
	struct pcap_pkthdr *saved_hdr = nids_last_pcap_header;
	u_char *saved_data = nids_last_pcap_data;

	G.synthesizing = true;
	feed_synthetic(v->saddr, v->daddr, v->sport, v->dport, client_isn, 0, TH_SYN, true);
	feed_synthetic(v->daddr, v->saddr, v->dport, v->sport, server_isn, client_isn + 1,
		       TH_SYN | TH_ACK, true);
	feed_synthetic(v->saddr, v->daddr, v->sport, v->dport, client_isn + 1, server_isn + 1,
		       TH_ACK, false);
	G.synthesizing = false;
	nids_last_pcap_header = saved_hdr;
	nids_last_pcap_data = saved_data;
}

static struct tcp_stream *find_client_stream(const struct tcp_view *v)
{
	struct tuple4 t;

	t.saddr = v->saddr;
	t.daddr = v->daddr;
	t.source = v->sport;
	t.dest = v->dport;
	return nids_find_tcp_stream(&t);
}

/* A new SYN on a 4-tuple we still follow: the old connection is gone. */
static void end_reused_stream(const struct tcp_view *v)
{
	struct tcp_stream *s = find_client_stream(v);

	if (!s || !s->user)
		return;
	flow_free(s->user);
	nids_free_tcp_stream(s);
}

/*
 * Before libnids sees a handshake packet on a watched port: remember its ISN
 * and keep it from libnids. Runs on raw (not yet reassembled) packets.
 */
static int filter_handshakes(struct ip *iph, int len)
{
	struct tcp_view v;

	if (G.synthesizing || len < 0 || !tcp_view_parse((const uint8_t *)iph, (size_t)len, &v))
		return 1;
	if (!(v.flags & TH_SYN) || (v.flags & TH_RST))
		return 1;
	if (!(v.flags & TH_ACK) && port_watched(v.dport)) {
		end_reused_stream(&v);
		syn_remember(v.saddr, v.daddr, v.sport, v.dport, v.seq);
		return 0;
	}
	if ((v.flags & TH_ACK) && port_watched(v.sport)) {
		syn_remember(v.saddr, v.daddr, v.sport, v.dport, v.seq);
		return 0;
	}
	return 1;
}

/*
 * After IP reassembly, before libnids' TCP code: client data on a watched
 * port that libnids does not follow gets the handshake libnids needs.
 */
static void pick_up_streams(struct ip *iph, int len)
{
	struct tcp_view v;
	struct tcp_stream *s;
	uint32_t cisn, sisn;

	if (G.synthesizing || len < 0 || !tcp_view_parse((const uint8_t *)iph, (size_t)len, &v))
		return;
	if (!port_watched(v.dport) || v.datalen == 0 || (v.flags & (TH_SYN | TH_RST)))
		return;
	s = find_client_stream(&v);
	if (s && s->user)
		return;
	if (s && s->client.state == TCP_SYN_SENT) {
		/* a handshake libnids saw only in part (a fragmented SYN) */
		cisn = s->client.seq - 1;
		nids_free_tcp_stream(s);
	} else if (s) {
		return;		/* followed by libnids but not by us: nothing to add */
	} else if (!syn_recall(v.saddr, v.daddr, v.sport, v.dport, &cisn) ||
		   v.seq - (cisn + 1) >= ISN_PLAUSIBLE) {
		cisn = v.seq - 1;	/* true mid-stream pickup */
		G.st.pickups++;
	}
	if (v.flags & TH_ACK)
		sisn = v.ack - 1;
	else if (!syn_recall(v.daddr, v.saddr, v.dport, v.sport, &sisn))
		sisn = 0x10000000u;
	synthesize_handshake(&v, cisn, sisn);
}

/* ------------------------------------------------------------------- API */

int ws_reasm_init(const struct ws_reasm_params *p, char *err, size_t errlen)
{
	static struct nids_chksum_ctl no_checksums[] = {{0, 0, NIDS_DONT_CHKSUM, 0}};

	if (G.inited) {
		snprintf(err, errlen, "reassembly: already initialised");
		return -1;
	}
	memset(&G, 0, sizeof(G));
	G.p = *p;
	for (size_t i = 0; i < p->nports; i++)
		G.watched[p->ports[i] >> 3] |= (uint8_t)(1u << (p->ports[i] & 7));
	G.syn = calloc(SYN_CACHE_SLOTS, sizeof(*G.syn));
	G.dead = pcap_open_dead(DLT_RAW, 262144);
	if (!G.syn || !G.dead) {
		snprintf(err, errlen, "reassembly: out of memory");
		goto fail;
	}
	nids_params.pcap_desc = G.dead;
	nids_params.filename = NULL;
	nids_params.device = NULL;
	nids_params.pcap_filter = NULL;
	nids_params.scan_num_hosts = 0;
	nids_params.tcp_workarounds = 0;
	nids_params.tcp_flow_timeout = 0;	/* else a reused 4-tuple frees without callback */
	/* libnids holds 3/4 of n_tcp_streams at most */
	nids_params.n_tcp_streams = p->max_streams / 3 * 4 + 4;
	nids_params.n_hosts = 256;
	nids_params.multiproc = 0;
	nids_params.one_loop_less = 0;
	nids_params.syslog = on_nids_log;
	nids_params.no_mem = on_nids_no_mem;
	nids_params.ip_filter = filter_handshakes;
	if (!nids_init()) {
		snprintf(err, errlen, "libnids: %s", nids_errbuf);
		goto fail;
	}
	nids_register_chksum_ctl(no_checksums, 1);
	nids_register_ip(pick_up_streams);
	nids_register_tcp(on_tcp);
	if (p->on_udp)
		nids_register_udp(on_udp);
	G.inited = true;
	return 0;
fail:
	free(G.syn);
	if (G.dead)
		pcap_close(G.dead);
	memset(&G, 0, sizeof(G));
	return -1;
}

/*
 * libnids reports NIDS_CLOSE only once both sides closed; cmd.exe runs the
 * last unterminated line as soon as the client's FIN ends its input.
 */
static void flush_on_client_fin(const uint8_t *ip, size_t caplen)
{
	struct tcp_view v;
	struct tcp_stream *s;
	struct flow *f;

	if (!tcp_view_parse(ip, caplen, &v) || !(v.flags & TH_FIN) || !port_watched(v.dport))
		return;
	s = find_client_stream(&v);
	f = s ? s->user : NULL;
	if (f && f->len > 0 && (s->client.state == NIDS_HALF_FIN_SENT ||
				       s->client.state == NIDS_HALF_FIN_CONFIRMED))
		flow_emit(f);
}

void ws_reasm_feed(const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	struct pcap_pkthdr h;

	if (!G.inited || caplen > 262144)
		return;
	G.now = *ts;
	h.ts = *ts;
	h.caplen = h.len = (bpf_u_int32)caplen;
	if (setjmp(G.oom))
		goto done;
	G.oom_armed = true;
	nids_pcap_handler(NULL, &h, (u_char *)ip);
	flush_on_client_fin(ip, caplen);
done:
	G.oom_armed = false;
	G.synthesizing = false;
}

void ws_reasm_sweep(const struct timeval *now)
{
	if (!G.inited)
		return;
	G.now = *now;
	while (G.oldest && now->tv_sec - G.oldest->last > G.p.idle_timeout) {
		struct flow *f = G.oldest;
		struct tcp_stream *s = f->nids;

		G.st.idle_expired++;
		flow_free(f);
		if (s)
			nids_free_tcp_stream(s);
	}
}

void ws_reasm_finish(void)
{
	if (!G.inited)
		return;
	/* nids_exit frees only the head of each callback list: take ours off first */
	nids_unregister_ip(pick_up_streams);
	nids_exit();		/* NIDS_EXITING for every stream: on_tcp frees ours */
	nids_unregister_tcp(on_tcp);
	if (G.p.on_udp)
		nids_unregister_udp(on_udp);
	while (G.oldest)
		flow_free(G.oldest);
	pcap_close(G.dead);
	free(G.syn);
	G.dead = NULL;
	G.syn = NULL;
	G.inited = false;
}

const struct ws_reasm_stats *ws_reasm_stats(void)
{
	return &G.st;
}

size_t ws_reasm_active_streams(void)
{
	return G.nflows;
}
