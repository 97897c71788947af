"""``layer.method(g)`` on an object resolves to the method of the object's class (issue 8):
a network's loop over its layers hands each layer class what it passes, even when several
classes define the method, so the layer's parameter is known as a gradient by its call site."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from linter.engine import lint_source
from linter.rules import ALL_RULES

RULES = {r.code: r for r in ALL_RULES}

LAYERS = """
    import numpy as np


    class Affine:
        def __init__(self, n_a, n_b):
            self.k = np.random.randn(n_b, n_a) * 0.1

        def run(self, u):
            self.u = u
            return self.k @ u

        def push(self, up, rate):
            prev = self.k.T @ up
            self.k -= rate * (up @ self.u.T)
            return prev


    class Bend:
        def run(self, u):
            self.v = np.tanh(u)
            return self.v

        def push(self, up, rate):
            return up * (1 - self.v ** 2)
    """

HOLDERS = {
    "literal": (
        "    def __init__(self):\n        self.parts = [Affine(4, 8), Bend(), Affine(8, 3)]\n",
        "reversed(self.parts)",
    ),
    "append": (
        "    def __init__(self):\n"
        "        self.parts = []\n"
        "        self.parts.append(Affine(4, 8))\n"
        "        self.parts.append(Bend())\n",
        "self.parts[::-1]",
    ),
    "comprehension": (
        "    def __init__(self):\n"
        "        self.parts = [Affine(a, b) for a, b in ((4, 8), (8, 3))] + [Bend()]\n",
        "reversed(self.parts)",
    ),
}


def _net(holder: str, backwards: str) -> str:
    return textwrap.dedent(LAYERS) + (
        "\n\nclass Stack:\n"
        f"{holder}\n"
        "    def fit(self, xs, y, rate):\n"
        "        out = xs\n"
        "        for part in self.parts:\n"
        "            out = part.run(out)\n"
        "        e = out - y\n"
        f"        for part in {backwards}:\n"
        "            e = part.push(e, rate)\n"
    )


def _lines(code: str, text: str) -> list[int]:
    report = lint_source(text, Path("t.py"), [RULES[code]])
    return sorted({f.start.line for f in report.findings})


@pytest.mark.parametrize("form", sorted(HOLDERS))
def test_a_method_called_on_a_layer_of_a_list_gets_what_the_loop_passes(form: str) -> None:
    holder, backwards = HOLDERS[form]
    text = _net(holder, backwards)
    assert _lines("BP002", text) == []  # propagates with the transpose: right
    wrong = text.replace("prev = self.k.T @ up", "prev = self.k @ up")
    assert _lines("BP002", wrong) == [14]
    report = lint_source(wrong, Path("t.py"), [RULES["BP002"]])
    notes = [e.message for f in report.findings for e in f.evidence]
    assert any("`push` is called with a gradient" in n for n in notes), notes


def test_an_object_bound_to_one_class_calls_that_class_method() -> None:
    text = textwrap.dedent(LAYERS) + (
        "\n\ndef fit(xs, y, rate):\n"
        "    first = Affine(4, 8)\n"
        "    mid = Bend()\n"
        "    last = Affine(8, 3)\n"
        "    out = last.run(mid.run(first.run(xs)))\n"
        "    e = out - y\n"
        "    e = last.push(e, rate)\n"
        "    e = mid.push(e, rate)\n"
        "    first.push(e, rate)\n"
    )
    assert _lines("BP002", text.replace("prev = self.k.T @ up", "prev = self.k @ up")) == [14]
    # an object of unknown class: nothing is said about which push runs
    unknown = text.replace("first = Affine(4, 8)", "first = make(4, 8)")
    unknown = unknown.replace("last = Affine(8, 3)", "last = make(8, 3)")
    assert _lines("BP002", unknown.replace("prev = self.k.T @ up", "prev = self.k @ up")) == []
