"""Max-pool backward routes the upstream gradient to one arg-max per window; spreading it, or
marking every tied maximum with ``==``, is wrong.

On a tied map the routing is compared with PyTorch's own max_pool2d backward when torch is
installed (the check says whether it was).
"""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, preload, says_which

preload()  # import torch (if installed) now, not inside the timed check()


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
    """Right: the whole upstream gradient goes to one arg-max per window (the first, as the
    forward pass's saved index does in the frameworks), even when the maximum is tied."""
    blocks = windows(x)
    winner = blocks.argmax(axis=2)
    mask = np.arange(4) == winner[:, :, None]
    return unwindow(mask * dy[:, :, None])


def eq_mask_backward(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Wrong on ties: an ``==`` mask marks every tied maximum, so a window of k ties gets k*dy."""
    blocks = windows(x)
    mask = blocks == blocks.max(axis=2, keepdims=True)
    return unwindow(mask * dy[:, :, None])


def torch_max_pool_backward(torch, x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """PyTorch's own gradient of F.max_pool2d(x, 2) for upstream dy."""
    assert torch is not None
    xt = torch.tensor(x[None, None], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).backward(
        torch.tensor(dy[None, None], dtype=torch.float64)
    )
    return xt.grad[0, 0].numpy()


_torch = get_torch()
if _torch is not None:
    # The first call of an op initialises it (up to seconds under load): pay that at import,
    # where it is not the check's run time.
    torch_max_pool_backward(_torch, np.zeros((2, 2)), np.ones((1, 1)))


def window_mass(dx: np.ndarray) -> np.ndarray:
    """Total gradient each window's inputs received."""
    return windows(dx).sum(axis=2)


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

    # After a ReLU many values are exactly 0: windows with tied maxima are the common case.
    tied = np.maximum(r.normal(size=(4, 4)), 0.0)
    tied[:2, :2] = 0.0  # one window entirely clipped: a four-way tie at 0
    tied[2:, 2:] = [[0.7, 0.7], [0.1, 0.0]]  # a two-way tie at the maximum
    ties = (windows(tied) == windows(tied).max(axis=2, keepdims=True)).sum(axis=2)
    tie_dy = r.uniform(0.5, 1.5, size=(2, 2)) * r.choice([-1.0, 1.0], size=(2, 2))
    routed_mass = np.max(np.abs(window_mass(max_pool_backward(tied, tie_dy)) / tie_dy - 1.0))
    eq_mass = float(np.max(window_mass(eq_mask_backward(tied, tie_dy)) / tie_dy))
    torch = get_torch()
    if torch is not None:
        engine = "F.max_pool2d backward"
        frameworks = torch_max_pool_backward(torch, tied, tie_dy)
        torch_gap = rel_err(max_pool_backward(tied, tie_dy), frameworks)
        eq_torch_gap = rel_err(eq_mask_backward(tied, tie_dy), frameworks)
    else:  # the rule frameworks follow, written out: the first maximum in the window
        engine = "the first-arg-max rule"
        first = unwindow(
            (np.arange(4) == windows(tied).argmax(axis=2)[:, :, None]) * tie_dy[:, :, None]
        )
        torch_gap = rel_err(max_pool_backward(tied, tie_dy), first)
        eq_torch_gap = rel_err(eq_mask_backward(tied, tie_dy), first)

    return CheckResult(
        claim=says_which(
            "Through a 2x2 max-pool, each window's upstream gradient goes entirely to its arg-max "
            "and the other three inputs get zero; spreading it evenly is the average-pool gradient. "
            "With tied maxima (common after ReLU) it still goes to one position, as the frameworks "
            "do; an == mask hands a window of k ties k times its gradient.",
            torch,
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
            below(
                "tied map, one arg-max per window: worst |window's gradient mass / dy - 1|",
                routed_mass,
                1e-12,
            ),
            above(
                f"tied map, == mask: largest window mass / dy (the window has {int(ties.max())} "
                "tied maxima)",
                eq_mass,
                1.5,
            ),
            below("tied map, one arg-max per window vs " + engine + ": rel. gap", torch_gap, 1e-12),
            above("tied map, == mask vs " + engine + ": rel. gap", eq_torch_gap, WRONG),
        ],
    )
