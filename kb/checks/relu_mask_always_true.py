"""A ReLU's backward mask must be false where the input was ≤ 0: taken from the input
(``x > 0``) or strictly from the output (``out > 0``) it matches finite differences; taken as
``out >= 0`` from the clipped output it is true everywhere and the layer back-propagates as the
identity."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

N_IN, N_HID, N_OUT, BATCH = 4, 8, 3, 6


def check() -> CheckResult:
    r = rng(2110)
    x = r.normal(size=(BATCH, N_IN))
    w1 = r.normal(size=(N_IN, N_HID))
    w2 = r.normal(size=(N_HID, N_OUT))
    upstream = r.normal(size=(BATCH, N_OUT))

    def cost() -> float:
        return float(np.sum(upstream * (np.maximum(0, x @ w1) @ w2)))

    numeric = numerical_grad(cost, w1)
    z = x @ w1
    out = np.clip(z, 0, None)
    d_out = upstream @ w2.T

    def dw1(mask: np.ndarray) -> np.ndarray:
        return x.T @ (d_out * mask)

    from_input = rel_err(dw1(z > 0), numeric)
    strict_output = rel_err(dw1(out > 0), numeric)
    loose_output = rel_err(dw1(out >= 0), numeric)
    never = out < 0
    return CheckResult(
        claim=(
            "The ReLU mask taken from the input (z > 0) or strictly from the output (out > 0) "
            "gives the gradient; out >= 0 on the clipped output is true everywhere, so the "
            "layer passes the gradient through as if it were the identity."
        ),
        measurements=[
            below("mask z > 0: rel. error of dW1", from_input, RIGHT),
            below("mask out > 0: rel. error of dW1", strict_output, RIGHT),
            above("mask out >= 0: rel. error of dW1", loose_output, WRONG),
            below(
                "fraction of entries the mask out >= 0 keeps",
                1.0 - float(np.mean(out >= 0)),
                0.0 + 1e-12,
                "every entry: the mask cannot be false",
            ),
            below(
                "fraction of entries out < 0 selects",
                float(np.mean(never)),
                1e-12,
                "none: zeroing them changes nothing",
            ),
            above(
                "fraction of inputs z <= 0 the mask should have blocked",
                float(np.mean(z <= 0)),
                0.2,
            ),
        ],
    )
