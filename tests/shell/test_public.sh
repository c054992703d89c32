#!/usr/bin/env bash
# Public captures nobody here wrote, through the cmd.exe session model:
# every TCP stream is extracted with tshark (follow,tcp,raw) and fed to
# shell_feed, which prints the session's events and who it found typing.
#
#   - ../shared/pcaps/third_party/shells/*: two real cmd.exe sessions. The
#     bind shell after MS08-067 (10.5.11.103 -> 10.5.11.67:4444) prints its
#     banner and the client types `dir c:\`; the reverse shell after Aurora
#     (the victim 192.168.100.206:1032 connects to 192.168.100.202:4321) gets
#     a stager, prints its banner and the server types `dir`. Neither
#     downloads anything: the shell must be found, on the right side, and
#     give no event (the victim echoes `dir`, its listing holds AUTOEXEC.BAT).
#   - zeek-eternalsafety/metasploit-ms017-010-win7x64.pcap: a Meterpreter
#     session on 4444 (1.5 MB of binary stage): no event in any stream.
#
#   test_public.sh SHELL_FEED SOURCE_ROOT      exit 77 (skip) without the
#                                              shared captures (SOURCE_ROOT/../shared,
#                                              or ../../shared from a worktree) or tshark
set -u
feed=$(realpath "$1")
root=$(realpath "$2")
# ../shared beside the checkout (/work/main); a worktree (/work/wt/NAME) is one level deeper
third=$root/../shared/pcaps/third_party
[ -d "$third" ] || third=$root/../../shared/pcaps/third_party
[ -d "$third/shells" ] || { echo "skip: $third/shells absent"; exit 77; }
command -v tshark >/dev/null || { echo "skip: no tshark"; exit 77; }
work=$(mktemp -d /tmp/ws-shell-public-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0

# run FILE: one summary per TCP stream with data, "N <ports> <shell_feed output>"
run() {
	local f=$1 n
	for n in $(tshark -r "$f" -T fields -e tcp.stream 2>/dev/null | grep . | sort -un); do
		tshark -r "$f" -q -z "follow,tcp,raw,$n" >"$work/follow" 2>/dev/null
		grep -q '^	*[0-9a-f]\{2,\}$' "$work/follow" || continue	# no payload
		printf '%s %s %s\n' "$n" "$(grep -m2 '^Node' "$work/follow" | awk '{print $3}' | tr '\n' ' ')" \
			"$("$feed" --follow "$work/follow" | tr '\n' ' ')"
	done
}

expect() {	# DESCRIPTION OUTPUT REGEX
	if grep -Eq "$3" <<<"$2"; then
		echo "ok   $1"
	else
		echo "FAIL $1"; sed 's/^/  /' <<<"$2"; fail=$((fail + 1))
	fi
}

no_events() {	# DESCRIPTION OUTPUT
	if grep -q 'event ' <<<"$2" || ! grep -q 'events=0' <<<"$2"; then
		echo "FAIL $1: events invented"; sed 's/^/  /' <<<"$2"; fail=$((fail + 1))
	else
		echo "ok   $1"
	fi
}

out=$(run "$third/shells/acandeias-ms08-067-bindshell-4444-dir-only.pcap")
shell=$(grep ':4444 ' <<<"$out" | grep 'lines=')
expect "bind shell found: banner on the server side, the client types" "$shell" \
	'10\.5\.11\.103:56867 10\.5\.11\.67:4444 .*session attacker=client victim_hint=banner screen_client=none screen_server=banner lines=1 '
no_events "bind shell: dir c:\\ and its listing give no event" "$out"

out=$(run "$third/shells/chrissanders-aurora-ms10-002-revshell-4321.pcapng")
shell=$(grep ':4321 ' <<<"$out")
expect "reverse shell found: banner on the client (victim) side, the server types" "$shell" \
	'192\.168\.100\.206:1032 192\.168\.100\.202:4321 .*session attacker=server victim_hint=banner screen_client=banner screen_server=none lines=1 '
no_events "reverse shell: stager, dir and its echo give no event" "$out"
http=$(grep ':80 ' <<<"$out")
expect "the exploit's HTTP stream is no shell" "$http" 'attacker=unknown victim_hint=none screen_client=none screen_server=none'

met=$third/zeek-eternalsafety/metasploit-ms017-010-win7x64.pcap
if [ -f "$met" ]; then
	out=$(run "$met")
	no_events "Meterpreter and SMB streams: no event" "$out"
	stage=$(grep ':4444 ' <<<"$out")
	expect "Meterpreter on 4444 is not taken for a shell" "$stage" \
		'attacker=unknown victim_hint=none screen_client=none screen_server=none'
	echo "     $(wc -l <<<"$out") streams with data"
else
	echo "skip $met: not in ../shared (the Meterpreter checks did not run)"
fi
echo "public shell captures: $fail failed"
[ "$fail" = 0 ]
