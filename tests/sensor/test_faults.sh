#!/usr/bin/env bash
# Faults: the fetcher killed with SIGKILL mid-transfer (live sensor in test
# namespaces, fetching from a server on 127.0.0.1 that never answers), a full
# disk (a 64 KiB tmpfs the test mounts), an unwritable output directory, and
# hostile or broken captures. Nothing may crash, hang, or leave a torn row.
#
#   test_faults.sh WORMSNARE SOURCE_ROOT
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
py=/usr/bin/python3
. "$root/tests/lib.sh"
pass=0 failed=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
work=$(mktemp -d /tmp/ws-faults-XXXXXX)
chmod 755 "$work"
tag=wsf$$
cleanup() {
	[ -n "${wspid:-}" ] && kill -9 "$wspid" 2>/dev/null
	[ -n "${fakepid:-}" ] && kill "$fakepid" 2>/dev/null
	mountpoint -q "$work/full" 2>/dev/null && umount "$work/full"
	ip netns del "${tag}a" 2>/dev/null
	ip netns del "${tag}b" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

rows_whole() {	# FILE COLUMNS: every line ends in LF and has COLUMNS fields
	[ ! -s "$1" ] && return 0
	[ "$(tail -c1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
	awk -F'\t' -v n="$2" 'NF != n { bad = 1 } END { exit bad }' "$1"
}

# ------------------------------------------------------------ broken captures
printf 'not a capture at all\n' >"$work/text.pcap"
: >"$work/empty.pcap"
head -c 3000 "$root/pcaps/blaster-basic.pcap" >"$work/cut.pcap"	# cut mid-record
for f in text empty; do
	out=$("$ws" -r "$work/$f.pcap" -o "$work/o-$f" 2>&1)
	rc=$?
	if [ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "^wormsnare: $work/$f.pcap: " <<<"$out" &&
		[ ! -e "$work/o-$f" ]; then
		ok "$f capture: one clear error line ($out), nothing created"
	else
		fail "$f capture: rc=$rc: $out"
	fi
done
"$ws" -r "$work/cut.pcap" -o "$work/o-cut" >/dev/null 2>"$work/cut.err"
rc=$?
if [ $rc -le 1 ] && grep -q "truncated" "$work/cut.err" && rows_whole "$work/o-cut/blasterlog.txt" 10; then
	ok "capture cut mid-record: reported, rows before it kept (rc=$rc)"
else
	fail "cut capture: rc=$rc $(cat "$work/cut.err")"
fi
# pcapng whose interfaces have different link types: libpcap cannot, we say so
if command -v mergecap >/dev/null; then
	mergecap -F pcapng -w "$work/multi.pcapng" "$root/pcaps/blaster-basic.pcap" \
		"$root/pcaps/linktype-sll.pcap"
	out=$("$ws" -r "$work/multi.pcapng" -o "$work/o-multi" 2>&1)
	[ $? = 1 ] && grep -q "^wormsnare: $work/multi.pcapng: an interface has a type" <<<"$out" &&
		ok "pcapng with two link types: $(head -1 <<<"$out")" || fail "multi-linktype pcapng: $out"
fi
# unsupported link type: an 802.11 header type
$py - "$work/wifi.pcap" <<'PY'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 105))
PY
out=$("$ws" -r "$work/wifi.pcap" -o "$work/o-wifi" 2>&1)
[ $? = 1 ] && grep -q "unsupported link type" <<<"$out" && ok "unsupported link type: $out" || fail "wifi: $out"

# a run that fails on its input creates nothing
out=$("$ws" -r "$work/missing.pcap" -o "$work/o-missing" 2>&1)
[ $? = 1 ] && [ ! -e "$work/o-missing" ] && ok "missing capture: nothing created ($out)" ||
	fail "missing capture: $out; $(ls -la "$work/o-missing" 2>&1)"
printf 'capture:\n  filter: "tcp port"\n' >"$work/badfilter.yaml"
out=$("$ws" -r "$root/pcaps/blaster-basic.pcap" -c "$work/badfilter.yaml" -o "$work/o-filter" 2>&1)
[ $? = 1 ] && [ ! -e "$work/o-filter" ] && ok "bad filter: nothing created ($out)" ||
	fail "bad filter: $out; $(ls -la "$work/o-filter" 2>&1)"
printf 'capture:\n  snaplen: 5\n' >"$work/badcfg.yaml"
out=$("$ws" -r "$root/pcaps/blaster-basic.pcap" -c "$work/badcfg.yaml" -o "$work/o-cfg" 2>&1)
[ $? = 1 ] && [ ! -e "$work/o-cfg" ] && ok "bad config: nothing created ($out)" || fail "bad config: $out"
# -v prints every effective setting and the capture filter
printf 'fetch:\n  rate_global: 7\n' >"$work/v.yaml"
out=$("$ws" -r "$root/pcaps/blaster-basic.pcap" -c "$work/v.yaml" -o "$work/o-v" -v 2>&1 >/dev/null)
grep -q "^wormsnare: setting fetch.rate_global: 7$" <<<"$out" &&
	grep -q "^wormsnare: setting fetch.deny: \[0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16" <<<"$out" &&
	grep -q "^wormsnare: capture filter" <<<"$out" &&
	ok "-v prints the effective settings and the capture filter" || fail "-v: $out"

# a replay run as root hands its outputs to the owner of the directory they are in
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$work/mine"
	chown 4321:4321 "$work/mine"
	"$ws" -r "$root/pcaps/blaster-basic.pcap" -o "$work/mine/out" >/dev/null 2>&1
	owners=$(find "$work/mine/out" -printf '%u:%g\n' | sort -u | tr '\n' ' ')
	[ "$owners" = "4321:4321 " ] && ok "replay outputs belong to the directory's owner" ||
		fail "replay outputs owned by: $owners"
fi

# -------------------------------------------------------- unwritable output
if [ "$(id -u)" != 0 ]; then
	mkdir -p "$work/ro" && chmod 555 "$work/ro"
	out=$("$ws" -r "$root/pcaps/blaster-basic.pcap" -o "$work/ro/out" 2>&1)
	[ $? = 1 ] && grep -q "Permission denied" <<<"$out" && ok "unwritable dir: $out" || fail "unwritable: $out"
fi
out=$("$ws" -r "$root/pcaps/blaster-basic.pcap" -o /proc/version/x 2>&1)
[ $? = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && ok "impossible output dir: $out" || fail "bad dir: $out"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP (not root): disk full, fetcher kill"
	echo "faults: $pass passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

# ---------------------------------------------------------------- disk full
mkdir -p "$work/full"
if mount -t tmpfs -o size=64k tmpfs "$work/full" 2>/dev/null; then
	mkdir "$work/full/out"
	# three pages left: the logs fit, the carved file (two pages) does not
	free=$(df -B1 --output=avail "$work/full" | tail -1)
	head -c $((free - 12288)) /dev/zero >"$work/full/filler" 2>/dev/null
	"$ws" -r "$root/pcaps/blaster-basic.pcap" -o "$work/full/out" >"$work/full.out" 2>"$work/full.err"
	rc=$?
	if [ $rc = 0 ] && cmp -s "$work/full/out/blasterlog.txt" "$root/pcaps/blaster-basic.tsv" &&
		rows_whole "$work/full/out/fetchlog.txt" 11 &&
		! ls -a "$work/full/out" | grep -q '^\.tmp'; then
		ok "disk full while carving: every event logged, no torn row, no temp file"
	else
		fail "disk full: rc=$rc; $(cat "$work/full.err"); $(ls -la "$work/full/out")"
	fi
	grep -q "carving msblast.exe: No space left on device" "$work/full.err" &&
		awk -F'\t' '$5=="write-error:No space left on device"' "$work/full/out/fetchlog.txt" | grep -q . &&
		ok "disk full is reported on stderr and in the fetch log" || fail "disk full not reported"
	# no room at all: a clear one-line error, not a crash
	head -c 12288 /dev/zero >"$work/full/filler2" 2>/dev/null
	rm -rf "$work/full/out2"
	out=$("$ws" -r "$root/pcaps/blaster-basic.pcap" -o "$work/full/out2" 2>&1)
	rc=$?
	[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "No space left" <<<"$out" &&
		ok "no room for the logs: $out" || fail "full at start: rc=$rc $out"
	umount "$work/full"
else
	echo "SKIP: cannot mount a tmpfs here"
fi

# ------------------------------------------------ fetcher killed mid-transfer
# a skip from here on must not hide a failure above
skip_rest() { echo "SKIP: $*"; [ "$failed" = 0 ] || exit 1; exit 77; }
command -v tcpreplay >/dev/null || skip_rest "tcpreplay missing"
ip netns add "${tag}a" 2>/dev/null || skip_rest "no network namespaces"
ip netns add "${tag}b"
ip link add "${tag}0" type veth peer name "${tag}1"
ip link set "${tag}0" netns "${tag}a"
ip link set "${tag}1" netns "${tag}b"
ip -n "${tag}a" link set "${tag}0" up
ip -n "${tag}b" link set "${tag}1" up
ip -n "${tag}b" link set lo up
ip -n "${tag}b" addr add 10.254.0.2/30 dev "${tag}1"
ip netns exec "${tag}b" timeout 60 $py "$root/tests/tftp/fake_tftpd.py" silent "$work/port" "$work/report" &
fakepid=$!
wait_for 5 test -f "$work/port"
printf 'fetch:\n  redirect: "127.0.0.1:%s"\n  timeout: 5\n  retries: 5\ncarve:\n  enabled: false\n' \
	"$(cat "$work/port")" >"$work/ws.yaml"
ip netns exec "${tag}b" "$ws" -i "${tag}1" -c "$work/ws.yaml" -o "$work/live" \
	>"$work/live.out" 2>"$work/live.err" &
wspid=$!
wait_for 30 test -f "$work/live/blasterlog.txt"
ip netns exec "${tag}a" tcpreplay -q -i "${tag}0" "$root/pcaps/blaster-basic.pcap" >/dev/null 2>&1
wait_for 20 rows_at_least "$work/live/blasterlog.txt" 3
sleep 0.5	# the fetch is under way (the silent server never answers)
old=$(pgrep -P "$wspid" -x ws-fetcher)
[ -n "$old" ] && kill -9 "$old"
restarted() { new=$(pgrep -P "$wspid" -x ws-fetcher) && [ "$new" != "$old" ] &&
	grep -q "fetcher (pid $old) closed its socket" "$work/live.err" && rows_at_least "$work/live/fetchlog.txt" 1; }
wait_for 20 restarted
new=$(pgrep -P "$wspid" -x ws-fetcher)
grep -q "ws-fetcher (pid $old) killed by signal 9" "$work/live.err" &&
	grep -q "fetcher (pid $old) closed its socket" "$work/live.err" &&
	ok "fetcher death noticed and logged" || fail "no notice: $(cat "$work/live.err")"
[ -n "$new" ] && [ "$new" != "$old" ] && ok "fetcher restarted (pid $old -> $new)" || fail "no new fetcher"
awk -F'\t' '$1==1 && $5=="fetcher-died" && $10=="fetch"' "$work/live/fetchlog.txt" | grep -q . &&
	ok "the interrupted fetch is in the fetch log as fetcher-died" || fail "fetch log: $(cat "$work/live/fetchlog.txt")"
ip netns exec "${tag}a" tcpreplay -q -i "${tag}0" "$root/pcaps/variants.pcap" >/dev/null 2>&1
wait_for 20 rows_at_least "$work/live/blasterlog.txt" 10
rows=$(tail -n +2 "$work/live/blasterlog.txt" | wc -l)
queued=$(grep -c $'\tqueued$' "$work/live/blasterlog.txt")
[ "$rows" = 10 ] && [ "$queued" = 4 ] && ok "events keep flowing after the restart ($rows events, $queued fetches queued)" ||
	fail "after restart: $rows rows, $queued queued"
kill -TERM "$wspid"
wait "$wspid"
rc=$?
wspid=
[ $rc = 0 ] && ok "clean exit after the fault" || fail "exit status $rc"

echo "faults: $pass passed, $failed failed"
[ "$failed" = 0 ]
