"""tanh'(z) = 1 - tanh(z)^2 = 1 - a^2; 1 - z^2 and 1 - tanh(a)^2 are wrong. ReLU's mask is safe."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, H, RowNet, max_rel_err, numerical_grad, rel_err, rng, row_net
from kb.schema import CheckResult, above, below

Slope = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z, a) -> tanh'(z) as the code computes it


def _backward(net: RowNet, slope: Slope) -> list[np.ndarray]:
    """Weight gradients of the row net (tanh hidden layers, linear output) with a given slope."""
    inputs, zs = net.forward()
    dws: list[np.ndarray] = [np.empty(0)] * len(net.weights)
    dz = net.upstream
    for l in range(len(net.weights) - 1, -1, -1):
        dws[l] = inputs[l].T @ dz
        if l > 0:
            z = zs[l - 1]
            dz = (dz @ net.weights[l].T) * slope(z, np.tanh(z))
    return dws


def check() -> CheckResult:
    net = row_net(seed=41)  # 4-5-5-3, tanh hidden layers (the 5x5 one is square), linear output
    numeric_w, _ = net.numerical()
    right = _backward(net, lambda z, a: 1.0 - a**2)
    on_z = _backward(net, lambda z, a: 1.0 - z**2)
    twice = _backward(net, lambda z, a: 1.0 - np.tanh(a) ** 2)

    # ReLU: the mask from the output equals the mask from the input, so either is right.
    r = rng(42)
    x = r.normal(size=(7, 5))
    w = r.normal(size=(5, 5)) / np.sqrt(5)
    b = r.normal(size=5) * 0.1
    c = r.normal(size=(7, 5))  # random upstream weights
    z = x @ w + b

    def relu_cost() -> float:
        return float(np.sum(c * np.maximum(x @ w + b, 0.0)))

    relu_numeric = numerical_grad(relu_cost, w)
    mask_from_a = x.T @ (c * (np.maximum(z, 0.0) > 0))
    mask_from_z = x.T @ (c * (z > 0))

    return CheckResult(
        claim=(
            "The tanh slope 1 - a^2 (a = tanh z) matches finite differences; 1 - z^2 and "
            "1 - tanh(a)^2 do not. For ReLU the mask may come from the output: a > 0 exactly when "
            "z > 0."
        ),
        measurements=[
            below("tanh, 1 - a^2: rel. error of all dW", max_rel_err(right, numeric_w), RIGHT),
            above("tanh, 1 - z^2: rel. error of dW1", rel_err(on_z[0], numeric_w[0]), WRONG),
            above("tanh, 1 - tanh(a)^2: rel. error of dW1", rel_err(twice[0], numeric_w[0]), WRONG),
            below("ReLU, mask from a: rel. error of dW", rel_err(mask_from_a, relu_numeric), RIGHT),
            below(
                "ReLU: rel. gap between masks from a and from z",
                rel_err(mask_from_a, mask_from_z),
                1e-15,
            ),
            above(
                "ReLU: smallest |z| (at least 10h from the kink)",
                float(np.min(np.abs(z))),
                10 * H,
                "finite differences step h = 1e-5; 10h from a kink they are exact (see the "
                "gradcheck-with-stochastic-or-kinked-ops entry)",
            ),
        ],
    )
