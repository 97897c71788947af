"""Convolution backward: the input gradient is a full convolution with the flipped kernel, the
kernel gradient correlates the input with the upstream gradient; flips and axes matter."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


def corr1d(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """What deep-learning 'conv' layers compute: valid cross-correlation, y[i] = sum_j x[i+j] k[j]."""
    return sliding_window_view(x, k.size) @ k


def corr2d(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid 2-D cross-correlation, y[i, j] = sum_{p, q} x[i+p, j+q] k[p, q]."""
    return np.einsum("ijpq,pq->ij", sliding_window_view(x, k.shape), k)


def pad_full(dy: np.ndarray, kernel_shape: tuple[int, ...]) -> np.ndarray:
    return np.pad(dy, [(s - 1, s - 1) for s in kernel_shape])


def grads_1d(
    x: np.ndarray, k: np.ndarray, dy: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(dx, dk) for y = corr1d(x, k), right and as commonly mistaken."""
    right_dx = corr1d(pad_full(dy, k.shape), k[::-1])  # = np.convolve(dy, k, "full")
    right_dk = corr1d(x, dy)
    return {
        "right": (right_dx, right_dk),
        "dx without the flip": (corr1d(pad_full(dy, k.shape), k), right_dk),
        "dk as a convolution": (right_dx, np.convolve(x, dy, "valid")),
    }


def check() -> CheckResult:
    r = rng(42)
    # 1-D: signal of 9, kernel of 3 (not symmetric), output of 7.
    x, k = r.normal(size=9), np.array([0.5, -1.0, 2.0])
    u = r.normal(size=7)
    nx = numerical_grad(lambda: float(u @ corr1d(x, k)), x)
    nk = numerical_grad(lambda: float(u @ corr1d(x, k)), k)
    g1 = grads_1d(x, k, u)

    def err1(name: str) -> float:
        dx, dk = g1[name]
        return max(rel_err(dx, nx), rel_err(dk, nk))

    # 2-D: 6x6 map, 3x3 kernel with no symmetry, 4x4 output.
    x2, k2 = r.normal(size=(6, 6)), r.normal(size=(3, 3))
    u2 = r.normal(size=(4, 4))
    nx2 = numerical_grad(lambda: float(np.sum(u2 * corr2d(x2, k2))), x2)
    nk2 = numerical_grad(lambda: float(np.sum(u2 * corr2d(x2, k2))), k2)
    padded = pad_full(u2, k2.shape)
    right2 = max(rel_err(corr2d(padded, k2[::-1, ::-1]), nx2), rel_err(corr2d(x2, u2), nk2))
    one_axis = rel_err(corr2d(padded, k2[::-1, :]), nx2)
    transposed = rel_err(corr2d(padded, k2.T[::-1, ::-1]), nx2)

    # A symmetric kernel (like most blur/test kernels) hides the missing flip entirely.
    ks = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    nxs = numerical_grad(lambda: float(np.sum(u2 * corr2d(x2, ks))), x2)
    hidden = rel_err(corr2d(padded, ks), nxs)

    return CheckResult(
        claim=(
            "For a cross-correlation layer y = x * k, dx is the full convolution of dy with k "
            "(k flipped along every spatial axis) and dk is the valid correlation of x with dy. "
            "Dropping the flip, flipping one axis only, transposing the kernel or convolving "
            "instead of correlating for dk gives wrong gradients; a symmetric kernel hides the flip."
        ),
        measurements=[
            below(
                "1-D: dx = full conv(dy, k), dk = corr(x, dy): worst rel. error",
                err1("right"),
                RIGHT,
            ),
            above("1-D: dx with k not flipped: rel. error", err1("dx without the flip"), WRONG),
            above("1-D: dk = convolve(x, dy): rel. error", err1("dk as a convolution"), WRONG),
            below("2-D: dx, dk with both axes flipped: worst rel. error", right2, RIGHT),
            above(
                "2-D: dx with the kernel flipped along one axis only: rel. error", one_axis, WRONG
            ),
            above("2-D: dx with the kernel transposed: rel. error", transposed, WRONG),
            below(
                "2-D, symmetric kernel: dx with no flip, rel. error (the bug passes)", hidden, RIGHT
            ),
        ],
    )
