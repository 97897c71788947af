"""A value passed through numpy/.item()/.detach() becomes a constant: gradients along that path vanish."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below


def setup() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = rng(39)
    w = r.normal(size=(5, 5)) / 2.0  # square: used twice
    v = r.normal(size=(5, 7))
    c = r.normal(size=(5, 7))
    return w, v, c


def cost(w: np.ndarray, v: np.ndarray, c: np.ndarray) -> float:
    """C = sum(c * h * (W h)) with h = tanh(W v): W and h are each used twice."""
    h = np.tanh(w @ v)
    return float(np.sum(c * h * (w @ h)))


def grad_w(w: np.ndarray, v: np.ndarray, c: np.ndarray, cut_second_h: bool) -> np.ndarray:
    """dC/dW summed over every path; with ``cut_second_h`` the h inside W h is a constant."""
    h = np.tanh(w @ v)
    u = w @ h
    du = c * h  # dC/du
    dh = c * u  # dC/dh through the first factor
    if not cut_second_h:
        dh = dh + w.T @ du  # dC/dh through u = W h
    return du @ h.T + (dh * (1.0 - h**2)) @ v.T


def two_layer_grads(cut: bool) -> tuple[np.ndarray, np.ndarray]:
    """y = W2 g(W1 x); with ``cut`` g runs on a numpy copy, so W1 receives no gradient."""
    r = rng(40)
    w1, w2 = r.normal(size=(5, 4)), r.normal(size=(3, 5))
    x, u = r.normal(size=(4, 7)), r.normal(size=(3, 7))
    h = np.tanh(w1 @ x)
    dw1 = np.zeros_like(w1) if cut else ((w2.T @ u) * (1.0 - h**2)) @ x.T
    probe = w1.copy()
    numeric = numerical_grad(lambda: float(np.sum(u * (w2 @ np.tanh(probe @ x)))), probe)
    return dw1, numeric


def check() -> CheckResult:
    w, v, c = setup()
    probe = w.copy()
    numeric = numerical_grad(lambda: cost(probe, v, c), probe)

    return CheckResult(
        claim=(
            "The gradient sums over every path from a parameter to the loss. Cutting one path "
            "(a detach or a numpy round-trip in the forward pass) drops its term, and a parameter "
            "behind a cut gets no gradient at all, while finite differences show it matters."
        ),
        measurements=[
            below(
                "all paths kept: rel. error of dW", rel_err(grad_w(w, v, c, False), numeric), RIGHT
            ),
            above(
                "second use of h detached: rel. error of dW",
                rel_err(grad_w(w, v, c, True), numeric),
                WRONG,
            ),
            below(
                "two-layer net, no cut: rel. error of dW1", rel_err(*two_layer_grads(False)), RIGHT
            ),
            above(
                "two-layer net, hidden layer via numpy: rel. error of dW1 (it gets none)",
                rel_err(*two_layer_grads(True)),
                WRONG,
            ),
        ],
    )
