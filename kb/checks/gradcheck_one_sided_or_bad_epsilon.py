"""A gradient check needs centred differences, a moderate step and float64 to judge a gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, ColumnNet, column_net, numerical_grad, one_sided_grad, rel_err
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STEPS = np.logspace(-1, -10, 10)


def _net_and_exact(dtype: type[np.floating] = np.float64) -> tuple[ColumnNet, np.ndarray]:
    """The 4-5-5-3 reference net (optionally cast) and its exact float64 gradient for W1."""
    net = column_net(seed=5)
    exact = net.backward()[0][0]
    if dtype is not np.float64:
        net = ColumnNet(
            [w.astype(dtype) for w in net.weights],
            [b.astype(dtype) for b in net.biases],
            net.x.astype(dtype),
            net.y.astype(dtype),
            net.upstream.astype(dtype),
        )
    return net, exact


def _difference(
    f: Callable[[], float], x: np.ndarray, h: float, centred: bool = True
) -> np.ndarray:
    """Finite differences in the dtype of ``x`` (the step is rounded to that dtype, as in practice)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    step = x.dtype.type(h)
    f0 = f()
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + step
        f_plus = f()
        if centred:
            x[i] = old - step
            grad[i] = (f_plus - f()) / (2 * h)
        else:
            grad[i] = (f_plus - f0) / h
        x[i] = old
    return grad


def error_curves() -> dict[str, np.ndarray]:
    """Relative error of a correct gradient against each finite-difference recipe, per step."""
    net64, exact = _net_and_exact()
    net32, _ = _net_and_exact(np.float32)
    curves: dict[str, list[float]] = {
        "centred, float64": [],
        "one-sided, float64": [],
        "centred, float32": [],
    }
    for h in STEPS:
        curves["centred, float64"].append(
            rel_err(exact, _difference(net64.cost, net64.weights[0], h))
        )
        curves["one-sided, float64"].append(
            rel_err(exact, _difference(net64.cost, net64.weights[0], h, centred=False))
        )
        curves["centred, float32"].append(
            rel_err(exact, _difference(net32.cost, net32.weights[0], h))
        )
    return {name: np.array(values) for name, values in curves.items()}


def check() -> CheckResult:
    net, exact = _net_and_exact()
    w1 = net.weights[0]
    centred = rel_err(exact, numerical_grad(net.cost, w1, h=1e-5))
    one_sided = rel_err(exact, one_sided_grad(net.cost, w1, h=1e-5))
    tiny_step = rel_err(exact, numerical_grad(net.cost, w1, h=1e-10))
    # Truncation error: centred shrinks like h^2, one-sided like h (compare h=1e-2 and h=1e-3).
    centred_order = rel_err(exact, numerical_grad(net.cost, w1, h=1e-2)) / rel_err(
        exact, numerical_grad(net.cost, w1, h=1e-3)
    )
    net32, _ = _net_and_exact(np.float32)
    float32 = rel_err(exact, _difference(net32.cost, net32.weights[0], 1e-5))

    return CheckResult(
        claim=(
            "For a correct gradient, centred differences with h=1e-5 in float64 agree to far below "
            "1e-7; a one-sided difference, a tiny step or float32 make the same correct gradient "
            "fail the check."
        ),
        measurements=[
            below("centred, h = 1e-5, float64: rel. error of a correct dW1", centred, RIGHT),
            above("one-sided, h = 1e-5, float64: rel. error of the same dW1", one_sided, RIGHT),
            above("centred, h = 1e-10, float64 (round-off): rel. error", tiny_step, RIGHT),
            above("centred, h = 1e-5, float32: rel. error", float32, WRONG),
            above("centred error ratio, h = 1e-2 vs 1e-3 (100 means O(h^2))", centred_order, 50),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Log-log plot of the relative error of a correct gradient against the finite-difference "
    "step h, for centred differences in float64, one-sided differences in float64 and centred "
    "differences in float32, with the pass line at 1e-7 and the fail line at 1e-3. Centred "
    "float64 dips far below the pass line at moderate h; one-sided only touches it; float32 "
    "stays above the fail line for small h."
)
FIGURE_CAPTION = (
    "Relative error of a correct gradient against the step h: only centred differences in "
    "float64 at a moderate step pass clearly; too small a step or float32 fails a correct "
    "gradient."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    curves = error_curves()
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    styles = {
        "centred, float64": "o-",
        "one-sided, float64": "s--",
        "centred, float32": "^:",
    }
    for name, values in curves.items():
        ax.loglog(STEPS, values, styles[name], label=name)
    ax.axhline(RIGHT, color="green", lw=0.8)
    ax.axhline(WRONG, color="red", lw=0.8)
    ax.text(1e-8, RIGHT * 0.2, "pass below 1e-7", color="green", fontsize=8, ha="center")
    ax.text(1e-8, WRONG * 1.6, "fail above 1e-3", color="red", fontsize=8, ha="center")
    ax.invert_xaxis()
    ax.set_xlabel("finite-difference step h")
    ax.set_ylabel("relative error of a correct gradient")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
