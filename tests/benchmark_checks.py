"""Benchmark: how long each KB numeric test takes (DESIGN: every check stays under 1 s).

    python tests/benchmark_checks.py [--repeat N] [SLUG ...]

Runs every check (or the named entries' checks) ``--repeat`` times in this process, seed 0, and
prints the fastest wall time and CPU time of each, slowest first, then how many are at or over
the 1 s budget. The first run of a check may pay one-time imports (torch); the minimum over the
repeats leaves that out. Timings are measured here, not asserted: a wall-clock assertion in the
test suite fails on a busy machine for reasons that are not the check's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.load import load_kb
from kb.verify import run_check

BUDGET = 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("slugs", nargs="*")
    args = ap.parse_args(argv)
    kb = load_kb()
    slugs = args.slugs or sorted(kb.pages)
    rows = []
    for slug in slugs:
        check = kb[slug].meta.check
        wall, cpu = [], []
        for _ in range(max(1, args.repeat)):
            c0 = time.process_time()
            wall.append(run_check(check).seconds)
            cpu.append(time.process_time() - c0)
        rows.append((min(wall), min(cpu), slug))
    rows.sort(reverse=True)
    print(f"{'wall s':>8} {'CPU s':>8}  entry")
    for w, c, slug in rows:
        print(f"{w:8.3f} {c:8.3f}  {slug}{'  <- over budget' if w >= BUDGET else ''}")
    over = sum(w >= BUDGET for w, _, _ in rows)
    print(
        f"{len(rows)} checks, {over} at or over {BUDGET:.0f} s, total {sum(r[0] for r in rows):.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
