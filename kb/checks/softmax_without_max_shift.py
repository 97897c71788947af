"""exp(z)/sum(exp(z)) overflows or underflows to nan; subtracting the row max changes nothing else."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, numerical_grad, rel_err, rng, softmax
from kb.schema import CheckResult, above, below


def naive_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """The textbook formula, no shift."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)


def global_max_softmax(z: np.ndarray) -> np.ndarray:
    """Shift by the max of the whole batch instead of each row's max."""
    with np.errstate(invalid="ignore"):
        e = np.exp(z - z.max())
        return e / e.sum(axis=1, keepdims=True)


def _non_finite(a: np.ndarray) -> int:
    return int(np.count_nonzero(~np.isfinite(a)))


def check() -> CheckResult:
    r = rng(28)
    moderate = r.normal(scale=3.0, size=(6, 4))
    same_on_moderate = rel_err(naive_softmax(moderate), softmax(moderate, axis=1))
    shift_invariance = rel_err(softmax(moderate + 1000.0, axis=1), softmax(moderate, axis=1))

    overflow = _non_finite(naive_softmax(np.array([1000.0, 0.0, -5.0])))
    underflow = _non_finite(naive_softmax(np.array([-1000.0, -1001.0, -1005.0])))

    batch = moderate.copy()
    batch[2] += 800.0  # one example with much larger logits than the others
    rows_lost = int(np.count_nonzero(~np.isfinite(global_max_softmax(batch)).all(axis=1)))

    # Cross-entropy through the shifted softmax at large logits: gradient p - y is exact.
    z = np.array([1000.0, 998.0, 995.0, 990.0])
    target = 1

    def loss() -> float:
        return float(-np.log(softmax(z)[target]))

    grad = softmax(z) - np.eye(z.size)[target]
    large_logit_grad = rel_err(grad, numerical_grad(loss, z))

    return CheckResult(
        claim=(
            "Subtracting each row's max before exp gives the same probabilities and exact "
            "gradients even at logits near 1000, where the unshifted formula returns nan."
        ),
        measurements=[
            below(
                "moderate logits: rel. gap, naive vs max-shifted softmax", same_on_moderate, 1e-15
            ),
            below("max-shifted softmax: rel. change when 1000 is added", shift_invariance, 1e-12),
            below(
                "max-shifted, z near 1000: rel. error of dCE/dz = p - y", large_logit_grad, RIGHT
            ),
            above("naive softmax of (1000, 0, -5): non-finite outputs", overflow, 0.5),
            above("naive softmax of (-1000, -1001, -1005): non-finite outputs", underflow, 0.5),
            above("shift by the batch-wide max: rows lost to nan (of 6)", rows_lost, 0.5),
        ],
    )
