/*
 * tftp/ — the whole interface: the TFTP codec (RFC 1350, 2347-2349), the
 * client transfer engine built on it, and the passive tracker.
 *
 * The codec knows nothing of sockets, files or policy; the client engine
 * knows sockets but not files (data goes to a sink callback); the tracker
 * follows transfers seen on the wire. The fetcher process is in fetch/.
 */
#ifndef WS_TFTP_H
#define WS_TFTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <nettle/md5.h>
#include <nettle/sha2.h>
#include <sys/time.h>

#include "base.h"

/* ------------------------------------------------------------------ codec */

enum ws_tftp_op {
	WS_TFTP_RRQ = 1, WS_TFTP_WRQ = 2, WS_TFTP_DATA = 3,
	WS_TFTP_ACK = 4, WS_TFTP_ERROR = 5, WS_TFTP_OACK = 6
};

enum ws_tftp_err {
	WS_TFTP_EUNDEF = 0, WS_TFTP_ENOTFOUND = 1, WS_TFTP_EACCESS = 2,
	WS_TFTP_ENOSPACE = 3, WS_TFTP_EBADOP = 4, WS_TFTP_EBADID = 5,
	WS_TFTP_EEXISTS = 6, WS_TFTP_ENOUSER = 7, WS_TFTP_EOPTNEG = 8
};

enum ws_tftp_decode_result {
	WS_TFTP_OK = 0,
	WS_TFTP_TRUNCATED = -1,	/* ran out of bytes (e.g. no NUL before the end) */
	WS_TFTP_INVALID = -2	/* bytes contradict the protocol */
};

#define WS_TFTP_NAME_MAX 512	/* filename / mode / errmsg kept, NUL included */
#define WS_TFTP_BLKSIZE_MIN 8
#define WS_TFTP_BLKSIZE_MAX 65464
#define WS_TFTP_DEFAULT_BLKSIZE 512
#define WS_TFTP_PKT_MAX (4 + WS_TFTP_BLKSIZE_MAX)

/* RFC 2347 options we understand; *_set says whether it was present. */
struct ws_tftp_opts {
	bool blksize_set, tsize_set, timeout_set;
	uint32_t blksize;	/* 8 .. 65464 */
	uint64_t tsize;
	uint32_t timeout;	/* 1 .. 255 */
	unsigned unknown;	/* options present but not understood */
};

struct ws_tftp_pkt {
	enum ws_tftp_op op;
	char filename[WS_TFTP_NAME_MAX];	/* RRQ/WRQ */
	char mode[32];				/* RRQ/WRQ, lower-cased */
	uint16_t block;				/* DATA/ACK */
	const uint8_t *data;			/* DATA: points into the decoded buffer */
	size_t datalen;
	uint16_t errcode;			/* ERROR */
	char errmsg[WS_TFTP_NAME_MAX];		/* ERROR */
	struct ws_tftp_opts opts;		/* RRQ/WRQ/OACK */
};

/* Decode one datagram. Never reads outside buf[0..len). */
enum ws_tftp_decode_result ws_tftp_decode(const uint8_t *buf, size_t len,
					  struct ws_tftp_pkt *out);
/* Encode; returns bytes written, 0 if it does not fit in cap or is malformed. */
size_t ws_tftp_encode(const struct ws_tftp_pkt *p, uint8_t *buf, size_t cap);
const char *ws_tftp_op_name(unsigned op);

/* ------------------------------------------------------- client transfers */

/* Receives the file's bytes in order; return 0, or -1 to abort (errno set). */
typedef int (*ws_tftp_sink)(void *arg, const uint8_t *data, size_t len);

struct ws_tftp_xfer_params {
	struct sockaddr_in server;	/* where the RRQ goes (port usually 69) */
	const char *remote;		/* file name asked for */
	unsigned blksize;		/* 0: no options at all; else ask blksize+tsize+timeout */
	unsigned timeout_s;		/* retransmission timeout, 1 .. 255 */
	unsigned retries;		/* retransmissions before "timeout" */
	uint64_t max_size;		/* abort with "too-large" beyond this */
	ws_tftp_sink sink;
	void *sink_arg;
};

enum ws_tftp_xfer_state { WS_XFER_RUNNING, WS_XFER_DONE, WS_XFER_FAILED };

struct ws_tftp_xfer;

/* Create the socket and send the RRQ. NULL with err set on failure. */
struct ws_tftp_xfer *ws_tftp_xfer_start(const struct ws_tftp_xfer_params *p, int64_t now_ms,
					char *err, size_t errlen);
int ws_tftp_xfer_fd(const struct ws_tftp_xfer *x);
/* Monotonic ms at which ws_tftp_xfer_timer must be called. */
int64_t ws_tftp_xfer_deadline(const struct ws_tftp_xfer *x);
/* The socket is readable: read and handle every pending datagram. */
enum ws_tftp_xfer_state ws_tftp_xfer_input(struct ws_tftp_xfer *x, int64_t now_ms);
/* The deadline passed: retransmit or give up. */
enum ws_tftp_xfer_state ws_tftp_xfer_timer(struct ws_tftp_xfer *x, int64_t now_ms);
enum ws_tftp_xfer_state ws_tftp_xfer_state(const struct ws_tftp_xfer *x);
/* "ok", "timeout", "too-large", "tftp-error:<code>:<msg>", "write-error:<why>", ... */
const char *ws_tftp_xfer_status(const struct ws_tftp_xfer *x);
uint64_t ws_tftp_xfer_bytes(const struct ws_tftp_xfer *x);
/* Packets ignored because they came from another TID (answered with ERROR 5). */
unsigned ws_tftp_xfer_foreign(const struct ws_tftp_xfer *x);
void ws_tftp_xfer_free(struct ws_tftp_xfer *x);

/* A sink that writes the file to fd and hashes it on the way (MD5, SHA-256). */
struct ws_hash_sink {
	int fd;
	struct md5_ctx md5;
	struct sha256_ctx sha;
};
void ws_hash_sink_init(struct ws_hash_sink *s, int fd);
/* A ws_tftp_sink: arg is the struct ws_hash_sink. */
int ws_hash_sink_write(void *arg, const uint8_t *data, size_t len);
/* Lower-case hex digests of everything written; ends the hashing. */
void ws_hash_sink_hex(struct ws_hash_sink *s, char md5_hex[33], char sha256_hex[65]);

/* -------------------------------------------------------- passive tracker */

/*
 * Follows TFTP transfers seen on the wire (no sockets): RRQ/WRQ to the
 * server port, then DATA/ACK/OACK/ERROR between the client and the server's
 * new port (its TID). DATA blocks are handed out with their file offset as
 * they arrive (out of order and duplicates included), so the caller can
 * pwrite them to a file and never hold a transfer in memory.
 */

enum ws_carve_end {
	WS_CARVE_COMPLETE,	/* every block up to a short final block seen */
	WS_CARVE_INCOMPLETE,	/* idle timeout or shutdown with blocks missing */
	WS_CARVE_ERROR,		/* an ERROR packet ended it */
	WS_CARVE_TOO_LARGE,	/* beyond max_file_size */
	WS_CARVE_EVICTED	/* pushed out by the max_transfers limit */
};

struct ws_carve_info {
	uint64_t serial;		/* tracker's own counter, from 1 */
	struct ws_addr client, server;	/* client sent the request */
	uint16_t client_port, server_port;	/* server_port: where the request went */
	uint16_t data_port;		/* the server's TID, 0 until seen */
	bool upload;			/* WRQ: DATA flows client -> server */
	char filename[WS_TFTP_NAME_MAX];	/* raw from the wire (escape before use) */
	char mode[32];
	uint32_t blksize;		/* negotiated (512 without OACK) */
	bool tsize_set;
	uint64_t tsize;
	struct timeval first, last;	/* capture times */
	uint64_t bytes;			/* file size known so far (highest offset + len) */
	uint64_t blocks_missing;	/* at the end: holes below the final block (a lower
					   bound, from tsize if known, when it was never seen) */
	uint16_t errcode;		/* WS_CARVE_ERROR */
	char errmsg[WS_TFTP_NAME_MAX];
};

struct ws_carve_ops {
	/* A transfer began. Return a handle, or NULL to ignore this transfer. */
	void *(*open)(void *arg, const struct ws_carve_info *info);
	/* File bytes at offset; called once per distinct non-empty block. 0, or -1 to give up. */
	int (*write)(void *arg, void *handle, uint64_t offset, const uint8_t *data, size_t len);
	/* The transfer ended; handle is never used again. */
	void (*close)(void *arg, void *handle, const struct ws_carve_info *info,
		      enum ws_carve_end how);
};

struct ws_carve_params {
	uint16_t server_port;		/* usually 69 */
	int idle_timeout;		/* seconds of capture time */
	size_t max_transfers;		/* followed at once; the oldest is evicted beyond */
	uint64_t max_file_size;		/* per transfer */
	struct ws_carve_ops ops;
	void *arg;
};

struct ws_carve_stats {
	uint64_t datagrams, transfers, complete, incomplete, errors, too_large, evicted;
	uint64_t duplicates, out_of_order, foreign, malformed;
};

struct ws_carver;

struct ws_carver *ws_carver_new(const struct ws_carve_params *p);
/* One UDP datagram's payload, from src to dst. */
void ws_carver_datagram(struct ws_carver *c, const struct timeval *ts,
			const struct ws_endpoint *src, const struct ws_endpoint *dst,
			const uint8_t *payload, size_t len);
/* End transfers idle longer than idle_timeout at capture time now. */
void ws_carver_sweep(struct ws_carver *c, const struct timeval *now);
const struct ws_carve_stats *ws_carver_stats(const struct ws_carver *c);
size_t ws_carver_active(const struct ws_carver *c);
/* Ends every transfer (complete ones as complete, others incomplete) and frees. */
void ws_carver_free(struct ws_carver *c);
const char *ws_carve_end_name(enum ws_carve_end e);

#endif
