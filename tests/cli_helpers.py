"""Run the real CLI in a fresh process, as a user's shell would (shared by the CLI tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def bplint(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m linter.cli ARGS`` in ``cwd``; colour and terminal hints are cleared so the
    output is what a pipe gets, plus ``env`` on top."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    return subprocess.run(
        [sys.executable, "-m", "linter.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
    )
