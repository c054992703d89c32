/*
 * Host literals as Windows reads them. tftp.exe and ftp.exe hand the host
 * to inet_addr() first and to the resolver only when that fails, so an
 * address is whatever inet_addr() makes of the text:
 *
 *   Microsoft, "inet_addr function (winsock2.h)", Remarks:
 *   "a.b.c.d" each part one byte; "a.b.c" the last part is 16 bits
 *   ("128.net.host"); "a.b" the last part is 24 bits ("net.host"); "a" the
 *   value is stored directly; each part may be decimal, octal (leading 0)
 *   or hexadecimal (leading 0x), as in the C language.
 *
 * So 010.0.0.1 is 8.0.0.1 and 0x51847226 is 81.132.114.38. A part over its
 * width, an empty part, a stray character or more than four parts is not an
 * address (INADDR_NONE). "255.255.255.255" is the broadcast address here;
 * Microsoft's page warns that inet_addr() cannot tell it from INADDR_NONE, so
 * a tftp to it would fail on Windows: we report it, the policy refuses it.
 */
#include <stdbool.h>
#include <stdint.h>

#include "shell.h"

static int digit_value(char c, unsigned base)
{
	int v = -1;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	return v >= 0 && (unsigned)v < base ? v : -1;
}

/* One part at s[*i..len): its value, or false. Stops before '.' or the end. */
static bool read_part(const char *s, size_t len, size_t *i, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	size_t n = 0;

	if (*i < len && s[*i] == '0') {
		base = 8;
		if (*i + 1 < len && (s[*i + 1] == 'x' || s[*i + 1] == 'X')) {
			base = 16;
			*i += 2;
		}
	}
	for (; *i < len && s[*i] != '.'; (*i)++, n++) {
		int d = digit_value(s[*i], base);

		if (d < 0)
			return false;
		v = v * base + (unsigned)d;
		if (v > 0xffffffffu)
			return false;
	}
	/* "0" alone is octal zero; "0x" with no digit is refused */
	if (n == 0)
		return false;
	*out = v;
	return true;
}

bool ws_inet_addr(const char *s, size_t len, struct ws_addr *out)
{
	uint64_t part[4];
	size_t i = 0, n = 0;
	uint32_t a;

	if (len == 0)
		return false;
	for (;;) {
		if (n == 4 || !read_part(s, len, &i, &part[n]))
			return false;
		n++;
		if (i == len)
			break;
		i++;		/* the '.' */
		if (i == len)
			return false;
	}
	for (size_t k = 0; k + 1 < n; k++)
		if (part[k] > 0xff)
			return false;
	switch (n) {
	case 1:
		a = (uint32_t)part[0];
		break;
	case 2:
		if (part[1] > 0xffffff)
			return false;
		a = (uint32_t)(part[0] << 24 | part[1]);
		break;
	case 3:
		if (part[2] > 0xffff)
			return false;
		a = (uint32_t)(part[0] << 24 | part[1] << 16 | part[2]);
		break;
	default:
		if (part[3] > 0xff)
			return false;
		a = (uint32_t)(part[0] << 24 | part[1] << 16 | part[2] << 8 | part[3]);
		break;
	}
	*out = ws_addr_v4h(a);
	return true;
}
