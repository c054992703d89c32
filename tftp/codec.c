/*
 * TFTP codec: RFC 1350 packets with RFC 2347 options (blksize RFC 2348,
 * tsize and timeout RFC 2349). Bytes in, struct out, and back; no I/O, no
 * state, no policy: the active client and the passive carver both use it.
 *
 *   RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt | 0 | value | 0 | ...
 *   DATA     | 03 | block | data (0..blksize) |
 *   ACK      | 04 | block |
 *   ERROR    | 05 | code | message | 0 |
 *   OACK     | 06 | opt | 0 | value | 0 | ...
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tftp.h"

/* Reading cursor: every read checks the bytes left first. */
struct cursor {
	const uint8_t *p;
	size_t left;
};

static bool get_u16(struct cursor *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	c->p += 2;
	c->left -= 2;
	return true;
}

/*
 * A NUL-terminated string into dst. TRUNCATED when no NUL comes before the
 * end, INVALID when it does not fit dst.
 */
static enum ws_tftp_decode_result get_cstr(struct cursor *c, char *dst, size_t cap)
{
	const uint8_t *nul = memchr(c->p, 0, c->left);
	size_t n;

	if (!nul)
		return WS_TFTP_TRUNCATED;
	n = (size_t)(nul - c->p);
	if (n >= cap)
		return WS_TFTP_INVALID;
	memcpy(dst, c->p, n);
	dst[n] = '\0';
	c->p += n + 1;
	c->left -= n + 1;
	return WS_TFTP_OK;
}

/* Strict decimal within [min, max]. */
static bool parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * Options. In an OACK (the server's answer) a value out of range makes the
 * packet INVALID: the client must refuse it. In a request it is only
 * counted as not understood, as a server ignores options it cannot honour.
 */
static enum ws_tftp_decode_result get_options(struct cursor *c, struct ws_tftp_opts *o,
					      bool strict)
{
	char name[64], value[64];

	while (c->left > 0) {
		enum ws_tftp_decode_result r = get_cstr(c, name, sizeof(name));
		uint64_t v;
		bool ok;

		if (r == WS_TFTP_OK)
			r = get_cstr(c, value, sizeof(value));
		if (r != WS_TFTP_OK)
			return strict ? r : WS_TFTP_OK;
		if (!strcasecmp(name, "blksize")) {
			ok = parse_num(value, WS_TFTP_BLKSIZE_MIN, WS_TFTP_BLKSIZE_MAX, &v);
			if (ok) {
				o->blksize_set = true;
				o->blksize = (uint32_t)v;
			}
		} else if (!strcasecmp(name, "tsize")) {
			ok = parse_num(value, 0, UINT64_MAX / 2, &v);
			if (ok) {
				o->tsize_set = true;
				o->tsize = v;
			}
		} else if (!strcasecmp(name, "timeout")) {
			ok = parse_num(value, 1, 255, &v);
			if (ok) {
				o->timeout_set = true;
				o->timeout = (uint32_t)v;
			}
		} else {
			o->unknown++;
			continue;
		}
		if (!ok) {
			if (strict)
				return WS_TFTP_INVALID;
			o->unknown++;
		}
	}
	return WS_TFTP_OK;
}

enum ws_tftp_decode_result ws_tftp_decode(const uint8_t *buf, size_t len, struct ws_tftp_pkt *out)
{
	struct cursor c = {buf, len};
	enum ws_tftp_decode_result r;
	uint16_t op;

	memset(out, 0, sizeof(*out));
	if (!get_u16(&c, &op))
		return WS_TFTP_TRUNCATED;
	out->op = (enum ws_tftp_op)op;
	switch (op) {
	case WS_TFTP_RRQ:
	case WS_TFTP_WRQ:
		r = get_cstr(&c, out->filename, sizeof(out->filename));
		if (r == WS_TFTP_OK)
			r = get_cstr(&c, out->mode, sizeof(out->mode));
		if (r != WS_TFTP_OK)
			return r;
		for (char *m = out->mode; *m; m++)
			*m = (char)tolower((unsigned char)*m);
		return get_options(&c, &out->opts, false);
	case WS_TFTP_DATA:
		if (!get_u16(&c, &out->block))
			return WS_TFTP_TRUNCATED;
		if (c.left > WS_TFTP_BLKSIZE_MAX)
			return WS_TFTP_INVALID;
		out->data = c.p;
		out->datalen = c.left;
		return WS_TFTP_OK;
	case WS_TFTP_ACK:
		if (!get_u16(&c, &out->block))
			return WS_TFTP_TRUNCATED;
		return WS_TFTP_OK;
	case WS_TFTP_ERROR:
		if (!get_u16(&c, &out->errcode))
			return WS_TFTP_TRUNCATED;
		return get_cstr(&c, out->errmsg, sizeof(out->errmsg));
	case WS_TFTP_OACK:
		return get_options(&c, &out->opts, true);
	default:
		return WS_TFTP_INVALID;
	}
}

/* Writing cursor: every write checks the room left first. */
struct wcursor {
	uint8_t *p;
	size_t left;
	bool overflow;
};

static void put_u16(struct wcursor *w, uint16_t v)
{
	if (w->left < 2) {
		w->overflow = true;
		return;
	}
	w->p[0] = (uint8_t)(v >> 8);
	w->p[1] = (uint8_t)v;
	w->p += 2;
	w->left -= 2;
}

static void put_bytes(struct wcursor *w, const void *b, size_t n)
{
	if (n == 0)
		return;
	if (w->left < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->p, b, n);
	w->p += n;
	w->left -= n;
}

static void put_cstr(struct wcursor *w, const char *s)
{
	put_bytes(w, s, strlen(s) + 1);
}

static void put_option(struct wcursor *w, const char *name, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	put_cstr(w, name);
	put_cstr(w, num);
}

static void put_options(struct wcursor *w, const struct ws_tftp_opts *o)
{
	if (o->blksize_set)
		put_option(w, "blksize", o->blksize);
	if (o->tsize_set)
		put_option(w, "tsize", o->tsize);
	if (o->timeout_set)
		put_option(w, "timeout", o->timeout);
}

size_t ws_tftp_encode(const struct ws_tftp_pkt *p, uint8_t *buf, size_t cap)
{
	struct wcursor w = {buf, cap, false};

	put_u16(&w, (uint16_t)p->op);
	switch (p->op) {
	case WS_TFTP_RRQ:
	case WS_TFTP_WRQ:
		if (!p->filename[0] || !p->mode[0])
			return 0;
		put_cstr(&w, p->filename);
		put_cstr(&w, p->mode);
		put_options(&w, &p->opts);
		break;
	case WS_TFTP_DATA:
		if (p->datalen > WS_TFTP_BLKSIZE_MAX || (p->datalen && !p->data))
			return 0;
		put_u16(&w, p->block);
		put_bytes(&w, p->data, p->datalen);
		break;
	case WS_TFTP_ACK:
		put_u16(&w, p->block);
		break;
	case WS_TFTP_ERROR:
		put_u16(&w, p->errcode);
		put_cstr(&w, p->errmsg);
		break;
	case WS_TFTP_OACK:
		put_options(&w, &p->opts);
		break;
	default:
		return 0;
	}
	return w.overflow ? 0 : cap - w.left;
}

const char *ws_tftp_op_name(unsigned op)
{
	static const char *const names[] = {
		[WS_TFTP_RRQ] = "RRQ", [WS_TFTP_WRQ] = "WRQ", [WS_TFTP_DATA] = "DATA",
		[WS_TFTP_ACK] = "ACK", [WS_TFTP_ERROR] = "ERROR", [WS_TFTP_OACK] = "OACK",
	};

	return op < sizeof(names) / sizeof(names[0]) && names[op] ? names[op] : "unknown";
}
