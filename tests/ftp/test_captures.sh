#!/usr/bin/env bash
# The passive FTP tracker over captures, its bytes checked against tshark's
# follow-stream: the samples in pcaps/ (made by pcaps/gen_ftp.py, with what
# each must give) and the public captures in ../shared that SOURCES.md lists
# as FTP (skipped cleanly when ../shared is absent).
#
#   test_captures.sh FTP_FEED SOURCE_ROOT [THIRD_PARTY_DIR]
set -u
feed=$(realpath "$1")
root=$(realpath "$2")
# beside the project (../shared), or the shared area of a worktree's parent
third=${3:-${WS_THIRD_PARTY_PCAPS:-$root/../shared/pcaps/third_party}}
[ -d "$third" ] || third=$root/../../shared/pcaps/third_party
py=/usr/bin/python3
run=("$py" "$root/tests/ftp/carve_captures.py" "$feed")
command -v tshark >/dev/null || { echo "SKIP: tshark is not installed"; exit 77; }
fail=0
p=$root/pcaps
"${run[@]}" "$p/ftp-passive.pcap" --files "$p/ftp-passive.files" || fail=1
"${run[@]}" "$p/ftp-active.pcap" --files "$p/ftp-active.files" || fail=1
"${run[@]}" "$p/ftp-dropper.pcap" --files "$p/ftp-dropper.files" || fail=1
"${run[@]}" "$p/ftp-cut.pcap" --status cut.exe=incomplete --why cut.exe=cut || fail=1
"${run[@]}" "$p/ftp-550.pcap" \
	--status "missing.exe=ftp-error:550:missing.exe? The system cannot find the file specified." || fail=1
# a file over max_file_size is ended too-large, not carved whole
"${run[@]}" "$p/ftp-passive.pcap" --max-file-size 10000 --status passive.exe=too-large || fail=1

if [ -f "$third/SOURCES.md" ]; then
	# the captures SOURCES.md describes as FTP: "| `dir/file.pcap` | ... FTP ..."
	mapfile -t ftp < <(grep -i '\bftp\b' "$third/SOURCES.md" | grep -o '^| `[^`]*`' | tr -d '|` ')
	for f in "${ftp[@]}"; do
		[ -f "$third/$f" ] || { echo "skip $f: not in $third"; continue; }
		echo "== third party: $f"
		"${run[@]}" "$third/$f" || fail=1
	done
else
	echo "skip third-party captures: $third/SOURCES.md not found"
fi
exit $fail
