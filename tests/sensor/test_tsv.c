/*
 * TSV writing and layer-2 decoding (escaping and the time format are
 * tested with output/ in tests/output).
 */
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensor.h"

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static char *slurp(int dirfd, const char *name)
{
	static char buf[4096];
	int fd = openat(dirfd, name, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_log(void)
{
	char dir[] = "/tmp/ws-tsv-XXXXXX", err[256];
	struct ws_tsv t;
	const char *row1[] = {"1", "x"}, *row2[] = {"2", "y"}, *row3[] = {"3", "z"};
	int dirfd;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(ws_tsv_open(&t, dirfd, "log.txt", "ID\tV", err, sizeof(err)) == 0, "open: %s", err);
	CHECK(ws_tsv_row(&t, row1, 2) == 0, "row1");
	ws_tsv_close(&t);
	/* reopening an existing log must not repeat the header */
	CHECK(ws_tsv_open(&t, dirfd, "log.txt", "ID\tV", err, sizeof(err)) == 0, "reopen");
	CHECK(ws_tsv_row(&t, row2, 2) == 0, "row2");
	CHECK(strcmp(slurp(dirfd, "log.txt"), "ID\tV\n1\tx\n2\ty\n") == 0, "content: %s",
	      slurp(dirfd, "log.txt"));
	CHECK(ws_tsv_last_id(dirfd, "log.txt") == 2, "last id");
	/* logrotate: the file is moved away, SIGHUP reopens a fresh one with a header */
	CHECK(renameat(dirfd, "log.txt", dirfd, "log.txt.1") == 0, "rotate");
	CHECK(ws_tsv_reopen(&t, err, sizeof(err)) == 0, "reopen after rotate: %s", err);
	CHECK(ws_tsv_row(&t, row3, 2) == 0, "row3");
	CHECK(strcmp(slurp(dirfd, "log.txt"), "ID\tV\n3\tz\n") == 0, "rotated content");
	CHECK(strstr(slurp(dirfd, "log.txt.1"), "2\ty\n") != NULL, "old rows kept");
	/* deleted while running: the next row recreates the file, header first */
	CHECK(unlinkat(dirfd, "log.txt", 0) == 0, "delete");
	CHECK(ws_tsv_row(&t, row1, 2) == 0, "row after delete");
	CHECK(strcmp(slurp(dirfd, "log.txt"), "ID\tV\n1\tx\n") == 0, "recreated: %s",
	      slurp(dirfd, "log.txt"));
	ws_tsv_close(&t);
	CHECK(ws_tsv_open(&t, dirfd, "../escape.txt", "H", err, sizeof(err)) < 0,
	      "a log name with a slash must be refused");
	CHECK(ws_tsv_last_id(dirfd, "missing.txt") == 0, "last id of a missing log");
	unlinkat(dirfd, "log.txt", 0);
	unlinkat(dirfd, "log.txt.1", 0);
	close(dirfd);
	rmdir(dir);
}

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
	/* too many tags */
	memset(f, 0, sizeof(f));
	for (int i = 0; i < 6; i++)
		f[12 + 4 * i] = 0x81;
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 128) == -1, "tag bomb");
	/* MPLS, two labels */
	memset(f, 0, sizeof(f));
	f[12] = 0x88; f[13] = 0x47;
	f[14 + 2] = 0x00;	/* label 1, not bottom */
	f[18 + 2] = 0x01;	/* label 2, bottom of stack */
	memcpy(f + 22, ip, 20);
	CHECK(ws_l2_ipv4_offset(DLT_EN10MB, f, 42) == 22, "mpls");
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

int main(void)
{
	test_log();
	test_l2();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("tsv/l2: all checks passed\n");
	return failures ? 1 : 0;
}
