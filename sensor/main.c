/*
 * wormsnare: passive sensor for Blaster-style droppers.
 *
 * capture -> libnids reassembly -> line matcher -> TSV event log, and for
 * GETs a request to the fetcher: a separate process, unprivileged, that
 * talks TFTP so the capture loop never waits on the network.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "reassembly.h"
#include "sensor.h"
#include "tftp.h"

#define EVENT_HEADER \
	"EventID\tTime\tSourceIP\tFileName\tSourcePort\tDestIP\tDestPort\tAction\tServer\tFetch"
#define SEQ_FILE "wormsnare.seq"
#define DEDUP_SLOTS 4096
#define MAX_RESULT_KINDS 16

enum fetch_mode { FETCH_DEFAULT, FETCH_ON, FETCH_OFF };

struct options {
	const char *read_file, *iface, *config, *outdir;
	enum fetch_mode fetch;
	bool verbose;
};

struct result_count {
	char kind[32];
	uint64_t n;
};

struct fetcher {
	bool on;
	int sock;
	pid_t pid;
	uint64_t outstanding, limit, restarts, lost;
	struct ws_fetch_req *pending;	/* sent, no result yet: what a dying fetcher loses */
	size_t npending, cap;
	struct result_count results[MAX_RESULT_KINDS];
};

struct sensor {
	struct ws_config cfg;
	struct options opt;
	int dirfd, seqfd;
	struct ws_tsv events, fetchlog;
	struct ws_known *known;
	struct ws_carve_store *carve;
	uint64_t next_id;
	uint64_t events_by_action[4];
	uint64_t verdicts[WS_FETCH_QUEUE_FULL + 1];
	uint64_t log_errors;
	struct ws_dedup *dedup;
	struct ws_ratelimit *rate;
	struct fetcher f;
	struct ws_capture *cap;
	time_t last_sweep;
};

static volatile sig_atomic_t got_stop, got_hup, got_usr1;
static struct ws_capture *signal_capture;	/* for pcap_breakloop from the handler */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else {
		got_stop = got_stop ? 2 : 1;
		if (signal_capture)
			ws_capture_breakloop(signal_capture);
	}
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: wormsnare (-r FILE | -i IFACE) [-c CONFIG] [-o DIR] [--fetch | --no-fetch] [-v]\n"
		"       wormsnare --version | --help\n"
		"\n"
		"  -r FILE      replay a pcap or pcapng file (no fetching unless --fetch)\n"
		"  -i IFACE     capture live on IFACE (fetches unless --no-fetch or fetch.enabled: false)\n"
		"  -c CONFIG    YAML configuration (default: built-in, same as config/wormsnare.yaml)\n"
		"  -o DIR       output directory (overrides output.dir)\n"
		"  --fetch      fetch the files GET commands name (offline replay too)\n"
		"  --no-fetch   never fetch\n"
		"  -v           verbose: settings, filter and fetch results on stderr\n"
		"\n"
		"Writes DIR/blasterlog.txt (one TSV row per command seen) and, when fetching,\n"
		"DIR/fetchlog.txt and DIR/blast_<name>_<eventid>.bin.\n");
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_FETCH = 256, OPT_NO_FETCH, OPT_VERSION, OPT_HELP };
	static const struct option longopts[] = {
		{"fetch", no_argument, NULL, OPT_FETCH},
		{"no-fetch", no_argument, NULL, OPT_NO_FETCH},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "r:i:c:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->read_file = optarg; break;
		case 'i': o->iface = optarg; break;
		case 'c': o->config = optarg; break;
		case 'o': o->outdir = optarg; break;
		case 'v': o->verbose = true; break;
		case OPT_FETCH: o->fetch = FETCH_ON; break;
		case OPT_NO_FETCH: o->fetch = FETCH_OFF; break;
		case OPT_VERSION:
			printf("wormsnare %s\n", WS_VERSION);
			exit(0);
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "wormsnare: unexpected argument: %s\n", argv[optind]);
		exit(2);
	}
	if (!o->read_file == !o->iface) {
		fprintf(stderr, "wormsnare: give exactly one of -r FILE or -i IFACE\n");
		usage(stderr);
		exit(2);
	}
}

static void die(const char *msg)
{
	fprintf(stderr, "wormsnare: %s\n", msg);
	exit(1);
}

/* ------------------------------------------------------------- output dir */

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

/* EventIDs never repeat in one output dir: a sequence file, and the log as a fallback. */
static uint64_t load_next_id(struct sensor *s)
{
	char buf[32] = "";
	uint64_t from_seq = 0, from_log = ws_tsv_last_id(s->dirfd, s->cfg.output.event_log);
	ssize_t n = pread(s->seqfd, buf, sizeof(buf) - 1, 0);

	if (n > 0)
		from_seq = strtoull(buf, NULL, 10);
	return (from_seq > from_log ? from_seq : from_log) + 1;
}

static void store_id(struct sensor *s, uint64_t id)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%020" PRIu64 "\n", id);

	if (pwrite(s->seqfd, buf, (size_t)n, 0) != n)
		s->log_errors++;
}

/* ---------------------------------------------------------------- fetcher */

static void fetcher_child(struct sensor *s, int sock)
{
	char err[256];
	struct ws_fetcher_params fp = {
		.sock = sock,
		.dirfd = s->dirfd,
		.fetch_log = s->cfg.output.fetch_log,
		.fetch_log_fd = s->fetchlog.fd,
		.timeout_s = (unsigned)s->cfg.fetch.timeout,
		.retries = (unsigned)s->cfg.fetch.retries,
		.blksize = (unsigned)s->cfg.fetch.blksize,
		.concurrency = (unsigned)s->cfg.fetch.concurrency,
		.queue_size = (unsigned)s->cfg.fetch.queue_size,
		.max_size = (uint64_t)s->cfg.fetch.max_size,
		.known = s->known,
	};

	signal(SIGINT, SIG_IGN);	/* the sensor decides when we stop: EOF on sock */
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() == 0 &&
	    ws_drop_privs(s->cfg.fetch.user, s->cfg.output.dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: fetcher: %s\n", err);
		_exit(1);
	}
	_exit(ws_fetcher_run(&fp));
}

static void fetcher_start(struct sensor *s)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("fetcher: socketpair failed");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die("fetcher: fork failed");
	if (pid == 0) {
		close(sv[0]);
		if (s->events.fd >= 0)
			close(s->events.fd);
		if (s->seqfd >= 0)
			close(s->seqfd);
		fetcher_child(s, sv[1]);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
		die("fetcher: fcntl failed");
	s->f.sock = sv[0];
	s->f.pid = pid;
	s->f.outstanding = 0;
}

static void count_result(struct fetcher *f, const char *status)
{
	char kind[32];
	size_t k = strcspn(status, ":");

	if (k >= sizeof(kind))
		k = sizeof(kind) - 1;
	memcpy(kind, status, k);
	kind[k] = '\0';
	for (size_t i = 0; i < MAX_RESULT_KINDS; i++) {
		if (f->results[i].kind[0] == '\0')
			snprintf(f->results[i].kind, sizeof(f->results[i].kind), "%s", kind);
		if (strcmp(f->results[i].kind, kind) == 0) {
			f->results[i].n++;
			return;
		}
	}
	f->results[MAX_RESULT_KINDS - 1].n++;	/* table full: lump into the last kind */
}

static void pending_add(struct fetcher *f, const struct ws_fetch_req *r)
{
	if (f->npending == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		void *p = realloc(f->pending, cap * sizeof(*f->pending));

		if (!p)
			return;	/* only the row of a lost fetch is at stake */
		f->pending = p;
		f->cap = cap;
	}
	f->pending[f->npending++] = *r;
}

static void pending_done(struct fetcher *f, uint64_t eventid)
{
	for (size_t i = 0; i < f->npending; i++)
		if (f->pending[i].eventid == eventid) {
			f->pending[i] = f->pending[--f->npending];
			return;
		}
}

/* A fetch that will never report: the fetch log says so. */
static void log_lost_fetch(struct sensor *s, const struct ws_fetch_req *r, const char *status)
{
	char id[24], when[40], server[32], ip[INET_ADDRSTRLEN], file[sizeof(r->remote) * 4 + 4];
	struct in_addr a = {.s_addr = htonl(r->server)};
	struct timeval now;
	const char *row[WS_FETCHLOG_COLUMNS] = {id, when, server, file, status, "0", "", "", "",
						"fetch", ""};

	gettimeofday(&now, NULL);
	snprintf(id, sizeof(id), "%" PRIu64, r->eventid);
	ws_format_time(when, sizeof(when), &now);
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(server, sizeof(server), "%s:%u", ip, r->port);
	ws_tsv_escape(file, sizeof(file), r->remote, strlen(r->remote));
	if (ws_tsv_row(&s->fetchlog, row, WS_FETCHLOG_COLUMNS) < 0)
		s->log_errors++;
	count_result(&s->f, status);
}

static void pending_lost(struct sensor *s, const char *status)
{
	for (size_t i = 0; i < s->f.npending; i++)
		log_lost_fetch(s, &s->f.pending[i], status);
	s->f.npending = 0;
}

/* The fetcher died: its requests are lost; log them and start a new one. */
static void fetcher_lost(struct sensor *s)
{
	int status;

	close(s->f.sock);
	waitpid(s->f.pid, &status, 0);
	fprintf(stderr, "wormsnare: fetcher (pid %d) %s %d; %" PRIu64 " fetches lost, restarting\n",
		(int)s->f.pid, WIFSIGNALED(status) ? "killed by signal" : "exited with status",
		WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), s->f.outstanding);
	pending_lost(s, "fetcher-died");
	s->f.lost += s->f.outstanding;
	s->f.restarts++;
	fetcher_start(s);
}

/* Returns false at EOF (the fetcher is gone). */
static bool fetcher_drain(struct sensor *s)
{
	struct ws_fetch_res res;

	for (;;) {
		ssize_t n = recv(s->f.sock, &res, sizeof(res), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		if ((size_t)n != sizeof(res) || res.type != WS_FETCH_MSG_RES)
			continue;
		res.status[sizeof(res.status) - 1] = '\0';
		if (s->f.outstanding > 0)
			s->f.outstanding--;
		pending_done(&s->f, res.eventid);
		count_result(&s->f, res.status);
		if (s->opt.verbose) {
			char esc[WS_FETCH_STATUS_MAX * 4];

			ws_tsv_escape(esc, sizeof(esc), res.status, strlen(res.status));
			fprintf(stderr, "wormsnare: fetch %" PRIu64 ": %s (%" PRIu64 " bytes)\n",
				res.eventid, esc, res.bytes);
		}
	}
}

static void fetcher_poll(struct sensor *s)
{
	if (s->f.on && !fetcher_drain(s))
		fetcher_lost(s);
}

static enum ws_fetch_verdict fetcher_send(struct sensor *s, uint64_t id, uint32_t server,
					  const struct ws_cmd *c)
{
	struct ws_fetch_req req;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.type = WS_FETCH_MSG_REQ;
	req.eventid = id;
	req.server = s->cfg.fetch.redirect[0] ? s->cfg.fetch.redirect_addr : server;
	req.port = s->cfg.fetch.redirect[0] ? s->cfg.fetch.redirect_port : 69;
	if (strlen(c->file) >= sizeof(req.remote))
		return WS_FETCH_DENIED;
	memcpy(req.remote, c->file, strlen(c->file) + 1);
	ws_store_stem(req.stem, sizeof(req.stem), c->file);
	if (s->f.outstanding >= s->f.limit)
		return WS_FETCH_QUEUE_FULL;
	do
		n = send(s->f.sock, &req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(req))
		return WS_FETCH_QUEUE_FULL;
	s->f.outstanding++;
	pending_add(&s->f, &req);
	return WS_FETCH_QUEUED;
}

static enum ws_fetch_verdict decide_fetch(struct sensor *s, uint64_t id, const struct ws_cmd *c,
					  const struct ws_flow_key *key, time_t when)
{
	uint32_t server;

	if (!s->f.on)
		return WS_FETCH_DISABLED;
	if (ws_policy_pick_server(&s->cfg, c->host, ntohl(key->saddr), &server) < 0 ||
	    !ws_policy_allowed(&s->cfg, server))
		return WS_FETCH_DENIED;
	if (ws_dedup_check(s->dedup, server, c->file, when, s->cfg.fetch.duplicate_window))
		return WS_FETCH_DUPLICATE;
	if (!ws_ratelimit_take(s->rate, server, when, s->cfg.fetch.rate_per_server,
			       s->cfg.fetch.rate_global))
		return WS_FETCH_RATE_LIMITED;
	return fetcher_send(s, id, server, c);
}

/* ----------------------------------------------------------------- events */

static void print_event(const char *const *row)
{
	/* row: id time src file sport dst dport action server fetch */
	printf("event %s %s %s:%s -> %s:%s %s %s", row[0], row[1], row[2], row[4], row[5],
	       row[6], row[7], row[3]);
	if (row[8][0])
		printf(" server=%s fetch=%s", row[8], row[9]);
	putchar('\n');
	fflush(stdout);
}

static void log_command(struct sensor *s, const struct ws_flow_key *key, const struct ws_cmd *c,
			const struct timeval *ts)
{
	char id[24], when[40], src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], sport[8], dport[8];
	char file[WS_FIELD_MAX * 4 + 4], host[WS_FIELD_MAX * 4 + 4];
	enum ws_fetch_verdict v = WS_FETCH_NONE;
	uint64_t eid = s->next_id++;
	const char *row[10];

	store_id(s, eid);
	snprintf(id, sizeof(id), "%" PRIu64, eid);
	ws_format_time(when, sizeof(when), ts);
	inet_ntop(AF_INET, &key->saddr, src, sizeof(src));
	inet_ntop(AF_INET, &key->daddr, dst, sizeof(dst));
	snprintf(sport, sizeof(sport), "%u", key->sport);
	snprintf(dport, sizeof(dport), "%u", key->dport);
	ws_tsv_escape(file, sizeof(file), c->file, strlen(c->file));
	host[0] = '\0';
	if (c->action == WS_ACT_GET) {
		ws_tsv_escape(host, sizeof(host), c->host, strlen(c->host));
		v = decide_fetch(s, eid, c, key, ts->tv_sec);
		if (s->carve)
			ws_carve_store_note_get(s->carve, eid, key->daddr, key->saddr, c->host,
						c->file, ts);
	}
	row[0] = id; row[1] = when; row[2] = src; row[3] = file; row[4] = sport;
	row[5] = dst; row[6] = dport; row[7] = ws_action_name(c->action); row[8] = host;
	row[9] = ws_fetch_verdict_name(v);
	if (ws_tsv_row(&s->events, row, 10) < 0) {
		s->log_errors++;
		fprintf(stderr, "wormsnare: %s: event %s not logged: %s\n", s->cfg.output.event_log,
			id, strerror(errno));
	}
	s->events_by_action[c->action]++;
	s->verdicts[v]++;
	print_event(row);
}

static void on_line(void *arg, const struct ws_flow_key *key, void *flow_user, const char *line,
		    size_t len, const struct timeval *ts)
{
	struct sensor *s = arg;
	struct ws_match m;

	if (ws_match_line(line, len, flow_user, &m) == 0)
		return;
	for (size_t i = 0; i < m.ncmds; i++)
		log_command(s, key, &m.cmds[i], ts);
}

static void on_udp(void *arg, const struct ws_flow_key *key, const uint8_t *payload, size_t len,
		   const struct timeval *ts)
{
	struct sensor *s = arg;

	ws_carve_store_datagram(s->carve, key, payload, len, ts);
}

static void on_ip(void *arg, const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	struct sensor *s = arg;

	if (ts->tv_sec != s->last_sweep) {
		ws_reasm_sweep(ts);
		if (s->carve)
			ws_carve_store_sweep(s->carve, ts);
		s->last_sweep = ts->tv_sec;
	}
	ws_reasm_feed(ts, ip, caplen);
}

/* ------------------------------------------------------------------ stats */

static void print_stats(struct sensor *s, const char *when)
{
	struct ws_capture_stats cs;
	const struct ws_reasm_stats *rs = ws_reasm_stats();

	ws_capture_stats(s->cap, &cs);
	fprintf(stderr, "wormsnare: %s: packets %" PRIu64 ", bytes %" PRIu64, when, cs.packets,
		cs.bytes);
	if (ws_capture_is_live(s->cap))
		fprintf(stderr, ", kernel received %" PRIu64 ", kernel drops %" PRIu64
			", interface drops %" PRIu64, cs.kernel_recv, cs.kernel_drop, cs.iface_drop);
	fprintf(stderr, "\nwormsnare: streams %" PRIu64 " (picked up %" PRIu64 ", active %zu), lines %"
		PRIu64 ", events %" PRIu64 " (get %" PRIu64 ", start %" PRIu64 ", exec %" PRIu64 ")\n",
		rs->streams, rs->pickups, ws_reasm_active_streams(), rs->lines,
		s->events_by_action[WS_ACT_GET] + s->events_by_action[WS_ACT_START] +
		s->events_by_action[WS_ACT_EXEC], s->events_by_action[WS_ACT_GET],
		s->events_by_action[WS_ACT_START], s->events_by_action[WS_ACT_EXEC]);
	fprintf(stderr, "wormsnare: fetch requests: queued %" PRIu64 ", disabled %" PRIu64
		", denied %" PRIu64 ", duplicate %" PRIu64 ", rate-limited %" PRIu64
		", queue-full %" PRIu64 "; results:",
		s->verdicts[WS_FETCH_QUEUED], s->verdicts[WS_FETCH_DISABLED],
		s->verdicts[WS_FETCH_DENIED], s->verdicts[WS_FETCH_DUPLICATE],
		s->verdicts[WS_FETCH_RATE_LIMITED], s->verdicts[WS_FETCH_QUEUE_FULL]);
	for (size_t i = 0; i < MAX_RESULT_KINDS && s->f.results[i].kind[0]; i++)
		fprintf(stderr, " %s %" PRIu64, s->f.results[i].kind, s->f.results[i].n);
	if (!s->f.results[0].kind[0])
		fprintf(stderr, " none");
	if (s->carve) {
		const struct ws_carve_store_stats *c = ws_carve_store_stats(s->carve);
		const struct ws_carve_stats *t = ws_carve_store_tracker_stats(s->carve);

		fprintf(stderr, "\nwormsnare: wire tftp: transfers %" PRIu64 ", complete %" PRIu64
			", stored %" PRIu64 " (for events %" PRIu64 ", already stored %" PRIu64
			"), known %" PRIu64 ", partial kept %" PRIu64 ", failed %" PRIu64
			", malformed datagrams %" PRIu64 ", limit hits %" PRIu64,
			t->transfers, t->complete, c->stored, c->correlated, c->already_stored,
			c->known, c->partial_kept, c->failed, t->malformed,
			c->limit_hits + t->evicted + t->too_large);
	}
	fprintf(stderr, "\nwormsnare: warnings: libnids ip %" PRIu64 ", tcp %" PRIu64 ", other %" PRIu64
		", truncated packets %" PRIu64 ", non-IPv4 frames %" PRIu64 ", overlong lines %" PRIu64
		", partial lines dropped %" PRIu64 ", evictions %" PRIu64 ", idle timeouts %" PRIu64
		", out of memory %" PRIu64 ", log errors %" PRIu64 ", fetcher restarts %" PRIu64 "\n",
		rs->nids_warn[WS_NW_IP], rs->nids_warn[WS_NW_TCP],
		rs->nids_warn[WS_NW_UDP] + rs->nids_warn[WS_NW_SCAN] + rs->nids_warn[WS_NW_OTHER],
		cs.truncated, cs.non_ip, rs->overlong, rs->partial_dropped, rs->evictions,
		rs->idle_expired, rs->no_mem, s->log_errors, s->f.restarts);
	{
		char line[1024];

		ws_reasm_stats_text(line, sizeof(line));
		fprintf(stderr, "wormsnare: %s\n", line);
	}
}

/* ------------------------------------------------------------------ setup */

static void load_config(struct sensor *s)
{
	char err[1024];

	ws_config_defaults(&s->cfg);
	if (s->opt.config && ws_config_load(s->opt.config, &s->cfg, err, sizeof(err)) < 0)
		die(err);
	if (s->opt.outdir) {
		if (strlen(s->opt.outdir) >= sizeof(s->cfg.output.dir))
			die("-o: directory name too long");
		snprintf(s->cfg.output.dir, sizeof(s->cfg.output.dir), "%s", s->opt.outdir);
	}
	if (s->opt.fetch == FETCH_ON)
		s->f.on = true;
	else if (s->opt.fetch == FETCH_OFF)
		s->f.on = false;
	else
		s->f.on = s->opt.iface && s->cfg.fetch.enabled;
	s->f.limit = (uint64_t)s->cfg.fetch.queue_size + (uint64_t)s->cfg.fetch.concurrency;
}

static void open_outputs(struct sensor *s)
{
	char err[1024];

	s->dirfd = open_outdir(s->cfg.output.dir, err, sizeof(err));
	if (s->dirfd < 0)
		die(err);
	if (ws_give_to_user(s->cfg.fetch.user, s->dirfd, err, sizeof(err)) < 0)
		die(err);
	s->events.fd = -1;
	s->fetchlog.fd = -1;
	s->seqfd = -1;
	if (ws_known_load(s->cfg.carve.known_hashes, &s->known, err, sizeof(err)) < 0)
		die(err);
	/* opened (with its header) before the fetcher exists, which appends to it too */
	if ((s->f.on || s->cfg.carve.enabled) &&
	    ws_tsv_open(&s->fetchlog, s->dirfd, s->cfg.output.fetch_log, WS_FETCHLOG_HEADER, err,
			sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: %s: %s\n", s->cfg.output.dir, err);
		exit(1);
	}
	if (s->fetchlog.fd >= 0 &&
	    ws_give_to_user(s->cfg.fetch.user, s->fetchlog.fd, err, sizeof(err)) < 0)
		die(err);
	if (s->f.on)
		fetcher_start(s);
	if (ws_tsv_open(&s->events, s->dirfd, s->cfg.output.event_log, EVENT_HEADER, err,
			sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: %s: %s\n", s->cfg.output.dir, err);
		exit(1);
	}
	s->seqfd = openat(s->dirfd, SEQ_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (s->seqfd < 0) {
		fprintf(stderr, "wormsnare: %s/%s: open: %s\n", s->cfg.output.dir, SEQ_FILE,
			strerror(errno));
		exit(1);
	}
	if (ws_give_to_user(s->cfg.fetch.user, s->events.fd, err, sizeof(err)) < 0 ||
	    ws_give_to_user(s->cfg.fetch.user, s->seqfd, err, sizeof(err)) < 0)
		die(err);
	s->next_id = load_next_id(s);
	s->dedup = ws_dedup_new(DEDUP_SLOTS);
	s->rate = ws_ratelimit_new(DEDUP_SLOTS);
	if (!s->dedup || !s->rate)
		die("out of memory");
	if (s->cfg.carve.enabled) {
		s->carve = ws_carve_store_new(&s->cfg, s->dirfd, &s->fetchlog, s->known, err,
					      sizeof(err));
		if (!s->carve)
			die(err);
	}
}

static void open_capture(struct sensor *s)
{
	char err[1024];
	struct ws_reasm_params rp = {
		.ports = s->cfg.ports,
		.nports = s->cfg.nports,
		.max_streams = s->cfg.reassembly.max_streams,
		.max_line = s->cfg.reassembly.max_line,
		.idle_timeout = s->cfg.reassembly.idle_timeout,
		.flow_user_size = sizeof(struct ws_match_ctx),
		.on_line = on_line,
		.on_udp = s->cfg.carve.enabled ? on_udp : NULL,
		.target = s->cfg.reassembly.target,
		.checksums = s->cfg.reassembly.checksums,
		.screen_flows = s->cfg.reassembly.screen_flows,
		.arg = s,
	};

	if (s->opt.read_file)
		s->cap = ws_capture_open_file(s->opt.read_file, err, sizeof(err));
	else
		s->cap = ws_capture_open_live(s->opt.iface, &s->cfg, err, sizeof(err));
	if (!s->cap)
		die(err);
	if (ws_capture_set_filter(s->cap, &s->cfg, s->cfg.carve.enabled, err, sizeof(err)) < 0)
		die(err);
	if (ws_reasm_init(&rp, err, sizeof(err)) < 0)
		die(err);
}

static void install_signals(struct sensor *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal_capture = s->cap;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void drop_root(struct sensor *s)
{
	char err[512];

	if (ws_drop_privs(s->cfg.fetch.user, s->cfg.output.dir, err, sizeof(err)) < 0)
		die(err);
}

/* ------------------------------------------------------------------- run */

static void handle_flags(struct sensor *s)
{
	char err[512];

	if (got_hup) {
		got_hup = 0;
		if (ws_tsv_reopen(&s->events, err, sizeof(err)) < 0)
			fprintf(stderr, "wormsnare: reopen: %s\n", err);
		if (s->fetchlog.fd >= 0 && ws_tsv_reopen(&s->fetchlog, err, sizeof(err)) < 0)
			fprintf(stderr, "wormsnare: reopen: %s\n", err);
		if (s->f.on)
			kill(s->f.pid, SIGHUP);
	}
	if (got_usr1) {
		got_usr1 = 0;
		print_stats(s, "running");
	}
}

/* Live and idle: time still passes for streams and transfers. */
static void sweep_idle(struct sensor *s)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	ws_reasm_sweep(&now);
	if (s->carve)
		ws_carve_store_sweep(s->carve, &now);
}

static int capture_loop(struct sensor *s)
{
	char err[1024];

	while (!got_stop) {
		int n = ws_capture_dispatch(s->cap, on_ip, s, err, sizeof(err));

		handle_flags(s);
		fetcher_poll(s);
		if (n == 0)
			sweep_idle(s);
		if (n == -1 || n == -3)
			break;
		if (n == -2) {
			fprintf(stderr, "wormsnare: %s\n", err);
			return 1;
		}
	}
	return 0;
}

/* Close our end and collect results until the fetcher has finished its queue. */
static void fetcher_finish(struct sensor *s)
{
	struct pollfd pfd;
	int status;

	if (!s->f.on)
		return;
	shutdown(s->f.sock, SHUT_WR);
	if (got_stop && !s->opt.read_file)
		kill(s->f.pid, SIGTERM);	/* live and told to stop: do not wait for transfers */
	pfd.fd = s->f.sock;
	pfd.events = POLLIN;
	while (s->f.outstanding > 0) {
		int r = poll(&pfd, 1, 1000);

		handle_flags(s);
		if (got_stop == 2)
			kill(s->f.pid, SIGTERM);	/* a second ^C during a replay's wait */
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && !fetcher_drain(s))
			break;
	}
	close(s->f.sock);
	waitpid(s->f.pid, &status, 0);
	pending_lost(s, "unfinished");
	free(s->f.pending);
}

int main(int argc, char **argv)
{
	static struct sensor s;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv, &s.opt);
	load_config(&s);
	open_outputs(&s);
	open_capture(&s);
	install_signals(&s);
	drop_root(&s);
	if (s.opt.verbose)
		fprintf(stderr, "wormsnare: %s %s, output %s, fetch %s\n",
			s.opt.read_file ? "replaying" : "capturing on",
			s.opt.read_file ? s.opt.read_file : s.opt.iface, s.cfg.output.dir,
			s.f.on ? "on" : "off");
	rc = capture_loop(&s);
	ws_reasm_finish();
	ws_carve_store_finish(s.carve);
	fetcher_finish(&s);
	print_stats(&s, got_stop ? "stopped" : "done");
	ws_carve_store_free(s.carve);
	ws_known_free(s.known);
	ws_tsv_close(&s.events);
	ws_tsv_close(&s.fetchlog);
	ws_capture_close(s.cap);
	ws_dedup_free(s.dedup);
	ws_ratelimit_free(s.rate);
	close(s.seqfd);
	close(s.dirfd);
	return rc;
}
