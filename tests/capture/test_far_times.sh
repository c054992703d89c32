#!/usr/bin/env bash
# Capture times are wire data. pcaps/blaster-basic.pcapng with an if_tsoffset
# (pcapng's per-interface offset in seconds, any 64-bit value) moves every
# packet to the year 9000, past 9999, to the last seconds of a signed 64-bit
# time_t, or before 1970. The session must give the same events and the same
# carved file each time; times outside 1970..9999 are counted ("times out of
# range") and logged at the nearest bound; the year 9000 is logged as it is.
# Built with UBSan (tests/hardening), an overflow in any clock sum aborts.
#
#   test_far_times.sh WORMSNARE SOURCE_ROOT
set -u
. "$(dirname "$0")/../lib.sh"
ws=$(realpath "$1")
root=$(realpath "$2")
fail() { echo "FAIL: $*"; failed=1; }
failed=0
command -v python3 >/dev/null || skip "python3 missing"
export TZ=UTC LC_ALL=C
work=$(mktemp -d /tmp/ws-far-XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$root/pcaps/blaster-basic.pcapng
npackets=46

# with_offset SECONDS OUT: the capture with every interface's if_tsoffset set
with_offset() {
	python3 - "$src" "$1" "$2" <<'EOF'
import struct, sys
src, off, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(src, 'rb').read()
assert data[8:12] == b'\x4d\x3c\x2b\x1a', "little-endian pcapng expected"
pos, res = 0, b''
while pos < len(data):
    btype, blen = struct.unpack_from('<II', data, pos)
    block = data[pos:pos + blen]
    if btype == 1:                      # interface description: replace option 14
        body, opts, i = block[8:16], b'', 16
        while i + 4 <= blen - 4:
            code, olen = struct.unpack_from('<HH', block, i)
            if code == 0:
                break
            if code != 14:
                opts += block[i:i + 4 + (olen + 3) // 4 * 4]
            i += 4 + (olen + 3) // 4 * 4
        opts += struct.pack('<HHq', 14, 8, off) + b'\0\0\0\0'
        n = 12 + len(body) + len(opts)
        block = struct.pack('<II', 1, n) + body + opts + struct.pack('<I', n)
    res += block
    pos += blen
open(out, 'wb').write(res)
EOF
}

"$ws" -r "$src" -o "$work/ref" >/dev/null 2>&1 || fail "the capture itself fails"
[ -s "$work/ref/blast_msblast_1.bin" ] || fail "the capture itself carves nothing"

# same_session NAME OFFSET TIME_PREFIX BOUNDED
same_session() {
	local name=$1 out=$work/$1 t rc was=$failed
	failed=0
	with_offset "$2" "$work/$name.pcapng" || { fail "$name: could not write the capture"; return; }
	"$ws" -r "$work/$name.pcapng" -o "$out" >/dev/null 2>"$work/$name.err"
	rc=$?
	if [ $rc != 0 ]; then
		fail "$name: exit status $rc"; cat "$work/$name.err"; return
	fi
	if ! diff <(cut -f1,3- "$work/ref/blasterlog.txt") <(cut -f1,3- "$out/blasterlog.txt") \
		>"$work/$name.diff"; then
		fail "$name: events differ"; cat "$work/$name.diff"; return
	fi
	cmp -s "$work/ref/blast_msblast_1.bin" "$out/blast_msblast_1.bin" ||
		fail "$name: carved file differs"
	for t in $(tail -n +2 "$out/blasterlog.txt" | cut -f2); do
		case $t in "$3"*) ;; *) fail "$name: logged time $t, expected $3..." ;; esac
	done
	grep -q "times out of range $4," "$work/$name.err" ||
		fail "$name: expected 'times out of range $4': $(grep warnings "$work/$name.err")"
	[ $failed = 0 ] && echo "ok   $name"
	failed=$((failed | was))
}

base=1061301600		# 2003-08-19T14:00:00Z, the capture's first second
y9000=$(( $(date -u -d '9000-08-19T14:00:00Z' +%s) - base ))
same_session year-9000 "$y9000" 9000-08-19T14:00:00. 0
same_session past-9999 $(( 1 << 62 )) 9999-12-31T23:59:59. $npackets
same_session int64-max $(( 0x7fffffffffffffff - base - 10 )) 9999-12-31T23:59:59. $npackets
same_session before-1970 $(( -(1 << 62) )) 1970-01-01T00:00:00. $npackets
same_session just-before-1970 $(( -base - 1 )) 1970-01-01T00:00:00. $npackets
exit $failed
