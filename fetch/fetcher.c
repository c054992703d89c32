/*
 * The fetcher process: takes requests from the sensor over a SOCK_SEQPACKET
 * socketpair, runs up to `concurrency` downloads at once with poll(), stores
 * each file under a temp name in the samples area and links it under its
 * final name only when complete, and answers the sensor with the result.
 *
 * It writes no log and keeps no sequence state: the sensor is the only
 * writer of those. It trusts nothing in a request it has not checked.
 */
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

#include "fetch.h"
#include "ftp.h"
#include "tftp.h"

#define MAX_CONCURRENCY 256
#define FDS_PER_JOB 4		/* an FTP transfer: control, data, listening socket */

/* One download: a TFTP transfer or an FTP one (libcurl), same life cycle. */
struct job {
	struct ws_fetch_req req;
	struct ws_tftp_xfer *x;		/* TFTP */
	struct ws_ftp_fetch *f;		/* FTP */
	struct ws_hash_sink out;
	size_t pfd_first, pfd_count;	/* its entries in this round's poll set */
	char tmp[WS_FETCH_STEM_MAX + 48];
};

struct fetcher {
	const struct ws_fetcher_params *p;
	struct ws_fetch_req *queue;	/* ring of waiting requests */
	size_t qhead, qlen;
	struct job *jobs[MAX_CONCURRENCY];
	size_t njobs;
	bool eof;
};

static volatile sig_atomic_t stop_now;		/* set by SIGTERM: the sensor is leaving */

static void on_signal(int sig)
{
	(void)sig;
	stop_now = 1;
}

/* One result per request; a result that cannot be sent ends us (the sensor is gone). */
static void reply(struct fetcher *f, const struct ws_fetch_res *res)
{
	uint8_t buf[WS_FETCH_MSG_MAX];
	size_t len = ws_fetch_res_encode(res, buf, sizeof(buf));
	ssize_t n;

	if (len == 0)
		return;
	do
		n = send(f->p->sock, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		f->eof = true;
}

static void reply_status(struct fetcher *f, uint64_t id, const char *status)
{
	struct ws_fetch_res res;

	memset(&res, 0, sizeof(res));
	res.eventid = id;
	snprintf(res.status, sizeof(res.status), "%s", status);
	reply(f, &res);
}

/* Temp file out, final name in; the final name never exists half-written. */
static void job_end(struct fetcher *f, struct job *j, const char *status, bool ok)
{
	struct ws_fetch_res res;

	memset(&res, 0, sizeof(res));
	res.eventid = j->req.eventid;
	res.bytes = j->x ? ws_tftp_xfer_bytes(j->x) : j->f ? ws_ftp_fetch_bytes(j->f) : 0;
	if (ok) {
		ws_hash_sink_hex(&j->out, res.md5, res.sha256);
		snprintf(res.path, sizeof(res.path), "blast_%s_%" PRIu64 ".bin", j->req.stem,
			 j->req.eventid);
		if (linkat(f->p->dirfd, j->tmp, f->p->dirfd, res.path, 0) < 0) {
			status = errno == EEXIST ? "store-error:exists" : "store-error";
			ok = false;
			res.path[0] = res.md5[0] = res.sha256[0] = '\0';
		}
	}
	res.ok = ok;
	snprintf(res.status, sizeof(res.status), "%s", status);
	if (j->out.fd >= 0)
		close(j->out.fd);
	unlinkat(f->p->dirfd, j->tmp, 0);
	reply(f, &res);
	ws_tftp_xfer_free(j->x);
	if (j->f)
		ws_ftp_fetch_free(j->f);
	free(j);
}

static bool start_tftp(struct fetcher *f, struct job *j, char *err, size_t errlen)
{
	const struct ws_fetch_req *r = &j->req;
	struct ws_tftp_xfer_params xp = {
		.server = {.sin_family = AF_INET, .sin_port = htons(r->server.port)},
		.remote = r->remote,
		.blksize = f->p->blksize,
		.timeout_s = f->p->timeout_s,
		.retries = f->p->retries,
		.max_size = f->p->max_size,
		.sink = ws_hash_sink_write,
		.sink_arg = &j->out,
	};

	memcpy(&xp.server.sin_addr, r->server.addr.a, 4);
	j->x = ws_tftp_xfer_start(&xp, ws_now_ms(), err, errlen);
	return j->x != NULL;
}

static bool start_ftp(struct fetcher *f, struct job *j, char *err, size_t errlen)
{
	const struct ws_fetch_req *r = &j->req;
	struct ws_ftp_fetch_params fp = {
		.server = r->server,
		.remote = r->remote,
		.user = r->user,
		.pass = r->pass,
		.connect_timeout_s = f->p->ftp_connect_timeout_s,
		.timeout_s = f->p->ftp_timeout_s,
		.max_size = f->p->max_size,
		.active_fallback = f->p->ftp_active_fallback,
		.sink = ws_hash_sink_write,
		.sink_arg = &j->out,
	};

	j->f = ws_ftp_fetch_start(&fp, ws_now_ms(), err, errlen);
	return j->f != NULL;
}

static void job_start(struct fetcher *f, const struct ws_fetch_req *r)
{
	struct job *j;
	char err[160], st[200];

	if (!ws_addr_is_v4(&r->server.addr)) {
		reply_status(f, r->eventid, "unsupported-address");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		reply_status(f, r->eventid, "out-of-memory");
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
	if (!(r->proto == WS_FETCH_FTP ? start_ftp(f, j, err, sizeof(err)) :
	      start_tftp(f, j, err, sizeof(err)))) {
		snprintf(st, sizeof(st), "start-error:%s", err);
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

/*
 * Asked to prove the sandbox: open a packet socket, which the seccomp filter
 * forbids. Reaching the line after it means there is no filter.
 */
static void probe_sandbox(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0);

	fprintf(stderr, "wormsnare: fetcher: sandbox probe: packet socket %s\n",
		fd >= 0 ? "OPENED (no seccomp filter)" : "refused");
	if (fd >= 0)
		close(fd);
}

/*
 * One message from the sensor; false when there is nothing more to read now.
 * A malformed message ends us: the sensor is broken or compromised, and the
 * monitor starts a fresh fetcher.
 */
static bool take_request(struct fetcher *f)
{
	uint8_t buf[WS_FETCH_MSG_MAX];
	struct ws_fetch_req r;
	ssize_t n = recv(f->p->sock, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			f->eof = true;
		return false;
	}
	if (n == 0) {		/* SEQPACKET: EOF (a zero-length message is never sent) */
		f->eof = true;
		return false;
	}
	if ((size_t)n <= sizeof(buf) && ws_fetch_msg_type(buf, (size_t)n) == WS_FMSG_PROBE) {
		probe_sandbox();
		return true;
	}
	if ((size_t)n <= sizeof(buf) && ws_fetch_msg_type(buf, (size_t)n) == WS_FMSG_DISCARD) {
		char path[WS_FETCH_PATH_MAX];

		/* only a plain name in our own directory: nothing else can be named */
		if (ws_fetch_discard_decode(buf, (size_t)n, path) == 0)
			unlinkat(f->p->dirfd, path, 0);
		return true;
	}
	if ((size_t)n > sizeof(buf) || ws_fetch_req_decode(buf, (size_t)n, &r) < 0) {
		fprintf(stderr, "wormsnare: fetcher: malformed request (%zd bytes): stopping\n", n);
		f->eof = true;
		stop_now = 1;
		return false;
	}
	if (f->qlen == f->p->queue_size) {
		reply_status(f, r.eventid, "queue-full");
		return true;
	}
	f->queue[(f->qhead + f->qlen++) % f->p->queue_size] = r;
	return true;
}

/* Drive every running transfer (reads are non-blocking); end the finished ones. */
static void step_jobs(struct fetcher *f, const struct pollfd *pfd, int64_t now)
{
	size_t i = 0;

	while (i < f->njobs) {
		struct job *j = f->jobs[i];
		enum ws_tftp_xfer_state s;

		if (j->f) {
			s = ws_ftp_fetch_step(j->f, pfd + j->pfd_first, j->pfd_count, now);
		} else {
			s = ws_tftp_xfer_input(j->x, now);
			if (s == WS_XFER_RUNNING)
				s = ws_tftp_xfer_timer(j->x, now);
		}
		if (s == WS_XFER_RUNNING) {
			i++;
			continue;
		}
		job_end(f, j, j->f ? ws_ftp_fetch_status(j->f) : ws_tftp_xfer_status(j->x),
			s == WS_XFER_DONE);
		f->jobs[i] = f->jobs[--f->njobs];
	}
}

/* Told to stop now: every transfer ends as interrupted, temp files gone. */
static void abandon_all(struct fetcher *f)
{
	while (f->njobs > 0)
		job_end(f, f->jobs[--f->njobs], "interrupted", false);
	while (f->qlen > 0) {
		reply_status(f, f->queue[f->qhead].eventid, "interrupted");
		f->qhead = (f->qhead + 1) % f->p->queue_size;
		f->qlen--;
	}
}

/* The poll set: the socket first, then one entry per job; returns the count. */
static nfds_t poll_set(struct fetcher *f, struct pollfd *pfd, int64_t now, int *wait)
{
	nfds_t n = 0;

	*wait = 1000;
	pfd[n].fd = f->eof ? -1 : f->p->sock;
	pfd[n++].events = POLLIN;
	for (size_t i = 0; i < f->njobs; i++) {
		struct job *j = f->jobs[i];
		int64_t left;

		j->pfd_first = n;
		if (j->f) {
			j->pfd_count = ws_ftp_fetch_fds(j->f, pfd + n, FDS_PER_JOB);
			left = ws_ftp_fetch_deadline(j->f) - now;
		} else {
			pfd[n].fd = ws_tftp_xfer_fd(j->x);
			pfd[n].events = POLLIN;
			j->pfd_count = 1;
			left = ws_tftp_xfer_deadline(j->x) - now;
		}
		n += j->pfd_count;
		if (left < *wait)
			*wait = left < 0 ? 0 : (int)left;
	}
	return n;
}

int ws_fetcher_run(const struct ws_fetcher_params *p)
{
	struct fetcher f = {.p = p};
	struct pollfd pfd[MAX_CONCURRENCY * FDS_PER_JOB + 1];
	struct sigaction sa;

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
	sigaction(SIGTERM, &sa, NULL);
	while (!f.eof || f.qlen > 0 || f.njobs > 0) {
		int wait;
		nfds_t n = poll_set(&f, pfd, ws_now_ms(), &wait);

		if (stop_now) {
			abandon_all(&f);
			break;
		}
		if (poll(pfd, n, wait) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 64 && !f.eof && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)); k++)
			if (!take_request(&f))
				break;
		step_jobs(&f, pfd, ws_now_ms());
		start_queued(&f);
	}
	free(f.queue);
	return 0;
}
