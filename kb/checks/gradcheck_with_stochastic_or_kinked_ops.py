"""A correct gradient fails a gradient check when a kink lies within h or the mask is re-drawn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, H, max_rel_err, numerical_grad, rng
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KEEP = 0.5  # dropout keep probability


@dataclass
class ReluNet:
    """``C = sum(U * (W2 relu(W1 x + b1)))`` for one example, optionally with inverted dropout."""

    w1: np.ndarray
    b1: np.ndarray
    x: np.ndarray
    w2: np.ndarray
    upstream: np.ndarray

    def cost(self, mask: np.ndarray | None = None) -> float:
        h = np.maximum(self.w1 @ self.x + self.b1, 0.0)
        if mask is not None:
            h = h * mask / KEEP
        return float(np.sum(self.upstream * (self.w2 @ h)))

    def backward(self, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        dz = (self.w2.T @ self.upstream) * (self.w1 @ self.x + self.b1 > 0)
        if mask is not None:
            dz = dz * mask / KEEP
        return dz @ self.x.T, dz

    def numerical(self, cost: Callable[[], float]) -> tuple[np.ndarray, np.ndarray]:
        return numerical_grad(cost, self.w1), numerical_grad(cost, self.b1)


def relu_net(kink_offset: float) -> ReluNet:
    """A 4-5-3 ReLU net whose first hidden pre-activation sits ``kink_offset`` from zero."""
    r = rng(7)
    net = ReluNet(
        r.normal(size=(5, 4)),
        r.normal(size=(5, 1)),
        r.normal(size=(4, 1)),
        r.normal(size=(3, 5)),
        r.uniform(0.5, 1.5, size=(3, 1)),
    )
    z0 = (net.w1 @ net.x + net.b1)[0, 0]
    net.b1[0, 0] += kink_offset - z0
    return net


def kink_error(offset: float, *, kinked_unit_only: bool = False) -> float:
    """Relative error of the (correct) ReLU gradient when z sits ``offset`` from the kink.

    With ``kinked_unit_only`` the error is that of the kinked unit's own gradient (row 0 of dW1
    and db1[0]), which no other unit's gradient can dilute, whatever the random draw.
    """
    net = relu_net(offset)
    (dw, db), (nw, nb) = net.backward(), net.numerical(net.cost)
    if kinked_unit_only:
        return max_rel_err((dw[:1], db[:1]), (nw[:1], nb[:1]))
    return max_rel_err((dw, db), (nw, nb))


def check() -> CheckResult:
    at_kink = kink_error(H / 2, kinked_unit_only=True)
    away = kink_error(10 * H)

    net = relu_net(0.3)
    mask = rng(11).random(net.b1.shape) < KEEP
    analytic = net.backward(mask)
    fixed = max_rel_err(analytic, net.numerical(lambda: net.cost(mask)))
    draws = rng(12)
    redrawn = max_rel_err(
        analytic, net.numerical(lambda: net.cost(draws.random(net.b1.shape) < KEEP))
    )

    return CheckResult(
        claim=(
            "The same correct ReLU/dropout gradient fails a finite-difference check when a "
            "pre-activation lies within h of the kink or when the dropout mask is re-drawn per "
            "evaluation, and passes once the kink is 10h away and the mask is held fixed."
        ),
        measurements=[
            below("ReLU, z = 10h from the kink: rel. error of dW1, db1", away, RIGHT),
            above(
                "ReLU, z = h/2 from the kink: rel. error of that unit's dW1 row and db1",
                at_kink,
                WRONG,
            ),
            below("dropout, mask held fixed: rel. error of dW1, db1", fixed, RIGHT),
            above("dropout, mask re-drawn per evaluation: rel. error", redrawn, WRONG),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Log-log plot of the relative error of a correct gradient against the distance of one pre-"
    "activation from the ReLU kink, in units of the step h. While the kink is within about h "
    "the error sits above the fail line; once it is a few h away the error falls far below the "
    "pass line."
)
FIGURE_CAPTION = (
    "A gradient check fails a correct ReLU gradient when a pre-activation lies within the "
    "finite-difference step of the kink, and passes once it is a few steps away."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    ratios = np.logspace(-2, 2, 41)
    errors = [kink_error(ratio * H) for ratio in ratios]
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    ax.loglog(ratios, np.maximum(errors, 1e-16), "o-", ms=3)
    ax.axvline(1.0, color="gray", lw=0.8, ls="--")
    ax.axhline(RIGHT, color="green", lw=0.8)
    ax.axhline(WRONG, color="red", lw=0.8)
    ax.set_xlabel("distance of one pre-activation from the ReLU kink, in units of h")
    ax.set_ylabel("relative error of a correct gradient")
    fig.tight_layout()
    return fig
