#!/usr/bin/python3
"""Run the passive FTP tracker over captures and check what it carves
against tshark's own reassembly (`tshark -z follow,tcp,raw,N`).

    carve_captures.py FTP_FEED PCAP [--files NAME.files] [--status NAME=STATUS]... [--why NAME=WHY]...

tshark extracts every TCP segment; a small in-order reassembly per direction
(by sequence number: retransmissions trimmed, early segments held) turns
them into the byte stream each side sent, emitted in capture order as the
sensor's reassembler would. Connections to port 21 or 8884, or whose server
greets with "220", are control connections; every other connection is
offered to the tracker as a possible data connection (it takes only those a
control connection announced). Every file carved complete must equal
tshark's follow-stream bytes of its data connection; --files and --status
add what the capture's generator planted. Exit 0 only if all checks pass.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile

CONTROL_PORTS = {21, 8884}
HOLD_MAX = 4096


def tshark(*args):
    r = subprocess.run(["tshark", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("tshark %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def segments(pcap):
    fields = ["frame.time_epoch", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
              "tcp.dstport", "tcp.seq_raw", "tcp.flags", "tcp.payload", "tcp.stream"]
    out = tshark("-r", pcap, "-Y", "tcp", "-T", "fields", "-E", "occurrence=l",
                 *sum([["-e", f] for f in fields], []))
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < len(fields) or not f[7]:
            continue
        src, dst = f[1] or f[2], f[4] or f[5]
        yield {"t": f[0], "src": (src, int(f[3])), "dst": (dst, int(f[6])),
               "seq": int(f[7]), "flags": int(f[8], 16),
               "data": bytes.fromhex(f[9].replace(":", "")), "stream": int(f[10])}


class Direction:
    def __init__(self):
        self.next = None
        self.held = {}
        self.fin = False

    def take(self, seq, data, syn, fin):
        """In-order bytes this segment makes available (possibly with held ones)."""
        if syn:
            self.next = (seq + 1) & 0xffffffff
            return b""
        if self.next is None:
            self.next = seq
        out = b""
        if data:
            self.held.setdefault(seq, data)
            if len(self.held) > HOLD_MAX:
                self.held.pop(next(iter(self.held)))
        if fin:
            self.held.setdefault((seq + len(data)) & 0xffffffff, b"FIN")
        progress = True
        while progress:
            progress = False
            for s in list(self.held):
                d = self.held[s]
                off = (self.next - s) & 0xffffffff
                if d == b"FIN" and s == self.next and not self.fin:
                    self.fin = True
                    del self.held[s]
                    progress = True
                elif d != b"FIN" and off < len(d) and off < 0x80000000:
                    out += d[off:]
                    self.next = (self.next + len(d) - off) & 0xffffffff
                    del self.held[s]
                    progress = True
                elif d != b"FIN" and off < 0x80000000 and off >= len(d):
                    del self.held[s]     # entirely old: a retransmission
        return out


def feed_lines(segs):
    conns = {}
    # who opened each connection, and is it FTP control
    for s in segs:
        key = (s["stream"])
        c = conns.setdefault(key, {"client": None, "ctl": False, "dirs": {}, "ended": False,
                                   "first": s})
        if s["flags"] & 0x02 and not s["flags"] & 0x10:
            c["client"] = s["src"]
    for s in segs:
        c = conns[s["stream"]]
        if c["client"] is None:      # no SYN seen: the lower port is the server's
            f = c["first"]
            c["client"] = f["src"] if f["src"][1] > f["dst"][1] else f["dst"]
        server = s["dst"] if s["src"] == c["client"] else s["src"]
        if server[1] in CONTROL_PORTS:
            c["ctl"] = True
        if s["src"] == server and s["data"].startswith(b"220") and not c.get("seen_server"):
            c["ctl"] = True
        if s["src"] == server and s["data"]:
            c["seen_server"] = True
    lines = []
    for s in segs:
        c = conns[s["stream"]]
        if c["ended"]:
            continue
        from_client = s["src"] == c["client"]
        server = s["dst"] if from_client else s["src"]
        d = c["dirs"].setdefault(from_client, Direction())
        data = d.take(s["seq"], s["data"], bool(s["flags"] & 0x02), bool(s["flags"] & 0x01))
        head = "%s %s %d %s %d" % (s["t"], c["client"][0], c["client"][1], server[0], server[1])
        if data:
            lines.append("%s %s %s %s" % ("C" if c["ctl"] else "D", head,
                                         "c" if from_client else "s", data.hex()))
        rst = bool(s["flags"] & 0x04)
        fins = sum(1 for x in c["dirs"].values() if x.fin)
        # control: over when both sides closed; data: the first FIN ends the file
        if rst or (fins == 2 if c["ctl"] else fins >= 1):
            c["ended"] = True
            lines.append("%s %s %s" % ("X" if c["ctl"] else "E", head, "R" if rst else "F"))
    return "\n".join(lines) + "\n", conns


def follow(pcap, stream, sender):
    """The bytes `sender` (addr, port) sent on the stream, as tshark reassembles them."""
    out = tshark("-r", pcap, "-q", "-z", "follow,tcp,raw,%d" % stream)
    nodes, data = {}, {0: b"", 1: b""}
    for line in out.splitlines():
        if line.startswith("Node 0: ") or line.startswith("Node 1: "):
            host, _, port = line[8:].rpartition(":")
            nodes[(host.strip("[]"), int(port))] = int(line[5])
        elif line and not line.startswith(("=", "Follow", "Filter")):
            node = 1 if line.startswith("\t") else 0
            try:
                data[node] += bytes.fromhex(line.strip())
            except ValueError:
                pass
    return data.get(nodes.get(sender, -1), None)


def unescape(s):
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), s)


def parse_result(line):
    r = {k: unescape(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}
    for k in ("sender", "receiver"):
        host, _, port = r[k].rpartition(":")
        r[k] = (host, int(port))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("feed")
    ap.add_argument("pcap")
    ap.add_argument("--files")
    ap.add_argument("--status", action="append", default=[])
    ap.add_argument("--why", action="append", default=[])
    ap.add_argument("--max-file-size")
    a = ap.parse_args()
    fails = 0

    def check(ok, what):
        nonlocal fails
        print("%s %s: %s" % ("ok  " if ok else "FAIL", os.path.basename(a.pcap), what))
        fails += not ok

    segs = list(segments(a.pcap))
    text, conns = feed_lines(segs)
    with tempfile.TemporaryDirectory() as out:
        cmd = [a.feed, out] + ([a.max_file_size] if a.max_file_size else [])
        r = subprocess.run(cmd, input=text, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("ftp_feed failed: " + r.stderr)
        results = [parse_result(l) for l in r.stdout.splitlines() if l.startswith("file ")]
        stats = [l for l in r.stdout.splitlines() if l.startswith("stats ")]
        print("   " + (stats[0] if stats else "no stats"))
        by_pair = {}
        for s in segs:
            by_pair.setdefault((s["src"], s["dst"]), set()).add(s["stream"])
        for res in results:
            carved = open(os.path.join(out, res["serial"] + ".bin"), "rb").read()
            check(hashlib.md5(carved).hexdigest() == res["md5"] and len(carved) == int(res["bytes"]),
                  "%s: the file written is what was hashed" % res["name"])
            if res["status"] != "ok":
                continue
            streams = sorted(by_pair.get((res["sender"], res["receiver"]), ()))
            wire = follow(a.pcap, streams[0], res["sender"]) if len(streams) == 1 else None
            check(wire == carved, "%s: %d bytes equal tshark's follow-stream of stream %s" %
                  (res["name"], len(carved), streams))
        if a.files:
            for line in open(a.files):
                name, size, md5, sha = line.rstrip("\n").split("\t")
                hit = [x for x in results if x["name"] == name and x["status"] == "ok"
                       and x["md5"] == md5 and x["sha256"] == sha and x["bytes"] == size]
                check(len(hit) == 1, "%s carved complete, %s bytes, md5 %s" % (name, size, md5))
        for want in a.status:
            name, _, status = want.partition("=")
            hit = [x for x in results if x["name"] == name]
            check(len(hit) == 1 and hit[0]["status"] == status,
                  "%s ends %s (got %s)" % (name, status, [x["status"] for x in hit]))
        for want in a.why:
            name, _, why = want.partition("=")
            hit = [x for x in results if x["name"] == name]
            check(len(hit) == 1 and hit[0]["why"] == why,
                  "%s incomplete because %s (got %s)" % (name, why, [x["why"] for x in hit]))
        if not a.files and not a.status:
            print("   %d file(s) carved, %d control connection(s)" %
                  (len(results), sum(1 for c in conns.values() if c["ctl"])))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
