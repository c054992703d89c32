/*
 * Benchmark of the passive FTP tracker (prints numbers, asserts nothing):
 * data throughput through one transfer, control-line rate, and the memory
 * a followed session costs (max RSS with many sessions waiting on a PASV).
 *
 * usage: bench_tracker [MB] [SESSIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ftp.h"

static uint64_t written;

static void *op_open(void *a, const struct ws_ftp_file_info *i) { (void)a; (void)i; return &written; }
static int op_write(void *a, void *h, uint64_t o, const uint8_t *d, size_t n)
{ (void)a; (void)h; (void)o; (void)d; written += n; return 0; }
static void op_close(void *a, void *h, const struct ws_ftp_file_info *i, enum ws_ftp_end e)
{ (void)a; (void)h; (void)i; (void)e; }

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static struct ws_ftp_flow flow(uint32_t c, uint16_t cp, uint32_t s, uint16_t sp)
{
	struct ws_ftp_flow f = {{ws_addr_v4h(c), cp}, {ws_addr_v4h(s), sp}};

	return f;
}

static void say(struct ws_ftp_tracker *t, const struct ws_ftp_flow *f, enum ws_ftp_side side,
		const char *s, const struct timeval *ts)
{
	ws_ftp_ctl_data(t, f, side, (const uint8_t *)s, strlen(s), ts);
}

int main(int argc, char **argv)
{
	unsigned mb = argc > 1 ? (unsigned)atoi(argv[1]) : 512;
	unsigned nsess = argc > 2 ? (unsigned)atoi(argv[2]) : 20000;
	struct ws_ftp_track_params p = {
		.idle_timeout = 300, .max_sessions = nsess + 1, .max_transfers = nsess + 1,
		.max_file_size = (uint64_t)mb << 20, .max_early = 65536,
		.ops = {.open = op_open, .write = op_write, .close = op_close},
	};
	struct ws_ftp_tracker *t = ws_ftp_tracker_new(&p);
	struct timeval ts = {1100000000, 0};
	struct ws_ftp_flow ctl = flow(0x0a000005, 1100, 0x518472fe, 8884);
	struct ws_ftp_flow dat = flow(0x0a000005, 1101, 0x518472fe, 8836);
	static uint8_t seg[1460];
	long rss0 = rss_kb();
	double t0;
	uint64_t lines = 0;

	memset(seg, 'x', sizeof(seg));
	say(t, &ctl, WS_FTP_FROM_SERVER, "220 hi\r\n", &ts);
	say(t, &ctl, WS_FTP_FROM_CLIENT, "PASV\r\n", &ts);
	say(t, &ctl, WS_FTP_FROM_SERVER, "227 (81,132,114,254,34,132)\r\n", &ts);
	say(t, &ctl, WS_FTP_FROM_CLIENT, "RETR big.bin\r\n", &ts);
	t0 = secs();
	for (uint64_t left = (uint64_t)mb << 20; left > 0;) {
		size_t n = left < sizeof(seg) ? (size_t)left : sizeof(seg);

		ws_ftp_data(t, &dat, WS_FTP_FROM_SERVER, seg, n, &ts);
		left -= n;
	}
	printf("data: %u MiB in 1460-byte segments: %.0f MiB/s\n", mb, mb / (secs() - t0));
	ws_ftp_data_end(t, &dat, WS_FTP_CLOSE_FIN, &ts);
	say(t, &ctl, WS_FTP_FROM_SERVER, "226 ok\r\n", &ts);

	t0 = secs();
	for (unsigned i = 0; i < 200000; i++) {
		say(t, &ctl, WS_FTP_FROM_CLIENT, "NOOP\r\n", &ts);
		say(t, &ctl, WS_FTP_FROM_SERVER, "200 NOOP ok.\r\n", &ts);
		lines += 2;
	}
	printf("control: %.2f M lines/s\n", lines / (secs() - t0) / 1e6);
	ws_ftp_tracker_free(t);

	t = ws_ftp_tracker_new(&p);
	rss0 = rss_kb();
	for (unsigned i = 0; i < nsess; i++) {
		struct ws_ftp_flow c = flow(0x0a000000 + i, 1100, 0x518472fe, 21);

		say(t, &c, WS_FTP_FROM_SERVER, "220 hi\r\n", &ts);
		say(t, &c, WS_FTP_FROM_CLIENT, "USER 1\r\nPASS 1\r\nPASV\r\n", &ts);
		say(t, &c, WS_FTP_FROM_SERVER, "331 p\r\n230 ok\r\n227 (81,132,114,254,34,132)\r\n", &ts);
		say(t, &c, WS_FTP_FROM_CLIENT, "RETR a.exe\r\n", &ts);
	}
	printf("memory: %u sessions with a transfer pending: %.1f KiB each (max RSS)\n", nsess,
	       (double)(rss_kb() - rss0) / nsess);
	ws_ftp_tracker_free(t);
	return written == (uint64_t)mb << 20 ? 0 : 1;
}
