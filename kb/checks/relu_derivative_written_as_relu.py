"""relu'(z) is the step 1[z > 0], not relu(z) itself."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, H, RowNet, max_rel_err, rel_err, row_net
from kb.schema import CheckResult, above, below

Slope = Callable[[np.ndarray], np.ndarray]


class _ReluNet(RowNet):
    """The harness's row net (4-5-5-3, C = sum(U * Y)) with ReLU hidden layers instead of tanh."""

    def forward(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        a, inputs, zs = self.x, [], []
        for l, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            inputs.append(a)
            z = a @ w + b
            zs.append(z)
            a = z if l == len(self.weights) - 1 else np.maximum(z, 0.0)
        return inputs, zs

    def backward_with(self, slope: Slope) -> list[np.ndarray]:
        inputs, zs = self.forward()
        dws: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        dz = self.upstream
        for l in range(len(self.weights) - 1, -1, -1):
            dws[l] = inputs[l].T @ dz
            if l > 0:
                dz = (dz @ self.weights[l].T) * slope(zs[l - 1])
        return dws


def check() -> CheckResult:
    base = row_net(seed=51)
    net = _ReluNet(base.weights, base.biases, base.x, base.upstream)
    numeric, _ = net.numerical()
    right = net.backward_with(lambda z: (z > 0).astype(float))
    wrong = net.backward_with(lambda z: np.maximum(z, 0.0))
    _, zs = net.forward()
    nearest_kink = min(float(np.min(np.abs(z))) for z in zs[:-1])

    return CheckResult(
        claim=(
            "Backprop through ReLU multiplies by the step 1[z > 0]; multiplying by relu(z) "
            "instead scales each active unit's gradient by its own z and gives wrong gradients."
        ),
        measurements=[
            below("mask 1[z > 0]: rel. error of all dW", max_rel_err(right, numeric), RIGHT),
            above(
                "relu(z) as the derivative: rel. error of dW1", rel_err(wrong[0], numeric[0]), WRONG
            ),
            above(
                "relu(z) as the derivative: rel. error of dW2", rel_err(wrong[1], numeric[1]), WRONG
            ),
            above(
                "smallest hidden |z| (at least 10h from the kink)",
                nearest_kink,
                10 * H,
                "finite differences step h = 1e-5; 10h from a kink they are exact (see the "
                "gradcheck-with-stochastic-or-kinked-ops entry)",
            ),
        ],
    )
