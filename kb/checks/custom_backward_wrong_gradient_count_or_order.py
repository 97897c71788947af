"""backward returns one gradient per forward input, in forward's order; swapping two gradients of
the same shape raises nothing and gives each input the other's gradient."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, preload, says_which

preload()  # import torch (if installed) now, not inside the timed check()


def _model_apply(n_passed: int, returned: tuple[object, ...]) -> bool:
    """PyTorch's rule for the gradients backward returns, as a model: one per input passed
    to apply, and extra ones only if they are None. True when the call succeeds."""
    if len(returned) < n_passed:
        return False
    return all(g is None for g in returned[n_passed:])


def _flagged(torch, with_none: bool):
    """forward(ctx, x, flag=True); backward returns one gradient, or (gradient, None)."""

    class Flagged(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, flag=True):  # type: ignore[override]
            return x * 2.0 if flag else x * 3.0

        @staticmethod
        def backward(ctx, g):  # type: ignore[override]
            return (g * 2.0, None) if with_none else g * 2.0

    return Flagged


def count_outcomes(torch) -> dict[str, float]:
    """1.0 when the call succeeds, for forward(ctx, x, flag=True) with backward returning one
    gradient or (gradient, None), called with x alone or with x and the flag."""
    cases = {
        "one, x": (1, False),
        "one, x and flag": (2, False),
        "with None, x": (1, True),
        "with None, x and flag": (2, True),
    }
    out: dict[str, float] = {}
    if torch is None:
        for name, (n, with_none) in cases.items():
            out[name] = float(_model_apply(n, ("g", None) if with_none else ("g",)))
        return out
    for name, (n, with_none) in cases.items():
        flagged = _flagged(torch, with_none)
        x = torch.ones(3, dtype=torch.float64, requires_grad=True)
        args = (x, True) if n == 2 else (x,)
        try:
            flagged.apply(*args).sum().backward()
            out[name] = 1.0
        except RuntimeError:
            out[name] = 0.0
    return out


def mul_backward(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """forward(a, b) = a * b; returns (dC/da, dC/db)."""
    return g * b, g * a


def matmul_backward(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """forward(a, b) = a @ b; returns (dC/da, dC/db)."""
    return g @ b.T, a.T @ g


def check() -> CheckResult:
    r = rng(32)
    a, b, c = r.normal(size=(4, 5)), r.normal(size=(4, 5)), r.normal(size=(4, 5))
    num_a = numerical_grad(lambda: float(np.sum(c * a * b)), a)
    num_b = numerical_grad(lambda: float(np.sum(c * a * b)), b)
    da, db = mul_backward(a, b, c)
    swapped_a, _ = mul_backward(a, b, c)[::-1]

    # Square matrices: the swapped matmul gradients even have the right shapes.
    p, q, g = r.normal(size=(4, 4)), r.normal(size=(4, 4)), r.normal(size=(4, 4))
    num_p = numerical_grad(lambda: float(np.sum(g * (p @ q))), p)
    dp, dq = matmul_backward(p, q, g)
    swapped_p = dq

    torch = get_torch()
    calls = count_outcomes(torch)

    return CheckResult(
        claim=says_which(
            "Returning (dC/da, dC/db) in forward's order matches finite differences; returning them "
            "swapped gives a wrong gradient to both inputs whenever the shapes agree, with no error. "
            "For forward(ctx, x, flag=True), a backward returning one gradient works for "
            "apply(x) and raises for apply(x, flag); returning (gradient, None) works for both "
            "(a trailing None for an input not passed is accepted).",
            torch,
        ),
        measurements=[
            below(
                "a * b, returned (g*b, g*a): worst rel. error of da, db",
                max(rel_err(da, num_a), rel_err(db, num_b)),
                RIGHT,
            ),
            above(
                "a * b, returned swapped: rel. error of the gradient given to a",
                rel_err(swapped_a, num_a),
                WRONG,
            ),
            below(
                "a @ b (4x4), returned (g b^T, a^T g): rel. error of da", rel_err(dp, num_p), RIGHT
            ),
            above(
                "a @ b (4x4), returned swapped: rel. error of the gradient given to a",
                rel_err(swapped_p, num_p),
                WRONG,
            ),
            above("one gradient, apply(x): succeeds (1 = yes)", calls["one, x"], 0.5),
            below(
                "one gradient, apply(x, flag): succeeds (1 = yes)", calls["one, x and flag"], 0.5
            ),
            above("(gradient, None), apply(x): succeeds (1 = yes)", calls["with None, x"], 0.5),
            above(
                "(gradient, None), apply(x, flag): succeeds (1 = yes)",
                calls["with None, x and flag"],
                0.5,
            ),
        ],
    )
