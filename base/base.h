/*
 * base/ — the whole interface: what every other folder may include and
 * nothing in it includes anything of ours.
 *
 *  - struct ws_addr: a family-neutral address (IPv4 now, IPv6 ready), used
 *    through every interface instead of a bare uint32_t;
 *  - struct ws_cursor: the bounds-checked reader for wire bytes (tcpdump's
 *    bp/length pair with GET_* accessors): every read checks the bytes left,
 *    a failed read sets a sticky flag and returns 0, so a parser reads its
 *    fields and checks the flag once.
 */
#ifndef WS_BASE_H
#define WS_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

/* ---------------------------------------------------------------- addresses */

#define WS_AF_NONE 0
#define WS_AF_INET 4
#define WS_AF_INET6 6

/* Bytes in network order; IPv4 uses a[0..3], the rest stays zero. */
struct ws_addr {
	uint8_t family;		/* WS_AF_NONE, WS_AF_INET or WS_AF_INET6 */
	uint8_t a[16];
};

/* Longest text form ("ffff:...:255.255.255.255") plus NUL. */
#define WS_ADDR_STRLEN 48

/* From an IPv4 address in network byte order (as in struct in_addr). */
struct ws_addr ws_addr_v4(uint32_t net_order);
/* From an IPv4 address in host byte order. */
struct ws_addr ws_addr_v4h(uint32_t host_order);
/* IPv4 in host byte order; 0 for any other family. */
uint32_t ws_addr_v4_host(const struct ws_addr *a);
bool ws_addr_is_v4(const struct ws_addr *a);
bool ws_addr_eq(const struct ws_addr *x, const struct ws_addr *y);
/* Text form into dst (at least WS_ADDR_STRLEN); returns dst. "-" for WS_AF_NONE. */
const char *ws_addr_str(const struct ws_addr *a, char *dst, size_t cap);
/* Canonical dotted quad or IPv6 text; 0 or -1. */
int ws_addr_parse(const char *s, struct ws_addr *out);
/* Address length in bytes for the family (4, 16 or 0). */
size_t ws_addr_len(const struct ws_addr *a);

/* An address and a port (host order). */
struct ws_endpoint {
	struct ws_addr addr;
	uint16_t port;
};

/* The two ends of a TCP connection: the client sent the SYN (or, picked up
 * mid-stream, is the side a reassembler decided on). */
enum ws_side { WS_SIDE_CLIENT = 0, WS_SIDE_SERVER = 1 };
#define WS_SIDE_UNKNOWN (-1)

/* --------------------------------------------------------------------- time */

/* CLOCK_MONOTONIC in milliseconds: for timeouts and backoffs, never for capture time. */
int64_t ws_now_ms(void);

/* ------------------------------------------------------------------ status */

#define WS_ERROR_TEXT_SHOWN 100

/*
 * The status of a transfer a server refused: "<proto>-error:<code>:<text>",
 * the text cut to WS_ERROR_TEXT_SHOWN bytes, ':' and every byte outside
 * printable ASCII as '?'. Written into buf; returns buf.
 */
const char *ws_error_status(char *buf, size_t cap, const char *proto, unsigned code,
			    const char *text);

/* At most cap - 1 of src's n bytes into dst, NUL-terminated; returns how many were kept. */
size_t ws_copy_cut(char *dst, size_t cap, const char *src, size_t n);

/*
 * After a hole in a byte stream: skip *p past the next LF (the rest of the
 * line the hole cut). False when there is none: all n bytes belong to it.
 */
bool ws_skip_cut_line(const uint8_t **p, size_t *n);

/*
 * Is now more than limit_s seconds after last? Capture times are wire data
 * and may be anything, so no difference is formed that could overflow; a
 * now before last is never idle.
 */
bool ws_idle_longer(const struct timeval *last, const struct timeval *now, long limit_s);

/*
 * The capture times the sensor works with: 1970-01-01 to 9999-12-31 UTC
 * (where time_t has 64 bits), microseconds 0 to 999999. A savefile's time
 * is wire data (pcapng's if_tsoffset alone makes any 64-bit second count),
 * and the clock's sums downstream (now + an hour, until = now + ttl) must
 * not overflow; ISO 8601 in the logs keeps four-digit years.
 */
#define WS_TIME_MAX ((time_t)(sizeof(time_t) > 4 ? 253402300799LL : 2000000000LL))
/*
 * tv into that range (each field to its nearest bound); false if it had to
 * move. Inline: capture calls it for every packet.
 */
static inline bool ws_time_bound(struct timeval *tv)
{
	bool in = true;

	if (tv->tv_sec < 0 || tv->tv_sec > WS_TIME_MAX)
		tv->tv_sec = tv->tv_sec < 0 ? 0 : WS_TIME_MAX, in = false;
	if (tv->tv_usec < 0 || tv->tv_usec > 999999)
		tv->tv_usec = tv->tv_usec < 0 ? 0 : 999999, in = false;
	return in;
}

/*
 * Wire text kept as a C string: at most cap - 1 of src's n bytes into dst,
 * each NUL byte as nul_as (so nothing after it is lost), NUL-terminated;
 * returns how many were kept.
 */
size_t ws_copy_text(char *dst, size_t cap, const void *src, size_t n, char nul_as);

/*
 * The C string src as a status field: at most cap - 1 bytes, ':' (the
 * field separator of a Status) and every byte outside printable ASCII as
 * '?', NUL-terminated. Returns dst.
 */
char *ws_status_text(char *dst, size_t cap, const char *src);

/* ----------------------------------------------------------------- checksum */

/*
 * The Internet checksum (RFC 1071) of p, added to sum, with the 16-bit
 * words taken in host order: RFC 1071 section 2(B), the sum is the same in
 * either byte order up to a swap of its two bytes, and "all ones" (the
 * verdict) is the same either way; a checksum computed this way is stored
 * as it lies in memory. Eight bytes per step, two 32-bit halves into a
 * 64-bit accumulator that cannot overflow below 2^32 steps. Inline: the
 * stream engine runs it per packet.
 */
static inline uint64_t ws_inet_sum(uint64_t sum, const uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		sum += (v & 0xffffffffu) + (v >> 32);
	}
	for (; i + 2 <= len; i += 2) {
		uint16_t w;

		memcpy(&w, p + i, 2);
		sum += w;
	}
	if (i < len) {
		uint8_t last[2] = {p[i], 0};	/* an odd byte is padded with a zero (RFC 1071) */
		uint16_t w;

		memcpy(&w, last, 2);
		sum += w;
	}
	return sum;
}

/* The sum folded to 16 bits (not complemented). */
static inline uint16_t ws_inet_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* ------------------------------------------------------------------- cursor */

struct ws_cursor {
	const uint8_t *p;
	size_t left;
	bool err;	/* sticky: a read ran past the end */
};

static inline struct ws_cursor ws_cursor(const void *buf, size_t len)
{
	struct ws_cursor c = {(const uint8_t *)buf, len, false};

	return c;
}

static inline bool ws_cur_have(struct ws_cursor *c, size_t n)
{
	if (c->err || c->left < n) {
		c->err = true;
		return false;
	}
	return true;
}

/* The next n bytes, skipped; NULL (and err) if fewer are left. Every read goes here. */
static inline const uint8_t *ws_cur_bytes(struct ws_cursor *c, size_t n)
{
	const uint8_t *p;

	if (!ws_cur_have(c, n))
		return NULL;
	p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

/* Skip n bytes. */
static inline void ws_cur_skip(struct ws_cursor *c, size_t n)
{
	(void)ws_cur_bytes(c, n);
}

static inline uint8_t ws_cur_u8(struct ws_cursor *c)
{
	const uint8_t *p = ws_cur_bytes(c, 1);

	return p ? p[0] : 0;
}

static inline uint16_t ws_cur_be16(struct ws_cursor *c)
{
	const uint8_t *p = ws_cur_bytes(c, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static inline uint16_t ws_cur_le16(struct ws_cursor *c)
{
	const uint8_t *p = ws_cur_bytes(c, 2);

	return p ? (uint16_t)(p[1] << 8 | p[0]) : 0;
}

static inline uint32_t ws_cur_be32(struct ws_cursor *c)
{
	const uint8_t *p = ws_cur_bytes(c, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static inline uint32_t ws_cur_le32(struct ws_cursor *c)
{
	const uint8_t *p = ws_cur_bytes(c, 4);

	return p ? (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0] : 0;
}

static inline uint64_t ws_cur_be64(struct ws_cursor *c)
{
	const uint8_t *p = ws_cur_bytes(c, 8);
	uint64_t v = 0;

	for (int i = 0; p && i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Copy the next n bytes into dst. */
static inline void ws_cur_copy(struct ws_cursor *c, void *dst, size_t n)
{
	const uint8_t *p = ws_cur_bytes(c, n);

	if (p)
		memcpy(dst, p, n);
}

/* A cursor over the next n bytes of c (c moves past them). */
static inline struct ws_cursor ws_cur_sub(struct ws_cursor *c, size_t n)
{
	const uint8_t *p = ws_cur_bytes(c, n);
	struct ws_cursor s = {p, p ? n : 0, p == NULL};

	return s;
}

/* ------------------------------------------------------------------- writer */

/*
 * The cursor's counterpart for building messages between our own processes:
 * integers big-endian, byte strings as a u16 length then the bytes. Writes
 * past cap set the sticky err and write nothing more.
 */
struct ws_wbuf {
	uint8_t *p;
	size_t cap, len;
	bool err;
};

static inline struct ws_wbuf ws_wbuf(void *buf, size_t cap)
{
	struct ws_wbuf w = {(uint8_t *)buf, cap, 0, false};

	return w;
}

void ws_put(struct ws_wbuf *w, const void *b, size_t n);
void ws_put_u8(struct ws_wbuf *w, uint8_t v);
void ws_put_be16(struct ws_wbuf *w, uint16_t v);
void ws_put_be32(struct ws_wbuf *w, uint32_t v);
void ws_put_be64(struct ws_wbuf *w, uint64_t v);
/* n bytes as u16 length + bytes (err when n > 65535). */
void ws_put_bytes16(struct ws_wbuf *w, const void *b, size_t n);
/* Family, the 16 address bytes, port. */
void ws_put_endpoint(struct ws_wbuf *w, const struct ws_endpoint *e);
/* The reads matching ws_put_bytes16 (a pointer into the buffer) and ws_put_endpoint. */
const uint8_t *ws_cur_bytes16(struct ws_cursor *c, size_t *n);
void ws_cur_endpoint(struct ws_cursor *c, struct ws_endpoint *e);

/* A message: u32 type, u32 payload length, then the payload. */
#define WS_MSG_HDR_LEN 8
struct ws_wbuf ws_msg_begin(void *buf, size_t cap, uint32_t type);
/* The message's length with its header filled in; 0 if anything did not fit. */
size_t ws_msg_finish(struct ws_wbuf *w);
/* The payload of exactly one message of this type, or an errored cursor. */
struct ws_cursor ws_msg_open(const void *buf, size_t len, uint32_t type);
/* The type of the message in buf, 0 when too short. */
uint32_t ws_msg_type(const void *buf, size_t len);

#endif
