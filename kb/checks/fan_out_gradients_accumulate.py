"""A value used in several places gets the sum of the gradients from every use, not the last one."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


class _Node:
    """A scalar in a tiny reverse-mode autograd, micrograd style."""

    def __init__(self, value: float, parents: tuple[tuple[_Node, float], ...] = ()) -> None:
        self.value = value
        self.parents = parents  # (parent, d self / d parent)
        self.grad = 0.0

    def __add__(self, other: _Node) -> _Node:
        return _Node(self.value + other.value, ((self, 1.0), (other, 1.0)))

    def __mul__(self, other: _Node) -> _Node:
        return _Node(self.value * other.value, ((self, other.value), (other, self.value)))

    def backward(self, accumulate: bool) -> None:
        order: list[_Node] = []
        seen: set[int] = set()

        def visit(node: _Node) -> None:
            if id(node) not in seen:
                seen.add(id(node))
                for parent, _ in node.parents:
                    visit(parent)
                order.append(node)

        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in node.parents:
                if accumulate:
                    parent.grad += node.grad * local  # right: sum over every use
                else:
                    parent.grad = node.grad * local  # wrong: the last use wins


def _scalar_grads(x: np.ndarray, accumulate: bool) -> np.ndarray:
    """d/dx, d/dy of f = x*y + x + (x*x)*y with a hand-written autograd."""
    a, b = _Node(float(x[0])), _Node(float(x[1]))
    f = a * b + a + (a * a) * b
    f.backward(accumulate)
    return np.array([a.grad, b.grad])


def _scalar_f(x: np.ndarray) -> float:
    return float(x[0] * x[1] + x[0] + x[0] * x[0] * x[1])


def check() -> CheckResult:
    r = rng(21)
    w = r.normal(size=(5, 5)) / np.sqrt(5)  # one weight matrix, used twice: o = W (W v)
    v = r.normal(size=(5, 7))
    c = r.uniform(0.5, 1.5, size=(5, 7))  # random upstream weights

    def cost() -> float:
        return float(0.5 * np.sum(c * (w @ (w @ v)) ** 2))

    numeric = numerical_grad(cost, w)
    u = w @ v
    o = w @ u
    grad_o = c * o
    from_second_use = grad_o @ u.T  # o = W u
    from_first_use = (w.T @ grad_o) @ v.T  # u = W v
    summed = from_first_use + from_second_use

    x = np.array([0.7, -1.3])
    scalar_numeric = numerical_grad(lambda: _scalar_f(x), x)

    return CheckResult(
        claim=(
            "When a value feeds several operations, its gradient is the sum of the contributions "
            "of every use: a weight used twice, or a scalar used three times, matches finite "
            "differences only if the contributions are added, not overwritten."
        ),
        measurements=[
            below("W used twice: sum over both uses", rel_err(summed, numeric), RIGHT),
            above(
                "W used twice: inner use only (last write wins)",
                rel_err(from_first_use, numeric),
                WRONG,
            ),
            above("W used twice: outer use only", rel_err(from_second_use, numeric), WRONG),
            below(
                "tiny autograd, grad +=: rel. error",
                rel_err(_scalar_grads(x, accumulate=True), scalar_numeric),
                RIGHT,
            ),
            above(
                "tiny autograd, grad =: rel. error",
                rel_err(_scalar_grads(x, accumulate=False), scalar_numeric),
                WRONG,
            ),
        ],
    )
