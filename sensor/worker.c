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

struct worker {
	struct ws_run *run;
	struct ws_super *sup;
	struct ws_capture *cap;
	struct ws_carve_store *carve;
	struct ws_analysis an;
	struct timeval now;	/* the last packet's capture time */
	time_t last_sweep;
	uint64_t warnings;
};

static volatile sig_atomic_t got_stop, got_second_stop, got_hup, got_usr1, got_usr2;
static struct ws_capture *signal_capture;	/* for pcap_breakloop from the handler */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else if (sig == SIGUSR2)
		got_usr2 = 1;
	else {
		got_second_stop = got_stop;
		got_stop = 1;
		if (signal_capture)
			ws_capture_breakloop(signal_capture);
	}
}

/* ------------------------------------------------------------- analysis */

static void on_data(void *arg, struct ws_flow_info *flow, enum ws_side from, const uint8_t *data,
		    size_t len, const struct timeval *ts)
{
	struct worker *w = arg;

	ws_analysis_data(&w->an, flow, from, data, len, ts);
}

/* The reassembler closes without a time: the last packet's is the one. */
static void on_close(void *arg, struct ws_flow_info *flow, enum ws_close_reason why)
{
	struct worker *w = arg;

	ws_analysis_close(&w->an, flow, why, &w->now);
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
	ws_super_warning(w->sup, &r);
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

	w->now = *ts;
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

	ws_super_file(w->sup, r);
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

	fprintf(stderr, "wormsnare: wire: tftp transfers %" PRIu64 " (complete %" PRIu64
		", malformed datagrams %" PRIu64 "), ftp sessions %" PRIu64 ", transfers %" PRIu64
		" (complete %" PRIu64 "); files stored %" PRIu64 " (for events %" PRIu64
		"), partial kept %" PRIu64 ", failed %" PRIu64 ", limit hits %" PRIu64 "\n",
		t->transfers, t->complete, t->malformed, f->sessions, f->transfers, f->complete,
		c->stored, c->correlated, c->partial_kept, c->failed,
		c->limit_hits + t->evicted + t->too_large + f->evicted + f->too_large);
}

static void print_stats(struct worker *w, const char *when)
{
	struct ws_capture_stats cs;
	const struct ws_reasm_stats *rs = ws_reasm_stats();
	const struct ws_super_stats *ss = ws_super_stats(w->sup);
	const uint64_t *ea = ss->events_by_action;
	char line[1024];

	ws_capture_stats(w->cap, &cs);
	fprintf(stderr, "wormsnare: %s: packets %" PRIu64 ", bytes %" PRIu64, when, cs.packets,
		cs.bytes);
	if (ws_capture_is_live(w->cap))
		fprintf(stderr, ", kernel received %" PRIu64 ", kernel drops %" PRIu64
			", interface drops %" PRIu64, cs.kernel_recv, cs.kernel_drop, cs.iface_drop);
	fprintf(stderr, "\nwormsnare: streams %" PRIu64 " (picked up %" PRIu64 ", active %zu, shells %"
		PRIu64 "), events %" PRIu64 " (get %" PRIu64 ", ftp-get %" PRIu64 ", start %" PRIu64
		", exec %" PRIu64 ")\n", rs->streams, rs->pickups, ws_reasm_active_streams(),
		rs->protected_streams, ea[WS_ACT_GET] + ea[WS_ACT_FTP_GET] + ea[WS_ACT_START] +
		ea[WS_ACT_EXEC], ea[WS_ACT_GET], ea[WS_ACT_FTP_GET], ea[WS_ACT_START], ea[WS_ACT_EXEC]);
	print_fetch_stats(ss);
	if (w->carve)
		print_wire_stats(w);
	ws_reasm_stats_text(line, sizeof(line));
	fprintf(stderr, "wormsnare: %s\n", line);
	fprintf(stderr, "wormsnare: warnings: malformed ip %" PRIu64 ", tcp %" PRIu64 ", other %" PRIu64
		", truncated packets %" PRIu64 ", non-IPv4 frames %" PRIu64 ", shell lines cut %" PRIu64
		", shell limits hit %" PRIu64 ", evictions %" PRIu64 ", idle timeouts %" PRIu64
		", overlap warnings %" PRIu64 ", out of memory %" PRIu64 ", log errors %" PRIu64
		", fetcher restarts %" PRIu64 ", fetcher protocol errors %" PRIu64
		", known samples %" PRIu64 ", same copies %" PRIu64 "\n",
		rs->nids_warn[WS_NW_IP], rs->nids_warn[WS_NW_TCP],
		rs->nids_warn[WS_NW_UDP] + rs->nids_warn[WS_NW_SCAN] + rs->nids_warn[WS_NW_OTHER],
		cs.truncated, cs.non_ip, w->an.shell.truncated, w->an.shell.over_budget,
		rs->evictions, rs->idle_expired, w->warnings, rs->no_mem + w->an.no_mem,
		ss->log_errors, ss->fetcher_restarts, ss->protocol_errors, ss->known, ss->same_copies);
}

/* ------------------------------------------------------------------ setup */

static int open_capture(struct worker *w, char *err, size_t errlen)
{
	const struct ws_config *cfg = &w->run->cfg;
	struct ws_reasm_params rp = {
		.ports = cfg->ports,
		.nports = cfg->nports,
		.max_streams = cfg->reassembly.max_streams,
		.idle_timeout = cfg->reassembly.idle_timeout,
		.on_udp = cfg->carve.enabled ? on_udp : NULL,
		.on_data = on_data,
		.on_close = on_close,
		.screen = cfg->reassembly.screen ? on_screen : NULL,
		.on_warn = on_warn,
		.target = cfg->reassembly.target,
		.checksums = cfg->reassembly.checksums,
		.screen_flows = cfg->reassembly.screen_flows,
		.arg = w,
	};

	if (w->run->opt.nread)
		w->cap = ws_capture_open_files(w->run->opt.read_files, w->run->opt.nread, err, errlen);
	else
		w->cap = ws_capture_open_live(w->run->opt.iface, cfg, err, errlen);
	if (!w->cap)
		return -1;
	if (ws_capture_set_filter(w->cap, cfg, cfg->carve.enabled, err, errlen) < 0)
		return -1;
	ws_capture_set_progress(w->cap, &w->an.events);
	if (ws_reasm_init(&rp, err, errlen) < 0)
		return -1;
	/* not screening: FTP control connections are found by their port only */
	if (!cfg->reassembly.screen && cfg->carve.enabled)
		ws_reasm_follow_port(21);
	return 0;
}

static void install_signals(struct worker *w)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal_capture = w->cap;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int sandbox(struct worker *w, char *err, size_t errlen)
{
	const char *dir = ws_can_chroot() ? w->run->cfg.output.dir : NULL;

	if (ws_drop_privs(&w->run->sensor_ids, dir, err, errlen) < 0)
		return -1;
	if (w->run->cfg.privsep.seccomp && ws_seccomp_apply(WS_ROLE_SENSOR, err, errlen) < 0)
		return -1;
	return 0;
}

static int setup(struct worker *w, int ctl, char *err, size_t errlen)
{
	if (open_capture(w, err, errlen) < 0)
		return -1;
	w->sup = ws_super_open(w->run, ctl, err, errlen);
	if (!w->sup)
		return -1;
	w->an.sup = w->sup;
	if (w->run->cfg.carve.enabled) {
		struct ws_carve_store_params cp = {
			.cfg = &w->run->cfg,
			.dirfd = ws_super_dirfd(w->sup),
			.on_file = on_file,
			.expect = expect_data,
			.arg = w,
		};

		w->carve = ws_carve_store_new(&cp, err, errlen);
		if (!w->carve)
			return -1;
		w->an.carve = w->carve;
	}
	install_signals(w);
	return sandbox(w, err, errlen);
}

/* ------------------------------------------------------------------- run */

static void handle_flags(struct worker *w)
{
	if (got_hup) {
		got_hup = 0;
		ws_super_reopen(w->sup);
	}
	if (got_usr1) {
		got_usr1 = 0;
		print_stats(w, "running");
	}
	if (got_usr2) {
		got_usr2 = 0;
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

	while (!got_stop) {
		int n = ws_capture_dispatch(w->cap, on_ip, w, err, sizeof(err));

		handle_flags(w);
		ws_super_poll(w->sup);
		if (n == 0)
			sweep_idle(w);
		if (n == -1 || n == -3)
			break;
		if (n == -2) {
			fprintf(stderr, "wormsnare: %s\n", err);
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
	int rc;

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
	ws_super_finish(w.sup, run->opt.nread ? &got_second_stop : &got_stop);
	print_stats(&w, got_stop ? "stopped" : "done");
	ws_carve_store_free(w.carve);
	ws_super_close(w.sup);
	ws_capture_close(w.cap);
	return rc;
}
