"""Backprop is reverse-mode AD: exact to rounding, unlike finite differences, which approximate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import ColumnNet, column_net, numerical_grad, rel_err
from kb.schema import CheckResult, above, below


class Var:
    """A node of a generic reverse-mode tape: a value, its gradient, and how to pass it back."""

    def __init__(self, value: np.ndarray, parents: tuple[Var, ...] = ()) -> None:
        self.value = np.asarray(value, dtype=float)
        self.grad = np.zeros_like(self.value)
        self.parents = parents
        self.backward_fn: Callable[[], None] = lambda: None

    def __matmul__(self, other: Var) -> Var:
        out = Var(self.value @ other.value, (self, other))

        def backward() -> None:
            self.grad += out.grad @ other.value.T
            other.grad += self.value.T @ out.grad

        out.backward_fn = backward
        return out

    def __add__(self, other: Var) -> Var:
        out = Var(self.value + other.value, (self, other))

        def backward() -> None:
            self.grad += _unbroadcast(out.grad, self.value.shape)
            other.grad += _unbroadcast(out.grad, other.value.shape)

        out.backward_fn = backward
        return out

    def sigmoid(self) -> Var:
        s = 1.0 / (1.0 + np.exp(-self.value))
        out = Var(s, (self,))

        def backward() -> None:
            self.grad += out.grad * s * (1.0 - s)

        out.backward_fn = backward
        return out

    def weighted_square_error(self, target: np.ndarray, weights: np.ndarray) -> Var:
        diff = self.value - target
        out = Var(0.5 * np.sum(weights * diff**2), (self,))

        def backward() -> None:
            self.grad += out.grad * weights * diff

        out.backward_fn = backward
        return out

    def backward(self) -> None:
        """Visit the graph in reverse topological order; every node adds into its parents."""
        order: list[Var] = []
        seen: set[int] = set()

        def visit(node: Var) -> None:
            if id(node) not in seen:
                seen.add(id(node))
                for parent in node.parents:
                    visit(parent)
                order.append(node)

        visit(self)
        self.grad = np.ones_like(self.value)
        for node in reversed(order):
            node.backward_fn()


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient back to the operand's shape (a bias shared by the batch)."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def tape_gradients(net: ColumnNet) -> list[np.ndarray]:
    weights = [Var(w) for w in net.weights]
    a = Var(net.x)
    for w, b in zip(weights, net.biases, strict=True):
        a = (w @ a + Var(b)).sigmoid()
    a.weighted_square_error(net.y, net.upstream).backward()
    return [w.grad for w in weights]


def complex_cost(net: ColumnNet, weights: list[np.ndarray]) -> complex:
    """The same cost written so it also runs on complex arrays."""
    a = net.x.astype(complex)
    for w, b in zip(weights, net.biases, strict=True):
        a = 1.0 / (1.0 + np.exp(-(w @ a + b)))
    return complex(0.5 * np.sum(net.upstream * (a - net.y) ** 2))


def complex_step_grad(net: ColumnNet, layer: int, h: float = 1e-30) -> np.ndarray:
    """Reference derivative, one forward pass per weight: Im C(w + i h e_k) / h (no cancellation)."""
    weights = [w.astype(complex) for w in net.weights]
    grad = np.zeros(net.weights[layer].shape)
    for k in np.ndindex(grad.shape):
        weights[layer][k] += 1j * h
        grad[k] = complex_cost(net, weights).imag / h
        weights[layer][k] -= 1j * h
    return grad


def _worst(grads: list[np.ndarray], reference: list[np.ndarray]) -> float:
    return max(rel_err(g, r) for g, r in zip(grads, reference, strict=True))


def check() -> CheckResult:
    net = column_net(seed=33)
    reference = [complex_step_grad(net, layer) for layer in range(len(net.weights))]
    backprop, _ = net.backward()
    tape = tape_gradients(net)
    numeric = [numerical_grad(net.cost, w) for w in net.weights]

    return CheckResult(
        claim=(
            "Hand-written backprop and a generic reverse-mode autodiff tape compute the same "
            "numbers, both equal to a complex-step reference to rounding error; centred finite "
            "differences are the approximation, off by truncation and round-off."
        ),
        measurements=[
            below(
                "hand-written backprop vs complex-step reference: rel. error",
                _worst(backprop, reference),
                1e-13,
            ),
            below(
                "generic reverse-mode tape vs hand-written backprop: rel. gap",
                _worst(tape, backprop),
                1e-14,
            ),
            above(
                "centred differences, h = 1e-5, vs the same reference: rel. error",
                _worst(numeric, reference),
                1e-12,
            ),
        ],
    )
