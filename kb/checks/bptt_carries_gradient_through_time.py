"""Backpropagation through time sums every step's contribution to the shared weights and carries
the hidden state's gradient into the previous step through the recurrent weight and tanh′; each
shortcut below (a carry that stays zero, the carry without the recurrent Jacobian, the last step
skipped, the initial state read as ``h[-1]``, the input weight's gradient from the last step only)
gives wrong gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

N_IN, N_H, N_OUT, T = 3, 4, 2, 5

Grads = tuple[np.ndarray, np.ndarray, np.ndarray]


class Rnn:
    """h_t = tanh(Wx x_t + Wh h_{t-1}), y_t = Wy h_t, C = Σ_t Σ U_t ⊙ y_t (column convention)."""

    def __init__(self) -> None:
        r = rng(61)
        self.wx = r.normal(scale=0.5, size=(N_H, N_IN))
        self.wh = r.normal(scale=0.5, size=(N_H, N_H))
        self.wy = r.normal(scale=0.5, size=(N_OUT, N_H))
        self.h0 = r.normal(scale=0.5, size=(N_H, 1))
        self.xs = [r.normal(size=(N_IN, 1)) for _ in range(T)]
        self.us = [r.normal(size=(N_OUT, 1)) for _ in range(T)]

    def forward(self) -> list[np.ndarray]:
        hs, h = [], self.h0
        for x in self.xs:
            h = np.tanh(self.wx @ x + self.wh @ h)
            hs.append(h)
        return hs

    def cost(self) -> float:
        return float(
            sum(np.sum(u * (self.wy @ h)) for u, h in zip(self.us, self.forward(), strict=True))
        )

    def numeric(self) -> Grads:
        return (
            numerical_grad(self.cost, self.wx),
            numerical_grad(self.cost, self.wh),
            numerical_grad(self.cost, self.wy),
        )

    def bptt(
        self,
        *,
        carry: bool = True,
        through_wh: bool = True,
        steps: range | None = None,
        wrap: bool = False,
        wx_last_only: bool = False,
    ) -> Grads:
        hs = self.forward()
        dwx, dwh, dwy = np.zeros_like(self.wx), np.zeros_like(self.wh), np.zeros_like(self.wy)
        dh_next = np.zeros_like(self.h0)
        for t in steps if steps is not None else reversed(range(T)):
            dy = self.us[t]
            dwy += dy @ hs[t].T
            if through_wh:
                dh = self.wy.T @ dy + dh_next
            else:  # the carry only sums the later steps' output errors
                dh_next = dh_next + self.wy.T @ dy
                dh = dh_next
            dz = dh * (1 - hs[t] ** 2)
            h_prev = hs[t - 1] if (t > 0 or wrap) else self.h0
            if wx_last_only and t == T - 1:  # dWx = dz_{T-1} x_{T-1}^T, not summed over steps
                dwx = dz @ self.xs[t].T
            elif not wx_last_only:
                dwx += dz @ self.xs[t].T
            dwh += dz @ h_prev.T
            if carry and through_wh:
                dh_next = self.wh.T @ dz
        return dwx, dwh, dwy


def _err(got: Grads, want: Grads) -> float:
    return max(rel_err(g, w) for g, w in zip(got, want, strict=True))


def check() -> CheckResult:
    net = Rnn()
    fd = net.numeric()
    variants: list[tuple[str, Callable[[], Grads]]] = [
        ("carry never updated (dh_next stays zero)", lambda: net.bptt(carry=False)),
        ("carry without Wh^T and tanh′ (output errors only)", lambda: net.bptt(through_wh=False)),
        ("last step skipped (loop from T − 2)", lambda: net.bptt(steps=range(T - 2, -1, -1))),
        ("initial state read as h[t − 1] = h[−1] at t = 0", lambda: net.bptt(wrap=True)),
        ("input weight's gradient from the last step only", lambda: net.bptt(wx_last_only=True)),
    ]
    measurements = [
        below(
            "BPTT: max rel. error of dWx, dWh, dWy against finite differences",
            _err(net.bptt(), fd),
            RIGHT,
        ),
    ]
    measurements += [
        above(f"{label}: max rel. error against finite differences", _err(fn(), fd), WRONG)
        for label, fn in variants
    ]
    return CheckResult(
        claim=(
            "The gradient of a weight shared across time steps is the sum over every step, and "
            "the hidden state's gradient reaches the previous step through Wh^T and tanh′; a "
            "carry that stays zero, a carry without the recurrent Jacobian, a skipped last step, "
            "the initial state read from h[−1] or the input weight's gradient from the last "
            "step only all give wrong gradients."
        ),
        measurements=measurements,
    )
