"""A hand-written parameter update outside torch.no_grad(): in place it raises at the first step,
rebinding the leaf fails at the second, rebinding a loop variable changes nothing."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from kb.numerics import rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()  # import torch (if installed) now, not inside the timed check()

STEPS = 60
LR = 0.1

# --- a numpy model of the three PyTorch rules involved ---------------------------------------------
# (1) an in-place change of a leaf that requires grad raises while gradients are recorded;
# (2) arithmetic on it while recording gives a non-leaf whose .grad stays None;
# (3) under no_grad, arithmetic gives a tensor that does not require grad.


class _T:
    grad_mode = True

    def __init__(self, data: np.ndarray, requires_grad: bool = False, leaf: bool = True) -> None:
        self.data = np.asarray(data, dtype=float)
        self.requires_grad = requires_grad
        self.is_leaf = leaf
        self.grad: np.ndarray | None = None
        self.root: _T = self  # the leaf a backward reaches

    def __isub__(self, other: Any) -> _T:
        if self.is_leaf and self.requires_grad and _T.grad_mode:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place")
        self.data -= other
        return self

    def __sub__(self, other: Any) -> _T:
        tracked = self.requires_grad and _T.grad_mode
        out = _T(self.data - other, requires_grad=tracked, leaf=not tracked)
        out.root = self.root if tracked else out
        return out


class _NoGrad:
    def __enter__(self) -> None:
        _T.grad_mode = False

    def __exit__(self, *exc: object) -> None:
        _T.grad_mode = True


class _NumpyBackend:
    """backward() of the least-squares loss, written into the leaf that is reached."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def leaf(self, w: np.ndarray) -> _T:
        return _T(w.copy(), requires_grad=True)

    def no_grad(self) -> _NoGrad:
        return _NoGrad()

    def loss_backward(self, w: _T) -> float:
        r = self.x @ w.data - self.y
        if not w.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad")
        g = 2.0 * self.x.T @ r / len(r)
        leaf = w.root
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return float(np.mean(r**2))

    def zero(self, w: _T) -> None:
        if w.grad is None:
            raise AttributeError("'NoneType' object has no attribute 'zero_'")
        w.grad = np.zeros_like(w.grad)

    def value(self, w: _T) -> np.ndarray:
        return w.data.copy()


class _TorchBackend:
    def __init__(self, torch: Any, x: np.ndarray, y: np.ndarray) -> None:
        self.torch = torch
        self.x, self.y = tensor(torch, x), tensor(torch, y)

    def leaf(self, w: np.ndarray) -> Any:
        return tensor(self.torch, w, requires_grad=True)

    def no_grad(self) -> Any:
        return self.torch.no_grad()

    def loss_backward(self, w: Any) -> float:
        loss = ((self.x @ w - self.y) ** 2).mean()
        loss.backward()
        return float(loss.item())

    def zero(self, w: Any) -> None:
        w.grad.zero_()

    def value(self, w: Any) -> np.ndarray:
        return numpy(w.detach())


RAISED: dict[str, str] = {}  # which exception each update raised, by update name


def _train(be: Any, w0: np.ndarray, update: Callable[[Any, Any], Any]) -> tuple[int, float, Any]:
    """Run STEPS steps; (the step that raised, 0 if none; last loss / first loss; w)."""
    w = be.leaf(w0)
    first = last = None
    for step in range(1, STEPS + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ".grad of a non-leaf tensor is accessed"
                last = be.loss_backward(w)
                first = first if first is not None else last
                w = update(be, w)
        except (RuntimeError, TypeError, AttributeError) as e:
            RAISED[update.__name__] = type(e).__name__
            return step, float("nan"), w
    assert first is not None and last is not None
    return 0, last / first, w


def _in_place(be: Any, w: Any) -> Any:
    w -= LR * w.grad
    be.zero(w)
    return w


def _in_place_no_grad(be: Any, w: Any) -> Any:
    with be.no_grad():
        w -= LR * w.grad
    be.zero(w)
    return w


def _rebound(be: Any, w: Any) -> Any:
    w = w - LR * w.grad
    return w


def _rebound_no_grad(be: Any, w: Any) -> Any:
    with be.no_grad():
        w = w - LR * w.grad
    return w


def _loop_variable(be: Any, w: Any) -> Any:
    for p in [w]:
        with be.no_grad():
            p = p - LR * p.grad  # the bug: a new tensor bound to the loop variable
    be.zero(w)
    return w


def check() -> CheckResult:
    r = rng(53)
    x = r.normal(size=(32, 4))
    y = x @ r.normal(size=4)
    w0 = r.normal(size=4)
    torch = get_torch()
    be = _NumpyBackend(x, y) if torch is None else _TorchBackend(torch, x, y)
    raised_in_place, _, _ = _train(be, w0, _in_place)
    raised_ok, ratio_ok, _ = _train(be, w0, _in_place_no_grad)
    raised_rebound, _, _ = _train(be, w0, _rebound)
    raised_loop, ratio_loop, w_loop = _train(be, w0, _loop_variable)
    raised_no_grad, _, _ = _train(be, w0, _rebound_no_grad)
    moved = float(np.max(np.abs(be.value(w_loop) - w0)))
    runtime_error = float(RAISED.get("_in_place") == "RuntimeError")
    type_error = float(RAISED.get("_rebound") == "TypeError")
    no_grad_error = float(RAISED.get("_rebound_no_grad") == "RuntimeError")
    return CheckResult(
        claim=says_which(
            "A hand-written update while autograd records: `w -= lr * w.grad` on a leaf that "
            "requires grad raises a RuntimeError at the first step; `w = w - lr * w.grad` makes w "
            "a recorded non-leaf, so at the second step w.grad is None and the update raises a "
            "TypeError, and under torch.no_grad() w no longer requires grad, so the next backward "
            "raises a RuntimeError; "
            "`p = p - lr * p.grad` on the variable of a loop over parameters raises nothing and "
            "changes no parameter. The same in-place update under torch.no_grad() trains.",
            torch,
        ),
        measurements=[
            above("w -= lr * w.grad outside no_grad: step that raises", raised_in_place, 0.5),
            below(
                "w -= lr * w.grad outside no_grad: step that raises (first)", raised_in_place, 1.5
            ),
            above("the same: the exception is a RuntimeError (1 = yes)", runtime_error, 0.5),
            above("w = w - lr * w.grad outside no_grad: step that raises", raised_rebound, 1.5),
            below(
                "w = w - lr * w.grad outside no_grad: step that raises (second)",
                raised_rebound,
                2.5,
            ),
            above("the same: the exception is a TypeError (lr * None; 1 = yes)", type_error, 0.5),
            above("the same under no_grad: step that raises", raised_no_grad, 1.5),
            below("the same under no_grad: step that raises (second)", raised_no_grad, 2.5),
            above(
                "the same under no_grad: the exception is a RuntimeError (1 = yes)",
                no_grad_error,
                0.5,
            ),
            below(
                "p = p - lr * p.grad on a loop variable: exceptions raised over 60 steps",
                raised_loop,
                0.5,
            ),
            below("the same: largest change of any parameter", moved, 1e-12),
            above("the same: last loss / first loss", ratio_loop, 0.999),
            below("in place under no_grad: exceptions raised over 60 steps", raised_ok, 0.5),
            below("in place under no_grad: last loss / first loss", ratio_ok, 1e-3),
        ],
    )
