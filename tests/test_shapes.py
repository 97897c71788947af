"""Array ranks stated by initialisers (linter.analysis.shapes)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from linter.analysis import analyze
from linter.analysis.shapes import allocation_rank


@pytest.mark.parametrize(
    ("expr", "rank"),
    [
        ("np.zeros((n,))", 1),
        ("np.zeros(10)", 1),
        ("np.zeros(X.shape[1])", 1),
        ("np.zeros((n_out, n_in))", 2),
        ("np.zeros(shape)", None),  # a name alone may hold a tuple
        ("np.random.randn(n) * 0.01", 1),
        ("np.random.randn(n_out, n_in) / np.sqrt(n_in)", 2),
        ("np.random.uniform(-limit, limit, (n_features,))", 1),
        ("np.random.normal(0, 1, size=(3, 4))", 2),
        ("np.random.uniform(-1, 1)", None),
        ("np.ones_like(W)", None),
        ("W @ x", None),
    ],
)
def test_allocation_rank(expr: str, rank: int | None) -> None:
    model = analyze(cst.parse_module("import numpy as np\n"), Path("m.py"))
    assert allocation_rank(model, cst.parse_expression(expr)) == rank
