"""Gradient accumulation without dividing the loss by k: every step is k times the mean step."""

from __future__ import annotations

from typing import Any

import numpy as np

from kb.numerics import RIGHT, WRONG, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

K = 4  # micro-batches per optimizer step
M = 32  # examples in the large batch the accumulation stands for (K micro-batches of M / K)
STEPS = 10
ADAM_LR, BETAS, EPS = 0.05, (0.9, 0.999), 1e-8
STABLE = 0.7  # SGD's learning rate, as a fraction of 2 / λ_max (the stability limit)


class Problem:
    """Least squares on a batch of m = 32 examples, L(w) = ½·mean((x w − y)²), cut into k = 4
    micro-batches of 8; each micro-batch's loss is the mean over its own 8 examples."""

    def __init__(self, r: np.random.Generator) -> None:
        self.x = r.normal(size=(M, 5))
        self.y = self.x @ r.normal(size=5) + 0.1 * r.normal(size=M)
        self.w0 = 0.1 * r.normal(size=5)
        hessian = self.x.T @ self.x / M
        self.sgd_lr = STABLE * 2.0 / float(np.linalg.eigvalsh(hessian)[-1])

    def micro(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        size = M // K
        return self.x[j * size : (j + 1) * size], self.y[j * size : (j + 1) * size]

    def loss(self, w: np.ndarray) -> float:
        return float(0.5 * np.mean((self.x @ w - self.y) ** 2))

    def grad(self, w: np.ndarray) -> np.ndarray:
        return self.x.T @ (self.x @ w - self.y) / M


class NumpyLoop:
    """The accumulation loop with PyTorch's conventions: backward() adds the micro-batch loss's
    gradient into .grad, step() is torch.optim.SGD or Adam as their docs state them."""

    def __init__(self, p: Problem, kind: str, lr: float) -> None:
        self.p, self.kind, self.lr = p, kind, lr
        self.w, self.grad = p.w0.copy(), np.zeros(5)
        self.m, self.v, self.t = np.zeros(5), np.zeros(5), 0

    def backward(self, j: int, scale: float) -> None:
        xb, yb = self.p.micro(j)
        self.grad = self.grad + scale * xb.T @ (xb @ self.w - yb) / len(yb)

    def step(self) -> None:
        g = self.grad
        if self.kind == "sgd":
            self.w = self.w - self.lr * g
        else:
            self.t += 1
            self.m = BETAS[0] * self.m + (1 - BETAS[0]) * g
            self.v = BETAS[1] * self.v + (1 - BETAS[1]) * g * g
            mhat, vhat = self.m / (1 - BETAS[0] ** self.t), self.v / (1 - BETAS[1] ** self.t)
            self.w = self.w - self.lr * mhat / (np.sqrt(vhat) + EPS)

    def zero_grad(self) -> None:
        self.grad = np.zeros(5)

    def weights(self) -> np.ndarray:
        return self.w

    def gradient(self) -> np.ndarray:
        return self.grad


class TorchLoop:
    """The same loop over a real torch.optim optimizer and a real loss.backward()."""

    def __init__(self, torch: Any, p: Problem, kind: str, lr: float) -> None:
        self.param = tensor(torch, p.w0, requires_grad=True)
        self.micro = [(tensor(torch, xb), tensor(torch, yb)) for xb, yb in map(p.micro, range(K))]
        if kind == "sgd":
            self.opt = torch.optim.SGD([self.param], lr=lr)
        else:
            self.opt = torch.optim.Adam([self.param], lr=lr, betas=BETAS, eps=EPS)

    def backward(self, j: int, scale: float) -> None:
        xb, yb = self.micro[j]
        loss = 0.5 * ((xb @ self.param - yb) ** 2).mean()
        (loss * scale if scale != 1.0 else loss).backward()

    def step(self) -> None:
        self.opt.step()

    def zero_grad(self) -> None:
        self.opt.zero_grad()

    def weights(self) -> np.ndarray:
        return numpy(self.param)

    def gradient(self) -> np.ndarray:
        return numpy(self.param.grad)


Loop = NumpyLoop | TorchLoop


def check() -> CheckResult:
    torch = get_torch()
    p = Problem(rng(97))

    def make(kind: str, divide_lr: bool = False) -> Loop:
        lr = (p.sgd_lr / (K if divide_lr else 1)) if kind == "sgd" else ADAM_LR
        return NumpyLoop(p, kind, lr) if torch is None else TorchLoop(torch, p, kind, lr)

    def accumulate(loop: Loop, scaled: bool) -> None:
        for j in range(K):  # backward() every micro-batch ...
            loop.backward(j, 1.0 / K if scaled else 1.0)

    def train(kind: str, scaled: bool, steps: int = STEPS, divide_lr: bool = False) -> Loop:
        loop = make(kind, divide_lr)
        for _ in range(steps):
            accumulate(loop, scaled)
            loop.step()  # ... step() once every K
            loop.zero_grad()
        return loop

    full = p.grad(p.w0)
    grads = {}
    for scaled in (True, False):
        loop = make("sgd")
        accumulate(loop, scaled)
        grads[scaled] = loop.gradient()
    first = {s: train("sgd", s, 1).weights() - p.w0 for s in (True, False)}
    sgd_w = {s: train("sgd", s).weights() for s in (True, False)}
    sgd = {s: p.loss(w) for s, w in sgd_w.items()}
    adam = {s: train("adam", s).weights() for s in (True, False)}
    divided = sgd_w[True]
    summed_lr_k = train("sgd", False, divide_lr=True).weights()

    return CheckResult(
        claim=says_which(
            f"backward() every micro-batch adds into .grad: after k = {K} micro-batches of a "
            f"mean loss, .grad holds {K} times the gradient of the batch they stand for, "
            f"unless each loss is divided by k. Plain SGD then steps {K} times too far: at a "
            f"learning rate of {STABLE} times its stability limit, where the divided loop "
            f"converges, the undivided one diverges (with SGD, dividing the learning rate by k "
            f"instead gives the steps of the divided loop). Adam divides by the root of its second "
            f"moment, so it cancels the factor and follows the divided loop almost exactly: "
            f"the bug is mostly hidden there and returns with a change of optimizer or of k.",
            torch,
        ),
        measurements=[
            below(
                "loss / k: rel. error of the accumulated .grad vs the large-batch gradient",
                rel_err(grads[True], full),
                RIGHT,
            ),
            above(
                "loss not divided: rel. error of the accumulated .grad vs the large-batch gradient",
                rel_err(grads[False], full),
                WRONG,
            ),
            below(
                f"loss not divided: largest |.grad / large-batch gradient − {K}|",
                np.abs(grads[False] / full - K).max(),
                1e-9,
            ),
            above(
                "SGD, first step: length of the undivided step / the divided one",
                np.linalg.norm(first[False]) / np.linalg.norm(first[True]),
                K - 1e-6,
            ),
            below(
                f"SGD, {STEPS} steps, loss / k: final loss / initial loss",
                sgd[True] / p.loss(p.w0),
                0.5,
            ),
            above(
                f"SGD, {STEPS} steps: loss of the undivided loop / the divided loop",
                sgd[False] / sgd[True],
                1e3,
            ),
            below(
                f"Adam, {STEPS} steps: rel. difference of the weights, undivided vs divided",
                rel_err(adam[False] - p.w0, adam[True] - p.w0),
                1e-5,
            ),
            below(
                "SGD, loss not divided but learning rate / k: rel. difference of the weights "
                "vs the divided loop",
                rel_err(summed_lr_k - p.w0, divided - p.w0),
                RIGHT,
            ),
        ],
    )
