"""zero_grad() between backward() and step() erases the gradient the step was about to apply."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

LR, MOMENTUM, STEPS, WARM = 0.1, 0.9, 40, 5
BETAS, EPS = (0.9, 0.999), 1e-8


class Problem:
    """Least squares on a batch of m = 32 examples: L(w) = ½·mean((x w − y)²)."""

    def __init__(self, r: np.random.Generator) -> None:
        self.x = r.normal(size=(32, 5))
        self.y = self.x @ r.normal(size=5) + 0.1 * r.normal(size=32)
        self.w0 = 0.1 * r.normal(size=5)

    def loss(self, w: np.ndarray) -> float:
        return float(0.5 * np.mean((self.x @ w - self.y) ** 2))

    def grad(self, w: np.ndarray) -> np.ndarray:
        return self.x.T @ (self.x @ w - self.y) / len(self.y)


class NumpyOptimizer:
    """torch.optim.SGD (with momentum) and Adam as their docs state them, with PyTorch's .grad
    conventions: zero_grad() sets .grad to None (or to zeros with set_to_none=False) and step()
    skips a parameter whose .grad is None."""

    def __init__(self, kind: str, w: np.ndarray) -> None:
        self.kind, self.w, self.grad = kind, w.copy(), None
        self.buf: np.ndarray | None = None
        self.m, self.v, self.t = np.zeros_like(w), np.zeros_like(w), 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.grad = None if set_to_none else np.zeros_like(self.w)

    def backward(self, p: Problem) -> None:
        g = p.grad(self.w)
        self.grad = g if self.grad is None else self.grad + g

    def step(self) -> None:
        g = self.grad
        if g is None:
            return
        if self.kind == "sgd":
            self.w = self.w - LR * g
        elif self.kind == "momentum":
            self.buf = g.copy() if self.buf is None else MOMENTUM * self.buf + g
            self.w = self.w - LR * self.buf
        else:
            self.t += 1
            self.m = BETAS[0] * self.m + (1 - BETAS[0]) * g
            self.v = BETAS[1] * self.v + (1 - BETAS[1]) * g * g
            mhat, vhat = self.m / (1 - BETAS[0] ** self.t), self.v / (1 - BETAS[1] ** self.t)
            self.w = self.w - LR * mhat / (np.sqrt(vhat) + EPS)


class TorchOptimizer:
    """The same interface over a real torch.optim optimizer and a real loss.backward()."""

    def __init__(self, torch, kind: str, w: np.ndarray, p: Problem) -> None:
        self.torch = torch
        self.param = tensor(torch, w, requires_grad=True)
        self.x, self.y = tensor(torch, p.x), tensor(torch, p.y)
        if kind == "adam":
            self.opt = torch.optim.Adam([self.param], lr=LR, betas=BETAS, eps=EPS)
        else:
            momentum = MOMENTUM if kind == "momentum" else 0.0
            self.opt = torch.optim.SGD([self.param], lr=LR, momentum=momentum)

    @property
    def w(self) -> np.ndarray:
        return numpy(self.param)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.opt.zero_grad(set_to_none=set_to_none)

    def backward(self, p: Problem) -> None:
        (0.5 * ((self.x @ self.param - self.y) ** 2).mean()).backward()

    def step(self) -> None:
        self.opt.step()


Optimizer = NumpyOptimizer | TorchOptimizer
Order = Callable[[Optimizer, Problem], None]


def right(opt: Optimizer, p: Problem) -> None:
    opt.zero_grad()
    opt.backward(p)
    opt.step()


def zero_between(opt: Optimizer, p: Problem) -> None:
    opt.backward(p)
    opt.zero_grad()  # erases the gradient backward() just wrote
    opt.step()


def zero_between_keep_zeros(opt: Optimizer, p: Problem) -> None:
    opt.backward(p)
    opt.zero_grad(set_to_none=False)  # .grad is a tensor of zeros: step() runs on it
    opt.step()


def check() -> CheckResult:
    torch = get_torch()
    p = Problem(rng(81))

    def make(kind: str) -> Optimizer:
        if torch is None:
            return NumpyOptimizer(kind, p.w0)
        return TorchOptimizer(torch, kind, p.w0, p)

    def train(kind: str, order: Order, steps: int = STEPS) -> Optimizer:
        opt = make(kind)
        for _ in range(steps):
            order(opt, p)
        return opt

    def update_error(order: Order) -> float:
        """Rel. error of the update SGD applies in step 6 against −lr times the gradient there."""
        opt = train("sgd", right, WARM)
        before = opt.w
        probe = before.copy()
        expected = -LR * numerical_grad(lambda: p.loss(probe), probe)
        order(opt, p)
        return rel_err(opt.w - before, expected)

    good, frozen = train("sgd", right), train("sgd", zero_between)
    # From the first iteration, momentum and Adam have no state either: with .grad set to zeros
    # (set_to_none=False) they step on zeros and still do not move.
    still = [train(kind, zero_between_keep_zeros) for kind in ("momentum", "adam")]
    # Adam trained correctly for WARM steps, then the bug: it keeps moving, on its old moments.
    adam = train("adam", right, WARM)
    m, v, t, w = np.zeros(5), np.zeros(5), 0, p.w0.copy()
    for _ in range(WARM):  # the state those steps left (the same arithmetic as torch.optim.Adam)
        g, t = p.grad(w), t + 1
        m = BETAS[0] * m + (1 - BETAS[0]) * g
        v = BETAS[1] * v + (1 - BETAS[1]) * g * g
        w = w - LR * (m / (1 - BETAS[0] ** t)) / (np.sqrt(v / (1 - BETAS[1] ** t)) + EPS)
    start, stale = adam.w, w.copy()
    for _ in range(WARM):
        zero_between_keep_zeros(adam, p)
        t += 1
        m, v = BETAS[0] * m, BETAS[1] * v  # g = 0: only the decayed moments remain
        stale = stale - LR * (m / (1 - BETAS[0] ** t)) / (np.sqrt(v / (1 - BETAS[1] ** t)) + EPS)

    return CheckResult(
        claim=says_which(
            "zero_grad, backward, step applies −lr times the current gradient. backward, "
            "zero_grad, step erases that gradient before step() reads it: plain SGD never moves "
            "the weights (with the default set_to_none=True step() skips them, nothing raises), "
            "momentum SGD and Adam started this way stay put too, even with set_to_none=False "
            "(they step on zeros), and an Adam that already has state keeps moving on its stale "
            "moments alone (set_to_none=False), never on the new gradient.",
            torch,
        ),
        measurements=[
            below(
                "zero_grad, backward, step: rel. error of the applied update vs −lr·∇L",
                update_error(right),
                RIGHT,
            ),
            above(
                "backward, zero_grad, step: rel. error of the applied update vs −lr·∇L",
                update_error(zero_between),
                WRONG,
            ),
            below(
                f"backward, zero_grad, step, SGD: largest weight change over {STEPS} steps",
                np.abs(frozen.w - p.w0).max(),
                1e-12,
            ),
            above(
                f"loss after {STEPS} steps: backward, zero_grad, step / the right order",
                p.loss(frozen.w) / p.loss(good.w),
                10.0,
            ),
            below(
                f"momentum SGD and Adam, grads zeroed (not None) from step 1: largest weight "
                f"change over {STEPS} steps",
                max(np.abs(o.w - p.w0).max() for o in still),
                1e-12,
            ),
            above(
                f"Adam after {WARM} right steps, then {WARM} with zero_grad in between: "
                "largest weight change",
                np.abs(adam.w - start).max(),
                1e-3,
            ),
            below(
                "those Adam steps vs the stale moments decayed with gradient 0: rel. difference",
                rel_err(adam.w - start, stale - start),
                1e-9,
            ),
        ],
    )
