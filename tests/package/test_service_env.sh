#!/usr/bin/env bash
# wormsnare as debian/wormsnare@.service starts it: not root, with the unit's
# ambient capabilities, bounding set and no-new-privs (through setpriv(1),
# read from the unit file, so this follows the unit). Capture on the loopback
# of a network namespace this test creates (nothing can leave it); fetching
# on, redirected to 127.0.0.1 in that namespace, and no command is sent, so
# no fetch happens.
#
#   test_service_env.sh WORMSNARE SOURCE_ROOT
#
# What the unit relies on (issue 10's process model), checked through /proc
# two seconds after start:
#   - the process holding the packet socket has no capability left (CapPrm,
#     CapEff, CapAmb all 0) and is chrooted (its root is not /);
#   - no process keeps CAP_NET_RAW or CAP_NET_ADMIN, and none but one
#     monitor (ws-monitor) keeps any capability; ambient sets are empty
#     everywhere but in the monitor, which holds CAP_SETUID, CAP_SETGID and
#     CAP_SYS_CHROOT there so the fetcher it executes can switch to its own
#     user and chroot (the fetcher then clears every set);
#   - the fetcher runs under another uid than the sensor;
#   - SIGTERM ends the service with status 0 and the logs exist.
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
. "$root/tests/lib.sh"
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
failed=0

[ "$(id -u)" = 0 ] || skip "needs root (network namespace, setpriv to another user)"
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
command -v ip >/dev/null || skip "iproute2 missing"
unit=$root/debian/wormsnare@.service
[ -f "$unit" ] || skip "no $unit"

key() { sed -n "s/^$1=//p" "$unit" | tail -1; }
capset() { key "$1" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/^/-all,+/; s/ /,+/g'; }
user=$(key User)
id "$user" >/dev/null 2>&1 || user=nobody    # the package's sysusers.d makes it
group=$(id -gn "$user")
amb=$(capset AmbientCapabilities)
bnd=$(capset CapabilityBoundingSet)
[ "$(key NoNewPrivileges)" = yes ] && nnp=--no-new-privs || nnp=
echo "unit: User=$user, ambient/inheritable $amb, bounding $bnd $nnp"

tag=wsdeb$$
ns=${tag}n
work=$(mktemp -d /tmp/ws-service-XXXXXX)
chmod 755 "$work"
cleanup() {
	[ -n "${wspid:-}" ] && kill -9 "$wspid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" || skip "cannot create network namespaces here"
ip -n "$ns" link set lo up
# the StateDirectory systemd would make: owned by the user, mode 0750
install -d -o "$user" -g "$group" -m 750 "$work/state"
printf 'fetch:\n  redirect: "127.0.0.1:9"\n' >"$work/ws.yaml"
chmod 644 "$work/ws.yaml"

ip netns exec "$ns" setpriv --reuid="$user" --regid="$group" --clear-groups \
	--inh-caps="$amb" --ambient-caps="$amb" --bounding-set="$bnd" $nnp \
	"$ws" -i lo -c "$work/ws.yaml" -o "$work/state/lo" >"$work/out" 2>"$work/err" &
wspid=$!

# the whole process tree of the service
tree() { local p=$1 c; echo "$p"; for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done; }
# started: the monitor, ws-sensor, ws-fetcher and the workers, each child
# under its seccomp filter (its last step before it runs)
settled() {
	local p n=0
	for p in $(tree "$wspid" | tail -n +2); do
		[ "$(sed -n 's/^Seccomp:\t//p' /proc/"$p"/status 2>/dev/null)" = 2 ] || return 1
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
}
for _ in $(seq 300); do settled && break; sleep 0.1; done
kill -0 "$wspid" 2>/dev/null || { cat "$work/err"; fail "did not start"; wspid=; exit 1; }
pids=$(tree "$wspid")
cap() { sed -n "s/^$2:\t//p" /proc/"$1"/status; }
holds_packet() { [ "$(packet_sockets "$1")" -gt 0 ]; }
NET=$(( (1 << 12) | (1 << 13) ))   # CAP_NET_ADMIN, CAP_NET_RAW
capturer= with_caps=0 uids=
for p in $pids; do
	name=$(cat /proc/"$p"/comm)
	uid=$(awk '/^Uid:/ {print $2}' /proc/"$p"/status)
	prm=$((16#$(cap "$p" CapPrm))) amb=$((16#$(cap "$p" CapAmb)))
	rootlink=$(readlink /proc/"$p"/root)
	echo "process $p $name uid $uid CapPrm $(cap "$p" CapPrm) CapAmb $(cap "$p" CapAmb) root $rootlink"
	uids="$uids $name:$uid"
	MONITOR_AMB=$(( (1 << 6) | (1 << 7) | (1 << 18) ))   # CAP_SETGID, CAP_SETUID, CAP_SYS_CHROOT
	if [ "$name" = ws-monitor ]; then
		[ $((amb & ~MONITOR_AMB)) = 0 ] || fail "monitor ambient capabilities $(cap "$p" CapAmb)"
	else
		[ "$amb" = 0 ] || fail "$name ($p) has ambient capabilities $(cap "$p" CapAmb): an exec hands them on"
	fi
	[ $((prm & NET)) = 0 ] || fail "$name ($p) keeps CAP_NET_RAW/CAP_NET_ADMIN"
	[ "$prm" = 0 ] || with_caps=$((with_caps + 1))
	if holds_packet "$p"; then
		capturer=$p
		[ "$prm" = 0 ] && ok "$name ($p) holds the packet socket with no capability" ||
			fail "$name ($p) holds the packet socket with capabilities $(cap "$p" CapPrm)"
		[ "$rootlink" != / ] && ok "$name ($p) is chrooted ($rootlink)" || fail "$name ($p) is not chrooted"
	fi
done
[ -n "$capturer" ] || fail "no process of the service holds a packet socket"
[ "$with_caps" -le 1 ] && ok "$with_caps process(es) keep a capability (at most a monitor)" ||
	fail "$with_caps processes keep capabilities"
sensor_uid=$(tr ' ' '\n' <<<"$uids" | sed -n 's/^ws-sensor://p' | head -1)
fetcher_uid=$(tr ' ' '\n' <<<"$uids" | sed -n 's/^ws-fetcher://p' | head -1)
[ -n "$sensor_uid" ] && [ -n "$fetcher_uid" ] && [ "$sensor_uid" != "$fetcher_uid" ] &&
	ok "ws-sensor (uid $sensor_uid) and ws-fetcher (uid $fetcher_uid) differ" ||
	fail "sensor and fetcher uids: $uids"

kill -TERM "$wspid"
wait "$wspid"
rc=$?
wspid=
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc: $(cat "$work/err")"
[ -f "$work/state/lo/blasterlog.txt" ] && ok "event log in the state directory" || fail "no event log"
echo "service environment: $([ $failed = 0 ] && echo passed || echo failed)"
exit $failed
