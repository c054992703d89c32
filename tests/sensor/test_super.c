/*
 * The supervisor's side of the fetcher channel, with this test playing the
 * monitor and the fetcher: requests carry what the command said; results
 * become fetch-log rows; a zero-length, malformed or unexpected message is a
 * counted protocol error that retires that fetcher (its requests logged as
 * fetcher-died) and asks the monitor for a new one; nothing ever blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch.h"
#include "output.h"
#include "sensor.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static int mon;		/* our end of the control socket */

/* The monitor's answer to a spawn request: a new socketpair, one end passed. */
static int give_fetcher(void)
{
	int sv[2];
	char cbuf[CMSG_SPACE(sizeof(int))];
	uint32_t msg[2] = {WS_CTL_FETCHER, 4242};
	struct iovec iov = {msg, sizeof(msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		exit(2);
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[0], sizeof(int));
	if (sendmsg(mon, &mh, 0) < 0)
		exit(2);
	close(sv[0]);
	return sv[1];
}

static bool spawn_requested(void)
{
	uint32_t m;

	return recv(mon, &m, sizeof(m), MSG_DONTWAIT) == sizeof(m) && m == WS_CTL_SPAWN_FETCHER;
}

static uint64_t get_event(struct ws_super *s, const char *file, const char *host)
{
	struct ws_cmd_event ev = {.action = WS_ACT_GET, .file = file, .file_len = strlen(file),
				  .host = host, .host_len = strlen(host), .server_text = host,
				  .port = 69, .name_ok = true};

	if (ws_addr_parse(host, &ev.host_addr) < 0)
		memset(&ev.host_addr, 0, sizeof(ev.host_addr));
	ws_addr_parse("81.132.114.254", &ev.attacker.addr);
	ev.attacker.port = 1234;
	ws_addr_parse("10.0.0.5", &ev.victim.addr);
	ev.victim.port = 4444;
	ev.ts.tv_sec = 1061301600;
	return ws_super_command(s, &ev);
}

static bool read_req(int fd, struct ws_fetch_req *r)
{
	uint8_t buf[WS_FETCH_MSG_MAX];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	return n > 0 && ws_fetch_req_decode(buf, (size_t)n, r) == 0;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

int main(void)
{
	static struct ws_run run;
	char dir[] = "/tmp/ws-super-XXXXXX", path[256], err[512];
	struct ws_fetch_req q;
	struct ws_fetch_res res;
	uint8_t buf[WS_FETCH_MSG_MAX];
	struct ws_super *s;
	int sv[2], f1, f2, f3;
	uint64_t id;
	size_t n;

	if (!mkdtemp(dir) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return 2;
	mon = sv[1];
	ws_config_defaults(&run.cfg);
	snprintf(run.cfg.output.dir, sizeof(run.cfg.output.dir), "%s", dir);
	run.fetch_on = true;
	run.cfg.fetch.timeout = 1;
	run.cfg.fetch.retries = 0;
	run.sensor_ids.uid = run.fetch_ids.uid = geteuid();
	run.sensor_ids.gid = run.fetch_ids.gid = getegid();
	s = ws_super_open(&run, sv[0], err, sizeof(err));
	CHECK(s, "open: %s", err);
	if (!s)
		return 1;
	CHECK(spawn_requested(), "a fetcher is asked for at start");

	/* a request made before the fetcher exists waits for it */
	id = get_event(s, "msblast.exe", "81.132.114.254");
	f1 = give_fetcher();
	ws_super_poll(s);
	CHECK(read_req(f1, &q) && q.eventid == id && q.proto == WS_FETCH_TFTP &&
	      q.server.port == 69 && !strcmp(q.remote, "msblast.exe") && !strcmp(q.stem, "msblast"),
	      "the waiting request reaches the new fetcher");
	CHECK(!spawn_requested(), "no second fetcher asked for while one works");

	/* a zero-length message: protocol error, fetcher retired, its request logged */
	CHECK(send(f1, "", 0, 0) == 0, "send empty");
	ws_super_poll(s);
	CHECK(ws_super_stats(s)->fetcher_restarts == 1, "empty message retires the fetcher");
	CHECK(spawn_requested(), "and a new fetcher is asked for");
	snprintf(path, sizeof(path), "%s/fetchlog.txt", dir);
	CHECK(strstr(slurp(path), "\tmsblast.exe\tfetcher-died\t0\t"), "fetcher-died row: %s",
	      slurp(path));

	/* garbage: counted as a protocol error */
	f2 = give_fetcher();
	ws_super_poll(s);
	id = get_event(s, "teekids.exe", "62.30.7.11");
	CHECK(read_req(f2, &q) && q.eventid == id, "request to the second fetcher");
	CHECK(send(f2, "WSRS\0\0\0\2xx", 10, 0) == 10, "send garbage");
	ws_super_poll(s);
	CHECK(ws_super_stats(s)->protocol_errors == 1 && ws_super_stats(s)->fetcher_restarts == 2,
	      "garbage is a protocol error (%lu)", (unsigned long)ws_super_stats(s)->protocol_errors);
	CHECK(spawn_requested(), "new fetcher asked for after garbage");

	/* a result for a request never made is a protocol error too */
	f3 = give_fetcher();
	ws_super_poll(s);
	memset(&res, 0, sizeof(res));
	res.eventid = 999;
	snprintf(res.status, sizeof(res.status), "ok");
	n = ws_fetch_res_encode(&res, buf, sizeof(buf));
	CHECK(send(f3, buf, n, 0) == (ssize_t)n, "send");
	ws_super_poll(s);
	CHECK(ws_super_stats(s)->protocol_errors == 2, "unexpected result is a protocol error");
	spawn_requested();

	/* a good result becomes an ok row naming fetched/ */
	close(f1);
	f1 = give_fetcher();
	ws_super_poll(s);
	id = get_event(s, "penis32.exe", "24.5.66.7");
	CHECK(read_req(f1, &q) && q.eventid == id, "request to the fourth fetcher");
	memset(&res, 0, sizeof(res));
	res.eventid = id;
	res.ok = true;
	res.bytes = 11;
	snprintf(res.status, sizeof(res.status), "ok");
	snprintf(res.md5, sizeof(res.md5), "%032d", 0);
	snprintf(res.sha256, sizeof(res.sha256), "%064d", 0);
	snprintf(res.path, sizeof(res.path), "blast_penis32_%lu.bin", (unsigned long)id);
	n = ws_fetch_res_encode(&res, buf, sizeof(buf));
	CHECK(send(f1, buf, n, 0) == (ssize_t)n, "send");
	ws_super_poll(s);
	CHECK(strstr(slurp(path), "\tpenis32.exe\tok\t11\t"), "ok row");
	CHECK(strstr(slurp(path), "\tfetched/blast_penis32_"), "row names the file in fetched/");
	CHECK(ws_super_stats(s)->protocol_errors == 2, "a good result is no error");

	/* a private host typed while the connection is public: fetched from the source */
	id = get_event(s, "x.exe", "169.254.169.254");
	CHECK(read_req(f1, &q) && q.eventid == id, "request");
	CHECK(ws_addr_v4_host(&q.server.addr) == 0x518472fe, "link-local host -> connection source");
	/* an ftp-get: protocol, port, credentials; 0.0.0.0 means the connection's source */
	{
		struct ws_cmd_event ev = {.action = WS_ACT_FTP_GET, .file = "ssms.exe", .file_len = 8,
					  .host = "0.0.0.0", .host_len = 7, .server_text = "0.0.0.0:8884",
					  .port = 8884, .user = "1", .pass = "1", .name_ok = true};

		ws_addr_parse("0.0.0.0", &ev.host_addr);
		ws_addr_parse("81.132.114.254", &ev.attacker.addr);
		ws_addr_parse("10.0.0.5", &ev.victim.addr);
		ev.ts.tv_sec = 1061301700;
		id = ws_super_command(s, &ev);
		CHECK(read_req(f1, &q) && q.eventid == id && q.proto == WS_FETCH_FTP &&
		      q.server.port == 8884 && ws_addr_v4_host(&q.server.addr) == 0x518472fe &&
		      !strcmp(q.user, "1") && !strcmp(q.pass, "1") && !strcmp(q.remote, "ssms.exe"),
		      "ftp-get request");
		/* a name with a control byte is logged (escaped), never fetched, even if
		 * the parser let it through */
		ev.file = "a\001b.exe";
		ev.file_len = 7;
		id = ws_super_command(s, &ev);
		snprintf(path, sizeof(path), "%s/blasterlog.txt", dir);
		CHECK(strstr(slurp(path), "\ta\\x01b.exe\t0\t10.0.0.5\t0\tftp-get\t0.0.0.0:8884\tinvalid-name\n"),
		      "invalid-name row: %s", slurp(path));
		CHECK(!read_req(f1, &q), "an invalid name is not sent to the fetcher");
		snprintf(path, sizeof(path), "%s/fetchlog.txt", dir);
	}
	ws_super_finish(s, NULL);
	CHECK(strstr(slurp(path), "\tx.exe\tunfinished\t"), "unanswered at the end: unfinished");
	ws_super_close(s);
	close(f1);
	close(f2);
	close(f3);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	return failures != 0;
}
