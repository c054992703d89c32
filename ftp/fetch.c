/*
 * FTP fetch engine on libcurl's multi "socket" interface: each download
 * owns a multi handle with one easy handle, tells the caller which
 * descriptors to poll and when to wake it, and never blocks, so the
 * fetcher runs TFTP and FTP transfers side by side in one poll loop.
 *
 * Why libcurl and not a client of our own: FTP needs two TCP connections,
 * a reply parser, EPSV/PASV/EPRT/PORT fallbacks, ASCII/binary types and
 * many server quirks; libcurl is maintained, in Debian, fuzzed (OSS-Fuzz)
 * and already has the knobs this needs (protocol allow-list, size limit,
 * deadlines, CURLOPT_FTP_SKIP_PASV_IP). What is ours is the policy: the
 * options below, the status strings, and the passive-then-active order.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp.h"

#define FDS_MAX 4	/* control, data, and a listening socket in active mode */
#define STATUS_MAX 160
#define REPLY_SHOWN 100
#define NAME_MAX_LEN 1024

struct watched {
	curl_socket_t fd;
	int what;	/* CURL_POLL_IN / OUT / INOUT */
};

struct ws_ftp_fetch {
	struct ws_ftp_fetch_params p;
	char remote[NAME_MAX_LEN], user[NAME_MAX_LEN], pass[NAME_MAX_LEN];
	CURLM *multi;
	CURL *easy;
	enum ws_ftp_mode mode;
	enum ws_tftp_xfer_state state;
	struct watched fds[FDS_MAX];
	size_t nfds;
	int64_t timer_at;	/* libcurl's wake-up, -1 none */
	int64_t deadline;	/* the overall one */
	uint64_t bytes;
	bool too_large;
	int write_errno;
	struct ws_ftp_reply_reader rd;	/* the server's replies, from the debug callback */
	uint8_t rline[WS_FTP_LINE_MAX];
	size_t rlen;
	struct ws_ftp_reply last;	/* the last complete reply */
	char errbuf[CURL_ERROR_SIZE];
	char status[STATUS_MAX];
};

int ws_ftp_fetch_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void ws_ftp_fetch_global_cleanup(void)
{
	curl_global_cleanup();
}

static enum ws_tftp_xfer_state finish(struct ws_ftp_fetch *f, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum ws_tftp_xfer_state finish(struct ws_ftp_fetch *f, bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->status, sizeof(f->status), fmt, ap);
	va_end(ap);
	f->state = ok ? WS_XFER_DONE : WS_XFER_FAILED;
	return f->state;
}

/* libcurl's and errno's texts as a status field, without trailing blanks. */
static void printable(char *dst, size_t cap, const char *src)
{
	size_t j = strlen(ws_status_text(dst, cap, src));

	while (j > 0 && dst[j - 1] == ' ')
		j--;
	dst[j] = '\0';
}

/* ------------------------------------------------------ libcurl callbacks */

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct ws_ftp_fetch *f = userp;
	size_t i;

	(void)e;
	(void)socketp;
	for (i = 0; i < f->nfds && f->fds[i].fd != s; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < f->nfds)
			f->fds[i] = f->fds[--f->nfds];
		return 0;
	}
	if (i == f->nfds) {
		if (f->nfds == FDS_MAX)
			return -1;	/* never happens with one FTP transfer */
		f->nfds++;
	}
	f->fds[i].fd = s;
	f->fds[i].what = what;
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct ws_ftp_fetch *f = userp;

	(void)m;
	f->timer_at = timeout_ms < 0 ? -1 : ws_now_ms() + timeout_ms;
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct ws_ftp_fetch *f = userp;
	size_t n = size * nmemb;

	/* the running cap: a server that announces no size (or lies) stops here */
	if (n > f->p.max_size - f->bytes) {
		f->too_large = true;
		return 0;
	}
	if (n && f->p.sink(f->p.sink_arg, (const uint8_t *)ptr, n) < 0) {
		f->write_errno = errno ? errno : EIO;
		return 0;
	}
	f->bytes += n;
	return n;
}

/* The server's reply lines arrive as CURLINFO_HEADER_IN; keep the last reply. */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *userp)
{
	struct ws_ftp_fetch *f = userp;

	(void)e;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] != '\n') {
			if (f->rlen < sizeof(f->rline))
				f->rline[f->rlen++] = (uint8_t)data[i];
			continue;
		}
		if (ws_ftp_reply_feed(&f->rd, f->rline, f->rlen) == 1)
			f->last = f->rd.r;
		f->rlen = 0;
	}
	return 0;
}

/* ------------------------------------------------------------ transfers */

static bool has_line_break(const char *s)
{
	return s && (strchr(s, '\r') || strchr(s, '\n'));
}

static char *make_url(const struct ws_ftp_fetch *f, CURL *e)
{
	char host[WS_ADDR_STRLEN], *path, *url;
	const char *fmt = f->p.server.addr.family == WS_AF_INET6 ? "ftp://[%s]:%u/%s" : "ftp://%s:%u/%s";
	size_t n;

	ws_addr_str(&f->p.server.addr, host, sizeof(host));
	/* everything escaped, '/' too: with NOCWD libcurl sends the decoded
	   path in one RETR, exactly as the script named it */
	path = curl_easy_escape(e, f->remote, 0);
	if (!path)
		return NULL;
	n = strlen(path) + strlen(host) + 32;
	url = malloc(n);
	if (url)
		snprintf(url, n, fmt, host, f->p.server.port, path);
	curl_free(path);
	return url;
}

#define SET(opt, val) (ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK)

static CURL *make_easy(struct ws_ftp_fetch *f, int64_t now)
{
	CURL *e = curl_easy_init();
	char *url;
	bool ok = true;
	long left = (long)(f->deadline - now);

	if (!e)
		return NULL;
	url = make_url(f, e);
	ok = url != NULL;
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "ftp");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "ftp");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, "");			/* no *_proxy from the environment */
	SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SET(CURLOPT_NOSIGNAL, 1L);
	/* the FTP bounce defence: data only ever to the control connection's server */
	SET(CURLOPT_FTP_SKIP_PASV_IP, 1L);
	SET(CURLOPT_FTP_USE_EPSV, 1L);
	SET(CURLOPT_FTP_USE_EPRT, 1L);
	SET(CURLOPT_FTPPORT, f->mode == WS_FTP_MODE_ACTIVE ? "-" : NULL);
	SET(CURLOPT_FTP_FILEMETHOD, (long)CURLFTPMETHOD_NOCWD);
	SET(CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR_NONE);
	SET(CURLOPT_TRANSFERTEXT, 0L);		/* TYPE I: the bytes as stored */
	SET(CURLOPT_USERNAME, f->user);
	SET(CURLOPT_PASSWORD, f->pass);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->p.max_size);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)f->p.connect_timeout_s * 1000);
	SET(CURLOPT_ACCEPTTIMEOUT_MS, (long)f->p.connect_timeout_s * 1000);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)f->p.timeout_s);
	SET(CURLOPT_TIMEOUT_MS, left > 1 ? left : 1L);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, f);
	SET(CURLOPT_DEBUGFUNCTION, on_debug);
	SET(CURLOPT_DEBUGDATA, f);
	SET(CURLOPT_VERBOSE, 1L);		/* feeds on_debug; nothing is printed */
	SET(CURLOPT_ERRORBUFFER, f->errbuf);
	free(url);
	if (!ok) {
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

/* Start (or restart, in the other mode) the one easy handle. */
static bool attempt(struct ws_ftp_fetch *f, int64_t now)
{
	int running;

	if (f->easy) {
		curl_multi_remove_handle(f->multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	memset(&f->rd, 0, sizeof(f->rd));
	memset(&f->last, 0, sizeof(f->last));
	f->rlen = 0;
	f->errbuf[0] = '\0';
	f->easy = make_easy(f, now);
	if (!f->easy || curl_multi_add_handle(f->multi, f->easy) != CURLM_OK)
		return false;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	return true;
}

struct ws_ftp_fetch *ws_ftp_fetch_start(const struct ws_ftp_fetch_params *p, int64_t now,
					char *err, size_t errlen)
{
	struct ws_ftp_fetch *f;

	if (!p->remote || !p->remote[0] || strlen(p->remote) >= NAME_MAX_LEN || !p->sink ||
	    (p->user && strlen(p->user) >= NAME_MAX_LEN) ||
	    (p->pass && strlen(p->pass) >= NAME_MAX_LEN) || p->timeout_s < 1 ||
	    p->connect_timeout_s < 1 || p->max_size == 0 || p->server.port == 0 ||
	    (p->server.addr.family != WS_AF_INET && p->server.addr.family != WS_AF_INET6)) {
		snprintf(err, errlen, "invalid transfer parameters");
		return NULL;
	}
	/* a line break would end the FTP command early (RFC 959 4.1.3) */
	if (has_line_break(p->remote) || has_line_break(p->user) || has_line_break(p->pass)) {
		snprintf(err, errlen, "invalid transfer parameters: line break in a name");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->p = *p;
	snprintf(f->remote, sizeof(f->remote), "%s", p->remote);
	snprintf(f->user, sizeof(f->user), "%s", p->user && p->user[0] ? p->user : "anonymous");
	snprintf(f->pass, sizeof(f->pass), "%s",
		 p->user && p->user[0] ? (p->pass ? p->pass : "") : "anonymous@");
	f->p.remote = f->remote;
	f->p.user = f->user;
	f->p.pass = f->pass;
	f->mode = WS_FTP_MODE_PASSIVE;
	f->state = WS_XFER_RUNNING;
	f->timer_at = -1;
	f->deadline = now + (int64_t)p->timeout_s * 1000;
	f->multi = curl_multi_init();
	if (!f->multi ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK ||
	    !attempt(f, now)) {
		snprintf(err, errlen, "libcurl setup failed");
		ws_ftp_fetch_free(f);
		return NULL;
	}
	return f;
}

/* The control connection worked but the data connection could not be opened. */
static bool passive_failed(const struct ws_ftp_fetch *f, CURLcode rc)
{
	if (f->bytes > 0 || f->last.code == 0)
		return false;
	switch (rc) {
	case CURLE_FTP_WEIRD_PASV_REPLY:
	case CURLE_FTP_WEIRD_227_FORMAT:
	case CURLE_FTP_CANT_GET_HOST:
	case CURLE_COULDNT_CONNECT:
		return true;
	default:
		return false;
	}
}

static enum ws_tftp_xfer_state done(struct ws_ftp_fetch *f, CURLcode rc, int64_t now)
{
	char why[REPLY_SHOWN + 1];

	if (rc == CURLE_OK)
		return finish(f, true, "ok");
	if (f->mode == WS_FTP_MODE_PASSIVE && f->p.active_fallback && passive_failed(f, rc) &&
	    now < f->deadline) {
		f->mode = WS_FTP_MODE_ACTIVE;
		if (attempt(f, now))
			return f->state;
		return finish(f, false, "ftp-failed:libcurl setup");
	}
	if (f->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return finish(f, false, "too-large");
	if (f->write_errno) {
		printable(why, sizeof(why), strerror(f->write_errno));
		return finish(f, false, "write-error:%s", why);
	}
	if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_FTP_ACCEPT_TIMEOUT)
		return finish(f, false, "timeout");
	if (rc == CURLE_PARTIAL_FILE)
		return finish(f, false, "incomplete");
	if (f->last.code >= 400) {
		char st[sizeof(f->status)];

		/* the same Status as a refusal carved from the wire */
		return finish(f, false, "%s", ws_error_status(st, sizeof(st), "ftp", f->last.code,
							      f->last.text));
	}
	printable(why, sizeof(why), f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_COULDNT_CONNECT)
		return finish(f, false, "connect-failed:%s", why);
	return finish(f, false, "ftp-failed:%s", why);
}

static void collect(struct ws_ftp_fetch *f, int64_t now)
{
	CURLMsg *m;
	int left;

	while (f->state == WS_XFER_RUNNING && (m = curl_multi_info_read(f->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == f->easy)
			done(f, m->data.result, now);
}

static bool watched(const struct ws_ftp_fetch *f, int fd)
{
	for (size_t i = 0; i < f->nfds; i++)
		if (f->fds[i].fd == fd)
			return true;
	return false;
}

enum ws_tftp_xfer_state ws_ftp_fetch_step(struct ws_ftp_fetch *f, const struct pollfd *fds,
					  size_t n, int64_t now)
{
	int running;

	for (size_t i = 0; i < n && f->state == WS_XFER_RUNNING; i++) {
		int mask = 0;

		if (!fds[i].revents || !watched(f, fds[i].fd))
			continue;
		if (fds[i].revents & (POLLIN | POLLHUP))
			mask |= CURL_CSELECT_IN;
		if (fds[i].revents & POLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (fds[i].revents & (POLLERR | POLLNVAL))
			mask |= CURL_CSELECT_ERR;
		curl_multi_socket_action(f->multi, fds[i].fd, mask, &running);
		collect(f, now);
	}
	if (f->state == WS_XFER_RUNNING && f->timer_at >= 0 && now >= f->timer_at) {
		f->timer_at = -1;
		curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		collect(f, now);
	}
	if (f->state == WS_XFER_RUNNING && now >= f->deadline)
		finish(f, false, "timeout");	/* libcurl's own timeout should have fired */
	return f->state;
}

size_t ws_ftp_fetch_fds(const struct ws_ftp_fetch *f, struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	if (f->state != WS_XFER_RUNNING)
		return 0;
	for (size_t i = 0; i < f->nfds && n < cap; i++) {
		fds[n].fd = f->fds[i].fd;
		fds[n].events = (short)((f->fds[i].what & CURL_POLL_IN ? POLLIN : 0) |
					(f->fds[i].what & CURL_POLL_OUT ? POLLOUT : 0));
		fds[n].revents = 0;
		n++;
	}
	return n;
}

int64_t ws_ftp_fetch_deadline(const struct ws_ftp_fetch *f)
{
	if (f->timer_at >= 0 && f->timer_at < f->deadline)
		return f->timer_at;
	return f->deadline;
}

enum ws_tftp_xfer_state ws_ftp_fetch_state(const struct ws_ftp_fetch *f)
{
	return f->state;
}

const char *ws_ftp_fetch_status(const struct ws_ftp_fetch *f)
{
	return f->state == WS_XFER_RUNNING ? "running" : f->status;
}

uint64_t ws_ftp_fetch_bytes(const struct ws_ftp_fetch *f)
{
	return f->bytes;
}

enum ws_ftp_mode ws_ftp_fetch_mode(const struct ws_ftp_fetch *f)
{
	return f->mode;
}

void ws_ftp_fetch_free(struct ws_ftp_fetch *f)
{
	if (!f)
		return;
	if (f->easy) {
		curl_multi_remove_handle(f->multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	if (f->multi)
		curl_multi_cleanup(f->multi);
	free(f);
}
