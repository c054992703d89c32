#!/usr/bin/env python3
"""syslog output received by a real rsyslogd that this test starts itself:
its own config, listening on 127.0.0.1 (UDP and TCP, random free ports) and
on a unix socket in a temporary directory, writing what it receives to files
there. Never the machine's own rsyslog or /dev/log.

Every hostile record goes out over each transport; rsyslog must receive each
message's JSON byte for byte as events.json holds it, with the MSGID, APP-NAME,
PROCID, facility and severity we sent. Then the TCP collector is restarted
while the sensor keeps sending: the writer reconnects and later messages
arrive whole.

    test_syslog_rsyslog.py FEED
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

CONF = """
global(workDirectory="{d}" maxMessageSize="256k")
module(load="imuxsock" SysSock.Use="off")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="string"
  string="%msgid%\\t%app-name%\\t%procid%\\t%syslogfacility-text%\\t%syslogseverity-text%\\t%msg%\\n")
ruleset(name="udp") {{ action(type="omfile" file="{d}/udp.log" template="fields") }}
ruleset(name="tcp") {{ action(type="omfile" file="{d}/tcp.log" template="fields") }}
ruleset(name="unix") {{ action(type="omfile" file="{d}/unix.log" template="fields") }}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp" rcvbufSize="16m")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imuxsock" Socket="{d}/log.sock" ruleset="unix")
"""

SEVERITY = {"cmd": "notice", "file": "info", "warn": "warning"}
MSGID = {"cmd": "command", "file": "file", "warn": "warning"}


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rsyslog:
    def __init__(self, d, udp, tcp):
        self.d, self.udp, self.tcp = d, udp, tcp
        with open(os.path.join(d, "rsyslog.conf"), "w") as f:
            f.write(CONF.format(d=d, udp=udp, tcp=tcp))
        self.p = None

    def start(self):
        sock = os.path.join(self.d, "log.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        self.p = subprocess.Popen([RSYSLOGD, "-n", "-f", os.path.join(self.d, "rsyslog.conf"),
                                   "-i", os.path.join(self.d, "rsyslogd.pid")],
                                  stdout=subprocess.DEVNULL, stderr=open(
                                      os.path.join(self.d, "rsyslogd.err"), "ab"))
        for _ in range(200):
            assert self.p.poll() is None, "rsyslogd exited: " + self.errors()
            if os.path.exists(sock) and self.tcp_up():
                return
            time.sleep(0.05)
        raise AssertionError("rsyslogd did not come up: " + self.errors())

    def tcp_up(self):
        try:
            socket.create_connection(("127.0.0.1", self.tcp), timeout=0.2).close()
            return True
        except OSError:
            return False

    def errors(self):
        with open(os.path.join(self.d, "rsyslogd.err"), "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(timeout=20)
        self.p = None


def received(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [l for l in f.read().decode("utf-8").split("\n") if l]


def wait_lines(path, n, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        got = received(path)
        if len(got) >= n:
            return got
        time.sleep(0.1)
    return received(path)


def run_feed(feed, outdir, target, lines):
    p = subprocess.run([feed, outdir, target, "local4", "sensor-1"], input="".join(lines).encode(),
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    drops = dict(l.split()[1:] for l in p.stdout.decode().splitlines() if l.startswith("dropped"))
    return drops, p.stderr.decode(errors="replace")


def check_messages(got, recs, json_lines, what, unix):
    """rsyslog's fields, and MSG equal to the events.json line."""
    assert len(got) == len(recs), "%s: %d messages for %d records" % (what, len(got), len(recs))
    for i, (line, (kind, _), want) in enumerate(zip(got, recs, json_lines)):
        msgid, app, procid, fac, sev, msg = line.split("\t", 5)
        where = "%s message %d" % (what, i + 1)
        # syslog(3) format on unix sockets has no MSGID; RFC 5424 elsewhere does
        assert msgid == ("-" if unix else MSGID[kind]), where + ": msgid " + msgid
        assert app == "wormsnare" and procid.isdigit(), where + ": " + line[:80]
        assert fac == "local4" and sev == SEVERITY[kind], where + ": %s.%s" % (fac, sev)
        assert msg.lstrip(" ") == want, "%s: MSG differs from events.json:\n%s\n%s" % (
            where, msg[:200], want[:200])


def transports(feed, d, rs, recs):
    for name, target in (("udp", "udp:127.0.0.1:%d" % rs.udp),
                         ("tcp", "tcp:127.0.0.1:%d" % rs.tcp),
                         ("unix", "unix:" + os.path.join(d, "log.sock"))):
        out = os.path.join(d, "out-" + name)
        os.mkdir(out)
        lines = []
        for i, (k, r) in enumerate(recs):
            lines.append(records.feed_line(k, r))
            if i % 50 == 49:
                lines.append("pause\t20\n")     # keep a datagram burst under the buffers
        drops, err = run_feed(feed, out, target, lines)
        assert drops.get("syslog") == "0", "%s: dropped %s (%s)" % (name, drops, err)
        with open(os.path.join(out, "events.json"), "rb") as f:
            json_lines = f.read().decode().split("\n")[:-1]
        records.check_json_lines(json_lines, recs)
        got = wait_lines(os.path.join(d, name + ".log"), len(recs))
        check_messages(got, recs, json_lines, name, name == "unix")
        print("syslog %s: %d messages received intact by rsyslogd" % (name, len(got)))


def tcp_restart(feed, d, rs):
    """The collector restarts mid-stream: the writer reconnects, nothing arrives torn."""
    recs = [x for x in records.make_records(seed_ids=5000) if x[0] == "cmd"][:120]
    flag = os.path.join(d, "restarted")
    first, second = recs[:40], recs[40:]
    lines = [records.feed_line(k, r) for k, r in first]
    lines.append(records.feed_line("wait", {"path": flag}))
    for k, r in second:
        lines += [records.feed_line(k, r), "pause\t30\n"]
    log = os.path.join(d, "tcp.log")
    before = len(received(log))
    out = os.path.join(d, "out-restart")
    os.mkdir(out)
    with open(os.path.join(d, "restart.in"), "w") as f:
        f.write("".join(lines))
    p = subprocess.Popen([feed, out, "tcp:127.0.0.1:%d" % rs.tcp, "local4", "sensor-1"],
                         stdin=open(os.path.join(d, "restart.in"), "rb"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(wait_lines(log, before + len(first))) == before + len(first), "first batch"
    rs.stop()
    rs.start()
    open(flag, "w").close()
    out_s, err_s = p.communicate(timeout=120)
    assert p.returncode == 0, err_s.decode(errors="replace")
    drops = int(dict(l.split()[1:] for l in out_s.decode().splitlines())["syslog"])
    with open(os.path.join(out, "events.json"), "rb") as f:
        want = f.read().decode().split("\n")[:-1]
    time.sleep(1)
    got = [l.split("\t", 5)[5].lstrip(" ") for l in received(log)[before:]]
    assert got[:len(first)] == want[:len(first)], "first batch differs"
    later = got[len(first):]
    # each message that arrives after the restart is one whole events.json line, in order
    idx = [want.index(m) for m in later]
    assert idx == sorted(set(idx)) and all(i >= len(first) for i in idx), idx
    lost = len(second) - len(later)
    assert idx and idx[-1] == len(want) - 1, "the last message did not arrive"
    # lost: counted drops, plus at most a few written into the dead connection
    # before the kernel learnt it was gone
    assert lost <= drops + 3, "lost %d, counted %d" % (lost, drops)
    print("syslog tcp restart: %d of %d later messages arrived whole, %d dropped (counted %d)"
          % (len(later), len(second), lost, drops))
    assert "reconnecting" in err_s.decode(), "the outage was not reported"


def main():
    feed = sys.argv[1]
    if not os.path.exists(RSYSLOGD):
        print("SKIP: rsyslogd missing: apt-get install rsyslog (.ci/install-deps)")
        sys.exit(77)
    recs = records.make_records()
    with tempfile.TemporaryDirectory(prefix="ws-rsyslog-") as d:
        rs = Rsyslog(d, free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM))
        rs.start()
        try:
            transports(feed, d, rs, recs)
            tcp_restart(feed, d, rs)
        finally:
            rs.stop()


if __name__ == "__main__":
    main()
