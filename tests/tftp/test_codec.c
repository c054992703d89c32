/*
 * TFTP codec: known packets decode to the right fields, encode back to the
 * same bytes, and every cut or corrupted packet is TRUNCATED or INVALID,
 * never read past its end (run under ASan/valgrind to see that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tftp.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define PKT(s) (const uint8_t *)(s), sizeof(s) - 1

struct good {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	enum ws_tftp_op op;
};

static void test_known(void)
{
	struct ws_tftp_pkt p;

	CHECK(ws_tftp_decode(PKT("\0\1msblast.exe\0octet\0"), &p) == WS_TFTP_OK &&
	      p.op == WS_TFTP_RRQ && !strcmp(p.filename, "msblast.exe") && !strcmp(p.mode, "octet"),
	      "plain RRQ");
	CHECK(ws_tftp_decode(PKT("\0\1a\0OCTET\0BLKSIZE\0001428\0tsize\0000\0timeout\0003\0"), &p) ==
	      WS_TFTP_OK && !strcmp(p.mode, "octet") && p.opts.blksize_set && p.opts.blksize == 1428 &&
	      p.opts.tsize_set && p.opts.tsize == 0 && p.opts.timeout_set && p.opts.timeout == 3,
	      "RRQ with options, names and mode in any case");
	CHECK(ws_tftp_decode(PKT("\0\2up.bin\0netascii\0x-unknown\0y\0"), &p) == WS_TFTP_OK &&
	      p.op == WS_TFTP_WRQ && p.opts.unknown == 1, "WRQ, unknown option counted");
	CHECK(ws_tftp_decode(PKT("\0\1a\0octet\0blksize\0007\0"), &p) == WS_TFTP_OK &&
	      !p.opts.blksize_set && p.opts.unknown == 1, "RRQ: blksize out of range is ignored");
	CHECK(ws_tftp_decode(PKT("\0\3\0\1"), &p) == WS_TFTP_OK && p.op == WS_TFTP_DATA &&
	      p.block == 1 && p.datalen == 0, "empty DATA (final block)");
	CHECK(ws_tftp_decode(PKT("\0\3\xff\xffhello"), &p) == WS_TFTP_OK && p.block == 65535 &&
	      p.datalen == 5 && !memcmp(p.data, "hello", 5), "DATA block 65535");
	CHECK(ws_tftp_decode(PKT("\0\4\0\0"), &p) == WS_TFTP_OK && p.op == WS_TFTP_ACK &&
	      p.block == 0, "ACK 0");
	CHECK(ws_tftp_decode(PKT("\0\5\0\1File not found\0"), &p) == WS_TFTP_OK &&
	      p.errcode == 1 && !strcmp(p.errmsg, "File not found"), "ERROR");
	CHECK(ws_tftp_decode(PKT("\0\6blksize\0008\0tsize\000600000\0"), &p) == WS_TFTP_OK &&
	      p.op == WS_TFTP_OACK && p.opts.blksize == 8 && p.opts.tsize == 600000, "OACK");
	CHECK(ws_tftp_decode(PKT("\0\6blksize\0007\0"), &p) == WS_TFTP_INVALID, "OACK blksize 7");
	CHECK(ws_tftp_decode(PKT("\0\6blksize\00065465\0"), &p) == WS_TFTP_INVALID,
	      "OACK blksize 65465");
	CHECK(ws_tftp_decode(PKT("\0\6timeout\0000\0"), &p) == WS_TFTP_INVALID, "OACK timeout 0");
	CHECK(ws_tftp_decode(PKT("\0\6blksize\0+512\0"), &p) == WS_TFTP_INVALID, "OACK +512");
	CHECK(ws_tftp_decode(PKT("\0\7x"), &p) == WS_TFTP_INVALID, "opcode 7");
	CHECK(ws_tftp_decode(PKT("\0\0"), &p) == WS_TFTP_INVALID, "opcode 0");
	CHECK(ws_tftp_decode(PKT("\0\1noterminator"), &p) == WS_TFTP_TRUNCATED, "RRQ without NUL");
	CHECK(ws_tftp_decode(PKT("\0\5\0\1no nul"), &p) == WS_TFTP_TRUNCATED, "ERROR without NUL");
	CHECK(ws_tftp_decode(PKT("\0"), &p) == WS_TFTP_TRUNCATED, "one byte");
	CHECK(ws_tftp_decode((const uint8_t *)"", 0, &p) == WS_TFTP_TRUNCATED, "empty");
}

static void test_big(void)
{
	uint8_t *b = calloc(1, 4 + WS_TFTP_BLKSIZE_MAX + 1);
	struct ws_tftp_pkt p;
	char *name = malloc(70000);

	b[1] = 3;
	CHECK(ws_tftp_decode(b, 4 + WS_TFTP_BLKSIZE_MAX, &p) == WS_TFTP_OK &&
	      p.datalen == WS_TFTP_BLKSIZE_MAX, "DATA of 65464 bytes");
	CHECK(ws_tftp_decode(b, 4 + WS_TFTP_BLKSIZE_MAX + 1, &p) == WS_TFTP_INVALID,
	      "DATA of 65465 bytes");
	/* a 64 KB file name does not fit: invalid, not overflowed */
	name[0] = 0;
	name[1] = 1;
	memset(name + 2, 'A', 69990);
	memcpy(name + 69992, "\0octet\0", 7);
	CHECK(ws_tftp_decode((uint8_t *)name, 69999, &p) == WS_TFTP_INVALID, "huge filename");
	free(b);
	free(name);
}

static void test_roundtrip(void)
{
	static const struct {
		const uint8_t *b;
		size_t len;
	} pk[] = {
		{PKT("\0\1msblast.exe\0octet\0")},
		{PKT("\0\1a\0octet\0blksize\0001428\0tsize\0000\0timeout\0003\0")},
		{PKT("\0\3\0\7data")},
		{PKT("\0\4\1\0")},
		{PKT("\0\5\0\3disk full\0")},
		{PKT("\0\6blksize\000512\0tsize\00012\0")},
	};
	uint8_t out[256], tiny[6];
	struct ws_tftp_pkt p;

	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		size_t n;

		CHECK(ws_tftp_decode(pk[i].b, pk[i].len, &p) == WS_TFTP_OK, "roundtrip %zu decode", i);
		n = ws_tftp_encode(&p, out, sizeof(out));
		CHECK(n == pk[i].len && !memcmp(out, pk[i].b, n), "roundtrip %zu: same bytes", i);
		/* every prefix is TRUNCATED or (for DATA/OACK, whose end is the packet's) OK */
		for (size_t cut = 0; cut < pk[i].len; cut++) {
			uint8_t *copy = malloc(cut ? cut : 1);
			enum ws_tftp_decode_result r;

			memcpy(copy, pk[i].b, cut);
			r = ws_tftp_decode(copy, cut, &p);
			CHECK(r == WS_TFTP_TRUNCATED || r == WS_TFTP_OK || r == WS_TFTP_INVALID,
			      "prefix %zu of %zu", cut, i);
			free(copy);
		}
	}
	CHECK(ws_tftp_decode(pk[0].b, pk[0].len, &p) == WS_TFTP_OK &&
	      ws_tftp_encode(&p, tiny, sizeof(tiny)) == 0, "encode into too small a buffer");
	p.op = (enum ws_tftp_op)9;
	CHECK(ws_tftp_encode(&p, out, sizeof(out)) == 0, "encode an unknown opcode");
	CHECK(!strcmp(ws_tftp_op_name(6), "OACK") && !strcmp(ws_tftp_op_name(99), "unknown"),
	      "op names");
}

/* Random bytes: never a crash, and OK results are self-consistent. */
static void test_random(void)
{
	uint8_t buf[600];
	struct ws_tftp_pkt p;
	unsigned seed = 12345;

	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rand_r(&seed);
		if (len >= 2 && (i & 1)) {
			buf[0] = 0;
			buf[1] = (uint8_t)(1 + i % 6);
		}
		if (ws_tftp_decode(buf, len, &p) == WS_TFTP_OK && p.op == WS_TFTP_DATA)
			CHECK(p.data == buf + 4 && p.datalen == len - 4, "DATA bounds");
	}
}

int main(void)
{
	test_known();
	test_big();
	test_roundtrip();
	test_random();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("codec: all checks passed\n");
	return failures ? 1 : 0;
}
