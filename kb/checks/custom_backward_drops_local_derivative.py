"""A custom backward that returns grad_output unchanged drops the local derivative; it is only
right for the identity, and only looks right where f is nearly the identity."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


def tanh_backward_right(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    return grad_output * (1.0 - np.tanh(x) ** 2)


def pass_through(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    return grad_output  # "the gradient just flows through"


def errors(x: np.ndarray, upstream: np.ndarray) -> tuple[float, float]:
    """(right, pass-through) rel. errors for C = sum(U * tanh(x)) against finite differences."""
    numeric = numerical_grad(lambda: float(np.sum(upstream * np.tanh(x))), x)
    return (
        rel_err(tanh_backward_right(x, upstream), numeric),
        rel_err(pass_through(x, upstream), numeric),
    )


def check() -> CheckResult:
    r = rng(31)
    upstream = r.normal(size=(5, 6))
    typical = r.normal(scale=1.5, size=(5, 6))
    tiny = r.uniform(-0.01, 0.01, size=(5, 6))
    right_typical, through_typical = errors(typical, upstream)
    _, through_tiny = errors(tiny, upstream)

    # A scaling op y = 3x: the local derivative is the constant 3, still not 1.
    x = r.normal(size=(5, 6))
    numeric_scale = numerical_grad(lambda: float(np.sum(upstream * 3.0 * x)), x)

    return CheckResult(
        claim=(
            "backward must multiply grad_output by the local derivative: for tanh that is "
            "1 - tanh(x)^2, for y = 3x it is 3. Passing grad_output through unchanged is wrong "
            "wherever the op is not the identity; near x = 0, where tanh is nearly the identity, "
            "it looks right to a loose check."
        ),
        measurements=[
            below("tanh, grad_output * (1 - tanh^2): rel. error", right_typical, RIGHT),
            above("tanh, grad_output passed through, |x| ~ 1: rel. error", through_typical, WRONG),
            above(
                "y = 3x, grad_output passed through: rel. error",
                rel_err(upstream, numeric_scale),
                WRONG,
            ),
            below(
                "tanh, grad_output passed through, |x| < 0.01: rel. error (a false pass)",
                through_tiny,
                WRONG,
            ),
        ],
    )
