"""W^T gives the exact gradient; inv/pinv of W does not, except when W is orthogonal."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, rel_err, rng, row_net
from kb.schema import CheckResult, above, below


def check() -> CheckResult:
    net = column_net(seed=1)  # 4-5-5-3 sigmoid net: W2 is square, so inv(W2) exists
    numeric_w, _ = net.numerical()

    right_w, _ = net.backward()
    pinv_w, _ = net.backward(lambda w, d: np.linalg.pinv(w) @ d)

    # The square layer is the one place an inverse even type-checks; try it alone.
    def inv_square(w: np.ndarray, d: np.ndarray) -> np.ndarray:
        return np.linalg.inv(w) @ d if w.shape[0] == w.shape[1] else w.T @ d

    inv_w, _ = net.backward(inv_square)

    row = row_net(seed=2)
    row_numeric, _ = row.numerical()
    row_right, _ = row.backward()
    row_pinv, _ = row.backward(lambda w, d: d @ np.linalg.pinv(w))

    # Where the folk belief comes from: for orthogonal Q, Q^T == Q^{-1}.
    q, _ = np.linalg.qr(rng(3).normal(size=(5, 5)))
    d = rng(4).normal(size=(5, 7))
    orthogonal_gap = rel_err(q.T @ d, np.linalg.inv(q) @ d)

    return CheckResult(
        claim=(
            "Propagating delta with W^T matches finite differences; inv(W) or pinv(W) does not, "
            "and the two only coincide when W is orthogonal."
        ),
        measurements=[
            below("column net, W^T: rel. error of all dW", max_rel_err(right_w, numeric_w), RIGHT),
            above(
                "column net, pinv(W): rel. error of dW1", rel_err(pinv_w[0], numeric_w[0]), WRONG
            ),
            above(
                "column net, inv(W) on the square layer: rel. error of dW1",
                rel_err(inv_w[0], numeric_w[0]),
                WRONG,
            ),
            below(
                "row net, dZ @ W^T: rel. error of all dW",
                max_rel_err(row_right, row_numeric),
                RIGHT,
            ),
            above(
                "row net, dZ @ pinv(W): rel. error of dW1",
                rel_err(row_pinv[0], row_numeric[0]),
                WRONG,
            ),
            below("orthogonal Q: rel. gap between Q^T d and inv(Q) d", orthogonal_gap, 1e-12),
        ],
    )
