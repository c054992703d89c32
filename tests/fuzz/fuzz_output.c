/*
 * libFuzzer: the output formatters over hostile bytes. Every JSON object must
 * parse back (jansson) as one line and give every wire value back; every TSV
 * escape must be printable ASCII that cannot split or quote a row and, when
 * not cut, must unescape to the input; Community IDs must not depend on the
 * direction; syslog target parsing must not crash.
 */
#include <jansson.h>
#include <nettle/base64.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Cut the input into n pieces at 0xfe bytes (missing ones are empty). */
static void pieces(const uint8_t *d, size_t size, struct ws_bytes *out, size_t n)
{
	size_t start = 0, k = 0;

	for (size_t i = 0; i <= size && k < n; i++)
		if (i == size || d[i] == 0xfe) {
			out[k].p = (const char *)d + start;
			out[k++].len = i - start;
			start = i + 1;
		}
	for (; k < n; k++)
		out[k] = ws_bytes_str("");
}

static size_t unescape(const char *s, char *out)
{
	size_t o = 0;

	for (size_t i = 0; s[i]; o++) {
		if (s[i] == '\\') {
			CHECK(s[i + 1] == 'x');
			out[o] = (char)strtol((char[3]){s[i + 2], s[i + 3], 0}, NULL, 16);
			i += 4;
		} else {
			out[o] = s[i++];
		}
	}
	return o;
}

static void check_escape(struct ws_bytes b, size_t cap)
{
	char *dst = malloc(cap + 1), *back = malloc(b.len + 1);
	size_t n = ws_tsv_escape(dst, cap, b.p, b.len);

	CHECK(n < cap && dst[n] == '\0' && strlen(dst) == n);
	for (size_t i = 0; i < n; i++)
		CHECK(dst[i] >= 0x20 && dst[i] <= 0x7e && dst[i] != '"' && dst[i] != '\t');
	CHECK(n == 0 || dst[0] != '#');
	if (cap >= 4 * b.len + 1)
		CHECK(unescape(dst, back) == b.len && !memcmp(back, b.p, b.len));
	free(dst);
	free(back);
}

/* A wire value as the JSON line carries it: itself, or "<key>_b64". */
static void check_value(json_t *o, const char *key, struct ws_bytes raw)
{
	char k[64];
	json_t *v = json_object_get(o, key), *b64;
	size_t keep = raw.len > WS_JSON_VALUE_MAX ? WS_JSON_VALUE_MAX : raw.len;

	CHECK(json_is_string(v));
	snprintf(k, sizeof(k), "%s_b64", key);
	b64 = json_object_get(o, k);
	if (!b64) {
		CHECK(json_string_length(v) <= keep &&
		      !memcmp(json_string_value(v), raw.p, json_string_length(v)));
		return;
	}
	{
		struct base64_decode_ctx ctx;
		uint8_t *back = malloc(BASE64_DECODE_LENGTH(json_string_length(b64)) + 1);
		size_t blen = BASE64_DECODE_LENGTH(json_string_length(b64));

		base64_decode_init(&ctx);
		CHECK(base64_decode_update(&ctx, &blen, back, json_string_length(b64),
					   json_string_value(b64)) && base64_decode_final(&ctx));
		CHECK(blen <= keep && !memcmp(back, raw.p, blen));
		free(back);
	}
}

static json_t *parse(char *line)
{
	json_t *j;

	CHECK(line && !strchr(line, '\n'));
	j = json_loads(line, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
	CHECK(j);
	free(line);
	return j;
}

static void check_records(const struct ws_bytes *f, const uint8_t *data, size_t size)
{
	struct ws_endpoint a = {.port = 1}, b = {.port = 2};
	struct ws_cmd_record c = {.event_id = size, .proto = 6, .action = "get", .fetch = ""};
	struct ws_warn_record w = {.kind = "k", .have_flow = size & 1, .proto = 17};
	char id1[WS_COMMUNITY_ID_MAX], id2[WS_COMMUNITY_ID_MAX];
	json_t *j;

	a.addr = ws_addr_v4h(size >= 4 ? (uint32_t)data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3] : 1);
	b.addr = ws_addr_v4h(size >= 8 ? (uint32_t)data[4] << 24 | data[5] << 16 | data[6] << 8 | data[7] : 2);
	c.src = w.src = a;
	c.dst = w.dst = b;
	c.filename = f[0];
	c.server = f[1];
	w.detail = f[2];
	j = parse(ws_json_command(&c));
	check_value(json_object_get(j, "command"), "filename", f[0]);
	check_value(json_object_get(j, "command"), "server", f[1]);
	json_decref(j);
	j = parse(ws_json_warning(&w));
	check_value(json_object_get(j, "warning"), "detail", f[2]);
	json_decref(j);
	ws_community_id(id1, sizeof(id1), (uint16_t)size, 6, &a, &b);
	ws_community_id(id2, sizeof(id2), (uint16_t)size, 6, &b, &a);
	CHECK(strlen(id1) == 30 && !strcmp(id1, id2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_bytes f[3];
	char target[256], why[160];

	pieces(data, size, f, 3);
	check_escape(f[0], 4 * f[0].len + 1);
	check_escape(f[0], 1 + (size % 40));
	check_records(f, data, size);
	snprintf(target, sizeof(target), "%.*s", (int)(f[1].len < 255 ? f[1].len : 255), f[1].p);
	ws_syslog_target_check(target, why, sizeof(why));
	return 0;
}
