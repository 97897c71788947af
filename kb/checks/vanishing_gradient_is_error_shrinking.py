"""Vanishing gradients are real and exact: forward passes alone measure the same tiny sensitivity
of the cost to early layers that backprop reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, ColumnNet, rel_err, rng
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEPTH, WIDTH = 8, 30
STEP = 1e-4  # along a unit-norm direction in one layer's weight space


def deep_sigmoid_net() -> ColumnNet:
    """8 sigmoid layers of width 30, weights N(0, 1/n_in) (a common default init), batch 4."""
    r = rng(32)
    weights = [r.normal(size=(WIDTH, WIDTH)) / np.sqrt(WIDTH) for _ in range(DEPTH)]
    biases = [0.1 * r.normal(size=(WIDTH, 1)) for _ in range(DEPTH)]
    x = r.normal(size=(WIDTH, 4))
    y = r.uniform(0.05, 0.95, size=(WIDTH, 4))
    upstream = r.uniform(0.5, 1.5, size=(WIDTH, 4))
    return ColumnNet(weights, biases, x, y, upstream)


def layer_sensitivities(net: ColumnNet) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: ||dC/dW_l|| from backprop, and the same slope measured with forward passes only
    (a centred difference of C along the unit vector dC/dW_l / ||dC/dW_l||)."""
    grads, _ = net.backward()
    norms = np.array([np.linalg.norm(g) for g in grads])
    measured = np.zeros(DEPTH)
    for layer, (w, g) in enumerate(zip(net.weights, grads, strict=True)):
        direction = g / norms[layer]
        w += STEP * direction
        c_plus = net.cost()
        w -= 2 * STEP * direction
        c_minus = net.cost()
        w += STEP * direction
        measured[layer] = (c_plus - c_minus) / (2 * STEP)
    return norms, measured


def float16_round_trip_errors(net: ColumnNet, scale: float = 2.0**8) -> tuple[float, float]:
    """Rel. error of dW1 stored in float16 (IEEE half, as in fp16 training), without and with
    loss scaling: tiny gradients fall below float16's normal range (6.1e-5) and lose digits or
    flush to 0; multiplying the loss by ``scale`` first (and dividing after) keeps them."""
    grads, _ = net.backward()
    g = grads[0]
    plain = g.astype(np.float16).astype(np.float64)
    scaled = (g * scale).astype(np.float16).astype(np.float64) / scale
    return rel_err(plain, g), rel_err(scaled, g)


def check() -> CheckResult:
    net = deep_sigmoid_net()
    norms, measured = layer_sensitivities(net)
    fp16_plain, fp16_scaled = float16_round_trip_errors(net)
    worst = max(abs(m - n) / (abs(m) + n) for m, n in zip(measured, norms, strict=True))

    return CheckResult(
        claim=(
            "In an 8-layer sigmoid net the gradient of the first layer is orders of magnitude "
            "smaller than that of the last, and finite differences, which never propagate anything "
            "backwards, measure the same small slopes: the cost really is that insensitive to the "
            "early weights, and backprop reports it exactly. Storage is another matter: in "
            "float16 such small gradients lose digits, which loss scaling recovers."
        ),
        measurements=[
            below("every layer: rel. gap, backprop ||dC/dW|| vs forward-pass slope", worst, RIGHT),
            above(
                "forward-pass slopes only: last layer / first layer",
                measured[-1] / measured[0],
                100.0,
            ),
            above("backprop: ||dC/dW_8|| / ||dC/dW_1||", norms[-1] / norms[0], 100.0),
            above("dW1 stored in float16, no loss scaling: rel. error", fp16_plain, 5e-4),
            below("dW1 stored in float16, loss scaled by 2^8: rel. error", fp16_scaled, 3e-4),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Bars: the norm of the gradient of the cost for each of 8 sigmoid layers, on a log scale, "
    "growing by orders of magnitude from the layer next to the input (layer 1) to the output "
    "layer (layer 8). Dots: the slope of the cost along the same direction measured with "
    "forward passes only, on top of every bar."
)
FIGURE_CAPTION = (
    "Small gradients near the input are the cost's true sensitivity: forward-only measurements "
    "(dots) match backprop (bars) in every layer."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    norms, measured = layer_sensitivities(deep_sigmoid_net())
    layers = np.arange(1, DEPTH + 1)
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    ax.bar(layers, norms, color="C0", alpha=0.6, label="backprop: ||dC/dW_l||")
    ax.plot(layers, measured, "o", color="C3", label="forward passes only: slope along dC/dW_l")
    ax.set_yscale("log")
    ax.set_xlabel("layer l (1 = closest to the input)")
    ax.set_ylabel("sensitivity of the cost")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
