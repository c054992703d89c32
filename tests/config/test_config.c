/*
 * Config: the shipped file equals the built-in defaults; a full file sets
 * every key; and every kind of mistake gives exactly the message a user
 * should see, FILE:LINE:COL: KEY: reason, leaving the config untouched.
 *
 *   test_config SOURCE_ROOT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static int failures;
static char dir[] = "/tmp/ws-config-XXXXXX";

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fwrite(text, 1, len, f);
	fclose(f);
	return path;
}

static void test_shipped_equals_defaults(const char *root)
{
	char path[1024], err[1024];
	struct ws_config a, b;

	snprintf(path, sizeof(path), "%s/config/wormsnare.yaml", root);
	ws_config_defaults(&a);
	ws_config_defaults(&b);
	memset(&b, 0x5a, sizeof(b));	/* every field must come from defaults + file */
	ws_config_defaults(&b);
	CHECK(ws_config_load(path, &b, err, sizeof(err)) == 0, "shipped config: %s", err);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0, "config/wormsnare.yaml differs from the defaults");
}

static const char full[] =
	"ports: [4444, 5554]\n"
	"output:\n"
	"  dir: /var/lib/ws\n"
	"  event_log: events.tsv\n"
	"  fetch_log: fetches.tsv\n"
	"  json: false\n"
	"  json_file: eve.json\n"
	"  syslog:\n"
	"    enabled: true\n"
	"    target: \"tcp:[2001:db8::5]:6514\"\n"
	"    facility: local5\n"
	"capture:\n"
	"  snaplen: 1600\n"
	"  buffer_size: 64M\n"
	"  promiscuous: false\n"
	"  timeout_ms: 250\n"
	"  filter: \"not net 10.9.0.0/16\"\n"
	"reassembly:\n"
	"  max_streams: 1000\n"
	"  idle_timeout: 30\n"
	"  target: linux\n"
	"  checksums: off\n"
	"  screen_flows: 1000\n"
	"fetch:\n"
	"  enabled: false\n"
	"  user: _wormsnare\n"
	"  timeout: 7\n"
	"  retries: 0\n"
	"  max_size: 1K\n"
	"  blksize: 0\n"
	"  concurrency: 2\n"
	"  queue_size: 3\n"
	"  server: source\n"
	"  allow:\n"
	"    - 81.0.0.0/8\n"
	"    - 62.30.7.11\n"
	"  deny: []\n"
	"  redirect: \"127.0.0.1:6969\"\n"
	"  duplicate_window: 0\n"
	"  rate_per_server: 2\n"
	"  rate_global: 5\n"
	"  ftp_timeout: 33\n"
	"  ftp_connect_timeout: 4\n"
	"  ftp_active_fallback: false\n"
	"  ftp_redirect: \"127.0.0.1:8884\"\n"
	"carve:\n"
	"  enabled: false\n"
	"  port: 6969\n"
	"  idle_timeout: 5\n"
	"  max_transfers: 9\n"
	"  max_file_size: 2G\n"
	"  max_total: 123\n"
	"  keep_partial: true\n"
	"  correlation_window: 77\n"
	"  known_hashes: /etc/wormsnare/known-hashes.yaml\n";

static void test_full(void)
{
	struct ws_config c;
	char err[1024];

	ws_config_defaults(&c);
	CHECK(ws_config_load(write_file("full.yaml", full, sizeof(full) - 1), &c, err,
			     sizeof(err)) == 0, "full: %s", err);
	CHECK(c.nports == 2 && c.ports[0] == 4444 && c.ports[1] == 5554, "ports");
	CHECK(!strcmp(c.output.dir, "/var/lib/ws") && !strcmp(c.output.event_log, "events.tsv") &&
	      !strcmp(c.output.fetch_log, "fetches.tsv"), "output");
	CHECK(!c.output.json && !strcmp(c.output.json_file, "eve.json") && c.output.syslog.enabled &&
	      !strcmp(c.output.syslog.target, "tcp:[2001:db8::5]:6514") &&
	      !strcmp(c.output.syslog.facility, "local5"), "output.json, output.syslog");
	CHECK(c.capture.snaplen == 1600 && c.capture.buffer_size == 64 << 20 &&
	      !c.capture.promiscuous && c.capture.timeout_ms == 250 &&
	      !strcmp(c.capture.filter, "not net 10.9.0.0/16"), "capture");
	CHECK(c.reassembly.max_streams == 1000 &&
	      c.reassembly.idle_timeout == 30 && c.reassembly.target == 1 &&
	      c.reassembly.checksums == 2 && c.reassembly.screen_flows == 1000, "reassembly");
	CHECK(!c.fetch.enabled && !strcmp(c.fetch.user, "_wormsnare") && c.fetch.timeout == 7 &&
	      c.fetch.retries == 0 && c.fetch.max_size == 1024 && c.fetch.blksize == 0 &&
	      c.fetch.concurrency == 2 && c.fetch.queue_size == 3 &&
	      c.fetch.server == WS_SERVER_SOURCE && c.fetch.duplicate_window == 0 &&
	      c.fetch.rate_per_server == 2 && c.fetch.rate_global == 5, "fetch");
	CHECK(c.fetch.nallow == 2 && c.fetch.allow[0].addr == 0x51000000 &&
	      c.fetch.allow[0].mask == 0xff000000 && c.fetch.allow[1].addr == 0x3e1e070b &&
	      c.fetch.allow[1].mask == 0xffffffff && c.fetch.ndeny == 0, "allow/deny");
	CHECK(c.fetch.redirect_to.addr == 0x7f000001 && c.fetch.redirect_to.port == 6969, "redirect");
	CHECK(c.fetch.ftp_timeout == 33 && c.fetch.ftp_connect_timeout == 4 &&
	      !c.fetch.ftp_active_fallback && c.fetch.ftp_redirect_to.addr == 0x7f000001 &&
	      c.fetch.ftp_redirect_to.port == 8884 && !strcmp(c.fetch.ftp_redirect, "127.0.0.1:8884"),
	      "ftp fetch keys");
	CHECK(!c.carve.enabled && c.carve.port == 6969 && c.carve.idle_timeout == 5 &&
	      c.carve.max_transfers == 9 && c.carve.max_file_size == 2LL << 30 &&
	      c.carve.max_total == 123 && c.carve.keep_partial && c.carve.correlation_window == 77 &&
	      !strcmp(c.carve.known_hashes, "/etc/wormsnare/known-hashes.yaml"), "carve");
}

struct bad {
	const char *text;
	const char *err;	/* after "PATH:" */
};

static const struct bad bad[] = {
	{"colour: red\n", "1:1: colour: unknown key"},
	{"fetch:\n  colour: red\n", "2:3: fetch.colour: unknown key"},
	{"fetch:\n  timout: 3\n", "2:3: fetch.timout: unknown key (did you mean 'timeout'?)"},
	{"reassembly:\n  max_stream: 10\n",
	 "2:3: reassembly.max_stream: unknown key (did you mean 'max_streams'?)"},
	{"reassembly:\n  target: vista\n",
	 "2:11: reassembly.target: expected windows, linux, bsd, first or last"},
	{"reassembly:\n  checksums: yes\n", "2:14: reassembly.checksums: expected auto, on or off"},
	{"reassembly:\n  screen_flows: 10\n", "2:17: reassembly.screen_flows: 10 is out of range 64..4194304"},
	{"ports: 4444\n", "1:8: ports: expected a list, found a scalar"},
	{"ports: [0]\n", "1:9: ports: 0 is out of range 1..65535"},
	{"ports: [70000]\n", "1:9: ports: 70000 is out of range 1..65535"},
	{"ports: [4444, 4444]\n", "1:15: ports: duplicate port 4444"},
	{"ports: []\n", "1:8: ports: at least one port is needed"},
	{"ports: [[1]]\n", "1:9: ports: expected a list of scalars"},
	{"fetch: 3\n", "1:8: fetch: expected a mapping, found a scalar"},
	{"fetch:\n  timeout: [3]\n", "2:12: fetch.timeout: expected a scalar, found a list"},
	{"fetch:\n  timeout: 0\n", "2:12: fetch.timeout: 0 is out of range 1..255"},
	{"fetch:\n  timeout: 256\n", "2:12: fetch.timeout: 256 is out of range 1..255"},
	{"fetch:\n  timeout: -1\n", "2:12: fetch.timeout: -1 is out of range 1..255"},
	{"fetch:\n  timeout: 12abc\n", "2:12: fetch.timeout: expected an integer, found \"12abc\""},
	{"fetch:\n  timeout: \"3\"\n", "2:12: fetch.timeout: expected an integer"},
	{"fetch:\n  retries: 99999999999999999999\n", "2:12: fetch.retries: number out of range"},
	{"fetch:\n  blksize: 7\n", "2:12: fetch.blksize: must be 0 (no options) or 8..65464"},
	{"fetch:\n  blksize: 65465\n", "2:12: fetch.blksize: 65465 is out of range 0..65464"},
	{"fetch:\n  enabled: yes\n", "2:12: fetch.enabled: expected true or false"},
	{"fetch:\n  enabled: 1\n", "2:12: fetch.enabled: expected true or false"},
	{"fetch:\n  server: nearest\n",
	 "2:11: fetch.server: expected command, source or command-then-source"},
	{"fetch:\n  deny: [10.0.0.0/33]\n",
	 "2:10: fetch.deny: not an IPv4 address or CIDR: \"10.0.0.0/33\""},
	{"fetch:\n  allow: [example.com]\n",
	 "2:11: fetch.allow: not an IPv4 address or CIDR: \"example.com\""},
	{"fetch:\n  redirect: localhost:69\n", "2:13: fetch.redirect: expected \"\" or IPv4:PORT"},
	{"fetch:\n  redirect: \"127.0.0.1:0\"\n", "2:13: fetch.redirect: expected \"\" or IPv4:PORT"},
	{"fetch:\n  ftp_redirect: ftp.example:21\n", "2:17: fetch.ftp_redirect: expected \"\" or IPv4:PORT"},
	{"fetch:\n  ftp_timeout: 0\n", "2:16: fetch.ftp_timeout: 0 is out of range 1..3600"},
	{"fetch:\n  ftp_active_fallback: maybe\n", "2:24: fetch.ftp_active_fallback: expected true or false"},
	{"fetch:\n  user: \"root; rm\"\n", "2:9: fetch.user: not a valid user name"},
	{"output:\n  event_log: ../log.txt\n", "2:14: output.event_log: must be a plain file name"},
	{"output:\n  fetch_log: ..\n", "2:14: output.fetch_log: must be a plain file name"},
	{"output:\n  dir: \"\"\n", "2:8: output.dir: must not be empty"},
	{"output:\n  json: 1\n", "2:9: output.json: expected true or false"},
	{"output:\n  json_file: /tmp/e.json\n", "2:14: output.json_file: must be a plain file name"},
	{"output:\n  json_file: blasterlog.txt\n", " output.json_file: same file as a TSV log"},
	{"output:\n  fetch_log: blasterlog.txt\n", " output.fetch_log: same file as output.event_log"},
	{"output:\n  syslog: true\n", "2:11: output.syslog: expected a mapping, found a scalar"},
	{"output:\n  syslog:\n    enable: true\n",
	 "3:5: output.syslog.enable: unknown key (did you mean 'enabled'?)"},
	{"output:\n  syslog:\n    target: udp:loghost:514\n",
	 "3:13: output.syslog.target: not a numeric IPv4 address (names are not resolved; "
	 "IPv6 goes in brackets)"},
	{"output:\n  syslog:\n    target: tcp:10.0.0.1\n",
	 "3:13: output.syslog.target: expected HOST:PORT with a port 1..65535"},
	{"output:\n  syslog:\n    target: unix:log.sock\n",
	 "3:13: output.syslog.target: unix: needs an absolute socket path"},
	{"output:\n  syslog:\n    target: remote\n",
	 "3:13: output.syslog.target: expected local, unix:/PATH, udp:HOST:PORT or tcp:HOST:PORT"},
	{"output:\n  syslog:\n    facility: local9\n",
	 "3:15: output.syslog.facility: expected a syslog facility (daemon, user, local0..local7, ...)"},
	{"fetch:\n  timeout: 3\n  timeout: 4\n", "3:3: fetch.timeout: duplicate key"},
	{"a: &x [1]\nb: *x\n", "1:1: a: unknown key"},
	{"fetch: &f\n  timeout: 3\ncarve: *f\n", "3:8: aliases are not allowed"},
	{"ports: [4444]\n---\nports: [1]\n", "2:1: only one YAML document is allowed"},
	{"- 1\n- 2\n", "1:1: the top level must be a mapping of keys"},
	{"just text\n", "1:1: the top level must be a mapping of keys"},
	{"ports: [4444\n", "2:1: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence"},
	{"fetch:\n\ttimeout: 3\n", "2:1: YAML syntax error: found character that cannot start any token while scanning for the next token"},
	{"capture:\n  buffer_size: 1T\n", "2:16: capture.buffer_size: expected an integer, found \"1T\""},
	{"capture:\n  buffer_size: 2G\n",
	 "2:16: capture.buffer_size: 2147483648 is out of range 65536..1073741824"},
	{"[1, 2]: x\n", "1:1: (top level): keys must be plain names, found a list"},
};

static void test_bad(void)
{
	char name[64], err[1024], want[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ws_config c, before;
		const char *path;

		snprintf(name, sizeof(name), "bad%02zu.yaml", i);
		path = write_file(name, bad[i].text, strlen(bad[i].text));
		ws_config_defaults(&c);
		before = c;
		err[0] = '\0';
		CHECK(ws_config_load(path, &c, err, sizeof(err)) < 0, "bad %zu accepted", i);
		snprintf(want, sizeof(want), "%s:%s", path, bad[i].err);
		CHECK(strcmp(err, want) == 0, "bad %zu:\n   got  %s\n   want %s", i, err, want);
		CHECK(memcmp(&c, &before, sizeof(c)) == 0, "bad %zu changed the config", i);
	}
}

/* Found by fuzz_config: a size stored 8 bytes wide into an int field clobbered its neighbour. */
static void test_field_widths(void)
{
	struct ws_config c;
	char err[1024];
	static const char text[] = "capture:\n  buffer_size: 64M\n";

	ws_config_defaults(&c);
	CHECK(ws_config_load(write_file("width.yaml", text, sizeof(text) - 1), &c, err,
			     sizeof(err)) == 0, "width: %s", err);
	CHECK(c.capture.buffer_size == 64 << 20 && c.capture.promiscuous &&
	      c.capture.timeout_ms == 100, "buffer_size must not touch the fields after it");
}

static void test_files(void)
{
	struct ws_config c;
	char err[1024], want[1024], *big;
	const char *path;

	ws_config_defaults(&c);
	path = write_file("empty.yaml", "", 0);
	CHECK(ws_config_load(path, &c, err, sizeof(err)) == 0, "an empty file is the defaults: %s",
	      err);
	path = write_file("comments.yaml", "# nothing\n", 10);
	CHECK(ws_config_load(path, &c, err, sizeof(err)) == 0, "comments only: %s", err);

	CHECK(ws_config_load("/nonexistent/ws.yaml", &c, err, sizeof(err)) < 0 &&
	      !strcmp(err, "/nonexistent/ws.yaml: No such file or directory"), "missing: %s", err);
	CHECK(ws_config_load(dir, &c, err, sizeof(err)) < 0 &&
	      snprintf(want, sizeof(want), "%s: is a directory", dir) > 0 && !strcmp(err, want),
	      "directory: %s", err);
	path = write_file("latin1.yaml", "output:\n  dir: caf\xe9\n", 20);
	CHECK(ws_config_load(path, &c, err, sizeof(err)) < 0 && strstr(err, "YAML syntax error"),
	      "non-UTF-8: %s", err);
	big = malloc(2 << 20);
	memset(big, '#', 2 << 20);
	path = write_file("big.yaml", big, 2 << 20);
	free(big);
	CHECK(ws_config_load(path, &c, err, sizeof(err)) < 0 &&
	      snprintf(want, sizeof(want), "%s: not a regular file of at most 1 MiB", path) > 0 &&
	      !strcmp(err, want), "2 MiB: %s", err);
	if (geteuid() != 0) {	/* root reads anything: only meaningful for others */
		path = write_file("unreadable.yaml", "ports: [1]\n", 11);
		chmod(path, 0);
		CHECK(ws_config_load(path, &c, err, sizeof(err)) < 0 && strstr(err, "Permission denied"),
		      "unreadable: %s", err);
	}
}

static void test_cidr(void)
{
	struct ws_cidr c;
	uint32_t a;
	uint16_t p;

	CHECK(ws_cidr_parse("10.1.2.3/8", &c) == 0 && c.addr == 0x0a000000 && c.mask == 0xff000000,
	      "masked");
	CHECK(ws_cidr_parse("0.0.0.0/0", &c) == 0 && c.mask == 0, "/0");
	CHECK(ws_cidr_parse("1.2.3.4", &c) == 0 && c.mask == 0xffffffff, "host");
	CHECK(ws_cidr_parse("01.2.3.4", &c) < 0, "leading zero");
	CHECK(ws_cidr_parse("1.2.3", &c) < 0, "three parts");
	CHECK(ws_cidr_parse("1.2.3.4/", &c) < 0, "empty length");
	CHECK(ws_cidr_parse(" 1.2.3.4", &c) < 0, "space");
	CHECK(ws_cidr_parse("1.2.3.256", &c) < 0, "256");
	CHECK(ws_hostport_parse("127.0.0.1:69", &a, &p) == 0 && a == 0x7f000001 && p == 69,
	      "hostport");
	CHECK(ws_hostport_parse("127.0.0.1:65536", &a, &p) < 0, "port range");
	CHECK(ws_hostport_parse("127.0.0.1", &a, &p) < 0, "no port");
}

static void test_known(const char *root)
{
	char path[1024], err[1024];
	struct ws_known *k;

	snprintf(path, sizeof(path), "%s/config/known-hashes.yaml", root);
	CHECK(ws_known_load(path, &k, err, sizeof(err)) == 0, "known-hashes.yaml: %s", err);
	CHECK(ws_known_count(k) == 1, "one seed entry");
	CHECK(ws_known_lookup(k, "5AE700C1DFFB00CEF492844A4DB6CD69", NULL) &&
	      !strcmp(ws_known_lookup(k, "5ae700c1dffb00cef492844a4db6cd69", NULL),
		      "W32/Blaster.A msblast.exe"), "Blaster.A by MD5");
	CHECK(!ws_known_lookup(k, "00000000000000000000000000000000", NULL), "unknown hash");
	ws_known_free(k);
	CHECK(ws_known_load(write_file("k1.yaml", "abc: x\n", 7), &k, err, sizeof(err)) < 0 &&
	      strstr(err, ":1:1: key must be an MD5"), "bad key: %s", err);
	CHECK(ws_known_load(write_file("k2.yaml",
				       "5ae700c1dffb00cef492844a4db6cd69: &a x\n"
				       "00000000000000000000000000000000: *a\n", 75),
			    &k, err, sizeof(err)) < 0 && strstr(err, "aliases are not allowed"),
	      "alias: %s", err);
	CHECK(ws_known_load("", &k, err, sizeof(err)) == 0 && ws_known_count(k) == 0, "no file");
	ws_known_free(k);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_config SOURCE_ROOT\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_shipped_equals_defaults(argv[1]);
	test_full();
	test_bad();
	test_field_widths();
	test_files();
	test_cidr();
	test_known(argv[1]);
	if (failures)
		fprintf(stderr, "%d check(s) failed (files kept in %s)\n", failures, dir);
	else {
		char cmd[128];

		printf("config: all checks passed (%zu bad files)\n", sizeof(bad) / sizeof(bad[0]));
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return failures ? 1 : 0;
}
