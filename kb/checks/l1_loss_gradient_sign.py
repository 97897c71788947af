"""The gradient of mean |a - y| is sign(a - y) / m: not (a - y), not -sign(a - y), not the sum."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


def setup() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear model a = X w with residuals kept at least 0.05 away from the kink at 0."""
    r = rng(41)
    x = r.normal(size=(9, 4))
    w = r.normal(size=4)
    residual = r.choice([-1.0, 1.0], size=9) * r.uniform(0.05, 3.0, size=9)
    return x, w, x @ w - residual


def check() -> CheckResult:
    x, w, y = setup()
    m = len(y)
    r = x @ w - y

    def loss() -> float:
        return float(np.mean(np.abs(x @ probe - y)))

    probe = w.copy()
    numeric = numerical_grad(loss, probe)

    def grad(dl_da: np.ndarray) -> np.ndarray:
        return x.T @ dl_da

    return CheckResult(
        claim=(
            "For L = mean |Xw - y|, dL/dw = X^T sign(Xw - y) / m matches finite differences; the "
            "MSE-style (a - y), the flipped sign and the missing 1/m all fail."
        ),
        measurements=[
            below("X^T sign(a - y) / m: rel. error", rel_err(grad(np.sign(r) / m), numeric), RIGHT),
            above(
                "X^T (a - y) / m (the squared-error gradient): rel. error",
                rel_err(grad(r / m), numeric),
                WRONG,
            ),
            above(
                "X^T sign(y - a) / m (sign flipped): rel. error",
                rel_err(grad(np.sign(-r) / m), numeric),
                WRONG,
            ),
            above(
                "X^T sign(a - y) (no 1/m for a mean loss): rel. error",
                rel_err(grad(np.sign(r)), numeric),
                WRONG,
            ),
        ],
    )
