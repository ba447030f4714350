#!/usr/bin/env python3
"""README code blocks marked `<!-- example: PATH -->` must equal PATH exactly
(the tests run the files in examples/, so the README shows tested code).
   readme_examples.py SOURCE_ROOT"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
readme = (root / "README.md").read_text()
blocks = re.findall(r"<!-- example: (\S+) -->\n```[a-z+]*\n(.*?)\n```\n", readme, re.S)
if not blocks:
    sys.exit("readme: no marked example blocks found")
bad = 0
for path, body in blocks:
    f = root / path
    if not f.exists():
        print(f"readme: {path} does not exist")
        bad += 1
    elif f.read_text().rstrip("\n") != body:
        print(f"readme: the block marked {path} differs from the file")
        bad += 1
print(f"readme: {len(blocks) - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
