#!/usr/bin/env bash
# The TFTP client for real: tftpfetch against tftpd-hpa (in.tftpd) on
# 127.0.0.1, against a scripted misbehaving server on 127.0.0.1, and the
# sensor's fetcher process (wormsnare --fetch, redirected to 127.0.0.1).
# Nothing is sent anywhere but 127.0.0.1.
#
#   test_fetch.sh TFTPFETCH WORMSNARE SOURCE_ROOT
set -u
tf=$(realpath "$1")
ws=$(realpath "$2")
root=$(realpath "$3")
here=$root/tests/tftp
py=/usr/bin/python3
fail=0 pass=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

. "$root/tests/lib.sh"
[ -x /usr/sbin/in.tftpd ] || skip "in.tftpd (tftpd-hpa) missing"
[ "$(id -u)" = 0 ] || skip "in.tftpd -s needs root to chroot"

work=$(mktemp -d /tmp/ws-fetch-XXXXXX)
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

srv=$work/srv
mkdir -p "$srv" "$work/out" "$work/elsewhere"
head -c 6176 /dev/urandom >"$srv/msblast.exe"
head -c 4096 /dev/urandom >"$srv/exact.bin"		# a multiple of 512: empty last block
head -c 600000 /dev/urandom >"$srv/big.bin"		# 75000 blocks of 8 bytes: rollover
head -c 2000000 /dev/urandom >"$srv/huge.bin"
echo secret >"$work/elsewhere/passwd"
chmod -R a+rX "$srv"
port=$(free_udp_port)
/usr/sbin/in.tftpd -L -a "127.0.0.1:$port" -s "$srv" -u nobody &
pids+=($!)
wait_for 10 udp_bound "$port"

fetch_ok() {	# NAME ARGS...: must succeed with the same bytes and printed hashes
	local name=$1; shift
	local out=$work/out/$name.got
	if ! line=$("$tf" "$@" "127.0.0.1:$port" "$name" "$out" 2>"$work/err"); then
		bad "$name: $(cat "$work/err")"; return
	fi
	local want_md5 want_sha
	want_md5=$(md5sum <"$srv/$name" | cut -d' ' -f1)
	want_sha=$(sha256sum <"$srv/$name" | cut -d' ' -f1)
	if cmp -s "$out" "$srv/$name" &&
		[ "$line" = "ok $(stat -c %s "$srv/$name") md5=$want_md5 sha256=$want_sha" ]; then
		ok "tftpfetch $* $name"
	else
		bad "$name: content or printed hashes differ: $line"
	fi
}

fetch_fails() {	# NAME EXPECTED_STATUS_PREFIX ARGS...: must fail and leave no file
	local name=$1 want=$2; shift 2
	local out=$work/out/fail.got
	rm -f "$out"
	if "$tf" "$@" "$SERVER" "$name" "$out" 2>"$work/err" >/dev/null; then
		bad "$name: succeeded, expected $want"; return
	fi
	if [ -e "$out" ] || ls "$work/out"/.tftpfetch-* >/dev/null 2>&1; then
		bad "$name: a failed transfer left a file"; return
	fi
	if grep -q ": $want" "$work/err"; then ok "tftpfetch $* $name -> $want"; else bad "$name: $(cat "$work/err")"; fi
}

fetch_ok msblast.exe
fetch_ok msblast.exe -b 0
fetch_ok exact.bin
fetch_ok exact.bin -b 512
fetch_ok big.bin -b 8
SERVER=127.0.0.1:$port
fetch_fails missing.exe "tftp-error:1:File not found"
fetch_fails huge.bin "too-large" -m 1000000
fetch_fails huge.bin "too-large" -m 1000000 -b 0
fetch_fails ../elsewhere/passwd "tftp-error:"
[ -e "$work/out/passwd" ] && bad "traversal wrote a file"

# nobody answers: a bounded timeout
dead=$(free_udp_port)
start=$(date +%s)
SERVER=127.0.0.1:$dead fetch_fails x.exe timeout -t 1 -r 1
[ $(($(date +%s) - start)) -le 5 ] || bad "timeout took more than 5 s"

# misbehaving servers
for mode in wrong-port forever reorder garbage error-mid big-oack no-options silent; do
	rm -f "$work/port" "$work/report"
	timeout 25 $py "$here/fake_tftpd.py" "$mode" "$work/port" "$work/report" &
	pids+=($!)
	for _ in $(seq 50); do [ -f "$work/port" ] && break; sleep 0.1; done
	SERVER=127.0.0.1:$(cat "$work/port")
	out=$work/out/fake.got
	rm -f "$out"
	"$tf" -t 1 -r 2 -m 100000 "$SERVER" file.bin "$out" >"$work/fake.out" 2>"$work/fake.err"
	rc=$?
	wait "${pids[-1]}" 2>/dev/null
	report=$(cat "$work/report" 2>/dev/null)
	expect_file=$($py -c 'import sys; sys.stdout.buffer.write(bytes((i*7+3)&0xff for i in range(5000)))' | md5sum | cut -d' ' -f1)
	case $mode in
	wrong-port|reorder|garbage|no-options)
		if [ $rc = 0 ] && [ "$(md5sum <"$out" | cut -d' ' -f1)" = "$expect_file" ]; then
			ok "fake $mode: file intact"
		else
			bad "fake $mode: rc=$rc $(cat "$work/fake.err")"
		fi
		[ "$mode" = wrong-port ] && { grep -q "intruder got error 5" <<<"$report" && ok "fake wrong-port: ERROR 5 to the intruder" || bad "no ERROR 5 to the intruder: $report"; } ;;
	forever)
		grep -q "too-large" "$work/fake.err" && [ ! -e "$out" ] && ok "fake forever: stopped at the size cap ($report)" || bad "fake forever: $(cat "$work/fake.err")" ;;
	error-mid)
		grep -q "tftp-error:0:disk on fire" "$work/fake.err" && [ ! -e "$out" ] && ok "fake error-mid" || bad "fake error-mid: $(cat "$work/fake.err")" ;;
	big-oack)
		grep -q "bad-oack" "$work/fake.err" && grep -q "error 8" <<<"$report" && ok "fake big-oack: refused with ERROR 8" || bad "fake big-oack: $(cat "$work/fake.err") / $report" ;;
	silent)
		grep -q "timeout" "$work/fake.err" && [ ! -e "$out" ] && ok "fake silent: timeout" || bad "fake silent: $(cat "$work/fake.err")" ;;
	esac
done

# The sensor's fetcher: replay with --fetch, every fetch redirected to in.tftpd.
# The capture also carries the transfer, so the wire copy and the fetched copy
# meet: one file is kept, both results are logged.
cfg=$work/ws.yaml
printf 'fetch:\n  redirect: "127.0.0.1:%s"\n  ftp_redirect: "127.0.0.1:%s"\n  timeout: 1\n  retries: 1\n' \
	"$port" "$port" >"$cfg"
cp "$root/pcaps/blaster-basic.pcap" "$work/"
"$ws" -r "$work/blaster-basic.pcap" -c "$cfg" -o "$work/wsout" --fetch >"$work/ws.out" 2>"$work/ws.err"
rc=$?
log=$work/wsout/fetchlog.txt
if [ $rc = 0 ] && grep -q $'\tget\t81.132.114.254\tqueued$' "$work/wsout/blasterlog.txt"; then
	ok "wormsnare --fetch queues the GET"
else
	bad "wormsnare --fetch: rc=$rc $(cat "$work/ws.err")"
fi
fetch_row=$(awk -F'\t' '$10=="fetch"' "$log")
wire_row=$(awk -F'\t' '$10=="wire"' "$log")
if [ "$(cut -f1,3,5 <<<"$fetch_row")" = $'1\t127.0.0.1:'"$port"$'\tok' ] &&
	[ "$(cut -f7 <<<"$fetch_row")" = "$(md5sum <"$srv/msblast.exe" | cut -d' ' -f1)" ]; then
	ok "fetch log: the fetched file with its md5"
else
	bad "fetch row: $fetch_row"
fi
[ -n "$wire_row" ] && ok "fetch log: the carved copy logged too" || bad "no wire row"
n=$(ls "$work/wsout"/blast_msblast_1.bin* 2>/dev/null | wc -l)
[ "$n" = 1 ] && ok "one copy of the event's file kept" || bad "$n copies of blast_msblast_1.bin"
ls -a "$work/wsout" | grep -q '^\.tmp' && bad "temp files left behind"

# A GET the policy refuses is logged as denied, and nothing is sent.
printf 'fetch:\n  redirect: "127.0.0.1:%s"\n  ftp_redirect: "127.0.0.1:%s"\n  allow: [192.0.2.0/24]\n' \
	"$port" "$port" >"$cfg"
"$ws" -r "$work/blaster-basic.pcap" -c "$cfg" -o "$work/wsout2" --fetch >/dev/null 2>&1
grep -q $'\tget\t81.132.114.254\tdenied$' "$work/wsout2/blasterlog.txt" && ok "allow list: denied" || bad "allow list not applied"
awk -F'\t' '$10=="fetch"' "$work/wsout2/fetchlog.txt" | grep -q . && bad "a denied GET was fetched"

echo "fetch: $pass passed, $fail failed"
[ "$fail" = 0 ]
