/*
 * reasm_dump — what the reassembler hands on for each TCP connection of a
 * capture, both directions, through the new API (on_data, on_close,
 * on_warn, a screen callback that follows everything).
 *
 *   reasm_dump [-t TARGET] [-k auto|on|off] [-p WATCHED_PORT] FILE.pcap
 *
 * Prints, for every connection as it ends:
 *   flow CLIENT:PORT > SERVER:PORT close REASON
 *   c2s N BYTES          (escaped: printable ASCII as is, others \xNN)
 *   s2c N BYTES
 * and every warning as "warn KIND DETAIL". Ethernet (with 802.1Q tags),
 * Linux cooked and raw IPv4 captures.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reassembly.h"

#define KEEP (1u << 20)

struct side_buf {
	uint8_t *p;
	size_t n;
};

struct flow_bufs {
	struct side_buf side[2];
};

static const char *const reasons[] = {"fin", "rst", "idle", "evicted", "end"};

static void on_data(void *arg, struct ws_flow_info *flow, enum ws_side from, const uint8_t *data,
		    size_t len, const struct timeval *ts)
{
	struct flow_bufs *b = flow->user;
	struct side_buf *s;

	(void)arg;
	(void)ts;
	if (!b) {
		b = flow->user = calloc(1, sizeof(*b));
		if (!b)
			abort();
	}
	s = &b->side[from];
	if (!s->p && !(s->p = malloc(KEEP)))
		abort();
	if (len > KEEP - s->n)
		len = KEEP - s->n;
	memcpy(s->p + s->n, data, len);
	s->n += len;
}

static void print_side(const char *name, const struct side_buf *s)
{
	printf("%s %zu ", name, s->n);
	for (size_t i = 0; i < s->n; i++) {
		uint8_t c = s->p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	putchar('\n');
}

static void on_close(void *arg, struct ws_flow_info *flow, enum ws_close_reason why)
{
	struct flow_bufs *b = flow->user;
	char c[WS_ADDR_STRLEN], s[WS_ADDR_STRLEN];
	struct side_buf none = {NULL, 0};

	(void)arg;
	printf("flow %s:%u > %s:%u close %s\n", ws_addr_str(&flow->client.addr, c, sizeof(c)),
	       flow->client.port, ws_addr_str(&flow->server.addr, s, sizeof(s)),
	       flow->server.port, reasons[why]);
	print_side("c2s", b ? &b->side[0] : &none);
	print_side("s2c", b ? &b->side[1] : &none);
	if (b) {
		free(b->side[0].p);
		free(b->side[1].p);
		free(b);
	}
	flow->user = NULL;
}

static void on_warn(void *arg, const char *kind, const char *detail,
		    const struct ws_flow_info *flow, const struct timeval *ts)
{
	(void)arg;
	(void)flow;
	(void)ts;
	printf("warn %s %s\n", kind, detail);
}

static enum ws_screen_verdict follow_all(void *arg, const struct ws_flow_info *flow,
					 enum ws_side from, const uint8_t *bytes, size_t len)
{
	(void)arg;
	(void)flow;
	(void)from;
	(void)bytes;
	(void)len;
	return WS_SCREEN_FOLLOW;
}

/* Offset of the IPv4 header in a frame, or -1. */
static long ip_offset(int dlt, const uint8_t *p, size_t len)
{
	size_t off;
	unsigned type;

	switch (dlt) {
	case DLT_RAW:
		return 0;
	case DLT_LINUX_SLL:
		return len >= 16 && (p[14] << 8 | p[15]) == 0x0800 ? 16 : -1;
	case DLT_EN10MB:
		off = 12;
		do {
			if (len < off + 2)
				return -1;
			type = (unsigned)(p[off] << 8 | p[off + 1]);
			off += 2;
			if (type == 0x8100 || type == 0x88a8)
				off += 2;
		} while (type == 0x8100 || type == 0x88a8);
		return type == 0x0800 ? (long)off : -1;
	default:
		return -1;
	}
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct ws_reasm_params p = {
		.max_streams = 1024, .max_line = 1024, .idle_timeout = 600, .screen = follow_all,
		.on_data = on_data, .on_close = on_close, .on_warn = on_warn,
	};
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc;
	int c, dlt;
	static uint16_t port;

	while ((c = getopt(argc, argv, "t:k:p:")) != -1) {
		if (c == 't' && ws_policy_parse(optarg, &p.target) == 0)
			continue;
		if (c == 'p' && atoi(optarg) > 0 && atoi(optarg) < 65536) {
			port = (uint16_t)atoi(optarg);
			p.ports = &port;
			p.nports = 1;
			continue;
		}
		if (c == 'k' && !strcmp(optarg, "on"))
			p.checksums = WS_CSUM_ON;
		else if (c == 'k' && !strcmp(optarg, "off"))
			p.checksums = WS_CSUM_OFF;
		else if (c == 'k' && !strcmp(optarg, "auto"))
			p.checksums = WS_CSUM_AUTO;
		else {
			fprintf(stderr, "usage: reasm_dump [-t TARGET] [-k auto|on|off] [-p PORT] FILE\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: reasm_dump [-t TARGET] [-k auto|on|off] [-p PORT] FILE\n");
		return 2;
	}
	pc = pcap_open_offline(argv[optind], err);
	if (!pc) {
		fprintf(stderr, "reasm_dump: %s: %s\n", argv[optind], err);
		return 1;
	}
	dlt = pcap_datalink(pc);
	if (ws_reasm_init(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "reasm_dump: %s\n", err);
		return 1;
	}
	while (pcap_next_ex(pc, &h, &data) == 1) {
		long off = ip_offset(dlt, data, h->caplen);

		if (off < 0)
			continue;
		ws_reasm_sweep(&h->ts);
		ws_reasm_feed(&h->ts, data + off, h->caplen - (size_t)off);
	}
	ws_reasm_finish();
	pcap_close(pc);
	return 0;
}
