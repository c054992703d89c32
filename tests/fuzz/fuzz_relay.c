/*
 * The supervisor's view of a worker: every worker -> supervisor message
 * decoder (and the notes and EventIDs a worker reads back) under arbitrary
 * input. A message that decodes must encode again to the same bytes, so
 * nothing is read that the format does not carry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t again[WS_RELAY_MSG_MAX];

static void same(const uint8_t *data, size_t size, size_t n)
{
	if (n != size || memcmp(again, data, n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ws_relay_cmd cmd;
	static struct ws_relay_file file;
	static struct ws_relay_warn warn;
	struct ws_relay_note note;
	char err[256];
	unsigned group;
	uint64_t id;

	if (ws_relay_cmd_decode(data, size, &cmd) == 0)
		same(data, size, ws_relay_cmd_encode(&cmd.ev, again, sizeof(again)));
	if (ws_relay_file_decode(data, size, &file) == 0)
		same(data, size, ws_relay_file_encode(&file.r, again, sizeof(again)));
	if (ws_relay_warn_decode(data, size, &warn) == 0)
		same(data, size, ws_relay_warn_encode(&warn.r, again, sizeof(again)));
	if (ws_relay_note_decode(data, size, &note) == 0)
		same(data, size, ws_relay_note_encode(&note, again, sizeof(again)));
	if (ws_relay_id_decode(data, size, &id) == 0)
		same(data, size, ws_relay_id_encode(id, again, sizeof(again)));
	if (ws_relay_ready_decode(data, size, &group, err, sizeof(err)) == 0)
		same(data, size, ws_relay_ready_encode(group, err, again, sizeof(again)));
	return 0;
}
