"""Summing loss tensors keeps every iteration's graph alive; summing floats keeps nothing."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from kb.numerics import rel_err, rng
from kb.schema import CheckResult, above, below

ITERATIONS = 100


class Tensor:
    """A value plus what autograd keeps for backward: its parents and the arrays it saved."""

    def __init__(
        self, value: np.ndarray, parents: tuple[Tensor, ...] = (), saved: tuple = ()
    ) -> None:
        self.value = np.asarray(value, dtype=float)
        self.parents = parents
        self.saved = saved

    def item(self) -> float:
        return float(self.value)

    def __add__(self, other: Tensor) -> Tensor:
        return Tensor(self.value + other.value, (self, other))


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return Tensor(a.value @ b.value, (a, b), saved=(a.value, b.value))


def tanh(a: Tensor) -> Tensor:
    out = np.tanh(a.value)
    return Tensor(out, (a,), saved=(out,))


def mse(pred: Tensor, target: np.ndarray) -> Tensor:
    diff = pred.value - target
    return Tensor(np.mean(diff**2), (pred,), saved=(diff,))


def graph_size(root: Tensor | float) -> tuple[int, int]:
    """Nodes reachable from ``root`` and the bytes of the arrays they saved for backward."""
    if not isinstance(root, Tensor):
        return 0, 0
    seen: dict[int, Tensor] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(node.parents)
    return len(seen), sum(a.nbytes for node in seen.values() for a in node.saved)


def train(log_tensor: bool) -> tuple[Tensor | float, weakref.ref, int]:
    """A loop that logs the running loss; returns the total, a weak reference to the first
    iteration's loss node, and the saved bytes of one iteration's graph."""
    r = rng(25)
    w1 = Tensor(r.normal(size=(8, 16)) / 3.0)
    w2 = Tensor(r.normal(size=(16, 1)) / 4.0)
    total: Tensor | float = Tensor(np.array(0.0)) if log_tensor else 0.0
    first: weakref.ref | None = None
    per_iteration = 0
    for _ in range(ITERATIONS):
        x = Tensor(r.normal(size=(32, 8)))
        y = r.normal(size=(32, 1))
        loss = mse(matmul(tanh(matmul(x, w1)), w2), y)
        if first is None:
            first = weakref.ref(loss)
            per_iteration = graph_size(loss)[1]
        # (the backward pass and the optimizer step would go here)
        total = total + loss if log_tensor else total + loss.item()
        del loss, x
    gc.collect()
    assert first is not None
    return total, first, per_iteration


def check() -> CheckResult:
    as_tensor, first_t, per_iteration = train(log_tensor=True)
    as_float, first_f, _ = train(log_tensor=False)
    nodes_t, bytes_t = graph_size(as_tensor)
    nodes_f, _ = graph_size(as_float)
    logged_t = as_tensor.item() if isinstance(as_tensor, Tensor) else as_tensor

    return CheckResult(
        claim=(
            "Logging with total_loss += loss keeps every iteration's graph, with the activations it "
            "saved, reachable from total_loss: memory grows linearly with the iterations. "
            "total_loss += loss.item() logs the same number and keeps nothing."
        ),
        measurements=[
            below("float total: graph nodes reachable after 100 iterations", nodes_f, 0.5),
            below(
                "float total: first iteration's graph still alive (1 = yes)",
                first_f() is not None,
                0.5,
            ),
            below(
                "float vs tensor total: rel. gap of the logged value",
                rel_err(np.array(logged_t), np.array(as_float)),
                1e-14,
            ),
            above("tensor total: graph nodes reachable after 100 iterations", nodes_t, ITERATIONS),
            above(
                "tensor total: first iteration's graph still alive (1 = yes)",
                first_t() is not None,
                0.5,
            ),
            above(
                "tensor total: saved activations kept, in iterations' worth",
                bytes_t / per_iteration,
                0.9 * ITERATIONS,
            ),
        ],
    )
