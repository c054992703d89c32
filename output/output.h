/*
 * output/ — the whole interface: records (raw values, as the analysis
 * produced them) and the writers that turn them into lines (Suricata's EVE
 * model: records first, then one module per output format owning its schema
 * and its escaping).
 *
 *   tsv.c      blasterlog.txt and fetchlog.txt (the historic columns)
 *   json.c     events.json: one JSON object per line (jansson)
 *   syslog.c   RFC 5424 messages carrying the JSON object
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
 * endpoints ordered as the spec says. dst must hold 64 bytes. Returns dst.
 */
const char *ws_community_id(char *dst, size_t cap, uint16_t seed, uint8_t proto,
			    const struct ws_endpoint *src, const struct ws_endpoint *dst_ep);

/* ----------------------------------------------------------------- writers */

/* One output format. Each function returns 0, or -1 with errno set. */
struct ws_writer {
	const char *name;
	int (*command)(struct ws_writer *w, const struct ws_cmd_record *r);
	int (*file)(struct ws_writer *w, const struct ws_file_record *r);
	int (*warning)(struct ws_writer *w, const struct ws_warn_record *r);	/* may be NULL */
	int (*reopen)(struct ws_writer *w);	/* after logrotate; may be NULL */
	void (*close)(struct ws_writer *w);	/* frees w */
};

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
 * Returns strlen(dst).
 */
size_t ws_tsv_escape(char *dst, size_t cap, const char *src, size_t len);

/* ISO 8601 UTC with microseconds: 2003-08-19T14:00:17.918435Z */
void ws_format_time(char *dst, size_t cap, const struct timeval *tv);

/* Largest first-column number in an existing TSV log (0 if none). */
uint64_t ws_tsv_last_id(int dirfd, const char *name);

/*
 * Open the writers; each creates its file in dirfd if missing (TSV with its
 * header). NULL with err set on failure. fetch_log may be NULL (no file rows).
 */
struct ws_writer *ws_tsv_events_open(int dirfd, const char *name, char *err, size_t errlen);
struct ws_writer *ws_tsv_files_open(int dirfd, const char *name, char *err, size_t errlen);
struct ws_writer *ws_json_open(int dirfd, const char *name, char *err, size_t errlen);

/* The JSON object of a record as one line without the newline; malloc'ed, NULL on ENOMEM. */
char *ws_json_command(const struct ws_cmd_record *r);
char *ws_json_file(const struct ws_file_record *r);
char *ws_json_warning(const struct ws_warn_record *r);

struct ws_syslog_params {
	const char *target;	/* "local" (/dev/log), "unix:/path", "udp:HOST:PORT", "tcp:HOST:PORT" */
	const char *facility;	/* "daemon", "local0" .. "local7", ... */
	const char *app_name;	/* "wormsnare" */
	const char *hostname;	/* NULL: gethostname() */
};
/* Connects (or binds the unix socket path) now, so it works after chroot. */
struct ws_writer *ws_syslog_open(const struct ws_syslog_params *p, char *err, size_t errlen);

#endif
