"""A custom backward must return grad_output times the local derivative (a vector-Jacobian
product); returning the local derivative alone is right only when grad_output is all ones."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


class Cube:
    """A hand-written autograd Function for y = x**3."""

    @staticmethod
    def forward(x: np.ndarray) -> np.ndarray:
        return x**3

    @staticmethod
    def backward_right(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * 3.0 * x**2

    @staticmethod
    def backward_wrong(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return 3.0 * x**2  # the derivative of the function, grad_output ignored


def check() -> CheckResult:
    r = rng(30)
    x = r.normal(size=(4, 6))
    c = r.normal(size=(4, 6))  # random upstream weights
    w = r.normal(size=(3, 4))  # a layer after the custom op

    def summed() -> float:  # C = sum(y): grad_output is all ones
        return float(np.sum(Cube.forward(x)))

    def weighted() -> float:  # C = sum(c * y)
        return float(np.sum(c * Cube.forward(x)))

    def chained() -> float:  # C = sum(W y): grad_output = W^T 1
        return float(np.sum(w @ Cube.forward(x)))

    ones = np.ones_like(x)
    num_sum = numerical_grad(summed, x)
    num_weighted = numerical_grad(weighted, x)
    num_chain = numerical_grad(chained, x)
    chain_upstream = w.T @ np.ones((3, 6))

    return CheckResult(
        claim=(
            "backward(grad_output) must return grad_output * f'(x). Returning f'(x) alone passes a "
            "test whose loss is y.sum() (grad_output all ones) and fails as soon as the upstream "
            "gradient is anything else: a weighted loss or a layer after the op."
        ),
        measurements=[
            below(
                "grad_output * 3x^2, random upstream: rel. error",
                rel_err(Cube.backward_right(x, c), num_weighted),
                RIGHT,
            ),
            below(
                "grad_output * 3x^2, layer after the op: rel. error",
                rel_err(Cube.backward_right(x, chain_upstream), num_chain),
                RIGHT,
            ),
            below(
                "3x^2 alone, loss = y.sum() (upstream all ones): rel. error",
                rel_err(Cube.backward_wrong(x, ones), num_sum),
                RIGHT,
            ),
            above(
                "3x^2 alone, random upstream: rel. error",
                rel_err(Cube.backward_wrong(x, c), num_weighted),
                WRONG,
            ),
            above(
                "3x^2 alone, layer after the op: rel. error",
                rel_err(Cube.backward_wrong(x, chain_upstream), num_chain),
                WRONG,
            ),
        ],
    )
