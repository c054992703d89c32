/*
 * ftp/ — the whole interface: the FTP control codec (RFC 959, 2428), the
 * passive tracker that carves files from FTP sessions seen on the wire, and
 * the fetch engine (libcurl) the unprivileged fetcher runs.
 *
 * The codec knows nothing of sockets, files or policy; the tracker knows
 * neither sockets nor files (it calls the caller's ops); the fetch engine
 * knows sockets but not files (data goes to a sink callback, e.g. the
 * hashing sink of tftp/).
 */
#ifndef WS_FTP_H
#define WS_FTP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "base.h"
#include "tftp.h"	/* ws_tftp_sink, enum ws_tftp_xfer_state: one shape for both engines */

/* ------------------------------------------------------------------ codec */

/*
 * Longest control line kept, terminator excluded. RFC 959 sets no limit;
 * servers commonly cap a command near 512 (vsftpd: 4096). A longer line is
 * cut here, its rest skipped up to the LF, and flagged.
 */
#define WS_FTP_LINE_MAX 2048
#define WS_FTP_TEXT_MAX 256	/* reply text kept (first line), NUL included */

enum ws_ftp_cmd {
	WS_FTP_CMD_OTHER = 0,	/* a well-formed verb we do not track */
	WS_FTP_CMD_USER, WS_FTP_CMD_PASS, WS_FTP_CMD_ACCT, WS_FTP_CMD_TYPE,
	WS_FTP_CMD_MODE, WS_FTP_CMD_STRU, WS_FTP_CMD_PORT, WS_FTP_CMD_EPRT,
	WS_FTP_CMD_PASV, WS_FTP_CMD_EPSV, WS_FTP_CMD_RETR, WS_FTP_CMD_STOR,
	WS_FTP_CMD_STOU, WS_FTP_CMD_APPE, WS_FTP_CMD_REST, WS_FTP_CMD_LIST,
	WS_FTP_CMD_NLST, WS_FTP_CMD_MLSD, WS_FTP_CMD_CWD, WS_FTP_CMD_QUIT,
	WS_FTP_CMD_ABOR, WS_FTP_CMD_REIN
};

enum ws_ftp_parse_result {
	WS_FTP_OK = 0,
	WS_FTP_INVALID = -2	/* not an FTP command / reply line */
};

/* One client command line. */
struct ws_ftp_command {
	enum ws_ftp_cmd cmd;
	char verb[5];			/* upper-cased, 3 or 4 letters */
	const uint8_t *arg;		/* after the verb and one space; points into the line */
	size_t arglen;			/* trailing CR removed */
	bool ep_set;			/* PORT/EPRT: a valid endpoint */
	struct ws_endpoint ep;
	char type;			/* TYPE: 'A', 'E', 'I', 'L' (upper-cased), 0 if bad */
};

/*
 * Parse one command line (the bytes before LF; a CR before it is dropped).
 * Telnet IAC sequences in front (Windows ftp.exe sends IAC IP IAC DM before
 * ABOR, RFC 959 4.1.3) are skipped. Never reads outside line[0..len).
 */
enum ws_ftp_parse_result ws_ftp_parse_command(const uint8_t *line, size_t len,
					      struct ws_ftp_command *out);
const char *ws_ftp_cmd_name(enum ws_ftp_cmd c);

/*
 * Whether a server's first bytes are an FTP greeting ("220 " or "220-",
 * RFC 959 5.4: the reply to the connection): screening for control
 * connections on ports nobody named.
 */
bool ws_ftp_is_greeting(const uint8_t *b, size_t len);

/* "h1,h2,h3,h4,p1,p2" (PORT argument, RFC 959 4.1.2) -> IPv4 endpoint. */
bool ws_ftp_parse_hostport(const uint8_t *s, size_t len, struct ws_endpoint *ep);
/* "<d>af<d>addr<d>port<d>" (EPRT argument, RFC 2428 2). */
bool ws_ftp_parse_eprt(const uint8_t *s, size_t len, struct ws_endpoint *ep);

/* A whole reply, possibly multi-line (RFC 959 4.2). */
struct ws_ftp_reply {
	unsigned code;			/* 100 .. 599 */
	char text[WS_FTP_TEXT_MAX];	/* first line's text, cut, raw bytes (NUL-free) */
	unsigned lines;
	bool pasv_set;			/* 227: (h1,h2,h3,h4,p1,p2) found in the text */
	struct ws_endpoint pasv;
	bool epsv_set;			/* 229: (|||port|) found */
	uint16_t epsv_port;
	bool size_set;			/* 125/150: "(N bytes)" found */
	uint64_t size;
};

/* Collects the lines of one reply at a time. Zero it to start. */
struct ws_ftp_reply_reader {
	struct ws_ftp_reply r;
	bool in_multi;		/* inside "ddd-" ... "ddd " */
};

/*
 * Feed one reply line (before its LF). 1: r now holds a complete reply
 * (copy it out before the next call); 0: more lines wanted; WS_FTP_INVALID:
 * the line is not a reply line where one must start (ignored).
 */
int ws_ftp_reply_feed(struct ws_ftp_reply_reader *rd, const uint8_t *line, size_t len);

/* 227 text: the first "h1,h2,h3,h4,p1,p2" anywhere (RFC 1123 4.1.2.6). */
bool ws_ftp_find_pasv(const uint8_t *s, size_t len, struct ws_endpoint *ep);
/* 229 text: "(<d><d><d>port<d>)" (RFC 2428 3). */
bool ws_ftp_find_epsv(const uint8_t *s, size_t len, uint16_t *port);
/* 125/150 text: "(N bytes)" as most servers write it (not in any RFC). */
bool ws_ftp_find_size(const uint8_t *s, size_t len, uint64_t *size);

/* -------------------------------------------------------- passive tracker */

/*
 * Follows FTP control connections seen on the wire (fed as in-order bytes
 * per direction by the reassembler), announces the data connections they
 * set up (expect op), and hands out the files that cross them. The caller
 * decides which connections are FTP control (port 21, ports named by
 * ftp-get events, a "220 " greeting) and feeds them; data connections are
 * fed when the reassembler matches an expectation.
 */

/*
 * A TCP connection as the reassembler sees it: client opened it (sent the
 * SYN), server accepted. For a control connection that is the FTP client
 * and server; for an active-mode data connection it is the other way round
 * (the FTP server connects), which the tracker knows.
 */
struct ws_ftp_flow {
	struct ws_endpoint client, server;
};

/* Who sent the bytes: flow.client or flow.server. */
enum ws_ftp_side { WS_FTP_FROM_CLIENT, WS_FTP_FROM_SERVER };

/* How a connection ended. */
enum ws_ftp_close { WS_FTP_CLOSE_FIN, WS_FTP_CLOSE_RST, WS_FTP_CLOSE_TIMEOUT };

enum ws_ftp_mode { WS_FTP_MODE_NONE, WS_FTP_MODE_ACTIVE, WS_FTP_MODE_PASSIVE };

enum ws_ftp_end {
	WS_FTP_COMPLETE,	/* data closed with FIN, 2xx final reply, size as announced */
	WS_FTP_INCOMPLETE,	/* see info.why */
	WS_FTP_ERROR,		/* a 4xx/5xx reply to RETR/STOR (info.reply_code/text) */
	WS_FTP_TOO_LARGE,	/* beyond max_file_size (or announced so) */
	WS_FTP_EVICTED		/* pushed out by the max_sessions / max_transfers limits */
};

#define WS_FTP_NAME_MAX 512	/* file name and user kept, NUL included */

struct ws_ftp_file_info {
	uint64_t serial;			/* tracker's own counter, from 1 */
	struct ws_ftp_flow control;		/* client = the FTP client */
	struct ws_ftp_flow data;		/* as opened; zero until a data connection */
	enum ws_ftp_mode mode;
	bool elsewhere;				/* PORT/227 named an address that is not the
						   control connection's peer (bounce, NAT) */
	bool upload;				/* STOR/STOU/APPE: bytes flow client -> server */
	char user[WS_FTP_NAME_MAX];		/* raw (escape before use); "" before USER */
	char filename[WS_FTP_NAME_MAX];		/* RETR/STOR argument, raw */
	bool filename_cut;			/* longer than WS_FTP_NAME_MAX - 1 */
	char type;				/* last TYPE ('A', 'I', ...), 0 if none */
	bool size_set;				/* 125/150 announced the size */
	uint64_t size;
	uint64_t bytes;				/* file bytes seen */
	struct timeval first, last;		/* capture times */
	unsigned reply_code;			/* last reply to the command (1xx..5xx), 0 none */
	char reply_text[WS_FTP_TEXT_MAX];	/* its first line, raw */
	const char *why;			/* WS_FTP_INCOMPLETE: "cut", "no-226", "short",
						   "no-data", "idle", "control-closed" */
};

struct ws_ftp_ops {
	/*
	 * A data connection is about to come: from `connector` (port 0: any
	 * port) to `listener`, within ttl seconds. Active mode: the server
	 * connects to the PORT endpoint; passive: the client connects to the
	 * 227/229 endpoint. May be NULL.
	 */
	void (*expect)(void *arg, const struct ws_endpoint *connector,
		       const struct ws_endpoint *listener, int ttl_s);
	/* A RETR/STOR began. Return a handle, or NULL to ignore this file. */
	void *(*open)(void *arg, const struct ws_ftp_file_info *info);
	/* File bytes at offset, in order. 0, or -1 to give up (ends incomplete). */
	int (*write)(void *arg, void *handle, uint64_t offset, const uint8_t *data, size_t len);
	/* The transfer ended; handle is never used again. */
	void (*close)(void *arg, void *handle, const struct ws_ftp_file_info *info,
		      enum ws_ftp_end how);
};

struct ws_ftp_track_params {
	int idle_timeout;		/* seconds of capture time */
	size_t max_sessions;		/* control connections followed at once */
	size_t max_transfers;		/* files open at once */
	uint64_t max_file_size;		/* per transfer */
	size_t max_early;		/* data bytes held per connection before its RETR */
	struct ws_ftp_ops ops;
	void *arg;
};

struct ws_ftp_track_stats {
	uint64_t sessions, commands, replies, transfers, complete, incomplete, errors,
		 too_large, evicted, data_connections, data_unmatched, listings,
		 long_lines, bad_lines, early_dropped, port_elsewhere, resyncs;
};

struct ws_ftp_tracker;

struct ws_ftp_tracker *ws_ftp_tracker_new(const struct ws_ftp_track_params *p);
/* In-order bytes of one direction of a control connection. */
void ws_ftp_ctl_data(struct ws_ftp_tracker *t, const struct ws_ftp_flow *ctl,
		     enum ws_ftp_side side, const uint8_t *bytes, size_t len,
		     const struct timeval *ts);
/* A hole in one direction of a control connection: its current line is dropped, unread. */
void ws_ftp_ctl_gap(struct ws_ftp_tracker *t, const struct ws_ftp_flow *ctl,
		    enum ws_ftp_side side, const struct timeval *ts);
/* The control connection ended: its open transfers end once their data does. */
void ws_ftp_ctl_end(struct ws_ftp_tracker *t, const struct ws_ftp_flow *ctl,
		    enum ws_ftp_close how, const struct timeval *ts);
/* Whether a new connection is a data connection a session announced. */
bool ws_ftp_data_expected(const struct ws_ftp_tracker *t, const struct ws_ftp_flow *data);
/* In-order bytes of a data connection; false if it belongs to no session. */
bool ws_ftp_data(struct ws_ftp_tracker *t, const struct ws_ftp_flow *data,
		 enum ws_ftp_side side, const uint8_t *bytes, size_t len,
		 const struct timeval *ts);
void ws_ftp_data_end(struct ws_ftp_tracker *t, const struct ws_ftp_flow *data,
		     enum ws_ftp_close how, const struct timeval *ts);
/* A hole in a data connection: its file is missing bytes and ends incomplete ("cut"). */
void ws_ftp_data_gap(struct ws_ftp_tracker *t, const struct ws_ftp_flow *data);
/* End what has been idle longer than idle_timeout at capture time now. */
void ws_ftp_tracker_sweep(struct ws_ftp_tracker *t, const struct timeval *now);
const struct ws_ftp_track_stats *ws_ftp_tracker_stats(const struct ws_ftp_tracker *t);
size_t ws_ftp_tracker_sessions(const struct ws_ftp_tracker *t);
size_t ws_ftp_tracker_transfers(const struct ws_ftp_tracker *t);
/* Ends every open transfer (incomplete unless finished) and frees. */
void ws_ftp_tracker_free(struct ws_ftp_tracker *t);
const char *ws_ftp_end_name(enum ws_ftp_end e);
const char *ws_ftp_mode_name(enum ws_ftp_mode m);
/*
 * The fetch-log Status of an ended transfer: "ok", "incomplete",
 * "too-large", "evicted", or "ftp-error:550:<text>" with the text cut to
 * 100 bytes and ':' and control bytes replaced (the TSV escape does the rest).
 */
const char *ws_ftp_end_status(enum ws_ftp_end how, const struct ws_ftp_file_info *info,
			      char *buf, size_t cap);

/* --------------------------------------------------------- fetch engine */

struct ws_ftp_fetch_params {
	struct ws_endpoint server;	/* where to connect (fetch.ftp_redirect applied) */
	const char *remote;		/* RETR argument as the script gave it */
	const char *user, *pass;	/* NULL or "": anonymous */
	unsigned connect_timeout_s;	/* per connection attempt */
	unsigned timeout_s;		/* overall deadline, both modes together */
	uint64_t max_size;		/* "too-large" beyond this */
	bool active_fallback;		/* try PORT/EPRT when passive cannot open the data link */
	ws_tftp_sink sink;
	void *sink_arg;
};

struct ws_ftp_fetch;

/* libcurl's global setup: call once, before chroot/seccomp (OpenSSL reads its config). */
int ws_ftp_fetch_global_init(void);
void ws_ftp_fetch_global_cleanup(void);

/* Start a download (nothing blocks). NULL with err set on bad parameters. */
struct ws_ftp_fetch *ws_ftp_fetch_start(const struct ws_ftp_fetch_params *p, int64_t now_ms,
					char *err, size_t errlen);
/* The descriptors to poll now (at most cap; 4 is always enough); returns how many. */
size_t ws_ftp_fetch_fds(const struct ws_ftp_fetch *f, struct pollfd *fds, size_t cap);
/* Monotonic ms at which ws_ftp_fetch_step must run even without events. */
int64_t ws_ftp_fetch_deadline(const struct ws_ftp_fetch *f);
/* Handle the poll results for this fetch's fds (may be NULL/0) and timers. */
enum ws_tftp_xfer_state ws_ftp_fetch_step(struct ws_ftp_fetch *f, const struct pollfd *fds,
					  size_t n, int64_t now_ms);
enum ws_tftp_xfer_state ws_ftp_fetch_state(const struct ws_ftp_fetch *f);
/* "ok", "timeout", "too-large", "incomplete", "ftp-error:550:<text>",
   "connect-failed:<why>", "write-error:<why>", "ftp-failed:<why>", ... */
const char *ws_ftp_fetch_status(const struct ws_ftp_fetch *f);
uint64_t ws_ftp_fetch_bytes(const struct ws_ftp_fetch *f);
/* The mode of the last attempt. */
enum ws_ftp_mode ws_ftp_fetch_mode(const struct ws_ftp_fetch *f);
void ws_ftp_fetch_free(struct ws_ftp_fetch *f);

#endif
