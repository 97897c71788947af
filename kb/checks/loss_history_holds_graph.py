"""What a tensor-valued running loss keeps alive: graph nodes always; saved activations only in a
loop that never calls backward (validation without no_grad).

Measured with PyTorch when it is installed (autograd's own saved-tensor hooks count what each
graph keeps), otherwise with a numpy model of autograd that frees saved arrays in backward the way
PyTorch does. The check says which one ran.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kb.schema import CheckResult, above, below
from kb.torch_support import backend, get_torch, preload, says_which

preload()  # import torch (if installed) now, not inside the timed check()

ITERATIONS = 20
BATCH, N_IN, N_HIDDEN = 32, 8, 16


def _data(i: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic inputs: what is measured here are counts of kept objects, not values."""
    k = np.arange(BATCH * N_IN, dtype=float).reshape(BATCH, N_IN)
    return np.sin(0.1 * k + i), np.cos(0.3 * np.arange(BATCH, dtype=float) + i).reshape(BATCH, 1)


@dataclass(frozen=True)
class Loop:
    """What one logging loop left behind (no cycles: reference counting frees the rest)."""

    nodes: int  # autograd nodes reachable from the running total
    saved_bytes: int  # bytes of tensors saved for backward that are still alive
    per_iteration_bytes: int  # bytes one iteration's graph saves while it is alive
    logged: float  # the logged total, as a number


# --- PyTorch ---------------------------------------------------------------------------------


def _torch_loop(torch, *, backward: bool, as_tensor: bool, no_grad: bool = False) -> Loop:
    w1 = torch.tensor(np.linspace(-1, 1, N_IN * N_HIDDEN).reshape(N_IN, N_HIDDEN) / 3.0)
    w2 = torch.tensor(np.linspace(1, -1, N_HIDDEN).reshape(N_HIDDEN, 1) / 4.0)
    w1.requires_grad_()
    w2.requires_grad_()
    boxes: list[weakref.ref] = []

    class Box:  # what autograd stores for one saved tensor; freed when autograd frees it
        def __init__(self, t) -> None:
            # detached (same storage, no grad_fn): a saved *output* held as itself would make a
            # cycle tensor -> grad_fn -> box -> tensor that no collector sees (PyTorch's hook docs)
            self.t = t.detach()

    def pack(t) -> Box:
        box = Box(t)
        boxes.append(weakref.ref(box))
        return box

    total = torch.zeros((), dtype=torch.float64) if as_tensor else 0.0
    per_iteration = 0
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda box: box.t):
        for i in range(ITERATIONS):
            x, y = (torch.tensor(a) for a in _data(i))
            ctx = torch.no_grad() if no_grad else torch.enable_grad()
            with ctx:
                loss = ((torch.tanh(x @ w1) @ w2 - y) ** 2).mean()
            if i == 0:
                per_iteration = _alive_bytes(boxes)
            if backward:
                loss.backward()
            total = total + loss if as_tensor else total + loss.item()
            del loss, x, y
    nodes = _torch_nodes(total.grad_fn) if isinstance(total, torch.Tensor) else 0
    logged = total.item() if isinstance(total, torch.Tensor) else total
    return Loop(nodes, _alive_bytes(boxes), per_iteration, logged)


def _alive_bytes(boxes: list[weakref.ref]) -> int:
    alive = [ref() for ref in boxes]
    return sum(b.t.numel() * b.t.element_size() for b in alive if b is not None)


def _torch_nodes(root: object) -> int:
    seen: set[object] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return len(seen)


# --- numpy model of the same bookkeeping -----------------------------------------------------


class Tensor:
    """A value plus what autograd keeps: its parents and the arrays saved for backward."""

    registry: list[weakref.ref] = []

    def __init__(self, value: np.ndarray, parents: tuple[Tensor, ...] = (), saved: tuple = ()):
        self.value = np.asarray(value, dtype=float)
        self.parents = parents
        self.saved = list(saved)

    def backward(self) -> None:
        """Free the saved arrays of the whole graph, as PyTorch does without retain_graph."""
        stack: list[Tensor] = [self]
        while stack:
            node = stack.pop()
            node.saved = []
            stack.extend(node.parents)

    def __add__(self, other: Tensor) -> Tensor:
        return Tensor(self.value + other.value, (self, other))


def _np_loop(torch, *, backward: bool, as_tensor: bool, no_grad: bool = False) -> Loop:
    w1 = np.linspace(-1, 1, N_IN * N_HIDDEN).reshape(N_IN, N_HIDDEN) / 3.0
    w2 = np.linspace(1, -1, N_HIDDEN).reshape(N_HIDDEN, 1) / 4.0
    total: Tensor | float = Tensor(np.array(0.0)) if as_tensor else 0.0
    nodes_made: list[weakref.ref] = []
    per_iteration = 0

    def node(value: np.ndarray, parents: tuple[Tensor, ...], saved: tuple) -> Tensor:
        t = Tensor(value, () if no_grad else parents, () if no_grad else saved)
        nodes_made.append(weakref.ref(t))
        return t

    for i in range(ITERATIONS):
        x, y = _data(i)
        h = node(np.tanh(x @ w1), (), (x, w1))
        h.saved.append(h.value)  # tanh saves its output
        out = node(h.value @ w2, (h,), (h.value, w2))
        loss = node(np.array(np.mean((out.value - y) ** 2)), (out,), (out.value - y,))
        if i == 0:
            per_iteration = _np_alive_bytes(nodes_made)
        if backward:
            loss.backward()
        total = total + loss if as_tensor else total + float(loss.value)
        del loss, out, h
    nodes = _np_nodes(total) if isinstance(total, Tensor) and not no_grad else 0
    logged = float(total.value) if isinstance(total, Tensor) else total
    return Loop(nodes, _np_alive_bytes(nodes_made), per_iteration, logged)


def _np_alive_bytes(nodes: list[weakref.ref]) -> int:
    alive = [ref() for ref in nodes]
    return sum(a.nbytes for t in alive if t is not None for a in t.saved)


def _np_nodes(root: Tensor) -> int:
    seen: dict[int, Tensor] = {}
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen[id(t)] = t
            stack.extend(t.parents)
    return len(seen) - 1  # the constant start of the total is not an autograd node


def check() -> CheckResult:
    torch = get_torch()
    loop: Callable[..., Loop] = _torch_loop if torch is not None else _np_loop
    engine = backend(torch)
    train_tensor = loop(torch, backward=True, as_tensor=True)
    eval_tensor = loop(torch, backward=False, as_tensor=True)
    eval_item = loop(torch, backward=False, as_tensor=False)
    eval_no_grad = loop(torch, backward=False, as_tensor=True, no_grad=True)
    one = eval_tensor.per_iteration_bytes

    return CheckResult(
        claim=says_which(
            f"{ITERATIONS} iterations: total += loss keeps a chain of "
            "graph nodes either way, but in a loop that calls backward() every iteration the "
            "saved activations are freed, so little memory is held. The large leak is a loop "
            "without backward (validation outside no_grad): every iteration's saved activations "
            "stay alive. loss.item() or torch.no_grad() keeps nothing.",
            torch,
        ),
        measurements=[
            above(
                "training loop (backward each step), total += loss: graph nodes kept",
                train_tensor.nodes,
                ITERATIONS,
                engine,
            ),
            below(
                "training loop, total += loss: saved activations alive, in iterations' worth",
                train_tensor.saved_bytes / one,
                0.5,
                engine,
            ),
            above(
                "validation loop without no_grad, total += loss: saved activations alive, "
                "in iterations' worth",
                eval_tensor.saved_bytes / one,
                0.9 * ITERATIONS,
                engine,
            ),
            below(
                "validation loop, total += loss.item(): saved activations alive (bytes)",
                eval_item.saved_bytes,
                0.5,
                engine,
            ),
            below(
                "validation loop under no_grad, total += loss: saved activations alive (bytes)",
                eval_no_grad.saved_bytes + eval_no_grad.nodes,
                0.5,
                engine,
            ),
            below(
                "tensor vs float total: rel. gap of the logged value",
                abs(eval_tensor.logged - eval_item.logged) / abs(eval_item.logged),
                1e-12,
                engine,
            ),
        ],
    )
