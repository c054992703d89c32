#!/usr/bin/env bash
# The FTP fetch engine against a real FTP server (pyftpdlib) that this test
# starts on 127.0.0.1, on random free ports. Nothing leaves 127.0.0.0/8: the
# one other address used, 127.0.0.2, is the lie a hostile 227 reply tells.
#
#   test_fetch.sh FETCH_DRIVER SOURCE_ROOT
set -u
drv=$(realpath "$1")
root=$(realpath "$2")
py=/usr/bin/python3
export LC_ALL=C
if ! $py -c 'import pyftpdlib' 2>/dev/null; then
	echo "SKIP: python3-pyftpdlib is not installed (.ci/install-deps)"; exit 77
fi
work=$(mktemp -d /tmp/ws-ftp-fetch-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; shift; for l in "$@"; do echo "  $l"; done; fail=$((fail + 1)); }

mkdir -p "$work/root/sub"
head -c 300000 /dev/urandom >"$work/root/ssms.exe"
head -c 5000 /dev/urandom >"$work/root/we ird %41#?;.exe"
head -c 777 /dev/urandom >"$work/root/sub/deep.exe"
echo "keep me" >"$work/root/victim.txt"
md5() { md5sum <"$1" | cut -d' ' -f1; }

# start_server NAME [ftpd.py options...]: sets $port; logs in $work/NAME.log
start_server() {
	local name=$1; shift
	rm -f "$work/$name.port"
	$py "$root/tests/ftp/ftpd.py" --root "$work/root" --port-file "$work/$name.port" \
		--log "$work/$name.log" "$@" 2>"$work/$name.err" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$work/$name.port" ] && break; sleep 0.05; done
	port=$(cat "$work/$name.port" 2>/dev/null)
	[ -n "$port" ] || { echo "cannot start the FTP server: $(cat "$work/$name.err")"; exit 1; }
}

# field NAME LINE: the value of NAME= in a driver output line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
status_of() { sed -n 's/^[0-9]* status=\(.*\) bytes=.*/\1/p' <<<"$1"; }

# --- passive, three at once, hashes equal the served file
start_server plain --user bot:s3cret
out=$("$drv" -n 3 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
want=$(md5 "$work/root/ssms.exe")
if [ "$(grep -c "status=ok bytes=300000 mode=passive md5=$want" <<<"$out")" = 3 ] &&
	[ "$(md5 "$work/o.2")" = "$want" ]; then
	ok "passive-three-at-once"
else
	bad "passive-three-at-once" "$out"
fi

# --- the user and password the script gave; a wrong one is the server's 530
out=$("$drv" -u bot -p s3cret 127.0.0.1 "$port" sub/deep.exe "$work/o" 2>&1)
if [ "$(field md5 "$out")" = "$(md5 "$work/root/sub/deep.exe")" ] &&
	grep -qx 'USER bot' "$work/plain.log" && grep -qx 'RETR sub/deep.exe' "$work/plain.log"; then
	ok "login-user-password"
else
	bad "login-user-password" "$out"
fi
out=$("$drv" -u bot -p wrong 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
case $(status_of "$out") in
ftp-error:530:*) ok "login-refused" ;;
*) bad "login-refused" "$out" ;;
esac

# --- anonymous when no user is given
grep -qx 'USER anonymous' "$work/plain.log" && ok "anonymous-default" || bad "anonymous-default"

# --- nothing from the environment: proxies and ~/.netrc are ignored
mkdir -p "$work/home"
printf 'machine 127.0.0.1 login bot password s3cret\n' >"$work/home/.netrc"
chmod 600 "$work/home/.netrc"
: >"$work/plain.log"
out=$(HOME="$work/home" ftp_proxy=http://127.0.0.1:9 all_proxy=socks5://127.0.0.1:9 \
	ALL_PROXY=http://127.0.0.1:9 "$drv" 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
if grep -q "status=ok bytes=300000 mode=passive md5=$want" <<<"$out" &&
	grep -qx 'USER anonymous' "$work/plain.log" && ! grep -q 'USER bot' "$work/plain.log"; then
	ok "no-proxy-no-netrc"
else
	bad "no-proxy-no-netrc" "$out" "$(cat "$work/plain.log")"
fi

# --- a missing file: the server's 550, its text kept
out=$("$drv" 127.0.0.1 "$port" missing.exe "$work/o" 2>&1)
case $(status_of "$out") in
ftp-error:550:*) ok "missing-550" ;;
*) bad "missing-550" "$out" ;;
esac

# --- over max_size: refused from the SIZE answer, nothing kept
out=$("$drv" -m 100000 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
if [ "$(status_of "$out")" = too-large ] && [ "$(stat -c %s "$work/o.0")" -le 100000 ]; then
	ok "too-large-announced"
else
	bad "too-large-announced" "$out"
fi

# --- hostile names: a line break never reaches the server, odd bytes arrive intact,
#     a path out of the server's root is the server's refusal
out=$("$drv" 127.0.0.1 "$port" $'x.exe\r\nDELE victim.txt' "$work/o" 2>&1)
if grep -q 'status=refused:invalid transfer parameters: line break' <<<"$out" &&
	! grep -q DELE "$work/plain.log" && [ -f "$work/root/victim.txt" ]; then
	ok "name-with-crlf-refused"
else
	bad "name-with-crlf-refused" "$out"
fi
out=$("$drv" 127.0.0.1 "$port" 'we ird %41#?;.exe' "$work/o" 2>&1)
if [ "$(field md5 "$out")" = "$(md5 "$work/root/we ird %41#?;.exe")" ] &&
	grep -qxF 'RETR we ird %41#?;.exe' "$work/plain.log"; then
	ok "name-with-odd-bytes"
else
	bad "name-with-odd-bytes" "$out" "$(grep RETR "$work/plain.log")"
fi
out=$("$drv" 127.0.0.1 "$port" '../../../etc/passwd' "$work/o" 2>&1)
# (libcurl asks SIZE first; the name reaches the server exactly as given)
if [[ $(status_of "$out") == ftp-error:550:* ]] && grep -qxE '(SIZE|RETR) \.\./\.\./\.\./etc/passwd' "$work/plain.log"; then
	ok "name-escaping-root"
else
	bad "name-escaping-root" "$out"
fi

# --- nothing listens: connect-failed
out=$("$drv" -c 2 127.0.0.1 1 x.exe "$work/o" 2>&1)
case $(status_of "$out") in
connect-failed:*) ok "connect-failed" ;;
*) bad "connect-failed" "$out" ;;
esac

# --- active mode: the server refuses PASV/EPSV; only the configured fallback fetches
start_server activeonly --no-pasv --no-size
out=$("$drv" 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
case $(status_of "$out") in
ftp-error:502:*) ok "no-fallback-fails" ;;
*) bad "no-fallback-fails" "$out" ;;
esac
out=$("$drv" -a 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
if grep -q "status=ok bytes=300000 mode=active md5=$want" <<<"$out" &&
	grep -q '^EPRT \|^PORT ' "$work/activeonly.log"; then
	ok "active-fallback"
else
	bad "active-fallback" "$out"
fi
# no SIZE answer: the running byte cap stops it
out=$("$drv" -a -m 100000 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
if [ "$(status_of "$out")" = too-large ] && [ "$(stat -c %s "$work/o.0")" -le 100000 ]; then
	ok "too-large-running-cap"
else
	bad "too-large-running-cap" "$out"
fi

# --- a server that stalls: the overall deadline fires
start_server stall --stall ssms.exe
t0=$(date +%s%N)
out=$("$drv" -t 2 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$(status_of "$out")" = timeout ] && [ "$ms" -ge 1900 ] && [ "$ms" -lt 6000 ]; then
	ok "stall-timeout (${ms} ms)"
else
	bad "stall-timeout" "$out" "after $ms ms"
fi

# --- a 227 naming another address (127.0.0.2): never connected to, the file
#     still comes from the control connection's server (CURLOPT_FTP_SKIP_PASV_IP)
base=$((40000 + RANDOM % 20000))
range="$base-$((base + 4))"
rm -f "$work/sentinel.log"
$py - "$work/sentinel.log" "$base" <<'PY' &
import socket, sys, select
log, base = sys.argv[1], int(sys.argv[2])
socks = []
for p in range(base, base + 5):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.2", p)); s.listen(5); socks.append(s)
    except OSError:
        s.close()
open(log + ".ready", "w").write("%d\n" % len(socks))
while True:
    r, _, _ = select.select(socks, [], [])
    for s in r:
        c, a = s.accept()
        open(log, "a").write("connection from %s:%d to port %d\n" % (a[0], a[1], s.getsockname()[1]))
        c.close()
PY
pids+=($!)
for _ in $(seq 100); do [ -s "$work/sentinel.log.ready" ] && break; sleep 0.05; done
start_server masq --no-epsv --masquerade 127.0.0.2 --passive-ports "$range"
out=$("$drv" 127.0.0.1 "$port" ssms.exe "$work/o" 2>&1)
if grep -q "status=ok bytes=300000 mode=passive md5=$want" <<<"$out" &&
	grep -qx PASV "$work/masq.log" && [ ! -s "$work/sentinel.log" ]; then
	ok "pasv-elsewhere-not-followed"
else
	bad "pasv-elsewhere-not-followed" "$out" "$(cat "$work/sentinel.log" 2>/dev/null)"
fi
# the control experiment: a client that trusts the 227 does go to 127.0.0.2,
# so the sentinel above would have seen our engine do it
if command -v curl >/dev/null; then
	curl -s --max-time 5 --disable-epsv --no-ftp-skip-pasv-ip --noproxy '*' \
		"ftp://127.0.0.1:$port/ssms.exe" -o /dev/null
	if [ -s "$work/sentinel.log" ]; then
		ok "pasv-elsewhere-sentinel-works"
	else
		bad "pasv-elsewhere-sentinel-works" "curl --no-ftp-skip-pasv-ip did not reach 127.0.0.2"
	fi
fi

# --- an odd port, as the bots use (8884), when free on this machine
if $py -c 'import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 8884))' 2>/dev/null; then
	start_server odd --port 8884
	out=$("$drv" 127.0.0.1 8884 ssms.exe "$work/o" 2>&1)
	if [ "$port" = 8884 ] && grep -q "status=ok bytes=300000 .*md5=$want" <<<"$out"; then
		ok "odd-port-8884"
	else
		bad "odd-port-8884" "$out"
	fi
else
	echo "skip odd-port-8884: 127.0.0.1:8884 is in use"
fi

echo "ftp fetch: $pass passed, $fail failed"
[ "$fail" = 0 ]
