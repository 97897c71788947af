"""Multi-label targets need one independent sigmoid per label: softmax couples the labels, so
softmax outputs into BCE cannot fit k true labels (loss at least k ln k)."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid, softmax
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, preload, says_which, tensor

preload()

K = 10


def bce_loss(p: np.ndarray, y: np.ndarray) -> float:
    """nn.BCELoss(reduction='sum'): expects independent probabilities p in (0, 1)."""
    with np.errstate(divide="ignore"):
        return float(-(y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum())


def bce_with_logits(x: np.ndarray, y: np.ndarray) -> float:
    """nn.BCEWithLogitsLoss(reduction='sum'), in its stable form."""
    return float((np.maximum(x, 0.0) - x * y + np.log1p(np.exp(-np.abs(x)))).sum())


def labels_of(r: np.random.Generator, k: int) -> np.ndarray:
    y = np.zeros(K)
    y[r.choice(K, size=k, replace=False)] = 1.0
    return y


def check() -> CheckResult:
    torch = get_torch()
    r = rng(20)
    y2, y3 = labels_of(r, 2), labels_of(r, 3)
    confident2 = 40.0 * (2.0 * y2 - 1.0)  # +40 for true labels, -40 for the others

    # Matched: independent sigmoids, BCE. The confident prediction reaches 0.
    matched = bce_with_logits(confident2, y2)
    # Softmax into BCE: the best any logits can do is p = 1/k on each true label.
    softmax2 = bce_loss(softmax(confident2), y2)
    search = r.normal(scale=8.0, size=(500, K)) + 20.0 * y3
    softmax3_best = min(bce_loss(softmax(z), y3) for z in search)

    z = r.normal(scale=2.0, size=K)
    right = sigmoid(z) - y2
    right_err = rel_err(right, numerical_grad(lambda: bce_with_logits(z, y2), z))
    coupled = numerical_grad(lambda: bce_loss(softmax(z), y2), z)

    measurements = [
        below("sigmoid + BCE, 2 true labels, confident: loss", matched, 1e-12),
        below("sigmoid + BCE: rel. error of dL/dz = sigmoid(z) - y", right_err, RIGHT),
        below(
            "softmax + BCE, 2 true labels, both logits +40: |loss - 2 ln 2|",
            abs(softmax2 - 2 * np.log(2)),
            1e-9,
        ),
        above(
            "softmax + BCE, 3 true labels: smallest loss of 500 logit vectors (3 ln 3 = 3.296)",
            softmax3_best,
            3.29,
        ),
        above(
            "softmax + BCE: rel. gap between its gradient and sigmoid(z) - y",
            rel_err(coupled, right),
            WRONG,
        ),
    ]
    if torch is not None:
        nn = torch.nn
        tz, ty = tensor(torch, confident2), tensor(torch, y2)
        t_matched = float(nn.BCEWithLogitsLoss(reduction="sum")(tz, ty))
        t_softmax = float(nn.BCELoss(reduction="sum")(torch.softmax(tz, dim=0), ty))
        measurements += [
            below("nn.BCEWithLogitsLoss (PyTorch), 2 labels, confident: loss", t_matched, 1e-12),
            above("nn.BCELoss on softmax (PyTorch), same logits: loss", t_softmax, 1.38),
        ]
    return CheckResult(
        claim=says_which(
            "For multi-label targets, independent sigmoids with BCE reach a loss of 0 and have "
            "the gradient sigmoid(z) - y; softmax outputs into BCE sum to 1, so with k true labels "
            "the loss cannot go below k ln k (2 ln 2 for two, 3 ln 3 for three) and the gradient "
            "is a different function.",
            torch,
        ),
        measurements=measurements,
    )
