"""Where the transpose goes depends on the layout: W^T delta, dZ @ W.T, or dY @ W for nn.Linear."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, numerical_grad, rel_err, row_net
from kb.schema import CheckResult, above, below

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]


class _LinearLayoutNet:
    """PyTorch's nn.Linear layout: Y = X W^T + b with W of shape (out, in); tanh hidden layers."""

    def __init__(self, seed: int) -> None:
        base = row_net(seed)  # same numbers as the row net, stored transposed
        self.weights = [w.T.copy() for w in base.weights]
        self.biases = base.biases
        self.x = base.x
        self.upstream = base.upstream

    def forward(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        a, inputs, zs = self.x, [], []
        for l, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            inputs.append(a)
            z = a @ w.T + b
            zs.append(z)
            a = z if l == len(self.weights) - 1 else np.tanh(z)
        return inputs, zs

    def cost(self) -> float:
        return float(np.sum(self.upstream * self.forward()[1][-1]))

    def backward(self, grad_input: Rule, grad_weight: Rule) -> list[np.ndarray]:
        """grad_input(W, dY) -> dX, grad_weight(X, dY) -> dW, for each layer."""
        inputs, zs = self.forward()
        dws: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        dy = self.upstream
        for l in range(len(self.weights) - 1, -1, -1):
            dws[l] = grad_weight(inputs[l], dy)
            if l > 0:
                dy = grad_input(self.weights[l], dy) * (1.0 - np.tanh(zs[l - 1]) ** 2)
        return dws


def _square_only(rule: Rule, fallback: Rule) -> Rule:
    """Apply a transplanted formula where the shapes let it run (square W), else the right one."""

    def apply(w: np.ndarray, d: np.ndarray) -> np.ndarray:
        return rule(w, d) if w.shape[0] == w.shape[1] else fallback(w, d)

    return apply


def check() -> CheckResult:
    col = column_net(seed=121)
    col_numeric, _ = col.numerical()
    col_right, _ = col.backward()  # delta^l = (W^T delta^{l+1}) * sigma'(z^l)

    row = row_net(seed=122)
    row_numeric, _ = row.numerical()
    row_right, _ = row.backward()  # dA = dZ @ W.T
    row_no_t, _ = row.backward(_square_only(lambda w, d: d @ w, lambda w, d: d @ w.T))

    lin = _LinearLayoutNet(seed=122)
    lin_numeric = [numerical_grad(lin.cost, w) for w in lin.weights]
    lin_right = lin.backward(lambda w, d: d @ w, lambda x, d: d.T @ x)
    lin_row_dx = lin.backward(
        _square_only(lambda w, d: d @ w.T, lambda w, d: d @ w), lambda x, d: d.T @ x
    )
    lin_row_dw = [dw.T for dw in lin_right]  # X.T @ dY: the row-convention dW, transposed here

    return CheckResult(
        claim=(
            "Each layout has its own backward formulas: column z = W a gives W^T delta; row "
            "Z = X W gives dZ @ W.T and X.T @ dZ; nn.Linear's Y = X W^T gives dY @ W and dY.T @ X. "
            "Formulas carried across layouts run whenever W is square and give wrong gradients."
        ),
        measurements=[
            below(
                "column z = W a, W^T delta: rel. error of all dW",
                max_rel_err(col_right, col_numeric),
                RIGHT,
            ),
            below(
                "row Z = X W, dZ @ W.T: rel. error of all dW",
                max_rel_err(row_right, row_numeric),
                RIGHT,
            ),
            above(
                "row Z = X W, dZ @ W (square layer): rel. error of dW1",
                rel_err(row_no_t[0], row_numeric[0]),
                WRONG,
            ),
            below(
                "nn.Linear Y = X W^T, dY @ W: rel. error of all dW",
                max_rel_err(lin_right, lin_numeric),
                RIGHT,
            ),
            above(
                "nn.Linear, dY @ W.T (square layer): rel. error of dW1",
                rel_err(lin_row_dx[0], lin_numeric[0]),
                WRONG,
            ),
            above(
                "nn.Linear, dW = X.T @ dY (square layer): rel. error of dW2",
                rel_err(lin_row_dw[1], lin_numeric[1]),
                WRONG,
            ),
        ],
    )
