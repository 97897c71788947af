"""A loss's backward must return the derivative of the formula its forward computes: the mean
squared error's is (p - y)/N, the cross-entropy's -y/p, the binary cross-entropy's
(p - y)/(p(1 - p)); p - y is the gradient only with respect to the logits, of the cross-entropy
through a softmax or of the binary cross-entropy through a sigmoid."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid, softmax
from kb.schema import CheckResult, Measurement, above, below

N, K = 6, 4  # batch, classes


def _mse(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(0.5 * (p - y) ** 2))


def _bce(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _ce(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.sum(y * np.log(p)) / len(p))


def _fd(
    loss: Callable[[np.ndarray, np.ndarray], float], x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    return numerical_grad(lambda: loss(x, y), x)


def _probability_inputs() -> list[Measurement]:
    r = rng(2051)
    p = r.uniform(0.05, 0.95, size=(N, K))
    y = r.uniform(0.0, 1.0, size=(N, K))
    onehot = np.eye(K)[r.integers(0, K, size=N)]
    mse_fd, bce_fd, ce_fd = _fd(_mse, p, y), _fd(_bce, p, y), _fd(_ce, p, onehot)
    size = p.size
    return [
        below("MSE, (p - y) / size: rel. error", rel_err((p - y) / size, mse_fd), RIGHT),
        above(
            "MSE, (p - y) / (p(1 - p)) / size (the BCE's): rel. error",
            rel_err((p - y) / (p * (1 - p)) / size, mse_fd),
            WRONG,
        ),
        below(
            "BCE on probabilities, (p - y) / (p(1 - p)) / size: rel. error",
            rel_err((p - y) / (p * (1 - p)) / size, bce_fd),
            RIGHT,
        ),
        above(
            "BCE on probabilities, (p - y) / size: rel. error",
            rel_err((p - y) / size, bce_fd),
            WRONG,
        ),
        below("CE, -y / p / m: rel. error", rel_err(-onehot / p / N, ce_fd), RIGHT),
        above(
            "CE, 2(p - y) / m (the squared error's): rel. error",
            rel_err(2 * (p - onehot) / N, ce_fd),
            WRONG,
        ),
        below(
            "CE, y / p / m: <g, g_fd> / <g_fd, g_fd>",
            float(np.sum((onehot / p / N) * ce_fd) / np.sum(ce_fd * ce_fd)),
            -0.99,
            "-1: the gradient with its sign flipped",
        ),
    ]


def _through_activations() -> list[Measurement]:
    r = rng(2052)
    z = r.normal(size=(N, K))
    y = r.uniform(0.0, 1.0, size=(N, K))
    onehot = np.eye(K)[r.integers(0, K, size=N)]
    s, q = sigmoid(z), softmax(z, axis=1)
    size = z.size
    bce_z = numerical_grad(lambda: _bce(sigmoid(z), y), z)
    ce_z = numerical_grad(lambda: _ce(softmax(z, axis=1), onehot), z)
    # the lincoln-style loss: a softmax, then cross-entropy terms for both y and 1 - y
    both = numerical_grad(lambda: _bce(softmax(z, axis=1), onehot) * K, z)
    mse_z = numerical_grad(lambda: _mse(sigmoid(z), y), z)
    return [
        below(
            "BCE of sigmoid(z), (s - y) / size in z: rel. error",
            rel_err((s - y) / size, bce_z),
            RIGHT,
        ),
        below(
            "CE of softmax(z), (q - y) / m in z: rel. error", rel_err((q - onehot) / N, ce_z), RIGHT
        ),
        above(
            "CE of softmax(z), 2(q - y) / m in z: rel. error",
            rel_err(2 * (q - onehot) / N, ce_z),
            0.3,
            "1/3: a factor 2 off",
        ),
        above(
            "softmax(z) with -(y log q + (1 - y) log(1 - q)), (q - y) / m in z: rel. error",
            rel_err((q - onehot) / N, both),
            WRONG,
        ),
        above(
            "MSE of sigmoid(z), (s - y) / size in z: rel. error",
            rel_err((s - y) / size, mse_z),
            WRONG,
        ),
    ]


def check() -> CheckResult:
    return CheckResult(
        claim=(
            "A loss's backward must be the derivative of its forward formula: (p - y)/m for the "
            "mean squared error, -y/p for the cross-entropy, (p - y)/(p(1 - p)) for the binary "
            "cross-entropy of probabilities. p - y is right only as the gradient in the logits, "
            "through a sigmoid (BCE) or a softmax (CE); for any other loss, or on probabilities, "
            "it is wrong, and y/p is the cross-entropy's gradient with its sign flipped."
        ),
        measurements=[*_probability_inputs(), *_through_activations()],
    )
