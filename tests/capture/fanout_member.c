/*
 * One member of a PACKET_FANOUT group, for tests/capture/test_fanout.sh:
 * opens IFACE with ws_capture_open_live_fanout and the selection, and
 * prints the source and destination address of every IPv4 packet it is
 * handed, until SIGTERM. "ready" on stderr once it captures.
 *
 *   fanout_member IFACE GROUP NWORKERS
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "config.h"

static struct ws_capture *cap;

static void on_term(int sig)
{
	(void)sig;
	ws_capture_breakloop(cap);
}

static void on_ip(void *arg, const struct timeval *ts, const uint8_t *ip, size_t len)
{
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

	(void)arg;
	(void)ts;
	if (len < 20)
		return;
	inet_ntop(AF_INET, ip + 12, s, sizeof(s));
	inet_ntop(AF_INET, ip + 16, d, sizeof(d));
	printf("%s %s\n", s, d);
}

int main(int argc, char **argv)
{
	struct ws_config cfg;
	struct sigaction sa;
	char err[512];
	unsigned group;
	int n;

	if (argc != 4) {
		fprintf(stderr, "usage: fanout_member IFACE GROUP NWORKERS\n");
		return 2;
	}
	ws_config_defaults(&cfg);
	group = (unsigned)atoi(argv[2]);
	cap = ws_capture_open_live_fanout(argv[1], &cfg, &group,
					  (unsigned)atoi(argv[3]), err, sizeof(err));
	if (!cap || ws_capture_set_filter(cap, &cfg, true, err, sizeof(err)) < 0) {
		fprintf(stderr, "fanout_member: %s\n", err);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "ready\n");
	while ((n = ws_capture_dispatch(cap, on_ip, NULL, err, sizeof(err))) >= 0)
		;
	ws_capture_close(cap);
	fflush(stdout);
	if (n == -2) {
		fprintf(stderr, "fanout_member: %s\n", err);
		return 1;
	}
	return 0;
}
