# Sourced by the live tests of tests/capture: helpers, and a veth pair
# whose two ends sit in two network namespaces made here, with no address
# and no route, so nothing sent into one end can leave them.
#
#   . netns.sh PREFIX       sets tag, nsa, nsb (ends ${tag}0 in nsa, ${tag}1
#                           in nsb), work (a scratch dir), failed=0; removes
#                           everything on exit, after killing $pids
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
fail() { echo "FAIL: $*"; failed=1; }
failed=0
pids=""
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "iproute2 missing"
command -v tcpreplay >/dev/null || skip "tcpreplay missing"

tag=$1$$
nsa=${tag}a
nsb=${tag}b
work=$(mktemp -d "/tmp/ws-$1-XXXXXX")
chmod 755 "$work"
netns_cleanup() {
	local p
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$nsa" 2>/dev/null
	ip netns del "$nsb" 2>/dev/null
	rm -rf "$work"
}
trap netns_cleanup EXIT

ip netns add "$nsa" || skip "cannot create network namespaces here"
ip netns add "$nsb"
ip link add "${tag}0" type veth peer name "${tag}1" || skip "cannot create veth"
ip link set "${tag}0" netns "$nsa"
ip link set "${tag}1" netns "$nsb"
ip -n "$nsa" link set "${tag}0" up
ip -n "$nsb" link set "${tag}1" up
