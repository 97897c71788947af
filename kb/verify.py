"""Run a KB entry's numeric test by module name."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass

from kb.schema import CheckResult


@dataclass(frozen=True)
class Run:
    check: str
    result: CheckResult
    seconds: float


def run_check(module: str) -> Run:
    """Import ``kb.checks.<module>`` and run its ``check()``; raises if it is malformed."""
    mod = importlib.import_module(f"kb.checks.{module}")
    fn = getattr(mod, "check", None)
    if not callable(fn):
        raise TypeError(f"kb/checks/{module}.py has no check() function")
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    if not isinstance(result, CheckResult):
        raise TypeError(f"kb/checks/{module}.py: check() must return a CheckResult")
    return Run(module, result, elapsed)
