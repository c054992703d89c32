/*
 * bench/blast: send a classic pcap's frames out of one interface at a given
 * packet rate, faster than tcpreplay's pacing allows (about 160k packets/s
 * here): the whole file in memory, batches of sendmmsg(2) on an AF_PACKET
 * socket that bypasses the qdisc. Only for bench/run's drop point, between
 * two network namespaces it made (a veth pair with no route out); it refuses
 * to run outside a named network namespace (/run/netns).
 *
 *   blast -i IFACE -r FILE [-p PPS] [-n LIMIT]
 *
 * PPS 0 (default): as fast as it can. Prints packets sent, seconds, packets/s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

struct frames {
	uint8_t *data;
	size_t *off, *len, n;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t rd32(const uint8_t *p, int swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

/* A classic pcap (either byte order, Ethernet) read whole. */
static int load(const char *path, struct frames *f)
{
	FILE *fp = fopen(path, "rb");
	long size;
	size_t at = 24, cap = 1024;
	int swap;

	if (!fp || fseek(fp, 0, SEEK_END) < 0 || (size = ftell(fp)) < 24 || fseek(fp, 0, SEEK_SET) < 0)
		return -1;
	f->data = malloc((size_t)size);
	if (!f->data || fread(f->data, 1, (size_t)size, fp) != (size_t)size)
		return -1;
	fclose(fp);
	if (rd32(f->data, 0) == 0xa1b2c3d4 || rd32(f->data, 0) == 0xa1b23c4d)
		swap = 0;
	else if (rd32(f->data, 1) == 0xa1b2c3d4 || rd32(f->data, 1) == 0xa1b23c4d)
		swap = 1;
	else
		return -1;
	if (rd32(f->data + 20, swap) != 1)	/* DLT_EN10MB */
		return -1;
	f->off = malloc(cap * sizeof(size_t));
	f->len = malloc(cap * sizeof(size_t));
	f->n = 0;
	while (at + 16 <= (size_t)size) {
		size_t caplen = rd32(f->data + at + 8, swap);

		if (caplen > 65535 || at + 16 + caplen > (size_t)size)
			break;
		if (f->n == cap) {
			cap *= 2;
			f->off = realloc(f->off, cap * sizeof(size_t));
			f->len = realloc(f->len, cap * sizeof(size_t));
		}
		if (!f->off || !f->len)
			return -1;
		f->off[f->n] = at + 16;
		f->len[f->n++] = caplen;
		at += 16 + caplen;
	}
	return 0;
}

/*
 * Only inside a named network namespace (`ip netns add`, as bench/run makes
 * them), never on the machine's own interfaces: the process's namespace must
 * be one of those bound under /run/netns.
 */
static int in_named_netns(void)
{
	struct stat self, st;
	struct dirent *e;
	DIR *d = opendir("/run/netns");
	int found = 0;

	if (!d || stat("/proc/self/ns/net", &self) < 0) {
		if (d)
			closedir(d);
		return 0;
	}
	while (!found && (e = readdir(d)) != NULL) {
		char path[512];

		snprintf(path, sizeof(path), "/run/netns/%s", e->d_name);
		found = e->d_name[0] != '.' && stat(path, &st) == 0 && st.st_ino == self.st_ino &&
			st.st_dev == self.st_dev;
	}
	closedir(d);
	return found;
}

static int open_socket(const char *iface)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)), one = 1, buf = 8 << 20;

	if (fd < 0)
		return -1;
	sll.sll_ifindex = (int)if_nametoindex(iface);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return fd;
}

int main(int argc, char **argv)
{
	const char *iface = NULL, *path = NULL;
	double pps = 0, start, t;
	size_t limit = 0, sent = 0;
	struct frames f;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	int opt, fd;

	while ((opt = getopt(argc, argv, "i:r:p:n:")) != -1) {
		if (opt == 'i')
			iface = optarg;
		else if (opt == 'r')
			path = optarg;
		else if (opt == 'p')
			pps = atof(optarg);
		else if (opt == 'n')
			limit = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	if (!iface || !path) {
		fprintf(stderr, "usage: blast -i IFACE -r FILE [-p PPS] [-n LIMIT]\n");
		return 2;
	}
	if (!in_named_netns()) {
		fprintf(stderr, "blast: refusing to send outside a network namespace of its own "
			"(run it with ip netns exec)\n");
		return 1;
	}
	if (load(path, &f) < 0 || f.n == 0) {
		fprintf(stderr, "blast: %s: not a classic Ethernet pcap\n", path);
		return 1;
	}
	fd = open_socket(iface);
	if (fd < 0) {
		fprintf(stderr, "blast: %s: %s\n", iface, strerror(errno));
		return 1;
	}
	if (!limit || limit > f.n)
		limit = f.n;
	start = now();
	while (sent < limit) {
		unsigned k = 0;
		int r;

		for (; k < BATCH && sent + k < limit; k++) {
			iov[k] = (struct iovec){f.data + f.off[sent + k], f.len[sent + k]};
			msg[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[k], .msg_iovlen = 1}};
		}
		if (pps > 0 && (t = (double)sent / pps - (now() - start)) > 0) {
			/* ahead of the schedule: sleep, leave the CPU to the sensor */
			struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};

			nanosleep(&ts, NULL);
		}
		r = sendmmsg(fd, msg, k, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "blast: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		sent += (size_t)r;
	}
	t = now() - start;
	printf("sent %zu packets in %.3f s: %.0f packets/s\n", sent, t, (double)sent / t);
	return 0;
}
