"""A custom backward that returns grad_output unchanged drops the local derivative; it is only
right for the identity, and only looks right where f is nearly the identity."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()  # import torch (if installed) now, not inside the timed check()


def tanh_backward_right(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    return grad_output * (1.0 - np.tanh(x) ** 2)


def pass_through(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    return grad_output  # "the gradient just flows through"


def errors(x: np.ndarray, upstream: np.ndarray) -> tuple[float, float]:
    """(right, pass-through) rel. errors for C = sum(U * tanh(x)) against finite differences."""
    numeric = numerical_grad(lambda: float(np.sum(upstream * np.tanh(x))), x)
    return (
        rel_err(tanh_backward_right(x, upstream), numeric),
        rel_err(pass_through(x, upstream), numeric),
    )


def directions(r, scale: float, batch: int, draws: int) -> tuple[float, float, float]:
    """For z = W a, y = tanh(z), C = sum(U * y): how the pass-through gradient compares with the
    true one, over ``draws`` independent draws at once. Returns (fraction of entries with a
    flipped sign at the op's input z, the same for dW, fraction of draws where the pass-through
    dW points uphill)."""
    w, a = r.normal(size=(draws, 5, 4)), r.normal(size=(draws, 4, batch))
    upstream = r.normal(size=(draws, 5, batch))
    slope = 1.0 - np.tanh(scale * (w @ a) / 2.0) ** 2
    true_z, pass_z = upstream * slope, upstream
    at = np.swapaxes(a, 1, 2)
    true_w, pass_w = true_z @ at, pass_z @ at
    flipped_z = float(np.mean(np.sign(true_z) != np.sign(pass_z)))
    flipped_w = float(np.mean(np.sign(true_w) != np.sign(pass_w)))
    uphill = float(np.mean(np.sum(true_w * pass_w, axis=(1, 2)) < 0))
    return flipped_z, flipped_w, uphill


def function_errors(torch, x: np.ndarray, upstream: np.ndarray) -> tuple[float, float]:
    """(right, pass-through) rel. errors of tanh written as a torch.autograd.Function, against
    autograd's own derivative of torch.tanh; the numpy model when torch is missing."""
    if torch is None:
        return errors(x, upstream)

    class PassThrough(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):  # type: ignore[override]
            return torch.tanh(t)

        @staticmethod
        def backward(ctx, grad_output):  # type: ignore[override]
            return grad_output

    class Right(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):  # type: ignore[override]
            y = torch.tanh(t)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):  # type: ignore[override]
            (y,) = ctx.saved_tensors
            return grad_output * (1 - y * y)

    u = tensor(torch, upstream)
    grads = []
    for f in (torch.tanh, Right.apply, PassThrough.apply):
        t = tensor(torch, x, requires_grad=True)
        (f(t) * u).sum().backward()
        grads.append(numpy(t.grad))
    return rel_err(grads[1], grads[0]), rel_err(grads[2], grads[0])


def check() -> CheckResult:
    r = rng(31)
    upstream = r.normal(size=(5, 6))
    typical = r.normal(scale=1.5, size=(5, 6))
    tiny = r.uniform(-0.01, 0.01, size=(5, 6))
    right_typical, through_typical = errors(typical, upstream)
    _, through_tiny = errors(tiny, upstream)

    torch = get_torch()
    _, fn_through = function_errors(torch, typical, upstream)

    # A scaling op y = 3x: the local derivative is the constant 3, still not 1.
    x = r.normal(size=(5, 6))
    numeric_scale = numerical_grad(lambda: float(np.sum(upstream * 3.0 * x)), x)

    # "The loss still goes down": true at the op's own input only.
    flipped_z, flipped_w, _ = directions(r, scale=1.5, batch=8, draws=200)
    _, _, uphill = directions(r, scale=3.0, batch=2, draws=1000)

    return CheckResult(
        claim=says_which(
            "backward must multiply grad_output by the local derivative: for tanh that is "
            "1 - tanh(x)^2, for y = 3x it is 3. Passing grad_output through unchanged is wrong "
            "wherever the op is not the identity; near x = 0, where tanh is nearly the identity, "
            "it looks right to a loose check. Its sign is right at the op's own input only: the "
            "gradient of a weight below the op has entries of the wrong sign and can point uphill.",
            torch,
        ),
        measurements=[
            below("tanh, grad_output * (1 - tanh^2): rel. error", right_typical, RIGHT),
            above("tanh, grad_output passed through, |x| ~ 1: rel. error", through_typical, WRONG),
            above(
                "tanh as an autograd Function, grad_output passed through: rel. error",
                fn_through,
                WRONG,
            ),
            above(
                "y = 3x, grad_output passed through: rel. error",
                rel_err(upstream, numeric_scale),
                WRONG,
            ),
            below(
                "tanh, grad_output passed through, |x| < 0.01: rel. error (a false pass)",
                through_tiny,
                WRONG,
            ),
            below(
                "pass-through, at the op's own input: fraction of entries with a flipped sign",
                flipped_z,
                1e-12,
            ),
            above(
                "pass-through, weight below the op: fraction of dW entries with a flipped sign",
                flipped_w,
                0.05,
            ),
            above(
                "pass-through, weight below a saturated op: fraction of 1000 draws where the "
                "step points uphill",
                uphill,
                0.0,
            ),
        ],
    )
