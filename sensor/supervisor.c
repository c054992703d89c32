/*
 * The supervisor: EventIDs, the fetch decision, the fetcher channel and
 * every writer. It is the only code that writes a log or the sequence file;
 * the worker hands it commands and file records, the fetcher hands it
 * results.
 *
 * The fetcher is asked for through the monitor (a fresh one each time, with
 * backoff) and reached over a SOCK_SEQPACKET socket that is never read in a
 * blocking way. A zero-length or malformed message from it is a protocol
 * error: counted, and that fetcher is replaced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "config.h"
#include "fetch.h"
#include "output.h"
#include "sensor.h"

#define SEQ_FILE "wormsnare.seq"
#define DEDUP_SLOTS 4096
#define MAX_WRITERS 4
#define ARRIVAL_PATIENCE_MS 15000	/* waiting at the end for a fetcher that never comes */
#define MIN_RESULT_PATIENCE_MS 5000

#define STORED_RING 256

/* A file stored for an event, to keep one copy when the wire and the fetcher agree. */
struct stored {
	uint64_t eventid;
	bool from_wire;
	char sha256[65];
	char path[WS_FETCH_PATH_MAX + 16];
};

struct pending {
	struct ws_fetch_req req;
	bool sent;
};

struct ws_super {
	struct ws_run *run;
	const struct ws_config *cfg;
	int ctl;			/* to the monitor */
	int dirfd, seqfd;
	struct ws_writer *events_w, *files_w, *extra_w[MAX_WRITERS];
	size_t nextra;
	struct ws_known *known;
	struct ws_dedup *dedup;
	struct ws_ratelimit *rate;
	struct ws_selfaddrs *self;
	uint64_t next_id;
	/* the fetcher */
	int fsock;			/* -1 while none */
	pid_t fpid;
	bool asked;			/* a fetcher was asked for and has not arrived */
	struct pending *pending;	/* requests without a result yet */
	size_t npending, cap, limit;
	struct stored stored[STORED_RING];
	unsigned nstored;
	struct ws_super_stats st;
};

/* -------------------------------------------------------------- writers */

static void write_command(struct ws_super *s, const struct ws_cmd_record *r)
{
	if (ws_write_command(s->events_w, r) < 0) {
		s->st.log_errors++;
		fprintf(stderr, "wormsnare: %s: event %" PRIu64 " not logged: %s\n",
			s->cfg->output.event_log, r->event_id, strerror(errno));
	}
	for (size_t i = 0; i < s->nextra; i++)
		if (ws_write_command(s->extra_w[i], r) < 0)
			s->st.log_errors++;
}

static void write_file(struct ws_super *s, const struct ws_file_record *r)
{
	if (!s->files_w || ws_write_file(s->files_w, r) < 0) {
		s->st.log_errors++;
		if (s->files_w)
			fprintf(stderr, "wormsnare: %s: file row not logged: %s\n",
				s->cfg->output.fetch_log, strerror(errno));
	}
	for (size_t i = 0; i < s->nextra; i++)
		if (ws_write_file(s->extra_w[i], r) < 0)
			s->st.log_errors++;
}

void ws_super_warning(struct ws_super *s, const struct ws_warn_record *r)
{
	for (size_t i = 0; i < s->nextra; i++)
		if (ws_write_warning(s->extra_w[i], r) < 0)
			s->st.log_errors++;
}

static void send_discard(struct ws_super *s, const char *fetched_path)
{
	uint8_t buf[WS_FETCH_MSG_MAX];
	const char *name = fetched_path + strlen("fetched/");
	size_t len = ws_fetch_discard_encode(name, buf, sizeof(buf));

	if (len && s->fsock >= 0)
		send(s->fsock, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * The wire and the fetcher may both deliver an event's file. Same bytes: one
 * copy stays (the first stored) and the second row names it. Different bytes
 * (a server may serve each client differently): both stay, both logged.
 */
static void keep_one_copy(struct ws_super *s, struct ws_file_record *r, bool from_wire,
			  char *path_buf, size_t cap)
{
	struct stored *e;

	if (!r->event_id || !r->sha256[0] || !r->path[0])
		return;
	for (unsigned i = 0; i < STORED_RING && i < s->nstored; i++) {
		e = &s->stored[i];
		if (e->eventid != r->event_id || e->from_wire == from_wire ||
		    strcmp(e->sha256, r->sha256) != 0)
			continue;
		if (from_wire)
			unlinkat(s->dirfd, r->path, 0);	/* ours; the fetched copy stays */
		else
			send_discard(s, r->path);
		snprintf(path_buf, cap, "%s", e->path);
		r->path = path_buf;
		s->st.same_copies++;
		return;
	}
	e = &s->stored[s->nstored++ % STORED_RING];
	e->eventid = r->event_id;
	e->from_wire = from_wire;
	snprintf(e->sha256, sizeof(e->sha256), "%s", r->sha256);
	snprintf(e->path, sizeof(e->path), "%s", r->path);
}

/* A file record from the wire or the fetcher: one copy of the same bytes, Known, written. */
void ws_super_file(struct ws_super *s, struct ws_file_record *r)
{
	const char *known = r->md5[0] ? ws_known_lookup(s->known, r->md5, r->sha256) : NULL;
	char path[WS_FETCH_PATH_MAX + 16];

	keep_one_copy(s, r, strcmp(r->source, "wire") == 0, path, sizeof(path));
	r->known = ws_bytes_str(known);
	s->st.known += known != NULL;
	write_file(s, r);
}

/* ------------------------------------------------------------ event ids */

/* EventIDs never repeat in one output dir: a sequence file, and the log as a fallback. */
static uint64_t load_next_id(struct ws_super *s)
{
	char buf[32] = "";
	uint64_t from_seq = 0, from_log = ws_tsv_last_id(s->dirfd, s->cfg->output.event_log);
	ssize_t n = pread(s->seqfd, buf, sizeof(buf) - 1, 0);

	if (n > 0)
		from_seq = strtoull(buf, NULL, 10);
	return (from_seq > from_log ? from_seq : from_log) + 1;
}

static void store_id(struct ws_super *s, uint64_t id)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%020" PRIu64 "\n", id);

	if (pwrite(s->seqfd, buf, (size_t)n, 0) != n)
		s->st.log_errors++;
}

/* -------------------------------------------------------------- fetcher */

static void ask_for_fetcher(struct ws_super *s)
{
	uint32_t msg = WS_CTL_SPAWN_FETCHER;

	if (s->asked || s->ctl < 0 || s->fsock >= 0)
		return;
	if (send(s->ctl, &msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(msg))
		s->asked = true;
}

static struct pending *pending_find(struct ws_super *s, uint64_t id)
{
	for (size_t i = 0; i < s->npending; i++)
		if (s->pending[i].req.eventid == id)
			return &s->pending[i];
	return NULL;
}

static void pending_drop(struct ws_super *s, struct pending *p)
{
	*p = s->pending[--s->npending];
}

static bool send_req(struct ws_super *s, struct pending *p)
{
	uint8_t buf[WS_FETCH_MSG_MAX];
	size_t len = ws_fetch_req_encode(&p->req, buf, sizeof(buf));
	ssize_t n;

	if (len == 0 || s->fsock < 0)
		return false;
	do
		n = send(s->fsock, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	p->sent = n == (ssize_t)len;
	return p->sent;
}

static void count_result(struct ws_super *s, const char *status)
{
	char kind[32];
	size_t k = strcspn(status, ":");

	if (k >= sizeof(kind))
		k = sizeof(kind) - 1;
	memcpy(kind, status, k);
	kind[k] = '\0';
	for (size_t i = 0; i < WS_SUPER_RESULT_KINDS; i++) {
		if (s->st.results[i].kind[0] == '\0')
			snprintf(s->st.results[i].kind, sizeof(s->st.results[i].kind), "%s", kind);
		if (strcmp(s->st.results[i].kind, kind) == 0) {
			s->st.results[i].n++;
			return;
		}
	}
	s->st.results[WS_SUPER_RESULT_KINDS - 1].n++;
}

/* The fetch-log row of a request's outcome, whatever produced it. */
static void log_fetch_result(struct ws_super *s, const struct ws_fetch_req *q,
			     const struct ws_fetch_res *res)
{
	char server[WS_ADDR_STRLEN + 8], ip[WS_ADDR_STRLEN], path[WS_FETCH_PATH_MAX + 16] = "";
	struct ws_file_record r = {
		.event_id = q->eventid,
		.filename = ws_bytes_str(q->remote),
		.status = ws_bytes_str(res->status),
		.bytes = res->bytes,
		.md5 = res->md5,
		.sha256 = res->sha256,
		.source = "fetch",
		.have_flow = false,
	};

	gettimeofday(&r.ts, NULL);
	snprintf(server, sizeof(server), "%s:%u", ws_addr_str(&q->server.addr, ip, sizeof(ip)),
		 q->server.port);
	if (res->path[0])
		snprintf(path, sizeof(path), "fetched/%s", res->path);
	r.server = ws_bytes_str(server);
	r.path = path;
	ws_super_file(s, &r);
	count_result(s, res->status);
	if (s->run->opt.verbose) {
		char esc[WS_FETCH_STATUS_MAX * 4];

		ws_tsv_escape(esc, sizeof(esc), res->status, strlen(res->status));
		fprintf(stderr, "wormsnare: fetch %" PRIu64 ": %s (%" PRIu64 " bytes)\n", q->eventid,
			esc, res->bytes);
	}
}

static void log_lost(struct ws_super *s, const struct ws_fetch_req *q, const char *status)
{
	struct ws_fetch_res res;

	memset(&res, 0, sizeof(res));
	res.eventid = q->eventid;
	snprintf(res.status, sizeof(res.status), "%s", status);
	log_fetch_result(s, q, &res);
}

/*
 * The fetcher is gone or misbehaved: what it was given is lost (logged);
 * what it was never given waits for the next one.
 */
static void fetcher_lost(struct ws_super *s, const char *why)
{
	size_t i = 0;

	if (s->fsock < 0)
		return;
	close(s->fsock);
	s->fsock = -1;
	s->st.fetcher_restarts++;
	fprintf(stderr, "wormsnare: fetcher (pid %d) %s; asking for a new one\n", (int)s->fpid, why);
	while (i < s->npending) {
		if (s->pending[i].sent) {
			log_lost(s, &s->pending[i].req, "fetcher-died");
			pending_drop(s, &s->pending[i]);
		} else {
			i++;
		}
	}
	ask_for_fetcher(s);
}

static void take_result(struct ws_super *s, const uint8_t *buf, size_t len)
{
	struct ws_fetch_res res;
	struct pending *p;

	if (ws_fetch_res_decode(buf, len, &res) < 0 || !(p = pending_find(s, res.eventid)) ||
	    !p->sent) {
		s->st.protocol_errors++;
		fetcher_lost(s, "sent a malformed or unexpected message");
		return;
	}
	log_fetch_result(s, &p->req, &res);
	pending_drop(s, p);
}

/* Every result waiting on the socket; never blocks. */
static void drain_fetcher(struct ws_super *s)
{
	uint8_t buf[WS_FETCH_MSG_MAX];

	while (s->fsock >= 0) {
		ssize_t n = recv(s->fsock, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			char why[96];

			snprintf(why, sizeof(why), "socket error: %s", strerror(errno));
			fetcher_lost(s, why);
			return;
		}
		if (n == 0) {
			/* SOCK_SEQPACKET: EOF and an empty message look alike; both end it */
			fetcher_lost(s, "closed its socket or sent an empty message");
			return;
		}
		if ((size_t)n > sizeof(buf)) {
			s->st.protocol_errors++;
			fetcher_lost(s, "sent an oversized message");
			return;
		}
		take_result(s, buf, (size_t)n);
	}
}

/* A new fetcher from the monitor (its socket travels as SCM_RIGHTS). */
static void take_ctl(struct ws_super *s)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	uint32_t msg[2];
	struct iovec iov = {msg, sizeof(msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n = recvmsg(s->ctl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int fd = -1;

	if (n <= 0)
		return;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (n != (ssize_t)sizeof(msg) || msg[0] != WS_CTL_FETCHER || fd < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (s->fsock >= 0)
		close(s->fsock);
	s->fsock = fd;
	s->fpid = (pid_t)msg[1];
	s->asked = false;
	for (size_t i = 0; i < s->npending; i++)
		if (!s->pending[i].sent)
			send_req(s, &s->pending[i]);
}

size_t ws_super_pollfds(const struct ws_super *s, struct pollfd *pfd, size_t cap)
{
	size_t n = 0;

	if (s->fsock >= 0 && n < cap)
		pfd[n++] = (struct pollfd){s->fsock, POLLIN, 0};
	if (s->ctl >= 0 && n < cap)
		pfd[n++] = (struct pollfd){s->ctl, POLLIN, 0};
	return n;
}

void ws_super_poll(struct ws_super *s)
{
	if (s->ctl >= 0)
		take_ctl(s);
	drain_fetcher(s);
	for (size_t i = 0; i < s->nextra; i++)
		ws_writer_flush(s->extra_w[i]);
}

/* Ask the fetcher to prove its sandbox (SIGUSR2): it tries a forbidden call. */
void ws_super_probe_fetcher(struct ws_super *s)
{
	uint8_t msg[8] = {0x57, 0x53, 0x53, 0x50, 0, 0, 0, 0};	/* WS_FMSG_PROBE, no payload */

	if (s->fsock >= 0)
		send(s->fsock, msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static enum ws_fetch_verdict queue_fetch(struct ws_super *s, const struct ws_fetch_req *q)
{
	struct pending *p;

	if (s->npending >= s->limit)
		return WS_FETCH_QUEUE_FULL;
	if (s->npending == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *n = realloc(s->pending, cap * sizeof(*s->pending));

		if (!n)
			return WS_FETCH_QUEUE_FULL;
		s->pending = n;
		s->cap = cap;
	}
	p = &s->pending[s->npending++];
	p->req = *q;
	p->sent = false;
	if (s->fsock >= 0 && !send_req(s, p)) {
		s->npending--;
		return WS_FETCH_QUEUE_FULL;
	}
	ask_for_fetcher(s);
	return WS_FETCH_QUEUED;
}

/* ---------------------------------------------------------------- policy */

/* Where the request goes: the lab server when a redirect is set for that protocol. */
static void aim(const struct ws_config *c, bool ftp, const struct ws_addr *server, uint16_t port,
		struct ws_endpoint *to)
{
	to->addr = *server;
	to->port = port;
	if (!ftp && c->fetch.redirect[0]) {
		to->addr = ws_addr_v4h(c->fetch.redirect_to.addr);
		to->port = c->fetch.redirect_to.port;
	}
	if (ftp && c->fetch.ftp_redirect[0]) {
		to->addr = ws_addr_v4h(c->fetch.ftp_redirect_to.addr);
		to->port = c->fetch.ftp_redirect_to.port;
	}
}

/* A name the fetcher may ask a server for: no NUL, no control byte, fits the request. */
static bool name_usable(const char *name, size_t len)
{
	if (len == 0 || len >= WS_FETCH_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static enum ws_fetch_verdict decide_fetch(struct ws_super *s, uint64_t id,
					  const struct ws_cmd_event *ev)
{
	bool ftp = ev->action == WS_ACT_FTP_GET;
	struct ws_fetch_req q;
	struct ws_addr server;

	if (!ev->name_ok || !name_usable(ev->file, ev->file_len))
		return WS_FETCH_INVALID_NAME;
	if (!s->run->fetch_on)
		return WS_FETCH_DISABLED;
	if (ws_policy_pick_server(s->cfg, &ev->host_addr, &ev->attacker.addr, &server) < 0 ||
	    !ws_policy_allowed(s->cfg, &server) || ws_addr_eq(&server, &ev->victim.addr) ||
	    ws_selfaddrs_has(s->self, &server))
		return WS_FETCH_DENIED;
	if (ws_dedup_check(s->dedup, &server, ev->file, ev->ts.tv_sec,
			   s->cfg->fetch.duplicate_window))
		return WS_FETCH_DUPLICATE;
	if (!ws_ratelimit_take(s->rate, &server, ev->ts.tv_sec, s->cfg->fetch.rate_per_server,
			       s->cfg->fetch.rate_global))
		return WS_FETCH_RATE_LIMITED;
	memset(&q, 0, sizeof(q));
	q.eventid = id;
	q.proto = ftp ? WS_FETCH_FTP : WS_FETCH_TFTP;
	aim(s->cfg, ftp, &server, ev->port ? ev->port : (ftp ? 21 : 69), &q.server);
	memcpy(q.remote, ev->file, ev->file_len);
	if (ftp) {
		snprintf(q.user, sizeof(q.user), "%s", ev->user ? ev->user : "");
		snprintf(q.pass, sizeof(q.pass), "%s", ev->pass ? ev->pass : "");
	}
	ws_store_stem(q.stem, sizeof(q.stem), q.remote);
	return queue_fetch(s, &q);
}

/* ----------------------------------------------------------------- events */

const char *ws_action_name(enum ws_action a)
{
	switch (a) {
	case WS_ACT_GET: return "get";
	case WS_ACT_FTP_GET: return "ftp-get";
	case WS_ACT_START: return "start";
	case WS_ACT_EXEC: return "exec";
	}
	return "unknown";
}

static void print_event(const struct ws_cmd_record *r)
{
	char when[40], src[WS_ADDR_STRLEN], dst[WS_ADDR_STRLEN];
	char file[WS_FIELD_MAX * 4 + 4], host[WS_FIELD_MAX * 4 + 4];

	ws_format_time(when, sizeof(when), &r->ts);
	ws_tsv_escape(file, sizeof(file), r->filename.p, r->filename.len);
	ws_tsv_escape(host, sizeof(host), r->server.p, r->server.len);
	printf("event %" PRIu64 " %s %s:%u -> %s:%u %s %s", r->event_id, when,
	       ws_addr_str(&r->src.addr, src, sizeof(src)), r->src.port,
	       ws_addr_str(&r->dst.addr, dst, sizeof(dst)), r->dst.port, r->action, file);
	if (r->fetch[0])
		printf(" server=%s fetch=%s", host, r->fetch);
	putchar('\n');
	fflush(stdout);
}

uint64_t ws_super_command(struct ws_super *s, const struct ws_cmd_event *ev)
{
	enum ws_fetch_verdict v = WS_FETCH_NONE;
	uint64_t id = s->next_id++;
	struct ws_cmd_record r = {
		.event_id = id,
		.ts = ev->ts,
		.src = ev->attacker,
		.dst = ev->victim,
		.proto = IPPROTO_TCP,
		.action = ws_action_name(ev->action),
		.filename = {ev->file, ev->file_len},
		.server = ws_bytes_str(ev->server_text),
	};

	store_id(s, id);
	if (ev->action == WS_ACT_GET || ev->action == WS_ACT_FTP_GET)
		v = decide_fetch(s, id, ev);
	r.fetch = ws_fetch_verdict_name(v);
	write_command(s, &r);
	s->st.events_by_action[ev->action]++;
	s->st.verdicts[v]++;
	print_event(&r);
	return id;
}

static uint64_t sink_command(void *arg, const struct ws_cmd_event *ev)
{
	return ws_super_command(arg, ev);
}

static void sink_file(void *arg, struct ws_file_record *r)
{
	ws_super_file(arg, r);
}

static void sink_warning(void *arg, const struct ws_warn_record *r)
{
	ws_super_warning(arg, r);
}

struct ws_sink ws_super_sink(struct ws_super *s)
{
	return (struct ws_sink){sink_command, sink_file, sink_warning, s};
}

/* ------------------------------------------------------------ life cycle */

static int open_outdir(const char *dir, char *err, size_t errlen)
{
	int fd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: mkdir: %s", dir, strerror(errno));
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "%s: open: %s", dir, strerror(errno));
	return fd;
}

/* fetched/: the fetcher's samples area, owned by it; the sensor cannot write there. */
static int make_samples_dir(struct ws_super *s, char *err, size_t errlen)
{
	int fd;

	if (mkdirat(s->dirfd, "fetched", 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s/fetched: mkdir: %s", s->cfg->output.dir, strerror(errno));
		return -1;
	}
	fd = openat(s->dirfd, "fetched", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s/fetched: open: %s", s->cfg->output.dir, strerror(errno));
		return -1;
	}
	if (ws_give_to(&s->run->fetch_ids, fd, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int open_writers(struct ws_super *s, char *err, size_t errlen)
{
	const struct ws_config *c = s->cfg;

	s->events_w = ws_tsv_events_open(s->dirfd, c->output.event_log, err, errlen);
	if (!s->events_w)
		return -1;
	if (s->run->fetch_on || c->carve.enabled) {
		s->files_w = ws_tsv_files_open(s->dirfd, c->output.fetch_log, err, errlen);
		if (!s->files_w)
			return -1;
	}
	if (c->output.json) {
		s->extra_w[s->nextra] = ws_json_open(s->dirfd, c->output.json_file, err, errlen);
		if (!s->extra_w[s->nextra++])
			return -1;
	}
	if (c->output.syslog.enabled) {
		struct ws_syslog_params sp = {
			.target = c->output.syslog.target,
			.facility = c->output.syslog.facility,
			.app_name = "wormsnare",
		};

		s->extra_w[s->nextra] = ws_syslog_open(&sp, err, errlen);
		if (!s->extra_w[s->nextra++])
			return -1;
	}
	return 0;
}

/* Hand what the sensor keeps writing to its user (it rotates and reopens them). */
static int give_outputs(struct ws_super *s, char *err, size_t errlen)
{
	static const char *const mine[] = {SEQ_FILE};
	const char *logs[] = {s->cfg->output.event_log, s->cfg->output.fetch_log,
			      s->cfg->output.json_file};

	if (ws_give_to(&s->run->sensor_ids, s->dirfd, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		const char *name = i < 3 ? logs[i] : mine[0];
		int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0)
			continue;
		if (ws_give_to(&s->run->sensor_ids, fd, err, errlen) < 0) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

struct ws_super *ws_super_open(struct ws_run *run, int ctl, char *err, size_t errlen)
{
	struct ws_super *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->run = run;
	s->cfg = &run->cfg;
	s->ctl = ctl;
	s->fsock = -1;
	s->seqfd = -1;
	s->limit = (size_t)run->cfg.fetch.queue_size + (size_t)run->cfg.fetch.concurrency;
	if (ws_known_load(run->cfg.carve.known_hashes, &s->known, err, errlen) < 0)
		goto fail;
	s->dirfd = open_outdir(run->cfg.output.dir, err, errlen);
	if (s->dirfd < 0)
		goto fail;
	if (run->fetch_on && make_samples_dir(s, err, errlen) < 0)
		goto fail;
	if (open_writers(s, err, errlen) < 0)
		goto fail;
	s->seqfd = openat(s->dirfd, SEQ_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (s->seqfd < 0) {
		snprintf(err, errlen, "%s/%s: open: %s", run->cfg.output.dir, SEQ_FILE,
			 strerror(errno));
		goto fail;
	}
	if (give_outputs(s, err, errlen) < 0)
		goto fail;
	s->next_id = load_next_id(s);
	s->dedup = ws_dedup_new(DEDUP_SLOTS);
	s->rate = ws_ratelimit_new(DEDUP_SLOTS);
	s->self = ws_selfaddrs_load();
	if (!s->dedup || !s->rate || !s->self) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (run->fetch_on)
		ask_for_fetcher(s);
	return s;
fail:
	ws_super_close(s);
	return NULL;
}

int ws_super_dirfd(const struct ws_super *s)
{
	return s->dirfd;
}

const struct ws_super_stats *ws_super_stats(const struct ws_super *s)
{
	return &s->st;
}

void ws_super_reopen(struct ws_super *s)
{
	struct ws_writer *all[MAX_WRITERS + 2] = {s->events_w, s->files_w};
	size_t n = 2;

	for (size_t i = 0; i < s->nextra; i++)
		all[n++] = s->extra_w[i];
	for (size_t i = 0; i < n; i++)
		if (all[i] && ws_writer_reopen(all[i]) < 0)
			fprintf(stderr, "wormsnare: reopen %s: %s\n", all[i]->name, strerror(errno));
}

/*
 * End of the run: no more requests; collect results until the fetcher has
 * answered everything it was given, or stop waiting when told to (stop set
 * by a second signal) or when no fetcher arrives. What stays unanswered is
 * logged as such.
 */
void ws_super_finish(struct ws_super *s, volatile sig_atomic_t *stop)
{
	/* a fetcher that neither answers nor dies is not waited for forever */
	int64_t patience = (int64_t)s->cfg->fetch.timeout * (s->cfg->fetch.retries + 2) * 1000;
	int64_t waited = 0, silent = 0;

	if (patience < MIN_RESULT_PATIENCE_MS)
		patience = MIN_RESULT_PATIENCE_MS;
	while (s->npending > 0 && !(stop && *stop)) {
		struct pollfd pfd[2] = {{s->fsock, POLLIN, 0}, {s->ctl, POLLIN, 0}};
		size_t before = s->npending;
		int r = poll(pfd, 2, 200);

		if (r < 0 && errno != EINTR)
			break;
		ws_super_poll(s);
		waited = s->fsock >= 0 ? 0 : waited + 200;
		silent = s->npending < before ? 0 : silent + 200;
		if (waited >= ARRIVAL_PATIENCE_MS || silent >= patience)
			break;
	}
	for (size_t i = 0; i < s->npending; i++)
		log_lost(s, &s->pending[i].req, s->pending[i].sent ? "unfinished" :
			 "fetcher-unavailable");
	s->npending = 0;
	if (s->fsock >= 0) {
		close(s->fsock);
		s->fsock = -1;
	}
}

void ws_super_close(struct ws_super *s)
{
	if (!s)
		return;
	ws_writer_close(s->events_w);
	ws_writer_close(s->files_w);
	for (size_t i = 0; i < s->nextra; i++)
		ws_writer_close(s->extra_w[i]);
	if (s->fsock >= 0)
		close(s->fsock);
	if (s->seqfd >= 0)
		close(s->seqfd);
	if (s->dirfd > 0)
		close(s->dirfd);
	ws_known_free(s->known);
	ws_dedup_free(s->dedup);
	ws_ratelimit_free(s->rate);
	ws_selfaddrs_free(s->self);
	free(s->pending);
	free(s);
}
