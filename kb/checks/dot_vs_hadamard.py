"""Through an element-wise activation the chain rule is a Hadamard product, not np.dot."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid, sigmoid_prime
from kb.schema import CheckResult, above, below


def check() -> CheckResult:
    r = rng(131)
    w1, b1 = r.normal(size=(4, 3)), r.normal(size=4)  # a 3-4-2 net on one example, 1-D vectors
    w2, b2 = r.normal(size=(2, 4)), r.normal(size=2)
    x, y = r.normal(size=3), r.uniform(0.05, 0.95, size=2)
    c = r.uniform(0.5, 1.5, size=2)  # random upstream weights

    def cost() -> float:
        a2 = sigmoid(w2 @ sigmoid(w1 @ x + b1) + b2)
        return float(0.5 * np.sum(c * (a2 - y) ** 2))

    numeric = numerical_grad(cost, w1)

    z1 = w1 @ x + b1
    a1 = sigmoid(z1)
    z2 = w2 @ a1 + b2
    delta2 = c * (sigmoid(z2) - y) * sigmoid_prime(z2)
    back = w2.T @ delta2  # dC/da1, shape (4,)

    hadamard = back * sigmoid_prime(z1)  # shape (4,), like z1
    jacobian = np.diag(sigmoid_prime(z1)) @ back  # the same thing through the diagonal Jacobian
    dotted = np.dot(back, sigmoid_prime(z1))  # 1-D dot: a single number
    right_w1 = np.outer(hadamard, x)
    wrong_w1 = np.broadcast_to(np.outer(dotted, x), w1.shape)  # what `w1 -= lr * dW1` applies

    return CheckResult(
        claim=(
            "Backprop through an element-wise activation multiplies element by element (its "
            "Jacobian is diagonal); np.dot of two 1-D vectors returns one number, which then "
            "broadcasts over the weight matrix and gives a wrong gradient without any error."
        ),
        measurements=[
            below(
                "Hadamard (W2.T @ d2) * sp: rel. error of dW1", rel_err(right_w1, numeric), RIGHT
            ),
            below(
                "Hadamard vs diag(sp) @ (W2.T @ d2): rel. gap", rel_err(hadamard, jacobian), 1e-15
            ),
            above("np.dot(W2.T @ d2, sp): rel. error of dW1", rel_err(wrong_w1, numeric), WRONG),
        ],
    )
