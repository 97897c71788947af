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


COST_CLASSES = """
    import numpy as np

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def sigmoid_prime(z):
        return sigmoid(z) * (1 - sigmoid(z))

    class Cost2:
        @staticmethod
        def fn(a, y):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

        @staticmethod
        def delta(z, a, y):
            return (a - y) * sigmoid_prime(z)

    class Cost1:
        @staticmethod
        def fn(a, y):
            return 0.5 * np.linalg.norm(a - y) ** 2

        @staticmethod
        def delta(z, a, y):
            return (a - y) * sigmoid_prime(z)
    """


def test_a_cross_entropy_cost_is_known_by_its_formula_and_speaks_for_its_class():
    # Cost2's ``fn`` computes a cross-entropy: its delta keeps σ′ (BP201). Cost1's cost is
    # not one: the formula of another class says nothing about it.
    assert _found("BP201", COST_CLASSES) == [17]
    picked = COST_CLASSES.replace(
        "np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))",
        "-np.mean(np.log(a[range(len(y)), y]))",
    )
    assert _found("BP201", picked) == [17]
    plain = COST_CLASSES.replace("-y * np.log(a) - (1 - y) * np.log(1 - a)", "(a - y) ** 2")
    assert _found("BP201", plain) == []
