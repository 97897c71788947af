"""A bias is shared by every example of the batch, so its gradient is dZ summed over the batch."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, RowNet, rel_err, row_net
from kb.schema import CheckResult, above, below


def _dzs(net: RowNet) -> list[np.ndarray]:
    """dC/dZ of every layer of the row net (tanh hidden layers, C = sum(U * Y))."""
    _, zs = net.forward()
    dz = net.upstream
    out = [dz]
    for l in range(len(net.weights) - 1, 0, -1):
        dz = (dz @ net.weights[l].T) * (1.0 - np.tanh(zs[l - 1]) ** 2)
        out.append(dz)
    return out[::-1]


def check() -> CheckResult:
    net = row_net(seed=151)  # 4-5-5-3, Z = X W + b with b of shape (n_out,), batch of 7
    _, numeric_b = net.numerical()
    dz = _dzs(net)

    summed = [d.sum(axis=0) for d in dz]
    first_row = [d[0] for d in dz]
    mean = [d.mean(axis=0) for d in dz]

    b = net.biases[0].copy()
    b_after = b - 0.1 * dz[0]  # `b = b - lr * dZ` broadcasts b from (n,) to (m, n)
    try:
        b_inplace = b.copy()
        b_inplace -= 0.1 * dz[0]  # numpy cannot broadcast the output of an in-place update
        inplace_raised = 0.0
    except ValueError:
        inplace_raised = 1.0

    return CheckResult(
        claim=(
            "With Z = X W + b broadcast over a batch, dC/db is dZ summed over the examples; one "
            "example's row, or the mean when the loss is a sum, is wrong; b = b - lr * dZ "
            "silently turns b into an (m, n) matrix (the in-place b -= lr * dZ at least raises)."
        ),
        measurements=[
            below(
                "dZ.sum(axis=0): worst rel. error over layers",
                max(rel_err(s, n) for s, n in zip(summed, numeric_b, strict=True)),
                RIGHT,
            ),
            above(
                "dZ[0] (first example only): rel. error of db1",
                rel_err(first_row[0], numeric_b[0]),
                WRONG,
            ),
            above(
                "dZ.mean(axis=0) with a summed loss: rel. error of db1",
                rel_err(mean[0], numeric_b[0]),
                WRONG,
            ),
            above("b = b - lr * dZ: elements of b after / before", b_after.size / b.size, 1.0),
            above("b -= lr * dZ raises a shape error (1 = yes)", inplace_raised, 0.5),
        ],
    )
