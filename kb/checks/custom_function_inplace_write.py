"""A custom autograd Function that writes in place into grad_output or a saved tensor: no error,
a wrong gradient elsewhere or a changed caller's tensor."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from kb.numerics import RIGHT, WRONG, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()  # import torch (if installed) now, not inside the timed check()


# --- the numpy model: arrays alias exactly as tensors do -----------------------------------------


def _expanded_ones(n: int) -> np.ndarray:
    """What ``y.sum().backward()`` hands a Function: one value seen n times (stride 0)."""
    return np.lib.stride_tricks.as_strided(np.ones(1), shape=(n,), strides=(0,), writeable=True)


def _relu_backward(x: np.ndarray, g: np.ndarray, copy: bool) -> np.ndarray:
    out = g.copy() if copy else g
    out[x < 0] = 0
    return out


def _numpy_run(x: np.ndarray, b: np.ndarray, u: np.ndarray, copy: bool) -> dict[str, float]:
    true_relu = (x > 0).astype(float)
    # 1. loss = relu(x).sum(): the upstream gradient is an expanded scalar
    g_sum = _relu_backward(x, _expanded_ones(x.size), copy)
    # 2. z = relu(a) + 3 b, loss = sum(u * z): the sum hands one gradient to both branches;
    #    the branch made later (relu) runs first
    shared = u.copy()
    _relu_backward(x, shared, copy)
    grad_b = 3.0 * shared
    # 2b. loss = sum(u * relu(x)): the upstream gradient is a fresh tensor
    weighted = _relu_backward(x, u.copy(), copy)
    # 3. backward zeroes the saved input's negatives in place (a "clamp" of the saved x)
    caller = x.copy()
    saved = caller if not copy else caller.copy()
    saved[saved < 0] = 0
    # 4. forward halves its input in place after saving it; backward reads the saved tensor
    inp = x.copy()
    if copy:
        grad_f = 0.5 * np.exp(0.5 * x)
    else:
        inp *= 0.5  # the saved tensor is this same array
        grad_f = 0.5 * np.exp(0.5 * inp)
    return {
        "sum": rel_err(g_sum, true_relu),
        "branch": rel_err(grad_b, 3.0 * u),
        "weighted": rel_err(weighted, u * true_relu),
        "caller_changed": float(np.mean(caller != x)),
        "forward": rel_err(grad_f, 0.5 * np.exp(0.5 * x)),
        "forward_caller_changed": float(np.mean(inp != x)),
        "errors": 0.0,
    }


# --- the same four computations with torch.autograd.Function -------------------------------------


def _torch_run(torch: Any, x: np.ndarray, b: np.ndarray, u: np.ndarray, copy: bool) -> dict:
    class Relu(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):  # type: ignore[override]
            ctx.save_for_backward(t)
            return t.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):  # type: ignore[override]
            (t,) = ctx.saved_tensors
            grad = grad_output.clone() if copy else grad_output
            grad[t < 0] = 0
            return grad

    class ClampSaved(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):  # type: ignore[override]
            ctx.save_for_backward(t)
            return t.clamp(min=0) * t

        @staticmethod
        def backward(ctx, grad_output):  # type: ignore[override]
            (t,) = ctx.saved_tensors
            if copy:
                t = t.clone()
            t[t < 0] = 0
            return 2 * grad_output * t

    class HalfExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):  # type: ignore[override]
            ctx.save_for_backward(t)
            if copy:
                return (0.5 * t).exp()
            t.mul_(0.5)
            return t.exp()

        @staticmethod
        def backward(ctx, grad_output):  # type: ignore[override]
            (t,) = ctx.saved_tensors
            return grad_output * 0.5 * (0.5 * t).exp()

    true_relu = (x > 0).astype(float)

    def on_sum() -> dict[str, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "index_put_ on expanded tensors is deprecated"
            t = tensor(torch, x, requires_grad=True)
            Relu.apply(t).sum().backward()
        return {"sum": rel_err(numpy(t.grad), true_relu)}

    def on_branch() -> dict[str, float]:
        a = tensor(torch, x, requires_grad=True)
        bb = tensor(torch, b, requires_grad=True)
        s = bb * 3.0  # made first, so its backward runs after Relu's
        z = Relu.apply(a * 1.0) + s
        (z * tensor(torch, u)).sum().backward()
        return {"branch": rel_err(numpy(bb.grad), 3.0 * u)}

    def on_weighted() -> dict[str, float]:
        t = tensor(torch, x, requires_grad=True)
        (Relu.apply(t) * tensor(torch, u)).sum().backward()
        return {"weighted": rel_err(numpy(t.grad), u * true_relu)}

    def on_saved() -> dict[str, float]:
        c = tensor(torch, x, requires_grad=True)
        ClampSaved.apply(c).sum().backward()
        return {"caller_changed": float(np.mean(numpy(c.detach()) != x))}

    def on_forward() -> dict[str, float]:
        leaf = tensor(torch, x, requires_grad=True)
        inp = leaf * 1.0
        HalfExp.apply(inp).sum().backward()
        return {
            "forward": rel_err(numpy(leaf.grad), 0.5 * np.exp(0.5 * x)),
            "forward_caller_changed": float(np.mean(numpy(inp.detach()) != x)),
        }

    out: dict[str, float] = {"errors": 0.0}
    for part, keys in (
        (on_sum, ("sum",)),
        (on_branch, ("branch",)),
        (on_weighted, ("weighted",)),
        (on_saved, ("caller_changed",)),
        (on_forward, ("forward", "forward_caller_changed")),
    ):
        try:
            out.update(part())
        except RuntimeError:
            out["errors"] += 1
            out.update(dict.fromkeys(keys, float("nan")))
    return out


def check() -> CheckResult:
    r = rng(47)
    x = r.normal(size=12)
    x[0], x[1] = -abs(x[0]) - 0.1, abs(x[1]) + 0.1  # both signs present
    b = r.normal(size=12)
    u = r.normal(size=12)
    torch = get_torch()
    run = _numpy_run if torch is None else lambda *a: _torch_run(torch, *a)
    wrong = run(x, b, u, False)
    right = run(x, b, u, True)
    return CheckResult(
        claim=says_which(
            "Writing in place into grad_output or a saved tensor inside a custom autograd "
            "Function raises no error. A masked write into grad_output after y.sum().backward() "
            "zeroes the whole gradient (it is one expanded value); when a sum hands the same "
            "gradient to two branches, the other branch receives the masked one; a write into "
            "a saved input changes the caller's tensor; and forward changing its input after "
            "save_for_backward makes backward read the changed values. Cloning first gives "
            "the exact gradient and leaves the caller's tensors alone.",
            torch,
        ),
        measurements=[
            below("RuntimeErrors raised by the five in-place computations", wrong["errors"], 0.5),
            above(
                "ReLU masking grad_output in place, loss = y.sum(): rel. error of dx",
                wrong["sum"],
                WRONG,
            ),
            below("the same on grad_output.clone(): rel. error of dx", right["sum"], RIGHT),
            above(
                "z = relu(a) + 3b, grad_output masked in place: rel. error of db (the other "
                "branch)",
                wrong["branch"],
                WRONG,
            ),
            below("the same with a clone: rel. error of db", right["branch"], RIGHT),
            below(
                "grad_output masked in place, loss = sum(u * y) (a fresh upstream tensor): "
                "rel. error of dx (the test that misses it)",
                wrong["weighted"],
                RIGHT,
            ),
            above(
                "backward zeroes negatives of the saved input in place: fraction of the "
                "caller's entries changed",
                wrong["caller_changed"],
                0.05,
            ),
            below(
                "the same on a clone: fraction of the caller's entries changed",
                right["caller_changed"],
                1e-12,
            ),
            above(
                "forward halves its input in place after save_for_backward, y = exp(x): rel. "
                "error of dx",
                wrong["forward"],
                WRONG,
            ),
            above(
                "the same: fraction of the caller's input entries changed",
                wrong["forward_caller_changed"],
                0.05,
            ),
            below("computed out of place: rel. error of dx", right["forward"], RIGHT),
        ],
    )
