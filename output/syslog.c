/*
 * Syslog output: each record's JSON object as one message.
 *
 * Network targets get RFC 5424 (UDP per RFC 5426, TCP framed by RFC 6587
 * octet counting). Unix sockets get the format syslog(3) writes to /dev/log:
 * rsyslog's imuxsock (default "special parser") does not parse RFC 5424
 * there, it took "1" for the tag and kept the whole header in the message
 * (tried with rsyslog 8.2302), while every local daemon parses the syslog(3)
 * form.
 *
 * Nothing here may stall capture: every socket is non-blocking; messages the
 * kernel does not take now wait in a bounded queue, sent on with the next
 * message or ws_writer_flush(); beyond it a message is dropped whole and
 * counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

#define DEV_LOG "/dev/log"
#define APP_NAME_MAX 48		/* RFC 5424 APP-NAME */
#define HOST_NAME_MAX_5424 255
#define RECONNECT_SECONDS 1

enum sev { SEV_WARNING = 4, SEV_NOTICE = 5, SEV_INFO = 6 };

struct target {
	struct sockaddr_storage sa;
	socklen_t salen;
	int type;		/* SOCK_DGRAM or SOCK_STREAM */
	bool unix_sock;
};

struct syslog_writer {
	struct ws_writer w;	/* first: the writer is the struct */
	struct target t;
	char label[160];	/* the target, for messages */
	int fd;
	int facility;
	char host[HOST_NAME_MAX_5424 + 1];
	char app[APP_NAME_MAX + 1];
	bool broken_reported;
	struct timespec last_connect;
	/* messages not yet taken by the kernel, as "LEN SP MSG" frames in
	 * q[qhead, qlen): sending moves qhead, enqueueing compacts only when
	 * the tail has no room (no memmove per datagram sent) */
	char *q;
	size_t qhead, qlen;
	size_t qmsgs;		/* frames with bytes still in q */
	size_t head_left;	/* unsent bytes of the first frame */
};

/* ---------------------------------------------------------------- names */

static const struct {
	const char *name;
	int code;
} facilities[] = {
	{"kern", 0}, {"user", 1}, {"mail", 2}, {"daemon", 3}, {"auth", 4}, {"syslog", 5},
	{"lpr", 6}, {"news", 7}, {"uucp", 8}, {"cron", 9}, {"authpriv", 10}, {"ftp", 11},
	{"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19}, {"local4", 20},
	{"local5", 21}, {"local6", 22}, {"local7", 23},
};

int ws_syslog_facility(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (!strcmp(facilities[i].name, name))
			return facilities[i].code;
	return -1;
}

/* --------------------------------------------------------------- targets */

static int fail(char *why, size_t cap, const char *text)
{
	snprintf(why, cap, "%s", text);
	return -1;
}

static int parse_unix(const char *path, struct target *t, char *why, size_t cap)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&t->sa;

	if (path[0] != '/')
		return fail(why, cap, "unix: needs an absolute socket path");
	if (strlen(path) >= sizeof(sun->sun_path))
		return fail(why, cap, "unix socket path too long");
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, path);
	t->salen = sizeof(*sun);
	t->type = SOCK_DGRAM;
	t->unix_sock = true;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || *s == '0' || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "HOST:PORT", HOST a dotted quad or [IPv6]; no name is ever resolved. */
static int parse_inet(const char *hp, struct target *t, char *why, size_t cap)
{
	char host[64];
	const char *colon = strrchr(hp, ':');
	size_t hl = colon ? (size_t)(colon - hp) : 0;
	uint16_t port;

	if (!colon || hl == 0 || hl >= sizeof(host) || parse_port(colon + 1, &port) < 0)
		return fail(why, cap, "expected HOST:PORT with a port 1..65535");
	memcpy(host, hp, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->sa;

		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return fail(why, cap, "not a numeric IPv6 address");
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		t->salen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->sa;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return fail(why, cap, "not a numeric IPv4 address (names are not resolved; "
				    "IPv6 goes in brackets)");
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		t->salen = sizeof(*s4);
	}
	return 0;
}

static int parse_target(const char *s, struct target *t, char *why, size_t cap)
{
	memset(t, 0, sizeof(*t));
	if (!strcmp(s, "local"))
		return parse_unix(DEV_LOG, t, why, cap);
	if (!strncmp(s, "unix:", 5))
		return parse_unix(s + 5, t, why, cap);
	if (!strncmp(s, "udp:", 4)) {
		t->type = SOCK_DGRAM;
		return parse_inet(s + 4, t, why, cap);
	}
	if (!strncmp(s, "tcp:", 4)) {
		t->type = SOCK_STREAM;
		return parse_inet(s + 4, t, why, cap);
	}
	return fail(why, cap, "expected local, unix:/PATH, udp:HOST:PORT or tcp:HOST:PORT");
}

int ws_syslog_target_check(const char *target, char *why, size_t whylen)
{
	struct target t;

	return parse_target(target, &t, why, whylen);
}

/* ------------------------------------------------------------ connection */

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* A non-blocking connect: TCP may still be in progress when this returns 0. */
static int connect_now(struct syslog_writer *s)
{
	int fd = socket(s->t.sa.ss_family, s->t.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	clock_gettime(CLOCK_MONOTONIC, &s->last_connect);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&s->t.sa, s->t.salen) < 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	s->fd = fd;
	return 0;
}

/* Say once per outage that the collector is gone. */
static void report_broken(struct syslog_writer *s, int why)
{
	if (!s->broken_reported)
		fprintf(stderr, "wormsnare: syslog %s: %s; reconnecting\n", s->label, strerror(why));
	s->broken_reported = true;
}

/* At most once a second; a failure leaves fd -1 and the queue as it is. */
static void reconnect(struct syslog_writer *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (since(&s->last_connect, &now) >= RECONNECT_SECONDS && connect_now(s) < 0)
		report_broken(s, errno);
}

/* ------------------------------------------------------------------ queue */

/*
 * Messages wait in q as "LEN SP MSG" frames: RFC 6587 octet counting is what
 * TCP sends, and for datagrams the same prefix marks where a message ends
 * (only MSG goes out). A burst thus waits instead of being dropped while the
 * daemon catches up, and the caller never waits.
 */

/* Bytes of the frame at p. */
static size_t frame_size(const char *p)
{
	size_t len = 0, i = 0;

	for (; p[i] != ' '; i++)
		len = len * 10 + (size_t)(p[i] - '0');
	return i + 1 + len;
}

/* The first n queued bytes are gone: count the frames that ended. */
static void consumed(struct syslog_writer *s, size_t n)
{
	size_t left = n;

	while (s->qmsgs && left >= s->head_left) {
		left -= s->head_left;
		s->qmsgs--;
		/* the next frame starts n - left bytes in */
		s->head_left = s->qmsgs ? frame_size(s->q + s->qhead + (n - left)) : 0;
	}
	if (s->qmsgs)
		s->head_left -= left;
	s->qhead += n;
	if (s->qhead == s->qlen)
		s->qhead = s->qlen = 0;
}

static void drop_queue(struct syslog_writer *s)
{
	s->w.dropped += s->qmsgs;
	s->qhead = s->qlen = s->qmsgs = s->head_left = 0;
}

static int enqueue(struct syslog_writer *s, const char *msg, size_t len)
{
	char pre[24];
	size_t pl = (size_t)snprintf(pre, sizeof(pre), "%zu ", len);

	if (s->qlen - s->qhead + pl + len > WS_SYSLOG_QUEUE) {
		errno = ENOBUFS;
		return -1;
	}
	if (s->qlen + pl + len > WS_SYSLOG_QUEUE) {
		memmove(s->q, s->q + s->qhead, s->qlen - s->qhead);
		s->qlen -= s->qhead;
		s->qhead = 0;
	}
	if (s->qmsgs == 0)
		s->head_left = pl + len;
	memcpy(s->q + s->qlen, pre, pl);
	memcpy(s->q + s->qlen + pl, msg, len);
	s->qlen += pl + len;
	s->qmsgs++;
	return 0;
}

/*
 * TCP: hand the kernel what it takes now. A broken connection loses the
 * queue (its first frame may be half sent; never resume it on a new one).
 */
static void flush_stream(struct syslog_writer *s)
{
	while (s->qlen > s->qhead && s->fd >= 0) {
		ssize_t n = send(s->fd, s->q + s->qhead, s->qlen - s->qhead,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			consumed(s, (size_t)n);
			s->broken_reported = false;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else if (!(n < 0 && errno == EINTR)) {
			report_broken(s, n < 0 ? errno : EPIPE);
			close(s->fd);
			s->fd = -1;
			drop_queue(s);
		}
	}
}

static bool peer_restarted(const struct syslog_writer *s, int e)
{
	return s->t.unix_sock ? e == ECONNREFUSED || e == ENOTCONN : e == ECONNREFUSED;
}

/*
 * Datagrams, one message each. UDP: an ICMP error for an earlier datagram is
 * reported once on a later send, which did not go: send it again. A unix
 * daemon that restarted made a new socket: connect to it again.
 */
static void flush_dgram(struct syslog_writer *s)
{
	bool retried = false;

	while (s->qmsgs && s->fd >= 0) {
		const char *f = s->q + s->qhead;
		size_t fs = frame_size(f), hl = strcspn(f, " ") + 1;
		ssize_t n = send(s->fd, f + hl, fs - hl, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && !retried && peer_restarted(s, errno)) {
			retried = true;
			if (s->t.unix_sock) {
				close(s->fd);
				s->fd = -1;
				if (connect_now(s) < 0)
					report_broken(s, errno);
			}
			continue;
		}
		if (n == (ssize_t)(fs - hl))
			s->broken_reported = false;
		else
			s->w.dropped++;	/* too big for the socket, or refused twice */
		consumed(s, fs);
	}
}

static void flush_all(struct syslog_writer *s)
{
	if (s->fd < 0 && s->qmsgs)
		reconnect(s);
	if (s->t.type == SOCK_STREAM)
		flush_stream(s);
	else
		flush_dgram(s);
}

/* -------------------------------------------------------------- messages */

/* RFC 5424 header fields are PRINTUSASCII (33..126) and never empty. */
static void printable_token(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	for (; src && *src && o + 1 < cap; src++)
		dst[o++] = (*src > 32 && *src < 127) ? *src : '_';
	if (o == 0)
		dst[o++] = '-';
	dst[o] = '\0';
}

/* "Mmm dd hh:mm:ss" as syslog(3) writes it; fixed English month names. */
static void rfc3164_time(char *dst, size_t cap, time_t t)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (!localtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(dst, cap, "%s %2d %02d:%02d:%02d", months[tm.tm_mon % 12], tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *format_message(struct syslog_writer *s, enum sev sev, const char *msgid,
			    const char *json)
{
	struct timeval now;
	char when[64];
	char *msg = NULL;
	int pri = s->facility * 8 + (int)sev, n;

	gettimeofday(&now, NULL);
	if (s->t.unix_sock) {
		rfc3164_time(when, sizeof(when), now.tv_sec);
		n = asprintf(&msg, "<%d>%s %s[%d]: %s", pri, when, s->app, (int)getpid(), json);
	} else {
		ws_format_time(when, sizeof(when), &now);
		n = asprintf(&msg, "<%d>1 %s %s %s %d %s - %s", pri, when, s->host, s->app,
			     (int)getpid(), msgid, json);
	}
	return n < 0 ? NULL : msg;
}

/* The largest UDP payload (RFC 768 length minus headers). */
static size_t udp_max(const struct syslog_writer *s)
{
	return s->t.sa.ss_family == AF_INET6 ? 65527 : 65507;
}

/* 0: sent or queued (a queued message lost later is counted then). */
static int emit(struct ws_writer *w, enum sev sev, const char *msgid, char *json)
{
	struct syslog_writer *s = (struct syslog_writer *)w;
	char *msg = json ? format_message(s, sev, msgid, json) : NULL;
	size_t len = msg ? strlen(msg) : 0;
	int rc = -1;

	if (!msg)
		errno = ENOMEM;
	else if (!s->t.unix_sock && s->t.type == SOCK_DGRAM && len > udp_max(s))
		errno = EMSGSIZE;
	else
		rc = enqueue(s, msg, len);
	if (rc < 0)
		w->dropped++;
	flush_all(s);
	free(msg);
	free(json);
	return rc;
}

static int syslog_command(struct ws_writer *w, const struct ws_cmd_record *r)
{
	return emit(w, SEV_NOTICE, "command", ws_json_command(r));
}

static int syslog_file(struct ws_writer *w, const struct ws_file_record *r)
{
	return emit(w, SEV_INFO, "file", ws_json_file(r));
}

static int syslog_warning(struct ws_writer *w, const struct ws_warn_record *r)
{
	return emit(w, SEV_WARNING, "warning", ws_json_warning(r));
}

static int syslog_flush(struct ws_writer *w)
{
	struct syslog_writer *s = (struct syslog_writer *)w;

	flush_all(s);
	return s->fd < 0 && s->qmsgs ? -1 : 0;
}

static void syslog_close(struct ws_writer *w)
{
	struct syslog_writer *s = (struct syslog_writer *)w;

	syslog_flush(w);
	if (s->fd >= 0)
		close(s->fd);
	free(s->q);
	free(s);
}

struct ws_writer *ws_syslog_open(const struct ws_syslog_params *p, char *err, size_t errlen)
{
	struct syslog_writer *s = calloc(1, sizeof(*s));
	char why[160], host[HOST_NAME_MAX_5424 + 1] = "";

	if (!s) {
		snprintf(err, errlen, "syslog: out of memory");
		return NULL;
	}
	s->fd = -1;
	snprintf(s->label, sizeof(s->label), "%s", p->target);
	s->facility = ws_syslog_facility(p->facility ? p->facility : "daemon");
	if (s->facility < 0) {
		snprintf(err, errlen, "syslog: unknown facility \"%.40s\"", p->facility);
		goto fail;
	}
	if (parse_target(p->target, &s->t, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "syslog: %.100s: %s", p->target, why);
		goto fail;
	}
	if (!p->hostname)
		gethostname(host, sizeof(host) - 1);
	printable_token(s->host, sizeof(s->host), p->hostname ? p->hostname : host);
	printable_token(s->app, sizeof(s->app), p->app_name ? p->app_name : "wormsnare");
	if (!(s->q = malloc(WS_SYSLOG_QUEUE))) {
		snprintf(err, errlen, "syslog: out of memory");
		goto fail;
	}
	/*
	 * A unix socket cannot be reached after chroot: failing now is final. A
	 * TCP collector that is down now is retried with the next message.
	 */
	if (connect_now(s) < 0 && s->t.type != SOCK_STREAM) {
		snprintf(err, errlen, "syslog: %s: connect: %s", p->target, strerror(errno));
		goto fail;
	}
	s->w.name = "syslog";
	s->w.command = syslog_command;
	s->w.file = syslog_file;
	s->w.warning = syslog_warning;
	s->w.flush = syslog_flush;
	s->w.close = syslog_close;
	return &s->w;
fail:
	free(s->q);
	free(s);
	return NULL;
}
