"""Benchmark: `bplint check` against a bare libcst parse of the same files.

    python tests/benchmark_lint.py [PATH ...]      (default: the running Python's stdlib)

Prints files/s and lines/s for both, their ratio, and how many files bplint's text pre-filter
skipped without parsing. Run it on an idle machine; it is not part of the test suite (timings
are measured here, not asserted).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import libcst as cst

from linter.config import ConfigResolver
from linter.discovery import discover
from linter.engine import PREFILTER
from linter.run import lint_paths


def python_files(paths: list[Path]) -> list[Path]:
    targets = discover(paths, ConfigResolver(Path.cwd()), suffixes=(".py",)).targets
    return [t.path for t in targets]


def bare_parse(files: list[Path]) -> tuple[float, int, int]:
    lines = parsed = 0
    start = time.perf_counter()
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        lines += text.count("\n")
        try:
            cst.parse_module(text)
            parsed += 1
        except Exception:  # a benchmark counts failures, it does not judge them
            pass
    return time.perf_counter() - start, lines, parsed


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [Path(sysconfig.get_paths()["stdlib"])]
    files = python_files(paths)
    skipped = 0
    for f in files:
        try:
            if not PREFILTER.search(f.read_text(encoding="utf-8", errors="replace")):
                skipped += 1
        except OSError:
            pass

    parse_s, lines, parsed = bare_parse(files)

    start = time.perf_counter()
    result = lint_paths(files, ConfigResolver(Path.cwd()))
    lint_s = time.perf_counter() - start

    # start-up as a user sees it: the CLI on one small file, in a fresh process
    probe = Path(__file__)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "linter.cli", "check", "-q", "--exit-zero", str(probe)],
        capture_output=True,
        check=False,
    )
    startup_s = time.perf_counter() - t0

    n = len(files)
    print(f"corpus: {', '.join(map(str, paths))}")
    print(
        f"files: {n} ({lines} lines); libcst parsed {parsed}; bplint pre-filter skipped {skipped}"
    )
    print(
        f"bare libcst parse: {parse_s:7.2f} s  {n / parse_s:8.1f} files/s  {lines / parse_s:9.0f} lines/s"
    )
    print(
        f"bplint check:      {lint_s:7.2f} s  {n / lint_s:8.1f} files/s  {lines / lint_s:9.0f} lines/s"
    )
    print(f"ratio bplint / bare parse: {lint_s / parse_s:.2f}")
    print(f"findings: {len(result.findings)}; files with errors: {len(result.errors)}")
    print(f"CLI on one file (process start to exit): {startup_s:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
