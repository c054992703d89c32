#!/usr/bin/env bash
# `meson install` puts the configuration where its comments say, with the
# shipped known hashes active, and the installed config works.
#
#   test_install.sh BUILD_ROOT SOURCE_ROOT
#
# Installs into a DESTDIR, then checks: the programs, both man pages, the
# config and the known hashes are installed; the installed config differs
# from config/wormsnare.yaml only in output.dir and carve.known_hashes;
# carve.known_hashes names the installed known-hashes.yaml; a replay with
# the installed config (its two paths moved into the DESTDIR) tags a carved
# file whose hash is added to that installed file.
set -u
build=$(realpath "$1")
root=$(realpath "$2")
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
failed=0
work=$(mktemp -d /tmp/ws-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
dest=$work/dest

meson install -C "$build" --no-rebuild --destdir "$dest" >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; echo "FAIL: meson install"; exit 1; }

conf=$(find "$dest" -path '*/wormsnare/wormsnare.yaml' | head -1)
[ -n "$conf" ] || { find "$dest"; echo "FAIL: no wormsnare/wormsnare.yaml installed"; exit 1; }
for f in bin/wormsnare bin/tftpfetch share/man/man8/wormsnare.8 share/man/man1/tftpfetch.1; do
	[ -n "$(find "$dest" -path "*/$f")" ] && ok "installed $f" || fail "$f not installed"
done

diff "$root/config/wormsnare.yaml" "$conf" >"$work/diff"
changed=$(grep '^>' "$work/diff" | sed 's/^> *//; s/:.*//' | sort | tr '\n' ' ')
[ "$changed" = "dir known_hashes " ] && ok "installed config changes only: $changed" ||
	fail "installed config differs in: $changed$(cat "$work/diff")"

kh=$(sed -n 's/^  known_hashes: //p' "$conf")
outdir=$(sed -n 's/^  dir: //p' "$conf")
case $kh in /*) ;; *) fail "known_hashes is not an absolute path: $kh" ;; esac
[ "$kh" = "$(dirname "${conf#$dest}")/known-hashes.yaml" ] && [ -f "$dest$kh" ] &&
	ok "carve.known_hashes is the installed $kh" || fail "known_hashes $kh is not installed beside the config"
case $outdir in */lib/wormsnare) ok "output.dir is the state directory $outdir" ;;
	*) fail "output.dir $outdir is not a state directory" ;; esac

# the installed config at work: the carved sample of the demo capture is
# tagged through the installed known-hashes file
md5=$(awk -F"\t" '{print $3; exit}' "$root/pcaps/blaster-basic.files")
printf '%s: "demo sample"\n' "$md5" >>"$dest$kh"
sed "s|^  known_hashes: .*|  known_hashes: $dest$kh|; s|^  dir: .*|  dir: $work/out|" "$conf" >"$work/run.yaml"
"$dest$(find "$dest" -path '*/bin/wormsnare' | sed "s|^$dest||")" -r "$root/pcaps/blaster-basic.pcap" \
	-c "$work/run.yaml" >"$work/stdout" 2>"$work/stderr" || fail "replay with the installed config: $(cat "$work/stderr")"
awk -F'\t' 'NR > 1 && $NF == "demo sample"' "$work/out/fetchlog.txt" 2>/dev/null | grep -q . &&
	ok "installed known hashes are active (Known column set)" ||
	fail "Known column not set: $(cat "$work/out/fetchlog.txt" 2>&1)"
echo "install: $failed failed"
[ "$failed" = 0 ]
