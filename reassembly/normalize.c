/*
 * The receive queue of one direction of a TCP connection, as the receiving
 * host keeps it: bytes that arrived ahead of the next expected byte, with
 * which segment brought each byte, so that an overlap is resolved the way
 * the target operating system resolves it (reassembly/README.md, "Overlaps").
 *
 * Pure: no globals, no I/O; the engine owns the memory budget. Bytes at or
 * below the next expected byte are never here: the receiver has already
 * handed them to the application, and every stack keeps those (RFC 9293
 * 3.10.7.4: a segment's bytes below RCV.NXT are trimmed as duplicates).
 */
#include <stdlib.h>
#include <string.h>

#include "reassembly.h"
#include "seq.h"
#define RXQ_MIN_CAP 256u

const char *ws_policy_name(enum ws_policy p)
{
	static const char *const names[] = {"windows", "linux", "bsd", "first", "last"};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

int ws_policy_parse(const char *s, enum ws_policy *out)
{
	for (int p = 0; p < WS_POLICIES; p++)
		if (strcmp(s, ws_policy_name((enum ws_policy)p)) == 0) {
			*out = (enum ws_policy)p;
			return 0;
		}
	return -1;
}

/*
 * Does a new segment's byte replace a byte already queued from segment old?
 * A segment the victim may well have dropped (doubt > 0: a bad checksum
 * with validation off, then worse, a TTL too low or an ACK of unsent data)
 * never replaces a byte with less doubt, and is always replaced by one. Among equals, the target policy
 * (Novak & Sturges 2007; Snort 3's TcpOverlapResolver, full_right_overlap_os1
 * for Windows/Windows 2003/BSD/MacOS and _os2 for Linux; "left overlap,
 * honoring old data" for every policy but last): the old bytes stay unless
 * the new segment covers the old one entirely and starts before it (Windows,
 * BSD) or at the same place (Linux).
 */
bool ws_tcp_new_wins(enum ws_policy p, uint32_t old_start, uint32_t old_end, uint8_t old_doubt,
		     uint32_t new_start, uint32_t new_end, uint8_t new_doubt)
{
	if (old_doubt != new_doubt)
		return new_doubt < old_doubt;
	switch (p) {
	case WS_POL_WINDOWS:
	case WS_POL_BSD:
		return SEQ_LT(new_start, old_start) && SEQ_LEQ(old_end, new_end);
	case WS_POL_LINUX:
		return SEQ_LEQ(new_start, old_start) && SEQ_LEQ(old_end, new_end);
	case WS_POL_LAST:
		return true;
	case WS_POL_FIRST:
	default:
		return false;
	}
}

void ws_rxq_init(struct ws_rxq *q, uint32_t base)
{
	memset(q, 0, sizeof(*q));
	q->base = base;
}

void ws_rxq_free(struct ws_rxq *q)
{
	free(q->data);
	free(q->owner);
	q->data = q->owner = NULL;
	q->cap = 0;
	q->used = 0;
}

/* Forget descriptors no queued byte points at any more. */
static void rxq_collect(struct ws_rxq *q)
{
	bool live[WS_RXQ_SEGS] = {false};

	for (uint32_t i = 0; i < q->cap; i++)
		if (q->owner[i])
			live[q->owner[i] - 1] = true;
	for (int i = 0; i < WS_RXQ_SEGS; i++)
		if (!live[i])
			q->seg[i].end = q->seg[i].start = 0, q->seg[i].live = false;
}

static int rxq_slot(struct ws_rxq *q)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < WS_RXQ_SEGS; i++)
			if (!q->seg[i].live)
				return i;
		if (pass == 0 && q->owner)
			rxq_collect(q);
	}
	return -1;
}

/* Room for offsets [0, need); false if over max_cap or out of memory. */
static bool rxq_grow(struct ws_rxq *q, uint32_t need, uint32_t max_cap)
{
	uint32_t cap = q->cap ? q->cap : RXQ_MIN_CAP;
	uint8_t *d, *o;

	if (need <= q->cap)
		return true;
	if (need > max_cap)
		return false;
	while (cap < need)
		cap *= 2;
	if (cap > max_cap)
		cap = max_cap;
	d = realloc(q->data, cap);
	if (!d)
		return false;
	q->data = d;
	o = realloc(q->owner, cap);
	if (!o)
		return false;
	memset(o + q->cap, 0, cap - q->cap);
	q->owner = o;
	q->cap = cap;
	return true;
}

/*
 * Queue data[0..len) at sequence seq (at or after base: the caller trimmed
 * what was delivered). Bytes beyond max_cap from base are cut off.
 */
int ws_rxq_insert(struct ws_rxq *q, enum ws_policy pol, uint32_t seq, const uint8_t *data,
		  uint32_t len, uint8_t doubt, const struct timeval *ts, uint32_t max_cap,
		  struct ws_rxq_result *r)
{
	uint32_t off = seq - q->base, end = off + len;
	int slot;

	memset(r, 0, sizeof(*r));
	if (SEQ_LT(seq, q->base) || len == 0)
		return 0;
	if (off >= max_cap) {
		r->cut = len;
		return -1;
	}
	if (end > max_cap) {
		r->cut = end - max_cap;
		end = max_cap;
	}
	slot = rxq_slot(q);
	if (slot < 0 || !rxq_grow(q, end, max_cap)) {
		r->cut = len;
		return -1;
	}
	q->seg[slot] = (struct ws_rxq_seg){.start = seq, .end = seq + len, .ts = *ts,
					   .doubt = doubt, .live = true};
	for (uint32_t i = off; i < end; i++) {
		const uint8_t b = data[i - off];
		uint8_t o = q->owner[i];

		if (o) {
			const struct ws_rxq_seg *s = &q->seg[o - 1];

			r->overlap++;
			if (q->data[i] != b && s->doubt == doubt)
				r->conflict++;
			if (!ws_tcp_new_wins(pol, s->start, s->end, s->doubt, seq, seq + len, doubt))
				continue;
			if (q->data[i] != b && s->doubt == doubt)
				r->new_won++;
			r->weak_replaced += s->doubt > doubt;
		} else {
			q->used++;
		}
		q->data[i] = b;
		q->owner[i] = (uint8_t)(slot + 1);
	}
	return 0;
}

/* The run of bytes at base from one segment: its length (0: a hole at base). */
uint32_t ws_rxq_front(const struct ws_rxq *q, const uint8_t **p, uint8_t *doubt,
		      struct timeval *ts)
{
	uint32_t n = 0;
	uint8_t o;

	if (q->cap == 0 || q->owner[0] == 0)
		return 0;
	o = q->owner[0];
	while (n < q->cap && q->owner[n] == o)
		n++;
	*p = q->data;
	*doubt = q->seg[o - 1].doubt;
	*ts = q->seg[o - 1].ts;
	return n;
}

/* Move base forward by n bytes, dropping what was queued there. */
void ws_rxq_advance(struct ws_rxq *q, uint32_t n)
{
	if (n >= q->cap) {
		q->used = 0;
		if (q->cap)
			memset(q->owner, 0, q->cap);
	} else if (n > 0) {
		for (uint32_t i = 0; i < n; i++)
			q->used -= q->owner[i] != 0;
		memmove(q->data, q->data + n, q->cap - n);
		memmove(q->owner, q->owner + n, q->cap - n);
		memset(q->owner + q->cap - n, 0, n);
	}
	q->base += n;
}

/* Offset from base of the first queued byte, or UINT32_MAX when empty. */
uint32_t ws_rxq_first(const struct ws_rxq *q)
{
	if (q->used == 0)
		return UINT32_MAX;
	for (uint32_t i = 0; i < q->cap; i++)
		if (q->owner[i])
			return i;
	return UINT32_MAX;
}

/* Bytes queued without a hole from base. */
uint32_t ws_rxq_contiguous(const struct ws_rxq *q)
{
	uint32_t n = 0;

	while (n < q->cap && q->owner[n])
		n++;
	return n;
}
