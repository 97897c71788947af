"""log(softmax(z)) hits -inf and loses precision; z - logsumexp(z) stays finite and exact."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, numerical_grad, rel_err, softmax
from kb.schema import CheckResult, above, below

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

    return CheckResult(
        claim=(
            "z - logsumexp(z) gives a finite, exact loss and the exact gradient softmax(z) - y for "
            "logit gaps up to 1000; log(softmax(z)) returns inf there and loses digits before that."
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
        ],
    )
