"""NLLLoss is -x[y]: it is the cross-entropy only when x holds log-probabilities."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

N, K, LR, STEPS = 6, 4, 0.5, 50


def nll(x: np.ndarray, y: np.ndarray) -> float:
    """What ``F.nll_loss`` computes (mean reduction), as a numpy model."""
    return float(-x[np.arange(len(y)), y].mean())


def log_softmax(z: np.ndarray) -> np.ndarray:
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def score_grad(torch: ModuleType | None, z: np.ndarray, y: np.ndarray, log_sm: bool) -> np.ndarray:
    """d nll_loss / d scores, by autograd (torch) or by finite differences of the numpy model."""
    if torch is not None:
        zt = tensor(torch, z, requires_grad=True)
        x = torch.log_softmax(zt, dim=1) if log_sm else zt
        torch.nn.functional.nll_loss(x, torch.as_tensor(y)).backward()
        return numpy(zt.grad)
    zz = z.copy()
    return numerical_grad(lambda: nll(log_softmax(zz) if log_sm else zz, y), zz)


def train(torch: ModuleType | None, x: np.ndarray, w: np.ndarray, y: np.ndarray, log_sm: bool):
    """Gradient descent on W with NLLLoss; returns (final NLL value, final cross-entropy)."""
    w = w.copy()
    for _ in range(STEPS):
        if torch is not None:
            wt = tensor(torch, w, requires_grad=True)
            zt = tensor(torch, x) @ wt
            out = torch.log_softmax(zt, dim=1) if log_sm else zt
            torch.nn.functional.nll_loss(out, torch.as_tensor(y)).backward()
            w = w - LR * numpy(wt.grad)
        else:  # the score gradients check() measures against finite differences
            z = x @ w
            onehot = np.eye(K)[y]
            dz = (np.exp(log_softmax(z)) - onehot) / N if log_sm else -onehot / N
            w = w - LR * (x.T @ dz)
    z = x @ w
    return nll(log_softmax(z) if log_sm else z, y), nll(log_softmax(z), y)


def check() -> CheckResult:
    torch = get_torch()
    r = rng(41)
    x = r.normal(size=(N, 3))
    w = r.normal(size=(3, K))
    y = r.integers(0, K, size=N)
    z = x @ w
    onehot = np.eye(K)[y]
    ce_grad = (np.exp(log_softmax(z)) - onehot) / N  # the cross-entropy gradient (p - y)/m
    right = score_grad(torch, z, y, log_sm=True)
    raw = score_grad(torch, z, y, log_sm=False)
    final_raw, _ = train(torch, x, w, y, log_sm=False)
    claim = (
        "With log_softmax before it, NLLLoss is the cross-entropy: its gradient with respect to "
        "the scores is (p - y)/m. On raw scores its "
        "gradient is -y/m whatever the prediction, and the loss falls without bound."
    )
    return CheckResult(
        claim=says_which(claim, torch),
        measurements=[
            below(
                "log_softmax + nll_loss: rel. error against (p - y)/m",
                rel_err(right, ce_grad),
                RIGHT,
            ),
            above(
                "raw scores + nll_loss: rel. error against (p - y)/m", rel_err(raw, ce_grad), WRONG
            ),
            below(
                "raw scores + nll_loss: rel. error against -y/m", rel_err(raw, -onehot / N), RIGHT
            ),
            below("raw scores: nll_loss value after 50 steps (unbounded below)", final_raw, -1.0),
        ],
    )
