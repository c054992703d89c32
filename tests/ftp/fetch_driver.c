/*
 * Test driver for the FTP fetch engine: runs N downloads of the same file
 * side by side in one poll loop, the way the fetcher will, each into its
 * own file through the hashing sink, and prints one line per download:
 *
 *   0 status=ok bytes=1234 mode=passive md5=... sha256=...
 *
 * usage: fetch_driver [-u USER] [-p PASS] [-m MAX] [-t TIMEOUT] [-c CONNECT]
 *                     [-a] [-n N] HOST PORT REMOTE OUTPREFIX
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftp.h"

#define MAX_N 16

struct dl {
	struct ws_ftp_fetch *f;
	struct ws_hash_sink sink;
	int fd;
};

static void usage(void)
{
	fprintf(stderr, "usage: fetch_driver [-u USER] [-p PASS] [-m MAX] [-t TIMEOUT] "
			"[-c CONNECT] [-a] [-n N] HOST PORT REMOTE OUTPREFIX\n");
	exit(2);
}

/* One poll over every running download's descriptors; step each. */
static size_t poll_round(struct dl *d, size_t n)
{
	struct pollfd fds[MAX_N * 4];
	size_t first[MAX_N], count[MAX_N], nfds = 0, running = 0;
	int64_t now = ws_now_ms(), wake = INT64_MAX;
	int timeout;

	for (size_t i = 0; i < n; i++) {
		first[i] = nfds;
		count[i] = 0;
		if (!d[i].f || ws_ftp_fetch_state(d[i].f) != WS_XFER_RUNNING)
			continue;
		running++;
		count[i] = ws_ftp_fetch_fds(d[i].f, fds + nfds, 4);
		nfds += count[i];
		if (ws_ftp_fetch_deadline(d[i].f) < wake)
			wake = ws_ftp_fetch_deadline(d[i].f);
	}
	if (!running)
		return 0;
	timeout = wake <= now ? 0 : wake - now > 1000 ? 1000 : (int)(wake - now);
	if (poll(fds, nfds, timeout) < 0 && errno != EINTR) {
		perror("poll");
		exit(1);
	}
	now = ws_now_ms();
	for (size_t i = 0; i < n; i++)
		if (d[i].f && ws_ftp_fetch_state(d[i].f) == WS_XFER_RUNNING)
			ws_ftp_fetch_step(d[i].f, fds + first[i], count[i], now);
	return running;
}

int main(int argc, char **argv)
{
	struct ws_ftp_fetch_params p = {
		.connect_timeout_s = 5, .timeout_s = 30, .max_size = 16 << 20,
		.sink = ws_hash_sink_write,
	};
	struct dl d[MAX_N];
	size_t n = 1;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "u:p:m:t:c:an:")) != -1) {
		switch (opt) {
		case 'u': p.user = optarg; break;
		case 'p': p.pass = optarg; break;
		case 'm': p.max_size = strtoull(optarg, NULL, 10); break;
		case 't': p.timeout_s = (unsigned)atoi(optarg); break;
		case 'c': p.connect_timeout_s = (unsigned)atoi(optarg); break;
		case 'a': p.active_fallback = true; break;
		case 'n': n = (size_t)atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 4 || n < 1 || n > MAX_N)
		usage();
	if (ws_addr_parse(argv[optind], &p.server.addr) < 0)
		usage();
	p.server.port = (uint16_t)atoi(argv[optind + 1]);
	p.remote = argv[optind + 2];
	if (ws_ftp_fetch_global_init() < 0) {
		fprintf(stderr, "fetch_driver: curl_global_init failed\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char path[4096], err[200];

		snprintf(path, sizeof(path), "%s.%zu", argv[optind + 3], i);
		d[i].fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (d[i].fd < 0) {
			fprintf(stderr, "fetch_driver: %s: open: %s\n", path, strerror(errno));
			return 1;
		}
		ws_hash_sink_init(&d[i].sink, d[i].fd);
		p.sink_arg = &d[i].sink;
		d[i].f = ws_ftp_fetch_start(&p, ws_now_ms(), err, sizeof(err));
		if (!d[i].f) {
			printf("%zu status=refused:%s bytes=0\n", i, err);
			rc = 1;
		}
	}
	while (poll_round(d, n) > 0)
		;
	for (size_t i = 0; i < n; i++) {
		char md5[33], sha[65];

		if (!d[i].f)
			continue;
		ws_hash_sink_hex(&d[i].sink, md5, sha);
		printf("%zu status=%s bytes=%" PRIu64 " mode=%s md5=%s sha256=%s\n", i,
		       ws_ftp_fetch_status(d[i].f), ws_ftp_fetch_bytes(d[i].f),
		       ws_ftp_mode_name(ws_ftp_fetch_mode(d[i].f)), md5, sha);
		if (ws_ftp_fetch_state(d[i].f) != WS_XFER_DONE)
			rc = 1;
		ws_ftp_fetch_free(d[i].f);
		close(d[i].fd);
	}
	ws_ftp_fetch_global_cleanup();
	return rc;
}
