"""Dict keys as the analysis reads them: constants and families (a prefix + an integer's digits)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from linter.analysis import analyze
from linter.analysis.exprs import dict_key
from linter.engine import lint_source
from linter.rules import ALL_RULES


def _key(text: str):
    return dict_key(cst.parse_expression(text))


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ('"W" + str(l)', "W"),
        ('"dW" + str(l + 1)', "dW"),
        ('f"W{l}"', "W"),
        ("'W%d' % l", "W"),
        ("'W%s' % (l,)", "W"),
        ('"W{}".format(l)', "W"),
    ],
)
def test_family_spellings(text, prefix):
    key = _key(text)
    assert key is not None and key.family and key.text == prefix


@pytest.mark.parametrize(
    "text", ['f"W{l}_x"', '"W" + str(l) + "x"', "'W%d%d' % (a, b)", 'f"W{l:02d}"', "k", "1"]
)
def test_other_shapes_are_not_read(text):
    assert _key(text) is None


def test_a_family_meets_its_own_constants_only():
    w, dw, b = _key('"W" + str(l)'), _key('"dW" + str(l)'), _key('"b" + str(l)')
    assert w.may_equal(_key('"W" + str(i + 1)')) and w.may_equal(_key('"W12"'))
    assert _key('"W3"').may_equal(w)
    assert not w.may_equal(dw) and not w.may_equal(b)
    assert not w.may_equal(_key('"dW1"')) and not w.may_equal(_key('"W"'))
    assert not w.may_equal(_key('"W_out"'))
    assert w.may_equal(_key('"W1" + str(l)'))  # "W12" either way
    assert not _key('"W1"').may_equal(_key('"W2"'))


def _model(source: str):
    return analyze(cst.parse_module(source))


def test_a_family_index_must_be_an_integer():
    m = _model(
        "def f(d, names):\n"
        "    for i in range(3):\n"
        '        d["W" + str(i)] = 1\n'
        "    for n in names:\n"
        '        d["W" + str(n)] = 2\n'
    )
    scope = next(s for s in m.c.scopes if s.name == "f")
    stores = [b.target for b in scope.bindings["d"] if isinstance(b.target, cst.Subscript)]
    loop_key = m._dict_key(stores[0].slice[0].slice.value, scope)
    name_key = m._dict_key(stores[1].slice[0].slice.value, scope)
    assert loop_key is not None and loop_key.family
    assert name_key is None  # str(n) of anything: unknown, as before


def _codes(source: str) -> list[tuple[str, int]]:
    found = lint_source(source, Path("net.py"), [r for r in ALL_RULES if not r.meta]).findings
    return sorted((f.code, f.start.line) for f in found)


FORWARD_AND_GRADIENTS_IN_ONE_DICT = """
import numpy as np


def forward(X, params, depth):
    vals = {"A0": X}
    for i in range(1, depth + 1):
        Z = params["W" + str(i)] @ vals["A" + str(i - 1)] + params["b" + str(i)]
        vals["Z" + str(i)] = Z
        vals["A" + str(i)] = np.tanh(Z)
    return vals


def backward(vals, Y, params, depth):
    grads = {}
    dZ = vals["A" + str(depth)] - Y
    for i in reversed(range(1, depth + 1)):
        vals["dZ" + str(i)] = dZ
        grads["dW" + str(i)] = {product} / Y.shape[1]
        if i > 1:
            dZ = (params["W" + str(i)].T @ dZ) * (1 - vals["A" + str(i - 1)] ** 2)
    return grads


def update(params, grads, lr, depth):
    for i in range(1, depth + 1):
        params["W" + str(i)] -= lr * grads["dW" + str(i)]


def train(X, Y, params, depth):
    for _ in range(100):
        update(params, backward(forward(X, params, depth), Y, params, depth), 0.1, depth)
"""


def test_entries_of_one_family_keep_their_own_roles():
    """The deltas stored next to the activations do not make the activations gradients."""
    right = FORWARD_AND_GRADIENTS_IN_ONE_DICT.replace("{product}", 'dZ @ vals["A" + str(i - 1)].T')
    wrong = FORWARD_AND_GRADIENTS_IN_ONE_DICT.replace("{product}", 'vals["A" + str(i - 1)] @ dZ.T')
    assert _codes(right) == []
    assert ("BP003", 19) in _codes(wrong)
