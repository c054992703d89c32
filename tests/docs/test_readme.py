#!/usr/bin/env python3
"""Every sample output in README.md is what the current code prints.

    test_readme.py [--update] [SOURCE_ROOT [WORMSNARE [TFTPFETCH]]]

Defaults: the repository this script is in, and its build/ binaries.
--update rewrites the sample blocks with the real output (review the diff).

Markers, an HTML comment on the line before a fenced block (invisible on a
rendered README):

  <!-- sample: COMMAND -->       the block is what COMMAND prints: its
                                 standard output, then its standard error
  <!-- sample-file: PATH -->     the block is the content of PATH, written by
                                 the commands before it
  <!-- sample-input: PATH -->    the block is written to PATH (a config file
                                 a later sample uses); nothing is compared
  <!-- ci: .ci/run -->           every command line of the block is a line
                                 of .ci/run, verbatim

A sample or sample-file marker may end in `| mask=REGEX`: text matching
REGEX (wall-clock times, say) is compared as "<masked>". Use it only for what
really varies from run to run.

The commands run in order in one scratch directory, with bash, LC_ALL=C and
TZ=UTC, where pcaps/ and config/ are the source tree's and build/wormsnare
and build/tftpfetch are the binaries under test (also first on PATH, so
`wormsnare` works too).
"""
import difflib
import os
import re
import subprocess
import sys
import tempfile

MARKER = re.compile(r"^<!-- (sample|sample-file|sample-input|ci): (.*?)(?: \| mask=(.*?))? -->$")


def find_blocks(lines):
    """[(kind, arg, mask, first content line index, end fence index)]"""
    blocks = []
    for i, line in enumerate(lines):
        m = MARKER.match(line.rstrip("\n"))
        if not m:
            continue
        j = i + 1
        if j >= len(lines) or not lines[j].startswith("```"):
            sys.exit("README.md:%d: marker not followed by a fenced block" % (i + 1))
        k = j + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        if k == len(lines):
            sys.exit("README.md:%d: fenced block never closed" % (j + 1))
        blocks.append((m.group(1), m.group(2), m.group(3), j + 1, k))
    return blocks


def scratch_dir(root, ws, tf):
    tmp = tempfile.mkdtemp(prefix="ws-readme-")
    os.chmod(tmp, 0o755)        # the sensor drops privileges before it chroots
    os.mkdir(os.path.join(tmp, "build"))
    for name in ("pcaps", "config"):
        os.symlink(os.path.join(root, name), os.path.join(tmp, name))
    os.symlink(ws, os.path.join(tmp, "build", "wormsnare"))
    if tf:
        os.symlink(tf, os.path.join(tmp, "build", "tftpfetch"))
    return tmp


def run(cmd, cwd):
    env = dict(os.environ, LC_ALL="C", TZ="UTC",
               PATH=os.path.join(cwd, "build") + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True,
                       timeout=120)
    return (r.stdout + r.stderr).decode("utf-8", "backslashreplace")


def masked(text, mask):
    return re.sub(mask, "<masked>", text) if mask else text


def check_ci(root, block_lines):
    """The block's commands must be .ci/run's commands, the same and in the same order
    (.ci/run may go on after them: the hardening runs). Returns what differs."""
    ci = [l for l in open(os.path.join(root, ".ci", "run"), encoding="utf-8").read().splitlines()
          if l.strip() and not l.lstrip().startswith("#")]
    cmds = [l.rstrip("\n") for l in block_lines
            if l.strip() and not l.lstrip().startswith("#")]
    if len(cmds) != 2:
        return ["(the README's block gives %d commands, not the two: install and demo, tests)"
                % len(cmds)]
    for i in range(len(ci) - len(cmds) + 1):
        if ci[i:i + len(cmds)] == cmds:
            return []
    return [c for c in cmds if c not in ci] or ["(the commands are not in .ci/run in this order)"]


def main(argv):
    update = "--update" in argv
    args = [a for a in argv if a != "--update"]
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.realpath(args[0] if args else os.path.join(here, "..", ".."))
    ws = os.path.realpath(args[1] if len(args) > 1 else os.path.join(root, "build", "wormsnare"))
    tf = os.path.realpath(args[2] if len(args) > 2 else os.path.join(root, "build", "tftpfetch"))
    if not os.path.exists(tf):
        tf = None
    path = os.path.join(root, "README.md")
    lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
    blocks = find_blocks(lines)
    tmp = scratch_dir(root, ws, tf)
    failed, checked, replace = 0, 0, {}
    try:
        for kind, arg, mask, start, end in blocks:
            shown = "".join(lines[start:end])
            if kind == "ci":
                bad = check_ci(root, lines[start:end])
                checked += 1
                for b in bad:
                    print("FAIL  README.md:%d: not a line of %s: %s" % (start, arg, b))
                failed += bool(bad)
                if not bad:
                    print("ok    README.md:%d: commands are the ones %s runs" % (start, arg))
                continue
            if kind == "sample-input":
                with open(os.path.join(tmp, arg), "w", encoding="utf-8") as f:
                    f.write(shown)
                continue
            if kind == "sample":
                actual = run(arg, tmp)
            else:
                try:
                    with open(os.path.join(tmp, arg), "rb") as f:
                        actual = f.read().decode("utf-8", "backslashreplace")
                except OSError as e:
                    actual = "(cannot read %s: %s)\n" % (arg, e.strerror)
            checked += 1
            if masked(actual, mask) == masked(shown, mask):
                print("ok    README.md:%d: %s: %s" % (start, kind, arg))
                continue
            if update:
                replace[(start, end)] = actual
                print("upd   README.md:%d: %s: %s" % (start, kind, arg))
                continue
            failed += 1
            print("FAIL  README.md:%d: %s: %s differs from the real output:" % (start, kind, arg))
            sys.stdout.writelines(difflib.unified_diff(
                masked(shown, mask).splitlines(True), masked(actual, mask).splitlines(True),
                "README.md", "actual"))
    finally:
        subprocess.run(["rm", "-rf", tmp])
    if replace:
        for (start, end), text in sorted(replace.items(), reverse=True):
            lines[start:end] = [text if text.endswith("\n") or not text else text + "\n"]
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
    if checked == 0:
        print("FAIL  no marked sample in README.md")
        return 1
    if replace:
        print("README.md: %d block(s) rewritten; review git diff README.md" % len(replace))
    print("%d passed, %d failed" % (checked - failed - len(replace), failed))
    if failed:
        print("regenerate: tests/docs/test_readme.py --update (from the source tree, after "
              "meson compile -C build), then review git diff README.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
