"""Inverted dropout: scale kept units by 1/keep at train time, do nothing at test time, and
backpropagate through the same mask and scale."""

from __future__ import annotations

import itertools

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

KEEP = 0.8  # keep probability (PyTorch's p is the drop probability, 1 - KEEP)
N_UNITS = 6


def expected_output(a: np.ndarray, train_scale: float, keep_prob_of_mask: float) -> np.ndarray:
    """Exact E[mask * a * train_scale] over all 2^n Bernoulli masks, by enumeration."""
    total = np.zeros_like(a)
    for bits in itertools.product((0.0, 1.0), repeat=a.size):
        mask = np.array(bits)
        kept = int(mask.sum())
        prob = keep_prob_of_mask**kept * (1.0 - keep_prob_of_mask) ** (a.size - kept)
        total += prob * mask * a * train_scale
    return total


def check() -> CheckResult:
    r = rng(22)
    a = r.normal(size=N_UNITS)  # activations entering the dropout layer
    test_time = a  # inverted dropout: identity at test time

    inverted = rel_err(expected_output(a, 1.0 / KEEP, KEEP), test_time)
    unscaled = rel_err(expected_output(a, 1.0, KEEP), test_time)
    # Mask built as rand > keep: it keeps units with probability 1 - keep instead of keep.
    flipped_mask = rel_err(expected_output(a, 1.0 / KEEP, 1.0 - KEEP), test_time)
    # Mask built as rand < keep (right) but divided by 1 - keep, the drop probability.
    drop_divisor = rel_err(expected_output(a, 1.0 / (1.0 - KEEP), KEEP), test_time)

    # Backward through y = W2 (m * relu(W1 x) / keep), C = sum(U * y), for one fixed mask.
    w1, x = r.normal(size=(N_UNITS, 4)), r.normal(size=(4, 3))
    w2, upstream = r.normal(size=(2, N_UNITS)), r.normal(size=(2, 3))
    relu_mask = (w1 @ x > 0).astype(float)
    # A mask that only drops units ReLU already silenced cannot tell a masked backward from an
    # unmasked one; draw until it drops at least one active unit (the case that matters).
    mask = (r.random((N_UNITS, 3)) < KEEP).astype(float)
    while not np.any((mask == 0) & (relu_mask == 1)):
        mask = (r.random((N_UNITS, 3)) < KEEP).astype(float)

    def cost() -> float:
        h = np.maximum(w1 @ x, 0.0)
        return float(np.sum(upstream * (w2 @ (mask * h / KEEP))))

    numeric = numerical_grad(cost, w1)
    d_dropped = w2.T @ upstream

    def dw1(d_h: np.ndarray) -> np.ndarray:
        return (d_h * relu_mask) @ x.T

    return CheckResult(
        claim=(
            "With inverted dropout the expected training output equals the test-time output "
            "exactly, and the backward pass must multiply by the same mask and 1/keep; dropping "
            "the scale, inverting the mask, or skipping the mask in backward is wrong."
        ),
        measurements=[
            below("inverted dropout: E[train output] vs test output, rel. gap", inverted, 1e-14),
            above("mask without 1/keep, identity at test: rel. gap", unscaled, WRONG),
            above("mask kept with prob 1 - keep (rand > keep): rel. gap", flipped_mask, WRONG),
            above("mask rand < keep divided by 1 - keep: rel. gap", drop_divisor, WRONG),
            below(
                "backward with the same mask and 1/keep: rel. error of dW1",
                rel_err(dw1(d_dropped * mask / KEEP), numeric),
                RIGHT,
            ),
            above(
                "backward without the mask: rel. error of dW1",
                rel_err(dw1(d_dropped / KEEP), numeric),
                WRONG,
            ),
            above(
                "backward with the mask but no 1/keep: rel. error of dW1",
                rel_err(dw1(d_dropped * mask), numeric),
                WRONG,
            ),
        ],
    )
