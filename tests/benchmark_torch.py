"""Benchmark: bplint and torch-preflight on the PyTorch part of the real-code set, side by side.

    python tests/benchmark_torch.py [--realcode DIR] [--mirror DIR] [--bplint PATH]

Runs the real-code scorer (``DIR/score.py --framework torch``, default ``../shared/realcode``)
once for bplint and once for torch-preflight, and prints both summaries. torch-preflight is a
peer tool, never a dependency: it is installed from PyPI into a throwaway venv under /tmp on
first use. It is scored on its correctness rules (graph kept alive, evaluation without no_grad,
zero_grad, softmax/BCE pairing, eval/train, accumulation); its performance notes (DataLoader
workers, GPU syncs, unseeded randomness) are not backprop defects and are left out. The scorer
only accepts a bplint-like command line, so torch-preflight runs through a small shim that
translates ``check --output-format json .``. Not part of the test suite (it needs the mirror of
the public repositories and minutes of CPU).
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = Path(tempfile.gettempdir()) / "bplint-torch-preflight-venv"
PEER_RULES = "TG001,TG002,TG003,TG005,TG006,TG011,TG014"

SHIM = """#!/bin/sh
# bplint-like front for torch-preflight: `check --output-format json .` -> its JSON
exec "{exe}" check -f json -j 1 --select {rules} --fail-on note .
"""


def peer_executable() -> Path:
    exe = PEER_VENV / "bin" / "torch-preflight"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = PEER_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "torch-preflight"], check=True)
    return exe


def score(scorer: Path, tool: Path, mirror: str, out: Path) -> list[str]:
    run = subprocess.run(
        [
            sys.executable,
            str(scorer),
            "--bplint",
            str(tool),
            "--mirror",
            mirror,
            "--framework",
            "torch",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 1):
        raise SystemExit(f"{scorer} failed for {tool}:\n{run.stderr[-2000:]}")
    return run.stdout.strip().splitlines()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    near = [p / "shared" / "realcode" for p in (ROOT.parent, ROOT.parent.parent)]
    found = next((p for p in near if (p / "score.py").is_file()), near[0])
    ap.add_argument("--realcode", default=str(found))
    ap.add_argument("--mirror", default=os.environ.get("MUTATE_MIRROR", "/work/.mirror"))
    ap.add_argument("--bplint", default=str(ROOT / ".venv" / "bin" / "bplint"))
    args = ap.parse_args()
    scorer = Path(args.realcode) / "score.py"
    with tempfile.TemporaryDirectory() as tmp:
        shim = Path(tmp) / "torch-preflight-shim"
        shim.write_text(SHIM.format(exe=peer_executable(), rules=PEER_RULES))
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        results = {
            "bplint": score(scorer, Path(args.bplint), args.mirror, Path(tmp) / "a"),
            "torch-preflight": score(scorer, shim, args.mirror, Path(tmp) / "b"),
        }
    for name, lines in results.items():
        print(f"== {name}")
        for line in lines:
            if line.strip().startswith(("per_category", "labels", "detected", "mutants:")):
                print("  " + line.strip())
    print()
    width = max(len(n) for n in results)
    for name, lines in results.items():
        print(f"{name:<{width}}  {lines[-1] if lines else '(no output)'}")


if __name__ == "__main__":
    main()
