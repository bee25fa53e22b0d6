"""``python -m lucid._native build [--force]``: build the native kernels now (retrying a
failed build; ``--force`` rebuilds a cached one) and print ``native_info()``;
``python -m lucid._native info``: only print it."""

import argparse
import json
import sys

from . import load, native_info

parser = argparse.ArgumentParser(prog="python -m lucid._native")
parser.add_argument("command", choices=["build", "info"])
parser.add_argument("--force", action="store_true", help="rebuild even if cached")
args = parser.parse_args()
if args.command == "build":
    load(retry=True, force=args.force)
info = native_info()
print(json.dumps(info, indent=1))
sys.exit(0 if info["enabled"] or args.command == "info" else 1)
