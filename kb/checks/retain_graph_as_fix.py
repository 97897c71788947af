"""retain_graph=True silences the error but not the cause: repeated backward adds again, and a
graph carried across iterations makes each backward longer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


class GraphFreedError(RuntimeError):
    """Raised, like PyTorch, when backward runs through a graph whose buffers were freed."""


class Tensor:
    """A tape node: value, .grad that backward adds into, and a backward rule over saved arrays."""

    def __init__(
        self,
        value: np.ndarray,
        parents: tuple[Tensor, ...] = (),
        rule: Callable[[np.ndarray, tuple], tuple[np.ndarray, ...]] | None = None,
        saved: tuple = (),
    ) -> None:
        self.value = np.asarray(value, dtype=float)
        self.parents, self.rule, self.saved = parents, rule, saved
        self.grad: np.ndarray | None = None
        self.freed = False

    def backward(self, retain_graph: bool = False) -> int:
        """Reverse-mode sweep from this scalar; returns how many graph nodes it visited."""
        order: list[Tensor] = []
        seen: set[int] = set()

        def visit(node: Tensor) -> None:
            if id(node) not in seen:
                seen.add(id(node))
                for parent in node.parents:
                    visit(parent)
                order.append(node)

        visit(self)
        upstream = {id(self): np.ones_like(self.value)}
        for node in reversed(order):
            g = upstream.pop(id(node), None)
            if g is None:
                continue
            if node.rule is None:  # a leaf: accumulate, as .grad does
                node.grad = g if node.grad is None else node.grad + g
                continue
            if node.freed:
                raise GraphFreedError("Trying to backward through the graph a second time")
            for parent, pg in zip(node.parents, node.rule(g, node.saved), strict=True):
                upstream[id(parent)] = upstream.get(id(parent), 0.0) + pg
            if not retain_graph:
                node.freed, node.saved = True, ()
        return len(order)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return Tensor(
        a.value @ b.value, (a, b), lambda g, s: (g @ s[1].T, s[0].T @ g), (a.value, b.value)
    )


def tanh(a: Tensor) -> Tensor:
    out = np.tanh(a.value)
    return Tensor(out, (a,), lambda g, s: (g * (1.0 - s[0] ** 2),), (out,))


def weighted_sum(a: Tensor, c: np.ndarray) -> Tensor:
    return Tensor(np.sum(c * a.value), (a,), lambda g, s: (g * s[0],), (c,))


def add(a: Tensor, b: Tensor) -> Tensor:
    return Tensor(a.value + b.value, (a, b), lambda g, s: (g, g))


def detach(a: Tensor) -> Tensor:
    return Tensor(a.value)


def check() -> CheckResult:
    r = rng(38)
    w0 = r.normal(size=(6, 6)) / 2.5
    x = Tensor(r.normal(size=(4, 6)))
    c1, c2 = r.normal(size=(4, 6)), r.normal(size=(4, 6))

    def two_losses(w: Tensor) -> tuple[Tensor, Tensor]:
        h = tanh(matmul(x, w))  # a shared trunk, two heads
        return weighted_sum(h, c1), weighted_sum(tanh(matmul(h, w)), c2)

    probe = w0.copy()
    numeric_sum = numerical_grad(lambda: float(add(*two_losses(Tensor(probe))).value), probe)
    numeric_l1 = numerical_grad(lambda: float(two_losses(Tensor(probe))[0].value), probe)

    # Two losses on one trunk: one backward of their sum.
    w = Tensor(w0.copy())
    add(*two_losses(w)).backward()
    summed = w.grad

    # The same loss backpropagated twice, the second walk allowed by retain_graph=True.
    w = Tensor(w0.copy())
    l1, _ = two_losses(w)
    l1.backward(retain_graph=True)
    l1.backward()
    twice = w.grad

    # A recurrent state carried across iterations: without detach, every backward walks back
    # through all earlier iterations (and needs retain_graph=True to be allowed to).
    def walked(detach_state: bool, iterations: int = 30) -> list[int]:
        w = Tensor(w0.copy())
        h = Tensor(np.zeros((1, 6)))
        counts = []
        for t in range(iterations):
            if detach_state:
                h = detach(h)
            h = add(tanh(matmul(h, w)), Tensor(x.value[t % 4]))
            counts.append(weighted_sum(h, c1[t % 4]).backward(retain_graph=True))
        return counts

    carried, detached = walked(detach_state=False), walked(detach_state=True)

    return CheckResult(
        claim=(
            "Two losses on one graph need one backward of their sum, which matches finite "
            "differences. retain_graph=True lets the same graph be walked again, and each walk adds "
            "into .grad once more; a state carried across iterations without detach() makes every "
            "backward walk the whole history."
        ),
        measurements=[
            below(
                "backward of l1 + l2: rel. error vs finite differences",
                rel_err(summed, numeric_sum),
                RIGHT,
            ),
            above(
                "l1.backward(retain_graph=True), then l1.backward(): rel. error vs dl1/dW",
                rel_err(twice, numeric_l1),
                WRONG,
            ),
            above(
                "state carried, no detach: nodes walked at iteration 30 / at iteration 1",
                carried[-1] / carried[0],
                10.0,
            ),
            below(
                "state detached: nodes walked at iteration 30 / at iteration 1",
                detached[-1] / detached[0],
                1.01,
            ),
        ],
    )
