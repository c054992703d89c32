/*
 * sensor/ — the whole interface: the processes (monitor, sensor, fetcher
 * entry), the command matcher, fetch policy, wire carving store, privilege
 * separation and sandboxing. Capture is capture/capture.h.
 */
#ifndef WS_SENSOR_H
#define WS_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/types.h>

#include "base.h"

#include "config.h"
#include "output.h"
#include "reassembly.h"

#define WS_FIELD_MAX 256	/* longest host or file name kept, NUL included */

/* What a command does (the Action column). */
enum ws_action { WS_ACT_GET = 1, WS_ACT_START, WS_ACT_EXEC, WS_ACT_FTP_GET };
const char *ws_action_name(enum ws_action a);

/* ------------------------------------------------------------ fetch policy */

/* What the log's Fetch column says. */
enum ws_fetch_verdict {
	WS_FETCH_NONE = 0,	/* not a GET */
	WS_FETCH_QUEUED, WS_FETCH_DISABLED, WS_FETCH_DENIED,
	WS_FETCH_DUPLICATE, WS_FETCH_RATE_LIMITED, WS_FETCH_QUEUE_FULL,
	WS_FETCH_INVALID_NAME
};
const char *ws_fetch_verdict_name(enum ws_fetch_verdict v);

/*
 * Pick the server to fetch from: the address the command's host names
 * (named: WS_AF_NONE for a name, which is never resolved) or the
 * connection's source, by policy. 0 with *server set, or -1 when none.
 */
int ws_policy_pick_server(const struct ws_config *cfg, const struct ws_addr *named,
			  const struct ws_addr *conn_src, struct ws_addr *server);
/* Allowed by the allow/deny lists? */
bool ws_policy_allowed(const struct ws_config *cfg, const struct ws_addr *server);
/* RFC 1918, loopback, link-local, CGNAT, unspecified, multicast, broadcast. */
bool ws_addr_is_nonpublic(const struct ws_addr *a);

/*
 * Addresses never fetched from whatever the lists say: the sensor's own
 * addresses and its interfaces' broadcast addresses (from getifaddrs at
 * start), and per request the victim's address.
 */
struct ws_selfaddrs;
struct ws_selfaddrs *ws_selfaddrs_load(void);
bool ws_selfaddrs_has(const struct ws_selfaddrs *s, const struct ws_addr *a);
void ws_selfaddrs_free(struct ws_selfaddrs *s);

/* Remembers (server, file) fetches for the duplicate window. */
struct ws_dedup;
struct ws_dedup *ws_dedup_new(size_t slots);
/* true if seen within window seconds of now; records it otherwise. */
bool ws_dedup_check(struct ws_dedup *d, const struct ws_addr *server, const char *file,
		    time_t now, int window);
void ws_dedup_free(struct ws_dedup *d);

/* Fetch budgets per server and in all, in one-minute windows of capture time. */
struct ws_ratelimit;
struct ws_ratelimit *ws_ratelimit_new(size_t slots);
/* true (and counted) if a fetch from server at now fits both budgets. */
bool ws_ratelimit_take(struct ws_ratelimit *r, const struct ws_addr *server, time_t now,
		       int per_server, int global);
void ws_ratelimit_free(struct ws_ratelimit *r);

/* blast_<stem>_<id>.bin stem: basename, no extension, [A-Za-z0-9._-], no leading '.'. */
void ws_store_stem(char *dst, size_t cap, const char *file);

/* ------------------------------------------------------------ wire carving */

struct ws_known;
struct ws_file_record;
struct ws_ftp_tracker;

/* Where the carve store hands each file record (the supervisor logs it). */
typedef void (*ws_file_fn)(void *arg, struct ws_file_record *r);

/*
 * Stores files carved from TFTP and FTP transfers seen on the wire: under the
 * name of the GET / ftp-get event they answer (blast_<stem>_<eventid>.bin),
 * else as tftp_<stem>_<n>.bin / ftp_<stem>_<n>.bin, each reported as a file
 * record with Source "wire". One file store for both protocols.
 */
struct ws_carve_store;

struct ws_carve_store_stats {
	uint64_t stored, correlated, already_stored, partial_kept, failed, limit_hits;
};

struct ws_carve_store_params {
	const struct ws_config *cfg;
	int dirfd;
	ws_file_fn on_file;
	/* an FTP data connection to follow from its SYN (the reassembler's expect) */
	void (*expect)(void *arg, const struct ws_endpoint *connector,
		       const struct ws_endpoint *listener, int ttl_s);
	void *arg;
	/*
	 * Several capture workers: milliseconds a complete transfer no GET
	 * matched waits for a GET another worker saw (ws_carve_store_note_get)
	 * before it is stored unmatched; 0 alone.
	 */
	int hold_ms;
};

#define WS_CARVE_TFTP 1
#define WS_CARVE_FTP 2

struct ws_carve_store *ws_carve_store_new(const struct ws_carve_store_params *p, char *err,
					  size_t errlen);
/* A GET (WS_CARVE_TFTP) or ftp-get (WS_CARVE_FTP) event: victim, attacker, host's address. */
void ws_carve_store_note_get(struct ws_carve_store *cs, uint64_t eventid, int proto,
			     const struct ws_addr *victim, const struct ws_addr *attacker,
			     const struct ws_addr *host, const char *file, const struct timeval *ts);
void ws_carve_store_datagram(struct ws_carve_store *cs, const struct ws_endpoint *src,
			     const struct ws_endpoint *dst, const uint8_t *payload, size_t len,
			     const struct timeval *ts);
/* The FTP tracker the analysis feeds control and data connections to. */
struct ws_ftp_tracker *ws_carve_store_ftp(struct ws_carve_store *cs);
void ws_carve_store_sweep(struct ws_carve_store *cs, const struct timeval *now);
const struct ws_carve_store_stats *ws_carve_store_stats(const struct ws_carve_store *cs);
struct ws_carve_stats;
struct ws_ftp_track_stats;
/* The trackers' own counters (tftp.h, ftp.h). */
const struct ws_carve_stats *ws_carve_store_tracker_stats(const struct ws_carve_store *cs);
const struct ws_ftp_track_stats *ws_carve_store_ftp_stats(const struct ws_carve_store *cs);
/* End of capture: every open transfer ends (logged as incomplete). */
void ws_carve_store_finish(struct ws_carve_store *cs);
void ws_carve_store_free(struct ws_carve_store *cs);

/* Hex MD5 and SHA-256 of a file's first size bytes (nettle). 0 or -1 (errno). */
int ws_hash_fd(int fd, uint64_t size, char md5_hex[33], char sha256_hex[65]);

/* ------------------------------------------------- privileges and sandbox */

/* A user to switch to. */
struct ws_ids {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* SENSOR: capture and supervisor in one process; POOL: the supervisor of WORKERs. */
enum ws_role { WS_ROLE_MONITOR, WS_ROLE_SENSOR, WS_ROLE_FETCHER, WS_ROLE_POOL, WS_ROLE_WORKER };

/* prctl(PR_SET_NAME): ws-monitor, ws-sensor, ws-fetcher. */
void ws_set_proc_name(const char *name);
/*
 * privsep.user and fetch.user, with the fallbacks for a machine where they
 * were never created (nobody; an unused uid). They always differ. 0 or -1.
 */
int ws_resolve_users(const struct ws_config *cfg, struct ws_ids *sensor, struct ws_ids *fetcher,
		     char *err, size_t errlen);
/*
 * Drop root for good: chroot(dir) when dir != NULL, chdir("/"), setgroups,
 * setresgid, setresuid, check root cannot be regained, clear every
 * capability. Not root: only the capabilities are cleared. 0, or -1 with
 * err naming the step that failed.
 */
int ws_drop_privs(const struct ws_ids *ids, const char *chroot_dir, char *err, size_t errlen);
/* Holding CAP_SETUID and CAP_SETGID (root, or ambient capabilities)? */
bool ws_can_switch_users(void);
/* Holding CAP_SYS_CHROOT? */
bool ws_can_chroot(void);
/* Make fd (a directory or file) owned by ids. No-op without CAP_CHOWN. */
int ws_give_to(const struct ws_ids *ids, int fd, char *err, size_t errlen);
/*
 * The monitor keeps CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT and CAP_KILL only,
 * plus CAP_CHOWN when it hands a replay's outputs back at the end.
 */
int ws_monitor_caps(bool chown_back, char *err, size_t errlen);
/* no_new_privs, then the role's system-call allow-list. 0 or -1. */
int ws_seccomp_apply(enum ws_role role, char *err, size_t errlen);
struct ws_run;
/*
 * A process with the sensor's user (ws-sensor, a pool's supervisor or
 * worker): chroot into the output directory (when allowed), drop to
 * privsep.user, then role's seccomp list. 0, or -1 with err set.
 */
int ws_sandbox_sensor(const struct ws_run *run, enum ws_role role, char *err, size_t errlen);

/* ------------------------------------------------------------ processes */

enum ws_fetch_mode { WS_FETCH_MODE_DEFAULT, WS_FETCH_MODE_ON, WS_FETCH_MODE_OFF };

/* What the command line asked for. */
struct ws_options {
	const char **read_files;	/* -r, several allowed */
	size_t nread;
	const char *iface;
	const char *config, *outdir;
	enum ws_fetch_mode fetch;
	bool verbose;
};

/* One run: the options, the loaded config, the users. */
struct ws_run {
	struct ws_options opt;
	struct ws_config cfg;
	bool fetch_on;
	struct ws_ids sensor_ids, fetch_ids;
	char samples_dir[1100];		/* output.dir + "/fetched" */
};

/*
 * ws-monitor: forks the capturing process (ws-sensor) and, whenever it asks,
 * a fetcher re-executed from a clean image; forwards signals; reaps and
 * reports children; exits with the sensor's status.
 */
int ws_monitor_run(struct ws_run *run);

/* ws-sensor: capture, analysis, EventIDs, every log. ctl: its socket to the monitor. */
int ws_sensor_run(struct ws_run *run, int ctl);

struct ws_super_stats;

/*
 * Live capture on several cores: ws-sensor opens nworkers members of one
 * PACKET_FANOUT group, forks a worker (ws-worker) for each, then supervises
 * them (sensor/pool.c): EventIDs, fetches and every log stay here.
 */
int ws_pool_run(struct ws_run *run, int ctl, unsigned nworkers);

struct ws_capture;

/* Signals as flags for a process's loop. */
struct ws_signals {
	volatile sig_atomic_t stop, second_stop, hup, usr1, usr2;
};
/*
 * Handlers for INT/TERM (stop; second_stop on a second one), HUP, USR1 and
 * USR2; SIGPIPE ignored. A stop breaks cap (if not NULL) out of its loop.
 */
struct ws_signals *ws_signals_install(struct ws_capture *cap);

/* What a pool worker starts with: nothing else is open in it. */
struct ws_worker_start {
	struct ws_capture *cap;		/* its fanout member */
	int relay;			/* its socket to the supervisor */
	int dirfd;			/* the output directory (carved files) */
	unsigned index, nworkers;
};
/* A pool worker's life: capture and analysis until stopped. Never returns. */
__attribute__((noreturn)) void ws_worker_main(struct ws_run *run,
					      const struct ws_worker_start *start);
/* The pool supervisor's statistics (events, fetches, its own counters). */
void ws_print_pool_stats(const struct ws_super_stats *ss, const char *when, unsigned nworkers);

/* The fetcher's entry after re-exec: argv as the monitor built it. Never returns. */
void ws_fetcher_child_main(int argc, char **argv);
#define WS_FETCHER_CHILD_FLAG "--ws-fetcher-child"

/* ------------------------------------------------------------ supervisor */

/* A command the analysis recognised, as the supervisor needs it. */
struct ws_cmd_event {
	enum ws_action action;
	struct timeval ts;
	struct ws_endpoint attacker, victim;
	const char *file;		/* raw bytes, file_len of them */
	size_t file_len;
	const char *host;		/* as typed ("" when none), host_len bytes */
	size_t host_len;
	const char *server_text;	/* the Server column: host, host:port off the default */
	struct ws_addr host_addr;	/* what Windows would contact; WS_AF_NONE for a name */
	uint16_t port;			/* 69 (tftp), 21 or as typed (ftp) */
	const char *user, *pass;	/* ftp-get: as the script gave them */
	bool name_ok;			/* usable for fetching (no control bytes, not too long) */
};

#define WS_SUPER_RESULT_KINDS 16

struct ws_super_stats {
	uint64_t events_by_action[WS_ACT_FTP_GET + 1];
	uint64_t verdicts[WS_FETCH_INVALID_NAME + 1];
	uint64_t known, log_errors, fetcher_restarts, protocol_errors;
	uint64_t same_copies;		/* wire and fetcher gave the same bytes: one copy kept */
	struct {
		char kind[32];
		uint64_t n;
	} results[WS_SUPER_RESULT_KINDS];
};

struct ws_super;
struct ws_warn_record;

/*
 * Opens the output directory, the writers, the sequence file and the
 * samples area (fetched/, given to the fetch user). Call before dropping
 * privileges. NULL with err set.
 */
struct ws_super *ws_super_open(struct ws_run *run, int ctl, char *err, size_t errlen);
int ws_super_dirfd(const struct ws_super *s);
/* Logs the command (every writer), decides and queues its fetch; returns its EventID. */
uint64_t ws_super_command(struct ws_super *s, const struct ws_cmd_event *ev);
/* A file record (wire or fetch): Known filled in, written. */
void ws_super_file(struct ws_super *s, struct ws_file_record *r);
void ws_super_warning(struct ws_super *s, const struct ws_warn_record *r);
struct pollfd;
/* The descriptors ws_super_poll reads (fetcher, monitor), for the caller's poll(). */
size_t ws_super_pollfds(const struct ws_super *s, struct pollfd *pfd, size_t cap);
/* Results from the fetcher and messages from the monitor; never blocks. */
void ws_super_poll(struct ws_super *s);
void ws_super_probe_fetcher(struct ws_super *s);
void ws_super_reopen(struct ws_super *s);
const struct ws_super_stats *ws_super_stats(const struct ws_super *s);
/* Wait for outstanding fetches (until *stop), log what stays unanswered. */
void ws_super_finish(struct ws_super *s, volatile sig_atomic_t *stop);
void ws_super_close(struct ws_super *s);

/* ------------------------------------------------------------------ relay */

/*
 * Worker <-> supervisor messages (SOCK_SEQPACKET, sensor/relay.c), for live
 * capture on several cores. Encoders return the length, 0 when it does not
 * fit; decoders 0, or -1 for anything but exactly one well-formed message.
 */
#define WS_RELAY_MSG_MAX 16384
#define WS_RELAY_CMD 0x57535243u	/* worker -> supervisor: a command, wants WS_RELAY_ID */
#define WS_RELAY_ID 0x57535249u		/* supervisor -> worker: its EventID */
#define WS_RELAY_FILE 0x57535246u	/* worker -> supervisor: a carved file */
#define WS_RELAY_WARN 0x57535257u	/* worker -> supervisor: a warning */
#define WS_RELAY_NOTE 0x5753524eu	/* supervisor -> the other workers: a GET to carve for */
#define WS_RELAY_READY 0x57535259u	/* worker -> supervisor: its capture is open, or why not */
#define WS_RELAY_START 0x57535253u	/* supervisor -> worker: the outputs are open, go */

struct ws_relay_cmd {
	struct ws_cmd_event ev;		/* its strings point into arena */
	char arena[WS_RELAY_MSG_MAX];
};

struct ws_relay_file {
	struct ws_file_record r;	/* Source "wire"; strings point into arena */
	char arena[WS_RELAY_MSG_MAX];
};

struct ws_relay_warn {
	struct ws_warn_record r;
	char arena[WS_RELAY_MSG_MAX];
};

/* A GET or ftp-get another worker saw: ws_carve_store_note_get's arguments. */
struct ws_relay_note {
	uint64_t eventid;
	int proto;			/* WS_CARVE_TFTP or WS_CARVE_FTP */
	struct timeval ts;
	struct ws_addr victim, attacker, host;
	uint16_t port;			/* the server port as typed (FTP) */
	char file[1100];
};

size_t ws_relay_cmd_encode(const struct ws_cmd_event *ev, uint8_t *buf, size_t cap);
int ws_relay_cmd_decode(const uint8_t *buf, size_t len, struct ws_relay_cmd *out);
size_t ws_relay_id_encode(uint64_t id, uint8_t *buf, size_t cap);
int ws_relay_id_decode(const uint8_t *buf, size_t len, uint64_t *id);
size_t ws_relay_file_encode(const struct ws_file_record *r, uint8_t *buf, size_t cap);
int ws_relay_file_decode(const uint8_t *buf, size_t len, struct ws_relay_file *out);
size_t ws_relay_warn_encode(const struct ws_warn_record *r, uint8_t *buf, size_t cap);
int ws_relay_warn_decode(const uint8_t *buf, size_t len, struct ws_relay_warn *out);
size_t ws_relay_note_encode(const struct ws_relay_note *n, uint8_t *buf, size_t cap);
int ws_relay_note_decode(const uint8_t *buf, size_t len, struct ws_relay_note *out);
/* The fanout group the worker's capture joined, or the error ("" when none) that stopped it. */
size_t ws_relay_ready_encode(unsigned group, const char *error, uint8_t *buf, size_t cap);
int ws_relay_ready_decode(const uint8_t *buf, size_t len, unsigned *group, char *error,
			  size_t cap);

/* -------------------------------------------------------------- analysis */

#define WS_ANALYSIS_FTP_PORTS 64	/* FTP server ports learnt from ftp-get events */


/*
 * Where a worker's events go: the supervisor in the same process, or the
 * relay to it when several workers capture. command returns the EventID.
 */
struct ws_sink {
	uint64_t (*command)(void *arg, const struct ws_cmd_event *ev);
	void (*file)(void *arg, struct ws_file_record *r);
	void (*warning)(void *arg, const struct ws_warn_record *r);
	void *arg;
};

/* The worker's view of what the streams carry (sensor/analysis.c). */
struct ws_analysis {
	struct ws_sink sink;
	struct ws_carve_store *carve;	/* NULL: no carving (and no FTP following) */
	uint16_t ftp_ports[WS_ANALYSIS_FTP_PORTS];
	size_t nftp_ports;
	uint64_t events, no_mem;
	struct {
		uint64_t truncated, over_budget;
	} shell;
};

/* The supervisor in this process as a sink. */
struct ws_sink ws_super_sink(struct ws_super *s);

/* The reassembler's callbacks, with the analysis as their argument. */
void ws_analysis_data(struct ws_analysis *an, struct ws_flow_info *flow, enum ws_side from,
		      const uint8_t *data, size_t len, const struct timeval *ts);
void ws_analysis_gap(struct ws_analysis *an, struct ws_flow_info *flow, enum ws_side from,
		     const struct timeval *ts);
void ws_analysis_close(struct ws_analysis *an, struct ws_flow_info *flow,
		       enum ws_close_reason why, const struct timeval *ts);
/* A GET or ftp-get: carve its transfer, follow its FTP port (also another worker's). */
void ws_analysis_note(struct ws_analysis *an, const struct ws_relay_note *n);
enum ws_screen_verdict ws_analysis_screen(struct ws_analysis *an, const struct ws_flow_info *flow,
					  enum ws_side from, const uint8_t *bytes, size_t len);

/* Monitor <-> sensor control messages (SOCK_SEQPACKET). */
#define WS_CTL_SPAWN_FETCHER 0x5753434eu	/* sensor -> monitor: "WSCN" */
#define WS_CTL_FETCHER 0x57534346u		/* monitor -> sensor: "WSCF" + fd */

#endif
