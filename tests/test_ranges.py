"""Value ranges (linter/analysis/ranges.py) are sound: every value an expression takes on
seeded inputs lies in the range the analysis gives it, for hand-written cases and for 300
randomly generated expressions; and the ranges are tight where the construction says so."""

from __future__ import annotations

import math
import random
import textwrap
from pathlib import Path

import libcst as cst
import numpy as np
import pytest

from linter.analysis import analyze
from linter.analysis.ranges import Range, value_range

PRELUDE = """
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def relu(z):
    return np.maximum(0, z)
"""


def _ranges_of(body: str, names: list[str]) -> dict[str, Range]:
    src = PRELUDE + "\n\ndef f(z, w):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    model = analyze(cst.parse_module(src), Path("ranges_case.py"))
    scope = next(s for s in model.c.scopes if s.name == "f")
    return {n: value_range(model, cst.Name(n), scope) for n in names}


def _values_of(body: str, names: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Run our own fixture code (never user code) on seeded inputs, wide and extreme."""
    env: dict[str, object] = {}
    exec(PRELUDE, env)  # the fixture text is ours, never user code
    z = np.concatenate([rng.normal(0, 5, 400), rng.uniform(-60, 60, 400), [0.0, -1e-9, 1e-9]])
    w = np.concatenate([rng.normal(0, 1, 400), rng.uniform(-3, 3, 400), [1.0, 2.0, -2.0]])
    env.update(z=z, w=w)
    with np.errstate(all="ignore"):
        exec(textwrap.dedent(body), env)  # the fixture text is ours, never user code
    return {n: np.asarray(env[n], dtype=float) for n in names}


def _assert_inside(r: Range, values: np.ndarray, what: str) -> None:
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return
    tol = 1e-9
    lo, hi = float(finite.min()), float(finite.max())
    assert lo >= r.lo - tol * max(1.0, abs(r.lo) if math.isfinite(r.lo) else 1.0), (what, r, lo)
    assert hi <= r.hi + tol * max(1.0, abs(r.hi) if math.isfinite(r.hi) else 1.0), (what, r, hi)


CASES = {
    "a = sigmoid(z)": "(0, 1)",
    "a = np.tanh(z)": "(-1, 1)",
    "a = relu(z)": "[0, ∞)",
    "a = np.clip(z, 0, None)": "[0, ∞)",
    "a = np.clip(z, -2, 3)": "[-2, 3]",
    "a = z.clip(min=0)": "[0, ∞)",
    "a = np.exp(-(z ** 2) / 2)": "(0, 1]",
    "s = sigmoid(z)\na = s * (1 - s)": "[0, 1]",
    "a = 2 * sigmoid(z) - 1": "[-1, 1]",
    "a = np.abs(z) + 1": "[1, ∞)",
    "t = np.tanh(z)\na = 1 - t ** 2": "(0, 1]",
    "a = np.exp(np.tanh(z))": "(0.367879, 2.71828)",
    "e = np.exp(z - 50)\na = np.minimum(e, 1.0)": "(0, 1]",
    "a = relu(z) >= 0": "[0, 1]",
    "a = np.sum(np.square(z))": "[0, ∞)",
    "a = np.log(sigmoid(z))": "(−∞, 0)",
    "c = np.abs(z)\na = np.log(c / np.sum(c))": "(−∞, 0]",
    "c = np.square(z) + 1\na = c[:5] / c.sum()": "[0, 1]",
    "a = 0.0\nfor v in z[:40]:\n    a += np.log(sigmoid(v))": "(−∞, 0]",
    "a = 1.0\nfor v in z[:40]:\n    a -= np.abs(v)": "(−∞, 1]",
}


@pytest.mark.parametrize("body", list(CASES))
def test_known_ranges(body: str) -> None:
    r = _ranges_of(body, ["a"])["a"]
    assert str(r) == CASES[body]
    _assert_inside(r, _values_of(body, ["a"], np.random.default_rng(0))["a"], body)


def test_unknown_stays_unbounded() -> None:
    got = _ranges_of("a = z * w\nb = z\nb -= 1\nc = np.log(z)\n", ["a", "b", "c"])
    assert not got["a"].known and not got["b"].known and not got["c"].known


def test_a_share_needs_a_nonnegative_part_and_its_own_total() -> None:
    got = _ranges_of("a = z / np.sum(z)\nc = np.abs(z)\nb = c / np.sum(w)\n", ["a", "b"])
    assert not got["a"].known and not got["b"].known


def test_an_accumulator_of_mixed_signs_is_unbounded() -> None:
    body = "a = 0.0\nfor v in z:\n    a += np.log(sigmoid(v))\n    a += v\n"
    assert not _ranges_of(body, ["a"])["a"].known


METHODS = """
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

class Chain:
    def step_logp(self, x):
        raise NotImplementedError

    def logp(self, xs):
        total = 0.0
        for x in xs:
            total += self.step_logp(x)
        return total

    def probe(self, xs):
        t = self.logp(xs)
        return t

class Counted(Chain):
    def step_logp(self, x):
        c = np.bincount(x) + 1.0
        return np.log(c / c.sum())

class Squashed(Chain):
    def step_logp(self, x):
        return np.log(sigmoid(x @ self.w))
"""


def _method_range(source: str) -> Range:
    model = analyze(cst.parse_module(source), Path("methods_case.py"))
    scope = next(s for s in model.c.scopes if s.name == "probe")
    return value_range(model, cst.Name("t"), scope)


def test_a_method_return_is_the_union_of_every_override() -> None:
    assert _method_range(METHODS).always("<=", 0) is True


def test_one_unbounded_override_makes_it_unbounded() -> None:
    source = (
        METHODS + "\nclass Raw(Chain):\n    def step_logp(self, x):\n        return np.log(x)\n"
    )
    assert not _method_range(source).known


def test_always_true_mask() -> None:
    r = _ranges_of("a = relu(z)\n", ["a"])["a"]
    assert r.always(">=", 0) is True
    assert r.always(">", 0) is None
    assert r.always("<", 0) is False
    s = _ranges_of("a = sigmoid(z)\n", ["a"])["a"]
    assert s.always(">", 0) is True and s.always("<", 1) is True and s.always(">", 0.5) is None


_UNARY = (
    "sigmoid({})",
    "np.tanh({})",
    "relu({})",
    "np.exp(np.clip({}, -30, 30))",
    "np.abs({})",
    "({}) ** 2",
    "-({})",
    "np.clip({}, -1.5, 0.5)",
    "np.maximum({}, 0.25)",
    "np.minimum({}, -0.5)",
    "np.sqrt(np.abs({}))",
)
_BINARY = ("({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1 + np.exp({}))")


def _expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(["z", "w", "0.5", "2", "-3"])
    if rng.random() < 0.55:
        return rng.choice(_UNARY).format(_expression(rng, depth - 1))
    template = rng.choice(_BINARY)
    return template.format(_expression(rng, depth - 1), _expression(rng, depth - 1))


def test_generated_expressions_stay_inside_their_range() -> None:
    rng = random.Random(20261202)
    bodies = [f"a = {_expression(rng, 4)}" for _ in range(300)]
    data_rng = np.random.default_rng(1)
    bounded = 0
    for body in bodies:
        r = _ranges_of(body, ["a"])["a"]
        bounded += r.known
        _assert_inside(r, _values_of(body, ["a"], data_rng)["a"], body)
    assert bounded > 150  # the generator exercises the ranges, not only the unbounded case
