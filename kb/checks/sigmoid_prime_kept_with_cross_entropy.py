"""Sigmoid + cross-entropy: delta^L = a - y (sigma' cancels); sigmoid + quadratic: keep sigma'."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import (
    RIGHT,
    WRONG,
    ColumnNet,
    column_net,
    max_rel_err,
    numerical_grad,
    rel_err,
    sigmoid,
    sigmoid_prime,
)
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    import matplotlib.figure

# Nielsen's saturated neuron (ch. 3): one input x = 1, target y = 0, start w = b = 2.
_W0, _B0, _ETA, _STEPS, _AT = 2.0, 2.0, 0.15, 300, 50


def _cross_entropy(net: ColumnNet) -> float:
    a = net.forward()
    return float(-np.sum(net.y * np.log(a) + (1.0 - net.y) * np.log(1.0 - a)))


def _backward(net: ColumnNet, output_delta: np.ndarray) -> list[np.ndarray]:
    """Weight gradients given delta^L; hidden layers use the standard recursion."""
    dws: list[np.ndarray] = [np.empty(0)] * len(net.weights)
    delta = output_delta
    for l in range(len(net.weights) - 1, -1, -1):
        dws[l] = delta @ net.activations[l].T
        if l > 0:
            delta = (net.weights[l].T @ delta) * sigmoid_prime(net.zs[l - 1])
    return dws


def _train_neuron(keep_sigma_prime: bool) -> list[float]:
    """Cross-entropy loss per step for one sigmoid neuron trained by gradient descent."""
    w, b, losses = _W0, _B0, []
    for _ in range(_STEPS + 1):
        z = w * 1.0 + b
        a = float(sigmoid(np.array(z)))
        losses.append(-np.log(1.0 - a))  # y = 0
        delta = a - 0.0
        if keep_sigma_prime:
            delta *= a * (1.0 - a)
        w, b = w - _ETA * delta * 1.0, b - _ETA * delta
    return losses


def check() -> CheckResult:
    net = column_net(seed=71)  # 4-5-5-3 sigmoid net
    net.upstream = np.ones_like(net.upstream)  # plain costs, so the code matches the textbook
    ce_numeric = [numerical_grad(lambda: _cross_entropy(net), w) for w in net.weights]
    mse_numeric, _ = net.numerical()  # C = sum((a - y)^2) / 2

    a = net.forward()
    residual = a - net.y
    slope = sigmoid_prime(net.zs[-1])
    ce_right = _backward(net, residual)
    ce_kept = _backward(net, residual * slope)
    mse_right = _backward(net, residual * slope)
    mse_dropped = _backward(net, residual)

    fast, slow = _train_neuron(False), _train_neuron(True)
    a0 = float(sigmoid(np.array(_W0 + _B0)))

    return CheckResult(
        claim=(
            "With a sigmoid output and cross-entropy, delta^L = a - y matches finite differences "
            "and multiplying by sigmoid'(z) again does not; with the quadratic cost it is the "
            "other way round. The extra factor shrinks the update of a saturated, wrong unit and "
            "brings back the learning slowdown cross-entropy removes."
        ),
        measurements=[
            below(
                "cross-entropy, a - y: rel. error of all dW",
                max_rel_err(ce_right, ce_numeric),
                RIGHT,
            ),
            above(
                "cross-entropy, (a - y) * sigmoid'(z): rel. error of dW (output layer)",
                rel_err(ce_kept[-1], ce_numeric[-1]),
                WRONG,
            ),
            above(
                "cross-entropy, (a - y) * sigmoid'(z): rel. error of dW1",
                rel_err(ce_kept[0], ce_numeric[0]),
                WRONG,
            ),
            below(
                "quadratic, (a - y) * sigmoid'(z): rel. error of all dW",
                max_rel_err(mse_right, mse_numeric),
                RIGHT,
            ),
            above(
                "quadratic, a - y: rel. error of dW (output layer)",
                rel_err(mse_dropped[-1], mse_numeric[-1]),
                WRONG,
            ),
            below(
                "saturated neuron (y = 0, z = 4): size of first step, extra sigmoid' / right",
                a0 * (1.0 - a0),
                0.05,
            ),
            below(f"saturated neuron: loss after {_AT} steps, a - y", fast[_AT], 0.2),
            above(f"saturated neuron: loss after {_AT} steps, extra sigmoid'", slow[_AT], 3.0),
        ],
    )


def figure() -> matplotlib.figure.Figure:
    """Loss of Nielsen's saturated neuron under cross-entropy, with and without the extra sigma'."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    steps = np.arange(_STEPS + 1)
    ax.plot(steps, _train_neuron(False), label=r"$\delta = a - y$ (right)")
    ax.plot(steps, _train_neuron(True), label=r"$\delta = (a - y)\,\sigma'(z)$ (extra factor)")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    return fig
