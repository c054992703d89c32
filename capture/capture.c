/*
 * Capture handles: live (libpcap, optionally one member of a PACKET_FANOUT
 * group) or a set of savefiles merged by timestamp; layer 2 stripped,
 * the selection and capture.filter applied, bare IPv4 handed on.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "capture.h"
#include "link.h"
#include "config.h"

#define BATCH 512
#define MAX_WORKERS_AUTO 8
#define FILTER_TEXT_MAX 1024
#define PROGRESS_NS 500000000LL

/* One savefile of the set and its next packet. */
struct source {
	struct ws_reader *r;
	struct ws_pkthdr h;
	const uint8_t *data;
	int dlt;
	size_t order;		/* position in the path list: ties keep it */
};

struct ws_capture {
	pcap_t *p;		/* live */
	char source[256];	/* interface or first file, for messages */
	bool live;
	int timeout_ms;
	int dlt;
	struct ws_capture_stats st;
	ws_ip_handler handler;
	void *arg;
	volatile sig_atomic_t stop;
	/* selection */
	bool select, tftp;
	uint16_t tftp_port;
	bool has_user;
	struct bpf_program user;
	char *filter_text;
	/* offline: the merge */
	struct source *src;
	size_t nsrc;
	size_t *heap;		/* indices into src with a packet pending, earliest first */
	size_t nheap;
	bool primed;
	uint64_t done_bytes;	/* of files finished */
	uint64_t total_bytes;
	/* progress line */
	bool progress;
	const uint64_t *events;
	struct timespec started, shown;
};

/* ------------------------------------------------------------ per frame */

static void on_frame(struct ws_capture *c, int dlt, const struct timeval *ts, uint32_t caplen,
		     uint32_t len, const uint8_t *frame)
{
	long off = ws_l2_ipv4_offset(dlt, frame, caplen);
	struct ws_cursor cur;
	const uint8_t *ip;
	size_t iplen, have;
	struct timeval t = *ts;

	c->st.packets++;
	c->st.bytes += len;
	if (off < 0) {
		c->st.non_ip++;
		return;
	}
	ip = frame + off;
	have = caplen - (size_t)off;
	cur = ws_cursor(ip, have);
	ws_cur_skip(&cur, 2);
	iplen = ws_cur_be16(&cur);
	if (cur.err || iplen < 20 || iplen > have) {
		/* snaplen cut it, or a TSO super-frame claims a length of 0 */
		c->st.truncated++;
		return;
	}
	if (c->select && !ws_select_ipv4(ip, iplen, c->tftp, c->tftp_port))
		return;
	c->st.selected++;
	if (c->has_user) {
		struct pcap_pkthdr ph = {.ts = *ts, .caplen = (bpf_u_int32)iplen,
					 .len = (bpf_u_int32)iplen};

		if (!pcap_offline_filter(&c->user, &ph, ip)) {
			c->st.user_filtered++;
			return;
		}
	}
	/* the one bound on capture time: every clock downstream relies on it */
	if (!ws_time_bound(&t))
		c->st.time_bounded++;
	/* trailing Ethernet padding is not data: stop at the IP total length */
	c->handler(c->arg, &t, ip, iplen);
}

static void on_live_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *frame)
{
	struct ws_capture *c = (struct ws_capture *)user;

	on_frame(c, c->dlt, &h->ts, h->caplen, h->len, frame);
}

/* ------------------------------------------------------------ open files */

static int unsupported_dlt(const char *what, int dlt, char *err, size_t errlen)
{
	const char *name = pcap_datalink_val_to_name(dlt);

	snprintf(err, errlen, "%s: unsupported link type %s (%d)", what, name ? name : "unknown",
		 dlt);
	return -1;
}

struct pathlist {
	char **v;
	size_t n, cap;
};

static int pathlist_add(struct pathlist *l, const char *dir, const char *name)
{
	char *s;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (dir ? asprintf(&s, "%s/%s", dir, name) < 0 : !(s = strdup(name)))
		return -1;
	l->v[l->n++] = s;
	return 0;
}

static void pathlist_free(struct pathlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's regular files (not hidden), sorted by name (bytes, not locale). */
static int expand_dir(struct pathlist *l, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t first = l->n;

	if (!d) {
		snprintf(err, errlen, "%s: opendir: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (pathlist_add(l, dir, e->d_name) < 0) {
			closedir(d);
			snprintf(err, errlen, "%s: out of memory", dir);
			return -1;
		}
	}
	closedir(d);
	if (l->n == first) {
		snprintf(err, errlen, "%s: no capture files in this directory", dir);
		return -1;
	}
	qsort(l->v + first, l->n - first, sizeof(*l->v), by_name);
	return 0;
}

static int expand_paths(struct pathlist *l, const char *const *paths, size_t n, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (expand_dir(l, paths[i], err, errlen) < 0)
				return -1;
		} else if (pathlist_add(l, NULL, paths[i]) < 0) {
			snprintf(err, errlen, "%s: out of memory", paths[i]);
			return -1;
		}
	}
	return 0;
}

static struct ws_capture *capture_alloc(const char *source, bool live, char *err, size_t errlen)
{
	struct ws_capture *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", source);
		return NULL;
	}
	c->live = live;
	snprintf(c->source, sizeof(c->source), "%s", source);
	return c;
}

/* Every file of the set stays open during the merge: allow the descriptors. */
static void allow_files(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = n + 64 < rl.rlim_max ? n + 64 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int open_sources(struct ws_capture *c, const struct pathlist *l, char *err, size_t errlen)
{
	allow_files(l->n);
	c->src = calloc(l->n, sizeof(*c->src));
	c->heap = calloc(l->n, sizeof(*c->heap));
	if (!c->src || !c->heap) {
		snprintf(err, errlen, "%s: out of memory", c->source);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct source *s = &c->src[i];

		if (ws_reader_open(l->v[i], &s->r, err, errlen) < 0)
			return -1;
		c->nsrc++;
		s->dlt = ws_reader_datalink(s->r);
		s->order = i;
		if (!ws_link_supported(s->dlt))
			return unsupported_dlt(l->v[i], s->dlt, err, errlen);
		c->st.files++;
		c->total_bytes += ws_reader_size(s->r);
	}
	return 0;
}

struct ws_capture *ws_capture_open_files(const char *const *paths, size_t n, char *err,
					 size_t errlen)
{
	struct pathlist l = {0};
	struct ws_capture *c;

	if (n == 0) {
		snprintf(err, errlen, "no capture file given");
		return NULL;
	}
	c = capture_alloc(paths[0], false, err, errlen);
	if (!c)
		return NULL;
	if (expand_paths(&l, paths, n, err, errlen) < 0 || open_sources(c, &l, err, errlen) < 0) {
		pathlist_free(&l);
		ws_capture_close(c);
		return NULL;
	}
	pathlist_free(&l);
	return c;
}

struct ws_capture *ws_capture_open_file(const char *path, char *err, size_t errlen)
{
	return ws_capture_open_files(&path, 1, err, errlen);
}

/* ------------------------------------------------------------------ merge */

static bool earlier(const struct source *a, const struct source *b)
{
	if (a->h.ts.tv_sec != b->h.ts.tv_sec)
		return a->h.ts.tv_sec < b->h.ts.tv_sec;
	if (a->h.ts.tv_usec != b->h.ts.tv_usec)
		return a->h.ts.tv_usec < b->h.ts.tv_usec;
	return a->order < b->order;
}

static void sift_down(struct ws_capture *c, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i, t;

		if (l < c->nheap && earlier(&c->src[c->heap[l]], &c->src[c->heap[m]]))
			m = l;
		if (r < c->nheap && earlier(&c->src[c->heap[r]], &c->src[c->heap[m]]))
			m = r;
		if (m == i)
			return;
		t = c->heap[i];
		c->heap[i] = c->heap[m];
		c->heap[m] = t;
		i = m;
	}
}

static void source_done(struct ws_capture *c, struct source *s)
{
	c->done_bytes += ws_reader_size(s->r);
	if (!ws_reader_fast(s->r))
		c->st.fallback_files++;
}

/* The first packet of every file, then the heap. -1 with err on a read error. */
static int prime(struct ws_capture *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nsrc; i++) {
		int rc = ws_reader_next(c->src[i].r, &c->src[i].h, &c->src[i].data, err, errlen);

		if (rc < 0)
			return -1;
		if (rc == 0)
			source_done(c, &c->src[i]);
		else
			c->heap[c->nheap++] = i;
	}
	for (size_t i = c->nheap / 2; i-- > 0;)
		sift_down(c, i);
	c->primed = true;
	return 0;
}

static int64_t elapsed_ns(const struct timespec *from, const struct timespec *to)
{
	return (int64_t)(to->tv_sec - from->tv_sec) * 1000000000LL + (to->tv_nsec - from->tv_nsec);
}

static uint64_t bytes_read(const struct ws_capture *c)
{
	uint64_t b = c->done_bytes;

	for (size_t i = 0; i < c->nheap; i++)
		b += ws_reader_offset(c->src[c->heap[i]].r);
	return b;
}

static void show_progress(struct ws_capture *c, bool final)
{
	struct timespec now;
	double secs, done, total = (double)c->total_bytes, left = 0;
	char events[40] = "";

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && elapsed_ns(&c->shown, &now) < PROGRESS_NS)
		return;
	c->shown = now;
	secs = (double)elapsed_ns(&c->started, &now) / 1e9;
	done = (double)bytes_read(c);
	if (done > 0 && total > done)
		left = secs * (total - done) / done;
	if (c->events)
		snprintf(events, sizeof(events), ", %" PRIu64 " events", *c->events);
	fprintf(stderr, "\rwormsnare: %.0f of %.0f MB (%.0f%%), %.0f kpkt/s%s, %d:%02d left\033[K%s",
		done / 1e6, total / 1e6, total > 0 ? 100 * done / total : 100.0,
		secs > 0 ? (double)c->st.packets / secs / 1000 : 0.0, events, (int)left / 60,
		(int)left % 60, final ? "\n" : "");
}

/* The last progress line gets its newline before anything else is said. */
static int end_progress(struct ws_capture *c, int rc)
{
	if (c->progress) {
		show_progress(c, true);
		c->progress = false;
	}
	return rc;
}

static int dispatch_files(struct ws_capture *c, char *err, size_t errlen)
{
	int n = 0;

	if (!c->primed && prime(c, err, errlen) < 0)
		return end_progress(c, -2);
	while (n < BATCH) {
		struct source *s;
		int rc;

		if (c->stop) {
			c->stop = 0;
			return end_progress(c, -3);
		}
		if (c->nheap == 0)
			break;
		s = &c->src[c->heap[0]];
		on_frame(c, s->dlt, &s->h.ts, s->h.caplen, s->h.len, s->data);
		n++;
		rc = ws_reader_next(s->r, &s->h, &s->data, err, errlen);
		if (rc < 0)
			return end_progress(c, -2);
		if (rc == 0) {
			source_done(c, s);
			c->heap[0] = c->heap[--c->nheap];
		}
		sift_down(c, 0);
	}
	if (n == 0)
		return end_progress(c, -1);
	if (c->progress)
		show_progress(c, false);
	return n;
}

void ws_capture_set_progress(struct ws_capture *c, const uint64_t *events)
{
	if (c->live || !isatty(STDERR_FILENO))
		return;
	c->progress = true;
	c->events = events;
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	c->shown = c->started;
}

/* ------------------------------------------------------------------ fanout */

/* A classic BPF program built with labels resolved afterwards. */
#define FANOUT_MAX_INSNS 64
#define FANOUT_MPLS_LABELS 3

enum label { L_IP0, L_TAG, L_IP4, L_MPLS0, L_MPLS4, L_MPLS, L_BOTTOM, L_HASH, L_OTHER, NLABELS };

struct bpf_builder {
	struct sock_filter insn[FANOUT_MAX_INSNS];
	int jt[FANOUT_MAX_INSNS], jf[FANOUT_MAX_INSNS];	/* label + 1, 0: fall through */
	size_t n;
	size_t at[NLABELS];
};

static void emit(struct bpf_builder *b, uint16_t code, uint32_t k, int jt, int jf)
{
	b->insn[b->n] = (struct sock_filter){code, 0, 0, k};
	b->jt[b->n] = jt;
	b->jf[b->n] = jf;
	b->n++;
}

static void here(struct bpf_builder *b, enum label l)
{
	b->at[l] = b->n;
}

static void resolve(struct bpf_builder *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->insn[i].code == (BPF_JMP | BPF_JA))
			b->insn[i].k = (uint32_t)(b->at[b->jt[i] - 1] - i - 1);
		else if (BPF_CLASS(b->insn[i].code) == BPF_JMP) {
			b->insn[i].jt = b->jt[i] ? (uint8_t)(b->at[b->jt[i] - 1] - i - 1) : 0;
			b->insn[i].jf = b->jf[i] ? (uint8_t)(b->at[b->jf[i] - 1] - i - 1) : 0;
		}
	}
}

#define J(l) ((l) + 1)
#define NET(off) ((uint32_t)(SKF_NET_OFF + (off)))

/*
 * hash(src ^ dst) % nworkers over the IPv4 header. The kernel runs it with
 * the outer VLAN tag already in metadata and skb->protocol the type after
 * it; loads are relative to the network header (SKF_NET_OFF), which is
 * right for received and sent frames alike. One more tag (QinQ) and up to
 * FANOUT_MPLS_LABELS labels are skipped; anything else returns 0.
 */
static void fanout_program(struct bpf_builder *b, unsigned nworkers)
{
	emit(b, BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL), 0, 0);
	emit(b, BPF_JMP | BPF_JEQ | BPF_K, WS_ETH_IPV4, J(L_IP0), 0);
	for (size_t i = 0; i < WS_VLAN_TPIDS; i++)
		emit(b, BPF_JMP | BPF_JEQ | BPF_K, ws_vlan_tpids[i], J(L_TAG), 0);
	emit(b, BPF_JMP | BPF_JEQ | BPF_K, WS_ETH_MPLS, J(L_MPLS0), J(L_OTHER));
	here(b, L_TAG);
	emit(b, BPF_LD | BPF_H | BPF_ABS, NET(2), 0, 0);
	emit(b, BPF_JMP | BPF_JEQ | BPF_K, WS_ETH_IPV4, J(L_IP4), 0);
	emit(b, BPF_JMP | BPF_JEQ | BPF_K, WS_ETH_MPLS, J(L_MPLS4), J(L_OTHER));
	here(b, L_IP0);
	emit(b, BPF_LDX | BPF_IMM, 0, 0, 0);
	emit(b, BPF_JMP | BPF_JA, 0, J(L_HASH), 0);
	here(b, L_IP4);
	emit(b, BPF_LDX | BPF_IMM, 4, 0, 0);
	emit(b, BPF_JMP | BPF_JA, 0, J(L_HASH), 0);
	here(b, L_MPLS0);
	emit(b, BPF_LDX | BPF_IMM, 0, 0, 0);
	emit(b, BPF_JMP | BPF_JA, 0, J(L_MPLS), 0);
	here(b, L_MPLS4);
	emit(b, BPF_LDX | BPF_IMM, 4, 0, 0);
	here(b, L_MPLS);
	for (int i = 0; i < FANOUT_MPLS_LABELS; i++) {
		emit(b, BPF_LD | BPF_B | BPF_IND, NET(2), 0, 0);
		emit(b, BPF_ALU | BPF_AND | BPF_K, 1, 0, 0);
		emit(b, BPF_JMP | BPF_JEQ | BPF_K, 1, J(L_BOTTOM), 0);
		emit(b, BPF_MISC | BPF_TXA, 0, 0, 0);
		emit(b, BPF_ALU | BPF_ADD | BPF_K, 4, 0, 0);
		emit(b, BPF_MISC | BPF_TAX, 0, 0, 0);
	}
	emit(b, BPF_JMP | BPF_JA, 0, J(L_OTHER), 0);
	here(b, L_BOTTOM);
	emit(b, BPF_MISC | BPF_TXA, 0, 0, 0);
	emit(b, BPF_ALU | BPF_ADD | BPF_K, 4, 0, 0);
	emit(b, BPF_MISC | BPF_TAX, 0, 0, 0);
	here(b, L_HASH);
	emit(b, BPF_LD | BPF_W | BPF_IND, NET(12), 0, 0);	/* source address */
	emit(b, BPF_ST, 0, 0, 0);
	emit(b, BPF_LD | BPF_W | BPF_IND, NET(16), 0, 0);	/* destination address */
	emit(b, BPF_LDX | BPF_MEM, 0, 0, 0);
	emit(b, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);		/* symmetric */
	emit(b, BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u, 0, 0);	/* Fibonacci hashing */
	emit(b, BPF_ALU | BPF_RSH | BPF_K, 16, 0, 0);
	emit(b, BPF_ALU | BPF_MOD | BPF_K, nworkers, 0, 0);
	emit(b, BPF_RET | BPF_A, 0, 0, 0);
	here(b, L_OTHER);
	emit(b, BPF_RET | BPF_K, 0, 0, 0);
	resolve(b);
}

/*
 * Join fanout group *group on the packet socket fd with the program above;
 * *group 0: the kernel picks an id no other group in the namespace has
 * (PACKET_FANOUT_FLAG_UNIQUEID, packet(7)), returned in *group for the
 * other members to join.
 */
static int fanout_join(int fd, unsigned *group, unsigned nworkers, char *err, size_t errlen)
{
	struct bpf_builder b = {.n = 0};
	struct sock_fprog prog;
	unsigned flags = PACKET_FANOUT_CBPF | (*group ? 0 : PACKET_FANOUT_FLAG_UNIQUEID);
	int arg = (int)(*group | flags << 16);
	socklen_t len = sizeof(arg);

	fanout_program(&b, nworkers);
	prog.len = (unsigned short)b.n;
	prog.filter = b.insn;
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
		snprintf(err, errlen, "PACKET_FANOUT group %u: %s", *group, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof(prog)) < 0) {
		snprintf(err, errlen, "PACKET_FANOUT_DATA: %s", strerror(errno));
		return -1;
	}
	if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) < 0) {
		snprintf(err, errlen, "PACKET_FANOUT (reading the group back): %s", strerror(errno));
		return -1;
	}
	*group = (unsigned)arg & 0xffff;
	return 0;
}

/* ------------------------------------------------------------------- live */

static pcap_t *activate(const char *iface, const struct ws_config *cfg, char *err,
			size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(iface, ebuf);
	int rc;

	if (!p) {
		snprintf(err, errlen, "%s: pcap_create: %s", iface, ebuf);
		return NULL;
	}
	if (pcap_set_snaplen(p, cfg->capture.snaplen) != 0 ||
	    pcap_set_promisc(p, cfg->capture.promiscuous) != 0 ||
	    pcap_set_timeout(p, cfg->capture.timeout_ms) != 0 ||
	    pcap_set_buffer_size(p, cfg->capture.buffer_size) != 0) {
		snprintf(err, errlen, "%s: pcap_set: %s", iface, pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(err, errlen, "%s: pcap_activate: %s%s%s", iface, pcap_statustostr(rc),
			 pcap_geterr(p)[0] ? ": " : "", pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	if (rc > 0)
		fprintf(stderr, "wormsnare: %s: pcap_activate: %s\n", iface, pcap_statustostr(rc));
	/*
	 * We wait in poll() ourselves: with TPACKET_V3 a blocking dispatch may not
	 * return while no packet arrives, and an idle sensor must still expire
	 * streams, collect fetch results and act on signals.
	 */
	if (pcap_setnonblock(p, 1, ebuf) < 0 || pcap_get_selectable_fd(p) < 0) {
		snprintf(err, errlen, "%s: pcap_setnonblock: %s", iface, ebuf);
		pcap_close(p);
		return NULL;
	}
	return p;
}

static struct ws_capture *live_capture(pcap_t *p, const char *iface,
				       const struct ws_config *cfg, char *err, size_t errlen)
{
	struct ws_capture *c;

	if (!ws_link_supported(pcap_datalink(p))) {
		unsupported_dlt(iface, pcap_datalink(p), err, errlen);
		pcap_close(p);
		return NULL;
	}
	c = capture_alloc(iface, true, err, errlen);
	if (!c) {
		pcap_close(p);
		return NULL;
	}
	c->p = p;
	c->dlt = pcap_datalink(p);
	c->timeout_ms = cfg->capture.timeout_ms;
	return c;
}

struct ws_capture *ws_capture_open_live(const char *iface, const struct ws_config *cfg,
					char *err, size_t errlen)
{
	pcap_t *p = activate(iface, cfg, err, errlen);

	return p ? live_capture(p, iface, cfg, err, errlen) : NULL;
}

struct ws_capture *ws_capture_open_live_fanout(const char *iface, const struct ws_config *cfg,
					       unsigned *fanout_group, unsigned nworkers,
					       char *err, size_t errlen)
{
	pcap_t *p;

	if (*fanout_group > 0xffff || nworkers < 1 || nworkers > 64) {
		snprintf(err, errlen, "%s: fanout group %u or %u workers out of range", iface,
			 *fanout_group, nworkers);
		return NULL;
	}
	p = activate(iface, cfg, err, errlen);
	if (!p)
		return NULL;
	if (fanout_join(pcap_get_selectable_fd(p), fanout_group, nworkers, err, errlen) < 0) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, errlen, "%s: %s", iface, msg);
		pcap_close(p);
		return NULL;
	}
	return live_capture(p, iface, cfg, err, errlen);
}

unsigned ws_capture_workers(unsigned configured)
{
	long n;

	if (configured > 0)
		return configured;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > MAX_WORKERS_AUTO ? MAX_WORKERS_AUTO : (unsigned)n;
}

/* ----------------------------------------------------------------- filter */

/*
 * libpcap's "vlan" and "mpls" move the offsets of everything after them in
 * the expression, across "or" too, so one expression cannot offer several
 * encapsulations side by side. Each alternative is compiled alone and the
 * programs are chained: a rejecting "ret #0" of one becomes a jump to the
 * start of the next (classic BPF jumps are relative and forward only).
 */
static int chain_programs(struct bpf_program *alts, size_t n, struct bpf_program *out)
{
	size_t total = 0, at = 0;

	for (size_t i = 0; i < n; i++)
		total += alts[i].bf_len;
	if (total > 4096)	/* BPF_MAXINSNS */
		return -1;
	out->bf_len = (u_int)total;
	out->bf_insns = calloc(total, sizeof(*out->bf_insns));
	if (!out->bf_insns)
		return -1;
	for (size_t i = 0; i < n; i++) {
		for (u_int j = 0; j < alts[i].bf_len; j++) {
			struct bpf_insn in = alts[i].bf_insns[j];

			if (BPF_CLASS(in.code) == BPF_RET && BPF_RVAL(in.code) != BPF_K)
				goto fail;
			if (i + 1 < n && in.code == (BPF_RET | BPF_K) && in.k == 0) {
				in.code = BPF_JMP | BPF_JA;
				in.k = alts[i].bf_len - j - 1;
			}
			out->bf_insns[at++] = in;
		}
	}
	return 0;
fail:
	free(out->bf_insns);
	out->bf_insns = NULL;
	return -1;
}

static int kernel_filter(struct ws_capture *c, char *err, size_t errlen)
{
	size_t n = ws_select_alternatives(c->dlt), len = 0, compiled = 0;
	struct bpf_program *alts = calloc(n, sizeof(*alts)), prog = {0, NULL};
	char text[FILTER_TEXT_MAX];
	int rc = -1;

	c->filter_text = calloc(n, sizeof(text) + 8);
	if (!alts || !c->filter_text) {
		snprintf(err, errlen, "%s: out of memory", c->source);
		goto done;
	}
	for (; compiled < n; compiled++) {
		if (ws_select_bpf_text(c->dlt, compiled, c->tftp, c->tftp_port, text,
				       sizeof(text)) < 0 ||
		    pcap_compile(c->p, &alts[compiled], text, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			snprintf(err, errlen, "%s: selection \"%s\": %s", c->source, text,
				 pcap_geterr(c->p));
			goto done;
		}
		len += (size_t)sprintf(c->filter_text + len, "%s(%s)", compiled ? " or " : "", text);
	}
	if (chain_programs(alts, n, &prog) < 0) {
		snprintf(err, errlen, "%s: selection: kernel program too long", c->source);
		goto done;
	}
	if (pcap_setfilter(c->p, &prog) != 0) {
		snprintf(err, errlen, "%s: pcap_setfilter: %s", c->source, pcap_geterr(c->p));
		goto done;
	}
	rc = 0;
done:
	for (size_t i = 0; i < compiled; i++)
		pcap_freecode(&alts[i]);
	free(alts);
	free(prog.bf_insns);
	return rc;
}

/* capture.filter on the bare IPv4 packet: compiled for DLT_RAW. */
static int user_filter(struct ws_capture *c, const char *expr, char *err, size_t errlen)
{
	pcap_t *dead = pcap_open_dead(DLT_RAW, 262144);

	if (!dead) {
		snprintf(err, errlen, "%s: pcap_open_dead failed", c->source);
		return -1;
	}
	if (pcap_compile(dead, &c->user, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "capture.filter: bad filter \"%s\": %s "
			 "(it applies to the IPv4 packet, layer 2 stripped)", expr,
			 pcap_geterr(dead));
		pcap_close(dead);
		return -1;
	}
	pcap_close(dead);
	c->has_user = true;
	return 0;
}

int ws_capture_set_filter(struct ws_capture *c, const struct ws_config *cfg, bool tftp,
			  char *err, size_t errlen)
{
	c->select = true;
	c->tftp = tftp;
	c->tftp_port = cfg->carve.port;
	if (c->has_user) {
		pcap_freecode(&c->user);
		c->has_user = false;
	}
	if (cfg->capture.filter[0] && user_filter(c, cfg->capture.filter, err, errlen) < 0)
		return -1;
	free(c->filter_text);
	c->filter_text = NULL;
	return c->live ? kernel_filter(c, err, errlen) : 0;
}

const char *ws_capture_filter_text(const struct ws_capture *c)
{
	return c->filter_text ? c->filter_text : "";
}

/* ------------------------------------------------------------- dispatch */

int ws_capture_dispatch(struct ws_capture *c, ws_ip_handler h, void *arg, char *err,
			size_t errlen)
{
	struct pollfd pfd;
	int n;

	c->handler = h;
	c->arg = arg;
	if (!c->live)
		return dispatch_files(c, err, errlen);
	pfd.fd = pcap_get_selectable_fd(c->p);
	pfd.events = POLLIN;
	if (poll(&pfd, 1, c->timeout_ms) <= 0)
		return c->stop ? (c->stop = 0, -3) : 0;	/* timeout, or a signal */
	n = pcap_dispatch(c->p, BATCH, on_live_frame, (u_char *)c);
	if (n == PCAP_ERROR_BREAK || c->stop) {
		c->stop = 0;
		return -3;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", c->source, pcap_geterr(c->p));
		return -2;
	}
	return n;
}

void ws_capture_breakloop(struct ws_capture *c)
{
	c->stop = 1;
	if (c->p)
		pcap_breakloop(c->p);
}

void ws_capture_stats(struct ws_capture *c, struct ws_capture_stats *st)
{
	struct pcap_stat ps;

	*st = c->st;
	if (c->live && pcap_stats(c->p, &ps) == 0) {
		st->kernel_recv = ps.ps_recv;
		st->kernel_drop = ps.ps_drop;
		st->iface_drop = ps.ps_ifdrop;
	}
	for (size_t i = 0; i < c->nheap; i++)	/* files still being read */
		if (!ws_reader_fast(c->src[c->heap[i]].r))
			st->fallback_files++;
}

bool ws_capture_is_live(const struct ws_capture *c)
{
	return c->live;
}

void ws_capture_close(struct ws_capture *c)
{
	if (!c)
		return;
	if (c->p)
		pcap_close(c->p);
	for (size_t i = 0; i < c->nsrc; i++)
		ws_reader_close(c->src[i].r);
	if (c->has_user)
		pcap_freecode(&c->user);
	free(c->src);
	free(c->heap);
	free(c->filter_text);
	free(c);
}
