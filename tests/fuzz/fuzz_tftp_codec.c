/* libFuzzer: TFTP decode, and encode(decode(x)) decodes to the same packet. */
#include <stdint.h>
#include <string.h>

#include "tftp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ws_tftp_pkt a, b;
	static uint8_t buf[WS_TFTP_PKT_MAX + 1024];
	size_t n;

	if (ws_tftp_decode(data, size, &a) != WS_TFTP_OK)
		return 0;
	n = ws_tftp_encode(&a, buf, sizeof(buf));
	if (n == 0)
		return 0;
	if (ws_tftp_decode(buf, n, &b) != WS_TFTP_OK || a.op != b.op)
		__builtin_trap();
	if ((a.op == WS_TFTP_DATA || a.op == WS_TFTP_ACK) && a.block != b.block)
		__builtin_trap();
	if (a.op == WS_TFTP_DATA && (a.datalen != b.datalen || memcmp(a.data, b.data, a.datalen)))
		__builtin_trap();
	if ((a.op == WS_TFTP_RRQ || a.op == WS_TFTP_WRQ) && strcmp(a.filename, b.filename))
		__builtin_trap();
	return 0;
}
