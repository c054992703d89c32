/*
 * FTP control codec tests: command lines, PORT/EPRT arguments, replies
 * single and multi-line (RFC 959 4.2), and the 227/229/150 texts servers
 * really send.
 */
#include <stdio.h>
#include <string.h>

#include "ftp.h"

static unsigned checks, failures;

#define CHECK(cond) do {							\
	checks++;								\
	if (!(cond)) {								\
		failures++;							\
		fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,	\
			__LINE__, __func__, #cond);				\
	}									\
} while (0)

static int cmd(const char *line, struct ws_ftp_command *c)
{
	return ws_ftp_parse_command((const uint8_t *)line, strlen(line), c);
}

static bool arg_is(const struct ws_ftp_command *c, const char *want)
{
	return c->arglen == strlen(want) && memcmp(c->arg, want, c->arglen) == 0;
}

static bool ep_is(const struct ws_endpoint *ep, const char *addr, uint16_t port)
{
	char b[WS_ADDR_STRLEN];

	return strcmp(ws_addr_str(&ep->addr, b, sizeof(b)), addr) == 0 && ep->port == port;
}

static void test_commands(void)
{
	struct ws_ftp_command c;

	CHECK(cmd("USER anonymous\r", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_USER &&
	      arg_is(&c, "anonymous"));
	CHECK(cmd("user 1", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_USER && arg_is(&c, "1"));
	CHECK(cmd("RETR ssms.exe\r", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_RETR &&
	      arg_is(&c, "ssms.exe"));
	/* the name keeps its spaces: only the one SP after the verb separates */
	CHECK(cmd("RETR  two  spaces .exe\r", &c) == WS_FTP_OK && arg_is(&c, " two  spaces .exe"));
	CHECK(cmd("STOR up.bin", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_STOR);
	CHECK(cmd("PASV\r", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_PASV && c.arglen == 0);
	CHECK(cmd("EPSV", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_EPSV);
	CHECK(cmd("QUIT", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_QUIT);
	CHECK(cmd("XPWD", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_OTHER &&
	      strcmp(c.verb, "XPWD") == 0);
	CHECK(cmd("TYPE I", &c) == WS_FTP_OK && c.type == 'I');
	CHECK(cmd("type a n", &c) == WS_FTP_OK && c.type == 'A');
	CHECK(cmd("TYPE Q", &c) == WS_FTP_OK && c.type == 0);
	/* Windows ftp.exe's abort: IAC IP IAC DM then ABOR (RFC 959 4.1.3) */
	CHECK(cmd("\xff\xf4\xff\xf2" "ABOR\r", &c) == WS_FTP_OK && c.cmd == WS_FTP_CMD_ABOR);
	/* not commands */
	CHECK(cmd("", &c) == WS_FTP_INVALID);
	CHECK(cmd("GE", &c) == WS_FTP_INVALID);
	CHECK(cmd("RETRX a", &c) == WS_FTP_INVALID);
	CHECK(cmd("R3TR a", &c) == WS_FTP_INVALID);
	CHECK(cmd("\x16\x03\x01\x02", &c) == WS_FTP_INVALID);	/* a TLS hello */
	CHECK(cmd(" RETR a", &c) == WS_FTP_INVALID);
}

static void test_port(void)
{
	struct ws_ftp_command c;
	struct ws_endpoint ep;

	CHECK(cmd("PORT 10,0,0,5,4,1\r", &c) == WS_FTP_OK && c.ep_set &&
	      ep_is(&c.ep, "10.0.0.5", 1025));
	CHECK(cmd("PORT 192,168,1,10,255,255", &c) == WS_FTP_OK && c.ep_set &&
	      ep_is(&c.ep, "192.168.1.10", 65535));
	CHECK(cmd("PORT 10,0,0,5,4,256", &c) == WS_FTP_OK && !c.ep_set);
	CHECK(cmd("PORT 10,0,0,5,4", &c) == WS_FTP_OK && !c.ep_set);
	CHECK(cmd("PORT 10,0,0,5,4,1,7", &c) == WS_FTP_OK && !c.ep_set);
	CHECK(cmd("PORT 0010,0,0,5,4,1", &c) == WS_FTP_OK && !c.ep_set);
	CHECK(cmd("PORT", &c) == WS_FTP_OK && !c.ep_set);
	CHECK(cmd("EPRT |1|132.235.1.2|6275|", &c) == WS_FTP_OK && c.ep_set &&
	      ep_is(&c.ep, "132.235.1.2", 6275));
	CHECK(cmd("EPRT |2|1080::8:800:200c:417a|5282|", &c) == WS_FTP_OK && c.ep_set &&
	      c.ep.addr.family == WS_AF_INET6 && c.ep.port == 5282);
	CHECK(cmd("EPRT !1!10.1.1.1!21!", &c) == WS_FTP_OK && c.ep_set);
	CHECK(cmd("EPRT |2|10.1.1.1|21|", &c) == WS_FTP_OK && !c.ep_set);	/* af mismatch */
	CHECK(cmd("EPRT |1|10.1.1.1|70000|", &c) == WS_FTP_OK && !c.ep_set);
	CHECK(cmd("EPRT |1|10.1.1.1|21", &c) == WS_FTP_OK && !c.ep_set);
	CHECK(!ws_ftp_parse_eprt((const uint8_t *)"", 0, &ep));
	CHECK(!ws_ftp_parse_hostport((const uint8_t *)"1,2,3", 5, &ep));
}

static int feed(struct ws_ftp_reply_reader *rd, const char *line)
{
	return ws_ftp_reply_feed(rd, (const uint8_t *)line, strlen(line));
}

static void test_replies(void)
{
	struct ws_ftp_reply_reader rd = {0};

	CHECK(feed(&rd, "220 Welcome\r") == 1 && rd.r.code == 220 &&
	      strcmp(rd.r.text, "Welcome") == 0);
	CHECK(feed(&rd, "226") == 1 && rd.r.code == 226 && rd.r.text[0] == '\0');
	/* multi-line: any line until the code followed by a space */
	CHECK(feed(&rd, "230-Hello\r") == 0);
	CHECK(feed(&rd, "   230 is not the end, it is indented") == 0);
	CHECK(feed(&rd, "230-still going") == 0);
	CHECK(feed(&rd, "200 other code inside") == 0);
	CHECK(feed(&rd, "230 Logged in\r") == 1 && rd.r.code == 230 && rd.r.lines == 5 &&
	      strcmp(rd.r.text, "Hello") == 0);
	/* 227 in any format, the numbers anywhere (RFC 1123 4.1.2.6) */
	CHECK(feed(&rd, "227 Entering Passive Mode (81,132,114,254,34,132).\r") == 1 &&
	      rd.r.pasv_set && ep_is(&rd.r.pasv, "81.132.114.254", 8836));
	CHECK(feed(&rd, "227 =127,0,0,1,200,10") == 1 && rd.r.pasv_set &&
	      ep_is(&rd.r.pasv, "127.0.0.1", 51210));
	CHECK(feed(&rd, "227 Entering 1999 mode 10,0,0,1,0,21") == 1 && rd.r.pasv_set &&
	      ep_is(&rd.r.pasv, "10.0.0.1", 21));
	CHECK(feed(&rd, "227 nothing here (1,2,3)") == 1 && !rd.r.pasv_set);
	CHECK(feed(&rd, "227 big (300,2,3,4,5,6)") == 1 && !rd.r.pasv_set);
	CHECK(feed(&rd, "229 Entering Extended Passive Mode (|||6446|)") == 1 &&
	      rd.r.epsv_set && rd.r.epsv_port == 6446);
	CHECK(feed(&rd, "229 (!!!80!)") == 1 && rd.r.epsv_set && rd.r.epsv_port == 80);
	CHECK(feed(&rd, "229 (|||0|)") == 1 && !rd.r.epsv_set);
	CHECK(feed(&rd, "229 (|||99999|)") == 1 && !rd.r.epsv_set);
	CHECK(feed(&rd, "150 Opening BINARY mode data connection for ssms.exe (8192 bytes).") ==
	      1 && rd.r.size_set && rd.r.size == 8192);
	CHECK(feed(&rd, "150 Opening data connection (x bytes)") == 1 && !rd.r.size_set);
	CHECK(feed(&rd, "125 Data connection already open; (12 Bytes)") == 1 &&
	      rd.r.size_set && rd.r.size == 12);
	CHECK(feed(&rd, "150 (99999999999999999999 bytes)") == 1 && !rd.r.size_set);
	/* a 227 split over a multi-line reply: found on a later line */
	CHECK(feed(&rd, "227-Entering") == 0 && feed(&rd, " (10,0,0,2,1,2)") == 0 &&
	      feed(&rd, "227 ok") == 1 && rd.r.pasv_set && ep_is(&rd.r.pasv, "10.0.0.2", 258));
	/* not replies */
	CHECK(feed(&rd, "hello") == WS_FTP_INVALID);
	CHECK(feed(&rd, "2200 x") == WS_FTP_INVALID);
	CHECK(feed(&rd, "620 x") == WS_FTP_INVALID);
	CHECK(feed(&rd, "099 x") == WS_FTP_INVALID);
	CHECK(feed(&rd, "22") == WS_FTP_INVALID);
	CHECK(feed(&rd, "220x") == WS_FTP_INVALID);
	/* a NUL in the text does not cut what is kept */
	CHECK(ws_ftp_reply_feed(&rd, (const uint8_t *)"550 a\0b", 7) == 1 &&
	      strcmp(rd.r.text, "a b") == 0);
}

static void test_greeting(void)
{
	CHECK(ws_ftp_is_greeting((const uint8_t *)"220 StnyFtpd 0wns j0\r\n", 22));
	CHECK(ws_ftp_is_greeting((const uint8_t *)"220-multi", 9));
	CHECK(!ws_ftp_is_greeting((const uint8_t *)"220", 3));
	CHECK(!ws_ftp_is_greeting((const uint8_t *)"2200 x", 6));
	CHECK(!ws_ftp_is_greeting((const uint8_t *)"SSH-2.0-OpenSSH", 15));
	CHECK(!ws_ftp_is_greeting((const uint8_t *)"Microsoft Windows XP", 20));
}

static void test_long(void)
{
	static uint8_t line[WS_FTP_LINE_MAX * 2];
	struct ws_ftp_reply_reader rd = {0};

	memset(line, 'A', sizeof(line));
	memcpy(line, "550 ", 4);
	CHECK(ws_ftp_reply_feed(&rd, line, sizeof(line)) == 1 && rd.r.code == 550 &&
	      strlen(rd.r.text) == WS_FTP_TEXT_MAX - 1);
}

int main(void)
{
	test_commands();
	test_port();
	test_replies();
	test_long();
	test_greeting();
	printf("ftp codec: %u checks, %u failed\n", checks, failures);
	return failures ? 1 : 0;
}
