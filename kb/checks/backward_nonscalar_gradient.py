"""backward(v) on a non-scalar output is the vector-Jacobian product vᵀJ: v is dC/dy, not a weight."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()


def check() -> CheckResult:
    torch = get_torch()
    r = rng(71)
    w = r.normal(size=(4, 5)) / np.sqrt(5)
    x = r.normal(size=5)
    t = r.uniform(-0.9, 0.9, size=4)  # target: C = ||tanh(W x) - t||^2 / 2

    def cost() -> float:
        return float(0.5 * np.sum((np.tanh(w @ x) - t) ** 2))

    def total() -> float:
        return float(np.sum(np.tanh(w @ x)))

    dc_dx = numerical_grad(cost, x)  # the gradient the training step needs
    dsum_dx = numerical_grad(total, x)  # the gradient of sum(y)
    y_np = np.tanh(w @ x)
    v = y_np - t  # dC/dy: the vector backward() must be given

    refused = None
    if torch is not None:
        xt = tensor(torch, x, requires_grad=True)
        y = torch.tanh(tensor(torch, w) @ xt)
        y.backward(tensor(torch, v), retain_graph=True)
        with_v = numpy(xt.grad)
        xt.grad = None
        y.backward(torch.ones_like(y), retain_graph=True)
        with_ones = numpy(xt.grad)
        try:
            y.backward()
            refused = 0.0
        except RuntimeError:  # "grad can be implicitly created only for scalar outputs"
            refused = 1.0
    else:  # numpy model of autograd's backward(v): Jᵀ v with J = diag(1 - y²) W
        with_v = w.T @ (v * (1.0 - y_np**2))
        with_ones = w.T @ (1.0 - y_np**2)

    measurements = [
        below("backward(dC/dy): rel. error of x.grad against dC/dx", rel_err(with_v, dc_dx), RIGHT),
        below(
            "backward(ones_like(y)): rel. error against d(sum y)/dx",
            rel_err(with_ones, dsum_dx),
            RIGHT,
        ),
        above(
            "backward(ones_like(y)): rel. error against dC/dx (the gradient training needs)",
            rel_err(with_ones, dc_dx),
            WRONG,
        ),
    ]
    if refused is not None:
        measurements.append(
            above("y.backward() with no gradient= on a 4-vector raises (1 = yes)", refused, 0.5)
        )
    return CheckResult(
        claim=says_which(
            "y.backward(v) on a non-scalar y adds vᵀ ∂y/∂x to x.grad, the gradient of the "
            "scalar v·y; with v = dC/dy that is dC/dx, while v = ones gives the gradient of "
            "sum(y), a different quantity.",
            torch,
        ),
        measurements=measurements,
    )
