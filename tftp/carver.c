/*
 * Passive TFTP tracker: follows transfers seen on the wire, the way Zeek's
 * policy pairs a request with its expected data connection. A request to
 * the server port from client C:cp announces a transfer; the server answers
 * from a port of its own (its TID), and from then on only datagrams between
 * C:cp and that port belong to the transfer.
 *
 * DATA blocks go to the caller with their file offset as soon as they are
 * seen, once each and in whatever order, so a transfer costs no more memory
 * than a bitmap of the blocks received. The tracker decides nothing about
 * what the bytes are: that is the caller's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tftp.h"

#define BITMAP_FIRST 1024	/* bits allocated when the first block comes */
#define TABLE_MAX ((size_t)1 << 20)

struct xfer {
	struct xfer *older, *newer;	/* LRU list, by last datagram */
	struct xfer *next;		/* hash chain */
	struct ws_carve_info info;
	void *handle;			/* NULL: open() declined, no callbacks */
	bool tid_set;			/* info.data_port is the server's TID */
	uint64_t top;			/* highest absolute block seen, 0 before any */
	uint64_t final;			/* the short block's number, 0 until seen */
	uint64_t received;		/* distinct blocks, none above final */
	uint8_t *bits;			/* bit n-1 set: block n received */
	uint64_t nbits;			/* bits allocated */
};

struct ws_carver {
	struct ws_carve_params p;
	struct xfer **table;		/* keyed on (client, client_port) */
	size_t mask;
	struct xfer *oldest, *newest;
	size_t active;
	uint64_t serial;
	struct ws_carve_stats st;
};

static const struct {
	enum ws_carve_end end;
	const char *name;
} end_names[] = {
	{WS_CARVE_COMPLETE, "complete"},
	{WS_CARVE_INCOMPLETE, "incomplete"},
	{WS_CARVE_ERROR, "error"},
	{WS_CARVE_TOO_LARGE, "too-large"},
	{WS_CARVE_EVICTED, "evicted"},
	{0, NULL}
};

const char *ws_carve_end_name(enum ws_carve_end e)
{
	for (size_t i = 0; end_names[i].name; i++)
		if (end_names[i].end == e)
			return end_names[i].name;
	return "unknown";
}

/* ------------------------------------------------------------ bookkeeping */

static struct xfer **chain(const struct ws_carver *c, const struct ws_addr *addr, uint16_t port)
{
	uint32_t h = (uint32_t)port * 0x85ebca6bu;

	for (size_t i = 0; i < ws_addr_len(addr); i++)
		h = (h ^ addr->a[i]) * 0x9e3779b1u;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return &c->table[h & c->mask];
}

/* The client's address and port are the one end of a transfer that never moves. */
static struct xfer *find(const struct ws_carver *c, const struct ws_addr *client, uint16_t port)
{
	for (struct xfer *x = *chain(c, client, port); x; x = x->next)
		if (ws_addr_eq(&x->info.client, client) && x->info.client_port == port)
			return x;
	return NULL;
}

static void lru_unlink(struct ws_carver *c, struct xfer *x)
{
	if (x->older)
		x->older->newer = x->newer;
	else
		c->oldest = x->newer;
	if (x->newer)
		x->newer->older = x->older;
	else
		c->newest = x->older;
	x->older = x->newer = NULL;
}

static void lru_push(struct ws_carver *c, struct xfer *x)
{
	x->older = c->newest;
	x->newer = NULL;
	if (c->newest)
		c->newest->newer = x;
	else
		c->oldest = x;
	c->newest = x;
}

static void touch(struct ws_carver *c, struct xfer *x, const struct timeval *ts)
{
	x->info.last = *ts;
	if (c->newest != x) {
		lru_unlink(c, x);
		lru_push(c, x);
	}
}

/* Blocks 1..n received, counted from the bitmap. */
static uint64_t count_received(const struct xfer *x, uint64_t n)
{
	uint64_t count = 0;

	if (n > x->nbits)
		n = x->nbits;
	for (uint64_t i = 0; i < n / 8; i++)
		count += (uint64_t)__builtin_popcount(x->bits[i]);
	for (uint64_t i = n / 8 * 8; i < n; i++)
		count += (x->bits[i / 8] >> (i % 8)) & 1;
	return count;
}

/*
 * Holes left at the end. Without the final block the count is a lower
 * bound: the blocks up to the highest seen, one more for the missing end,
 * or as many as the announced tsize implies if that is more.
 */
static uint64_t blocks_missing(const struct xfer *x)
{
	uint64_t want;

	if (x->final)
		return x->final - x->received;
	want = x->top + 1;
	if (x->info.tsize_set && x->info.tsize / x->info.blksize + 1 > want)
		want = x->info.tsize / x->info.blksize + 1;
	return want - x->received;
}

static void xfer_free(struct xfer *x)
{
	free(x->bits);
	free(x);
}

/* The transfer is over: tell the caller once, and forget it. */
static void xfer_end(struct ws_carver *c, struct xfer *x, enum ws_carve_end how)
{
	struct xfer **pp = chain(c, &x->info.client, x->info.client_port);

	while (*pp != x)
		pp = &(*pp)->next;
	*pp = x->next;
	lru_unlink(c, x);
	c->active--;

	x->info.blocks_missing = blocks_missing(x);
	switch (how) {
	case WS_CARVE_COMPLETE:
		c->st.complete++;
		break;
	case WS_CARVE_INCOMPLETE:
		c->st.incomplete++;
		break;
	case WS_CARVE_ERROR:
		c->st.errors++;
		break;
	case WS_CARVE_TOO_LARGE:
		c->st.too_large++;
		break;
	case WS_CARVE_EVICTED:
		c->st.evicted++;
		break;
	}
	if (x->handle)
		c->p.ops.close(c->p.arg, x->handle, &x->info, how);
	xfer_free(x);
}

static struct xfer *xfer_alloc(struct ws_carver *c, const struct timeval *ts,
			       const struct ws_endpoint *client, const struct ws_endpoint *server,
			       const struct ws_tftp_pkt *req)
{
	struct xfer *x;

	while (c->active >= c->p.max_transfers && c->oldest)
		xfer_end(c, c->oldest, WS_CARVE_EVICTED);
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->info.serial = ++c->serial;
	x->info.client = client->addr;
	x->info.client_port = client->port;
	x->info.server = server->addr;
	x->info.server_port = server->port;
	x->info.upload = req->op == WS_TFTP_WRQ;
	memcpy(x->info.filename, req->filename, sizeof(x->info.filename));
	memcpy(x->info.mode, req->mode, sizeof(x->info.mode));
	x->info.blksize = WS_TFTP_DEFAULT_BLKSIZE;
	/* A WRQ may announce the size it is about to send (RFC 2349). */
	if (x->info.upload && req->opts.tsize_set) {
		x->info.tsize_set = true;
		x->info.tsize = req->opts.tsize;
	}
	x->info.first = x->info.last = *ts;

	x->next = *chain(c, &client->addr, client->port);
	*chain(c, &client->addr, client->port) = x;
	lru_push(c, x);
	c->active++;
	c->st.transfers++;
	if (c->p.ops.open)
		x->handle = c->p.ops.open(c->p.arg, &x->info);
	return x;
}

/* -------------------------------------------------------------- protocol */

static bool same_request(const struct xfer *x, const struct ws_addr *server,
			 const struct ws_tftp_pkt *req)
{
	return ws_addr_eq(&x->info.server, server) && x->info.upload == (req->op == WS_TFTP_WRQ) &&
	       strcmp(x->info.filename, req->filename) == 0;
}

static void on_request(struct ws_carver *c, const struct timeval *ts,
		       const struct ws_endpoint *src, const struct ws_endpoint *dst,
		       const struct ws_tftp_pkt *req)
{
	struct xfer *x = find(c, &src->addr, src->port);

	if (!req->filename[0] || !req->mode[0]) {
		c->st.malformed++;	/* RFC 1350 wants both */
		return;
	}
	if (x && x->top == 0 && same_request(x, &dst->addr, req)) {
		touch(c, x, ts);	/* the client sending its request again */
		return;
	}
	if (x)			/* the client port was reused: the old one is over */
		xfer_end(c, x, WS_CARVE_INCOMPLETE);
	x = xfer_alloc(c, ts, src, dst, req);
	if (x && x->info.tsize_set && x->info.tsize > c->p.max_file_size)
		xfer_end(c, x, WS_CARVE_TOO_LARGE);
}

/*
 * The 16-bit block number as a 64-bit count: the one nearest the highest
 * block seen, at most 32768 below or 32767 above it. 0 when that would be
 * below block 1.
 */
static uint64_t absolute_block(const struct xfer *x, uint16_t block)
{
	int32_t delta = (uint16_t)(block - (uint16_t)x->top);

	if (delta >= 0x8000)
		delta -= 0x10000;
	if (delta < 0 && (uint64_t)-delta >= x->top)
		return 0;
	return x->top + (uint64_t)(int64_t)delta;
}

/*
 * Mark block abs as received: 1 if it is new, 0 if seen before, -1 if the
 * bitmap cannot hold it. The bitmap never grows past what max_file_size
 * allows at this blksize.
 */
static int mark_block(const struct ws_carver *c, struct xfer *x, uint64_t abs)
{
	uint64_t bit = abs - 1, limit = c->p.max_file_size / x->info.blksize + 1;

	if (bit >= limit)
		return -1;
	if (bit >= x->nbits) {
		uint64_t n = x->nbits ? x->nbits * 2 : BITMAP_FIRST;
		size_t oldlen = (size_t)((x->nbits + 7) / 8), newlen;
		uint8_t *b;

		if (n <= bit)
			n = bit + 1;
		if (n > limit)
			n = limit;
		if ((n + 7) / 8 > SIZE_MAX)
			return -1;
		newlen = (size_t)((n + 7) / 8);
		b = realloc(x->bits, newlen);
		if (!b)
			return -1;
		memset(b + oldlen, 0, newlen - oldlen);
		x->bits = b;
		x->nbits = n;
	}
	if (x->bits[bit / 8] & (1u << (bit % 8)))
		return 0;
	x->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
	return 1;
}

/* DATA that cannot be part of this file, whatever else arrives later. */
static bool data_contradicts(const struct xfer *x, uint64_t abs, size_t len)
{
	if (abs == 0 || len > x->info.blksize)
		return true;
	if (!x->final)
		return false;
	/* past the end, or a second short block before it */
	return abs > x->final || (abs < x->final && len < x->info.blksize);
}

/* A new block is in: the highest seen, the count, where the file ends. */
static void note_block(struct xfer *x, uint64_t abs, uint64_t end, bool is_short)
{
	if (abs > x->top)
		x->top = abs;
	x->received++;
	if (is_short && !x->final) {
		x->final = abs;
		x->info.bytes = end;
		/* blocks already seen past a short one are not part of the file */
		if (x->top > abs)
			x->received = count_received(x, abs);
	} else if (!x->final && end > x->info.bytes) {
		x->info.bytes = end;
	}
}

static void on_data(struct ws_carver *c, struct xfer *x, const struct ws_tftp_pkt *d)
{
	uint64_t abs = absolute_block(x, d->block), offset;
	uint32_t bs = x->info.blksize;
	enum ws_carve_end how;
	int fresh;

	if (data_contradicts(x, abs, d->datalen)) {
		c->st.malformed++;
		return;
	}
	offset = (abs - 1) * bs;
	how = WS_CARVE_TOO_LARGE;
	if (offset > c->p.max_file_size || d->datalen > c->p.max_file_size - offset)
		goto end;
	how = WS_CARVE_INCOMPLETE;	/* no memory to track it, or the caller gave up */
	fresh = mark_block(c, x, abs);
	if (fresh < 0)
		goto end;
	if (fresh == 0) {
		c->st.duplicates++;
		return;
	}
	if (abs < x->top)
		c->st.out_of_order++;
	note_block(x, abs, offset + d->datalen, d->datalen < bs);
	if (x->handle && d->datalen > 0 &&
	    c->p.ops.write(c->p.arg, x->handle, offset, d->data, d->datalen) < 0)
		goto end;
	if (!x->final || x->received < x->final)
		return;
	how = WS_CARVE_COMPLETE;
end:
	xfer_end(c, x, how);
}

static void on_oack(struct ws_carver *c, struct xfer *x, const struct ws_tftp_pkt *o)
{
	if (x->top)
		return;		/* options are settled before the first block */
	if (o->opts.blksize_set)
		x->info.blksize = o->opts.blksize;
	if (o->opts.tsize_set) {
		x->info.tsize_set = true;
		x->info.tsize = o->opts.tsize;
		if (o->opts.tsize > c->p.max_file_size)
			xfer_end(c, x, WS_CARVE_TOO_LARGE);
	}
}

/* A datagram between the transfer's client and the server's TID. */
static void on_transfer(struct ws_carver *c, struct xfer *x, bool from_server,
			const struct ws_tftp_pkt *pkt)
{
	bool from_sender = from_server != x->info.upload;

	switch (pkt->op) {
	case WS_TFTP_DATA:
		if (from_sender)
			on_data(c, x, pkt);
		else
			c->st.malformed++;
		break;
	case WS_TFTP_OACK:
		if (from_server)
			on_oack(c, x, pkt);
		else
			c->st.malformed++;
		break;
	case WS_TFTP_ERROR:
		x->info.errcode = pkt->errcode;
		memcpy(x->info.errmsg, pkt->errmsg, sizeof(x->info.errmsg));
		xfer_end(c, x, WS_CARVE_ERROR);
		break;
	case WS_TFTP_ACK:	/* carries nothing we keep */
	case WS_TFTP_RRQ:	/* a request away from the server port */
	case WS_TFTP_WRQ:
		break;
	}
}

/* The server's first answer names its TID: DATA or ACK by direction, OACK, ERROR. */
static bool opens_tid(const struct xfer *x, enum ws_tftp_op op)
{
	return op == WS_TFTP_OACK || op == WS_TFTP_ERROR ||
	       op == (x->info.upload ? WS_TFTP_ACK : WS_TFTP_DATA);
}

/* The transfer this datagram belongs to by its addresses, if any. */
static struct xfer *match(const struct ws_carver *c, const struct ws_endpoint *src,
			  const struct ws_endpoint *dst, bool *from_server)
{
	struct xfer *x = find(c, &dst->addr, dst->port);

	if (x && ws_addr_eq(&x->info.server, &src->addr)) {
		*from_server = true;
		return x;
	}
	x = find(c, &src->addr, src->port);
	if (x && ws_addr_eq(&x->info.server, &dst->addr)) {
		*from_server = false;
		return x;
	}
	return NULL;
}

void ws_carver_datagram(struct ws_carver *c, const struct timeval *ts,
			const struct ws_endpoint *src, const struct ws_endpoint *dst,
			const uint8_t *payload, size_t len)
{
	uint16_t sport = src->port, dport = dst->port;
	struct ws_tftp_pkt pkt;
	bool from_server = false;
	struct xfer *x;

	c->st.datagrams++;
	x = match(c, src, dst, &from_server);
	if (!x && dport != c->p.server_port)
		return;		/* not TFTP as far as we know */
	if (ws_tftp_decode(payload, len, &pkt) != WS_TFTP_OK) {
		c->st.malformed++;
		return;
	}
	if ((pkt.op == WS_TFTP_RRQ || pkt.op == WS_TFTP_WRQ) && dport == c->p.server_port &&
	    !from_server) {
		on_request(c, ts, src, dst, &pkt);
		return;
	}
	if (!x)
		return;		/* no request seen for it */
	if (!x->tid_set && from_server) {
		if (!opens_tid(x, pkt.op)) {
			c->st.malformed++;
			return;
		}
		x->info.data_port = sport;
		x->tid_set = true;
	}
	if (!x->tid_set || (from_server ? sport : dport) != x->info.data_port) {
		c->st.foreign++;
		return;
	}
	touch(c, x, ts);
	on_transfer(c, x, from_server, &pkt);
}

/* ------------------------------------------------------------ lifecycle */

static bool idle_too_long(const struct ws_carver *c, const struct xfer *x,
			  const struct timeval *now)
{
	return ws_idle_longer(&x->info.last, now, c->p.idle_timeout);
}

/*
 * The whole list is walked, not just its old end: capture time can go
 * backwards, so LRU order is not time order.
 */
void ws_carver_sweep(struct ws_carver *c, const struct timeval *now)
{
	struct xfer *x = c->oldest, *next;

	for (; x; x = next) {
		next = x->newer;
		if (idle_too_long(c, x, now))
			xfer_end(c, x, WS_CARVE_INCOMPLETE);
	}
}

struct ws_carver *ws_carver_new(const struct ws_carve_params *p)
{
	struct ws_carver *c;
	size_t n = 64;

	if (p->max_transfers == 0 || p->max_file_size == 0 || p->idle_timeout < 0 ||
	    (p->ops.open && (!p->ops.write || !p->ops.close))) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	while (n < TABLE_MAX && n / 2 < p->max_transfers)
		n *= 2;
	c->table = calloc(n, sizeof(*c->table));
	if (!c->table) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->p = *p;
	return c;
}

const struct ws_carve_stats *ws_carver_stats(const struct ws_carver *c)
{
	return &c->st;
}

size_t ws_carver_active(const struct ws_carver *c)
{
	return c->active;
}

void ws_carver_free(struct ws_carver *c)
{
	if (!c)
		return;
	while (c->oldest)
		xfer_end(c, c->oldest, WS_CARVE_INCOMPLETE);
	free(c->table);
	free(c);
}
