"""The analysis does work proportional to the code, not to a power of it (counted, not timed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from linter.analysis.model import ModuleModel
from linter.engine import lint_source
from linter.rules import ALL_RULES


def _chain(n: int) -> str:
    """``delta = np.dot(W.T, delta) * 0.5`` ``n`` times in one backward function: every binding
    of ``delta`` reads ``delta``, so the roles of each use depend on all the others."""
    body = "    delta = np.dot(W.T, delta) * 0.5\n" * n
    return f"import numpy as np\n\n\ndef backward(W, delta):\n{body}    return delta\n"


def _binding_reads(monkeypatch: pytest.MonkeyPatch, text: str) -> int:
    calls = 0
    real = ModuleModel._binding_value_roles

    def counted(self: ModuleModel, *args: object) -> object:
        nonlocal calls
        calls += 1
        return real(self, *args)

    monkeypatch.setattr(ModuleModel, "_binding_value_roles", counted)
    lint_source(text, Path("chain.py"), ALL_RULES)
    monkeypatch.setattr(ModuleModel, "_binding_value_roles", real)
    return calls


def test_a_self_referential_chain_is_at_most_quadratic(monkeypatch: pytest.MonkeyPatch) -> None:
    small = _binding_reads(monkeypatch, _chain(10))
    large = _binding_reads(monkeypatch, _chain(20))
    assert small > 10  # the chain is really read
    # doubling the chain: x4 for quadratic work, x8 for cubic (what reading every binding again
    # for every nested use of the name cost: 92,840 reads at 20 lines)
    assert large / small < 5, (small, large)
