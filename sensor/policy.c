/*
 * Fetch policy: which server a GET is fetched from, whether that is
 * allowed, whether it is a duplicate, and the name the sample is stored
 * under. No I/O; the sensor acts on the answers.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sensor.h"

#define STEM_MAX 71		/* WS_FETCH_STEM_MAX - 1 (tftp.h) */

const char *ws_fetch_verdict_name(enum ws_fetch_verdict v)
{
	static const char *const names[] = {
		[WS_FETCH_NONE] = "", [WS_FETCH_QUEUED] = "queued",
		[WS_FETCH_DISABLED] = "disabled", [WS_FETCH_DENIED] = "denied",
		[WS_FETCH_DUPLICATE] = "duplicate", [WS_FETCH_RATE_LIMITED] = "rate-limited",
		[WS_FETCH_QUEUE_FULL] = "queue-full", [WS_FETCH_INVALID_NAME] = "invalid-name",
	};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

static bool v4_nonpublic(uint32_t a)
{
	static const struct ws_cidr nonpublic[] = {
		{0x00000000, 0xff000000},	/* 0/8 unspecified, "this network" */
		{0x0a000000, 0xff000000},	/* 10/8 */
		{0x64400000, 0xffc00000},	/* 100.64/10 CGNAT */
		{0x7f000000, 0xff000000},	/* 127/8 loopback */
		{0xa9fe0000, 0xffff0000},	/* 169.254/16 link-local */
		{0xac100000, 0xfff00000},	/* 172.16/12 */
		{0xc0a80000, 0xffff0000},	/* 192.168/16 */
		{0xe0000000, 0xf0000000},	/* 224/4 multicast */
		{0xf0000000, 0xf0000000},	/* 240/4 reserved and broadcast */
	};

	return ws_cidr_match(nonpublic, sizeof(nonpublic) / sizeof(nonpublic[0]), a);
}

/* IPv6 is not fetched from yet: every IPv6 address counts as non-public. */
bool ws_addr_is_nonpublic(const struct ws_addr *a)
{
	return !ws_addr_is_v4(a) || v4_nonpublic(ws_addr_v4_host(a));
}

/*
 * Names are never resolved (DNS is the attacker's to steer): named is the
 * address Windows' inet_addr made of the command's host (shell/), or
 * WS_AF_NONE for a name.
 */
int ws_policy_pick_server(const struct ws_config *cfg, const struct ws_addr *named,
			  const struct ws_addr *conn_src, struct ws_addr *server)
{
	bool usable = ws_addr_is_v4(named);

	switch (cfg->fetch.server) {
	case WS_SERVER_COMMAND:
		if (!usable)
			return -1;
		*server = *named;
		return 0;
	case WS_SERVER_SOURCE:
		*server = *conn_src;
		return 0;
	case WS_SERVER_COMMAND_THEN_SOURCE:
		/* the NAT case: a private address (or 0.0.0.0) typed, a public one connecting */
		if (!usable || (ws_addr_is_nonpublic(named) && !ws_addr_is_nonpublic(conn_src)))
			*server = *conn_src;
		else
			*server = *named;
		return 0;
	}
	return -1;
}

bool ws_policy_allowed(const struct ws_config *cfg, const struct ws_addr *server)
{
	uint32_t a = ws_addr_v4_host(server);

	if (!ws_addr_is_v4(server) || ws_cidr_match(cfg->fetch.deny, cfg->fetch.ndeny, a))
		return false;
	return cfg->fetch.nallow == 0 || ws_cidr_match(cfg->fetch.allow, cfg->fetch.nallow, a);
}

/* ------------------------------------------------------- own addresses */

#define SELF_MAX 256

struct ws_selfaddrs {
	size_t n;
	struct ws_addr a[SELF_MAX];
};

static void self_add(struct ws_selfaddrs *s, const struct sockaddr *sa)
{
	if (!sa || s->n == SELF_MAX)
		return;
	if (sa->sa_family == AF_INET)
		s->a[s->n++] = ws_addr_v4(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr);
}

/* Every interface's addresses and (IPv4) broadcast addresses. */
struct ws_selfaddrs *ws_selfaddrs_load(void)
{
	struct ws_selfaddrs *s = calloc(1, sizeof(*s));
	struct ifaddrs *ifa, *i;

	if (!s)
		return NULL;
	if (getifaddrs(&ifa) < 0)
		return s;
	for (i = ifa; i; i = i->ifa_next) {
		self_add(s, i->ifa_addr);
		if (i->ifa_flags & IFF_BROADCAST)
			self_add(s, i->ifa_broadaddr);
	}
	freeifaddrs(ifa);
	return s;
}

bool ws_selfaddrs_has(const struct ws_selfaddrs *s, const struct ws_addr *a)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (ws_addr_eq(&s->a[i], a))
			return true;
	return false;
}

void ws_selfaddrs_free(struct ws_selfaddrs *s)
{
	free(s);
}

/* ----------------------------------------------------------------- dedup */

struct dedup_slot {
	uint64_t hash;
	time_t when;
	bool used;
};

struct ws_dedup {
	size_t n;
	struct dedup_slot slot[];
};

/* FNV-1a over the server and the lower-cased file name. */
static uint64_t dedup_hash(const struct ws_addr *server, const char *file)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < ws_addr_len(server); i++) {
		h ^= server->a[i];
		h *= 0x100000001b3ull;
	}
	for (; *file; file++) {
		h ^= (unsigned char)tolower((unsigned char)*file);
		h *= 0x100000001b3ull;
	}
	return h;
}

struct ws_dedup *ws_dedup_new(size_t slots)
{
	struct ws_dedup *d;

	if (slots == 0)
		slots = 1;
	d = calloc(1, sizeof(*d) + slots * sizeof(d->slot[0]));
	if (d)
		d->n = slots;
	return d;
}

/*
 * Direct-mapped: a collision forgets the older entry, so the table stays
 * bounded; at worst a file is fetched twice, never wrongly skipped.
 */
bool ws_dedup_check(struct ws_dedup *d, const struct ws_addr *server, const char *file,
		    time_t now, int window)
{
	uint64_t h = dedup_hash(server, file);
	struct dedup_slot *s = &d->slot[h % d->n];

	if (window <= 0)
		return false;
	if (s->used && s->hash == h && now - s->when >= 0 && now - s->when < window)
		return true;
	s->hash = h;
	s->when = now;
	s->used = true;
	return false;
}

void ws_dedup_free(struct ws_dedup *d)
{
	free(d);
}

/* ------------------------------------------------------------ rate limit */

#define RATE_WINDOW 60

struct rate_slot {
	struct ws_addr server;
	time_t start;
	int count;
};

struct ws_ratelimit {
	time_t start;
	int count;
	size_t n;
	struct rate_slot slot[];
};

struct ws_ratelimit *ws_ratelimit_new(size_t slots)
{
	struct ws_ratelimit *r;

	if (slots == 0)
		slots = 1;
	r = calloc(1, sizeof(*r) + slots * sizeof(r->slot[0]));
	if (r)
		r->n = slots;
	return r;
}

/*
 * Fixed windows. A server whose slot another server took over starts a
 * fresh count: collisions can only make us more generous to a server, but
 * the global budget still holds.
 */
bool ws_ratelimit_take(struct ws_ratelimit *r, const struct ws_addr *server, time_t now,
		       int per_server, int global)
{
	struct rate_slot *s = &r->slot[dedup_hash(server, "") % r->n];

	if (now - r->start >= RATE_WINDOW || now < r->start) {
		r->start = now;
		r->count = 0;
	}
	if (!ws_addr_eq(&s->server, server) || now - s->start >= RATE_WINDOW || now < s->start) {
		s->server = *server;
		s->start = now;
		s->count = 0;
	}
	if (r->count >= global || s->count >= per_server)
		return false;
	r->count++;
	s->count++;
	return true;
}

void ws_ratelimit_free(struct ws_ratelimit *r)
{
	free(r);
}

/* ------------------------------------------------------------ store name */

void ws_store_stem(char *dst, size_t cap, const char *file)
{
	const char *b = file, *dot;
	size_t n, o = 0;

	if (cap == 0)
		return;
	for (const char *p = file; *p; p++)
		if (*p == '/' || *p == '\\' || *p == ':')
			b = p + 1;
	dot = strrchr(b, '.');
	n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
	if (cap > STEM_MAX + 1)
		cap = STEM_MAX + 1;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)b[i];
		bool ok = isalnum(c) || c == '-' || c == '_' || (c == '.' && o > 0);

		dst[o++] = ok && c < 0x80 ? (char)c : '_';
	}
	if (o == 0 && cap > sizeof("unnamed")) {
		memcpy(dst, "unnamed", sizeof("unnamed"));
		return;
	}
	dst[o] = '\0';
}
