"""Keeping the bias out of an L2 penalty means zeroing a copy for the penalty term, after the
forward pass; zeroing the bias column of the parameters themselves changes the network the
gradient is computed for, and (through a view) the caller's parameter vector."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid
from kb.schema import CheckResult, above, below

N_IN, N_HID, N_OUT, M = 4, 5, 3, 7
LAM = 0.3


def _unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Views into the flat vector, as scipy-style cost functions cut it."""
    k = N_HID * (N_IN + 1)
    return theta[:k].reshape(N_HID, N_IN + 1), theta[k:].reshape(N_OUT, N_HID + 1)


def _forward(t1: np.ndarray, t2: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
    a1 = np.hstack((np.ones((M, 1)), x))
    z2 = a1 @ t1.T
    a2 = np.hstack((np.ones((M, 1)), sigmoid(z2)))
    h = sigmoid(a2 @ t2.T)
    return a1, z2, a2, h


def cost(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Cross-entropy plus (λ / 2m) times the squared weights without the bias columns."""
    t1, t2 = _unpack(theta)
    h = _forward(t1, t2, x)[3]
    ce = -np.sum(y * np.log(h) + (1 - y) * np.log(1 - h)) / M
    return float(ce + LAM / (2 * M) * (np.sum(t1[:, 1:] ** 2) + np.sum(t2[:, 1:] ** 2)))


def gradient(theta: np.ndarray, x: np.ndarray, y: np.ndarray, zero_in_place: bool) -> np.ndarray:
    t1, t2 = _unpack(theta)
    if zero_in_place:  # the misconception: bias columns zeroed on the live views
        t1[:, 0] = 0
        t2[:, 0] = 0
    a1, z2, a2, h = _forward(t1, t2, x)
    d3 = h - y
    s = sigmoid(z2)
    d2 = (d3 @ t2[:, 1:]) * s * (1 - s)
    g1, g2 = d2.T @ a1 / M, d3.T @ a2 / M
    r1, r2 = t1.copy(), t2.copy()  # the right way: a copy, zeroed for the penalty only
    r1[:, 0] = 0
    r2[:, 0] = 0
    return np.concatenate([(g1 + LAM / M * r1).ravel(), (g2 + LAM / M * r2).ravel()])


def check() -> CheckResult:
    r = rng(304)
    theta = r.normal(scale=0.8, size=N_HID * (N_IN + 1) + N_OUT * (N_HID + 1))
    x = r.normal(size=(M, N_IN))
    y = np.eye(N_OUT)[r.integers(0, N_OUT, size=M)]
    numeric = numerical_grad(lambda: cost(theta, x, y), theta)

    right = gradient(theta.copy(), x, y, zero_in_place=False)
    caller = theta.copy()
    wrong = gradient(caller, x, y, zero_in_place=True)
    changed = float(np.max(np.abs(caller - theta)))

    return CheckResult(
        claim=(
            "The bias columns are left out of the penalty by zeroing a copy used for the penalty "
            "term; zeroing them in the parameters before the forward pass gives the gradient of "
            "another network, and overwrites the caller's parameter vector through the views."
        ),
        measurements=[
            below(
                "copy zeroed for the penalty only: rel. error of the gradient",
                rel_err(right, numeric),
                RIGHT,
            ),
            above(
                "bias columns zeroed in place before the forward pass: rel. error",
                rel_err(wrong, numeric),
                WRONG,
            ),
            above(
                "caller's parameter vector after the in-place zeroing: largest change",
                changed,
                1e-3,
            ),
        ],
    )
