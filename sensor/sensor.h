/*
 * sensor/ — the whole interface: command matcher, TSV writing, event log,
 * fetch policy and privilege separation (capture is capture/capture.h).
 */
#ifndef WS_SENSOR_H
#define WS_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

struct ws_config;

/* ---------------------------------------------------------------- matcher */

#define WS_FIELD_MAX 256	/* longest host or file name kept, NUL included */
#define WS_MATCH_MAX_CMDS 8	/* commands reported per line */
#define WS_MATCH_MAX_NAMES 4	/* fetched names remembered per stream */

enum ws_action { WS_ACT_GET = 1, WS_ACT_START, WS_ACT_EXEC };

struct ws_cmd {
	enum ws_action action;
	char host[WS_FIELD_MAX];	/* GET only: as typed */
	char file[WS_FIELD_MAX];	/* GET: remote name; START/EXEC: what runs */
	char local[WS_FIELD_MAX];	/* GET only: local name, "" when absent */
};

struct ws_match {
	size_t ncmds;
	struct ws_cmd cmds[WS_MATCH_MAX_CMDS];
};

/*
 * Per-stream memory of the names earlier GETs fetched, so a later bare
 * "msblast.exe" line is recognised. Zero-initialise; the matcher updates it.
 */
struct ws_match_ctx {
	unsigned next;
	char names[WS_MATCH_MAX_NAMES][WS_FIELD_MAX];
};

/*
 * Match one command line (no LF; a trailing CR is ignored). Pure: no I/O, no
 * allocation, no globals. Returns the number of commands found (0 .. MAX).
 */
size_t ws_match_line(const char *line, size_t len, struct ws_match_ctx *ctx,
		     struct ws_match *out);

const char *ws_action_name(enum ws_action a);

/* ------------------------------------------------------------- TSV files */

/*
 * Escape src[0..len) into dst (capacity cap, always NUL-terminated) so it can
 * never split or forge a TSV row: backslash, tab, CR, LF and every byte
 * outside 0x20..0x7e become \xNN; a leading '#' becomes \x23. A value that
 * does not fit is cut and ends in "..." . Returns strlen(dst).
 */
size_t ws_tsv_escape(char *dst, size_t cap, const char *src, size_t len);

/*
 * An append-only TSV log in a directory. Rows go out with one write(2) on an
 * O_APPEND descriptor; a row that cannot be written whole is reported, never
 * half-written by us.
 */
struct ws_tsv {
	int dirfd;
	int fd;
	char name[256];
	const char *header;	/* without the newline */
};

/* Open (create with header if new or empty). 0, or -1 with err set. */
int ws_tsv_open(struct ws_tsv *t, int dirfd, const char *name, const char *header,
		char *err, size_t errlen);
/* Take over a log already open as fd (inherited from the parent process). */
void ws_tsv_adopt(struct ws_tsv *t, int dirfd, const char *name, const char *header, int fd);
/* Reopen by name (after logrotate moved the file). 0 or -1. */
int ws_tsv_reopen(struct ws_tsv *t, char *err, size_t errlen);
/* Write fields (already escaped) joined by tabs plus LF. 0 or -1 (errno set). */
int ws_tsv_row(struct ws_tsv *t, const char *const *fields, size_t n);
void ws_tsv_close(struct ws_tsv *t);
/* Largest first-column number in an existing log (0 if none). */
uint64_t ws_tsv_last_id(int dirfd, const char *name);

/* ISO 8601 UTC with microseconds: 2003-08-19T14:00:17.918435Z */
void ws_format_time(char *dst, size_t cap, const struct timeval *tv);

/* ------------------------------------------------------------ fetch policy */

/* What the log's Fetch column says. */
enum ws_fetch_verdict {
	WS_FETCH_NONE = 0,	/* not a GET */
	WS_FETCH_QUEUED, WS_FETCH_DISABLED, WS_FETCH_DENIED,
	WS_FETCH_DUPLICATE, WS_FETCH_RATE_LIMITED, WS_FETCH_QUEUE_FULL
};
const char *ws_fetch_verdict_name(enum ws_fetch_verdict v);

/*
 * Pick the server to fetch from: the command's host (dotted IPv4 only; names
 * are never resolved) or the connection's source, by policy. Addresses in
 * host order. Returns 0 with *server set, or -1 when no usable server.
 */
int ws_policy_pick_server(const struct ws_config *cfg, const char *cmd_host,
			  uint32_t conn_src, uint32_t *server);
/* Allowed by allow/deny lists? */
bool ws_policy_allowed(const struct ws_config *cfg, uint32_t server);
/* RFC 1918, loopback, link-local, CGNAT, unspecified, multicast, broadcast. */
bool ws_addr_is_nonpublic(uint32_t addr);

/* Remembers (server, file) fetches for the duplicate window. */
struct ws_dedup;
struct ws_dedup *ws_dedup_new(size_t slots);
/* true if seen within window seconds of now; records it otherwise. */
bool ws_dedup_check(struct ws_dedup *d, uint32_t server, const char *file,
		    time_t now, int window);
void ws_dedup_free(struct ws_dedup *d);

/* Fetch budgets per server and in all, in one-minute windows of capture time. */
struct ws_ratelimit;
struct ws_ratelimit *ws_ratelimit_new(size_t slots);
/* true (and counted) if a fetch from server at now fits both budgets. */
bool ws_ratelimit_take(struct ws_ratelimit *r, uint32_t server, time_t now, int per_server,
		       int global);
void ws_ratelimit_free(struct ws_ratelimit *r);

/* blast_<stem>_<id>.bin stem: basename, no extension, [A-Za-z0-9._-], no leading '.'. */
void ws_store_stem(char *dst, size_t cap, const char *file);

/* ------------------------------------------------------------ wire carving */

struct ws_known;
struct ws_flow_key;

/*
 * Stores files carved from TFTP transfers seen on the wire: under the name of
 * the GET event they answer (blast_<stem>_<eventid>.bin), else as
 * tftp_<stem>_<n>.bin, each logged to the fetch log with Source "wire".
 */
struct ws_carve_store;

struct ws_carve_store_stats {
	uint64_t stored, correlated, already_stored, partial_kept, failed, limit_hits;
	uint64_t known, log_errors;
};

struct ws_carve_store *ws_carve_store_new(const struct ws_config *cfg, int dirfd,
					  struct ws_tsv *fetch_log, const struct ws_known *known,
					  char *err, size_t errlen);
/* A GET event: victim and attacker in network order, host as typed. */
void ws_carve_store_note_get(struct ws_carve_store *cs, uint64_t eventid, uint32_t victim,
			     uint32_t attacker, const char *host, const char *file,
			     const struct timeval *ts);
void ws_carve_store_datagram(struct ws_carve_store *cs, const struct ws_flow_key *key,
			     const uint8_t *payload, size_t len, const struct timeval *ts);
void ws_carve_store_sweep(struct ws_carve_store *cs, const struct timeval *now);
const struct ws_carve_store_stats *ws_carve_store_stats(const struct ws_carve_store *cs);
struct ws_carve_stats;
/* The tracker's own counters (tftp.h). */
const struct ws_carve_stats *ws_carve_store_tracker_stats(const struct ws_carve_store *cs);
/* End of capture: every open transfer ends (logged as incomplete). */
void ws_carve_store_finish(struct ws_carve_store *cs);
void ws_carve_store_free(struct ws_carve_store *cs);

/* Hex MD5 and SHA-256 of a file's first size bytes (nettle). 0 or -1 (errno). */
int ws_hash_fd(int fd, uint64_t size, char md5_hex[33], char sha256_hex[65]);

/* ------------------------------------------------------------- privileges */

/*
 * Drop root for good: chroot(dir) when dir != NULL, chdir("/"), setgroups,
 * setresgid, setresuid, then check root cannot be regained. No-op when not
 * root. 0, or -1 with err naming the step that failed.
 */
int ws_drop_privs(const char *user, const char *chroot_dir, char *err, size_t errlen);
/*
 * Make the output dir or a file in it owned by user, so the processes may
 * still write, rotate and reopen after dropping root. No-op unless root.
 */
int ws_give_to_user(const char *user, int fd, char *err, size_t errlen);

#endif
