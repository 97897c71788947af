"""Run a KB entry's numeric test by module name."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass

from kb.numerics import sweep
from kb.schema import CheckResult


@dataclass(frozen=True)
class Run:
    check: str
    result: CheckResult
    seconds: float
    draws: int = 0  # how many random generators the check asked kb.numerics.rng for


def run_check(module: str, seed: int = 0) -> Run:
    """Import ``kb.checks.<module>`` and run its ``check()``; raises if it is malformed.

    ``seed`` selects the random stream every ``kb.numerics.rng`` call in the check draws from:
    0 is the published one, any other value an independent draw (the 20-seed sweep).
    """
    mod = importlib.import_module(f"kb.checks.{module}")
    fn = getattr(mod, "check", None)
    if not callable(fn):
        raise TypeError(f"kb/checks/{module}.py has no check() function")
    with sweep(seed) as draws:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
    if not isinstance(result, CheckResult):
        raise TypeError(f"kb/checks/{module}.py: check() must return a CheckResult")
    return Run(module, result, elapsed, len(draws))
