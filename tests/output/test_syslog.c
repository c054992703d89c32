/*
 * output/syslog.c against receivers made here (127.0.0.1 and a private unix
 * socket only): message formats, TCP octet-counting frames under
 * back-pressure and across a collector restart, drops counted, target and
 * facility checks. The interoperability test with a real rsyslogd is
 * test_syslog_rsyslog.py.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "output.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static struct ws_cmd_record cmd(uint64_t id)
{
	struct ws_cmd_record r = {
		.event_id = id,
		.ts = {1061301617, 918435},
		.src = {ws_addr_v4h(0xc0a80105), 1029},
		.dst = {ws_addr_v4h(0xc0a8010a), 4444},
		.proto = 6,
		.action = "get",
		.filename = {"msblast \"\xff\".exe", 15},
		.server = {"192.168.1.5", 11},
		.fetch = "queued",
	};

	return r;
}

static int inet_socket(int type, uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(*port)};
	socklen_t sl = sizeof(sa);
	int one = 1, fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4) < 0) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("test_syslog: socket");
		exit(1);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static ssize_t recv_wait(int fd, char *buf, size_t cap, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

static void test_checks(void)
{
	static const char *good[] = {"local", "unix:/run/x.sock", "udp:127.0.0.1:514",
				     "tcp:10.1.2.3:6514", "udp:[::1]:514", "tcp:[2001:db8::1]:1"};
	static const char *bad[] = {"", "remote", "unix:rel.sock", "udp:localhost:514",
				    "udp:127.0.0.1", "udp:127.0.0.1:0", "udp:127.0.0.1:65536",
				    "tcp:127.0.0.1:05", "tcp::514", "udp:::1:514", "tcp:1.2.3:514",
				    "tcp:127.0.0.1:514x", "UDP:127.0.0.1:514"};
	char why[160];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(ws_syslog_target_check(good[i], why, sizeof(why)) == 0, "%s refused: %s",
		      good[i], why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK(ws_syslog_target_check(bad[i], why, sizeof(why)) < 0 && why[0],
		      "\"%s\" accepted", bad[i]);
	}
	CHECK(ws_syslog_facility("daemon") == 3 && ws_syslog_facility("local7") == 23 &&
	      ws_syslog_facility("kern") == 0 && ws_syslog_facility("Daemon") == -1 &&
	      ws_syslog_facility("local8") == -1, "facility names");
}

/* "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG" */
static void check_5424(const char *m, int pri, const char *msgid, const char *json)
{
	char head[64], when[64], host[64], app[64], msgidb[64], sd[8];
	int pid = -1, n = 0;

	snprintf(head, sizeof(head), "<%d>1 ", pri);
	CHECK(!strncmp(m, head, strlen(head)), "PRI/VERSION: %.40s", m);
	CHECK(sscanf(m + strlen(head), "%63s %63s %63s %d %63s %7s %n", when, host, app, &pid,
		     msgidb, sd, &n) == 6 && n > 0, "header: %.120s", m);
	CHECK(strlen(when) == 27 && when[26] == 'Z' && when[10] == 'T', "timestamp %s", when);
	CHECK(!strcmp(host, "sensor-1") && !strcmp(app, "wormsnare") && pid == getpid() &&
	      !strcmp(msgidb, msgid) && !strcmp(sd, "-"), "header fields: %.120s", m);
	CHECK(n > 0 && !strcmp(m + strlen(head) + n, json), "MSG is not the JSON object: %s",
	      m + strlen(head) + n);
}

static void test_udp(void)
{
	uint16_t port = 0;
	int rx = inet_socket(SOCK_DGRAM, &port);
	char target[64], err[256], buf[70000], big[5000];
	struct ws_syslog_params p = {target, "local3", "wormsnare", "sensor-1"};
	struct ws_cmd_record c = cmd(1);
	struct ws_warn_record w = {.ts = {5, 0}, .kind = "overlap-conflict", .detail = {"d", 1}};
	struct ws_writer *wr;
	char *json = ws_json_command(&c), *wjson = ws_json_warning(&w);
	ssize_t n;

	snprintf(target, sizeof(target), "udp:127.0.0.1:%u", port);
	wr = ws_syslog_open(&p, err, sizeof(err));
	CHECK(wr != NULL, "udp open: %s", err);
	if (!wr)
		return;
	CHECK(ws_write_command(wr, &c) == 0, "udp send");
	n = recv_wait(rx, buf, sizeof(buf) - 1, 2000);
	buf[n > 0 ? n : 0] = '\0';
	check_5424(buf, 19 * 8 + 5, "command", json);	/* local3.notice */
	CHECK(ws_write_warning(wr, &w) == 0, "udp warning");
	n = recv_wait(rx, buf, sizeof(buf) - 1, 2000);
	buf[n > 0 ? n : 0] = '\0';
	check_5424(buf, 19 * 8 + 4, "warning", wjson);	/* local3.warning */
	/* too big for one datagram: dropped whole and counted; the next one goes */
	memset(big, 0x80, sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c.filename.p = c.server.p = big;
	c.filename.len = c.server.len = sizeof(big) - 1;
	c.action = c.fetch = big;	/* 4 x (escaped + base64) of 4096 bytes: > 64 KiB */
	CHECK(ws_write_command(wr, &c) < 0 && errno == EMSGSIZE && wr->dropped == 1,
	      "oversized datagram: errno %d dropped %llu", errno, (unsigned long long)wr->dropped);
	c = cmd(2);
	CHECK(ws_write_command(wr, &c) == 0, "after a drop");
	n = recv_wait(rx, buf, sizeof(buf) - 1, 2000);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, "\"event_id\":2,") != NULL, "next datagram: %.80s", buf);
	ws_writer_close(wr);
	close(rx);
	free(json);
	free(wjson);
}

static int unix_rx(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("test_syslog: unix socket");
		exit(1);
	}
	return fd;
}

/* "<PRI>Mmm dd hh:mm:ss APP[PID]: MSG", what syslog(3) writes to /dev/log */
static void check_local(const char *m, int pri, const char *json)
{
	char head[64], mon[8], tail[64];
	int day = 0, hh = -1, mm = -1, ss = -1, n = 0;

	snprintf(head, sizeof(head), "<%d>", pri);
	snprintf(tail, sizeof(tail), " wormsnare[%d]: ", (int)getpid());
	CHECK(!strncmp(m, head, strlen(head)), "PRI: %.40s", m);
	CHECK(sscanf(m + strlen(head), "%3s %2d %2d:%2d:%2d%n", mon, &day, &hh, &mm, &ss, &n) == 5 &&
	      day >= 1 && day <= 31 && hh >= 0 && hh < 24, "time: %.40s", m);
	CHECK(n > 0 && !strncmp(m + strlen(head) + n, tail, strlen(tail)) &&
	      !strcmp(m + strlen(head) + n + strlen(tail), json), "local message: %s", m);
}

static void test_unix(void)
{
	char dir[] = "/tmp/ws-syslog-XXXXXX", path[128], target[160], err[256], buf[8192];
	struct ws_syslog_params p = {target, "daemon", "wormsnare", "sensor-1"};
	struct ws_cmd_record c = cmd(3);
	char *json = ws_json_command(&c);
	struct ws_writer *wr;
	int rx;
	ssize_t n;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/log.sock", dir);
	snprintf(target, sizeof(target), "unix:%s", path);
	CHECK(!ws_syslog_open(&p, err, sizeof(err)) && strstr(err, "connect"),
	      "no socket yet must fail at open: %s", err);
	rx = unix_rx(path);
	wr = ws_syslog_open(&p, err, sizeof(err));
	CHECK(wr != NULL, "unix open: %s", err);
	if (!wr)
		return;
	CHECK(ws_write_command(wr, &c) == 0, "unix send");
	n = recv_wait(rx, buf, sizeof(buf) - 1, 2000);
	buf[n > 0 ? n : 0] = '\0';
	check_local(buf, 3 * 8 + 5, json);
	/* the daemon restarts and makes a new socket: the writer connects again */
	close(rx);
	rx = unix_rx(path);
	CHECK(ws_write_command(wr, &c) == 0, "after daemon restart");
	n = recv_wait(rx, buf, sizeof(buf) - 1, 2000);
	buf[n > 0 ? n : 0] = '\0';
	check_local(buf, 3 * 8 + 5, json);
	ws_writer_close(wr);
	close(rx);
	unlink(path);
	rmdir(dir);
	free(json);
}

/* Fill the writer's queue with 1.5 KB messages until one is dropped; their IDs go to ids[]. */
static void fill_queue(struct ws_writer *wr, uint64_t *id, uint64_t *ids, size_t *nids, size_t cap)
{
	static char fat[1500];
	struct ws_cmd_record c = cmd(0);
	uint64_t drops = wr->dropped;

	memset(fat, 'B', sizeof(fat));
	c.filename.p = fat;
	c.filename.len = sizeof(fat);
	while (wr->dropped == drops && *nids < cap) {
		c.event_id = ++*id;
		if (ws_write_command(wr, &c) == 0)
			ids[(*nids)++] = c.event_id;
	}
}

/* Read up to max datagrams (flushing the writer when none waits); 0 when in order with ids[]. */
static int read_dgrams(int rx, struct ws_writer *wr, const uint64_t *ids, size_t nids, size_t *got,
		       size_t max)
{
	char buf[8192];
	int bad = 0;

	for (int idle = 0; idle < 3 && max > 0;) {
		ssize_t n = recv_wait(rx, buf, sizeof(buf) - 1, 100);
		const char *id;

		if (n <= 0) {
			idle++;
			ws_writer_flush(wr);
			continue;
		}
		idle = 0;
		max--;
		buf[n] = '\0';
		id = strstr(buf, "\"event_id\":");
		if (!id || *got >= nids || strtoull(id + 11, NULL, 10) != ids[*got])
			bad = 1;
		(*got)++;
	}
	return bad;
}

/*
 * A local daemon that stops reading: datagrams wait in the writer's queue
 * and go one by one from its head as the daemon reads again; a full queue
 * drops later messages whole; a queue half sent takes new ones behind the
 * rest. Every accepted message arrives once, in order.
 */
static void test_unix_backpressure(void)
{
	char dir[] = "/tmp/ws-syslog-XXXXXX", path[128], target[160], err[256];
	struct ws_syslog_params p = {target, "daemon", "wormsnare", "sensor-1"};
	static uint64_t ids[4096];
	size_t nids = 0, got = 0, first;
	uint64_t id = 0;
	struct ws_writer *wr;
	int rx, bad;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/log.sock", dir);
	snprintf(target, sizeof(target), "unix:%s", path);
	rx = unix_rx(path);
	if (!(wr = ws_syslog_open(&p, err, sizeof(err)))) {
		CHECK(0, "unix open: %s", err);
		return;
	}
	fill_queue(wr, &id, ids, &nids, 4096);
	CHECK(wr->dropped > 0, "a daemon that does not read must cause drops");
	first = nids;
	bad = read_dgrams(rx, wr, ids, nids, &got, 40);	/* part of the queue goes */
	fill_queue(wr, &id, ids, &nids, 4096);		/* new ones behind the rest */
	CHECK(nids > first, "a queue half sent takes new messages");
	bad |= read_dgrams(rx, wr, ids, nids, &got, SIZE_MAX);
	CHECK(!bad && got == nids, "datagrams: %zu received in order of %zu accepted (%llu dropped)",
	      got, nids, (unsigned long long)wr->dropped);
	printf("unix back-pressure: %zu messages queued and delivered in order, %llu dropped\n",
	       nids, (unsigned long long)wr->dropped);
	ws_writer_close(wr);
	close(rx);
	unlink(path);
	rmdir(dir);
}

/* ------------------------------------------------------------------- TCP */

struct stream {
	char *buf;
	size_t len, cap;
};

static size_t drain(int fd, struct stream *s, int ms)
{
	size_t got = 0;

	for (;;) {
		ssize_t n;

		if (s->cap - s->len < 65536) {
			s->cap = s->cap * 2 + 65536;
			s->buf = realloc(s->buf, s->cap);
		}
		n = recv_wait(fd, s->buf + s->len, s->cap - s->len - 1, ms);
		if (n <= 0)
			return got;
		s->len += (size_t)n;
		s->buf[s->len] = '\0';
		got += (size_t)n;
	}
}

/* Parse "LEN SP MSG" frames; every MSG must be a whole message. -1 if malformed. */
static long count_frames(const struct stream *s, uint64_t *first_id, uint64_t *last_id)
{
	size_t off = 0;
	long frames = 0;

	while (off < s->len) {
		size_t len = 0, i = off;
		const char *id;

		while (i < s->len && s->buf[i] >= '0' && s->buf[i] <= '9')
			len = len * 10 + (size_t)(s->buf[i++] - '0');
		if (i == off || i >= s->len || s->buf[i] != ' ' || i + 1 + len > s->len ||
		    strncmp(s->buf + i + 1, "<29>1 ", 6) || s->buf[i + len] != '}') {
			fprintf(stderr, "bad frame after %ld at %zu (len %zu, total %zu, end %c): %.80s\n", frames, off, len, s->len, i + len < s->len ? s->buf[i + len] : 0, s->buf + off);
			return -1;
		}
		id = memmem(s->buf + i + 1, len, "\"event_id\":", 11);
		if (!id)
			return -1;
		if (frames == 0)
			*first_id = strtoull(id + 11, NULL, 10);
		*last_id = strtoull(id + 11, NULL, 10);
		off = i + 1 + len;
		frames++;
	}
	return frames;
}

static int accept_wait(int lfd, int ms)
{
	struct pollfd p = {lfd, POLLIN, 0};

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* A collector that stops reading: frames queue, then drop whole; all arrive intact. */
static void tcp_backpressure(struct ws_writer *wr, int conn)
{
	static char fat[3000];
	struct stream s = {0};
	struct ws_cmd_record c = cmd(0);
	uint64_t sent = 0, first = 0, last = 0, id;
	long frames;

	memset(fat, 'A', sizeof(fat));
	c.filename.p = fat;
	c.filename.len = sizeof(fat);
	for (id = 1; id <= 20000 && wr->dropped == 0; id++) {
		c.event_id = id;
		if (ws_write_command(wr, &c) == 0)
			sent++;
	}
	CHECK(wr->dropped > 0, "a collector that does not read must cause drops");
	printf("tcp back-pressure: %llu frames taken before the first drop\n", (unsigned long long)sent);
	for (int idle = 0, i = 0; idle < 3 && i < 2000; i++) {
		ws_writer_flush(wr);
		idle = drain(conn, &s, 100) ? 0 : idle + 1;
	}
	frames = count_frames(&s, &first, &last);
	CHECK(frames == (long)sent, "frames %ld, accepted %llu (dropped %llu)", frames,
	      (unsigned long long)sent, (unsigned long long)wr->dropped);
	CHECK(first == 1 && last == sent, "frames in order: %llu..%llu", (unsigned long long)first,
	      (unsigned long long)last);
	free(s.buf);
}

static void tcp_restart(struct ws_writer *wr, int *lfd, int *conn, uint16_t port)
{
	struct ws_cmd_record c = cmd(100);
	struct stream s = {0};
	uint64_t first = 0, last = 0;
	int newconn = -1;

	close(*conn);
	close(*lfd);
	usleep(100000);
	/* the first sends may still go into the dead socket; then EPIPE/ECONNRESET */
	for (int i = 0; i < 5; i++)
		ws_write_command(wr, &c);
	*lfd = inet_socket(SOCK_STREAM, &port);
	for (int i = 0; i < 40 && newconn < 0; i++) {	/* reconnects at most once a second */
		c.event_id = 200 + (uint64_t)i;
		ws_write_command(wr, &c);
		newconn = accept_wait(*lfd, 100);
	}
	CHECK(newconn >= 0, "no reconnect after the collector came back");
	*conn = newconn;
	if (newconn < 0)
		return;
	c.event_id = 999;
	CHECK(ws_write_command(wr, &c) == 0, "send after reconnect");
	drain(newconn, &s, 300);
	CHECK(count_frames(&s, &first, &last) >= 1 && last == 999,
	      "frames after reconnect are whole: %.60s", s.buf ? s.buf : "");
	free(s.buf);
}

static void test_tcp(void)
{
	uint16_t port = 0;
	int lfd = inet_socket(SOCK_STREAM, &port), conn;
	char target[64], err[256];
	struct ws_syslog_params p = {target, "daemon", "wormsnare", "sensor-1"};
	struct ws_cmd_record c = cmd(1);
	char *json = ws_json_command(&c);
	struct stream s = {0};
	struct ws_writer *wr;
	char want[8192];

	snprintf(target, sizeof(target), "tcp:127.0.0.1:%u", port);
	wr = ws_syslog_open(&p, err, sizeof(err));
	CHECK(wr != NULL, "tcp open: %s", err);
	conn = accept_wait(lfd, 2000);
	CHECK(conn >= 0, "no connection at open");
	if (!wr || conn < 0)
		return;
	CHECK(ws_write_command(wr, &c) == 0, "tcp send");
	drain(conn, &s, 500);
	/* one frame: "LEN SP MSG", LEN the octets of MSG */
	snprintf(want, sizeof(want), "%s", s.buf ? strchr(s.buf, ' ') + 1 : "");
	CHECK(s.len > 0 && strtoul(s.buf, NULL, 10) == strlen(want) &&
	      strlen(want) + (size_t)(strchr(s.buf, ' ') + 1 - s.buf) == s.len, "framing");
	check_5424(want, 3 * 8 + 5, "command", json);
	free(s.buf);
	tcp_backpressure(wr, conn);
	tcp_restart(wr, &lfd, &conn, port);
	ws_writer_close(wr);
	close(conn);
	close(lfd);
	free(json);
}

static void test_tcp_down_at_open(void)
{
	uint16_t port = 0;
	int lfd = inet_socket(SOCK_STREAM, &port);
	char target[64], err[256];
	struct ws_syslog_params p = {target, "daemon", "wormsnare", NULL};
	struct ws_cmd_record c = cmd(1);
	struct ws_writer *wr;

	close(lfd);	/* nothing listens there now */
	snprintf(target, sizeof(target), "tcp:127.0.0.1:%u", port);
	wr = ws_syslog_open(&p, err, sizeof(err));
	CHECK(wr != NULL, "a TCP collector down at start is not fatal: %s", err);
	if (!wr)
		return;
	for (int i = 0; i < 3; i++)
		ws_write_command(wr, &c);
	CHECK(wr->dropped >= 1, "messages to a dead collector are counted: %llu",
	      (unsigned long long)wr->dropped);
	ws_writer_close(wr);
	p.facility = "nope";
	CHECK(!ws_syslog_open(&p, err, sizeof(err)) && strstr(err, "facility"), "bad facility");
	p.facility = "daemon";
	p.target = "udp:localhost:514";	/* a name, refused before anything could resolve it */
	CHECK(!ws_syslog_open(&p, err, sizeof(err)) && strstr(err, "numeric"), "name refused: %s",
	      err);
}

int main(void)
{
	test_checks();
	test_udp();
	test_unix();
	test_unix_backpressure();
	test_tcp();
	test_tcp_down_at_open();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("syslog: all checks passed\n");
	return failures ? 1 : 0;
}
