/*
 * The command matcher: what an attacker typed into cmd.exe, reduced to the
 * tftp GET, start and execution commands it contains.
 *
 * A pure function over one line. Tokenising follows cmd.exe where it
 * matters to droppers: ^ escapes the next character outside quotes, double
 * quotes group, & && | || ; separate commands (peers.md lists ; too),
 * and "cmd /c ..." runs the rest of the line (a quoted rest is re-read).
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "sensor.h"

#define MAX_WORDS 16
#define MAX_NEST 2		/* cmd /c "cmd /c "...": how deep quoted rests are re-read */

struct word {
	char text[WS_FIELD_MAX];
	bool quoted;		/* began with a double quote */
	bool overlong;
	bool control;		/* held a NUL or control byte: never a name */
};

struct command {
	size_t n;
	struct word w[MAX_WORDS];
	bool too_many;
};

static const char *const exec_ext[] = {".exe", ".com", ".bat", ".cmd", ".pif", ".scr", NULL};

/* ------------------------------------------------------------ tokenising */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_separator(char c)
{
	return c == '&' || c == '|' || c == ';';
}

static void word_put(struct word *w, size_t *len, char c)
{
	if ((unsigned char)c < 0x20 || c == 0x7f)
		w->control = true;
	if (*len + 1 >= sizeof(w->text)) {
		w->overlong = true;
		return;
	}
	w->text[(*len)++] = c;
	w->text[*len] = '\0';
}

/*
 * Read one command from s[*pos..len): words until an unquoted, unescaped
 * separator. Returns false at the end of the line with nothing read.
 */
static bool next_command(const char *s, size_t len, size_t *pos, struct command *cmd)
{
	size_t i = *pos, wl = 0;
	bool in_word = false, in_quote = false, any = false;
	struct word *w = NULL;

	cmd->n = 0;
	cmd->too_many = false;
	for (; i < len; i++) {
		char c = s[i];

		if (!in_quote && is_separator(c)) {
			i++;
			break;
		}
		if (!in_quote && is_blank(c)) {
			in_word = false;
			continue;
		}
		any = true;
		if (!in_word) {
			if (cmd->n == MAX_WORDS) {
				cmd->too_many = true;
				w = NULL;
			} else {
				w = &cmd->w[cmd->n++];
				memset(w, 0, sizeof(*w));
				w->quoted = c == '"';
			}
			wl = 0;
			in_word = true;
		}
		if (c == '"') {
			in_quote = !in_quote;
			continue;
		}
		if (c == '^' && !in_quote && i + 1 < len) {
			c = s[++i];
		}
		if (w)
			word_put(w, &wl, c);
	}
	*pos = i;
	return any || i < len;
}

/* ------------------------------------------------------------ recognising */

static bool ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static const char *base_name(const char *p)
{
	const char *b = p;

	for (; *p; p++)
		if (*p == '\\' || *p == '/' || *p == ':')
			b = p + 1;
	return b;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcasecmp(s + n - m, suf) == 0;
}

/* Is this word the program name (with or without path and .exe)? */
static bool names_program(const char *word, const char *prog)
{
	const char *b = base_name(word);
	size_t n = strlen(prog);

	if (strncasecmp(b, prog, n) != 0)
		return false;
	return b[n] == '\0' || ieq(b + n, ".exe");
}

static bool has_exec_ext(const char *name)
{
	for (const char *const *e = exec_ext; *e; e++)
		if (has_suffix(name, *e))
			return true;
	return false;
}

static bool valid_ipv4(const char *s)
{
	int parts = 0;

	while (parts < 4) {
		unsigned v = 0;
		int digits = 0;

		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || v > 255)
				return false;
		}
		if (digits == 0)
			return false;
		parts++;
		if (parts < 4 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

static bool valid_dns_name(const char *s)
{
	size_t total = strlen(s), label = 0;
	bool letter = false;
	char prev = '.';

	if (total == 0 || total > 253)
		return false;
	for (; *s; prev = *s++) {
		if (*s == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-')
			return false;
		if (*s == '-' && label == 0)
			return false;
		letter |= isalpha((unsigned char)*s) != 0;
		if (++label > 63)
			return false;
	}
	return letter && prev != '-';
}

static bool valid_ipv6(const char *s)
{
	size_t n = strlen(s), colons = 0, dots = 0;

	if (n < 2 || n > 45)
		return false;
	for (; *s; s++) {
		if (*s == ':')
			colons++;
		else if (*s == '.')
			dots++;
		else if (!isxdigit((unsigned char)*s))
			return false;
	}
	return colons >= 2 && (dots == 0 || dots == 3);
}

static bool valid_host(const char *s)
{
	if (isdigit((unsigned char)s[0]) && strchr(s, '.') && !strchr(s, ':'))
		return valid_ipv4(s);
	return valid_dns_name(s) || valid_ipv6(s);
}

/* A file name worth reporting: non-empty, no control bytes. */
static bool valid_file(const struct word *w)
{
	return !w->overlong && !w->control && w->text[0] != '\0';
}

/* Name compared with or without .exe, by basename, case-insensitively. */
static bool same_program(const char *a, const char *b)
{
	char x[WS_FIELD_MAX], y[WS_FIELD_MAX];
	size_t n;

	strcpy(x, base_name(a));
	strcpy(y, base_name(b));
	if (has_suffix(x, ".exe"))
		x[strlen(x) - 4] = '\0';
	if (has_suffix(y, ".exe"))
		y[strlen(y) - 4] = '\0';
	n = strlen(x);
	return n > 0 && ieq(x, y);
}

static bool was_fetched(const struct ws_match_ctx *ctx, const char *name)
{
	for (unsigned i = 0; i < WS_MATCH_MAX_NAMES; i++)
		if (ctx->names[i][0] && same_program(ctx->names[i], name))
			return true;
	return false;
}

static void remember(struct ws_match_ctx *ctx, const char *name)
{
	strcpy(ctx->names[ctx->next % WS_MATCH_MAX_NAMES], name);
	ctx->next = (ctx->next + 1) % WS_MATCH_MAX_NAMES;
}

static struct ws_cmd *add_cmd(struct ws_match *out, enum ws_action a)
{
	struct ws_cmd *c;

	if (out->ncmds == WS_MATCH_MAX_CMDS)
		return NULL;
	c = &out->cmds[out->ncmds++];
	memset(c, 0, sizeof(*c));
	c->action = a;
	return c;
}

/* tftp [-i] HOST GET SOURCE [DESTINATION] */
static void match_tftp(const struct command *cmd, size_t i, struct ws_match_ctx *ctx,
		       struct ws_match *out)
{
	const struct word *host, *src, *dst = NULL;
	size_t left;
	struct ws_cmd *c;

	if (i < cmd->n && ieq(cmd->w[i].text, "-i"))
		i++;
	left = cmd->n - i;
	if (cmd->too_many || (left != 3 && left != 4))
		return;
	host = &cmd->w[i];
	if (!ieq(cmd->w[i + 1].text, "get"))
		return;
	src = &cmd->w[i + 2];
	if (left == 4)
		dst = &cmd->w[i + 3];
	if (!valid_file(host) || !valid_host(host->text) || !valid_file(src) ||
	    (dst && !valid_file(dst)))
		return;
	c = add_cmd(out, WS_ACT_GET);
	if (!c)
		return;
	strcpy(c->host, host->text);
	strcpy(c->file, src->text);
	if (dst)
		strcpy(c->local, dst->text);
	remember(ctx, dst ? dst->text : src->text);
}

/* start ["title"] [/opts] FILE [args] */
static void match_start(const struct command *cmd, size_t i, struct ws_match *out)
{
	struct ws_cmd *c;

	if (i < cmd->n && cmd->w[i].quoted)
		i++;		/* the first quoted argument is the window title */
	while (i < cmd->n && cmd->w[i].text[0] == '/') {
		const char *o = cmd->w[i].text + 1;

		i++;
		if ((ieq(o, "d") || ieq(o, "node") || ieq(o, "affinity")) && i < cmd->n)
			i++;	/* these options take a value */
	}
	if (i >= cmd->n || !valid_file(&cmd->w[i]))
		return;
	c = add_cmd(out, WS_ACT_START);
	if (c)
		strcpy(c->file, cmd->w[i].text);
}

static void match_command(const struct command *cmd, size_t first, int depth,
			  struct ws_match_ctx *ctx, struct ws_match *out);

/* cmd [/switches] [/c|/k] REST: REST is a command line of its own. */
static void match_cmd_prefix(const struct command *cmd, size_t i, int depth,
			     struct ws_match_ctx *ctx, struct ws_match *out)
{
	while (i < cmd->n && cmd->w[i].text[0] == '/' && !cmd->w[i].quoted)
		i++;
	if (i >= cmd->n)
		return;
	if (i + 1 == cmd->n && cmd->w[i].quoted && depth < MAX_NEST) {
		/* cmd /c "tftp -i h GET f & f": re-read the quoted text as a line */
		const char *t = cmd->w[i].text;
		size_t pos = 0, len = strlen(t);
		struct command inner;

		if (cmd->w[i].overlong)
			return;
		while (next_command(t, len, &pos, &inner))
			if (inner.n > 0)
				match_command(&inner, 0, depth + 1, ctx, out);
		return;
	}
	match_command(cmd, i, depth, ctx, out);
}

static void match_command(const struct command *cmd, size_t first, int depth,
			  struct ws_match_ctx *ctx, struct ws_match *out)
{
	const struct word *name = &cmd->w[first];
	struct ws_cmd *c;

	if (first >= cmd->n || name->overlong)
		return;
	if (names_program(name->text, "cmd")) {
		match_cmd_prefix(cmd, first + 1, depth, ctx, out);
		return;
	}
	if (names_program(name->text, "tftp")) {
		match_tftp(cmd, first + 1, ctx, out);
		return;
	}
	if (names_program(name->text, "start")) {
		match_start(cmd, first + 1, out);
		return;
	}
	if (!valid_file(name))
		return;
	/* execution: a name an earlier GET fetched, or one bare executable */
	if (was_fetched(ctx, name->text) ||
	    (cmd->n - first == 1 && !cmd->too_many && has_exec_ext(name->text))) {
		c = add_cmd(out, WS_ACT_EXEC);
		if (c)
			strcpy(c->file, name->text);
	}
}

size_t ws_match_line(const char *line, size_t len, struct ws_match_ctx *ctx, struct ws_match *out)
{
	struct command cmd;
	size_t pos = 0;

	out->ncmds = 0;
	while (out->ncmds < WS_MATCH_MAX_CMDS && next_command(line, len, &pos, &cmd))
		if (cmd.n > 0)
			match_command(&cmd, 0, 0, ctx, out);
	return out->ncmds;
}

const char *ws_action_name(enum ws_action a)
{
	switch (a) {
	case WS_ACT_GET:
		return "get";
	case WS_ACT_START:
		return "start";
	case WS_ACT_EXEC:
		return "exec";
	}
	return "unknown";
}
