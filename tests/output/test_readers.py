#!/usr/bin/env python3
"""The TSV logs and events.json, written by the real writers from hostile
records (every byte 0..255, quotes, NULs inside values, 100 KB values, bytes
that are not UTF-8), read back the way users read them: python's csv and
pandas with default settings, python's json and jq. Every line must be
exactly one record holding what the record held.

    test_readers.py FEED
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402


def run_feed(feed, d, recs):
    text = "".join(records.feed_line(k, r) for k, r in recs)
    p = subprocess.run([feed, d], input=text.encode(), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    drops = [l for l in p.stdout.decode().splitlines() if l.startswith("dropped ")]
    assert len(drops) == 3 and all(l.endswith(" 0") for l in drops), drops


def read_csv(path, ncols):
    with open(path, newline="", encoding="ascii") as f:   # TSV is pure ASCII
        rows = list(csv.reader(f, delimiter="\t"))
    with open(path, "rb") as f:
        nl = f.read().count(b"\n")
    assert nl == len(rows), "%s: %d lines but %d csv records" % (path, nl, len(rows))
    for i, row in enumerate(rows):
        assert len(row) == ncols, "%s row %d: %d columns" % (path, i + 1, len(row))
    return rows


def check_events_tsv(path, cmds):
    rows = read_csv(path, 10)
    assert rows[0] == records.EVENT_COLUMNS, rows[0]
    assert len(rows) - 1 == len(cmds)
    for i, (row, r) in enumerate(zip(rows[1:], cmds)):
        what = "%s row %d" % (path, i + 2)
        assert row[0] == str(r["event_id"]) and row[1] == records.iso(r["sec"], r["usec"]), what
        assert row[2] == r["src"][0] and row[4] == str(r["src"][1]), what
        assert row[5] == r["dst"][0] and row[6] == str(r["dst"][1]), what
        for col, key in ((3, "filename"), (7, "action"), (8, "server"), (9, "fetch")):
            records.check_tsv_field(row[col], r[key], what + " " + key)
    return rows


def check_files_tsv(path, files):
    rows = read_csv(path, 11)
    assert rows[0] == records.FILE_COLUMNS, rows[0]
    assert len(rows) - 1 == len(files)
    for i, (row, r) in enumerate(zip(rows[1:], files)):
        what = "%s row %d" % (path, i + 2)
        assert row[0] == (str(r["event_id"]) if r["event_id"] else ""), what
        assert row[1] == records.iso(r["sec"], r["usec"]) and row[5] == str(r["bytes"]), what
        for col, key in ((2, "server"), (3, "filename"), (4, "status"), (6, "md5"),
                         (7, "sha256"), (8, "path"), (9, "source"), (10, "known")):
            records.check_tsv_field(row[col], r[key], what + " " + key)
    return rows


PANDAS_READ = """
import json, sys, pandas
df = pandas.read_csv(sys.argv[1], sep="\\t", dtype=str, keep_default_na=False)
json.dump({"columns": list(df.columns), "shape": list(df.shape), "rows": df.values.tolist()},
          sys.stdout)
"""


def pandas_python():
    """A python3 with pandas: this one, or Debian's when a pyenv one runs the test."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if exe and subprocess.run([exe, "-c", "import pandas"],
                                  capture_output=True).returncode == 0:
            return exe
    return None


def check_pandas(path, rows):
    """pandas.read_csv with its defaults (but for keeping text as text)."""
    p = subprocess.run([pandas_python(), "-c", PANDAS_READ, path], capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    df = json.loads(p.stdout)
    assert df["columns"] == rows[0], df["columns"]
    assert df["shape"] == [len(rows) - 1, len(rows[0])], df["shape"]
    assert df["rows"] == rows[1:], path + ": pandas reads other values than csv"


def check_jq(path, lines):
    p = subprocess.run(["jq", "-c", "."], stdin=open(path, "rb"), capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = p.stdout.decode().splitlines()
    assert len(out) == len(lines), "jq read %d objects from %d lines" % (len(out), len(lines))
    for i, (a, b) in enumerate(zip(out, lines)):
        assert json.loads(a) == json.loads(b), "jq reads line %d differently" % (i + 1)
    # the README's example: commands as TSV
    p = subprocess.run(["jq", "-r", 'select(.event_type == "command") | '
                        '[.event_id, .src_ip, .community_id, .command.filename] | @tsv'],
                       stdin=open(path, "rb"), capture_output=True, timeout=60)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == len(records.WIRE), p.stderr


def main():
    feed = sys.argv[1]
    missing = [n for n, ok in (("jq", shutil.which("jq")), ("python3-pandas", pandas_python()))
               if not ok]
    if missing:
        print("SKIP: %s missing (.ci/install-deps installs them)" % ", ".join(missing))
        sys.exit(77)
    recs = records.make_records()
    with tempfile.TemporaryDirectory(prefix="ws-readers-") as d:
        run_feed(feed, d, recs)
        ev = check_events_tsv(os.path.join(d, "blasterlog.txt"),
                              [r for k, r in recs if k == "cmd"])
        fe = check_files_tsv(os.path.join(d, "fetchlog.txt"),
                             [r for k, r in recs if k == "file"])
        check_pandas(os.path.join(d, "blasterlog.txt"), ev)
        check_pandas(os.path.join(d, "fetchlog.txt"), fe)
        with open(os.path.join(d, "events.json"), "rb") as f:
            raw = f.read()
        raw.decode("utf-8")  # the file itself is valid UTF-8
        lines = raw.decode().split("\n")
        assert lines[-1] == "", "events.json does not end in a newline"
        records.check_json_lines(lines[:-1], recs)
        check_jq(os.path.join(d, "events.json"), lines[:-1])
        print("readers: %d records; csv, pandas, json and jq agree with the records"
              % len(recs))


if __name__ == "__main__":
    main()
