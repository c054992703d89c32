/*
 * shell_feed: run one TCP stream's two directions through the cmd.exe
 * session model and print its events.
 *
 *   shell_feed --follow FILE      FILE is `tshark -q -z follow,tcp,raw,N`
 *                                 output: node 0 (the opener) is the
 *                                 client, its lines are unindented; node 1
 *                                 lines start with a tab. Fed in file order.
 *   shell_feed CLIENT [SERVER]    raw bytes of each direction; the two are
 *                                 fed one line at a time, the server first.
 *
 * Prints one "event ..." line per event, then a "session ..." summary.
 * Exit status 0, or 1 on bad input (with a message).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

/* What ws_shell_screen() said of each side's first chunk. */
static enum ws_shell_hint first_hint[2];
static bool seen[2];

static void feed_one(struct ws_shell *s, int side, const uint8_t *d, size_t n,
		     const struct timeval *ts);

static void put_escaped(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == '\\' || c == '|')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void on_event(const struct ws_shell_event *ev, void *arg)
{
	char a[WS_ADDR_STRLEN];

	(void)arg;
	printf("event %s attacker=%s file=", ws_shell_action_name(ev->action),
	       ev->attacker == WS_SIDE_CLIENT ? "client" : "server");
	put_escaped(ev->file, ev->file_len);
	printf(" local=");
	put_escaped(ev->local, ev->local_len);
	printf(" host=");
	put_escaped(ev->host, ev->host_len);
	printf(" addr=%s port=%u proto=%s user=", ws_addr_str(&ev->addr, a, sizeof(a)), ev->port,
	       ev->proto == WS_SHELL_PROTO_TFTP ? "tftp" : ev->proto == WS_SHELL_PROTO_FTP ? "ftp" : "-");
	put_escaped(ev->user, strlen(ev->user));
	printf(" pass=");
	put_escaped(ev->pass, strlen(ev->pass));
	printf(" name_ok=%d\n", ev->name_ok);
}

static void feed_one(struct ws_shell *s, int side, const uint8_t *d, size_t n,
		     const struct timeval *ts)
{
	if (!seen[side] && n > 0) {
		seen[side] = true;
		first_hint[side] = ws_shell_screen(d, n);
	}
	ws_shell_feed(s, side, d, n, ts, on_event, NULL);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int feed_follow(struct ws_shell *s, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint8_t *buf = NULL;
	struct timeval ts = {0, 0};

	if (!f) {
		fprintf(stderr, "shell_feed: %s: open: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		int side = line[0] == '\t' ? WS_SIDE_SERVER : WS_SIDE_CLIENT;
		char *hex = line + (side == WS_SIDE_SERVER);
		size_t len = 0, hl = strcspn(hex, "\r\n");
		uint8_t *nb;

		if (hl == 0 || hl % 2 || strspn(hex, "0123456789abcdefABCDEF") != hl)
			continue;	/* the header and footer lines */
		if (!(nb = realloc(buf, hl / 2))) {
			fprintf(stderr, "shell_feed: %s: out of memory\n", path);
			return 1;
		}
		buf = nb;
		for (size_t i = 0; i < hl; i += 2)
			buf[len++] = (uint8_t)(hexval(hex[i]) << 4 | hexval(hex[i + 1]));
		ts.tv_sec++;
		feed_one(s, side, buf, len, &ts);
	}
	ws_shell_end(s, &ts, on_event, NULL);
	free(line);
	free(buf);
	fclose(f);
	return 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, n;

	*len = 0;
	if (!f) {
		fprintf(stderr, "shell_feed: %s: open: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (!(nb = realloc(buf, cap))) {
				fprintf(stderr, "shell_feed: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		if (n == 0)
			break;
		*len += n;
	}
	fclose(f);
	return buf ? buf : malloc(1);
}

static int feed_files(struct ws_shell *s, const char *cpath, const char *spath)
{
	size_t len[2] = {0, 0}, pos[2] = {0, 0};
	uint8_t *d[2] = {NULL, NULL};
	struct timeval ts = {0, 0};
	int rc = 1;

	if (!(d[0] = slurp(cpath, &len[0])) || (spath && !(d[1] = slurp(spath, &len[1]))))
		goto done;
	while (pos[0] < len[0] || pos[1] < len[1]) {
		for (int k = 1; k >= 0; k--) {
			const uint8_t *lf;
			size_t n;

			if (pos[k] >= len[k])
				continue;
			lf = memchr(d[k] + pos[k], '\n', len[k] - pos[k]);
			n = lf ? (size_t)(lf - d[k] - pos[k]) + 1 : len[k] - pos[k];
			ts.tv_sec++;
			feed_one(s, k, d[k] + pos[k], n, &ts);
			pos[k] += n;
		}
	}
	ws_shell_end(s, &ts, on_event, NULL);
	rc = 0;
done:
	free(d[0]);
	free(d[1]);
	return rc;
}

int main(int argc, char **argv)
{
	struct ws_shell *s;
	struct ws_shell_stats st;
	int rc, who;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: shell_feed --follow FILE | shell_feed CLIENT [SERVER]\n");
		return 1;
	}
	if (!(s = ws_shell_new())) {
		fprintf(stderr, "shell_feed: out of memory\n");
		return 1;
	}
	if (strcmp(argv[1], "--follow") == 0)
		rc = argc == 3 ? feed_follow(s, argv[2]) : 1;
	else
		rc = feed_files(s, argv[1], argc == 3 ? argv[2] : NULL);
	ws_shell_get_stats(s, &st);
	who = ws_shell_attacker(s);
	printf("session attacker=%s victim_hint=%s screen_client=%s screen_server=%s lines=%llu "
	       "truncated=%llu events=%llu unattributed=%llu heap=%zu\n",
	       who == WS_SIDE_CLIENT ? "client" : who == WS_SIDE_SERVER ? "server" : "unknown",
	       ws_shell_hint_name(st.victim_hint), ws_shell_hint_name(first_hint[0]),
	       ws_shell_hint_name(first_hint[1]), (unsigned long long)st.lines,
	       (unsigned long long)st.truncated, (unsigned long long)st.events,
	       (unsigned long long)st.unattributed, st.heap);
	ws_shell_free(s);
	return rc;
}
