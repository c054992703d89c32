#!/usr/bin/env bash
# Live and offline select the same packets: pcaps/encapsulations.pcap (six
# sessions: plain, 802.1Q, QinQ, MPLS, 802.1Q + two MPLS labels, and one to
# another victim) is read offline and replayed live over a veth pair whose
# two ends sit in network namespaces this test creates (no address, no
# route: nothing leaves them), with wormsnare --no-fetch in the receiving
# one. For no filter and for capture.filter "host 10.0.0.5" and
# "host 10.0.0.9", the live log must equal the offline log (every column
# but EventID and Time) and hold the number of events planted.
#
#   test_live_select.sh WORMSNARE SOURCE_ROOT
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
pcap=$root/pcaps/encapsulations.pcap
. "$(dirname "$0")/netns.sh" wscl

rows() { tail -n +2 "$1" | cut -f3-10 | LC_ALL=C sort; }

check_case() {	# NAME FILTER WANT_EVENTS
	local name=$1 filter=$2 want=$3 off=$work/$1-off live=$work/$1-live
	printf 'fetch:\n  enabled: false\ncapture:\n  filter: "%s"\n' "$filter" >"$work/$name.yaml"
	"$ws" -r "$pcap" -o "$off" -c "$work/$name.yaml" >/dev/null 2>"$work/$name-off.err" ||
		{ fail "$name: offline run failed"; cat "$work/$name-off.err"; return; }
	mkdir -p "$live"
	ip netns exec "$nsb" "$ws" -i "${tag}1" --no-fetch -o "$live" -c "$work/$name.yaml" \
		>/dev/null 2>"$work/$name-live.err" &
	wspid=$!
	pids=$wspid
	wait_for 30 test -f "$live/blasterlog.txt"
	kill -0 "$wspid" 2>/dev/null || { fail "$name: live sensor did not start"; cat "$work/$name-live.err"; return; }
	ip netns exec "$nsa" tcpreplay -q -t -i "${tag}0" "$pcap" >/dev/null 2>&1 || fail "$name: tcpreplay failed"
	wait_for 20 rows_are "$live/blasterlog.txt" "$want"
	kill -TERM "$wspid"
	wait "$wspid" || fail "$name: live sensor exit status $?"
	pids=
	local n_off n_live
	n_off=$(rows "$off/blasterlog.txt" | wc -l)
	n_live=$(rows "$live/blasterlog.txt" | wc -l)
	[ "$n_off" = "$want" ] || fail "$name: offline logged $n_off events, want $want"
	if ! diff <(rows "$off/blasterlog.txt") <(rows "$live/blasterlog.txt") >"$work/$name.diff"; then
		fail "$name: live ($n_live events) and offline ($n_off events) differ"
		sed 's/^/  /' "$work/$name.diff"
		sed 's/^/  live: /' "$work/$name-live.err"
	else
		echo "ok   $name: live and offline both log $n_live events"
	fi
}

check_case no-filter "" 18
check_case host-victim "host 10.0.0.5" 15
check_case host-other "host 10.0.0.9" 3
# a link-layer keyword makes no sense after layer 2 is stripped: refused clearly
printf 'capture:\n  filter: "vlan 100"\n' >"$work/bad.yaml"
if "$ws" -r "$pcap" -o "$work/bad" -c "$work/bad.yaml" >/dev/null 2>"$work/bad.err"; then
	fail "capture.filter \"vlan 100\" accepted"
elif ! grep -q 'capture.filter: bad filter "vlan 100"' "$work/bad.err"; then
	fail "unclear error for a link-layer filter: $(cat "$work/bad.err")"
fi
[ "$failed" = 0 ] && echo "live-select: ok"
exit "$failed"
