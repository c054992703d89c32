/*
 * TSV: the event log (blasterlog.txt) and the fetch log (fetchlog.txt), with
 * the historic columns and headers. Every field is escaped here, at the
 * sink: no value can add a column, a row, a comment or a quoted field, so
 * each line is exactly one record for cut, awk, python's csv, pandas and
 * duckdb with their default settings.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

#define CUT_MARK "..."
#define EVENT_COLUMNS 10
#define FILE_COLUMNS 11
/* every column at its longest, tabs and LF */
#define ROW_MAX (FILE_COLUMNS * (WS_TSV_FIELD_MAX + 1))

static const char hexdigit[] = "0123456789abcdef";

/* '"' too: csv readers would otherwise open a quoted field spanning rows */
static bool byte_is_plain(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '\\' && c != '"';
}

size_t ws_tsv_escape(char *dst, size_t cap, const char *src, size_t len)
{
	size_t o = 0, room;

	if (cap == 0)
		return 0;
	room = cap > sizeof(CUT_MARK) ? cap - sizeof(CUT_MARK) : 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = byte_is_plain(c) && !(i == 0 && c == '#');
		size_t need = plain ? 1 : 4;

		/* the whole rest may still fit without a cut mark */
		if (o + need > room && !(o + need + (len - i - 1) * 4 < cap)) {
			if (cap > sizeof(CUT_MARK)) {
				memcpy(dst + o, CUT_MARK, sizeof(CUT_MARK));
				return o + sizeof(CUT_MARK) - 1;
			}
			break;
		}
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hexdigit[c >> 4];
			dst[o++] = hexdigit[c & 15];
		}
	}
	dst[o] = '\0';
	return o;
}

void ws_format_time(char *dst, size_t cap, const struct timeval *tv)
{
	struct tm tm;
	time_t t = tv->tv_sec;
	long usec = (long)tv->tv_usec;

	if (usec < 0 || usec > 999999)
		usec = 0;
	if (!gmtime_r(&t, &tm)) {
		snprintf(dst, cap, "invalid-time");
		return;
	}
	snprintf(dst, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

uint64_t ws_tsv_last_id(int dirfd, const char *name)
{
	char buf[65536];
	uint64_t best = 0;
	ssize_t n;
	off_t size;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || lseek(fd, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0,
			      SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* Only whole rows count: the tail's first line may be cut by the seek. */
	for (char *line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(line + 1, &end, 10);
		if (errno == 0 && end != line + 1 && *end == '\t' && v > best)
			best = v;
	}
	if (size <= (off_t)sizeof(buf) - 1) {	/* the file's first row too */
		char *end;
		unsigned long long v = strtoull(buf, &end, 10);

		if (end != buf && *end == '\t' && v > best)
			best = v;
	}
	return best;
}

/* ------------------------------------------------------------- writers */

struct tsv_writer {
	struct ws_logwriter lw;	/* first: the writer is the struct */
	char row[ROW_MAX];
	size_t len;
};

static void add_field(struct tsv_writer *t, const char *p, size_t n)
{
	if (t->len)
		t->row[t->len - 1] = '\t';	/* the previous field's end becomes a tab */
	t->len += ws_tsv_escape(t->row + t->len, WS_TSV_FIELD_MAX + 1, p, n);
	t->row[t->len++] = '\n';
}

static void add_bytes(struct tsv_writer *t, struct ws_bytes b)
{
	add_field(t, b.p, b.len);
}

static void add_str(struct tsv_writer *t, const char *s)
{
	add_field(t, s ? s : "", s ? strlen(s) : 0);
}

static void add_u64(struct tsv_writer *t, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	add_str(t, num);
}

static void add_time(struct tsv_writer *t, const struct timeval *tv)
{
	char when[40];

	ws_format_time(when, sizeof(when), tv);
	add_str(t, when);
}

static void add_addr(struct tsv_writer *t, const struct ws_addr *a)
{
	char ip[WS_ADDR_STRLEN];

	add_str(t, ws_addr_str(a, ip, sizeof(ip)));
}

static int flush_row(struct tsv_writer *t)
{
	size_t len = t->len;

	t->len = 0;
	return ws_logwriter_put(&t->lw, t->row, len);
}

static int events_command(struct ws_writer *w, const struct ws_cmd_record *r)
{
	struct tsv_writer *t = (struct tsv_writer *)w;

	t->len = 0;
	add_u64(t, r->event_id);
	add_time(t, &r->ts);
	add_addr(t, &r->src.addr);
	add_bytes(t, r->filename);
	add_u64(t, r->src.port);
	add_addr(t, &r->dst.addr);
	add_u64(t, r->dst.port);
	add_str(t, r->action);
	add_bytes(t, r->server);
	add_str(t, r->fetch);
	return flush_row(t);
}

static int files_file(struct ws_writer *w, const struct ws_file_record *r)
{
	struct tsv_writer *t = (struct tsv_writer *)w;

	t->len = 0;
	if (r->event_id)
		add_u64(t, r->event_id);
	else
		add_str(t, "");
	add_time(t, &r->ts);
	add_bytes(t, r->server);
	add_bytes(t, r->filename);
	add_bytes(t, r->status);
	add_u64(t, r->bytes);
	add_str(t, r->md5);
	add_str(t, r->sha256);
	add_str(t, r->path);
	add_str(t, r->source);
	add_bytes(t, r->known);
	return flush_row(t);
}

static struct ws_writer *tsv_open(int dirfd, const char *name, const char *header,
				  char *err, size_t errlen)
{
	struct ws_logwriter *lw = ws_logwriter_new(sizeof(struct tsv_writer), dirfd, name, header,
						   err, errlen);

	return lw ? &lw->w : NULL;
}

struct ws_writer *ws_tsv_events_open(int dirfd, const char *name, char *err, size_t errlen)
{
	struct ws_writer *w = tsv_open(dirfd, name, WS_EVENTLOG_HEADER, err, errlen);

	if (w) {
		w->name = "tsv-events";
		w->command = events_command;
	}
	return w;
}

struct ws_writer *ws_tsv_files_open(int dirfd, const char *name, char *err, size_t errlen)
{
	struct ws_writer *w = tsv_open(dirfd, name, WS_FETCHLOG_HEADER, err, errlen);

	if (w) {
		w->name = "tsv-files";
		w->file = files_file;
	}
	return w;
}
