"""A helper held in a tuple is followed like one held in a variable or a dict entry (issue 8):
``fwd, slope = KINDS["logistic"]`` and ``KINDS["logistic"][1]`` with ``KINDS = {"logistic":
(squash, slope)}`` call ``slope``, whatever any of them is called."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from linter.engine import lint_source
from linter.rules import ALL_RULES

RULES = {r.code: r for r in ALL_RULES}

NET = """
    import numpy as np


    def squash(v):
        return 1.0 / (1.0 + np.exp(-v))


    def slope(v):
        return squash(v) * (1.0 - squash(v))


    KINDS = {"logistic": (squash, slope), "line": (None, None)}


    def fit(A, B, inp, out, rate):
        {pick}
        pre = A @ inp
        h = fwd(pre)
        e = B @ h - out
        d = (B.T @ e) * {call}
        B -= rate * e @ h.T
        A -= rate * d @ inp.T
    """

PICKS = {
    "unpacked": ('fwd, grad = KINDS["logistic"]', "grad({arg})"),
    "indexed": ('fwd = KINDS["logistic"][0]', 'KINDS["logistic"][1]({arg})'),
    "from the end": ('fwd, grad = KINDS["logistic"][-2:]', "grad({arg})"),
}


def _lines(text: str) -> list[int]:
    report = lint_source(text, Path("t.py"), [RULES["BP101"]])
    return sorted({f.start.line for f in report.findings})


@pytest.mark.parametrize("form", ["unpacked", "indexed"])
def test_a_derivative_held_in_a_tuple_is_the_helper_it_holds(form: str) -> None:
    pick, call = PICKS[form]
    text = textwrap.dedent(NET).replace("{pick}", pick)
    assert _lines(text.replace("{call}", call.format(arg="pre"))) == []
    assert _lines(text.replace("{call}", call.format(arg="h"))) == [21]


def test_a_tuple_that_cannot_be_counted_says_nothing() -> None:
    # a slice of the entry: the analysis does not take tuples apart by slices, so no claim
    pick, call = PICKS["from the end"]
    text = textwrap.dedent(NET).replace("{pick}", pick)
    assert _lines(text.replace("{call}", call.format(arg="h"))) == []
