"""Each gate of an LSTM has its own pre-activation ``z_g = W_g [h; x] + b_g``, so its bias gradient
is that gate's own delta ``∂C/∂z_g`` summed over the steps, the delta its weight gradient is
formed from. A bias gradient taken from another gate's delta (the forget gate's for the input or
the output gate) is wrong, even though it has the right shape."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

N_IN, N_H, T = 3, 4, 3
GATES = ("f", "i", "o", "g")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class Lstm:
    """c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t), C = Σ_t Σ U_t ⊙ h_t (column convention)."""

    def __init__(self) -> None:
        r = rng(71)
        self.w = {k: r.normal(scale=0.5, size=(N_H, N_H + N_IN)) for k in GATES}
        self.b = {k: r.normal(scale=0.5, size=(N_H, 1)) for k in GATES}
        self.xs = [r.normal(size=(N_IN, 1)) for _ in range(T)]
        self.us = [r.normal(size=(N_H, 1)) for _ in range(T)]
        self.h0 = r.normal(scale=0.5, size=(N_H, 1))
        self.c0 = r.normal(scale=0.5, size=(N_H, 1))

    def forward(self) -> list[dict[str, np.ndarray]]:
        h, c, steps = self.h0, self.c0, []
        for x in self.xs:
            z = np.vstack([h, x])
            a = {k: self.w[k] @ z + self.b[k] for k in GATES}
            f, i, o = _sigmoid(a["f"]), _sigmoid(a["i"]), _sigmoid(a["o"])
            g = np.tanh(a["g"])
            c_prev, c = c, f * c + i * g
            h = o * np.tanh(c)
            steps.append({"z": z, "f": f, "i": i, "o": o, "g": g, "c": c, "c_prev": c_prev})
        return steps

    def cost(self) -> float:
        steps = self.forward()
        total = 0.0
        for u, s in zip(self.us, steps, strict=True):
            total += float(np.sum(u * s["o"] * np.tanh(s["c"])))
        return total

    def numeric_biases(self) -> dict[str, np.ndarray]:
        return {k: numerical_grad(self.cost, self.b[k]) for k in GATES}

    def backward(self, bias_delta: dict[str, str] | None = None) -> dict[str, np.ndarray]:
        """Bias gradients; ``bias_delta`` maps a gate to the gate whose delta its bias takes."""
        route = {k: k for k in GATES} | (bias_delta or {})
        steps = self.forward()
        db = {k: np.zeros((N_H, 1)) for k in GATES}
        dh_next, dc_next = np.zeros((N_H, 1)), np.zeros((N_H, 1))
        for t in reversed(range(T)):
            s = steps[t]
            dh = self.us[t] + dh_next
            tc = np.tanh(s["c"])
            dc = dc_next + dh * s["o"] * (1 - tc**2)
            d = {
                "o": dh * tc * s["o"] * (1 - s["o"]),
                "f": dc * s["c_prev"] * s["f"] * (1 - s["f"]),
                "i": dc * s["g"] * s["i"] * (1 - s["i"]),
                "g": dc * s["i"] * (1 - s["g"] ** 2),
            }
            for k in GATES:
                db[k] += d[route[k]]
            dz = sum(self.w[k].T @ d[k] for k in GATES)
            dh_next = dz[:N_H]
            dc_next = dc * s["f"]
        return db


def _err(got: dict[str, np.ndarray], want: dict[str, np.ndarray], k: str) -> float:
    return rel_err(got[k], want[k])


def check() -> CheckResult:
    net = Lstm()
    fd = net.numeric_biases()
    right = net.backward()
    wrong = net.backward({"i": "f", "o": "f"})
    swapped = net.backward({"g": "i", "i": "g"})
    measurements = [
        below(
            "each bias from its own gate's delta: max rel. error of dbf, dbi, dbo, dbg",
            max(_err(right, fd, k) for k in GATES),
            RIGHT,
        ),
        above(
            "input-gate bias from the forget gate's delta: rel. error of dbi",
            _err(wrong, fd, "i"),
            WRONG,
        ),
        above(
            "output-gate bias from the forget gate's delta: rel. error of dbo",
            _err(wrong, fd, "o"),
            WRONG,
        ),
        below(
            "the forget gate's own bias in that same backward: rel. error of dbf",
            _err(wrong, fd, "f"),
            RIGHT,
        ),
        above(
            "input-gate and candidate biases swapped: max rel. error of dbi, dbg",
            max(_err(swapped, fd, "i"), _err(swapped, fd, "g")),
            WRONG,
        ),
    ]
    return CheckResult(
        claim=(
            "In an LSTM each bias gradient is its own gate's delta summed over the steps (it "
            "matches finite differences); the input- or output-gate bias taken from the forget "
            "gate's delta, or two gates' biases swapped, is wrong although the shapes match."
        ),
        measurements=measurements,
    )
