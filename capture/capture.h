/*
 * capture/ — the whole interface: packets in, bare IPv4 packets out.
 *
 * We own the libpcap handles (live, or one or more savefiles read as one
 * capture in timestamp order), a fast savefile reader with libpcap as the
 * fallback, layer-2 stripping, the packet selection and the user's filter.
 * the reassembler only ever sees IPv4.
 *
 * Packet selection has one source of truth, the table in capture/select.c:
 * layer-2 encapsulations (VLAN depth, QinQ, MPLS labels) and IPv4 rules (all
 * TCP, non-first fragments, UDP to the TFTP port and TFTP-shaped UDP). From
 * it come both the kernel BPF program of a live capture and the selection in
 * C; the C selection runs in both modes and decides, the kernel program is
 * only its superset, so live and offline hand on the same packets.
 *
 * capture.filter (the user's extra filter) is a pcap-filter(7) expression
 * applied to the IPv4 packet after layer 2 is stripped, in both modes: it is
 * compiled for DLT_RAW and run with pcap_offline_filter on selected packets,
 * so "host 10.0.0.5" also matches VLAN- and MPLS-tagged traffic, and
 * link-layer keywords (ether, vlan, mpls) are refused when it is compiled.
 */
#ifndef WS_CAPTURE_H
#define WS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

struct ws_config;
struct ws_capture;

struct ws_capture_stats {
	uint64_t packets, bytes;	/* frames read (bytes on the wire) */
	uint64_t non_ip;		/* frames we could not map to IPv4 */
	uint64_t truncated;		/* caplen < IP total length */
	uint64_t time_bounded;		/* a time outside ws_time_bound's range, moved into it */
	uint64_t selected;		/* passed the selection */
	uint64_t user_filtered;		/* selected, then refused by capture.filter */
	uint64_t files, fallback_files;	/* savefiles opened, of which read by libpcap */
	uint64_t kernel_recv, kernel_drop, iface_drop;	/* pcap_stats, live only */
};

/* Called with the IPv4 header at ip, caplen bytes of it (up to its total length). */
typedef void (*ws_ip_handler)(void *arg, const struct timeval *ts, const uint8_t *ip,
			      size_t caplen);

/* One savefile (pcap or pcapng). */
struct ws_capture *ws_capture_open_file(const char *path, char *err, size_t errlen);
/*
 * Several savefiles, or directories (each expands to its regular files not
 * starting with '.', sorted by name), read as one capture: packets come in
 * timestamp order across files (a k-way merge; equal timestamps keep the
 * order of the paths), so a stream continues from one file into the next.
 */
struct ws_capture *ws_capture_open_files(const char *const *paths, size_t n, char *err,
					 size_t errlen);
/* Live on iface, the whole traffic in this process. */
struct ws_capture *ws_capture_open_live(const char *iface, const struct ws_config *cfg,
					char *err, size_t errlen);
/*
 * Live on iface as one of nworkers members of PACKET_FANOUT group
 * *fanout_group (1..65535, unique per network namespace; every member opens
 * the same iface with the same group and nworkers). The first member may
 * pass 0: the kernel then picks an id no other group uses and it is
 * returned in *fanout_group for the others. The kernel hands each
 * frame to member hash % nworkers, the hash being symmetric in the IPv4
 * source and destination addresses (outermost VLAN tag in metadata, one
 * more 802.1Q/QinQ tag and MPLS labels skipped), so both directions of a
 * session and every other flow between the same two hosts (a TFTP or FTP
 * transfer) reach the same member. Frames without IPv4 go to member 0.
 */
struct ws_capture *ws_capture_open_live_fanout(const char *iface, const struct ws_config *cfg,
					       unsigned *fanout_group, unsigned nworkers,
					       char *err, size_t errlen);
/* Fanout members to open: configured, or 0 for the number of online CPUs (at most 8). */
unsigned ws_capture_workers(unsigned configured);

/*
 * The selection (see above; TFTP rules only with tftp) and capture.filter.
 * Live, also the kernel program. 0, or -1 with err set (a bad filter).
 */
int ws_capture_set_filter(struct ws_capture *c, const struct ws_config *cfg, bool tftp,
			  char *err, size_t errlen);
/* The kernel filter's pcap-filter text, one alternative per encapsulation ("" offline). */
const char *ws_capture_filter_text(const struct ws_capture *c);
/*
 * Offline with stderr a terminal: a progress line on stderr about twice a
 * second (bytes, packets/s, events, time left); *events is read for the
 * events count (NULL: not shown). Nothing when stderr is not a TTY.
 */
void ws_capture_set_progress(struct ws_capture *c, const uint64_t *events);
/*
 * Process up to one batch of packets. Returns >0 packets handled, 0 on live
 * timeout, -1 end of capture, -2 error (err set), -3 broken out.
 */
int ws_capture_dispatch(struct ws_capture *c, ws_ip_handler h, void *arg, char *err,
			size_t errlen);
/* Async-signal-safe. */
void ws_capture_breakloop(struct ws_capture *c);
void ws_capture_stats(struct ws_capture *c, struct ws_capture_stats *st);
bool ws_capture_is_live(const struct ws_capture *c);
void ws_capture_close(struct ws_capture *c);

/* ------------------------------------------------- pure parts (tested alone) */

/*
 * Offset of the IPv4 header in a frame of the given DLT, within the
 * encapsulations of the selection table, or -1 when the frame carries no
 * IPv4 (or is too short to tell).
 */
long ws_l2_ipv4_offset(int dlt, const uint8_t *frame, size_t caplen);

/* Does the selection keep this IPv4 packet (len bytes from its header)? */
bool ws_select_ipv4(const uint8_t *ip, size_t len, bool tftp, uint16_t tftp_port);

/*
 * The kernel program's pcap-filter text for one encapsulation alternative
 * (0 .. ws_select_alternatives(dlt) - 1) into buf. 0, or -1 if it does not
 * fit.
 */
size_t ws_select_alternatives(int dlt);
int ws_select_bpf_text(int dlt, size_t alt, bool tftp, uint16_t tftp_port, char *buf,
		       size_t cap);

/* ------------------------------------------------------- savefile reader */

/* A packet header as libpcap gives it with microsecond precision. */
struct ws_pkthdr {
	struct timeval ts;
	uint32_t caplen, len;
};

/*
 * One savefile, read with large read()s and records parsed in place when it
 * is classic pcap (either byte order, micro- or nanosecond magic, version
 * 2.4) or pcapng (EPB, SPB, OPB; decimal if_tsresol up to ns; other blocks
 * skipped) on a regular file; anything the fast path does not fully
 * understand (a record bigger than the snapshot length, a truncated last
 * record, a second link type, binary resolutions, ...) is handed to libpcap,
 * which reopens the file and skips the packets already delivered, so the
 * packets and errors are always libpcap's.
 */
struct ws_reader;

/* 0, or -1 with err "PATH: what failed: why". */
int ws_reader_open(const char *path, struct ws_reader **out, char *err, size_t errlen);
/* 1 with *h and *data (valid until the next call), 0 at the end, -1 error (err set). */
int ws_reader_next(struct ws_reader *r, struct ws_pkthdr *h, const uint8_t **data, char *err,
		   size_t errlen);
int ws_reader_datalink(const struct ws_reader *r);
/* Still on the fast path (false once libpcap took over, or from the start). */
bool ws_reader_fast(const struct ws_reader *r);
/* Bytes of the file consumed so far, and its size (0 if unknown). */
uint64_t ws_reader_offset(const struct ws_reader *r);
uint64_t ws_reader_size(const struct ws_reader *r);
void ws_reader_close(struct ws_reader *r);

#endif
