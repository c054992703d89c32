/*
 * Packet selection: one table, two outputs. The encapsulation limits and
 * the IPv4 rules below give both the kernel BPF text of a live capture (one
 * pcap-filter alternative per encapsulation, see capture.c for why they are
 * compiled apart) and the selection in C that decides in both modes.
 *
 * The C side is never looser than the kernel program: every packet it keeps
 * passes the BPF text too (same tags, same labels, same rules, and it also
 * insists on a sane IPv4 header), so what the kernel lets through and C
 * then keeps is exactly what C keeps from the same frames in a file.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "base.h"
#include "capture.h"
#include "link.h"

/*
 * Encapsulations: up to MAX_VLAN tags (TPIDs as libpcap's "vlan" keyword
 * knows them: 802.1Q, 802.1ad QinQ, the old 0x9100), then up to MAX_MPLS
 * unicast labels, then IPv4. Only Ethernet has them: libpcap compiles
 * "vlan" and "mpls" for no other link type we read.
 */
#define MAX_VLAN 2
#define MAX_MPLS 3

const uint16_t ws_vlan_tpids[3] = {0x8100, 0x88a8, 0x9100};

/* Link types read, as written in files (LINKTYPE_*), and their DLT. */
static const struct {
	uint32_t linktype;
	int dlt;
} links[] = {
	{0, DLT_NULL}, {1, DLT_EN10MB}, {101, DLT_RAW}, {108, DLT_LOOP},
	{113, DLT_LINUX_SLL}, {228, DLT_IPV4}, {276, DLT_LINUX_SLL2},
};

#define NLINKS (sizeof(links) / sizeof(links[0]))

bool ws_link_supported(int dlt)
{
	for (size_t i = 0; i < NLINKS; i++)
		if (links[i].dlt == dlt)
			return true;
	return false;
}

int ws_link_dlt(uint32_t linktype)
{
	for (size_t i = 0; i < NLINKS; i++)
		if (links[i].linktype == linktype)
			return links[i].dlt;
	return -1;
}

/* IPv4 rules: a packet is selected when one of them matches. */
enum rule_kind {
	R_NONFIRST_FRAGMENT,	/* its ports are in the first fragment, which defragmentation needs */
	R_TCP,			/* shells on any port (issue 11) */
	R_UDP_PORT,		/* to or from the TFTP server port */
	R_UDP_TFTP_SHAPED,	/* DATA, ACK, ERROR, OACK between two ephemeral ports */
};

static const struct rule {
	enum rule_kind kind;
	bool tftp_only;
	const char *bpf;	/* %u: the TFTP port */
} rules[] = {
	{R_NONFIRST_FRAGMENT, false, "ip[6:2] & 0x1fff != 0"},
	{R_TCP, false, "ip proto 6"},
	{R_UDP_PORT, true, "udp port %u"},
	{R_UDP_TFTP_SHAPED, true, "(udp[8:2] >= 3 and udp[8:2] <= 6)"},
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

static bool encapsulates(int dlt)
{
	return dlt == DLT_EN10MB;
}

static bool is_vlan_tpid(uint16_t type)
{
	for (size_t i = 0; i < WS_VLAN_TPIDS; i++)
		if (type == ws_vlan_tpids[i])
			return true;
	return false;
}

/* Past the tags and labels after an Ethernet type field; false if not IPv4 within the limits. */
static bool skip_encapsulation(struct ws_cursor *c, uint16_t type)
{
	for (int tags = 0; is_vlan_tpid(type); tags++) {
		if (tags == MAX_VLAN)
			return false;
		ws_cur_skip(c, 2);	/* TCI */
		type = ws_cur_be16(c);
	}
	if (type == WS_ETH_MPLS) {
		for (int labels = 0;; labels++) {
			uint8_t bottom;

			if (labels == MAX_MPLS)
				return false;
			ws_cur_skip(c, 2);
			bottom = ws_cur_u8(c) & 1;
			ws_cur_skip(c, 1);
			if (bottom)
				break;
		}
		type = WS_ETH_IPV4;	/* decided by the version nibble, as libpcap's "mpls and ip" */
	}
	return !c->err && type == WS_ETH_IPV4;
}

/* The address family of DLT_NULL (host order of the capturing machine) or DLT_LOOP. */
static bool null_is_ipv4(int dlt, struct ws_cursor *c)
{
	uint32_t le = ws_cur_le32(c), af;

	if (c->err)
		return false;
	if (dlt == DLT_LOOP)
		af = __builtin_bswap32(le);
	else
		af = le > 0xffff ? __builtin_bswap32(le) : le;
	return af == 2;		/* AF_INET is 2 on every BSD and Linux */
}

static bool strip_l2(int dlt, struct ws_cursor *c)
{
	uint16_t type;

	switch (dlt) {
	case DLT_EN10MB:
		ws_cur_skip(c, 12);
		type = ws_cur_be16(c);
		return !c->err && skip_encapsulation(c, type);
	case DLT_LINUX_SLL:	/* 16-byte cooked header, protocol last */
		ws_cur_skip(c, 14);
		return ws_cur_be16(c) == WS_ETH_IPV4 && !c->err;
	case DLT_LINUX_SLL2:	/* 20-byte cooked header, protocol first */
		type = ws_cur_be16(c);
		ws_cur_skip(c, 18);
		return type == WS_ETH_IPV4 && !c->err;
	case DLT_NULL:
	case DLT_LOOP:
		return null_is_ipv4(dlt, c);
	case DLT_RAW:
	case DLT_IPV4:
		return true;
	default:
		return false;
	}
}

long ws_l2_ipv4_offset(int dlt, const uint8_t *frame, size_t caplen)
{
	struct ws_cursor c = ws_cursor(frame, caplen);
	size_t off;
	uint8_t vihl;

	if (!strip_l2(dlt, &c))
		return -1;
	off = caplen - c.left;
	vihl = ws_cur_u8(&c);
	if (c.err || (vihl >> 4) != 4 || c.left < 19)
		return -1;
	return (long)off;
}

/* First 4 bytes of the transport header: ports, or for UDP the rest too. */
static bool rule_matches(const struct rule *r, uint16_t frag, uint8_t proto,
			 struct ws_cursor l4, uint16_t tftp_port)
{
	uint16_t sport, dport, opcode;

	switch (r->kind) {
	case R_NONFIRST_FRAGMENT:
		return (frag & 0x1fff) != 0;
	case R_TCP:
		return proto == 6;
	case R_UDP_PORT:
		sport = ws_cur_be16(&l4);
		dport = ws_cur_be16(&l4);
		return proto == 17 && !l4.err && (sport == tftp_port || dport == tftp_port);
	case R_UDP_TFTP_SHAPED:
		ws_cur_skip(&l4, 8);
		opcode = ws_cur_be16(&l4);
		return proto == 17 && !l4.err && opcode >= 3 && opcode <= 6;
	}
	return false;
}

bool ws_select_ipv4(const uint8_t *ip, size_t len, bool tftp, uint16_t tftp_port)
{
	struct ws_cursor c = ws_cursor(ip, len);
	uint8_t vihl = ws_cur_u8(&c);
	size_t ihl = (size_t)(vihl & 15) * 4;
	uint16_t frag;
	uint8_t proto;

	ws_cur_skip(&c, 5);
	frag = ws_cur_be16(&c);
	ws_cur_skip(&c, 1);
	proto = ws_cur_u8(&c);
	if (c.err || (vihl >> 4) != 4 || ihl < 20 || ihl > len)
		return false;
	c = ws_cursor(ip + ihl, len - ihl);
	for (size_t i = 0; i < NRULES; i++) {
		if (rules[i].tftp_only && !tftp)
			continue;
		if (rule_matches(&rules[i], frag, proto, c, tftp_port))
			return true;
	}
	return false;
}

size_t ws_select_alternatives(int dlt)
{
	return encapsulates(dlt) ? (MAX_VLAN + 1) * (MAX_MPLS + 1) : 1;
}

static bool append(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= cap)
		return false;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return true;
}

int ws_select_bpf_text(int dlt, size_t alt, bool tftp, uint16_t tftp_port, char *buf,
		       size_t cap)
{
	size_t vlans = alt / (MAX_MPLS + 1), labels = alt % (MAX_MPLS + 1), len = 0;
	bool ok = cap > 0, first = true;
	char rule[128];

	if (alt >= ws_select_alternatives(dlt))
		return -1;
	if (ok)
		buf[0] = '\0';
	for (size_t i = 0; i < vlans; i++)
		ok = ok && append(buf, cap, &len, "vlan and ");
	for (size_t i = 0; i < labels; i++)
		ok = ok && append(buf, cap, &len, "mpls and ");
	ok = ok && append(buf, cap, &len, "ip and (");
	for (size_t i = 0; i < NRULES; i++) {
		if (rules[i].tftp_only && !tftp)
			continue;
		snprintf(rule, sizeof(rule), rules[i].bpf, tftp_port);
		ok = ok && append(buf, cap, &len, first ? "" : " or ");
		ok = ok && append(buf, cap, &len, rule);
		first = false;
	}
	ok = ok && append(buf, cap, &len, ")");
	return ok ? 0 : -1;
}
