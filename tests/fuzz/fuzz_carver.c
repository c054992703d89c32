/*
 * libFuzzer: the passive TFTP tracker over a sequence of datagrams. Input:
 * records of [flags:1][len:2 LE][payload:len]; flags pick direction, ports
 * and a time step, so request, TID change and data flows all get explored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tftp.h"

struct sink {
	uint64_t max_end;
};

static void *op_open(void *arg, const struct ws_carve_info *info)
{
	(void)arg;
	(void)info;
	return calloc(1, sizeof(struct sink));
}

static int op_write(void *arg, void *h, uint64_t off, const uint8_t *d, size_t len)
{
	struct sink *s = h;

	(void)arg;
	(void)d;
	if (off + len > (64u << 20))	/* max_file_size below: never beyond */
		__builtin_trap();
	if (off + len > s->max_end)
		s->max_end = off + len;
	return 0;
}

static void op_close(void *arg, void *h, const struct ws_carve_info *info, enum ws_carve_end how)
{
	(void)arg;
	(void)info;
	(void)how;
	free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_carve_params p = {
		.server_port = 69, .idle_timeout = 30, .max_transfers = 4,
		.max_file_size = 64u << 20,
		.ops = {.open = op_open, .write = op_write, .close = op_close},
	};
	struct ws_carver *c = ws_carver_new(&p);
	struct timeval ts = {.tv_sec = 1000000000, .tv_usec = 0};
	const uint32_t client = 0x0100000a, server = 0x0200000a;	/* 10.0.0.1, 10.0.0.2 */
	static const uint16_t sports[4] = {69, 3000, 3001, 69};

	if (!c)
		return 0;
	while (size >= 3) {
		uint8_t f = data[0];
		size_t len = (size_t)(data[1] | data[2] << 8);
		bool from_client = f & 1;
		uint16_t cport = 1024 + ((f >> 1) & 1), sport = sports[(f >> 2) & 3];

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		ts.tv_sec += (f >> 4) & 7;
		if (f & 0x80)
			ws_carver_sweep(c, &ts);
		struct ws_endpoint ce = {ws_addr_v4(client), cport}, se = {ws_addr_v4(server), sport};

		if (from_client)
			ws_carver_datagram(c, &ts, &ce, &se, data, len);
		else
			ws_carver_datagram(c, &ts, &se, &ce, data, len);
		data += len;
		size -= len;
	}
	if (ws_carver_active(c) > p.max_transfers)
		__builtin_trap();
	ws_carver_free(c);
	return 0;
}
