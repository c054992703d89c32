/*
 * libFuzzer, differential: the fast savefile reader (capture/savefile.c)
 * against libpcap on the same bytes. Any difference in a packet (time
 * stamp, caplen, len, bytes), in where the file ends or in the error text
 * is a crash.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	char ebuf[PCAP_ERRBUF_SIZE], err[512] = "", want[600];
	struct ws_reader *r;
	pcap_t *p;
	FILE *f;
	int rc, ours;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/ws-fuzz-reader-%d.pcap", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (ws_reader_open(path, &r, err, sizeof(err)) < 0) {
		if (p)
			__builtin_trap();	/* libpcap opens what we refuse */
		return 0;
	}
	if (!p)
		__builtin_trap();
	for (;;) {
		struct pcap_pkthdr *h;
		const u_char *d;
		struct ws_pkthdr oh;
		const uint8_t *od;

		rc = pcap_next_ex(p, &h, &d);
		ours = ws_reader_next(r, &oh, &od, err, sizeof(err));
		if (rc != 1 || ours != 1)
			break;
		if (oh.ts.tv_sec != h->ts.tv_sec || oh.ts.tv_usec != h->ts.tv_usec ||
		    oh.caplen != h->caplen || oh.len != h->len || memcmp(od, d, h->caplen) != 0)
			__builtin_trap();
	}
	if (rc == 1 || ours == 1 || (rc == PCAP_ERROR_BREAK) != (ours == 0))
		__builtin_trap();
	if (rc != PCAP_ERROR_BREAK) {
		snprintf(want, sizeof(want), "%s: %s", path, pcap_geterr(p));
		if (strcmp(want, err) != 0)
			__builtin_trap();
	}
	ws_reader_close(r);
	pcap_close(p);
	return 0;
}
