/*
 * JSON lines (events.json) with jansson: one compact object per record.
 * jansson does every JSON escape and refuses strings that are not UTF-8;
 * for those we carry the bytes losslessly ourselves (escaped text plus a
 * base64 companion, see output.h), so any byte sequence from the wire gives
 * a valid line.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Builds an object; the first failed set (ENOMEM) sticks. */
struct obj {
	json_t *o;
	bool failed;
};

static void set(struct obj *b, const char *key, json_t *v)
{
	if (!v || json_object_set_new(b->o, key, v) < 0)
		b->failed = true;
}

static void set_key2(struct obj *b, const char *key, const char *suffix, json_t *v)
{
	char name[64];

	snprintf(name, sizeof(name), "%s%s", key, suffix);
	set(b, name, v);
}

static void set_u64(struct obj *b, const char *key, uint64_t v)
{
	char num[24];

	/* json_int_t is long long (jansson_config.h) */
	if (v <= (uint64_t)LLONG_MAX) {
		set(b, key, json_integer((json_int_t)v));
		return;
	}
	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);	/* never negative */
	set(b, key, json_string(num));
}

/* Back off a cut that would split a UTF-8 sequence (at most 3 continuation bytes). */
static size_t char_boundary(const char *p, size_t n)
{
	for (int i = 0; i < 3 && n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80; i++)
		n--;
	return n;
}

/* Not UTF-8: "<key>" is the TSV escape, "<key>_b64" the raw bytes. */
static void set_raw(struct obj *b, const char *key, const char *p, size_t n)
{
	char *text = malloc(4 * n + 1), *b64 = malloc(BASE64_ENCODE_RAW_LENGTH(n) + 1);

	if (text && b64) {
		ws_tsv_escape(text, 4 * n + 1, p, n);
		base64_encode_raw(b64, n, (const uint8_t *)p);
		b64[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
		set(b, key, json_string(text));
		set_key2(b, key, "_b64", json_string(b64));
	} else {
		b->failed = true;
	}
	free(text);
	free(b64);
}

static void set_bytes(struct obj *b, const char *key, struct ws_bytes v)
{
	size_t n = v.len;
	json_t *s;

	if (n > WS_JSON_VALUE_MAX)
		n = char_boundary(v.p, WS_JSON_VALUE_MAX);
	s = json_stringn(v.p, n);	/* NULL: not valid UTF-8 */
	if (s)
		set(b, key, s);
	else
		set_raw(b, key, v.p, n);
	if (n < v.len)
		set_key2(b, key, "_truncated", json_true());
}

static void set_str(struct obj *b, const char *key, const char *s)
{
	set_bytes(b, key, ws_bytes_str(s));
}

static void set_time(struct obj *b, const struct timeval *tv)
{
	char when[40];

	ws_format_time(when, sizeof(when), tv);
	set(b, "timestamp", json_string(when));
}

static const char *proto_name(uint8_t proto, char *buf, size_t cap)
{
	switch (proto) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 58: return "IPv6-ICMP";
	case 132: return "SCTP";
	}
	snprintf(buf, cap, "%u", proto);
	return buf;
}

static void set_flow(struct obj *b, uint8_t proto, const struct ws_endpoint *src,
		     const struct ws_endpoint *dst)
{
	char ip[WS_ADDR_STRLEN], num[8], cid[WS_COMMUNITY_ID_MAX];

	set(b, "src_ip", json_string(ws_addr_str(&src->addr, ip, sizeof(ip))));
	set(b, "src_port", json_integer(src->port));
	set(b, "dest_ip", json_string(ws_addr_str(&dst->addr, ip, sizeof(ip))));
	set(b, "dest_port", json_integer(dst->port));
	set(b, "proto", json_string(proto_name(proto, num, sizeof(num))));
	if (ws_community_id(cid, sizeof(cid), 0, proto, src, dst)[0])
		set(b, "community_id", json_string(cid));
}

static struct obj new_obj(void)
{
	struct obj b = {json_object(), false};

	b.failed = b.o == NULL;
	return b;
}

/* Moves the child into the parent under key. */
static void set_obj(struct obj *b, const char *key, struct obj *child)
{
	if (child->failed)
		b->failed = true;
	set(b, key, child->o);
	child->o = NULL;
}

static char *finish(struct obj *b)
{
	char *line = NULL;

	if (!b->failed)
		line = json_dumps(b->o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(b->o);
	if (!line)
		errno = ENOMEM;
	return line;
}

char *ws_json_command(const struct ws_cmd_record *r)
{
	struct obj b = new_obj(), c = new_obj();

	set(&b, "event_type", json_string("command"));
	set_u64(&b, "event_id", r->event_id);
	set_time(&b, &r->ts);
	set_flow(&b, r->proto, &r->src, &r->dst);
	set_str(&c, "action", r->action);
	set_bytes(&c, "filename", r->filename);
	set_bytes(&c, "server", r->server);
	set_str(&c, "fetch", r->fetch);
	set_obj(&b, "command", &c);
	return finish(&b);
}

char *ws_json_file(const struct ws_file_record *r)
{
	struct obj b = new_obj(), f = new_obj();

	set(&b, "event_type", json_string("file"));
	set_time(&b, &r->ts);
	if (r->have_flow)
		set_flow(&b, r->proto, &r->client, &r->server_ep);
	if (r->event_id)
		set_u64(&f, "event_id", r->event_id);
	else
		set(&f, "event_id", json_null());
	set_bytes(&f, "filename", r->filename);
	set_bytes(&f, "server", r->server);
	set_bytes(&f, "status", r->status);
	set_u64(&f, "bytes", r->bytes);
	set_str(&f, "md5", r->md5);
	set_str(&f, "sha256", r->sha256);
	set_str(&f, "path", r->path);
	set_str(&f, "source", r->source);
	set_bytes(&f, "known", r->known);
	set_obj(&b, "file", &f);
	return finish(&b);
}

char *ws_json_warning(const struct ws_warn_record *r)
{
	struct obj b = new_obj(), w = new_obj();

	set(&b, "event_type", json_string("warning"));
	set_time(&b, &r->ts);
	if (r->have_flow)
		set_flow(&b, r->proto, &r->src, &r->dst);
	set_str(&w, "kind", r->kind);
	set_bytes(&w, "detail", r->detail);
	set_obj(&b, "warning", &w);
	return finish(&b);
}

/* ---------------------------------------------------------------- writer */

/* The line plus LF in one write; line is freed. */
static int put_line(struct ws_writer *w, char *line)
{
	size_t n;
	int rc;

	if (!line) {		/* json_dumps could not allocate */
		w->dropped++;
		errno = ENOMEM;
		return -1;
	}
	n = strlen(line);
	line[n] = '\n';	/* over the NUL: the line is n + 1 bytes, not a C string any more */
	rc = ws_logwriter_put((struct ws_logwriter *)w, line, n + 1);
	free(line);
	return rc;
}

static int json_command(struct ws_writer *w, const struct ws_cmd_record *r)
{
	return put_line(w, ws_json_command(r));
}

static int json_file(struct ws_writer *w, const struct ws_file_record *r)
{
	return put_line(w, ws_json_file(r));
}

static int json_warning(struct ws_writer *w, const struct ws_warn_record *r)
{
	return put_line(w, ws_json_warning(r));
}

struct ws_writer *ws_json_open(int dirfd, const char *name, char *err, size_t errlen)
{
	struct ws_logwriter *lw = ws_logwriter_new(sizeof(*lw), dirfd, name, NULL, err, errlen);

	if (!lw)
		return NULL;
	lw->w.name = "json";
	lw->w.command = json_command;
	lw->w.file = json_file;
	lw->w.warning = json_warning;
	return &lw->w;
}
