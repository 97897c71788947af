"""Dropout's backward multiplies the upstream gradient by the mask the forward pass drew (and
by the same 1/keep): a fresh mask drawn in backward, or no mask at all, gives a gradient that
is not the derivative of the forward pass that was run."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

KEEP = 0.7
N_IN, N_HID, N_OUT, BATCH = 4, 8, 3, 5


def check() -> CheckResult:
    r = rng(2091)
    x = r.normal(size=(BATCH, N_IN))
    w1 = r.normal(size=(N_IN, N_HID)) / 2.0
    w2 = r.normal(size=(N_HID, N_OUT)) / 2.0
    upstream = r.normal(size=(BATCH, N_OUT))
    # the forward pass's mask, drawn once (a gradient check must hold it fixed)
    mask = (r.random((BATCH, N_HID)) < KEEP) / KEEP
    while np.all(mask > 0):  # a mask that drops nothing cannot tell a masked backward apart
        mask = (r.random((BATCH, N_HID)) < KEEP) / KEEP
    # what a backward that draws its own mask multiplies by: another draw of the same law
    fresh = (r.random((BATCH, N_HID)) < KEEP) / KEEP
    while np.array_equal(fresh, mask):
        fresh = (r.random((BATCH, N_HID)) < KEEP) / KEEP

    def cost() -> float:
        h = np.tanh(x @ w1)
        return float(np.sum(upstream * ((h * mask) @ w2)))

    numeric = numerical_grad(cost, w1)
    h = np.tanh(x @ w1)
    d_dropped = upstream @ w2.T  # gradient arriving at the dropout layer's output

    def dw1(d_h: np.ndarray) -> np.ndarray:
        return x.T @ (d_h * (1 - h**2))

    same = rel_err(dw1(d_dropped * mask), numeric)
    redrawn = rel_err(dw1(d_dropped * fresh), numeric)
    no_mask = rel_err(dw1(d_dropped / KEEP), numeric)
    passed_on = rel_err(dw1(d_dropped), numeric)
    # over many fresh masks, the redrawn gradient averages to the no-mask one: noise, not signal
    draws = [(r.random((BATCH, N_HID)) < KEEP) / KEEP for _ in range(400)]
    mean_redrawn = np.mean([dw1(d_dropped * m) for m in draws], axis=0)
    return CheckResult(
        claim=(
            "With the forward pass's mask held fixed, the gradient is the upstream gradient "
            "times that same mask (and 1/keep); a mask drawn anew in backward, or no mask, "
            "gives a wrong gradient, and the new draws only average to the unmasked one."
        ),
        measurements=[
            below("backward with the forward's mask: rel. error of dW1", same, RIGHT),
            above("backward with a freshly drawn mask: rel. error of dW1", redrawn, WRONG),
            above("backward with 1/keep but no mask: rel. error of dW1", no_mask, WRONG),
            above(
                "backward passing the gradient on unchanged: rel. error of dW1", passed_on, WRONG
            ),
            below(
                "mean over 400 fresh masks vs the no-mask backward: rel. gap",
                rel_err(mean_redrawn, dw1(d_dropped)),
                0.05,
                "a redrawn mask is the no-mask gradient plus noise",
            ),
        ],
    )
