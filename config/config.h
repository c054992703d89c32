/*
 * config/ — the whole interface: wormsnare's settings and their YAML loader.
 *
 * The YAML file is untrusted input: every key is known, every value has a
 * type and a range, and any mistake is reported as "FILE:LINE:COL: KEY: why".
 */
#ifndef WS_CONFIG_H
#define WS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WS_CFG_MAX_PORTS 64
#define WS_CFG_MAX_CIDRS 64
#define WS_CFG_PATH_MAX 1024
#define WS_CFG_NAME_MAX 256
#define WS_CFG_FILTER_MAX 1024
#define WS_CFG_USER_MAX 64
#define WS_CFG_HOSTPORT_MAX 128
#define WS_CFG_SYSLOG_TARGET_MAX 128
#define WS_CFG_FACILITY_MAX 16

/* An IPv4 network; both fields in host byte order, addr already masked. */
struct ws_cidr {
	uint32_t addr;
	uint32_t mask;
};

enum ws_server_policy {
	WS_SERVER_COMMAND,		/* the host named in the tftp command */
	WS_SERVER_SOURCE,		/* the connection's source address */
	WS_SERVER_COMMAND_THEN_SOURCE	/* command host, unless private/unusable (NAT) */
};

/* Users the processes run as when started as root (see sensor/sandbox.c). */
#define WS_DEFAULT_SENSOR_USER "_wormsnare"
#define WS_DEFAULT_FETCH_USER "_wormsnare-fetch"

/* A parsed "IPv4:PORT" key: the address in host order; both 0 when the key is "". */
struct ws_cfg_hostport {
	uint32_t addr;
	uint16_t port;
};

struct ws_config {
	uint16_t ports[WS_CFG_MAX_PORTS];	/* watched TCP server ports */
	size_t nports;

	struct {
		char dir[WS_CFG_PATH_MAX];
		char event_log[WS_CFG_NAME_MAX];	/* plain file name, no '/' */
		char fetch_log[WS_CFG_NAME_MAX];	/* plain file name, no '/' */
		bool json;				/* JSON lines on */
		char json_file[WS_CFG_NAME_MAX];	/* plain file name, no '/' */
		struct {
			bool enabled;
			/* "local", "unix:/PATH", "udp:HOST:PORT", "tcp:HOST:PORT" (numeric) */
			char target[WS_CFG_SYSLOG_TARGET_MAX];
			char facility[WS_CFG_FACILITY_MAX];	/* "daemon", "local0", ... */
		} syslog;
	} output;

	struct {
		int snaplen;		/* 64 .. 262144 */
		int buffer_size;	/* bytes, 65536 .. 1 GiB */
		bool promiscuous;
		int timeout_ms;		/* live read timeout, 1 .. 10000 */
		char filter[WS_CFG_FILTER_MAX];	/* pcap-filter on the IPv4 packet; "" = none */
		int workers;		/* live capture processes, 0 .. 64; 0 = the CPUs (at most 8) */
	} capture;

	struct {
		int max_streams;	/* concurrent TCP streams followed, 16 .. 4194304 */
		int idle_timeout;	/* seconds of capture time, 1 .. 86400 */
		int target;		/* 0 windows, 1 linux, 2 bsd, 3 first, 4 last (enum ws_policy) */
		int checksums;		/* 0 auto, 1 on, 2 off (enum ws_checksums) */
		bool screen;		/* look at every TCP connection for a shell or FTP */
		int screen_flows;	/* screening table size, 64 .. 4194304 */
	} reassembly;

	struct {
		char user[WS_CFG_USER_MAX];	/* the capturing process, when run as root */
		bool seccomp;		/* system-call allow-lists on every process */
	} privsep;

	struct {
		bool enabled;		/* live mode; offline replay needs --fetch */
		char user[WS_CFG_USER_MAX];	/* the fetcher, when run as root */
		int timeout;		/* seconds per retransmission, 1 .. 255 */
		int retries;		/* 0 .. 100 */
		int64_t max_size;	/* bytes, 1 .. 4 GiB */
		int blksize;		/* RFC 2348 blksize asked for, 0 = no option, 8 .. 65464 */
		int concurrency;	/* transfers at once, 1 .. 256 */
		int queue_size;		/* waiting requests, 1 .. 65536 */
		enum ws_server_policy server;
		struct ws_cidr allow[WS_CFG_MAX_CIDRS];	/* empty = any */
		size_t nallow;
		struct ws_cidr deny[WS_CFG_MAX_CIDRS];
		size_t ndeny;
		char redirect[WS_CFG_HOSTPORT_MAX];	/* "" or IPv4:PORT */
		struct ws_cfg_hostport redirect_to;	/* parsed, valid when redirect[0] */
		int duplicate_window;	/* seconds, 0 .. 604800; 0 = never duplicate */
		int rate_per_server;	/* fetches a minute from one server, 1 .. 100000 */
		int rate_global;	/* fetches a minute in all, 1 .. 1000000 */
		int ftp_timeout;	/* seconds per FTP fetch, both modes, 1 .. 3600 */
		int ftp_connect_timeout;	/* seconds per FTP connection attempt, 1 .. 255 */
		bool ftp_active_fallback;	/* PORT/EPRT when passive cannot connect */
		char ftp_redirect[WS_CFG_HOSTPORT_MAX];	/* "" or IPv4:PORT, FTP fetches */
		struct ws_cfg_hostport ftp_redirect_to;	/* parsed, valid when ftp_redirect[0] */
	} fetch;

	struct {
		bool enabled;		/* carve TFTP transfers seen on the wire */
		uint16_t port;		/* TFTP server port, 1 .. 65535 (69) */
		int idle_timeout;	/* seconds of capture time, 1 .. 86400 */
		int max_transfers;	/* followed at once, 1 .. 65536 */
		int64_t max_file_size;	/* bytes per transfer, 1 .. 4 GiB */
		int64_t max_total;	/* bytes of all unfinished transfers, 1 .. 64 GiB */
		bool keep_partial;	/* keep incomplete transfers as <name>.partial */
		int correlation_window;	/* seconds between a GET and its transfer, 1 .. 86400 */
		char known_hashes[WS_CFG_PATH_MAX];	/* "" = none */
	} carve;
};

/* Fill cfg with the built-in defaults (equal to config/wormsnare.yaml). */
void ws_config_defaults(struct ws_config *cfg);

/*
 * Load path over the defaults already in cfg. Returns 0, or -1 with a
 * one-line message "PATH:LINE:COL: KEY: reason" (or "PATH: reason") in err.
 * cfg is left unchanged on error.
 */
int ws_config_load(const char *path, struct ws_config *cfg, char *err, size_t errlen);

/* "a.b.c.d/len" or "a.b.c.d"; 0 or -1. */
int ws_cidr_parse(const char *s, struct ws_cidr *out);
/* addr in host byte order. */
bool ws_cidr_match(const struct ws_cidr *list, size_t n, uint32_t addr);
/* "a.b.c.d:port" (port 1..65535); 0 or -1. */
int ws_hostport_parse(const char *s, uint32_t *addr, uint16_t *port);

const char *ws_server_policy_name(enum ws_server_policy p);

/* Every key and its effective value, one "prefix key: value" line each (for -v). */
void ws_config_dump(const struct ws_config *cfg, FILE *to, const char *prefix);

/*
 * Known samples (config/known-hashes.yaml): MD5 or SHA-256 hex -> name.
 * An empty path gives an empty table. 0, or -1 with "PATH:LINE:COL: why".
 */
struct ws_known;
int ws_known_load(const char *path, struct ws_known **out, char *err, size_t errlen);
/* The name of a known sample, or NULL. Either hash may be NULL. */
const char *ws_known_lookup(const struct ws_known *k, const char *md5_hex,
			    const char *sha256_hex);
size_t ws_known_count(const struct ws_known *k);
void ws_known_free(struct ws_known *k);

#endif
