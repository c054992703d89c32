/*
 * The fetcher's life after the monitor re-executed it: a fresh image with
 * fd 3 (its socket to the sensor), stderr, and /dev/null on 0 and 1. It
 * chroots into the samples area, becomes the fetch user, clears every
 * capability, installs its seccomp list, and only then reads a request.
 *
 * Its parameters come on the command line from the monitor (which read the
 * configuration): numbers checked against the same ranges as the config.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "ftp.h"
#include "sensor.h"

#define FETCHER_SOCK 3

/* strtonum(3) in spirit: decimal, within [min, max], or exit. */
static long long arg_num(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "wormsnare: fetcher: bad %s: %s\n", what, s);
		_exit(2);
	}
	return v;
}

void ws_fetcher_child_main(int argc, char **argv)
{
	struct ws_fetcher_params p = {.sock = FETCHER_SOCK};
	struct ws_ids ids;
	char err[256];
	bool seccomp;

	ws_set_proc_name("ws-fetcher");
	signal(SIGINT, SIG_IGN);	/* the sensor decides when we stop: EOF on the socket */
	signal(SIGPIPE, SIG_IGN);
	if (argc != 15) {
		fprintf(stderr, "wormsnare: fetcher: started with %d arguments\n", argc);
		_exit(2);
	}
	ids.uid = (uid_t)arg_num(argv[3], 1, 4294967294LL, "uid");
	ids.gid = (gid_t)arg_num(argv[4], 1, 4294967294LL, "gid");
	snprintf(ids.name, sizeof(ids.name), "uid %s", argv[3]);
	p.timeout_s = (unsigned)arg_num(argv[5], 1, 255, "timeout");
	p.retries = (unsigned)arg_num(argv[6], 0, 100, "retries");
	p.blksize = (unsigned)arg_num(argv[7], 0, 65464, "blksize");
	p.concurrency = (unsigned)arg_num(argv[8], 1, 256, "concurrency");
	p.queue_size = (unsigned)arg_num(argv[9], 1, 65536, "queue size");
	p.max_size = (uint64_t)arg_num(argv[10], 1, 4LL << 30, "max size");
	seccomp = arg_num(argv[11], 0, 1, "seccomp") == 1;
	p.ftp_timeout_s = (unsigned)arg_num(argv[12], 1, 86400, "ftp timeout");
	p.ftp_connect_timeout_s = (unsigned)arg_num(argv[13], 1, 86400, "ftp connect timeout");
	p.ftp_active_fallback = arg_num(argv[14], 0, 1, "ftp active fallback") == 1;
	if (fcntl(FETCHER_SOCK, F_GETFD) < 0) {
		fprintf(stderr, "wormsnare: fetcher: no socket on fd %d\n", FETCHER_SOCK);
		_exit(2);
	}
	fcntl(FETCHER_SOCK, F_SETFD, FD_CLOEXEC);
	if (!(ws_can_switch_users() && ws_can_chroot()) && chdir(argv[2]) < 0) {
		fprintf(stderr, "wormsnare: fetcher: %s: chdir: %s\n", argv[2], strerror(errno));
		_exit(1);
	}
	/* libcurl (OpenSSL) reads its configuration now, before the chroot */
	if (ws_ftp_fetch_global_init() != 0) {
		fprintf(stderr, "wormsnare: fetcher: libcurl initialisation failed\n");
		_exit(1);
	}
	if (ws_drop_privs(&ids, ws_can_chroot() ? argv[2] : NULL, err, sizeof(err)) < 0 ||
	    (seccomp && ws_seccomp_apply(WS_ROLE_FETCHER, err, sizeof(err)) < 0)) {
		fprintf(stderr, "wormsnare: fetcher: %s\n", err);
		_exit(1);
	}
	p.dirfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p.dirfd < 0) {
		fprintf(stderr, "wormsnare: fetcher: samples area: %s\n", strerror(errno));
		_exit(1);
	}
	_exit(ws_fetcher_run(&p));
}
