"""Numerator vs denominator layout: the numbers of d(Wx)/dx are W's either way (laid out as W or as
W^T); the vector-Jacobian product W^T g is the same in both; dz/dW is a 3-tensor that backprop
contracts to g x^T without forming it."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, preload, says_which, tensor
from kb.torch_support import numpy as to_numpy

preload()  # import torch (if installed) now, not inside the timed check()

N_OUT, N_IN = 3, 4  # not square: the shapes alone tell W from W^T


def jacobian(f, x: np.ndarray, n_out: int) -> np.ndarray:
    """Numerator layout, by finite differences: J[i, k] = d f_i / d x_k (one row per output)."""
    return np.stack([numerical_grad(lambda i=i: float(f()[i]), x) for i in range(n_out)])


def check() -> CheckResult:
    r = rng(191)
    w, x, g = r.normal(size=(N_OUT, N_IN)), r.normal(size=N_IN), r.normal(size=N_OUT)

    jac = jacobian(lambda: w @ x, x, N_OUT)  # (3, 4): numerator layout
    vjp = numerical_grad(lambda: float(g @ (w @ x)), x)  # gradient of C = g^T z, layout-free

    square = r.normal(size=(N_IN, N_IN))
    square_jac = jacobian(lambda: square @ x, x, N_IN)

    # dz/dW: dz_i / dW_jk for every (i, j, k), a (3, 3, 4) tensor, by finite differences.
    dz_dw = np.stack([numerical_grad(lambda i=i: float((w @ x)[i]), w) for i in range(N_OUT)])
    expected = np.einsum("ij,k->ijk", np.eye(N_OUT), x)  # delta_ij x_k
    zero_fraction = float(np.mean(np.abs(dz_dw) < 1e-9))
    contracted = np.einsum("i,ijk->jk", g, dz_dw)  # what a VJP does with it
    grad_w = numerical_grad(lambda: float(g @ (w @ x)), w)

    torch = get_torch()
    if torch is not None:  # what the PyTorch tab of the page says, measured with PyTorch
        wt, xt = tensor(torch, w), tensor(torch, x, requires_grad=True)
        torch_jac = to_numpy(torch.autograd.functional.jacobian(lambda v: wt @ v, xt))
        (wt @ xt).backward(tensor(torch, g))
        torch_vjp = to_numpy(xt.grad)
    else:  # the same two quantities from finite differences
        torch_jac, torch_vjp = jac, vjp

    return CheckResult(
        claim=says_which(
            "d(Wx)/dx laid out with one row per output (numerator layout) is W; the denominator "
            "layout writes the same numbers as W^T. Either way the gradient of C = g^T W x with "
            "respect to x is W^T g. dz/dW is a 3-tensor delta_ij x_k, mostly zeros, which the "
            "chain rule contracts with g to the matrix g x^T: nobody needs to form it. PyTorch's "
            "jacobian() is in numerator layout; backward(g) returns W^T g.",
            torch,
        ),
        measurements=[
            below(
                "torch.autograd.functional.jacobian(W @ x) vs W: rel. error",
                rel_err(torch_jac, w),
                RIGHT,
            ),
            below(
                "(W @ x).backward(g): x.grad vs W^T g: rel. error",
                rel_err(torch_vjp, w.T @ g),
                RIGHT,
            ),
            below(
                "numerator-layout Jacobian (finite differences) vs W: rel. error",
                rel_err(jac, w),
                RIGHT,
            ),
            below(
                "gradient of g^T W x w.r.t. x vs W^T g: rel. error", rel_err(vjp, w.T @ g), RIGHT
            ),
            above(
                "square W: numerator-layout Jacobian vs W^T (layouts mixed): rel. error",
                rel_err(square_jac, square.T),
                WRONG,
            ),
            below(
                "dz/dW as a 3-tensor (finite differences) vs delta_ij x_k: rel. error",
                rel_err(dz_dw, expected),
                RIGHT,
            ),
            above("fraction of the 3-tensor's entries that are 0", zero_fraction, 0.6),
            below(
                "the 3-tensor contracted with g vs g x^T: rel. error",
                rel_err(contracted, np.outer(g, x)),
                RIGHT,
            ),
            below(
                "g x^T vs the gradient of g^T W x w.r.t. W: rel. error",
                rel_err(np.outer(g, x), grad_w),
                RIGHT,
            ),
        ],
    )
