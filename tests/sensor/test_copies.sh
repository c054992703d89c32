#!/usr/bin/env bash
# The wire and the fetcher both deliver an event's file (issue 12): one copy
# when the bytes are the same, both kept and both logged when they differ.
# Offline replay with fetching redirected to a TFTP server on 127.0.0.1.
#
#   test_copies.sh WORMSNARE SOURCE_ROOT
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
. "$root/tests/lib.sh"
[ -x /usr/sbin/in.tftpd ] || skip "in.tftpd missing"
[ "$(id -u)" = 0 ] || skip "in.tftpd -s needs root to chroot"
work=$(mktemp -d /tmp/ws-copies-XXXXXX)
chmod 755 "$work"
cleanup() { [ -n "${tp:-}" ] && kill "$tp" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
port=$(free_udp_port)

# the file the capture carries, as the wire gives it
"$ws" -r "$root/pcaps/blaster-basic.pcap" -o "$work/wire" >/dev/null 2>&1
mkdir -p "$work/same" "$work/other"
cp "$work/wire/blast_msblast_1.bin" "$work/same/msblast.exe"
head -c 6176 /dev/urandom >"$work/other/msblast.exe"
chmod -R a+rX "$work"

run() {	# SERVED_DIR OUT
	/usr/sbin/in.tftpd -L -a "127.0.0.1:$port" -s "$1" -u nobody &
	tp=$!
	wait_for 10 udp_bound "$port"
	# FTP fetches aimed at the same closed local port: nothing leaves this machine
	printf 'fetch:\n  redirect: "127.0.0.1:%s"\n  ftp_redirect: "127.0.0.1:%s"\n  timeout: 1\n  retries: 2\n' \
		"$port" "$port" >"$work/ws.yaml"
	"$ws" -r "$root/pcaps/blaster-basic.pcap" -c "$work/ws.yaml" -o "$2" --fetch >/dev/null 2>&1
	kill "$tp"
	wait "$tp" 2>/dev/null
	tp=
}

run "$work/same" "$work/out1"
rows=$(awk -F'\t' 'NR > 1 && $5 == "ok" {print $10 ":" $9}' "$work/out1/fetchlog.txt" | sort | tr '\n' ' ')
[ "$rows" = "fetch:blast_msblast_1.bin wire:blast_msblast_1.bin " ] ||
	fail "same bytes: rows $rows (want both naming the one copy)"
[ -z "$(ls "$work/out1/fetched")" ] || fail "same bytes: a second copy in fetched/: $(ls "$work/out1/fetched")"
cmp -s "$work/out1/blast_msblast_1.bin" "$work/same/msblast.exe" || fail "same bytes: the copy kept differs"

run "$work/other" "$work/out2"
rows=$(awk -F'\t' 'NR > 1 && $5 == "ok" {print $10 ":" $9}' "$work/out2/fetchlog.txt" | sort | tr '\n' ' ')
[ "$rows" = "fetch:fetched/blast_msblast_1.bin wire:blast_msblast_1.bin " ] ||
	fail "different bytes: rows $rows (want both copies)"
cmp -s "$work/out2/fetched/blast_msblast_1.bin" "$work/other/msblast.exe" ||
	fail "different bytes: the fetched copy is not what the server served"
cmp -s "$work/out2/blast_msblast_1.bin" "$work/same/msblast.exe" ||
	fail "different bytes: the wire copy is not what the capture carried"
[ $failed = 0 ] && echo "copies: one copy of the same bytes, both copies of different bytes"
exit $failed
