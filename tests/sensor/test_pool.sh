#!/usr/bin/env bash
# Live capture on two cores (issue 14): pcaps/workers-split.pcap replayed
# through a veth pair whose ends sit in namespaces made here (no address, no
# route: nothing leaves them) into `wormsnare -i` with capture.workers 2,
# carving on, fetching off. The capture's four shells fall to both workers
# (pcaps/gen.py computes the fanout hash), and the first GET names a third
# host whose transfer falls to the other worker than its session. Checked:
# the rows are the offline replay's rows, EventIDs 1..8 with none twice,
# every file carved, the third host's one named after its event, every
# packet seen by exactly one worker.
#
#   test_pool.sh WORMSNARE SOURCE_ROOT
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
. "$root/tests/capture/netns.sh" wsp
pcap=$root/pcaps/workers-split.pcap
id nobody >/dev/null 2>&1 || skip "no user nobody"

printf 'capture:\n  workers: 2\n' >"$work/ws.yaml"
ip netns exec "$nsb" "$ws" -i "${tag}1" --no-fetch -c "$work/ws.yaml" -o "$work/out" \
	>"$work/stdout" 2>"$work/stderr" &
wspid=$!
pids=$wspid
# the outputs exist once every worker has its capture open
wait_for 30 test -f "$work/out/blasterlog.txt"
[ -f "$work/out/blasterlog.txt" ] || { cat "$work/stderr"; fail "the sensor did not start"; exit 1; }
sleep 0.5
ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$pcap" >/dev/null 2>&1 || fail "tcpreplay failed"
wait_for 20 rows_are "$work/out/blasterlog.txt" 8
sleep 1	# the last transfers end after the last event
kill -TERM "$wspid"
wait "$wspid"
rc=$?
pids=""
[ "$rc" = 0 ] || fail "exit status $rc"

rows() { tail -n +2 "$1" | cut -f3-9 | sort; }
diff <(rows "$root/pcaps/workers-split.tsv") <(rows "$work/out/blasterlog.txt") >"$work/diff" ||
	{ cat "$work/diff"; fail "the rows differ from the offline replay's"; }
ids=$(tail -n +2 "$work/out/blasterlog.txt" | cut -f1 | sort -n | tr '\n' ' ')
[ "$ids" = "1 2 3 4 5 6 7 8 " ] || fail "EventIDs '$ids', want 1..8 each once"

# every file carved from the wire, stored under the GET's EventID
while IFS=$'\t' read -r fname size md5 sha; do
	id=$(awk -F'\t' -v f="$fname" '$4 == f && $8 == "get" { print $1 }' "$work/out/blasterlog.txt")
	stem=${fname%.exe}
	path=$(awk -F'\t' -v f="$fname" -v m="$md5" '$4 == f && $5 == "ok" && $7 == m && $10 == "wire" { print $9 }' \
		"$work/out/fetchlog.txt")
	[ "$path" = "blast_${stem}_$id.bin" ] || fail "$fname: stored as '$path', want blast_${stem}_$id.bin"
	[ -f "$work/out/$path" ] && [ "$(md5sum <"$work/out/$path" | cut -d' ' -f1)" = "$md5" ] ||
		fail "$fname: $path missing or different"
	awk -F'\t' -v f="$fname" '$4 == f && $1 == '"${id:-0}"'' "$work/out/fetchlog.txt" | grep -q . ||
		fail "$fname: the fetch log row does not carry EventID $id"
done <"$root/pcaps/workers-split.files"

# both workers had traffic, once each: together they saw every packet sent
sent=$(/usr/bin/python3 -c 'import sys; from scapy.all import rdpcap; print(len(rdpcap(sys.argv[1])))' "$pcap" 2>/dev/null)
for k in 1 2; do
	n=$(sed -n "s/.*worker $k\\/2: stopped: packets \\([0-9]*\\),.*/\\1/p" "$work/stderr")
	[ "${n:-0}" -gt 0 ] || fail "worker $k/2 saw no packets"
	eval "got$k=\${n:-0}"
done
[ -n "$sent" ] || fail "cannot count the packets sent (python3-scapy)"
[ $((got1 + got2)) = "${sent:-}" ] || fail "workers saw $got1 + $got2 packets, $sent were sent"
grep -q "notes from other workers [1-9]" "$work/stderr" || fail "no worker received a note"
grep -q "wormsnare: stopped: 2 workers (their lines above), events 8 " "$work/stderr" ||
	fail "the supervisor's stats do not count 8 events"

if [ "$failed" != 0 ]; then
	echo "--- stderr"; cat "$work/stderr"
	echo "--- blasterlog"; cat "$work/out/blasterlog.txt"
	echo "--- fetchlog"; cat "$work/out/fetchlog.txt"
	exit 1
fi
echo "pool: ok (2 workers, $got1 + $got2 packets, 8 events, 4 files under their EventIDs)"
