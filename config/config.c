/*
 * YAML configuration, read with libyaml's event parser so every scalar has
 * its line and column. The file is untrusted input: every key is in the
 * table below with a type and a range, and every mistake is an error that
 * names FILE:LINE:COL and the key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config.h"
#include "output.h"	/* syslog target and facility names */

#define FILE_MAX (1 << 20)
#define PATH_DEPTH 4
#define KEY_MAX 64
#define SEEN_MAX 64

enum kind {
	K_SECTION,	/* a mapping of further keys */
	K_INT,		/* int field */
	K_BLKSIZE,	/* int field: 0 (no options) or 8..65464 */
	K_SIZE,		/* int64 field, suffixes K M G allowed */
	K_BOOL,
	K_STRING,	/* any text up to the field size */
	K_FILENAME,	/* plain file name: no '/', not . or .. */
	K_USER,		/* [a-z_][a-z0-9_-]* */
	K_PORT,		/* uint16 field */
	K_PORTS,	/* list of ports */
	K_CIDRS,	/* list of CIDRs; count at aux */
	K_POLICY,	/* server policy name */
	K_HOSTPORT,	/* "" or a.b.c.d:port; parsed into the ws_cfg_hostport at aux */
	K_FILTER,	/* BPF text: checked by libpcap later */
	K_SYSLOG_TARGET,	/* as ws_syslog_target_check() accepts */
	K_FACILITY,	/* a syslog facility name */
	K_TARGET,	/* reassembly target policy name -> int (enum ws_policy order) */
	K_CHECKSUMS,	/* auto | on | off -> int (enum ws_checksums order) */
};

struct key {
	const char *path;
	enum kind kind;
	size_t off;		/* into struct ws_config */
	size_t size;		/* of the field (strings) */
	int64_t min, max;
	size_t aux;		/* K_CIDRS: offset of the count; K_HOSTPORT: of the parsed value */
};

#define F(m) offsetof(struct ws_config, m), sizeof(((struct ws_config *)0)->m)
#define GIB (1024LL * 1024 * 1024)

static const struct key keys[] = {
	{"ports", K_PORTS, F(ports), 1, 65535, 0},
	{"output", K_SECTION, 0, 0, 0, 0, 0},
	{"output.dir", K_STRING, F(output.dir), 1, 0, 0},
	{"output.event_log", K_FILENAME, F(output.event_log), 1, 0, 0},
	{"output.fetch_log", K_FILENAME, F(output.fetch_log), 1, 0, 0},
	{"output.json", K_BOOL, F(output.json), 0, 0, 0},
	{"output.json_file", K_FILENAME, F(output.json_file), 1, 0, 0},
	{"output.syslog", K_SECTION, 0, 0, 0, 0, 0},
	{"output.syslog.enabled", K_BOOL, F(output.syslog.enabled), 0, 0, 0},
	{"output.syslog.target", K_SYSLOG_TARGET, F(output.syslog.target), 0, 0, 0},
	{"output.syslog.facility", K_FACILITY, F(output.syslog.facility), 0, 0, 0},
	{"capture", K_SECTION, 0, 0, 0, 0, 0},
	{"capture.snaplen", K_INT, F(capture.snaplen), 64, 262144, 0},
	{"capture.buffer_size", K_SIZE, F(capture.buffer_size), 65536, GIB, 0},
	{"capture.promiscuous", K_BOOL, F(capture.promiscuous), 0, 0, 0},
	{"capture.timeout_ms", K_INT, F(capture.timeout_ms), 1, 10000, 0},
	{"capture.filter", K_FILTER, F(capture.filter), 0, 0, 0},
	{"capture.workers", K_INT, F(capture.workers), 0, 64, 0},
	{"reassembly", K_SECTION, 0, 0, 0, 0, 0},
	{"reassembly.max_streams", K_INT, F(reassembly.max_streams), 16, 4194304, 0},
	{"reassembly.idle_timeout", K_INT, F(reassembly.idle_timeout), 1, 86400, 0},
	{"privsep", K_SECTION, 0, 0, 0, 0, 0},
	{"privsep.user", K_USER, F(privsep.user), 0, 0, 0},
	{"privsep.seccomp", K_BOOL, F(privsep.seccomp), 0, 0, 0},
	{"reassembly.target", K_TARGET, F(reassembly.target), 0, 0, 0},
	{"reassembly.checksums", K_CHECKSUMS, F(reassembly.checksums), 0, 0, 0},
	{"reassembly.screen", K_BOOL, F(reassembly.screen), 0, 0, 0},
	{"reassembly.screen_flows", K_INT, F(reassembly.screen_flows), 64, 4194304, 0},
	{"fetch", K_SECTION, 0, 0, 0, 0, 0},
	{"fetch.enabled", K_BOOL, F(fetch.enabled), 0, 0, 0},
	{"fetch.user", K_USER, F(fetch.user), 0, 0, 0},
	{"fetch.timeout", K_INT, F(fetch.timeout), 1, 255, 0},
	{"fetch.retries", K_INT, F(fetch.retries), 0, 100, 0},
	{"fetch.max_size", K_SIZE, F(fetch.max_size), 1, 4 * GIB, 0},
	{"fetch.blksize", K_BLKSIZE, F(fetch.blksize), 0, 65464, 0},
	{"fetch.concurrency", K_INT, F(fetch.concurrency), 1, 256, 0},
	{"fetch.queue_size", K_INT, F(fetch.queue_size), 1, 65536, 0},
	{"fetch.server", K_POLICY, F(fetch.server), 0, 0, 0},
	{"fetch.allow", K_CIDRS, F(fetch.allow), 0, 0, offsetof(struct ws_config, fetch.nallow)},
	{"fetch.deny", K_CIDRS, F(fetch.deny), 0, 0, offsetof(struct ws_config, fetch.ndeny)},
	{"fetch.redirect", K_HOSTPORT, F(fetch.redirect), 0, 0, offsetof(struct ws_config, fetch.redirect_to)},
	{"fetch.duplicate_window", K_INT, F(fetch.duplicate_window), 0, 604800, 0},
	{"fetch.rate_per_server", K_INT, F(fetch.rate_per_server), 1, 100000, 0},
	{"fetch.rate_global", K_INT, F(fetch.rate_global), 1, 1000000, 0},
	{"fetch.ftp_timeout", K_INT, F(fetch.ftp_timeout), 1, 3600, 0},
	{"fetch.ftp_connect_timeout", K_INT, F(fetch.ftp_connect_timeout), 1, 255, 0},
	{"fetch.ftp_active_fallback", K_BOOL, F(fetch.ftp_active_fallback), 0, 0, 0},
	{"fetch.ftp_redirect", K_HOSTPORT, F(fetch.ftp_redirect), 0, 0,
	 offsetof(struct ws_config, fetch.ftp_redirect_to)},
	{"carve", K_SECTION, 0, 0, 0, 0, 0},
	{"carve.enabled", K_BOOL, F(carve.enabled), 0, 0, 0},
	{"carve.port", K_PORT, F(carve.port), 1, 65535, 0},
	{"carve.idle_timeout", K_INT, F(carve.idle_timeout), 1, 86400, 0},
	{"carve.max_transfers", K_INT, F(carve.max_transfers), 1, 65536, 0},
	{"carve.max_file_size", K_SIZE, F(carve.max_file_size), 1, 4 * GIB, 0},
	{"carve.max_total", K_SIZE, F(carve.max_total), 1, 64 * GIB, 0},
	{"carve.keep_partial", K_BOOL, F(carve.keep_partial), 0, 0, 0},
	{"carve.correlation_window", K_INT, F(carve.correlation_window), 1, 86400, 0},
	{"carve.known_hashes", K_STRING, F(carve.known_hashes), 0, 0, 0},
};

/*
 * Never fetched from (RFC 6890 special-purpose blocks that are not globally
 * reachable, except the private ranges, which an infected LAN host serving
 * the worm legitimately uses): "this network", loopback, link-local (cloud
 * metadata lives at 169.254.169.254), IETF protocol assignments,
 * documentation and benchmarking blocks, multicast, reserved and limited
 * broadcast. The victim's and the sensor's own addresses and known subnet
 * broadcasts are refused at run time (sensor/policy.c).
 */
static const struct ws_cidr default_deny[] = {
	{0x00000000, 0xff000000},	/* 0.0.0.0/8 */
	{0x7f000000, 0xff000000},	/* 127.0.0.0/8 */
	{0xa9fe0000, 0xffff0000},	/* 169.254.0.0/16 */
	{0xc0000000, 0xffffff00},	/* 192.0.0.0/24 */
	{0xc0000200, 0xffffff00},	/* 192.0.2.0/24 */
	{0xc6120000, 0xfffe0000},	/* 198.18.0.0/15 */
	{0xc6336400, 0xffffff00},	/* 198.51.100.0/24 */
	{0xcb007100, 0xffffff00},	/* 203.0.113.0/24 */
	{0xe0000000, 0xf0000000},	/* 224.0.0.0/4 */
	{0xf0000000, 0xf0000000},	/* 240.0.0.0/4, 255.255.255.255 */
};

void ws_config_defaults(struct ws_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ports[0] = 4444;
	c->nports = 1;
	strcpy(c->output.dir, "wormsnare-out");
	strcpy(c->output.event_log, "blasterlog.txt");
	strcpy(c->output.fetch_log, "fetchlog.txt");
	c->output.json = true;
	strcpy(c->output.json_file, "events.json");
	strcpy(c->output.syslog.target, "local");
	strcpy(c->output.syslog.facility, "daemon");
	c->capture.snaplen = 262144;
	c->capture.buffer_size = 32 << 20;
	c->capture.promiscuous = true;
	c->capture.timeout_ms = 100;
	c->reassembly.max_streams = 8192;
	c->reassembly.idle_timeout = 600;
	c->reassembly.target = 0;	/* windows */
	c->reassembly.checksums = 0;	/* auto */
	c->reassembly.screen = true;
	c->reassembly.screen_flows = 32768;
	c->fetch.enabled = true;
	strcpy(c->fetch.user, WS_DEFAULT_FETCH_USER);
	strcpy(c->privsep.user, WS_DEFAULT_SENSOR_USER);
	c->privsep.seccomp = true;
	c->fetch.timeout = 3;
	c->fetch.retries = 5;
	c->fetch.max_size = 16 << 20;
	c->fetch.blksize = 1428;
	c->fetch.concurrency = 8;
	c->fetch.queue_size = 256;
	c->fetch.server = WS_SERVER_COMMAND_THEN_SOURCE;
	memcpy(c->fetch.deny, default_deny, sizeof(default_deny));
	c->fetch.ndeny = sizeof(default_deny) / sizeof(default_deny[0]);
	c->fetch.duplicate_window = 3600;
	c->fetch.rate_per_server = 10;
	c->fetch.rate_global = 60;
	c->fetch.ftp_timeout = 120;
	c->fetch.ftp_connect_timeout = 15;
	c->fetch.ftp_active_fallback = true;
	c->carve.enabled = true;
	c->carve.port = 69;
	c->carve.idle_timeout = 60;
	c->carve.max_transfers = 256;
	c->carve.max_file_size = 16 << 20;
	c->carve.max_total = 256 << 20;
	c->carve.correlation_window = 300;
}

/* ----------------------------------------------------------- small parsers */

int ws_cidr_parse(const char *s, struct ws_cidr *out)
{
	unsigned a[4], len = 32;
	char tail;
	int n;

	for (const char *p = s; *p; p++)
		if (!(*p >= '0' && *p <= '9') && *p != '.' && *p != '/')
			return -1;
	n = sscanf(s, "%3u.%3u.%3u.%3u%c", &a[0], &a[1], &a[2], &a[3], &tail);
	if (n == 5 && tail == '/') {
		const char *slash = strchr(s, '/');
		char *end;
		unsigned long l;

		if (!slash[1] || strchr(slash + 1, '/'))
			return -1;
		l = strtoul(slash + 1, &end, 10);
		if (*end || l > 32 || end - (slash + 1) > 2)
			return -1;
		len = (unsigned)l;
	} else if (n != 4) {
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if (a[i] > 255)
			return -1;
	{
		/* sscanf accepts leading zeros and "+": require the canonical text */
		char canon[32];
		size_t cl = (size_t)snprintf(canon, sizeof(canon), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);

		if (strncmp(s, canon, cl) != 0 || (s[cl] != '\0' && s[cl] != '/'))
			return -1;
	}
	out->mask = len == 0 ? 0 : 0xffffffffu << (32 - len);
	out->addr = ((uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) & out->mask;
	return 0;
}

bool ws_cidr_match(const struct ws_cidr *list, size_t n, uint32_t addr)
{
	for (size_t i = 0; i < n; i++)
		if ((addr & list[i].mask) == list[i].addr)
			return true;
	return false;
}

int ws_hostport_parse(const char *s, uint32_t *addr, uint16_t *port)
{
	char host[32];
	const char *colon = strrchr(s, ':');
	struct ws_cidr c;
	char *end;
	unsigned long p;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || !colon[1])
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (strchr(host, '/') || ws_cidr_parse(host, &c) < 0)
		return -1;
	if (colon[1] < '1' || colon[1] > '9')
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return -1;
	*addr = c.addr;
	*port = (uint16_t)p;
	return 0;
}

const char *ws_server_policy_name(enum ws_server_policy p)
{
	switch (p) {
	case WS_SERVER_COMMAND:
		return "command";
	case WS_SERVER_SOURCE:
		return "source";
	case WS_SERVER_COMMAND_THEN_SOURCE:
		return "command-then-source";
	}
	return "unknown";
}

/* ---------------------------------------------------------------- loader */

struct loader {
	yaml_parser_t y;
	const char *file;
	struct ws_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
};

static int failf(struct loader *L, const yaml_mark_t *m, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int failf(struct loader *L, const yaml_mark_t *m, const char *key, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	if (L->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (m && key)
		snprintf(L->err, L->errlen, "%s:%zu:%zu: %s: %s", L->file, m->line + 1,
			 m->column + 1, key, why);
	else if (m)
		snprintf(L->err, L->errlen, "%s:%zu:%zu: %s", L->file, m->line + 1, m->column + 1,
			 why);
	else
		snprintf(L->err, L->errlen, "%s: %s", L->file, why);
	L->failed = true;
	return -1;
}

/* Next event; aliases are refused here, so no document can expand itself. */
static int next_event(struct loader *L, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&L->y, ev))
		return failf(L, &L->y.problem_mark, NULL, "YAML syntax error: %s%s%s",
			     L->y.problem ? L->y.problem : "unknown",
			     L->y.context ? " " : "", L->y.context ? L->y.context : "");
	if (ev->type == YAML_ALIAS_EVENT) {
		failf(L, &ev->start_mark, NULL, "aliases are not allowed");
		yaml_event_delete(ev);
		return -1;
	}
	return 0;
}

/* The names of reassembly.target (enum ws_policy order) and reassembly.checksums values. */
static const char *const target_names[] = {"windows", "linux", "bsd", "first", "last", NULL};
static const char *const checksum_names[] = {"auto", "on", "off", NULL};
#define NAMES(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static const struct key *find_key(const char *path)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

/* Edit distance <= 2 against the keys of the same section: likely typo. */
static const char *suggest(const char *path)
{
	const char *dot = strrchr(path, '.');
	size_t plen = dot ? (size_t)(dot - path) + 1 : 0;
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *k = keys[i].path, *a = path + plen, *b;
		size_t la, lb, d[KEY_MAX + 1], prev, tmp;

		if (strncmp(k, path, plen) != 0 || strchr(k + plen, '.'))
			continue;
		b = k + plen;
		la = strlen(a);
		lb = strlen(b);
		if (la > KEY_MAX || lb > KEY_MAX)
			continue;
		for (size_t j = 0; j <= lb; j++)
			d[j] = j;
		for (size_t i2 = 1; i2 <= la; i2++) {
			prev = d[0];
			d[0] = i2;
			for (size_t j = 1; j <= lb; j++) {
				tmp = d[j];
				d[j] = a[i2 - 1] == b[j - 1] ? prev
					: 1 + (prev < d[j - 1] ? (prev < d[j] ? prev : d[j])
							       : (d[j - 1] < d[j] ? d[j - 1] : d[j]));
				prev = tmp;
			}
		}
		if (d[lb] < bestd) {
			bestd = d[lb];
			best = b;
		}
	}
	return best;
}

static int parse_int(struct loader *L, const yaml_event_t *ev, const struct key *k, int64_t *out)
{
	const char *s = (const char *)ev->data.scalar.value;
	int64_t mult = 1;
	char *end;
	long long v;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !*s)
		return failf(L, &ev->start_mark, k->path, "expected an integer");
	errno = 0;
	v = strtoll(s, &end, 10);
	if (k->kind == K_SIZE && end != s && end[0] && !end[1]) {
		switch (end[0]) {
		case 'K': mult = 1024; end++; break;
		case 'M': mult = 1024 * 1024; end++; break;
		case 'G': mult = GIB; end++; break;
		}
	}
	if (end == s || *end || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return failf(L, &ev->start_mark, k->path, "expected an integer, found \"%.40s\"", s);
	if (errno == ERANGE || v > INT64_MAX / mult || v < INT64_MIN / mult)
		return failf(L, &ev->start_mark, k->path, "number out of range");
	v *= mult;
	if (v < k->min || v > k->max)
		return failf(L, &ev->start_mark, k->path, "%lld is out of range %lld..%lld", v,
			     (long long)k->min, (long long)k->max);
	*out = v;
	return 0;
}

static int set_string(struct loader *L, const yaml_event_t *ev, const struct key *k, char *dst)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (strlen(s) != n)
		return failf(L, &ev->start_mark, k->path, "NUL byte in string");
	if (n >= k->size)
		return failf(L, &ev->start_mark, k->path, "longer than %zu characters", k->size - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return failf(L, &ev->start_mark, k->path, "control character in string");
	if (k->kind == K_FILENAME && (n == 0 || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..")))
		return failf(L, &ev->start_mark, k->path, "must be a plain file name");
	if (k->kind == K_USER) {
		bool ok = n > 0 && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_');

		for (size_t i = 1; ok && i < n; i++)
			ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
			     s[i] == '_' || s[i] == '-';
		if (!ok)
			return failf(L, &ev->start_mark, k->path, "not a valid user name");
	}
	if (k->kind == K_STRING && k->min > 0 && n == 0)
		return failf(L, &ev->start_mark, k->path, "must not be empty");
	memcpy(dst, s, n + 1);
	return 0;
}

static int set_scalar(struct loader *L, const yaml_event_t *ev, const struct key *k,
		      struct ws_config *c)
{
	char *field = (char *)c + k->off;
	const char *s = (const char *)ev->data.scalar.value;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	int64_t v;

	switch (k->kind) {
	case K_INT:
	case K_BLKSIZE:
	case K_PORT:
	case K_SIZE:
		if (parse_int(L, ev, k, &v) < 0)
			return -1;
		if (k->kind == K_BLKSIZE && v > 0 && v < 8)
			return failf(L, &ev->start_mark, k->path, "must be 0 (no options) or 8..65464");
		/* the field's own size decides the store: ranges keep v within it */
		if (k->size == sizeof(uint16_t))
			*(uint16_t *)field = (uint16_t)v;
		else if (k->size == sizeof(int))
			*(int *)field = (int)v;
		else
			*(int64_t *)field = v;
		return 0;
	case K_BOOL:
		if (plain && !strcmp(s, "true"))
			*(bool *)field = true;
		else if (plain && !strcmp(s, "false"))
			*(bool *)field = false;
		else
			return failf(L, &ev->start_mark, k->path, "expected true or false");
		return 0;
	case K_POLICY:
		if (!strcmp(s, "command"))
			*(enum ws_server_policy *)field = WS_SERVER_COMMAND;
		else if (!strcmp(s, "source"))
			*(enum ws_server_policy *)field = WS_SERVER_SOURCE;
		else if (!strcmp(s, "command-then-source"))
			*(enum ws_server_policy *)field = WS_SERVER_COMMAND_THEN_SOURCE;
		else
			return failf(L, &ev->start_mark, k->path,
				     "expected command, source or command-then-source");
		return 0;
	case K_TARGET:
	case K_CHECKSUMS: {
		const char *const *names = k->kind == K_TARGET ? target_names : checksum_names;

		for (int i = 0; plain && names[i]; i++)
			if (!strcmp(s, names[i])) {
				*(int *)field = i;
				return 0;
			}
		return failf(L, &ev->start_mark, k->path, k->kind == K_TARGET ?
			     "expected windows, linux, bsd, first or last" :
			     "expected auto, on or off");
	}
	case K_HOSTPORT: {
		struct ws_cfg_hostport *hp = (struct ws_cfg_hostport *)((char *)c + k->aux);

		*hp = (struct ws_cfg_hostport){0, 0};
		if (s[0] && ws_hostport_parse(s, &hp->addr, &hp->port) < 0)
			return failf(L, &ev->start_mark, k->path, "expected \"\" or IPv4:PORT");
		return set_string(L, ev, k, field);
	}
	case K_SYSLOG_TARGET: {
		char why[160];

		if (ws_syslog_target_check(s, why, sizeof(why)) < 0)
			return failf(L, &ev->start_mark, k->path, "%s", why);
		return set_string(L, ev, k, field);
	}
	case K_FACILITY:
		if (ws_syslog_facility(s) < 0)
			return failf(L, &ev->start_mark, k->path,
				     "expected a syslog facility (daemon, user, local0..local7, ...)");
		return set_string(L, ev, k, field);
	default:
		return set_string(L, ev, k, field);
	}
}

/* A list value: [a, b] or a block sequence of scalars. */
static int set_list(struct loader *L, const yaml_event_t *start, const struct key *k,
		    struct ws_config *c)
{
	yaml_event_t ev;
	size_t n = 0, max = k->kind == K_PORTS ? WS_CFG_MAX_PORTS : WS_CFG_MAX_CIDRS;

	for (;;) {
		if (next_event(L, &ev) < 0)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (ev.type != YAML_SCALAR_EVENT) {
			failf(L, &ev.start_mark, k->path, "expected a list of scalars");
			goto fail;
		}
		if (n == max) {
			failf(L, &ev.start_mark, k->path, "more than %zu entries", max);
			goto fail;
		}
		if (k->kind == K_PORTS) {
			int64_t v;

			if (parse_int(L, &ev, k, &v) < 0)
				goto fail;
			for (size_t i = 0; i < n; i++)
				if (c->ports[i] == v) {
					failf(L, &ev.start_mark, k->path, "duplicate port %lld",
					      (long long)v);
					goto fail;
				}
			c->ports[n++] = (uint16_t)v;
		} else {
			struct ws_cidr *list = (struct ws_cidr *)((char *)c + k->off);

			if (ws_cidr_parse((const char *)ev.data.scalar.value, &list[n]) < 0) {
				failf(L, &ev.start_mark, k->path, "not an IPv4 address or CIDR: \"%.40s\"",
				      (const char *)ev.data.scalar.value);
				goto fail;
			}
			n++;
		}
		yaml_event_delete(&ev);
	}
	yaml_event_delete(&ev);
	if (k->kind == K_PORTS) {
		if (n == 0)
			return failf(L, &start->start_mark, k->path, "at least one port is needed");
		c->nports = n;
	} else {
		*(size_t *)((char *)c + k->aux) = n;
	}
	return 0;
fail:
	yaml_event_delete(&ev);
	return -1;
}

static const char *node_name(yaml_event_type_t t)
{
	switch (t) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	default:
		return "a scalar";
	}
}

static int parse_mapping(struct loader *L, const char *prefix, int depth);

static int parse_value(struct loader *L, const struct key *k, int depth)
{
	yaml_event_t ev;
	int rc;
	bool want_map = k->kind == K_SECTION;
	bool want_list = k->kind == K_PORTS || k->kind == K_CIDRS;
	yaml_event_type_t want = want_map ? YAML_MAPPING_START_EVENT
				 : want_list ? YAML_SEQUENCE_START_EVENT : YAML_SCALAR_EVENT;

	if (next_event(L, &ev) < 0)
		return -1;
	if (ev.type != want) {
		rc = failf(L, &ev.start_mark, k->path, "expected %s, found %s", node_name(want),
			   node_name(ev.type));
	} else if (want_map) {
		rc = parse_mapping(L, k->path, depth + 1);
	} else if (want_list) {
		rc = set_list(L, &ev, k, L->cfg);
	} else {
		rc = set_scalar(L, &ev, k, L->cfg);
	}
	yaml_event_delete(&ev);
	return rc;
}

static int parse_mapping(struct loader *L, const char *prefix, int depth)
{
	char seen[SEEN_MAX][KEY_MAX];
	size_t nseen = 0;

	if (depth > PATH_DEPTH)
		return failf(L, NULL, NULL, "nested too deeply");
	for (;;) {
		yaml_event_t ev;
		char path[2 * KEY_MAX + 2];
		const char *name;
		const struct key *k;
		int rc;

		if (next_event(L, &ev) < 0)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			rc = failf(L, &ev.start_mark, prefix[0] ? prefix : "(top level)",
				   "keys must be plain names, found %s", node_name(ev.type));
			yaml_event_delete(&ev);
			return rc;
		}
		name = (const char *)ev.data.scalar.value;
		if (strlen(name) >= KEY_MAX) {
			rc = failf(L, &ev.start_mark, NULL, "key too long");
			yaml_event_delete(&ev);
			return rc;
		}
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", name);
		for (size_t i = 0; i < nseen; i++)
			if (!strcmp(seen[i], name)) {
				rc = failf(L, &ev.start_mark, path, "duplicate key");
				yaml_event_delete(&ev);
				return rc;
			}
		if (nseen < SEEN_MAX)
			strcpy(seen[nseen++], name);
		k = find_key(path);
		if (!k) {
			const char *s = suggest(path);

			if (s)
				rc = failf(L, &ev.start_mark, path, "unknown key (did you mean '%s'?)", s);
			else
				rc = failf(L, &ev.start_mark, path, "unknown key");
			yaml_event_delete(&ev);
			return rc;
		}
		yaml_event_delete(&ev);
		if (parse_value(L, k, depth) < 0)
			return -1;
	}
}

static int parse_stream(struct loader *L)
{
	yaml_event_t ev;
	int docs = 0, rc = 0;

	for (;;) {
		if (next_event(L, &ev) < 0)
			return -1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return rc;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = failf(L, &ev.start_mark, NULL, "only one YAML document is allowed");
			break;
		case YAML_MAPPING_START_EVENT:
			rc = parse_mapping(L, "", 0);
			break;
		case YAML_SCALAR_EVENT:
			/* an empty document is an empty config; anything else is not a mapping */
			if (ev.data.scalar.length != 0 || ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
				rc = failf(L, &ev.start_mark, NULL, "the top level must be a mapping of keys");
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = failf(L, &ev.start_mark, NULL, "the top level must be a mapping of keys");
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc < 0)
			return -1;
	}
}

/* Two outputs in one file would interleave their lines. */
static int check_log_names(struct loader *L)
{
	const struct ws_config *c = L->cfg;

	if (!strcmp(c->output.event_log, c->output.fetch_log))
		return failf(L, NULL, NULL, "output.fetch_log: same file as output.event_log");
	if (c->output.json && (!strcmp(c->output.json_file, c->output.event_log) ||
			       !strcmp(c->output.json_file, c->output.fetch_log)))
		return failf(L, NULL, NULL, "output.json_file: same file as a TSV log");
	return 0;
}

int ws_config_load(const char *path, struct ws_config *cfg, char *err, size_t errlen)
{
	struct loader L = {.file = path, .err = err, .errlen = errlen};
	struct ws_config work = *cfg;
	struct stat st;
	FILE *f = fopen(path, "rb");
	int rc;

	L.cfg = &work;
	if (!f)
		return failf(&L, NULL, NULL, "%s", strerror(errno));
	if (fstat(fileno(f), &st) < 0 || S_ISDIR(st.st_mode)) {
		fclose(f);
		return failf(&L, NULL, NULL, "is a directory");
	}
	if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		fclose(f);
		return failf(&L, NULL, NULL, "not a regular file of at most 1 MiB");
	}
	yaml_parser_initialize(&L.y);
	yaml_parser_set_input_file(&L.y, f);
	rc = parse_stream(&L);
	yaml_parser_delete(&L.y);
	fclose(f);
	if (rc < 0 || check_log_names(&L) < 0)
		return -1;
	*cfg = work;
	return 0;
}

/* ----------------------------------------------------------------- dump */

static void dump_cidrs(FILE *to, const struct ws_cidr *list, size_t n)
{
	fputc('[', to);
	for (size_t i = 0; i < n; i++) {
		unsigned len = 0;

		for (uint32_t m = list[i].mask; m; m <<= 1)
			len++;
		fprintf(to, "%s%u.%u.%u.%u/%u", i ? ", " : "", list[i].addr >> 24,
			(list[i].addr >> 16) & 0xff, (list[i].addr >> 8) & 0xff, list[i].addr & 0xff,
			len);
	}
	fputc(']', to);
}

static void dump_value(FILE *to, const struct ws_config *c, const struct key *k)
{
	const char *field = (const char *)c + k->off;
	int i;

	switch (k->kind) {
	case K_INT: case K_BLKSIZE: case K_PORT: case K_SIZE:
		if (k->size == sizeof(uint16_t))
			fprintf(to, "%u", *(const uint16_t *)field);
		else if (k->size == sizeof(int))
			fprintf(to, "%d", *(const int *)field);
		else
			fprintf(to, "%lld", (long long)*(const int64_t *)field);
		break;
	case K_BOOL:
		fputs(*(const bool *)field ? "true" : "false", to);
		break;
	case K_POLICY:
		fputs(ws_server_policy_name(*(const enum ws_server_policy *)field), to);
		break;
	case K_TARGET: case K_CHECKSUMS:
		i = *(const int *)field;
		if (k->kind == K_TARGET)
			fputs(i >= 0 && i < NAMES(target_names) ? target_names[i] : "?", to);
		else
			fputs(i >= 0 && i < NAMES(checksum_names) ? checksum_names[i] : "?", to);
		break;
	case K_PORTS:
		fputc('[', to);
		for (size_t j = 0; j < c->nports; j++)
			fprintf(to, "%s%u", j ? ", " : "", c->ports[j]);
		fputc(']', to);
		break;
	case K_CIDRS:
		dump_cidrs(to, (const struct ws_cidr *)field, *(const size_t *)((const char *)c + k->aux));
		break;
	default:	/* strings: the config's own text, quoted as YAML reads it back */
		fputc('"', to);
		for (const char *p = field; *p; p++)
			fprintf(to, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		fputc('"', to);
	}
}

void ws_config_dump(const struct ws_config *c, FILE *to, const char *prefix)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].kind == K_SECTION)
			continue;
		fprintf(to, "%s%s: ", prefix, keys[i].path);
		dump_value(to, c, &keys[i]);
		fputc('\n', to);
	}
}
