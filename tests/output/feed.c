/*
 * Test driver: records from stdin through the real writers, so the python
 * tests can hand over hostile values byte for byte and read the files (and
 * the syslog collector's file) back with independent readers.
 *
 *   feed DIR [TARGET FACILITY HOSTNAME]
 *
 * Writes DIR/blasterlog.txt, DIR/fetchlog.txt and DIR/events.json, and with
 * TARGET each record to syslog too. One record a line, tab-separated, text
 * fields in hex (so they may hold any byte), numbers in decimal:
 *   cmd  ID SEC USEC SRCIP SPORT DSTIP DPORT ACTION FILENAME SERVER FETCH
 *   file ID SEC USEC FILENAME SERVER STATUS BYTES MD5 SHA256 PATH SOURCE KNOWN
 *        HAVEFLOW PROTO CLIENTIP CPORT SERVERIP SPORT
 *   warn SEC USEC KIND DETAIL HAVEFLOW PROTO SRCIP SPORT DSTIP DPORT
 *   wait PATH         (hex; blocks until PATH exists: lets a test restart a collector)
 *   pause MS          (sleeps, flushing queued syslog, so a test can pace the sends)
 * At the end it prints "dropped NAME N" for each writer.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"

#define MAX_FIELDS 24
#define MAX_WRITERS 4

struct line {
	char *f[MAX_FIELDS];
	size_t n;
};

static void die(const char *what)
{
	fprintf(stderr, "feed: %s\n", what);
	exit(2);
}

/* Hex in place; the result may hold NULs, its length is returned. */
static struct ws_bytes unhex(char *s)
{
	size_t n = strlen(s) / 2;
	struct ws_bytes b = {s, n};

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			die("bad hex");
		s[i] = (char)v;
	}
	s[n] = '\0';
	return b;
}

/* A C string field (those never hold NUL in the records). */
static const char *str(char *s)
{
	return unhex(s).p;
}

static unsigned long long num(const char *s)
{
	return strtoull(s, NULL, 10);
}

static struct ws_endpoint ep(const char *ip, const char *port)
{
	struct ws_endpoint e = {.port = (uint16_t)num(port)};

	if (ws_addr_parse(ip, &e.addr) < 0)
		die("bad address");
	return e;
}

/* Tab-separated, empty fields kept. */
static void split(char *buf, struct line *l)
{
	buf[strcspn(buf, "\n")] = '\0';
	l->n = 0;
	if (!buf[0])
		return;
	while (buf && l->n < MAX_FIELDS)
		l->f[l->n++] = strsep(&buf, "\t");
}

static void need(const struct line *l, size_t n)
{
	if (l->n != n)
		die("wrong field count");
}

static void feed_cmd(struct ws_writer **w, size_t nw, struct line *l)
{
	struct ws_cmd_record r;

	need(l, 12);
	r.event_id = num(l->f[1]);
	r.ts.tv_sec = (time_t)num(l->f[2]);
	r.ts.tv_usec = (suseconds_t)num(l->f[3]);
	r.src = ep(l->f[4], l->f[5]);
	r.dst = ep(l->f[6], l->f[7]);
	r.proto = 6;
	r.action = str(l->f[8]);
	r.filename = unhex(l->f[9]);
	r.server = unhex(l->f[10]);
	r.fetch = str(l->f[11]);
	for (size_t i = 0; i < nw; i++)
		ws_write_command(w[i], &r);
}

static void feed_file(struct ws_writer **w, size_t nw, struct line *l)
{
	struct ws_file_record r;

	need(l, 19);
	r.event_id = num(l->f[1]);
	r.ts.tv_sec = (time_t)num(l->f[2]);
	r.ts.tv_usec = (suseconds_t)num(l->f[3]);
	r.filename = unhex(l->f[4]);
	r.server = unhex(l->f[5]);
	r.status = unhex(l->f[6]);
	r.bytes = num(l->f[7]);
	r.md5 = str(l->f[8]);
	r.sha256 = str(l->f[9]);
	r.path = str(l->f[10]);
	r.source = str(l->f[11]);
	r.known = unhex(l->f[12]);
	r.have_flow = num(l->f[13]) != 0;
	r.proto = (uint8_t)num(l->f[14]);
	r.client = ep(l->f[15], l->f[16]);
	r.server_ep = ep(l->f[17], l->f[18]);
	for (size_t i = 0; i < nw; i++)
		ws_write_file(w[i], &r);
}

static void feed_warn(struct ws_writer **w, size_t nw, struct line *l)
{
	struct ws_warn_record r;

	need(l, 11);
	r.ts.tv_sec = (time_t)num(l->f[1]);
	r.ts.tv_usec = (suseconds_t)num(l->f[2]);
	r.kind = str(l->f[3]);
	r.detail = unhex(l->f[4]);
	r.have_flow = num(l->f[5]) != 0;
	r.proto = (uint8_t)num(l->f[6]);
	r.src = ep(l->f[7], l->f[8]);
	r.dst = ep(l->f[9], l->f[10]);
	for (size_t i = 0; i < nw; i++)
		ws_write_warning(w[i], &r);
}

static void pause_ms(struct ws_writer **w, size_t nw, long ms)
{
	for (long t = 0; t <= ms; t += 10) {
		for (size_t i = 0; i < nw; i++)
			ws_writer_flush(w[i]);
		usleep(10000);
	}
}

static void wait_for(struct line *l, struct ws_writer **w, size_t nw)
{
	const char *path;
	struct stat st;

	need(l, 2);
	path = str(l->f[1]);
	while (stat(path, &st) < 0)
		pause_ms(w, nw, 10);
}

static size_t open_writers(int argc, char **argv, int dirfd, struct ws_writer **w)
{
	char err[512];
	size_t n = 0;

	w[n++] = ws_tsv_events_open(dirfd, "blasterlog.txt", err, sizeof(err));
	w[n++] = ws_tsv_files_open(dirfd, "fetchlog.txt", err, sizeof(err));
	w[n++] = ws_json_open(dirfd, "events.json", err, sizeof(err));
	if (argc == 5) {
		struct ws_syslog_params p = {argv[2], argv[3], "wormsnare", argv[4]};

		w[n++] = ws_syslog_open(&p, err, sizeof(err));
	}
	for (size_t i = 0; i < n; i++)
		if (!w[i])
			die(err);
	return n;
}

int main(int argc, char **argv)
{
	struct ws_writer *w[MAX_WRITERS];
	struct line l;
	char *buf = NULL;
	size_t cap = 0, nw;
	int dirfd;

	if (argc != 2 && argc != 5)
		die("usage: feed DIR [TARGET FACILITY HOSTNAME]");
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		die("cannot open DIR");
	nw = open_writers(argc, argv, dirfd, w);
	while (getline(&buf, &cap, stdin) > 0) {
		split(buf, &l);
		if (l.n == 0)
			continue;
		if (!strcmp(l.f[0], "cmd"))
			feed_cmd(w, nw, &l);
		else if (!strcmp(l.f[0], "file"))
			feed_file(w, nw, &l);
		else if (!strcmp(l.f[0], "warn"))
			feed_warn(w, nw, &l);
		else if (!strcmp(l.f[0], "wait"))
			wait_for(&l, w, nw);
		else if (!strcmp(l.f[0], "pause") && l.n == 2)
			pause_ms(w, nw, (long)num(l.f[1]));
		else
			die("unknown record kind");
	}
	for (size_t i = 0; i < nw; i++) {
		/* syslog over TCP: give what is still queued time to go out */
		for (int k = 0; w[i]->flush && k < 50; k++) {
			ws_writer_flush(w[i]);
			usleep(10000);
		}
		printf("dropped %s %llu\n", w[i]->name, (unsigned long long)w[i]->dropped);
		ws_writer_close(w[i]);
	}
	free(buf);
	close(dirfd);
	return 0;
}
