"""delta = dC/da * sigma'(z): the slope is taken at the forward value, never at the gradient."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, ColumnNet, column_net, max_rel_err, rel_err, sigmoid_prime
from kb.schema import CheckResult, above, below

# (dC/da, a, z) -> dC/dz as the code computes it
Local = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _backward(net: ColumnNet, local: Local) -> list[np.ndarray]:
    net.forward()
    n = len(net.weights)
    dws: list[np.ndarray] = [np.empty(0)] * n
    grad_a = net.output_grad()
    for l in range(n - 1, -1, -1):
        delta = local(grad_a, net.activations[l + 1], net.zs[l])
        dws[l] = delta @ net.activations[l].T
        grad_a = net.weights[l].T @ delta
    return dws


def check() -> CheckResult:
    net = column_net(seed=61)  # 4-5-5-3 sigmoid net, quadratic cost with random upstream weights
    numeric_w, _ = net.numerical()

    right = _backward(net, lambda g, a, z: g * a * (1.0 - a))
    right_z = _backward(net, lambda g, a, z: g * sigmoid_prime(z))
    on_error = _backward(net, lambda g, a, z: g * (1.0 - g))  # dz = dh * (1 - dh)
    prime_of_error = _backward(net, lambda g, a, z: sigmoid_prime(g))  # sigmoid_prime(dh)

    return CheckResult(
        claim=(
            "delta = dC/da * a(1 - a), the slope evaluated at the forward value, matches finite "
            "differences; feeding the incoming gradient to the derivative (g * (1 - g), or "
            "sigmoid_prime(g)) does not, from the output layer down."
        ),
        measurements=[
            below("g * a * (1 - a): rel. error of all dW", max_rel_err(right, numeric_w), RIGHT),
            below(
                "g * sigmoid_prime(z): rel. error of all dW", max_rel_err(right_z, numeric_w), RIGHT
            ),
            above(
                "g * (1 - g): rel. error of dW (output layer)",
                rel_err(on_error[-1], numeric_w[-1]),
                WRONG,
            ),
            above("g * (1 - g): rel. error of dW1", rel_err(on_error[0], numeric_w[0]), WRONG),
            above(
                "sigmoid_prime(g): rel. error of dW (output layer)",
                rel_err(prime_of_error[-1], numeric_w[-1]),
                WRONG,
            ),
        ],
    )
