"""Cross-entropy cancels sigma' at the output only; hidden deltas still carry sigma'(z^l)."""

from __future__ import annotations

import numpy as np

from kb.numerics import (
    RIGHT,
    WRONG,
    ColumnNet,
    column_net,
    max_rel_err,
    numerical_grad,
    rel_err,
    sigmoid_prime,
)
from kb.schema import CheckResult, above, below


def _cross_entropy(net: ColumnNet) -> float:
    a = net.forward()
    return float(-np.sum(net.y * np.log(a) + (1.0 - net.y) * np.log(1.0 - a)))


def _backward(net: ColumnNet, hidden_slope: bool) -> list[np.ndarray]:
    """Cross-entropy backprop: delta^L = a - y; hidden deltas with or without sigma'(z)."""
    net.forward()
    dws: list[np.ndarray] = [np.empty(0)] * len(net.weights)
    delta = net.activations[-1] - net.y
    for l in range(len(net.weights) - 1, -1, -1):
        dws[l] = delta @ net.activations[l].T
        if l > 0:
            delta = net.weights[l].T @ delta
            if hidden_slope:
                delta = delta * sigmoid_prime(net.zs[l - 1])
    return dws


def _unit_gradient(seed: int, bias: float) -> float:
    """Norm of the cross-entropy gradient of hidden unit 0's incoming weights (first layer)."""
    net = column_net(seed=seed)
    net.weights[0][0] *= 0.1  # keep the unit's pre-activation close to its bias
    net.biases[0][0] = bias
    return float(np.linalg.norm(_backward(net, hidden_slope=True)[0][0]))


def check() -> CheckResult:
    net = column_net(seed=81)  # 4-5-5-3 sigmoid net, cross-entropy cost
    numeric = [numerical_grad(lambda: _cross_entropy(net), w) for w in net.weights]
    right = _backward(net, hidden_slope=True)
    dropped = _backward(net, hidden_slope=False)

    # The same hidden unit, saturated (z near 8) and not (z near 0), under cross-entropy.
    saturated_share = _unit_gradient(82, bias=8.0) / _unit_gradient(82, bias=0.0)

    return CheckResult(
        claim=(
            "Under cross-entropy the output delta is a - y, but hidden deltas still need "
            "sigmoid'(z^l): dropping it breaks the hidden-layer gradients while the output layer "
            "stays right, and a saturated hidden unit still gets a tiny gradient."
        ),
        measurements=[
            below(
                "sigma' kept in hidden layers: rel. error of all dW",
                max_rel_err(right, numeric),
                RIGHT,
            ),
            above(
                "sigma' dropped in hidden layers: rel. error of dW1",
                rel_err(dropped[0], numeric[0]),
                WRONG,
            ),
            above(
                "sigma' dropped in hidden layers: rel. error of dW2",
                rel_err(dropped[1], numeric[1]),
                WRONG,
            ),
            below(
                "sigma' dropped in hidden layers: rel. error of dW (output layer)",
                rel_err(dropped[-1], numeric[-1]),
                RIGHT,
            ),
            below(
                "hidden unit saturated (z near 8) vs not (z near 0): ratio of its dW1 norms",
                saturated_share,
                0.05,
            ),
        ],
    )
