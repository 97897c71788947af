"""NLLLoss is -x[y]: it is the cross-entropy only when x holds log-probabilities.

Measured on a numpy model of ``F.nll_loss`` (mean reduction): ``nll(x, y) = -mean(x[i, y_i])``.
The same formula is what PyTorch computes; this check does not import torch.
"""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

N, K, LR, STEPS = 6, 4, 0.5, 50


def nll(x: np.ndarray, y: np.ndarray) -> float:
    return float(-x[np.arange(len(y)), y].mean())


def log_softmax(z: np.ndarray) -> np.ndarray:
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = rng(41)
    x = r.normal(size=(N, 3))
    w = r.normal(size=(3, K))
    y = r.integers(0, K, size=N)
    return x, w, y


def train(with_log_softmax: bool) -> tuple[float, float]:
    """Gradient descent on W with NLLLoss; returns the final NLL value and the final
    cross-entropy (the loss one meant to minimise)."""
    x, w, y = problem()
    onehot = np.eye(K)[y]
    for _ in range(STEPS):
        # the score gradients measured against finite differences in check()
        z = x @ w
        dz = (np.exp(log_softmax(z)) - onehot) / N if with_log_softmax else -onehot / N
        w = w - LR * (x.T @ dz)
    z = x @ w
    return nll(log_softmax(z) if with_log_softmax else z, y), nll(log_softmax(z), y)


def check() -> CheckResult:
    x, w, y = problem()
    z = x @ w
    onehot = np.eye(K)[y]
    p = np.exp(log_softmax(z))
    ce_grad = (p - onehot) / N  # the cross-entropy gradient with respect to the scores
    zz = z.copy()
    right = numerical_grad(lambda: nll(log_softmax(zz), y), zz)
    raw = numerical_grad(lambda: nll(zz, y), zz)
    final_raw, ce_after_raw = train(with_log_softmax=False)
    final_ok, _ = train(with_log_softmax=True)
    return CheckResult(
        claim=(
            "With log_softmax before it, NLLLoss is the cross-entropy: its gradient with "
            "respect to the scores is (p - y)/N and training drives it towards 0. On raw scores "
            "its gradient is -y/N whatever the prediction, and the loss falls without bound "
            "(measured on a numpy model of F.nll_loss; no torch import)."
        ),
        measurements=[
            below(
                "log_softmax + NLLLoss: rel. error against (p - y)/N",
                rel_err(right, ce_grad),
                RIGHT,
            ),
            above(
                "raw scores + NLLLoss: rel. error against (p - y)/N", rel_err(raw, ce_grad), WRONG
            ),
            below(
                "raw scores + NLLLoss: rel. error against -y/N", rel_err(raw, -onehot / N), RIGHT
            ),
            below("raw scores: NLL value after 50 steps (unbounded below)", final_raw, -1.0),
            above(
                "raw scores: cross-entropy after 50 steps / with log_softmax",
                ce_after_raw / max(final_ok, 1e-12),
                1.0,
            ),
        ],
    )
