"""w <- w - lr * dC/dw; with err = y - pred the same step is w += lr * X.T @ err / m."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import numerical_grad, rng
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    import matplotlib.figure

_LR, _STEPS = 0.3, 50


def _problem() -> tuple[np.ndarray, np.ndarray]:
    r = rng(171)
    x = r.normal(size=(40, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.1 * r.normal(size=40)
    return x, y


def _loss(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(0.5 * np.mean((x @ w - y) ** 2))


def _step(w: np.ndarray, x: np.ndarray, y: np.ndarray, flipped: bool) -> np.ndarray:
    err = y - x @ w  # "error = target - output"
    update = _LR * x.T @ err / len(y)
    return w - update if flipped else w + update  # right: err already carries the minus sign


def _train(flipped: bool) -> list[float]:
    x, y = _problem()
    w = np.zeros(3)
    losses = [_loss(w, x, y)]
    for _ in range(_STEPS):
        w = _step(w, x, y, flipped)
        losses.append(_loss(w, x, y))
    return losses


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def check() -> CheckResult:
    x, y = _problem()
    w = rng(172).normal(size=3)
    grad = numerical_grad(lambda: _loss(w, x, y), w)
    right_dir = _step(w, x, y, flipped=False) - w
    flipped_dir = _step(w, x, y, flipped=True) - w
    right, flipped = _train(False), _train(True)

    return CheckResult(
        claim=(
            "Gradient descent moves against dC/dw. With err = y - pred the step w += lr * X.T @ err "
            "is exactly that; w -= lr * X.T @ err climbs the loss and diverges."
        ),
        measurements=[
            below(
                "w += lr * X.T @ err: 1 + cos(step, dC/dw)", 1.0 + _cosine(right_dir, grad), 1e-9
            ),
            above(
                "w -= lr * X.T @ err: 1 + cos(step, dC/dw)", 1.0 + _cosine(flipped_dir, grad), 1.0
            ),
            below(
                f"w += ...: loss after {_STEPS} steps / initial loss", right[-1] / right[0], 1e-2
            ),
            above(
                f"w -= ...: loss after {_STEPS} steps / initial loss", flipped[-1] / flipped[0], 1e3
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Mean squared error over the gradient-descent steps on a log scale, for err = y - pred with"
    " w += lr X.T @ err, which falls and levels off, and with w -= lr X.T @ err, which grows "
    "without bound."
)
FIGURE_CAPTION = (
    "With err = y - pred the update must add lr X.T @ err: the loss falls; the flipped sign "
    "makes it grow every step."
)


def figure() -> matplotlib.figure.Figure:
    """Loss over gradient-descent steps for both signs of the update (log scale)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    steps = np.arange(_STEPS + 1)
    ax.semilogy(steps, _train(False), label="err = y - pred;  w += lr * X.T @ err (right)")
    ax.semilogy(steps, _train(True), label="err = y - pred;  w -= lr * X.T @ err (flipped)")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("mean squared error / 2")
    ax.legend()
    fig.tight_layout()
    return fig
