/*
 * Layer-2 stripping, the selection, and the one-table promise: on crafted
 * frames and on every Ethernet frame of pcaps/, the C selection keeps a
 * frame exactly when one of the kernel program's alternatives (compiled by
 * libpcap for a savefile handle, tags in the frame) accepts it.
 *
 *   test_capture PCAPS_DIR
 */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static void test_l2(void)
{
	uint8_t f[128];
	const uint8_t ip[20] = {0x45, 0, 0, 20};

	memset(f, 0, sizeof(f));
	/* Ethernet */
	f[12] = 0x08;
	memcpy(f + 14, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 34) == 14, "ethernet");
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 33) == -1, "ethernet short");
	f[12] = 0x86;
	f[13] = 0xdd;
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 34) == -1, "IPv6 is not IPv4");
	/* 802.1Q, QinQ */
	memset(f, 0, sizeof(f));
	f[12] = 0x81; f[16] = 0x08;
	memcpy(f + 18, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 38) == 18, "vlan");
	memset(f, 0, sizeof(f));
	f[12] = 0x88; f[13] = 0xa8; f[16] = 0x81; f[20] = 0x08;
	memcpy(f + 22, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 42) == 22, "qinq");
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 20) == -1, "qinq cut in a tag");
	/* too many tags: three */
	memset(f, 0, sizeof(f));
	for (int i = 0; i < 3; i++)
		f[12 + 4 * i] = 0x81;
	f[24] = 0x08;
	memcpy(f + 26, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 128) == -1, "three tags");
	/* MPLS, two labels */
	memset(f, 0, sizeof(f));
	f[12] = 0x88; f[13] = 0x47;
	f[14 + 2] = 0x00;	/* label 1, not bottom */
	f[18 + 2] = 0x01;	/* label 2, bottom of stack */
	memcpy(f + 22, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 42) == 22, "mpls");
	f[18 + 2] = 0x00;	/* no bottom of stack within the frame */
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 42) == -1, "mpls without bottom");
	/* Linux cooked v1 and v2 */
	memset(f, 0, sizeof(f));
	f[14] = 0x08;
	memcpy(f + 16, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_LINUX_SLL, f, 36) == 16, "sll");
	memset(f, 0, sizeof(f));
	f[0] = 0x08;
	memcpy(f + 20, ip, 20);
	CHECK(ws_l2_ipv4_offset(276, f, 40) == 20, "sll2");
	/* NULL in either byte order, LOOP in network order */
	memset(f, 0, sizeof(f));
	f[0] = 2;
	memcpy(f + 4, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_NULL, f, 24) == 4, "null little-endian");
	f[0] = 0; f[3] = 2;
	CHECK(ws_l2_ipv4_offset(DLT_NULL, f, 24) == 4, "null big-endian");
	CHECK(ws_l2_ipv4_offset(DLT_LOOP, f, 24) == 4, "loop");
	f[3] = 24;	/* AF_INET6 on BSD */
	CHECK(ws_l2_ipv4_offset(DLT_NULL, f, 24) == -1, "null inet6");
	/* raw */
	CHECK(ws_l2_ipv4_offset(DLT_RAW, ip, 20) == 0, "raw");
	CHECK(ws_l2_ipv4_offset(DLT_RAW, ip, 19) == -1, "raw short");
	CHECK(ws_l2_ipv4_offset(DLT_IEEE802_11, f, 64) == -1, "unsupported link type");
}

/* A frame: Ethernet with the given tags/labels around an IPv4 packet. */
static size_t frame(uint8_t *f, const uint16_t *tpids, int ntags, int nlabels, const uint8_t *ip,
		    size_t iplen)
{
	size_t off = 12;

	memset(f, 0, 12);
	for (int i = 0; i < ntags; i++) {
		f[off] = (uint8_t)(tpids[i] >> 8);
		f[off + 1] = (uint8_t)tpids[i];
		f[off + 2] = 0;
		f[off + 3] = (uint8_t)(i + 1);
		off += 4;
	}
	f[off] = nlabels ? 0x88 : 0x08;
	f[off + 1] = nlabels ? 0x47 : 0x00;
	off += 2;
	for (int i = 0; i < nlabels; i++) {
		f[off] = 0; f[off + 1] = 0x10;
		f[off + 2] = i == nlabels - 1 ? 1 : 0;
		f[off + 3] = 64;
		off += 4;
	}
	memcpy(f + off, ip, iplen);
	return off + iplen;
}

struct alts {
	struct bpf_program prog[64];
	size_t n;
};

static void compile_alts(struct alts *a, int dlt, bool tftp)
{
	pcap_t *dead = pcap_open_dead(dlt, 262144);
	char text[1024];

	a->n = ws_select_alternatives(dlt);
	for (size_t i = 0; i < a->n; i++) {
		CHECK(ws_select_bpf_text(dlt, i, tftp, 69, text, sizeof(text)) == 0, "text %zu", i);
		if (pcap_compile(dead, &a->prog[i], text, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			CHECK(0, "\"%s\" does not compile: %s", text, pcap_geterr(dead));
			a->n = i;
			break;
		}
	}
	pcap_close(dead);
}

static bool bpf_keeps(const struct alts *a, const uint8_t *f, size_t len)
{
	struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};

	for (size_t i = 0; i < a->n; i++)
		if (pcap_offline_filter(&a->prog[i], &h, f))
			return true;
	return false;
}

static bool c_keeps(int dlt, const uint8_t *f, size_t len, bool tftp)
{
	long off = ws_l2_ipv4_offset(dlt, f, len);

	return off >= 0 && ws_select_ipv4(f + off, len - (size_t)off, tftp, 69);
}

static void free_alts(struct alts *a)
{
	for (size_t i = 0; i < a->n; i++)
		pcap_freecode(&a->prog[i]);
}

/* IPv4 + 8 bytes of transport header + 2 of payload. */
static size_t ipv4(uint8_t *ip, uint8_t proto, uint16_t frag, uint16_t sport, uint16_t dport,
		   uint16_t opcode)
{
	memset(ip, 0, 30);
	ip[0] = 0x45;
	ip[3] = 30;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 64;
	ip[9] = proto;
	ip[12] = 10; ip[15] = 5;
	ip[16] = 81; ip[19] = 254;
	ip[20] = (uint8_t)(sport >> 8); ip[21] = (uint8_t)sport;
	ip[22] = (uint8_t)(dport >> 8); ip[23] = (uint8_t)dport;
	ip[28] = (uint8_t)(opcode >> 8); ip[29] = (uint8_t)opcode;
	return 30;
}

static void test_selection_agrees(void)
{
	static const uint16_t tpid_sets[][3] = {
		{0x8100, 0x8100, 0x8100}, {0x88a8, 0x8100, 0x8100}, {0x9100, 0x8100, 0x88a8},
	};
	static const struct {
		uint8_t proto;
		uint16_t frag, sport, dport, opcode;
		bool want, want_tftp;
	} pkts[] = {
		{6, 0, 1025, 4444, 0, true, true},	/* any TCP */
		{6, 0, 80, 51000, 0, true, true},
		{17, 0, 53, 53, 0, false, false},	/* DNS */
		{17, 0, 2000, 69, 1, false, true},	/* RRQ to the TFTP port */
		{17, 0, 2000, 3000, 3, false, true},	/* DATA between ephemeral ports */
		{17, 0, 2000, 3000, 7, false, false},
		{17, 0x0010, 53, 53, 0, true, true},	/* non-first fragment */
		{17, 0x2000, 2000, 3000, 4, false, true},	/* first fragment, ACK-shaped */
		{1, 0, 0, 0, 0, false, false},	/* ICMP */
	};
	struct alts plain, with_tftp;
	uint8_t ip[64], f[128];

	compile_alts(&plain, DLT_EN10MB, false);
	compile_alts(&with_tftp, DLT_EN10MB, true);
	for (size_t p = 0; p < sizeof(pkts) / sizeof(pkts[0]); p++) {
		size_t iplen = ipv4(ip, pkts[p].proto, pkts[p].frag, pkts[p].sport, pkts[p].dport,
				    pkts[p].opcode);

		for (size_t s = 0; s < 3; s++)
			for (int tags = 0; tags <= 3; tags++)
				for (int labels = 0; labels <= 4; labels++) {
					size_t len = frame(f, tpid_sets[s], tags, labels, ip, iplen);
					bool inside = tags <= 2 && labels <= 3;

					CHECK(c_keeps(DLT_EN10MB, f, len, false) == (inside && pkts[p].want),
					      "C, packet %zu, %d tags, %d labels", p, tags, labels);
					CHECK(c_keeps(DLT_EN10MB, f, len, true) ==
					      (inside && pkts[p].want_tftp),
					      "C+tftp, packet %zu, %d tags, %d labels", p, tags, labels);
					CHECK(bpf_keeps(&plain, f, len) == c_keeps(DLT_EN10MB, f, len, false),
					      "BPF != C, packet %zu, tpids %zu, %d tags, %d labels", p, s,
					      tags, labels);
					CHECK(bpf_keeps(&with_tftp, f, len) ==
					      c_keeps(DLT_EN10MB, f, len, true),
					      "BPF != C with tftp, packet %zu, %d tags, %d labels", p, tags,
					      labels);
				}
	}
	free_alts(&plain);
	free_alts(&with_tftp);
}

/* Every frame of every sample capture: C and BPF agree. */
static void test_sample_captures(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t files = 0, frames = 0;

	CHECK(d != NULL, "cannot open %s", dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[1024], ebuf[PCAP_ERRBUF_SIZE];
		struct pcap_pkthdr *h;
		const u_char *data;
		struct alts a;
		pcap_t *p;
		size_t n = strlen(e->d_name);

		if (n < 5 || (strcmp(e->d_name + n - 5, ".pcap") && strcmp(e->d_name + n - 7, ".pcapng")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		p = pcap_open_offline(path, ebuf);
		CHECK(p != NULL, "%s: %s", path, ebuf);
		if (!p)
			continue;
		compile_alts(&a, pcap_datalink(p), true);
		while (pcap_next_ex(p, &h, &data) == 1) {
			CHECK(bpf_keeps(&a, data, h->caplen) ==
			      c_keeps(pcap_datalink(p), data, h->caplen, true),
			      "%s: frame %zu: BPF and C disagree", path, frames);
			frames++;
		}
		free_alts(&a);
		pcap_close(p);
		files++;
	}
	closedir(d);
	CHECK(files >= 10 && frames > 100, "only %zu files, %zu frames", files, frames);
	printf("capture: %zu frames of %zu sample captures: C and BPF agree\n", frames, files);
}

int main(int argc, char **argv)
{
	test_l2();
	test_selection_agrees();
	if (argc > 1)
		test_sample_captures(argv[1]);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("capture: all checks passed\n");
	return failures ? 1 : 0;
}
