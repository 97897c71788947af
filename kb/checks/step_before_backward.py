"""step() applies whatever .grad holds at that moment: the order zero_grad, backward, step matters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

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
