#!/usr/bin/env python3
"""The man pages cover what the programs accept and write, and render cleanly.

    test_man.py SOURCE_ROOT WORMSNARE TFTPFETCH

Checks, so the pages cannot drift from the code:
  - every key of the key table in config/config.c has its own entry in
    wormsnare(8)'s CONFIGURATION section, and every entry there is a key;
  - every option `wormsnare --help` and `tftpfetch --help` print has an entry
    in the OPTIONS section of its page;
  - every file a replay writes into the output directory matches an entry of
    "Files in the output directory" (italic parts are placeholders);
  - `man --warnings` prints nothing, and `mandoc -Tlint` reports nothing
    above style level, when those programs are installed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def macro_args(rest):
    """Split a roff macro's arguments: blanks separate, double quotes group."""
    return [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', rest)]


def plain(text):
    """Roff escapes to plain text, enough for tags and option names."""
    text = re.sub(r"\\f(\[[^]]*\]|.)", "", text)
    text = text.replace("\\-", "-").replace("\\(dq", '"').replace("\\(aq", "'")
    text = text.replace("\\e", "\\").replace("\\&", "").replace("\\%", "").replace("\\c", "")
    return text


def tag_pattern(line):
    """A .TP tag line as (plain text, regex with italic parts as wildcards)."""
    m = re.match(r"\.(B|I|R|BI|IB|BR|RB|IR|RI)\s+(.*)", line)
    if not m:
        t = plain(line)
        return t, re.escape(t)
    macro, args = m.group(1), macro_args(m.group(2))
    fonts = macro if len(macro) == 2 else macro * 2
    text, rx = "", ""
    for i, a in enumerate(args):
        a = plain(a)
        text += a
        rx += ".+" if fonts[i % 2] == "I" else re.escape(a)
    return text, rx


def sections(page):
    """{section or subsection title: [tag (text, regex) after each .TP]}"""
    out, cur, lines = {}, None, page.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\.S[HS]\s+(.*)", line)
        if m:
            cur = plain(m.group(1)).strip('"')
            out.setdefault(cur, [])
        elif line.startswith(".TP") and cur and i + 1 < len(lines):
            out[cur].append(tag_pattern(lines[i + 1]))
    return out


def config_keys(root):
    src = open(os.path.join(root, "config", "config.c"), encoding="utf-8").read()
    return {k for k, kind in re.findall(r'\{"([a-z0-9_.]+)",\s*K_(\w+)', src) if kind != "SECTION"}


def help_options(prog):
    r = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, "%s --help exits 0" % os.path.basename(prog))
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", r.stdout))


def option_tags(secs, name):
    opts = set()
    for text, _ in secs.get(name, []):
        for part in text.split(","):
            if part.strip():
                opts.add(part.split()[0])
    return opts


def check_rendering(path):
    name = os.path.basename(path)
    if shutil.which("man"):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True,
                           text=True, env=env, timeout=60)
        check(r.returncode == 0 and r.stderr == "",
              "%s: man --warnings renders it silently %s" % (name, r.stderr.strip()))
    else:
        print("skip  %s: man not installed" % name)
    if shutil.which("mandoc"):
        r = subprocess.run(["mandoc", "-Tlint", "-Wwarning", path], capture_output=True,
                           text=True, timeout=60)
        check(r.stdout == "" and r.stderr == "",
              "%s: mandoc -Tlint -Wwarning is silent %s" % (name, (r.stdout + r.stderr).strip()))
    else:
        print("skip  %s: mandoc not installed (lint)" % name)


def check_output_files(root, ws, secs):
    entries = [rx for _, rx in secs.get("Files in the output directory", [])]
    check(len(entries) > 0, "wormsnare(8) has a 'Files in the output directory' list")
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        cfg = os.path.join(tmp, "keep.yaml")
        with open(cfg, "w") as f:
            f.write("carve:\n  keep_partial: true\n")
        for pcap in ("blaster-basic.pcap", "tftp-variants.pcap"):
            out = os.path.join(tmp, "out-" + pcap)
            r = subprocess.run([ws, "-r", os.path.join(root, "pcaps", pcap), "-c", cfg, "-o", out],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, "replay of %s for its output files" % pcap)
            for dirpath, dirnames, filenames in os.walk(out):
                rel = os.path.relpath(dirpath, out)
                names = [n + "/" for n in dirnames] + filenames
                for n in names:
                    p = n if rel == "." else os.path.join(rel, n)
                    check(any(re.fullmatch(rx, p) for rx in entries),
                          "output file %s (from %s) is documented" % (p, pcap))


def main():
    root, ws, tf = (os.path.realpath(a) for a in sys.argv[1:4])
    page8 = os.path.join(root, "man", "wormsnare.8")
    page1 = os.path.join(root, "man", "tftpfetch.1")
    secs8 = sections(open(page8, encoding="utf-8").read())
    secs1 = sections(open(page1, encoding="utf-8").read())

    keys = config_keys(root)
    check(len(keys) > 20, "read %d keys from config/config.c" % len(keys))
    documented = set()
    for title, tags in secs8.items():
        if title == "Top level" or re.fullmatch(r"[a-z_]+", title):
            documented |= {t for t, _ in tags}
    for k in sorted(keys):
        check(k in documented, "config key %s has an entry in wormsnare(8)" % k)
    for k in sorted(documented - keys):
        check(False, "wormsnare(8) documents %s, which config/config.c does not know" % k)

    for prog, secs, page in ((ws, secs8, "wormsnare(8)"), (tf, secs1, "tftpfetch(1)")):
        opts = help_options(prog)
        check(len(opts) >= 3, "%s --help lists %d options" % (os.path.basename(prog), len(opts)))
        tags = option_tags(secs, "OPTIONS")
        for o in sorted(opts):
            check(o in tags, "option %s of %s --help has an entry in %s" %
                  (o, os.path.basename(prog), page))

    check_output_files(root, ws, secs8)
    check_rendering(page8)
    check_rendering(page1)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
