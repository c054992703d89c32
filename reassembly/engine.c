/*
 * The reassembler: every TCP byte a host accepted, as that host (the target
 * policy) would have accepted it, and nothing it would have refused.
 * reassembly/README.md gives each rule with its source; comments here say
 * which rule a piece of code implements.
 *
 * One instance per process (the callbacks carry no handle), so the state is
 * one static struct. Layout:
 *  - the capture clock (monotonic) and the checksum mode (auto samples);
 *  - IPv4: header checks, fragments (defrag.c), UDP hand-off;
 *  - TCP: a SYN cache (handshakes never take a flow), a closed-connection
 *    memory (TIME-WAIT-like), expectations, and flows in one hash table.
 *    A flow is first SCREENED (bounded table, first bytes only), then
 *    followed as a STREAM (bounded table, LRU; shell streams protected), or
 *    IGNORED. Both directions go through the receiver's checks and the
 *    receive queue (normalize.c) before delivery.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "reassembly.h"
#include "seq.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

#define SYN_SET_BITS 13		/* the SYN cache: 2^13 sets of SYN_WAYS, 65536 SYNs in 1 MiB */
#define SYN_SETS (1u << SYN_SET_BITS)
#define SYN_WAYS 8		/* a set is two adjacent cache lines */
#define CLOSED_SLOTS 65536u	/* power of two, in pairs */
#define IGNORED_MIN_SLOTS 8192u	/* the set's first size: 128 KiB (README "Screening") */
#define IGNORED_MAX_SLOTS (1u << 20)	/* it doubles up to this: 16 MiB */
#define IGNORED_WAYS 4		/* one 64-byte cache line per set */
#define ISN_PLAUSIBLE (1u << 24)	/* first data within 16 MiB of the SYN */
#define DEFAULT_WINDOW 65535u	/* receiver's window before we saw it (README: Window) */
#define PICKUP_WSCALE 14	/* scale assumed when the handshake was not seen */
#define WSCALE_NONE 0xff
#define DOUBT_CSUM 1		/* bad checksum, validation off; or past the window (README "Doubt") */
#define DOUBT_SUSPECT 2		/* TTL too low, or ACKs data never sent */
#define TTL_SLACK 5		/* Snort stream5 ttl_limit default (README: TTL) */
#define TIME_WAIT 240		/* Windows TcpTimedWaitDelay default (README: Closed) */
#define QUEUE_MAX 65536u	/* out-of-order bytes per direction */
#define QUEUE_BUDGET (16u << 20)	/* out-of-order bytes in all */
#define EXPECT_SLOTS 256
#define SPARE_MAX 64		/* freed flows and screening buffers kept for reuse */
#define CLOCK_JUMP 3600		/* seconds off the clock that count as a jump */
#define CLOCK_CONFIRM 8		/* packets that confirm a jump */
#define SAMPLE_MAX 64		/* packets auto checksum mode looks at */
#define SAMPLE_EARLY 16		/* ... or fewer when they all agree */
#define SAMPLE_BYTES (1u << 20)
#define FRAG_TIMEOUT 30
#define FRAG_DATAGRAMS 256
#define FRAG_BYTES (4u << 20)

enum kind { K_SCREEN, K_STREAM, K_IGNORED };
enum csum { CSUM_GOOD, CSUM_BAD, CSUM_LATER };
enum list { L_SCREEN, L_STREAM, L_SHELL, L_LISTS };

/* One direction: what `this side` sent, and what it offered the other. */
struct half {
	uint32_t nxt;		/* next byte the receiver expects from this side */
	uint32_t max_end;	/* end of the highest sequence this side sent */
	uint32_t isn, fin;
	uint32_t right;		/* right edge of the window this side offers the other */
	uint32_t ack;		/* highest acceptable ACK this side sent */
	uint32_t hi_start;	/* highest sequence a segment of this side started at */
	uint16_t syn_win;	/* window in this side's SYN */
	uint8_t wscale;		/* shift asked for in this side's SYN, or WSCALE_NONE */
	uint8_t ttl;		/* highest TTL seen from this side */
	bool seen, nxt_known, right_known, ack_known, fin_seen, fin_done, flush;
	struct ws_rxq *q;
};

struct flow {
	/* what a hash lookup reads, first: one cache line per chain step */
	struct flow *hnext;
	uint32_t addr[2];	/* network order: [client], [server] */
	uint16_t port[2];
	struct ws_flow_info info;	/* ws_reasm_protect gets this pointer back */
	struct flow *older, *newer;
	time_t last;
	uint8_t kind, list, first_side, nsegs, fin_first;
	bool pickup, scaled, scale_unknown, watched, sfull[2];
	struct half h[2];
	uint8_t *sbuf[2];	/* screening: first bytes of each side */
	uint16_t slen[2];
	uint16_t sgap[2];	/* screening: 1 + where in sbuf a hole falls, 0 none */
	uint8_t sstop;		/* screening: bit per side that keeps nothing more (a second hole) */
	char *line;		/* stream: the client's line being assembled */
	uint32_t line_len, line_cap;
	bool overlong;		/* the line passed max_line: dropped at its newline, counted */
	bool cut;		/* a gap cut the line (counted then): dropped up to its newline */
	void *flow_user;
};

struct syn_slot {
	uint32_t tag;		/* syn_tag of the 4-tuple it was sent on; 0: empty */
	uint32_t isn;
	uint16_t win;
	uint8_t wscale, ttl;
	bool synack;
	uint8_t pad[3];
};

_Static_assert(sizeof(struct syn_slot) * SYN_WAYS == 128, "a SYN cache set is two cache lines");

struct closed_slot {
	uint32_t saddr, daddr;	/* client, server */
	uint16_t sport, dport;
	uint32_t cisn, cend;	/* the client's sequence space used */
	uint32_t stamp;
	time_t when;
	bool server_time_wait;	/* the server closed first: it lingers in TIME-WAIT */
};

/*
 * A flow screening ignored: only its 4-tuple (the lower endpoint first) and
 * when it was last seen, so that its later packets cost one cache line.
 */
struct ignored {
	uint32_t a, b;		/* network order */
	uint16_t pa, pb;
	uint32_t seen;		/* capture second + 1; 0: empty */
};

_Static_assert(sizeof(struct ignored) * IGNORED_WAYS == 64, "an ignored set is one cache line");
_Static_assert(offsetof(struct ignored, seen) == 12, "an ignored key is 12 bytes, unpadded");

struct expect {
	struct ws_addr client;	/* WS_AF_NONE: any */
	uint32_t server;
	uint16_t port;
	int ttl;
	time_t until;		/* 0: added before the first packet (clock_start sets it) */
};

struct sampled {
	struct timeval ts;
	size_t len;
	uint8_t *pkt;
};

struct seg {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags, ttl;
	uint16_t win;
	uint8_t wscale;
	uint8_t csum;		/* CSUM_GOOD, CSUM_BAD, or CSUM_LATER: not computed yet */
	const uint8_t *data;
	uint32_t len;
	const uint8_t *ip, *l4;	/* for a checksum computed late */
	uint32_t l4len;
	uint32_t hash;		/* hash4 of the 4-tuple, either direction */
};

/* Freed objects kept for reuse, most recent first, linked through their first bytes. */
struct spares {
	void *head;
	size_t n;
};

struct lru {
	struct flow *oldest, *newest;
	size_t n;
};

static struct {
	struct ws_reasm_params p;
	struct ws_reasm_stats st;
	uint8_t watched[65536 / 8], forced[65536 / 8];
	struct flow **buckets;
	uint64_t *occupied;	/* a bit per bucket: is it non-empty? (small: stays in cache) */
	uint32_t nbuckets;
	struct ignored *ignored;	/* ignored_slots entries, NULL without screening */
	uint32_t ignored_slots;	/* a power of two, IGNORED_MIN_SLOTS.. IGNORED_MAX_SLOTS */
	unsigned ignored_set_bits;	/* log2 of its sets */
	uint32_t ignored_live;	/* entries in use, stale ones included until reclaimed */
	uint64_t *ignored_used;	/* a bit per set: does it hold any entry? */
	struct spares spare_flows, spare_sbufs;	/* freed, for the next ones */
	struct lru lru[L_LISTS];
	struct syn_slot *syn;
	struct closed_slot *closed;
	uint64_t closed_used[CLOSED_SLOTS / 2 / 64];	/* a bit per pair: anything in it? */
	uint8_t syn_next[SYN_SETS];	/* per set: the way its next SYN takes */
	uint32_t stamp;
	struct expect expect[EXPECT_SLOTS];
	size_t nexpect;
	struct ws_defrag *defrag;
	/* clock */
	struct timeval now, pkt_ts;
	bool clock_set;
	time_t jump_to;
	int jump_seen;
	/* checksums */
	bool csum_check, csum_weak, sampling;
	struct sampled sample[SAMPLE_MAX];
	size_t nsample, sample_bytes;
	size_t queue_bytes;
	bool inited;
} G;

static const char *const drop_names[WS_DROP_KINDS] = {
	"bad-checksum", "out-of-window", "no-ack", "bad-ack", "ttl", "after-fin", "replayed",
	"queue-full", "malformed", "fragment",
};

const char *ws_drop_name(enum ws_drop d)
{
	return (unsigned)d < WS_DROP_KINDS ? drop_names[d] : "?";
}

static bool bit(const uint8_t *set, uint16_t port)
{
	return set[port >> 3] & (1u << (port & 7));
}

static void set_bit(uint8_t *set, uint16_t port)
{
	set[port >> 3] |= (uint8_t)(1u << (port & 7));
}

/* The occupancy bitmaps in front of the tables: bit i of 64-bit words. */
static bool map_test(const uint64_t *map, uint32_t i)
{
	return map[i >> 6] >> (i & 63) & 1;
}

static void map_put(uint64_t *map, uint32_t i, bool on)
{
	if (on)
		map[i >> 6] |= 1ull << (i & 63);
	else
		map[i >> 6] &= ~(1ull << (i & 63));
}

/*
 * The tables looked up at random (flow buckets, SYN cache, closed pairs,
 * ignored set): zeroed, on 2 MiB pages where the kernel gives them
 * (transparent huge pages on request, MADV_HUGEPAGE). On 4 KiB pages
 * nearly every lookup also missed the TLB, and under virtualisation that
 * walk costs more than the cache miss. Aligned, so a set of entries (a SYN
 * cache set, an ignored set) is whole cache lines. mmap'd memory comes zeroed.
 */
#define HUGE_PAGE ((size_t)2 << 20)

static size_t table_len(size_t size)
{
	return (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

static void *table_alloc(size_t size)
{
	size_t len = table_len(size), head;
	uint8_t *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	head = (HUGE_PAGE - ((uintptr_t)m & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
	if (head)
		munmap(m, head);
	munmap(m + head + len, HUGE_PAGE - head);
	(void)madvise(m + head, len, MADV_HUGEPAGE);	/* a hint: 4 KiB pages otherwise */
	return m + head;
}

static void table_free(void *t, size_t size)
{
	if (t)
		munmap(t, table_len(size));
}

/* ----------------------------------------------------------------- clock */

/*
 * README "Clock": the capture clock only moves forward. A packet more than
 * CLOCK_JUMP seconds ahead moves it only when CLOCK_CONFIRM packets agree
 * (a capture that really resumes later); until then it is counted and
 * handled at the current clock. A packet far in the past is counted too.
 */
static void expect_start_clock(void);

/* The first time seen: the clock starts, and with it expectations added before. */
static void clock_start(const struct timeval *ts)
{
	G.now = *ts;
	G.clock_set = true;
	expect_start_clock();
}

static void clock_observe(const struct timeval *ts)
{
	if (!G.clock_set) {
		clock_start(ts);
		G.pkt_ts = *ts;
		return;
	}
	if (ts->tv_sec > G.now.tv_sec + CLOCK_JUMP) {
		G.st.clock_future++;
		if (G.jump_seen > 0 && ts->tv_sec >= G.jump_to - 60 && ts->tv_sec <= G.jump_to + 60)
			G.jump_seen++;
		else
			G.jump_seen = 1, G.jump_to = ts->tv_sec;
		if (G.jump_seen < CLOCK_CONFIRM) {
			G.pkt_ts = G.now;
			return;
		}
		G.st.clock_jumps++;
	} else if (ts->tv_sec < G.now.tv_sec - CLOCK_JUMP) {
		G.st.clock_past++;
		G.pkt_ts = G.now;
		return;
	}
	G.jump_seen = 0;
	G.pkt_ts = *ts;
	if (timercmp(ts, &G.now, >))
		G.now = *ts;
}

/* ------------------------------------------------------------- checksums */

static bool ip_sum_ok(const uint8_t *ip, size_t ihl)
{
	return ws_inet_fold(ws_inet_sum(0, ip, ihl)) == 0xffff;
}

/* TCP or UDP over IPv4: the pseudo-header (host-order words, as above), then the segment. */
static bool l4_sum_ok(const uint8_t *ip, const uint8_t *l4, size_t len)
{
	uint64_t sum = ws_inet_sum(0, ip + 12, 8);

	sum += htons(ip[9]);
	sum += htons((uint16_t)len);
	return ws_inet_fold(ws_inet_sum(sum, l4, len)) == 0xffff;
}

/* ------------------------------------------------------------- the flows */

static uint32_t hash4(uint32_t a, uint16_t ap, uint32_t b, uint16_t bp)
{
	/* symmetric: the same bucket from either direction */
	uint64_t x = (uint64_t)a << 16 | ap, y = (uint64_t)b << 16 | bp, lo = x < y ? x : y,
		 hi = x < y ? y : x, h = lo * 0x9e3779b97f4a7c15ull ^ hi * 0xc2b2ae3d27d4eb4full;

	return (uint32_t)(h ^ h >> 29);
}

static bool bucket_used(uint32_t b)
{
	return map_test(G.occupied, b);
}

/*
 * Most packets belong to no flow of the table (ignored flows are not in
 * it, see ignored_find): the occupancy bitmap answers that from L1/L2
 * without reading the bucket array.
 */
static struct flow *flow_find(const struct seg *s, int *side)
{
	uint32_t b = s->hash & (G.nbuckets - 1);
	struct flow *f;

	if (!bucket_used(b))
		return NULL;
	for (f = G.buckets[b]; f; f = f->hnext) {
		if (f->addr[0] == s->saddr && f->port[0] == s->sport && f->addr[1] == s->daddr &&
		    f->port[1] == s->dport) {
			*side = WS_SIDE_CLIENT;
			return f;
		}
		if (f->addr[1] == s->saddr && f->port[1] == s->sport && f->addr[0] == s->daddr &&
		    f->port[0] == s->dport) {
			*side = WS_SIDE_SERVER;
			return f;
		}
	}
	return NULL;
}

static void lru_unlink(struct flow *f)
{
	struct lru *l = &G.lru[f->list];

	if (f->older)
		f->older->newer = f->newer;
	else
		l->oldest = f->newer;
	if (f->newer)
		f->newer->older = f->older;
	else
		l->newest = f->older;
	f->older = f->newer = NULL;
	l->n--;
}

static void lru_push(struct flow *f, enum list which)
{
	struct lru *l = &G.lru[which];

	f->list = (uint8_t)which;
	f->older = l->newest;
	f->newer = NULL;
	if (l->newest)
		l->newest->newer = f;
	else
		l->oldest = f;
	l->newest = f;
	l->n++;
}

static void lru_touch(struct flow *f)
{
	f->last = G.now.tv_sec;
	if (G.lru[f->list].newest != f) {
		enum list which = (enum list)f->list;

		lru_unlink(f);
		lru_push(f, which);
	}
}

static void hash_unlink(struct flow *f)
{
	uint32_t b = hash4(f->addr[0], f->port[0], f->addr[1], f->port[1]) & (G.nbuckets - 1);
	struct flow **pp = &G.buckets[b];

	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	if (!G.buckets[b])
		map_put(G.occupied, b, false);
}

static void half_free_queue(struct half *h)
{
	if (!h->q)
		return;
	G.queue_bytes -= h->q->cap;
	ws_rxq_free(h->q);
	free(h->q);
	h->q = NULL;
}

/*
 * Most screened flows live a few segments, and many are open at once: the
 * last SPARE_MAX flows and screening buffers freed are kept for the next
 * ones, most recent first (still in cache), instead of going back to malloc.
 */
static void spare_put(struct spares *sp, void *obj)
{
	if (!obj)
		return;
	if (sp->n == SPARE_MAX) {
		free(obj);
		return;
	}
	memcpy(obj, &sp->head, sizeof(void *));
	sp->head = obj;
	sp->n++;
}

/* A kept object (its first bytes overwritten), or NULL. */
static void *spare_get(struct spares *sp)
{
	void *obj = sp->head;

	if (obj) {
		memcpy(&sp->head, obj, sizeof(void *));
		sp->n--;
	}
	return obj;
}

static void spares_free(struct spares *sp)
{
	void *obj;

	while ((obj = spare_get(sp)))
		free(obj);
}

static void screen_bufs_free(struct flow *f)
{
	for (int i = 0; i < 2; i++) {
		spare_put(&G.spare_sbufs, f->sbuf[i]);
		f->sbuf[i] = NULL;
		f->slen[i] = f->sgap[i] = 0;
	}
	f->sstop = 0;
}

static void flow_free(struct flow *f)
{
	hash_unlink(f);
	lru_unlink(f);
	half_free_queue(&f->h[0]);
	half_free_queue(&f->h[1]);
	screen_bufs_free(f);
	free(f->line);
	free(f->flow_user);
	spare_put(&G.spare_flows, f);
}

static struct flow *flow_new(uint32_t caddr, uint16_t cport, uint32_t saddr, uint16_t sport)
{
	struct flow *f = spare_get(&G.spare_flows);
	uint32_t b;

	if (f) {
		memset(f, 0, sizeof(*f));
	} else {
		f = calloc(1, sizeof(*f));
	}

	if (!f) {
		G.st.no_mem++;
		return NULL;
	}
	f->addr[0] = caddr;
	f->addr[1] = saddr;
	f->port[0] = cport;
	f->port[1] = sport;
	f->info.client.addr = ws_addr_v4(caddr);
	f->info.client.port = cport;
	f->info.server.addr = ws_addr_v4(saddr);
	f->info.server.port = sport;
	f->h[0].wscale = f->h[1].wscale = WSCALE_NONE;
	f->first_side = f->fin_first = 0xff;
	f->last = G.now.tv_sec;
	f->watched = bit(G.watched, sport) || bit(G.watched, cport);
	b = hash4(caddr, cport, saddr, sport) & (G.nbuckets - 1);
	/* an empty bucket (its bit clear) is NULL: no need to read its cold line */
	f->hnext = bucket_used(b) ? G.buckets[b] : NULL;
	G.buckets[b] = f;
	map_put(G.occupied, b, true);
	return f;
}

/* --------------------------------------------------------- ignored flows */

/*
 * README "Screening": a flow screening ignored leaves the flow table; its
 * 4-tuple goes here, a set-associative table of IGNORED_WAYS per cache
 * line, so that its later packets cost one cache line and no allocation.
 * An entry idle for idle_timeout is gone; a full set replaces its least
 * recently seen entry (counted): that flow, if it speaks again, is
 * screened again from where it is, as a flow picked up mid-stream.
 */
static void ignored_key(const struct seg *g, struct ignored *k)
{
	uint64_t x = (uint64_t)g->saddr << 16 | g->sport, y = (uint64_t)g->daddr << 16 | g->dport;
	bool swap = y < x;

	k->a = swap ? g->daddr : g->saddr;
	k->pa = swap ? g->dport : g->sport;
	k->b = swap ? g->saddr : g->daddr;
	k->pb = swap ? g->sport : g->dport;
}

/* The 12 bytes before seen, compared as two words (no padding among them). */
static bool ignored_same(const struct ignored *e, const struct ignored *k)
{
	return memcmp(e, k, offsetof(struct ignored, seen)) == 0;
}

static uint32_t ignored_set_index(uint32_t hash)
{
	/* the high bits: the low ones pick the flow table's bucket */
	return hash >> (32 - G.ignored_set_bits);
}

static struct ignored *ignored_set(uint32_t hash)
{
	return &G.ignored[ignored_set_index(hash) * IGNORED_WAYS];
}

/* Keep the set's bit in ignored_used: does it hold any entry? */
static void ignored_mark(uint32_t hash)
{
	uint32_t si = ignored_set_index(hash);
	const struct ignored *set = &G.ignored[si * IGNORED_WAYS];
	bool used = false;

	for (int i = 0; i < IGNORED_WAYS; i++)
		used |= set[i].seen != 0;
	map_put(G.ignored_used, si, used);
}

static uint32_t seen_now(void)
{
	return (uint32_t)G.now.tv_sec + 1;
}

/* An entry goes: its flow ended, a new SYN reopened it, or it went stale. */
static void ignored_forget(struct ignored *e, uint32_t hash)
{
	e->seen = 0;
	G.ignored_live -= G.ignored_live > 0;	/* 0 after a failed resize: an estimate */
	ignored_mark(hash);
}

static bool ignored_fresh(const struct ignored *e)
{
	return e->seen && seen_now() - e->seen <= (uint32_t)G.p.idle_timeout;
}

static struct ignored *ignored_find(const struct seg *g)
{
	uint32_t si = ignored_set_index(g->hash);
	struct ignored k, *set = ignored_set(g->hash);

	if (!map_test(G.ignored_used, si))
		return NULL;
	ignored_key(g, &k);
	for (int i = 0; i < IGNORED_WAYS; i++) {
		struct ignored *e = &set[i];

		if (e->seen && ignored_same(e, &k)) {
			if (ignored_fresh(e))
				return e;
			ignored_forget(e, g->hash);
			return NULL;
		}
	}
	return NULL;
}

/* Put k (seen set) in its set: its own slot, a free or stale one, else the least recent. */
static void ignored_put(const struct ignored *k, uint32_t hash)
{
	struct ignored *set = ignored_set(hash), *slot = NULL;

	for (int i = 0; i < IGNORED_WAYS && !slot; i++)
		if (ignored_same(&set[i], k))
			slot = &set[i];
	for (int i = 0; i < IGNORED_WAYS && !slot; i++)
		if (!ignored_fresh(&set[i]))
			slot = &set[i];
	if (!slot) {
		slot = &set[0];
		for (int i = 1; i < IGNORED_WAYS; i++)
			if (seen_now() - set[i].seen > seen_now() - slot->seen)
				slot = &set[i];
		G.st.ignored_replaced++;
	}
	G.ignored_live += slot->seen == 0;
	*slot = *k;
	ignored_mark(hash);
}

static uint32_t ignored_hash(const struct ignored *e)
{
	return hash4(e->a, e->pa, e->b, e->pb);	/* symmetric: the order kept does not matter */
}

static int ignored_alloc(uint32_t slots)
{
	struct ignored *t = table_alloc(slots * sizeof(*t));
	uint64_t *used = calloc(slots / IGNORED_WAYS / 64, sizeof(*used));

	if (!t || !used) {
		table_free(t, slots * sizeof(*t));
		free(used);
		return -1;
	}
	G.ignored = t;
	G.ignored_used = used;
	G.ignored_slots = slots;
	G.ignored_set_bits = (unsigned)__builtin_ctz(slots / IGNORED_WAYS);
	G.ignored_live = 0;
	return 0;
}

/*
 * A quarter full (stale entries counted until reclaimed): the live entries
 * move to a table twice the size, or to one of the same size when most
 * were stale. At a quarter, a set of IGNORED_WAYS overflows rarely (about
 * 1 set in 300), so replacements stay rare. The set starts small because
 * each packet of an ignored flow reads one of its lines: on a light link
 * the set then stays within reach of the caches and the TLB (bench/
 * README.md, round 4). Out of memory: the old table stays.
 */
static void ignored_resize(void)
{
	struct ignored *old = G.ignored;
	uint64_t *old_used = G.ignored_used;
	uint32_t old_slots = G.ignored_slots, fresh = 0, slots = old_slots;

	for (uint32_t i = 0; i < old_slots; i++)
		fresh += ignored_fresh(&old[i]);
	if (fresh > old_slots / 8 && old_slots < IGNORED_MAX_SLOTS)
		slots = old_slots * 2;
	if (ignored_alloc(slots) < 0) {
		G.st.no_mem++;
		G.ignored_live = 0;	/* try again a quarter of the table later, not at every add */
		return;
	}
	for (uint32_t i = 0; i < old_slots; i++)
		if (ignored_fresh(&old[i]))
			ignored_put(&old[i], ignored_hash(&old[i]));
	G.st.ignored_resized++;
	table_free(old, old_slots * sizeof(*old));
	free(old_used);
}

static void ignored_add(const struct flow *f)
{
	struct seg g = {.saddr = f->addr[0], .daddr = f->addr[1], .sport = f->port[0],
			.dport = f->port[1]};
	struct ignored k;

	g.hash = hash4(g.saddr, g.sport, g.daddr, g.dport);
	ignored_key(&g, &k);
	k.seen = seen_now();
	ignored_put(&k, g.hash);
	if (G.ignored_live > G.ignored_slots / 4)
		ignored_resize();
}

/* ------------------------------------------------------- SYN cache, closed */

static uint32_t pair_index(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
			   uint32_t slots)
{
	uint32_t h = saddr * 0x9e3779b1u ^ daddr * 0x85ebca6bu ^
		     ((uint32_t)sport << 16 | dport) * 0xc2b2ae35u;

	h ^= h >> 15;
	return h & (slots - 2);
}

/*
 * README "Screening": the SYN cache keeps, for each SYN and SYN/ACK, what
 * the stream needs from it, under a 32-bit tag of the 4-tuple as sent, in
 * the set that the connection's symmetric hash picks: a SYN and its
 * SYN/ACK share a set (two adjacent lines), so a new flow reads one set
 * for both. Two 4-tuples with the same set and tag (a chance of about
 * 2^-28 per new flow) would give a flow another's ISN (a client's must
 * still have the first data within ISN_PLAUSIBLE of it, flow_start); a
 * sender able to choose 4-tuples could as well send a SYN on the real one.
 */
static uint32_t syn_set(uint32_t hash)
{
	return (hash * 0x9e3779b1u) >> (32 - SYN_SET_BITS);	/* mixed: not the other tables' bits */
}

static uint32_t syn_tag(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	uint64_t x = (uint64_t)saddr << 16 | sport, y = (uint64_t)daddr << 16 | dport,
		 h = x * 0xff51afd7ed558ccdull ^ y * 0xc4ceb9fe1a85ec53ull;
	uint32_t t = (uint32_t)(h >> 32) ^ (uint32_t)(h >> 13);

	return t ? t : 1;
}

/*
 * A SYN takes the way of its set written longest ago (round robin: which
 * way is next is a byte outside the table), so a handshake is forgotten
 * only when SYN_WAYS - 2 other SYNs land in its set between its SYN/ACK
 * and its first data; its stream is then picked up from that data, losing
 * nothing (the two-way pairs used before lost a side when two other SYNs
 * landed in its pair). Most SYNs are scans, their lines cold and never
 * read: with SSE2 the entry is written around the caches (a non-temporal
 * store needs no copy of the line first), so a SYN neither waits for its
 * line nor evicts a line the lookups need. The core reads its own such
 * stores in order, like any.
 */
static void syn_remember(const struct seg *g)
{
	uint32_t set = syn_set(g->hash);
	unsigned way = G.syn_next[set];
	struct syn_slot x = {
		.tag = syn_tag(g->saddr, g->sport, g->daddr, g->dport), .isn = g->seq,
		.win = g->win, .wscale = g->wscale, .ttl = g->ttl,
		.synack = (g->flags & TH_ACK) != 0,
	};
	struct syn_slot *dst = &G.syn[set * SYN_WAYS + way];

	_Static_assert(sizeof(x) == 16, "a slot is 16 bytes, aligned for the store");
#ifdef __SSE2__
	_mm_stream_si128((__m128i *)(void *)dst, _mm_loadu_si128((const __m128i *)(const void *)&x));
#else
	*dst = x;
#endif
	G.syn_next[set] = (uint8_t)((way + 1) % SYN_WAYS);
	G.st.syn_cached++;
}

/*
 * The newest SYN (or SYN/ACK) that g's sender (reverse: its receiver) sent
 * on g's 4-tuple; one use only: every SYN of that side goes.
 */
static bool syn_recall(const struct seg *g, bool reverse, struct syn_slot *out)
{
	uint32_t set = syn_set(g->hash);
	struct syn_slot *l = &G.syn[set * SYN_WAYS];
	uint32_t tag = reverse ? syn_tag(g->daddr, g->dport, g->saddr, g->sport)
			       : syn_tag(g->saddr, g->sport, g->daddr, g->dport);
	bool found = false;

	/* newest first: the way before the next one, and so on back */
	for (unsigned i = 1; i <= SYN_WAYS; i++) {
		struct syn_slot *s = &l[(G.syn_next[set] + SYN_WAYS - i) % SYN_WAYS];

		if (s->tag != tag)
			continue;
		if (!found)
			*out = *s;
		found = true;
		s->tag = 0;
	}
	return found;
}

/* The bitmap of used pairs lets most packets skip the table (a cache miss). */
static void closed_mark(uint32_t pair)
{
	struct closed_slot *p = &G.closed[pair];

	map_put(G.closed_used, pair / 2, p[0].stamp || p[1].stamp);
}

static void closed_clear(struct closed_slot *x)
{
	uint32_t pair = (uint32_t)(x - G.closed) & ~1u;

	memset(x, 0, sizeof(*x));
	closed_mark(pair);
}

static struct closed_slot *closed_lookup(const struct seg *g, bool *client_sent)
{
	struct closed_slot *pair;

	for (int dir = 0; dir < 2; dir++) {
		uint32_t c = dir ? g->daddr : g->saddr, s = dir ? g->saddr : g->daddr;
		uint16_t cp = dir ? g->dport : g->sport, sp = dir ? g->sport : g->dport;
		uint32_t pi = pair_index(c, s, cp, sp, CLOSED_SLOTS);

		if (!map_test(G.closed_used, pi / 2))
			continue;
		pair = &G.closed[pi];
		for (int i = 0; i < 2; i++) {
			struct closed_slot *x = &pair[i];

			if (x->stamp && x->saddr == c && x->daddr == s && x->sport == cp &&
			    x->dport == sp) {
				if (G.now.tv_sec - x->when > TIME_WAIT) {
					closed_clear(x);
					return NULL;
				}
				*client_sent = dir == 0;
				return x;
			}
		}
	}
	return NULL;
}

/* README "Closed": the 4-tuple is remembered for TIME_WAIT seconds. */
static void closed_remember(const struct flow *f)
{
	uint32_t pi = pair_index(f->addr[0], f->addr[1], f->port[0], f->port[1], CLOSED_SLOTS);
	struct closed_slot *pair = &G.closed[pi];
	struct closed_slot *s = pair[0].stamp <= pair[1].stamp ? &pair[0] : &pair[1];

	*s = (struct closed_slot){
		.saddr = f->addr[0], .daddr = f->addr[1], .sport = f->port[0], .dport = f->port[1],
		.cisn = f->h[0].isn, .cend = f->h[0].max_end, .stamp = ++G.stamp,
		.when = G.now.tv_sec, .server_time_wait = f->fin_first == WS_SIDE_SERVER,
	};
	if (!f->h[0].seen && !f->h[0].nxt_known)
		s->cend = s->cisn;
	closed_mark(pi);
	G.st.closed_remembered++;
}

/* --------------------------------------------------------------- delivery */

static void warn(const char *kind, const struct flow *f, const char *fmt, uint32_t a, uint32_t b)
{
	char detail[160];

	if (!G.p.on_warn)
		return;
	snprintf(detail, sizeof(detail), fmt, a, b, ws_policy_name(G.p.target));
	G.p.on_warn(G.p.arg, kind, detail, f ? &f->info : NULL, &G.pkt_ts);
}

static void line_emit(struct flow *f, const struct timeval *ts)
{
	struct ws_flow_key k = {f->addr[0], f->addr[1], f->port[0], f->port[1]};

	if (f->overlong) {
		G.st.overlong++;
	} else {
		if (!f->flow_user && G.p.flow_user_size) {
			f->flow_user = calloc(1, G.p.flow_user_size);
			if (!f->flow_user) {
				G.st.no_mem++;
				goto out;
			}
		}
		G.st.lines++;
		G.p.on_line(G.p.arg, &k, f->flow_user, f->line ? f->line : "", f->line_len, ts);
	}
out:
	f->line_len = 0;
	f->overlong = false;
}

static bool line_room(struct flow *f, uint32_t need)
{
	uint32_t cap = f->line_cap ? f->line_cap : 64;
	char *p;

	if (need <= f->line_cap)
		return true;
	while (cap < need)
		cap *= 2;
	if (cap > (uint32_t)G.p.max_line)
		cap = (uint32_t)G.p.max_line;
	p = realloc(f->line, cap);
	if (!p) {
		G.st.no_mem++;
		return false;
	}
	f->line = p;
	f->line_cap = cap;
	return true;
}

/* Client bytes into lines; the buffer grows to what the lines need, up to max_line. */
static void line_take(struct flow *f, const uint8_t *data, size_t n, const struct timeval *ts)
{
	while (n > 0) {
		const uint8_t *lf = memchr(data, '\n', n);
		size_t chunk = lf ? (size_t)(lf - data) : n;

		if (!f->overlong && !f->cut) {
			if (f->line_len + chunk > (size_t)G.p.max_line ||
			    !line_room(f, f->line_len + (uint32_t)chunk)) {
				f->overlong = true;
			} else if (chunk > 0) {
				memcpy(f->line + f->line_len, data, chunk);
				f->line_len += (uint32_t)chunk;
			}
		}
		if (!lf)
			break;
		if (f->cut)
			f->cut = false;	/* the cut line ends here */
		else
			line_emit(f, ts);
		data = lf + 1;
		n -= chunk + 1;
	}
}

/*
 * A hole in the client's bytes: the line being assembled is not what the
 * victim ran. It is counted once, here, as a partial line (not as overlong,
 * and not again when the flow ends before its newline).
 */
static void line_break(struct flow *f)
{
	if (f->cut)
		return;	/* the same line, cut again */
	if (f->line_len > 0 || f->overlong)
		G.st.partial_dropped++;
	f->line_len = 0;
	f->overlong = false;
	f->cut = true;	/* discard up to the next newline */
}

static void stream_deliver(struct flow *f, int side, const uint8_t *data, size_t n,
			   const struct timeval *ts)
{
	if (G.p.on_data)
		G.p.on_data(G.p.arg, &f->info, (enum ws_side)side, data, n, ts);
	if (side == WS_SIDE_CLIENT && G.p.on_line && f->kind == K_STREAM)
		line_take(f, data, n, ts);
}

static bool promote(struct flow *f, bool shell, const struct timeval *ts);
static void init_from_syn(struct flow *f, int side, const struct syn_slot *s);

static bool has_newline(const uint8_t *p, size_t n)
{
	return memchr(p, '\n', n) != NULL;
}

/* Append to this side's screening bytes (room was checked). */
static bool screen_keep(struct flow *f, int side, const uint8_t *data, size_t n)
{
	if (!f->sbuf[side]) {
		f->sbuf[side] = spare_get(&G.spare_sbufs);
		if (!f->sbuf[side])
			f->sbuf[side] = malloc(WS_SCREEN_BYTES);
		if (!f->sbuf[side]) {
			G.st.no_mem++;
			return false;
		}
	}
	memcpy(f->sbuf[side] + f->slen[side], data, n);
	f->slen[side] = (uint16_t)(f->slen[side] + n);
	return true;
}

/*
 * Screening (README "Screening"): the classifier sees the first
 * WS_SCREEN_BYTES of each side. A watched port is followed whatever the
 * content, but only once it looks like a session: a complete line, or a
 * second data segment; a one-segment source stays here.
 */
static void screen_take(struct flow *f, int side, const uint8_t *data, size_t n,
			const struct timeval *ts)
{
	enum ws_screen_verdict v = WS_SCREEN_UNDECIDED;
	size_t room = f->sstop & (1u << side) ? 0 : WS_SCREEN_BYTES - f->slen[side];
	size_t take = n < room ? n : room;

	if (f->first_side == 0xff)
		f->first_side = (uint8_t)side;
	if (f->nsegs < 255)
		f->nsegs++;
	if (take > 0 && f->slen[side] == 0 && G.p.screen) {
		/* nothing kept yet: screen the segment where it lies, keep it only if needed */
		v = G.p.screen(G.p.arg, &f->info, (enum ws_side)side, data, take);
		if ((v != WS_SCREEN_IGNORE || f->watched) && !screen_keep(f, side, data, take))
			return;
	} else if (take > 0) {
		if (!screen_keep(f, side, data, take))
			return;
		if (G.p.screen)
			v = G.p.screen(G.p.arg, &f->info, (enum ws_side)side, f->sbuf[side],
				       f->slen[side]);
	}
	bool truncated_before = f->sfull[side];

	if (take < n)
		f->sfull[side] = true;
	if (v == WS_SCREEN_IGNORE && !f->watched) {
		f->kind = K_IGNORED;
		screen_bufs_free(f);
		half_free_queue(&f->h[0]);
		half_free_queue(&f->h[1]);
		G.st.screen_ignored++;
		return;
	}
	if (v <= WS_SCREEN_IGNORE && f->watched &&
	    ((side == WS_SIDE_CLIENT && has_newline(data, n)) || f->nsegs >= 2))
		v = WS_SCREEN_FOLLOW;
	if (v < WS_SCREEN_FOLLOW)
		return;
	/* only bytes lost in earlier segments break the line; this one's tail follows */
	f->sfull[side] = truncated_before;
	if (promote(f, v == WS_SCREEN_FOLLOW_SHELL, ts) && take < n)
		stream_deliver(f, side, data + take, n - take, ts);
}

static void deliver(struct flow *f, int side, const uint8_t *data, size_t n,
		    const struct timeval *ts)
{
	if (n == 0)
		return;
	if (f->kind == K_STREAM)
		stream_deliver(f, side, data, n, ts);
	else if (f->kind == K_SCREEN)
		screen_take(f, side, data, n, ts);
}

/* ---------------------------------------------------------- flow endings */

static void half_drain(struct flow *f, int side);

static void flow_end(struct flow *f, enum ws_close_reason why)
{
	if (why != WS_CLOSE_RST && f->kind != K_IGNORED) {
		/* the receiver had what it ACKed; with no better copy, weak bytes stand */
		for (int s = 0; s < 2; s++) {
			f->h[s].flush = true;
			half_drain(f, s);
		}
	}
	if (f->kind == K_STREAM) {
		if (why == WS_CLOSE_FIN && f->line_len > 0 && !f->overlong && G.p.on_line)
			line_emit(f, &G.pkt_ts);	/* cmd.exe runs the last line at end of input */
		if (f->line_len > 0 || f->overlong)
			G.st.partial_dropped += f->line_len > 0 || f->overlong;
		if (G.p.on_close)
			G.p.on_close(G.p.arg, &f->info, why);
	}
	if (f->kind == K_SCREEN && f->watched && f->slen[0] > 0 &&
	    f->sbuf[0][f->slen[0] - 1] != '\n')
		G.st.partial_dropped++;	/* a watched client's unterminated line */
	if (why == WS_CLOSE_FIN || why == WS_CLOSE_RST)
		closed_remember(f);
	flow_free(f);
}

/* The table is full: the least recently active stream without shell evidence goes. */
static bool make_room(bool shell)
{
	struct flow *victim;

	if (G.lru[L_STREAM].n + G.lru[L_SHELL].n < (size_t)G.p.max_streams)
		return true;
	victim = G.lru[L_STREAM].oldest;
	if (!victim && shell)
		victim = G.lru[L_SHELL].oldest;	/* shell against shell: still LRU */
	if (!victim) {
		G.st.refused++;
		return false;
	}
	G.st.evictions++;
	flow_end(victim, WS_CLOSE_EVICTED);
	return true;
}

/* A hole in side's bytes of a followed stream: its line is cut, the upper layer told. */
static void stream_gap(struct flow *f, int side, const struct timeval *ts)
{
	if (side == WS_SIDE_CLIENT)
		line_break(f);
	if (G.p.on_gap)
		G.p.on_gap(G.p.arg, &f->info, (enum ws_side)side, ts);
}

/*
 * A hole in side's bytes while the flow is screened: its place in the
 * kept bytes is remembered, so that promote delivers the bytes on each
 * side of it apart; after a second one this side keeps nothing more.
 */
static void screen_gap(struct flow *f, int side)
{
	if (!f->sgap[side]) {
		f->sgap[side] = (uint16_t)(f->slen[side] + 1);
		return;
	}
	f->sfull[side] = true;
	f->sstop |= (uint8_t)(1u << side);
}

static void replay_side(struct flow *f, int side, const struct timeval *ts)
{
	size_t hole = f->sgap[side] ? f->sgap[side] - 1u : f->slen[side];

	if (hole > 0)
		stream_deliver(f, side, f->sbuf[side], hole, ts);
	if (f->sgap[side]) {
		stream_gap(f, side, ts);
		if (f->slen[side] > hole)
			stream_deliver(f, side, f->sbuf[side] + hole, f->slen[side] - hole, ts);
	}
	if (f->sfull[side])
		stream_gap(f, side, ts);	/* bytes past the screening window were not kept */
}

/* Screening -> stream: the bytes seen so far are delivered first (README "Screening"). */
static bool promote(struct flow *f, bool shell, const struct timeval *ts)
{
	int first = f->first_side == WS_SIDE_SERVER ? WS_SIDE_SERVER : WS_SIDE_CLIENT;

	if (!make_room(shell))
		return false;
	lru_unlink(f);
	f->kind = K_STREAM;
	f->info.shell = shell;
	lru_push(f, shell ? L_SHELL : L_STREAM);
	G.st.streams++;
	G.st.screen_promoted++;
	G.st.pickups += f->pickup;
	G.st.protected_streams += shell;
	replay_side(f, first, ts);
	replay_side(f, !first, ts);
	screen_bufs_free(f);
	return true;
}

/* -------------------------------------------------------- receive queues */

static uint32_t window_right(const struct flow *f, int side)
{
	const struct half *h = &f->h[side], *o = &f->h[!side];

	return o->right_known ? o->right : h->nxt + DEFAULT_WINDOW;
}

/*
 * Deliver what the receiver has in order. Weak bytes (README "Weak") wait
 * until the receiver ACKs them or the flow ends with no better copy.
 */
static void half_drain(struct flow *f, int side)
{
	struct half *h = &f->h[side], *o = &f->h[!side];

	while (h->q && f->kind != K_IGNORED) {
		const uint8_t *p;
		uint8_t doubt;
		struct timeval ts;
		uint32_t n = ws_rxq_front(h->q, &p, &doubt, &ts);

		if (n == 0)
			break;
		if (doubt) {
			if (!h->flush && !(doubt == DOUBT_CSUM && SEQ_GEQ(h->hi_start, h->nxt + n))) {
				if (!o->ack_known || !SEQ_GT(o->ack, h->nxt))
					break;
				if (SEQ_LT(o->ack, h->nxt + n))
					n = o->ack - h->nxt;
			}
			G.st.weak_released += n;
		} else {
			ts = G.pkt_ts;
		}
		{
			uint8_t copy[2048];
			uint32_t done = 0;

			/*
			 * The queue moves under us if a callback promotes: copy in
			 * pieces. Each advance moves the rest to the queue's front,
			 * so the next piece starts at p again.
			 */
			while (done < n) {
				uint32_t k = n - done < sizeof(copy) ? n - done : sizeof(copy);

				memcpy(copy, p, k);
				h->nxt += k;
				ws_rxq_advance(h->q, k);
				deliver(f, side, copy, k, &ts);
				done += k;
				if (!h->q)
					break;
				p = h->q->data;
			}
		}
	}
	if (h->q && h->q->used == 0)
		half_free_queue(h);
}

static bool queue_insert(struct flow *f, int side, uint32_t seq, const uint8_t *data,
			 uint32_t len, uint8_t doubt)
{
	struct half *h = &f->h[side];
	struct ws_rxq_result r;
	uint32_t before, max_cap = QUEUE_MAX;

	if (!h->q) {
		h->q = malloc(sizeof(*h->q));
		if (!h->q) {
			G.st.no_mem++;
			return false;
		}
		ws_rxq_init(h->q, h->nxt);
	}
	before = h->q->cap;
	if (G.queue_bytes - before + QUEUE_MAX > QUEUE_BUDGET)
		max_cap = before > QUEUE_BUDGET - (G.queue_bytes - before) ? before
			: QUEUE_BUDGET - (uint32_t)(G.queue_bytes - before);
	ws_rxq_insert(h->q, G.p.target, seq, data, len, doubt, &G.pkt_ts, max_cap, &r);
	G.queue_bytes += h->q->cap - before;
	if (r.cut)
		G.st.dropped[WS_DROP_QUEUE_FULL]++;
	if (r.overlap)
		G.st.tcp_overlaps++;
	if (r.conflict) {
		G.st.tcp_conflicts++;
		warn("tcp-overlap", f, r.new_won ? "seq %u: %u differing bytes, the later copy kept "
			"(policy %s)" : "seq %u: %u differing bytes, the earlier copy kept (policy %s)",
		     seq, r.conflict);
	}
	G.st.weak_replaced += r.weak_replaced;
	return true;
}

/* Bytes from `side` at seq (SYN and FIN excluded): the receiver's checks, then delivery. */
static void data_in(struct flow *f, int side, const struct seg *g, uint32_t seq,
		    const uint8_t *data, uint32_t len, uint8_t doubt)
{
	struct half *h = &f->h[side];
	uint32_t right;
	bool past_window = false;

	if (h->fin_seen && SEQ_GT(seq + len, h->fin)) {
		/* README "FIN": nothing after the sender's FIN reaches the application */
		uint32_t keep = SEQ_GT(h->fin, seq) ? h->fin - seq : 0;

		G.st.dropped[WS_DROP_AFTER_FIN]++;
		len = keep;
	}
	if (SEQ_LT(seq, h->nxt)) {
		uint32_t old = h->nxt - seq;

		if (old >= len)
			return;		/* a retransmission of delivered bytes */
		seq += old;
		data += old;
		len -= old;
	}
	right = window_right(f, side);
	if (len > 0 && SEQ_GT(seq + len, right)) {
		/*
		 * README "Window": past the receiver's window. Out of order:
		 * dropped, as the victim drops it (RFC 9293 3.10.7.4). In
		 * order: we may have missed the receiver's window updates (a
		 * one-sided capture), so it is kept, but in doubt.
		 */
		G.st.dropped[WS_DROP_OUT_OF_WINDOW]++;
		if (seq != h->nxt + (h->q ? ws_rxq_contiguous(h->q) : 0))
			return;
		if (doubt < DOUBT_CSUM)
			doubt = DOUBT_CSUM;
		past_window = true;
	}
	if (len == 0)
		return;
	/*
	 * README "Doubt": under offload nearly every packet fails its checksum;
	 * holding them all would hold everything, so at the next expected byte
	 * they go through; queued, they still lose to a good copy.
	 */
	if ((!doubt || (doubt == DOUBT_CSUM && !past_window)) && seq == h->nxt &&
	    (!h->q || h->q->used == 0)) {
		h->nxt += len;
		if (h->q)
			ws_rxq_advance(h->q, len);
		deliver(f, side, data, len, &G.pkt_ts);
		return;
	}
	/* under offload the checksum only matters here: queued, a bad copy loses */
	if (!doubt && g->csum == CSUM_LATER && !l4_sum_ok(g->ip, g->l4, g->l4len))
		doubt = DOUBT_CSUM;
	queue_insert(f, side, seq, data, len, doubt);
}

/* README "Gaps": the receiver ACKed bytes we never saw: skip to what we have. */
static void skip_gap(struct flow *f, int side, uint32_t ack)
{
	struct half *h = &f->h[side];
	uint32_t to = ack, first;

	if (h->fin_seen && SEQ_GT(to, h->fin))
		to = h->fin;
	if (!SEQ_GT(to, h->nxt))
		return;
	first = h->q ? ws_rxq_first(h->q) : UINT32_MAX;
	if (first != UINT32_MAX && SEQ_LT(h->nxt + first, to))
		to = h->nxt + first;
	G.st.gaps++;
	if (f->kind == K_STREAM)
		stream_gap(f, side, &G.pkt_ts);
	else if (f->kind == K_SCREEN)
		screen_gap(f, side);
	if (h->q)
		ws_rxq_advance(h->q, to - h->nxt);
	h->nxt = to;
	half_drain(f, side);
}

/* False when the flow ended (f is freed). */
static bool half_fin_check(struct flow *f, int side)
{
	struct half *h = &f->h[side], *o = &f->h[!side];

	if (!h->fin_seen || h->fin_done || h->nxt != h->fin)
		return true;
	h->fin_done = true;
	if (side == WS_SIDE_CLIENT && f->kind == K_SCREEN && f->watched && f->slen[side] > 0)
		promote(f, false, &G.pkt_ts);	/* the end of input completes a command */
	if (side == WS_SIDE_CLIENT && f->kind == K_STREAM && f->line_len > 0 && !f->overlong &&
	    G.p.on_line)
		line_emit(f, &G.pkt_ts);	/* cmd.exe runs the last line at end of input */
	if (!o->fin_done)
		return true;
	flow_end(f, WS_CLOSE_FIN);
	return false;
}

/* ------------------------------------------------------------------ TCP */

static bool in_window(const struct flow *f, int side, uint32_t seq)
{
	const struct half *h = &f->h[side];

	if (!h->nxt_known)
		return true;
	return SEQ_GEQ(seq, h->nxt) && SEQ_LT(seq, window_right(f, side) + (seq == h->nxt));
}

static uint8_t effective_scale(const struct flow *f, int side)
{
	if (f->scale_unknown)
		return PICKUP_WSCALE;
	return f->scaled ? f->h[side].wscale : 0;
}

/* This side's ACK and window: what the receiver accepted from the other side. */
static void ack_in(struct flow *f, int side, const struct seg *g)
{
	struct half *h = &f->h[side];
	int other = !side;
	uint32_t right = g->ack + ((uint32_t)g->win << effective_scale(f, side));

	if (!h->right_known || SEQ_GT(right, h->right)) {
		h->right = right;
		h->right_known = true;
	}
	if (!h->ack_known || SEQ_GT(g->ack, h->ack)) {
		h->ack = g->ack;
		h->ack_known = true;
	}
	if (!f->h[other].nxt_known)
		return;
	half_drain(f, other);
	if (f->kind != K_IGNORED && f->h[other].seen)
		skip_gap(f, other, g->ack);
}

/*
 * README "State": returns false when the flow was ended (f is freed). A
 * segment the victim would refuse is dropped; one it may have refused is
 * weak.
 */
static bool tcp_segment(struct flow *f, int side, const struct seg *g)
{
	struct half *h = &f->h[side], *o = &f->h[!side];
	uint8_t doubt = g->csum == CSUM_BAD ? DOUBT_CSUM : 0;
	bool ttl_weak = false;
	uint32_t dseq = g->seq;

	lru_touch(f);
	if (h->ttl && (unsigned)g->ttl + TTL_SLACK < h->ttl) {
		ttl_weak = true;
		doubt = DOUBT_SUSPECT;
		G.st.dropped[WS_DROP_TTL]++;
	}
	if (g->ttl > h->ttl)
		h->ttl = g->ttl;
	if (g->flags & TH_RST) {
		if (ttl_weak)
			return true;
		if (!in_window(f, side, g->seq)) {
			G.st.dropped[WS_DROP_OUT_OF_WINDOW]++;
			return true;
		}
		G.st.rst_closed++;
		flow_end(f, WS_CLOSE_RST);
		return false;
	}
	if (g->flags & TH_SYN) {
		if (h->seen && g->seq == h->isn)
			return true;	/* a retransmitted SYN or SYN/ACK */
		if ((g->flags & TH_ACK) && side == WS_SIDE_SERVER && !h->seen && f->h[0].seen &&
		    g->ack == f->h[0].isn + 1 && !ttl_weak) {
			struct syn_slot s = {.isn = g->seq, .win = g->win, .wscale = g->wscale,
					     .ttl = g->ttl, .synack = true};

			init_from_syn(f, WS_SIDE_SERVER, &s);	/* an expected connection */
			f->scaled = f->h[0].wscale != WSCALE_NONE && g->wscale != WSCALE_NONE;
			return true;
		}
		if (!(g->flags & TH_ACK) && !ttl_weak && h->nxt_known && in_window(f, side, g->seq)) {
			/* RFC 793 p. 71: a SYN in the window is an error: reset */
			G.st.syn_reset++;
			flow_end(f, WS_CLOSE_RST);
			return false;
		}
		G.st.dropped[WS_DROP_OUT_OF_WINDOW]++;
		return true;
	}
	if (!(g->flags & TH_ACK)) {
		/* RFC 793 p. 72: "if the ACK bit is off drop the segment and return" */
		G.st.dropped[WS_DROP_NO_ACK]++;
		return true;
	}
	if (o->seen && SEQ_GT(g->ack, o->max_end)) {
		G.st.dropped[WS_DROP_BAD_ACK]++;
		doubt = DOUBT_SUSPECT;
	} else if (!ttl_weak) {
		/* with offload every packet fails its checksum: its ACK still counts */
		ack_in(f, side, g);
		if (f->kind == K_IGNORED)
			return true;
	}
	if (!h->nxt_known) {
		h->nxt = dseq;
		h->isn = dseq - 1;	/* pickup: where we first saw its sequence space */
		h->nxt_known = true;
	}
	if (!h->seen || SEQ_GT(g->seq + g->len + (g->flags & TH_FIN ? 1 : 0), h->max_end))
		h->max_end = g->seq + g->len + (g->flags & TH_FIN ? 1 : 0);
	if (!h->seen || SEQ_GT(g->seq, h->hi_start))
		h->hi_start = g->seq;
	h->seen = true;
	if ((g->flags & TH_FIN) && doubt < DOUBT_SUSPECT && !h->fin_seen &&
	    in_window(f, side, g->seq + g->len)) {
		h->fin_seen = true;
		h->fin = g->seq + g->len;
		if (f->fin_first == 0xff)
			f->fin_first = (uint8_t)side;
	}
	if (g->len > 0)
		data_in(f, side, g, dseq, g->data, g->len, doubt);
	if (f->kind != K_IGNORED)
		half_drain(f, side);
	return half_fin_check(f, side);
}

/*
 * A segment for a flow of the table. A flow screening ignored leaves the
 * table for the ignored set (README "Screening"), its bytes already freed.
 */
static void segment_in(struct flow *f, int side, const struct seg *g)
{
	if (tcp_segment(f, side, g) && f->kind == K_IGNORED) {
		if (G.ignored)
			ignored_add(f);
		flow_free(f);
	}
}

static bool port_followed(uint16_t p)
{
	return bit(G.watched, p) || bit(G.forced, p);
}

/* An expectation added before the first packet counts its time from it. */
static void expect_start_clock(void)
{
	for (size_t i = 0; i < G.nexpect; i++)
		if (G.expect[i].until == 0)
			G.expect[i].until = G.now.tv_sec + G.expect[i].ttl;
}

/* Expectations past their time go, counted (before any is taken or added). */
static void expect_expire(void)
{
	for (size_t i = 0; i < G.nexpect; i++)
		if (G.expect[i].until && G.now.tv_sec > G.expect[i].until) {
			G.st.expect_expired++;
			G.expect[i--] = G.expect[--G.nexpect];
		}
}

static bool expect_take(const struct seg *g)
{
	expect_expire();
	for (size_t i = 0; i < G.nexpect; i++) {
		struct expect *e = &G.expect[i];

		if (e->server != g->daddr || e->port != g->dport ||
		    (e->client.family != WS_AF_NONE && ws_addr_v4_host(&e->client) != ntohl(g->saddr)))
			continue;
		G.st.expect_hit++;
		G.expect[i] = G.expect[--G.nexpect];
		return true;
	}
	return false;
}

static bool screen_room(void)
{
	size_t max = G.p.screen_flows ? (size_t)G.p.screen_flows : 32768;

	while (G.lru[L_SCREEN].n >= max) {
		G.st.screen_evicted++;
		flow_free(G.lru[L_SCREEN].oldest);
	}
	return true;
}

/* A SYN from an expected client: followed from the start, whatever its content. */
static void follow_from_syn(const struct seg *g)
{
	struct flow *f;

	if (!make_room(false))
		return;
	f = flow_new(g->saddr, g->sport, g->daddr, g->dport);
	if (!f)
		return;
	f->kind = K_STREAM;
	lru_push(f, L_STREAM);
	G.st.streams++;
	f->h[0] = (struct half){.isn = g->seq, .nxt = g->seq + 1, .max_end = g->seq + 1,
				.hi_start = g->seq,
				.wscale = g->wscale, .ttl = g->ttl, .seen = true, .nxt_known = true,
				.syn_win = g->win};
}

/* A half from its SYN (client) or SYN/ACK (server; the client's must be set first). */
static void init_from_syn(struct flow *f, int side, const struct syn_slot *s)
{
	struct half *h = &f->h[side], *o = &f->h[!side];

	h->isn = s->isn;
	h->nxt = h->max_end = s->isn + 1;
	h->hi_start = s->isn;
	h->nxt_known = h->seen = true;
	h->wscale = s->wscale;
	h->ttl = s->ttl;
	if (side == WS_SIDE_SERVER) {
		/* the window in a SYN or SYN/ACK is never scaled (RFC 7323 2.2) */
		h->right = o->isn + 1 + s->win;
		h->ack = o->isn + 1;
		h->right_known = h->ack_known = true;
		o->right = h->isn + 1 + o->syn_win;
		o->right_known = true;
	} else {
		h->syn_win = s->win;	/* its right edge needs the server's ISN */
	}
}

/* First data on a 4-tuple we do not follow yet. */
static struct flow *flow_start(const struct seg *g, int *side)
{
	struct syn_slot mine, theirs;
	bool have_mine = syn_recall(g, false, &mine);
	bool have_theirs = syn_recall(g, true, &theirs);
	const struct syn_slot *cs = NULL, *ss = NULL;
	bool sender_is_client, forced;
	struct flow *f;

	if (have_mine && !mine.synack)
		sender_is_client = true;
	else if (have_theirs && !theirs.synack)
		sender_is_client = false;
	else if (port_followed(g->dport) != port_followed(g->sport))
		sender_is_client = port_followed(g->dport);
	else
		sender_is_client = g->dport <= g->sport;	/* README "Pickup" */
	if (sender_is_client) {
		cs = have_mine && !mine.synack ? &mine : NULL;
		ss = have_theirs && theirs.synack ? &theirs : NULL;
		if (cs && g->seq - (cs->isn + 1) >= ISN_PLAUSIBLE)
			cs = NULL;	/* a stale SYN: this data belongs to another connection */
	} else {
		cs = have_theirs && !theirs.synack ? &theirs : NULL;
		ss = have_mine && mine.synack ? &mine : NULL;
	}
	*side = sender_is_client ? WS_SIDE_CLIENT : WS_SIDE_SERVER;
	forced = bit(G.forced, sender_is_client ? g->dport : g->sport);
	if (forced ? !make_room(false) : !screen_room())
		return NULL;
	f = sender_is_client ? flow_new(g->saddr, g->sport, g->daddr, g->dport)
			     : flow_new(g->daddr, g->dport, g->saddr, g->sport);
	if (!f)
		return NULL;
	if (cs) {
		init_from_syn(f, WS_SIDE_CLIENT, cs);
		if (ss)
			init_from_syn(f, WS_SIDE_SERVER, ss);
		f->scaled = cs->wscale != WSCALE_NONE && ss && ss->wscale != WSCALE_NONE;
		f->scale_unknown = !ss && cs->wscale != WSCALE_NONE;
	} else {
		f->pickup = f->scale_unknown = true;
	}
	if ((g->flags & TH_ACK) && !f->h[!*side].nxt_known) {
		f->h[!*side].nxt = g->ack;	/* the sender's ACK: the other side's next byte */
		f->h[!*side].nxt_known = true;
	}
	if (forced) {
		f->kind = K_STREAM;
		lru_push(f, L_STREAM);
		G.st.streams++;
		G.st.pickups += f->pickup;
	} else {
		f->kind = K_SCREEN;
		lru_push(f, L_SCREEN);
		G.st.screened++;
	}
	return f;
}

static bool relevant(const struct seg *g)
{
	return G.p.screen || G.nexpect || port_followed(g->dport) || port_followed(g->sport);
}

/*
 * A segment on a 4-tuple with no flow: can it change anything? Cheap
 * answers first. A bare ACK starts nothing (no_flow would return). Data
 * of an ignored flow is dropped here (one cache line). The ignored flow's
 * FIN or RST forgets it, so that the ignored set holds live flows only and
 * stays sparse: then the set's bit in ignored_used tells most SYNs (scans)
 * that they reopen nothing, without a cache miss. A SYN reopening an
 * ignored 4-tuple is a new connection, screened anew.
 * Inlined into tcp_input: it runs for every packet of no flow.
 */
static inline __attribute__((always_inline)) bool unknown_worth(const struct seg *g)
{
	bool syn = (g->flags & (TH_SYN | TH_ACK)) == TH_SYN, ends = g->flags & (TH_FIN | TH_RST);
	struct ignored *e = NULL;

	if (!relevant(g) || (g->len == 0 && !(g->flags & (TH_SYN | TH_FIN | TH_RST))))
		return false;
	if (G.ignored && (g->len > 0 || ends || syn))
		e = ignored_find(g);
	if (e && (syn || ends)) {
		/* that connection ends, or another begins */
		ignored_forget(e, g->hash);
		return syn;
	}
	if (e) {
		if (e->seen != seen_now())
			e->seen = seen_now();
		return false;
	}
	return !(g->flags & TH_RST);	/* an RST starts nothing */
}

/* A segment on a 4-tuple with no flow, worth a look (unknown_worth: relevant). */
static void no_flow(struct seg *g)
{
	struct closed_slot *c;
	bool client_sent = false;
	struct flow *f;
	int side;

	if (g->flags & TH_RST)
		return;
	c = closed_lookup(g, &client_sent);
	if ((g->flags & TH_SYN) && !(g->flags & TH_ACK)) {
		/*
		 * Only the side that closed first lingers in TIME-WAIT (RFC 793
		 * p. 23); there a new SYN must start beyond the old sequence
		 * space (RFC 1122 4.2.2.13). After a RST or a passive close the
		 * server has no connection left and takes any new SYN.
		 */
		if (c && client_sent && c->server_time_wait && SEQ_GEQ(g->seq, c->cisn) &&
		    SEQ_LEQ(g->seq, c->cend)) {
			G.st.dropped[WS_DROP_REPLAYED]++;
			return;
		}
		if (c)
			closed_clear(c);
		if (G.nexpect && expect_take(g)) {
			follow_from_syn(g);
			return;
		}
		syn_remember(g);
		return;
	}
	if (c) {
		if (g->len > 0 || (g->flags & (TH_FIN | TH_SYN)))
			G.st.dropped[WS_DROP_REPLAYED]++;
		return;
	}
	if (g->flags & TH_SYN) {
		syn_remember(g);	/* SYN/ACK */
		return;
	}
	if (g->len == 0)
		return;
	if (!(g->flags & TH_ACK)) {
		G.st.dropped[WS_DROP_NO_ACK]++;
		return;
	}
	if (!port_followed(g->dport) && !port_followed(g->sport) && !G.p.screen)
		return;
	f = flow_start(g, &side);
	if (f)
		segment_in(f, side, g);
}

/*
 * The cache lines a packet of no flow will need, asked for before the flow
 * table is looked at, so that their misses overlap it and each other
 * instead of following one another: the ignored set's line for data and
 * SYNs, the SYN cache pair for a SYN. A packet of a followed flow wastes a
 * prefetch; it is the rare case.
 */
static void prefetch_tables(const struct seg *g)
{
	if (G.ignored && g->len > 0)
		__builtin_prefetch(ignored_set(g->hash), 1);
}

/* TCP options: only the window scale of a SYN matters here (RFC 7323 2.2). */
static uint8_t parse_wscale(struct ws_cursor c)
{
	while (c.left > 0 && !c.err) {
		uint8_t kind = ws_cur_u8(&c), len;

		if (kind == 0)
			break;
		if (kind == 1)
			continue;
		len = ws_cur_u8(&c);
		if (len < 2)
			break;
		if (kind == 3 && len == 3) {
			uint8_t s = ws_cur_u8(&c);

			return c.err ? WSCALE_NONE : (s > 14 ? 14 : s);	/* RFC 7323: at most 14 */
		}
		ws_cur_skip(&c, (size_t)len - 2);
	}
	return WSCALE_NONE;
}

static void tcp_input(const uint8_t *ip, size_t ihl, size_t iplen)
{
	struct ws_cursor c = ws_cursor(ip + ihl, iplen - ihl);
	struct seg g;
	size_t thl;
	struct flow *f;
	int side;

	memcpy(&g.saddr, ip + 12, 4);
	memcpy(&g.daddr, ip + 16, 4);
	g.ttl = ip[8];
	g.sport = ws_cur_be16(&c);
	g.dport = ws_cur_be16(&c);
	g.seq = ws_cur_be32(&c);
	g.ack = ws_cur_be32(&c);
	thl = (size_t)(ws_cur_u8(&c) >> 4) * 4;
	g.flags = ws_cur_u8(&c);
	g.win = ws_cur_be16(&c);
	ws_cur_skip(&c, 4);
	if (c.err || thl < 20 || thl > iplen - ihl) {
		G.st.dropped[WS_DROP_MALFORMED]++;
		G.st.nids_warn[WS_NW_TCP]++;
		return;
	}
	g.wscale = WSCALE_NONE;
	if (g.flags & TH_SYN)
		g.wscale = parse_wscale(ws_cursor(ip + ihl + 20, thl - 20));
	g.data = ip + ihl + thl;
	g.len = (uint32_t)(iplen - ihl - thl);
	g.hash = hash4(g.saddr, g.sport, g.daddr, g.dport);
	prefetch_tables(&g);
	f = flow_find(&g, &side);
	if (!f && !unknown_worth(&g))
		return;
	/*
	 * README "Checksums": only what can change state is verified, before
	 * it does. Under offload (weak) a bad checksum only puts data in
	 * doubt, and doubt only matters to queued data: data_in computes it
	 * there (CSUM_LATER), and in-order data never needs it.
	 */
	g.csum = CSUM_GOOD;
	g.ip = ip;
	g.l4 = ip + ihl;
	g.l4len = (uint32_t)(iplen - ihl);
	if (G.csum_check && !l4_sum_ok(ip, ip + ihl, iplen - ihl)) {
		G.st.dropped[WS_DROP_BAD_CHECKSUM]++;
		return;
	}
	if (G.csum_weak && g.len > 0)
		g.csum = CSUM_LATER;
	if (f)
		segment_in(f, side, &g);
	else
		no_flow(&g);
}

/* ------------------------------------------------------------------ UDP */

static void udp_input(const uint8_t *ip, size_t ihl, size_t iplen)
{
	struct ws_cursor c = ws_cursor(ip + ihl, iplen - ihl);
	struct ws_flow_key k;
	uint16_t ulen, sum;

	memcpy(&k.saddr, ip + 12, 4);
	memcpy(&k.daddr, ip + 16, 4);
	k.sport = ws_cur_be16(&c);
	k.dport = ws_cur_be16(&c);
	ulen = ws_cur_be16(&c);
	sum = ws_cur_be16(&c);
	if (c.err || ulen < 8 || ulen > iplen - ihl) {
		G.st.dropped[WS_DROP_MALFORMED]++;
		G.st.nids_warn[WS_NW_UDP]++;
		return;
	}
	/* RFC 768: a zero checksum was not computed */
	if (G.csum_check && sum != 0 && !l4_sum_ok(ip, ip + ihl, ulen)) {
		G.st.dropped[WS_DROP_BAD_CHECKSUM]++;
		return;
	}
	G.st.udp_datagrams++;
	G.p.on_udp(G.p.arg, &k, ip + ihl + 8, (size_t)ulen - 8, &G.pkt_ts);
}

/* ------------------------------------------------------------------- IP */

static void ip_datagram(const uint8_t *ip, size_t ihl, size_t iplen)
{
	if (ip[9] == 6)
		tcp_input(ip, ihl, iplen);
	else if (ip[9] == 17 && G.p.on_udp)
		udp_input(ip, ihl, iplen);
}

static void fragment_in(const uint8_t *ip, size_t ihl, size_t iplen)
{
	const uint8_t *whole;
	size_t len;
	struct ws_defrag_note note;
	enum ws_defrag_rc rc;

	rc = ws_defrag_add(G.defrag, ip, ihl, iplen, G.now.tv_sec, &whole, &len, &note);
	if (note.conflict && G.p.on_warn) {
		char detail[200], a[WS_ADDR_STRLEN], b[WS_ADDR_STRLEN];
		uint32_t sa, da;
		struct ws_addr s, d;

		memcpy(&sa, ip + 12, 4);
		memcpy(&da, ip + 16, 4);
		s = ws_addr_v4(sa);
		d = ws_addr_v4(da);
		snprintf(detail, sizeof(detail),
			 "%s > %s id %u: %u differing bytes, the %s copy kept (policy %s)",
			 ws_addr_str(&s, a, sizeof(a)), ws_addr_str(&d, b, sizeof(b)),
			 (unsigned)(ip[4] << 8 | ip[5]), note.conflict,
			 note.new_won ? "later" : "earlier", ws_policy_name(G.p.target));
		G.p.on_warn(G.p.arg, "ip-fragment-overlap", detail, NULL, &G.pkt_ts);
	}
	G.st.frag_overlaps += note.overlap > 0;
	G.st.frag_conflicts += note.conflict > 0;
	if (rc == WS_DF_DROP)
		G.st.dropped[WS_DROP_FRAGMENT]++;
	if (rc != WS_DF_DONE)
		return;
	G.st.frag_datagrams++;
	ip_datagram(whole, (size_t)(whole[0] & 15) * 4, len);
}

/* The IPv4 header fields a packet is sorted by, read through the cursor. */
struct ip_hdr {
	size_t ihl, len;	/* header and total length */
	unsigned frag;		/* MF and fragment offset: 0 for a whole datagram */
	uint8_t proto;
};

/* False: not IPv4, or a header or total length the captured bytes do not hold. */
static bool ip_header(const uint8_t *ip, size_t caplen, struct ip_hdr *h)
{
	struct ws_cursor c = ws_cursor(ip, caplen);
	uint8_t vhl = ws_cur_u8(&c);

	ws_cur_skip(&c, 1);	/* TOS */
	h->len = ws_cur_be16(&c);
	ws_cur_skip(&c, 2);	/* id */
	h->frag = ws_cur_be16(&c) & 0x3fff;	/* not DF, not the reserved bit */
	ws_cur_skip(&c, 1);	/* TTL */
	h->proto = ws_cur_u8(&c);
	h->ihl = (size_t)(vhl & 15) * 4;
	return !c.err && vhl >> 4 == 4 && h->ihl >= 20 && h->len >= h->ihl && h->len <= caplen;
}

static void packet(const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	struct ip_hdr h;

	clock_observe(ts);
	if (!ip_header(ip, caplen, &h)) {
		G.st.dropped[WS_DROP_MALFORMED]++;
		G.st.nids_warn[WS_NW_IP]++;
		return;
	}
	if (h.proto != 6 && !(h.proto == 17 && G.p.on_udp))
		return;
	if (G.csum_check && !ip_sum_ok(ip, h.ihl)) {
		G.st.dropped[WS_DROP_BAD_CHECKSUM]++;
		return;
	}
	if (h.frag != 0)
		fragment_in(ip, h.ihl, h.len);
	else
		ip_datagram(ip, h.ihl, h.len);
}

/* -------------------------------------------------- checksum auto mode */

static int sample_verdict(const uint8_t *ip, size_t caplen)
{
	struct ip_hdr h;
	struct ws_cursor udp;
	size_t ulen;

	if (!ip_header(ip, caplen, &h) || h.frag != 0)
		return -1;
	if (h.proto == 6 && h.len - h.ihl >= 20)
		return ip_sum_ok(ip, h.ihl) && l4_sum_ok(ip, ip + h.ihl, h.len - h.ihl);
	if (h.proto != 17)
		return -1;
	udp = ws_cursor(ip + h.ihl, h.len - h.ihl);
	ws_cur_skip(&udp, 4);	/* ports */
	ulen = ws_cur_be16(&udp);
	/* over the UDP length, as udp_input checks it: bytes after it are not the datagram's */
	if (ws_cur_be16(&udp) == 0 || udp.err || ulen < 8 || ulen > h.len - h.ihl)
		return -1;	/* no checksum sent, or a short or lying header */
	return ip_sum_ok(ip, h.ihl) && l4_sum_ok(ip, ip + h.ihl, ulen);
}

static void sweep_to(time_t now);

/*
 * README "Checksums": auto looks at the first SAMPLE_MAX TCP/UDP packets
 * (held back, then processed) and turns validation off when most of them
 * are bad, as NIC offload leaves them; bad ones then stay weak.
 */
static void sample_decide(void)
{
	time_t last = 0;

	G.sampling = false;
	G.st.checksum_offload = G.st.checksum_sample_bad * 2 > G.st.checksum_sampled;
	G.csum_check = !G.st.checksum_offload;
	G.csum_weak = G.st.checksum_offload;
	G.st.checksums_on = G.csum_check;
	for (size_t i = 0; i < G.nsample; i++) {
		packet(&G.sample[i].ts, G.sample[i].pkt, G.sample[i].len);
		if (G.now.tv_sec != last) {
			sweep_to(G.now.tv_sec);	/* the clock as packet() moved it */
			last = G.now.tv_sec;
		}
		free(G.sample[i].pkt);
	}
	G.nsample = 0;
	G.sample_bytes = 0;
}

static void sample_add(const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	int v = sample_verdict(ip, caplen);
	uint8_t *copy = malloc(caplen ? caplen : 1);

	if (!copy) {
		G.st.no_mem++;
		sample_decide();
		packet(ts, ip, caplen);
		return;
	}
	memcpy(copy, ip, caplen);
	G.sample[G.nsample++] = (struct sampled){*ts, caplen, copy};
	G.sample_bytes += caplen;
	if (v >= 0) {
		G.st.checksum_sampled++;
		G.st.checksum_sample_bad += v == 0;
	}
	if (G.nsample == SAMPLE_MAX || G.sample_bytes >= SAMPLE_BYTES ||
	    (G.st.checksum_sampled >= SAMPLE_EARLY &&
	     (G.st.checksum_sample_bad == 0 || G.st.checksum_sample_bad == G.st.checksum_sampled)))
		sample_decide();
}

/* ------------------------------------------------------------------- API */

static void free_tables(void)
{
	table_free(G.buckets, G.nbuckets * sizeof(*G.buckets));
	free(G.occupied);
	table_free(G.ignored, G.ignored_slots * sizeof(*G.ignored));
	free(G.ignored_used);
	table_free(G.syn, SYN_SETS * SYN_WAYS * sizeof(*G.syn));
	table_free(G.closed, CLOSED_SLOTS * sizeof(*G.closed));
}

int ws_reasm_init(const struct ws_reasm_params *p, char *err, size_t errlen)
{
	struct ws_defrag_params dp = {FRAG_DATAGRAMS, FRAG_BYTES, FRAG_TIMEOUT, p->target};
	size_t want;

	if (G.inited) {
		snprintf(err, errlen, "reassembly: already initialised");
		return -1;
	}
	if (p->max_streams < 1 || (p->on_line && p->max_line < 1) || (unsigned)p->target >= WS_POLICIES) {
		snprintf(err, errlen, "reassembly: bad parameters");
		return -1;
	}
	memset(&G, 0, sizeof(G));
	G.p = *p;
	for (size_t i = 0; i < p->nports; i++)
		set_bit(G.watched, p->ports[i]);
	want = (size_t)p->max_streams + (p->screen_flows ? (size_t)p->screen_flows : 32768);
	for (G.nbuckets = 1024; G.nbuckets < want && G.nbuckets < (1u << 24);)
		G.nbuckets <<= 1;
	G.buckets = table_alloc(G.nbuckets * sizeof(*G.buckets));
	G.occupied = calloc(G.nbuckets / 64, sizeof(*G.occupied));
	if (p->screen)
		(void)ignored_alloc(IGNORED_MIN_SLOTS);	/* checked below: G.ignored */
	G.syn = table_alloc(SYN_SETS * SYN_WAYS * sizeof(*G.syn));
	G.closed = table_alloc(CLOSED_SLOTS * sizeof(*G.closed));
	G.defrag = ws_defrag_new(&dp);
	if (!G.buckets || !G.occupied || (p->screen && !G.ignored) || !G.syn || !G.closed ||
	    !G.defrag) {
		snprintf(err, errlen, "reassembly: out of memory");
		free_tables();
		ws_defrag_free(G.defrag);
		memset(&G, 0, sizeof(G));
		return -1;
	}
	G.csum_check = p->checksums == WS_CSUM_ON;
	G.sampling = p->checksums == WS_CSUM_AUTO;
	G.st.checksums_on = G.csum_check || G.sampling;
	G.inited = true;
	return 0;
}

void ws_reasm_feed(const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	if (!G.inited || caplen > 262144)
		return;
	if (G.sampling)
		sample_add(ts, ip, caplen);
	else
		packet(ts, ip, caplen);
}

static void expire_list(enum list which, time_t now)
{
	while (G.lru[which].oldest && now - G.lru[which].oldest->last > G.p.idle_timeout) {
		G.st.idle_expired++;
		if (which == L_SCREEN)
			flow_free(G.lru[which].oldest);
		else
			flow_end(G.lru[which].oldest, WS_CLOSE_IDLE);
	}
}

static void sweep_to(time_t now)
{
	for (int l = 0; l < L_LISTS; l++)
		expire_list((enum list)l, now);
	ws_defrag_sweep(G.defrag, now);
}

void ws_reasm_sweep(const struct timeval *now)
{
	if (!G.inited || G.sampling)
		return;
	/* the clock rule again, without counting: packets are counted in feed */
	if (!G.clock_set) {
		clock_start(now);
	} else if (timercmp(now, &G.now, >) && now->tv_sec <= G.now.tv_sec + CLOCK_JUMP) {
		G.now = *now;
	}
	sweep_to(G.now.tv_sec);
}

void ws_reasm_finish(void)
{
	const struct ws_defrag_stats *ds;

	if (!G.inited)
		return;
	if (G.sampling)
		sample_decide();
	for (int l = 0; l < L_LISTS; l++)
		while (G.lru[l].oldest) {
			if (l == L_SCREEN)
				flow_free(G.lru[l].oldest);
			else
				flow_end(G.lru[l].oldest, WS_CLOSE_END);
		}
	ds = ws_defrag_stats(G.defrag);
	G.st.frag_timeouts = ds->timeouts;
	G.st.frag_evicted = ds->evicted;
	ws_defrag_free(G.defrag);
	free_tables();
	spares_free(&G.spare_flows);
	spares_free(&G.spare_sbufs);
	G.defrag = NULL;
	G.buckets = NULL;
	G.occupied = NULL;
	G.ignored = NULL;
	G.ignored_used = NULL;
	G.syn = NULL;
	G.closed = NULL;
	G.inited = false;
}

const struct ws_reasm_stats *ws_reasm_stats(void)
{
	if (G.defrag) {
		const struct ws_defrag_stats *ds = ws_defrag_stats(G.defrag);

		G.st.frag_timeouts = ds->timeouts;
		G.st.frag_evicted = ds->evicted;
	}
	G.st.queue_bytes = G.queue_bytes;
	G.st.ignored_slots = G.ignored_slots;
	return &G.st;
}

size_t ws_reasm_active_streams(void)
{
	return G.lru[L_STREAM].n + G.lru[L_SHELL].n;
}

const struct timeval *ws_reasm_clock(void)
{
	return &G.pkt_ts;
}

size_t ws_reasm_screening_flows(void)
{
	return G.lru[L_SCREEN].n;
}

void ws_reasm_protect(struct ws_flow_info *info)
{
	struct flow *f = (struct flow *)(void *)((char *)info - offsetof(struct flow, info));

	if (!G.inited || f->kind != K_STREAM || f->info.shell)
		return;
	f->info.shell = true;
	lru_unlink(f);
	lru_push(f, L_SHELL);
	G.st.protected_streams++;
}

int ws_reasm_expect(const struct ws_addr *client, const struct ws_endpoint *server, int ttl)
{
	struct expect *e;

	if (!G.inited || !ws_addr_is_v4(&server->addr))
		return -1;
	expect_expire();
	if (G.nexpect == EXPECT_SLOTS) {
		G.st.expect_full++;
		return -1;
	}
	e = &G.expect[G.nexpect++];
	memset(e, 0, sizeof(*e));
	if (client)
		e->client = *client;
	e->server = htonl(ws_addr_v4_host(&server->addr));
	e->port = server->port;
	e->ttl = ttl;
	e->until = G.clock_set ? G.now.tv_sec + ttl : 0;
	G.st.expect_added++;
	return 0;
}

void ws_reasm_follow_port(uint16_t port)
{
	set_bit(G.forced, port);
}

/* One line for the sensor's statistics: what the normalizer set aside and why. */
size_t ws_reasm_stats_text(char *buf, size_t cap)
{
	const struct ws_reasm_stats *s = ws_reasm_stats();
	size_t n;

	n = (size_t)snprintf(buf, cap, "normalizer (target %s, checksums %s%s): set aside",
			     ws_policy_name(G.p.target), s->checksums_on ? "on" : "off",
			     s->checksum_offload ? ", offload seen: validation turned off" : "");
	for (int d = 0; d < WS_DROP_KINDS && n < cap; d++)
		n += (size_t)snprintf(buf + n, cap - n, "%s %s %" PRIu64, d ? "," : "",
				      ws_drop_name((enum ws_drop)d), s->dropped[d]);
	if (n < cap)
		n += (size_t)snprintf(buf + n, cap - n,
				      "; doubtful bytes released %" PRIu64 ", replaced %" PRIu64
				      "; overlaps tcp %" PRIu64 " (conflicting %" PRIu64
				      "), ip fragments %" PRIu64 " (conflicting %" PRIu64
				      "); gaps %" PRIu64 "; clock: future %" PRIu64 ", past %" PRIu64
				      ", jumps %" PRIu64 "; screened %" PRIu64 " (promoted %" PRIu64
				      ", ignored %" PRIu64 ", evicted %" PRIu64 "), ignored set %" PRIu32
				      " slots (resized %" PRIu64 ", replaced %" PRIu64 "), shell streams %" PRIu64
				      ", refused %" PRIu64 ", expected %" PRIu64 " (hit %" PRIu64 ")",
				      s->weak_released, s->weak_replaced, s->tcp_overlaps,
				      s->tcp_conflicts, s->frag_overlaps, s->frag_conflicts, s->gaps,
				      s->clock_future, s->clock_past, s->clock_jumps, s->screened,
				      s->screen_promoted, s->screen_ignored, s->screen_evicted,
				      s->ignored_slots, s->ignored_resized, s->ignored_replaced,
				      s->protected_streams, s->refused, s->expect_added, s->expect_hit);
	return n < cap ? n : cap - 1;
}
