#!/usr/bin/env bash
# A rotated capture set read as one capture: pcaps/blaster-basic.pcap split
# by editcap (tcpdump -C style) into four files, the session and its TFTP
# transfer cut across them, must give the whole file's event log and carved
# file whether the parts are given as -r arguments (in any order: they are
# merged by timestamp), as trailing arguments or as their directory; one
# part alone must not. A progress line appears on a terminal and never in
# a redirected stderr.
#
#   test_files.sh WORMSNARE SOURCE_ROOT
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; failed=1; }
failed=0
command -v editcap >/dev/null || skip "editcap missing (wireshark-common)"
export TZ=UTC LC_ALL=C
work=$(mktemp -d /tmp/ws-files-XXXXXX)
trap 'rm -rf "$work"' EXIT
whole=$root/pcaps/blaster-basic.pcap
mkdir "$work/parts"
editcap -c 12 "$whole" "$work/parts/part.pcap" || fail "editcap failed"
mapfile -t parts < <(ls "$work/parts"/*.pcap | sort)
[ "${#parts[@]}" = 4 ] || fail "expected 4 parts, got ${#parts[@]}"

same_as_whole() {	# NAME ARGS...
	local name=$1 out=$work/$1
	shift
	if ! "$ws" -o "$out" "$@" >/dev/null 2>"$work/$name.err"; then
		fail "$name: exit status $?"; cat "$work/$name.err"; return
	fi
	if ! diff -u "$root/pcaps/blaster-basic.tsv" "$out/blasterlog.txt" >"$work/$name.diff"; then
		fail "$name: event log differs from the whole file's"; cat "$work/$name.diff"; return
	fi
	if ! cmp -s "$out/blast_msblast_1.bin" "$work/ref/blast_msblast_1.bin"; then
		fail "$name: carved file differs from the whole file's"; return
	fi
	grep -q $'\r' "$work/$name.err" && fail "$name: progress line written to a file"
	echo "ok   $name"
}

"$ws" -r "$whole" -o "$work/ref" >/dev/null 2>&1
[ -s "$work/ref/blast_msblast_1.bin" ] || fail "the whole file carves nothing"
same_as_whole parts-as-r -r "${parts[0]}" -r "${parts[1]}" -r "${parts[2]}" -r "${parts[3]}"
same_as_whole parts-reversed -r "${parts[3]}" -r "${parts[2]}" -r "${parts[1]}" -r "${parts[0]}"
same_as_whole parts-trailing -r "${parts[0]}" "${parts[1]}" "${parts[2]}" "${parts[3]}"
same_as_whole directory -r "$work/parts"

# one part alone: the session is cut (the test above could not pass by accident)
"$ws" -r "${parts[0]}" -o "$work/alone" >/dev/null 2>&1
[ "$(tail -n +2 "$work/alone/blasterlog.txt" | wc -l)" -lt 3 ] ||
	fail "the first part alone already holds the whole session: the split proves nothing"

# errors name the file
"$ws" -r "${parts[0]}" -r "$work/missing.pcap" -o "$work/err" >/dev/null 2>"$work/err.txt" &&
	fail "a missing file was accepted"
grep -q "missing.pcap: open: No such file" "$work/err.txt" || fail "unclear error: $(cat "$work/err.txt")"
mkdir "$work/empty"
"$ws" -r "$work/empty" -o "$work/err2" >/dev/null 2>"$work/err2.txt" && fail "an empty directory was accepted"
grep -q "no capture files" "$work/err2.txt" || fail "unclear error: $(cat "$work/err2.txt")"

# on a terminal: a progress line on stderr (script(1) gives the run a pty)
if command -v script >/dev/null; then
	script -qec "$ws -r $work/parts -o $work/tty" /dev/null >"$work/tty.out" 2>&1
	grep -q 'wormsnare: [0-9]* of [0-9]* MB (100%), .* kpkt/s, 3 events, 0:00 left' "$work/tty.out" ||
		{ fail "no progress line on a terminal"; cat -v "$work/tty.out" | head -5; }
fi
[ "$failed" = 0 ] && echo "files: ok"
exit "$failed"
