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

# Nielsen's saturated neuron (ch. 3): one input x = 1, target y = 0, start w = b = 2, and the
# learning rate of his cross-entropy runs, eta = 0.005 (0.15 is his quadratic-cost run), for
# the 300 epochs his plots show.
_W0, _B0, _ETA, _STEPS = 2.0, 2.0, 0.005, 300


def _cross_entropy(net: ColumnNet) -> float:
    a = net.forward()
    return float(-np.sum(net.y * np.log(a) + (1.0 - net.y) * np.log(1.0 - a)))


def _mean_cross_entropy(net: ColumnNet) -> float:
    """The loss as frameworks define it: averaged over the m examples (columns) of the batch."""
    return _cross_entropy(net) / net.y.shape[1]


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
    mean_numeric = [numerical_grad(lambda: _mean_cross_entropy(net), w) for w in net.weights]
    mse_numeric, _ = net.numerical()  # C = sum((a - y)^2) / 2

    a = net.forward()
    residual = a - net.y
    slope = sigmoid_prime(net.zs[-1])
    ce_right = _backward(net, residual)
    ce_kept = _backward(net, residual * slope)
    mse_right = _backward(net, residual * slope)
    mse_dropped = _backward(net, residual)
    m = net.y.shape[1]
    mean_right = _backward(net, residual / m)

    fast, slow = _train_neuron(False), _train_neuron(True)
    drop_ratio = (slow[0] - slow[-1]) / (fast[0] - fast[-1])

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
                f"mean cross-entropy over m = {m} examples, (a - y) / m: rel. error of all dW",
                max_rel_err(mean_right, mean_numeric),
                RIGHT,
            ),
            above(
                "mean cross-entropy, a - y without the 1/m: rel. error of dW (output layer)",
                rel_err(ce_right[-1], mean_numeric[-1]),
                WRONG,
            ),
            below(
                f"saturated neuron, eta = {_ETA}: loss after {_STEPS} steps, a - y",
                fast[-1],
                2.0,
            ),
            above(
                f"saturated neuron, eta = {_ETA}: loss after {_STEPS} steps, extra sigmoid'",
                slow[-1],
                3.5,
            ),
            below(
                f"saturated neuron: loss drop over {_STEPS} steps, extra sigmoid' / right",
                drop_ratio,
                0.1,
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Cross-entropy loss of one saturated sigmoid neuron over the gradient-descent steps. With "
    "delta = a - y the loss drops to near 0 within the first few dozen steps; with the extra "
    "factor sigma'(z) it stays high for most of the run and has not reached 0 by the last step."
)
FIGURE_CAPTION = (
    "Keeping σ′(z) with cross-entropy brings back the learning slowdown of a saturated neuron "
    "(orange); δ = a − y learns at once (blue)."
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
