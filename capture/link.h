/*
 * Private to capture/ (not its interface: only the files of capture/ include it):
 * the link layers wormsnare reads, named once for the readers (libpcap's
 * and the fast savefile path), the frame selector and the fanout program.
 */
#ifndef WS_CAPTURE_LINK_H
#define WS_CAPTURE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pcap/dlt.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif

#define WS_ETH_IPV4 0x0800
#define WS_ETH_MPLS 0x8847	/* MPLS unicast */

/* TPIDs of a VLAN tag as libpcap's "vlan" keyword knows them: 802.1Q, 802.1ad QinQ, the old 0x9100. */
extern const uint16_t ws_vlan_tpids[3];
#define WS_VLAN_TPIDS (sizeof(ws_vlan_tpids) / sizeof(ws_vlan_tpids[0]))

/* A DLT whose frames the selector can strip to IPv4. */
bool ws_link_supported(int dlt);

/* The DLT of a link type as savefiles write it (LINKTYPE_*), -1 when not read. */
int ws_link_dlt(uint32_t linktype);

#endif
