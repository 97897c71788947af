"""delta^l is dC/dz^l; it equals the 'error' a - y only for matched cost/activation pairs."""

from __future__ import annotations

import numpy as np

from kb.numerics import (
    RIGHT,
    WRONG,
    ColumnNet,
    column_net,
    numerical_grad,
    rel_err,
    rng,
    sigmoid,
    sigmoid_prime,
)
from kb.schema import CheckResult, above, below


def _quadratic(z: np.ndarray, y: np.ndarray) -> float:
    return float(0.5 * np.sum((sigmoid(z) - y) ** 2))


def _linear_quadratic(z: np.ndarray, y: np.ndarray) -> float:
    return float(0.5 * np.sum((z - y) ** 2))


def _cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    a = sigmoid(z)
    return float(-np.sum(y * np.log(a) + (1.0 - y) * np.log(1.0 - a)))


def _cost_from_z(net: ColumnNet, layer: int, z: np.ndarray) -> float:
    """The network's cost as a function of the pre-activation of weight layer ``layer``."""
    a = net.act(z)
    for w, b in zip(net.weights[layer + 1 :], net.biases[layer + 1 :], strict=True):
        a = net.act(w @ a + b)
    return float(0.5 * np.sum(net.upstream * (a - net.y) ** 2))


def check() -> CheckResult:
    r = rng(11)
    z = r.normal(scale=2.0, size=(3, 7))  # output pre-activations, 3 units x 7 examples
    y = r.uniform(0.05, 0.95, size=(3, 7))
    a = sigmoid(z)

    dq = numerical_grad(lambda: _quadratic(z, y), z)  # dC/dz for the quadratic cost
    dce = numerical_grad(lambda: _cross_entropy(z, y), z)  # dC/dz for cross-entropy
    dlin = numerical_grad(lambda: _linear_quadratic(z, y), z)  # identity output, quadratic cost

    # Hidden layer: there is no target, but delta is still dC/dz.
    net = column_net(seed=12)
    net.forward()
    layer = 1
    zh = net.zs[layer].copy()
    dh = numerical_grad(lambda: _cost_from_z(net, layer, zh), zh)
    grad_a = net.output_grad()  # dC/da at the output
    delta = grad_a * net.act_prime(net.zs[-1])
    for l in range(len(net.weights) - 1, layer, -1):
        grad_a = net.weights[l].T @ delta  # dC/da of the layer below
        delta = grad_a * net.act_prime(net.zs[l - 1])

    return CheckResult(
        claim=(
            "Perturbing a pre-activation z measures delta = dC/dz directly. For a sigmoid output "
            "with quadratic cost it is (a - y) * sigmoid'(z), not the 'error' a - y; with "
            "cross-entropy (or a linear output with quadratic cost) it is a - y. In a hidden "
            "layer, delta is dC/da * sigmoid'(z)."
        ),
        measurements=[
            below(
                "sigmoid, quadratic cost: dC/dz vs (a - y) * sigmoid'(z)",
                rel_err((a - y) * sigmoid_prime(z), dq),
                RIGHT,
            ),
            above("sigmoid, quadratic cost: dC/dz vs a - y", rel_err(a - y, dq), WRONG),
            below("sigmoid, cross-entropy: dC/dz vs a - y", rel_err(a - y, dce), RIGHT),
            above(
                "sigmoid, cross-entropy: dC/dz vs (a - y) * sigmoid'(z)",
                rel_err((a - y) * sigmoid_prime(z), dce),
                WRONG,
            ),
            below("linear output, quadratic cost: dC/dz vs z - y", rel_err(z - y, dlin), RIGHT),
            below("hidden layer: dC/dz vs backprop delta", rel_err(delta, dh), RIGHT),
            above("hidden layer: dC/dz vs dC/da", rel_err(grad_a, dh), WRONG),
        ],
    )
