/*
 * One cmd.exe session seen on the wire: which side types, the lines it
 * types, and what cmd.exe makes of them.
 *
 * Sources (cited by short name below):
 *  [KB830473]  Microsoft KB830473, "Command prompt (Cmd.exe) command-line
 *              string limitation": 8191 characters on XP and later (2047 on
 *              2000 and NT 4.0).
 *  [SO4094699] StackOverflow 4094699, "How does the Windows Command
 *              Interpreter (CMD.EXE) parse scripts?", answers by jeb and
 *              dbenham: the phases (1 percent expansion, 1.5 CR removal,
 *              2 special characters, quotes, ^, redirection, & | ( ), token
 *              delimiters <space> <tab> ; , = 0x0B 0x0C 0xFF, REM/IF/FOR
 *              detected in phase 2), and the command-line (not batch)
 *              context: an undefined %var% is left as typed, %% stays %%.
 *  [cmd]       Microsoft docs "cmd" (and `cmd /?`): /c and /k run the rest
 *              of the line; the quote rule (strip the first and the last
 *              quote unless the "exactly two quotes" case holds).
 *  [call] [if] [for] [set] [start] [echo] [ftp] [tftp]
 *              Microsoft docs of those commands (Windows Commands reference).
 *  [argv]      Microsoft docs "Parsing C command-line arguments": how an
 *              external program (tftp.exe, ftp.exe, rundll32.exe) splits the
 *              text cmd.exe hands it: space/tab, quotes, backslashes.
 *  [redir]     Microsoft docs "Using command redirection operators":
 *              > >> < with an optional handle digit, >&N / <&N.
 *  [Chen]      Raymond Chen, "Environment variable expansion occurs when the
 *              command is read" (The Old New Thing, 2006-08-23).
 *  [Nepenthes] [Dionaea]  shell emulators (peers.md): a per-session file
 *              system for echo > f and ftp -s:f scripts.
 *
 * Choices where the sources say nothing about a piped cmd.exe:
 *  - A line longer than 8191 bytes: its first 8191 bytes are run as one
 *    line and the rest, up to the LF, is dropped and counted (stats). An
 *    over-long line is how a dropper would hide from a line-length filter,
 *    so the visible part is kept for logging rather than thrown away.
 *  - "cmd/c": a '/' ends the command name when no ':' or '\' comes before it
 *    ("cmd/c", "dir/w" work in cmd.exe; "c:/x/tftp.exe" stays a path).
 *  - Conditions (if, &&, ||) are not evaluated: an attacker's line runs all
 *    its branches, so every dropper it names is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

#define ROLE_UNKNOWN 0
#define ROLE_ATTACKER 1
#define ROLE_VICTIM 2

#define LINE_CAP (WS_SHELL_LINE_MAX + 1)
#define MAX_DEPTH 4		/* cmd /c, call and for bodies nested */
#define MAX_REDIRS 4		/* redirections kept per command (more are parsed, not kept) */
#define MAX_ARGS 32		/* argv words kept for tftp/ftp/rundll32 */
#define FOR_ITEMS_MAX 8		/* iterations of one for loop run */
#define MGET_MAX 16
#define TOKEN_CAP 1024		/* one word of an internal command or a redirection target */
#define REPLACE_WORK_MAX (1u << 20)	/* byte compares one %x:a=b% may cost */

/* ------------------------------------------------------------- state */

struct side {
	uint8_t *buf;		/* the line being assembled, allocated on first byte */
	uint32_t len, cap;
	uint32_t over;		/* bytes of this line past WS_SHELL_LINE_MAX */
	uint32_t seen;		/* bytes fed, saturating (banner window) */
	uint8_t role;
	bool binary;		/* sent binary bytes while undecided (a stager's stage) */
	bool holed;		/* a hole cut the line: drop up to the next LF */
	bool scan_inq, scan_esc;	/* quote and ^ state of buf[0..scanned) */
	uint32_t scanned;
};

struct env {			/* the session's own set commands */
	unsigned n;
	size_t bytes;
	char *name[WS_SHELL_ENV_MAX];	/* each "name\0value\0" */
	bool deleted[WS_SHELL_ENV_MAX];	/* "set x=": x is unset, a default included */
};

struct vfile {
	char *name;		/* base name, lower case */
	uint8_t *data;
	size_t len, cap;	/* cap grows to need, up to WS_SHELL_FILE_BYTES */
};

struct vfs {
	unsigned n;
	struct vfile f[WS_SHELL_FILES_MAX];
};

struct fetched {
	unsigned next;
	char *name[WS_SHELL_FETCHED_MAX];	/* base names, lower case */
};

struct ftp {
	bool active;		/* interactive: the typed lines go to ftp */
	bool connected;
	bool autologin;		/* no -n: open asks for user, then password */
	bool anonymous;		/* -A */
	uint8_t want;		/* WANT_* */
	uint16_t port;
	char host[WS_SHELL_NAME_MAX + 1];
	size_t host_len;
	char user[WS_SHELL_NAME_MAX + 1];
	char pass[WS_SHELL_NAME_MAX + 1];
};

#define WANT_NONE 0
#define WANT_USER 1
#define WANT_PASS 2

struct ws_shell {
	struct side side[2];
	struct env *env;
	struct vfs *vfs;
	struct fetched *fetched;
	struct ftp *ftp;
	int ftp_side;
	struct ws_shell_stats st;
};

/* What one typed line may cost: commands run and events reported. */
struct limits {
	unsigned cmds;
	unsigned events;
	unsigned iterations;	/* for-loop bodies run (nested loops multiply) */
	unsigned batches;	/* .bat files run (a batch may run itself) */
};

#define LINE_LIMITS {WS_SHELL_CMDS_PER_LINE, WS_SHELL_EVENTS_PER_LINE, 64, 16}

/* One line being run: the session (NULL in a dry run) and where events go. */
struct run {
	struct ws_shell *s;
	int side;
	const struct timeval *ts;
	ws_shell_event_fn cb;
	void *arg;
	struct limits *lim;	/* shared by the whole line, nested runs included */
	bool hit;		/* dry run: a dropper command was seen */
	bool exited;		/* "exit" ran: the rest of the line does not */
	/* the output redirection of an enclosing "cmd /c" (inherited by its commands) */
	const char *inherit_target;
	size_t inherit_len;
	bool inherit_append;
};

struct redir {
	char op;		/* '>' write, 'a' append, '<' read */
	bool dup;		/* >&N: no file */
	int handle;		/* 0, 1, 2 ..., -1 when not given */
	char target[TOKEN_CAP];
	size_t tlen;
};

struct cmdline {		/* one simple command after phase 2 */
	char text[LINE_CAP];
	size_t len;
	unsigned nredir;
	struct redir r[MAX_REDIRS];
};

static void run_line(struct run *r, const char *raw, size_t len, int depth);
static void side_release(struct ws_shell *s, struct side *sd);
static void run_parsed(struct run *r, const char *t, size_t n, int depth);

/* ----------------------------------------------------------- helpers */

static void *heap_alloc(struct ws_shell *s, size_t n)
{
	void *p = calloc(1, n);

	if (p)
		s->st.heap += n;
	return p;
}

static void heap_free(struct ws_shell *s, void *p, size_t n)
{
	if (p) {
		free(p);
		s->st.heap -= n;
	}
}

/*
 * Grow *buf (cap bytes) by doubling to at least need bytes, at most max,
 * counted in the session's heap. Returns the new capacity, or 0 when out
 * of memory (*buf is then unchanged).
 */
static size_t grow_buffer(struct ws_shell *s, uint8_t **buf, size_t cap, size_t need, size_t max)
{
	size_t n = cap ? cap : 64;
	uint8_t *nb;

	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	if (!(nb = realloc(*buf, n)))
		return 0;
	s->st.heap += n - cap;
	*buf = nb;
	return n;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ieq_n(const char *a, size_t n, const char *b)
{
	size_t m = strlen(b);

	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* cmd.exe's token delimiters [SO4094699 phase 2]. */
static bool is_delim(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '=' || c == '\v' ||
	       c == '\f' || (unsigned char)c == 0xff;
}

/* What a program's C runtime splits arguments on [argv]. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static size_t skip_delims(const char *t, size_t n, size_t i)
{
	while (i < n && is_delim(t[i]))
		i++;
	return i;
}

/* The part of a path after the last '\', '/' or ':'. */
static const char *base_name(const char *p, size_t n, size_t *bn)
{
	size_t b = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] == '\\' || p[i] == '/' || p[i] == ':')
			b = i + 1;
	*bn = n - b;
	return p + b;
}

static bool has_suffix(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return n > m && ieq_n(s + n - m, m, suf);
}

/* PATHEXT of XP (.COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH) plus .pif/.scr. */
static const char *const exec_ext[] = {".exe", ".com", ".bat", ".cmd", ".pif", ".scr", ".vbs",
				       ".vbe", ".js", ".jse", ".wsf", ".wsh", NULL};

static bool has_exec_ext(const char *s, size_t n)
{
	for (const char *const *e = exec_ext; *e; e++)
		if (has_suffix(s, n, *e))
			return true;
	return false;
}

/* Name usable for fetching: not empty, no control byte, not over 255. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > WS_SHELL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Base name, lower case, ".exe"-less stem length in *stem. */
static size_t norm_name(char *dst, size_t cap, const char *p, size_t n, size_t *stem)
{
	size_t bn, k;
	const char *b = base_name(p, n, &bn);

	k = ws_copy_cut(dst, cap, b, bn);
	for (size_t i = 0; i < k; i++)
		dst[i] = lower(dst[i]);
	*stem = k;
	for (size_t i = k; i > 0; i--)
		if (dst[i - 1] == '.') {
			*stem = i - 1;
			break;
		}
	return k;
}

/* ------------------------------------------------------- environment */

/* XP's environment for a SYSTEM shell (a worm's shell runs as SYSTEM). */
static const char *const default_env[][2] = {
	{"ALLUSERSPROFILE", "C:\\Documents and Settings\\All Users"},
	{"CommonProgramFiles", "C:\\Program Files\\Common Files"},
	{"ComSpec", "C:\\WINDOWS\\system32\\cmd.exe"},
	{"CD", "C:\\WINDOWS\\system32"},
	{"NUMBER_OF_PROCESSORS", "1"},
	{"OS", "Windows_NT"},
	{"Path", "C:\\WINDOWS\\system32;C:\\WINDOWS;C:\\WINDOWS\\System32\\Wbem"},
	{"PATHEXT", ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH"},
	{"PROCESSOR_ARCHITECTURE", "x86"},
	{"ProgramFiles", "C:\\Program Files"},
	{"PROMPT", "$P$G"},
	{"SystemDrive", "C:"},
	{"SystemRoot", "C:\\WINDOWS"},
	{"TEMP", "C:\\WINDOWS\\TEMP"},
	{"TMP", "C:\\WINDOWS\\TEMP"},
	{"USERPROFILE", "C:\\Documents and Settings\\Default User"},
	{"windir", "C:\\WINDOWS"},
};

/* The session's value of name[0..n): true and *val, or false if unset. */
static bool env_get(const struct ws_shell *s, const char *name, size_t n, const char **val)
{
	if (s && s->env)
		for (unsigned i = 0; i < s->env->n; i++)
			if (ieq_n(name, n, s->env->name[i])) {
				if (s->env->deleted[i])
					return false;
				*val = s->env->name[i] + strlen(s->env->name[i]) + 1;
				return true;
			}
	for (size_t i = 0; i < sizeof(default_env) / sizeof(default_env[0]); i++)
		if (ieq_n(name, n, default_env[i][0])) {
			*val = default_env[i][1];
			return true;
		}
	return false;
}

static void env_set(struct run *r, const char *name, size_t n, const char *val, size_t vn)
{
	struct ws_shell *s = r->s;
	struct env *e;
	unsigned i;
	char *ent;

	if (!s || n == 0 || memchr(name, '\0', n))
		return;
	if (memchr(val, '\0', vn))	/* an environment string ends at a NUL */
		vn = (size_t)((const char *)memchr(val, '\0', vn) - val);
	if (!s->env && !(s->env = heap_alloc(s, sizeof(*s->env))))
		goto full;
	e = s->env;
	for (i = 0; i < e->n; i++)
		if (ieq_n(name, n, e->name[i]))
			break;
	if (i == e->n && e->n == WS_SHELL_ENV_MAX)
		goto full;
	if (i < e->n) {
		size_t old = strlen(e->name[i]) + 1;

		old += strlen(e->name[i] + old) + 1;
		e->bytes -= old;
		heap_free(s, e->name[i], old);
		e->name[i] = NULL;
	}
	if (e->bytes + n + vn + 2 > WS_SHELL_ENV_BYTES || !(ent = heap_alloc(s, n + vn + 2))) {
		if (i < e->n) {	/* keep the table dense */
			e->name[i] = e->name[--e->n];
			e->deleted[i] = e->deleted[e->n];
		}
		goto full;
	}
	memcpy(ent, name, n);
	memcpy(ent + n + 1, val, vn);
	e->bytes += n + vn + 2;
	e->name[i] = ent;
	e->deleted[i] = vn == 0;	/* "set x=" deletes x [set] */
	if (i == e->n)
		e->n++;
	return;
full:
	s->st.state_full++;
}

/*
 * %name:~start[,len]% [set]: negative start counts from the end, negative
 * len leaves that many off the end.
 */
static bool substring(const char *v, size_t vn, const char *spec, size_t sn, const char **out,
		      size_t *on)
{
	long a = 0, b = (long)vn;
	size_t i = 0;
	bool neg = false, have_b = false;

	if (i < sn && spec[i] == '-')
		neg = true, i++;
	for (; i < sn && spec[i] >= '0' && spec[i] <= '9'; i++)
		if (a < 100000)
			a = a * 10 + (spec[i] - '0');
	a = neg ? -a : a;
	if (i < sn && spec[i] == ',') {
		long m = 0;

		i++;
		neg = false;
		if (i < sn && spec[i] == '-')
			neg = true, i++;
		for (; i < sn && spec[i] >= '0' && spec[i] <= '9'; i++)
			if (m < 100000)
				m = m * 10 + (spec[i] - '0');
		b = neg ? -m : m;
		have_b = true;
	}
	if (i != sn)
		return false;
	if (a < 0)
		a = (long)vn + a < 0 ? 0 : (long)vn + a;
	if (a > (long)vn)
		a = (long)vn;
	if (!have_b)
		b = (long)vn - a;
	else if (b < 0)
		b = (long)vn + b - a < 0 ? 0 : (long)vn + b - a;
	if (a + b > (long)vn)
		b = (long)vn - a;
	*out = v + a;
	*on = (size_t)b;
	return true;
}

static size_t put(char *out, size_t o, const char *src, size_t n)
{
	if (o >= WS_SHELL_LINE_MAX)
		return o;
	if (n > WS_SHELL_LINE_MAX - o)
		n = WS_SHELL_LINE_MAX - o;
	memcpy(out + o, src, n);
	return o + n;
}

/* %name:old=new% [set]: every case-insensitive "old" replaced. */
static size_t replace_all(char *out, size_t o, const char *v, size_t vn, const char *from,
			  size_t fn, const char *to, size_t tn)
{
	size_t i = 0;

	/* bounded work: a hostile "%x:<8000 a's>=%" must not cost 10^8 compares */
	if (fn == 0 || (uint64_t)fn * vn > REPLACE_WORK_MAX)
		return put(out, o, v, vn);
	while (i < vn && o < WS_SHELL_LINE_MAX) {
		if (i + fn <= vn) {
			bool m = true;

			for (size_t k = 0; k < fn && m; k++)
				m = lower(v[i + k]) == lower(from[k]);
			if (m) {
				o = put(out, o, to, tn);
				i += fn;
				continue;
			}
		}
		o = put(out, o, v + i, 1);
		i++;
	}
	return o;
}

/*
 * Phase 1 (command-line context) and 1.5 [SO4094699]: %name% and its
 * :~ and := forms are replaced when name is set, else left as typed and the
 * scan goes on from the second '%'; then every CR is removed. Output is
 * bounded to WS_SHELL_LINE_MAX bytes.
 */
static size_t expand(const struct ws_shell *s, const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	while (i < n && o < WS_SHELL_LINE_MAX) {
		const char *close, *val, *colon;
		size_t nl, vn;

		if (in[i] != '%' || !(close = memchr(in + i + 1, '%', n - i - 1))) {
			if (in[i] != '\r')
				out[o++] = in[i];
			i++;
			continue;
		}
		nl = (size_t)(close - (in + i + 1));
		colon = memchr(in + i + 1, ':', nl);
		if (!env_get(s, in + i + 1, colon ? (size_t)(colon - in - i - 1) : nl, &val)) {
			out[o++] = '%';	/* undefined: kept, scan goes on */
			i++;
			continue;
		}
		vn = strlen(val);
		if (colon && colon[1] == '~') {
			const char *sub;
			size_t sn;

			if (substring(val, vn, colon + 2, (size_t)(close - colon - 2), &sub, &sn))
				o = put(out, o, sub, sn);
		} else if (colon) {
			const char *eq = memchr(colon + 1, '=', (size_t)(close - colon - 1));

			if (eq)
				o = replace_all(out, o, val, vn, colon + 1, (size_t)(eq - colon - 1),
						eq + 1, (size_t)(close - eq - 1));
			else
				o = put(out, o, in + i, nl + 2);
		} else {
			o = put(out, o, val, vn);
		}
		i += nl + 2;
	}
	/* phase 1.5: CRs go, those a variable's value brought included */
	{
		size_t w = 0;

		for (size_t k = 0; k < o; k++)
			if (out[k] != '\r')
				out[w++] = out[k];
		o = w;
	}
	out[o] = '\0';
	return o;
}

/* --------------------------------------------------- file system, names */

static struct vfile *vfs_find(struct ws_shell *s, const char *name, size_t n)
{
	char key[WS_SHELL_NAME_MAX + 1];
	size_t stem, k;

	if (!s || !s->vfs)
		return NULL;
	k = norm_name(key, sizeof(key), name, n, &stem);
	for (unsigned i = 0; i < s->vfs->n; i++)
		if (strlen(s->vfs->f[i].name) == k && memcmp(s->vfs->f[i].name, key, k) == 0)
			return &s->vfs->f[i];
	return NULL;
}

/* echo TEXT > f / >> f: the file gets TEXT and a line end. */
static void vfs_write(struct run *r, const char *name, size_t n, bool append, const char *text,
		      size_t tn)
{
	struct ws_shell *s = r->s;
	struct vfile *f;
	char key[WS_SHELL_NAME_MAX + 1];
	size_t stem, k, keep;
	uint8_t *d;

	if (!s || memchr(name, '\0', n))
		return;	/* no file name holds a NUL */
	if (!(f = vfs_find(s, name, n))) {
		if (!s->vfs && !(s->vfs = heap_alloc(s, sizeof(*s->vfs))))
			goto full;
		if (s->vfs->n == WS_SHELL_FILES_MAX)
			goto full;
		k = norm_name(key, sizeof(key), name, n, &stem);
		f = &s->vfs->f[s->vfs->n];
		if (!(f->name = heap_alloc(s, k + 1)))
			goto full;
		memcpy(f->name, key, k);
		s->vfs->n++;
	}
	if (!append)
		f->len = 0;
	keep = tn + 1;
	if (f->len + keep > WS_SHELL_FILE_BYTES) {
		s->st.state_full++;
		if (f->len >= WS_SHELL_FILE_BYTES)
			return;
		keep = WS_SHELL_FILE_BYTES - f->len;
	}
	if (f->len + keep > f->cap) {
		size_t cap = grow_buffer(s, &f->data, f->cap, f->len + keep, WS_SHELL_FILE_BYTES);

		if (!cap)
			goto full;
		f->cap = cap;
	}
	d = f->data + f->len;
	if (keep > tn) {
		memcpy(d, text, tn);
		d[tn] = '\n';
	} else {
		memcpy(d, text, keep);
	}
	f->len += keep;
	return;
full:
	s->st.state_full++;
}

static void vfs_delete(struct ws_shell *s, const char *name, size_t n)
{
	struct vfile *f = vfs_find(s, name, n);

	if (!f)
		return;
	heap_free(s, f->name, strlen(f->name) + 1);
	heap_free(s, f->data, f->cap);
	*f = s->vfs->f[--s->vfs->n];
	memset(&s->vfs->f[s->vfs->n], 0, sizeof(s->vfs->f[0]));
}

static void remember_fetched(struct ws_shell *s, const char *name, size_t n)
{
	char key[WS_SHELL_NAME_MAX + 1];
	size_t stem, k;
	struct fetched *fe;

	if (!s || n == 0 || memchr(name, '\0', n))
		return;	/* not a name Windows could have saved */
	if (!s->fetched && !(s->fetched = heap_alloc(s, sizeof(*s->fetched)))) {
		s->st.state_full++;
		return;
	}
	fe = s->fetched;
	k = norm_name(key, sizeof(key), name, n, &stem);
	if (k == 0)
		return;
	for (unsigned i = 0; i < WS_SHELL_FETCHED_MAX; i++)
		if (fe->name[i] && strcmp(fe->name[i], key) == 0)
			return;
	if (fe->name[fe->next])
		heap_free(s, fe->name[fe->next], strlen(fe->name[fe->next]) + 1);
	if (!(fe->name[fe->next] = heap_alloc(s, k + 1))) {
		s->st.state_full++;
		return;
	}
	memcpy(fe->name[fe->next], key, k);
	fe->next = (fe->next + 1) % WS_SHELL_FETCHED_MAX;
}

/*
 * Was this program name fetched by the session? Same base name, or the
 * name without extension when the fetched name has an executable one
 * (cmd.exe tries PATHEXT: "sqlite3" runs sqlite3.exe).
 */
static bool was_fetched(const struct ws_shell *s, const char *name, size_t n)
{
	char key[WS_SHELL_NAME_MAX + 1];
	size_t stem, k;

	if (!s || !s->fetched || n == 0)
		return false;
	k = norm_name(key, sizeof(key), name, n, &stem);
	for (unsigned i = 0; i < WS_SHELL_FETCHED_MAX; i++) {
		const char *f = s->fetched->name[i];
		size_t fl;

		if (!f)
			continue;
		fl = strlen(f);
		if (fl == k && memcmp(f, key, k) == 0)
			return true;
		if (stem == k && fl > k && f[k] == '.' && memcmp(f, key, k) == 0 &&
		    has_exec_ext(f, fl) && !memchr(f + k + 1, '.', fl - k - 1))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ events */

static void emit(struct run *r, struct ws_shell_event *ev)
{
	struct ws_shell *s = r->s;
	struct side *sd;

	if (!s) {
		r->hit = true;
		return;
	}
	sd = &s->side[r->side];
	if (sd->role == ROLE_UNKNOWN) {
		/*
		 * An undecided side is decided by a download or a start only: a
		 * bare "x.exe" line could be a victim's output (tasklist, dir /b).
		 */
		if (ev->action == WS_SHELL_EXEC) {
			s->st.unattributed++;
			return;
		}
		sd->role = ROLE_ATTACKER;
		if (s->side[!r->side].role == ROLE_UNKNOWN) {
			s->side[!r->side].role = ROLE_VICTIM;
			side_release(s, &s->side[!r->side]);
		}
	}
	if (sd->role != ROLE_ATTACKER)
		return;
	if (r->lim->events == 0) {
		s->st.over_budget++;
		return;
	}
	r->lim->events--;
	if (ev->action == WS_SHELL_GET || ev->action == WS_SHELL_FTP_GET) {
		if (ev->local_len)
			remember_fetched(s, ev->local, ev->local_len);
		else
			remember_fetched(s, ev->file, ev->file_len);
	}
	ev->attacker = r->side;
	ev->ts = r->ts;
	ev->name_ok = name_ok(ev->file, ev->file_len) &&
		      (ev->local_len == 0 || name_ok(ev->local, ev->local_len));
	s->st.events++;
	if (r->cb)
		r->cb(ev, r->arg);
}

static void emit_simple(struct run *r, enum ws_shell_action a, const char *file, size_t n)
{
	struct ws_shell_event ev;
	char buf[LINE_CAP];

	memset(&ev, 0, sizeof(ev));
	ev.action = a;
	ev.file_len = ws_copy_cut(buf, sizeof(buf), file, n);
	ev.file = buf;
	ev.local = ev.host = ev.user = ev.pass = "";
	emit(r, &ev);
}

static void emit_fetch(struct run *r, enum ws_shell_action a, const char *host, size_t hn,
		       uint16_t port, const char *file, size_t fn, const char *local, size_t ln,
		       const char *user, const char *pass)
{
	struct ws_shell_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.action = a;
	ev.file = file;
	ev.file_len = fn;
	ev.local = local;
	ev.local_len = ln;
	ev.host = host;
	ev.host_len = hn;
	if (!ws_inet_addr(host, hn, &ev.addr))
		ev.addr.family = WS_AF_NONE;
	ev.port = port;
	ev.proto = a == WS_SHELL_GET ? WS_SHELL_PROTO_TFTP : WS_SHELL_PROTO_FTP;
	ev.user = user ? user : "";
	ev.pass = pass ? pass : "";
	emit(r, &ev);
}

/* ------------------------------------------------------- program argv */

struct argv {
	unsigned n;
	bool more;			/* words past MAX_ARGS */
	const char *w[MAX_ARGS];	/* each NUL-terminated inside buf */
	size_t len[MAX_ARGS];
	char buf[LINE_CAP + MAX_ARGS];
};

/*
 * Split what a program receives into words as its C runtime does [argv]:
 * space/tab separate outside quotes; a quote toggles; 2n backslashes before
 * a quote give n and the quote counts, 2n+1 give n and a literal quote;
 * other backslashes are literal.
 */
static void split_argv(const char *t, size_t n, struct argv *av)
{
	size_t i = 0, o = 0;

	av->n = 0;
	av->more = false;
	for (;;) {
		bool inq = false;
		size_t start;

		while (i < n && is_blank(t[i]))
			i++;
		if (i >= n)
			break;
		start = o;
		while (i < n && (inq || !is_blank(t[i]))) {
			size_t bs = 0;

			while (i < n && t[i] == '\\')
				bs++, i++;
			if (i < n && t[i] == '"') {
				for (size_t k = 0; k < bs / 2; k++)
					av->buf[o++] = '\\';
				if (bs % 2) {
					av->buf[o++] = '"';
				} else {
					inq = !inq;
				}
				i++;
				continue;
			}
			for (size_t k = 0; k < bs; k++)
				av->buf[o++] = '\\';
			if (i < n && (inq || !is_blank(t[i])))
				av->buf[o++] = t[i++];
		}
		if (av->n == MAX_ARGS) {
			av->more = true;
			o = start;
			continue;
		}
		av->w[av->n] = av->buf + start;
		av->len[av->n] = o - start;
		av->buf[o++] = '\0';
		av->n++;
	}
}

/* --------------------------------------------------- internal commands */

/* The next cmd.exe token of an internal command's arguments; quotes kept. */
static size_t next_token(const char *t, size_t n, size_t i, size_t *ts, size_t *te)
{
	bool inq = false;

	i = skip_delims(t, n, i);
	*ts = i;
	while (i < n && (inq || !is_delim(t[i]))) {
		if (t[i] == '"')
			inq = !inq;
		i++;
	}
	*te = i;
	return i;
}

static void unquote(const char **p, size_t *n)
{
	if (*n >= 1 && (*p)[0] == '"') {
		(*p)++, (*n)--;
		if (*n >= 1 && (*p)[*n - 1] == '"')
			(*n)--;
	}
}

/* The file an output redirection names, or NULL (none, a handle, a device). */
static const char *out_file(struct run *r, const struct cmdline *c, size_t *n, bool *append)
{
	for (unsigned k = c->nredir; k > 0; k--) {
		const struct redir *d = &c->r[k - 1];
		const char *p = d->target;
		size_t len = d->tlen, bn;

		if (d->op == '<' || d->dup || (d->handle != -1 && d->handle != 1))
			continue;
		unquote(&p, &len);
		base_name(p, len, &bn);
		if (ieq_n(p, len, "nul") || ieq_n(p, len, "con") || ieq_n(p, len, "prn") || len == 0)
			return NULL;
		*n = len;
		*append = d->op == 'a';
		return p;
	}
	if (r->inherit_target) {
		*n = r->inherit_len;
		*append = r->inherit_append;
		r->inherit_append = true;	/* one file opened for the whole cmd /c */
		return r->inherit_target;
	}
	return NULL;
}

/* echo [TEXT] [echo]: TEXT is everything after the first delimiter. */
static void do_echo(struct run *r, const struct cmdline *c, size_t textpos)
{
	const char *file, *text = c->text + textpos;
	size_t fn, tn = c->len - textpos;
	bool append;

	if (!(file = out_file(r, c, &fn, &append)))
		return;
	if (tn > 0 && (is_delim(text[0]) || strchr(".:(/\\[]+", text[0])))
		text++, tn--;
	if (ieq_n(text, tn, "on") || ieq_n(text, tn, "off"))
		return;
	if (!r->s) {
		r->hit = true;	/* echo into a file: how droppers write ftp scripts */
		return;
	}
	if (tn == 0)
		text = "ECHO is on.", tn = 11;
	vfs_write(r, file, fn, append, text, tn);
}

/* set NAME=VALUE, set "NAME=VALUE" [set]; /a and /p are not modelled. */
static void do_set(struct run *r, const struct cmdline *c, size_t pos)
{
	const char *t = c->text, *eq, *p;
	size_t n = c->len, len;

	while (pos < n && is_blank(t[pos]))
		pos++;
	if (pos + 1 < n && t[pos] == '/')
		return;
	p = t + pos;
	len = n - pos;
	if (len > 0 && p[0] == '"') {
		const char *q = memrchr(p + 1, '"', len - 1);

		p++;
		len = q ? (size_t)(q - p) : len - 1;
	}
	if (!(eq = memchr(p, '=', len)) || eq == p)
		return;
	env_set(r, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1);
}

/* start ["title"] [/opts] PROGRAM [args] [start]: a start of PROGRAM. */
static void do_start(struct run *r, const struct cmdline *c, size_t pos)
{
	const char *t = c->text;
	size_t n = c->len, a, b;
	bool first = true;

	for (;;) {
		const char *w;
		size_t wn;

		pos = next_token(t, n, pos, &a, &b);
		if (a == b)
			return;
		w = t + a;
		wn = b - a;
		if (first && w[0] == '"') {
			first = false;	/* the first quoted argument is the title */
			continue;
		}
		first = false;
		if (w[0] == '/') {
			if (ieq_n(w, wn, "/d") || ieq_n(w, wn, "/node") || ieq_n(w, wn, "/affinity"))
				pos = next_token(t, n, pos, &a, &b);
			continue;
		}
		unquote(&w, &wn);
		emit_simple(r, WS_SHELL_START, w, wn);
		return;
	}
}

/* del/erase [/opts] NAMES: the files leave the virtual file system. */
static void do_del(struct run *r, const struct cmdline *c, size_t pos)
{
	size_t a, b;

	if (!r->s)
		return;
	for (;;) {
		const char *w;
		size_t wn;

		pos = next_token(c->text, c->len, pos, &a, &b);
		if (a == b)
			return;
		w = c->text + a;
		wn = b - a;
		if (w[0] == '/')
			continue;
		unquote(&w, &wn);
		vfs_delete(r->s, w, wn);
	}
}

/* ----------------------------------------------------------------- ftp */

static uint16_t parse_port(const char *p, size_t n, uint16_t dflt)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return dflt;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return dflt;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (uint16_t)v : dflt;
}

static void ftp_open(struct ftp *f, const char *host, size_t hn, const char *port, size_t pn)
{
	if (hn == 0)
		return;
	f->host_len = ws_copy_cut(f->host, sizeof(f->host), host, hn);
	f->port = parse_port(port, pn, 21);
	f->connected = true;
	f->user[0] = f->pass[0] = '\0';
	f->want = WANT_NONE;
	if (f->anonymous)
		strcpy(f->user, "anonymous");
	else if (f->autologin)
		f->want = WANT_USER;	/* "User (host:(none)):" then "Password:" [ftp] */
}

static void ftp_get(struct run *r, struct ftp *f, const char *rem, size_t rn, const char *loc,
		    size_t ln)
{
	if (!f->connected)
		return;
	emit_fetch(r, WS_SHELL_FTP_GET, f->host, f->host_len, f->port, rem, rn, loc, ln,
		   f->user[0] ? f->user : "anonymous", f->pass);
}

/*
 * One line read by ftp.exe (script or typed) [ftp]: the login answers
 * first, then commands: open, user, get/recv, mget, bye/quit. Returns false
 * when ftp ends.
 */
static bool ftp_line(struct run *r, struct ftp *f, const char *line, size_t n)
{
	struct argv *av;
	bool go_on = true;
	const char *cmd;
	size_t cn;

	while (n > 0 && (is_blank(line[n - 1]) || line[n - 1] == '\r'))
		n--;
	while (n > 0 && is_blank(line[0]))
		line++, n--;
	if (f->want == WANT_USER) {
		ws_copy_cut(f->user, sizeof(f->user), line, n);
		f->want = WANT_PASS;
		return true;
	}
	if (f->want == WANT_PASS) {
		ws_copy_cut(f->pass, sizeof(f->pass), line, n);
		f->want = WANT_NONE;
		return true;
	}
	if (!(av = malloc(sizeof(*av))))
		return true;
	split_argv(line, n, av);
	if (av->n == 0)
		goto done;
	cmd = av->w[0];
	cn = av->len[0];
	if (ieq_n(cmd, cn, "bye") || ieq_n(cmd, cn, "quit")) {
		go_on = false;
	} else if ((ieq_n(cmd, cn, "open") || ieq_n(cmd, cn, "o")) && av->n >= 2) {
		ftp_open(f, av->w[1], av->len[1], av->n >= 3 ? av->w[2] : "", av->n >= 3 ? av->len[2] : 0);
	} else if (ieq_n(cmd, cn, "user") && av->n >= 2) {
		ws_copy_cut(f->user, sizeof(f->user), av->w[1], av->len[1]);
		f->pass[0] = '\0';
		if (av->n >= 3)
			ws_copy_cut(f->pass, sizeof(f->pass), av->w[2], av->len[2]);
		else
			f->want = WANT_PASS;
	} else if ((ieq_n(cmd, cn, "get") || ieq_n(cmd, cn, "recv")) && av->n >= 2) {
		ftp_get(r, f, av->w[1], av->len[1], av->n >= 3 ? av->w[2] : "",
			av->n >= 3 ? av->len[2] : 0);
	} else if (ieq_n(cmd, cn, "mget")) {
		for (unsigned k = 1; k < av->n && k <= MGET_MAX; k++)
			ftp_get(r, f, av->w[k], av->len[k], "", 0);
	} else if (ieq_n(cmd, cn, "close") || ieq_n(cmd, cn, "disconnect")) {
		f->connected = false;
	}
done:
	free(av);
	return go_on;
}

/* Run the lines of a virtual file through ftp; false when it quit. */
static bool ftp_script(struct run *r, struct ftp *f, const struct vfile *vf)
{
	size_t i = 0;
	unsigned lines = 0;

	while (i < vf->len && lines++ < WS_SHELL_FILE_BYTES) {
		const uint8_t *lf = memchr(vf->data + i, '\n', vf->len - i);
		size_t end = lf ? (size_t)(lf - vf->data) : vf->len;

		if (!ftp_line(r, f, (const char *)vf->data + i, end - i))
			return false;
		i = end + 1;
	}
	return true;
}

/*
 * ftp [-v] [-d] [-i] [-n] [-g] [-s:FILE] [-a] [-A] [-x:N] [-r:N] [-b:N]
 * [-w:N] [HOST] [ftp]. With -s: the script runs now, and if it does not quit
 * ftp goes on reading the lines typed next; without it they are typed into
 * ftp until bye or quit. A port after HOST is taken (ftp.exe wants "open
 * HOST PORT"; the interactive form allows it).
 */
static void do_ftp(struct run *r, const char *args, size_t n)
{
	struct argv *av = malloc(sizeof(*av));
	struct ftp f;
	const char *script = NULL, *host = NULL, *port = "";
	size_t sn = 0, hn = 0, pn = 0;

	if (!av)
		return;
	memset(&f, 0, sizeof(f));
	f.autologin = true;
	split_argv(args, n, av);
	for (unsigned k = 0; k < av->n; k++) {
		const char *w = av->w[k];
		size_t wn = av->len[k];

		if ((w[0] == '-' || w[0] == '/') && wn >= 2) {
			if (lower(w[1]) == 's' && wn > 3 && w[2] == ':')
				script = w + 3, sn = wn - 3;
			else if (wn == 2 && w[1] == 'n')
				f.autologin = false;
			else if (wn == 2 && w[1] == 'A')
				f.anonymous = true;
		} else if (!host) {
			host = w, hn = wn;
		} else if (pn == 0) {
			port = w, pn = wn;
		}
	}
	if (!r->s) {
		r->hit = r->hit || script || host;
		goto done;
	}
	if (host)
		ftp_open(&f, host, hn, port, pn);
	if (script) {
		const struct vfile *vf;

		unquote(&script, &sn);
		/* a script we did not see written: ftp.exe would run it, we cannot */
		if (!(vf = vfs_find(r->s, script, sn)))
			goto done;
		if (!ftp_script(r, &f, vf))
			goto done;	/* quit in the script */
	}
	if (!r->s->ftp && !(r->s->ftp = heap_alloc(r->s, sizeof(*r->s->ftp)))) {
		r->s->st.state_full++;
		goto done;
	}
	*r->s->ftp = f;
	r->s->ftp->active = true;
	r->s->ftp_side = r->side;
done:
	free(av);
}

/* ------------------------------------------------ external programs */

/* tftp [-i] HOST GET SOURCE [DESTINATION] [tftp]. */
static void do_tftp(struct run *r, const char *args, size_t n)
{
	struct argv *av = malloc(sizeof(*av));
	unsigned i = 0;

	if (!av)
		return;
	split_argv(args, n, av);
	if (i < av->n && (ieq_n(av->w[i], av->len[i], "-i") || ieq_n(av->w[i], av->len[i], "/i")))
		i++;
	if (!av->more && (av->n - i == 3 || av->n - i == 4) && av->len[i] > 0 && av->w[i][0] != '-' &&
	    ieq_n(av->w[i + 1], av->len[i + 1], "get"))
		emit_fetch(r, WS_SHELL_GET, av->w[i], av->len[i], 69, av->w[i + 2],
			   av->len[i + 2], av->n - i == 4 ? av->w[i + 3] : "",
			   av->n - i == 4 ? av->len[i + 3] : 0, NULL, NULL);
	free(av);
}

/* rundll32 DLL,ENTRY [args]: DLL runs. */
static void do_rundll(struct run *r, const char *args, size_t n)
{
	struct argv *av = malloc(sizeof(*av));

	if (!av)
		return;
	split_argv(args, n, av);
	if (av->n >= 1) {
		const char *comma = memchr(av->w[0], ',', av->len[0]);

		emit_simple(r, WS_SHELL_EXEC, av->w[0],
			    comma ? (size_t)(comma - av->w[0]) : av->len[0]);
	}
	free(av);
}

/*
 * cmd [/switches] /c|/k REST [cmd]: REST is a command line of its own. If it
 * starts with a quote, the first and the last quote go ("old behaviour" of
 * cmd /?; its "exactly two quotes around an executable's name" case needs
 * the victim's disk, and keeps the same words).
 */
static void do_cmd(struct run *r, const struct cmdline *c, size_t pos, int depth)
{
	const char *t = c->text, *rest = NULL;
	size_t n = c->len, a, b, rn;
	struct run sub;
	const char *last;
	char *line;

	for (;;) {
		pos = next_token(t, n, pos, &a, &b);
		if (a == b || t[a] != '/')
			return;	/* no /c or /k: a new shell reading the same input */
		if (b - a >= 2 && (lower(t[a + 1]) == 'c' || lower(t[a + 1]) == 'k' ||
				   lower(t[a + 1]) == 'r')) {
			rest = t + a + 2;
			break;
		}
	}
	rn = (size_t)(t + n - rest);
	while (rn > 0 && is_delim(rest[0]))
		rest++, rn--;
	if (!(line = malloc(rn + 1)))
		return;
	memcpy(line, rest, rn);
	if (rn > 0 && line[0] == '"' && (last = memrchr(line + 1, '"', rn - 1))) {
		size_t q = (size_t)(last - line);

		memmove(line + q, line + q + 1, rn - q - 1);
		memmove(line, line + 1, rn - 2);
		rn -= 2;
	} else if (rn > 0 && line[0] == '"') {
		memmove(line, line + 1, --rn);
	}
	sub = *r;
	sub.inherit_target = NULL;
	{
		size_t fn;
		bool app;
		const char *f = out_file(r, c, &fn, &app);

		if (f) {
			sub.inherit_target = f;
			sub.inherit_len = fn;
			sub.inherit_append = app;
		}
	}
	run_line(&sub, line, rn, depth + 1);
		r->hit = sub.hit;
	free(line);
}

/*
 * Where a program's arguments start: after argv[0], which its C runtime
 * ends at the first space or tab outside quotes [argv] -- not where cmd.exe
 * ended the command name, so "tftp,-i h GET f" gives tftp "h GET f".
 */
static size_t prog_args(const char *t, size_t n)
{
	bool inq = false;
	size_t i = 0;

	for (; i < n && (inq || !is_blank(t[i])); i++)
		if (t[i] == '"')
			inq = !inq;
	return i;
}

/* A program word: cmd, tftp, ftp, rundll32 with or without path and .exe. */
static bool is_program(const char *w, size_t n, const char *prog)
{
	size_t bn;
	const char *b = base_name(w, n, &bn);

	return ieq_n(b, bn, prog) ||
	       (bn == strlen(prog) + 4 && ieq_n(b, bn - 4, prog) && has_suffix(b, bn, ".exe"));
}

/* ---------------------------------------------------- one simple command */

/*
 * The command name: up to a delimiter outside quotes, or a '/' with no ':'
 * or '\' before it ("cmd/c"), or the '.' '(' of "echo." "echo(".
 */
static size_t command_word(const char *t, size_t n)
{
	bool inq = false, path = false;
	size_t i = 0;

	for (; i < n; i++) {
		char c = t[i];

		if (c == '"') {
			inq = !inq;
			continue;
		}
		if (inq)
			continue;
		if (is_delim(c))
			break;
		if (c == ':' || c == '\\')
			path = true;
		if (c == '/' && !path && i > 0)
			break;
		if (i == 4 && ieq_n(t, 4, "echo") && strchr(".:(\\[]+", c))
			break;
	}
	return i;
}

/*
 * A .bat/.cmd the session wrote with echo runs its lines (batch context:
 * the same phases; %0..%9 and %% differences are not modelled). An exit
 * in it ends the shell, so the rest of the typed line does not run.
 */
static void run_batch(struct run *r, const char *name, size_t nn, int depth)
{
	const struct vfile *vf = vfs_find(r->s, name, nn);
	uint8_t *copy;
	size_t i = 0;

	if (!vf || !vf->len || r->lim->batches == 0 || !(copy = malloc(vf->len)))
		return;
	r->lim->batches--;
	memcpy(copy, vf->data, vf->len);	/* the batch may rewrite itself */
	for (size_t len = vf->len; i < len && !r->exited;) {
		const uint8_t *lf = memchr(copy + i, '\n', len - i);
		size_t end = lf ? (size_t)(lf - copy) : len;

		run_line(r, (const char *)copy + i, end - i, depth + 1);
		i = end + 1;
	}
	free(copy);
}

static void exec_simple(struct run *r, const struct cmdline *c, int depth)
{
	const char *t = c->text, *name;
	size_t n = c->len, wl, nn, off;

	while (n > 0 && is_delim(t[0]))	/* ">nul tftp ...": the redirection left a space */
		t++, n--;
	if (n == 0)
		return;
	off = (size_t)(t - c->text);
	wl = command_word(t, n);
	name = t;
	nn = wl;
	unquote(&name, &nn);
	if (nn == 0)
		return;
	if (ieq_n(t, wl, "echo")) {
		do_echo(r, c, off + wl);
	} else if (ieq_n(t, wl, "set")) {
		do_set(r, c, off + wl);
	} else if (ieq_n(t, wl, "start")) {
		do_start(r, c, off + wl);
	} else if (ieq_n(t, wl, "call")) {
		if (depth < MAX_DEPTH)	/* call runs its arguments as a command [call] */
			run_line(r, t + wl, n - wl, depth + 1);
	} else if (ieq_n(t, wl, "del") || ieq_n(t, wl, "erase")) {
		do_del(r, c, off + wl);
	} else if (is_program(name, nn, "cmd")) {
		if (depth < MAX_DEPTH)
			do_cmd(r, c, off + wl, depth);
	} else if (ieq_n(t, wl, "exit")) {
		r->exited = true;	/* nothing after it on the line runs */
	} else if (is_program(name, nn, "tftp")) {
		do_tftp(r, t + prog_args(t, n), n - prog_args(t, n));
	} else if (is_program(name, nn, "ftp")) {
		do_ftp(r, t + prog_args(t, n), n - prog_args(t, n));
	} else if (is_program(name, nn, "rundll32")) {
		do_rundll(r, t + prog_args(t, n), n - prog_args(t, n));
	} else if (was_fetched(r->s, name, nn) || has_exec_ext(name, nn)) {
		emit_simple(r, WS_SHELL_EXEC, name, nn);
		if (depth < MAX_DEPTH && (has_suffix(name, nn, ".bat") || has_suffix(name, nn, ".cmd")))
			run_batch(r, name, nn, depth);
	}
}

/* --------------------------------------------------------------- phase 2 */

/*
 * A redirection at t[i] ('<' or '>') [redir]: its operator, an optional
 * handle digit that stood alone just before it (taken back out of the
 * command text), >&N, and the target word. Returns the index after it.
 */
static size_t read_redir(const char *t, size_t n, size_t i, struct cmdline *c)
{
	struct redir d, *keep;
	bool inq = false;

	memset(&d, 0, sizeof(d));
	d.handle = -1;
	if (c->len >= 1 && c->text[c->len - 1] >= '0' && c->text[c->len - 1] <= '9' &&
	    (c->len == 1 || is_delim(c->text[c->len - 2]))) {
		d.handle = c->text[c->len - 1] - '0';
		c->len--;
	}
	d.op = t[i];
	if (t[i] == '>' && i + 1 < n && t[i + 1] == '>')
		d.op = 'a', i++;
	i++;
	if (i < n && t[i] == '&') {	/* 2>&1: the '&' belongs to the redirection */
		d.dup = true;
		i++;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++;
		goto store;
	}
	i = skip_delims(t, n, i);
	while (i < n) {
		char ch = t[i];

		if (ch == '"')
			inq = !inq;
		else if (!inq && (is_delim(ch) || strchr("&|<>()", ch)))
			break;
		if (ch == '^' && !inq && i + 1 < n)
			ch = t[++i];
		if (d.tlen + 1 < sizeof(d.target))
			d.target[d.tlen++] = ch;
		i++;
	}
store:
	keep = c->nredir < MAX_REDIRS ? &c->r[c->nredir++] : &c->r[MAX_REDIRS - 1];
	*keep = d;
	return i;
}

/*
 * Collect one simple command from t[i..n) [SO4094699 phase 2]: quotes toggle
 * (specials inside are literal, the quotes stay), ^ makes the next
 * character literal and goes, redirections are taken out, & && | || end the
 * command, and ) ends it inside a block. Returns the index after the
 * separator; *closed tells a ')' ended it.
 */
static size_t collect(const char *t, size_t n, size_t i, int paren, struct cmdline *c, bool *closed)
{
	bool inq = false;

	c->len = 0;
	c->nredir = 0;
	*closed = false;
	while (i < n) {
		char ch = t[i];

		if (inq) {
			if (ch == '"')
				inq = false;
			c->text[c->len++] = ch;
			i++;
			continue;
		}
		if (ch == '"') {
			inq = true;
		} else if (ch == '^') {
			if (++i < n)
				c->text[c->len++] = t[i++];
			continue;
		} else if (ch == '&' || ch == '|') {
			i++;
			if (i < n && t[i] == ch)
				i++;
			return i;
		} else if (ch == ')' && paren > 0) {
			*closed = true;
			return i + 1;
		} else if (ch == '<' || ch == '>') {
			i = read_redir(t, n, i, c);
			continue;
		}
		c->text[c->len++] = ch;
		i++;
	}
	return i;
}

/* The word at t[i..): its end (cmd delimiters; no quotes expected). */
static size_t word_end(const char *t, size_t n, size_t i)
{
	while (i < n && !is_delim(t[i]) && !strchr("&|<>()\"", t[i]))
		i++;
	return i;
}

static bool word_is(const char *t, size_t n, size_t i, const char *kw)
{
	size_t e = word_end(t, n, i);

	return ieq_n(t + i, e - i, kw);
}

/*
 * if [/i] [not] (exist X | defined X | errorlevel N | cmdextversion N |
 * A==B | A op B) COMMAND [if]: returns where COMMAND starts, or n when the
 * condition does not parse (cmd.exe rejects the line).
 */
static size_t skip_if(const char *t, size_t n, size_t i)
{
	size_t a, b;

	i = skip_delims(t, n, i + 2);
	if (word_is(t, n, i, "/i"))
		i = skip_delims(t, n, i + 2);
	if (word_is(t, n, i, "not"))
		i = skip_delims(t, n, i + 3);
	if (word_is(t, n, i, "exist") || word_is(t, n, i, "defined") ||
	    word_is(t, n, i, "errorlevel") || word_is(t, n, i, "cmdextversion")) {
		i = word_end(t, n, i);
		i = next_token(t, n, i, &a, &b);
		return a == b ? n : b;
	}
	/* the left operand ends at a delimiter or at "==" */
	{
		bool inq = false;

		a = i;
		while (i < n && (inq || (!is_blank(t[i]) && !(t[i] == '=' && i + 1 < n && t[i + 1] == '=')))) {
			if (t[i] == '"')
				inq = !inq;
			i++;
		}
		if (i == a)
			return n;
	}
	while (i < n && is_blank(t[i]))
		i++;
	if (i + 1 < n && t[i] == '=' && t[i + 1] == '=') {
		i += 2;
	} else {
		static const char *const ops[] = {"equ", "neq", "lss", "leq", "gtr", "geq", NULL};
		bool ok = false;

		for (const char *const *o = ops; *o && !ok; o++)
			ok = word_is(t, n, i, *o);
		if (!ok)
			return n;
		i += 3;
	}
	i = next_token(t, n, i, &a, &b);
	return a == b ? n : b;
}

/* Replace %V (and %~V) in body with item; bounded. */
static size_t for_subst(const char *body, size_t bn, char v, const char *item, size_t in, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < bn && o < WS_SHELL_LINE_MAX; i++) {
		if (body[i] == '%' && i + 1 < bn && body[i + 1] == v) {
			o = put(out, o, item, in);
			i++;
		} else if (body[i] == '%' && i + 2 < bn && body[i + 1] == '~' && body[i + 2] == v) {
			const char *p = item;
			size_t pn = in;

			unquote(&p, &pn);
			o = put(out, o, p, pn);
			i += 2;
		} else {
			out[o++] = body[i];
		}
	}
	return o;
}

/* A parsed "for" line: the loop variable, its set and where its body starts. */
struct for_loop {
	bool lmode, fmode;
	char var;
	size_t set_a, set_b;	/* the text between the parentheses */
	size_t body;
};

/* for [/d] [/r [path]] [/l] [/f ["opts"]] %V in (SET) do: false if malformed. */
static bool parse_for(const char *t, size_t n, size_t i, struct for_loop *f)
{
	size_t a, b;
	bool inq = false;

	memset(f, 0, sizeof(*f));
	i = skip_delims(t, n, i + 3);
	while (i < n && t[i] == '/') {
		char o = lower(i + 1 < n ? t[i + 1] : 0);

		i = skip_delims(t, n, next_token(t, n, i, &a, &b));
		f->lmode |= o == 'l';
		f->fmode |= o == 'f';
		if ((o == 'f' && i < n && t[i] == '"') || (o == 'r' && i < n && t[i] != '%'))
			i = skip_delims(t, n, next_token(t, n, i, &a, &b));
	}
	/* %%V is for batch files: on the command line it is an error [SO4094699] */
	if (i + 1 >= n || t[i] != '%' || t[i + 1] == '%')
		return false;
	f->var = t[i + 1];
	i = skip_delims(t, n, i + 2);
	if (!word_is(t, n, i, "in"))
		return false;
	i = skip_delims(t, n, i + 2);
	if (i >= n || t[i] != '(')
		return false;
	f->set_a = ++i;
	for (; i < n && (inq || t[i] != ')'); i++)
		if (t[i] == '"')
			inq = !inq;
	if (i >= n)
		return false;
	f->set_b = i;
	i = skip_delims(t, n, i + 1);
	if (!word_is(t, n, i, "do"))
		return false;
	f->body = skip_delims(t, n, i + 2);
	return true;
}

static bool loop_may_go_on(const struct run *r, unsigned count)
{
	return count < FOR_ITEMS_MAX && r->lim->cmds > 0 && r->lim->iterations > 0;
}

/* The body once, with the variable replaced by item. */
static void run_body(struct run *r, const char *t, size_t n, const struct for_loop *f,
		     const char *item, size_t in, char *out, int depth)
{
	r->lim->iterations--;
	run_parsed(r, out, for_subst(t + f->body, n - f->body, f->var, item, in, out), depth + 1);
}

/* for /l: start,step,end [for]. */
static void run_for_l(struct run *r, const char *t, size_t n, const struct for_loop *f,
		      char *out, int depth)
{
	long nums[3] = {0, 0, 0}, step;
	unsigned k = 0, count = 0;
	size_t a, b;

	for (size_t p = f->set_a; p < f->set_b && k < 3; k++) {
		p = next_token(t, f->set_b, p, &a, &b);
		for (size_t q = a + (a < b && t[a] == '-'); q < b; q++)
			if (t[q] >= '0' && t[q] <= '9' && nums[k] < 1000000)
				nums[k] = nums[k] * 10 + (t[q] - '0');
		if (a < b && t[a] == '-')
			nums[k] = -nums[k];
	}
	step = nums[1] ? nums[1] : 1;
	for (long x = nums[0]; loop_may_go_on(r, count); x += step, count++) {
		char item[24];
		int len;

		if ((nums[1] > 0 && x > nums[2]) || (nums[1] < 0 && x < nums[2]) ||
		    (nums[1] == 0 && x != nums[0]))
			break;
		len = snprintf(item, sizeof(item), "%ld", x);
		run_body(r, t, n, f, item, (size_t)len, out, depth);
	}
}

/* for over a set of words, or /f over a quoted string's first word [for]. */
static void run_for_items(struct run *r, const char *t, size_t n, const struct for_loop *f,
			  char *out, int depth)
{
	unsigned count = 0;
	size_t a, b;

	for (size_t p = f->set_a; p < f->set_b && loop_may_go_on(r, count);) {
		const char *w;
		size_t wn;

		p = next_token(t, f->set_b, p, &a, &b);
		if (a == b)
			break;
		w = t + a;
		wn = b - a;
		if (f->fmode && w[0] != '"')
			break;	/* a file's lines: not on our side of the wire */
		if (f->fmode) {
			size_t e = 1;

			while (e < wn - 1 && !is_blank(w[e]) && w[e] != '"')
				e++;
			run_body(r, t, n, f, w + 1, e - 1, out, depth);
			break;
		}
		if (memchr(w, '*', wn) || memchr(w, '?', wn))
			continue;	/* wildcards name the victim's disk */
		run_body(r, t, n, f, w, wn, out, depth);
		count++;
	}
}

/*
 * for ... %V in (SET) do COMMAND [for]: the rest of the line is the body,
 * run once per item of SET (up to FOR_ITEMS_MAX, and the line's limits;
 * /l counts start,step,end; /f takes a quoted string's first word;
 * wildcards and files name the victim's disk and are not run).
 */
static void run_for(struct run *r, const char *t, size_t n, size_t i, int depth)
{
	struct for_loop f;
	char *out;

	if (!parse_for(t, n, i, &f) || !(out = malloc(LINE_CAP)))
		return;
	if (f.lmode)
		run_for_l(r, t, n, &f, out, depth);
	else
		run_for_items(r, t, n, &f, out, depth);
	if ((r->lim->iterations == 0 || r->lim->cmds == 0) && r->s)
		r->s->st.over_budget++;	/* items may be left unrun */
	free(out);
}

/*
 * For every '(' of t, the index of the ')' closing it (quotes and ^
 * respected), n when none: one pass, so a line of 8191 '(' costs 8191
 * steps, not 8191^2.
 */
static uint16_t *match_blocks(const char *t, size_t n)
{
	uint16_t *match = malloc(n * sizeof(*match)), *stack;
	size_t depth = 0;
	bool inq = false;

	if (!match)
		return NULL;
	if (!(stack = malloc(n * sizeof(*stack)))) {
		free(match);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		match[i] = (uint16_t)n;	/* escaped ones too: the scan skips them */
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '"')
			inq = !inq;
		else if (inq)
			continue;
		else if (t[i] == '^')
			i += i + 1 < n;
		else if (t[i] == '(')
			stack[depth++] = (uint16_t)i;
		else if (t[i] == ')' && depth > 0)
			match[stack[--depth]] = (uint16_t)i;
	}
	free(stack);
	return match;
}

/*
 * "(echo open h& echo get f) > o": a block whose output is redirected. The
 * file is opened once for the whole block [redir], so its commands write
 * into it in turn, as under "cmd /c ... > o". Returns the index after the
 * redirection, or open when t[open] starts no such block (then the '(' is
 * read as any other).
 */
static size_t redirected_block(struct run *r, const char *t, size_t n, size_t open,
			       const uint16_t *match, struct cmdline *scratch, int depth)
{
	size_t close, k, after;
	struct run sub;
	const char *f;
	size_t fn;
	bool app;

	close = match ? match[open] : n;
	if (close >= n)
		return open;
	k = skip_delims(t, n, close + 1);
	if (k < n && t[k] >= '0' && t[k] <= '9' && k + 1 < n && t[k + 1] == '>')
		k++;	/* a handle: read_redir finds it in the scratch text */
	if (k >= n || t[k] != '>')
		return open;
	scratch->len = 0;
	scratch->nredir = 0;
	if (k > close + 1 && t[k - 1] >= '0' && t[k - 1] <= '9')
		scratch->text[scratch->len++] = t[k - 1];
	after = read_redir(t, n, k, scratch);
	sub = *r;
	if ((f = out_file(r, scratch, &fn, &app))) {
		sub.inherit_target = f;
		sub.inherit_len = fn;
		sub.inherit_append = app;
	}
	run_parsed(&sub, t + open + 1, close - open - 1, depth + 1);
	r->hit = sub.hit;
	r->exited = sub.exited;
	return after;
}

/*
 * Phase 2 over an expanded line: commands one after the other, with
 * leading delimiters and '@' skipped, '(' opening a block, REM ending the
 * line, IF running its command, FOR its body, ELSE its branch (all branches
 * run: see the top of this file).
 */
static void run_parsed(struct run *r, const char *t, size_t n, int depth)
{
	struct cmdline *c;
	uint16_t *match = NULL;	/* block ends, found when a '(' first shows */
	size_t i = 0;
	int paren = 0;
	bool after_close = false;

	if (depth > MAX_DEPTH || !(c = malloc(sizeof(*c))))
		return;
	while (i < n && !r->exited) {
		bool closed;

		while (i < n && (is_delim(t[i]) || t[i] == '@' || t[i] == '(' ||
				 (t[i] == ')' && paren > 0))) {
			size_t after;

			if (t[i] == '(' && !match)
				match = match_blocks(t, n);
			if (t[i] == '(' && (after = redirected_block(r, t, n, i, match, c, depth)) > i) {
				i = after;
				after_close = true;
				continue;
			}
			if (t[i] == '(')
				paren++;
			else if (t[i] == ')')
				paren--, after_close = true;
			i++;
		}
		if (i >= n)
			break;
		if (word_is(t, n, i, "rem"))
			break;	/* the rest of the line is a comment, & and | too */
		if (after_close && word_is(t, n, i, "else")) {
			i += 4;
			after_close = false;
			continue;
		}
		after_close = false;
		if (word_is(t, n, i, "if")) {
			i = skip_if(t, n, i);
			continue;
		}
		if (word_is(t, n, i, "for")) {
			run_for(r, t, n, i, depth);
			break;
		}
		if (r->lim->cmds == 0) {
			if (r->s)
				r->s->st.over_budget++;
			break;
		}
		r->lim->cmds--;
		i = collect(t, n, i, paren, c, &closed);
		c->text[c->len] = '\0';
		if (closed)
			paren--, after_close = true;
		exec_simple(r, c, depth);
	}
	free(match);
	free(c);
}

static void run_line(struct run *r, const char *raw, size_t len, int depth)
{
	char *exp;
	size_t n;

	if (depth > MAX_DEPTH || !(exp = malloc(LINE_CAP)))
		return;
	n = expand(r->s, raw, len > WS_SHELL_LINE_MAX ? WS_SHELL_LINE_MAX : len, exp);
	run_parsed(r, exp, n, depth);
	free(exp);
}

bool ws_shell_line_is_command(const uint8_t *line, size_t len)
{
	struct limits lim = LINE_LIMITS;
	struct run r;

	memset(&r, 0, sizeof(r));
	r.lim = &lim;
	run_line(&r, (const char *)line, len, 0);
	return r.hit;
}

/* ----------------------------------------------------------- the session */

struct ws_shell *ws_shell_new(void)
{
	struct ws_shell *s = calloc(1, sizeof(*s));

	if (s)
		s->st.heap = sizeof(*s);
	return s;
}

/* The side's line starts over empty (its buffer kept). */
static void line_clear(struct side *sd)
{
	sd->len = sd->over = sd->scanned = 0;
	sd->scan_inq = sd->scan_esc = false;
}

static void side_release(struct ws_shell *s, struct side *sd)
{
	heap_free(s, sd->buf, sd->cap);
	sd->buf = NULL;
	sd->cap = 0;
	line_clear(sd);
}

void ws_shell_free(struct ws_shell *s)
{
	if (!s)
		return;
	for (int k = 0; k < 2; k++)
		free(s->side[k].buf);
	if (s->env)
		for (unsigned i = 0; i < s->env->n; i++)
			free(s->env->name[i]);
	if (s->vfs)
		for (unsigned i = 0; i < s->vfs->n; i++) {
			free(s->vfs->f[i].name);
			free(s->vfs->f[i].data);
		}
	if (s->fetched)
		for (unsigned i = 0; i < WS_SHELL_FETCHED_MAX; i++)
			free(s->fetched->name[i]);
	free(s->env);
	free(s->vfs);
	free(s->fetched);
	free(s->ftp);
	free(s);
}

int ws_shell_attacker(const struct ws_shell *s)
{
	for (int k = 0; k < 2; k++)
		if (s->side[k].role == ROLE_ATTACKER)
			return k;
	return WS_SIDE_UNKNOWN;
}

void ws_shell_get_stats(const struct ws_shell *s, struct ws_shell_stats *st)
{
	*st = s->st;
}

static bool is_binary_line(const uint8_t *p, size_t n);

/*
 * The victim showed itself. The other side types; what it sent so far
 * without a line end stays its line, unless that side sent binary: a Metasploit
 * stager's stage (Aurora capture: 4 bytes of length, then code) is read by
 * the stager, never by cmd.exe, which starts after it and prints the banner.
 */
static void set_victim(struct ws_shell *s, int side, enum ws_shell_hint why)
{
	struct side *other = &s->side[!side];

	s->side[side].role = ROLE_VICTIM;
	s->st.victim_hint = why;
	side_release(s, &s->side[side]);
	if (other->role == ROLE_UNKNOWN) {
		other->role = ROLE_ATTACKER;
		if (other->binary)	/* every byte it fed was checked as it came */
			line_clear(other);
	}
}

/*
 * Is this chunk the victim talking? A banner within the side's first
 * WS_SHELL_SCREEN_BYTES, or a prompt ending the chunk (cmd.exe waits for
 * input after it; an attacker's typing ends in a line end).
 */
static enum ws_shell_hint victim_evidence(const struct side *sd, const uint8_t *d, size_t n)
{
	enum ws_shell_hint h;
	size_t start = n;

	if (sd->seen < WS_SHELL_SCREEN_BYTES) {
		h = ws_shell_screen(d, n < WS_SHELL_SCREEN_BYTES - sd->seen ? n :
				    WS_SHELL_SCREEN_BYTES - sd->seen);
		if (h == WS_SHELL_BANNER)
			return h;
	}
	while (n > 0 && (d[n - 1] == ' ' || d[n - 1] == '\t'))
		n--;
	if (n < 4 || d[n - 1] != '>')
		return WS_SHELL_NONE;
	while (start > 0 && d[start - 1] != '\n')
		start--;
	if (start >= n)
		return WS_SHELL_NONE;
	return ws_shell_screen(d + start, n - start) == WS_SHELL_PROMPT ? WS_SHELL_PROMPT :
									    WS_SHELL_NONE;
}

/* A byte that text typed at a shell does not hold (binary stream); LF ends lines. */
static bool is_binary_line(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\v' &&
		    p[i] != '\f' && p[i] != 0x1b)
			return true;
	return false;
}

/*
 * Does the line end inside an escape? A '^' as the last character (CRs
 * aside) outside quotes continues onto the next line, whose first character
 * it escapes [SO4094699 phase 2].
 */
static bool continues(struct side *sd)
{
	for (uint32_t i = sd->scanned; i < sd->len; i++) {
		uint8_t c = sd->buf[i];

		if (c == '\r')
			continue;
		if (sd->scan_esc)
			sd->scan_esc = false;
		else if (c == '"')
			sd->scan_inq = !sd->scan_inq;
		else if (c == '^' && !sd->scan_inq)
			sd->scan_esc = true;
	}
	sd->scanned = sd->len;	/* a continued line is not scanned again: no n^2 */
	return sd->scan_esc;
}

static void line_done(struct ws_shell *s, int side, bool final, const struct timeval *ts,
		      ws_shell_event_fn cb, void *arg)
{
	struct side *sd = &s->side[side];
	const char *line;
	struct limits lim = LINE_LIMITS;
	struct run r;

	if (sd->over) {
		s->st.truncated++;
	} else if (!final && continues(sd)) {
		return;	/* the LF is escaped: the next line is appended */
	}
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.side = side;
	r.ts = ts;
	r.cb = cb;
	r.arg = arg;
	r.lim = &lim;
	if (sd->role == ROLE_UNKNOWN && is_binary_line(sd->buf, sd->len))
		goto done;	/* binary from an undecided side: not typed */
	s->st.lines++;
	line = sd->buf ? (const char *)sd->buf : "";	/* an empty line has no buffer */
	if (s->ftp && s->ftp->active && s->ftp_side == side) {
		if (!ftp_line(&r, s->ftp, line, sd->len))
			s->ftp->active = false;
	} else {
		run_line(&r, line, sd->len, 0);
	}
done:
	line_clear(sd);
	if (sd->cap > 1024)	/* a long line's buffer is not kept */
		side_release(s, sd);
}

/* Append p[0..n) to the side's line, growing its buffer to need. */
static bool append(struct ws_shell *s, struct side *sd, const uint8_t *p, size_t n)
{
	size_t room = WS_SHELL_LINE_MAX - sd->len;

	if (n > room) {
		uint64_t over = (uint64_t)sd->over + (n - room);

		sd->over = over > UINT32_MAX ? UINT32_MAX : (uint32_t)over;
		n = room;
	}
	if (n == 0)
		return true;
	if (sd->len + n + 1 > sd->cap) {
		size_t cap = grow_buffer(s, &sd->buf, sd->cap, sd->len + n + 1, LINE_CAP);

		if (!cap)
			return false;
		sd->cap = (uint32_t)cap;
	}
	memcpy(sd->buf + sd->len, p, n);
	sd->len += (uint32_t)n;
	return true;
}

bool ws_shell_feed(struct ws_shell *s, int side, const uint8_t *data, size_t len,
		   const struct timeval *ts, ws_shell_event_fn cb, void *arg)
{
	struct side *sd;
	bool ok = true;

	side = side ? 1 : 0;
	sd = &s->side[side];
	if (sd->role == ROLE_VICTIM || len == 0)
		return true;
	if (sd->role == ROLE_UNKNOWN) {
		enum ws_shell_hint h = victim_evidence(sd, data, len);

		if (h != WS_SHELL_NONE) {
			set_victim(s, side, h);
			return true;
		}
		sd->binary = sd->binary || is_binary_line(data, len);
	}
	sd->seen = sd->seen + len < sd->seen ? UINT32_MAX : sd->seen + (uint32_t)len;
	if (sd->holed) {
		if (!ws_skip_cut_line(&data, &len))
			return true;
		sd->holed = false;
	}
	while (len > 0) {
		const uint8_t *lf = memchr(data, '\n', len);
		size_t n = lf ? (size_t)(lf - data) : len;

		if (!append(s, sd, data, n)) {
			s->st.dropped++;
			line_clear(sd);
			ok = false;
		}
		if (!lf)
			break;
		line_done(s, side, false, ts, cb, arg);
		if (sd->role == ROLE_VICTIM)
			break;
		data += n + 1;
		len -= n + 1;
	}
	return ok;
}

void ws_shell_gap(struct ws_shell *s, int side)
{
	struct side *sd = &s->side[side ? 1 : 0];

	if (sd->role == ROLE_VICTIM || sd->holed)
		return;
	if ((sd->len > 0 || sd->over > 0) && !sd->binary)
		s->st.holed++;
	line_clear(sd);
	/*
	 * A side still undecided that sent binary is a stager's stage: the
	 * stager reads it whole (block_recv.asm, see screen.c) and cmd.exe only
	 * starts after it ran, so a hole inside it cuts no typed line.
	 */
	sd->holed = !(sd->binary && sd->role == ROLE_UNKNOWN);
}

void ws_shell_end(struct ws_shell *s, const struct timeval *ts, ws_shell_event_fn cb, void *arg)
{
	for (int k = 0; k < 2; k++) {
		struct side *sd = &s->side[k];

		if (sd->role != ROLE_VICTIM && (sd->len > 0 || sd->over > 0)) {
			line_done(s, k, true, ts, cb, arg);
		}
	}
}

size_t ws_shell_server_text(const struct ws_shell_event *ev, char *dst, size_t cap)
{
	char port[8] = "";
	size_t n = 0, pn;

	if (ev->action == WS_SHELL_GET || ev->action == WS_SHELL_FTP_GET)
		n = ev->host_len;
	if (ev->action == WS_SHELL_FTP_GET && ev->port != 21)
		snprintf(port, sizeof(port), ":%u", ev->port);
	pn = strlen(port);
	if (cap > 0) {
		size_t h = n < cap - 1 ? n : cap - 1;
		size_t p = pn < cap - 1 - h ? pn : cap - 1 - h;

		memcpy(dst, ev->host, h);
		memcpy(dst + h, port, p);
		dst[h + p] = '\0';
	}
	return n + pn;
}

const char *ws_shell_action_name(enum ws_shell_action a)
{
	switch (a) {
	case WS_SHELL_GET:
		return "get";
	case WS_SHELL_FTP_GET:
		return "ftp-get";
	case WS_SHELL_START:
		return "start";
	case WS_SHELL_EXEC:
		return "exec";
	}
	return "unknown";
}
