"""The L2 penalty (λ/2)‖w‖² adds λw to the gradient; SGD's weight_decay=λ is exactly that, but
Adam's weight_decay goes through the adaptive scaling, and AdamW decays the weights decoupled."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

LAM, LR, STEPS = 0.1, 0.05, 10
BETAS, EPS = (0.9, 0.999), 1e-8


class Problem:
    def __init__(self, r: np.random.Generator) -> None:
        self.x = r.normal(size=(16, 5))
        self.y = r.normal(size=16)
        self.w0 = r.normal(size=5)

    def loss(self, w: np.ndarray) -> float:
        return float(0.5 * np.mean((self.x @ w - self.y) ** 2))

    def grad(self, w: np.ndarray) -> np.ndarray:
        return self.x.T @ (self.x @ w - self.y) / len(self.y)


def numpy_run(p: Problem, kind: str) -> np.ndarray:
    """The update rules of torch.optim.SGD / Adam / AdamW as their docs state them."""
    w, m, v = p.w0.copy(), np.zeros(5), np.zeros(5)
    for t in range(1, STEPS + 1):
        g = p.grad(w)
        if kind == "sgd_penalty":  # no weight_decay, the penalty inside the loss
            w = w - LR * (g + LAM * w)
            continue
        if kind == "sgd":
            w = w - LR * (g + LAM * w)
            continue
        if kind == "adam":
            g = g + LAM * w  # L2 added to the gradient, then adaptively rescaled
        if kind == "adamw":
            w = w * (1.0 - LR * LAM)  # decoupled: shrink the weights directly
        m = BETAS[0] * m + (1 - BETAS[0]) * g
        v = BETAS[1] * v + (1 - BETAS[1]) * g * g
        mhat, vhat = m / (1 - BETAS[0] ** t), v / (1 - BETAS[1] ** t)
        w = w - LR * mhat / (np.sqrt(vhat) + EPS)
    return w


def torch_run(torch, p: Problem, kind: str) -> np.ndarray:
    w = tensor(torch, p.w0, requires_grad=True)
    x, y = tensor(torch, p.x), tensor(torch, p.y)
    opt = {
        "sgd_penalty": lambda: torch.optim.SGD([w], lr=LR),
        "sgd": lambda: torch.optim.SGD([w], lr=LR, weight_decay=LAM),
        "adam": lambda: torch.optim.Adam([w], lr=LR, betas=BETAS, eps=EPS, weight_decay=LAM),
        "adamw": lambda: torch.optim.AdamW([w], lr=LR, betas=BETAS, eps=EPS, weight_decay=LAM),
    }[kind]()
    for _ in range(STEPS):
        opt.zero_grad()
        loss = 0.5 * ((x @ w - y) ** 2).mean()
        if kind == "sgd_penalty":
            loss = loss + 0.5 * LAM * (w * w).sum()
        loss.backward()
        opt.step()
    return numpy(w)


def check() -> CheckResult:
    torch = get_torch()
    p = Problem(rng(77))
    w = p.w0.copy()
    fd = numerical_grad(lambda: p.loss(w) + 0.5 * LAM * float(w @ w), w)

    def run(kind: str) -> np.ndarray:
        return torch_run(torch, p, kind) if torch is not None else numpy_run(p, kind)

    sgd_penalty, sgd_wd, adam, adamw = run("sgd_penalty"), run("sgd"), run("adam"), run("adamw")
    # What decoupling means: AdamW's step is plain Adam on the loss plus a shrink by (1 - lr λ).
    decoupled = numpy_run(p, "adamw")

    return CheckResult(
        claim=says_which(
            "The gradient of L + (λ/2)‖w‖² is ∇L + λw; SGD with weight_decay=λ follows exactly "
            "that, but Adam's weight_decay=λ (λw added to the gradient, then divided by √v̂) and "
            "AdamW (w shrunk by lr·λ outside the adaptive step) end at different weights: they "
            "are different regularisers.",
            torch,
        ),
        measurements=[
            below(
                "∇L + λw: rel. error against finite differences",
                rel_err(p.grad(w) + LAM * w, fd),
                RIGHT,
            ),
            above(
                "∇L + 2λw (the ½ of the penalty dropped): rel. error against finite differences",
                rel_err(p.grad(w) + 2 * LAM * w, fd),
                WRONG,
            ),
            below(
                f"SGD weight_decay vs penalty in the loss, after {STEPS} steps: rel. difference",
                rel_err(sgd_wd, sgd_penalty),
                1e-12,
            ),
            above(
                f"Adam(weight_decay) vs AdamW(weight_decay), after {STEPS} steps: rel. difference",
                rel_err(adam, adamw),
                WRONG,
            ),
            below(
                "AdamW vs the decoupled update rule written out: rel. difference",
                rel_err(adamw, decoupled),
                1e-12,
            ),
        ],
    )
