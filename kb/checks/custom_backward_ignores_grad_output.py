"""A custom backward must return grad_output times the local derivative (a vector-Jacobian
product); returning the local derivative alone is right only when grad_output is all ones.

What gradcheck says about the wrong backward is measured with torch.autograd.gradcheck when
PyTorch is installed, otherwise with a numpy model of its two tests (the Jacobian, one
grad_output row at a time, and a zero grad_output that must give a zero gradient).
"""

from __future__ import annotations

import functools

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import backend, get_torch, preload, says_which

preload()  # import torch (if installed) now, not inside the timed check()

GRAD_OUTPUT_MESSAGE = "backward not multiplied by grad_output"


class Cube:
    """A hand-written autograd Function for y = x**3."""

    @staticmethod
    def forward(x: np.ndarray) -> np.ndarray:
        return x**3

    @staticmethod
    def backward_right(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * 3.0 * x**2

    @staticmethod
    def backward_wrong(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return 3.0 * x**2  # the derivative of the function, grad_output ignored


def _gradcheck_module():  # torch.autograd.gradcheck is both a function and its module's name
    import sys

    return sys.modules["torch.autograd.gradcheck"]


def _torch_gradcheck(torch, x: np.ndarray, *, right: bool, summed: bool) -> str:
    """Run torch.autograd.gradcheck on the Function; '' if it passes, else its message."""
    cube = _torch_cubes(torch)[right]

    def fn(t):
        return cube.apply(t).sum() if summed else cube.apply(t)

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    try:
        torch.autograd.gradcheck(fn, (xt,))
    except _gradcheck_module().GradcheckError as exc:
        return str(exc)
    return ""


@functools.cache  # one pair of Function classes per process
def _torch_cubes(torch) -> dict[bool, type]:
    """y = x**3 as torch Functions: backward right (True) or ignoring grad_output (False)."""

    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):  # type: ignore[override]
            ctx.save_for_backward(t)
            return t**3

        @staticmethod
        def backward(ctx, grad_output):  # type: ignore[override]
            (t,) = ctx.saved_tensors
            return grad_output * 3 * t**2

    class TorchCubeIgnoringGradOutput(TorchCube):
        @staticmethod
        def backward(ctx, grad_output):  # type: ignore[override]
            (t,) = ctx.saved_tensors
            return 3 * t**2  # the misconception: the local derivative alone

    return {True: TorchCube, False: TorchCubeIgnoringGradOutput}


if get_torch() is not None:
    # The first gradcheck in a process initialises more of torch (up to a second under load):
    # pay it here, at import, where it is not the check's run time.
    _torch_gradcheck(get_torch(), np.ones((1, 2)), right=True, summed=False)


def _numpy_gradcheck(torch, x: np.ndarray, *, right: bool, summed: bool) -> str:
    """gradcheck's two tests, modelled: every Jacobian row against finite differences, then a
    zero grad_output, which a vector-Jacobian product must turn into a zero gradient."""
    backward = Cube.backward_right if right else Cube.backward_wrong
    n_out = 1 if summed else x.size
    for i in range(n_out):  # grad_output = one-hot row i of the output (all ones when summed)
        g = np.ones_like(x) if summed else np.eye(x.size)[i].reshape(x.shape)
        numeric = numerical_grad(lambda g=g: float(np.sum(g * Cube.forward(x))), x)
        if not np.allclose(backward(x, g), numeric, rtol=1e-3, atol=1e-5):
            return f"Jacobian mismatch for output {i}"
    if np.any(backward(x, np.zeros_like(x)) != 0):
        return GRAD_OUTPUT_MESSAGE
    return ""


def check() -> CheckResult:
    r = rng(30)
    x = r.normal(size=(4, 6))
    c = r.normal(size=(4, 6))  # random upstream weights
    w = r.normal(size=(3, 4))  # a layer after the custom op

    def summed() -> float:  # C = sum(y): grad_output is all ones
        return float(np.sum(Cube.forward(x)))

    def weighted() -> float:  # C = sum(c * y)
        return float(np.sum(c * Cube.forward(x)))

    def chained() -> float:  # C = sum(W y): grad_output = W^T 1
        return float(np.sum(w @ Cube.forward(x)))

    ones = np.ones_like(x)
    num_sum = numerical_grad(summed, x)
    num_weighted = numerical_grad(weighted, x)
    num_chain = numerical_grad(chained, x)
    chain_upstream = w.T @ np.ones((3, 6))

    torch = get_torch()
    gradcheck = _torch_gradcheck if torch is not None else _numpy_gradcheck
    engine = backend(torch)
    small = x[:2, :3]  # gradcheck's dense Jacobian: keep it small
    wrong_vector = gradcheck(torch, small, right=False, summed=False)
    wrong_summed = gradcheck(torch, small, right=False, summed=True)
    right_failures = sum(
        bool(gradcheck(torch, small, right=True, summed=summed)) for summed in (False, True)
    )

    return CheckResult(
        claim=says_which(
            "backward(grad_output) must return grad_output * f'(x). Returning f'(x) alone passes a "
            "test whose loss is y.sum() (grad_output all ones) and fails as soon as the upstream "
            "gradient is anything else: a weighted loss or a layer after the op. gradcheck "
            "catches it on the vector output (a Jacobian mismatch) and also on a summed output, "
            f"where it reports '{GRAD_OUTPUT_MESSAGE}'.",
            torch,
        ),
        measurements=[
            below(
                "grad_output * 3x^2, random upstream: rel. error",
                rel_err(Cube.backward_right(x, c), num_weighted),
                RIGHT,
            ),
            below(
                "grad_output * 3x^2, layer after the op: rel. error",
                rel_err(Cube.backward_right(x, chain_upstream), num_chain),
                RIGHT,
            ),
            below(
                "3x^2 alone, loss = y.sum() (upstream all ones): rel. error",
                rel_err(Cube.backward_wrong(x, ones), num_sum),
                RIGHT,
            ),
            above(
                "3x^2 alone, random upstream: rel. error",
                rel_err(Cube.backward_wrong(x, c), num_weighted),
                WRONG,
            ),
            above(
                "3x^2 alone, layer after the op: rel. error",
                rel_err(Cube.backward_wrong(x, chain_upstream), num_chain),
                WRONG,
            ),
            below(
                "gradcheck, right backward, vector and summed output: failures",
                right_failures,
                0.5,
                engine,
            ),
            above(
                "gradcheck, 3x^2 alone, vector output: fails with a Jacobian mismatch (1 = yes)",
                "Jacobian mismatch" in wrong_vector,
                0.5,
                engine,
            ),
            above(
                f"gradcheck, 3x^2 alone, summed output: fails with '{GRAD_OUTPUT_MESSAGE}' "
                "(1 = yes)",
                GRAD_OUTPUT_MESSAGE in wrong_summed,
                0.5,
                engine,
            ),
        ],
    )
