"""Accuracy, argmax and rounding are piecewise constant: their gradient is zero wherever it exists,
so a loss built from them gives no training signal. Train on a differentiable surrogate."""

from __future__ import annotations

import numpy as np

from kb.numerics import numerical_grad, rng, softmax
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

K, M, D = 3, 30, 4


def check() -> CheckResult:
    torch = get_torch()
    r = rng(81)
    x = r.normal(size=(M, D))
    labels = r.integers(0, K, size=M)
    w = r.normal(size=(D, K))

    def error_rate() -> float:  # 1 - accuracy
        return float(np.mean(np.argmax(x @ w, axis=1) != labels))

    def cross_entropy() -> float:
        p = softmax(x @ w, axis=1)
        return float(-np.mean(np.log(p[np.arange(M), labels])))

    g_acc = numerical_grad(error_rate, w)
    g_ce = numerical_grad(cross_entropy, w)

    measurements = [
        below("1 - accuracy: norm of its finite-difference gradient", np.linalg.norm(g_acc), 1e-12),
        above("cross-entropy: norm of its gradient", np.linalg.norm(g_ce), 1e-3),
    ]
    if torch is not None:
        wt = tensor(torch, w, requires_grad=True)
        scores = tensor(torch, x) @ wt
        pred = scores.argmax(dim=1)
        measurements.append(
            below("argmax output requires grad (PyTorch; 1 = yes)", float(pred.requires_grad), 0.5)
        )
        torch.round(scores).sum().backward()
        measurements.append(
            below(
                "round(scores).sum().backward() (PyTorch): max |W.grad|",
                float(np.abs(numpy(wt.grad)).max()),
                1e-300,
            )
        )
    return CheckResult(
        claim=says_which(
            "1 - accuracy is piecewise constant in the weights, so its gradient is exactly zero "
            "almost everywhere; argmax output carries no gradient and round() passes back zeros. "
            "Cross-entropy on the same predictions has a non-zero gradient that training can use.",
            torch,
        ),
        measurements=measurements,
    )
