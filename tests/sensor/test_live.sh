#!/usr/bin/env bash
# Live capture, privilege separation and signals, on a veth pair whose two
# ends sit in network namespaces this test creates (no route out: nothing
# can leave them). The sensor runs with fetching ON, redirected to a TFTP
# server on 127.0.0.1 inside its own namespace, so no packet goes anywhere
# else.
#
#   test_live.sh WORMSNARE SOURCE_ROOT
#
# Checks: events from a capture replayed into the veth; the sensor and the
# fetcher both run as the unprivileged user; SIGUSR1 prints stats; SIGHUP
# reopens the logs after they were moved away (logrotate); SIGTERM exits 0
# with final stats; the fetched file lands in the output dir.
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; failed=1; }
failed=0

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, privilege drop)"
command -v ip >/dev/null || skip "iproute2 missing"
command -v tcpreplay >/dev/null || skip "tcpreplay missing"
[ -x /usr/sbin/in.tftpd ] || skip "in.tftpd missing"
id nobody >/dev/null 2>&1 || skip "no user nobody"
pcap=$root/pcaps/blaster-basic.pcap
[ -f "$pcap" ] || skip "no $pcap"

tag=wst$$
nsa=${tag}a
nsb=${tag}b
work=$(mktemp -d /tmp/ws-live-XXXXXX)
chmod 755 "$work"
cleanup() {
	[ -n "${wspid:-}" ] && kill -9 "$wspid" 2>/dev/null
	[ -n "${tftppid:-}" ] && kill "$tftppid" 2>/dev/null
	ip netns del "$nsa" 2>/dev/null
	ip netns del "$nsb" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$nsa" || skip "cannot create network namespaces here"
ip netns add "$nsb"
ip link add "${tag}0" type veth peer name "${tag}1" || skip "cannot create veth"
ip link set "${tag}0" netns "$nsa"
ip link set "${tag}1" netns "$nsb"
ip -n "$nsa" link set "${tag}0" up
ip -n "$nsb" link set "${tag}1" up
ip -n "$nsb" link set lo up
# in.tftpd's getaddrinfo (AI_ADDRCONFIG) wants one non-loopback IPv4 address in
# its namespace; a /30 on the sensor's end, no route, no forwarding: frames
# replayed into the other end reach only this namespace and go nowhere else
ip -n "$nsb" addr add 10.254.0.2/30 dev "${tag}1"

# a real TFTP server on 127.0.0.1 inside the sensor's namespace
mkdir -p "$work/tftproot" "$work/out"
head -c 6176 /dev/urandom >"$work/tftproot/msblast.exe"
chmod -R a+rX "$work/tftproot"
ip netns exec "$nsb" /usr/sbin/in.tftpd -L -a 127.0.0.1:6969 -s "$work/tftproot" -u nobody &
tftppid=$!

# carving off: the replayed capture also holds the transfer, and this test is about the fetcher
cat >"$work/ws.yaml" <<EOF
fetch:
  redirect: "127.0.0.1:6969"
  timeout: 1
  retries: 2
carve:
  enabled: false
EOF

ip netns exec "$nsb" "$ws" -i "${tag}1" -c "$work/ws.yaml" -o "$work/out" \
	>"$work/stdout" 2>"$work/stderr" &
wspid=$!
sleep 1.5
kill -0 "$wspid" 2>/dev/null || { cat "$work/stderr"; fail "sensor did not start"; exit 1; }

# privilege separation: the sensor and its fetcher child both run as nobody
nobody_uid=$(id -u nobody)
pids="$wspid $(pgrep -P "$wspid" | tr '\n' ' ')"
nproc=0
for p in $pids; do
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$p/status")
	echo "pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-40)) uids: $uid"
	[ "$uid" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] || fail "pid $p still has uids $uid"
	groups=$(awk '/^Groups:/ {$1=""; print}' "/proc/$p/status" | xargs)
	[ "$groups" = "$(id -g nobody)" ] || fail "pid $p supplementary groups: '$groups'"
	nproc=$((nproc + 1))
done
[ "$nproc" = 2 ] || fail "expected the sensor and one fetcher, saw $nproc processes"

ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$pcap" >/dev/null 2>&1 || fail "tcpreplay failed"
sleep 2
rows=$(tail -n +2 "$work/out/blasterlog.txt" | wc -l)
[ "$rows" = 3 ] || fail "expected 3 events after the first replay, got $rows"
grep -q $'\tget\t81.132.114.254\tqueued$' "$work/out/blasterlog.txt" || fail "GET not queued for fetching"

# the fetcher got the file from the local server (redirect)
sleep 2
ls "$work/out"/blast_msblast_*.bin >/dev/null 2>&1 || fail "no fetched file"
if ls "$work/out"/blast_msblast_*.bin >/dev/null 2>&1; then
	cmp -s "$work/out"/blast_msblast_1.bin "$work/tftproot/msblast.exe" || fail "fetched file differs"
	awk -F'\t' 'NR>1 && $10=="fetch" && $5=="ok"' "$work/out/fetchlog.txt" | grep -q . ||
		fail "fetch log has no ok row"
fi

# SIGUSR1: stats while running
kill -USR1 "$wspid"
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q "wormsnare: running: packets" "$work/stderr" && break; sleep 0.2; done
grep -q "wormsnare: running: packets" "$work/stderr" || fail "SIGUSR1 printed no stats"

# logrotate: move the logs away, SIGHUP, replay again: new rows in new files
mv "$work/out/blasterlog.txt" "$work/out/blasterlog.txt.1"
mv "$work/out/fetchlog.txt" "$work/out/fetchlog.txt.1"
kill -HUP "$wspid"
sleep 0.5
ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$pcap" >/dev/null 2>&1
sleep 2
[ -f "$work/out/blasterlog.txt" ] || fail "SIGHUP did not reopen the event log"
head -1 "$work/out/blasterlog.txt" | grep -q '^EventID' || fail "reopened log has no header"
ids=$(tail -n +2 "$work/out/blasterlog.txt" | cut -f1 | tr '\n' ' ')
[ "$ids" = "4 5 6 " ] || fail "EventIDs after rotation: '$ids' (want 4 5 6)"
grep -q $'\tduplicate$' "$work/out/blasterlog.txt" || fail "second GET of the same file not marked duplicate"

# SIGTERM: clean exit with final stats
kill -TERM "$wspid"
wait "$wspid"
rc=$?
wspid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
grep -q "wormsnare: stopped: packets" "$work/stderr" || fail "no final stats after SIGTERM"
grep -q "kernel drops" "$work/stderr" || fail "no pcap_stats drops in live stats"

if [ "$failed" != 0 ]; then
	echo "--- stderr"; cat "$work/stderr"; echo "--- stdout"; cat "$work/stdout"
	ls -la "$work/out"
	exit 1
fi
echo "live: ok ($nproc processes as nobody, events, fetch, USR1, HUP, TERM)"
