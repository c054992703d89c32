/*
 * The sensor <-> fetcher messages: what is encoded decodes to the same
 * thing, and every malformed message is refused (short, long, wrong type,
 * wrong length field, NUL inside a string, a stem that could name a path,
 * out-of-range values), so neither side ever acts on half a message.
 */
#include <stdio.h>
#include <string.h>

#include "fetch.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static struct ws_fetch_req sample_req(void)
{
	struct ws_fetch_req r;

	memset(&r, 0, sizeof(r));
	r.eventid = 42;
	r.proto = WS_FETCH_FTP;
	ws_addr_parse("81.132.114.254", &r.server.addr);
	r.server.port = 8884;
	snprintf(r.remote, sizeof(r.remote), "..\\ssms.exe");
	snprintf(r.user, sizeof(r.user), "1");
	snprintf(r.pass, sizeof(r.pass), "1");
	snprintf(r.stem, sizeof(r.stem), "ssms");
	return r;
}

static void test_req_roundtrip(void)
{
	struct ws_fetch_req r = sample_req(), back;
	uint8_t buf[WS_FETCH_MSG_MAX];
	size_t n = ws_fetch_req_encode(&r, buf, sizeof(buf));

	CHECK(n > 8, "encoded");
	CHECK(ws_fetch_msg_type(buf, n) == WS_FMSG_REQ, "type");
	CHECK(ws_fetch_req_decode(buf, n, &back) == 0, "decodes");
	CHECK(back.eventid == 42 && back.proto == WS_FETCH_FTP && back.server.port == 8884 &&
	      ws_addr_eq(&back.server.addr, &r.server.addr) && !strcmp(back.remote, r.remote) &&
	      !strcmp(back.user, "1") && !strcmp(back.pass, "1") && !strcmp(back.stem, "ssms"),
	      "same fields back");
	/* every shorter prefix and one byte more are refused */
	for (size_t k = 0; k < n; k++)
		CHECK(ws_fetch_req_decode(buf, k, &back) < 0, "prefix of %zu bytes accepted", k);
	buf[n] = 0;
	CHECK(ws_fetch_req_decode(buf, n + 1, &back) < 0, "trailing byte accepted");
	{
		struct ws_fetch_res res;

		CHECK(ws_fetch_res_decode(buf, n, &res) < 0, "a request read as a result");
	}
}

static void test_req_refused(void)
{
	struct ws_fetch_req r = sample_req(), back;
	uint8_t buf[WS_FETCH_MSG_MAX];
	size_t n;

	snprintf(r.stem, sizeof(r.stem), "../etc");
	n = ws_fetch_req_encode(&r, buf, sizeof(buf));
	CHECK(n > 0 && ws_fetch_req_decode(buf, n, &back) < 0, "a stem with a slash is refused");
	r = sample_req();
	r.proto = 9;
	n = ws_fetch_req_encode(&r, buf, sizeof(buf));
	CHECK(ws_fetch_req_decode(buf, n, &back) < 0, "unknown protocol refused");
	r = sample_req();
	r.server.port = 0;
	n = ws_fetch_req_encode(&r, buf, sizeof(buf));
	CHECK(ws_fetch_req_decode(buf, n, &back) < 0, "port 0 refused");
	r = sample_req();
	r.eventid = 0;
	n = ws_fetch_req_encode(&r, buf, sizeof(buf));
	CHECK(ws_fetch_req_decode(buf, n, &back) < 0, "event 0 refused");
	/* a NUL smuggled inside the remote name (length 11, byte 3 zeroed) */
	r = sample_req();
	n = ws_fetch_req_encode(&r, buf, sizeof(buf));
	for (size_t i = 0; i + 11 <= n; i++)
		if (!memcmp(buf + i, "..\\ssms.exe", 11))
			buf[i + 3] = 0;
	CHECK(ws_fetch_req_decode(buf, n, &back) < 0, "NUL inside a string refused");
	/* the header's length must be exact */
	n = ws_fetch_req_encode(&r, buf, sizeof(buf));
	buf[7] ^= 1;
	CHECK(ws_fetch_req_decode(buf, n, &back) < 0, "wrong length field refused");
	CHECK(ws_fetch_req_decode(buf, 0, &back) < 0, "empty message refused");
	CHECK(ws_fetch_msg_type(buf, 3) == 0, "no type in 3 bytes");
	/* a name that does not fit its field cannot be encoded */
	memset(r.remote, 'A', sizeof(r.remote));
	CHECK(ws_fetch_req_encode(&r, buf, sizeof(buf)) == 0, "unterminated field encoded");
}

static void test_res(void)
{
	struct ws_fetch_res r, back;
	uint8_t buf[WS_FETCH_MSG_MAX];
	size_t n;

	memset(&r, 0, sizeof(r));
	r.eventid = 7;
	r.ok = true;
	r.bytes = 6176;
	snprintf(r.status, sizeof(r.status), "ok");
	snprintf(r.md5, sizeof(r.md5), "69a3f6d0a2378d3d7e5c3941c97a1f90");
	snprintf(r.sha256, sizeof(r.sha256), "%s",
		 "5f164c7bcb2d516f6ab3d321966026cf578307facc873f2599a4464e1f0b563e");
	snprintf(r.path, sizeof(r.path), "blast_msblast_7.bin");
	n = ws_fetch_res_encode(&r, buf, sizeof(buf));
	CHECK(ws_fetch_res_decode(buf, n, &back) == 0 && back.ok && back.bytes == 6176 &&
	      !strcmp(back.path, r.path) && !strcmp(back.sha256, r.sha256), "result round trip");
	snprintf(r.path, sizeof(r.path), "../../etc/passwd");
	n = ws_fetch_res_encode(&r, buf, sizeof(buf));
	CHECK(ws_fetch_res_decode(buf, n, &back) < 0, "a path outside the samples area refused");
	snprintf(r.path, sizeof(r.path), "blast_x_7.bin");
	snprintf(r.md5, sizeof(r.md5), "not-hex");
	n = ws_fetch_res_encode(&r, buf, sizeof(buf));
	CHECK(ws_fetch_res_decode(buf, n, &back) < 0, "a malformed hash refused");
	memset(&r, 0, sizeof(r));
	r.eventid = 7;
	n = ws_fetch_res_encode(&r, buf, sizeof(buf));
	CHECK(ws_fetch_res_decode(buf, n, &back) < 0, "a result without a status refused");
}

int main(void)
{
	test_req_roundtrip();
	test_req_refused();
	test_res();
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
