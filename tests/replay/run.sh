#!/usr/bin/env bash
# Replay every capture of tests/TESTLIST and compare the whole event log with
# the expected one; check the files carved from TFTP transfers in the capture
# (pcaps/NAME.files: name, size, md5, sha256) are stored and logged.
#
#   run.sh WORMSNARE SOURCE_ROOT
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
export TZ=UTC LC_ALL=C
work=$(mktemp -d /tmp/ws-replay-XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

check_files() {	# NAME OUTDIR
	local files=$root/pcaps/$1.files out=$2 ok=0
	[ -f "$files" ] || return 0
	while IFS=$'\t' read -r fname size md5 sha; do
		local row path
		row=$(awk -F'\t' -v f="$fname" -v m="$md5" '$4==f && $5=="ok" && $7==m' "$out/fetchlog.txt")
		if [ -z "$row" ]; then
			echo "  no ok row with md5 $md5 for $fname in fetchlog.txt"; ok=1; continue
		fi
		path=$(cut -f9 <<<"$row" | head -1)
		[ "$(cut -f6 <<<"$row" | head -1)" = "$size" ] || { echo "  $fname: wrong size logged"; ok=1; }
		[ "$(cut -f8 <<<"$row" | head -1)" = "$sha" ] || { echo "  $fname: wrong sha256 logged"; ok=1; }
		[ "$(cut -f10 <<<"$row" | head -1)" = "wire" ] || { echo "  $fname: Source is not wire"; ok=1; }
		if [ ! -f "$out/$path" ] || [ "$(md5sum <"$out/$path" | cut -d' ' -f1)" != "$md5" ]; then
			echo "  $fname: stored file $path missing or different"; ok=1
		fi
	done <"$files"
	return $ok
}

while read -r name pcap expected opts; do
	case $name in ''|'#'*) continue ;; esac
	[ "$opts" = - ] && opts=
	opts=${opts//@ROOT@/$root}	# options may name files of the source tree
	out=$work/$name
	# shellcheck disable=SC2086
	if ! "$ws" -r "$root/$pcap" -o "$out" $opts >"$work/$name.stdout" 2>"$work/$name.stderr"; then
		echo "FAIL $name: exit status $?"; sed 's/^/  /' "$work/$name.stderr"; fail=$((fail + 1)); continue
	fi
	if ! diff -u "$root/$expected" "$out/blasterlog.txt" >"$work/$name.diff"; then
		echo "FAIL $name: event log differs"; sed 's/^/  /' "$work/$name.diff"; fail=$((fail + 1)); continue
	fi
	# stdout shows one line per event
	if [ "$(grep -c '^event ' "$work/$name.stdout")" != "$(($(wc -l <"$out/blasterlog.txt") - 1))" ]; then
		echo "FAIL $name: stdout does not show every event"; fail=$((fail + 1)); continue
	fi
	if ! check_files "$name" "$out"; then
		echo "FAIL $name: carved files"; fail=$((fail + 1)); continue
	fi
	echo "ok   $name"
	pass=$((pass + 1))
done <"$root/tests/TESTLIST"

# EventIDs keep increasing across restarts with the same output dir.
out=$work/restart
"$ws" -r "$root/pcaps/blaster-basic.pcap" -o "$out" >/dev/null 2>&1
"$ws" -r "$root/pcaps/blaster-basic.pcap" -o "$out" >/dev/null 2>&1
ids=$(tail -n +2 "$out/blasterlog.txt" | cut -f1 | tr '\n' ' ')
if [ "$ids" = "1 2 3 4 5 6 " ] && [ "$(grep -c '^EventID' "$out/blasterlog.txt")" = 1 ]; then
	echo "ok   restart-continues-ids"; pass=$((pass + 1))
else
	echo "FAIL restart-continues-ids: ids '$ids'"; fail=$((fail + 1))
fi
# the second run's carve is stored under the new event, not over the old file
if [ -f "$out/blast_msblast_1.bin" ] && [ -f "$out/blast_msblast_4.bin" ]; then
	echo "ok   restart-carves-under-new-id"; pass=$((pass + 1))
else
	echo "FAIL restart-carves-under-new-id: $(ls "$out")"; fail=$((fail + 1))
fi

# Transfers that do not complete: logged, never stored, kept as .partial only when asked.
out=$work/tftp-variants
"$ws" -r "$root/pcaps/tftp-variants.pcap" -o "$out" >/dev/null 2>&1
log=$out/fetchlog.txt
if awk -F'\t' '$4=="unfinished.exe" && $5=="incomplete" && $9==""' "$log" | grep -q . &&
	awk -F'\t' '$4=="missing.exe" && $5=="tftp-error:1:File not found"' "$log" | grep -q . &&
	! ls "$out" | grep -q unfinished; then
	echo "ok   incomplete-and-error-not-stored"; pass=$((pass + 1))
else
	echo "FAIL incomplete-and-error-not-stored"; cat "$log"; ls "$out"; fail=$((fail + 1))
fi
printf 'carve:\n  keep_partial: true\n' >"$work/partial.yaml"
out=$work/partial
"$ws" -r "$root/pcaps/tftp-variants.pcap" -c "$work/partial.yaml" -o "$out" >/dev/null 2>&1
if [ "$(stat -c %s "$out"/blast_unfinished_*.bin.partial 2>/dev/null)" = 1536 ]; then
	echo "ok   keep-partial"; pass=$((pass + 1))
else
	echo "FAIL keep-partial: $(ls -la "$out")"; fail=$((fail + 1))
fi

# Known samples: a known-hashes file naming the demo payload tags the row.
md5=$(cut -f3 "$root/pcaps/blaster-basic.files")
printf '%s: "wormsnare test payload"\n' "$md5" >"$work/known.yaml"
printf 'carve:\n  known_hashes: %s\n' "$work/known.yaml" >"$work/known-cfg.yaml"
out=$work/known
"$ws" -r "$root/pcaps/blaster-basic.pcap" -c "$work/known-cfg.yaml" -o "$out" >/dev/null 2>&1
if awk -F'\t' 'NR>1 && $11=="wormsnare test payload"' "$out/fetchlog.txt" | grep -q .; then
	echo "ok   known-hash-tag"; pass=$((pass + 1))
else
	echo "FAIL known-hash-tag"; cat "$out/fetchlog.txt"; fail=$((fail + 1))
fi

# An overlap the victim resolved one way while someone sent the other is a warning record.
for c in "tcp-overlap tcp-overlap" "ipfrag-overlap ip-fragment-overlap"; do
	set -- $c
	n=$(grep -c "\"event_type\":\"warning\".*\"kind\":\"$2\"" "$work/$1/events.json" 2>/dev/null)
	if [ "$n" = 2 ]; then
		echo "ok   $1-warnings-in-json"; pass=$((pass + 1))
	else
		echo "FAIL $1-warnings-in-json: $n warning records of kind $2 (want 2)"; fail=$((fail + 1))
	fi
done

echo "replay: $pass passed, $fail failed"
[ "$fail" = 0 ]
