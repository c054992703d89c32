/*
 * readloop — the floor for any pcap reader: pcap_next_ex over a file,
 * touching one byte per packet, nothing else.
 *
 *   readloop FILE        prints "packets N bytes B" on stdout
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t packets = 0, bytes = 0;
	unsigned sum = 0;
	pcap_t *p;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: readloop FILE\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], errbuf);
	if (!p) {
		fprintf(stderr, "readloop: %s\n", errbuf);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		packets++;
		bytes += h->caplen;
		if (h->caplen)
			sum += data[h->caplen - 1];	/* the packet must really be read */
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "readloop: %s: %s\n", argv[1], pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	printf("packets %" PRIu64 " bytes %" PRIu64 " (checksum %u)\n", packets, bytes, sum & 0xff);
	return 0;
}
