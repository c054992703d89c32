/*
 * TFTP client transfer engine: one RRQ download per object, on its own
 * non-blocking UDP socket, driven by the caller's poll loop so that many
 * run at once. Octet mode; options with fallback; retransmission; the
 * server's transfer ID checked on every datagram; block numbers that wrap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tftp.h"

#define STATUS_MAX 160

struct ws_tftp_xfer {
	struct ws_tftp_xfer_params p;
	char remote[WS_TFTP_NAME_MAX];
	int fd;
	enum ws_tftp_xfer_state state;
	bool options_sent;	/* the RRQ carries options */
	bool tid_locked;
	struct sockaddr_in peer;	/* the server's TID once locked */
	uint32_t blksize;
	uint64_t next_block;	/* absolute number of the DATA we wait for, from 1 */
	uint64_t bytes;
	uint8_t last[WS_TFTP_PKT_MAX];	/* what to send again on timeout */
	size_t last_len;
	bool last_to_peer;	/* false: to p.server (the RRQ) */
	unsigned tries;
	int64_t deadline;
	unsigned foreign;
	char status[STATUS_MAX];
};

static enum ws_tftp_xfer_state finish(struct ws_tftp_xfer *x, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum ws_tftp_xfer_state finish(struct ws_tftp_xfer *x, bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->status, sizeof(x->status), fmt, ap);
	va_end(ap);
	x->state = ok ? WS_XFER_DONE : WS_XFER_FAILED;
	return x->state;
}

static void send_to(struct ws_tftp_xfer *x, const struct sockaddr_in *to, const uint8_t *b,
		    size_t n)
{
	/* UDP: a lost send is a lost datagram, which the retransmission covers */
	(void)sendto(x->fd, b, n, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof(*to));
}

/* Send and remember for retransmission. */
static void send_tracked(struct ws_tftp_xfer *x, const struct ws_tftp_pkt *pkt, bool to_peer,
			 int64_t now)
{
	x->last_len = ws_tftp_encode(pkt, x->last, sizeof(x->last));
	x->last_to_peer = to_peer;
	x->tries = 0;
	x->deadline = now + (int64_t)x->p.timeout_s * 1000;
	if (x->last_len)
		send_to(x, to_peer ? &x->peer : &x->p.server, x->last, x->last_len);
}

static void send_error(struct ws_tftp_xfer *x, const struct sockaddr_in *to, uint16_t code,
		       const char *msg)
{
	struct ws_tftp_pkt e = {.op = WS_TFTP_ERROR, .errcode = code};
	uint8_t b[128];
	size_t n;

	snprintf(e.errmsg, sizeof(e.errmsg), "%s", msg);
	n = ws_tftp_encode(&e, b, sizeof(b));
	if (n)
		send_to(x, to, b, n);
}

static void send_rrq(struct ws_tftp_xfer *x, bool with_options, int64_t now)
{
	struct ws_tftp_pkt r = {.op = WS_TFTP_RRQ};

	snprintf(r.filename, sizeof(r.filename), "%s", x->remote);
	strcpy(r.mode, "octet");
	x->options_sent = with_options;
	if (with_options) {
		r.opts.blksize_set = r.opts.tsize_set = r.opts.timeout_set = true;
		r.opts.blksize = x->p.blksize;
		r.opts.tsize = 0;
		r.opts.timeout = x->p.timeout_s;
	}
	send_tracked(x, &r, false, now);
}

static void send_ack(struct ws_tftp_xfer *x, uint16_t block, int64_t now)
{
	struct ws_tftp_pkt a = {.op = WS_TFTP_ACK, .block = block};

	send_tracked(x, &a, true, now);
}

struct ws_tftp_xfer *ws_tftp_xfer_start(const struct ws_tftp_xfer_params *p, int64_t now,
					char *err, size_t errlen)
{
	struct ws_tftp_xfer *x;
	struct sockaddr_in any = {.sin_family = AF_INET};

	if (!p->remote || !p->remote[0] || strlen(p->remote) >= WS_TFTP_NAME_MAX - 1 ||
	    (p->blksize && (p->blksize < WS_TFTP_BLKSIZE_MIN || p->blksize > WS_TFTP_BLKSIZE_MAX)) ||
	    p->timeout_s < 1 || p->timeout_s > 255 || !p->sink) {
		snprintf(err, errlen, "invalid transfer parameters");
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->p = *p;
	snprintf(x->remote, sizeof(x->remote), "%s", p->remote);
	x->p.remote = x->remote;
	x->blksize = WS_TFTP_DEFAULT_BLKSIZE;
	x->next_block = 1;
	x->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0 || bind(x->fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		if (x->fd >= 0)
			close(x->fd);
		free(x);
		return NULL;
	}
	x->state = WS_XFER_RUNNING;
	send_rrq(x, p->blksize != 0, now);
	return x;
}

/* "tftp-error:N:msg" with the server's text cut short and made printable. */
static enum ws_tftp_xfer_state server_error(struct ws_tftp_xfer *x, const struct ws_tftp_pkt *e)
{
	char status[WS_ERROR_TEXT_SHOWN + 32];

	ws_error_status(status, sizeof(status), "tftp", e->errcode, e->errmsg);
	return finish(x, false, "%s", status);
}

static enum ws_tftp_xfer_state on_oack(struct ws_tftp_xfer *x, const struct ws_tftp_pkt *o,
				       int64_t now)
{
	if (!x->options_sent || x->next_block != 1 || x->bytes) {
		send_error(x, &x->peer, WS_TFTP_EOPTNEG, "unexpected OACK");
		return finish(x, false, "bad-oack");
	}
	if (o->opts.blksize_set) {
		if (o->opts.blksize > x->p.blksize) {
			send_error(x, &x->peer, WS_TFTP_EOPTNEG, "blksize larger than asked");
			return finish(x, false, "bad-oack");
		}
		x->blksize = o->opts.blksize;
	}
	if (o->opts.tsize_set && o->opts.tsize > x->p.max_size) {
		send_error(x, &x->peer, WS_TFTP_EUNDEF, "file too large");
		return finish(x, false, "too-large");
	}
	send_ack(x, 0, now);
	return x->state;
}

static enum ws_tftp_xfer_state on_data(struct ws_tftp_xfer *x, const struct ws_tftp_pkt *d,
				       int64_t now)
{
	uint16_t expect = (uint16_t)x->next_block;

	if (d->block == (uint16_t)(expect - 1) && x->next_block > 1) {
		/* our ACK was lost: say it again, write nothing twice */
		send_to(x, &x->peer, x->last, x->last_len);
		return x->state;
	}
	if (d->block != expect)
		return x->state;	/* neither current nor previous: ignore */
	if (d->datalen > x->blksize)
		return x->state;	/* not what we negotiated: treat as garbage */
	if (x->bytes + d->datalen > x->p.max_size) {
		send_error(x, &x->peer, WS_TFTP_EUNDEF, "file too large");
		return finish(x, false, "too-large");
	}
	if (d->datalen && x->p.sink(x->p.sink_arg, d->data, d->datalen) < 0) {
		int e = errno;

		send_error(x, &x->peer, WS_TFTP_ENOSPACE, "cannot store");
		return finish(x, false, "write-error:%s", strerror(e));
	}
	x->bytes += d->datalen;
	x->next_block++;
	send_ack(x, d->block, now);
	if (d->datalen < x->blksize)
		return finish(x, true, "ok");
	return x->state;
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static enum ws_tftp_xfer_state on_datagram(struct ws_tftp_xfer *x, const uint8_t *b, size_t n,
					   const struct sockaddr_in *from, int64_t now)
{
	struct ws_tftp_pkt pkt;

	if (from->sin_addr.s_addr != x->p.server.sin_addr.s_addr ||
	    (x->tid_locked && !same_addr(from, &x->peer))) {
		/* RFC 1350: another TID gets ERROR 5 and does not disturb us */
		x->foreign++;
		send_error(x, from, WS_TFTP_EBADID, "Unknown transfer ID");
		return x->state;
	}
	if (ws_tftp_decode(b, n, &pkt) != WS_TFTP_OK)
		return x->state;
	if (!x->tid_locked) {
		x->peer = *from;
		x->tid_locked = true;
	}
	switch (pkt.op) {
	case WS_TFTP_OACK:
		return on_oack(x, &pkt, now);
	case WS_TFTP_DATA:
		return on_data(x, &pkt, now);
	case WS_TFTP_ERROR:
		if (pkt.errcode == WS_TFTP_EOPTNEG && x->options_sent && x->next_block == 1) {
			/* the server refuses options: ask again plainly, once */
			x->tid_locked = false;
			x->blksize = WS_TFTP_DEFAULT_BLKSIZE;
			send_rrq(x, false, now);
			return x->state;
		}
		return server_error(x, &pkt);
	default:
		return x->state;
	}
}

enum ws_tftp_xfer_state ws_tftp_xfer_input(struct ws_tftp_xfer *x, int64_t now)
{
	uint8_t buf[WS_TFTP_PKT_MAX + 1];

	while (x->state == WS_XFER_RUNNING) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(x->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &fl);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED)	/* ICMP port unreachable for our last send */
				continue;
			break;
		}
		if ((size_t)n > WS_TFTP_PKT_MAX || fl != sizeof(from) || from.sin_family != AF_INET)
			continue;	/* bigger than any TFTP packet: garbage */
		on_datagram(x, buf, (size_t)n, &from, now);
	}
	return x->state;
}

enum ws_tftp_xfer_state ws_tftp_xfer_timer(struct ws_tftp_xfer *x, int64_t now)
{
	if (x->state != WS_XFER_RUNNING || now < x->deadline)
		return x->state;
	if (x->tries >= x->p.retries)
		return finish(x, false, "timeout");
	x->tries++;
	x->deadline = now + (int64_t)x->p.timeout_s * 1000;
	if (x->last_len)
		send_to(x, x->last_to_peer ? &x->peer : &x->p.server, x->last, x->last_len);
	return x->state;
}

int ws_tftp_xfer_fd(const struct ws_tftp_xfer *x)
{
	return x->fd;
}

int64_t ws_tftp_xfer_deadline(const struct ws_tftp_xfer *x)
{
	return x->deadline;
}

enum ws_tftp_xfer_state ws_tftp_xfer_state(const struct ws_tftp_xfer *x)
{
	return x->state;
}

const char *ws_tftp_xfer_status(const struct ws_tftp_xfer *x)
{
	return x->state == WS_XFER_RUNNING ? "running" : x->status;
}

uint64_t ws_tftp_xfer_bytes(const struct ws_tftp_xfer *x)
{
	return x->bytes;
}

unsigned ws_tftp_xfer_foreign(const struct ws_tftp_xfer *x)
{
	return x->foreign;
}

void ws_hash_sink_init(struct ws_hash_sink *s, int fd)
{
	s->fd = fd;
	md5_init(&s->md5);
	sha256_init(&s->sha);
}

int ws_hash_sink_write(void *arg, const uint8_t *data, size_t len)
{
	struct ws_hash_sink *s = arg;

	md5_update(&s->md5, len, data);
	sha256_update(&s->sha, len, data);
	while (len > 0) {
		ssize_t n = write(s->fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void to_hex(char *dst, const uint8_t *d, size_t n)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = h[d[i] >> 4];
		dst[2 * i + 1] = h[d[i] & 15];
	}
	dst[2 * n] = '\0';
}

void ws_hash_sink_hex(struct ws_hash_sink *s, char md5_hex[33], char sha256_hex[65])
{
	uint8_t d5[MD5_DIGEST_SIZE], d256[SHA256_DIGEST_SIZE];

	md5_digest(&s->md5, sizeof(d5), d5);
	sha256_digest(&s->sha, sizeof(d256), d256);
	to_hex(md5_hex, d5, sizeof(d5));
	to_hex(sha256_hex, d256, sizeof(d256));
}

void ws_tftp_xfer_free(struct ws_tftp_xfer *x)
{
	if (!x)
		return;
	close(x->fd);
	free(x);
}
