/*
 * Fetch policy: server choice (the NAT case), allow/deny, duplicates, and
 * the store name that hostile file names are reduced to.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "sensor.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* An address from text; a ring of slots so several may be used in one call. */
static const struct ws_addr *ip(const char *s)
{
	static struct ws_addr ring[16];
	static unsigned next;
	struct ws_addr *a = &ring[next++ % 16];

	if (ws_addr_parse(s, a) < 0)
		memset(a, 0, sizeof(*a));
	return a;
}

static void test_nonpublic(void)
{
	static const struct {
		const char *addr;
		bool nonpublic;
	} t[] = {
		{"10.1.2.34", true}, {"172.16.0.1", true}, {"172.31.255.255", true},
		{"172.32.0.1", false}, {"192.168.1.1", true}, {"127.0.0.1", true},
		{"169.254.3.4", true}, {"100.64.0.1", true}, {"100.128.0.1", false},
		{"0.0.0.0", true}, {"224.0.0.1", true}, {"255.255.255.255", true},
		{"81.132.114.254", false}, {"8.8.8.8", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(ws_addr_is_nonpublic(ip(t[i].addr)) == t[i].nonpublic, "nonpublic %s", t[i].addr);
}

static void test_pick(void)
{
	static const struct {
		enum ws_server_policy pol;
		const char *host, *src, *want;	/* want NULL: no server */
	} t[] = {
		{WS_SERVER_COMMAND_THEN_SOURCE, "81.132.114.254", "81.132.114.254", "81.132.114.254"},
		{WS_SERVER_COMMAND_THEN_SOURCE, "10.1.2.34", "81.132.114.254", "81.132.114.254"},
		{WS_SERVER_COMMAND_THEN_SOURCE, "10.1.2.34", "10.9.9.9", "10.1.2.34"},
		{WS_SERVER_COMMAND_THEN_SOURCE, "62.30.7.11", "81.132.114.254", "62.30.7.11"},
		{WS_SERVER_COMMAND_THEN_SOURCE, "evil.example.com", "81.132.114.254", "81.132.114.254"},
		{WS_SERVER_COMMAND_THEN_SOURCE, "fe80::1", "81.132.114.254", "81.132.114.254"},
		{WS_SERVER_COMMAND, "10.1.2.34", "81.132.114.254", "10.1.2.34"},
		{WS_SERVER_COMMAND, "evil.example.com", "81.132.114.254", NULL},
		{WS_SERVER_SOURCE, "62.30.7.11", "81.132.114.254", "81.132.114.254"},
	};
	struct ws_config cfg;

	ws_config_defaults(&cfg);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ws_addr got;
		int rc;

		memset(&got, 0, sizeof(got));
		cfg.fetch.server = t[i].pol;
		rc = ws_policy_pick_server(&cfg, ip(t[i].host), ip(t[i].src), &got);
		if (!t[i].want)
			CHECK(rc < 0, "pick %zu: %s must have no server", i, t[i].host);
		else
			CHECK(rc == 0 && ws_addr_eq(&got, ip(t[i].want)), "pick %zu: %s from %s", i, t[i].host,
			      t[i].src);
	}
}

static void test_allowed(void)
{
	struct ws_config cfg;

	ws_config_defaults(&cfg);
	CHECK(!ws_policy_allowed(&cfg, ip("127.0.0.1")), "loopback denied by default");
	CHECK(!ws_policy_allowed(&cfg, ip("0.0.0.0")), "unspecified denied by default");
	CHECK(!ws_policy_allowed(&cfg, ip("239.1.1.1")), "multicast denied by default");
	CHECK(ws_policy_allowed(&cfg, ip("81.132.114.254")), "public allowed by default");
	CHECK(!ws_policy_allowed(&cfg, ip("169.254.169.254")), "cloud metadata (link-local) denied");
	CHECK(!ws_policy_allowed(&cfg, ip("255.255.255.255")), "limited broadcast denied");
	CHECK(!ws_policy_allowed(&cfg, ip("192.0.2.1")), "documentation block denied");
	CHECK(!ws_policy_allowed(&cfg, ip("198.18.0.1")), "benchmarking block denied");
	CHECK(!ws_policy_allowed(&cfg, ip("192.0.0.8")), "IETF assignments denied");
	CHECK(ws_policy_allowed(&cfg, ip("10.1.2.34")), "private ranges stay allowed");
	CHECK(ws_policy_allowed(&cfg, ip("192.168.1.10")), "private ranges stay allowed");
	CHECK(!ws_policy_allowed(&cfg, ip("2001:db8::1")), "IPv6 is not fetched from yet");
	ws_cidr_parse("81.132.0.0/16", &cfg.fetch.allow[0]);
	cfg.fetch.nallow = 1;
	CHECK(ws_policy_allowed(&cfg, ip("81.132.114.254")), "in allow list");
	CHECK(!ws_policy_allowed(&cfg, ip("62.30.7.11")), "outside a non-empty allow list");
	ws_cidr_parse("81.132.114.0/24", &cfg.fetch.deny[cfg.fetch.ndeny++]);
	CHECK(!ws_policy_allowed(&cfg, ip("81.132.114.254")), "deny wins over allow");
}

static void test_selfaddrs(void)
{
	struct ws_selfaddrs *self = ws_selfaddrs_load();

	CHECK(self && ws_selfaddrs_has(self, ip("127.0.0.1")), "the sensor's own loopback address");
	CHECK(!ws_selfaddrs_has(self, ip("81.132.114.254")), "a remote address is not ours");
	ws_selfaddrs_free(self);
}

static void test_dedup(void)
{
	struct ws_dedup *d = ws_dedup_new(64);
	struct ws_addr srv = *ip("81.132.114.254");
	const struct ws_addr *s = &srv;

	CHECK(!ws_dedup_check(d, s, "msblast.exe", 1000, 3600), "first time is not a duplicate");
	CHECK(ws_dedup_check(d, s, "msblast.exe", 1100, 3600), "same file within the window");
	CHECK(ws_dedup_check(d, s, "MSBLAST.EXE", 1200, 3600), "file names compare case-insensitively");
	CHECK(!ws_dedup_check(d, s, "teekids.exe", 1200, 3600), "another file");
	CHECK(!ws_dedup_check(d, ip("62.30.7.11"), "msblast.exe", 1200, 3600), "another server");
	CHECK(!ws_dedup_check(d, s, "msblast.exe", 1000 + 3600 + 1, 3600), "after the window");
	CHECK(!ws_dedup_check(d, s, "x.exe", 1, 0) && !ws_dedup_check(d, s, "x.exe", 1, 0),
	      "window 0 never says duplicate");
	ws_dedup_free(d);
}

static void test_rate(void)
{
	struct ws_ratelimit *r = ws_ratelimit_new(64);
	struct ws_addr a0 = *ip("81.132.114.254"), b0 = *ip("62.30.7.11");
	const struct ws_addr *a = &a0, *b = &b0;
	int got = 0;

	for (int i = 0; i < 5; i++)
		got += ws_ratelimit_take(r, a, 1000, 3, 100);
	CHECK(got == 3, "per-server budget: %d of 5 allowed, want 3", got);
	CHECK(ws_ratelimit_take(r, b, 1001, 3, 100), "another server has its own budget");
	CHECK(ws_ratelimit_take(r, a, 1061, 3, 100), "a new minute refills the budget");
	got = 0;
	for (uint32_t i = 0; i < 50; i++) {
		struct ws_addr n = ws_addr_v4h(0x0a000000 + i);

		got += ws_ratelimit_take(r, &n, 2000, 3, 20);
	}
	CHECK(got == 20, "global budget: %d of 50 servers allowed, want 20", got);
	ws_ratelimit_free(r);
}

static void test_stem(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{"msblast.exe", "msblast"},
		{"teekids.exe", "teekids"},
		{"h3110.411", "h3110"},
		{"../../x.exe", "x"},
		{"..\\..\\windows\\x.exe", "x"},
		{"/etc/passwd", "passwd"},
		{"C:\\x", "x"},
		{"c:x.exe", "x"},
		{"..", "_"},
		{".exe", "_exe"},
		{"", "unnamed"},
		{"a;rm -rf $(x).exe", "a_rm_-rf___x_"},
		{"\xe5\x90\x8d.exe", "___"},
		{"a.b.c.exe", "a.b.c"},
		{"tab\there.exe", "tab_here"},
	};
	char out[128], big[10240];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ws_store_stem(out, sizeof(out), t[i].in);
		CHECK(strcmp(out, t[i].want) == 0, "stem of \"%s\": got \"%s\", want \"%s\"", t[i].in,
		      out, t[i].want);
	}
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ws_store_stem(out, sizeof(out), big);
	CHECK(strlen(out) == 71, "a 10 KB name is cut to 71 characters (got %zu)", strlen(out));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ws_store_stem(out, sizeof(out), t[i].in);
		CHECK(!strchr(out, '/') && !strchr(out, '\\') && out[0] != '.' && out[0],
		      "stem of \"%s\" is not a safe name", t[i].in);
	}
}

int main(void)
{
	test_nonpublic();
	test_pick();
	test_allowed();
	test_selfaddrs();
	test_dedup();
	test_rate();
	test_stem();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("policy: all checks passed\n");
	return failures ? 1 : 0;
}
