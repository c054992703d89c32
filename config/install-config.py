#!/usr/bin/env python3
"""Write the installed wormsnare.yaml from the source one.

    install-config.py IN OUT SYSCONFDIR STATEDIR

The installed config differs from the built-in defaults in exactly two keys:
output.dir is STATEDIR (the service's state directory) and carve.known_hashes
is SYSCONFDIR/wormsnare/known-hashes.yaml, so the shipped known hashes are
active. Each replaced line must occur exactly once: if the source file is
reworded, the build fails here instead of silently installing the defaults.
"""
import sys

src, dst, sysconfdir, statedir = sys.argv[1:5]
text = open(src, encoding="utf-8").read()
edits = [
    ("  dir: wormsnare-out\n", "  dir: %s\n" % statedir),
    ('  known_hashes: ""\n', "  known_hashes: %s/wormsnare/known-hashes.yaml\n" % sysconfdir),
]
for old, new in edits:
    if text.count(old) != 1:
        sys.exit("install-config.py: %s: expected exactly one line %r" % (src, old.strip()))
    text = text.replace(old, new)
with open(dst, "w", encoding="utf-8") as f:
    f.write(text)
