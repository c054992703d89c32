/*
 * reassembly/ — the whole interface: libnids behind a small API that turns
 * IPv4 packets into complete client->server lines of watched TCP streams.
 *
 * libnids keeps global state, so there is one reassembler per process; all
 * of that state lives in reassembly/nids_glue.c.
 */
#ifndef WS_REASSEMBLY_H
#define WS_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* Addresses in network byte order, ports in host byte order. */
struct ws_flow_key {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

/*
 * A complete line (LF removed, a CR before it kept for the matcher to drop).
 * flow_user is the stream's zeroed scratch area of params.flow_user_size
 * bytes; ts is the capture time of the packet that completed the line.
 */
typedef void (*ws_line_fn)(void *arg, const struct ws_flow_key *key, void *flow_user,
			   const char *line, size_t len, const struct timeval *ts);

/* A UDP datagram after IP reassembly (payload only, bounded by the UDP length). */
typedef void (*ws_udp_fn)(void *arg, const struct ws_flow_key *key, const uint8_t *payload,
			  size_t len, const struct timeval *ts);

struct ws_reasm_params {
	const uint16_t *ports;
	size_t nports;
	int max_streams;
	int max_line;
	int idle_timeout;	/* seconds of capture time */
	size_t flow_user_size;
	ws_line_fn on_line;
	ws_udp_fn on_udp;	/* NULL: UDP is not looked at */
	void *arg;
};

enum ws_nids_warn { WS_NW_IP, WS_NW_TCP, WS_NW_UDP, WS_NW_SCAN, WS_NW_OTHER, WS_NW_KINDS };

struct ws_reasm_stats {
	uint64_t streams;		/* streams followed */
	uint64_t pickups;		/* of which picked up mid-stream (no handshake seen) */
	uint64_t lines;			/* complete lines delivered */
	uint64_t udp_datagrams;		/* handed to on_udp */
	uint64_t overlong;		/* lines dropped for exceeding max_line */
	uint64_t partial_dropped;	/* unterminated lines lost at RST/timeout/eviction/end */
	uint64_t evictions;		/* streams pushed out by a full table */
	uint64_t idle_expired;		/* streams ended by our idle timeout */
	uint64_t no_mem;		/* allocation failures (libnids or ours) */
	uint64_t nids_warn[WS_NW_KINDS];
};

/* 0, or -1 with err set. */
int ws_reasm_init(const struct ws_reasm_params *p, char *err, size_t errlen);
/* One IPv4 packet as captured (caplen bytes from the IP header on). */
void ws_reasm_feed(const struct timeval *ts, const uint8_t *ip, size_t caplen);
/* End every stream idle longer than idle_timeout at capture time now. */
void ws_reasm_sweep(const struct timeval *now);
/* End of capture: drop pending partial lines (counted) and free everything. */
void ws_reasm_finish(void);
const struct ws_reasm_stats *ws_reasm_stats(void);
size_t ws_reasm_active_streams(void);

#endif
