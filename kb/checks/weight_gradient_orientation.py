"""dW has W's shape: delta a^T (column) or X^T dZ (row); the flipped product is W's transpose."""

from __future__ import annotations

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, rel_err, row_net
from kb.schema import CheckResult, above, below


def check() -> CheckResult:
    row = row_net(seed=141)  # 4-5-5-3, Z = X W + b; W2 is the square 5x5 layer
    row_numeric, _ = row.numerical()
    row_right, _ = row.backward()  # dW = X.T @ dZ
    inputs, _ = row.forward()
    dz2 = row.upstream @ row.weights[2].T * (1.0 - inputs[2] ** 2)  # dC/dZ of the square layer
    row_flipped = dz2.T @ inputs[1]  # dZ.T @ X: "the shapes work" for a square layer

    col = column_net(seed=142)  # 4-5-5-3, z = W a + b
    col_numeric, _ = col.numerical()
    col_right, _ = col.backward()  # dW = delta @ a.T
    col.forward()
    delta = col.output_grad() * col.act_prime(col.zs[-1])
    delta1 = (col.weights[2].T @ delta) * col.act_prime(col.zs[1])  # delta of the square layer
    col_flipped = col.activations[1] @ delta1.T  # a @ delta.T, np.outer(x, delta) per example

    return CheckResult(
        claim=(
            "The weight gradient is the outer product of the layer's input with its delta, "
            "arranged to have W's shape: X.T @ dZ for Z = X W, delta @ a.T for z = W a. The "
            "flipped product is the transpose, has the same shape only when W is square, and is "
            "then silently wrong."
        ),
        measurements=[
            below(
                "row net, X.T @ dZ: rel. error of all dW",
                max_rel_err(row_right, row_numeric),
                RIGHT,
            ),
            above(
                "row net, dZ.T @ X on the square layer: rel. error of dW2",
                rel_err(row_flipped, row_numeric[1]),
                WRONG,
            ),
            below(
                "column net, delta @ a.T: rel. error of all dW",
                max_rel_err(col_right, col_numeric),
                RIGHT,
            ),
            above(
                "column net, a @ delta.T on the square layer: rel. error of dW2",
                rel_err(col_flipped, col_numeric[1]),
                WRONG,
            ),
        ],
    )
