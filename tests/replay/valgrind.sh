#!/usr/bin/env bash
# Memcheck over a replay of every sample capture (and of the public captures
# in ../shared when present): no invalid access, no leak, or the test fails.
#
#   valgrind.sh WORMSNARE SOURCE_ROOT
set -u
ws=$(realpath "$1")
root=$(realpath "$2")
command -v valgrind >/dev/null || { echo "SKIP: valgrind missing"; exit 77; }
work=$(mktemp -d /tmp/ws-vg-XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
caps=("$root"/pcaps/*.pcap "$root"/pcaps/*.pcapng)
shared=$root/../shared/pcaps/third_party
[ -d "$shared" ] && mapfile -t -O "${#caps[@]}" caps < <(find "$shared" -name '*.pcap*' | sort)
for cap in "${caps[@]}"; do
	out=$work/out-$pass-$fail
	valgrind -q --vgdb=no --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--child-silent-after-fork=yes "$ws" -r "$cap" -o "$out" >/dev/null 2>"$work/err"
	rc=$?
	if [ $rc = 99 ] || grep -q '^==[0-9]*== ' "$work/err"; then
		echo "FAIL ${cap#"$root"/}"; grep '^==' "$work/err" | head -30; fail=$((fail + 1))
	else
		pass=$((pass + 1))	# rc 1 is a clean refusal of a broken capture
	fi
	rm -rf "$out"
done
echo "valgrind: $pass captures clean, $fail with errors"
[ "$fail" = 0 ]
