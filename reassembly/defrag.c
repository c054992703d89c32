/*
 * IPv4 fragment reassembly as the target host does it, bounded.
 *
 * Overlapping fragments are resolved by the target policy
 * (reassembly/README.md, "IP fragments"): Novak, "Target-Based Fragmentation
 * Reassembly" (2005), as implemented by Suricata's defrag.c and Snort's
 * frag3: first (old data wins), last (new wins), bsd (a fragment that
 * starts before an older one wins over it), linux (also at the same
 * offset), windows (old data wins unless the new fragment starts before an
 * older one and ends after it, which it then replaces).
 *
 * Pure: no globals, no I/O. Memory: at most max_datagrams in progress and
 * max_bytes of buffers; past either the oldest datagram is dropped (counted).
 * A fragment finds its datagram through a hash of (src, dst, id, protocol):
 * non-first fragments are selected whatever their protocol (capture/), so
 * the fragments of datagrams that never complete (an NFS read over UDP,
 * whose first fragment is not selected) keep max_datagrams in progress,
 * and a walk over all of them for every fragment cost 6 % of a whole
 * replay (bench/README.md, round 5).
 */
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "reassembly.h"

#define DF_MAX_FRAGS 64		/* fragments per datagram; more is an attack */
#define DF_MAX_PAYLOAD (65535 - 20)

struct df_frag {
	uint16_t start, end;	/* byte offsets in the payload */
};

struct df_dgram {
	struct df_dgram *older, *newer;
	struct df_dgram *hnext;	/* the next in its hash bucket */
	uint8_t src[4], dst[4];
	uint16_t id;
	uint8_t proto;
	uint8_t nfrags;
	bool have_first, have_last;
	uint16_t total;		/* payload length, known with the last fragment */
	uint32_t cap, have;	/* bytes allocated / present */
	time_t created;
	uint8_t hdr[60];
	uint8_t hdrlen;
	uint8_t *data, *owner;	/* owner: index + 1 of the fragment that gave the byte */
	struct df_frag frag[DF_MAX_FRAGS];
};

struct ws_defrag {
	struct ws_defrag_params p;
	struct df_dgram *oldest, *newest;
	struct df_dgram **bucket;	/* nbuckets chains */
	size_t nbuckets;	/* a power of two, >= 2 * max_datagrams */
	size_t n, bytes;
	uint8_t *out;		/* the last reassembled datagram */
	struct ws_defrag_stats st;
};

struct ws_defrag *ws_defrag_new(const struct ws_defrag_params *p)
{
	struct ws_defrag *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->p = *p;
	for (d->nbuckets = 16; d->nbuckets < 2 * p->max_datagrams && d->nbuckets < (1u << 20);)
		d->nbuckets *= 2;
	d->bucket = calloc(d->nbuckets, sizeof(*d->bucket));
	d->out = malloc(65536);
	if (!d->out || !d->bucket) {
		free(d->bucket);
		free(d->out);
		free(d);
		return NULL;
	}
	return d;
}

/*
 * The chain of (src, dst, id, protocol). The hash is not keyed: fragments
 * aimed at one chain make it at most max_datagrams long, the walk every
 * fragment took before the index.
 */
static struct df_dgram **df_bucket(struct ws_defrag *d, const uint8_t *src, const uint8_t *dst,
				   uint16_t id, uint8_t proto)
{
	uint32_t s, t;
	uint64_t h;

	memcpy(&s, src, 4);
	memcpy(&t, dst, 4);
	h = ((uint64_t)s << 32 | t) * 0x9e3779b97f4a7c15ull ^
	    ((uint64_t)id << 8 | proto) * 0xc2b2ae3d27d4eb4full;
	return &d->bucket[(h ^ h >> 32) & (d->nbuckets - 1)];
}

static void df_unlink(struct ws_defrag *d, struct df_dgram *g)
{
	if (g->older)
		g->older->newer = g->newer;
	else
		d->oldest = g->newer;
	if (g->newer)
		g->newer->older = g->older;
	else
		d->newest = g->older;
}

static void df_drop(struct ws_defrag *d, struct df_dgram *g)
{
	struct df_dgram **pp = df_bucket(d, g->src, g->dst, g->id, g->proto);

	while (*pp != g)
		pp = &(*pp)->hnext;
	*pp = g->hnext;
	df_unlink(d, g);
	d->n--;
	d->bytes -= g->cap * 2;
	free(g->data);
	free(g->owner);
	free(g);
}

void ws_defrag_free(struct ws_defrag *d)
{
	if (!d)
		return;
	while (d->oldest)
		df_drop(d, d->oldest);
	free(d->bucket);
	free(d->out);
	free(d);
}

const struct ws_defrag_stats *ws_defrag_stats(const struct ws_defrag *d)
{
	return &d->st;
}

size_t ws_defrag_pending(const struct ws_defrag *d)
{
	return d->n;
}

void ws_defrag_sweep(struct ws_defrag *d, time_t now)
{
	while (d->oldest && now - d->oldest->created > d->p.timeout) {
		d->st.timeouts++;
		df_drop(d, d->oldest);
	}
}

bool ws_frag_new_wins(enum ws_policy p, unsigned old_start, unsigned old_end, unsigned new_start,
		      unsigned new_end)
{
	switch (p) {
	case WS_POL_WINDOWS:
		return new_start < old_start && new_end > old_end;
	case WS_POL_BSD:
		return new_start < old_start;
	case WS_POL_LINUX:
		return new_start <= old_start;
	case WS_POL_LAST:
		return true;
	case WS_POL_FIRST:
	default:
		return false;
	}
}

static struct df_dgram *df_find(struct ws_defrag *d, const uint8_t *ip, time_t now)
{
	uint16_t id = (uint16_t)(ip[4] << 8 | ip[5]);
	struct df_dgram *g, **b = df_bucket(d, ip + 12, ip + 16, id, ip[9]);

	for (g = *b; g; g = g->hnext)
		if (g->id == id && g->proto == ip[9] && memcmp(g->src, ip + 12, 4) == 0 &&
		    memcmp(g->dst, ip + 16, 4) == 0)
			return g;
	while (d->n >= d->p.max_datagrams && d->oldest) {
		d->st.evicted++;
		df_drop(d, d->oldest);
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->hnext = *b;	/* b is the head slot: still right after the evictions above */
	*b = g;
	memcpy(g->src, ip + 12, 4);
	memcpy(g->dst, ip + 16, 4);
	g->id = id;
	g->proto = ip[9];
	g->created = now;
	g->older = d->newest;
	if (d->newest)
		d->newest->newer = g;
	else
		d->oldest = g;
	d->newest = g;
	d->n++;
	return g;
}

static bool df_grow(struct ws_defrag *d, struct df_dgram *g, uint32_t need)
{
	uint32_t cap = g->cap ? g->cap : 2048;
	uint8_t *p;

	if (need <= g->cap)
		return true;
	while (cap < need)
		cap *= 2;
	if (cap > 65536)
		cap = 65536;
	while (d->bytes + (size_t)(cap - g->cap) * 2 > d->p.max_bytes && d->oldest &&
	       d->oldest != g) {
		d->st.evicted++;
		df_drop(d, d->oldest);
	}
	if (d->bytes + (size_t)(cap - g->cap) * 2 > d->p.max_bytes)
		return false;
	p = realloc(g->data, cap);
	if (!p)
		return false;
	g->data = p;
	p = realloc(g->owner, cap);
	if (!p)
		return false;
	memset(p + g->cap, 0, cap - g->cap);
	g->owner = p;
	d->bytes += (size_t)(cap - g->cap) * 2;
	g->cap = cap;
	return true;
}

/* Does [start, end) touch a byte an earlier fragment gave? */
static bool df_overlaps(const struct df_dgram *g, unsigned start, unsigned end)
{
	for (unsigned i = 0; i < g->nfrags; i++)
		if (g->frag[i].start < end && start < g->frag[i].end)
			return true;
	return false;
}

static void df_place(struct ws_defrag *d, struct df_dgram *g, unsigned start, const uint8_t *b,
		     unsigned len, struct ws_defrag_note *note)
{
	uint8_t idx = (uint8_t)(g->nfrags + 1);

	if (!df_overlaps(g, start, start + len)) {
		/* the usual case: no policy to apply, every byte is new */
		if (len > 0) {	/* an empty fragment may have no buffer yet */
			memcpy(g->data + start, b, len);
			memset(g->owner + start, idx, len);
		}
		g->have += len;
		g->frag[g->nfrags++] = (struct df_frag){(uint16_t)start, (uint16_t)(start + len)};
		return;
	}
	g->frag[g->nfrags++] = (struct df_frag){(uint16_t)start, (uint16_t)(start + len)};
	for (unsigned i = start; i < start + len; i++) {
		uint8_t o = g->owner[i];

		if (o) {
			const struct df_frag *f = &g->frag[o - 1];
			bool wins = ws_frag_new_wins(d->p.policy, f->start, f->end, start,
						     start + len);

			note->overlap++;
			if (g->data[i] != b[i - start]) {
				note->conflict++;
				note->new_won += wins;
			}
			if (!wins)
				continue;
		} else {
			g->have++;
		}
		g->data[i] = b[i - start];
		g->owner[i] = idx;
	}
}

static size_t df_build(struct ws_defrag *d, struct df_dgram *g)
{
	size_t len = (size_t)g->hdrlen + g->total;
	uint16_t sum;

	memcpy(d->out, g->hdr, g->hdrlen);
	if (g->total)
		memcpy(d->out + g->hdrlen, g->data, g->total);
	d->out[2] = (uint8_t)(len >> 8);
	d->out[3] = (uint8_t)len;
	d->out[6] = d->out[7] = 0;
	d->out[10] = d->out[11] = 0;
	/* host-order words: the complement is stored as it lies (RFC 1071 2(B)) */
	sum = (uint16_t)~ws_inet_fold(ws_inet_sum(0, d->out, g->hdrlen));
	memcpy(d->out + 10, &sum, 2);
	return len;
}

/*
 * One fragment (ip points at a checked IPv4 header of ihl bytes, the packet
 * holds iplen bytes). WS_DF_DONE: *out is the whole datagram, valid until
 * the next call.
 */
enum ws_defrag_rc ws_defrag_add(struct ws_defrag *d, const uint8_t *ip, size_t ihl, size_t iplen,
				time_t now, const uint8_t **out, size_t *outlen,
				struct ws_defrag_note *note)
{
	struct ws_cursor c = ws_cursor(ip, iplen);
	unsigned frag, start, len;
	bool more;
	struct df_dgram *g;

	memset(note, 0, sizeof(*note));
	ws_cur_skip(&c, 6);
	frag = ws_cur_be16(&c);
	more = frag & 0x2000;
	start = (frag & 0x1fff) * 8u;
	len = (unsigned)(iplen - ihl);
	if (c.err || (more && len % 8) || start + len > DF_MAX_PAYLOAD) {
		d->st.malformed++;
		return WS_DF_DROP;
	}
	g = df_find(d, ip, now);
	if (!g || g->nfrags == DF_MAX_FRAGS || (!more && g->have_last && start + len != g->total)) {
		d->st.malformed += g != NULL;
		if (g)
			df_drop(d, g);	/* 64 fragments or two different ends: give it up */
		return WS_DF_DROP;
	}
	if (!df_grow(d, g, start + len)) {
		d->st.evicted++;
		df_drop(d, g);
		return WS_DF_DROP;
	}
	df_place(d, g, start, ip + ihl, len, note);
	if (start == 0 && !g->have_first) {
		g->have_first = true;
		g->hdrlen = (uint8_t)ihl;
		memcpy(g->hdr, ip, ihl);
	}
	if (!more) {
		g->have_last = true;
		g->total = (uint16_t)(start + len);
	}
	d->st.overlaps += note->overlap > 0;
	d->st.conflicts += note->conflict > 0;
	if (!g->have_first || !g->have_last || g->have < g->total)
		return WS_DF_HELD;
	if (g->total > 0 && memchr(g->owner, 0, g->total))
		return WS_DF_HELD;	/* bytes past the end filled a hole count */
	if ((size_t)g->hdrlen + g->total > 65535) {
		/* no IPv4 datagram is longer: a 60-byte header with 65515 bytes behind it */
		d->st.malformed++;
		df_drop(d, g);
		return WS_DF_DROP;
	}
	*outlen = df_build(d, g);
	*out = d->out;
	d->st.datagrams++;
	df_drop(d, g);
	return WS_DF_DONE;
}
