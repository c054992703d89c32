/*
 * FTP control codec: client command lines (RFC 959 4.1, RFC 2428) and
 * server replies (RFC 959 4.2), read through the bounds-checked cursor.
 * Pure: no I/O, no state beyond the reply reader the caller owns.
 */
#include <string.h>

#include "ftp.h"

static const struct {
	enum ws_ftp_cmd cmd;
	const char *name;
} verbs[] = {
	{WS_FTP_CMD_USER, "USER"}, {WS_FTP_CMD_PASS, "PASS"}, {WS_FTP_CMD_ACCT, "ACCT"},
	{WS_FTP_CMD_TYPE, "TYPE"}, {WS_FTP_CMD_MODE, "MODE"}, {WS_FTP_CMD_STRU, "STRU"},
	{WS_FTP_CMD_PORT, "PORT"}, {WS_FTP_CMD_EPRT, "EPRT"}, {WS_FTP_CMD_PASV, "PASV"},
	{WS_FTP_CMD_EPSV, "EPSV"}, {WS_FTP_CMD_RETR, "RETR"}, {WS_FTP_CMD_STOR, "STOR"},
	{WS_FTP_CMD_STOU, "STOU"}, {WS_FTP_CMD_APPE, "APPE"}, {WS_FTP_CMD_REST, "REST"},
	{WS_FTP_CMD_LIST, "LIST"}, {WS_FTP_CMD_NLST, "NLST"}, {WS_FTP_CMD_MLSD, "MLSD"},
	{WS_FTP_CMD_CWD, "CWD"}, {WS_FTP_CMD_QUIT, "QUIT"}, {WS_FTP_CMD_ABOR, "ABOR"},
	{WS_FTP_CMD_REIN, "REIN"},
	{0, NULL}
};

const char *ws_ftp_cmd_name(enum ws_ftp_cmd c)
{
	for (size_t i = 0; verbs[i].name; i++)
		if (verbs[i].cmd == c)
			return verbs[i].name;
	return "other";
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number of at most max_digits digits and value max; false if none. */
static bool read_number(struct ws_cursor *c, unsigned max_digits, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned n = 0;

	while (c->left > 0 && is_digit(c->p[0])) {
		if (++n > max_digits)
			return false;
		v = v * 10 + (uint64_t)(ws_cur_u8(c) - '0');
	}
	if (n == 0 || v > max)
		return false;
	*out = v;
	return true;
}

static bool read_byte(struct ws_cursor *c, uint8_t want)
{
	if (c->left == 0 || c->p[0] != want)
		return false;
	ws_cur_skip(c, 1);
	return true;
}

static void skip_spaces(struct ws_cursor *c)
{
	while (c->left > 0 && c->p[0] == ' ')
		ws_cur_skip(c, 1);
}

/* Six comma-separated numbers 0..255 at the cursor (spaces allowed around commas). */
static bool read_six(struct ws_cursor *c, struct ws_endpoint *ep)
{
	uint64_t v[6];
	uint32_t host = 0;

	for (int i = 0; i < 6; i++) {
		if (i > 0) {
			skip_spaces(c);
			if (!read_byte(c, ','))
				return false;
			skip_spaces(c);
		}
		if (!read_number(c, 3, 255, &v[i]))
			return false;
	}
	for (int i = 0; i < 4; i++)
		host = host << 8 | (uint32_t)v[i];
	ep->addr = ws_addr_v4h(host);
	ep->port = (uint16_t)(v[4] << 8 | v[5]);
	return true;
}

bool ws_ftp_is_greeting(const uint8_t *b, size_t len)
{
	struct ws_cursor c = ws_cursor(b, len);
	const uint8_t *code = ws_cur_bytes(&c, 4);

	return code && memcmp(code, "220", 3) == 0 && (code[3] == ' ' || code[3] == '-');
}

bool ws_ftp_parse_hostport(const uint8_t *s, size_t len, struct ws_endpoint *ep)
{
	struct ws_cursor c = ws_cursor(s, len);

	skip_spaces(&c);
	if (!read_six(&c, ep))
		return false;
	skip_spaces(&c);
	return c.left == 0;
}

bool ws_ftp_parse_eprt(const uint8_t *s, size_t len, struct ws_endpoint *ep)
{
	struct ws_cursor c = ws_cursor(s, len);
	uint8_t d = ws_cur_u8(&c);
	uint64_t af, port;
	char text[WS_ADDR_STRLEN];
	size_t n = 0;

	/* RFC 2428: the delimiter is any ASCII 33..126, normally '|' */
	if (c.err || d < 33 || d > 126 || is_digit(d))
		return false;
	if (!read_number(&c, 1, 2, &af) || af == 0 || !read_byte(&c, d))
		return false;
	while (c.left > 0 && c.p[0] != d && n + 1 < sizeof(text))
		text[n++] = (char)ws_cur_u8(&c);
	text[n] = '\0';
	if (!read_byte(&c, d) || ws_addr_parse(text, &ep->addr) < 0 ||
	    ep->addr.family != (af == 1 ? WS_AF_INET : WS_AF_INET6))
		return false;
	if (!read_number(&c, 5, 65535, &port) || port == 0 || !read_byte(&c, d))
		return false;
	ep->port = (uint16_t)port;
	return c.left == 0;
}

static char upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 32) : (char)c;
}

/* Telnet IAC commands (0xff X) in front of a command; IAC IAC is a data 0xff. */
static void skip_telnet(struct ws_cursor *c)
{
	while (c->left >= 2 && c->p[0] == 0xff && c->p[1] != 0xff) {
		uint8_t cmd = c->p[1];

		/* WILL/WONT/DO/DONT (251..254) carry one option byte */
		ws_cur_skip(c, cmd >= 251 && c->left >= 3 ? 3 : 2);
	}
}

static void parse_arg(struct ws_ftp_command *out)
{
	struct ws_cursor a = ws_cursor(out->arg, out->arglen);

	switch (out->cmd) {
	case WS_FTP_CMD_PORT:
		out->ep_set = ws_ftp_parse_hostport(out->arg, out->arglen, &out->ep);
		break;
	case WS_FTP_CMD_EPRT:
		out->ep_set = ws_ftp_parse_eprt(out->arg, out->arglen, &out->ep);
		break;
	case WS_FTP_CMD_TYPE:
		skip_spaces(&a);
		if (a.left > 0) {
			char t = upper(ws_cur_u8(&a));

			out->type = strchr("AEIL", t) && t ? t : 0;
		}
		break;
	default:
		break;
	}
}

enum ws_ftp_parse_result ws_ftp_parse_command(const uint8_t *line, size_t len,
					      struct ws_ftp_command *out)
{
	struct ws_cursor c = ws_cursor(line, len);
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (len > 0 && line[len - 1] == '\r')
		c.left--;
	skip_telnet(&c);
	/* RFC 959 5.3.1: a command is 3 or 4 alphabetic characters */
	while (c.left > 0 && c.p[0] != ' ') {
		char u = upper(c.p[0]);

		if (u < 'A' || u > 'Z' || n == 4)
			return WS_FTP_INVALID;
		out->verb[n++] = u;
		ws_cur_skip(&c, 1);
	}
	if (n < 3)
		return WS_FTP_INVALID;
	out->verb[n] = '\0';
	if (c.left > 0)
		ws_cur_skip(&c, 1);	/* the one SP before the argument */
	out->arg = c.p;
	out->arglen = c.left;
	for (size_t i = 0; verbs[i].name; i++)
		if (strcmp(verbs[i].name, out->verb) == 0)
			out->cmd = verbs[i].cmd;
	parse_arg(out);
	return WS_FTP_OK;
}

/* ------------------------------------------------------------- replies */

bool ws_ftp_find_pasv(const uint8_t *s, size_t len, struct ws_endpoint *ep)
{
	/* RFC 1123 4.1.2.6: scan for the first digit, the format varies */
	for (size_t i = 0; i < len; i++) {
		struct ws_cursor c;

		if (!is_digit(s[i]) || (i > 0 && is_digit(s[i - 1])))
			continue;
		c = ws_cursor(s + i, len - i);
		if (read_six(&c, ep))
			return true;
	}
	return false;
}

bool ws_ftp_find_epsv(const uint8_t *s, size_t len, uint16_t *port)
{
	for (size_t i = 0; i < len; i++) {
		struct ws_cursor c;
		uint8_t d;
		uint64_t v;

		if (s[i] != '(')
			continue;
		c = ws_cursor(s + i + 1, len - i - 1);
		d = ws_cur_u8(&c);
		if (c.err || d < 33 || d > 126 || is_digit(d))
			continue;
		if (!read_byte(&c, d) || !read_byte(&c, d))
			continue;
		if (!read_number(&c, 5, 65535, &v) || v == 0 || !read_byte(&c, d) ||
		    !read_byte(&c, ')'))
			continue;
		*port = (uint16_t)v;
		return true;
	}
	return false;
}

static bool word_at(struct ws_cursor *c, const char *w)
{
	size_t n = strlen(w);

	if (c->left < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (upper(c->p[i]) != upper((uint8_t)w[i]))
			return false;
	ws_cur_skip(c, n);
	return true;
}

bool ws_ftp_find_size(const uint8_t *s, size_t len, uint64_t *size)
{
	for (size_t i = 0; i < len; i++) {
		struct ws_cursor c;
		uint64_t v;

		if (s[i] != '(')
			continue;
		c = ws_cursor(s + i + 1, len - i - 1);
		/* 19 digits: every value fits in uint64_t */
		if (!read_number(&c, 19, UINT64_MAX, &v))
			continue;
		skip_spaces(&c);
		if (word_at(&c, "bytes)") || word_at(&c, "bytes ") || word_at(&c, "byte)")) {
			*size = v;
			return true;
		}
	}
	return false;
}

/* "ddd" then SP, '-' or the end: the code and the separator (0 at the end). */
static bool reply_code(const uint8_t *line, size_t len, unsigned *code, uint8_t *sep)
{
	struct ws_cursor c = ws_cursor(line, len);
	uint64_t v;

	if (len < 3 || !is_digit(line[0]) || line[0] < '1' || line[0] > '5')
		return false;
	if (!read_number(&c, 3, 599, &v) || v < 100 || c.left + 3 != len)
		return false;
	*code = (unsigned)v;
	*sep = c.left ? c.p[0] : 0;
	return *sep == 0 || *sep == ' ' || *sep == '-';
}

/* What a 227/229/150 says, from any of its lines. */
static void scan_line(struct ws_ftp_reply *r, const uint8_t *t, size_t n)
{
	if (r->code == 227 && !r->pasv_set)
		r->pasv_set = ws_ftp_find_pasv(t, n, &r->pasv);
	if (r->code == 229 && !r->epsv_set)
		r->epsv_set = ws_ftp_find_epsv(t, n, &r->epsv_port);
	if ((r->code == 150 || r->code == 125) && !r->size_set)
		r->size_set = ws_ftp_find_size(t, n, &r->size);
}

int ws_ftp_reply_feed(struct ws_ftp_reply_reader *rd, const uint8_t *line, size_t len)
{
	unsigned code = 0;
	uint8_t sep = 0;
	bool coded;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	coded = reply_code(line, len, &code, &sep);
	if (rd->in_multi) {
		/* any line until "ddd " with the first line's code (RFC 959 4.2) */
		rd->r.lines++;
		scan_line(&rd->r, line, len);
		if (coded && code == rd->r.code && sep != '-') {
			rd->in_multi = false;
			return 1;
		}
		return 0;
	}
	if (!coded)
		return WS_FTP_INVALID;
	memset(&rd->r, 0, sizeof(rd->r));
	rd->r.code = code;
	rd->r.lines = 1;
	ws_copy_text(rd->r.text, sizeof(rd->r.text), line + 3 + (sep ? 1 : 0),
		     len - 3 - (sep ? 1 : 0), ' ');
	scan_line(&rd->r, line + 3, len - 3);
	if (sep == '-') {
		rd->in_multi = true;
		return 0;
	}
	return 1;
}
