"""p - y is already dC/dz for softmax + cross-entropy; applying the softmax Jacobian again is wrong."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, softmax
from kb.schema import CheckResult, above, below


def _softmax_backward(p: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """J^T dp for row-wise softmax (the softmax layer's own backward)."""
    return p * (dp - np.sum(p * dp, axis=1, keepdims=True))


def check() -> CheckResult:
    r = rng(101)
    z = r.normal(scale=1.5, size=(7, 4))  # logits: 7 examples, 4 classes
    y = np.eye(4)[r.integers(0, 4, size=7)]  # one-hot targets
    soft = r.uniform(0.1, 1.0, size=(7, 4))  # soft targets whose rows do not sum to one

    def cross_entropy(t: np.ndarray) -> float:
        return float(-np.sum(t * np.log(softmax(z, axis=1))))

    numeric = numerical_grad(lambda: cross_entropy(y), z)
    soft_numeric = numerical_grad(lambda: cross_entropy(soft), z)
    p = softmax(z, axis=1)

    fused = p - y  # the loss layer's gradient w.r.t. the logits
    chained = _softmax_backward(p, -y / p)  # loss gives dC/dp, softmax layer applies J^T
    times_diag = (p - y) * p * (1.0 - p)  # p - y, then the element-wise softmax derivative
    times_jacobian = _softmax_backward(p, p - y)  # p - y, then the softmax layer's backward
    soft_sum = soft.sum(axis=1, keepdims=True)

    return CheckResult(
        claim=(
            "For softmax followed by cross-entropy, p - y is the whole gradient with respect to the "
            "logits (or, equivalently, -y/p through the softmax Jacobian); multiplying p - y by any "
            "softmax derivative counts the softmax twice. p - y also needs targets that sum to one."
        ),
        measurements=[
            below("fused p - y: rel. error", rel_err(fused, numeric), RIGHT),
            below(
                "-y/p through the softmax Jacobian: rel. error", rel_err(chained, numeric), RIGHT
            ),
            above("(p - y) * p * (1 - p): rel. error", rel_err(times_diag, numeric), WRONG),
            above(
                "p - y through the softmax Jacobian again: rel. error",
                rel_err(times_jacobian, numeric),
                WRONG,
            ),
            above(
                "targets not summing to 1, p - y: rel. error",
                rel_err(p - soft, soft_numeric),
                WRONG,
            ),
            below(
                "targets not summing to 1, p * sum(y) - y: rel. error",
                rel_err(p * soft_sum - soft, soft_numeric),
                RIGHT,
            ),
        ],
    )
