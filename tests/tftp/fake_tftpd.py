#!/usr/bin/python3
"""A TFTP server that misbehaves on purpose, on 127.0.0.1 only.

    fake_tftpd.py MODE PORTFILE REPORT

Binds 127.0.0.1 on a free port (written to PORTFILE), answers ONE read
request the way MODE says, writes what it saw to REPORT, and exits after at
most 20 seconds whatever happens.

Modes:
  silent       never answers
  wrong-port   answers from its TID, and also sends DATA from a second port:
               the client must ignore it and answer that port with ERROR 5
  forever      sends full DATA blocks without end (the client's size cap stops it)
  reorder      sends block 2 before block 1, then serves in lockstep
  garbage      sends random datagrams from its TID before serving properly
  error-mid    sends ERROR 0 "disk on fire" after three blocks
  big-oack     answers the options with a blksize larger than asked
  no-options   ignores options: plain 512-byte blocks
"""
import os
import random
import socket
import struct
import sys
import time

FILE = bytes((i * 7 + 3) & 0xff for i in range(5000))   # what the good modes serve
DEADLINE = time.time() + 20


def data(block, payload):
    return struct.pack("!HH", 3, block & 0xffff) + payload


def recv(sock, timeout=3.0):
    sock.settimeout(max(0.05, min(timeout, DEADLINE - time.time())))
    try:
        return sock.recvfrom(70000)
    except socket.timeout:
        return None, None


def parse_rrq(pkt):
    parts = pkt[2:].split(b"\0")
    opts = dict(zip(parts[2::2], parts[3::2]))
    return parts[0].decode("latin-1"), {k.decode().lower(): v.decode() for k, v in opts.items() if k}


def serve_lockstep(tid, client, blksize, start_block=1, first_sent=()):
    """Send FILE in blocks, each after the ACK of the previous one."""
    blocks = [FILE[i:i + blksize] for i in range(0, len(FILE) + 1, blksize)]
    if len(FILE) % blksize and blocks[-1] == b"":
        blocks.pop()
    n = start_block
    if n not in first_sent:
        tid.sendto(data(n, blocks[n - 1]), client)
    while time.time() < DEADLINE:
        pkt, addr = recv(tid)
        if pkt is None:
            tid.sendto(data(n, blocks[n - 1]), client)   # retransmit
            continue
        op, blk = struct.unpack("!HH", pkt[:4])
        if op == 4 and blk == n:
            if n == len(blocks):
                return "done"
            n += 1
            tid.sendto(data(n, blocks[n - 1]), client)
    return "deadline"


def main():
    mode, portfile, report = sys.argv[1], sys.argv[2], sys.argv[3]
    lsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lsock.bind(("127.0.0.1", 0))
    with open(portfile + ".tmp", "w") as f:
        f.write(str(lsock.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    seen = []
    pkt, client = recv(lsock, 15)
    if pkt is None:
        seen.append("no request")
    else:
        name, opts = parse_rrq(pkt)
        seen.append("rrq %s %s" % (name, sorted(opts)))
        tid = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tid.bind(("127.0.0.1", 0))
        asked = int(opts.get("blksize", "512"))
        if mode == "silent":
            recv(lsock, 10)
        elif mode == "no-options":
            seen.append(serve_lockstep(tid, client, 512))
        elif mode == "big-oack":
            tid.sendto(b"\0\6blksize\0%d\0" % (asked + 100), client)
            pkt, _ = recv(tid)
            if pkt and pkt[:2] == b"\0\5":
                seen.append("error %d" % struct.unpack("!H", pkt[2:4]))
        else:
            if "blksize" in opts:   # accept the options
                tid.sendto(b"\0\6blksize\0%d\0tsize\0%d\0" % (asked, len(FILE)), client)
                pkt, _ = recv(tid)
                assert pkt is not None and pkt[:4] == b"\0\4\0\0", pkt
            if mode == "wrong-port":
                intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                intruder.bind(("127.0.0.1", 0))
                intruder.sendto(data(1, b"X" * asked), client)
                pkt, _ = recv(intruder, 2)
                if pkt and pkt[:4] == b"\0\5\0\5":
                    seen.append("intruder got error 5")
                seen.append(serve_lockstep(tid, client, asked))
            elif mode == "forever":
                block, payload = 1, b"F" * asked
                while time.time() < DEADLINE:
                    tid.sendto(data(block, payload), client)
                    pkt, _ = recv(tid, 2)
                    if pkt is None or pkt[:2] == b"\0\5":
                        seen.append("client stopped at block %d" % block)
                        break
                    block += 1
            elif mode == "reorder":
                tid.sendto(data(2, FILE[asked:2 * asked]), client)
                tid.sendto(data(1, FILE[:asked]), client)
                seen.append(serve_lockstep(tid, client, asked, 2, first_sent=(1,)))
            elif mode == "garbage":
                rnd = random.Random(7)
                for _ in range(50):
                    tid.sendto(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 80))),
                               client)
                tid.sendto(b"\0\3", client)           # truncated DATA
                tid.sendto(b"\0\x09junk", client)      # unknown opcode
                seen.append(serve_lockstep(tid, client, asked))
            elif mode == "error-mid":
                for b in (1, 2, 3):
                    tid.sendto(data(b, FILE[(b - 1) * asked:b * asked]), client)
                    recv(tid)
                tid.sendto(b"\0\5\0\0disk on fire\0", client)
                seen.append("error sent")
    with open(report, "w") as f:
        f.write("\n".join(seen) + "\n")


if __name__ == "__main__":
    main()
