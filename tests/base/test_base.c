/*
 * base/: the family-neutral address (conversions both ways, text forms,
 * equality across families) and the bounds-checked cursor (every read
 * checks what is left; the first failed read makes the error sticky and
 * every later read returns 0 without moving).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "base.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static void test_addr(void)
{
	struct ws_addr a = ws_addr_v4h(0x518472fe), b, c;
	char buf[WS_ADDR_STRLEN];

	CHECK(ws_addr_is_v4(&a) && ws_addr_len(&a) == 4, "v4 family");
	CHECK(!strcmp(ws_addr_str(&a, buf, sizeof(buf)), "81.132.114.254"), "text %s", buf);
	CHECK(ws_addr_v4_host(&a) == 0x518472fe, "host order back");
	b = ws_addr_v4(htonl(0x518472fe));
	CHECK(ws_addr_eq(&a, &b), "network and host order constructors agree");
	CHECK(ws_addr_parse("2001:db8::1", &c) == 0 && c.family == WS_AF_INET6 &&
	      ws_addr_len(&c) == 16, "IPv6 parses");
	CHECK(!strcmp(ws_addr_str(&c, buf, sizeof(buf)), "2001:db8::1"), "IPv6 text %s", buf);
	CHECK(!ws_addr_eq(&a, &c) && ws_addr_v4_host(&c) == 0, "families never compare equal");
	CHECK(ws_addr_parse("010.0.0.1", &c) < 0, "no octal here (inet_addr forms are shell/'s)");
	CHECK(ws_addr_parse("evil.example.com", &c) < 0, "names are not addresses");
	memset(&c, 0, sizeof(c));
	CHECK(!strcmp(ws_addr_str(&c, buf, sizeof(buf)), "-"), "no address prints as -");
	CHECK(ws_addr_parse("81.132.114.254", &c) == 0 && ws_addr_eq(&a, &c), "round trip");
}

static void test_cursor(void)
{
	static const uint8_t pkt[] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x02};
	struct ws_cursor c = ws_cursor(pkt, sizeof(pkt)), s;
	uint8_t two[2];

	CHECK(ws_cur_u8(&c) == 0x12 && ws_cur_be16(&c) == 0x3456, "u8 and be16");
	CHECK(ws_cur_le16(&c) == 0x9a78 && c.left == 5 && !c.err, "le16 and what is left");
	s = ws_cur_sub(&c, 3);
	CHECK(!s.err && s.left == 3 && c.left == 2, "a sub-cursor takes its bytes");
	CHECK(ws_cur_be32(&s) == 0 && s.err && s.left == 3, "a short read fails and moves nothing");
	CHECK(ws_cur_u8(&s) == 0 && s.err, "the error is sticky: even a read that fits fails");
	ws_cur_copy(&c, two, 2);
	CHECK(!c.err && two[0] == 0x01 && two[1] == 0x02 && c.left == 0, "copy");
	CHECK(ws_cur_bytes(&c, 1) == NULL && c.err, "past the end: NULL");
	c = ws_cursor(pkt, 8);
	CHECK(ws_cur_be64(&c) == 0x123456789abcdef0ull && c.left == 0 && !c.err, "be64");
	c = ws_cursor(pkt, 7);
	CHECK(ws_cur_be64(&c) == 0 && c.err && c.left == 7,
	      "be64 of 7 bytes fails whole, moving nothing");
	c = ws_cursor(pkt, 4);
	ws_cur_skip(&c, 5);
	CHECK(c.err && c.left == 4, "skipping past the end fails and moves nothing");
	c = ws_cursor(NULL, 0);
	CHECK(ws_cur_u8(&c) == 0 && c.err, "an empty cursor reads nothing");
}

/* wire text into C strings: nothing after a NUL lost, status fields clean */
static void test_text(void)
{
	char out[8], st[6];

	CHECK(ws_copy_text(out, sizeof(out), "ab\0cd", 5, '?') == 5 && !memcmp(out, "ab?cd", 6),
	      "a NUL inside wire text is replaced, the rest kept: %s", out);
	CHECK(ws_copy_text(out, sizeof(out), "0123456789", 10, ' ') == 7 && !strcmp(out, "0123456"),
	      "cut to cap - 1 and terminated: %s", out);
	CHECK(ws_copy_text(out, 1, "abc", 3, ' ') == 0 && out[0] == '\0', "cap 1 keeps nothing");
	CHECK(!strcmp(ws_status_text(st, sizeof(st), "a:b\tc\xff"), "a?b?c"),
	      "':' and bytes outside printable ASCII become '?', cut to cap - 1: %s", st);
	CHECK(!strcmp(ws_status_text(st, sizeof(st), ""), ""), "an empty text stays empty");
	{
		const uint8_t *p = (const uint8_t *)"xe\nnext", *q = p;
		size_t n = 7, m = 2;

		CHECK(ws_skip_cut_line(&p, &n) && n == 4 && !memcmp(p, "next", 4),
		      "a cut line's rest is skipped past its LF");
		CHECK(!ws_skip_cut_line(&q, &m) && m == 2, "no LF: every byte is the cut line's");
	}
	{
		/* capture times are wire data: a fuzzer's 17870283321406 s once overflowed */
		struct timeval last = {100, 500000}, at = {160, 500000}, past = {160, 500001},
			       before = {99, 0}, far = {(time_t)17870283321406LL, 0},
			       min = {(time_t)INT64_MIN, 0}, max = {(time_t)INT64_MAX, 999999};

		CHECK(!ws_idle_longer(&last, &at, 60) && ws_idle_longer(&last, &past, 60),
		      "idle after exactly the limit, not at it");
		CHECK(!ws_idle_longer(&last, &before, 60), "a time before the last is not idle");
		CHECK(ws_idle_longer(&last, &far, 60) && !ws_idle_longer(&far, &last, 60),
		      "far apart, either way, without overflow");
		CHECK(ws_idle_longer(&min, &max, 86400) && !ws_idle_longer(&max, &min, 86400),
		      "the whole range of time_t");
	}
	{
		struct timeval ok = {1700000000, 123456}, lo = {(time_t)INT64_MIN, -1},
			       hi = {(time_t)INT64_MAX, 1000000}, edge = {WS_TIME_MAX, 999999};

		CHECK(ws_time_bound(&ok) && ok.tv_sec == 1700000000 && ok.tv_usec == 123456,
		      "a time in range is kept as it is");
		CHECK(ws_time_bound(&edge) && edge.tv_sec == WS_TIME_MAX, "the last second is in");
		CHECK(!ws_time_bound(&lo) && lo.tv_sec == 0 && lo.tv_usec == 0,
		      "before 1970: the epoch");
		CHECK(!ws_time_bound(&hi) && hi.tv_sec == WS_TIME_MAX && hi.tv_usec == 999999,
		      "past the range: its last microsecond");
		CHECK(WS_TIME_MAX + 86400 * 366 > WS_TIME_MAX, "a year past the bound cannot overflow");
	}
}

int main(void)
{
	test_addr();
	test_cursor();
	test_text();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	else
		printf("base: all checks passed\n");
	return failures != 0;
}
