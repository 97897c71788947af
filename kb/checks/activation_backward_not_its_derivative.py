"""An elementwise activation layer's backward must return g · f'(x) for the f its forward applied:
a finite-difference gradient check of small ReLU, leaky ReLU, tanh and sigmoid layers, each with
its right backward and with the slips found in real layer classes (a ReLU mask tested on the
clipped output with >= 0, so always true; the mask taken from the gradient's sign; tanh' written
1 - a; the sigmoid's derivative replaced by its output; the leaky slope on the wrong side)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid
from kb.schema import CheckResult, Measurement, above, below

N, D = 6, 5  # batch, width
ALPHA = 0.1  # the leaky ReLU's slope


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x on both sides of zero, at least 0.1 away from the kink; U weights the cost."""
    r = rng(seed)
    x = r.normal(size=(N, D))
    x = np.sign(x) * (0.1 + np.abs(x))
    u = r.normal(size=(N, D))
    return x, u


def _check(
    f: Callable[[np.ndarray], np.ndarray],
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    seed: int,
) -> float:
    """rel. error of backward(g, x, out) against d/dx of C = sum(U * f(x)), with g = U."""
    x, u = _inputs(seed)
    fd = numerical_grad(lambda: float(np.sum(u * f(x))), x)
    return rel_err(backward(u, x, f(x)), fd)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, None)


def _leaky(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, ALPHA * x)


def _relu_layers() -> list[Measurement]:
    x, _ = _inputs(1101)
    always = float(np.mean(_relu(x) >= 0))
    return [
        below(
            "ReLU, g * (x > 0): rel. error",
            _check(_relu, lambda g, x, out: g * (x > 0), 1101),
            RIGHT,
        ),
        below(
            "ReLU, g * (out > 0): rel. error",
            _check(_relu, lambda g, x, out: g * (out > 0), 1101),
            RIGHT,
        ),
        below(
            "ReLU, g.copy() with g[x <= 0] = 0: rel. error",
            _check(_relu, lambda g, x, out: np.where(x <= 0, 0.0, g), 1101),
            RIGHT,
        ),
        above(
            "ReLU, out >= 0: fraction of the entries the mask passes",
            always,
            0.999,
            "1: the clipped output is never negative, so the mask passes every entry",
        ),
        above(
            "ReLU, g * (out >= 0) (identity): rel. error",
            _check(_relu, lambda g, x, out: g * (out >= 0), 1101),
            WRONG,
        ),
        above(
            "ReLU, np.maximum(0, g) (the mask from the gradient): rel. error",
            _check(_relu, lambda g, x, out: np.maximum(0, g), 1101),
            WRONG,
        ),
        below(
            "leaky ReLU, np.where(x > 0, g, alpha * g): rel. error",
            _check(_leaky, lambda g, x, out: np.where(x > 0, g, ALPHA * g), 1102),
            RIGHT,
        ),
        above(
            "leaky ReLU, np.where(x > 0, alpha * g, g) (slope on the wrong side): rel. error",
            _check(_leaky, lambda g, x, out: np.where(x > 0, ALPHA * g, g), 1102),
            WRONG,
        ),
    ]


def _smooth_layers() -> list[Measurement]:
    return [
        below(
            "tanh, g * (1 - out**2): rel. error",
            _check(np.tanh, lambda g, x, out: g * (1 - out**2), 1103),
            RIGHT,
        ),
        above(
            "tanh, g * (1 - out): rel. error",
            _check(np.tanh, lambda g, x, out: g * (1 - out), 1103),
            WRONG,
        ),
        below(
            "sigmoid, g * out * (1 - out): rel. error",
            _check(sigmoid, lambda g, x, out: g * out * (1 - out), 1104),
            RIGHT,
        ),
        above(
            "sigmoid, g * out: rel. error",
            _check(sigmoid, lambda g, x, out: g * out, 1104),
            WRONG,
        ),
        above(
            "sigmoid, g * x * (1 - x) (the input where the output is needed): rel. error",
            _check(sigmoid, lambda g, x, out: g * x * (1 - x), 1104),
            WRONG,
        ),
    ]


def check() -> CheckResult:
    return CheckResult(
        claim=(
            "An elementwise activation layer's backward must return g · f'(x) for the f its "
            "forward applied: g * (x > 0) or g * (out > 0) for ReLU, g * (1 - out**2) for tanh, "
            "g * out * (1 - out) for the sigmoid, alpha * g on the negative side of a leaky "
            "ReLU. A mask tested on the clipped output with >= 0 is always true (ReLU then "
            "back-propagates as the identity), and a mask taken from the gradient's sign, "
            "1 - out for tanh, out alone for the sigmoid or the slope on the wrong side all "
            "fail the finite-difference check."
        ),
        measurements=[*_relu_layers(), *_smooth_layers()],
    )
