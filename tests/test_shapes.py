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


# --- symbolic shapes (linter.analysis.symshapes) -----------------------------------------------

LAYER = """
import numpy as np

N_HIDDEN = 5

class Affine:
    def __init__(self, n_in, n_out):
        self.n_in = n_in
        self.W = np.random.randn(n_out, n_in) * 0.01
        self.b = np.zeros((n_out, 1))
        self.V = np.random.randn(N_HIDDEN, n_out)
        self.p = {"U": np.random.uniform(-1, 1, (n_in, N_HIDDEN))}

    def forward(self, x):
        self.x = x
        return self.W @ self.x + self.b

    def backward(self, g, lr=0.1):
        probe = None
        return g
"""


def _probe(expr: str) -> list[str] | None:
    from linter.analysis.symshapes import shapes, show

    source = LAYER.replace("probe = None", f"probe = {expr}")
    model = analyze(cst.parse_module(source), Path("m.py"))
    scope = next(s for s in model.c.scopes if s.name == "backward")
    (binding,) = scope.bindings["probe"]
    found = shapes(model).of(binding.value, scope)
    return None if found is None else sorted(show(s) for s in found)


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("self.W", ["(n_out, n_in)"]),
        ("self.W.T", ["(n_in, n_out)"]),
        ("np.transpose(self.W)", ["(n_in, n_out)"]),
        ("self.W.transpose()", ["(n_in, n_out)"]),
        ("self.b", ["(n_out, 1)"]),
        ("self.V @ self.W", ["(N_HIDDEN, n_in)"]),
        ("np.dot(self.V, self.W)", ["(N_HIDDEN, n_in)"]),
        ("self.V.dot(self.W)", ["(N_HIDDEN, n_in)"]),
        ('self.p["U"]', ["(n_in, N_HIDDEN)"]),
        ("self.W.sum(axis=0)", ["(n_in,)"]),
        ("np.sum(self.W, axis=1, keepdims=True)", ["(n_out, 1)"]),
        ("self.W.mean()", ["()"]),
        ("self.W.reshape(-1, 1)", ["(?, 1)"]),
        ("self.W.reshape(self.W.shape)", ["(n_out, n_in)"]),
        ("self.W[:, None]", ["(n_out, 1, n_in)"]),
        ("self.W * 2.0 + self.b", ["(n_out, n_in)"]),
        ("np.zeros_like(self.W)", ["(n_out, n_in)"]),
        ("np.zeros(self.n_in)", ["(n_in,)"]),
        # learnt from the forward product W @ x: x is (n_in,) or (n_in, ?)
        ("self.x", ["(n_in, ?)", "(n_in,)"]),
        ("self.x.T", ["(?, n_in)", "(n_in,)"]),
        # the upstream gradient has the forward output's shape
        ("g", ["(n_out, ?)", "(n_out, n_out)"]),
        # pairings that would contract n_out with n_in are dropped; the ranks are not tied
        ("g @ self.x.T", ["(n_out, n_in)", "(n_out,)"]),
        ("lr * self.W", ["(n_out, n_in)"]),
        # unknown stays unknown
        ("self.W @ np.ones(3)", ["(n_out,)"]),  # a symbol against an integer proves nothing
        ("self.W @ self.missing", None),
        ("self.missing", None),
        ("np.zeros(shape)", None),
        ("self.W[i]", None),
    ],
)
def test_symbolic_shape(expr: str, want: list[str] | None) -> None:
    assert _probe(expr) == want


def test_distinct_symbols_stay_distinct_and_unknowns_prove_nothing() -> None:
    from linter.analysis.symshapes import Dim, distinct, shapes_differ

    n_in, n_out, one = Dim("f:n_in", "n_in"), Dim("f:n_out", "n_out"), Dim(1, "1")
    assert distinct(n_in, n_out)
    assert not distinct(n_in, Dim("f:n_in", "n_in"))
    assert not distinct(n_in, one)  # a named size may be 1
    assert not distinct(n_in, None)
    assert distinct(Dim(3, "3"), Dim(4, "4"))
    assert shapes_differ((n_out, n_in), (n_in, n_out))
    assert shapes_differ((n_out,), (n_out, n_in))
    assert not shapes_differ((n_out, None), (n_out, n_in))


def test_square_matrix_has_one_symbol() -> None:
    source = "import numpy as np\ndef f(n):\n    W = np.random.randn(n, n)\n    return W.T\n"
    from linter.analysis.symshapes import shapes, shapes_differ

    model = analyze(cst.parse_module(source), Path("m.py"))
    scope = next(s for s in model.c.scopes if s.name == "f")
    sa = shapes(model)
    w = sa.of(model.c.scopes[1].bindings["W"][0].value, scope)
    t = sa.of(scope.returns[0], scope)
    assert w is not None and t is not None
    assert not shapes_differ(w[0], t[0])
