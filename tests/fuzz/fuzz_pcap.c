/*
 * libFuzzer: a capture file through the whole sensor path — libpcap,
 * layer 2, libnids, line splitting, matcher, TSV escaping and the wire
 * carver (storing into a scratch directory).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "reassembly.h"
#include "sensor.h"

struct run {
	struct ws_carve_store *carve;
	struct ws_tsv log;
};

static void on_line(void *arg, const struct ws_flow_key *key, void *user, const char *line,
		    size_t len, const struct timeval *ts)
{
	struct run *r = arg;
	struct ws_match m;
	char esc[WS_FIELD_MAX * 4 + 4], when[40];

	ws_format_time(when, sizeof(when), ts);
	for (size_t i = 0; i < ws_match_line(line, len, user, &m); i++) {
		const char *row[2] = {when, esc};

		ws_tsv_escape(esc, sizeof(esc), m.cmds[i].file, strlen(m.cmds[i].file));
		if (strchr(esc, '\t') || strchr(esc, '\n'))
			__builtin_trap();
		ws_tsv_row(&r->log, row, 2);
		if (m.cmds[i].action == WS_ACT_GET)
			ws_carve_store_note_get(r->carve, 1, key->daddr, key->saddr, m.cmds[i].host,
						m.cmds[i].file, ts);
	}
}

static void on_udp(void *arg, const struct ws_flow_key *key, const uint8_t *p, size_t len,
		   const struct timeval *ts)
{
	struct run *r = arg;

	ws_carve_store_datagram(r->carve, key, p, len, ts);
}

static void on_ip(void *arg, const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	struct run *r = arg;

	ws_reasm_sweep(ts);
	ws_carve_store_sweep(r->carve, ts);
	ws_reasm_feed(ts, ip, caplen);
}

/* Carved files must not pile up across runs. */
static void empty_dir(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d)
		return;
	rewinddir(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd, e->d_name, 0);
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], pcap[96];
	static int dirfd = -1;
	static struct ws_config cfg;
	struct ws_reasm_params rp = {
		.max_streams = 64, .max_line = 1024, .idle_timeout = 60,
		.flow_user_size = sizeof(struct ws_match_ctx),
		.on_line = on_line, .on_udp = on_udp,
	};
	struct run r;
	struct ws_capture *c;
	char err[512];
	FILE *f;

	if (dirfd < 0) {
		snprintf(dir, sizeof(dir), "/tmp/ws-fuzz-pcap-%d", (int)getpid());
		mkdir(dir, 0700);
		dirfd = open(dir, O_RDONLY | O_DIRECTORY);
		snprintf(pcap, sizeof(pcap), "%s.pcap", dir);
		ws_config_defaults(&cfg);
		cfg.carve.max_total = 8 << 20;
	}
	f = fopen(pcap, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	c = ws_capture_open_file(pcap, err, sizeof(err));
	if (!c)
		return 0;
	memset(&r, 0, sizeof(r));
	rp.ports = cfg.ports;
	rp.nports = cfg.nports;
	rp.arg = &r;
	if (ws_tsv_open(&r.log, dirfd, "events.txt", "T\tF", err, sizeof(err)) < 0 ||
	    !(r.carve = ws_carve_store_new(&cfg, dirfd, &r.log, NULL, err, sizeof(err))) ||
	    ws_reasm_init(&rp, err, sizeof(err)) < 0)
		__builtin_trap();
	while (ws_capture_dispatch(c, on_ip, &r, err, sizeof(err)) > 0)
		;
	ws_reasm_finish();
	ws_carve_store_free(r.carve);
	ws_tsv_close(&r.log);
	ws_capture_close(c);
	empty_dir(dirfd);
	return 0;
}
