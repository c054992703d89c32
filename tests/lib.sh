# Sourced by the shell tests: small helpers they all need.
#
#   skip WHY          exit 77 (meson's "skipped")
#   wait_for S CMD... run CMD every 0.1 s until it succeeds or S seconds pass
#                     (then its status is CMD's last): tests wait on what they
#                     check, not on a fixed sleep that a loaded CI machine
#                     under ASan can outrun
#   free_udp_port     a UDP port on 127.0.0.1 that nothing holds now
#   udp_bound PORT    something listens on UDP PORT
#   nrows FILE        data rows of a TSV log (0 when it does not exist)
#   rows_are FILE N   exactly N data rows;  rows_at_least FILE N  N or more
#   packet_sockets PID
#                     how many packet sockets PID holds (its socket inodes
#                     that /proc/PID/net/packet, its namespace's, lists)
skip() { echo "SKIP: $*"; exit 77; }
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@"
}
free_udp_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
nrows() { tail -n +2 "$1" 2>/dev/null | wc -l; }
rows_are() { [ "$(nrows "$1")" = "$2" ]; }
rows_at_least() { [ "$(nrows "$1")" -ge "$2" ]; }
udp_bound() { ss -Hnlu "sport = :$1" 2>/dev/null | grep -q .; }
packet_sockets() {
	local inodes
	inodes=$(awk 'NR > 1 {print $9}' "/proc/$1/net/packet" | sort -u)
	for l in /proc/$1/fd/*; do
		readlink "$l"
	done 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | sort -u | comm -12 - <(echo "$inodes") | wc -l
}
