"""Identical initial weights give identical hidden units forever; random weights break the tie."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, numerical_grad, rel_err, rng, sigmoid
from kb.schema import CheckResult, above, below

_X = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])  # XOR, one example per column
_Y = np.array([[0.0, 1.0, 1.0, 0.0]])
_STEPS, _LR = 300, 5.0

Params = list[np.ndarray]  # [W1 (4, 2), b1 (4, 1), W2 (1, 4), b2 (1, 1)]


def _loss(p: Params) -> float:
    a2 = sigmoid(p[2] @ sigmoid(p[0] @ _X + p[1]) + p[3])
    return float(-np.mean(_Y * np.log(a2) + (1.0 - _Y) * np.log(1.0 - a2)))


def _grads(p: Params) -> Params:
    a1 = sigmoid(p[0] @ _X + p[1])
    a2 = sigmoid(p[2] @ a1 + p[3])
    m = _X.shape[1]
    d2 = (a2 - _Y) / m  # sigmoid output with cross-entropy, mean over the batch
    d1 = (p[2].T @ d2) * a1 * (1.0 - a1)
    return [d1 @ _X.T, d1.sum(axis=1, keepdims=True), d2 @ a1.T, d2.sum(axis=1, keepdims=True)]


def _train(p: Params) -> Params:
    for _ in range(_STEPS):
        p = [w - _LR * g for w, g in zip(p, _grads(p), strict=True)]
    return p


def _spread(w1: np.ndarray) -> float:
    """How different the hidden units are: largest range of any incoming weight across units."""
    return float(np.ptp(w1, axis=0).max())


def _init(kind: str) -> Params:
    if kind == "zeros":
        return [np.zeros((4, 2)), np.zeros((4, 1)), np.zeros((1, 4)), np.zeros((1, 1))]
    if kind == "constant":
        return [np.full((4, 2), 0.5), np.zeros((4, 1)), np.full((1, 4), 0.5), np.zeros((1, 1))]
    r = rng(191)  # random weights, zero biases
    return [r.normal(size=(4, 2)), np.zeros((4, 1)), r.normal(size=(1, 4)), np.zeros((1, 1))]


def check() -> CheckResult:
    probe = _init("random")
    numeric = numerical_grad(lambda: _loss(probe), probe[0])

    zeros, constant, random = (_train(_init(k)) for k in ("zeros", "constant", "random"))

    return CheckResult(
        claim=(
            "Hidden units that start with identical weights get identical gradients and stay "
            "identical: zero or constant initialisation leaves a 4-unit hidden layer acting like "
            "one unit, which cannot learn XOR. Random weights (with zero biases) break the tie."
        ),
        measurements=[
            below(
                "backprop used for training: rel. error of dW1",
                rel_err(_grads(probe)[0], numeric),
                RIGHT,
            ),
            below(
                "zero init: norm of the first dW1",
                float(np.linalg.norm(_grads(_init("zeros"))[0])),
                1e-15,
            ),
            below(
                f"zero init, after {_STEPS} steps: spread between hidden units",
                _spread(zeros[0]),
                1e-12,
            ),
            below(
                f"constant 0.5 init, after {_STEPS} steps: spread between hidden units",
                _spread(constant[0]),
                1e-12,
            ),
            above(
                f"random weights, zero biases, after {_STEPS} steps: spread",
                _spread(random[0]),
                0.1,
            ),
            above(f"zero init: XOR loss after {_STEPS} steps", _loss(zeros), 0.3),
            above(f"constant 0.5 init: XOR loss after {_STEPS} steps", _loss(constant), 0.3),
            below(
                f"random weights, zero biases: XOR loss after {_STEPS} steps", _loss(random), 0.05
            ),
        ],
    )
