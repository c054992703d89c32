/*
 * tftpfetch: the fetcher's TFTP client on its own, for people and tests.
 *
 *   tftpfetch [-b BLKSIZE] [-t TIMEOUT] [-r RETRIES] [-m MAXSIZE] HOST[:PORT] REMOTE LOCAL
 *
 * LOCAL appears only when the whole file arrived (temp file, then rename).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "output.h"
#include "tftp.h"

static void usage(FILE *to)
{
	fprintf(to, "usage: tftpfetch [-b BLKSIZE] [-t TIMEOUT] [-r RETRIES] [-m MAXSIZE] "
		    "HOST[:PORT] REMOTE_FILE LOCAL_PATH\n"
		    "  -b BLKSIZE  RFC 2348 block size to ask for (8..65464, 0: no options; 1428)\n"
		    "  -t TIMEOUT  seconds before a retransmission (1..255; 3)\n"
		    "  -r RETRIES  retransmissions before giving up (0..100; 5)\n"
		    "  -m MAXSIZE  abort beyond this many bytes (16777216)\n"
		    "HOST is a dotted IPv4 address: names are not resolved.\n");
}

static long number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "tftpfetch: %s: must be %ld..%ld\n", what, min, max);
		exit(2);
	}
	return v;
}

static void parse_server(const char *arg, struct sockaddr_in *sa)
{
	uint32_t addr;
	uint16_t port = 69;
	struct ws_cidr c;

	memset(sa, 0, sizeof(*sa));
	if (strchr(arg, ':')) {
		if (ws_hostport_parse(arg, &addr, &port) < 0)
			goto bad;
	} else {
		if (strchr(arg, '/') || ws_cidr_parse(arg, &c) < 0)
			goto bad;
		addr = c.addr;
	}
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(addr);
	sa->sin_port = htons(port);
	return;
bad:
	fprintf(stderr, "tftpfetch: %s: expected a.b.c.d or a.b.c.d:port\n", arg);
	exit(2);
}

static void print_hashes(struct ws_hash_sink *o, uint64_t bytes)
{
	char md5[33], sha[65];

	ws_hash_sink_hex(o, md5, sha);
	printf("ok %" PRIu64 " md5=%s sha256=%s\n", bytes, md5, sha);
}

/* Run the transfer to its end; returns its final state. */
static enum ws_tftp_xfer_state run(struct ws_tftp_xfer *x)
{
	enum ws_tftp_xfer_state s = WS_XFER_RUNNING;

	while (s == WS_XFER_RUNNING) {
		struct pollfd p = {.fd = ws_tftp_xfer_fd(x), .events = POLLIN};
		int64_t wait = ws_tftp_xfer_deadline(x) - ws_now_ms();

		if (poll(&p, 1, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR)
			break;
		s = ws_tftp_xfer_input(x, ws_now_ms());
		if (s == WS_XFER_RUNNING)
			s = ws_tftp_xfer_timer(x, ws_now_ms());
	}
	return s;
}

int main(int argc, char **argv)
{
	struct ws_tftp_xfer_params xp = {.blksize = 1428, .timeout_s = 3, .retries = 5,
					 .max_size = 16u << 20, .sink = ws_hash_sink_write};
	char tmp[PATH_MAX], dir[PATH_MAX], err[256], esc[WS_TFTP_NAME_MAX * 4];
	struct ws_tftp_xfer *x;
	struct ws_hash_sink o;
	int c;
	enum ws_tftp_xfer_state s;
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};

	while ((c = getopt_long(argc, argv, "b:t:r:m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': {
			long b = number(optarg, 0, WS_TFTP_BLKSIZE_MAX, "-b");

			if (b != 0 && b < WS_TFTP_BLKSIZE_MIN) {
				fprintf(stderr, "tftpfetch: -b: must be 0 or 8..65464\n");
				return 2;
			}
			xp.blksize = (unsigned)b;
			break;
		}
		case 't': xp.timeout_s = (unsigned)number(optarg, 1, 255, "-t"); break;
		case 'r': xp.retries = (unsigned)number(optarg, 0, 100, "-r"); break;
		case 'm': xp.max_size = (uint64_t)number(optarg, 1, LONG_MAX, "-m"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	parse_server(argv[optind], &xp.server);
	xp.remote = argv[optind + 1];
	ws_tsv_escape(esc, sizeof(esc), xp.remote, strlen(xp.remote));
	snprintf(dir, sizeof(dir), "%s", argv[optind + 2]);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tftpfetch-XXXXXX", dirname(dir)) >= sizeof(tmp)) {
		fprintf(stderr, "tftpfetch: %s: path too long\n", argv[optind + 2]);
		return 2;
	}
	ws_hash_sink_init(&o, mkstemp(tmp));
	if (o.fd < 0) {
		fprintf(stderr, "tftpfetch: %s: mkstemp: %s\n", tmp, strerror(errno));
		return 1;
	}
	xp.sink_arg = &o;
	x = ws_tftp_xfer_start(&xp, ws_now_ms(), err, sizeof(err));
	if (!x) {
		fprintf(stderr, "tftpfetch: %s: %s\n", argv[optind], err);
		unlink(tmp);
		return 1;
	}
	s = run(x);
	if (close(o.fd) < 0 && s == WS_XFER_DONE) {
		fprintf(stderr, "tftpfetch: %s: close: %s\n", tmp, strerror(errno));
		s = WS_XFER_FAILED;
	}
	if (s == WS_XFER_DONE && rename(tmp, argv[optind + 2]) < 0) {
		fprintf(stderr, "tftpfetch: %s: rename: %s\n", argv[optind + 2], strerror(errno));
		s = WS_XFER_FAILED;
	}
	if (s != WS_XFER_DONE) {
		char st[WS_TFTP_NAME_MAX];

		ws_tsv_escape(st, sizeof(st), ws_tftp_xfer_status(x), strlen(ws_tftp_xfer_status(x)));
		fprintf(stderr, "tftpfetch: %s: %s: %s\n", argv[optind], esc, st);
		unlink(tmp);
		ws_tftp_xfer_free(x);
		return 1;
	}
	print_hashes(&o, ws_tftp_xfer_bytes(x));
	ws_tftp_xfer_free(x);
	return 0;
}
