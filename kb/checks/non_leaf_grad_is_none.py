""".grad is kept only for leaf tensors: an intermediate's None .grad does not mean no gradient flowed."""

from __future__ import annotations

import warnings

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()


def check() -> CheckResult:
    torch = get_torch()
    r = rng(72)
    w = r.normal(size=(4, 5)) / np.sqrt(5)
    x = r.normal(size=(5, 3))
    u = r.normal(size=(4, 3))  # C = sum(U * tanh(W x))

    def cost() -> float:
        return float(np.sum(u * np.tanh(w @ x)))

    h_np = w @ x
    dc_dw = numerical_grad(cost, w)
    # dC/dh by finite differences on h itself (h = W x is the intermediate)
    h_var = h_np.copy()
    dc_dh = numerical_grad(lambda: float(np.sum(u * np.tanh(h_var))), h_var)

    if torch is not None:
        wt = tensor(torch, w, requires_grad=True)
        h = wt @ tensor(torch, x)
        c = (tensor(torch, u) * torch.tanh(h)).sum()
        c.backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "The .grad attribute of a Tensor that is not a leaf"
            plain_none = 1.0 if h.grad is None else 0.0
        w_grad = numpy(wt.grad)

        wt2 = tensor(torch, w, requires_grad=True)
        h2 = wt2 @ tensor(torch, x)
        h2.retain_grad()
        seen = []
        h2.register_hook(lambda g: seen.append(g.detach().clone()))
        (tensor(torch, u) * torch.tanh(h2)).sum().backward()
        retained, hooked = numpy(h2.grad), numpy(seen[0])

        # The "fix" that makes h a leaf: h.detach().requires_grad_() cuts the graph below h.
        wt3 = tensor(torch, w, requires_grad=True)
        h3 = (wt3 @ tensor(torch, x)).detach().requires_grad_()
        (tensor(torch, u) * torch.tanh(h3)).sum().backward()
        cut = np.zeros_like(w) if wt3.grad is None else numpy(wt3.grad)
    else:  # numpy model of the chain rule; what .grad keeps can only be measured with torch
        g_h = u * (1.0 - np.tanh(h_np) ** 2)
        w_grad, retained, hooked = g_h @ x.T, g_h, g_h
        plain_none = cut = None

    measurements = [
        below("W.grad: rel. error against finite differences", rel_err(w_grad, dc_dw), RIGHT),
        below(
            "h.retain_grad(): rel. error of h.grad against dC/dh", rel_err(retained, dc_dh), RIGHT
        ),
        below("hook on h: rel. error of the hooked gradient", rel_err(hooked, dc_dh), RIGHT),
        above(
            "reading None as 'no gradient': rel. error of 0 against dC/dh",
            rel_err(np.zeros_like(dc_dh), dc_dh),
            WRONG,
        ),
    ]
    if plain_none is not None and cut is not None:
        measurements[:0] = [above("h.grad is None after backward (1 = None)", plain_none, 0.5)]
        measurements.append(
            above("h.detach().requires_grad_(): rel. error of W.grad", rel_err(cut, dc_dw), WRONG)
        )
    return CheckResult(
        claim=says_which(
            "After backward(), .grad is filled for leaf tensors only: an intermediate h = W x "
            "reports None although the gradient flowed through it (W.grad is exact); "
            "h.retain_grad() or a hook on h gives dC/dh, while detaching h to make it a leaf "
            "cuts W off.",
            torch,
        ),
        measurements=measurements,
    )
