"""Backprop gives the gradient with respect to the input too: one more step, (W^1)^T delta^1."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, column_net, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

EPS = 1e-3  # FGSM step size


def check() -> CheckResult:
    net = column_net(seed=34)
    net.forward()
    delta = net.output_grad() * net.act_prime(net.zs[-1])
    for layer in range(len(net.weights) - 1, 0, -1):
        delta = (net.weights[layer].T @ delta) * net.act_prime(net.zs[layer - 1])
    input_grad = net.weights[0].T @ delta  # dC/dx: the same recursion, one layer further
    numeric = numerical_grad(net.cost, net.x)

    # FGSM: move every input by EPS in the direction of its gradient's sign.
    x0 = net.x.copy()
    c0 = net.cost()
    net.x = x0 + EPS * np.sign(input_grad)
    fgsm_rise = net.cost() - c0
    predicted = EPS * np.abs(input_grad).sum()  # first-order prediction: EPS * ||grad||_1
    r = rng(35)
    random_rises = []
    for _ in range(20):
        net.x = x0 + EPS * np.sign(r.normal(size=x0.shape))
        random_rises.append(abs(net.cost() - c0))
    net.x = x0

    return CheckResult(
        claim=(
            "Continuing the backward recursion one layer past the first weights gives dC/dx = "
            "(W^1)^T delta^1, equal to finite differences over the inputs; a step of size eps along "
            "its sign raises the cost by eps * ||dC/dx||_1 to first order, far more than a random "
            "step of the same size."
        ),
        measurements=[
            below(
                "dC/dx = (W^1)^T delta^1: rel. error vs finite differences over x",
                rel_err(input_grad, numeric),
                RIGHT,
            ),
            below(
                "FGSM step, eps = 1e-3: |cost rise - eps ||dC/dx||_1| / prediction",
                abs(fgsm_rise - predicted) / predicted,
                0.05,
            ),
            above(
                "cost rise: FGSM step / mean |change| of 20 random-sign steps",
                fgsm_rise / np.mean(random_rises),
                2.0,
            ),
        ],
    )
