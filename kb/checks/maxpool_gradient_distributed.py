"""Max-pool backward routes the upstream gradient to the arg-max only; spreading it is wrong."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


def windows(x: np.ndarray) -> np.ndarray:
    """Non-overlapping 2x2 windows of an (H, W) map as an (H/2, W/2, 4) array."""
    h, w = x.shape
    return x.reshape(h // 2, 2, w // 2, 2).transpose(0, 2, 1, 3).reshape(h // 2, w // 2, 4)


def unwindow(blocks: np.ndarray) -> np.ndarray:
    """Inverse of ``windows``."""
    h2, w2, _ = blocks.shape
    return blocks.reshape(h2, w2, 2, 2).transpose(0, 2, 1, 3).reshape(2 * h2, 2 * w2)


def max_pool(x: np.ndarray) -> np.ndarray:
    return windows(x).max(axis=2)


def avg_pool(x: np.ndarray) -> np.ndarray:
    return windows(x).mean(axis=2)


def max_pool_backward(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Right: the whole upstream gradient goes to the position that won the max."""
    blocks = windows(x)
    mask = blocks == blocks.max(axis=2, keepdims=True)
    return unwindow(mask * dy[:, :, None])


def distributed_backward(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Wrong for max (right for average pooling): dy / 4 to every position of the window."""
    return unwindow(np.repeat(dy[:, :, None], 4, axis=2) / 4.0)


def upsampled_backward(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Wrong: np.repeat upsampling of dy with no mask, the full dy to every position."""
    return np.repeat(np.repeat(dy, 2, axis=0), 2, axis=1)


def check() -> CheckResult:
    r = rng(35)
    # Distinct values, at least 0.05 apart, so no window has a tie within +-h.
    x = r.permutation(16).reshape(4, 4) * 0.05 + r.normal(scale=0.005, size=(4, 4))
    upstream = r.normal(size=(2, 2))

    def max_cost() -> float:
        return float(np.sum(upstream * max_pool(x)))

    def avg_cost() -> float:
        return float(np.sum(upstream * avg_pool(x)))

    numeric_max = numerical_grad(max_cost, x)
    numeric_avg = numerical_grad(avg_cost, x)

    return CheckResult(
        claim=(
            "Through a 2x2 max-pool, each window's upstream gradient goes entirely to its arg-max "
            "and the other three inputs get zero; spreading it evenly is the average-pool gradient."
        ),
        measurements=[
            below(
                "max-pool, routed to the arg-max: rel. error",
                rel_err(max_pool_backward(x, upstream), numeric_max),
                RIGHT,
            ),
            above(
                "max-pool, dy/4 to every input: rel. error",
                rel_err(distributed_backward(x, upstream), numeric_max),
                WRONG,
            ),
            above(
                "max-pool, dy repeated to every input: rel. error",
                rel_err(upsampled_backward(x, upstream), numeric_max),
                WRONG,
            ),
            below(
                "average-pool, dy/4 to every input: rel. error",
                rel_err(distributed_backward(x, upstream), numeric_avg),
                RIGHT,
            ),
        ],
    )
