"""torch.where picks values, not gradients: the unused branch's gradient is multiplied by 0, and
0 · ∞ or 0 · NaN is NaN. Make the unused branch safe before it is computed."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()


def check() -> CheckResult:
    torch = get_torch()
    r = rng(74)
    x = r.normal(size=8)
    x[:2] = [-abs(x[0]) - 0.1, 0.0]  # at least one negative entry and an exact zero
    x[2] = abs(x[2]) + 0.1  # and a positive one
    u = r.normal(size=8)  # C = sum(u * f(x)), f(x) = sqrt(x) for x > 0, else 0

    def f_right(v: np.ndarray) -> np.ndarray:
        safe = np.where(v > 0, v, 1.0)
        return np.where(v > 0, np.sqrt(safe), 0.0)

    # Finite differences away from the kink at 0: perturb all entries, then compare on x != 0.
    x_var = x.copy()
    fd = numerical_grad(lambda: float(np.sum(u * f_right(x_var))), x_var)
    away = x != 0.0

    if torch is not None:
        xt = tensor(torch, x, requires_grad=True)
        ut = tensor(torch, u)
        (ut * torch.where(xt > 0, torch.sqrt(xt), torch.zeros_like(xt))).sum().backward()
        naive_grad = numpy(xt.grad)
        y_naive = numpy(torch.where(xt > 0, torch.sqrt(xt), torch.zeros_like(xt)))

        xt2 = tensor(torch, x, requires_grad=True)
        safe = torch.where(xt2 > 0, xt2, torch.ones_like(xt2))
        y = torch.where(xt2 > 0, torch.sqrt(safe), torch.zeros_like(xt2))
        (ut * y).sum().backward()
        safe_grad, y_safe = numpy(xt2.grad), numpy(y)
    else:  # numpy model of where's backward: g * mask into one branch, g * (1 - mask) the other
        mask = (x > 0).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            naive_grad = u * mask * (0.5 / np.sqrt(x)) + u * (1.0 - mask) * 0.0
            y_naive = np.where(x > 0, np.sqrt(x), 0.0)
        safe = np.where(x > 0, x, 1.0)
        safe_grad = u * mask * (0.5 / np.sqrt(safe))
        y_safe = f_right(x)

    return CheckResult(
        claim=says_which(
            "With y = where(x > 0, sqrt(x), 0) the forward values are right but the gradient is "
            "NaN wherever x <= 0: the backward multiplies the unused branch's derivative (NaN for "
            "x < 0, ∞ at 0) by 0. Replacing x by a safe value inside the unused branch first "
            "(the double where) gives finite, correct gradients.",
            torch,
        ),
        measurements=[
            below(
                "naive where: max |forward - safe forward|", np.abs(y_naive - y_safe).max(), 1e-15
            ),
            above("naive where: NaN entries in x.grad (of 8)", np.isnan(naive_grad).sum(), 0.5),
            below("double where: NaN entries in x.grad", np.isnan(safe_grad).sum(), 0.5),
            below(
                "double where: rel. error of x.grad against finite differences (x != 0)",
                rel_err(safe_grad[away], fd[away]),
                RIGHT,
            ),
        ],
    )
