#!/usr/bin/python3
"""The reassembled bytes of public captures against what their own tests expect.

    test_third_party.py REASM_DUMP THIRD_PARTY_DIR

THIRD_PARTY_DIR is ../shared/pcaps/third_party (SOURCES.md there says where each
file comes from); the test is skipped (exit 77) when it is absent. The real Blaster
capture is read from pcaps/ in the source tree. Expectations:
  - suricata-verify eve-payload-01 / -04: the stream payload is "GOOD" (their
    test.yaml: payload_printable GOOD for the stream alert): the first copy stays;
  - bug-3286-01/02/03: the session-tracking evasions (RST/FIN/RST before the real
    SYN-ACK) still give the whole HTTP request and the 200 response of 14 bytes
    (their test.yaml: http.status 200, http.length 14);
  - smb-eicar-overlap: the EICAR test string comes out of the overlapping
    segments whole (their test.yaml: the EICAR signature alerts);
  - blaster (2003, every checksum bad, the session twice): the two commands once.
"""
import os
import subprocess
import sys

EICAR = b"X5O!P%@AP[4\\x5cPZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def dump(tool, path, *opts):
    out = subprocess.run([tool, *opts, path], capture_output=True, check=True).stdout
    flows, cur = [], None
    for line in out.split(b"\n"):
        if line.startswith(b"flow "):
            cur = {"head": line.decode(), "c2s": b"", "s2c": b""}
            flows.append(cur)
        elif line[:4] in (b"c2s ", b"s2c ") and cur is not None:
            cur[line[:3].decode()] = line.split(b" ", 2)[2]
    return flows


def main():
    tool, shared = sys.argv[1], sys.argv[2]
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    blaster = dump(tool, os.path.join(src, "pcaps", "third-party-blaster.pcap"), "-p", "4444")
    check(len(blaster) == 1 and blaster[0]["c2s"] == b"start msblast.exe\\x0amsblast.exe\\x0a"
          and blaster[0]["head"].endswith("close rst"),
          "blaster: bad checksums everywhere (offload), session twice: commands once")
    sv = os.path.join(shared, "suricata-verify")
    if not os.path.isdir(sv):
        print("skip: %s absent" % sv)
        sys.exit(1 if failures else 77)
    for name, f in (("eve-payload-01-tcp-exact-overlap", "tcp-overlap.pcap"),
                    ("eve-payload-04-partial-overlap", "tcp-overlap2.pcap")):
        flows = dump(tool, os.path.join(sv, name, f))
        check(len(flows) == 1 and flows[0]["c2s"] == b"GOOD", name + ": stream is GOOD")
    for name, f in (("bug-3286-01-no-evasion", "without_evasion.pcap"),
                    ("bug-3286-02-linux-evasion", "with_evasion_linux.pcap"),
                    ("bug-3286-03-windows-evasion", "with_evasion_windows.pcap")):
        flows = dump(tool, os.path.join(sv, name, f))
        check(len(flows) == 1 and flows[0]["c2s"].startswith(b"GET / HTTP/1.1\\x0d\\x0a")
              and flows[0]["s2c"].startswith(b"HTTP/1.1 200 OK")
              and flows[0]["s2c"].endswith(b"\\x0d\\x0a\\x0d\\x0aTHIS_IS_A_TEST"),
              name + ": request and 14-byte response whole")
    flows = dump(tool, os.path.join(sv, "smb-eicar-overlap", "input.pcap"))
    check(any(EICAR in fl["c2s"] or EICAR in fl["s2c"] for fl in flows),
          "smb-eicar-overlap: EICAR string whole after the overlaps")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
