"""The 2x3 worked example of the seed entries, small enough to check by hand.

One linear layer ``z = W a`` with ``W`` of shape (2, 3): each input ``a_k`` feeds every output
``z_i`` with weight ``w_ik``. The cost ``C = 1/2 |z - t|^2`` makes ``delta = dC/dz = z - t``. The
numbers are chosen small (integers and halves) so that a reader can redo every product; the
check modules compute everything shown from them, compare it with finite differences, and the
site renders what they computed (``markdown()``) and draws the two layers (``figure()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import numerical_grad

if TYPE_CHECKING:
    from matplotlib.figure import Figure

W = np.array([[1.0, 2.0, 1.0], [3.0, 1.0, 2.0]])  # (n_out, n_in) = (2, 3), all positive
A = np.array([1.0, 0.0, 1.0])
T = np.array([1.5, 6.0])  # targets, chosen so that delta = (0.5, -1)
NUDGE = np.array([0.01, 0.0, 0.0])  # a small change of a_1, for the adjoint one-liner


@dataclass(frozen=True)
class Worked:
    z: np.ndarray
    delta: np.ndarray
    wt_delta: np.ndarray  # W^T delta, the chain-rule sum
    numeric: np.ndarray  # dC/da by finite differences
    pinv_delta: np.ndarray  # pinv(W) delta: "undo the layer" (W has no inverse)
    share: np.ndarray  # Rashid's split: w_ik / sum_k w_ik of each z_i's delta
    split: np.ndarray  # the split recombined at each a_k
    dc_actual: float  # C(a + NUDGE) - C(a)
    dc_adjoint: float  # (W^T delta) . NUDGE


def cost(a: np.ndarray) -> float:
    return float(0.5 * np.sum((W @ a - T) ** 2))


def compute() -> Worked:
    a = A.copy()
    z = W @ a
    delta = z - T
    share = W / W.sum(axis=1, keepdims=True)
    return Worked(
        z=z,
        delta=delta,
        wt_delta=W.T @ delta,
        numeric=numerical_grad(lambda: cost(a), a),
        pinv_delta=np.linalg.pinv(W) @ delta,  # noqa: BP001 - the misconception, computed to show it
        share=share,
        split=share.T @ delta,
        dc_actual=cost(A + NUDGE) - cost(A),
        dc_adjoint=float((W.T @ delta) @ NUDGE),
    )


def _num(x: float) -> str:
    x = 0.0 if abs(x) < 5e-13 else float(x)
    return f"{x:.4g}"


def _col(v: np.ndarray) -> str:
    return r"\begin{pmatrix}" + r"\\ ".join(_num(x) for x in v) + r"\end{pmatrix}"


def _mat(m: np.ndarray) -> str:
    rows = [" & ".join(_num(x) for x in row) for row in m]
    return r"\begin{pmatrix}" + r"\\ ".join(rows) + r"\end{pmatrix}"


def markdown() -> str:
    """The worked example as Markdown with LaTeX, every number computed by ``compute()``."""
    w = compute()
    d1, d2 = (_num(x) for x in w.delta)
    sums = [
        f"$\\partial C/\\partial a_{k + 1} = w_{{1{k + 1}}}\\delta_1 + w_{{2{k + 1}}}\\delta_2 = "
        f"{_num(W[0, k])} \\cdot {d1} + {_num(W[1, k])} \\cdot ({d2}) = {_num(w.wt_delta[k])}$"
        for k in range(3)
    ]
    return "\n".join(
        [
            "**A worked example you can check by hand.** One layer $z = W a$ with",
            "",
            f"$$W = {_mat(W)},\\quad a = {_col(A)},\\quad t = {_col(T)},"
            f"\\quad C = \\tfrac12 \\lVert z - t \\rVert^2 .$$",
            "",
            f"Forward: $z = W a = {_col(w.z)}$, so $\\delta = \\partial C / \\partial z = z - t = "
            f"{_col(w.delta)}$. Each $a_k$ feeds both outputs, $z_1$ through $w_{{1k}}$ and $z_2$ "
            "through $w_{2k}$, so the chain rule adds two terms per input, one per weight that "
            "leaves it (a column of $W$, a row of $W^T$):",
            "",
            *[f"- {line}" for line in sums],
            "",
            f"That is $W^T \\delta = {_col(w.wt_delta)}$. Nudging each $a_k$ by $h = 10^{{-5}}$ "
            f"and recomputing $C$ (no backward pass at all) gives {_col_text(np.round(w.numeric, 8))}, the same "
            f"numbers. Moving $a_1$ by $0.01$ changes $C$ by {_num(w.dc_actual)}; the one-line "
            f"prediction $(W^T\\delta)^T \\Delta a$ says {_num(w.dc_adjoint)}.",
            "",
            f"Note $a_2$: it raises $z_1$ by 2 and $z_2$ by 1 per unit, and with $\\delta = "
            f"({d1}, {d2})$ the two effects cancel, so $\\partial C / \\partial a_2 = "
            f"{_num(w.wt_delta[1])}$. A picture in which $a_2$ receives a share of the errors "
            "has no room for that.",
            "",
            f"What the other readings give: $W$ is $2 \\times 3$, so it has no inverse, and "
            f"$\\operatorname{{pinv}}(W)\\,\\delta = {_col(w.pinv_delta)}$; splitting each "
            f"$\\delta_i$ in proportion to the weights (shares $w_{{ik}} / \\sum_k w_{{ik}}$) and "
            f"adding the pieces at each input gives {_col_text(w.split)}. Neither is the gradient.",
        ]
    )


def _col_text(v: np.ndarray) -> str:
    return "$(" + ", ".join(_num(x) for x in v) + ")$"


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "The two layers as a graph: inputs a1, a2, a3 with their values on the left, pre-activations "
    "z1 and z2 with their deltas on the right, and an arrow from every a_k to every z_i labelled "
    "with its weight w_ik. The two arrows leaving a1 are highlighted, and the line below adds "
    "them up with the numbers: dC/da1 = w11 delta1 + w21 delta2, which is the first entry of "
    "W^T delta."
)
FIGURE_CAPTION = (
    "Each a_k feeds every z_i through w_ik, so ∂C/∂a_k sums over the arrows leaving a_k: the "
    "column k of W, which is row k of Wᵀ."
)


def figure() -> Figure:
    """The two layers: each a_k feeds every z_i with weight w_ik; the edges leaving a_1 are the
    terms of the sum (W^T delta)_1."""
    from matplotlib.figure import Figure

    w = compute()
    fig = Figure(figsize=(7.2, 3.8))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-0.6, 3.9)
    ax.set_ylim(-0.55, 2.55)
    ins = [(0.0, 2.0 - k) for k in range(3)]
    outs = [(2.4, 1.5 - i) for i in range(2)]
    for i, (xo, yo) in enumerate(outs):
        for k, (xi, yi) in enumerate(ins):
            leaving_a1 = k == 0
            ax.annotate(
                "",
                xy=(xo - 0.2, yo),
                xytext=(xi + 0.2, yi),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": "#c2185b" if leaving_a1 else "#9e9e9e",
                    "lw": 2.2 if leaving_a1 else 1.0,
                },
            )
            frac = 0.72 if i == 0 else 0.28  # labels near z_1 for its edges, near a_k for z_2's
            lx, ly = xi + 0.2 + frac * (xo - xi - 0.4), yi + frac * (yo - yi)
            ax.text(
                lx,
                ly + 0.07,
                f"$w_{{{i + 1}{k + 1}}}={_num(W[i, k])}$",
                fontsize=9,
                ha="center",
                color="#c2185b" if leaving_a1 else "#616161",
            )
    for k, (x, y) in enumerate(ins):
        ax.add_patch(_circle(x, y))
        ax.text(x, y, f"$a_{k + 1}$", ha="center", va="center", fontsize=12)
        ax.text(x - 0.28, y, _num(A[k]), ha="right", va="center", fontsize=9, color="#424242")
    for i, (x, y) in enumerate(outs):
        ax.add_patch(_circle(x, y))
        ax.text(x, y, f"$z_{i + 1}$", ha="center", va="center", fontsize=12)
        ax.text(
            x + 0.3,
            y,
            f"$\\delta_{i + 1} = {_num(w.delta[i])}$",
            ha="left",
            va="center",
            fontsize=10,
        )
    ax.text(
        -0.55,
        -0.45,
        f"$\\partial C/\\partial a_1 = w_{{11}}\\delta_1 + w_{{21}}\\delta_2 = "
        f"{_num(W[0, 0])}\\cdot{_num(w.delta[0])} + {_num(W[1, 0])}\\cdot({_num(w.delta[1])}) = "
        f"{_num(w.wt_delta[0])} = (W^T\\delta)_1$",
        fontsize=10,
        color="#c2185b",
    )
    fig.tight_layout()
    return fig


def _circle(x: float, y: float):
    from matplotlib.patches import Circle

    return Circle((x, y), 0.2, facecolor="white", edgecolor="#37474f", lw=1.5)
