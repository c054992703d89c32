/*
 * The pure parts of the normalizer: the receive queue with each target
 * policy and doubt levels, and IPv4 defragmentation with each policy.
 * Each case says which rule it checks (reassembly/README.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reassembly.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const struct timeval T0 = {1000, 0};

/* Insert (seq, text, doubt) triples at base 100, then read what is in order. */
struct ins {
	uint32_t seq;
	const char *text;
	uint8_t doubt;
};

static void rxq_case(enum ws_policy pol, const struct ins *in, size_t n, const char *want,
		     const char *why)
{
	struct ws_rxq q;
	struct ws_rxq_result r;
	char got[256] = "";
	size_t len = 0;

	ws_rxq_init(&q, 100);
	for (size_t i = 0; i < n; i++)
		ws_rxq_insert(&q, pol, in[i].seq, (const uint8_t *)in[i].text,
			      (uint32_t)strlen(in[i].text), in[i].doubt, &T0, 65536, &r);
	for (;;) {
		const uint8_t *p;
		uint8_t d;
		struct timeval ts;
		uint32_t k = ws_rxq_front(&q, &p, &d, &ts);

		if (k == 0 || len + k >= sizeof(got))
			break;
		memcpy(got + len, p, k);
		len += k;
		ws_rxq_advance(&q, k);
	}
	got[len] = '\0';
	CHECK(strcmp(got, want) == 0, "%s (policy %s): got \"%s\", want \"%s\"", why,
	      ws_policy_name(pol), got, want);
	ws_rxq_free(&q);
}

static void test_tcp_policies(void)
{
	/* same start, same length: only last takes the new copy */
	const struct ins same[] = {{100, "GOOD", 0}, {100, "EVIL", 0}};
	/* a later segment starting before an old one and covering it */
	const struct ins cover[] = {{102, "ab", 0}, {100, "WXYZ", 0}};
	/* same start, the later one longer: Linux takes it, Windows/BSD do not */
	const struct ins longer[] = {{100, "ab", 0}, {100, "WXYZ", 0}};
	/* a later segment starting inside an old one */
	const struct ins inside[] = {{100, "abcd", 0}, {102, "WXYZ", 0}};

	rxq_case(WS_POL_WINDOWS, same, 2, "GOOD", "exact overlap");
	rxq_case(WS_POL_LINUX, same, 2, "EVIL", "exact overlap: Linux favours the new copy");
	rxq_case(WS_POL_BSD, same, 2, "GOOD", "exact overlap");
	rxq_case(WS_POL_FIRST, same, 2, "GOOD", "exact overlap");
	rxq_case(WS_POL_LAST, same, 2, "EVIL", "exact overlap");
	rxq_case(WS_POL_WINDOWS, cover, 2, "WXYZ", "covered and started before: new wins");
	rxq_case(WS_POL_BSD, cover, 2, "WXYZ", "covered and started before: new wins");
	rxq_case(WS_POL_FIRST, cover, 2, "WXab", "first: old bytes stay");
	rxq_case(WS_POL_WINDOWS, longer, 2, "abYZ", "same start: old stays");
	rxq_case(WS_POL_LINUX, longer, 2, "WXYZ", "same start, covers: Linux takes new");
	rxq_case(WS_POL_WINDOWS, inside, 2, "abcdYZ", "left overlap: old data honoured");
	rxq_case(WS_POL_LINUX, inside, 2, "abcdYZ", "left overlap: old data honoured");
	rxq_case(WS_POL_LAST, inside, 2, "abWXYZ", "last: new wins");
}

static void test_doubt(void)
{
	/* a doubtful copy first: the accepted one replaces it, whatever the policy */
	const struct ins junk_first[] = {{100, "EVIL", 2}, {100, "GOOD", 0}};
	/* an accepted copy first: a doubtful one never replaces it, even for last */
	const struct ins good_first[] = {{100, "GOOD", 0}, {100, "EVIL", 2}};
	/* bad checksum under offload (1) beats a TTL-inconsistent copy (2) */
	const struct ins levels[] = {{100, "EVIL", 2}, {100, "GOOD", 1}};

	for (int p = 0; p < WS_POLICIES; p++) {
		rxq_case((enum ws_policy)p, junk_first, 2, "GOOD", "doubtful copy replaced");
		rxq_case((enum ws_policy)p, good_first, 2, "GOOD", "doubtful copy never wins");
		rxq_case((enum ws_policy)p, levels, 2, "GOOD", "less doubt wins");
	}
}

static void test_rxq_bounds(void)
{
	struct ws_rxq q;
	struct ws_rxq_result r;
	static uint8_t big[5000];
	int rc;

	ws_rxq_init(&q, 0xfffffff0u);	/* sequence numbers wrap inside the queue */
	memset(big, 'a', sizeof(big));
	rc = ws_rxq_insert(&q, WS_POL_WINDOWS, 0xfffffff0u + 10, big, 100, 0, &T0, 2048, &r);
	CHECK(rc == 0 && r.cut == 0, "insert across the wrap");
	rc = ws_rxq_insert(&q, WS_POL_WINDOWS, 0xfffffff0u + 2000, big, 100, 0, &T0, 2048, &r);
	CHECK(r.cut == 52, "bytes past max_cap are cut (cut %u)", r.cut);
	rc = ws_rxq_insert(&q, WS_POL_WINDOWS, 0xfffffff0u + 4000, big, 100, 0, &T0, 2048, &r);
	CHECK(rc == -1 && r.cut == 100, "a segment wholly past max_cap is refused");
	CHECK(q.cap <= 2048, "queue grows no further than max_cap (%u)", q.cap);
	CHECK(ws_rxq_first(&q) == 10, "first queued byte");
	CHECK(ws_rxq_contiguous(&q) == 0, "a hole at base");
	for (uint32_t i = 0; i < 40; i++)	/* more segments than descriptors: old ones recycled */
		ws_rxq_insert(&q, WS_POL_WINDOWS, 0xfffffff0u + 10 + i, big, 1, 0, &T0, 2048, &r);
	CHECK(q.used == 100 + 48, "bytes counted once (%u)", q.used);
	ws_rxq_free(&q);
}

/* ------------------------------------------------------------ fragments */

static size_t frag(uint8_t *pkt, uint16_t id, unsigned off, int mf, const char *data, size_t n)
{
	memset(pkt, 0, 20);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)((20 + n) >> 8);
	pkt[3] = (uint8_t)(20 + n);
	pkt[4] = (uint8_t)(id >> 8);
	pkt[5] = (uint8_t)id;
	pkt[6] = (uint8_t)((mf ? 0x20 : 0) | (off / 8) >> 8);
	pkt[7] = (uint8_t)(off / 8);
	pkt[8] = 64;
	pkt[9] = 17;
	memcpy(pkt + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	memcpy(pkt + 20, data, n);
	return 20 + n;
}

struct fr {
	unsigned off;
	int mf;
	const char *data;
};

static void frag_case(enum ws_policy pol, const struct fr *in, size_t n, const char *want,
		      const char *why)
{
	struct ws_defrag_params p = {16, 1 << 20, 30, pol};
	struct ws_defrag *d = ws_defrag_new(&p);
	uint8_t pkt[200];
	const uint8_t *out = NULL;
	size_t outlen = 0;
	struct ws_defrag_note note;
	int done = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = frag(pkt, 7, in[i].off, in[i].mf, in[i].data, strlen(in[i].data));

		if (ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note) == WS_DF_DONE) {
			done = 1;
			break;
		}
	}
	CHECK(done && outlen == 20 + strlen(want) && memcmp(out + 20, want, strlen(want)) == 0,
	      "%s (policy %s): got \"%.*s\", want \"%s\"", why, ws_policy_name(pol),
	      done ? (int)outlen - 20 : 0, done ? (const char *)out + 20 : "", want);
	CHECK(!done || (out[6] == 0 && out[7] == 0), "reassembled header has no fragment bits");
	ws_defrag_free(d);
}

static void test_frag_policies(void)
{
	/* 0..7 A, 8..15 B, then 8..15 X (same offset), then the end */
	const struct fr same[] = {{0, 1, "AAAAAAAA"}, {8, 1, "BBBBBBBB"}, {8, 1, "XXXXXXXX"},
				  {16, 0, "CC"}};
	/* 8..15 B first, then 0..23 X starting before and ending after it */
	const struct fr cover[] = {{8, 1, "BBBBBBBB"}, {0, 1, "XXXXXXXXXXXXXXXXXXXXXXXX"},
				   {24, 0, "CC"}};
	/* 8..15 B, then 0..15 X: starts before, ends with it (not after) */
	const struct fr before[] = {{8, 1, "BBBBBBBB"}, {0, 1, "XXXXXXXXXXXXXXXX"},
				    {16, 0, "CC"}};

	frag_case(WS_POL_WINDOWS, same, 4, "AAAAAAAABBBBBBBBCC", "same offset: first stays");
	frag_case(WS_POL_BSD, same, 4, "AAAAAAAABBBBBBBBCC", "same offset: first stays");
	frag_case(WS_POL_LINUX, same, 4, "AAAAAAAAXXXXXXXXCC", "same offset: Linux takes new");
	frag_case(WS_POL_LAST, same, 4, "AAAAAAAAXXXXXXXXCC", "last");
	frag_case(WS_POL_WINDOWS, cover, 3, "XXXXXXXXXXXXXXXXXXXXXXXXCC", "covering fragment wins");
	frag_case(WS_POL_FIRST, cover, 3, "XXXXXXXXBBBBBBBBXXXXXXXXCC", "first");
	frag_case(WS_POL_WINDOWS, before, 3, "XXXXXXXXBBBBBBBBCC", "windows: must end after");
	frag_case(WS_POL_BSD, before, 3, "XXXXXXXXXXXXXXXXCC", "bsd: starting before wins");
}

static void test_frag_bounds(void)
{
	struct ws_defrag_params p = {4, 1 << 20, 30, WS_POL_WINDOWS};
	struct ws_defrag *d = ws_defrag_new(&p);
	uint8_t pkt[200];
	const uint8_t *out;
	size_t outlen, len;
	struct ws_defrag_note note;

	for (uint16_t id = 0; id < 10; id++) {
		len = frag(pkt, id, 0, 1, "AAAAAAAA", 8);
		ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note);
	}
	CHECK(ws_defrag_pending(d) == 4, "datagrams in progress bounded (%zu)",
	      ws_defrag_pending(d));
	CHECK(ws_defrag_stats(d)->evicted == 6, "evictions counted");
	len = frag(pkt, 99, 8, 1, "AAAAA", 5);	/* MF with a length not a multiple of 8 */
	CHECK(ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note) == WS_DF_DROP,
	      "malformed fragment dropped");
	len = frag(pkt, 98, 65528, 0, "AAAAAAAAAAAAAAAA", 16);	/* past 64 KiB */
	CHECK(ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note) == WS_DF_DROP,
	      "oversized datagram dropped");
	ws_defrag_sweep(d, 131);
	CHECK(ws_defrag_pending(d) == 0 && ws_defrag_stats(d)->timeouts == 4, "timeouts");
	ws_defrag_free(d);
}

/*
 * Many datagrams in progress at once (the hash index): 200 datagrams, their
 * middle fragments first, then their first ones in reverse order, then
 * their last ones with every other one first: each comes out whole, with
 * its own bytes, and nothing stays. Then eviction: ids evicted from the
 * index start anew (ASan and valgrind see a stale entry).
 */
static void test_frag_many(void)
{
	struct ws_defrag_params p = {256, 8 << 20, 30, WS_POL_WINDOWS};
	struct ws_defrag *d = ws_defrag_new(&p);
	uint8_t pkt[200];
	char part[3][9];
	const uint8_t *out;
	size_t outlen, len;
	struct ws_defrag_note note;
	unsigned done = 0, right = 0;

	for (unsigned pass = 0; pass < 3; pass++)
		for (unsigned k = 0; k < 200; k++) {
			uint16_t id = (uint16_t)(pass == 1 ? 199 - k : pass == 2 ? (k * 2) % 200 + (k >= 100) : k);
			unsigned off = pass == 0 ? 8 : pass == 1 ? 0 : 16;

			for (int j = 0; j < 3; j++)
				snprintf(part[j], sizeof(part[j]), "%c%07u", 'a' + j, id);
			len = frag(pkt, id, off, pass != 2, part[off / 8], 8);
			if (ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note) != WS_DF_DONE)
				continue;
			done++;
			right += outlen == 44 && !memcmp(out + 20, part[0], 8) &&
				 !memcmp(out + 28, part[1], 8) && !memcmp(out + 36, part[2], 8);
		}
	CHECK(done == 200 && right == 200, "200 interleaved datagrams: %u whole, %u right", done,
	      right);
	CHECK(ws_defrag_pending(d) == 0 && ws_defrag_stats(d)->evicted == 0, "nothing left");
	for (uint16_t id = 0; id < 300; id++) {
		len = frag(pkt, id, 0, 1, "AAAAAAAA", 8);
		ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note);
	}
	CHECK(ws_defrag_pending(d) == 256 && ws_defrag_stats(d)->evicted == 44,
	      "300 datagrams, 256 kept (%zu), 44 evicted", ws_defrag_pending(d));
	len = frag(pkt, 0, 8, 0, "BBBBBBBB", 8);	/* id 0 was evicted: this one is new */
	CHECK(ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note) == WS_DF_HELD,
	      "an evicted datagram's last fragment does not complete it");
	len = frag(pkt, 299, 8, 0, "BBBBBBBB", 8);
	CHECK(ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note) == WS_DF_DONE &&
	      outlen == 36, "a kept one completes");
	ws_defrag_free(d);
}

/*
 * A 60-byte header (options) on a first fragment of 65472 bytes, then a last
 * one that brings the payload to 65512: each fits the payload bound, but
 * header and payload together exceed any IPv4 datagram. Refused, never built
 * (it once wrote past the 64 KiB output buffer).
 */
static void test_frag_header_bound(void)
{
	struct ws_defrag_params p = {4, 1 << 20, 30, WS_POL_WINDOWS};
	struct ws_defrag *d = ws_defrag_new(&p);
	static uint8_t pkt[65535];
	const uint8_t *out = NULL;
	size_t outlen = 0, len;
	struct ws_defrag_note note;

	len = frag(pkt, 7, 0, 1, "", 0);
	pkt[0] = 0x4f;			/* IHL 15: 60 bytes */
	memset(pkt + 20, 1, 40);	/* options: NOPs */
	memset(pkt + 60, 'A', 65472);
	len = 60 + 65472;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	CHECK(ws_defrag_add(d, pkt, 60, len, 100, &out, &outlen, &note) == WS_DF_HELD,
	      "first fragment held");
	len = frag(pkt, 7, 65472, 0, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", 40);
	CHECK(ws_defrag_add(d, pkt, 20, len, 100, &out, &outlen, &note) == WS_DF_DROP,
	      "a datagram longer than 65535 bytes with its header is dropped, not built");
	CHECK(ws_defrag_pending(d) == 0, "and forgotten");
	ws_defrag_free(d);
}

int main(void)
{
	test_frag_header_bound();
	test_tcp_policies();
	test_doubt();
	test_rxq_bounds();
	test_frag_policies();
	test_frag_bounds();
	test_frag_many();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("normalize: all checks passed\n");
	return failures ? 1 : 0;
}
