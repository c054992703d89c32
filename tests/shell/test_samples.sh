#!/usr/bin/env bash
# The generated shell captures (shell-* in tests/TESTLIST) through the session
# model: each TCP stream is extracted with tshark (follow,tcp,raw), fed to
# shell_feed, and its events are turned into log rows as the sensor writes
# them (SourceIP/Port = the attacker, DestIP/Port = the victim; Server is
# the host as typed, HOST:PORT for ftp on a port other than 21; Fetch
# "disabled" offline, "invalid-name" for an unusable name). The rows must
# equal the expected log's, EventID and Time aside (shell_feed has no
# capture times; the replay suite checks those after integration).
#
#   test_samples.sh SHELL_FEED SOURCE_ROOT     exit 77 (skip) without tshark
set -u
feed=$(realpath "$1")
root=$(realpath "$2")
command -v tshark >/dev/null || { echo "skip: no tshark"; exit 77; }
work=$(mktemp -d /tmp/ws-shell-samples-XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

rows() {	# PCAP: the rows the model gives, tab-separated, columns 3..10 of the log
	local f=$1 n a b
	for n in $(tshark -r "$f" -T fields -e tcp.stream 2>/dev/null | grep . | sort -un); do
		tshark -r "$f" -q -z "follow,tcp,raw,$n" >"$work/follow" 2>/dev/null
		a=$(awk '/^Node 0:/ {print $3}' "$work/follow")
		b=$(awk '/^Node 1:/ {print $3}' "$work/follow")
		"$feed" --follow "$work/follow" | awk -v a="$a" -v b="$b" '
			function field(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
			/^event / {
				att = field("attacker") == "client" ? a : b
				vic = field("attacker") == "client" ? b : a
				split(att, A, ":"); split(vic, V, ":")
				file = field("file"); gsub(/\\x20/, " ", file); gsub(/\\\\/, "\\x5c", file)
				act = $2; server = ""; fetch = ""
				if (act == "get" || act == "ftp-get") {
					server = field("host")
					if (act == "ftp-get" && field("port") != "21") server = server ":" field("port")
					fetch = field("name_ok") == "1" ? "disabled" : "invalid-name"
				}
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", A[1], file, A[2], V[1], V[2], act, server, fetch
			}'
	done
}

while read -r name pcap expected opts; do
	case $name in ''|'#'*) continue ;; esac
	rows "$root/$pcap" >"$work/got"
	tail -n +2 "$root/$expected" | cut -f3-10 >"$work/want"
	if diff -u "$work/want" "$work/got" >"$work/diff"; then
		echo "ok   $name ($(wc -l <"$work/want") events)"; pass=$((pass + 1))
	else
		echo "FAIL $name"; sed 's/^/  /' "$work/diff"; fail=$((fail + 1))
	fi
done < <(grep "^shell-" "$root/tests/TESTLIST")
echo "shell samples: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
