"""What goes back through W^T is delta = dC/da * sigma'(z), not the error dC/da."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, ColumnNet, column_net, max_rel_err, rel_err
from kb.schema import CheckResult, above, below


def _backward(net: ColumnNet, send_delta: bool) -> list[np.ndarray]:
    """Per layer: delta = error * sigma'(z), dW = delta a^T; send delta (right) or error back."""
    net.forward()
    dws: list[np.ndarray] = [np.empty(0)] * len(net.weights)
    error = net.output_grad()  # dC/da at the output (a - y, weighted by the upstream U)
    for l in range(len(net.weights) - 1, -1, -1):
        delta = error * net.act_prime(net.zs[l])
        dws[l] = delta @ net.activations[l].T
        error = net.weights[l].T @ (delta if send_delta else error)
    return dws


def check() -> CheckResult:
    net = column_net(seed=111)  # 4-5-5-3 sigmoid net, quadratic cost with random upstream weights
    numeric, _ = net.numerical()
    right = _backward(net, send_delta=True)
    sent_error = _backward(net, send_delta=False)

    return CheckResult(
        claim=(
            "Sending delta (the error times sigma'(z)) back through W^T gives the exact gradient. "
            "Sending the error itself leaves every layer's own weight update looking right but "
            "drops the slopes of the layers above it: the output layer's dW stays exact, every "
            "hidden layer's dW is wrong."
        ),
        measurements=[
            below("delta sent back: rel. error of all dW", max_rel_err(right, numeric), RIGHT),
            below(
                "error sent back: rel. error of dW (output layer)",
                rel_err(sent_error[-1], numeric[-1]),
                RIGHT,
            ),
            above("error sent back: rel. error of dW2", rel_err(sent_error[1], numeric[1]), WRONG),
            above("error sent back: rel. error of dW1", rel_err(sent_error[0], numeric[0]), WRONG),
        ],
    )
