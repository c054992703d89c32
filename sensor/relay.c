/*
 * Worker <-> supervisor messages, for live capture on several cores. A
 * worker parses wire data, so the supervisor reads what it sends as it
 * would read the wire: every field through the base/ cursor, bounded,
 * checked, and a message that is not exactly one well-formed record is
 * refused. Layout: the base/ message header, then fields in a fixed
 * order; byte strings as u16 length + bytes; a decoded message owns its
 * bytes (NUL-terminated copies in its arena).
 */
#include <string.h>

#include "output.h"
#include "sensor.h"

/* Copies of a message's strings; never larger than the message itself. */
struct arena {
	char *p;
	size_t cap, len;
};

static void put_text(struct ws_wbuf *w, const char *s)
{
	s = s ? s : "";
	ws_put_bytes16(w, s, strlen(s));
}

static void put_tv(struct ws_wbuf *w, const struct timeval *tv)
{
	ws_put_be64(w, (uint64_t)tv->tv_sec);
	ws_put_be32(w, (uint32_t)tv->tv_usec);
}

static void get_tv(struct ws_cursor *c, struct timeval *tv)
{
	tv->tv_sec = (time_t)ws_cur_be64(c);
	tv->tv_usec = (suseconds_t)ws_cur_be32(c);
	if (tv->tv_sec < 0 || tv->tv_sec > WS_TIME_MAX || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
		c->err = true;	/* a worker only sends times capture bounded */
}

static bool family_ok(uint8_t f)
{
	return f == WS_AF_NONE || f == WS_AF_INET || f == WS_AF_INET6;
}

static void get_endpoint(struct ws_cursor *c, struct ws_endpoint *e)
{
	ws_cur_endpoint(c, e);
	if (!family_ok(e->addr.family))
		c->err = true;
}

/* A byte string copied into the arena, NUL-terminated; text: no NUL inside. */
static const char *get_copy(struct ws_cursor *c, struct arena *a, size_t *len, bool text)
{
	size_t n;
	const uint8_t *p = ws_cur_bytes16(c, &n);
	char *dst;

	if (len)
		*len = 0;
	if (!p || a->cap - a->len < n + 1 || (text && memchr(p, 0, n))) {
		c->err = true;
		return "";
	}
	dst = a->p + a->len;
	memcpy(dst, p, n);
	dst[n] = '\0';
	a->len += n + 1;
	if (len)
		*len = n;
	return dst;
}

static const char *get_text(struct ws_cursor *c, struct arena *a)
{
	return get_copy(c, a, NULL, true);
}

static struct ws_bytes get_bytes(struct ws_cursor *c, struct arena *a)
{
	struct ws_bytes b;

	b.p = get_copy(c, a, &b.len, false);
	return b;
}

static bool bool_ok(struct ws_cursor *c, uint8_t v)
{
	if (v > 1)
		c->err = true;
	return v == 1;
}

/* A text that may be absent (NULL): a flag, then the text, empty when absent. */
static const char *get_optional(struct ws_cursor *c, struct arena *a)
{
	bool have = bool_ok(c, ws_cur_u8(c));
	const char *s = get_text(c, a);

	if (!have && s[0])
		c->err = true;
	return have ? s : NULL;
}

static struct ws_cursor open_relay(const uint8_t *buf, size_t len, uint32_t type)
{
	struct ws_cursor c = ws_msg_open(buf, len, type);

	if (len > WS_RELAY_MSG_MAX)
		c.err = true;
	return c;
}

static struct ws_wbuf begin(uint8_t *buf, size_t cap, uint32_t type)
{
	return ws_msg_begin(buf, cap < WS_RELAY_MSG_MAX ? cap : WS_RELAY_MSG_MAX, type);
}

/* ---------------------------------------------------------------- command */

size_t ws_relay_cmd_encode(const struct ws_cmd_event *ev, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_RELAY_CMD);

	ws_put_u8(&w, (uint8_t)ev->action);
	put_tv(&w, &ev->ts);
	ws_put_endpoint(&w, &ev->attacker);
	ws_put_endpoint(&w, &ev->victim);
	ws_put_bytes16(&w, ev->file, ev->file_len);
	ws_put_bytes16(&w, ev->host, ev->host_len);
	put_text(&w, ev->server_text);
	ws_put_endpoint(&w, &(struct ws_endpoint){ev->host_addr, ev->port});
	ws_put_u8(&w, ev->user != NULL);
	put_text(&w, ev->user);
	ws_put_u8(&w, ev->pass != NULL);
	put_text(&w, ev->pass);
	ws_put_u8(&w, ev->name_ok);
	return ws_msg_finish(&w);
}

int ws_relay_cmd_decode(const uint8_t *buf, size_t len, struct ws_relay_cmd *out)
{
	struct ws_cursor c = open_relay(buf, len, WS_RELAY_CMD);
	struct arena a = {out->arena, sizeof(out->arena), 0};
	struct ws_cmd_event *ev = &out->ev;
	struct ws_endpoint host;

	memset(ev, 0, sizeof(*ev));
	ev->action = ws_cur_u8(&c);
	get_tv(&c, &ev->ts);
	get_endpoint(&c, &ev->attacker);
	get_endpoint(&c, &ev->victim);
	ev->file = get_copy(&c, &a, &ev->file_len, false);
	ev->host = get_copy(&c, &a, &ev->host_len, false);
	ev->server_text = get_text(&c, &a);
	get_endpoint(&c, &host);
	ev->host_addr = host.addr;
	ev->port = host.port;
	ev->user = get_optional(&c, &a);
	ev->pass = get_optional(&c, &a);
	ev->name_ok = bool_ok(&c, ws_cur_u8(&c));
	if (c.err || c.left || ev->action < WS_ACT_GET || ev->action > WS_ACT_FTP_GET ||
	    ev->attacker.addr.family == WS_AF_NONE || ev->victim.addr.family == WS_AF_NONE)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- eventid */

size_t ws_relay_id_encode(uint64_t id, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_RELAY_ID);

	ws_put_be64(&w, id);
	return ws_msg_finish(&w);
}

int ws_relay_id_decode(const uint8_t *buf, size_t len, uint64_t *id)
{
	struct ws_cursor c = open_relay(buf, len, WS_RELAY_ID);

	*id = ws_cur_be64(&c);
	return c.err || c.left || *id == 0 ? -1 : 0;
}

/* ------------------------------------------------------------------- file */

/* A name in the output directory as the carve store makes them: no '/', no leading '.'. */
static bool stored_name_ok(const char *s)
{
	return !s[0] || (s[0] != '.' && !strchr(s, '/'));
}

static bool hex_ok(const char *s, size_t want)
{
	size_t n = strlen(s);

	if (n != 0 && n != want)
		return false;
	return strspn(s, "0123456789abcdef") == n;
}

size_t ws_relay_file_encode(const struct ws_file_record *r, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_RELAY_FILE);

	ws_put_be64(&w, r->event_id);
	put_tv(&w, &r->ts);
	ws_put_bytes16(&w, r->filename.p, r->filename.len);
	ws_put_bytes16(&w, r->server.p, r->server.len);
	ws_put_bytes16(&w, r->status.p, r->status.len);
	ws_put_be64(&w, r->bytes);
	put_text(&w, r->md5);
	put_text(&w, r->sha256);
	put_text(&w, r->path);
	ws_put_u8(&w, r->have_flow);
	ws_put_u8(&w, r->proto);
	ws_put_endpoint(&w, &r->client);
	ws_put_endpoint(&w, &r->server_ep);
	return ws_msg_finish(&w);
}

/* Only the wire's files come from a worker: Source is "wire", Known the supervisor's. */
int ws_relay_file_decode(const uint8_t *buf, size_t len, struct ws_relay_file *out)
{
	struct ws_cursor c = open_relay(buf, len, WS_RELAY_FILE);
	struct arena a = {out->arena, sizeof(out->arena), 0};
	struct ws_file_record *r = &out->r;

	memset(r, 0, sizeof(*r));
	r->event_id = ws_cur_be64(&c);
	get_tv(&c, &r->ts);
	r->filename = get_bytes(&c, &a);
	r->server = get_bytes(&c, &a);
	r->status = get_bytes(&c, &a);
	r->bytes = ws_cur_be64(&c);
	r->md5 = get_text(&c, &a);
	r->sha256 = get_text(&c, &a);
	r->path = get_text(&c, &a);
	r->have_flow = bool_ok(&c, ws_cur_u8(&c));
	r->proto = ws_cur_u8(&c);
	get_endpoint(&c, &r->client);
	get_endpoint(&c, &r->server_ep);
	r->source = "wire";
	r->known = ws_bytes_str(NULL);
	if (c.err || c.left || !stored_name_ok(r->path) || !hex_ok(r->md5, 32) ||
	    !hex_ok(r->sha256, 64))
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- warning */

size_t ws_relay_warn_encode(const struct ws_warn_record *r, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_RELAY_WARN);

	put_tv(&w, &r->ts);
	put_text(&w, r->kind);
	ws_put_u8(&w, r->have_flow);
	ws_put_u8(&w, r->proto);
	ws_put_endpoint(&w, &r->src);
	ws_put_endpoint(&w, &r->dst);
	ws_put_bytes16(&w, r->detail.p, r->detail.len);
	return ws_msg_finish(&w);
}

int ws_relay_warn_decode(const uint8_t *buf, size_t len, struct ws_relay_warn *out)
{
	struct ws_cursor c = open_relay(buf, len, WS_RELAY_WARN);
	struct arena a = {out->arena, sizeof(out->arena), 0};
	struct ws_warn_record *r = &out->r;

	memset(r, 0, sizeof(*r));
	get_tv(&c, &r->ts);
	r->kind = get_text(&c, &a);
	r->have_flow = bool_ok(&c, ws_cur_u8(&c));
	r->proto = ws_cur_u8(&c);
	get_endpoint(&c, &r->src);
	get_endpoint(&c, &r->dst);
	r->detail = get_bytes(&c, &a);
	/* the kind is a token of ours: letters and '-' */
	if (c.err || c.left || !r->kind[0] ||
	    strspn(r->kind, "abcdefghijklmnopqrstuvwxyz-") != strlen(r->kind))
		return -1;
	return 0;
}

/* ------------------------------------------------------------------- note */

size_t ws_relay_note_encode(const struct ws_relay_note *n, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_RELAY_NOTE);

	ws_put_be64(&w, n->eventid);
	ws_put_u8(&w, (uint8_t)n->proto);
	put_tv(&w, &n->ts);
	ws_put_endpoint(&w, &(struct ws_endpoint){n->victim, 0});
	ws_put_endpoint(&w, &(struct ws_endpoint){n->attacker, 0});
	ws_put_endpoint(&w, &(struct ws_endpoint){n->host, n->port});
	ws_put_bytes16(&w, n->file, strnlen(n->file, sizeof(n->file)));
	return ws_msg_finish(&w);
}

int ws_relay_note_decode(const uint8_t *buf, size_t len, struct ws_relay_note *out)
{
	struct ws_cursor c = open_relay(buf, len, WS_RELAY_NOTE);
	struct ws_endpoint e;
	size_t n;
	const uint8_t *p;

	memset(out, 0, sizeof(*out));
	out->eventid = ws_cur_be64(&c);
	out->proto = ws_cur_u8(&c);
	get_tv(&c, &out->ts);
	get_endpoint(&c, &e);
	out->victim = e.addr;
	if (e.port)
		c.err = true;
	get_endpoint(&c, &e);
	out->attacker = e.addr;
	if (e.port)
		c.err = true;
	get_endpoint(&c, &e);
	out->host = e.addr;
	out->port = e.port;
	p = ws_cur_bytes16(&c, &n);
	if (!p || n >= sizeof(out->file) || memchr(p, 0, n))
		return -1;
	memcpy(out->file, p, n);
	if (c.err || c.left || !out->eventid ||
	    (out->proto != WS_CARVE_TFTP && out->proto != WS_CARVE_FTP))
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ ready */

size_t ws_relay_ready_encode(unsigned group, const char *error, uint8_t *buf, size_t cap)
{
	struct ws_wbuf w = begin(buf, cap, WS_RELAY_READY);

	ws_put_be32(&w, group);
	put_text(&w, error);
	return ws_msg_finish(&w);
}

int ws_relay_ready_decode(const uint8_t *buf, size_t len, unsigned *group, char *error,
			  size_t cap)
{
	struct ws_cursor c = open_relay(buf, len, WS_RELAY_READY);
	size_t n;
	const uint8_t *p;

	*group = ws_cur_be32(&c);
	p = ws_cur_bytes16(&c, &n);
	if (!p || c.err || c.left || n >= cap || memchr(p, 0, n) || *group > 0xffff)
		return -1;
	memcpy(error, p, n);
	error[n] = '\0';
	return 0;
}
