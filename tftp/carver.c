/*
 * Passive TFTP tracker: follows transfers seen on the wire, as Zeek's
 * policy does with expected connections. A request to the server port from
 * client C:cp announces a transfer; the server answers from a new port (its
 * TID), which from then on is the only one that belongs to the transfer.
 *
 * DATA blocks go out to the caller with their file offset as soon as they
 * are seen, once each, in whatever order, so nothing is held in memory but
 * a bitmap of the blocks received.
 */
#include <stdlib.h>
#include <string.h>

#include "tftp.h"

struct xfer {
	struct xfer *older, *newer;	/* LRU by last datagram */
	struct xfer *next;		/* hash chain */
	struct ws_carve_info info;
	void *handle;
	bool ignored;			/* open() said no: track, never call back */
	bool tid_locked;
	uint64_t max_abs;		/* highest absolute block number seen */
	uint64_t final_abs;		/* the short block's number, 0 until seen */
	uint64_t received;		/* distinct blocks */
	uint8_t *bits;
	uint64_t nbits;			/* allocated */
};

struct ws_carver {
	struct ws_carve_params p;
	struct xfer **table;
	size_t mask;
	struct xfer *oldest, *newest;
	size_t active;
	uint64_t serial;
	struct ws_carve_stats st;
};

const char *ws_carve_end_name(enum ws_carve_end e)
{
	switch (e) {
	case WS_CARVE_COMPLETE:
		return "complete";
	case WS_CARVE_INCOMPLETE:
		return "incomplete";
	case WS_CARVE_ERROR:
		return "error";
	case WS_CARVE_TOO_LARGE:
		return "too-large";
	case WS_CARVE_EVICTED:
		return "evicted";
	}
	return "unknown";
}

/* ------------------------------------------------------------ bookkeeping */

static size_t slot_of(const struct ws_carver *c, uint32_t addr, uint16_t port)
{
	uint32_t h = addr * 0x9e3779b1u ^ port * 0x85ebca6bu;

	h ^= h >> 16;
	return h & c->mask;
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

/* Transfers are keyed by the client's address and port: the one fixed end. */
static struct xfer *find(const struct ws_carver *c, uint32_t addr, uint16_t port)
{
	for (struct xfer *x = c->table[slot_of(c, addr, port)]; x; x = x->next)
		if (x->info.client == addr && x->info.client_port == port)
			return x;
	return NULL;
}

static void end_xfer(struct ws_carver *c, struct xfer *x, enum ws_carve_end how)
{
	struct xfer **pp = &c->table[slot_of(c, x->info.client, x->info.client_port)];

	while (*pp != x)
		pp = &(*pp)->next;
	*pp = x->next;
	lru_unlink(c, x);
	c->active--;
	x->info.blocks_missing = (x->final_abs ? x->final_abs : x->max_abs) - x->received;
	switch (how) {
	case WS_CARVE_COMPLETE: c->st.complete++; break;
	case WS_CARVE_INCOMPLETE: c->st.incomplete++; break;
	case WS_CARVE_ERROR: c->st.errors++; break;
	case WS_CARVE_TOO_LARGE: c->st.too_large++; break;
	case WS_CARVE_EVICTED: c->st.evicted++; break;
	}
	if (!x->ignored && c->p.ops.close)
		c->p.ops.close(c->p.arg, x->handle, &x->info, how);
	free(x->bits);
	free(x);
}

static struct xfer *new_xfer(struct ws_carver *c, const struct timeval *ts, uint32_t client,
			     uint16_t cport, uint32_t server, uint16_t sport,
			     const struct ws_tftp_pkt *req)
{
	struct xfer *x;
	size_t s;

	if (c->active >= c->p.max_transfers && c->oldest)
		end_xfer(c, c->oldest, WS_CARVE_EVICTED);
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->info.serial = ++c->serial;
	x->info.client = client;
	x->info.client_port = cport;
	x->info.server = server;
	x->info.server_port = sport;
	x->info.upload = req->op == WS_TFTP_WRQ;
	memcpy(x->info.filename, req->filename, sizeof(x->info.filename));
	memcpy(x->info.mode, req->mode, sizeof(x->info.mode));
	x->info.blksize = WS_TFTP_DEFAULT_BLKSIZE;
	x->info.first = x->info.last = *ts;
	s = slot_of(c, client, cport);
	x->next = c->table[s];
	c->table[s] = x;
	lru_push(c, x);
	c->active++;
	c->st.transfers++;
	x->handle = c->p.ops.open ? c->p.ops.open(c->p.arg, &x->info) : NULL;
	x->ignored = x->handle == NULL;
	return x;
}

/* ------------------------------------------------------------ protocol */

static void on_request(struct ws_carver *c, const struct timeval *ts, uint32_t saddr,
		       uint16_t sport, uint32_t daddr, uint16_t dport, const struct ws_tftp_pkt *req)
{
	struct xfer *x = find(c, saddr, sport);

	if (x && !x->tid_locked && x->info.server == daddr &&
	    strcmp(x->info.filename, req->filename) == 0) {
		touch(c, x, ts);	/* the client retransmitting its request */
		return;
	}
	if (x)			/* the client port was reused: the old transfer is over */
		end_xfer(c, x, WS_CARVE_INCOMPLETE);
	new_xfer(c, ts, saddr, sport, daddr, dport, req);
}

/* The 16-bit block number nearest to what we have seen, as a 64-bit count. */
static uint64_t absolute_block(const struct xfer *x, uint16_t block)
{
	int64_t top = (int64_t)x->max_abs, base = top & ~(int64_t)0xffff, best = 0;
	int64_t bestd = INT64_MAX;

	if (top == 0)
		return block;
	for (int64_t k = -1; k <= 1; k++) {
		int64_t cand = base + k * 0x10000 + block;
		int64_t d = cand > top ? cand - top : top - cand;

		if (cand >= 1 && d < bestd) {
			best = cand;
			bestd = d;
		}
	}
	return (uint64_t)best;
}

/* Mark block abs received; false if it already was or cannot be tracked. */
static int mark_block(struct ws_carver *c, struct xfer *x, uint64_t abs)
{
	uint64_t bit = abs - 1, limit = c->p.max_file_size / x->info.blksize + 1;

	if (bit >= limit)
		return -1;
	if (bit >= x->nbits) {
		uint64_t n = x->nbits ? x->nbits : 1024;
		uint8_t *b;

		while (n <= bit)
			n *= 2;
		if (n > limit + 7)
			n = limit + 7;
		b = realloc(x->bits, (size_t)(n + 7) / 8);
		if (!b)
			return -1;
		memset(b + (x->nbits + 7) / 8, 0, (size_t)((n + 7) / 8 - (x->nbits + 7) / 8));
		x->bits = b;
		x->nbits = n;
	}
	if (x->bits[bit / 8] & (1u << (bit % 8)))
		return 0;
	x->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
	return 1;
}

static void on_data(struct ws_carver *c, struct xfer *x, const struct ws_tftp_pkt *d)
{
	uint64_t abs, offset;
	int fresh;

	if (d->datalen > x->info.blksize || (d->block == 0 && x->max_abs == 0)) {
		c->st.malformed++;
		return;
	}
	abs = absolute_block(x, d->block);
	offset = (abs - 1) * x->info.blksize;
	if (abs == 0 || offset + d->datalen > c->p.max_file_size) {
		end_xfer(c, x, WS_CARVE_TOO_LARGE);
		return;
	}
	fresh = mark_block(c, x, abs);
	if (fresh < 0) {
		end_xfer(c, x, WS_CARVE_TOO_LARGE);
		return;
	}
	if (fresh == 0) {
		c->st.duplicates++;
		return;
	}
	if (abs < x->max_abs)
		c->st.out_of_order++;
	if (abs > x->max_abs)
		x->max_abs = abs;
	x->received++;
	if (offset + d->datalen > x->info.bytes)
		x->info.bytes = offset + d->datalen;
	if (d->datalen < x->info.blksize && !x->final_abs)
		x->final_abs = abs;
	if (!x->ignored && d->datalen > 0 &&
	    c->p.ops.write(c->p.arg, x->handle, offset, d->data, d->datalen) < 0) {
		end_xfer(c, x, WS_CARVE_INCOMPLETE);
		return;
	}
	if (x->final_abs && x->received == x->final_abs)
		end_xfer(c, x, WS_CARVE_COMPLETE);
}

static void on_oack(struct ws_carver *c, struct xfer *x, const struct ws_tftp_pkt *o)
{
	if (x->max_abs)
		return;		/* options only count before the data */
	if (o->opts.blksize_set)
		x->info.blksize = o->opts.blksize;
	if (o->opts.tsize_set) {
		x->info.tsize_set = true;
		x->info.tsize = o->opts.tsize;
		if (o->opts.tsize > c->p.max_file_size)
			end_xfer(c, x, WS_CARVE_TOO_LARGE);
	}
}

/* A datagram between a transfer's two ends; from_server tells the direction. */
static void on_transfer(struct ws_carver *c, struct xfer *x, bool from_server,
			const struct ws_tftp_pkt *pkt)
{
	bool from_sender = from_server != x->info.upload;

	switch (pkt->op) {
	case WS_TFTP_DATA:
		if (from_sender)
			on_data(c, x, pkt);
		break;
	case WS_TFTP_OACK:
		if (from_server)
			on_oack(c, x, pkt);
		break;
	case WS_TFTP_ERROR:
		x->info.errcode = pkt->errcode;
		memcpy(x->info.errmsg, pkt->errmsg, sizeof(x->info.errmsg));
		end_xfer(c, x, WS_CARVE_ERROR);
		break;
	default:		/* ACKs carry nothing we keep */
		break;
	}
}

void ws_carver_datagram(struct ws_carver *c, const struct timeval *ts, uint32_t saddr,
			uint16_t sport, uint32_t daddr, uint16_t dport, const uint8_t *payload,
			size_t len)
{
	struct ws_tftp_pkt pkt;
	struct xfer *x;
	bool from_server;

	c->st.datagrams++;
	if (ws_tftp_decode(payload, len, &pkt) != WS_TFTP_OK) {
		c->st.malformed++;
		return;
	}
	if (pkt.op == WS_TFTP_RRQ || pkt.op == WS_TFTP_WRQ) {
		if (dport == c->p.server_port)
			on_request(c, ts, saddr, sport, daddr, dport, &pkt);
		else
			c->st.malformed++;
		return;
	}
	x = find(c, daddr, dport);
	from_server = x && x->info.server == saddr;
	if (!from_server) {
		x = find(c, saddr, sport);
		if (!x || x->info.server != daddr)
			return;	/* not a transfer we saw begin */
	}
	if (from_server && !x->tid_locked) {
		x->info.data_port = sport;	/* the server's TID */
		x->tid_locked = true;
	}
	if ((from_server ? sport : dport) != x->info.data_port) {
		c->st.foreign++;
		return;
	}
	touch(c, x, ts);
	on_transfer(c, x, from_server, &pkt);
}

void ws_carver_sweep(struct ws_carver *c, const struct timeval *now)
{
	while (c->oldest && now->tv_sec - c->oldest->info.last.tv_sec > c->p.idle_timeout)
		end_xfer(c, c->oldest, WS_CARVE_INCOMPLETE);
}

struct ws_carver *ws_carver_new(const struct ws_carve_params *p)
{
	struct ws_carver *c = calloc(1, sizeof(*c));
	size_t n = 64;

	if (!c || p->max_transfers == 0 || p->max_file_size == 0) {
		free(c);
		return NULL;
	}
	while (n < 2 * p->max_transfers && n < ((size_t)1 << 24))
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
		end_xfer(c, c->oldest, WS_CARVE_INCOMPLETE);
	free(c->table);
	free(c);
}
