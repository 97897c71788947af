"""Benchmark: bplint against a bare libcst parse of the same files, and against ruff.

    python tests/benchmark_lint.py --prepare MIRROR      # extract the corpus (once)
    python tests/benchmark_lint.py [--corpus DIR] [--check-prefilter] [PATH ...]

The corpus (public code, never copied into this repository; ``--prepare`` extracts the ``.py``
files of each repository's commit from a mirror of git snapshots, ``OWNER+NAME/repo``, into
``--corpus``, default ``/tmp/bplint-corpus``):

    ddbourgin/numpy-ml               b0359af5285fbf9699d64fd5ec059493228af03e  (numpy library)
    eriklindernoren/ML-From-Scratch  a2806c6732eee8d27762edd6d864e0c179d8e9e8  (numpy library)
    pytorch/examples                 77f55b912142e11fcfdf5b530231fb9c52f181e8  (PyTorch examples)
    shenweichen/DeepCTR-Torch        f6854257b1fc29caab655ce72c6b5528b7432574  (PyTorch library)

345 files, 58,048 lines. Printed side by side, each a single run (the machine this was written
on is shared and noisy: read ratios, not absolute times):

- bare parse: ``libcst.parse_module`` of every file, one process, no start-up;
- bplint cold: ``bplint check --no-cache`` (default ``--jobs``, then ``--jobs 1``), wall time of
  the process, start-up included;
- bplint warm: ``bplint check`` a second time over a filled cache;
- one file as pre-commit runs it: the corpus file closest to 300 lines, a fresh process,
  ``--force-exclude`` and no cache entry for it;
- ruff: ``ruff check --no-cache`` with ruff's default rules on the same files;
- start-up: fresh processes, ``--repeat`` times each (min and median): the interpreter alone, a
  file no rule can flag, the ~300-line file with no cache entry and with one.

bplint's bytecode is written first, as ``pip install`` does (a stale ``__pycache__`` makes every
start compile bplint's modules again). ``--warm-only``: only the warm run and the start-up cases.

``--check-prefilter`` also lints every file with the pre-filter off and checks that the findings
are the same (the pre-filter must never skip a file a rule would flag). Timings are measured
here, not asserted: this script is not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = (
    ("ddbourgin/numpy-ml", "b0359af5285fbf9699d64fd5ec059493228af03e"),
    ("eriklindernoren/ML-From-Scratch", "a2806c6732eee8d27762edd6d864e0c179d8e9e8"),
    ("pytorch/examples", "77f55b912142e11fcfdf5b530231fb9c52f181e8"),
    ("shenweichen/DeepCTR-Torch", "f6854257b1fc29caab655ce72c6b5528b7432574"),
)
DEFAULT_CORPUS = Path(tempfile.gettempdir()) / "bplint-corpus"
BIN = Path(sys.executable).parent


def prepare(mirror: Path, dest: Path) -> None:
    """Extract the ``.py`` files of each corpus commit from ``mirror/OWNER+NAME/repo``."""
    for repo, commit in CORPUS:
        git_dir = mirror / repo.replace("/", "+") / "repo"
        names = subprocess.run(
            ["git", "-C", str(git_dir), "ls-tree", "-r", "--name-only", commit],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        py = [n for n in names if n.endswith(".py")]
        target = dest / repo.replace("/", "+")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(git_dir), "archive", commit, "--", *py],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        print(f"{repo}@{commit[:12]}: {len(py)} files -> {target}")


def python_files(paths: list[Path]) -> list[Path]:
    from linter.config import ConfigResolver
    from linter.discovery import discover

    found = discover(paths, ConfigResolver(Path.cwd()), suffixes=(".py",))
    return [t.path for t in found.targets]


def bare_parse(files: list[Path]) -> tuple[float, float, int, int]:
    """(wall s, CPU s, lines, files parsed) of ``libcst.parse_module`` over ``files``."""
    import libcst as cst

    lines = parsed = 0
    start = time.perf_counter()
    cpu = time.process_time()
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
    return time.perf_counter() - start, time.process_time() - cpu, lines, parsed


CPU: dict[str, float] = {}  # CPU seconds (user + system, all processes) of each timed command


def wall(
    cmd: list[str], cwd: Path | None = None, label: str = ""
) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of ``cmd``; its CPU seconds (workers included) go to ``CPU[label]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if label:
        CPU[label] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, r


def prefilter_counts(files: list[Path]) -> tuple[int, int]:
    """Files the pre-filter sends to libcst: with the rules' own markers, and with BASE only."""
    import re

    from linter.prefilter import BASE, could_fire
    from linter.rules import ALL_RULES

    rules = [r for r in ALL_RULES if r.default_enabled]
    base = re.compile(BASE)
    sharp = broad = 0
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        sharp += could_fire(text, rules)
        broad += bool(base.search(text))
    return sharp, broad


def check_prefilter(paths: list[Path]) -> int:
    """Findings with the pre-filter on and off must be identical."""
    import linter.prefilter as prefilter
    from linter.config import ConfigResolver
    from linter.run import RunOptions, lint_paths

    options = RunOptions(jobs=1, cache=False)
    on = lint_paths(paths, ConfigResolver(Path.cwd()), None, options)
    real = prefilter.could_fire
    prefilter.could_fire = lambda text, rules: True  # every file parsed
    try:
        off = lint_paths(paths, ConfigResolver(Path.cwd()), None, options)
    finally:
        prefilter.could_fire = real
    key = [(str(f.path), f.start, f.code) for f in on.findings]
    missed = [
        (str(f.path), f.start.line, f.code)
        for f in off.findings
        if (str(f.path), f.start, f.code) not in key
    ]
    print(
        f"pre-filter check: {len(off.findings)} findings without it, {len(on.findings)} with it; "
        f"missed by the pre-filter: {len(missed)} {missed[:10]}"
    )
    return len(missed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, help="lint these instead of the corpus")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--prepare", type=Path, metavar="MIRROR", help="extract the corpus")
    parser.add_argument("--check-prefilter", action="store_true")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up cases")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each start-up case")
    parser.add_argument(
        "--warm-only", action="store_true", help="only the warm run and the start-up cases"
    )
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.prepare, args.corpus)
        return 0
    paths = args.paths or [args.corpus]
    files = python_files(paths)
    n = len(files)
    bplint = [str(BIN / "bplint"), "check", "--exit-zero", "-q"]
    fresh_bytecode()
    if args.startup_only:
        start_up(bplint, Path(closest_to_300_lines(files)), args.repeat)
        return 0
    if args.warm_only:
        with tempfile.TemporaryDirectory() as cache:
            fill_s, _ = wall([*bplint, "--cache-dir", cache, *map(str, paths)], label="fill")
            warm_s, _ = wall([*bplint, "--cache-dir", cache, *map(str, paths)], label="warm")
        print(f"corpus: {', '.join(map(str, paths))}  (load {os.getloadavg()[0]:.1f})")
        print(f"  cache filled in {fill_s:.2f} s (CPU {CPU['fill']:.2f} s)")
        print(f"  bplint warm (cache): {warm_s:.2f} s wall, CPU {CPU['warm']:.2f} s")
        start_up(bplint, Path(closest_to_300_lines(files)), args.repeat)
        return 0
    parse_s, parse_cpu, lines, parsed = bare_parse(files)
    CPU["bare"] = parse_cpu
    sharp, broad = prefilter_counts(files)

    cold_s, cold = wall([*bplint, "--no-cache", *map(str, paths)], label="cold")
    cold1_s, _ = wall([*bplint, "--no-cache", "--jobs", "1", *map(str, paths)], label="cold1")
    with tempfile.TemporaryDirectory() as cache:
        fill_s, _ = wall([*bplint, "--cache-dir", cache, *map(str, paths)])
        warm_s, warm = wall([*bplint, "--cache-dir", cache, *map(str, paths)], label="warm")
    assert warm.stdout == cold.stdout, "a warm run must print what a cold one prints"
    one = closest_to_300_lines(files)
    one_s, _ = wall([*bplint, "--no-cache", "--force-exclude", one], label="one")
    ruff = shutil.which("ruff", path=str(BIN)) or shutil.which("ruff")
    ruff_s = None
    if ruff:
        ruff_s, _ = wall(
            [ruff, "check", "--no-cache", "--exit-zero", "-q", *map(str, paths)], label="ruff"
        )

    print(
        f"corpus: {', '.join(map(str, paths))}  ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})"
    )
    print(f"files: {n} ({lines} lines); libcst parsed {parsed}")
    print(f"pre-filter: {sharp} files reach libcst ({broad} with the library words alone)")
    findings = len([ln for ln in cold.stdout.splitlines() if ": BP" in ln])
    print(f"findings: {findings}")
    rows = [
        ("bare libcst parse (1 process)", parse_s, "bare"),
        ("bplint cold, default --jobs", cold_s, "cold"),
        ("bplint cold, --jobs 1", cold1_s, "cold1"),
        ("bplint warm (cache)", warm_s, "warm"),
        (f"one file ({Path(one).name}), pre-commit", one_s, "one"),
    ]
    if ruff_s is not None:
        rows.append(("ruff, default rules", ruff_s, "ruff"))
    print(f"  {'':<42} {'wall':>9}  {'lines/s':>9}  {'CPU (user+sys)':>15}")
    for label, s, key in rows:
        print(f"  {label:<42} {s:7.2f} s  {lines / s:9.0f}  {CPU[key]:13.2f} s")
    print(f"cold / bare parse: {cold_s / parse_s:.2f} (--jobs 1: {cold1_s / parse_s:.2f})")
    print(
        f"in CPU time (what a loaded machine does not distort): cold / bare parse "
        f"{CPU['cold'] / CPU['bare']:.2f} (--jobs 1: {CPU['cold1'] / CPU['bare']:.2f})"
    )
    print(f"warm speed-up over cold: {cold_s / warm_s:.1f}x (cache filled in {fill_s:.2f} s)")
    if ruff_s is not None:
        print(
            f"bplint cold / ruff: {cold_s / ruff_s:.1f}; bplint warm / ruff: {warm_s / ruff_s:.1f}"
        )
    start_up(bplint, Path(one), args.repeat)
    if args.check_prefilter:
        return 1 if check_prefilter(paths) else 0
    return 0


def fresh_bytecode() -> None:
    """Write bplint's bytecode before timing anything, as installing it does (pip compiles every
    module; pre-commit installs bplint with pip). Without it, a source tree whose ``__pycache__``
    is stale (after a ``git checkout``, or always under ``PYTHONDONTWRITEBYTECODE=1``) compiles
    ~25,000 lines of bplint at every start: about half of a one-file run's CPU time."""
    import compileall

    import linter

    compileall.compile_dir(Path(linter.__file__).parent, quiet=1)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set; bplint's bytecode was written here first")


def closest_to_300_lines(files: list[Path]) -> str:
    sizes = []
    for f in files:
        try:
            sizes.append((abs(f.read_text(encoding="utf-8").count("\n") - 300), str(f)))
        except (OSError, UnicodeDecodeError):
            pass
    return min(sizes)[1]


def start_up(bplint: list[str], one: Path, repeat: int) -> None:
    """One file as pre-commit runs it, ``repeat`` fresh processes each (as hyperfine does):
    the interpreter alone, a file no rule can flag, the ~300-line file (cache miss, then hit)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "util.py"
        plain.write_text("import os\n\n\ndef size(p):\n    return os.path.getsize(p)\n")
        cache = Path(tmp) / "cache"
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("a file no rule can flag", [*bplint, "--no-cache", str(plain)]),
            (f"{one.name}, cache miss", [*bplint, "--no-cache", "--force-exclude", str(one)]),
            (f"{one.name}, cache hit", [*bplint, "--cache-dir", str(cache), str(one)]),
        ]
        wall([*bplint, "--cache-dir", str(cache), str(one)])  # fills the cache
        for label, cmd in cases:
            walls, cpus = [], []
            for _ in range(repeat):
                s, _ = wall(cmd, label="rep")
                walls.append(s)
                cpus.append(CPU["rep"])
            rows.append((label, walls, cpus))
    print(f"start-up, {repeat} runs each (load {os.getloadavg()[0]:.1f}): min / median")
    print(f"  {'':<42} {'wall':>17}  {'CPU (user+sys)':>17}")
    for label, walls, cpus in rows:
        w, c = sorted(walls), sorted(cpus)
        mid = len(w) // 2
        print(f"  {label:<42} {w[0]:6.2f} / {w[mid]:5.2f} s  {c[0]:6.2f} / {c[mid]:5.2f} s")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
