/*
 * libFuzzer: a capture file through the whole sensor path — the savefile
 * reader and libpcap, layer 2, the stream engine and its normalizer,
 * screening, the cmd.exe session model, the TFTP and FTP carvers, the
 * supervisor and every writer (into a scratch directory; fetching off).
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
#include "output.h"
#include "reassembly.h"
#include "sensor.h"

struct run {
	struct ws_analysis an;
	struct timeval now;
};

static void on_data(void *arg, struct ws_flow_info *flow, enum ws_side from, const uint8_t *data,
		    size_t len, const struct timeval *ts)
{
	struct run *r = arg;

	ws_analysis_data(&r->an, flow, from, data, len, ts);
}

static void on_gap(void *arg, struct ws_flow_info *flow, enum ws_side from,
		   const struct timeval *ts)
{
	struct run *r = arg;

	ws_analysis_gap(&r->an, flow, from, ts);
}

static void on_close(void *arg, struct ws_flow_info *flow, enum ws_close_reason why)
{
	struct run *r = arg;

	ws_analysis_close(&r->an, flow, why, &r->now);
}

static enum ws_screen_verdict on_screen(void *arg, const struct ws_flow_info *flow,
					enum ws_side from, const uint8_t *bytes, size_t len)
{
	struct run *r = arg;

	return ws_analysis_screen(&r->an, flow, from, bytes, len);
}

static void on_udp(void *arg, const struct ws_flow_key *key, const uint8_t *p, size_t len,
		   const struct timeval *ts)
{
	struct run *r = arg;
	struct ws_endpoint src = {ws_addr_v4(key->saddr), key->sport};
	struct ws_endpoint dst = {ws_addr_v4(key->daddr), key->dport};

	ws_carve_store_datagram(r->an.carve, &src, &dst, p, len, ts);
}

static void on_file(void *arg, struct ws_file_record *rec)
{
	struct run *r = arg;

	r->an.sink.file(r->an.sink.arg, rec);
}

static void expect_data(void *arg, const struct ws_endpoint *connector,
			const struct ws_endpoint *listener, int ttl_s)
{
	(void)arg;
	ws_reasm_expect(connector->addr.family ? &connector->addr : NULL, listener, ttl_s);
}

static void on_ip(void *arg, const struct timeval *ts, const uint8_t *ip, size_t caplen)
{
	struct run *r = arg;

	r->now = *ts;
	ws_reasm_sweep(ts);
	ws_carve_store_sweep(r->an.carve, ts);
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
	static struct ws_run run;
	static struct ws_super *sup;
	struct ws_reasm_params rp = {
		.max_streams = 64, .max_line = 1024, .idle_timeout = 60,
		.on_udp = on_udp, .on_data = on_data, .on_close = on_close, .screen = on_screen,
		.on_gap = on_gap,
	};
	struct ws_carve_store_params cp = {.on_file = on_file, .expect = expect_data};
	struct run r;
	struct ws_capture *c;
	char err[512];
	FILE *f;

	if (!sup) {
		snprintf(dir, sizeof(dir), "/tmp/ws-fuzz-pcap-%d", (int)getpid());
		snprintf(pcap, sizeof(pcap), "%s.pcap", dir);
		ws_config_defaults(&run.cfg);
		run.cfg.carve.max_total = 8 << 20;
		snprintf(run.cfg.output.dir, sizeof(run.cfg.output.dir), "%s", dir);
		run.sensor_ids.uid = run.fetch_ids.uid = getuid();
		run.sensor_ids.gid = run.fetch_ids.gid = getgid();
		sup = ws_super_open(&run, -1, err, sizeof(err));
		if (!sup)
			__builtin_trap();
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
	rp.ports = run.cfg.ports;
	rp.nports = run.cfg.nports;
	rp.arg = &r;
	cp.cfg = &run.cfg;
	cp.dirfd = ws_super_dirfd(sup);
	cp.arg = &r;
	r.an.sink = ws_super_sink(sup);
	if (!(r.an.carve = ws_carve_store_new(&cp, err, sizeof(err))) ||
	    ws_reasm_init(&rp, err, sizeof(err)) < 0)
		__builtin_trap();
	while (ws_capture_dispatch(c, on_ip, &r, err, sizeof(err)) > 0)
		;
	ws_reasm_finish();
	ws_carve_store_free(r.an.carve);
	ws_capture_close(c);
	empty_dir(ws_super_dirfd(sup));
	return 0;
}
