"""backward() adds into .grad: without zeroing, each step applies the sum of all past gradients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LR, STEPS = 0.2, 40


@dataclass
class Param:
    """A parameter the way autograd frameworks keep it: a value and a .grad that backward adds to."""

    value: np.ndarray
    grad: np.ndarray | None = field(default=None)

    def zero_grad(self) -> None:
        self.grad = None  # PyTorch's default since 2.0: set_to_none=True


@dataclass
class Regression:
    x: np.ndarray
    y: np.ndarray

    def loss(self, w: np.ndarray) -> float:
        return float(0.5 * np.mean((self.x @ w - self.y) ** 2))

    def backward(self, w: Param, rows: slice = slice(None)) -> None:
        """Accumulate d(mean loss over ``rows``)/dw into w.grad, as loss.backward() does."""
        x, y = self.x[rows], self.y[rows]
        g = x.T @ (x @ w.value - y) / len(y)
        w.grad = g if w.grad is None else w.grad + g


def problem() -> Regression:
    r = rng(23)
    x = r.normal(size=(32, 5))
    return Regression(x, x @ r.normal(size=5) + 0.1 * r.normal(size=32))


def train(zero_grad: bool) -> tuple[list[float], float, float]:
    """SGD for STEPS steps; returns the loss curve, the worst rel. error of .grad against the
    current finite-difference gradient, and the rel. gap between .grad and the running sum."""
    reg = problem()
    w = Param(np.zeros(5))
    losses, worst, running = [], 0.0, np.zeros(5)
    sum_gap = 0.0
    for _ in range(STEPS):
        if zero_grad:
            w.zero_grad()
        reg.backward(w)
        fresh = numerical_grad(lambda: reg.loss(w.value), w.value)
        running = running + fresh
        worst = max(worst, rel_err(w.grad, fresh))
        sum_gap = max(sum_gap, rel_err(w.grad, running))
        w.value = w.value - LR * w.grad
        losses.append(reg.loss(w.value))
    return losses, worst, sum_gap


def check() -> CheckResult:
    zeroed, zeroed_err, _ = train(zero_grad=True)
    stale, stale_err, stale_sum_gap = train(zero_grad=False)

    # Deliberate accumulation: 4 micro-batches of 8, zeroed once, each loss divided by 4,
    # gives the gradient of the mean loss over all 32 rows.
    reg = problem()
    w = Param(reg.x[0] * 0.3)
    for k in range(4):
        reg.backward(w, slice(8 * k, 8 * (k + 1)))
    accumulated = w.grad / 4
    full = numerical_grad(lambda: reg.loss(w.value), w.value)

    return CheckResult(
        claim=(
            "backward() adds into .grad. Zeroed every step, .grad is the current gradient and SGD "
            "converges; never zeroed, .grad is the sum of every gradient so far, which is not the "
            "gradient at the current weights, and the same SGD stops converging."
        ),
        measurements=[
            below(
                "zeroed each step: worst rel. error of .grad vs current gradient", zeroed_err, RIGHT
            ),
            above("never zeroed: worst rel. error of .grad vs current gradient", stale_err, WRONG),
            below(
                "never zeroed: rel. gap between .grad and the sum of all past gradients",
                stale_sum_gap,
                RIGHT,
            ),
            above(f"loss after {STEPS} steps, never zeroed / zeroed", stale[-1] / zeroed[-1], 10.0),
            below(
                "4 micro-batches accumulated on purpose, / 4: rel. error vs full-batch gradient",
                rel_err(accumulated, full),
                RIGHT,
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Training loss over the SGD steps on a log scale: with zero_grad() every step it falls "
    "smoothly and levels off; without zeroing, .grad keeps adding up and the loss oscillates "
    "and never converges."
)
FIGURE_CAPTION = (
    "Zeroing .grad every step (solid) converges; never zeroing it (dashed) applies the running "
    "sum of past gradients and the loss does not go down."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    zeroed, _, _ = train(zero_grad=True)
    stale, _, _ = train(zero_grad=False)
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    steps = np.arange(1, STEPS + 1)
    ax.semilogy(steps, zeroed, "o-", ms=3, label="zero_grad() every step")
    ax.semilogy(steps, stale, "s--", ms=3, label="never zeroed: .grad keeps adding up")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
