/*
 * reassembly/ only, not part of its interface (that is reassembly.h):
 * TCP sequence-number comparison modulo 2^32 (RFC 9293 3.4), shared by the
 * engine and the receive queue.
 */
#ifndef WS_REASSEMBLY_SEQ_H
#define WS_REASSEMBLY_SEQ_H

#include <stdint.h>

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((a) - (b)) >= 0)

#endif
