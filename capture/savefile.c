/*
 * The savefile reader: libpcap's packets, faster.
 *
 * libpcap reads a savefile through stdio, one fread() per record header and
 * one per packet, 4 KiB at a time, and copies every packet into its own
 * buffer. For the common formats we pread() 256 KiB at a time and hand out
 * records where they lie in our buffer, so a packet is never copied before
 * the selection looks at it.
 *
 * Exactness over speed: libpcap opens every file first (so open errors, the
 * link type and the snapshot length are its own), and stays open. The fast
 * path covers only what it fully understands; at anything else (a record
 * bigger than the snapshot length, a truncated record, a bad block, a
 * second link type, a binary time resolution, an unknown version) libpcap
 * takes over at that packet: its handle skips the packets already
 * delivered and reads on, so the packets and the error are libpcap's.
 * tests/capture/test_reader compares the two on every capture we have, and
 * tests/fuzz/fuzz_reader does the same on fuzzed files.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "capture.h"
#include "link.h"

#define BUF_SIZE (1u << 20)		/* > any record: caplen <= 262144 */
#define READ_CHUNK (256u << 10)		/* per pread: what the caches keep until it is read */
#define BUF_FIRST (64u << 10)		/* until the first refill: a merge of many files peeks */
#define STDIO_BUF (64u << 10)		/* for libpcap's FILE, when it reads */
#define MAX_IFACES 256
#define MAX_SNAPLEN 262144		/* libpcap's for every link type we read */

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_BOM 0x1a2b3c4du
#define BT_IDB 1u
#define BT_OPB 2u		/* obsolete Packet Block */
#define BT_SPB 3u
#define BT_EPB 6u

enum format { FMT_LIBPCAP, FMT_PCAP, FMT_PCAPNG };

/* A pcapng interface: time stamp units and offset. */
struct iface {
	uint64_t tsresol;	/* units per second, 10^0 .. 10^9 */
	uint64_t tsoffset;	/* seconds */
};

struct ws_reader {
	char *path;
	FILE *f;
	pcap_t *p;		/* opened first, reads once the fast path gives up */
	char *stdio_buf;
	enum format fmt;
	bool big;		/* file written big-endian */
	bool nano;
	int dlt;
	uint32_t snapshot;
	uint64_t size;
	uint64_t delivered;	/* packets handed out */
	/* fast path: bytes [pos, end) of buf are the file from offset base + pos */
	uint8_t *buf;
	size_t cap, pos, end;
	uint64_t base;
	bool eof, oom;
	struct iface ifs[MAX_IFACES];
	size_t nif;
	bool seen_idb;		/* pcapng: the first IDB is behind us */
};

/* Every record header goes through these: inlined, they cost nothing. */
static inline __attribute__((always_inline)) uint16_t rd16(struct ws_cursor *c, bool big)
{
	return big ? ws_cur_be16(c) : ws_cur_le16(c);
}

static inline __attribute__((always_inline)) uint32_t rd32(struct ws_cursor *c, bool big)
{
	return big ? ws_cur_be32(c) : ws_cur_le32(c);
}

/* The buffer at its full size: 0, or -1 (out of memory: libpcap reads on). */
static int grow(struct ws_reader *r)
{
	uint8_t *b;

	if (r->cap == BUF_SIZE)
		return 0;
	b = realloc(r->buf, BUF_SIZE);
	if (!b)
		return -1;
	r->buf = b;
	r->cap = BUF_SIZE;
	return 0;
}

/*
 * Make at least n bytes available at pos (n <= BUF_SIZE); returns how many
 * are, or 0 with r->oom when memory runs out (libpcap then reads on).
 */
static size_t fill(struct ws_reader *r, size_t n)
{
	if (r->end - r->pos >= n || r->eof)
		return r->end - r->pos;
	if (r->base + r->end > 24 && grow(r) < 0) {	/* a refill: this file is being read */
		r->eof = r->oom = true;
		return 0;
	}
	memmove(r->buf, r->buf + r->pos, r->end - r->pos);
	r->base += r->pos;
	r->end -= r->pos;
	r->pos = 0;
	if (n > r->cap && grow(r) < 0) {
		r->eof = r->oom = true;
		return 0;
	}
	while (r->end < n && !r->eof) {
		/*
		 * At most READ_CHUNK at a time (more only for a record that
		 * needs it): a 1 MiB read had the kernel's copy push the
		 * buffer's first records, and the tables screening looks up,
		 * out of the 1 MiB L2 before they were read (bench/README.md,
		 * round 4: both modes ~10 ms faster on the 1.1 GB mix).
		 */
		size_t want = r->cap - r->end < READ_CHUNK ? r->cap - r->end : READ_CHUNK;
		ssize_t got;

		if (want < n - r->end)
			want = n - r->end;
		got = pread(fileno(r->f), r->buf + r->end, want, (off_t)(r->base + r->end));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			r->eof = true;	/* a read error: libpcap will report it */
		else
			r->end += (size_t)got;
	}
	return r->end - r->pos;
}

/* libpcap takes over here: skip what we delivered, read on with it. */
static int fall_back(struct ws_reader *r, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *d;

	for (uint64_t i = 0; i < r->delivered; i++) {
		if (pcap_next_ex(r->p, &h, &d) != 1) {
			snprintf(err, errlen, "%s: libpcap ends before packet %" PRIu64
				 " the fast reader read", r->path, r->delivered);
			return -1;
		}
	}
	r->fmt = FMT_LIBPCAP;
	free(r->buf);
	r->buf = NULL;
	return 0;
}

static int next_libpcap(struct ws_reader *r, struct ws_pkthdr *h, const uint8_t **data,
			char *err, size_t errlen)
{
	struct pcap_pkthdr *ph;
	const u_char *d;
	int rc = pcap_next_ex(r->p, &ph, &d);

	if (rc == PCAP_ERROR_BREAK)
		return 0;
	if (rc != 1) {
		snprintf(err, errlen, "%s: %s", r->path, pcap_geterr(r->p));
		return -1;
	}
	h->ts = ph->ts;
	h->caplen = ph->caplen;
	h->len = ph->len;
	*data = d;
	r->delivered++;
	return 1;
}

/* ------------------------------------------------------------ classic pcap */

/*
 * A savefile that ends inside a record: libpcap's error, word for word (a
 * capture cut by a full disk or a killed tcpdump must not cost a rescan).
 */
static int truncated(struct ws_reader *r, const char *what, size_t want, size_t got, char *err,
		     size_t errlen)
{
	snprintf(err, errlen, "%s: truncated %s; tried to read %zu %s, only got %zu", r->path,
		 r->fmt == FMT_PCAP ? "dump file" : "pcapng dump file", want, what, got);
	return -1;
}

/* 1 packet, 0 end of file, -1 error, 2 not ours: libpcap must look. */
static int next_pcap(struct ws_reader *r, struct ws_pkthdr *h, const uint8_t **data, char *err,
		     size_t errlen)
{
	size_t have = fill(r, 16);
	struct ws_cursor c;
	uint32_t sec, frac, caplen, len;

	if (have == 0)
		return 0;
	if (have < 16)
		return truncated(r, "header bytes", 16, have, err, errlen);
	c = ws_cursor(r->buf + r->pos, 16);
	sec = rd32(&c, r->big);
	frac = rd32(&c, r->big);
	caplen = rd32(&c, r->big);
	len = rd32(&c, r->big);
	if (caplen > r->snapshot || caplen > MAX_SNAPLEN)
		return 2;	/* libpcap cuts it to the snapshot length, or refuses it */
	have = fill(r, 16 + (size_t)caplen);
	if (have < 16 + (size_t)caplen)
		return truncated(r, "captured bytes", caplen, have - 16, err, errlen);
	/*
	 * libpcap's struct pcap_timeval holds signed 32-bit fields, but its
	 * SWAPLONG of a file in the other byte order gives an unsigned value.
	 */
	if (r->big != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)) {
		h->ts.tv_sec = (time_t)sec;
		h->ts.tv_usec = r->nano ? (suseconds_t)frac / 1000 : (suseconds_t)frac;
	} else {
		h->ts.tv_sec = (int32_t)sec;
		h->ts.tv_usec = r->nano ? (int32_t)frac / 1000 : (int32_t)frac;
	}
	h->caplen = caplen;
	h->len = len;
	*data = r->buf + r->pos + 16;
	r->pos += 16 + (size_t)caplen;
	return 1;
}

/* ------------------------------------------------------------------ pcapng */

/* IDB options: 0, or -1 for anything libpcap would refuse or we do not do. */
static int idb_options(struct ws_reader *r, struct ws_cursor *c, struct iface *ifc)
{
	bool saw_resol = false, saw_offset = false;

	ifc->tsresol = 1000000;
	ifc->tsoffset = 0;
	while (c->left) {
		uint16_t code = rd16(c, r->big), olen = rd16(c, r->big);
		struct ws_cursor v = ws_cur_sub(c, ((size_t)olen + 3) / 4 * 4);
		uint8_t resol;

		if (c->err)
			return -1;
		if (code == 0)
			return olen == 0 ? 0 : -1;
		if (code == 9) {	/* if_tsresol: decimal up to ns only */
			resol = ws_cur_u8(&v);
			if (olen != 1 || saw_resol || (resol & 0x80) || resol > 9)
				return -1;
			saw_resol = true;
			ifc->tsresol = 1;
			while (resol--)
				ifc->tsresol *= 10;
		} else if (code == 14) {	/* if_tsoffset */
			uint32_t a = rd32(&v, r->big), b = rd32(&v, r->big);

			if (olen != 8 || saw_offset)
				return -1;
			saw_offset = true;
			ifc->tsoffset = r->big ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
		}
	}
	return 0;
}

/* 0, or -1 if libpcap must handle this block. */
static int pcapng_shb(struct ws_reader *r, struct ws_cursor *body)
{
	uint32_t bom = rd32(body, r->big);
	uint16_t major = rd16(body, r->big);

	ws_cur_skip(body, 10);	/* minor version, section length */
	if (body->err || bom != PCAPNG_BOM || major != 1)
		return -1;
	r->nif = 0;
	return 0;
}

static int pcapng_idb(struct ws_reader *r, struct ws_cursor *body)
{
	uint16_t linktype = rd16(body, r->big);
	uint32_t snaplen;

	ws_cur_skip(body, 2);
	snaplen = rd32(body, r->big);
	/*
	 * libpcap maps the first IDB's link type to a DLT, then compares the
	 * DLT with every later IDB's raw link type (LINKTYPE_RAW 101 is
	 * DLT_RAW 12): ask the same.
	 */
	if (body->err || r->nif == MAX_IFACES ||
	    (r->seen_idb ? linktype : ws_link_dlt(linktype)) != r->dlt)
		return -1;
	r->seen_idb = true;
	/* pcap_adjust_snapshot: only 0 and values over INT_MAX mean the maximum */
	if ((snaplen == 0 || snaplen > INT32_MAX ? MAX_SNAPLEN : snaplen) != r->snapshot)
		return -1;
	if (idb_options(r, body, &r->ifs[r->nif]) < 0)
		return -1;
	r->nif++;
	return 0;
}

/* EPB, SPB or OPB into h/data: 1, or -1 for libpcap. */
static int pcapng_packet(struct ws_reader *r, uint32_t type, struct ws_cursor *body,
			 struct ws_pkthdr *h, const uint8_t **data)
{
	uint32_t ifid = 0, caplen, len, hi = 0, lo = 0;
	uint64_t t, sec, frac;
	const struct iface *ifc;

	if (type == BT_SPB) {
		len = rd32(body, r->big);
		caplen = len > r->snapshot ? r->snapshot : len;
	} else {
		if (type == BT_EPB) {
			ifid = rd32(body, r->big);
		} else {
			ifid = rd16(body, r->big);
			ws_cur_skip(body, 2);	/* drops count */
		}
		hi = rd32(body, r->big);
		lo = rd32(body, r->big);
		caplen = rd32(body, r->big);
		len = rd32(body, r->big);
	}
	*data = ws_cur_bytes(body, caplen);
	if (body->err || ifid >= r->nif || caplen > r->snapshot)
		return -1;
	ifc = &r->ifs[ifid];
	t = (uint64_t)hi << 32 | lo;
	sec = t / ifc->tsresol + ifc->tsoffset;
	frac = t % ifc->tsresol;
	if (ifc->tsresol < 1000000)
		frac *= 1000000 / ifc->tsresol;
	else
		frac /= ifc->tsresol / 1000000;
	h->ts.tv_sec = (time_t)sec;
	h->ts.tv_usec = (int)frac;
	h->caplen = caplen;
	h->len = len;
	return 1;
}

static int next_pcapng(struct ws_reader *r, struct ws_pkthdr *h, const uint8_t **data,
		       char *err, size_t errlen)
{
	for (;;) {
		size_t have = fill(r, 8);
		struct ws_cursor c, body;
		uint32_t type, total;
		int rc = 0;

		if (have == 0)
			return 0;
		if (have < 8)
			return truncated(r, "bytes", 8, have, err, errlen);
		c = ws_cursor(r->buf + r->pos, have);
		type = rd32(&c, r->big);
		total = rd32(&c, r->big);
		if (total < 12 || total % 4 || total > BUF_SIZE)
			return 2;
		have = fill(r, total);
		if (have < total)
			return truncated(r, "bytes", total - 8, have - 8, err, errlen);
		c = ws_cursor(r->buf + r->pos + total - 4, 4);
		if (rd32(&c, r->big) != total)
			return 2;
		body = ws_cursor(r->buf + r->pos + 8, total - 12);
		if (type == PCAPNG_SHB)
			rc = pcapng_shb(r, &body);
		else if (type == BT_IDB)
			rc = pcapng_idb(r, &body);
		else if (type == BT_EPB || type == BT_SPB || type == BT_OPB)
			rc = pcapng_packet(r, type, &body, h, data);
		if (rc < 0)
			return 2;
		r->pos += total;
		if (rc == 1)
			return 1;
	}
}

/* ------------------------------------------------------------------- open */

/* Which fast path fits the file libpcap opened, or FMT_LIBPCAP. */
static enum format choose_format(struct ws_reader *r)
{
	uint8_t hdr[24];
	struct ws_cursor c = ws_cursor(hdr, sizeof(hdr));
	struct stat st;
	uint32_t magic_le;

	if (fstat(fileno(r->f), &st) < 0 || !S_ISREG(st.st_mode))
		return FMT_LIBPCAP;
	r->size = (uint64_t)st.st_size;
	if (pread(fileno(r->f), hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return FMT_LIBPCAP;
	/* pseudo-headers libpcap byte-swaps in files from the other byte order */
	if (pcap_is_swapped(r->p) && (r->dlt == DLT_LINUX_SLL || r->dlt == DLT_LINUX_SLL2))
		return FMT_LIBPCAP;
	magic_le = ws_cur_le32(&c);
	if (magic_le == PCAPNG_SHB) {
		c = ws_cursor(hdr + 8, 4);
		r->big = ws_cur_le32(&c) != PCAPNG_BOM;
		return FMT_PCAPNG;
	}
	if (magic_le == PCAP_MAGIC_US || magic_le == PCAP_MAGIC_NS)
		r->big = false;
	else if (__builtin_bswap32(magic_le) == PCAP_MAGIC_US ||
		 __builtin_bswap32(magic_le) == PCAP_MAGIC_NS)
		r->big = true;
	else
		return FMT_LIBPCAP;	/* Kuznetzov, Navtel, ... */
	r->nano = (r->big ? __builtin_bswap32(magic_le) : magic_le) == PCAP_MAGIC_NS;
	if (rd16(&c, r->big) != 2 || rd16(&c, r->big) != 4)
		return FMT_LIBPCAP;	/* older versions may swap caplen and len */
	ws_cur_skip(&c, 12);
	if (ws_link_dlt(rd32(&c, r->big)) != r->dlt)
		return FMT_LIBPCAP;	/* FCS bits, or a type we do not read */
	r->pos = r->end = 24;	/* records start after the file header */
	r->base = 0;
	return FMT_PCAP;
}

int ws_reader_open(const char *path, struct ws_reader **out, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct ws_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r || !(r->path = strdup(path)) || !(r->stdio_buf = malloc(STDIO_BUF))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	r->f = fopen(path, "rb");
	if (!r->f) {
		snprintf(err, errlen, "%s: open: %s", path, strerror(errno));
		goto fail;
	}
	setvbuf(r->f, r->stdio_buf, _IOFBF, STDIO_BUF);
	r->p = pcap_fopen_offline_with_tstamp_precision(r->f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!r->p) {
		snprintf(err, errlen, "%s: pcap_open_offline: %s", path, ebuf);
		goto fail;
	}
	r->f = pcap_file(r->p);	/* the same FILE, now libpcap's to close */
	r->dlt = pcap_datalink(r->p);
	r->snapshot = (uint32_t)pcap_snapshot(r->p);
	r->fmt = choose_format(r);
	r->cap = BUF_FIRST;
	if (r->fmt != FMT_LIBPCAP && !(r->buf = malloc(r->cap)))
		r->fmt = FMT_LIBPCAP;
	*out = r;
	return 0;
fail:
	ws_reader_close(r);
	return -1;
}

int ws_reader_next(struct ws_reader *r, struct ws_pkthdr *h, const uint8_t **data, char *err,
		   size_t errlen)
{
	int rc;

	if (r->fmt == FMT_LIBPCAP)
		return next_libpcap(r, h, data, err, errlen);
	rc = r->fmt == FMT_PCAP ? next_pcap(r, h, data, err, errlen)
				: next_pcapng(r, h, data, err, errlen);
	if (rc == 1)
		r->delivered++;
	else if (r->oom)
		rc = 2;
	if (rc != 2)
		return rc;
	if (fall_back(r, err, errlen) < 0)
		return -1;
	return next_libpcap(r, h, data, err, errlen);
}

int ws_reader_datalink(const struct ws_reader *r)
{
	return r->dlt;
}

bool ws_reader_fast(const struct ws_reader *r)
{
	return r->fmt != FMT_LIBPCAP;
}

uint64_t ws_reader_offset(const struct ws_reader *r)
{
	off_t o;

	if (r->fmt != FMT_LIBPCAP)
		return r->base + r->pos;
	o = ftello(r->f);
	return o > 0 ? (uint64_t)o : 0;
}

uint64_t ws_reader_size(const struct ws_reader *r)
{
	return r->size;
}

void ws_reader_close(struct ws_reader *r)
{
	if (!r)
		return;
	if (r->p)
		pcap_close(r->p);	/* closes r->f */
	else if (r->f)
		fclose(r->f);
	free(r->stdio_buf);
	free(r->buf);
	free(r->path);
	free(r);
}
