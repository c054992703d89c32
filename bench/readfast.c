/*
 * readfast — bench/readloop.c with wormsnare's savefile reader
 * (capture/savefile.c) instead of pcap_next_ex: the read floor of the
 * offline path, touching one byte per packet, nothing else.
 *
 *   readfast FILE        prints "packets N bytes B" on stdout
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "capture.h"

int main(int argc, char **argv)
{
	char err[512];
	struct ws_reader *r;
	struct ws_pkthdr h;
	const uint8_t *data;
	uint64_t packets = 0, bytes = 0;
	unsigned sum = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: readfast FILE\n");
		return 2;
	}
	if (ws_reader_open(argv[1], &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "readfast: %s\n", err);
		return 1;
	}
	while ((rc = ws_reader_next(r, &h, &data, err, sizeof(err))) == 1) {
		packets++;
		bytes += h.caplen;
		if (h.caplen)
			sum += data[h.caplen - 1];	/* the packet must really be read */
	}
	if (rc < 0) {
		fprintf(stderr, "readfast: %s\n", err);
		ws_reader_close(r);
		return 1;
	}
	printf("packets %" PRIu64 " bytes %" PRIu64 " (checksum %u)%s\n", packets, bytes, sum & 0xff,
	       ws_reader_fast(r) ? "" : " (libpcap fallback)");
	ws_reader_close(r);
	return 0;
}
