/*
 * bench_writers: records per second through each output writer, so the cost
 * of a format shows next to the capture path's numbers.
 *
 *   build/bench_writers [N]      (default 200000 records per row)
 *
 * Rows: the JSON builder alone, Community ID alone, the TSV event log, the
 * TSV fetch log, events.json (files in a temporary directory), and syslog
 * over UDP to a socket on 127.0.0.1 that this program reads itself. Typical
 * records: a Blaster GET with plain names, and the same with 255 bytes of
 * non-UTF-8 junk in the file name (the worst a matcher field holds).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void row(const char *what, long n, double secs, double bytes)
{
	printf("%-34s %10.0f records/s  %6.2f us/record", what, n / secs, secs * 1e6 / n);
	if (bytes > 0)
		printf("  %7.0f bytes/record", bytes / n);
	putchar('\n');
}

static off_t file_size(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, 0) == 0 ? st.st_size : 0;
}

static void bench_builders(const struct ws_cmd_record *c, long n, const char *label)
{
	char cid[WS_COMMUNITY_ID_MAX], what[64];
	double t = now(), bytes = 0;

	for (long i = 0; i < n; i++) {
		char *s = ws_json_command(c);

		bytes += (double)strlen(s);
		free(s);
	}
	snprintf(what, sizeof(what), "JSON object (%s)", label);
	row(what, n, now() - t, bytes);
	t = now();
	for (long i = 0; i < n; i++)
		ws_community_id(cid, sizeof(cid), 0, 6, &c->src, &c->dst);
	row("Community ID", n, now() - t, 0);
}

static void bench_file(struct ws_writer *w, int dirfd, const char *name,
		       const struct ws_cmd_record *c, const struct ws_file_record *f, long n,
		       const char *what)
{
	double t = now();

	for (long i = 0; i < n; i++)
		if (c ? ws_write_command(w, c) : ws_write_file(w, f))
			perror(what);
	row(what, n, now() - t, (double)file_size(dirfd, name));
	ws_writer_close(w);
	unlinkat(dirfd, name, 0);
}

/* The receiver drains in a child so the sender measures its own cost. */
static void bench_syslog(const struct ws_cmd_record *c, long n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), big = 8 << 20;
	char target[64], err[256];
	struct ws_syslog_params p = {target, "daemon", "wormsnare", "bench"};
	struct ws_writer *w;
	pid_t kid;
	double t;

	setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	bind(rx, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(rx, (struct sockaddr *)&sa, &sl);
	snprintf(target, sizeof(target), "udp:127.0.0.1:%u", ntohs(sa.sin_port));
	kid = fork();
	if (kid == 0) {
		char buf[65536];

		while (recv(rx, buf, sizeof(buf), 0) > 0)
			;
		_exit(0);
	}
	w = ws_syslog_open(&p, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "bench: %s\n", err);
		return;
	}
	t = now();
	for (long i = 0; i < n; i++)
		ws_write_command(w, c);
	for (int i = 0; i < 100 && ws_writer_flush(w) == 0; i++)
		;
	row("syslog UDP 127.0.0.1 (sent)", n, now() - t, 0);
	printf("%-34s %10llu of %ld\n", "  dropped (queue full)", (unsigned long long)w->dropped, n);
	ws_writer_close(w);
	kill(kid, 9);
	close(rx);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	char dir[] = "/tmp/ws-bench-writers-XXXXXX", err[256], junk[255];
	struct ws_cmd_record c = {
		.event_id = 1, .ts = {1061301617, 918435},
		.src = {ws_addr_v4h(0xc0a80105), 1029}, .dst = {ws_addr_v4h(0xc0a8010a), 4444},
		.proto = 6, .action = "get", .filename = {"msblast.exe", 11},
		.server = {"192.168.1.5", 11}, .fetch = "queued",
	};
	struct ws_file_record f = {
		.event_id = 1, .ts = {1061301618, 5}, .filename = {"msblast.exe", 11},
		.server = {"192.168.1.5:69", 14}, .status = {"ok", 2}, .bytes = 6176,
		.md5 = "5ae700c1dffb00cef492844a4db6cd69",
		.sha256 = "2da37ad3ecd2cf5d3e5c8ae30a3f5d6d1c1ef3a5b4ba2ba37c7b3ab4e5cd3eb9",
		.path = "samples/1-msblast.exe", .source = "fetch", .known = {"W32/Blaster", 11},
		.have_flow = true, .proto = 17,
		.client = {ws_addr_v4h(0xc0a8010a), 2000}, .server_ep = {ws_addr_v4h(0xc0a80105), 69},
	};
	int dirfd;

	if (n <= 0 || !mkdtemp(dir))
		return 2;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	printf("%ld records per row, files in %s\n", n, dir);
	bench_builders(&c, n, "plain");
	bench_file(ws_tsv_events_open(dirfd, "ev.txt", err, sizeof(err)), dirfd, "ev.txt", &c, NULL,
		   n, "TSV event log");
	bench_file(ws_tsv_files_open(dirfd, "fe.txt", err, sizeof(err)), dirfd, "fe.txt", NULL, &f,
		   n, "TSV fetch log");
	bench_file(ws_json_open(dirfd, "ev.json", err, sizeof(err)), dirfd, "ev.json", &c, NULL, n,
		   "events.json (command)");
	bench_file(ws_json_open(dirfd, "fe.json", err, sizeof(err)), dirfd, "fe.json", NULL, &f, n,
		   "events.json (file)");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(0x80 + i % 128);
	c.filename.p = junk;
	c.filename.len = sizeof(junk);
	bench_builders(&c, n, "255 non-UTF-8 bytes");
	bench_file(ws_json_open(dirfd, "junk.json", err, sizeof(err)), dirfd, "junk.json", &c, NULL,
		   n, "events.json (non-UTF-8 name)");
	c.filename.p = "msblast.exe";
	c.filename.len = 11;
	bench_syslog(&c, n);
	close(dirfd);
	rmdir(dir);
	return 0;
}
