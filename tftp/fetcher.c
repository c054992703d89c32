/*
 * The fetcher process: takes requests from the sensor over a SOCK_SEQPACKET
 * socketpair, runs up to `concurrency` TFTP downloads at once with poll(),
 * stores each file under a temp name and links it under its final name only
 * when complete, logs one fetch-log row per request and answers the sensor.
 *
 * It runs unprivileged (and chrooted into the output directory when started
 * as root); it trusts nothing in a request it has not checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config.h"
#include "sensor.h"
#include "tftp.h"

#define MAX_CONCURRENCY 256

struct job {
	struct ws_fetch_req req;
	struct ws_tftp_xfer *x;
	struct ws_hash_sink out;
	char tmp[WS_FETCH_STEM_MAX + 48];
};

struct fetcher {
	const struct ws_fetcher_params *p;
	struct ws_tsv log;
	bool log_ok;
	struct ws_fetch_req *queue;	/* ring of waiting requests */
	size_t qhead, qlen;
	struct job *jobs[MAX_CONCURRENCY];
	size_t njobs;
	bool eof;
};

static volatile sig_atomic_t reopen_logs;	/* set by SIGHUP */
static volatile sig_atomic_t stop_now;		/* set by SIGTERM: the sensor is leaving */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_logs = 1;
	else
		stop_now = 1;
}

static bool stem_ok(const char *s)
{
	if (!s[0] || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool request_ok(const struct ws_fetch_req *r)
{
	return r->type == WS_FETCH_MSG_REQ && memchr(r->remote, 0, sizeof(r->remote)) &&
	       r->remote[0] && memchr(r->stem, 0, sizeof(r->stem)) && stem_ok(r->stem) &&
	       r->port != 0;
}

static void reply(struct fetcher *f, uint64_t id, bool ok, uint64_t bytes, const char *status)
{
	struct ws_fetch_res res;
	ssize_t n;

	memset(&res, 0, sizeof(res));
	res.type = WS_FETCH_MSG_RES;
	res.eventid = id;
	res.ok = ok;
	res.bytes = bytes;
	snprintf(res.status, sizeof(res.status), "%s", status);
	do
		n = send(f->p->sock, &res, sizeof(res), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
}

static void log_row(struct fetcher *f, const struct ws_fetch_req *r, const char *status,
		    uint64_t bytes, const char *md5, const char *sha, const char *path)
{
	char id[24], when[40], server[32], ip[INET_ADDRSTRLEN], nbytes[24];
	char file[sizeof(r->remote) * 4 + 4], st[WS_FETCH_STATUS_MAX * 4], kn[600] = "";
	const char *known = md5[0] ? ws_known_lookup(f->p->known, md5, sha) : NULL;
	struct timeval now;
	struct in_addr a = {.s_addr = htonl(r->server)};
	const char *row[WS_FETCHLOG_COLUMNS];

	gettimeofday(&now, NULL);
	snprintf(id, sizeof(id), "%" PRIu64, r->eventid);
	ws_format_time(when, sizeof(when), &now);
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(server, sizeof(server), "%s:%u", ip, r->port);
	snprintf(nbytes, sizeof(nbytes), "%" PRIu64, bytes);
	ws_tsv_escape(file, sizeof(file), r->remote, strlen(r->remote));
	ws_tsv_escape(st, sizeof(st), status, strlen(status));
	if (known)
		ws_tsv_escape(kn, sizeof(kn), known, strlen(known));
	row[0] = id; row[1] = when; row[2] = server; row[3] = file; row[4] = st;
	row[5] = nbytes; row[6] = md5; row[7] = sha; row[8] = path; row[9] = "fetch";
	row[10] = kn;
	if (!f->log_ok || ws_tsv_row(&f->log, row, WS_FETCHLOG_COLUMNS) < 0)
		fprintf(stderr, "wormsnare: fetcher: %s: row for event %s lost: %s\n",
			f->p->fetch_log, id, f->log_ok ? strerror(errno) : "log not open");
}

/* Temp file out, final name in; the final name never exists half-written. */
static void job_end(struct fetcher *f, struct job *j, const char *status, bool ok)
{
	char final[WS_FETCH_STEM_MAX + 48] = "", md5[33] = "", sha[65] = "";
	uint64_t bytes = j->x ? ws_tftp_xfer_bytes(j->x) : 0;

	if (ok) {
		ws_hash_sink_hex(&j->out, md5, sha);
		snprintf(final, sizeof(final), "blast_%s_%" PRIu64 ".bin", j->req.stem,
			 j->req.eventid);
		/* link fails if the wire carver stored this event's file first: keep that copy */
		if (linkat(f->p->dirfd, j->tmp, f->p->dirfd, final, 0) < 0 && errno != EEXIST) {
			status = "store-error";
			ok = false;
			final[0] = md5[0] = sha[0] = '\0';
		}
	}
	if (j->out.fd >= 0)
		close(j->out.fd);
	unlinkat(f->p->dirfd, j->tmp, 0);
	log_row(f, &j->req, status, bytes, md5, sha, final);
	reply(f, j->req.eventid, ok, bytes, status);
	ws_tftp_xfer_free(j->x);
	free(j);
}

static void job_start(struct fetcher *f, const struct ws_fetch_req *r)
{
	struct job *j = calloc(1, sizeof(*j));
	char err[160];
	struct ws_tftp_xfer_params xp = {
		.server = {.sin_family = AF_INET, .sin_port = htons(r->port),
			   .sin_addr.s_addr = htonl(r->server)},
		.remote = r->remote,
		.blksize = f->p->blksize,
		.timeout_s = f->p->timeout_s,
		.retries = f->p->retries,
		.max_size = f->p->max_size,
		.sink = ws_hash_sink_write,
	};

	if (!j) {
		log_row(f, r, "out-of-memory", 0, "", "", "");
		reply(f, r->eventid, false, 0, "out-of-memory");
		return;
	}
	j->req = *r;
	snprintf(j->tmp, sizeof(j->tmp), ".tmp-blast_%s_%" PRIu64 ".bin", r->stem, r->eventid);
	unlinkat(f->p->dirfd, j->tmp, 0);	/* a leftover of a killed fetcher */
	ws_hash_sink_init(&j->out, openat(f->p->dirfd, j->tmp,
					  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640));
	if (j->out.fd < 0) {
		snprintf(err, sizeof(err), "store-error:%s", strerror(errno));
		job_end(f, j, err, false);
		return;
	}
	xp.sink_arg = &j->out;
	j->x = ws_tftp_xfer_start(&xp, ws_now_ms(), err, sizeof(err));
	if (!j->x) {
		char st[200];

		snprintf(st, sizeof(st), "socket-error:%s", err);
		job_end(f, j, st, false);
		return;
	}
	f->jobs[f->njobs++] = j;
}

static void start_queued(struct fetcher *f)
{
	while (f->qlen > 0 && f->njobs < f->p->concurrency) {
		struct ws_fetch_req r = f->queue[f->qhead];

		f->qhead = (f->qhead + 1) % f->p->queue_size;
		f->qlen--;
		job_start(f, &r);
	}
}

/* One message from the sensor; false when there is nothing more to read now. */
static bool take_request(struct fetcher *f)
{
	struct ws_fetch_req r;
	ssize_t n = recv(f->p->sock, &r, sizeof(r), MSG_DONTWAIT);

	if (n == 0) {
		f->eof = true;
		return false;
	}
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			f->eof = true;
		return false;
	}
	if ((size_t)n != sizeof(r) || !request_ok(&r)) {
		fprintf(stderr, "wormsnare: fetcher: malformed request ignored\n");
		reply(f, (size_t)n == sizeof(r) ? r.eventid : 0, false, 0, "bad-request");
		return true;
	}
	if (f->qlen == f->p->queue_size) {
		log_row(f, &r, "queue-full", 0, "", "", "");
		reply(f, r.eventid, false, 0, "queue-full");
		return true;
	}
	f->queue[(f->qhead + f->qlen++) % f->p->queue_size] = r;
	return true;
}

/* Drive every running transfer (reads are non-blocking); end the finished ones. */
static void step_jobs(struct fetcher *f, int64_t now)
{
	size_t i = 0;

	while (i < f->njobs) {
		struct job *j = f->jobs[i];
		enum ws_tftp_xfer_state s = ws_tftp_xfer_input(j->x, now);

		if (s == WS_XFER_RUNNING)
			s = ws_tftp_xfer_timer(j->x, now);
		if (s == WS_XFER_RUNNING) {
			i++;
			continue;
		}
		job_end(f, j, ws_tftp_xfer_status(j->x), s == WS_XFER_DONE);
		f->jobs[i] = f->jobs[--f->njobs];
	}
}

/* Told to stop now: every transfer ends as interrupted, logged, temp files gone. */
static void abandon_all(struct fetcher *f)
{
	while (f->njobs > 0)
		job_end(f, f->jobs[--f->njobs], "interrupted", false);
	while (f->qlen > 0) {
		struct ws_fetch_req *r = &f->queue[f->qhead];

		log_row(f, r, "interrupted", 0, "", "", "");
		reply(f, r->eventid, false, 0, "interrupted");
		f->qhead = (f->qhead + 1) % f->p->queue_size;
		f->qlen--;
	}
}

int ws_fetcher_run(const struct ws_fetcher_params *p)
{
	struct fetcher f = {.p = p};
	struct pollfd pfd[MAX_CONCURRENCY + 1];
	struct sigaction sa;
	char err[512];

	if (p->concurrency < 1 || p->concurrency > MAX_CONCURRENCY || p->queue_size < 1) {
		fprintf(stderr, "wormsnare: fetcher: bad concurrency or queue size\n");
		return 1;
	}
	f.queue = calloc(p->queue_size, sizeof(*f.queue));
	if (!f.queue) {
		fprintf(stderr, "wormsnare: fetcher: out of memory\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (p->fetch_log_fd >= 0) {
		ws_tsv_adopt(&f.log, p->dirfd, p->fetch_log, WS_FETCHLOG_HEADER, p->fetch_log_fd);
		f.log_ok = true;
	} else {
		f.log_ok = ws_tsv_open(&f.log, p->dirfd, p->fetch_log, WS_FETCHLOG_HEADER, err,
				       sizeof(err)) == 0;
	}
	if (!f.log_ok)
		fprintf(stderr, "wormsnare: fetcher: %s\n", err);
	while (!f.eof || f.qlen > 0 || f.njobs > 0) {
		int64_t now = ws_now_ms(), wait = 1000;
		nfds_t n = 0;

		if (stop_now) {
			abandon_all(&f);
			break;
		}
		if (reopen_logs) {
			reopen_logs = 0;
			if (f.log_ok && ws_tsv_reopen(&f.log, err, sizeof(err)) < 0)
				fprintf(stderr, "wormsnare: fetcher: %s\n", err);
		}
		pfd[n].fd = f.eof ? -1 : p->sock;
		pfd[n++].events = POLLIN;
		for (size_t i = 0; i < f.njobs; i++) {
			int64_t left = ws_tftp_xfer_deadline(f.jobs[i]->x) - now;

			pfd[n].fd = ws_tftp_xfer_fd(f.jobs[i]->x);
			pfd[n++].events = POLLIN;
			if (left < wait)
				wait = left < 0 ? 0 : left;
		}
		if (poll(pfd, n, (int)wait) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 64 && !f.eof && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)); k++)
			if (!take_request(&f))
				break;
		step_jobs(&f, ws_now_ms());
		start_queued(&f);
	}
	if (f.log_ok)
		ws_tsv_close(&f.log);
	free(f.queue);
	return 0;
}
