/*
 * libFuzzer: the FTP control codec and the passive FTP tracker. Input:
 * records of [flags:1][len:2 LE][bytes:len]. Each record's bytes go through
 * the command parser and the reply reader on their own, then into the
 * tracker: control client/server bytes, data bytes on the connection a
 * 227 (81.132.114.254:8836), an EPSV or a PORT (10.0.0.5:1025) would
 * announce, a data or control end, or a sweep.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftp.h"

#define MAX_FILE (1u << 20)

struct sink {
	uint64_t end;
};

static void *op_open(void *arg, const struct ws_ftp_file_info *info)
{
	(void)arg;
	if (strlen(info->filename) >= WS_FTP_NAME_MAX || strlen(info->user) >= WS_FTP_NAME_MAX)
		__builtin_trap();
	return calloc(1, sizeof(struct sink));
}

static int op_write(void *arg, void *h, uint64_t off, const uint8_t *d, size_t len)
{
	struct sink *s = h;

	(void)arg;
	(void)d;
	/* bytes come in order, never past max_file_size */
	if (off != s->end || off + len > MAX_FILE || len == 0)
		__builtin_trap();
	s->end = off + len;
	return 0;
}

static void op_close(void *arg, void *h, const struct ws_ftp_file_info *info, enum ws_ftp_end how)
{
	struct sink *s = h;
	char b[200];

	(void)arg;
	if (info->bytes != s->end && how != WS_FTP_TOO_LARGE)
		__builtin_trap();
	if (how == WS_FTP_INCOMPLETE && !info->why)
		__builtin_trap();
	ws_ftp_end_status(how, info, b, sizeof(b));
	free(h);
}

static void op_expect(void *arg, const struct ws_endpoint *c, const struct ws_endpoint *l, int ttl)
{
	(void)arg;
	(void)ttl;
	if (c->port != 0 || l->port == 0)
		__builtin_trap();
}

static struct ws_ftp_flow flow(uint32_t ca, uint16_t cp, uint32_t sa, uint16_t sp)
{
	struct ws_ftp_flow f;

	memset(&f, 0, sizeof(f));
	f.client.addr = ws_addr_v4h(ca);
	f.client.port = cp;
	f.server.addr = ws_addr_v4h(sa);
	f.server.port = sp;
	return f;
}

static void codec(const uint8_t *d, size_t len)
{
	struct ws_ftp_command c;
	struct ws_ftp_reply_reader rd;
	struct ws_endpoint ep;
	uint16_t port;
	uint64_t size;

	memset(&rd, 0, sizeof(rd));
	ws_ftp_parse_command(d, len, &c);
	if (c.arglen > len)
		__builtin_trap();
	ws_ftp_reply_feed(&rd, d, len);
	ws_ftp_find_pasv(d, len, &ep);
	ws_ftp_find_epsv(d, len, &port);
	ws_ftp_find_size(d, len, &size);
	ws_ftp_parse_eprt(d, len, &ep);
	ws_ftp_parse_hostport(d, len, &ep);
	ws_ftp_is_greeting(d, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint32_t client = 0x0a000005, server = 0x518472fe;	/* 10.0.0.5, 81.132.114.254 */
	struct ws_ftp_track_params p = {
		.idle_timeout = 30, .max_sessions = 2, .max_transfers = 3,
		.max_file_size = MAX_FILE, .max_early = 512,
		.ops = {.expect = op_expect, .open = op_open, .write = op_write, .close = op_close},
	};
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct timeval ts = {.tv_sec = 1000000000, .tv_usec = 0};
	struct ws_ftp_flow ctl[2] = {flow(client, 1040, server, 21), flow(client, 1041, server, 8884)};
	struct ws_ftp_flow dat[4] = {
		flow(client, 2000, server, 8836),	/* passive, 227 (...,34,132) */
		flow(client, 2001, server, 8837),
		flow(server, 20, client, 1025),		/* active, PORT (...,4,1) */
		flow(server, 20, client, 1026),
	};

	if (!t)
		return 0;
	while (size >= 3) {
		uint8_t f = data[0];
		size_t len = (size_t)(data[1] | data[2] << 8);
		const struct ws_ftp_flow *c = &ctl[f & 1], *d = &dat[(f >> 1) & 3];
		enum ws_ftp_side side = (f >> 3) & 1 ? WS_FTP_FROM_SERVER : WS_FTP_FROM_CLIENT;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		codec(data, len);
		ts.tv_sec += (f >> 6) & 1;
		switch ((f >> 4) & 7) {
		case 0: case 1: case 2:
			ws_ftp_ctl_data(t, c, side, data, len, &ts);
			break;
		case 3: case 4:
			ws_ftp_data(t, d, side, data, len, &ts);
			break;
		case 5:
			ws_ftp_data_end(t, d, len & 1 ? WS_FTP_CLOSE_RST : WS_FTP_CLOSE_FIN, &ts);
			break;
		case 6:
			ws_ftp_ctl_end(t, c, WS_FTP_CLOSE_FIN, &ts);
			break;
		default:
			ts.tv_sec += 31;
			ws_ftp_tracker_sweep(t, &ts);
		}
		data += len;
		size -= len;
		if (ws_ftp_tracker_sessions(t) > p.max_sessions ||
		    ws_ftp_tracker_transfers(t) > p.max_transfers)
			__builtin_trap();
	}
	ws_ftp_tracker_free(t);
	return 0;
}
