/*
 * shell/ — the whole interface: cmd.exe sessions seen on the wire.
 *
 *  - ws_shell_screen(): a cheap look at the first payload bytes of one
 *    direction of a TCP flow: does it show a cmd.exe banner, a prompt, or a
 *    line that parses as a dropper command?
 *  - struct ws_shell: one session's cmd.exe model. Fed the bytes of both
 *    directions, it decides which side types (the attacker), assembles
 *    lines as cmd.exe reads them, runs them through cmd.exe's parsing phases
 *    with the session's environment and virtual file system (echo > f, ftp
 *    scripts, interactive ftp) and reports get / ftp-get / start / exec
 *    events through a callback.
 *  - ws_inet_addr(): a host literal read as Windows' inet_addr() reads it.
 *
 * Pure code: no I/O, no globals, no policy, no sockets. Memory per session
 * is bounded (WS_SHELL_* limits below) and allocated only when needed.
 * Sources for every cmd.exe rule are cited in shell.c and tests/shell/.
 */
#ifndef WS_SHELL_H
#define WS_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "base.h"

/* ------------------------------------------------------------- screening */

enum ws_shell_hint {
	WS_SHELL_NONE = 0,
	WS_SHELL_BANNER,	/* "Microsoft Windows XP [Version 5.1.2600]" and kin */
	WS_SHELL_PROMPT,	/* "C:\WINDOWS\system32>" at the start of a line */
	WS_SHELL_COMMAND,	/* a line that parses as a dropper command */
};

/* Bytes of data looked at for a banner or prompt (a stager may come first). */
#define WS_SHELL_SCREEN_BYTES 2048
/* Complete lines looked at for a command, within the first SCREEN_BYTES. */
#define WS_SHELL_SCREEN_LINES 4

/*
 * Screen the first payload bytes of one direction (or any later chunk, for
 * a prompt picked up mid-stream). Looks at no more than
 * WS_SHELL_SCREEN_BYTES; allocates nothing. BANNER wins over PROMPT over
 * COMMAND when several are present.
 */
enum ws_shell_hint ws_shell_screen(const uint8_t *data, size_t len);

const char *ws_shell_hint_name(enum ws_shell_hint h);

/* Largest stage a stager's length prefix is believed for (Meterpreter's are 1-2 MB). */
#define WS_SHELL_STAGE_MAX 0xffffffu

/*
 * The stage length a Metasploit stager would read from the first 4 bytes
 * of data (little-endian, 1..WS_SHELL_STAGE_MAX), or 0 when they cannot be
 * one. The victim's banner comes only after the whole stage.
 */
size_t ws_shell_stage_len(const uint8_t *data, size_t len);

/*
 * Does this one line (no LF) parse as a dropper command with no session
 * state: a tftp GET, an ftp run, an echo into a file, cmd /c of such, a start
 * or an exec by extension? What the screen uses for WS_SHELL_COMMAND.
 */
bool ws_shell_line_is_command(const uint8_t *line, size_t len);

/* ------------------------------------------------------------- addresses */

/*
 * Windows' inet_addr(): "a.b.c.d", "a.b.c" (c fills 16 bits), "a.b" (b fills
 * 24 bits) and "a" (32 bits); each part decimal, octal with a leading 0 or
 * hex with 0x. Returns true and an IPv4 address, or false for anything else
 * (a name: never resolved). len bytes of s, no NUL needed.
 */
bool ws_inet_addr(const char *s, size_t len, struct ws_addr *out);

/* ---------------------------------------------------------------- session */

/* WS_SIDE_CLIENT (the side that opened the connection), WS_SIDE_SERVER and
 * WS_SIDE_UNKNOWN come from base.h. */

/* XP cmd.exe's longest command line (Microsoft KB830473). */
#define WS_SHELL_LINE_MAX 8191
/* A file name longer than this is still reported, with name_ok false. */
#define WS_SHELL_NAME_MAX 255

/*
 * Bounds of one session's state. Held between calls: the struct (176
 * bytes on x86-64), a line buffer per typing side grown to need (at most
 * 8 KiB each), and only once used the variables, files, fetched names and
 * an interactive ftp, each grown to need: about 44 KiB at the very most
 * (the two 8 KiB lines are most of it), 388 bytes after a Blaster session. Scratch for running a line is freed before feed returns.
 */
#define WS_SHELL_ENV_MAX 32		/* variables set by the session */
#define WS_SHELL_ENV_BYTES 4096		/* their names and values in all */
#define WS_SHELL_FILES_MAX 8		/* files in the virtual file system */
#define WS_SHELL_FILE_BYTES 2048	/* longest virtual file (an ftp script is ~100) */
#define WS_SHELL_FETCHED_MAX 16		/* names fetched, remembered for exec */
#define WS_SHELL_CMDS_PER_LINE 1024	/* simple commands run per line, nesting included */
#define WS_SHELL_EVENTS_PER_LINE 64	/* events reported per line (a for loop could make 4096) */

enum ws_shell_action {
	WS_SHELL_GET = 1,	/* tftp [-i] HOST GET REMOTE [LOCAL] */
	WS_SHELL_FTP_GET,	/* get/recv/mget in an ftp script or interactive ftp */
	WS_SHELL_START,		/* start [title] [/opts] PROG */
	WS_SHELL_EXEC,		/* a fetched name, an executable extension, rundll32 DLL */
};

enum ws_shell_proto { WS_SHELL_PROTO_NONE = 0, WS_SHELL_PROTO_TFTP, WS_SHELL_PROTO_FTP };

/*
 * One event. Every string is NUL-terminated and also has its length (raw
 * bytes as typed, after cmd.exe's parsing: they may hold control or
 * non-ASCII bytes; escape them at the sink). Valid only during the callback.
 */
struct ws_shell_event {
	enum ws_shell_action action;
	int attacker;			/* WS_SIDE_CLIENT or WS_SIDE_SERVER: who typed it */
	const struct timeval *ts;	/* the feed that completed the line */
	const char *file;		/* GET/FTP_GET: remote name; START/EXEC: what runs */
	size_t file_len;
	const char *local;		/* GET/FTP_GET: local name as typed, "" when none */
	size_t local_len;
	const char *host;		/* GET/FTP_GET: as typed; "" otherwise */
	size_t host_len;
	struct ws_addr addr;		/* what Windows would contact; WS_AF_NONE for names */
	uint16_t port;			/* 69 (tftp), 21 or as given (ftp), 0 otherwise */
	enum ws_shell_proto proto;
	const char *user;		/* FTP: as typed, "anonymous" when none; "" otherwise */
	const char *pass;		/* FTP: as typed, "" when none */
	bool name_ok;			/* file (and local) usable: no control byte, <= 255 */
};

typedef void (*ws_shell_event_fn)(const struct ws_shell_event *ev, void *arg);

struct ws_shell;

/* A new session (a few hundred bytes; NULL when out of memory). */
struct ws_shell *ws_shell_new(void);

/*
 * Feed len bytes of one direction, in stream order. side is WS_SIDE_CLIENT
 * (the connection opener) or WS_SIDE_SERVER. Each complete line of the
 * attacker's side is run; events go to cb(ev, arg) before this returns.
 * Bytes of the side found to be the victim (banner, prompts, output, the
 * echo of each command) are never run. Returns false only when memory ran
 * out (the session keeps working, the line is counted as lost).
 */
bool ws_shell_feed(struct ws_shell *s, int side, const uint8_t *data, size_t len,
		   const struct timeval *ts, ws_shell_event_fn cb, void *arg);

/*
 * End of stream (FIN): an unterminated last line is run, as cmd.exe runs
 * it at end of input. Not to be called on a reset (nothing more runs).
 */
void ws_shell_end(struct ws_shell *s, const struct timeval *ts, ws_shell_event_fn cb, void *arg);

/*
 * A hole in side's bytes (capture loss the receiver ACKed): the line being
 * assembled is not what the victim read. It is dropped, and so is what
 * follows up to the next line end; nothing is guessed.
 */
void ws_shell_gap(struct ws_shell *s, int side);

void ws_shell_free(struct ws_shell *s);

/* The attacker's side once known, else WS_SIDE_UNKNOWN. */
int ws_shell_attacker(const struct ws_shell *s);

struct ws_shell_stats {
	uint64_t lines;			/* lines run */
	uint64_t truncated;		/* lines over WS_SHELL_LINE_MAX (run truncated) */
	uint64_t holed;			/* lines a hole cut (not run) */
	uint64_t dropped;		/* lines lost: out of memory */
	uint64_t over_budget;		/* commands not run or events not reported: the per-line limits */
	uint64_t state_full;		/* a set/echo>/fetched name refused: a bound was hit */
	uint64_t events;
	uint64_t unattributed;		/* exec lines of a side not yet known to type: not reported */
	size_t heap;			/* bytes allocated now, the struct included */
	enum ws_shell_hint victim_hint;	/* what showed the victim's side, if it did */
};

void ws_shell_get_stats(const struct ws_shell *s, struct ws_shell_stats *st);

/* "get", "ftp-get", "start", "exec": the log's Action column. */
const char *ws_shell_action_name(enum ws_shell_action a);

/*
 * The log's Server column, raw (escape it at the sink): the host as typed
 * for get; for ftp-get the host, or "host:port" when the port is not 21;
 * empty for start and exec. Always NUL-terminated in dst (cut to cap);
 * returns the length it needs, like snprintf.
 */
size_t ws_shell_server_text(const struct ws_shell_event *ev, char *dst, size_t cap);

#endif
