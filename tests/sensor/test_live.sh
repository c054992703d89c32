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
# namespaces, veth pair, work dir, fail/skip; everything in $pids is killed at exit
. "$root/tests/capture/netns.sh" wst
[ -x /usr/sbin/in.tftpd ] || skip "in.tftpd missing"
id nobody >/dev/null 2>&1 || skip "no user nobody"
pcap=$root/pcaps/blaster-basic.pcap
[ -f "$pcap" ] || skip "no $pcap"

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
pids=$tftppid

# carving off: the replayed capture also holds the transfer, and this test is about the fetcher
cat >"$work/ws.yaml" <<EOF
capture:
  workers: 2
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
pids="$pids $wspid"
# started: the outputs exist once every worker has its capture open
started() {
	local sup
	[ -f "$work/out/blasterlog.txt" ] && sup=$(pgrep -P "$wspid" -x ws-sensor) &&
		[ "$(pgrep -P "$sup" -x ws-worker | wc -l)" = 2 ] && pgrep -P "$wspid" -x ws-fetcher >/dev/null
}
wait_for 30 started
kill -0 "$wspid" 2>/dev/null || { cat "$work/stderr"; fail "sensor did not start"; exit 1; }

# Privilege separation. ws-monitor (the started process) keeps root with only
# the capabilities that start a fetcher; ws-sensor and ws-fetcher run as two
# different unprivileged users with no capabilities and a seccomp filter.
uid_of() { awk '/^Uid:/ {print $2}' "/proc/$1/status"; }
field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mon_name=$(cat "/proc/$wspid/comm")
sensor=$(pgrep -P "$wspid" -x ws-sensor)
fetcher=$(pgrep -P "$wspid" -x ws-fetcher)
workers=$(pgrep -P "$sensor" -x ws-worker | tr '\n' ' ')
[ "$mon_name" = ws-monitor ] || fail "started process is named '$mon_name', not ws-monitor"
[ -n "$sensor" ] && [ -n "$fetcher" ] || fail "no ws-sensor ($sensor) or ws-fetcher ($fetcher)"
nproc=$(pgrep -P "$wspid" | wc -l)
[ "$nproc" = 2 ] || fail "expected ws-sensor and ws-fetcher under ws-monitor, saw $nproc"
[ "$(echo $workers | wc -w)" = 2 ] || fail "capture.workers 2: workers under ws-sensor: '$workers'"
suid=$(uid_of "$sensor"); fuid=$(uid_of "$fetcher")
echo "monitor $wspid uid $(uid_of "$wspid") CapEff $(field "$wspid" CapEff)"
echo "sensor $sensor uid $suid CapEff $(field "$sensor" CapEff) Seccomp $(field "$sensor" Seccomp)"
echo "fetcher $fetcher uid $fuid CapEff $(field "$fetcher" CapEff) Seccomp $(field "$fetcher" Seccomp)"
[ "$suid" != 0 ] && [ "$fuid" != 0 ] && [ "$suid" != "$fuid" ] ||
	fail "sensor uid $suid and fetcher uid $fuid must be two different non-root users"
for p in "$sensor" "$fetcher" $workers; do
	[ "$(field "$p" CapEff)" = 0000000000000000 ] || fail "pid $p keeps capabilities $(field "$p" CapEff)"
	[ "$(field "$p" CapPrm)" = 0000000000000000 ] || fail "pid $p keeps permitted capabilities"
	[ "$(field "$p" Seccomp)" = 2 ] || fail "pid $p has no seccomp filter"
	[ "$(field "$p" NoNewPrivs)" = 1 ] || fail "pid $p can gain privileges (NoNewPrivs 0)"
done
# the monitor: CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SYS_CHROOT and nothing else
[ "$(field "$wspid" CapEff)" = 00000000000400e0 ] || fail "monitor capabilities $(field "$wspid" CapEff)"
[ "$(field "$wspid" CapBnd)" = 00000000000400e0 ] || fail "monitor bounding set $(field "$wspid" CapBnd)"
# the supervisor captures nothing itself; each worker holds exactly its own
# fanout member, its socket to the supervisor, the output directory and stdio
[ "$(packet_sockets "$sensor")" = 0 ] || fail "the supervisor (ws-sensor) holds a packet socket"
for p in $workers; do
	[ "$(uid_of "$p")" = "$suid" ] || fail "worker $p runs as uid $(uid_of "$p"), not the sensor's $suid"
	[ "$(packet_sockets "$p")" = 1 ] || fail "worker $p holds $(packet_sockets "$p") packet sockets, not 1"
	[ "$(readlink "/proc/$p/root")" = "$work/out" ] || fail "worker $p root is $(readlink "/proc/$p/root")"
	other=$(for l in /proc/$p/fd/*; do [ "${l##*/}" -gt 2 ] && readlink "$l"; done | grep -v -e '^socket:' -e '^anon_inode:\[eventfd\]' \
		-e "^$work/out\$" -e '^/dev/null$' -e '^pipe:' -e '^/dev/pts/' | tr '\n' ' ')
	[ -z "$other" ] || fail "worker $p holds more than it needs: $other"
	[ "$(ls "/proc/$p/fd" | wc -l)" -le 7 ] || fail "worker $p holds $(ls "/proc/$p/fd" | wc -l) descriptors"
done
[ "$(packet_sockets "$fetcher")" = 0 ] || fail "the fetcher holds a packet socket"
[ "$(packet_sockets "$wspid")" = 0 ] || fail "the monitor holds a packet socket"
# the fetcher's descriptors: /dev/null, stderr, its socket, the samples directory
fetcher_fds_ok() {
	local want="0 1 2 3 4 " fds
	fds=$(ls "/proc/$1/fd" | sort -n | tr '\n' ' ')
	[ "$fds" = "$want" ] || { echo "descriptors $fds"; return 1; }
	[ "$(readlink "/proc/$1/fd/0")" = /dev/null ] && [ "$(readlink "/proc/$1/fd/1")" = /dev/null ] ||
		{ echo "fd 0/1 not /dev/null"; return 1; }
	readlink "/proc/$1/fd/3" | grep -q '^socket:' || { echo "fd 3 not a socket"; return 1; }
	[ "$(readlink "/proc/$1/fd/4")" = "$work/out/fetched" ] || { echo "fd 4 $(readlink "/proc/$1/fd/4")"; return 1; }
}
why=$(fetcher_fds_ok "$fetcher") || fail "fetcher: $why"
[ "$(readlink "/proc/$fetcher/root")" = "$work/out/fetched" ] ||
	fail "fetcher root is $(readlink "/proc/$fetcher/root")"
[ "$(readlink "/proc/$sensor/root")" = "$work/out" ] || fail "sensor root is $(readlink "/proc/$sensor/root")"
# the fetcher's user cannot write a log, the sequence file or the sensor's files
for f in blasterlog.txt fetchlog.txt events.json wormsnare.seq; do
	setpriv --reuid="$fuid" --regid="$fuid" --clear-groups sh -c "echo x >>'$work/out/$f'" 2>/dev/null &&
		fail "the fetcher's user can write $f"
done
setpriv --reuid="$fuid" --regid="$fuid" --clear-groups kill -0 "$sensor" 2>/dev/null &&
	fail "the fetcher's user can signal the sensor"

ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$pcap" >/dev/null 2>&1 || fail "tcpreplay failed"
wait_for 20 rows_are "$work/out/blasterlog.txt" 3
rows=$(nrows "$work/out/blasterlog.txt")
[ "$rows" = 3 ] || fail "expected 3 events after the first replay, got $rows"
grep -q $'\tget\t81.132.114.254\tqueued$' "$work/out/blasterlog.txt" || fail "GET not queued for fetching"

# the fetcher got the file from the local server (redirect)
fetched() { ls "$work/out"/fetched/blast_"$1"_*.bin >/dev/null 2>&1; }
wait_for 20 fetched msblast
fetch_ok() { awk -F'\t' 'NR>1 && $10=="fetch" && $5=="ok"' "$work/out/fetchlog.txt" 2>/dev/null | grep -q .; }
wait_for 10 fetch_ok
ls "$work/out"/fetched/blast_msblast_*.bin >/dev/null 2>&1 || fail "no fetched file"
if ls "$work/out"/fetched/blast_msblast_*.bin >/dev/null 2>&1; then
	cmp -s "$work/out"/fetched/blast_msblast_1.bin "$work/tftproot/msblast.exe" || fail "fetched file differs"
	awk -F'\t' 'NR>1 && $10=="fetch" && $9=="fetched/blast_msblast_1.bin"' "$work/out/fetchlog.txt" |
		grep -q . || fail "fetch log does not name fetched/blast_msblast_1.bin"
	awk -F'\t' 'NR>1 && $10=="fetch" && $5=="ok"' "$work/out/fetchlog.txt" | grep -q . ||
		fail "fetch log has no ok row"
fi

# SIGUSR1: stats while running
kill -USR1 "$wspid"
usr1_lines() { [ "$(grep -c "wormsnare: worker [12]/2: running: packets" "$work/stderr")" = 2 ]; }
wait_for 20 usr1_lines ||
	fail "SIGUSR1 printed no stats of both workers"
grep -q "wormsnare: running: 2 workers (their lines above), events 3 " "$work/stderr" ||
	fail "SIGUSR1 printed no supervisor stats"
# the fanout group splits the traffic: every selected packet (carving is off:
# TCP only) reaches one worker, once
sent=$(/usr/bin/python3 -c 'import sys; from scapy.all import rdpcap, TCP; print(sum(TCP in p for p in rdpcap(sys.argv[1])))' "$pcap" 2>/dev/null)
got=$(sed -n 's/.*worker [12]\/2: running: packets \([0-9]*\),.*/\1/p' "$work/stderr" | awk '{ s += $1 } END { print s + 0 }')
[ -n "$sent" ] || fail "cannot count the packets sent (python3-scapy)"
[ "$got" = "$sent" ] || fail "workers saw $got packets together, $sent were sent"

# logrotate: move the logs away, SIGHUP, replay again: new rows in new files
mv "$work/out/blasterlog.txt" "$work/out/blasterlog.txt.1"
mv "$work/out/fetchlog.txt" "$work/out/fetchlog.txt.1"
kill -HUP "$wspid"
wait_for 10 test -f "$work/out/blasterlog.txt"
ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$pcap" >/dev/null 2>&1
wait_for 20 rows_are "$work/out/blasterlog.txt" 3
[ -f "$work/out/blasterlog.txt" ] || fail "SIGHUP did not reopen the event log"
head -1 "$work/out/blasterlog.txt" | grep -q '^EventID' || fail "reopened log has no header"
ids=$(tail -n +2 "$work/out/blasterlog.txt" | cut -f1 | tr '\n' ' ')
[ "$ids" = "4 5 6 " ] || fail "EventIDs after rotation: '$ids' (want 4 5 6)"
grep -q $'\tduplicate$' "$work/out/blasterlog.txt" || fail "second GET of the same file not marked duplicate"

# the fetcher killed: a fresh one comes back from nothing (no packet socket,
# only its own descriptors) while capture goes on, and the next GET is fetched
kill -9 "$fetcher"
refetcher() { new=$(pgrep -P "$wspid" -x ws-fetcher) && [ "$new" != "$fetcher" ] && [ -d "/proc/$new/fd" ] &&
	[ "$(ls "/proc/$new/fd" | wc -l)" = 5 ]; }
wait_for 20 refetcher
new=$(pgrep -P "$wspid" -x ws-fetcher)
[ -n "$new" ] && [ "$new" != "$fetcher" ] || fail "no new fetcher after kill -9 (old $fetcher, new '$new')"
if [ -n "$new" ]; then
	[ "$(packet_sockets "$new")" = 0 ] || fail "the restarted fetcher holds a packet socket"
	why=$(fetcher_fds_ok "$new") || fail "restarted fetcher: $why"
	[ "$(field "$new" Seccomp)" = 2 ] || fail "restarted fetcher has no seccomp filter"
fi
grep -q "ws-fetcher (pid $fetcher) killed by signal 9" "$work/stderr" || fail "fetcher death not reported"
cp "$work/tftproot/msblast.exe" "$work/tftproot/teekids.exe"
ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$root/pcaps/variants.pcap" >/dev/null 2>&1
wait_for 20 fetched teekids
ls "$work/out"/fetched/blast_teekids_*.bin >/dev/null 2>&1 || fail "nothing fetched after the restart"

# a forbidden system call in the fetcher (SIGUSR2 asks it to open a packet
# socket) kills it, and the monitor reports the seccomp violation
kill -USR2 "$wspid"
wait_for 20 grep -q "ws-fetcher (pid [0-9]*) killed by SIGSYS: seccomp violation" "$work/stderr"
grep -q "wormsnare: seccomp: forbidden system call .*(socket)" "$work/stderr" ||
	fail "the fetcher's forbidden call was not named"
grep -q "ws-fetcher (pid [0-9]*) killed by SIGSYS: seccomp violation" "$work/stderr" ||
	fail "the seccomp kill was not reported"

# SIGTERM: clean exit with final stats
kill -TERM "$wspid"
wait "$wspid"
rc=$?
wspid=
pids=$tftppid
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
[ "$(grep -c "wormsnare: worker [12]/2: stopped: packets" "$work/stderr")" = 2 ] ||
	fail "no final stats of both workers after SIGTERM"
grep -q "wormsnare: stopped: 2 workers" "$work/stderr" || fail "no final supervisor stats after SIGTERM"
grep -q "kernel drops" "$work/stderr" || fail "no pcap_stats drops in live stats"

# Started as a non-root user with CAP_NET_RAW (as file capabilities or
# systemd's AmbientCapabilities would give): capture works and every process
# has dropped its capabilities once the capture is open.
if command -v setpriv >/dev/null; then
	mkdir -p "$work/capout"
	chown nobody "$work/capout"
	printf 'capture:\n  workers: 1\n' >"$work/one.yaml"
	chmod 644 "$work/one.yaml"
	ip netns exec "$nsb" setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		--inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin \
		"$ws" -i "${tag}1" --no-fetch -c "$work/one.yaml" -o "$work/capout" \
		>"$work/cap.out" 2>"$work/cap.err" &
	cappid=$!
	pids="$pids $cappid"
	wait_for 30 test -f "$work/capout/blasterlog.txt"
	capsensor=$(pgrep -P "$cappid" -x ws-sensor)
	[ -n "$capsensor" ] || fail "non-root run: no ws-sensor ($(cat "$work/cap.err"))"
	for p in "$cappid" $capsensor; do
		for k in CapEff CapPrm CapAmb; do
			[ "$(field "$p" "$k")" = 0000000000000000 ] || fail "non-root pid $p keeps $k $(field "$p" "$k")"
		done
	done
	ip netns exec "$nsa" tcpreplay -q -i "${tag}0" "$pcap" >/dev/null 2>&1
	wait_for 20 rows_are "$work/capout/blasterlog.txt" 3 ||
		fail "non-root run with CAP_NET_RAW logged no events: $(cat "$work/cap.err")"
	kill -TERM "$cappid"
	wait "$cappid" || fail "non-root run exit status $?"
fi

if [ "$failed" != 0 ]; then
	echo "--- stderr"; cat "$work/stderr"; echo "--- stdout"; cat "$work/stdout"
	ls -la "$work/out"
	exit 1
fi
echo "live: ok (monitor, sensor uid $suid, fetcher uid $fuid, events, fetch, restart, seccomp, USR1, HUP, TERM)"
