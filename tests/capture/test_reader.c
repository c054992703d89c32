/*
 * The fast savefile reader yields exactly libpcap's packets: for every file
 * under the given directories (pcaps/, ../shared/pcaps) and for crafted
 * files covering each corner (both byte orders, nanosecond magic, snaplen,
 * truncated last record, pcapng resolutions, offsets, SPB, OPB, skipped
 * blocks, several interfaces, a second link type), the timestamps, caplen,
 * len and bytes of every packet, and how the file ends (end or error, and
 * the error text), must be the same as pcap_next_ex's. The crafted common
 * cases must also stay on the fast path.
 *
 *   test_reader DIR...      (a missing DIR is skipped with a note)
 */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* Compare one file; returns 1 if our reader stayed fast to the end. */
static int compare(const char *path, size_t *packets)
{
	char ebuf[PCAP_ERRBUF_SIZE], err[512] = "", want[600];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	struct ws_reader *r;
	int rc, ours, fast;
	uint64_t n = 0;

	if (ws_reader_open(path, &r, err, sizeof(err)) < 0) {
		CHECK(p == NULL, "%s: libpcap opens it, we do not: %s", path, err);
		if (p)
			pcap_close(p);
		return 0;
	}
	CHECK(p != NULL, "%s: we open it, libpcap does not: %s", path, ebuf);
	if (!p) {
		ws_reader_close(r);
		return 0;
	}
	CHECK(ws_reader_datalink(r) == pcap_datalink(p), "%s: link type", path);
	for (;; n++) {
		struct pcap_pkthdr *h;
		const u_char *d;
		struct ws_pkthdr oh;
		const uint8_t *od;

		rc = pcap_next_ex(p, &h, &d);
		ours = ws_reader_next(r, &oh, &od, err, sizeof(err));
		if (rc != 1 || ours != 1)
			break;
		if (oh.ts.tv_sec != h->ts.tv_sec || oh.ts.tv_usec != h->ts.tv_usec ||
		    oh.caplen != h->caplen || oh.len != h->len || memcmp(od, d, h->caplen) != 0) {
			CHECK(0, "%s: packet %llu differs (ts %lld.%06ld/%lld.%06ld caplen %u/%u len %u/%u)",
			      path, (unsigned long long)n, (long long)oh.ts.tv_sec, (long)oh.ts.tv_usec,
			      (long long)h->ts.tv_sec, (long)h->ts.tv_usec, oh.caplen, h->caplen, oh.len,
			      h->len);
			break;
		}
	}
	if (rc == 1 || ours == 1)
		CHECK(0, "%s: after %llu packets one reader goes on (libpcap %d, ours %d: %s)", path,
		      (unsigned long long)n, rc, ours, err);
	else if (rc == PCAP_ERROR_BREAK)
		CHECK(ours == 0, "%s: libpcap ends cleanly after %llu packets, ours: %s", path,
		      (unsigned long long)n, err);
	else {
		snprintf(want, sizeof(want), "%s: %s", path, pcap_geterr(p));
		CHECK(ours == -1 && strcmp(err, want) == 0, "%s: libpcap fails \"%s\", ours %d \"%s\"",
		      path, want, ours, err);
	}
	*packets += n;
	fast = ws_reader_fast(r);
	ws_reader_close(r);
	pcap_close(p);
	return fast;
}

static void walk(const char *dir, size_t *files, size_t *packets, size_t *fast)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[2048];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path, files, packets, fast);
		} else if (S_ISREG(st.st_mode) && (strstr(e->d_name, ".pcap") || strstr(e->d_name, ".cap"))) {
			*fast += (size_t)compare(path, packets);
			(*files)++;
		}
	}
	closedir(d);
}

/* ------------------------------------------------------------ crafted files */

struct out {
	uint8_t b[8192];
	size_t n;
	bool big;
};

static void put(struct out *o, const void *p, size_t n)
{
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void u16(struct out *o, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(o->big ? v >> 8 : v), (uint8_t)(o->big ? v : v >> 8)};

	put(o, b, 2);
}

static void u32(struct out *o, uint32_t v)
{
	if (o->big) {
		u16(o, (uint16_t)(v >> 16));
		u16(o, (uint16_t)v);
	} else {
		u16(o, (uint16_t)v);
		u16(o, (uint16_t)(v >> 16));
	}
}

static const uint8_t pkt[60] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 6,
};

static void pcap_header(struct out *o, bool big, bool nano, uint32_t snaplen, uint32_t lt)
{
	o->n = 0;
	o->big = big;
	u32(o, nano ? 0xa1b23c4d : 0xa1b2c3d4);
	u16(o, 2);
	u16(o, 4);
	u32(o, 0);
	u32(o, 0);
	u32(o, snaplen);
	u32(o, lt);
}

static void pcap_record(struct out *o, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len)
{
	u32(o, sec);
	u32(o, frac);
	u32(o, caplen);
	u32(o, len);
	put(o, pkt, caplen <= sizeof(pkt) ? caplen : sizeof(pkt));
}

static void block(struct out *o, uint32_t type, const struct out *body)
{
	u32(o, type);
	u32(o, (uint32_t)body->n + 12);
	put(o, body->b, body->n);
	u32(o, (uint32_t)body->n + 12);
}

static void shb(struct out *o)
{
	struct out b = {.big = o->big};

	u32(&b, 0x1a2b3c4d);
	u16(&b, 1);
	u16(&b, 0);
	u32(&b, 0xffffffff);
	u32(&b, 0xffffffff);
	block(o, 0x0a0d0d0a, &b);
}

static void idb(struct out *o, uint16_t lt, uint32_t snaplen, int tsresol, uint64_t tsoffset)
{
	struct out b = {.big = o->big};

	u16(&b, lt);
	u16(&b, 0);
	u32(&b, snaplen);
	u16(&b, 2);	/* if_name, skipped */
	u16(&b, 3);
	put(&b, "ab\0\0", 4);
	if (tsresol >= 0) {
		u16(&b, 9);
		u16(&b, 1);
		put(&b, (uint8_t[4]){(uint8_t)tsresol}, 4);
	}
	if (tsoffset) {
		u16(&b, 14);
		u16(&b, 8);
		if (o->big) {
			u32(&b, (uint32_t)(tsoffset >> 32));
			u32(&b, (uint32_t)tsoffset);
		} else {
			u32(&b, (uint32_t)tsoffset);
			u32(&b, (uint32_t)(tsoffset >> 32));
		}
	}
	u16(&b, 0);
	u16(&b, 0);
	block(o, 1, &b);
}

static void epb(struct out *o, uint32_t ifid, uint64_t t, uint32_t caplen, uint32_t len)
{
	struct out b = {.big = o->big};

	u32(&b, ifid);
	u32(&b, (uint32_t)(t >> 32));
	u32(&b, (uint32_t)t);
	u32(&b, caplen);
	u32(&b, len);
	put(&b, pkt, caplen);
	while (b.n % 4)
		put(&b, "", 1);
	block(o, 6, &b);
}

static void other_blocks(struct out *o, uint32_t t)
{
	struct out b = {.big = o->big};

	u32(&b, 42);		/* SPB */
	put(&b, pkt, 44);
	block(o, 3, &b);
	b.n = 0;		/* OPB */
	u16(&b, 0);
	u16(&b, 7);
	u32(&b, 0);
	u32(&b, t);
	u32(&b, 60);
	u32(&b, 60);
	put(&b, pkt, 60);
	block(o, 2, &b);
	b.n = 0;		/* an ISB and a custom block: skipped */
	u32(&b, 0);
	u32(&b, 0);
	u32(&b, 0);
	block(o, 5, &b);
	block(o, 0x40000bad, &b);
}

static int crafted(const char *dir, const char *name, const struct out *o, size_t cut,
		   size_t *packets)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(o->b, 1, o->n - cut, f) != o->n - cut) {
		CHECK(0, "%s: cannot write", path);
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	return compare(path, packets);
}

/* 3 MB of records of every size across buffer refills, and one of 200 000 bytes. */
static int big_file(const char *dir, size_t *packets)
{
	static uint8_t data[201024];
	char path[1024];
	struct out o;
	FILE *f;

	snprintf(path, sizeof(path), "%s/big.pcap", dir);
	f = fopen(path, "wb");
	if (!f)
		return 0;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	pcap_header(&o, false, true, 262144, 1);
	fwrite(o.b, 1, o.n, f);
	for (uint32_t i = 0; i < 4000; i++) {
		uint32_t caplen = i == 1234 ? 200000 : (i * 37) % 1515;

		o.n = 0;
		u32(&o, 1061301600 + i / 100);
		u32(&o, i * 1000 + 999);
		u32(&o, caplen);
		u32(&o, caplen + i % 3);
		fwrite(o.b, 1, o.n, f);
		fwrite(data + i % 1000, 1, caplen, f);
	}
	fclose(f);
	return compare(path, packets);
}

static void test_crafted(void)
{
	char dir[] = "/tmp/ws-reader-XXXXXX";
	struct out o;
	size_t packets = 0;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	for (int big = 0; big < 2; big++)
		for (int nano = 0; nano < 2; nano++) {
			char name[64];

			pcap_header(&o, big, nano, 65535, 1);
			pcap_record(&o, 1061301600, nano ? 999999999 : 999999, 60, 60);
			pcap_record(&o, 0x80000001u, 1, 14, 1500);	/* signed 32-bit seconds */
			pcap_record(&o, 3, 4, 0, 0);
			snprintf(name, sizeof(name), "plain-%d-%d.pcap", big, nano);
			CHECK(crafted(dir, name, &o, 0, &packets), "%s left the fast path", name);
			snprintf(name, sizeof(name), "cut-data-%d-%d.pcap", big, nano);
			pcap_record(&o, 5, 6, 60, 60);
			CHECK(crafted(dir, name, &o, 7, &packets), "%s left the fast path", name);
			snprintf(name, sizeof(name), "cut-header-%d-%d.pcap", big, nano);
			CHECK(crafted(dir, name, &o, 60 + 9, &packets), "%s left the fast path", name);
		}
	CHECK(big_file(dir, &packets), "big.pcap left the fast path");
	pcap_header(&o, false, false, 40, 1);	/* caplen over snaplen: libpcap's business */
	pcap_record(&o, 1, 2, 30, 30);
	pcap_record(&o, 1, 3, 50, 60);
	pcap_record(&o, 1, 4, 30, 30);
	crafted(dir, "over-snaplen.pcap", &o, 0, &packets);
	pcap_header(&o, false, false, 0x00ff0001, 1);	/* a huge snaplen stays, the maximum holds */
	pcap_record(&o, 1, 2, 60, 60);
	pcap_record(&o, 1, 3, 300000, 300000);
	crafted(dir, "huge-snaplen.pcap", &o, 0, &packets);
	pcap_header(&o, false, false, 0, 1);	/* snaplen 0 means the maximum */
	pcap_record(&o, 1, 2, 60, 60);
	CHECK(crafted(dir, "snaplen0.pcap", &o, 0, &packets), "snaplen 0 left the fast path");
	pcap_header(&o, false, false, 65535, 0x04000001);	/* FCS bits in the link type */
	pcap_record(&o, 1, 2, 60, 60);
	crafted(dir, "fcs.pcap", &o, 0, &packets);

	for (int big = 0; big < 2; big++) {
		char name[64];

		o.n = 0;
		o.big = big;
		shb(&o);
		idb(&o, 1, 65535, -1, 0);
		idb(&o, 1, 65535, 9, 0);
		idb(&o, 1, 65535, 3, 1000);
		epb(&o, 0, 1061301600123456ull, 60, 60);
		epb(&o, 1, 1061301600123456789ull, 54, 1514);
		epb(&o, 2, 1061301600123ull, 60, 60);
		other_blocks(&o, 77);
		shb(&o);	/* a new section with its own interfaces */
		idb(&o, 1, 65535, 0, 0);
		epb(&o, 0, 1061301600ull, 60, 60);
		snprintf(name, sizeof(name), "ng-%d.pcapng", big);
		CHECK(crafted(dir, name, &o, 0, &packets), "%s left the fast path", name);
		snprintf(name, sizeof(name), "ng-cut-%d.pcapng", big);
		CHECK(crafted(dir, name, &o, 10, &packets), "%s left the fast path", name);
		epb(&o, 1, 5, 60, 60);	/* no interface 1 in this section */
		snprintf(name, sizeof(name), "ng-badif-%d.pcapng", big);
		crafted(dir, name, &o, 0, &packets);
		o.n = 0;
		shb(&o);
		idb(&o, 1, 65535, 0x86, 0);	/* binary resolution: libpcap's */
		epb(&o, 0, 123456789, 60, 60);
		idb(&o, 101, 65535, -1, 0);	/* a second link type: refused */
		epb(&o, 1, 5, 60, 60);
		snprintf(name, sizeof(name), "ng-linktypes-%d.pcapng", big);
		crafted(dir, name, &o, 0, &packets);
	}
	printf("reader: crafted files, %zu packets: same as libpcap\n", packets);
	if (!failures) {
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		if (d)
			closedir(d);
		rmdir(dir);
	} else {
		fprintf(stderr, "crafted files kept in %s\n", dir);
	}
}

int main(int argc, char **argv)
{
	test_crafted();
	for (int i = 1; i < argc; i++) {
		size_t files = 0, packets = 0, fast = 0;
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			printf("reader: %s absent, skipped\n", argv[i]);
			continue;
		}
		walk(argv[i], &files, &packets, &fast);
		printf("reader: %s: %zu files (%zu on the fast path to the end), %zu packets: same as libpcap\n",
		       argv[i], files, fast, packets);
	}
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
