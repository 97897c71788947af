"""BCEWithLogitsLoss on sigmoid outputs squashes twice: losses stay above ln 2 (y=0), gradients shrink."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GRID = np.linspace(-60.0, 60.0, 2401)


def bce_with_logits(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What nn.BCEWithLogitsLoss(reduction='none') computes, in its stable log-sum-exp form."""
    return np.maximum(x, 0.0) - x * y + np.log1p(np.exp(-np.abs(x)))


def check() -> CheckResult:
    zeros, ones = np.zeros_like(GRID), np.ones_like(GRID)
    right_min_neg = bce_with_logits(GRID, zeros).min()
    double_min_neg = bce_with_logits(sigmoid(GRID), zeros).min()
    double_min_pos = bce_with_logits(sigmoid(GRID), ones).min()

    r = rng(14)
    z = r.normal(scale=2.0, size=(7, 3))
    y = (r.random((7, 3)) < 0.5).astype(float)

    def loss() -> float:
        return float(bce_with_logits(z, y).mean())

    right = (sigmoid(z) - y) / z.size
    right_err = rel_err(right, numerical_grad(loss, z))

    # The gradient the double-sigmoid model actually receives, by the chain rule.
    s = sigmoid(z)
    double = (sigmoid(s) - y) * s * (1.0 - s) / z.size

    return CheckResult(
        claim=(
            "BCEWithLogitsLoss expects logits: fed logits, its loss goes to 0 and its gradient is "
            "(sigmoid(z) - y)/m; fed sigmoid outputs in (0, 1), the loss of a negative never drops "
            "below ln 2, that of a positive never below -ln sigmoid(1), and the gradient is different."
        ),
        measurements=[
            below("logits in, y = 0: smallest loss over z in [-60, 60]", right_min_neg, 1e-12),
            below("logits in: rel. error of dL/dz = (sigmoid(z) - y)/m", right_err, RIGHT),
            above(
                "sigmoid in, y = 0: smallest loss over the same z (ln 2 = 0.693)",
                double_min_neg,
                0.69,
            ),
            above("sigmoid in, y = 1: smallest loss over the same z", double_min_pos, 0.3),
            above(
                "sigmoid in: rel. gap between its gradient and (sigmoid(z) - y)/m",
                rel_err(double, right),
                WRONG,
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "BCEWithLogitsLoss against the model output z from -8 to 8, for targets y = 0 and y = 1, "
    "fed the logits (solid) or sigmoid(z) (dashed). With logits the loss goes to 0 on the right"
    " side and grows on the wrong one; with the sigmoid applied first, the dashed curves stay "
    "squeezed near ln 2, never reach 0 and barely change with z."
)
FIGURE_CAPTION = (
    "Feeding sigmoid(z) to BCEWithLogitsLoss applies the sigmoid twice: the loss (dashed) stays"
    " near ln 2 and hardly responds to the output, while the loss on logits (solid) does."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    z = np.linspace(-8.0, 8.0, 161)
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    for label, y, colour in (("y = 0", 0.0, "C0"), ("y = 1", 1.0, "C1")):
        target = np.full_like(z, y)
        ax.plot(z, bce_with_logits(z, target), color=colour, label=f"logits in, {label}")
        ax.plot(
            z, bce_with_logits(sigmoid(z), target), "--", color=colour, label=f"sigmoid in, {label}"
        )
    ax.axhline(np.log(2.0), color="gray", lw=0.8, ls=":")
    ax.set_ylim(0.0, 4.0)
    ax.set_xlabel("model output z")
    ax.set_ylabel("BCEWithLogitsLoss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
