/*
 * output/ — the whole interface: records (raw values, as the analysis
 * produced them) and the writers that turn them into lines (Suricata's EVE
 * model: records first, then one module per output format owning its schema
 * and its escaping).
 *
 *   tsv.c      blasterlog.txt and fetchlog.txt (the historic columns)
 *   json.c     events.json: one JSON object per line (jansson)
 *   syslog.c   syslog messages carrying the JSON object (RFC 5424 over the
 *              network, the syslog(3) form on unix sockets)
 *   logfile.c  append-only line files and the writer dispatch
 *   communityid.c  Community ID v1 of a flow (nettle SHA-1)
 *
 * Writers never see policy; they format what the record says. Every string
 * field is raw bytes from the wire (pointer + length, may hold any byte);
 * each writer escapes at its sink.
 */
#ifndef WS_OUTPUT_H
#define WS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "base.h"

/* Raw bytes from the wire: any byte, not NUL-terminated. */
struct ws_bytes {
	const char *p;
	size_t len;
};

/* From a C string (NULL gives an empty value). */
struct ws_bytes ws_bytes_str(const char *s);

/* One command the analysis recognised: a row of blasterlog.txt. */
struct ws_cmd_record {
	uint64_t event_id;
	struct timeval ts;		/* capture time of the packet that completed the line */
	struct ws_endpoint src;		/* the attacker: the side that typed */
	struct ws_endpoint dst;		/* the victim: the shell's side */
	uint8_t proto;			/* IPPROTO_TCP */
	const char *action;		/* "get", "ftp-get", "start", "exec" */
	struct ws_bytes filename;
	struct ws_bytes server;		/* host as typed ("" when none) */
	const char *fetch;		/* verdict ("queued", "disabled", ...), "" when none */
};

/* One stored or attempted file: a row of fetchlog.txt. */
struct ws_file_record {
	uint64_t event_id;		/* the command it answers; 0 when none */
	struct timeval ts;
	struct ws_bytes filename;	/* as named on the wire */
	struct ws_bytes server;		/* "host:port" as logged */
	struct ws_bytes status;		/* "ok", "incomplete", "timeout", "tftp-error:1:...", ... */
	uint64_t bytes;
	const char *md5;		/* lower-case hex, "" when none */
	const char *sha256;		/* lower-case hex, "" when none */
	const char *path;		/* stored file, relative to the output dir, "" when none */
	const char *source;		/* "fetch" or "wire" */
	struct ws_bytes known;		/* name from the known-hashes table, "" when none */
	/* The transfer's endpoints when known (wire carving, or where the fetcher went). */
	bool have_flow;
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	struct ws_endpoint client, server_ep;
};

/* Something an analyst wants to know (an overlap that disagrees, ...). */
struct ws_warn_record {
	struct timeval ts;
	const char *kind;		/* short token: "overlap-conflict", ... */
	bool have_flow;
	uint8_t proto;
	struct ws_endpoint src, dst;
	struct ws_bytes detail;
};

/* ------------------------------------------------------------ community id */

/*
 * Community ID v1 (https://github.com/corelight/community-id-spec) of a
 * flow: "1:" + base64(SHA-1(seed, saddr, daddr, proto, 0, sport, dport)),
 * all in network byte order, the endpoints ordered so the smaller
 * (address, port) comes first. Ports are hashed for TCP, UDP and SCTP (and
 * for ICMP/ICMPv6, where the caller passes the spec's type/code mapping;
 * the one-way ICMP ordering is not applied); other protocols hash the
 * addresses only. cap >= WS_COMMUNITY_ID_MAX. Returns dst, "" when the two
 * addresses are not of one known family.
 */
#define WS_COMMUNITY_ID_MAX 32
const char *ws_community_id(char *dst, size_t cap, uint16_t seed, uint8_t proto,
			    const struct ws_endpoint *src, const struct ws_endpoint *dst_ep);

/* ----------------------------------------------------------------- writers */

/*
 * One output format. Each function returns 0, or -1 with errno set when the
 * record was not delivered whole (nothing half-written is ever left behind).
 * command, file and warning may be NULL: that writer keeps no such records
 * (the TSV event log has no file rows); call them through ws_write_*().
 */
struct ws_writer {
	const char *name;
	int (*command)(struct ws_writer *w, const struct ws_cmd_record *r);
	int (*file)(struct ws_writer *w, const struct ws_file_record *r);
	int (*warning)(struct ws_writer *w, const struct ws_warn_record *r);
	int (*reopen)(struct ws_writer *w);	/* after logrotate; may be NULL */
	int (*flush)(struct ws_writer *w);	/* send what is queued; may be NULL */
	void (*close)(struct ws_writer *w);	/* frees w */
	uint64_t dropped;	/* records lost (failed writes, full send queues) */
};

/* Dispatch, skipping writers without that record type: 0 or -1 (errno). */
int ws_write_command(struct ws_writer *w, const struct ws_cmd_record *r);
int ws_write_file(struct ws_writer *w, const struct ws_file_record *r);
int ws_write_warning(struct ws_writer *w, const struct ws_warn_record *r);
/* Reopen files by name (SIGHUP after logrotate); 0 for writers without files. */
int ws_writer_reopen(struct ws_writer *w);
/* Send what a writer still queues (syslog): call it from the main loop's
 * periodic tick. 0, or -1 when the collector cannot be reached now. */
int ws_writer_flush(struct ws_writer *w);
/* NULL is accepted. */
void ws_writer_close(struct ws_writer *w);

/* ---------------------------------------------------------------- log files */

/*
 * An append-only line file in a directory, shared by the TSV and JSON
 * writers. A line goes out with one write(2) on an O_APPEND descriptor; a
 * short write (disk full) is cut back off the file, so no reader ever sees
 * half a line. A file deleted while open is recreated (header first) on the
 * next line; ws_logfile_reopen() follows logrotate.
 */
struct ws_logfile {
	int dirfd;
	int fd;
	char name[256];
	const char *header;	/* first line of a new file, without LF; NULL for none */
};

/* name must be a plain file name. 0, or -1 with err set ("NAME: what: why"). */
int ws_logfile_open(struct ws_logfile *f, int dirfd, const char *name, const char *header,
		    char *err, size_t errlen);
/* Append line[0..len), which ends in LF, with one write. 0 or -1 (errno). */
int ws_logfile_append(struct ws_logfile *f, const char *line, size_t len);
/* Open the name again; on failure keep writing to the old file. 0 or -1. */
int ws_logfile_reopen(struct ws_logfile *f, char *err, size_t errlen);
void ws_logfile_close(struct ws_logfile *f);

/* A writer over one log file: the TSV and JSON writers start with it. */
struct ws_logwriter {
	struct ws_writer w;
	struct ws_logfile log;
};
/*
 * Allocate size (>= sizeof(struct ws_logwriter), zeroed) bytes and open the
 * file; reopen and close are set, the record functions are the caller's.
 * NULL with err set.
 */
struct ws_logwriter *ws_logwriter_new(size_t size, int dirfd, const char *name,
				      const char *header, char *err, size_t errlen);
/* Append one line (ending in LF); a failure counts in w.dropped. 0 or -1. */
int ws_logwriter_put(struct ws_logwriter *lw, const char *line, size_t len);

/* TSV: the event log and the fetch log, same columns and headers as ever. */
#define WS_EVENTLOG_HEADER \
	"EventID\tTime\tSourceIP\tFileName\tSourcePort\tDestIP\tDestPort\tAction\tServer\tFetch"
#define WS_FETCHLOG_HEADER \
	"EventID\tTime\tServer\tFileName\tStatus\tBytes\tMD5\tSHA256\tPath\tSource\tKnown"

/*
 * Escape src[0..len) into dst (capacity cap, always NUL-terminated) so it can
 * never split or forge a TSV row nor open a quoted field: backslash, tab,
 * CR, LF, '"' and every byte outside 0x20..0x7e become \xNN; a leading '#'
 * becomes \x23. A value that does not fit is cut and ends in "...".
 * Returns strlen(dst). The result is printable ASCII and lossless when not
 * cut (undo each \xNN); cap >= 4 * len + 1 never cuts.
 */
size_t ws_tsv_escape(char *dst, size_t cap, const char *src, size_t len);

/* ISO 8601 UTC with microseconds: 2003-08-19T14:00:17.918435Z */
void ws_format_time(char *dst, size_t cap, const struct timeval *tv);

/* Largest first-column number in an existing TSV log (0 if none). */
uint64_t ws_tsv_last_id(int dirfd, const char *name);

/* Longest escaped TSV field; a longer value is cut and ends in "...". */
#define WS_TSV_FIELD_MAX 4096

/*
 * Open the writers; each creates its file in dirfd if missing (TSV with its
 * header). NULL with err set on failure. The events writer takes command
 * records, the files writer file records; both ignore the others.
 */
struct ws_writer *ws_tsv_events_open(int dirfd, const char *name, char *err, size_t errlen);
struct ws_writer *ws_tsv_files_open(int dirfd, const char *name, char *err, size_t errlen);
struct ws_writer *ws_json_open(int dirfd, const char *name, char *err, size_t errlen);

/*
 * JSON (events.json, syslog). One object per record, one line, compact, keys
 * in a fixed order:
 *
 *   {"event_type":"command","event_id":N,"timestamp":"...Z","src_ip":..,
 *    "src_port":N,"dest_ip":..,"dest_port":N,"proto":"TCP","community_id":..,
 *    "command":{"action","filename","server","fetch"}}
 *   {"event_type":"file","timestamp":..,[flow],"file":{"event_id":N|null,
 *    "filename","server","status","bytes":N,"md5","sha256","path","source",
 *    "known"}}
 *   {"event_type":"warning","timestamp":..,[flow],"warning":{"kind","detail"}}
 *
 * [flow] is src_ip, src_port, dest_ip, dest_port, proto, community_id, present
 * when the record has them (file: client is src, server_ep is dest).
 * community_id is Community ID v1, seed 0. Absent text is "" and event_id 0
 * (no command) is null.
 *
 * Wire bytes: a value that is valid UTF-8 (RFC 3629: no overlongs, no
 * surrogates; NUL and control characters allowed, JSON-escaped) is the JSON
 * string itself. Any other value is carried twice: "<key>" holds its TSV
 * escape (ws_tsv_escape: printable ASCII, \xNN for every other byte, the same
 * text as the TSV column) and "<key>_b64" holds the raw bytes in base64
 * (RFC 4648, padded). A value longer than WS_JSON_VALUE_MAX bytes is cut to
 * that many (at a character boundary when it is UTF-8) and gets
 * "<key>_truncated":true.
 */
#define WS_JSON_VALUE_MAX 4096

/* The JSON object of a record as one line without the newline; malloc'ed, NULL on ENOMEM. */
char *ws_json_command(const struct ws_cmd_record *r);
char *ws_json_file(const struct ws_file_record *r);
char *ws_json_warning(const struct ws_warn_record *r);

/* ------------------------------------------------------------------ syslog */

/*
 * Syslog: one message per record whose MSG is the record's JSON object,
 * MSGID "command", "file" or "warning"; severity notice (command), info
 * (file), warning (warning).
 *
 * Targets (hosts are numeric, never resolved; IPv6 in brackets):
 *   "local"           /dev/log, unix datagram
 *   "unix:/path"      a unix datagram socket
 *   "udp:HOST:PORT"   RFC 5426, one message per datagram
 *   "tcp:HOST:PORT"   RFC 6587 octet counting ("LEN SP MSG")
 * Network targets get RFC 5424 messages:
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
 * Unix sockets get what syslog(3) writes there and every local daemon parses
 * (rsyslog's imuxsock, journald, syslog-ng's system()):
 *   <PRI>Mmm dd hh:mm:ss APP-NAME[PROCID]: MSG   (local time)
 *
 * Sending never blocks: sockets are non-blocking, and what the kernel does
 * not take now waits in a queue of WS_SYSLOG_QUEUE bytes, sent on by the
 * next message or by ws_writer_flush() (call it from the main loop's tick).
 * A message that does not fit the queue, or is too big for a UDP datagram,
 * is dropped whole: the call returns -1 and w->dropped counts it. A TCP
 * connection that breaks loses its queue (counted; a frame is never resumed
 * on a new connection); the writer reconnects at most once a second, and a
 * unix socket whose daemon restarted is connected again. A TCP collector
 * down at open time is not an error (retried later); for unix and UDP
 * targets it is.
 */
#define WS_SYSLOG_QUEUE (256 * 1024)

struct ws_syslog_params {
	const char *target;	/* as above */
	const char *facility;	/* "daemon", "local0" .. "local7", ... */
	const char *app_name;	/* "wormsnare" */
	const char *hostname;	/* NULL: gethostname() */
};
/* Connects (the unix socket too) now, so it works after chroot. */
struct ws_writer *ws_syslog_open(const struct ws_syslog_params *p, char *err, size_t errlen);

/* Facility code (0..23) of a name ("kern", "user", ..., "local7"), or -1. */
int ws_syslog_facility(const char *name);
/* Check a target's syntax (no I/O): 0, or -1 with why set. */
int ws_syslog_target_check(const char *target, char *why, size_t whylen);

#endif
