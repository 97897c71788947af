"""Values known by where they come from, not by their names (issue 8): a batch size is what
divides a summed gradient, a learning rate the factor common to the steps of updates, a
cross-entropy cost its formula."""

from __future__ import annotations

import textwrap
from pathlib import Path

from linter.engine import lint_source
from linter.rules import ALL_RULES

RULES = {r.code: r for r in ALL_RULES}


def _found(code: str, source: str) -> list[int]:
    text = textwrap.dedent(source)
    return sorted({f.start.line for f in lint_source(text, Path("t.py"), [RULES[code]]).findings})


def test_a_batch_size_is_the_divisor_of_a_summed_gradient_whatever_its_name():
    # ``count`` divides the weight gradient (a product summed over the batch): a batch size,
    # so the bias gradient divided by it without a sum keeps the batch axis (BP005)
    source = """
        import numpy as np

        def layer_backward(dout, x, w, count):
            dw = x.T @ dout / count
            db = dout / count
            dx = dout @ w.T
            return dx, dw, db
        """
    assert _found("BP005", source) == [6]
    # divided by something that divides no summed gradient: no evidence of a batch
    assert _found("BP005", source.replace("x.T @ dout / count", "x.T @ dout")) == []
