"""log(softmax(z)) hits -inf and loses precision; z - logsumexp(z) stays finite and exact.

The float64 limits are measured with numpy; the float32 limits (what PyTorch users run) with
torch.softmax / torch.log_softmax in float32 when torch is installed, else numpy float32.
"""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, numerical_grad, rel_err, softmax
from kb.schema import CheckResult, above, below
from kb.torch_support import backend, get_torch, preload

preload()  # import torch (if installed) now, not inside the timed check()

GAPS = np.arange(0.0, 1001.0, 50.0)  # logit of the other class; the target's logit is 0


def log_of_softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities first, log second (the max-shifted softmax, so overflow is not the issue)."""
    with np.errstate(divide="ignore"):
        return np.log(softmax(z))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """z - logsumexp(z), with the max shifted out."""
    m = z.max()
    return z - (m + np.log(np.sum(np.exp(z - m))))


def chain_rule_grad(z: np.ndarray, target: int) -> np.ndarray:
    """Backward through the two steps: dL/dp = -1/p_y, then the softmax Jacobian."""
    p = softmax(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        dp = -np.eye(z.size)[target] / p
        jac = np.diag(p) - np.outer(p, p)
        return jac.T @ dp


FINE_GAPS = np.arange(0.0, 120.01, 0.25)


def float32_losses(gaps: np.ndarray, torch) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """-log p_0 for logits (0, gap) in float32: two-step, fused, and p_0 itself."""
    z = np.stack([np.zeros_like(gaps), gaps], axis=1).astype(np.float32)
    if torch is not None:
        zt = torch.from_numpy(z)
        p = torch.softmax(zt, dim=1)
        naive, fused = -torch.log(p)[:, 0], -torch.log_softmax(zt, dim=1)[:, 0]
        engine = f"float32, {backend(torch)}"
        return naive.numpy(), fused.numpy(), p[:, 0].numpy(), engine
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    m = z.max(axis=1, keepdims=True)
    fused = -(z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))))[:, 0]
    with np.errstate(divide="ignore"):
        naive = -np.log(p)[:, 0]
    return naive, fused, p[:, 0], f"float32, numpy: {backend(None)}"


def check() -> CheckResult:
    naive_losses = np.array([-log_of_softmax(np.array([0.0, g]))[0] for g in GAPS])
    fused_losses = np.array([-log_softmax(np.array([0.0, g]))[0] for g in GAPS])

    # Just before the cliff the naive loss is still finite but already imprecise (denormals).
    near_cliff = -log_of_softmax(np.array([0.0, 744.0]))[0]
    near_cliff_err = abs(near_cliff - 744.0) / 744.0

    z = np.array([0.0, 800.0])

    def loss() -> float:
        return float(-log_softmax(z)[0])

    fused_grad = softmax(z) - np.eye(2)[0]
    fused_grad_err = rel_err(fused_grad, numerical_grad(loss, z))
    naive_grad_bad = int(np.count_nonzero(~np.isfinite(chain_rule_grad(z, 0))))

    # float32: the same cliff, about seven times closer.
    torch = get_torch()
    naive32, fused32, p32, engine = float32_losses(FINE_GAPS, torch)
    exact = FINE_GAPS + np.log1p(np.exp(-FINE_GAPS))  # -log p_0 = gap + log(1 + e^-gap)
    first_inf32 = float(FINE_GAPS[np.argmax(~np.isfinite(naive32))])
    first_subnormal32 = float(FINE_GAPS[np.argmax(p32 < np.finfo(np.float32).tiny)])
    at100 = int(np.searchsorted(FINE_GAPS, 100.0))
    naive32_err100 = abs(float(naive32[at100]) - exact[at100]) / exact[at100]
    fused32_err100 = abs(float(fused32[at100]) - exact[at100]) / exact[at100]
    _, fused32_wide, _, _ = float32_losses(GAPS, torch)

    return CheckResult(
        claim=(
            "z - logsumexp(z) gives a finite, exact loss and the exact gradient softmax(z) - y for "
            "logit gaps up to 1000; log(softmax(z)) returns inf there and loses digits before that. "
            f"In float32 the cliff is at a gap of about {first_inf32:g}, with digits lost from "
            f"about {first_subnormal32:g}. (Measured with {backend(torch)}.)"
        ),
        measurements=[
            below(
                "log-softmax: non-finite losses, gaps 0 to 1000",
                np.count_nonzero(~np.isfinite(fused_losses)),
                0.5,
            ),
            below("log-softmax, gap 800: rel. error of dL/dz = p - y", fused_grad_err, RIGHT),
            above(
                "log(softmax): non-finite losses, gaps 0 to 1000",
                np.count_nonzero(~np.isfinite(naive_losses)),
                0.5,
            ),
            above("log(softmax), gap 744: rel. error of the finite loss", near_cliff_err, RIGHT),
            above(
                "log(softmax) chain-rule gradient, gap 800: non-finite entries", naive_grad_bad, 0.5
            ),
            below(
                "float32 log-softmax: non-finite losses, gaps 0 to 1000",
                np.count_nonzero(~np.isfinite(fused32_wide)),
                0.5,
                engine,
            ),
            below(
                "float32 log-softmax, gap 100: rel. error of the loss", fused32_err100, 1e-6, engine
            ),
            below(
                "float32 log(softmax): first gap (step 0.25) with an infinite loss",
                first_inf32,
                110.0,
                engine,
            ),
            below(
                "float32 softmax: first gap where p_y is subnormal (digits lost)",
                first_subnormal32,
                90.0,
                engine,
            ),
            above(
                "float32 log(softmax), gap 100: rel. error of the loss",
                naive32_err100,
                1e-5,
                engine,
            ),
        ],
    )
