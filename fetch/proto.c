/*
 * The sensor <-> fetcher messages: a header (type, payload length), then the
 * fields in a fixed order, integers big-endian, strings as u16 length plus
 * bytes. Decoding reads only through the base/ cursor and refuses anything
 * that is not exactly one well-formed message.
 */
#include <stdio.h>
#include <string.h>

#include "fetch.h"

static void put_str(struct ws_wbuf *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap) {		/* not terminated within its field */
		w->err = true;
		return;
	}
	ws_put_bytes16(w, s, n);
}

static struct ws_wbuf begin(uint8_t *buf, size_t cap, uint32_t type)
{
	return ws_msg_begin(buf, cap < WS_FETCH_MSG_MAX ? cap : WS_FETCH_MSG_MAX, type);
}

/* A string into dst[cap]: no NUL inside, shorter than cap. */
static void get_str(struct ws_cursor *c, char *dst, size_t cap)
{
	uint16_t n = ws_cur_be16(c);
	const uint8_t *p;

	dst[0] = '\0';
	if (c->err)
		return;
	if (n >= cap) {
		c->err = true;
		return;
	}
	p = ws_cur_bytes(c, n);
	if (!p || memchr(p, 0, n)) {
		c->err = true;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void get_addr(struct ws_cursor *c, struct ws_endpoint *e)
{
	ws_cur_endpoint(c, e);
	if (e->addr.family != WS_AF_INET && e->addr.family != WS_AF_INET6)
		c->err = true;
}

/* The payload of a message of the given type, or an errored cursor. */
static struct ws_cursor open_msg(const uint8_t *buf, size_t len, uint32_t type)
{
	struct ws_cursor c = ws_msg_open(buf, len, type);

	if (len > WS_FETCH_MSG_MAX)
		c.err = true;
	return c;
}

uint32_t ws_fetch_msg_type(const uint8_t *buf, size_t len)
{
	return ws_msg_type(buf, len);
}

bool ws_fetch_stem_ok(const char *s)
{
	if (!s[0] || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

size_t ws_fetch_req_encode(const struct ws_fetch_req *r, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_FMSG_REQ);

	ws_put_be64(&w, r->eventid);
	ws_put_u8(&w, r->proto);
	ws_put_endpoint(&w, &r->server);
	put_str(&w, r->remote, sizeof(r->remote));
	put_str(&w, r->user, sizeof(r->user));
	put_str(&w, r->pass, sizeof(r->pass));
	put_str(&w, r->stem, sizeof(r->stem));
	return ws_msg_finish(&w);
}

int ws_fetch_req_decode(const uint8_t *buf, size_t len, struct ws_fetch_req *out)
{
	struct ws_cursor c = open_msg(buf, len, WS_FMSG_REQ);

	memset(out, 0, sizeof(*out));
	out->eventid = ws_cur_be64(&c);
	out->proto = ws_cur_u8(&c);
	get_addr(&c, &out->server);
	get_str(&c, out->remote, sizeof(out->remote));
	get_str(&c, out->user, sizeof(out->user));
	get_str(&c, out->pass, sizeof(out->pass));
	get_str(&c, out->stem, sizeof(out->stem));
	if (c.err || c.left != 0 || out->eventid == 0 || !out->remote[0] || out->server.port == 0 ||
	    (out->proto != WS_FETCH_TFTP && out->proto != WS_FETCH_FTP) ||
	    !ws_fetch_stem_ok(out->stem))
		return -1;
	return 0;
}

size_t ws_fetch_res_encode(const struct ws_fetch_res *r, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_FMSG_RES);

	ws_put_be64(&w, r->eventid);
	ws_put_u8(&w, r->ok);
	ws_put_be64(&w, r->bytes);
	put_str(&w, r->status, sizeof(r->status));
	put_str(&w, r->md5, sizeof(r->md5));
	put_str(&w, r->sha256, sizeof(r->sha256));
	put_str(&w, r->path, sizeof(r->path));
	return ws_msg_finish(&w);
}

static bool hex_ok(const char *s, size_t want)
{
	size_t n = strlen(s);

	if (n != 0 && n != want)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int ws_fetch_res_decode(const uint8_t *buf, size_t len, struct ws_fetch_res *out)
{
	struct ws_cursor c = open_msg(buf, len, WS_FMSG_RES);
	uint8_t ok;

	memset(out, 0, sizeof(*out));
	out->eventid = ws_cur_be64(&c);
	ok = ws_cur_u8(&c);
	out->bytes = ws_cur_be64(&c);
	get_str(&c, out->status, sizeof(out->status));
	get_str(&c, out->md5, sizeof(out->md5));
	get_str(&c, out->sha256, sizeof(out->sha256));
	get_str(&c, out->path, sizeof(out->path));
	out->ok = ok == 1;
	if (c.err || c.left != 0 || ok > 1 || out->eventid == 0 || !out->status[0] ||
	    !hex_ok(out->md5, 32) || !hex_ok(out->sha256, 64) ||
	    (out->path[0] && !ws_fetch_stem_ok(out->path)))
		return -1;
	return 0;
}

size_t ws_fetch_discard_encode(const char *path, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_FMSG_DISCARD);

	put_str(&w, path, WS_FETCH_PATH_MAX);
	return ws_msg_finish(&w);
}

int ws_fetch_discard_decode(const uint8_t *buf, size_t len, char path[WS_FETCH_PATH_MAX])
{
	struct ws_cursor c = open_msg(buf, len, WS_FMSG_DISCARD);

	get_str(&c, path, WS_FETCH_PATH_MAX);
	return c.err || c.left != 0 || !ws_fetch_stem_ok(path) ? -1 : 0;
}
