/*
 * The normalizer's pure parts under arbitrary input: the receive queue
 * (insert, front, advance, with every policy and doubt level, sequence
 * numbers near the wrap) and the defragmenter (fragments with any offset,
 * flags and length). Input: a policy byte, then records
 *   op(1) a(2) b(2) len(1) data(len)
 * op & 1: a queue insert at base + a (doubt b % 3) or an advance by b;
 * else a fragment with id a & 3, offset field b, MF from op & 2.
 */
#include <stdint.h>
#include <string.h>

#include "reassembly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_rxq q;
	struct ws_rxq_result r;
	struct ws_defrag_params dp = {8, 1 << 18, 30, WS_POL_WINDOWS};
	struct ws_defrag *d;
	struct ws_defrag_note note;
	struct timeval ts = {1, 0};
	struct ws_cursor c = ws_cursor(data, size);
	enum ws_policy pol = (enum ws_policy)(ws_cur_u8(&c) % WS_POLICIES);
	uint8_t pkt[20 + 255];

	dp.policy = pol;
	d = ws_defrag_new(&dp);
	if (!d)
		return 0;
	ws_rxq_init(&q, 0xffffff00u);
	while (!c.err && c.left > 0) {
		uint8_t op = ws_cur_u8(&c), len;
		uint16_t a = ws_cur_be16(&c), b = ws_cur_be16(&c);
		const uint8_t *p;
		const uint8_t *out;
		size_t outlen;

		len = ws_cur_u8(&c);
		p = ws_cur_bytes(&c, len);
		if (!p)
			break;
		if (op & 1) {
			if (op & 4) {
				const uint8_t *f;
				uint8_t dd;

				if (ws_rxq_front(&q, &f, &dd, &ts) && f[0] == 0xfe)
					ts.tv_sec++;
				ws_rxq_advance(&q, b % 512);
			} else {
				ws_rxq_insert(&q, pol, q.base + a % 4096, p, len, (uint8_t)(b % 3), &ts,
					      2048, &r);
			}
			(void)ws_rxq_first(&q);
			(void)ws_rxq_contiguous(&q);
			continue;
		}
		memset(pkt, 0, 20);
		pkt[0] = 0x45;
		pkt[2] = (uint8_t)((20 + len) >> 8);
		pkt[3] = (uint8_t)(20 + len);
		pkt[5] = (uint8_t)(a & 3);
		pkt[6] = (uint8_t)(((op & 2) ? 0x20 : 0) | ((b >> 8) & 0x1f));
		pkt[7] = (uint8_t)b;
		pkt[9] = 17;
		memcpy(pkt + 20, p, len);
		if (ws_defrag_add(d, pkt, 20, 20 + (size_t)len, ts.tv_sec, &out, &outlen, &note) ==
		    WS_DF_DONE && outlen >= 20 && out[0] != 0x45)
			__builtin_trap();
		ws_defrag_sweep(d, ts.tv_sec);
	}
	ws_rxq_free(&q);
	ws_defrag_free(d);
	return 0;
}
