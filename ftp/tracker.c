/*
 * Passive FTP tracker: follows control connections, pairs each data
 * connection with the command that asked for it, and hands the file out.
 *
 * FTP answers commands in order (RFC 959 4.2: a reply belongs to the
 * oldest command not yet finally answered; 1xx replies are preliminary), so
 * a small FIFO of pending commands is all the pairing the control needs.
 * Data connections are set up by PORT/EPRT (the server will connect to the
 * client) or PASV/EPSV (the client will connect to the server); each one is
 * used by the next command that needs a data connection (RETR, STOR, LIST,
 * ...), in the order the commands were sent. A data connection may be seen
 * before the command it serves (capture or reassembly order): its first
 * bytes wait, bounded, for the command.
 *
 * Bytes go to the caller as they are seen; a transfer holds no file data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp.h"

#define PEND_MAX 16	/* commands sent and not yet answered, per session */
#define USERS_MAX 8	/* commands waiting for their data connection */
#define CHANS_MAX 4	/* announced data connections, per session */
#define XFERS_MAX 8	/* open transfers, per session */
#define TABLE_MAX ((size_t)1 << 20)

struct session;

struct xfer {
	struct xfer *older, *newer;	/* all open transfers, by creation */
	struct session *s;
	struct ws_ftp_file_info info;
	void *handle;			/* NULL: open() declined */
	struct chan *ch;		/* its data connection, once bound */
	bool bound;			/* a data connection was ever paired with it */
	bool data_done, cut;		/* the data connection ended (cut: not with FIN) */
	bool final_ok;			/* a 2xx reply to the command */
};

/* A data connection a session announced, and the connection using it. */
struct chan {
	struct chan *next;		/* hash chain, keyed on the listener's port */
	struct session *s;
	enum ws_ftp_mode mode;
	struct ws_endpoint listener;	/* as the PORT/227/229 named it */
	struct ws_addr listener_alt;	/* the control peer's address, if different */
	struct ws_addr connector;	/* who connects (any port) */
	bool elsewhere;
	bool bound, ended;		/* a connection uses it / that connection ended */
	bool cut_end;			/* ended without FIN */
	bool holed;			/* a hole in its bytes: the file is not whole */
	struct ws_ftp_flow flow;
	struct xfer *x;			/* what it feeds; NULL: nothing (yet) */
	bool has_user;			/* x or a listing took it: no more early bytes */
	enum ws_ftp_side early_side;
	uint8_t *early;			/* bytes before any command used it */
	size_t nearly;
};

struct pending {
	enum ws_ftp_cmd cmd;
	bool ep_set;
	struct ws_endpoint ep;
	struct xfer *x;
};

struct user {		/* a command waiting for a data connection */
	struct xfer *x;		/* NULL: a listing, or a file not followed */
	struct chan *ch;	/* the data connection announced when it was sent */
};

struct linebuf {
	uint8_t b[WS_FTP_LINE_MAX];
	size_t n;
	bool cut;	/* longer than the buffer: the rest is skipped to LF */
	bool holed;	/* a hole cut the line: dropped, and what follows up to LF */
};

struct session {
	struct session *older, *newer;	/* LRU */
	struct session *next;		/* hash chain */
	struct ws_ftp_flow ctl;
	struct timeval last;
	struct linebuf line[2];		/* by enum ws_ftp_side */
	struct ws_ftp_reply_reader rd;
	bool greeted, closed;
	char user[WS_FTP_NAME_MAX];
	char type;
	struct pending pend[PEND_MAX];
	unsigned npend;
	struct user users[USERS_MAX];
	unsigned nusers;
	struct chan *chans[CHANS_MAX];	/* oldest first */
	unsigned nchans;
	unsigned nxfers;
};

struct ws_ftp_tracker {
	struct ws_ftp_track_params p;
	struct session **sessions;	/* keyed on the control flow */
	struct chan **chans;		/* keyed on the listener port */
	size_t mask;
	struct session *oldest, *newest;
	struct xfer *xoldest, *xnewest;
	size_t nsessions, nxfers;
	uint64_t serial;
	struct ws_ftp_track_stats st;
};

static const struct {
	enum ws_ftp_end end;
	const char *name;
} end_names[] = {
	{WS_FTP_COMPLETE, "complete"},
	{WS_FTP_INCOMPLETE, "incomplete"},
	{WS_FTP_ERROR, "error"},
	{WS_FTP_TOO_LARGE, "too-large"},
	{WS_FTP_EVICTED, "evicted"},
	{0, NULL}
};

const char *ws_ftp_end_name(enum ws_ftp_end e)
{
	for (size_t i = 0; end_names[i].name; i++)
		if (end_names[i].end == e)
			return end_names[i].name;
	return "unknown";
}

const char *ws_ftp_mode_name(enum ws_ftp_mode m)
{
	return m == WS_FTP_MODE_ACTIVE ? "active" : m == WS_FTP_MODE_PASSIVE ? "passive" : "none";
}

const char *ws_ftp_end_status(enum ws_ftp_end how, const struct ws_ftp_file_info *info,
			      char *buf, size_t cap)
{
	if (how == WS_FTP_COMPLETE)
		return "ok";
	if (how != WS_FTP_ERROR)
		return ws_ftp_end_name(how);
	return ws_error_status(buf, cap, "ftp", info->reply_code, info->reply_text);
}

/* ------------------------------------------------------------ hashing */

static uint32_t mix(uint32_t h, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x01000193u;	/* FNV-1a */
	return h;
}

static uint32_t ep_hash(uint32_t h, const struct ws_endpoint *e)
{
	uint8_t port[2] = {(uint8_t)(e->port >> 8), (uint8_t)e->port};

	h = mix(h, &e->addr.family, 1);
	h = mix(h, e->addr.a, sizeof(e->addr.a));
	return mix(h, port, 2);
}

static bool ep_eq(const struct ws_endpoint *x, const struct ws_endpoint *y)
{
	return x->port == y->port && ws_addr_eq(&x->addr, &y->addr);
}

static bool flow_eq(const struct ws_ftp_flow *x, const struct ws_ftp_flow *y)
{
	return ep_eq(&x->client, &y->client) && ep_eq(&x->server, &y->server);
}

static struct session **session_chain(const struct ws_ftp_tracker *t, const struct ws_ftp_flow *f)
{
	uint32_t h = ep_hash(ep_hash(0x811c9dc5u, &f->client), &f->server);

	return &t->sessions[h & t->mask];
}

static struct chan **chan_chain(const struct ws_ftp_tracker *t, uint16_t port)
{
	uint32_t h = (uint32_t)port * 0x9e3779b1u;

	return &t->chans[(h ^ h >> 16) & t->mask];
}

static struct session *session_find(const struct ws_ftp_tracker *t, const struct ws_ftp_flow *f)
{
	for (struct session *s = *session_chain(t, f); s; s = s->next)
		if (flow_eq(&s->ctl, f))
			return s;
	return NULL;
}

/* ------------------------------------------------------------ LRU lists */

static void lru_unlink(struct ws_ftp_tracker *t, struct session *s)
{
	if (s->older)
		s->older->newer = s->newer;
	else
		t->oldest = s->newer;
	if (s->newer)
		s->newer->older = s->older;
	else
		t->newest = s->older;
	s->older = s->newer = NULL;
}

static void lru_push(struct ws_ftp_tracker *t, struct session *s)
{
	s->older = t->newest;
	s->newer = NULL;
	if (t->newest)
		t->newest->newer = s;
	else
		t->oldest = s;
	t->newest = s;
}

static void touch(struct ws_ftp_tracker *t, struct session *s, const struct timeval *ts)
{
	s->last = *ts;
	if (t->newest != s) {
		lru_unlink(t, s);
		lru_push(t, s);
	}
}

static void xlist_unlink(struct ws_ftp_tracker *t, struct xfer *x)
{
	if (x->older)
		x->older->newer = x->newer;
	else
		t->xoldest = x->newer;
	if (x->newer)
		x->newer->older = x->older;
	else
		t->xnewest = x->older;
}

/* ------------------------------------------------------------ transfers */

static void users_remove(struct session *s, unsigned i)
{
	memmove(&s->users[i], &s->users[i + 1], (s->nusers - i - 1) * sizeof(s->users[0]));
	s->nusers--;
}

/* The transfer is over: tell the caller once, and forget it everywhere. */
static void xfer_end(struct ws_ftp_tracker *t, struct xfer *x, enum ws_ftp_end how,
		     const char *why)
{
	struct session *s = x->s;

	xlist_unlink(t, x);
	t->nxfers--;
	s->nxfers--;
	for (unsigned i = 0; i < s->nusers; i++)
		if (s->users[i].x == x) {
			/* after an error reply no connection comes; otherwise one may,
			   and it must not be taken by the next command */
			if (how == WS_FTP_ERROR)
				users_remove(s, i);
			else
				s->users[i].x = NULL;
			break;
		}
	for (unsigned i = 0; i < s->npend; i++)
		if (s->pend[i].x == x)
			s->pend[i].x = NULL;
	if (x->ch)
		x->ch->x = NULL;	/* the rest of that connection is dropped */
	x->info.why = how == WS_FTP_INCOMPLETE ? why : NULL;
	switch (how) {
	case WS_FTP_COMPLETE: t->st.complete++; break;
	case WS_FTP_INCOMPLETE: t->st.incomplete++; break;
	case WS_FTP_ERROR: t->st.errors++; break;
	case WS_FTP_TOO_LARGE: t->st.too_large++; break;
	case WS_FTP_EVICTED: t->st.evicted++; break;
	}
	if (x->handle)
		t->p.ops.close(t->p.arg, x->handle, &x->info, how);
	free(x);
}

/* Both halves are in (data ended, final reply): say how it went. */
static void xfer_try_finish(struct ws_ftp_tracker *t, struct xfer *x)
{
	if (!x->data_done || !x->final_ok)
		return;
	if (x->cut)
		xfer_end(t, x, WS_FTP_INCOMPLETE, "cut");
	else if (x->info.size_set && x->info.size != x->info.bytes)
		xfer_end(t, x, WS_FTP_INCOMPLETE, "short");
	else
		xfer_end(t, x, WS_FTP_COMPLETE, NULL);
}

/* Why a transfer that is not finished cannot finish any more. */
static const char *unfinished_why(const struct xfer *x, const char *otherwise)
{
	if (!x->bound)
		return "no-data";
	if (x->data_done && x->cut)
		return "cut";
	if (x->data_done)
		return "no-226";
	return otherwise;
}

/* Data bytes for x at its current end. */
static void xfer_write(struct ws_ftp_tracker *t, struct xfer *x, const uint8_t *b, size_t n)
{
	uint64_t off = x->info.bytes;

	if (n == 0)
		return;
	if (off > t->p.max_file_size || n > t->p.max_file_size - off) {
		xfer_end(t, x, WS_FTP_TOO_LARGE, NULL);
		return;
	}
	x->info.bytes += n;
	if (x->handle && t->p.ops.write(t->p.arg, x->handle, off, b, n) < 0)
		xfer_end(t, x, WS_FTP_INCOMPLETE, "store");
}

/* The side of the data connection the file comes from. */
static enum ws_ftp_side sender_side(const struct chan *ch, bool upload)
{
	/* active: the FTP server opened the connection; passive: the client did */
	bool server_is_connector = ch->mode == WS_FTP_MODE_ACTIVE;
	bool sender_is_connector = upload ? !server_is_connector : server_is_connector;

	return sender_is_connector ? WS_FTP_FROM_CLIENT : WS_FTP_FROM_SERVER;
}

/* A command now uses the channel: early bytes become the file's first bytes. */
static void chan_give(struct ws_ftp_tracker *t, struct chan *ch, struct xfer *x)
{
	ch->has_user = true;
	ch->x = x;
	if (!x) {
		t->st.listings++;
	} else {
		x->ch = ch;
		x->bound = true;
		x->info.data = ch->flow;
		x->info.mode = ch->mode;
		x->info.elsewhere = ch->elsewhere;
		if (ch->nearly && ch->early_side == sender_side(ch, x->info.upload))
			xfer_write(t, x, ch->early, ch->nearly);
		/* x may have ended in xfer_write; ch->x says whether it lives */
		if (ch->x && ch->ended) {
			ch->x->data_done = true;
			ch->x->cut = ch->cut_end || ch->holed;
		}
	}
	free(ch->early);
	ch->early = NULL;
	ch->nearly = 0;
}

static struct xfer *xfer_new(struct ws_ftp_tracker *t, struct session *s,
			     const struct ws_ftp_command *c, const struct timeval *ts)
{
	struct xfer *x;
	size_t n = c->arglen;

	if (s->nxfers >= XFERS_MAX || s->nusers >= USERS_MAX)
		return NULL;
	while (t->nxfers >= t->p.max_transfers && t->xoldest)
		xfer_end(t, t->xoldest, WS_FTP_EVICTED, NULL);
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->s = s;
	x->info.serial = ++t->serial;
	x->info.control = s->ctl;
	x->info.upload = c->cmd != WS_FTP_CMD_RETR;
	memcpy(x->info.user, s->user, sizeof(x->info.user));
	if (n >= sizeof(x->info.filename)) {
		n = sizeof(x->info.filename) - 1;
		x->info.filename_cut = true;
	}
	memcpy(x->info.filename, c->arg, n);
	/* a NUL would hide the rest of the name from every later reader */
	for (size_t i = 0; i < n; i++)
		if (!x->info.filename[i])
			x->info.filename[i] = '?';
	x->info.type = s->type;
	x->info.first = x->info.last = *ts;
	if (s->nchans)
		x->info.mode = s->chans[s->nchans - 1]->mode;
	x->older = t->xnewest;
	if (t->xnewest)
		t->xnewest->newer = x;
	else
		t->xoldest = x;
	t->xnewest = x;
	t->nxfers++;
	s->nxfers++;
	t->st.transfers++;
	if (t->p.ops.open)
		x->handle = t->p.ops.open(t->p.arg, &x->info);
	return x;
}

/*
 * A command needs a data connection: the one last announced (each PASV
 * names its own port, so this pairs exactly; active mode may reuse one
 * PORT for several commands, taken in order). If that connection is
 * already there with bytes waiting, it is this command's.
 */
static void user_add(struct ws_ftp_tracker *t, struct session *s, struct xfer *x)
{
	struct chan *ch = s->nchans ? s->chans[s->nchans - 1] : NULL;

	if (ch && ch->bound && !ch->ended && !ch->has_user) {
		chan_give(t, ch, x);
		return;
	}
	if (ch && ch->bound && ch->ended && !ch->has_user && ch->nearly) {
		chan_give(t, ch, x);	/* the whole connection came before the command */
		return;
	}
	s->users[s->nusers].x = x;
	s->users[s->nusers].ch = ch;
	s->nusers++;
}

/* The first command waiting for this connection, or for any; -1 if none. */
static int user_for(const struct session *s, const struct chan *ch)
{
	for (unsigned i = 0; i < s->nusers; i++)
		if (s->users[i].ch == ch)
			return (int)i;
	for (unsigned i = 0; i < s->nusers; i++)
		if (!s->users[i].ch)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------- channels */

static void chan_free(struct ws_ftp_tracker *t, struct chan *ch)
{
	struct chan **pp = chan_chain(t, ch->listener.port);
	struct session *s = ch->s;

	while (*pp != ch)
		pp = &(*pp)->next;
	*pp = ch->next;
	for (unsigned i = 0; i < s->nusers; i++)
		if (s->users[i].ch == ch)
			s->users[i].ch = NULL;
	for (unsigned i = 0; i < s->nchans; i++)
		if (s->chans[i] == ch) {
			memmove(&s->chans[i], &s->chans[i + 1],
				(s->nchans - i - 1) * sizeof(s->chans[0]));
			s->nchans--;
			break;
		}
	if (ch->x)
		ch->x->ch = NULL;
	free(ch->early);
	free(ch);
}

/* Room for one more channel: drop the oldest one no connection is using. */
static bool chan_room(struct ws_ftp_tracker *t, struct session *s)
{
	if (s->nchans < CHANS_MAX)
		return true;
	for (unsigned i = 0; i < s->nchans; i++) {
		struct chan *ch = s->chans[i];

		if (!ch->bound || (ch->ended && !ch->x)) {
			chan_free(t, ch);
			return true;
		}
	}
	return false;
}

static void announce(struct ws_ftp_tracker *t, const struct chan *ch)
{
	struct ws_endpoint conn = {.addr = ch->connector, .port = 0}, alt;

	if (!t->p.ops.expect)
		return;
	t->p.ops.expect(t->p.arg, &conn, &ch->listener, t->p.idle_timeout);
	if (ch->listener_alt.family != WS_AF_NONE) {
		alt.addr = ch->listener_alt;
		alt.port = ch->listener.port;
		t->p.ops.expect(t->p.arg, &conn, &alt, t->p.idle_timeout);
	}
}

/*
 * PORT/EPRT accepted (active) or 227/229 received (passive). A listener
 * address other than the control peer's is also expected at the peer's
 * address: a NAT between the two may not rewrite what the command says.
 */
static void chan_open(struct ws_ftp_tracker *t, struct session *s, enum ws_ftp_mode mode,
		      const struct ws_endpoint *listener)
{
	const struct ws_endpoint *peer = mode == WS_FTP_MODE_ACTIVE ? &s->ctl.client : &s->ctl.server;
	const struct ws_endpoint *conn = mode == WS_FTP_MODE_ACTIVE ? &s->ctl.server : &s->ctl.client;
	struct chan *ch;

	for (unsigned i = 0; i < s->nchans; i++) {
		ch = s->chans[i];
		if (ch->mode == mode && ep_eq(&ch->listener, listener) && (!ch->bound || ch->ended))
			return;	/* the same again (active mode reusing its PORT) */
	}
	if (!chan_room(t, s))
		return;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return;
	ch->s = s;
	ch->mode = mode;
	ch->listener = *listener;
	ch->connector = conn->addr;
	if (!ws_addr_eq(&listener->addr, &peer->addr)) {
		ch->elsewhere = true;
		ch->listener_alt = peer->addr;
		t->st.port_elsewhere++;
	}
	ch->next = *chan_chain(t, listener->port);
	*chan_chain(t, listener->port) = ch;
	s->chans[s->nchans++] = ch;
	announce(t, ch);
}

static bool chan_matches(const struct chan *ch, const struct ws_ftp_flow *f)
{
	if (ch->listener.port != f->server.port || !ws_addr_eq(&ch->connector, &f->client.addr))
		return false;
	return ws_addr_eq(&ch->listener.addr, &f->server.addr) ||
	       (ch->listener_alt.family != WS_AF_NONE &&
		ws_addr_eq(&ch->listener_alt, &f->server.addr));
}

/* The channel this very connection is bound to. */
static struct chan *chan_exact(const struct ws_ftp_tracker *t, const struct ws_ftp_flow *f)
{
	for (struct chan *ch = *chan_chain(t, f->server.port); ch; ch = ch->next)
		if (ch->bound && flow_eq(&ch->flow, f))
			return ch;
	return NULL;
}

/* A channel a new connection may take; the newest announcement wins. */
static struct chan *chan_free_for(const struct ws_ftp_tracker *t, const struct ws_ftp_flow *f)
{
	for (struct chan *ch = *chan_chain(t, f->server.port); ch; ch = ch->next)
		if (chan_matches(ch, f) && (!ch->bound || ch->ended))
			return ch;
	return NULL;
}

/* A new connection takes the channel, and the next command waiting for one. */
static void chan_bind(struct ws_ftp_tracker *t, struct chan *ch, const struct ws_ftp_flow *f)
{
	struct session *s = ch->s;
	int u;

	if (ch->bound && ch->x)	/* an older connection's transfer: its data is over */
		ch->x->ch = NULL;
	free(ch->early);
	ch->early = NULL;
	ch->nearly = 0;
	ch->bound = true;
	ch->ended = false;
	ch->cut_end = false;
	ch->has_user = false;
	ch->x = NULL;
	ch->flow = *f;
	t->st.data_connections++;
	u = user_for(s, ch);
	if (u >= 0) {
		struct xfer *x = s->users[u].x;

		users_remove(s, (unsigned)u);
		chan_give(t, ch, x);
	}
}

/* Bytes before any command took the connection: keep a bounded start. */
static void chan_early(struct ws_ftp_tracker *t, struct chan *ch, enum ws_ftp_side side,
		       const uint8_t *b, size_t n)
{
	uint8_t *e;

	if (ch->nearly == 0)
		ch->early_side = side;
	if (side != ch->early_side)
		return;
	if (n > t->p.max_early - ch->nearly) {
		t->st.early_dropped += n - (t->p.max_early - ch->nearly);
		n = t->p.max_early - ch->nearly;
	}
	if (n == 0)
		return;
	e = realloc(ch->early, ch->nearly + n);
	if (!e) {
		t->st.early_dropped += n;
		return;
	}
	memcpy(e + ch->nearly, b, n);
	ch->early = e;
	ch->nearly += n;
}

/* ------------------------------------------------------------- sessions */

static void session_free(struct ws_ftp_tracker *t, struct session *s, enum ws_ftp_end how,
			 const char *why)
{
	struct session **pp = session_chain(t, &s->ctl);
	struct xfer *x, *next;

	for (x = t->xoldest; x; x = next) {
		next = x->newer;
		if (x->s == s)
			xfer_end(t, x, how, how == WS_FTP_INCOMPLETE ? unfinished_why(x, why) : NULL);
	}
	while (s->nchans)
		chan_free(t, s->chans[0]);
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	lru_unlink(t, s);
	t->nsessions--;
	free(s);
}

static struct session *session_new(struct ws_ftp_tracker *t, const struct ws_ftp_flow *f,
				   const struct timeval *ts)
{
	struct session *s;

	while (t->nsessions >= t->p.max_sessions && t->oldest)
		session_free(t, t->oldest, WS_FTP_EVICTED, NULL);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ctl = *f;
	s->last = *ts;
	s->next = *session_chain(t, f);
	*session_chain(t, f) = s;
	lru_push(t, s);
	t->nsessions++;
	t->st.sessions++;
	return s;
}

/* ------------------------------------------------------------- commands */

static void pend_push(struct session *s, const struct ws_ftp_command *c, struct xfer *x)
{
	if (s->npend == PEND_MAX) {	/* a client that never waits: forget the oldest */
		memmove(&s->pend[0], &s->pend[1], (PEND_MAX - 1) * sizeof(s->pend[0]));
		s->npend--;
	}
	s->pend[s->npend].cmd = c->cmd;
	s->pend[s->npend].ep_set = c->ep_set;
	s->pend[s->npend].ep = c->ep;
	s->pend[s->npend].x = x;
	s->npend++;
}

static void on_command(struct ws_ftp_tracker *t, struct session *s, const uint8_t *line,
		       size_t len, const struct timeval *ts)
{
	struct ws_ftp_command c;
	struct xfer *x = NULL;

	if (ws_ftp_parse_command(line, len, &c) != WS_FTP_OK) {
		t->st.bad_lines++;
		return;
	}
	t->st.commands++;
	switch (c.cmd) {
	case WS_FTP_CMD_USER:
		ws_copy_text(s->user, sizeof(s->user), c.arg, c.arglen, '?');
		break;
	case WS_FTP_CMD_REIN:
		s->user[0] = '\0';
		break;
	case WS_FTP_CMD_TYPE:
		s->type = c.type;
		break;
	case WS_FTP_CMD_RETR:
	case WS_FTP_CMD_STOR:
	case WS_FTP_CMD_STOU:
	case WS_FTP_CMD_APPE:
		x = xfer_new(t, s, &c, ts);
		/*
		 * Pending first: data that came early may end the transfer inside
		 * user_add (too large, a failed write), and xfer_end then clears
		 * its pending slot instead of leaving a freed pointer there.
		 */
		pend_push(s, &c, x);
		/* not followed (limits): its connection is still its own */
		if (x || s->nusers < USERS_MAX)
			user_add(t, s, x);
		return;
	case WS_FTP_CMD_LIST:
	case WS_FTP_CMD_NLST:
	case WS_FTP_CMD_MLSD:
		if (s->nusers < USERS_MAX)
			user_add(t, s, NULL);
		break;
	default:
		break;
	}
	pend_push(s, &c, x);
}

/* A listing's command failed: it will use no connection. */
static void drop_listing(struct session *s)
{
	for (unsigned i = 0; i < s->nusers; i++)
		if (!s->users[i].x) {
			users_remove(s, i);
			return;
		}
}

static void on_transfer_reply(struct ws_ftp_tracker *t, struct xfer *x,
			      const struct ws_ftp_reply *r)
{
	x->info.reply_code = r->code;
	memcpy(x->info.reply_text, r->text, sizeof(x->info.reply_text));
	if (r->code < 200) {
		if (r->size_set && !x->info.size_set) {
			x->info.size_set = true;
			x->info.size = r->size;
			if (r->size > t->p.max_file_size)
				xfer_end(t, x, WS_FTP_TOO_LARGE, NULL);
		}
		return;
	}
	if (r->code >= 400) {
		xfer_end(t, x, WS_FTP_ERROR, NULL);
		return;
	}
	x->final_ok = true;
	xfer_try_finish(t, x);
}

static void on_final(struct ws_ftp_tracker *t, struct session *s, const struct pending *pd,
		     const struct ws_ftp_reply *r)
{
	bool ok = r->code >= 200 && r->code < 300;
	struct ws_endpoint ep;

	switch (pd->cmd) {
	case WS_FTP_CMD_PORT:
	case WS_FTP_CMD_EPRT:
		if (ok && pd->ep_set && pd->ep.port)
			chan_open(t, s, WS_FTP_MODE_ACTIVE, &pd->ep);
		break;
	case WS_FTP_CMD_PASV:
		if (r->code == 227 && r->pasv_set && r->pasv.port)
			chan_open(t, s, WS_FTP_MODE_PASSIVE, &r->pasv);
		break;
	case WS_FTP_CMD_EPSV:
		/* RFC 2428 3: the address is the control connection's */
		if (r->code == 229 && r->epsv_set) {
			ep.addr = s->ctl.server.addr;
			ep.port = r->epsv_port;
			chan_open(t, s, WS_FTP_MODE_PASSIVE, &ep);
		}
		break;
	case WS_FTP_CMD_LIST:
	case WS_FTP_CMD_NLST:
	case WS_FTP_CMD_MLSD:
	case WS_FTP_CMD_RETR:	/* only here when not followed */
	case WS_FTP_CMD_STOR:
	case WS_FTP_CMD_STOU:
	case WS_FTP_CMD_APPE:
		if (r->code >= 400)
			drop_listing(s);
		break;
	default:
		break;
	}
}

/*
 * 227 and 229 answer only PASV and EPSV: if the oldest pending command is
 * something else, replies were lost (capture gap); skip to the command.
 */
static void resync(struct ws_ftp_tracker *t, struct session *s, unsigned code)
{
	enum ws_ftp_cmd want = code == 227 ? WS_FTP_CMD_PASV : WS_FTP_CMD_EPSV;
	unsigned i;

	if (code != 227 && code != 229)
		return;
	for (i = 0; i < s->npend && s->pend[i].cmd != want; i++)
		;
	if (i == 0 || i == s->npend)
		return;
	t->st.resyncs += i;
	memmove(&s->pend[0], &s->pend[i], (s->npend - i) * sizeof(s->pend[0]));
	s->npend -= i;
}

static void on_reply(struct ws_ftp_tracker *t, struct session *s, const struct ws_ftp_reply *r)
{
	struct pending pd;

	t->st.replies++;
	if (!s->greeted && (r->code == 220 || r->code == 120) && (s->npend == 0 || r->code == 220)) {
		/* the greeting answers no command, even when the client did not wait */
		s->greeted = r->code == 220;
		return;
	}
	s->greeted = true;
	if (s->npend == 0)
		return;		/* unsolicited */
	if (r->code < 200) {
		if (s->pend[0].x)
			on_transfer_reply(t, s->pend[0].x, r);
		return;
	}
	resync(t, s, r->code);
	pd = s->pend[0];
	memmove(&s->pend[0], &s->pend[1], (s->npend - 1) * sizeof(s->pend[0]));
	s->npend--;
	if (pd.x)
		on_transfer_reply(t, pd.x, r);
	else
		on_final(t, s, &pd, r);
}

static void on_line(struct ws_ftp_tracker *t, struct session *s, enum ws_ftp_side side,
		    const uint8_t *line, size_t len, const struct timeval *ts)
{
	if (side == WS_FTP_FROM_CLIENT) {
		on_command(t, s, line, len, ts);
		return;
	}
	switch (ws_ftp_reply_feed(&s->rd, line, len)) {
	case 1:
		on_reply(t, s, &s->rd.r);
		break;
	case 0:
		break;
	default:
		t->st.bad_lines++;
	}
}

/* The control connection's session, begun at its first byte or hole. */
static struct session *session_of(struct ws_ftp_tracker *t, const struct ws_ftp_flow *ctl,
				  const struct timeval *ts)
{
	struct session *s = session_find(t, ctl);

	return s ? s : session_new(t, ctl, ts);
}

void ws_ftp_ctl_data(struct ws_ftp_tracker *t, const struct ws_ftp_flow *ctl,
		     enum ws_ftp_side side, const uint8_t *bytes, size_t len,
		     const struct timeval *ts)
{
	struct session *s = session_of(t, ctl, ts);
	struct linebuf *lb;

	if (!s || side > WS_FTP_FROM_SERVER)
		return;
	touch(t, s, ts);
	lb = &s->line[side];
	if (lb->holed) {
		if (!ws_skip_cut_line(&bytes, &len))
			return;
		lb->holed = false;
	}
	while (len > 0 && !s->closed) {
		const uint8_t *lf = memchr(bytes, '\n', len);
		size_t take = lf ? (size_t)(lf - bytes) : len;
		size_t room = sizeof(lb->b) - lb->n;

		if (take > room) {
			if (!lb->cut)
				t->st.long_lines++;
			lb->cut = true;
		}
		memcpy(lb->b + lb->n, bytes, take < room ? take : room);
		lb->n += take < room ? take : room;
		if (!lf)
			return;
		on_line(t, s, side, lb->b, lb->n, ts);
		/* on_line may have freed nothing but the session's transfers */
		lb->n = 0;
		lb->cut = false;
		bytes += take + 1;
		len -= take + 1;
	}
}

void ws_ftp_ctl_gap(struct ws_ftp_tracker *t, const struct ws_ftp_flow *ctl,
		    enum ws_ftp_side side, const struct timeval *ts)
{
	struct session *s = session_of(t, ctl, ts);

	if (!s || side > WS_FTP_FROM_SERVER)
		return;
	s->line[side].n = 0;
	s->line[side].cut = false;
	s->line[side].holed = true;
}

void ws_ftp_ctl_end(struct ws_ftp_tracker *t, const struct ws_ftp_flow *ctl,
		    enum ws_ftp_close how, const struct timeval *ts)
{
	struct session *s = session_find(t, ctl);
	struct xfer *x, *next;

	(void)how;
	if (!s)
		return;
	touch(t, s, ts);
	s->closed = true;
	for (x = t->xoldest; x; x = next) {
		next = x->newer;
		/* without a connection and a 2xx, it cannot finish any more */
		if (x->s == s && !x->bound && !x->final_ok)
			xfer_end(t, x, WS_FTP_INCOMPLETE, "control-closed");
		else if (x->s == s && x->data_done && !x->final_ok)
			xfer_end(t, x, WS_FTP_INCOMPLETE, unfinished_why(x, "no-226"));
	}
	if (s->nxfers == 0)
		session_free(t, s, WS_FTP_INCOMPLETE, "control-closed");
}

/* ----------------------------------------------------------------- data */

bool ws_ftp_data_expected(const struct ws_ftp_tracker *t, const struct ws_ftp_flow *data)
{
	return chan_exact(t, data) || chan_free_for(t, data);
}

/* The channel a data connection feeds, bound at its first byte or hole; NULL: none. */
static struct chan *chan_live(struct ws_ftp_tracker *t, const struct ws_ftp_flow *data)
{
	struct chan *ch = chan_exact(t, data);

	/* bytes on a connection that ended: the 4-tuple was used again */
	if (!ch || ch->ended) {
		ch = chan_free_for(t, data);
		if (ch)
			chan_bind(t, ch, data);
	}
	return ch;
}

bool ws_ftp_data(struct ws_ftp_tracker *t, const struct ws_ftp_flow *data,
		 enum ws_ftp_side side, const uint8_t *bytes, size_t len,
		 const struct timeval *ts)
{
	struct chan *ch = chan_live(t, data);

	if (!ch) {
		t->st.data_unmatched++;
		return false;
	}
	touch(t, ch->s, ts);
	if (ch->x) {
		ch->x->info.last = *ts;
		if (side == sender_side(ch, ch->x->info.upload))
			xfer_write(t, ch->x, bytes, len);
	} else if (!ch->has_user) {
		chan_early(t, ch, side, bytes, len);
	}
	return true;
}

void ws_ftp_data_end(struct ws_ftp_tracker *t, const struct ws_ftp_flow *data,
		     enum ws_ftp_close how, const struct timeval *ts)
{
	struct chan *ch = chan_exact(t, data);
	struct session *s;
	struct xfer *x;

	if (ch && ch->ended)
		return;		/* told twice */
	if (!ch) {
		/* a connection that carried no byte still takes its command */
		ch = chan_free_for(t, data);
		if (!ch)
			return;
		chan_bind(t, ch, data);
	}
	s = ch->s;
	touch(t, s, ts);
	ch->ended = true;
	ch->cut_end = how != WS_FTP_CLOSE_FIN;
	x = ch->x;
	if (x) {
		x->data_done = true;
		x->cut = ch->cut_end || ch->holed;
		x->info.last = *ts;
		xfer_try_finish(t, x);
		/* still open: no 226 will come on a closed control connection */
		if (ch->x && s->closed)
			xfer_end(t, ch->x, WS_FTP_INCOMPLETE, unfinished_why(ch->x, "no-226"));
	}
	if (s->closed && s->nxfers == 0)
		session_free(t, s, WS_FTP_INCOMPLETE, "control-closed");
}

void ws_ftp_data_gap(struct ws_ftp_tracker *t, const struct ws_ftp_flow *data)
{
	struct chan *ch = chan_live(t, data);

	if (ch)
		ch->holed = true;
}

/* ------------------------------------------------------------ lifecycle */

static bool idle_too_long(const struct ws_ftp_tracker *t, const struct timeval *last,
			  const struct timeval *now)
{
	return ws_idle_longer(last, now, t->p.idle_timeout);
}

void ws_ftp_tracker_sweep(struct ws_ftp_tracker *t, const struct timeval *now)
{
	struct session *s, *next;

	/* capture time can go backwards: walk the whole list */
	for (s = t->oldest; s; s = next) {
		next = s->newer;
		if (idle_too_long(t, &s->last, now))
			session_free(t, s, WS_FTP_INCOMPLETE, "idle");
	}
}

struct ws_ftp_tracker *ws_ftp_tracker_new(const struct ws_ftp_track_params *p)
{
	struct ws_ftp_tracker *t;
	size_t n = 64;

	if (p->max_sessions == 0 || p->max_transfers == 0 || p->max_file_size == 0 ||
	    p->idle_timeout < 0 || (p->ops.open && (!p->ops.write || !p->ops.close))) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	while (n < TABLE_MAX && n / 2 < p->max_sessions)
		n *= 2;
	t->sessions = calloc(n, sizeof(*t->sessions));
	t->chans = calloc(n, sizeof(*t->chans));
	if (!t->sessions || !t->chans) {
		free(t->sessions);
		free(t->chans);
		free(t);
		return NULL;
	}
	t->mask = n - 1;
	t->p = *p;
	return t;
}

const struct ws_ftp_track_stats *ws_ftp_tracker_stats(const struct ws_ftp_tracker *t)
{
	return &t->st;
}

size_t ws_ftp_tracker_sessions(const struct ws_ftp_tracker *t)
{
	return t->nsessions;
}

size_t ws_ftp_tracker_transfers(const struct ws_ftp_tracker *t)
{
	return t->nxfers;
}

void ws_ftp_tracker_free(struct ws_ftp_tracker *t)
{
	if (!t)
		return;
	while (t->oldest)
		session_free(t, t->oldest, WS_FTP_INCOMPLETE, "idle");
	free(t->sessions);
	free(t->chans);
	free(t);
}
