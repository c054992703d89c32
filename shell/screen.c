/*
 * Screening: is this flow a command shell? Called on the first payload
 * bytes of each direction of every TCP flow, so it must be cheap on what
 * is not a shell: binary data fails on its first control byte, text
 * without a keyword never reaches the parser, and the banner and prompt
 * searches jump from one rare byte ('M', '\') to the next with memchr.
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

static bool find_banner(const uint8_t *d, size_t n)
{
	const uint8_t *p = d;

	while ((p = memchr(p, 'M', (size_t)(d + n - p))) != NULL) {
		if (banner_at(d, n, (size_t)(p - d)))
			return true;
		p++;
	}
	return false;
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

static bool find_prompt(const uint8_t *d, size_t n)
{
	const uint8_t *p = d;

	while ((p = memchr(p, '\\', (size_t)(d + n - p))) != NULL) {
		if (prompt_at(d, n, (size_t)(p - d)))
			return true;
		p++;
	}
	return false;
}

static uint8_t low(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

static bool ihas_at(const uint8_t *d, size_t n, size_t i, const char *lit)
{
	size_t m = strlen(lit);

	if (i + m > n)
		return false;
	for (size_t k = 0; k < m; k++)
		if (low(d[i + k]) != (uint8_t)lit[k])
			return false;
	return true;
}

/*
 * Could this line be a dropper command? Text only (a control byte other
 * than tab, CR, VT, FF or ESC says binary), and holding a word every
 * dropper line needs: ftp (tftp too), echo, cmd, start, rundll, an
 * executable extension, or the % and ^ that hide them.
 */
static bool worth_parsing(const uint8_t *d, size_t n)
{
	bool kw = false;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];

		if (c < 0x20) {
			if (c != '\t' && c != '\r' && c != '\v' && c != '\f' && c != 0x1b)
				return false;
			continue;
		}
		if (kw)
			continue;
		switch (low(c)) {
		case '%':
		case '^':
			kw = true;
			break;
		case 'f':
			kw = ihas_at(d, n, i, "ftp");
			break;
		case 'e':
			kw = ihas_at(d, n, i, "echo");
			break;
		case 'c':
			kw = ihas_at(d, n, i, "cmd");
			break;
		case 's':
			kw = ihas_at(d, n, i, "start");
			break;
		case 'r':
			kw = ihas_at(d, n, i, "rundll");
			break;
		case '.':
			kw = ihas_at(d, n, i, ".exe") || ihas_at(d, n, i, ".com") ||
			     ihas_at(d, n, i, ".bat") || ihas_at(d, n, i, ".cmd");
			break;
		}
	}
	return kw;
}

static bool find_command(const uint8_t *d, size_t n)
{
	size_t i = 0;

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

enum ws_shell_hint ws_shell_screen(const uint8_t *data, size_t len)
{
	size_t n = len < WS_SHELL_SCREEN_BYTES ? len : WS_SHELL_SCREEN_BYTES;

	if (n == 0)
		return WS_SHELL_NONE;
	if (find_banner(data, n))
		return WS_SHELL_BANNER;
	if (find_prompt(data, n))
		return WS_SHELL_PROMPT;
	if (find_command(data, n))
		return WS_SHELL_COMMAND;
	return WS_SHELL_NONE;
}
