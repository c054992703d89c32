/*
 * Test driver: feeds the passive FTP tracker from a text stream of TCP
 * events (what carve_captures.py extracts from a capture with tshark) and
 * writes every file the tracker hands out to OUTDIR/<serial>.bin, with one
 * result line per file on stdout:
 *
 *   file serial=1 why=- bytes=20000 md5=... sha256=... mode=passive
 *        sender=81.132.114.254:8836 receiver=10.0.0.5:1332 name=passive.exe status=ok
 * (name and status with spaces, backslashes and odd bytes as \xNN)
 *
 * Input lines (addresses as text, ports decimal, time as sec.usec):
 *   C TIME CLI CPORT SRV SPORT SIDE HEX     control bytes (SIDE c or s)
 *   X TIME CLI CPORT SRV SPORT F|R          control connection ended
 *   D TIME CLI CPORT SRV SPORT SIDE HEX     bytes of any other connection
 *   E TIME CLI CPORT SRV SPORT F|R          that connection ended
 *
 * usage: ftp_feed OUTDIR [MAX_FILE_SIZE]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftp.h"

struct out {
	int fd;
	struct ws_hash_sink h;
};

static const char *outdir;
static unsigned long expects;

static void *op_open(void *arg, const struct ws_ftp_file_info *info)
{
	struct out *o = calloc(1, sizeof(*o));
	char path[4096];

	(void)arg;
	if (!o)
		return NULL;
	snprintf(path, sizeof(path), "%s/%" PRIu64 ".bin", outdir, info->serial);
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		fprintf(stderr, "ftp_feed: %s: open: %s\n", path, strerror(errno));
		exit(1);
	}
	ws_hash_sink_init(&o->h, o->fd);
	return o;
}

static int op_write(void *arg, void *handle, uint64_t off, const uint8_t *d, size_t len)
{
	struct out *o = handle;

	(void)arg;
	(void)off;	/* in order by the tracker's contract; the file position follows */
	return ws_hash_sink_write(&o->h, d, len);
}

static void print_name(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c > 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

static void op_close(void *arg, void *handle, const struct ws_ftp_file_info *info,
		     enum ws_ftp_end how)
{
	struct out *o = handle;
	char md5[33], sha[65], st[200], a[WS_ADDR_STRLEN];
	bool sender_is_client = (info->mode == WS_FTP_MODE_ACTIVE) != info->upload;
	const struct ws_endpoint *snd = sender_is_client ? &info->data.client : &info->data.server;
	const struct ws_endpoint *rcv = sender_is_client ? &info->data.server : &info->data.client;
	char b[WS_ADDR_STRLEN];

	(void)arg;
	ws_hash_sink_hex(&o->h, md5, sha);
	printf("file serial=%" PRIu64 " why=%s bytes=%" PRIu64
	       " md5=%s sha256=%s mode=%s sender=%s:%u receiver=%s:%u name=",
	       info->serial, info->why ? info->why : "-", info->bytes, md5, sha, ws_ftp_mode_name(info->mode),
	       ws_addr_str(&snd->addr, a, sizeof(a)), snd->port,
	       ws_addr_str(&rcv->addr, b, sizeof(b)), rcv->port);
	print_name(info->filename);
	printf(" status=");
	print_name(ws_ftp_end_status(how, info, st, sizeof(st)));
	putchar('\n');
	close(o->fd);
	free(o);
}

static void op_expect(void *arg, const struct ws_endpoint *c, const struct ws_endpoint *l, int ttl)
{
	(void)arg;
	(void)c;
	(void)l;
	(void)ttl;
	expects++;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; s[0] && s[1] && n < cap; s += 2) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct ws_ftp_track_params p = {
		.idle_timeout = 300, .max_sessions = 1024, .max_transfers = 1024,
		.max_file_size = 64u << 20, .max_early = 65536,
		.ops = {.expect = op_expect, .open = op_open, .write = op_write, .close = op_close},
	};
	static char line[300000];
	static uint8_t bytes[150000];
	struct ws_ftp_tracker *t;
	const struct ws_ftp_track_stats *st;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: ftp_feed OUTDIR [MAX_FILE_SIZE]\n");
		return 2;
	}
	outdir = argv[1];
	if (argc == 3)
		p.max_file_size = strtoull(argv[2], NULL, 10);
	t = ws_ftp_tracker_new(&p);
	if (!t)
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		char kind, cli[64], srv[64], side[8], data[sizeof(line)];
		unsigned cport, sport;
		long sec, usec;
		struct ws_ftp_flow f;
		struct timeval ts;
		size_t n;

		data[0] = '\0';
		if (sscanf(line, "%c %ld.%ld %63s %u %63s %u %7s %s", &kind, &sec, &usec, cli, &cport,
			   srv, &sport, side, data) < 8)
			continue;
		memset(&f, 0, sizeof(f));
		if (ws_addr_parse(cli, &f.client.addr) < 0 || ws_addr_parse(srv, &f.server.addr) < 0)
			continue;
		f.client.port = (uint16_t)cport;
		f.server.port = (uint16_t)sport;
		ts.tv_sec = sec;
		ts.tv_usec = usec;
		n = unhex(data, bytes, sizeof(bytes));
		switch (kind) {
		case 'C':
			ws_ftp_ctl_data(t, &f, side[0] == 'c' ? WS_FTP_FROM_CLIENT : WS_FTP_FROM_SERVER,
					bytes, n, &ts);
			break;
		case 'X':
			ws_ftp_ctl_end(t, &f, side[0] == 'F' ? WS_FTP_CLOSE_FIN : WS_FTP_CLOSE_RST, &ts);
			break;
		case 'D':
			ws_ftp_data(t, &f, side[0] == 'c' ? WS_FTP_FROM_CLIENT : WS_FTP_FROM_SERVER,
				    bytes, n, &ts);
			break;
		case 'E':
			ws_ftp_data_end(t, &f, side[0] == 'F' ? WS_FTP_CLOSE_FIN : WS_FTP_CLOSE_RST, &ts);
			break;
		}
	}
	st = ws_ftp_tracker_stats(t);
	printf("stats sessions=%" PRIu64 " commands=%" PRIu64 " replies=%" PRIu64
	       " transfers=%" PRIu64 " data_connections=%" PRIu64 " expects=%lu\n",
	       st->sessions, st->commands, st->replies, st->transfers, st->data_connections,
	       expects);
	fflush(stdout);
	ws_ftp_tracker_free(t);	/* what is still open ends here, printed after the stats */
	return 0;
}
