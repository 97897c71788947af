"""Clipping the error inside the loss zeroes the gradient where |e| > 1; Huber loss (or clipping
the gradient) keeps it at +-1 there."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def clipped_square(e: np.ndarray) -> np.ndarray:
    """The bug: 0.5 * clip(e, -1, 1)**2."""
    return 0.5 * np.clip(e, -1.0, 1.0) ** 2


def huber(e: np.ndarray) -> np.ndarray:
    """0.5 e^2 for |e| <= 1, |e| - 0.5 beyond: its derivative is clip(e, -1, 1)."""
    a = np.abs(e)
    return np.where(a <= 1.0, 0.5 * e**2, a - 0.5)


def setup() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear Q-style regression whose residuals include large ones (|e| > 1)."""
    r = rng(36)
    x = r.normal(size=(12, 4))
    w = r.normal(size=4)
    y = x @ w + np.array([-3.0, -0.5, 0.2, 2.5, -1.7, 0.7, 1.4, -0.3, 3.1, -2.2, 0.4, -0.9])
    return x, w, y


def check() -> CheckResult:
    x, w, y = setup()
    e = x @ w - y
    large = np.abs(e) > 1.0

    probe = e.copy()
    d_clipped = numerical_grad(lambda: float(np.sum(clipped_square(probe))), probe)
    d_huber = numerical_grad(lambda: float(np.sum(huber(probe))), probe)

    # Weight gradients: what the buggy loss trains with vs. per-sample gradient clipping.
    wp = w.copy()
    dw_clipped = numerical_grad(lambda: float(np.sum(clipped_square(x @ wp - y))), wp)
    dw_grad_clip = x.T @ np.clip(e, -1.0, 1.0)  # clip each sample's d(0.5 e^2)/de = e

    return CheckResult(
        claim=(
            "The derivative of 0.5 * clip(e, -1, 1)^2 is e inside [-1, 1] and exactly 0 outside, so "
            "the samples with the largest errors stop learning; Huber loss has derivative "
            "clip(e, -1, 1), which equals clipping each sample's gradient, the intended behaviour."
        ),
        measurements=[
            below(
                "clipped-error loss: largest |dL/de| where |e| > 1",
                np.abs(d_clipped[large]).max(),
                1e-9,
            ),
            below(
                "Huber loss: rel. error of dL/de = clip(e, -1, 1)",
                rel_err(np.clip(e, -1.0, 1.0), d_huber),
                RIGHT,
            ),
            below(
                "Huber loss vs clipping each sample's gradient: rel. gap of dL/dw",
                rel_err(x.T @ d_huber, dw_grad_clip),
                RIGHT,
            ),
            above(
                "clipped-error loss vs clipped gradient: rel. gap of dL/dw",
                rel_err(dw_clipped, dw_grad_clip),
                WRONG,
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Two panels over the error e from -3 to 3. Left, the loss: 0.5 e², the clipped square 0.5 "
    "clip(e)² that is flat beyond |e| = 1, and the Huber loss that continues as a straight "
    "line. Right, their gradients: the clipped square's gradient drops to 0 beyond |e| = 1, "
    "Huber's stays at ±1."
)
FIGURE_CAPTION = (
    "Clipping the error inside the loss makes the loss flat, so large errors get a zero "
    "gradient (left, right: solid); Huber keeps a gradient of ±1 there (dashed)."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    e = np.linspace(-3.0, 3.0, 601)
    fig = Figure(figsize=(7.0, 3.2))
    left, right = fig.subplots(1, 2)
    left.plot(e, 0.5 * e**2, ":", color="gray", label="0.5 e^2")
    left.plot(e, clipped_square(e), label="0.5 clip(e)^2 (the bug)")
    left.plot(e, huber(e), "--", label="Huber")
    left.set_ylim(0.0, 3.0)
    left.set_xlabel("error e")
    left.set_ylabel("loss")
    left.legend(fontsize=8)
    right.plot(e, np.where(np.abs(e) < 1.0, e, 0.0), label="d/de of 0.5 clip(e)^2")
    right.plot(e, np.clip(e, -1.0, 1.0), "--", label="d/de of Huber = clip(e)")
    right.set_xlabel("error e")
    right.set_ylabel("gradient")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
