/* Family-neutral addresses: conversions and text forms; the monotonic clock;
 * the status text of a server's error reply. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
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
	size_t i;

	/* the server's words, cut short; ':' and anything not printable ASCII become '?' */
	for (i = 0; text[i] && i < WS_ERROR_TEXT_SHOWN; i++) {
		unsigned char c = (unsigned char)text[i];

		msg[i] = c >= 0x20 && c < 0x7f && c != ':' ? (char)c : '?';
	}
	msg[i] = '\0';
	snprintf(buf, cap, "%s-error:%u:%s", proto, code, msg);
	return buf;
}
