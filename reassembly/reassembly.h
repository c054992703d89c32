/*
 * reassembly/ — the whole interface: IPv4 packets in, the bytes each end of
 * a TCP connection accepted out, as the target host (Windows XP/2000 by
 * default) would have accepted them. reassembly/README.md documents every
 * rule with its source.
 *
 *  - engine.c: one reassembler per process (global state): checksums, the
 *    monotonic capture clock, TCP state as the receiver keeps it, screening
 *    table, followed streams (LRU, shell streams protected), SYN cache,
 *    closed-connection memory, expectations, delivery;
 *  - normalize.c: the per-direction receive queue and the TCP overlap
 *    policy (pure, unit-tested);
 *  - defrag.c: bounded IPv4 defragmentation with the fragment overlap
 *    policy (pure, unit-tested).
 *
 * libnids is no longer used: its TCP layer resolves overlaps as Linux 2.0,
 * cannot be told the receiver's window, and costs a 4 KiB buffer per
 * collecting half-stream (add2buf), over the per-stream budget.
 */
#ifndef WS_REASSEMBLY_H
#define WS_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "base.h"

/* Addresses in network byte order, ports in host byte order (client -> server). */
struct ws_flow_key {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

/* ------------------------------------------------------------ policies */

/* How the target host resolves overlapping TCP segments and IP fragments. */
enum ws_policy { WS_POL_WINDOWS, WS_POL_LINUX, WS_POL_BSD, WS_POL_FIRST, WS_POL_LAST,
		 WS_POLICIES };

enum ws_checksums { WS_CSUM_AUTO, WS_CSUM_ON, WS_CSUM_OFF };

const char *ws_policy_name(enum ws_policy p);
int ws_policy_parse(const char *s, enum ws_policy *out);	/* 0 or -1 */

/* --------------------------------------------------------- flows, sides */

/* enum ws_side (WS_SIDE_CLIENT, WS_SIDE_SERVER) is in base.h. */

enum ws_close_reason { WS_CLOSE_FIN, WS_CLOSE_RST, WS_CLOSE_IDLE, WS_CLOSE_EVICTED,
		       WS_CLOSE_END };

/*
 * A followed TCP connection as callbacks see it. The client is the side
 * that sent the SYN; on a connection picked up mid-stream, the side talking
 * to a watched or forced port, else to the lower port. user belongs to the
 * upper layer (NULL until it sets it; free it in on_close).
 */
struct ws_flow_info {
	struct ws_endpoint client, server;
	void *user;
	bool shell;		/* protected: ws_reasm_protect or FOLLOW_SHELL */
};

enum ws_screen_verdict { WS_SCREEN_UNDECIDED, WS_SCREEN_IGNORE, WS_SCREEN_FOLLOW,
			 WS_SCREEN_FOLLOW_SHELL };

/* In-order bytes one side sent and the other accepted. */
typedef void (*ws_data_fn)(void *arg, struct ws_flow_info *flow, enum ws_side from,
			   const uint8_t *data, size_t len, const struct timeval *ts);
typedef void (*ws_close_fn)(void *arg, struct ws_flow_info *flow, enum ws_close_reason why);
/*
 * Side `from` has a hole here: the receiver ACKed bytes the capture never
 * had (README "Gaps"), or bytes past the screening window were not kept.
 * The next bytes delivered do not continue the ones before (a line across
 * the hole is not what the receiver read).
 */
typedef void (*ws_gap_fn)(void *arg, struct ws_flow_info *flow, enum ws_side from,
			  const struct timeval *ts);
/* All bytes side `from` sent so far (at most WS_SCREEN_BYTES). */
typedef enum ws_screen_verdict (*ws_screen_fn)(void *arg, const struct ws_flow_info *flow,
					       enum ws_side from, const uint8_t *bytes,
					       size_t len);
/*
 * Someone tried something the normalizer resolved (kind: "tcp-overlap",
 * "ip-fragment-overlap"); detail is printable ASCII. flow may be NULL
 * (fragments: then the addresses are in detail).
 */
typedef void (*ws_warn_fn)(void *arg, const char *kind, const char *detail,
			   const struct ws_flow_info *flow, const struct timeval *ts);

/*
 * A complete client->server line (LF removed, a CR before it kept for the
 * matcher to drop). flow_user is the stream's zeroed scratch area of
 * params.flow_user_size bytes (allocated at the stream's first line); ts is
 * the capture time of the packet that completed the line.
 */
typedef void (*ws_line_fn)(void *arg, const struct ws_flow_key *key, void *flow_user,
			   const char *line, size_t len, const struct timeval *ts);

/* A UDP datagram after IP reassembly (payload only, bounded by the UDP length). */
typedef void (*ws_udp_fn)(void *arg, const struct ws_flow_key *key, const uint8_t *payload,
			  size_t len, const struct timeval *ts);

#define WS_SCREEN_BYTES 256

struct ws_reasm_params {
	const uint16_t *ports;	/* watched: followed whatever the content */
	size_t nports;
	int max_streams;	/* followed streams at once */
	int max_line;
	int idle_timeout;	/* seconds of capture time */
	size_t flow_user_size;
	ws_line_fn on_line;	/* NULL: no line assembly */
	ws_udp_fn on_udp;	/* NULL: UDP is not looked at */
	/* new API (all optional) */
	ws_data_fn on_data;
	ws_close_fn on_close;
	ws_gap_fn on_gap;	/* NULL: holes are not reported (on_line still drops the line) */
	ws_screen_fn screen;	/* NULL: only watched ports are followed */
	ws_warn_fn on_warn;
	enum ws_policy target;	/* zero: windows */
	enum ws_checksums checksums;	/* zero: auto */
	int screen_flows;	/* 0: 32768 */
	void *arg;
};

/* Packets set aside before reassembly, by reason. */
enum ws_drop {
	WS_DROP_BAD_CHECKSUM,	/* validation on: the victim drops it */
	WS_DROP_OUT_OF_WINDOW,	/* seq (or RST/SYN) outside the receiver's window */
	WS_DROP_NO_ACK,		/* data or FIN without the ACK flag in a synchronized state */
	WS_DROP_BAD_ACK,	/* acknowledges data never sent (kept weak, see README) */
	WS_DROP_TTL,		/* TTL inconsistent with its direction (kept weak) */
	WS_DROP_AFTER_FIN,	/* bytes past the sender's FIN */
	WS_DROP_REPLAYED,	/* on a closed 4-tuple, no new SYN */
	WS_DROP_QUEUE_FULL,	/* out-of-order data beyond the queue bounds */
	WS_DROP_MALFORMED,	/* headers that do not parse, truncated packets */
	WS_DROP_FRAGMENT,	/* fragments given up (bounds, inconsistent ends) */
	WS_DROP_KINDS
};
const char *ws_drop_name(enum ws_drop d);

enum ws_nids_warn { WS_NW_IP, WS_NW_TCP, WS_NW_UDP, WS_NW_SCAN, WS_NW_OTHER, WS_NW_KINDS };

struct ws_reasm_stats {
	uint64_t streams;		/* streams followed */
	uint64_t pickups;		/* of which picked up mid-stream (no handshake seen) */
	uint64_t lines;			/* complete lines delivered */
	uint64_t udp_datagrams;		/* handed to on_udp */
	uint64_t overlong;		/* lines dropped for exceeding max_line */
	uint64_t partial_dropped;	/* unterminated lines lost at RST/timeout/eviction/end */
	uint64_t evictions;		/* streams pushed out by a full table (LRU, unprotected) */
	uint64_t idle_expired;		/* streams ended by our idle timeout */
	uint64_t no_mem;		/* allocation failures */
	uint64_t nids_warn[WS_NW_KINDS];	/* kept for the sensor's stats line: malformed IP/TCP */
	/* normalizer */
	uint64_t dropped[WS_DROP_KINDS];
	uint64_t weak_released;		/* weak bytes delivered: ACKed, or no better copy came */
	uint64_t weak_replaced;		/* weak bytes a consistent copy replaced */
	uint64_t tcp_overlaps, tcp_conflicts;	/* overlapping / differing queued bytes (segments) */
	uint64_t frag_overlaps, frag_conflicts;
	uint64_t frag_datagrams, frag_timeouts, frag_evicted;
	uint64_t gaps;			/* holes the receiver ACKed that we never saw (skipped) */
	uint64_t rst_closed, syn_reset;	/* in-window RST / SYN that ended a connection */
	uint64_t clock_future, clock_past, clock_jumps;	/* packets off the clock; accepted jumps */
	bool checksums_on;		/* validation in force now */
	bool checksum_offload;		/* auto mode saw offload and turned validation off */
	uint64_t checksum_sampled, checksum_sample_bad;
	/* screening and tables */
	uint64_t screened, screen_promoted, screen_ignored, screen_evicted;
	uint64_t ignored_replaced;	/* ignored flows forgotten for room (screened again if seen) */
	uint64_t ignored_resized;	/* the ignored set moved to a new table (doubled, or compacted) */
	uint32_t ignored_slots;		/* the ignored set's size now */
	uint64_t refused;		/* promotions refused: table full of shell streams */
	uint64_t protected_streams;
	uint64_t expect_added, expect_hit, expect_full, expect_expired;
	uint64_t closed_remembered;
	uint64_t syn_cached;
	size_t queue_bytes;		/* out-of-order bytes allocated now */
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
size_t ws_reasm_screening_flows(void);
/*
 * The engine's capture clock: the time of the packet being handled (the
 * last one between packets), after the clock rules. A packet the engine
 * holds back (checksum sampling) is handled later at its own time, so
 * callbacks that get no time use this, not the newest packet read.
 */
const struct timeval *ws_reasm_clock(void);
/* The normalizer's counters as one line of text (no newline); returns its length. */
size_t ws_reasm_stats_text(char *buf, size_t cap);

/* Shell evidence found by the upper layer: the stream is never evicted by one without. */
void ws_reasm_protect(struct ws_flow_info *flow);
/*
 * Follow the next connection from client (NULL: any address) to server
 * from its SYN, whatever its content, for ttl seconds of capture time.
 * 0, or -1 when the table (256) is full (counted).
 */
int ws_reasm_expect(const struct ws_addr *client, const struct ws_endpoint *server, int ttl);
/* From now on, follow every connection to this server port at once. */
void ws_reasm_follow_port(uint16_t port);

/* --------------------------------------------- pure parts, for tests */

#define WS_RXQ_SEGS 16

struct ws_rxq_seg {
	uint32_t start, end;	/* the segment as it arrived */
	struct timeval ts;
	uint8_t doubt;		/* 0 accepted; 1 bad checksum, validation off; 2 suspicious */
	bool live;
};

/* The out-of-order bytes of one direction, from base (the next expected byte). */
struct ws_rxq {
	uint32_t base, cap, used;
	uint8_t *data, *owner;
	struct ws_rxq_seg seg[WS_RXQ_SEGS];
};

struct ws_rxq_result {
	uint32_t overlap, conflict, new_won, cut, weak_replaced;
};

bool ws_tcp_new_wins(enum ws_policy p, uint32_t old_start, uint32_t old_end, uint8_t old_doubt,
		     uint32_t new_start, uint32_t new_end, uint8_t new_doubt);
void ws_rxq_init(struct ws_rxq *q, uint32_t base);
void ws_rxq_free(struct ws_rxq *q);
int ws_rxq_insert(struct ws_rxq *q, enum ws_policy pol, uint32_t seq, const uint8_t *data,
		  uint32_t len, uint8_t doubt, const struct timeval *ts, uint32_t max_cap,
		  struct ws_rxq_result *r);
uint32_t ws_rxq_front(const struct ws_rxq *q, const uint8_t **p, uint8_t *doubt,
		      struct timeval *ts);
void ws_rxq_advance(struct ws_rxq *q, uint32_t n);
uint32_t ws_rxq_first(const struct ws_rxq *q);
uint32_t ws_rxq_contiguous(const struct ws_rxq *q);

struct ws_defrag_params {
	size_t max_datagrams, max_bytes;
	int timeout;		/* seconds */
	enum ws_policy policy;
};
struct ws_defrag_stats {
	uint64_t datagrams, timeouts, evicted, malformed, overlaps, conflicts;
};
struct ws_defrag_note {
	uint32_t overlap, conflict, new_won;
};
enum ws_defrag_rc { WS_DF_HELD, WS_DF_DONE, WS_DF_DROP };
struct ws_defrag;

bool ws_frag_new_wins(enum ws_policy p, unsigned old_start, unsigned old_end, unsigned new_start,
		      unsigned new_end);
struct ws_defrag *ws_defrag_new(const struct ws_defrag_params *p);
void ws_defrag_free(struct ws_defrag *d);
enum ws_defrag_rc ws_defrag_add(struct ws_defrag *d, const uint8_t *ip, size_t ihl, size_t iplen,
				time_t now, const uint8_t **out, size_t *outlen,
				struct ws_defrag_note *note);
void ws_defrag_sweep(struct ws_defrag *d, time_t now);
const struct ws_defrag_stats *ws_defrag_stats(const struct ws_defrag *d);
size_t ws_defrag_pending(const struct ws_defrag *d);

#endif
