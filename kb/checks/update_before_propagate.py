"""All gradients come from the weights the forward pass used; updating W before W^T delta is wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, ColumnNet, column_net, max_rel_err, rel_err
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    import matplotlib.figure

_SEED = 181
_RATES = np.logspace(-5, 0, 11)


def _interleaved(net: ColumnNet, lr: float) -> list[np.ndarray]:
    """Backward pass that updates each layer's W before propagating delta through it."""
    net.forward()
    dws: list[np.ndarray] = [np.empty(0)] * len(net.weights)
    delta = net.output_grad() * net.act_prime(net.zs[-1])
    for l in range(len(net.weights) - 1, -1, -1):
        dws[l] = delta @ net.activations[l].T
        net.weights[l] = net.weights[l] - lr * dws[l]  # update first ...
        if l > 0:
            delta = (net.weights[l].T @ delta) * net.act_prime(net.zs[l - 1])  # ... then use it
    return dws


def _errors() -> tuple[list[np.ndarray], list[float]]:
    """Finite-difference dW at the original weights, and the interleaved dW1 error per rate."""
    numeric, _ = column_net(seed=_SEED).numerical()
    errors = [rel_err(_interleaved(column_net(seed=_SEED), lr)[0], numeric[0]) for lr in _RATES]
    return numeric, errors


def check() -> CheckResult:
    numeric, errors = _errors()
    right = _interleaved(column_net(seed=_SEED), 0.0)  # lr = 0: the ordinary backward pass
    moved = column_net(seed=_SEED)
    interleaved_half = _interleaved(moved, 0.5)
    at_half = rel_err(interleaved_half[0], numeric[0])
    # Nor is it the gradient at the updated point: the upper layers as the interleaved pass left
    # them (W1 as the forward pass used it), differentiated by finite differences.
    updated = column_net(seed=_SEED)
    updated.weights[1:] = [w.copy() for w in moved.weights[1:]]
    numeric_updated, _ = updated.numerical()
    at_updated = rel_err(interleaved_half[0], numeric_updated[0])
    small = _RATES < 1e-2
    lx, ly = np.log(_RATES[small]), np.log(np.asarray(errors)[small])
    slope = float(np.sum((lx - lx.mean()) * (ly - ly.mean())) / np.sum((lx - lx.mean()) ** 2))

    return CheckResult(
        claim=(
            "The chain rule needs every Jacobian at the point the forward pass used. Updating W "
            "before propagating delta through it gives a dW1 that is wrong by an amount "
            "proportional to the learning rate; it is not the gradient at the current point, nor "
            "at the updated one."
        ),
        measurements=[
            below(
                "propagate, then update: rel. error of all dW", max_rel_err(right, numeric), RIGHT
            ),
            above("update W, then propagate (lr = 0.5): rel. error of dW1", at_half, WRONG),
            above(
                "update W, then propagate (lr = 0.5): rel. error of dW1 vs the gradient at the "
                "updated weights",
                at_updated,
                WRONG,
            ),
            above(
                "update W, then propagate (lr = 1e-5): rel. error of dW1",
                errors[0],
                RIGHT,
            ),
            below(
                "slope of log error vs log lr, minus 1 (error is proportional to lr)",
                abs(slope - 1.0),
                0.05,
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Log-log plot of the relative error of dW1 against the learning rate when W2 is updated "
    "before the error is propagated through it: the error grows in proportion to the learning "
    "rate and stays above the 1e-7 bound for a right gradient at every rate tried, the smallest"
    " included."
)
FIGURE_CAPTION = (
    "Updating W2 before propagating through it gives a wrong dW1 at every learning rate; the "
    "error only shrinks in proportion to the rate."
)


def figure() -> matplotlib.figure.Figure:
    """Relative error of dW1 against the learning rate used by the interleaved update."""
    from matplotlib.figure import Figure

    _, errors = _errors()
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    ax.loglog(_RATES, errors, marker="o", label="update W, then propagate through it")
    ax.axhline(1e-7, color="0.5", linestyle="--", label="harness bound for a right gradient")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("relative error of dW1")
    ax.legend()
    fig.tight_layout()
    return fig
