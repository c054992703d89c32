"""Hostile records for the feed driver, and independent checks of what the
writers made of them (TSV and JSON), shared by test_readers.py and
test_syslog_rsyslog.py."""
import base64
import datetime
import hashlib
import ipaddress
import json

FIELD_MAX = 4096        # WS_TSV_FIELD_MAX
VALUE_MAX = 4096        # WS_JSON_VALUE_MAX

EVENT_COLUMNS = ["EventID", "Time", "SourceIP", "FileName", "SourcePort", "DestIP",
                 "DestPort", "Action", "Server", "Fetch"]
FILE_COLUMNS = ["EventID", "Time", "Server", "FileName", "Status", "Bytes", "MD5", "SHA256",
                "Path", "Source", "Known"]

# values that may hold any byte (NUL included)
WIRE = ([bytes([b]) for b in range(256)] + [
    bytes(range(256)),
    b'"', b'"quoted"', b'tail"', b'""', b"it's", b'"\t"', b'a"\nb',
    b"#comment", b"\\x41 not an escape", b"a\x00b", b"\x00", b"",
    b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9b",    # valid UTF-8
    b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"caf\xc3",  # not UTF-8
    b"\r\n\r\n", b"\x1b[31mred\x1b[0m",
    b"A" * 100000, b"\xff" * 100000, "é".encode() * 50000, b"\n" * 100000,
])
# values carried as C strings (action, fetch, md5, path, ...): anything but NUL
CSTR = [v for v in WIRE if b"\x00" not in v and len(v) < 5000]


def flows():
    yield ("192.168.1.5", 1029, "192.168.1.10", 4444)
    yield ("10.0.0.1", 80, "10.0.0.1", 80)
    yield ("2001:db8::1", 4444, "2001:db8::2", 1)


def make_records(seed_ids=1):
    """A list of (kind, fields dict) covering every hostile value in every field."""
    recs = []
    fl = list(flows())
    eid = seed_ids
    for i, v in enumerate(WIRE):
        s, sp, d, dp = fl[i % len(fl)]
        c = CSTR[i % len(CSTR)]
        recs.append(("cmd", dict(event_id=eid, sec=1061301617 + i, usec=i * 7 % 1000000,
                                 src=(s, sp), dst=(d, dp), action=c, filename=v,
                                 server=WIRE[(i + 1) % len(WIRE)], fetch=CSTR[(i + 3) % len(CSTR)])))
        recs.append(("file", dict(event_id=eid if i % 2 else 0, sec=1061301700 + i, usec=5,
                                  filename=v, server=WIRE[(i + 5) % len(WIRE)],
                                  status=WIRE[(i + 7) % len(WIRE)], bytes=i * 1000003,
                                  md5=c, sha256=CSTR[(i + 1) % len(CSTR)], path=c, source=c,
                                  known=WIRE[(i + 9) % len(WIRE)], have_flow=i % 3 != 0,
                                  proto=17, client=(d, 2000 + i), server_ep=(s, 69))))
        recs.append(("warn", dict(sec=1061301800 + i, usec=0, kind=c, detail=v,
                                  have_flow=i % 2 == 0, proto=6, src=(s, sp), dst=(d, dp))))
        eid += 1
    return recs


def feed_line(kind, r):
    h = lambda b: (b.encode() if isinstance(b, str) else b).hex()
    if kind == "cmd":
        f = [r["event_id"], r["sec"], r["usec"], r["src"][0], r["src"][1], r["dst"][0],
             r["dst"][1], h(r["action"]), h(r["filename"]), h(r["server"]), h(r["fetch"])]
    elif kind == "file":
        f = [r["event_id"], r["sec"], r["usec"], h(r["filename"]), h(r["server"]),
             h(r["status"]), r["bytes"], h(r["md5"]), h(r["sha256"]), h(r["path"]),
             h(r["source"]), h(r["known"]), int(r["have_flow"]), r["proto"],
             r["client"][0], r["client"][1], r["server_ep"][0], r["server_ep"][1]]
    elif kind == "wait":
        f = [h(r["path"])]
    else:
        f = [r["sec"], r["usec"], h(r["kind"]), h(r["detail"]), int(r["have_flow"]),
             r["proto"], r["src"][0], r["src"][1], r["dst"][0], r["dst"][1]]
    return kind + "\t" + "\t".join(str(x) for x in f) + "\n"


# ---------------------------------------------------------------- oracles

def tsv_escape_full(b):
    out = []
    for i, c in enumerate(b):
        plain = 0x20 <= c <= 0x7e and c not in (0x5c, 0x22) and not (i == 0 and c == 0x23)
        out.append(chr(c) if plain else "\\x%02x" % c)
    return "".join(out)


def tsv_unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\":
            assert s[i + 1] == "x", s[i:i + 4]
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(ord(s[i]))
            i += 1
    return bytes(out)


def check_tsv_field(got, raw, what):
    full = tsv_escape_full(raw)
    if len(full) <= FIELD_MAX:
        assert got == full, "%s: %r != %r" % (what, got[:80], full[:80])
        return
    # cut: a whole-escape prefix of the value, then "...", within the limit
    assert got.endswith("...") and len(got) <= FIELD_MAX, "%s: cut %d" % (what, len(got))
    kept = tsv_unescape(got[:-3])
    assert raw.startswith(kept) and len(kept) > 0, what


def iso(sec, usec):
    t = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % usec


def community_id(proto, a, b):
    """Community ID v1, seed 0, written from the spec's README."""
    (sa, sp), (da, dp) = a, b
    sa, da = ipaddress.ip_address(sa).packed, ipaddress.ip_address(da).packed
    if not (sa < da or (sa == da and sp < dp)):
        (sa, sp), (da, dp) = (da, dp), (sa, sp)
    data = b"\0\0" + sa + da + bytes([proto, 0]) + sp.to_bytes(2, "big") + dp.to_bytes(2, "big")
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def json_value(obj, key, raw, what):
    """The JSON rule of output.h: UTF-8 as is, else escaped text + <key>_b64."""
    raw = raw.encode() if isinstance(raw, str) else raw
    n = len(raw)
    if n > VALUE_MAX:
        n = VALUE_MAX
        for _ in range(3):
            if n > 0 and raw[n] & 0xc0 == 0x80:
                n -= 1
        assert obj.get(key + "_truncated") is True, what + ": truncated flag"
    else:
        assert key + "_truncated" not in obj, what + ": not truncated"
    kept = raw[:n]
    try:
        text = kept.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        assert obj[key] == text and key + "_b64" not in obj, "%s: %r" % (what, obj[key][:60])
    else:
        assert obj[key] == tsv_escape_full(kept), "%s text: %r" % (what, obj[key][:60])
        assert base64.b64decode(obj[key + "_b64"], validate=True) == kept, what + " b64"


def check_flow(o, proto_name, proto, src, dst, what):
    assert o["src_ip"] == src[0] and o["src_port"] == src[1], what
    assert o["dest_ip"] == dst[0] and o["dest_port"] == dst[1], what
    assert o["proto"] == proto_name, what
    assert o["community_id"] == community_id(proto, src, dst), what


FLOW_KEYS = ["src_ip", "src_port", "dest_ip", "dest_port", "proto", "community_id"]


def check_json_record(o, kind, r, what):
    if kind == "cmd":
        assert list(o) == ["event_type", "event_id", "timestamp"] + FLOW_KEYS + ["command"], what
        assert o["event_type"] == "command" and o["event_id"] == r["event_id"], what
        check_flow(o, "TCP", 6, r["src"], r["dst"], what)
        c = o["command"]
        for k in ("action", "filename", "server", "fetch"):
            json_value(c, k, r[k], what + "." + k)
    elif kind == "file":
        flow = FLOW_KEYS if r["have_flow"] else []
        assert list(o) == ["event_type", "timestamp"] + flow + ["file"], what
        if r["have_flow"]:
            check_flow(o, "UDP", 17, r["client"], r["server_ep"], what)
        f = o["file"]
        assert f["event_id"] == (r["event_id"] or None) and f["bytes"] == r["bytes"], what
        for k in ("filename", "server", "status", "md5", "sha256", "path", "source", "known"):
            json_value(f, k, r[k], what + "." + k)
    else:
        flow = FLOW_KEYS if r["have_flow"] else []
        assert list(o) == ["event_type", "timestamp"] + flow + ["warning"], what
        if r["have_flow"]:
            check_flow(o, "TCP", 6, r["src"], r["dst"], what)
        json_value(o["warning"], "kind", r["kind"], what + ".kind")
        json_value(o["warning"], "detail", r["detail"], what + ".detail")
    assert o["timestamp"] == iso(r["sec"], r["usec"]), what


def check_json_lines(lines, recs):
    """Every line one object, in order, each as the record says."""
    assert len(lines) == len(recs), "%d lines for %d records" % (len(lines), len(recs))
    for i, (line, (kind, r)) in enumerate(zip(lines, recs)):
        o = json.loads(line)
        check_json_record(o, kind, r, "line %d (%s)" % (i + 1, kind))
