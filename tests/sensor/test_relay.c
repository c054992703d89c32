/*
 * Worker <-> supervisor messages (sensor/relay.c): what a worker encodes
 * decodes to the same record, and the supervisor refuses anything else. A
 * worker parses wire data, so the supervisor treats its messages as
 * hostile: truncated, over-long, wrong type, wrong length field, NUL inside
 * a text field, a stored path that leaves the output directory, hashes that
 * are not hex, an action out of range.
 */
#include <stdio.h>
#include <string.h>

#include "sensor.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static uint8_t buf[WS_RELAY_MSG_MAX + 64];

static struct ws_endpoint ep(const char *a, uint16_t port)
{
	struct ws_endpoint e = {{0}, port};

	ws_addr_parse(a, &e.addr);
	return e;
}

static struct ws_cmd_event sample_cmd(void)
{
	static const char file[] = "ss\0ms\x01.exe";	/* raw bytes: NUL and control kept */
	struct ws_cmd_event ev = {
		.action = WS_ACT_FTP_GET,
		.ts = {1061301600, 250000},
		.attacker = ep("81.132.114.254", 1225),
		.victim = ep("10.0.0.5", 1032),
		.file = file,
		.file_len = sizeof(file) - 1,
		.host = "0x51847226",
		.host_len = 10,
		.server_text = "0x51847226:8884",
		.port = 8884,
		.user = "1",
		.pass = NULL,
		.name_ok = false,
	};

	ws_addr_parse("81.132.114.38", &ev.host_addr);
	return ev;
}

static void test_cmd(void)
{
	struct ws_cmd_event ev = sample_cmd();
	static struct ws_relay_cmd back;
	size_t n = ws_relay_cmd_encode(&ev, buf, sizeof(buf));

	CHECK(n > WS_MSG_HDR_LEN, "command encoded");
	CHECK(ws_relay_cmd_decode(buf, n, &back) == 0, "command decodes");
	CHECK(back.ev.action == ev.action && back.ev.ts.tv_sec == ev.ts.tv_sec &&
	      back.ev.ts.tv_usec == ev.ts.tv_usec, "action and time");
	CHECK(ws_addr_eq(&back.ev.attacker.addr, &ev.attacker.addr) &&
	      back.ev.attacker.port == 1225 && back.ev.victim.port == 1032, "endpoints");
	CHECK(back.ev.file_len == ev.file_len && memcmp(back.ev.file, ev.file, ev.file_len) == 0,
	      "file bytes kept, NUL and control bytes included");
	CHECK(strcmp(back.ev.server_text, "0x51847226:8884") == 0, "server text");
	CHECK(ws_addr_eq(&back.ev.host_addr, &ev.host_addr) && back.ev.port == 8884, "host address");
	CHECK(back.ev.user && strcmp(back.ev.user, "1") == 0 && back.ev.pass == NULL,
	      "user kept, absent password stays absent");
	CHECK(!back.ev.name_ok, "name_ok");

	for (size_t cut = 0; cut < n; cut++)
		CHECK(ws_relay_cmd_decode(buf, cut, &back) < 0, "truncated at %zu refused", cut);
	buf[n] = 0;
	CHECK(ws_relay_cmd_decode(buf, n + 1, &back) < 0, "trailing byte refused");
	buf[WS_MSG_HDR_LEN] = 9;
	CHECK(ws_relay_cmd_decode(buf, n, &back) < 0, "action out of range refused");
	buf[WS_MSG_HDR_LEN] = WS_ACT_FTP_GET;
	buf[7]++;
	CHECK(ws_relay_cmd_decode(buf, n, &back) < 0, "wrong length field refused");
	buf[7]--;
	buf[0] ^= 1;
	CHECK(ws_relay_cmd_decode(buf, n, &back) < 0, "wrong type refused");
	buf[0] ^= 1;
	CHECK(ws_relay_cmd_decode(buf, n, &back) == 0, "restored message decodes again");

	ev.server_text = "a\tb";
	n = ws_relay_cmd_encode(&ev, buf, sizeof(buf));
	CHECK(n > 0 && ws_relay_cmd_decode(buf, n, &back) == 0 &&
	      strcmp(back.ev.server_text, "a\tb") == 0, "escaping is the writers' job: tab kept");
}

static struct ws_file_record sample_file(void)
{
	struct ws_file_record r = {
		.event_id = 7,
		.ts = {1061301601, 5},
		.filename = {"msblast.exe", 11},
		.server = {"81.132.114.254:69", 17},
		.status = {"ok", 2},
		.bytes = 6176,
		.md5 = "69a3f6d0a2378d3d7e5c3941c97a1f90",
		.sha256 = "5f164c7bcb2d516f6ab3d321966026cf578307facc873f2599a4464e1f0b563e",
		.path = "blast_msblast_7.bin",
		.source = "wire",
		.have_flow = true,
		.proto = 17,
		.client = ep("10.0.0.5", 1030),
		.server_ep = ep("81.132.114.254", 69),
	};

	return r;
}

static int file_roundtrip(const struct ws_file_record *r, struct ws_relay_file *back)
{
	size_t n = ws_relay_file_encode(r, buf, sizeof(buf));

	return n ? ws_relay_file_decode(buf, n, back) : -2;
}

static void test_file(void)
{
	struct ws_file_record r = sample_file();
	static struct ws_relay_file back;

	CHECK(file_roundtrip(&r, &back) == 0, "file record decodes");
	CHECK(back.r.event_id == 7 && back.r.bytes == 6176 && back.r.have_flow &&
	      back.r.proto == 17 && back.r.client.port == 1030 && back.r.server_ep.port == 69,
	      "numbers and endpoints");
	CHECK(strcmp(back.r.path, r.path) == 0 && strcmp(back.r.md5, r.md5) == 0 &&
	      strcmp(back.r.sha256, r.sha256) == 0 && strcmp(back.r.source, "wire") == 0,
	      "path, hashes, source");
	CHECK(back.r.filename.len == 11 && memcmp(back.r.filename.p, "msblast.exe", 11) == 0,
	      "file name");

	r.path = "../blasterlog.txt";
	CHECK(file_roundtrip(&r, &back) == -1, "a path with '/' refused");
	r.path = ".seq";
	CHECK(file_roundtrip(&r, &back) == -1, "a hidden name refused");
	r.path = "";
	r.md5 = r.sha256 = "";
	CHECK(file_roundtrip(&r, &back) == 0, "nothing stored, no hashes: accepted");
	r.md5 = "69A3F6D0A2378D3D7E5C3941C97A1F90";
	CHECK(file_roundtrip(&r, &back) == -1, "upper-case md5 refused");
	r.md5 = "69a3";
	CHECK(file_roundtrip(&r, &back) == -1, "short md5 refused");
}

static void test_warn_note_id(void)
{
	struct ws_warn_record w = {
		.ts = {5, 6},
		.kind = "overlap-conflict",
		.have_flow = true,
		.proto = 6,
		.src = ep("1.2.3.4", 1),
		.dst = ep("5.6.7.8", 2),
		.detail = {"x\0y", 3},
	};
	struct ws_relay_note note = {
		.eventid = 9,
		.proto = WS_CARVE_TFTP,
		.ts = {7, 8},
		.port = 69,
	}, nback;
	static struct ws_relay_warn wback;
	uint64_t id;
	size_t n;

	n = ws_relay_warn_encode(&w, buf, sizeof(buf));
	CHECK(n && ws_relay_warn_decode(buf, n, &wback) == 0, "warning decodes");
	CHECK(strcmp(wback.r.kind, "overlap-conflict") == 0 && wback.r.detail.len == 3 &&
	      memcmp(wback.r.detail.p, "x\0y", 3) == 0 && wback.r.dst.port == 2, "warning fields");
	w.kind = "overlap conflict\n";
	n = ws_relay_warn_encode(&w, buf, sizeof(buf));
	CHECK(n && ws_relay_warn_decode(buf, n, &wback) < 0, "a kind that is not a token refused");

	ws_addr_parse("10.0.0.5", &note.victim);
	ws_addr_parse("81.132.114.254", &note.attacker);
	ws_addr_parse("10.1.2.35", &note.host);
	snprintf(note.file, sizeof(note.file), "split0.exe");
	n = ws_relay_note_encode(&note, buf, sizeof(buf));
	CHECK(n && ws_relay_note_decode(buf, n, &nback) == 0, "note decodes");
	CHECK(nback.eventid == 9 && nback.proto == WS_CARVE_TFTP && nback.port == 69 &&
	      ws_addr_eq(&nback.host, &note.host) && strcmp(nback.file, "split0.exe") == 0,
	      "note fields");
	note.proto = 3;
	n = ws_relay_note_encode(&note, buf, sizeof(buf));
	CHECK(n && ws_relay_note_decode(buf, n, &nback) < 0, "a note of no protocol refused");

	n = ws_relay_id_encode(12, buf, sizeof(buf));
	CHECK(ws_relay_id_decode(buf, n, &id) == 0 && id == 12, "EventID");
	n = ws_relay_id_encode(0, buf, sizeof(buf));
	CHECK(ws_relay_id_decode(buf, n, &id) < 0, "EventID 0 refused");
	{
		static struct ws_relay_cmd cmd;

		CHECK(ws_relay_cmd_decode(buf, n, &cmd) < 0, "an EventID is not a command");
	}
}

static void test_ready_and_limits(void)
{
	char err[64];
	unsigned group;
	size_t n = ws_relay_ready_encode(77, "", buf, sizeof(buf));
	static char big[WS_RELAY_MSG_MAX];
	struct ws_cmd_event ev = sample_cmd();

	CHECK(ws_relay_ready_decode(buf, n, &group, err, sizeof(err)) == 0 && group == 77 &&
	      !err[0], "ready");
	n = ws_relay_ready_encode(0, "eth9: no such device", buf, sizeof(buf));
	CHECK(ws_relay_ready_decode(buf, n, &group, err, sizeof(err)) == 0 &&
	      strcmp(err, "eth9: no such device") == 0, "a worker's error travels");
	n = ws_relay_ready_encode(0, "an error longer than the receiver's buffer of 64 bytes, cut?",
				  buf, sizeof(buf));
	CHECK(ws_relay_ready_decode(buf, n, &group, err, 16) < 0, "over-long error refused");

	memset(big, 'a', sizeof(big));
	ev.file = big;
	ev.file_len = sizeof(big);
	CHECK(ws_relay_cmd_encode(&ev, buf, sizeof(buf)) == 0, "a command over the limit is not encoded");
	ev = sample_cmd();
	CHECK(ws_relay_cmd_encode(&ev, buf, 20) == 0, "nor one over the buffer");
}

int main(void)
{
	test_cmd();
	test_file();
	test_warn_note_id();
	test_ready_and_limits();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("relay: ok\n");
	return 0;
}
