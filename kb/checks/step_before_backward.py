"""step() applies whatever .grad holds at that moment: the order zero_grad, backward, step matters."""

from __future__ import annotations

from collections.abc import Callable
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
    value: np.ndarray
    grad: np.ndarray | None = field(default=None)


class SGD:
    """Plain SGD with PyTorch's conventions: zero_grad() sets .grad to None, step() skips None."""

    def __init__(self, params: list[Param], lr: float) -> None:
        self.params, self.lr = params, lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.value = p.value - self.lr * p.grad


@dataclass
class Regression:
    x: np.ndarray
    y: np.ndarray

    def loss(self, w: np.ndarray) -> float:
        return float(0.5 * np.mean((self.x @ w - self.y) ** 2))

    def backward(self, w: Param) -> None:
        g = self.x.T @ (self.x @ w.value - self.y) / len(self.y)
        w.grad = g if w.grad is None else w.grad + g


def problem() -> tuple[Regression, Param, SGD]:
    r = rng(24)
    x = r.normal(size=(32, 5))
    reg = Regression(x, x @ r.normal(size=5) + 0.1 * r.normal(size=32))
    w = Param(np.zeros(5))
    return reg, w, SGD([w], LR)


def run(order: Callable[[SGD, Regression, Param], None]) -> tuple[Param, list[float]]:
    reg, w, opt = problem()
    losses = []
    for _ in range(STEPS):
        order(opt, reg, w)
        losses.append(reg.loss(w.value))
    return w, losses


def correct(opt: SGD, reg: Regression, w: Param) -> None:
    opt.zero_grad()
    reg.backward(w)
    opt.step()


def step_before_backward(opt: SGD, reg: Regression, w: Param) -> None:
    opt.zero_grad()
    opt.step()  # .grad is None here: nothing happens
    reg.backward(w)


def zero_between(opt: SGD, reg: Regression, w: Param) -> None:
    reg.backward(w)
    opt.zero_grad()  # erases the gradient just computed
    opt.step()


def step_then_zero_then_backward(opt: SGD, reg: Regression, w: Param) -> None:
    opt.step()  # uses the gradient from the previous iteration's weights
    opt.zero_grad()
    reg.backward(w)


def applied_update_error(order: Callable[[SGD, Regression, Param], None], at_step: int) -> float:
    """Rel. error between the update step() applies and -lr times the current gradient."""
    reg, w, opt = problem()
    for _ in range(at_step):
        order(opt, reg, w)
    before = w.value.copy()
    probe = before.copy()
    expected = -LR * numerical_grad(lambda: reg.loss(probe), probe)
    order(opt, reg, w)
    return rel_err(w.value - before, expected)


def check() -> CheckResult:
    _, right = run(correct)
    frozen_w, frozen = run(step_before_backward)
    erased_w, erased = run(zero_between)
    _, lagged = run(step_then_zero_then_backward)
    # The last order runs one iteration behind: its curve is the right one shifted by one step.
    lag_gap = rel_err(np.array(lagged[1:]), np.array(right[:-1]))

    return CheckResult(
        claim=(
            "zero_grad, backward, step applies -lr times the current gradient. step before "
            "backward, or zero_grad between backward and step, leaves the weights unchanged "
            "forever. step, zero_grad, backward is harmless: nothing changes the weights between "
            "backward and the next step, so it is the right loop one iteration behind."
        ),
        measurements=[
            below(
                "zero_grad, backward, step: rel. error of the applied update",
                applied_update_error(correct, 5),
                RIGHT,
            ),
            below(
                "zero_grad, step, backward: largest weight change over 40 steps",
                np.abs(frozen_w.value).max(),
                1e-12,
            ),
            below(
                "backward, zero_grad, step: largest weight change over 40 steps",
                np.abs(erased_w.value).max(),
                1e-12,
            ),
            above(
                "zero_grad, step, backward: rel. error of the applied update",
                applied_update_error(step_before_backward, 5),
                WRONG,
            ),
            above(
                "those two orders: final loss / final loss of the right order",
                min(frozen[-1], erased[-1]) / right[-1],
                10.0,
            ),
            below(
                "step, zero_grad, backward: rel. gap to the right loss curve shifted by one step",
                lag_gap,
                1e-12,
            ),
        ],
    )


ORDERS: list[tuple[str, Callable[[SGD, Regression, Param], None]]] = [
    ("zero_grad, backward, step", correct),
    ("zero_grad, step, backward", step_before_backward),
    ("backward, zero_grad, step", zero_between),
    ("step, zero_grad, backward", step_then_zero_then_backward),
]

# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Left: the four orders of the calls in one training iteration, one row each, drawn as three "
    "boxes in the order they run (zero_grad, backward, step and their permutations), each row "
    "labelled with the relative error of the update step() applies against minus the learning "
    "rate times the current gradient. Right: the training loss of each order over the SGD steps "
    "on a log scale. zero_grad, backward, step falls; zero_grad, step, backward and backward, "
    "zero_grad, step stay flat at the starting loss, because step() finds no gradient; step, "
    "zero_grad, backward falls one step behind the right order."
)
FIGURE_CAPTION = (
    "step() applies whatever .grad holds when it runs: only backward before step, with no "
    "zero_grad in between, trains; step before backward or zero_grad between them never moves "
    "the weights."
)


def figure() -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(8.4, 3.6))
    calls, curves = fig.subplots(1, 2, width_ratios=[1.15, 1.0])
    colours = {"zero_grad": "#9e9e9e", "backward": "#3f51b5", "step": "#ff7043"}
    for row, (name, order) in enumerate(ORDERS):
        y = len(ORDERS) - 1 - row
        for col, call in enumerate(name.split(", ")):
            calls.add_patch(
                Rectangle((col * 1.1, y + 0.15), 1.0, 0.5, color=colours[call], alpha=0.85)
            )
            calls.text(
                col * 1.1 + 0.5, y + 0.4, call, ha="center", va="center", fontsize=8, color="white"
            )
        error = applied_update_error(order, 5)
        calls.text(3.35, y + 0.4, f"update error\n{error:.2g}", va="center", fontsize=7)
        _, losses = run(order)
        curves.semilogy(np.arange(1, STEPS + 1), losses, label=name, ls=("-", "--", ":", "-.")[row])
    calls.set_xlim(-0.1, 4.4)
    calls.set_ylim(0, len(ORDERS))
    calls.axis("off")
    calls.set_title("one iteration, calls in order", fontsize=9)
    curves.set_xlabel("SGD step")
    curves.set_ylabel("training loss")
    curves.legend(fontsize=7)
    fig.tight_layout()
    return fig
