/*
 * TSV escaping and writing, and the time format.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static void test_escape(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{"msblast.exe", 11, "msblast.exe"},
		{"a\tb", 3, "a\\x09b"},
		{"a\nb\r", 4, "a\\x0ab\\x0d"},
		{"back\\slash", 10, "back\\x5cslash"},
		{"#comment", 8, "\\x23comment"},
		{"not#lead", 8, "not#lead"},
		{"nul\0byte", 8, "nul\\x00byte"},
		{"\xff\x80utf", 5, "\\xff\\x80utf"},
		{"\x7f", 1, "\\x7f"},
		{"", 0, ""},
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = ws_tsv_escape(buf, sizeof(buf), cases[i].in, cases[i].len);

		CHECK(strcmp(buf, cases[i].out) == 0 && n == strlen(buf), "escape case %zu: got %s", i,
		      buf);
	}
	/* a value that does not fit is cut visibly, never overflows, never splits an escape */
	{
		char small[12];
		const char *tabs = "\t\t\t\t\t\t\t\t";

		ws_tsv_escape(small, sizeof(small), tabs, 8);
		CHECK(strcmp(small, "\\x09\\x09...") == 0, "cut: got %s", small);
	}
}

static void test_time(void)
{
	struct timeval tv = {.tv_sec = 1061301617, .tv_usec = 918435};
	char buf[40];

	ws_format_time(buf, sizeof(buf), &tv);
	CHECK(strcmp(buf, "2003-08-19T14:00:17.918435Z") == 0, "time: %s", buf);
	tv.tv_usec = 5;
	ws_format_time(buf, sizeof(buf), &tv);
	CHECK(strcmp(buf, "2003-08-19T14:00:17.000005Z") == 0, "time usec padding: %s", buf);
}

static char *slurp(int dirfd, const char *name)
{
	static char buf[4096];
	int fd = openat(dirfd, name, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_log(void)
{
	char dir[] = "/tmp/ws-tsv-XXXXXX", err[256];
	struct ws_tsv t;
	const char *row1[] = {"1", "x"}, *row2[] = {"2", "y"}, *row3[] = {"3", "z"};
	int dirfd;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(ws_tsv_open(&t, dirfd, "log.txt", "ID\tV", err, sizeof(err)) == 0, "open: %s", err);
	CHECK(ws_tsv_row(&t, row1, 2) == 0, "row1");
	ws_tsv_close(&t);
	/* reopening an existing log must not repeat the header */
	CHECK(ws_tsv_open(&t, dirfd, "log.txt", "ID\tV", err, sizeof(err)) == 0, "reopen");
	CHECK(ws_tsv_row(&t, row2, 2) == 0, "row2");
	CHECK(strcmp(slurp(dirfd, "log.txt"), "ID\tV\n1\tx\n2\ty\n") == 0, "content: %s",
	      slurp(dirfd, "log.txt"));
	CHECK(ws_tsv_last_id(dirfd, "log.txt") == 2, "last id");
	/* logrotate: the file is moved away, SIGHUP reopens a fresh one with a header */
	CHECK(renameat(dirfd, "log.txt", dirfd, "log.txt.1") == 0, "rotate");
	CHECK(ws_tsv_reopen(&t, err, sizeof(err)) == 0, "reopen after rotate: %s", err);
	CHECK(ws_tsv_row(&t, row3, 2) == 0, "row3");
	CHECK(strcmp(slurp(dirfd, "log.txt"), "ID\tV\n3\tz\n") == 0, "rotated content");
	CHECK(strstr(slurp(dirfd, "log.txt.1"), "2\ty\n") != NULL, "old rows kept");
	/* deleted while running: the next row recreates the file, header first */
	CHECK(unlinkat(dirfd, "log.txt", 0) == 0, "delete");
	CHECK(ws_tsv_row(&t, row1, 2) == 0, "row after delete");
	CHECK(strcmp(slurp(dirfd, "log.txt"), "ID\tV\n1\tx\n") == 0, "recreated: %s",
	      slurp(dirfd, "log.txt"));
	ws_tsv_close(&t);
	CHECK(ws_tsv_open(&t, dirfd, "../escape.txt", "H", err, sizeof(err)) < 0,
	      "a log name with a slash must be refused");
	CHECK(ws_tsv_last_id(dirfd, "missing.txt") == 0, "last id of a missing log");
	unlinkat(dirfd, "log.txt", 0);
	unlinkat(dirfd, "log.txt.1", 0);
	close(dirfd);
	rmdir(dir);
}

int main(void)
{
	test_escape();
	test_time();
	test_log();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("tsv: all checks passed\n");
	return failures ? 1 : 0;
}
