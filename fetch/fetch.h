/*
 * fetch/ — the whole interface: the fetcher process and the messages the
 * sensor and the fetcher exchange over their SOCK_SEQPACKET socketpair.
 *
 * The fetcher talks to servers an attacker named, so it holds nothing: it is
 * re-executed from a clean image with only that socket, runs as its own user
 * chrooted into the samples area, writes no log, and answers each request
 * with a result (status, bytes, hashes, stored name) that the sensor logs.
 *
 * Messages (tcpdump privsep style): a fixed header, the payload length
 * checked against WS_FETCH_MSG_MAX before anything is read, strings as a
 * 16-bit length plus bytes with no NUL inside. Anything else is a protocol
 * error: the receiver counts it and drops the peer.
 */
#ifndef WS_FETCH_H
#define WS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

#define WS_FETCH_MSG_MAX 2048
#define WS_FETCH_NAME_MAX 256		/* remote file name, NUL included */
#define WS_FETCH_CRED_MAX 128		/* ftp user / password, NUL included */
#define WS_FETCH_STEM_MAX 72		/* sanitized stem: blast_<stem>_<eventid>.bin */
#define WS_FETCH_STATUS_MAX 160
#define WS_FETCH_PATH_MAX 160

enum ws_fetch_msg_type {
	WS_FMSG_REQ = 0x57535251u,	/* "WSRQ" sensor -> fetcher */
	WS_FMSG_RES = 0x57535253u,	/* "WSRS" fetcher -> sensor */
	WS_FMSG_PROBE = 0x57535350u,	/* "WSSP" sensor -> fetcher: try a forbidden call */
	WS_FMSG_DISCARD = 0x57535344u,	/* "WSSD" sensor -> fetcher: remove a stored copy */
};

enum ws_fetch_proto { WS_FETCH_TFTP = 1, WS_FETCH_FTP = 2 };

struct ws_fetch_req {
	uint64_t eventid;
	uint8_t proto;				/* enum ws_fetch_proto */
	struct ws_endpoint server;		/* where to connect */
	char remote[WS_FETCH_NAME_MAX];		/* file name to ask for (raw, from the wire) */
	char user[WS_FETCH_CRED_MAX];		/* ftp: "" = anonymous */
	char pass[WS_FETCH_CRED_MAX];
	char stem[WS_FETCH_STEM_MAX];		/* [A-Za-z0-9._-], no leading '.' */
};

struct ws_fetch_res {
	uint64_t eventid;
	bool ok;
	uint64_t bytes;
	char status[WS_FETCH_STATUS_MAX];	/* "ok", "timeout", "tftp-error:1:...", ... */
	char md5[33], sha256[65];		/* "" unless ok */
	char path[WS_FETCH_PATH_MAX];		/* stored name inside the samples area, "" unless ok */
};

/*
 * Encode into buf (at least WS_FETCH_MSG_MAX); returns the length, 0 when a
 * field does not fit. Decode returns 0, or -1 for anything malformed (wrong
 * type, short, trailing bytes, NUL inside a string, values out of range).
 */
size_t ws_fetch_req_encode(const struct ws_fetch_req *r, uint8_t *buf, size_t cap);
int ws_fetch_req_decode(const uint8_t *buf, size_t len, struct ws_fetch_req *out);
size_t ws_fetch_res_encode(const struct ws_fetch_res *r, uint8_t *buf, size_t cap);
int ws_fetch_res_decode(const uint8_t *buf, size_t len, struct ws_fetch_res *out);
/*
 * Discard: the fetcher's copy of a file the wire already gave with the same
 * bytes; path as the result named it (a plain name in the samples area).
 */
size_t ws_fetch_discard_encode(const char *path, uint8_t *buf, size_t cap);
int ws_fetch_discard_decode(const uint8_t *buf, size_t len, char path[WS_FETCH_PATH_MAX]);

/* The type of a message, 0 when too short to have one. */
uint32_t ws_fetch_msg_type(const uint8_t *buf, size_t len);

/* A stem the fetcher accepts: non-empty, [A-Za-z0-9._-], no leading '.'. */
bool ws_fetch_stem_ok(const char *s);

struct ws_fetcher_params {
	int sock;		/* our end of the socketpair */
	int dirfd;		/* the samples area */
	unsigned timeout_s, retries, blksize, concurrency, queue_size;
	uint64_t max_size;
	unsigned ftp_timeout_s, ftp_connect_timeout_s;	/* fetch.ftp_timeout, ..._connect_timeout */
	bool ftp_active_fallback;
};

/* The fetcher's main loop; returns the process exit status. */
int ws_fetcher_run(const struct ws_fetcher_params *p);

#endif
