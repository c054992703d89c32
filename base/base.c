/* Family-neutral addresses: conversions and text forms; the monotonic clock;
 * the status text of a server's error reply. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base.h"

struct ws_addr ws_addr_v4(uint32_t net_order)
{
	struct ws_addr a;

	memset(&a, 0, sizeof(a));
	a.family = WS_AF_INET;
	memcpy(a.a, &net_order, 4);
	return a;
}

struct ws_addr ws_addr_v4h(uint32_t host_order)
{
	return ws_addr_v4(htonl(host_order));
}

bool ws_addr_is_v4(const struct ws_addr *a)
{
	return a->family == WS_AF_INET;
}

uint32_t ws_addr_v4_host(const struct ws_addr *a)
{
	uint32_t n;

	if (a->family != WS_AF_INET)
		return 0;
	memcpy(&n, a->a, 4);
	return ntohl(n);
}

size_t ws_addr_len(const struct ws_addr *a)
{
	return a->family == WS_AF_INET ? 4 : a->family == WS_AF_INET6 ? 16 : 0;
}

bool ws_addr_eq(const struct ws_addr *x, const struct ws_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, ws_addr_len(x)) == 0;
}

const char *ws_addr_str(const struct ws_addr *a, char *dst, size_t cap)
{
	if (cap == 0)
		return dst;
	if (a->family == WS_AF_INET && inet_ntop(AF_INET, a->a, dst, (socklen_t)cap))
		return dst;
	if (a->family == WS_AF_INET6 && inet_ntop(AF_INET6, a->a, dst, (socklen_t)cap))
		return dst;
	snprintf(dst, cap, "-");
	return dst;
}

int ws_addr_parse(const char *s, struct ws_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = WS_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = WS_AF_INET6;
		return 0;
	}
	return -1;
}

size_t ws_copy_cut(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

bool ws_skip_cut_line(const uint8_t **p, size_t *n)
{
	const uint8_t *lf = *n ? memchr(*p, '\n', *n) : NULL;

	if (!lf)
		return false;
	*n -= (size_t)(lf + 1 - *p);
	*p = lf + 1;
	return true;
}

bool ws_idle_longer(const struct timeval *last, const struct timeval *now, long limit_s)
{
	uint64_t ds;

	if (now->tv_sec < last->tv_sec)
		return false;
	ds = (uint64_t)now->tv_sec - (uint64_t)last->tv_sec;	/* exact: now >= last */
	if (ds > (uint64_t)limit_s + 1)
		return true;
	return (int64_t)ds * 1000000 + ((int64_t)now->tv_usec - last->tv_usec) >
	       (int64_t)limit_s * 1000000;
}

size_t ws_copy_text(char *dst, size_t cap, const void *src, size_t n, char nul_as)
{
	const char *s = src;

	n = ws_copy_cut(dst, cap, s, n);
	for (size_t i = 0; i < n; i++)
		if (!dst[i])
			dst[i] = nul_as;
	return n;
}

char *ws_status_text(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c >= 0x20 && c < 0x7f && c != ':' ? (char)c : '?';
	}
	dst[i] = '\0';
	return dst;
}

int64_t ws_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *ws_error_status(char *buf, size_t cap, const char *proto, unsigned code,
			    const char *text)
{
	char msg[WS_ERROR_TEXT_SHOWN + 1];

	snprintf(buf, cap, "%s-error:%u:%s", proto, code, ws_status_text(msg, sizeof(msg), text));
	return buf;
}

/* ------------------------------------------------------------------- writer */

void ws_put(struct ws_wbuf *w, const void *b, size_t n)
{
	if (w->err || w->cap - w->len < n) {
		w->err = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

void ws_put_u8(struct ws_wbuf *w, uint8_t v)
{
	ws_put(w, &v, 1);
}

void ws_put_be16(struct ws_wbuf *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	ws_put(w, b, 2);
}

void ws_put_be32(struct ws_wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	ws_put(w, b, 4);
}

void ws_put_be64(struct ws_wbuf *w, uint64_t v)
{
	ws_put_be32(w, (uint32_t)(v >> 32));
	ws_put_be32(w, (uint32_t)v);
}

void ws_put_bytes16(struct ws_wbuf *w, const void *b, size_t n)
{
	if (n > 0xffff) {
		w->err = true;
		return;
	}
	ws_put_be16(w, (uint16_t)n);
	ws_put(w, b, n);
}

void ws_put_endpoint(struct ws_wbuf *w, const struct ws_endpoint *e)
{
	ws_put_u8(w, e->addr.family);
	ws_put(w, e->addr.a, sizeof(e->addr.a));
	ws_put_be16(w, e->port);
}

const uint8_t *ws_cur_bytes16(struct ws_cursor *c, size_t *n)
{
	*n = ws_cur_be16(c);
	if (c->err) {
		*n = 0;
		return NULL;
	}
	return ws_cur_bytes(c, *n);
}

void ws_cur_endpoint(struct ws_cursor *c, struct ws_endpoint *e)
{
	e->addr.family = ws_cur_u8(c);
	ws_cur_copy(c, e->addr.a, sizeof(e->addr.a));
	e->port = ws_cur_be16(c);
}

struct ws_wbuf ws_msg_begin(void *buf, size_t cap, uint32_t type)
{
	struct ws_wbuf w = ws_wbuf(buf, cap);

	ws_put_be32(&w, type);
	ws_put_be32(&w, 0);	/* payload length, set by ws_msg_finish */
	return w;
}

size_t ws_msg_finish(struct ws_wbuf *w)
{
	uint32_t n;

	if (w->err || w->len < WS_MSG_HDR_LEN)
		return 0;
	n = (uint32_t)(w->len - WS_MSG_HDR_LEN);
	w->p[4] = (uint8_t)(n >> 24);
	w->p[5] = (uint8_t)(n >> 16);
	w->p[6] = (uint8_t)(n >> 8);
	w->p[7] = (uint8_t)n;
	return w->len;
}

struct ws_cursor ws_msg_open(const void *buf, size_t len, uint32_t type)
{
	struct ws_cursor c = ws_cursor(buf, len);
	uint32_t t = ws_cur_be32(&c), n = ws_cur_be32(&c);

	if (c.err || t != type || n != c.left)
		c.err = true;
	return c;
}

uint32_t ws_msg_type(const void *buf, size_t len)
{
	struct ws_cursor c = ws_cursor(buf, len);
	uint32_t t = ws_cur_be32(&c);

	return c.err ? 0 : t;
}
