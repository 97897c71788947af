"""dW pairs the layer's delta with the layer's input, never with the layer's own output."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, rel_err
from kb.schema import CheckResult, above, below


def check() -> CheckResult:
    net = column_net(seed=171)  # 4-5-5-3 sigmoid net, z = W a + b; W2 is the square 5x5 layer
    numeric, _ = net.numerical()
    right, _ = net.backward()  # dW = delta @ a_prev.T
    net.forward()
    delta3 = net.output_grad() * net.act_prime(net.zs[2])
    delta2 = (net.weights[2].T @ delta3) * net.act_prime(net.zs[1])  # delta of the square layer
    own_output = delta2 @ net.activations[2].T  # delta @ a.T with a = f(z) of the same layer
    # one example at a time with 1-D vectors: np.dot(delta, a) of the same layer is a scalar,
    # which the update then subtracts from every weight
    scalar = sum(
        float(np.dot(delta3[:, n], net.activations[3][:, n])) for n in range(delta3.shape[1])
    )
    scalar_grad = np.full_like(numeric[2], scalar)

    return CheckResult(
        claim=(
            "The weight gradient of a layer is its delta times what flowed into the layer, "
            "delta @ a_prev.T. The layer's own output a = f(z) does not belong in it: pairing the "
            "delta with it gives wrong gradients even when the shapes match (a square layer), "
            "and with 1-D vectors np.dot makes it one scalar for every weight."
        ),
        measurements=[
            below("delta @ a_prev.T: rel. error of all dW", max_rel_err(right, numeric), RIGHT),
            above(
                "delta @ a.T with the layer's own output, square layer: rel. error of dW2",
                rel_err(own_output, numeric[1]),
                WRONG,
            ),
            above(
                "np.dot(delta, a) of the output layer per example, broadcast: rel. error of dW3",
                rel_err(scalar_grad, numeric[2]),
                WRONG,
            ),
        ],
    )
