"""W^T gives the exact gradient; inv/pinv of W does not, except when W is orthogonal (square)
or semi-orthogonal (non-square, orthonormal rows or columns). The page's 2x3 worked example and
its figure of the two layers are computed here too (kb/worked_example.py)."""

from __future__ import annotations

import numpy as np

from kb import worked_example
from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, rel_err, rng, row_net
from kb.schema import CheckResult, above, below
from kb.worked_example import NUDGE, compute

example = worked_example.markdown  # the 2x3 worked example, rendered into the page at build
figure = worked_example.figure  # the two layers, drawn from the same numbers
FIGURE_ALT, FIGURE_CAPTION = worked_example.FIGURE_ALT, worked_example.FIGURE_CAPTION


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
    # Non-square: no inverse; pinv(S) = S^T exactly when S is semi-orthogonal (S S^T = I here).
    semi, _ = np.linalg.qr(rng(6).normal(size=(5, 3)))
    semi = semi.T  # 3x5 with orthonormal rows
    semi_gap = rel_err(np.linalg.pinv(semi), semi.T)

    worked = compute()
    adjoint_gap = abs(worked.dc_actual - worked.dc_adjoint) / abs(worked.dc_actual)

    return CheckResult(
        claim=(
            "Propagating delta with W^T matches finite differences; inv(W) or pinv(W) does not, "
            "and the two only coincide when W is orthogonal (semi-orthogonal if it is not square). "
            "In the 2x3 worked example W^T delta is dC/da to finite-difference accuracy."
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
            below("semi-orthogonal 3x5 S (S S^T = I): rel. gap, pinv(S) vs S^T", semi_gap, 1e-12),
            below(
                "worked 2x3 example: W^T delta vs dC/da by finite differences, rel. error",
                rel_err(worked.wt_delta, worked.numeric),
                RIGHT,
            ),
            above(
                "worked 2x3 example: pinv(W) delta vs dC/da, rel. error",
                rel_err(worked.pinv_delta, worked.numeric),
                WRONG,
            ),
            below(
                f"worked example: |dC - (W^T delta)^T da| / |dC| for da = {NUDGE[0]} e_1 "
                "(first order)",
                adjoint_gap,
                0.05,
            ),
        ],
    )
