/*
 * Wire carving policy: which transfers to keep, under which name, and how
 * they are logged. The TFTP tracker in tftp/ and the FTP tracker in ftp/
 * follow their protocols; this file decides what the bytes mean to us, the
 * same way for both: one file store.
 *
 * Transfer data is pwritten at its offset into a temp file as blocks arrive
 * (out of order too), hashed when complete, then linked under its final
 * name. link(2) fails when the name exists, so a file the fetcher already
 * stored for the same event is kept as the one copy.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nettle/md5.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ftp.h"
#include "output.h"
#include "reassembly.h"
#include "sensor.h"
#include "tftp.h"

#define RECENT_GETS 256
#define NAME_TRIES 1000
#define EARLY_SLACK 5		/* seconds a transfer may appear before its GET line completes */
#define PARKED_MAX 64

struct recent_get {
	uint64_t eventid;
	int proto;				/* WS_CARVE_TFTP or WS_CARVE_FTP */
	struct ws_addr victim, attacker, host;	/* host: WS_AF_NONE when not a literal */
	char file[WS_FIELD_MAX];		/* basename, lower case */
	time_t when;
};

struct carve_file {
	int fd;
	uint64_t eventid;	/* 0: no GET event matched */
	uint64_t end;		/* highest byte written */
	int write_errno;	/* why the data could not be stored, 0 if it could */
	char tmp[64];
};

/* What a finished transfer was, for the store: the same for both protocols. */
struct done_xfer {
	const char *proto;		/* "tftp" or "ftp": the stored name's prefix */
	const char *filename;		/* raw */
	const char *status;		/* "ok" when complete */
	bool complete;
	uint64_t bytes;			/* the file's size when complete */
	struct timeval last;
	uint8_t ipproto;
	struct ws_endpoint client, server;	/* the transfer (the row's flow) */
	struct ws_endpoint named;	/* the row's Server column */
	/* for matching a GET later (another worker's note) */
	int kind;			/* WS_CARVE_TFTP or WS_CARVE_FTP */
	bool upload;
	struct ws_addr victim, host;
	struct timeval first;
};

/* A complete transfer no GET matched yet, waiting for a note from another worker. */
struct parked {
	struct carve_file *f;
	struct done_xfer d;	/* filename and status: the copies below */
	char *filename, *status;
	int64_t deadline_ms;
};



struct ws_carve_store {
	const struct ws_config *cfg;
	int dirfd;
	struct ws_carve_store_params p;
	struct ws_carver *tracker;
	struct ws_ftp_tracker *ftp;
	struct recent_get gets[RECENT_GETS];
	unsigned next_get;
	uint64_t inflight;	/* bytes held by unfinished transfers */
	uint64_t next_wire;	/* n of tftp_<stem>_<n>.bin and ftp_<stem>_<n>.bin */
	struct ws_carve_store_stats st;
	struct parked parked[PARKED_MAX];
	size_t nparked;
	struct ws_carve_stats tracker_final;	/* once the tracker is gone */
	struct ws_ftp_track_stats ftp_final;
};

int ws_hash_fd(int fd, uint64_t size, char md5_hex[33], char sha256_hex[65])
{
	struct ws_hash_sink h;
	uint8_t buf[65536];
	uint64_t off = 0;

	ws_hash_sink_init(&h, -1);	/* hashing only: nothing is written */
	while (off < size) {
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than the transfer said */
			return -1;
		}
		md5_update(&h.md5, (size_t)n, buf);
		sha256_update(&h.sha, (size_t)n, buf);
		off += (uint64_t)n;
	}
	ws_hash_sink_hex(&h, md5_hex, sha256_hex);
	return 0;
}

/* Basename after / \ or :, lower-cased, for comparing what was asked and fetched. */
static void file_key(char *dst, size_t cap, const char *file)
{
	const char *b = file;
	size_t i = 0;

	for (const char *p = file; *p; p++)
		if (*p == '/' || *p == '\\' || *p == ':')
			b = p + 1;
	for (; b[i] && i + 1 < cap; i++)
		dst[i] = (char)tolower((unsigned char)b[i]);
	dst[i] = '\0';
}

static void unpark_matching(struct ws_carve_store *cs);

void ws_carve_store_note_get(struct ws_carve_store *cs, uint64_t eventid, int proto,
			     const struct ws_addr *victim, const struct ws_addr *attacker,
			     const struct ws_addr *host, const char *file, const struct timeval *ts)
{
	struct recent_get *g = &cs->gets[cs->next_get++ % RECENT_GETS];

	g->eventid = eventid;
	g->proto = proto;
	g->victim = *victim;
	g->attacker = *attacker;
	g->host = *host;
	file_key(g->file, sizeof(g->file), file);
	g->when = ts->tv_sec;
	if (cs->nparked)
		unpark_matching(cs);
}

/*
 * The newest GET this download answers: same protocol, victim and file, and
 * a server it named (or, the NAT case, the attacker's address).
 */
static uint64_t match_get(const struct ws_carve_store *cs, int proto, const struct ws_addr *victim,
			  const struct ws_addr *server, const char *filename,
			  const struct timeval *first)
{
	char want[WS_FIELD_MAX];

	file_key(want, sizeof(want), filename);
	for (unsigned i = 1; i <= RECENT_GETS; i++) {
		const struct recent_get *g = &cs->gets[(cs->next_get - i) % RECENT_GETS];
		time_t age = first->tv_sec - g->when;

		if (g->eventid == 0)
			break;
		if (g->proto != proto || !ws_addr_eq(&g->victim, victim) || strcmp(g->file, want) != 0)
			continue;
		if (!ws_addr_eq(&g->host, server) && !ws_addr_eq(&g->attacker, server))
			continue;
		if (age >= -EARLY_SLACK && age <= cs->cfg->carve.correlation_window)
			return g->eventid;
	}
	return 0;
}

/* A temp file for a transfer; NULL (counted) when it cannot be created. */
static struct carve_file *file_open(struct ws_carve_store *cs, uint64_t serial, const char *proto)
{
	struct carve_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	snprintf(f->tmp, sizeof(f->tmp), ".tmp-%s-%d-%" PRIu64, proto, (int)getpid(), serial);
	f->fd = openat(cs->dirfd, f->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (f->fd < 0 && errno == EEXIST && unlinkat(cs->dirfd, f->tmp, 0) == 0)
		f->fd = openat(cs->dirfd, f->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			       0640);
	if (f->fd < 0) {
		cs->st.failed++;
		free(f);
		return NULL;
	}
	return f;
}

static void *carve_open(void *arg, const struct ws_carve_info *info)
{
	struct ws_carve_store *cs = arg;
	struct carve_file *f = file_open(cs, info->serial, "tftp");

	if (f && !info->upload)
		f->eventid = match_get(cs, WS_CARVE_TFTP, &info->client, &info->server,
				       info->filename, &info->first);
	return f;
}

static int carve_write(void *arg, void *handle, uint64_t offset, const uint8_t *data, size_t len)
{
	struct ws_carve_store *cs = arg;
	struct carve_file *f = handle;
	uint64_t end = offset + len;

	if (end > f->end) {
		if (cs->inflight + (end - f->end) > (uint64_t)cs->cfg->carve.max_total) {
			cs->st.limit_hits++;
			return -1;
		}
		cs->inflight += end - f->end;
		f->end = end;
	}
	while (len > 0) {
		ssize_t n = pwrite(f->fd, data, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->write_errno = n < 0 ? errno : ENOSPC;
			return -1;
		}
		data += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/* Link tmp under a final name; false with errno when every name is taken. */
static bool place_file(struct ws_carve_store *cs, struct carve_file *f, const char *proto,
		       const char *stem, const char *suffix, char *final, size_t cap)
{
	if (f->eventid) {
		snprintf(final, cap, "blast_%s_%" PRIu64 ".bin%s", stem, f->eventid, suffix);
		if (linkat(cs->dirfd, f->tmp, cs->dirfd, final, 0) == 0)
			return true;
		if (errno == EEXIST && !suffix[0]) {
			cs->st.already_stored++;	/* the fetcher (or a retry) got it first */
			return true;
		}
		return false;
	}
	for (int i = 0; i < NAME_TRIES; i++) {
		snprintf(final, cap, "%s_%s_%" PRIu64 ".bin%s", proto, stem, ++cs->next_wire, suffix);
		if (linkat(cs->dirfd, f->tmp, cs->dirfd, final, 0) == 0)
			return true;
		if (errno != EEXIST)
			return false;
	}
	errno = EEXIST;
	return false;
}

static const char *end_status(enum ws_carve_end how, const struct ws_carve_info *info,
			      char *buf, size_t cap)
{
	if (how == WS_CARVE_COMPLETE)
		return "ok";
	if (how != WS_CARVE_ERROR)
		return ws_carve_end_name(how);
	return ws_error_status(buf, cap, "tftp", info->errcode, info->errmsg);
}

static void report_file(struct ws_carve_store *cs, const struct done_xfer *d, uint64_t eventid,
			const char *status, uint64_t bytes, const char *md5, const char *sha,
			const char *path)
{
	char server[WS_ADDR_STRLEN + 8], ip[WS_ADDR_STRLEN];
	struct ws_file_record r = {
		.event_id = eventid,
		.ts = d->last,
		.filename = ws_bytes_str(d->filename),
		.status = ws_bytes_str(status),
		.bytes = bytes,
		.md5 = md5,
		.sha256 = sha,
		.path = path,
		.source = "wire",
		.have_flow = true,
		.proto = d->ipproto,
		.client = d->client,
		.server_ep = d->server,
	};

	snprintf(server, sizeof(server), "%s:%u", ws_addr_str(&d->named.addr, ip, sizeof(ip)),
		 d->named.port);
	r.server = ws_bytes_str(server);
	cs->p.on_file(cs->p.arg, &r);
}

/* Hash, name and report a finished transfer's file; the temp file goes. */
static void store_file(struct ws_carve_store *cs, struct carve_file *f, const struct done_xfer *d)
{
	char stem[80], final[256] = "", md5[33] = "", sha[65] = "", sbuf[160];
	const char *status = d->status;
	bool complete = d->complete;

	ws_store_stem(stem, sizeof(stem), d->filename);
	cs->inflight -= f->end;
	if (f->write_errno) {
		char name[WS_TFTP_NAME_MAX * 4];

		ws_tsv_escape(name, sizeof(name), d->filename, strlen(d->filename));
		fprintf(stderr, "wormsnare: carving %s: %s\n", name, strerror(f->write_errno));
		snprintf(sbuf, sizeof(sbuf), "write-error:%s", strerror(f->write_errno));
		status = sbuf;
		complete = false;
	}
	if (complete && ws_hash_fd(f->fd, d->bytes, md5, sha) < 0) {
		status = "read-error";
		complete = false;
	}
	if (complete) {
		if (!place_file(cs, f, d->proto, stem, "", final, sizeof(final))) {
			status = "store-error";
			final[0] = md5[0] = sha[0] = '\0';
			cs->st.failed++;
		} else {
			cs->st.stored++;
			cs->st.correlated += f->eventid != 0;
		}
	} else if (cs->cfg->carve.keep_partial && f->end > 0 &&
		   place_file(cs, f, d->proto, stem, ".partial", final, sizeof(final))) {
		cs->st.partial_kept++;
	} else {
		final[0] = '\0';
		cs->st.failed++;
	}
	close(f->fd);
	unlinkat(cs->dirfd, f->tmp, 0);
	report_file(cs, d, f->eventid, status, complete ? d->bytes : f->end, md5, sha, final);
	free(f);
}

static void unpark(struct ws_carve_store *cs, size_t i)
{
	struct parked *pk = &cs->parked[i];

	store_file(cs, pk->f, &pk->d);
	free(pk->filename);
	free(pk->status);
	cs->parked[i] = cs->parked[--cs->nparked];
}

/*
 * Several capture workers: the GET this transfer answers may have been seen
 * by another worker (the session and the transfer are between different
 * address pairs), and its note may still be on its way. A complete
 * transfer nothing matched waits hold_ms for it; then it is stored
 * unmatched. false: not parked (store it now).
 */
static bool park(struct ws_carve_store *cs, struct carve_file *f, const struct done_xfer *d)
{
	struct parked *pk;

	if (cs->p.hold_ms <= 0 || !d->complete || d->upload || f->eventid || f->write_errno)
		return false;
	if (cs->nparked == PARKED_MAX)
		unpark(cs, 0);
	pk = &cs->parked[cs->nparked];
	pk->filename = strdup(d->filename);
	pk->status = strdup(d->status);
	if (!pk->filename || !pk->status) {
		free(pk->filename);
		free(pk->status);
		return false;
	}
	pk->f = f;
	pk->d = *d;
	pk->d.filename = pk->filename;
	pk->d.status = pk->status;
	pk->deadline_ms = ws_now_ms() + cs->p.hold_ms;
	cs->nparked++;
	return true;
}

/* A GET was noted: parked transfers it answers are stored under its EventID. */
static void unpark_matching(struct ws_carve_store *cs)
{
	for (size_t i = 0; i < cs->nparked;) {
		struct parked *pk = &cs->parked[i];

		pk->f->eventid = match_get(cs, pk->d.kind, &pk->d.victim, &pk->d.host,
					   pk->d.filename, &pk->d.first);
		if (pk->f->eventid)
			unpark(cs, i);	/* the last one moved to i */
		else
			i++;
	}
}

static void unpark_expired(struct ws_carve_store *cs, bool all)
{
	int64_t now = ws_now_ms();

	for (size_t i = 0; i < cs->nparked;) {
		if (all || cs->parked[i].deadline_ms <= now)
			unpark(cs, i);
		else
			i++;
	}
}

static void file_close(struct ws_carve_store *cs, struct carve_file *f, const struct done_xfer *d)
{
	/* a GET noted while the transfer ran counts too */
	if (!f->eventid && !d->upload)
		f->eventid = match_get(cs, d->kind, &d->victim, &d->host, d->filename, &d->first);
	if (!park(cs, f, d))
		store_file(cs, f, d);
}

static void carve_close(void *arg, void *handle, const struct ws_carve_info *info,
			enum ws_carve_end how)
{
	struct ws_carve_store *cs = arg;
	char sbuf[160];
	struct done_xfer d = {
		.proto = "tftp",
		.filename = info->filename,
		.status = end_status(how, info, sbuf, sizeof(sbuf)),
		.complete = how == WS_CARVE_COMPLETE,
		.bytes = info->bytes,
		.last = info->last,
		.ipproto = IPPROTO_UDP,
		.client = {info->client, info->client_port},
		.server = {info->server, info->server_port},
		.named = {info->server, info->server_port},
		.kind = WS_CARVE_TFTP,
		.upload = info->upload,
		.victim = info->client,
		.host = info->server,
		.first = info->first,
	};

	file_close(cs, handle, &d);
}

/* -------------------------------------------------------------------- ftp */

static void ftp_expect(void *arg, const struct ws_endpoint *connector,
		       const struct ws_endpoint *listener, int ttl_s)
{
	struct ws_carve_store *cs = arg;

	if (cs->p.expect)
		cs->p.expect(cs->p.arg, connector, listener, ttl_s);
}

static void *ftp_open(void *arg, const struct ws_ftp_file_info *info)
{
	struct ws_carve_store *cs = arg;
	struct carve_file *f = file_open(cs, info->serial, "ftp");

	/* the FTP client is the victim that ran the script; the server, what it named */
	if (f && !info->upload)
		f->eventid = match_get(cs, WS_CARVE_FTP, &info->control.client.addr,
				       &info->control.server.addr, info->filename, &info->first);
	return f;
}

static void ftp_close(void *arg, void *handle, const struct ws_ftp_file_info *info,
		      enum ws_ftp_end how)
{
	struct ws_carve_store *cs = arg;
	char sbuf[160];
	bool have_data = info->data.client.addr.family != WS_AF_NONE;
	struct done_xfer d = {
		.proto = "ftp",
		.filename = info->filename,
		.status = ws_ftp_end_status(how, info, sbuf, sizeof(sbuf)),
		.complete = how == WS_FTP_COMPLETE,
		.bytes = info->bytes,
		.last = info->last,
		.ipproto = IPPROTO_TCP,
		.client = have_data ? info->data.client : info->control.client,
		.server = have_data ? info->data.server : info->control.server,
		.named = info->control.server,
		.kind = WS_CARVE_FTP,
		.upload = info->upload,
		.victim = info->control.client.addr,
		.host = info->control.server.addr,
		.first = info->first,
	};

	file_close(cs, handle, &d);
}

struct ws_ftp_tracker *ws_carve_store_ftp(struct ws_carve_store *cs)
{
	return cs->ftp;
}

struct ws_carve_store *ws_carve_store_new(const struct ws_carve_store_params *sp, char *err,
					  size_t errlen)
{
	const struct ws_config *cfg = sp->cfg;
	struct ws_carve_store *cs = calloc(1, sizeof(*cs));
	struct ws_ftp_track_params fp = {
		.idle_timeout = cfg->carve.idle_timeout,
		/* sessions in flight are bounded like transfers: one key for both */
		.max_sessions = (size_t)cfg->carve.max_transfers,
		.max_transfers = (size_t)cfg->carve.max_transfers,
		.max_file_size = (uint64_t)cfg->carve.max_file_size,
		.max_early = 65536,
		.ops = {.expect = ftp_expect, .open = ftp_open, .write = carve_write,
			.close = ftp_close},
	};
	struct ws_carve_params p = {
		.server_port = cfg->carve.port,
		.idle_timeout = cfg->carve.idle_timeout,
		.max_transfers = (size_t)cfg->carve.max_transfers,
		.max_file_size = (uint64_t)cfg->carve.max_file_size,
		.ops = {.open = carve_open, .write = carve_write, .close = carve_close},
	};

	if (!cs) {
		snprintf(err, errlen, "carving: out of memory");
		return NULL;
	}
	cs->cfg = cfg;
	cs->dirfd = sp->dirfd;
	cs->p = *sp;
	p.arg = cs;
	fp.arg = cs;
	cs->tracker = ws_carver_new(&p);
	cs->ftp = ws_ftp_tracker_new(&fp);
	if (!cs->tracker || !cs->ftp) {
		ws_carver_free(cs->tracker);
		ws_ftp_tracker_free(cs->ftp);
		snprintf(err, errlen, "carving: out of memory");
		free(cs);
		return NULL;
	}
	return cs;
}

void ws_carve_store_datagram(struct ws_carve_store *cs, const struct ws_endpoint *src,
			     const struct ws_endpoint *dst, const uint8_t *payload, size_t len,
			     const struct timeval *ts)
{
	if (cs->tracker)
		ws_carver_datagram(cs->tracker, ts, src, dst, payload, len);
}

void ws_carve_store_sweep(struct ws_carve_store *cs, const struct timeval *now)
{
	if (cs->nparked)
		unpark_expired(cs, false);
	if (cs->tracker)
		ws_carver_sweep(cs->tracker, now);
	if (cs->ftp)
		ws_ftp_tracker_sweep(cs->ftp, now);
}

const struct ws_carve_store_stats *ws_carve_store_stats(const struct ws_carve_store *cs)
{
	return &cs->st;
}

const struct ws_carve_stats *ws_carve_store_tracker_stats(const struct ws_carve_store *cs)
{
	return cs->tracker ? ws_carver_stats(cs->tracker) : &cs->tracker_final;
}

void ws_carve_store_finish(struct ws_carve_store *cs)
{
	if (!cs || !cs->tracker)
		return;
	cs->p.hold_ms = 0;	/* what the trackers close now is stored at once */
	cs->tracker_final = *ws_carver_stats(cs->tracker);
	cs->tracker_final.incomplete += ws_carver_active(cs->tracker);
	ws_carver_free(cs->tracker);	/* closes what is open: logged as incomplete */
	cs->tracker = NULL;
	if (cs->ftp)
		cs->ftp_final = *ws_ftp_tracker_stats(cs->ftp);
	ws_ftp_tracker_free(cs->ftp);
	cs->ftp = NULL;
	unpark_expired(cs, true);
}

const struct ws_ftp_track_stats *ws_carve_store_ftp_stats(const struct ws_carve_store *cs)
{
	return cs->ftp ? ws_ftp_tracker_stats(cs->ftp) : &cs->ftp_final;
}

void ws_carve_store_free(struct ws_carve_store *cs)
{
	ws_carve_store_finish(cs);
	free(cs);
}
