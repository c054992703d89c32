/*
 * Screening: is this flow a command shell? Called on the first payload
 * bytes of each direction of every TCP flow, so it must be cheap on what
 * is not a shell: binary data fails on its first control byte, text
 * without a keyword never reaches the parser, and the banner and prompt
 * and prompt searches look at 16 bytes at a time for a rare byte ('M', '\'),
 * with SSE2 where there is SSE2.
 *
 * What cmd.exe prints (seen in the public captures of ../shared/pcaps/
 * third_party/shells/ and in the Blaster write-ups):
 *   Microsoft Windows XP [Version 5.1.2600]
 *   (C) Copyright 1985-2001 Microsoft Corp.
 *
 *   C:\WINDOWS\system32>
 * 2000 prints "Microsoft Windows 2000 [Version 5.00.2195]", Vista and later
 * "Microsoft Windows [Version 6.1.7601]", NT 4.0 "Microsoft(R) Windows
 * NT(TM)" with "(C) Copyright 1985-1996 Microsoft Corp." on the next line;
 * localised versions translate "Version" (hence only the brackets are
 * required). A Metasploit stager may put a few hundred binary bytes first,
 * so the banner is looked for anywhere in the first WS_SHELL_SCREEN_BYTES.
 */
#include <string.h>

#include "shell.h"

#define BANNER_TAIL 128		/* bytes after "Microsoft" that may hold the rest */
#define PROMPT_PATH_MAX 260	/* MAX_PATH */

static const char *const hint_names[] = {"none", "banner", "prompt", "command"};

const char *ws_shell_hint_name(enum ws_shell_hint h)
{
	return (unsigned)h < sizeof(hint_names) / sizeof(hint_names[0]) ? hint_names[h] : "?";
}

static bool has_at(const uint8_t *d, size_t n, size_t i, const char *lit)
{
	size_t m = strlen(lit);

	return i + m <= n && memcmp(d + i, lit, m) == 0;
}

/* "Microsoft[(R)] Windows", then "[...]" or "Copyright" shortly after. */
static bool banner_at(const uint8_t *d, size_t n, size_t i)
{
	size_t end, j;
	const uint8_t *open;

	if (!has_at(d, n, i, "Microsoft"))
		return false;
	j = i + 9;
	if (has_at(d, n, j, "(R)"))
		j += 3;
	if (!has_at(d, n, j, " Windows"))
		return false;
	j += 8;
	end = n - j < BANNER_TAIL ? n : j + BANNER_TAIL;
	open = memchr(d + j, '[', end - j);
	if (open && memchr(open, ']', (size_t)(d + end - open)))
		return true;
	return memmem(d + j, end - j, "Copyright", 9) != NULL;
}

static bool is_letter(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * "X:\path>" starting a line: a drive letter, a colon, a backslash, then
 * characters a path may hold (no control byte, none of <|"*?) up to '>'.
 */
static bool prompt_at(const uint8_t *d, size_t n, size_t bs)
{
	size_t end = n - bs > PROMPT_PATH_MAX ? bs + PROMPT_PATH_MAX : n;

	if (bs < 2 || d[bs - 1] != ':' || !is_letter(d[bs - 2]))
		return false;
	if (bs > 2 && d[bs - 3] != '\n')
		return false;
	for (size_t i = bs + 1; i < end; i++) {
		uint8_t c = d[i];

		if (c == '>')
			return true;
		if (c < 0x20 || c == '<' || c == '|' || c == '"' || c == '*' || c == '?')
			return false;
	}
	return false;
}

/*
 * The positions of 'M' and '\\' in a 16-byte block, as a bit mask. With
 * SSE2 (every x86-64) one compare and a movemask per block, so a buffer of
 * random bytes (an 'M' every 256 bytes) costs about one instruction per
 * byte instead of a memchr call per candidate; elsewhere, plain code.
 */
#ifdef __SSE2__
#include <emmintrin.h>

static unsigned candidates16(const uint8_t *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('M')),
				 _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));

	return (unsigned)_mm_movemask_epi8(m);
}
#else
static unsigned candidates16(const uint8_t *p)
{
	unsigned m = 0;

	for (unsigned k = 0; k < 16; k++)
		m |= (unsigned)(p[k] == 'M' || p[k] == '\\') << k;
	return m;
}
#endif

/* One pass for both: a banner anywhere wins; else a prompt at a line start. */
static enum ws_shell_hint find_banner_or_prompt(const uint8_t *d, size_t n)
{
	bool prompt = false;
	size_t i;

	for (i = 0; i < n; i += 16) {
		unsigned m;

		if (n - i >= 16) {
			m = candidates16(d + i);
		} else {
			m = 0;
			for (size_t k = i; k < n; k++)
				m |= (unsigned)(d[k] == 'M' || d[k] == '\\') << (k - i);
		}
		for (; m; m &= m - 1) {
			size_t at = i + (size_t)__builtin_ctz(m);

			if (d[at] == 'M') {
				if (banner_at(d, n, at))
					return WS_SHELL_BANNER;
			} else if (!prompt) {
				prompt = prompt_at(d, n, at);
			}
		}
	}
	return prompt ? WS_SHELL_PROMPT : WS_SHELL_NONE;
}

#define TRI(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
#define QUAD(a, b, c, d) ((uint32_t)(a) << 24 | TRI(b, c, d))

/*
 * Could this line be a dropper command? Text only (a control byte other
 * than tab, CR, VT, FF or ESC says binary), and holding the start of a word
 * every dropper line needs: ftp (tftp too), echo, cmd, start, rundll,
 * .exe or .bat, or the % and ^ that hide them. One pass, one well-predicted
 * branch per byte: the last four bytes, lower-cased, are compared with
 * each word start at once (a switch per byte mispredicts on text).
 */
static bool worth_parsing(const uint8_t *d, size_t n)
{
	uint32_t w = 0;
	bool kw = false, bin = false;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];
		uint32_t lc = c | ((c >= 'A' && c <= 'Z') ? 0x20u : 0u);

		bin |= c < 0x20 && c != '\t' && c != '\r' && c != '\v' && c != '\f' && c != 0x1b;
		w = w << 8 | lc;
		kw |= ((w & 0xffffff) == TRI('f', 't', 'p')) | ((w & 0xffffff) == TRI('c', 'm', 'd')) |
		      (w == QUAD('e', 'c', 'h', 'o')) | (w == QUAD('s', 't', 'a', 'r')) |
		      (w == QUAD('r', 'u', 'n', 'd')) | (w == QUAD('.', 'e', 'x', 'e')) |
		      (w == QUAD('.', 'b', 'a', 't')) | (c == '%') | (c == '^');
		if (bin)
			return false;
	}
	return kw;
}

/*
 * HTTP, the commonest text on any port, starts with a request line
 * ("GET /x HTTP/1.1": no program of that name runs anything) or a status
 * line ("HTTP/1.1 200 OK"): its headers are not worth parsing as commands.
 */
static bool is_http(const uint8_t *d, size_t n)
{
#define START(s) {s, sizeof(s) - 1}
	static const struct { const char *text; size_t len; } starts[] = {
		START("GET /"), START("POST /"), START("HEAD /"), START("PUT /"),
		START("OPTIONS "), START("CONNECT "), START("HTTP/1."),
	};
#undef START

	if (n == 0 || !memchr("GPHOC", d[0], 5))	/* most segments: one test */
		return false;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (n >= starts[i].len && memcmp(d, starts[i].text, starts[i].len) == 0)
			return true;
	return false;
}

static bool find_command(const uint8_t *d, size_t n)
{
	size_t i = 0;

	if (is_http(d, n))
		return false;

	for (unsigned k = 0; k < WS_SHELL_SCREEN_LINES && i < n; k++) {
		const uint8_t *lf = memchr(d + i, '\n', n - i);
		size_t len;

		if (!lf)
			return false;
		len = (size_t)(lf - (d + i));
		if (worth_parsing(d + i, len) && ws_shell_line_is_command(d + i, len))
			return true;
		i += len + 1;
	}
	return false;
}

/*
 * Metasploit's Windows stagers (bind and reverse TCP) first do
 * recv(s, &dwLength, 4, 0), VirtualAlloc that many bytes and recv the
 * stage into them before running it (block_recv.asm in
 * metasploit-framework's external/source/shellcode/windows/x86/src/block/,
 * the x64 one alike): a DWORD in x86 byte order, then the stage. Text and
 * most binary protocols fail the bound, their fourth byte not being 0 (a
 * TLS record of 256 bytes or more has its length's high byte there).
 */
size_t ws_shell_stage_len(const uint8_t *data, size_t len)
{
	struct ws_cursor c = ws_cursor(data, len);
	uint32_t n = ws_cur_le32(&c);

	return !c.err && n > 0 && n <= WS_SHELL_STAGE_MAX ? n : 0;
}

enum ws_shell_hint ws_shell_screen(const uint8_t *data, size_t len)
{
	size_t n = len < WS_SHELL_SCREEN_BYTES ? len : WS_SHELL_SCREEN_BYTES;
	enum ws_shell_hint h;

	if (n == 0)
		return WS_SHELL_NONE;
	h = find_banner_or_prompt(data, n);
	if (h != WS_SHELL_NONE)
		return h;
	if (find_command(data, n))
		return WS_SHELL_COMMAND;
	return WS_SHELL_NONE;
}
