"""backward returns one gradient per forward input, in forward's order; swapping two gradients of
the same shape raises nothing and gives each input the other's gradient."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


def mul_backward(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """forward(a, b) = a * b; returns (dC/da, dC/db)."""
    return g * b, g * a


def matmul_backward(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """forward(a, b) = a @ b; returns (dC/da, dC/db)."""
    return g @ b.T, a.T @ g


def check() -> CheckResult:
    r = rng(32)
    a, b, c = r.normal(size=(4, 5)), r.normal(size=(4, 5)), r.normal(size=(4, 5))
    num_a = numerical_grad(lambda: float(np.sum(c * a * b)), a)
    num_b = numerical_grad(lambda: float(np.sum(c * a * b)), b)
    da, db = mul_backward(a, b, c)
    swapped_a, _ = mul_backward(a, b, c)[::-1]

    # Square matrices: the swapped matmul gradients even have the right shapes.
    p, q, g = r.normal(size=(4, 4)), r.normal(size=(4, 4)), r.normal(size=(4, 4))
    num_p = numerical_grad(lambda: float(np.sum(g * (p @ q))), p)
    dp, dq = matmul_backward(p, q, g)
    swapped_p = dq

    return CheckResult(
        claim=(
            "Returning (dC/da, dC/db) in forward's order matches finite differences; returning them "
            "swapped gives a wrong gradient to both inputs whenever the shapes agree, with no error."
        ),
        measurements=[
            below(
                "a * b, returned (g*b, g*a): worst rel. error of da, db",
                max(rel_err(da, num_a), rel_err(db, num_b)),
                RIGHT,
            ),
            above(
                "a * b, returned swapped: rel. error of the gradient given to a",
                rel_err(swapped_a, num_a),
                WRONG,
            ),
            below(
                "a @ b (4x4), returned (g b^T, a^T g): rel. error of da", rel_err(dp, num_p), RIGHT
            ),
            above(
                "a @ b (4x4), returned swapped: rel. error of the gradient given to a",
                rel_err(swapped_p, num_p),
                WRONG,
            ),
        ],
    )
