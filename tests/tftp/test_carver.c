/*
 * Passive TFTP tracker tests. Datagrams are built with the codec and fed
 * straight in; the caller's ops keep each transfer's bytes in memory (at
 * their offsets, so order does not matter) and record how it ended.
 *
 * Last, real captures are replayed with libpcap and the carved files are
 * compared (size and MD5) with what `tshark --export-objects tftp` wrote
 * for the same captures. Those captures live outside the repository: the
 * directory is argv[1] or $WS_THIRD_PARTY_PCAPS, and a missing one is
 * skipped with a note.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <nettle/md5.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tftp.h"

static unsigned checks, failures;

#define CHECK(cond) do {							\
	checks++;								\
	if (!(cond)) {								\
		failures++;							\
		fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,	\
			__LINE__, __func__, #cond);				\
	}									\
} while (0)

/* ------------------------------------------------------------- harness */

/* One transfer as the caller saw it. */
struct rec {
	struct ws_carve_info open_info, end_info;
	uint8_t *buf;
	size_t cap;
	uint64_t end;		/* highest offset + len written */
	unsigned writes, closes;
	enum ws_carve_end how;
};

struct harness {
	struct rec **recs;
	size_t n, cap;
	bool keep_bytes;	/* false: only count (the garbage runs) */
	bool decline;		/* open() returns NULL */
	unsigned fail_write;	/* the n-th write (from 1) returns -1; 0: never */
	unsigned writes_total, declined;
	uint64_t limit;		/* max_file_size: no write may reach past it */
	unsigned bad_writes;	/* beyond limit, or on a closed transfer */
};

static void *op_open(void *arg, const struct ws_carve_info *info)
{
	struct harness *h = arg;
	struct rec *r;

	if (h->decline) {
		h->declined++;
		return NULL;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct rec **recs = realloc(h->recs, cap * sizeof(*recs));

		if (!recs)
			return NULL;
		h->recs = recs;
		h->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->open_info = *info;
	h->recs[h->n++] = r;
	return r;
}

static int op_write(void *arg, void *handle, uint64_t offset, const uint8_t *data, size_t len)
{
	struct harness *h = arg;
	struct rec *r = handle;

	h->writes_total++;
	if (r->closes || offset + len > h->limit || len == 0)
		h->bad_writes++;
	if (h->fail_write && h->writes_total == h->fail_write)
		return -1;
	r->writes++;
	if (offset + len > r->end)
		r->end = offset + len;
	if (!h->keep_bytes || offset + len > h->limit)
		return 0;
	if (offset + len > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *b;

		while (cap < offset + len)
			cap *= 2;
		b = realloc(r->buf, cap);
		if (!b)
			return -1;
		memset(b + r->cap, 0, cap - r->cap);
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + offset, data, len);
	return 0;
}

static void op_close(void *arg, void *handle, const struct ws_carve_info *info,
		     enum ws_carve_end how)
{
	struct rec *r = handle;

	(void)arg;
	r->closes++;
	r->how = how;
	r->end_info = *info;
}

static void harness_free(struct harness *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->recs[i]->buf);
		free(h->recs[i]);
	}
	free(h->recs);
	memset(h, 0, sizeof(*h));
}

/* A scenario: one carver, one client, one server, in 10.0.0.0/24. */
struct scen {
	struct ws_carver *c;
	struct harness h;
	struct timeval ts;
	uint32_t client, server;	/* network order */
	uint16_t cport, tid;
	struct ws_carve_stats st;	/* as the carver left them */
};

static const uint16_t SERVER_PORT = 69;

static void scen_init(struct scen *s, size_t max_transfers, uint64_t max_file_size)
{
	struct ws_carve_params p = {
		.server_port = SERVER_PORT, .idle_timeout = 30,
		.max_transfers = max_transfers, .max_file_size = max_file_size,
		.ops = {.open = op_open, .write = op_write, .close = op_close},
	};

	memset(s, 0, sizeof(*s));
	s->h.keep_bytes = true;
	s->h.limit = max_file_size;
	p.arg = &s->h;
	s->c = ws_carver_new(&p);
	if (!s->c) {
		fprintf(stderr, "ws_carver_new failed\n");
		exit(2);
	}
	s->ts.tv_sec = 1700000000;
	s->client = htonl(0x0a000001);
	s->server = htonl(0x0a000002);
	s->cport = 40000;
	s->tid = 50000;
}

/* Ends the carver (closing what is open) but keeps the records to look at. */
static void scen_stop(struct scen *s)
{
	s->st = *ws_carver_stats(s->c);
	ws_carver_free(s->c);
	s->c = NULL;
	for (size_t i = 0; i < s->h.n; i++)
		CHECK(s->h.recs[i]->closes == 1);
	CHECK(s->h.bad_writes == 0);
}

static void scen_free(struct scen *s)
{
	if (s->c)
		scen_stop(s);
	harness_free(&s->h);
}

/* Exactly len bytes on the heap, so an over-read shows under valgrind. */
static void feed_raw(struct ws_carver *c, const struct timeval *ts, uint32_t saddr, uint16_t sport,
		     uint32_t daddr, uint16_t dport, const uint8_t *b, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		exit(2);
	if (len)
		memcpy(copy, b, len);
	struct ws_endpoint src = {ws_addr_v4(saddr), sport}, dst = {ws_addr_v4(daddr), dport};

	ws_carver_datagram(c, ts, &src, &dst, copy, len);
	free(copy);
}

static void feed(struct scen *s, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport,
		 const struct ws_tftp_pkt *p)
{
	static uint8_t buf[WS_TFTP_PKT_MAX + 1024];
	size_t n = ws_tftp_encode(p, buf, sizeof(buf));

	CHECK(n > 0);
	s->ts.tv_usec += 1000;
	if (s->ts.tv_usec >= 1000000) {
		s->ts.tv_sec++;
		s->ts.tv_usec -= 1000000;
	}
	feed_raw(s->c, &s->ts, saddr, sport, daddr, dport, buf, n);
}

static void from_server(struct scen *s, const struct ws_tftp_pkt *p)
{
	feed(s, s->server, s->tid, s->client, s->cport, p);
}

static void from_client(struct scen *s, const struct ws_tftp_pkt *p)
{
	feed(s, s->client, s->cport, s->server, s->tid, p);
}

static void request(struct scen *s, enum ws_tftp_op op, const char *name,
		    const struct ws_tftp_opts *o)
{
	struct ws_tftp_pkt p = {.op = op};

	snprintf(p.filename, sizeof(p.filename), "%s", name);
	snprintf(p.mode, sizeof(p.mode), "octet");
	if (o)
		p.opts = *o;
	feed(s, s->client, s->cport, s->server, SERVER_PORT, &p);
}

static void data(struct scen *s, bool upload, uint16_t block, const uint8_t *d, size_t len)
{
	struct ws_tftp_pkt p = {.op = WS_TFTP_DATA, .block = block, .data = d, .datalen = len};

	if (upload)
		from_client(s, &p);
	else
		from_server(s, &p);
}

static void ack(struct scen *s, bool upload, uint16_t block)
{
	struct ws_tftp_pkt p = {.op = WS_TFTP_ACK, .block = block};

	if (upload)
		from_server(s, &p);
	else
		from_client(s, &p);
}

static void oack(struct scen *s, uint32_t blksize, bool tsize_set, uint64_t tsize)
{
	struct ws_tftp_pkt p = {.op = WS_TFTP_OACK};

	p.opts.blksize_set = blksize != 0;
	p.opts.blksize = blksize;
	p.opts.tsize_set = tsize_set;
	p.opts.tsize = tsize;
	from_server(s, &p);
}

/* Block n (from 1) of file f, cut at blksize: DATA from the sender, then the ACK. */
static void block(struct scen *s, bool upload, const uint8_t *f, size_t size, uint32_t blksize,
		  uint64_t n)
{
	uint64_t off = (n - 1) * blksize;
	size_t len = off >= size ? 0 : (size - off < blksize ? size - off : blksize);

	data(s, upload, (uint16_t)n, f + off, len);
	ack(s, upload, (uint16_t)n);
}

static uint64_t nblocks(size_t size, uint32_t blksize)
{
	return size / blksize + 1;	/* the last one is short, maybe empty */
}

static void send_file(struct scen *s, bool upload, const uint8_t *f, size_t size, uint32_t blksize)
{
	for (uint64_t n = 1; n <= nblocks(size, blksize); n++)
		block(s, upload, f, size, blksize, n);
}

/* Bytes that differ at every offset, so a block written at the wrong place shows. */
static uint8_t *pattern(size_t n, uint32_t seed)
{
	uint8_t *b = malloc(n ? n : 1);

	if (!b)
		exit(2);
	for (size_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)i * 2654435761u + seed;

		v ^= v >> 15;
		b[i] = (uint8_t)(v * 0x2c1b3c6du >> 24);
	}
	return b;
}

static struct rec *only_rec(struct scen *s)
{
	CHECK(s->h.n == 1);
	return s->h.n ? s->h.recs[0] : NULL;
}

static bool same_bytes(const struct rec *r, const uint8_t *f, size_t size)
{
	if (r->end != size)
		return false;
	return size == 0 || (r->buf && memcmp(r->buf, f, size) == 0);
}

static void check_complete(struct scen *s, struct rec *r, const uint8_t *f, size_t size)
{
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK(r->closes == 1);
	CHECK(r->how == WS_CARVE_COMPLETE);
	CHECK(r->end_info.bytes == size);
	CHECK(r->end_info.blocks_missing == 0);
	CHECK(same_bytes(r, f, size));
	CHECK(ws_carver_active(s->c) == 0);
}

/* --------------------------------------------------------------- cases */

static void test_plain_rrq(void)
{
	struct scen s;
	size_t size = 1500;		/* 512 + 512 + 476 */
	uint8_t *f = pattern(size, 1);
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "msblast.exe", NULL);
	CHECK(ws_carver_active(s.c) == 1);
	r = only_rec(&s);
	CHECK(r && strcmp(r->open_info.filename, "msblast.exe") == 0);
	CHECK(r && strcmp(r->open_info.mode, "octet") == 0);
	CHECK(r && !r->open_info.upload && r->open_info.serial == 1);
	CHECK(r && ws_addr_v4_host(&r->open_info.client) == ntohl(s.client) &&
	      ws_addr_v4_host(&r->open_info.server) == ntohl(s.server));
	CHECK(r && r->open_info.client_port == s.cport && r->open_info.server_port == SERVER_PORT);
	CHECK(r && r->open_info.data_port == 0 && r->open_info.blksize == 512);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 2);
	CHECK(r && r->closes == 0);
	data(&s, false, 3, f + 1024, 476);
	/* complete on the short block itself, not on the final ACK */
	check_complete(&s, r, f, size);
	CHECK(r && r->writes == 3);
	CHECK(r && r->end_info.data_port == s.tid && r->end_info.blksize == 512);
	CHECK(r && timercmp(&r->end_info.last, &s.ts, ==));
	CHECK(r && timercmp(&r->end_info.first, &r->end_info.last, <));
	ack(&s, false, 3);	/* the late ACK belongs to nothing now */
	CHECK(s.h.n == 1 && ws_carver_active(s.c) == 0);
	CHECK(ws_carver_stats(s.c)->complete == 1 && ws_carver_stats(s.c)->transfers == 1);
	CHECK(ws_carver_stats(s.c)->malformed == 0 && ws_carver_stats(s.c)->duplicates == 0);
	scen_free(&s);
	free(f);
}

static void test_zero_final(void)
{
	struct scen s;
	size_t size = 1024;
	uint8_t *f = pattern(size, 2);
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "two-blocks", NULL);
	r = only_rec(&s);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 2);
	CHECK(r && r->closes == 0);	/* a full block is never the last */
	data(&s, false, 3, f + size, 0);
	check_complete(&s, r, f, size);
	CHECK(r && r->writes == 2);	/* an empty block has no bytes to write */
	scen_free(&s);
	free(f);
}

static void test_oack(void)
{
	struct scen s;
	size_t size = 5000;		/* 3 * 1428 + 716 */
	uint8_t *f = pattern(size, 3);
	struct ws_tftp_opts o = {.blksize_set = true, .blksize = 1428, .tsize_set = true};
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "big.bin", &o);
	oack(&s, 1428, true, size);
	ack(&s, false, 0);
	block(&s, false, f, size, 1428, 1);
	oack(&s, 8, true, 1);	/* too late: options are settled by the first block */
	for (uint64_t n = 2; n <= nblocks(size, 1428); n++)
		block(&s, false, f, size, 1428, n);
	r = only_rec(&s);
	check_complete(&s, r, f, size);
	CHECK(r && r->writes == 4);
	CHECK(r && r->end_info.blksize == 1428);
	CHECK(r && r->end_info.tsize_set && r->end_info.tsize == size);
	CHECK(r && r->end_info.data_port == s.tid);
	scen_free(&s);
	free(f);
}

/* An OACK without blksize leaves 512: the 1428 asked for was not granted. */
static void test_oack_without_blksize(void)
{
	struct scen s;
	size_t size = 700;
	uint8_t *f = pattern(size, 4);
	struct ws_tftp_opts o = {.blksize_set = true, .blksize = 1428, .tsize_set = true};
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", &o);
	oack(&s, 0, true, size);
	ack(&s, false, 0);
	send_file(&s, false, f, size, 512);
	r = only_rec(&s);
	check_complete(&s, r, f, size);
	CHECK(r && r->end_info.blksize == 512);
	scen_free(&s);
	free(f);
}

static void test_error(void)
{
	struct scen s;
	struct ws_tftp_pkt e = {.op = WS_TFTP_ERROR, .errcode = WS_TFTP_ENOTFOUND};
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	snprintf(e.errmsg, sizeof(e.errmsg), "File not found");
	request(&s, WS_TFTP_RRQ, "nope.exe", NULL);
	from_server(&s, &e);
	r = only_rec(&s);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_ERROR);
	CHECK(r && r->end_info.errcode == 1);
	CHECK(r && strcmp(r->end_info.errmsg, "File not found") == 0);
	CHECK(r && r->writes == 0 && r->end_info.bytes == 0);
	CHECK(ws_carver_stats(s.c)->complete == 0 && ws_carver_stats(s.c)->errors == 1);
	CHECK(ws_carver_active(s.c) == 0);
	scen_free(&s);
}

/* The client giving up mid-way (ERROR from the client side) ends it too. */
static void test_error_from_client(void)
{
	struct scen s;
	size_t size = 2000;
	uint8_t *f = pattern(size, 5);
	struct ws_tftp_pkt e = {.op = WS_TFTP_ERROR, .errcode = WS_TFTP_ENOSPACE};
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	snprintf(e.errmsg, sizeof(e.errmsg), "disk \x01full");
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	from_client(&s, &e);
	r = only_rec(&s);
	CHECK(r && r->how == WS_CARVE_ERROR && r->end_info.errcode == 3);
	CHECK(r && strcmp(r->end_info.errmsg, "disk \x01full") == 0);	/* raw */
	CHECK(r && r->end_info.bytes == 512 && r->end_info.blocks_missing >= 1);
	scen_free(&s);
	free(f);
}

static void test_duplicate(void)
{
	struct scen s;
	size_t size = 1300;
	uint8_t *f = pattern(size, 6);
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 2);
	block(&s, false, f, size, 512, 2);	/* retransmitted */
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 3);
	r = only_rec(&s);
	check_complete(&s, r, f, size);
	CHECK(r && r->writes == 3);
	CHECK(ws_carver_stats(s.c)->duplicates == 2);
	CHECK(ws_carver_stats(s.c)->out_of_order == 0);
	scen_free(&s);
	free(f);
}

static void test_out_of_order(void)
{
	struct scen s;
	size_t size = 1800;		/* 4 blocks, the last 264 bytes */
	uint8_t *f = pattern(size, 7);
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 3);
	block(&s, false, f, size, 512, 2);
	r = only_rec(&s);
	CHECK(r && r->closes == 0);
	block(&s, false, f, size, 512, 4);
	check_complete(&s, r, f, size);
	CHECK(ws_carver_stats(s.c)->out_of_order == 1);
	scen_free(&s);
	free(f);

	/* the short final block before a middle one: complete only when the hole fills */
	size = 1100;
	f = pattern(size, 8);
	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 3);
	r = only_rec(&s);
	CHECK(r && r->closes == 0);
	CHECK(r && r->end == size);
	block(&s, false, f, size, 512, 2);
	check_complete(&s, r, f, size);
	scen_free(&s);
	free(f);
}

static void test_unfinished(void)
{
	struct scen s;
	size_t size = 5000;
	uint8_t *f = pattern(size, 9);
	struct timeval later;
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 2);
	r = only_rec(&s);
	later = s.ts;
	later.tv_sec += 30;		/* idle exactly the timeout: not longer */
	ws_carver_sweep(s.c, &later);
	CHECK(r && r->closes == 0 && ws_carver_active(s.c) == 1);
	later.tv_sec += 1;
	ws_carver_sweep(s.c, &later);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_INCOMPLETE);
	CHECK(r && r->end_info.blocks_missing == 1);	/* at least the end */
	CHECK(r && r->end_info.bytes == 1024 && same_bytes(r, f, 1024));
	CHECK(ws_carver_active(s.c) == 0 && ws_carver_stats(s.c)->incomplete == 1);
	scen_free(&s);

	/* with the size announced, the missing count covers the whole file */
	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", &(struct ws_tftp_opts){.tsize_set = true});
	oack(&s, 0, true, size);	/* 5000 bytes: 10 blocks of 512 */
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 2);
	r = only_rec(&s);
	scen_stop(&s);
	CHECK(r && r->how == WS_CARVE_INCOMPLETE && r->end_info.blocks_missing == 8);
	scen_free(&s);
	free(f);
}

/* DATA that contradicts what came before is not part of the file. */
static void test_contradictions(void)
{
	struct scen s;
	size_t size = 1536 + 100;
	uint8_t *f = pattern(size, 22);
	struct rec *r;

	/* full 1 and 3, then a short 2: the file ends at 2, and 3 was not part of it */
	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	data(&s, false, 1, f, 512);
	data(&s, false, 3, f + 1024, 512);
	data(&s, false, 2, f + 512, 100);
	r = only_rec(&s);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_COMPLETE);
	CHECK(r && r->end_info.bytes == 612 && memcmp(r->buf, f, 612) == 0);
	scen_free(&s);

	/* the final block known: nothing past it, and no second short block before it */
	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 4);	/* final: 100 bytes */
	data(&s, false, 5, f, 512);
	data(&s, false, 2, f, 10);
	r = only_rec(&s);
	CHECK(r && r->writes == 2 && r->closes == 0);
	CHECK(ws_carver_stats(s.c)->malformed == 2);
	block(&s, false, f, size, 512, 2);
	block(&s, false, f, size, 512, 3);
	check_complete(&s, r, f, size);
	scen_free(&s);
	free(f);
}

static void test_missing_middle(void)
{
	struct scen s;
	size_t size = 1300;
	uint8_t *f = pattern(size, 10);
	struct timeval later;
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 3);	/* final, but 2 never comes */
	r = only_rec(&s);
	CHECK(r && r->closes == 0);
	later = s.ts;
	later.tv_sec += 31;
	ws_carver_sweep(s.c, &later);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_INCOMPLETE);
	CHECK(r && r->end_info.blocks_missing == 1);
	CHECK(r && r->end_info.bytes == size);
	CHECK(r && memcmp(r->buf, f, 512) == 0 && memcmp(r->buf + 1024, f + 1024, size - 1024) == 0);
	CHECK(ws_carver_stats(s.c)->complete == 0);
	scen_free(&s);
	free(f);
}

/* 70000 blocks of 8 bytes: block numbers wrap past 65535 to 0. */
static void test_rollover(void)
{
	struct scen s;
	const uint64_t full = 69999;
	size_t size = full * 8 + 5;
	uint8_t *f = pattern(size, 11);
	struct ws_tftp_opts o = {.blksize_set = true, .blksize = 8};
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", &o);
	oack(&s, 8, false, 0);
	ack(&s, false, 0);
	for (uint64_t n = 1; n <= 65537; n++)
		block(&s, false, f, size, 8, n);
	/* a late copy of block 65535 (numbered 65535 again): a duplicate, not block 131071 */
	block(&s, false, f, size, 8, 65535);
	for (uint64_t n = 65538; n <= nblocks(size, 8); n++)
		block(&s, false, f, size, 8, n);
	r = only_rec(&s);
	check_complete(&s, r, f, size);
	CHECK(r && r->writes == full + 1);
	CHECK(ws_carver_stats(s.c)->duplicates == 1);
	scen_free(&s);
	free(f);
}

static void test_wrq_upload(void)
{
	struct scen s;
	size_t size = 3000;
	uint8_t *f = pattern(size, 12);
	struct ws_tftp_opts o = {.tsize_set = true, .tsize = 3000};
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_WRQ, "upload.bin", &o);
	ack(&s, true, 0);		/* the server's go-ahead fixes its TID */
	send_file(&s, true, f, size, 512);
	r = only_rec(&s);
	CHECK(r && r->open_info.upload);
	CHECK(r && r->end_info.tsize_set && r->end_info.tsize == size);
	check_complete(&s, r, f, size);
	CHECK(r && r->end_info.data_port == s.tid);
	scen_free(&s);
	free(f);
}

/* DATA flowing the wrong way for the transfer is not part of the file. */
static void test_wrong_direction(void)
{
	struct scen s;
	size_t size = 600;
	uint8_t *f = pattern(size, 13), junk[512];
	struct rec *r;

	memset(junk, 'J', sizeof(junk));
	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_WRQ, "up", NULL);
	ack(&s, true, 0);
	data(&s, false, 1, junk, sizeof(junk));	/* from the server on an upload */
	send_file(&s, true, f, size, 512);
	r = only_rec(&s);
	check_complete(&s, r, f, size);
	CHECK(ws_carver_stats(s.c)->malformed == 1);
	scen_free(&s);
	free(f);
}

static void test_foreign(void)
{
	struct scen s;
	size_t size = 1200;
	uint8_t *f = pattern(size, 14), junk[512];
	struct ws_tftp_pkt e = {.op = WS_TFTP_ERROR, .errcode = WS_TFTP_EBADID};
	struct rec *r;

	memset(junk, 'X', sizeof(junk));
	snprintf(e.errmsg, sizeof(e.errmsg), "Unknown transfer ID");
	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);	/* fixes the TID at 50000 */
	s.tid = 50001;				/* a second server process answers */
	data(&s, false, 2, junk, sizeof(junk));
	data(&s, false, 3, junk, 10);
	from_client(&s, &e);			/* the client refuses it */
	s.tid = 50000;
	r = only_rec(&s);
	CHECK(r && r->closes == 0);
	CHECK(ws_carver_stats(s.c)->foreign == 3);
	block(&s, false, f, size, 512, 2);
	block(&s, false, f, size, 512, 3);
	check_complete(&s, r, f, size);
	scen_free(&s);
	free(f);
}

/* Some servers answer from the port the request went to. */
static void test_answer_from_server_port(void)
{
	struct scen s;
	size_t size = 513;		/* a 1-byte final block */
	uint8_t *f = pattern(size, 15);

	scen_init(&s, 16, 1 << 20);
	s.tid = SERVER_PORT;
	request(&s, WS_TFTP_RRQ, "f", NULL);
	send_file(&s, false, f, size, 512);
	check_complete(&s, only_rec(&s), f, size);
	scen_free(&s);
	free(f);
}

static void test_no_request(void)
{
	struct scen s;
	uint8_t d[512];
	struct ws_tftp_pkt e = {.op = WS_TFTP_ERROR, .errcode = 0};

	memset(d, 'D', sizeof(d));
	scen_init(&s, 16, 1 << 20);
	data(&s, false, 1, d, sizeof(d));
	data(&s, false, 2, d, 3);
	from_server(&s, &e);
	ack(&s, false, 1);
	CHECK(s.h.n == 0 && ws_carver_active(s.c) == 0);
	CHECK(ws_carver_stats(s.c)->transfers == 0 && ws_carver_stats(s.c)->datagrams == 4);
	/* a request without a file name is not one */
	{
		static const uint8_t empty_name[] = {0, 1, 0, 'o', 'c', 't', 'e', 't', 0};

		feed_raw(s.c, &s.ts, s.client, s.cport, s.server, SERVER_PORT, empty_name,
			 sizeof(empty_name));
		CHECK(s.h.n == 0 && ws_carver_stats(s.c)->malformed == 1);
	}
	/* a reply from the server port itself before any request: nothing either */
	feed(&s, s.server, SERVER_PORT, s.client, s.cport,
	     &(struct ws_tftp_pkt){.op = WS_TFTP_DATA, .block = 1, .data = d, .datalen = 3});
	CHECK(s.h.n == 0 && ws_carver_active(s.c) == 0);
	scen_free(&s);
}

/* The request sent again before any answer is the same transfer. */
static void test_repeated_request(void)
{
	struct scen s;
	size_t size = 700;
	uint8_t *f = pattern(size, 16);
	struct timeval later;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	s.ts.tv_sec += 20;
	request(&s, WS_TFTP_RRQ, "f", NULL);
	CHECK(s.h.n == 1 && ws_carver_active(s.c) == 1);
	later = s.ts;
	later.tv_sec += 15;		/* 35 s after the first, 15 after the second */
	ws_carver_sweep(s.c, &later);
	CHECK(ws_carver_active(s.c) == 1);
	send_file(&s, false, f, size, 512);
	check_complete(&s, only_rec(&s), f, size);
	CHECK(ws_carver_stats(s.c)->transfers == 1);

	/* the same port asking again once the first is done is a new transfer */
	request(&s, WS_TFTP_RRQ, "f", NULL);
	CHECK(s.h.n == 2 && ws_carver_active(s.c) == 1);
	/* and a different file from the same port ends the unfinished one */
	request(&s, WS_TFTP_RRQ, "g", NULL);
	CHECK(s.h.n == 3 && s.h.recs[1]->closes == 1 && s.h.recs[1]->how == WS_CARVE_INCOMPLETE);
	scen_free(&s);
	free(f);
}

static void test_too_large(void)
{
	struct scen s;
	size_t size = 1500;
	uint8_t *f = pattern(size, 17);
	struct rec *r;

	scen_init(&s, 16, 1000);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 2);	/* would end at 1024 > 1000 */
	r = only_rec(&s);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_TOO_LARGE);
	CHECK(r && r->writes == 1 && r->end == 512);
	CHECK(ws_carver_stats(s.c)->too_large == 1 && ws_carver_active(s.c) == 0);
	scen_free(&s);
	free(f);

	/* exactly max_file_size is not too large */
	size = 1024;
	f = pattern(size, 18);
	scen_init(&s, 16, 1024);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	send_file(&s, false, f, size, 512);
	check_complete(&s, only_rec(&s), f, size);
	scen_free(&s);
	free(f);
}

static void test_tsize_too_large(void)
{
	struct scen s;
	struct ws_tftp_opts o = {.tsize_set = true};
	uint8_t d[512] = {0};
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	request(&s, WS_TFTP_RRQ, "f", &o);
	oack(&s, 0, true, (1 << 20) + 1);
	r = only_rec(&s);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_TOO_LARGE);
	CHECK(r && r->end_info.tsize == (1 << 20) + 1);
	data(&s, false, 1, d, sizeof(d));
	CHECK(r && r->writes == 0 && s.h.n == 1);
	scen_free(&s);

	/* a WRQ announcing too much */
	scen_init(&s, 16, 4096);
	o.tsize = 4097;
	request(&s, WS_TFTP_WRQ, "f", &o);
	r = only_rec(&s);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_TOO_LARGE);
	scen_free(&s);
}

/* max_transfers 2: a third pushes out the least recently active one. */
static void test_eviction(void)
{
	struct scen s;
	size_t size = 2000;
	uint8_t *f = pattern(size, 19);

	scen_init(&s, 2, 1 << 20);
	s.cport = 1001;
	request(&s, WS_TFTP_RRQ, "a", NULL);
	s.cport = 1002;
	request(&s, WS_TFTP_RRQ, "b", NULL);
	s.cport = 1001;
	block(&s, false, f, size, 512, 1);	/* a is busy again: b is now the oldest */
	s.cport = 1003;
	request(&s, WS_TFTP_RRQ, "c", NULL);
	CHECK(s.h.n == 3 && ws_carver_active(s.c) == 2);
	CHECK(s.h.n == 3 && s.h.recs[1]->closes == 1 && s.h.recs[1]->how == WS_CARVE_EVICTED);
	CHECK(s.h.n == 3 && s.h.recs[0]->closes == 0 && s.h.recs[2]->closes == 0);
	s.cport = 1004;
	request(&s, WS_TFTP_RRQ, "d", NULL);
	CHECK(s.h.n == 4 && s.h.recs[0]->closes == 1 && s.h.recs[0]->how == WS_CARVE_EVICTED);
	CHECK(ws_carver_stats(s.c)->evicted == 2 && ws_carver_active(s.c) == 2);
	/* shutdown closes the rest as incomplete */
	scen_stop(&s);
	CHECK(s.h.n == 4 && s.h.recs[2]->how == WS_CARVE_INCOMPLETE);
	CHECK(s.h.n == 4 && s.h.recs[3]->how == WS_CARVE_INCOMPLETE);
	scen_free(&s);
	free(f);
}

/* open() returning NULL: followed and counted, never written or closed. */
static void test_declined(void)
{
	struct scen s;
	size_t size = 900;
	uint8_t *f = pattern(size, 20);

	scen_init(&s, 16, 1 << 20);
	s.h.decline = true;
	request(&s, WS_TFTP_RRQ, "f", NULL);
	CHECK(ws_carver_active(s.c) == 1 && s.h.declined == 1);
	send_file(&s, false, f, size, 512);
	CHECK(s.h.writes_total == 0);
	CHECK(ws_carver_stats(s.c)->complete == 1 && ws_carver_active(s.c) == 0);
	scen_free(&s);
	free(f);
}

/* write() returning -1: the caller gave up, the transfer ends at once. */
static void test_write_fails(void)
{
	struct scen s;
	size_t size = 2000;
	uint8_t *f = pattern(size, 21);
	struct rec *r;

	scen_init(&s, 16, 1 << 20);
	s.h.fail_write = 2;
	request(&s, WS_TFTP_RRQ, "f", NULL);
	block(&s, false, f, size, 512, 1);
	block(&s, false, f, size, 512, 2);
	r = only_rec(&s);
	CHECK(r && r->closes == 1 && r->how == WS_CARVE_INCOMPLETE);
	CHECK(ws_carver_active(s.c) == 0);
	block(&s, false, f, size, 512, 3);
	CHECK(s.h.writes_total == 2 && s.h.n == 1);
	scen_free(&s);
	free(f);
}

static void test_names_and_params(void)
{
	struct ws_carve_params p = {.server_port = 69, .idle_timeout = 30, .max_transfers = 0,
				    .max_file_size = 1};

	CHECK(strcmp(ws_carve_end_name(WS_CARVE_COMPLETE), "complete") == 0);
	CHECK(strcmp(ws_carve_end_name(WS_CARVE_INCOMPLETE), "incomplete") == 0);
	CHECK(strcmp(ws_carve_end_name(WS_CARVE_ERROR), "error") == 0);
	CHECK(strcmp(ws_carve_end_name(WS_CARVE_TOO_LARGE), "too-large") == 0);
	CHECK(strcmp(ws_carve_end_name(WS_CARVE_EVICTED), "evicted") == 0);
	CHECK(strcmp(ws_carve_end_name((enum ws_carve_end)99), "unknown") == 0);
	CHECK(ws_carver_new(&p) == NULL);
	p.max_transfers = 1;
	p.ops.open = op_open;	/* open without write/close */
	CHECK(ws_carver_new(&p) == NULL);
}

/* --------------------------------------------------------- hostile input */

/* A few well-formed datagrams of every kind, encoded. */
static size_t sample_datagrams(uint8_t out[][WS_TFTP_PKT_MAX], size_t max)
{
	static const uint8_t d[600] = {1, 2, 3};
	struct ws_tftp_pkt p[8];
	size_t n = 0;

	memset(p, 0, sizeof(p));
	p[0].op = WS_TFTP_RRQ;
	snprintf(p[0].filename, sizeof(p[0].filename), "msblast.exe");
	snprintf(p[0].mode, sizeof(p[0].mode), "octet");
	p[0].opts = (struct ws_tftp_opts){.blksize_set = true, .blksize = 1428,
					  .tsize_set = true, .timeout_set = true, .timeout = 5};
	p[1] = p[0];
	p[1].op = WS_TFTP_WRQ;
	p[2] = (struct ws_tftp_pkt){.op = WS_TFTP_DATA, .block = 1, .data = d, .datalen = 512};
	p[3] = (struct ws_tftp_pkt){.op = WS_TFTP_DATA, .block = 2, .data = d, .datalen = 0};
	p[4] = (struct ws_tftp_pkt){.op = WS_TFTP_ACK, .block = 7};
	p[5] = (struct ws_tftp_pkt){.op = WS_TFTP_ERROR, .errcode = 1};
	snprintf(p[5].errmsg, sizeof(p[5].errmsg), "File not found");
	p[6] = (struct ws_tftp_pkt){.op = WS_TFTP_OACK};
	p[6].opts = p[0].opts;
	p[7] = (struct ws_tftp_pkt){.op = WS_TFTP_DATA, .block = 3, .data = d, .datalen = 600};
	for (size_t i = 0; i < 8 && i < max; i++) {
		size_t len = ws_tftp_encode(&p[i], out[n] + 2, WS_TFTP_PKT_MAX - 2);

		CHECK(len > 0);
		out[n][0] = (uint8_t)(len >> 8);	/* length first: encoding is not NUL-free */
		out[n][1] = (uint8_t)len;
		n++;
	}
	return n;
}

/* Every prefix of every kind of datagram, to the server port and within a transfer. */
static void test_prefixes(void)
{
	static uint8_t samples[8][WS_TFTP_PKT_MAX];
	size_t n = sample_datagrams(samples, 8);
	struct scen s;

	scen_init(&s, 4, 1 << 16);
	request(&s, WS_TFTP_RRQ, "f", NULL);
	data(&s, false, 1, samples[0], 512);	/* the TID is now fixed */
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)samples[i][0] << 8 | samples[i][1];

		for (size_t k = 0; k <= len; k++) {
			const uint8_t *b = samples[i] + 2;

			feed_raw(s.c, &s.ts, s.client, 2000, s.server, SERVER_PORT, b, k);
			feed_raw(s.c, &s.ts, s.server, s.tid, s.client, s.cport, b, k);
			feed_raw(s.c, &s.ts, s.client, s.cport, s.server, s.tid, b, k);
			if (ws_carver_active(s.c) == 0)
				request(&s, WS_TFTP_RRQ, "f", NULL);
		}
	}
	CHECK(ws_carver_stats(s.c)->malformed > 0);
	CHECK(ws_carver_active(s.c) <= 4);
	scen_free(&s);
}

static uint64_t xorshift(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return *st;
}

static void test_random_garbage(void)
{
	struct scen s;
	uint64_t st = 0x9e3779b97f4a7c15ull;
	uint8_t buf[700];
	struct timeval ts;
	uint64_t datagrams;

	scen_init(&s, 8, 1 << 18);
	s.h.keep_bytes = false;
	request(&s, WS_TFTP_RRQ, "f", NULL);
	data(&s, false, 1, buf, 512);
	ts = s.ts;
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t r = xorshift(&st);
		size_t len = (size_t)(r % sizeof(buf));
		uint16_t cport = (uint16_t)(40000 + (r >> 10) % 3);
		uint16_t tid = (r >> 12) & 1 ? s.tid : SERVER_PORT;

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)xorshift(&st);
		/* mostly valid opcodes and small block numbers, to get past the first check */
		if (len >= 2 && (r >> 16) % 4 != 0) {
			buf[0] = 0;
			buf[1] = (uint8_t)((r >> 20) % 7);
		}
		if (len >= 4 && (r >> 24) % 2)
			buf[2] = 0;
		ts.tv_sec += (r >> 30) % 97 == 0;
		switch ((r >> 40) % 4) {
		case 0:
			feed_raw(s.c, &ts, s.client, cport, s.server, SERVER_PORT, buf, len);
			break;
		case 1:
			feed_raw(s.c, &ts, s.server, tid, s.client, cport, buf, len);
			break;
		case 2:
			feed_raw(s.c, &ts, s.client, cport, s.server, tid, buf, len);
			break;
		default:
			feed_raw(s.c, &ts, s.server, (uint16_t)(r >> 48), s.client, cport, buf, len);
			break;
		}
		if ((r >> 50) % 1000 == 0)
			ws_carver_sweep(s.c, &ts);
		CHECK(ws_carver_active(s.c) <= 8);
	}
	datagrams = ws_carver_stats(s.c)->datagrams;
	CHECK(datagrams == 100000 + 2);
	CHECK(ws_carver_stats(s.c)->malformed > 0);
	CHECK(ws_carver_stats(s.c)->transfers > 1);
	scen_free(&s);
}

/* ------------------------------------------------------ real captures */

/* Reads the headers of one frame; false if it is not an unfragmented IPv4/UDP datagram. */
struct udp4 {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	const uint8_t *payload;
	size_t len;
};

struct cur {
	const uint8_t *p;
	size_t left;
};

static bool skip(struct cur *c, size_t n)
{
	if (c->left < n)
		return false;
	c->p += n;
	c->left -= n;
	return true;
}

static bool u16be(struct cur *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	return skip(c, 2);
}

static bool link_to_ip(int dlt, struct cur *c)
{
	uint16_t type;

	switch (dlt) {
	case DLT_EN10MB:
		if (!skip(c, 12) || !u16be(c, &type))
			return false;
		while (type == 0x8100 || type == 0x88a8)
			if (!skip(c, 2) || !u16be(c, &type))
				return false;
		return type == 0x0800;
	case DLT_NULL:
		if (c->left < 4)
			return false;
		/* AF_INET (2) in the capturing host's byte order */
		if (!(c->p[0] == 2 && c->p[3] == 0) && !(c->p[3] == 2 && c->p[0] == 0))
			return false;
		return skip(c, 4);
	case DLT_LINUX_SLL:
		return skip(c, 14) && u16be(c, &type) && type == 0x0800;
	default:
		return false;
	}
}

static bool parse_udp4(int dlt, const uint8_t *frame, size_t caplen, struct udp4 *u)
{
	struct cur c = {frame, caplen};
	uint16_t total, frag, ulen;
	size_t ihl;

	if (!link_to_ip(dlt, &c) || c.left < 20 || c.p[0] >> 4 != 4)
		return false;
	ihl = (size_t)(c.p[0] & 15) * 4;
	total = (uint16_t)(c.p[2] << 8 | c.p[3]);
	frag = (uint16_t)(c.p[6] << 8 | c.p[7]);
	if (ihl < 20 || c.left < ihl || total < ihl || c.p[9] != 17 || (frag & 0x3fff))
		return false;
	memcpy(&u->saddr, c.p + 12, 4);
	memcpy(&u->daddr, c.p + 16, 4);
	if (c.left > total)
		c.left = total;	/* Ethernet padding is not payload */
	if (!skip(&c, ihl) || !u16be(&c, &u->sport) || !u16be(&c, &u->dport) ||
	    !u16be(&c, &ulen) || !skip(&c, 2) || ulen < 8)
		return false;
	u->payload = c.p;
	u->len = ulen - 8u < c.left ? ulen - 8u : c.left;
	return true;
}

static int carve_capture(const char *path, struct scen *s, uint64_t max_file_size)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *hdr;
	const u_char *frame;
	struct timeval last = {0, 0};
	pcap_t *pc = pcap_open_offline(path, errbuf);
	int r;

	if (!pc) {
		fprintf(stderr, "%s: pcap_open_offline: %s\n", path, errbuf);
		return -1;
	}
	scen_init(s, 1024, max_file_size);
	while ((r = pcap_next_ex(pc, &hdr, &frame)) == 1) {
		struct udp4 u;

		last = hdr->ts;
		if (parse_udp4(pcap_datalink(pc), frame, hdr->caplen, &u))
			feed_raw(s->c, &hdr->ts, u.saddr, u.sport, u.daddr, u.dport, u.payload,
				 u.len);
	}
	CHECK(r == PCAP_ERROR_BREAK);
	pcap_close(pc);
	last.tv_sec += 3600;
	ws_carver_sweep(s->c, &last);
	scen_stop(s);
	return 0;
}

static void md5_hex(const uint8_t *b, size_t n, char out[2 * MD5_DIGEST_SIZE + 1])
{
	struct md5_ctx ctx;
	uint8_t d[MD5_DIGEST_SIZE];

	md5_init(&ctx);
	md5_update(&ctx, n, b);
	md5_digest(&ctx, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* What tshark --export-objects tftp writes for each capture (see the report). */
struct expect {
	const char *capture, *file;
	bool upload;
	uint64_t size;
	const char *md5;
};

static const struct expect expected[] = {
	{"zeek-spicy-tftp/tftp_rrq.pcap", "rfc1350.txt", false, 24599,
	 "dca7766edd1e4976cac5e64fcaeec1fd"},
	{"zeek-spicy-tftp/tftp_wrq.pcap", "rfc1350.txt", true, 24599,
	 "dca7766edd1e4976cac5e64fcaeec1fd"},
	{"zeek-spicy-tftp/tftp_oack.pcap", "hello.txt", false, 446,
	 "edc715389af2498a623134608ba0a55b"},
	{"tcpdump/tftp.pcap", "file1", false, 1129, "57c8e9e95211ab355591dc8c211c8e8f"},
	{"malcolm-pcap/TFTP.pcap", "ARTIST_-_Spectrogram_-_TRACK_-_Secrets.wav", true, 440764,
	 "a6a6cb6504cacb4966a05c2381d46204"},
	{"malcolm-pcap/TFTP.pcap", "IECache.7z", true, 291266, "3bd2da55eb0814c9476bf159a9c5dc9c"},
	{"malcolm-pcap/TFTP.pcap", "SHOPPINGLIST.7z", true, 927673,
	 "2d6a6d63bd09c03933cc5a01b7b5a62a"},
	{"malcolm-pcap/TFTP.pcap", "pxelinux.cfg/default", false, 346,
	 "6e3a2e46a6c0e0e101b4f2f39830e38b"},
	{"malcolm-pcap/TFTP.pcap", "pxelinux.cfg/default", false, 346,
	 "6e3a2e46a6c0e0e101b4f2f39830e38b"},
	{"malcolm-pcap/TFTP.pcap", "file1", false, 1129, "57c8e9e95211ab355591dc8c211c8e8f"},
	{"malcolm-pcap/TFTP.pcap", "ldlinux.c32", false, 122044,
	 "b1055cd4c6a290c7cce866dd0cb14542"},
	{"malcolm-pcap/TFTP.pcap", "libutil.c32", false, 24156, "fda473e7f4e69e2777c66af6eafcbc2f"},
	{"malcolm-pcap/TFTP.pcap", "memdisk", false, 26140, "fb4a5ef50e1814429a2472dd10df87a2"},
	{"malcolm-pcap/TFTP.pcap", "menu.c32", false, 26568, "33e93669fc445610313e38f8422f7af8"},
	{"malcolm-pcap/TFTP.pcap", "pxelinux.0", false, 46545, "93cbd91c135ec290c5051b781e2512aa"},
	{"malcolm-pcap/TFTP.pcap", "rfc1350.txt", false, 24599, "dca7766edd1e4976cac5e64fcaeec1fd"},
	{"malcolm-pcap/TFTP.pcap", "rfc1350.txt", true, 24599, "dca7766edd1e4976cac5e64fcaeec1fd"},
	{"ndpi/tftp.pcap", "rfc1350.txt", false, 24599, "dca7766edd1e4976cac5e64fcaeec1fd"},
};

static bool matches(const struct rec *r, const struct expect *e)
{
	char md5[2 * MD5_DIGEST_SIZE + 1];

	if (r->how != WS_CARVE_COMPLETE || r->open_info.upload != e->upload ||
	    strcmp(r->open_info.filename, e->file) != 0 || r->end_info.bytes != e->size ||
	    r->end != e->size || !r->buf)
		return false;
	md5_hex(r->buf, e->size, md5);
	return strcmp(md5, e->md5) == 0;
}

/* Every file tshark exports is carved complete and identical, once each. */
static void check_capture(const char *dir, const char *capture, uint64_t max_file_size,
			  struct scen *s, bool *ran)
{
	char path[4096];
	size_t want = 0, found = 0, complete = 0;
	bool *used;

	snprintf(path, sizeof(path), "%s/%s", dir, capture);
	*ran = false;
	if (access(path, R_OK) != 0) {
		printf("skip %s: not found\n", path);
		return;
	}
	CHECK(carve_capture(path, s, max_file_size) == 0);
	*ran = true;
	used = calloc(s->h.n + 1, sizeof(*used));
	if (!used)
		exit(2);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		size_t k;

		if (strcmp(expected[i].capture, capture) != 0)
			continue;
		want++;
		for (k = 0; k < s->h.n; k++)
			if (!used[k] && matches(s->h.recs[k], &expected[i]))
				break;
		if (k < s->h.n) {
			used[k] = true;
			found++;
		} else {
			fprintf(stderr, "%s: %s not carved identically\n", capture,
				expected[i].file);
		}
	}
	for (size_t k = 0; k < s->h.n; k++)
		complete += s->h.recs[k]->how == WS_CARVE_COMPLETE;
	printf("%s: %zu transfers, %zu complete, %zu of %zu expected files identical\n", capture,
	       s->h.n, complete, found, want);
	CHECK(want > 0 && found == want);
	CHECK(complete == want);	/* and nothing else claims to be complete */
	CHECK(s->st.complete == want);
	free(used);
}

static void test_captures(const char *dir)
{
	static const char *const simple[] = {
		"zeek-spicy-tftp/tftp_rrq.pcap", "zeek-spicy-tftp/tftp_wrq.pcap",
		"zeek-spicy-tftp/tftp_oack.pcap", "tcpdump/tftp.pcap", "ndpi/tftp.pcap",
	};
	struct scen s;
	bool ran;

	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		check_capture(dir, simple[i], 64u << 20, &s, &ran);
		if (ran)
			harness_free(&s.h);
	}

	/*
	 * The merged capture: three uploads, a PXE boot with OACKs and nine
	 * "File Not Found" errors, and an ISO download (tsize 199161856) whose
	 * blocks jump from 4 to 65530 and then stop.
	 */
	check_capture(dir, "malcolm-pcap/TFTP.pcap", 256u << 20, &s, &ran);
	if (ran) {
		unsigned errors = 0, iso = 0;

		for (size_t k = 0; k < s.h.n; k++) {
			const struct rec *r = s.h.recs[k];

			errors += r->how == WS_CARVE_ERROR && r->end_info.errcode == 1;
			if (strcmp(r->open_info.filename, "mfsbsd-se-10.1-RELEASE-amd64.iso") == 0) {
				iso++;
				CHECK(r->how == WS_CARVE_INCOMPLETE);
				CHECK(r->end_info.blocks_missing > 0);
				CHECK(r->end_info.blksize == 1408);
			}
		}
		CHECK(errors == 9);
		CHECK(iso == 1);
		harness_free(&s.h);
	}
	/* the same with a 64 MiB limit: the ISO's tsize makes it too large at once */
	check_capture(dir, "malcolm-pcap/TFTP.pcap", 64u << 20, &s, &ran);
	if (ran) {
		for (size_t k = 0; k < s.h.n; k++)
			if (strcmp(s.h.recs[k]->open_info.filename,
				   "mfsbsd-se-10.1-RELEASE-amd64.iso") == 0)
				CHECK(s.h.recs[k]->how == WS_CARVE_TOO_LARGE &&
				      s.h.recs[k]->writes == 0);
		harness_free(&s.h);
	}
	/* a crafted Linux-SLL frame claiming far more than was captured */
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/tcpdump/tftp-heapoverflow.pcap", dir);
		if (access(path, R_OK) == 0 && carve_capture(path, &s, 1 << 20) == 0) {
			CHECK(s.st.complete == 0 && s.st.datagrams == 1);
			harness_free(&s.h);
		}
	}
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("WS_THIRD_PARTY_PCAPS");

	test_names_and_params();
	test_plain_rrq();
	test_zero_final();
	test_oack();
	test_oack_without_blksize();
	test_error();
	test_error_from_client();
	test_duplicate();
	test_out_of_order();
	test_unfinished();
	test_missing_middle();
	test_contradictions();
	test_rollover();
	test_wrq_upload();
	test_wrong_direction();
	test_foreign();
	test_answer_from_server_port();
	test_no_request();
	test_repeated_request();
	test_too_large();
	test_tsize_too_large();
	test_eviction();
	test_declined();
	test_write_fails();
	test_prefixes();
	test_random_garbage();
	test_captures(dir ? dir : "/work/shared/pcaps/third_party");

	printf("%u checks, %u failed\n", checks, failures);
	return failures ? 1 : 0;
}
