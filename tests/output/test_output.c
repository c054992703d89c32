/*
 * output/: TSV escaping and writers, time format, Community ID against the
 * spec's published vectors, and the JSON builders read back with jansson.
 * argv[1]: the folder holding communityid_baseline_*.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nettle/base64.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* ------------------------------------------------------------- escaping */

static void test_escape_cases(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{"msblast.exe", 11, "msblast.exe"},
		{"\"quoted\"", 8, "\\x22quoted\\x22"},
		{"a\"b", 3, "a\\x22b"},
		{"it's", 4, "it's"},
		{"a\tb\r\n", 5, "a\\x09b\\x0d\\x0a"},
		{"back\\slash", 10, "back\\x5cslash"},
		{"#lead", 5, "\\x23lead"},
		{"mid#", 4, "mid#"},
		{"nul\0in", 6, "nul\\x00in"},
		{"\xc3\xa9t\xc3\xa9", 5, "\\xc3\\xa9t\\xc3\\xa9"},
		{"\x7f\xff", 2, "\\x7f\\xff"},
		{"", 0, ""},
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = ws_tsv_escape(buf, sizeof(buf), cases[i].in, cases[i].len);

		CHECK(strcmp(buf, cases[i].out) == 0 && n == strlen(buf), "escape case %zu: got %s",
		      i, buf);
	}
}

/* Every byte: printable ASCII but backslash and quote stays, the rest is \xNN. */
static void test_escape_every_byte(void)
{
	for (int c = 0; c < 256; c++) {
		char in[2] = {'x', (char)c}, out[16], want[16];
		bool plain = c >= 0x20 && c <= 0x7e && c != '\\' && c != '"';

		if (plain)
			snprintf(want, sizeof(want), "x%c", c);
		else
			snprintf(want, sizeof(want), "x\\x%02x", c);
		ws_tsv_escape(out, sizeof(out), in, 2);
		CHECK(strcmp(out, want) == 0, "byte 0x%02x: got %s want %s", c, out, want);
	}
}

static void test_escape_cut(void)
{
	char small[12], exact[4 * 8 + 1], big[4 * 8 + 1];
	const char *tabs = "\t\t\t\t\t\t\t\t";

	ws_tsv_escape(small, sizeof(small), tabs, 8);
	CHECK(strcmp(small, "\\x09\\x09...") == 0, "cut: got %s", small);
	/* 4 * len + 1 is always enough: no cut mark */
	ws_tsv_escape(exact, sizeof(exact), tabs, 8);
	CHECK(strlen(exact) == 32 && !strstr(exact, "..."), "exact fit cut: %s", exact);
	memset(big, 'a', sizeof(big));
	ws_tsv_escape(big, 5, "abcdefgh", 8);
	CHECK(strcmp(big, "a...") == 0, "plain cut: %s", big);
	CHECK(ws_tsv_escape(big, 0, "abc", 3) == 0, "cap 0");
}

static void test_time(void)
{
	struct timeval tv = {.tv_sec = 1061301617, .tv_usec = 918435};
	char buf[40];

	ws_format_time(buf, sizeof(buf), &tv);
	CHECK(strcmp(buf, "2003-08-19T14:00:17.918435Z") == 0, "time: %s", buf);
	tv.tv_usec = 7;
	ws_format_time(buf, sizeof(buf), &tv);
	CHECK(strcmp(buf, "2003-08-19T14:00:17.000007Z") == 0, "usec padding: %s", buf);
}

/* --------------------------------------------------------- community id */

static void test_cid_file(const char *dir, const char *name, uint16_t seed)
{
	char path[1024], got[WS_COMMUNITY_ID_MAX];
	json_error_t jerr;
	json_t *all, *v;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	all = json_load_file(path, 0, &jerr);
	CHECK(all && json_is_array(all) && json_array_size(all) > 20, "%s: %s", path, jerr.text);
	if (!all)
		return;
	json_array_foreach(all, i, v) {
		struct ws_endpoint s = {0}, d = {0};
		const char *want = json_string_value(json_object_get(v, "communityid"));
		int proto = (int)json_integer_value(json_object_get(v, "proto"));

		CHECK(ws_addr_parse(json_string_value(json_object_get(v, "saddr")), &s.addr) == 0 &&
		      ws_addr_parse(json_string_value(json_object_get(v, "daddr")), &d.addr) == 0,
		      "%s[%zu]: addresses", name, i);
		/* null ports (protocols without ports) read as 0 */
		s.port = (uint16_t)json_integer_value(json_object_get(v, "sport"));
		d.port = (uint16_t)json_integer_value(json_object_get(v, "dport"));
		ws_community_id(got, sizeof(got), seed, (uint8_t)proto, &s, &d);
		CHECK(want && strcmp(got, want) == 0, "%s[%zu] proto %d: got %s want %s", name, i,
		      proto, got, want);
	}
	json_decref(all);
}

static void test_community_id(const char *dir)
{
	struct ws_endpoint a = {.addr = ws_addr_v4h(0x0a000001), .port = 1234};
	struct ws_endpoint b = {.port = 80};
	char got[WS_COMMUNITY_ID_MAX];

	test_cid_file(dir, "communityid_baseline_deflt.json", 0);
	test_cid_file(dir, "communityid_baseline_seed1.json", 1);
	/* the spec's README: both directions order to 10.0.0.1, 127.0.0.1, 1234, 80 */
	b.addr = ws_addr_v4h(0x7f000001);
	{
		char ab[WS_COMMUNITY_ID_MAX], ba[WS_COMMUNITY_ID_MAX];

		ws_community_id(ab, sizeof(ab), 0, 6, &a, &b);
		ws_community_id(ba, sizeof(ba), 0, 6, &b, &a);
		CHECK(strcmp(ab, ba) == 0 && strlen(ab) == 30 && !strncmp(ab, "1:", 2),
		      "direction: %s %s", ab, ba);
	}
	/* mixed families have no ID */
	ws_addr_parse("::1", &b.addr);
	CHECK(ws_community_id(got, sizeof(got), 0, 6, &a, &b)[0] == '\0', "mixed families: %s", got);
	b.addr.family = WS_AF_NONE;
	CHECK(ws_community_id(got, sizeof(got), 0, 6, &b, &b)[0] == '\0', "no family");
	CHECK(ws_community_id(got, 10, 0, 6, &a, &a)[0] == '\0', "small buffer");
}

/* ------------------------------------------------------------ TSV files */

static char *slurp(int dirfd, const char *name)
{
	static char buf[65536];
	int fd = openat(dirfd, name, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static struct ws_cmd_record sample_cmd(void)
{
	struct ws_cmd_record r = {
		.event_id = 7,
		.ts = {1061301617, 918435},
		.src = {ws_addr_v4h(0xc0a80105), 1029},
		.dst = {ws_addr_v4h(0xc0a8010a), 4444},
		.proto = 6,
		.action = "get",
		.filename = {"\"msblast.exe", 12},
		.server = {"192.168.1.5", 11},
		.fetch = "queued",
	};

	return r;
}

static struct ws_file_record sample_file(void)
{
	struct ws_file_record r = {
		.event_id = 0,
		.ts = {1061301618, 5},
		.filename = {"a\tb\n#c", 6},
		.server = {"192.168.1.5:69", 14},
		.status = {"tftp-error:1:File not found", 27},
		.bytes = 6176,
		.md5 = "5ae700c1dffb00cef492844a4db6cd69",
		.sha256 = "",
		.path = "samples/1-msblast.exe",
		.source = "wire",
		.known = {"", 0},
		.have_flow = true,
		.proto = 17,
		.client = {ws_addr_v4h(0xc0a8010a), 2000},
		.server_ep = {ws_addr_v4h(0xc0a80105), 69},
	};

	return r;
}

#define CMD_TAIL "\t2003-08-19T14:00:17.918435Z\t192.168.1.5\t\\x22msblast.exe\t1029\t" \
	"192.168.1.10\t4444\tget\t192.168.1.5\tqueued\n"
#define CMD_ROW "7" CMD_TAIL
#define FILE_ROW "\t2003-08-19T14:00:18.000005Z\t192.168.1.5:69\ta\\x09b\\x0a#c\t" \
	"tftp-error:1:File not found\t6176\t5ae700c1dffb00cef492844a4db6cd69\t\t" \
	"samples/1-msblast.exe\twire\t\n"

static void test_tsv_rows(int dirfd)
{
	struct ws_cmd_record c = sample_cmd();
	struct ws_file_record f = sample_file();
	char err[256];
	struct ws_writer *ev = ws_tsv_events_open(dirfd, "ev.txt", err, sizeof(err));
	struct ws_writer *fe = ws_tsv_files_open(dirfd, "fe.txt", err, sizeof(err));

	CHECK(ev && fe, "open: %s", err);
	if (!ev || !fe)
		return;
	CHECK(ws_write_command(ev, &c) == 0 && ws_write_file(ev, &f) == 0, "events rows");
	CHECK(ws_write_file(fe, &f) == 0 && ws_write_command(fe, &c) == 0, "file rows");
	CHECK(strcmp(slurp(dirfd, "ev.txt"), WS_EVENTLOG_HEADER "\n" CMD_ROW) == 0, "events: %s",
	      slurp(dirfd, "ev.txt"));
	CHECK(strcmp(slurp(dirfd, "fe.txt"), WS_FETCHLOG_HEADER "\n" FILE_ROW) == 0, "files: %s",
	      slurp(dirfd, "fe.txt"));
	CHECK(ws_tsv_last_id(dirfd, "ev.txt") == 7, "last id");
	ws_writer_close(ev);
	/* reopening an existing log must not repeat the header */
	ev = ws_tsv_events_open(dirfd, "ev.txt", err, sizeof(err));
	c.event_id = 8;
	CHECK(ev && ws_write_command(ev, &c) == 0, "reopen");
	CHECK(strcmp(slurp(dirfd, "ev.txt"), WS_EVENTLOG_HEADER "\n" CMD_ROW "8" CMD_TAIL) == 0 &&
	      ws_tsv_last_id(dirfd, "ev.txt") == 8, "second open: %s", slurp(dirfd, "ev.txt"));
	/* logrotate: moved away, reopen starts a fresh file with its header */
	CHECK(renameat(dirfd, "ev.txt", dirfd, "ev.txt.1") == 0, "rotate");
	CHECK(ws_writer_reopen(ev) == 0 && ws_write_command(ev, &c) == 0, "reopen after rotate");
	CHECK(strcmp(slurp(dirfd, "ev.txt"), WS_EVENTLOG_HEADER "\n8" CMD_TAIL) == 0,
	      "rotated: %s", slurp(dirfd, "ev.txt"));
	/* deleted while running: the next row recreates it, header first */
	CHECK(unlinkat(dirfd, "ev.txt", 0) == 0, "delete");
	CHECK(ws_write_command(ev, &c) == 0, "row after delete");
	CHECK(strcmp(slurp(dirfd, "ev.txt"), WS_EVENTLOG_HEADER "\n8" CMD_TAIL) == 0,
	      "recreated: %s", slurp(dirfd, "ev.txt"));
	CHECK(ev->dropped == 0 && fe->dropped == 0, "nothing dropped");
	ws_writer_close(ev);
	ws_writer_close(fe);
	ws_writer_close(NULL);
	CHECK(!ws_tsv_events_open(dirfd, "../x.txt", err, sizeof(err)) && strstr(err, "plain"),
	      "slash in a name: %s", err);
	CHECK(!ws_json_open(dirfd, "..", err, sizeof(err)), "dot-dot name");
	CHECK(ws_tsv_last_id(dirfd, "missing.txt") == 0, "last id of a missing log");
	unlinkat(dirfd, "ev.txt", 0);
	unlinkat(dirfd, "ev.txt.1", 0);
	unlinkat(dirfd, "fe.txt", 0);
}

/* A field far beyond the limit is cut with "...", the row stays one row. */
static void test_tsv_huge(int dirfd)
{
	static char big[100000];
	struct ws_cmd_record c = sample_cmd();
	char err[256];
	struct ws_writer *ev = ws_tsv_events_open(dirfd, "huge.txt", err, sizeof(err));
	const char *s, *tab;
	int tabs = 0, lines = 0;

	memset(big, '\n', sizeof(big));
	c.filename.p = big;
	c.filename.len = sizeof(big);
	c.server = c.filename;
	CHECK(ev && ws_write_command(ev, &c) == 0, "huge row");
	s = slurp(dirfd, "huge.txt");
	for (const char *p = s; *p; p++) {
		tabs += *p == '\t';
		lines += *p == '\n';
	}
	CHECK(lines == 2 && tabs == 18, "huge: %d lines, %d tabs", lines, tabs);
	tab = strchr(strchr(strchr(strchr(s, '\n'), '\t') + 1, '\t') + 1, '\t') + 1;
	CHECK(strchr(tab, '\t') - tab <= WS_TSV_FIELD_MAX && !strncmp(strchr(tab, '\t') - 3, "...", 3),
	      "cut field: %zu bytes", (size_t)(strchr(tab, '\t') - tab));
	ws_writer_close(ev);
	unlinkat(dirfd, "huge.txt", 0);
}

/* Disk full (RLIMIT_FSIZE): the short write is taken back, no half row stays. */
static void test_tsv_full(int dirfd)
{
	struct ws_cmd_record c = sample_cmd();
	struct rlimit old, lim;
	char err[256], before[4096];
	struct ws_writer *ev = ws_tsv_events_open(dirfd, "full.txt", err, sizeof(err));
	struct stat st;
	int rc, e;

	if (!ev || ws_write_command(ev, &c) < 0) {
		CHECK(0, "full: open %s", err);
		return;
	}
	snprintf(before, sizeof(before), "%s", slurp(dirfd, "full.txt"));
	fstatat(dirfd, "full.txt", &st, 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size + 20;	/* room for a piece of the next row */
	setrlimit(RLIMIT_FSIZE, &lim);
	rc = ws_write_command(ev, &c);
	e = errno;
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(rc < 0 && e == ENOSPC, "short write reported: rc %d errno %d", rc, e);
	CHECK(strcmp(slurp(dirfd, "full.txt"), before) == 0, "half row left: %s",
	      slurp(dirfd, "full.txt"));
	CHECK(ev->dropped == 1, "dropped %llu", (unsigned long long)ev->dropped);
	CHECK(ws_write_command(ev, &c) == 0, "writes again once there is room");
	ws_writer_close(ev);
	unlinkat(dirfd, "full.txt", 0);
}

/* ----------------------------------------------------------------- JSON */

static json_t *parse(char *line)
{
	json_error_t jerr;
	json_t *j = line ? json_loads(line, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr) : NULL;

	CHECK(j != NULL, "not JSON: %s (%s)", line ? line : "(null)", line ? jerr.text : "");
	CHECK(line && !strchr(line, '\n'), "line holds a newline");
	free(line);
	return j;
}

static const char *sget(json_t *o, const char *path)
{
	char key[64];
	const char *dot = strchr(path, '.');

	if (dot) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		return sget(json_object_get(o, key), dot + 1);
	}
	return json_string_value(json_object_get(o, path));
}

static void test_json_command(void)
{
	struct ws_cmd_record c = sample_cmd();
	char cid[WS_COMMUNITY_ID_MAX];
	json_t *j = parse(ws_json_command(&c)), *cmd;

	if (!j)
		return;
	ws_community_id(cid, sizeof(cid), 0, 6, &c.src, &c.dst);
	CHECK(!strcmp(sget(j, "event_type"), "command") &&
	      json_integer_value(json_object_get(j, "event_id")) == 7 &&
	      !strcmp(sget(j, "timestamp"), "2003-08-19T14:00:17.918435Z") &&
	      !strcmp(sget(j, "src_ip"), "192.168.1.5") &&
	      json_integer_value(json_object_get(j, "src_port")) == 1029 &&
	      !strcmp(sget(j, "dest_ip"), "192.168.1.10") &&
	      json_integer_value(json_object_get(j, "dest_port")) == 4444 &&
	      !strcmp(sget(j, "proto"), "TCP") && !strcmp(sget(j, "community_id"), cid),
	      "command top level");
	cmd = json_object_get(j, "command");
	CHECK(json_object_size(cmd) == 4 && !strcmp(sget(cmd, "action"), "get") &&
	      !strcmp(sget(cmd, "filename"), "\"msblast.exe") &&
	      !strcmp(sget(cmd, "server"), "192.168.1.5") && !strcmp(sget(cmd, "fetch"), "queued"),
	      "command object");
	CHECK(json_object_size(j) == 10, "command keys: %zu", json_object_size(j));
	json_decref(j);
}

static void test_json_file_warning(void)
{
	struct ws_file_record f = sample_file();
	struct ws_warn_record w = {.ts = {1, 0}, .kind = "overlap-conflict",
				   .detail = {"x\0y", 3}};
	json_t *j = parse(ws_json_file(&f)), *fo;

	if (j) {
		fo = json_object_get(j, "file");
		CHECK(!strcmp(sget(j, "event_type"), "file") && !strcmp(sget(j, "proto"), "UDP") &&
		      !strcmp(sget(j, "dest_ip"), "192.168.1.5") && sget(j, "community_id"),
		      "file flow");
		CHECK(json_is_null(json_object_get(fo, "event_id")) &&
		      !strcmp(sget(fo, "filename"), "a\tb\n#c") &&
		      !strcmp(sget(fo, "status"), "tftp-error:1:File not found") &&
		      json_integer_value(json_object_get(fo, "bytes")) == 6176 &&
		      !strcmp(sget(fo, "sha256"), "") && !strcmp(sget(fo, "source"), "wire") &&
		      json_object_size(fo) == 10, "file object");
		json_decref(j);
	}
	f.have_flow = false;
	f.event_id = 3;
	j = parse(ws_json_file(&f));
	CHECK(j && !json_object_get(j, "src_ip") && !json_object_get(j, "community_id") &&
	      json_integer_value(json_object_get(json_object_get(j, "file"), "event_id")) == 3,
	      "file without flow");
	json_decref(j);
	j = parse(ws_json_warning(&w));
	if (j) {
		json_t *d = json_object_get(json_object_get(j, "warning"), "detail");

		CHECK(!strcmp(sget(j, "event_type"), "warning") && !json_object_get(j, "src_ip") &&
		      json_string_length(d) == 3 && !memcmp(json_string_value(d), "x\0y", 3),
		      "warning with a NUL inside");
		json_decref(j);
	}
}

/* Not UTF-8: escaped text plus base64 of the raw bytes, which decode back. */
static void check_raw(json_t *o, const char *key, const char *raw, size_t len)
{
	char k[64], esc[4 * 300 + 1];
	uint8_t back[300];
	size_t blen = sizeof(back);
	struct base64_decode_ctx ctx;
	const char *b64;

	snprintf(k, sizeof(k), "%s_b64", key);
	b64 = sget(o, k);
	ws_tsv_escape(esc, sizeof(esc), raw, len);
	CHECK(sget(o, key) && !strcmp(sget(o, key), esc), "%s text: %s", key, sget(o, key));
	base64_decode_init(&ctx);
	CHECK(b64 && base64_decode_update(&ctx, &blen, back, strlen(b64), b64) &&
	      base64_decode_final(&ctx) && blen == len && !memcmp(back, raw, len),
	      "%s_b64 does not give the bytes back", key);
}

static void test_json_bytes(void)
{
	static const struct {
		const char *raw;
		size_t len;
		bool utf8;
	} vals[] = {
		{"plain", 5, true},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9b", 14, true},
		{"\xff\xfe", 2, false},
		{"\xc0\xaf", 2, false},		/* overlong '/' */
		{"\xed\xa0\x80", 3, false},	/* a UTF-16 surrogate */
		{"\xf4\x90\x80\x80", 4, false},	/* above U+10FFFF */
		{"caf\xc3", 4, false},		/* cut sequence */
		{"back\\slash\x80", 11, false},
		{"\x01\x1f\x7f", 3, true},
	};
	struct ws_cmd_record c = sample_cmd();

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		json_t *j, *cmd;

		c.filename.p = vals[i].raw;
		c.filename.len = vals[i].len;
		j = parse(ws_json_command(&c));
		if (!j)
			continue;
		cmd = json_object_get(j, "command");
		if (vals[i].utf8) {
			json_t *s = json_object_get(cmd, "filename");

			CHECK(json_string_length(s) == vals[i].len &&
			      !memcmp(json_string_value(s), vals[i].raw, vals[i].len) &&
			      !json_object_get(cmd, "filename_b64"), "utf-8 value %zu", i);
		} else {
			check_raw(cmd, "filename", vals[i].raw, vals[i].len);
		}
		json_decref(j);
	}
}

static void test_json_truncated(void)
{
	static char big[3 * WS_JSON_VALUE_MAX];
	struct ws_cmd_record c = sample_cmd();
	json_t *j, *cmd;

	/* "é" (2 bytes) repeated: the cut falls inside a character and backs off */
	for (size_t i = 0; i + 1 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	c.filename.p = big + 1;	/* start on a continuation byte: not UTF-8 at all */
	c.filename.len = 10;
	c.server.p = big;
	c.server.len = sizeof(big);
	j = parse(ws_json_command(&c));
	if (!j)
		return;
	cmd = json_object_get(j, "command");
	CHECK(json_string_length(json_object_get(cmd, "server")) == WS_JSON_VALUE_MAX &&
	      json_is_true(json_object_get(cmd, "server_truncated")), "cut UTF-8 value: %zu",
	      json_string_length(json_object_get(cmd, "server")));
	CHECK(sget(cmd, "filename_b64") && !json_object_get(cmd, "filename_truncated"),
	      "short raw value");
	json_decref(j);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/ws-output-XXXXXX";
	int dirfd;

	if (argc < 2) {
		fprintf(stderr, "usage: test_output VECTOR-DIR\n");
		return 2;
	}
	test_escape_cases();
	test_escape_every_byte();
	test_escape_cut();
	test_time();
	test_community_id(argv[1]);
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	test_tsv_rows(dirfd);
	test_tsv_huge(dirfd);
	test_tsv_full(dirfd);
	close(dirfd);
	rmdir(dir);
	test_json_command();
	test_json_file_warning();
	test_json_bytes();
	test_json_truncated();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("output: all checks passed\n");
	return failures ? 1 : 0;
}
