"""Softmax couples its outputs: dz = J^T ds with J = diag(s) - s s^T, not ds * s * (1 - s)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, softmax
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _full_jacobian(s_row: np.ndarray, g_row: np.ndarray) -> np.ndarray:
    """J^T g for one example, with the Jacobian built explicitly."""
    jac = np.diag(s_row) - np.outer(s_row, s_row)  # d s_i / d z_j
    return jac.T @ g_row


def check() -> CheckResult:
    r = rng(91)
    z = r.normal(scale=1.5, size=(7, 4))  # 7 examples, 4 classes, one example per row
    y = np.eye(4)[r.integers(0, 4, size=7)]  # one-hot targets
    c = r.normal(size=(7, 4))  # random upstream weights on the probabilities

    def cross_entropy() -> float:
        return float(-np.sum(y * np.log(softmax(z, axis=1))))

    def weighted() -> float:
        return float(np.sum(c * softmax(z, axis=1)))

    ce_numeric = numerical_grad(cross_entropy, z)
    w_numeric = numerical_grad(weighted, z)

    s = softmax(z, axis=1)
    ce_ds = -y / s  # dC/ds for cross-entropy

    def vjp(g: np.ndarray) -> np.ndarray:
        return s * (g - np.sum(s * g, axis=1, keepdims=True))  # rows of J^T g

    def elementwise(g: np.ndarray) -> np.ndarray:
        return g * s * (1.0 - s)  # the diagonal of J only

    explicit = np.stack([_full_jacobian(s[n], ce_ds[n]) for n in range(len(s))])

    return CheckResult(
        claim=(
            "Backprop through softmax multiplies by the full Jacobian diag(s) - s s^T; the "
            "element-wise s(1 - s) keeps only its diagonal and gives wrong gradients, and unlike "
            "the true gradient it does not sum to zero over the classes."
        ),
        measurements=[
            below(
                "cross-entropy, full Jacobian (explicit): rel. error",
                rel_err(explicit, ce_numeric),
                RIGHT,
            ),
            below(
                "cross-entropy, full Jacobian (vectorised): rel. error",
                rel_err(vjp(ce_ds), ce_numeric),
                RIGHT,
            ),
            above(
                "cross-entropy, s * (1 - s): rel. error",
                rel_err(elementwise(ce_ds), ce_numeric),
                WRONG,
            ),
            below("random upstream, full Jacobian: rel. error", rel_err(vjp(c), w_numeric), RIGHT),
            above(
                "random upstream, s * (1 - s): rel. error",
                rel_err(elementwise(c), w_numeric),
                WRONG,
            ),
            below(
                "full Jacobian: largest |sum over classes| of dC/dz",
                np.abs(vjp(c).sum(axis=1)).max(),
                1e-12,
            ),
            above(
                "s * (1 - s): largest |sum over classes| of dC/dz",
                np.abs(elementwise(c).sum(axis=1)).max(),
                WRONG,
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Two heat maps of 4 by 4 matrices for the first example's softmax output s, on one colour "
    "scale with each entry written in its cell. Left, the full Jacobian ds_i/dz_j = diag(s) - s "
    "s^T: positive entries s_i(1 - s_i) on the diagonal and negative entries -s_i s_j everywhere "
    "off it, every row summing to zero. Right, what the element-wise derivative s(1 - s) uses: "
    "the same diagonal and zeros off it, so its rows do not sum to zero."
)
FIGURE_CAPTION = (
    "The softmax Jacobian of one example (left) and the part of it that s(1 − s) keeps (right): "
    "the element-wise version drops every off-diagonal −sᵢsⱼ, which is how one class's "
    "probability pulls on the others."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    z = rng(91).normal(scale=1.5, size=(7, 4))  # the check's logits (its first draw)
    s = softmax(z, axis=1)[0]
    full = np.diag(s) - np.outer(s, s)
    diagonal = np.diag(s * (1.0 - s))
    limit = float(np.abs(full).max())
    fig = Figure(figsize=(7.2, 3.4))
    axes = fig.subplots(1, 2)
    panels = (("full Jacobian diag(s) - s s^T", full), ("element-wise s(1 - s)", diagonal))
    for ax, (title, matrix) in zip(axes, panels, strict=True):
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for (i, j), entry in np.ndenumerate(matrix):
            colour = "white" if abs(entry) > 0.6 * limit else "black"
            label = f"{entry:.2f}".replace("-0.00", "0.00")
            ax.text(j, i, label, ha="center", va="center", fontsize=8, color=colour)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(4), [f"z{j + 1}" for j in range(4)])
        ax.set_yticks(range(4), [f"s{i + 1}" for i in range(4)])
    fig.colorbar(image, ax=axes, shrink=0.8, label="ds_i / dz_j")
    return fig
