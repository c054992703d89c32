/*
 * Community ID v1, as the spec's pseudo code and its reference script
 * (community-id.py, packet_get_comm_id) lay out the hashed bytes:
 *   seed(2) saddr(4|16) daddr(4|16) proto(1) 0(1) [sport(2) dport(2)]
 * with the endpoints swapped when (daddr, dport) < (saddr, sport), comparing
 * addresses as network-order bytes, then ports. SHA-1 and base64 by nettle.
 */
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>

#include "output.h"

static bool has_ports(uint8_t proto)
{
	/* ICMP 1, TCP 6, UDP 17, ICMPv6 58, SCTP 132 */
	return proto == 1 || proto == 6 || proto == 17 || proto == 58 || proto == 132;
}

/* The spec's is_lt(): smaller address, or same address and smaller port. */
static bool in_order(const struct ws_endpoint *a, const struct ws_endpoint *b, size_t alen)
{
	int c = memcmp(a->addr.a, b->addr.a, alen);

	return c < 0 || (c == 0 && a->port < b->port);
}

static void hash_endpoint_pair(struct sha1_ctx *h, const struct ws_endpoint *lo,
			       const struct ws_endpoint *hi, size_t alen, uint8_t proto)
{
	uint8_t mid[2] = {proto, 0};
	uint8_t ports[4] = {(uint8_t)(lo->port >> 8), (uint8_t)lo->port,
			    (uint8_t)(hi->port >> 8), (uint8_t)hi->port};

	sha1_update(h, alen, lo->addr.a);
	sha1_update(h, alen, hi->addr.a);
	sha1_update(h, sizeof(mid), mid);
	if (has_ports(proto))
		sha1_update(h, sizeof(ports), ports);
}

const char *ws_community_id(char *dst, size_t cap, uint16_t seed, uint8_t proto,
			    const struct ws_endpoint *src, const struct ws_endpoint *dst_ep)
{
	uint8_t seed_nbo[2] = {(uint8_t)(seed >> 8), (uint8_t)seed};
	uint8_t digest[SHA1_DIGEST_SIZE];
	size_t alen = ws_addr_len(&src->addr);
	struct sha1_ctx h;

	if (cap == 0)
		return dst;
	dst[0] = '\0';
	if (alen == 0 || src->addr.family != dst_ep->addr.family ||
	    cap < 2 + BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) + 1)
		return dst;
	sha1_init(&h);
	sha1_update(&h, sizeof(seed_nbo), seed_nbo);
	if (in_order(src, dst_ep, alen))
		hash_endpoint_pair(&h, src, dst_ep, alen, proto);
	else
		hash_endpoint_pair(&h, dst_ep, src, alen, proto);
	sha1_digest(&h, sizeof(digest), digest);
	memcpy(dst, "1:", 2);
	base64_encode_raw(dst + 2, sizeof(digest), digest);
	dst[2 + BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE)] = '\0';
	return dst;
}
