"""Batch norm's backward must differentiate through the batch mean and variance, which depend on
every x in the batch; treating them as constants gives a wrong dx."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

EPS = 1e-5
M, D = 8, 3


def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mu, var = x.mean(axis=0), x.var(axis=0)
    return gamma * (x - mu) / np.sqrt(var + EPS) + beta


def backward_right(x: np.ndarray, gamma: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dx with μ and σ² as functions of x (the three-term formula)."""
    m = len(x)
    mu, var = x.mean(axis=0), x.var(axis=0)
    inv = 1.0 / np.sqrt(var + EPS)
    xhat = (x - mu) * inv
    dxhat = dy * gamma
    return inv / m * (m * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))


def backward_constant_stats(x: np.ndarray, gamma: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """The misconception: μ and σ² are constants, so dx = dy γ / σ."""
    return dy * gamma / np.sqrt(x.var(axis=0) + EPS)


def backward_mean_only(x: np.ndarray, gamma: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Half-way: the mean's dependence kept, the variance's dropped."""
    d = dy * gamma / np.sqrt(x.var(axis=0) + EPS)
    return d - d.mean(axis=0)


def backward_gamma_left_out(x: np.ndarray, gamma: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """γ left out of the direct term: dy/σ where γ·dy/σ belongs (the other two terms keep γ)."""
    m = len(x)
    mu, var = x.mean(axis=0), x.var(axis=0)
    inv = 1.0 / np.sqrt(var + EPS)
    xhat = (x - mu) * inv
    dxhat = dy * gamma
    return inv / m * (m * dy - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))


def check() -> CheckResult:
    torch = get_torch()
    r = rng(76)
    x = r.normal(loc=1.0, scale=2.0, size=(M, D))
    gamma, beta = r.uniform(0.5, 1.5, size=D), r.normal(size=D)
    u = r.normal(size=(M, D))  # C = sum(U * BN(x)), so dy = U

    fd = numerical_grad(lambda: float(np.sum(u * forward(x, gamma, beta))), x)
    right = backward_right(x, gamma, u)

    measurements = [
        below("three-term dx: rel. error against finite differences", rel_err(right, fd), RIGHT),
        below(
            "three-term dx: max |column sum| (shift invariance)",
            np.abs(right.sum(axis=0)).max(),
            1e-12,
        ),
        above(
            "μ, σ² held constant: rel. error against finite differences",
            rel_err(backward_constant_stats(x, gamma, u), fd),
            WRONG,
        ),
        above(
            "σ² held constant: rel. error against finite differences",
            rel_err(backward_mean_only(x, gamma, u), fd),
            WRONG,
        ),
        above(
            "γ left out of the direct term: rel. error against finite differences",
            rel_err(backward_gamma_left_out(x, gamma, u), fd),
            WRONG,
        ),
    ]
    if torch is not None:
        xt = tensor(torch, x, requires_grad=True)
        y = torch.nn.functional.batch_norm(
            xt, None, None, tensor(torch, gamma), tensor(torch, beta), training=True, eps=EPS
        )
        (tensor(torch, u) * y).sum().backward()
        measurements.append(
            below(
                "F.batch_norm(training=True) autograd (PyTorch): rel. error against finite differences",
                rel_err(numpy(xt.grad), fd),
                RIGHT,
            )
        )
    return CheckResult(
        claim=says_which(
            "In training mode batch norm's μ and σ² are functions of the whole batch, so dx has "
            "three terms, each scaled by γ; dropping the variance's or both statistics' "
            "dependence on x, or γ from the direct term, gives a wrong gradient, while the three-term formula matches finite differences and PyTorch.",
            torch,
        ),
        measurements=measurements,
    )
