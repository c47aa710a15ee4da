"""Run every benchmark module (``benchmarks/bench_*.py``) and print one table.

Usage: ``python -m benchmarks [--quick] [--only NAME]``. Each module exposes
``run(quick: bool) -> list[dict]``; each dict has at least ``case``, ``ours_s``, and per
competitor ``<name>_s`` and ``ratio_<name>`` (competitor time / our time, measured in the same run).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    p.add_argument("--only", help="run only benchmarks/bench_NAME.py")
    args = p.parse_args(argv)
    here = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n == f"bench_{args.only}" or n == args.only]
    print(
        f"# hotspots benchmarks - Python {platform.python_version()} on {platform.machine()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}")
        rows = mod.run(quick=args.quick)
        if not rows:
            print("(no rows)")
            continue
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        print(" | ".join(cols))
        for r in rows:
            cells = []
            for c in cols:
                v = r.get(c, "")
                cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
            print(" | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
