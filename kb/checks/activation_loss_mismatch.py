"""A loss that expects another output parameterisation has a floor above zero and a different gradient."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid, softmax
from kb.schema import CheckResult, above, below

K = 10


def cross_entropy_loss(inputs: np.ndarray, target: int) -> float:
    """nn.CrossEntropyLoss for one example: log-softmax of its input, then NLL."""
    m = inputs.max()
    return float(m + np.log(np.exp(inputs - m).sum()) - inputs[target])


def bce_loss(p: np.ndarray, y: np.ndarray) -> float:
    """nn.BCELoss (sum over labels): expects independent probabilities p in (0, 1)."""
    return float(-(y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum())


def bce_with_logits(x: np.ndarray, y: np.ndarray) -> float:
    return float((np.maximum(x, 0.0) - x * y + np.log1p(np.exp(-np.abs(x)))).sum())


def check() -> CheckResult:
    target = 3
    onehot = np.eye(K)[target]
    confident = 40.0 * (2.0 * onehot - 1.0)  # +40 for the true class, -40 for the others

    # Multi-class, one label: sigmoid outputs fed to CrossEntropyLoss.
    ce_on_logits = cross_entropy_loss(confident, target)
    ce_on_sigmoid = cross_entropy_loss(sigmoid(confident), target)

    # Multi-label, two positive labels: softmax outputs fed to BCELoss.
    labels = np.zeros(K)
    labels[[2, 7]] = 1.0
    multi = 40.0 * (2.0 * labels - 1.0)
    bce_on_sigmoid = bce_with_logits(multi, labels)
    search = rng(20).normal(scale=8.0, size=(500, K))
    search[:, [2, 7]] += 20.0
    with np.errstate(divide="ignore"):
        bce_on_softmax = min(bce_loss(softmax(z), labels) for z in search)

    # Gradients: the matched pair gives p - y; the mismatched pair gives something else.
    z = rng(21).normal(scale=2.0, size=K)
    right = softmax(z) - onehot
    right_err = rel_err(right, numerical_grad(lambda: cross_entropy_loss(z, target), z))
    s = sigmoid(z)
    mismatched = (softmax(s) - onehot) * s * (1.0 - s)  # chain rule through the extra sigmoid
    mismatched_exact = rel_err(
        mismatched, numerical_grad(lambda: cross_entropy_loss(sigmoid(z), target), z)
    )

    return CheckResult(
        claim=(
            "Each loss assumes one output parameterisation: CrossEntropyLoss wants logits of "
            "mutually exclusive classes, BCE wants independent probabilities. Matched, the loss "
            "reaches 0 and the gradient is p - y; mismatched, the loss has a floor above 0 "
            "(ln(K - 1 + e) - 1 for sigmoid into CrossEntropyLoss, 2 ln 2 for softmax into BCE "
            "with two true labels) and the gradient is a different function."
        ),
        measurements=[
            below("logits into CrossEntropyLoss, confident and right: loss", ce_on_logits, 1e-12),
            below(
                "logits into BCEWithLogitsLoss, 2 labels, confident: loss", bce_on_sigmoid, 1e-12
            ),
            below("logits into CrossEntropyLoss: rel. error of dL/dz = p - y", right_err, RIGHT),
            above("sigmoid into CrossEntropyLoss, same logits: loss", ce_on_sigmoid, 1.0),
            above(
                "softmax into BCELoss, 2 labels: smallest loss of 500 logit vectors (2 ln 2 = 1.386)",
                bce_on_softmax,
                1.38,
            ),
            below(
                "sigmoid into CrossEntropyLoss: rel. error of its own chain-rule gradient",
                mismatched_exact,
                RIGHT,
            ),
            above(
                "sigmoid into CrossEntropyLoss: rel. gap between its gradient and p - y",
                rel_err(mismatched, right),
                WRONG,
            ),
        ],
    )
