/*
 * ws-sensor, the capturing process: capture -> reassembly -> command
 * matching -> the supervisor (EventIDs, fetch decisions, every log), and
 * TFTP carving on the side.
 *
 * Set-up order matters: the capture is opened (and its filter compiled)
 * before anything is created on disk, so a run that fails on its input
 * leaves nothing behind; then the outputs; then privileges go (chroot into
 * the output directory, the sensor user, no capabilities) and the seccomp
 * list closes the rest.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "ftp.h"
#include "output.h"
#include "reassembly.h"
#include "sensor.h"
#include "tftp.h"

/*
 * One capturing process: alone, with the supervisor in it (sup), or as one
 * of a pool's workers (sup NULL), talking to the supervisor over relay.
 */
struct worker {
	struct ws_run *run;
	struct ws_super *sup;
	int relay;		/* a pool worker's socket; -1 alone */
	char who[32];		/* "worker 1/2: " in a pool, "" alone */
	struct ws_capture *cap;
	struct ws_carve_store *carve;
	struct ws_analysis an;
	time_t last_sweep;
	uint64_t warnings, relay_lost, notes;
};

static struct ws_signals sig;
static struct ws_capture *signal_capture;	/* for pcap_breakloop from the handler */

static void on_signal(int signo)
{
	if (signo == SIGHUP)
		sig.hup = 1;
	else if (signo == SIGUSR1)
		sig.usr1 = 1;
	else if (signo == SIGUSR2)
		sig.usr2 = 1;
	else {
		sig.second_stop = sig.stop;
		sig.stop = 1;
		if (signal_capture)
			ws_capture_breakloop(signal_capture);
	}
}

struct ws_signals *ws_signals_install(struct ws_capture *cap)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal_capture = cap;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return &sig;
}

/* ------------------------------------------------------------- analysis */

static void on_data(void *arg, struct ws_flow_info *flow, enum ws_side from, const uint8_t *data,
		    size_t len, const struct timeval *ts)
{
	struct worker *w = arg;

	ws_analysis_data(&w->an, flow, from, data, len, ts);
}

static void on_gap(void *arg, struct ws_flow_info *flow, enum ws_side from,
		   const struct timeval *ts)
{
	struct worker *w = arg;

	ws_analysis_gap(&w->an, flow, from, ts);
}

/*
 * The reassembler closes without a time: its clock's is the one (not the
 * newest packet read, which may be ahead while it samples checksums).
 */
static void on_close(void *arg, struct ws_flow_info *flow, enum ws_close_reason why)
{
	struct worker *w = arg;

	ws_analysis_close(&w->an, flow, why, ws_reasm_clock());
}

static enum ws_screen_verdict on_screen(void *arg, const struct ws_flow_info *flow,
					enum ws_side from, const uint8_t *bytes, size_t len)
{
	struct worker *w = arg;

	return ws_analysis_screen(&w->an, flow, from, bytes, len);
}

/* An overlap the victim resolved one way and someone sent the other way: a warning record. */
static void on_warn(void *arg, const char *kind, const char *detail,
		    const struct ws_flow_info *flow, const struct timeval *ts)
{
	struct worker *w = arg;
	struct ws_warn_record r = {
		.ts = *ts,
		.kind = kind,
		.have_flow = flow != NULL,
		.proto = IPPROTO_TCP,
		.detail = ws_bytes_str(detail),
	};

	if (flow) {
		r.src = flow->client;
		r.dst = flow->server;
	}
	w->warnings++;
	w->an.sink.warning(w->an.sink.arg, &r);
}

static void expect_data(void *arg, const struct ws_endpoint *connector,
			const struct ws_endpoint *listener, int ttl_s)
{
	(void)arg;
	ws_reasm_expect(connector->addr.family ? &connector->addr : NULL, listener, ttl_s);
}

static void on_udp(void *arg, const struct ws_flow_key *key, const uint8_t *payload, size_t len,
		   const struct timeval *ts)
{
	struct worker *w = arg;
	struct ws_endpoint src = {ws_addr_v4(key->saddr), key->sport};
	struct ws_endpoint dst = {ws_addr_v4(key->daddr), key->dport};

	ws_carve_store_datagram(w->carve, &src, &dst, payload, len, ts);
}

static void on_ip(void *arg, const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	struct worker *w = arg;

	if (ts->tv_sec != w->last_sweep) {
		ws_reasm_sweep(ts);
		if (w->carve)
			ws_carve_store_sweep(w->carve, ts);
		w->last_sweep = ts->tv_sec;
	}
	ws_reasm_feed(ts, ip, caplen);
}

static void on_file(void *arg, struct ws_file_record *r)
{
	struct worker *w = arg;

	w->an.sink.file(w->an.sink.arg, r);
}

/* ------------------------------------------------------------------ sinks */

/* The supervisor is gone: nothing this worker finds could be logged any more. */
static void relay_broken(struct worker *w, const char *what)
{
	fprintf(stderr, "wormsnare: %s%s the supervisor: %s\n", w->who, what,
		errno ? strerror(errno) : "connection closed");
	exit(1);
}

static void relay_send(struct worker *w, const uint8_t *buf, size_t len, bool may_lose)
{
	ssize_t n;

	if (len == 0) {		/* every field is bounded far below the limit: a bug if it happens */
		fprintf(stderr, "wormsnare: %srecord too large for the relay%s\n", w->who,
			may_lose ? ", dropped" : "");
		if (!may_lose)
			exit(1);	/* a command would wait for its EventID forever */
		w->relay_lost++;
		return;
	}
	do
		n = send(w->relay, buf, len, MSG_NOSIGNAL | (may_lose ? MSG_DONTWAIT : 0));
	while (n < 0 && errno == EINTR);
	if (n < 0 && may_lose && (errno == EAGAIN || errno == EWOULDBLOCK))
		w->relay_lost++;	/* a warning flood must not stall capture */
	else if (n != (ssize_t)len)
		relay_broken(w, "sending to");
}

/* One message from the supervisor: a note is applied; an EventID returned. */
static uint64_t relay_take(struct worker *w, const uint8_t *buf, size_t len)
{
	struct ws_relay_note note;
	uint64_t id;

	if (ws_relay_id_decode(buf, len, &id) == 0)
		return id;
	if (ws_relay_note_decode(buf, len, &note) == 0) {
		w->notes++;
		ws_analysis_note(&w->an, &note);
		return 0;
	}
	errno = EPROTO;
	relay_broken(w, "a malformed message from");
	return 0;
}

static uint64_t relay_command(void *arg, const struct ws_cmd_event *ev)
{
	struct worker *w = arg;
	static uint8_t buf[WS_RELAY_MSG_MAX];
	uint64_t id = 0;

	relay_send(w, buf, ws_relay_cmd_encode(ev, buf, sizeof(buf)), false);
	while (id == 0) {	/* notes for other workers' events may come first */
		ssize_t n = recv(w->relay, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			relay_broken(w, "waiting for an EventID from");
		id = relay_take(w, buf, (size_t)n);
	}
	return id;
}

static void relay_file(void *arg, struct ws_file_record *r)
{
	struct worker *w = arg;
	static uint8_t buf[WS_RELAY_MSG_MAX];

	relay_send(w, buf, ws_relay_file_encode(r, buf, sizeof(buf)), false);
}

static void relay_warning(void *arg, const struct ws_warn_record *r)
{
	struct worker *w = arg;
	static uint8_t buf[WS_RELAY_MSG_MAX];

	relay_send(w, buf, ws_relay_warn_encode(r, buf, sizeof(buf)), true);
}

/* Notes the supervisor sent since the last look; never blocks. */
static void relay_poll(struct worker *w)
{
	static uint8_t buf[WS_RELAY_MSG_MAX];

	for (;;) {
		ssize_t n = recv(w->relay, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			relay_broken(w, "reading from");
		relay_take(w, buf, (size_t)n);
	}
}

/* ------------------------------------------------------------------ stats */

static void print_fetch_stats(const struct ws_super_stats *ss)
{
	fprintf(stderr, "wormsnare: fetch requests: queued %" PRIu64 ", disabled %" PRIu64
		", denied %" PRIu64 ", duplicate %" PRIu64 ", rate-limited %" PRIu64
		", queue-full %" PRIu64 ", invalid-name %" PRIu64 "; results:",
		ss->verdicts[WS_FETCH_QUEUED], ss->verdicts[WS_FETCH_DISABLED],
		ss->verdicts[WS_FETCH_DENIED], ss->verdicts[WS_FETCH_DUPLICATE],
		ss->verdicts[WS_FETCH_RATE_LIMITED], ss->verdicts[WS_FETCH_QUEUE_FULL],
		ss->verdicts[WS_FETCH_INVALID_NAME]);
	for (size_t i = 0; i < WS_SUPER_RESULT_KINDS && ss->results[i].kind[0]; i++)
		fprintf(stderr, " %s %" PRIu64, ss->results[i].kind, ss->results[i].n);
	if (!ss->results[0].kind[0])
		fprintf(stderr, " none");
	fputc('\n', stderr);
}

static void print_wire_stats(struct worker *w)
{
	const struct ws_carve_store_stats *c = ws_carve_store_stats(w->carve);
	const struct ws_carve_stats *t = ws_carve_store_tracker_stats(w->carve);
	const struct ws_ftp_track_stats *f = ws_carve_store_ftp_stats(w->carve);

	fprintf(stderr, "wormsnare: %swire: tftp transfers %" PRIu64 " (complete %" PRIu64
		", malformed datagrams %" PRIu64 "), ftp sessions %" PRIu64 ", transfers %" PRIu64
		" (complete %" PRIu64 "); files stored %" PRIu64 " (for events %" PRIu64
		"), partial kept %" PRIu64 ", failed %" PRIu64 ", limit hits %" PRIu64 "\n", w->who,
		t->transfers, t->complete, t->malformed, f->sessions, f->transfers, f->complete,
		c->stored, c->correlated, c->partial_kept, c->failed,
		c->limit_hits + t->evicted + t->too_large + f->evicted + f->too_large);
}

/* "events N (get N, ftp-get N, start N, exec N)" */
static const char *events_text(const struct ws_super_stats *ss, char *buf, size_t cap)
{
	const uint64_t *ea = ss->events_by_action;

	snprintf(buf, cap, "events %" PRIu64 " (get %" PRIu64 ", ftp-get %" PRIu64 ", start %"
		 PRIu64 ", exec %" PRIu64 ")",
		 ea[WS_ACT_GET] + ea[WS_ACT_FTP_GET] + ea[WS_ACT_START] + ea[WS_ACT_EXEC],
		 ea[WS_ACT_GET], ea[WS_ACT_FTP_GET], ea[WS_ACT_START], ea[WS_ACT_EXEC]);
	return buf;
}

/* The supervisor's own counters, for the end of the warnings line. */
static void print_super_warnings(const struct ws_super_stats *ss, const char *lead)
{
	fprintf(stderr, "%slog errors %" PRIu64 ", fetcher restarts %" PRIu64
		", fetcher protocol errors %" PRIu64 ", known samples %" PRIu64 ", same copies %"
		PRIu64, lead, ss->log_errors, ss->fetcher_restarts, ss->protocol_errors, ss->known,
		ss->same_copies);
}

static void print_stats(struct worker *w, const char *when)
{
	struct ws_capture_stats cs;
	const struct ws_reasm_stats *rs = ws_reasm_stats();
	char line[1024];

	ws_capture_stats(w->cap, &cs);
	fprintf(stderr, "wormsnare: %s%s: packets %" PRIu64 ", bytes %" PRIu64, w->who, when,
		cs.packets, cs.bytes);
	if (ws_capture_is_live(w->cap))
		fprintf(stderr, ", kernel received %" PRIu64 ", kernel drops %" PRIu64
			", interface drops %" PRIu64, cs.kernel_recv, cs.kernel_drop, cs.iface_drop);
	fputc('\n', stderr);
	if (w->sup) {
		fprintf(stderr, "wormsnare: streams %" PRIu64 " (picked up %" PRIu64 ", active %zu"
			", shells %" PRIu64 "), %s\n", rs->streams, rs->pickups,
			ws_reasm_active_streams(), rs->protected_streams,
			events_text(ws_super_stats(w->sup), line, sizeof(line)));
		print_fetch_stats(ws_super_stats(w->sup));
	} else
		fprintf(stderr, "wormsnare: %sstreams %" PRIu64 " (picked up %" PRIu64 ", active %zu"
			", shells %" PRIu64 "), events %" PRIu64 ", notes from other workers %" PRIu64
			"\n", w->who, rs->streams, rs->pickups, ws_reasm_active_streams(),
			rs->protected_streams, w->an.events, w->notes);
	if (w->carve)
		print_wire_stats(w);
	ws_reasm_stats_text(line, sizeof(line));
	fprintf(stderr, "wormsnare: %s%s\n", w->who, line);
	fprintf(stderr, "wormsnare: %swarnings: malformed ip %" PRIu64 ", tcp %" PRIu64 ", other %"
		PRIu64 ", truncated packets %" PRIu64 ", non-IPv4 frames %" PRIu64
		", times out of range %" PRIu64 ", shell lines cut %" PRIu64
		", shell limits hit %" PRIu64 ", evictions %" PRIu64 ", idle timeouts %" PRIu64 ", overlap warnings %" PRIu64 ", out of memory %" PRIu64,
		w->who, rs->nids_warn[WS_NW_IP], rs->nids_warn[WS_NW_TCP],
		rs->nids_warn[WS_NW_UDP] + rs->nids_warn[WS_NW_SCAN] + rs->nids_warn[WS_NW_OTHER],
		cs.truncated, cs.non_ip, cs.time_bounded, w->an.shell.truncated, w->an.shell.over_budget,
		rs->evictions, rs->idle_expired, w->warnings, rs->no_mem + w->an.no_mem);
	if (w->sup)
		print_super_warnings(ws_super_stats(w->sup), ", ");
	else
		fprintf(stderr, ", warnings not relayed %" PRIu64, w->relay_lost);
	fputc('\n', stderr);
}

/* The supervisor of a pool: events and fetches of every worker. */
void ws_print_pool_stats(const struct ws_super_stats *ss, const char *when, unsigned nworkers)
{
	char line[256];

	fprintf(stderr, "wormsnare: %s: %u workers (their lines above), %s\n", when, nworkers,
		events_text(ss, line, sizeof(line)));
	print_fetch_stats(ss);
	fprintf(stderr, "wormsnare: supervisor: ");
	print_super_warnings(ss, "");
	fputc('\n', stderr);
}

/* ------------------------------------------------------------------ setup */

static int init_reassembly(struct worker *w, char *err, size_t errlen)
{
	const struct ws_config *cfg = &w->run->cfg;
	struct ws_reasm_params rp = {
		.ports = cfg->ports,
		.nports = cfg->nports,
		.max_streams = cfg->reassembly.max_streams,
		.idle_timeout = cfg->reassembly.idle_timeout,
		.on_udp = cfg->carve.enabled ? on_udp : NULL,
		.on_data = on_data,
		.on_gap = on_gap,
		.on_close = on_close,
		.screen = cfg->reassembly.screen ? on_screen : NULL,
		.on_warn = on_warn,
		.target = cfg->reassembly.target,
		.checksums = cfg->reassembly.checksums,
		.screen_flows = cfg->reassembly.screen_flows,
		.arg = w,
	};

	if (ws_reasm_init(&rp, err, errlen) < 0)
		return -1;
	/* not screening: FTP control connections are found by their port only */
	if (!cfg->reassembly.screen && cfg->carve.enabled)
		ws_reasm_follow_port(21);
	return 0;
}

static int open_capture(struct worker *w, char *err, size_t errlen)
{
	const struct ws_config *cfg = &w->run->cfg;

	if (w->run->opt.nread)
		w->cap = ws_capture_open_files(w->run->opt.read_files, w->run->opt.nread, err, errlen);
	else
		w->cap = ws_capture_open_live(w->run->opt.iface, cfg, err, errlen);
	if (!w->cap)
		return -1;
	if (ws_capture_set_filter(w->cap, cfg, cfg->carve.enabled, err, errlen) < 0)
		return -1;
	ws_capture_set_progress(w->cap, &w->an.events);
	return 0;
}

static int open_carving(struct worker *w, int dirfd, char *err, size_t errlen)
{
	struct ws_carve_store_params cp = {
		.cfg = &w->run->cfg,
		.dirfd = dirfd,
		.on_file = on_file,
		.expect = expect_data,
		.arg = w,
		/* a GET another worker saw reaches this one within a few read timeouts */
		.hold_ms = w->relay >= 0 ? 4 * w->run->cfg.capture.timeout_ms + 1000 : 0,
	};

	if (!w->run->cfg.carve.enabled)
		return 0;
	w->carve = ws_carve_store_new(&cp, err, errlen);
	if (!w->carve)
		return -1;
	w->an.carve = w->carve;
	return 0;
}

static int setup(struct worker *w, int ctl, char *err, size_t errlen)
{
	w->relay = -1;
	if (open_capture(w, err, errlen) < 0 || init_reassembly(w, err, errlen) < 0)
		return -1;
	w->sup = ws_super_open(w->run, ctl, err, errlen);
	if (!w->sup)
		return -1;
	w->an.sink = ws_super_sink(w->sup);
	if (open_carving(w, ws_super_dirfd(w->sup), err, errlen) < 0)
		return -1;
	ws_signals_install(w->cap);
	return ws_sandbox_sensor(w->run, WS_ROLE_SENSOR, err, errlen);
}

/* ------------------------------------------------------------------- run */

static void handle_flags(struct worker *w)
{
	if (sig.hup) {
		sig.hup = 0;
		if (w->sup)
			ws_super_reopen(w->sup);
	}
	if (sig.usr1) {
		sig.usr1 = 0;
		print_stats(w, "running");
	}
	if (sig.usr2) {
		sig.usr2 = 0;
		if (w->sup)
			ws_super_probe_fetcher(w->sup);
	}
}

/* Live and idle: time still passes for streams and transfers. */
static void sweep_idle(struct worker *w)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	ws_reasm_sweep(&now);
	if (w->carve)
		ws_carve_store_sweep(w->carve, &now);
}

static int capture_loop(struct worker *w)
{
	char err[1024];

	while (!sig.stop) {
		int n = ws_capture_dispatch(w->cap, on_ip, w, err, sizeof(err));

		handle_flags(w);
		if (w->sup)
			ws_super_poll(w->sup);
		else
			relay_poll(w);
		if (n == 0)
			sweep_idle(w);
		if (n == -1 || n == -3)
			break;
		if (n == -2) {
			fprintf(stderr, "wormsnare: %s%s\n", w->who, err);
			return 1;
		}
	}
	return 0;
}

static void print_settings(const struct worker *w)
{
	const struct ws_run *r = w->run;

	fprintf(stderr, "wormsnare: %s %s%s, output %s, fetch %s, users %s (sensor) and %s (fetcher)\n",
		r->opt.nread ? "replaying" : "capturing on",
		r->opt.nread ? r->opt.read_files[0] : r->opt.iface,
		r->opt.nread > 1 ? " and more" : "", r->cfg.output.dir,
		r->fetch_on ? "on" : "off", r->sensor_ids.name, r->fetch_ids.name);
	ws_config_dump(&r->cfg, stderr, "wormsnare: setting ");
	if (ws_capture_is_live(w->cap))
		fprintf(stderr, "wormsnare: capture filter (kernel program): %s\n",
			ws_capture_filter_text(w->cap));
	else
		fprintf(stderr, "wormsnare: capture filter: none in the kernel (a capture file: the "
			"same selection table runs in C)\n");
}

int ws_sensor_run(struct ws_run *run, int ctl)
{
	static struct worker w;
	char err[1024];
	unsigned nworkers = run->opt.nread ? 1 : ws_capture_workers((unsigned)run->cfg.capture.workers);
	int rc;

	if (nworkers > 1)
		return ws_pool_run(run, ctl, nworkers);
	w.run = run;
	if (setup(&w, ctl, err, sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: %s\n", err);
		return 1;
	}
	if (run->opt.verbose)
		print_settings(&w);
	rc = capture_loop(&w);
	ws_reasm_finish();
	ws_carve_store_finish(w.carve);
	/* a replay waits for its fetches (until a second signal); a live sensor does not */
	ws_super_finish(w.sup, run->opt.nread ? &sig.second_stop : &sig.stop);
	print_stats(&w, sig.stop ? "stopped" : "done");
	ws_carve_store_free(w.carve);
	ws_super_close(w.sup);
	ws_capture_close(w.cap);
	return rc;
}

/*
 * A pool worker, just forked by the supervisor: it holds its share of the
 * fanout group, its socket to the supervisor and the output directory,
 * nothing else. Carved files go in the output directory; every record goes
 * to the supervisor.
 */
void ws_worker_main(struct ws_run *run, const struct ws_worker_start *ws)
{
	static struct worker w;
	char err[1024];
	int rc;

	w.run = run;
	w.cap = ws->cap;
	w.relay = ws->relay;
	snprintf(w.who, sizeof(w.who), "worker %u/%u: ", ws->index + 1, ws->nworkers);
	w.an.sink = (struct ws_sink){relay_command, relay_file, relay_warning, &w};
	if (init_reassembly(&w, err, sizeof(err)) < 0 ||
	    open_carving(&w, ws->dirfd, err, sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: %s%s\n", w.who, err);
		exit(1);
	}
	ws_signals_install(w.cap);
	if (ws_sandbox_sensor(run, WS_ROLE_WORKER, err, sizeof(err)) < 0) {
		fprintf(stderr, "wormsnare: %s%s\n", w.who, err);
		exit(1);
	}
	rc = capture_loop(&w);
	ws_reasm_finish();
	ws_carve_store_finish(w.carve);
	print_stats(&w, sig.stop ? "stopped" : "done");
	ws_carve_store_free(w.carve);
	ws_capture_close(w.cap);
	exit(rc);
}
