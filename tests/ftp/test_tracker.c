/*
 * Passive FTP tracker tests: scripted sessions fed as the reassembler would
 * (in-order bytes per direction), honest ones and hostile ones. The ops
 * keep each file in memory and record how it ended and what was expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp.h"

static unsigned checks, failures;

#define CHECK(cond) do {							\
	checks++;								\
	if (!(cond)) {								\
		failures++;							\
		fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,	\
			__LINE__, __func__, #cond);				\
	}									\
} while (0)

/* ------------------------------------------------------------- harness */

struct file {
	struct ws_ftp_file_info open_info, end_info;
	uint8_t buf[65536];
	size_t len;
	bool closed, bad_offset;
	enum ws_ftp_end how;
	char status[200];
};

struct expectation {
	struct ws_endpoint conn, listener;
};

struct harness {
	struct file files[16];
	unsigned nfiles;
	struct expectation exp[16];
	unsigned nexp;
	int fail_write;		/* the n-th write fails (from 1); 0: never */
	unsigned writes;
};

static void *op_open(void *arg, const struct ws_ftp_file_info *info)
{
	struct harness *h = arg;
	struct file *f;

	if (h->nfiles == 16)
		return NULL;
	f = &h->files[h->nfiles++];
	memset(f, 0, sizeof(*f));
	f->open_info = *info;
	return f;
}

static int op_write(void *arg, void *handle, uint64_t off, const uint8_t *d, size_t len)
{
	struct harness *h = arg;
	struct file *f = handle;

	if (++h->writes == (unsigned)h->fail_write)
		return -1;
	if (off != f->len || f->closed || off + len > sizeof(f->buf)) {
		f->bad_offset = true;
		return 0;
	}
	memcpy(f->buf + off, d, len);
	f->len += len;
	return 0;
}

static void op_close(void *arg, void *handle, const struct ws_ftp_file_info *info,
		     enum ws_ftp_end how)
{
	struct file *f = handle;
	char b[200];

	(void)arg;
	if (f->closed)
		f->bad_offset = true;	/* closed twice */
	f->closed = true;
	f->how = how;
	f->end_info = *info;
	snprintf(f->status, sizeof(f->status), "%s", ws_ftp_end_status(how, info, b, sizeof(b)));
}

static void op_expect(void *arg, const struct ws_endpoint *conn, const struct ws_endpoint *l,
		      int ttl)
{
	struct harness *h = arg;

	(void)ttl;
	if (h->nexp < 16) {
		h->exp[h->nexp].conn = *conn;
		h->exp[h->nexp].listener = *l;
		h->nexp++;
	}
}

static struct ws_ftp_track_params params(struct harness *h)
{
	struct ws_ftp_track_params p = {
		.idle_timeout = 60, .max_sessions = 16, .max_transfers = 16,
		.max_file_size = 60000, .max_early = 4096,
		.ops = {.expect = op_expect, .open = op_open, .write = op_write, .close = op_close},
		.arg = h,
	};

	memset(h, 0, sizeof(*h));
	return p;
}

static struct ws_endpoint ep(const char *addr, uint16_t port)
{
	struct ws_endpoint e = {.port = port};

	ws_addr_parse(addr, &e.addr);
	return e;
}

static struct ws_ftp_flow flow(const char *ca, uint16_t cp, const char *sa, uint16_t sp)
{
	struct ws_ftp_flow f = {ep(ca, cp), ep(sa, sp)};

	return f;
}

static struct timeval now = {1100000000, 0};

/* Client lines: "C text"; server lines: "S text". CRLF appended. */
static void ctl(struct ws_ftp_tracker *t, const struct ws_ftp_flow *f, const char *script)
{
	char line[4096];

	while (*script) {
		const char *nl = strchr(script, '\n');
		size_t n = nl ? (size_t)(nl - script) : strlen(script);

		snprintf(line, sizeof(line), "%.*s\r\n", (int)n - 2, script + 2);
		now.tv_usec += 1000;
		ws_ftp_ctl_data(t, f, script[0] == 'C' ? WS_FTP_FROM_CLIENT : WS_FTP_FROM_SERVER,
				(const uint8_t *)line, strlen(line), &now);
		script += n + (nl ? 1 : 0);
	}
}

static void data(struct ws_ftp_tracker *t, const struct ws_ftp_flow *f, enum ws_ftp_side side,
		 const char *bytes)
{
	now.tv_usec += 1000;
	ws_ftp_data(t, f, side, (const uint8_t *)bytes, strlen(bytes), &now);
}

static void dend(struct ws_ftp_tracker *t, const struct ws_ftp_flow *f, enum ws_ftp_close how)
{
	ws_ftp_data_end(t, f, how, &now);
}

static bool file_is(const struct file *f, const char *content)
{
	return f->len == strlen(content) && memcmp(f->buf, content, f->len) == 0 && !f->bad_offset;
}

#define CLIENT "10.0.0.5"
#define SERVER "81.132.114.254"

static const struct ws_ftp_flow *control(void)
{
	static struct ws_ftp_flow f;

	f = flow(CLIENT, 1040, SERVER, 8884);
	return &f;
}

static const char login[] =
	"S 220 Bot FTP\n"
	"C USER 1\n"
	"S 331 Password required\n"
	"C PASS 1\n"
	"S 230 User logged in\n"
	"C TYPE I\n"
	"S 200 Type set to I";

/* Logged in, then PASV: the data connection is to come to port 8836. */
static void passive_ready(struct ws_ftp_tracker *t)
{
	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,132)");
}

/* --------------------------------------------------------------- tests */

static void test_passive(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);

	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 Entering Passive Mode (81,132,114,254,34,132).");
	CHECK(h.nexp == 1 && h.exp[0].conn.port == 0 &&
	      ws_addr_eq(&h.exp[0].conn.addr, &control()->client.addr) &&
	      h.exp[0].listener.port == 8836);
	CHECK(ws_ftp_data_expected(t, &d));
	ctl(t, control(), "C RETR ssms.exe\nS 150 Opening BINARY mode data connection (10 bytes)");
	CHECK(h.nfiles == 1 && strcmp(h.files[0].open_info.filename, "ssms.exe") == 0 &&
	      strcmp(h.files[0].open_info.user, "1") == 0);
	data(t, &d, WS_FTP_FROM_SERVER, "MZ");
	data(t, &d, WS_FTP_FROM_CLIENT, "junk from the wrong side");
	data(t, &d, WS_FTP_FROM_SERVER, "12345678");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	CHECK(!h.files[0].closed);	/* the 226 is still to come */
	ctl(t, control(), "S 226 Transfer complete\nC QUIT\nS 221 Bye");
	CHECK(h.files[0].closed && h.files[0].how == WS_FTP_COMPLETE &&
	      strcmp(h.files[0].status, "ok") == 0);
	CHECK(file_is(&h.files[0], "MZ12345678"));
	CHECK(h.files[0].end_info.mode == WS_FTP_MODE_PASSIVE && !h.files[0].end_info.elsewhere &&
	      h.files[0].end_info.size_set && h.files[0].end_info.size == 10 &&
	      h.files[0].end_info.type == 'I' && h.files[0].end_info.data.client.port == 1041);
	ws_ftp_ctl_end(t, control(), WS_FTP_CLOSE_FIN, &now);
	CHECK(ws_ftp_tracker_sessions(t) == 0);
	ws_ftp_tracker_free(t);
}

/*
 * Holes (capture loss the receiver ACKed): a control line they cut is not
 * parsed (a RETR of a name the capture only half holds), and a file with a
 * hole ends incomplete ("cut"), even when its size matches by chance.
 */
static void test_gaps(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	static const char half[] = "RETR ev";

	passive_ready(t);
	ws_ftp_ctl_data(t, control(), WS_FTP_FROM_CLIENT, (const uint8_t *)half, strlen(half), &now);
	ws_ftp_ctl_gap(t, control(), WS_FTP_FROM_CLIENT, &now);
	ctl(t, control(), "C x.exe");	/* the rest of the cut line: not "RETR evx.exe" */
	CHECK(h.nfiles == 0);	/* a cut RETR line opens nothing */
	ctl(t, control(), "C RETR ssms.exe\nS 150 Opening BINARY mode data connection (10 bytes)");
	CHECK(h.nfiles == 1 && strcmp(h.files[0].open_info.filename, "ssms.exe") == 0);
	data(t, &d, WS_FTP_FROM_SERVER, "MZ");
	ws_ftp_data_gap(t, &d);
	data(t, &d, WS_FTP_FROM_SERVER, "12345678");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 Transfer complete");
	CHECK(h.files[0].closed && h.files[0].how == WS_FTP_INCOMPLETE &&
	      strcmp(h.files[0].end_info.why, "cut") == 0);
	ws_ftp_tracker_free(t);
}

static void test_active(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	/* the server connects from its port 20 to the PORT endpoint */
	struct ws_ftp_flow d = flow(SERVER, 20, CLIENT, 1025);

	ctl(t, control(), login);
	ctl(t, control(), "C PORT 10,0,0,5,4,1\nS 200 PORT command successful");
	CHECK(h.nexp == 1 && ws_addr_eq(&h.exp[0].conn.addr, &control()->server.addr) &&
	      h.exp[0].listener.port == 1025);
	ctl(t, control(), "C RETR a.exe\nS 150 Opening data connection");
	data(t, &d, WS_FTP_FROM_CLIENT, "active bytes");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 done");
	CHECK(h.nfiles == 1 && h.files[0].how == WS_FTP_COMPLETE &&
	      file_is(&h.files[0], "active bytes") &&
	      h.files[0].end_info.mode == WS_FTP_MODE_ACTIVE);
	/* a second RETR without a new PORT: the same endpoint again (RFC 959 3.2) */
	ctl(t, control(), "C RETR b.exe\nS 150 Opening data connection");
	data(t, &d, WS_FTP_FROM_CLIENT, "second");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 done");
	CHECK(h.nfiles == 2 && h.files[1].how == WS_FTP_COMPLETE && file_is(&h.files[1], "second"));
	ws_ftp_tracker_free(t);
}

static void test_errors_and_cuts(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d1 = flow(CLIENT, 1050, SERVER, 4001);
	struct ws_ftp_flow d2 = flow(CLIENT, 1051, SERVER, 4002);

	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,15,161)\nC RETR missing.exe\n"
		"S 550 missing.exe: No such file or directory.");
	CHECK(h.nfiles == 1 && h.files[0].closed && h.files[0].how == WS_FTP_ERROR &&
	      strcmp(h.files[0].status, "ftp-error:550:missing.exe? No such file or directory.") == 0);
	/* cut: the data connection is reset */
	ctl(t, control(), "C RETR cut.exe\nS 150 (100 bytes)");
	data(t, &d1, WS_FTP_FROM_SERVER, "part");
	dend(t, &d1, WS_FTP_CLOSE_RST);
	ctl(t, control(), "S 426 Connection closed; transfer aborted.");
	CHECK(h.nfiles == 2 && h.files[1].how == WS_FTP_ERROR &&
	      strncmp(h.files[1].status, "ftp-error:426:", 14) == 0 && file_is(&h.files[1], "part"));
	/* short: FIN and 226, but less than announced */
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,15,162)\nC RETR short.exe\nS 150 (100 bytes)");
	data(t, &d2, WS_FTP_FROM_SERVER, "only this");
	dend(t, &d2, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 3 && h.files[2].how == WS_FTP_INCOMPLETE &&
	      strcmp(h.files[2].end_info.why, "short") == 0 &&
	      strcmp(h.files[2].status, "incomplete") == 0);
	ws_ftp_tracker_free(t);
}

static void test_no_226(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1050, SERVER, 4001);

	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,15,161)\nC RETR x.exe\nS 150 go");
	data(t, &d, WS_FTP_FROM_SERVER, "all of it");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ws_ftp_ctl_end(t, control(), WS_FTP_CLOSE_RST, &now);
	CHECK(h.nfiles == 1 && h.files[0].how == WS_FTP_INCOMPLETE &&
	      strcmp(h.files[0].end_info.why, "no-226") == 0 && file_is(&h.files[0], "all of it"));
	CHECK(ws_ftp_tracker_sessions(t) == 0 && ws_ftp_tracker_transfers(t) == 0);
	/* the control closes first, the data connection finishes after */
	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,15,161)\nC RETR y.exe\nS 150 go");
	data(t, &d, WS_FTP_FROM_SERVER, "late");
	ctl(t, control(), "S 226 ok");
	ws_ftp_ctl_end(t, control(), WS_FTP_CLOSE_FIN, &now);
	CHECK(h.nfiles == 2 && !h.files[1].closed);
	dend(t, &d, WS_FTP_CLOSE_FIN);
	CHECK(h.files[1].closed && h.files[1].how == WS_FTP_COMPLETE && file_is(&h.files[1], "late"));
	CHECK(ws_ftp_tracker_sessions(t) == 0);
	ws_ftp_tracker_free(t);
}

/* The whole session one byte at a time, both directions. */
static void test_split_bytes(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	const char *srv = "220-multi\r\n220 line greeting\r\n331 pw\r\n230 in\r\n"
			  "227 Entering Passive Mode (81,132,114,254,34,132)\r\n150 ok\r\n";
	const char *cli = "USER anon\r\nPASS x\r\nPASV\r\nRETR split.exe\r\n";

	/* the client does not wait for the greeting: its lines go first */
	for (const char *c = cli; *c; c++)
		ws_ftp_ctl_data(t, control(), WS_FTP_FROM_CLIENT, (const uint8_t *)c, 1, &now);
	for (const char *s = srv; *s; s++)
		ws_ftp_ctl_data(t, control(), WS_FTP_FROM_SERVER, (const uint8_t *)s, 1, &now);
	data(t, &d, WS_FTP_FROM_SERVER, "x");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 1 && h.files[0].how == WS_FTP_COMPLETE && file_is(&h.files[0], "x") &&
	      strcmp(h.files[0].open_info.user, "anon") == 0);
	ws_ftp_tracker_free(t);
}

static void test_huge_lines(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	static char big[WS_FTP_LINE_MAX * 3 + 2];

	memset(big, 'A', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	ws_ftp_ctl_data(t, control(), WS_FTP_FROM_CLIENT, (const uint8_t *)big, sizeof(big) - 1, &now);
	memcpy(big, "500 ", 4);
	ws_ftp_ctl_data(t, control(), WS_FTP_FROM_SERVER, (const uint8_t *)big, sizeof(big) - 1, &now);
	CHECK(ws_ftp_tracker_stats(t)->long_lines == 2);
	ctl(t, control(), login);
	/* a RETR with a name longer than kept: cut, flagged, still carved */
	memcpy(big, "RETR ", 5);
	ws_ftp_ctl_data(t, control(), WS_FTP_FROM_CLIENT, (const uint8_t *)"PASV\r\n", 6, &now);
	ctl(t, control(), "S 227 (81,132,114,254,34,132)");
	ws_ftp_ctl_data(t, control(), WS_FTP_FROM_CLIENT, (const uint8_t *)big, sizeof(big) - 1, &now);
	ctl(t, control(), "S 150 go");
	data(t, &d, WS_FTP_FROM_SERVER, "long name");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 1 && h.files[0].how == WS_FTP_COMPLETE &&
	      h.files[0].open_info.filename_cut &&
	      strlen(h.files[0].open_info.filename) == WS_FTP_NAME_MAX - 1);
	ws_ftp_tracker_free(t);
}

static void test_data_early(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	struct ws_ftp_flow d2 = flow(CLIENT, 1042, SERVER, 8837);

	passive_ready(t);
	/* the whole data connection before the RETR line is seen */
	data(t, &d, WS_FTP_FROM_SERVER, "early ");
	data(t, &d, WS_FTP_FROM_SERVER, "bytes");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	CHECK(h.nfiles == 0);
	ctl(t, control(), "C RETR early.exe\nS 150 (11 bytes)\nS 226 ok");
	CHECK(h.nfiles == 1 && h.files[0].how == WS_FTP_COMPLETE &&
	      file_is(&h.files[0], "early bytes"));
	/* data after RETR but before the 150 */
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,133)\nC RETR b.exe");
	data(t, &d2, WS_FTP_FROM_SERVER, "before 150");
	ctl(t, control(), "S 150 (10 bytes)");
	dend(t, &d2, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 2 && h.files[1].how == WS_FTP_COMPLETE &&
	      file_is(&h.files[1], "before 150"));
	ws_ftp_tracker_free(t);
}

static void test_early_bounded(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t;
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	static char blob[5000];

	p.max_early = 100;
	t = ws_ftp_tracker_new(&p);
	memset(blob, 'b', sizeof(blob) - 1);
	passive_ready(t);
	data(t, &d, WS_FTP_FROM_SERVER, blob);
	data(t, &d, WS_FTP_FROM_SERVER, blob);
	CHECK(ws_ftp_tracker_stats(t)->early_dropped == 2 * (sizeof(blob) - 1) - 100);
	ctl(t, control(), "C RETR big.exe\nS 150 go");
	data(t, &d, WS_FTP_FROM_SERVER, "tail");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	/* what was held is carved, the rest is lost: complete it is not */
	CHECK(h.nfiles == 1 && h.files[0].len == 104);
	ws_ftp_tracker_free(t);
}

/*
 * Early data already over max_file_size: the transfer ends (too large) as
 * the RETR line arrives, and its 150 and 226 replies still come; the
 * tracker must not keep the freed transfer as pending (a use after free
 * ASan reported in the hardening run).
 */
static void test_early_too_large(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t;
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	static char blob[3001];

	p.max_file_size = 1000;
	t = ws_ftp_tracker_new(&p);
	memset(blob, 'e', sizeof(blob) - 1);
	passive_ready(t);
	data(t, &d, WS_FTP_FROM_SERVER, blob);
	ctl(t, control(), "C RETR big.exe\nS 150 go\nS 226 ok");
	CHECK(h.nfiles == 1 && h.files[0].closed && h.files[0].how == WS_FTP_TOO_LARGE);
	CHECK(!h.files[0].bad_offset);	/* closed once */
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,133)\nC RETR next.exe\nS 150 go");
	data(t, &(struct ws_ftp_flow){ep(CLIENT, 1042), ep(SERVER, 8837)}, WS_FTP_FROM_SERVER,
	     "next");
	dend(t, &(struct ws_ftp_flow){ep(CLIENT, 1042), ep(SERVER, 8837)}, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 2 && h.files[1].how == WS_FTP_COMPLETE && file_is(&h.files[1], "next"));
	ws_ftp_tracker_free(t);
}

static void test_two_retrs(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	struct ws_ftp_flow d2 = flow(CLIENT, 1043, SERVER, 8838);

	ctl(t, control(), login);
	/* pipelined: the second RETR has no data connection of its own */
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,132)\nC RETR a.exe\nC RETR b.exe");
	ctl(t, control(), "S 150 (1 bytes)");
	data(t, &d, WS_FTP_FROM_SERVER, "A");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok\nS 425 Use PORT or PASV first.");
	CHECK(h.nfiles == 2 && h.files[0].how == WS_FTP_COMPLETE && file_is(&h.files[0], "A") &&
	      h.files[1].how == WS_FTP_ERROR && strncmp(h.files[1].status, "ftp-error:425:", 14) == 0);
	/* two PASVs then two RETRs: each connection to its own port, in order */
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,134)\nC RETR c.exe\nS 150 x\n"
		"C PASV\nS 227 (81,132,114,254,34,136)");
	data(t, &d2, WS_FTP_FROM_SERVER, "CCC");
	dend(t, &d2, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 3 && h.files[2].how == WS_FTP_COMPLETE && file_is(&h.files[2], "CCC"));
	ws_ftp_tracker_free(t);
}

static void test_elsewhere(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow third = flow("6.6.6.6", 20, "1.2.3.4", 1025);	/* not the server */
	struct ws_ftp_flow bounce = flow(SERVER, 20, "1.2.3.4", 1025);
	struct ws_ftp_flow natted = flow(CLIENT, 1044, SERVER, 8839);

	ctl(t, control(), login);
	/* PORT naming a third host (FTP bounce): only the server's connection counts */
	ctl(t, control(), "C PORT 1,2,3,4,4,1\nS 200 ok");
	CHECK(h.nexp == 2 && h.exp[0].listener.port == 1025 && h.exp[1].listener.port == 1025 &&
	      ws_addr_eq(&h.exp[1].listener.addr, &control()->client.addr));
	CHECK(!ws_ftp_data_expected(t, &third));
	CHECK(!ws_ftp_data(t, &third, WS_FTP_FROM_CLIENT, (const uint8_t *)"evil", 4, &now));
	CHECK(ws_ftp_tracker_stats(t)->data_unmatched == 1);
	ctl(t, control(), "C RETR a.exe\nS 150 go");
	data(t, &bounce, WS_FTP_FROM_CLIENT, "to the third host");
	dend(t, &bounce, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 1 && h.files[0].how == WS_FTP_COMPLETE && h.files[0].end_info.elsewhere &&
	      file_is(&h.files[0], "to the third host"));
	/* a 227 naming a private address: the client reaches the server's own address */
	ctl(t, control(), "C PASV\nS 227 (192,168,0,7,34,135)\nC RETR b.exe\nS 150 go");
	data(t, &natted, WS_FTP_FROM_SERVER, "natted");
	dend(t, &natted, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 2 && h.files[1].how == WS_FTP_COMPLETE && file_is(&h.files[1], "natted") &&
	      h.files[1].end_info.elsewhere);
	ws_ftp_tracker_free(t);
}

static void test_listing_and_upload(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	struct ws_ftp_flow d2 = flow(CLIENT, 1042, SERVER, 8837);

	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,132)\nC LIST\nS 150 listing");
	data(t, &d, WS_FTP_FROM_SERVER, "-rw-r--r-- 1 ftp ftp 10 ssms.exe\r\n");
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 0 && ws_ftp_tracker_stats(t)->listings == 1);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,133)\nC STOR loot.txt\nS 150 go");
	data(t, &d2, WS_FTP_FROM_CLIENT, "stolen");
	data(t, &d2, WS_FTP_FROM_SERVER, "ignored");
	dend(t, &d2, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	CHECK(h.nfiles == 1 && h.files[0].how == WS_FTP_COMPLETE && h.files[0].open_info.upload &&
	      file_is(&h.files[0], "stolen"));
	ws_ftp_tracker_free(t);
}

static void test_limits(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t;
	struct ws_ftp_flow d = flow(CLIENT, 1041, SERVER, 8836);
	static char blob[700];

	p.max_file_size = 1000;
	t = ws_ftp_tracker_new(&p);
	memset(blob, 'z', sizeof(blob) - 1);
	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,132)\nC RETR big.exe\nS 150 go");
	data(t, &d, WS_FTP_FROM_SERVER, blob);
	data(t, &d, WS_FTP_FROM_SERVER, blob);
	CHECK(h.nfiles == 1 && h.files[0].closed && h.files[0].how == WS_FTP_TOO_LARGE &&
	      h.files[0].len == sizeof(blob) - 1);
	data(t, &d, WS_FTP_FROM_SERVER, blob);	/* the rest goes nowhere */
	dend(t, &d, WS_FTP_CLOSE_FIN);
	ctl(t, control(), "S 226 ok");
	/* announced too large: ended at the 150 */
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,133)\nC RETR huge.exe\n"
		"S 150 Opening (5000 bytes)");
	CHECK(h.nfiles == 2 && h.files[1].closed && h.files[1].how == WS_FTP_TOO_LARGE);
	/* the store gives up: incomplete */
	h.fail_write = (int)h.writes + 1;
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,134)\nC RETR nospace.exe\nS 150 go");
	d.server.port = 8838;
	data(t, &d, WS_FTP_FROM_SERVER, "x");
	CHECK(ws_ftp_tracker_stats(t)->resyncs == 1);	/* huge.exe got no final reply */
	CHECK(h.nfiles == 3 && h.files[2].how == WS_FTP_INCOMPLETE &&
	      strcmp(h.files[2].end_info.why, "store") == 0);
	/* idle: ended by the sweep */
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,135)\nC RETR idle.exe\nS 150 go");
	now.tv_sec += 61;
	ws_ftp_tracker_sweep(t, &now);
	CHECK(h.nfiles == 4 && h.files[3].how == WS_FTP_INCOMPLETE &&
	      strcmp(h.files[3].end_info.why, "no-data") == 0 && ws_ftp_tracker_sessions(t) == 0);
	ws_ftp_tracker_free(t);
}

static void test_eviction(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t;

	p.max_sessions = 2;
	t = ws_ftp_tracker_new(&p);
	for (uint16_t i = 0; i < 3; i++) {
		struct ws_ftp_flow c = flow(CLIENT, (uint16_t)(2000 + i), SERVER, 21);

		ctl(t, &c, login);
		ctl(t, &c, "C PASV\nS 227 (81,132,114,254,34,132)\nC RETR a.exe\nS 150 go");
	}
	CHECK(ws_ftp_tracker_sessions(t) == 2 && h.nfiles == 3 && h.files[0].closed &&
	      h.files[0].how == WS_FTP_EVICTED && !h.files[1].closed);
	ws_ftp_tracker_free(t);
	CHECK(h.files[1].closed && h.files[2].closed && h.files[2].how == WS_FTP_INCOMPLETE);

	p = params(&h);
	p.max_transfers = 1;
	t = ws_ftp_tracker_new(&p);
	ctl(t, control(), login);
	ctl(t, control(), "C PASV\nS 227 (81,132,114,254,34,132)\nC RETR a.exe\nC RETR b.exe");
	CHECK(h.nfiles == 2 && h.files[0].how == WS_FTP_EVICTED && ws_ftp_tracker_transfers(t) == 1);
	ws_ftp_tracker_free(t);
}

/* Garbage in every slot: no crash, nothing invented. */
static void test_garbage(void)
{
	struct harness h;
	struct ws_ftp_track_params p = params(&h);
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	uint8_t junk[3000];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (uint8_t)(x >> 16);
	}
	ws_ftp_ctl_data(t, control(), WS_FTP_FROM_CLIENT, junk, sizeof(junk), &now);
	ws_ftp_ctl_data(t, control(), WS_FTP_FROM_SERVER, junk, sizeof(junk), &now);
	CHECK(h.nfiles == 0 && h.nexp == 0);
	ws_ftp_tracker_free(t);
}

int main(void)
{
	test_passive();
	test_gaps();
	test_active();
	test_errors_and_cuts();
	test_no_226();
	test_split_bytes();
	test_huge_lines();
	test_data_early();
	test_early_bounded();
	test_early_too_large();
	test_two_retrs();
	test_elsewhere();
	test_listing_and_upload();
	test_limits();
	test_eviction();
	test_garbage();
	printf("ftp tracker: %u checks, %u failed\n", checks, failures);
	return failures ? 1 : 0;
}
