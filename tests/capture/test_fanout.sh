#!/usr/bin/env bash
# Live capture on every core, the capture side: two members of one
# PACKET_FANOUT group (two processes of tests/capture/fanout_member) on one
# end of a veth pair in network namespaces this test creates (no address,
# no route: nothing leaves them), while tcpreplay sends traffic between 16
# host pairs in both directions: TCP, TFTP-shaped UDP and fragments, some
# behind an 802.1Q tag, a QinQ pair or an MPLS label (all selected). Every pair's packets,
# both directions, must all land on one member, both members must get
# traffic, and together they must see every packet sent.
#
#   test_fanout.sh FANOUT_MEMBER SOURCE_ROOT
set -u
member=$(realpath "$1")
/usr/bin/python3 -c 'import scapy' 2>/dev/null || { echo "SKIP: python3-scapy missing"; exit 77; }
. "$(dirname "$0")/netns.sh" wsf

/usr/bin/python3 - "$work/pairs.pcap" <<'PY' || fail "cannot generate the capture"
import sys
from scapy.all import IP, TCP, UDP, Dot1Q, Ether, Raw, fragment, wrpcap
from scapy.contrib.mpls import MPLS
pkts = []
for i in range(16):
    a, b = "10.1.%d.%d" % (i, 10 + i), "172.16.%d.%d" % (i * 7 % 256, 200 - i)
    def l2(p, i=i):
        e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        if i % 4 == 1:
            return e / Dot1Q(vlan=100) / p
        if i % 4 == 2:
            return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88a8) / \
                Dot1Q(vlan=200, type=0x8100) / Dot1Q(vlan=100) / p
        if i % 4 == 3:
            return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x8847) / \
                MPLS(label=16 + i, s=1) / p
        return e / p
    for k in range(6):
        pkts.append(l2(IP(src=a, dst=b) / TCP(sport=1024 + i, dport=4444, flags="PA") / Raw(b"dir\r\n")))
        pkts.append(l2(IP(src=b, dst=a) / TCP(sport=4444, dport=1024 + i, flags="A")))
    pkts.append(l2(IP(src=b, dst=a) / UDP(sport=3000 + i, dport=2000 + i) / Raw(b"\x00\x03\x00\x01" + b"x" * 64)))
    for f in fragment(IP(src=a, dst=b, id=7 + i) / UDP(sport=1069, dport=69) / Raw(b"y" * 3000), fragsize=1000):
        pkts.append(l2(f))
wrpcap(sys.argv[1], pkts)
PY
sent=$(/usr/bin/python3 -c 'import sys; from scapy.all import rdpcap; print(len(rdpcap(sys.argv[1])))' "$work/pairs.pcap")

group=$((RANDOM % 60000 + 1000))
for m in 0 1; do
	ip netns exec "$nsb" "$member" "${tag}1" "$group" 2 >"$work/m$m.out" 2>"$work/m$m.err" &
	pids="$pids $!"
done
for _ in $(seq 50); do
	grep -q ready "$work/m0.err" && grep -q ready "$work/m1.err" && break
	sleep 0.1
done
grep -q ready "$work/m0.err" && grep -q ready "$work/m1.err" ||
	{ cat "$work"/m*.err; fail "members did not start"; exit 1; }
ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$work/pairs.pcap" >/dev/null 2>&1 || fail "tcpreplay failed"
sleep 1
for p in $pids; do kill -TERM "$p"; wait "$p" || fail "a member exited with status $?"; done
pids=""

# unordered pair -> members that saw it
pairs() { awk '{ print ($1 < $2 ? $1 " " $2 : $2 " " $1) }' "$1" | sort -u; }
pairs "$work/m0.out" >"$work/p0"
pairs "$work/m1.out" >"$work/p1"
n0=$(wc -l <"$work/p0")
n1=$(wc -l <"$work/p1")
both=$(comm -12 "$work/p0" "$work/p1" | wc -l)
got=$(($(wc -l <"$work/m0.out") + $(wc -l <"$work/m1.out")))
echo "member 0: $n0 pairs, $(wc -l <"$work/m0.out") packets; member 1: $n1 pairs, $(wc -l <"$work/m1.out") packets; sent $sent"
[ "$both" = 0 ] || { fail "$both pairs were split between the members:"; comm -12 "$work/p0" "$work/p1"; }
[ "$n0" -gt 0 ] && [ "$n1" -gt 0 ] || fail "one member got no traffic"
[ $((n0 + n1)) = 16 ] || fail "$((n0 + n1)) of 16 pairs seen"
[ "$got" = "$sent" ] || fail "the members saw $got packets of $sent"
[ "$failed" = 0 ] && echo "fanout: ok"
exit "$failed"
