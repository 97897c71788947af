"""w <- w - lr * dC/dw; with err = y - pred the same step is w += lr * X.T @ err / m."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import numerical_grad, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, preload, says_which, tensor

preload()

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


def _autograd_train(torch, ascend_w: bool) -> list[float]:
    """A hand-written PyTorch loop: loss.backward(), then p.data.sub_(lr * p.grad) for every
    parameter, except ``w`` gets p.data.add_(lr * p.grad) when ``ascend_w`` (numpy fallback: the
    same updates with the analytic gradient of the same loss)."""
    x, y = _problem()
    if torch is not None:
        xt, yt = tensor(torch, x), tensor(torch, y)
        w = tensor(torch, np.zeros(3), requires_grad=True)
        b = tensor(torch, np.zeros(1), requires_grad=True)
        losses = []
        for _ in range(_STEPS):
            loss = 0.5 * ((xt @ w + b - yt) ** 2).mean()
            losses.append(loss.item())
            loss.backward()
            b.data.sub_(_LR * b.grad)
            if ascend_w:
                w.data.add_(_LR * w.grad)
            else:
                w.data.sub_(_LR * w.grad)
            w.grad.zero_()
            b.grad.zero_()
        losses.append(float(0.5 * ((xt @ w + b - yt) ** 2).mean().detach()))
        return losses
    wn, bn = np.zeros(3), 0.0
    losses = []
    for _ in range(_STEPS):
        r = x @ wn + bn - y
        losses.append(float(0.5 * np.mean(r**2)))
        gw, gb = x.T @ r / len(y), float(np.mean(r))
        bn -= _LR * gb
        wn = wn + _LR * gw if ascend_w else wn - _LR * gw
    losses.append(float(0.5 * np.mean((x @ wn + bn - y) ** 2)))
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
    torch = get_torch()
    descent, ascent = _autograd_train(torch, False), _autograd_train(torch, True)

    return CheckResult(
        claim=says_which(
            "Gradient descent moves against dC/dw. With err = y - pred the step w += lr * X.T @ err "
            "is exactly that; w -= lr * X.T @ err climbs the loss and diverges. In PyTorch "
            "p.grad is dC/dp after loss.backward(): a hand-written p.data.add_(lr * p.grad) "
            "climbs where p.data.sub_(lr * p.grad) descends.",
            torch,
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
            below(
                f"backward(), p.data.sub_(lr * p.grad) for w and b: loss after {_STEPS} steps / "
                "initial loss",
                descent[-1] / descent[0],
                1e-2,
            ),
            above(
                f"backward(), w.data.add_(lr * w.grad), b.data.sub_(lr * b.grad): loss after "
                f"{_STEPS} steps / initial loss",
                ascent[-1] / ascent[0],
                1e3,
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
