"""Random initialisation breaks symmetry at any scale; the scale (He, Xavier) is a separate
requirement that keeps signals from vanishing or exploding with depth."""

from __future__ import annotations

import numpy as np

from kb.numerics import rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which

preload()

DEPTH, WIDTH, BATCH = 20, 64, 32


def relu_stack(x: np.ndarray, weights: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Forward through DEPTH ReLU layers and back with an all-ones upstream gradient.

    Returns the output and dC/dW of the first layer (C = sum of the outputs)."""
    acts, zs = [x], []
    for w in weights:
        zs.append(acts[-1] @ w)
        acts.append(np.maximum(zs[-1], 0.0))
    g = np.ones_like(acts[-1])
    for l in range(len(weights) - 1, -1, -1):
        g = g * (zs[l] > 0)
        if l == 0:
            return acts[-1], acts[0].T @ g
        g = g @ weights[l].T
    raise AssertionError("unreachable")


def check() -> CheckResult:
    torch = get_torch()
    r = rng(80)
    x = r.normal(size=(BATCH, WIDTH))
    shapes = [(WIDTH, WIDTH)] * DEPTH
    he = [r.normal(scale=np.sqrt(2.0 / WIDTH), size=s) for s in shapes]
    small = [0.01 * r.normal(size=s) for s in shapes]
    constant = [np.full(s, np.sqrt(2.0 / WIDTH)) for s in shapes]

    out_he, _ = relu_stack(x, he)
    out_small, g_small = relu_stack(x, small)
    _, g_const = relu_stack(x, constant)
    ratio_he = float(np.std(out_he) / np.std(x))
    ratio_small = float(np.std(out_small) / np.std(x))

    def row_spread(g: np.ndarray) -> float:
        """How different the hidden units' gradient columns are, relative to their size."""
        cols = g.T
        return float(np.abs(cols - cols.mean(axis=0)).max() / (np.abs(cols).max() + 1e-300))

    measurements = [
        below(
            f"He init, {DEPTH} ReLU layers: |log10(std out / std in)|", abs(np.log10(ratio_he)), 1.0
        ),
        above(
            f"N(0, 0.01²) init, {DEPTH} ReLU layers: |log10(std out / std in)|",
            abs(np.log10(ratio_small)),
            10.0,
        ),
        above(
            "N(0, 0.01²) init: spread between first-layer units' gradients (symmetry broken)",
            row_spread(g_small),
            0.1,
        ),
        below(
            "constant init: spread between first-layer units' gradients (symmetric)",
            row_spread(g_const),
            1e-12,
        ),
    ]
    if torch is not None:
        torch.manual_seed(int(r.integers(2**31)))
        w = torch.empty(512, 256, dtype=torch.float64)
        torch.nn.init.kaiming_normal_(w, nonlinearity="relu")  # fan_in = 256
        he_std = float(numpy(w).std() / np.sqrt(2.0 / 256))
        torch.nn.init.xavier_uniform_(w)
        xavier_std = float(numpy(w).std() / np.sqrt(2.0 / (256 + 512)))
        measurements += [
            below(
                "nn.init.kaiming_normal_ (PyTorch): |std / √(2/fan_in) - 1|",
                abs(he_std - 1.0),
                0.02,
            ),
            below(
                "nn.init.xavier_uniform_ (PyTorch): |std / √(2/(fan_in + fan_out)) - 1|",
                abs(xavier_std - 1.0),
                0.02,
            ),
        ]
    return CheckResult(
        claim=says_which(
            "Any random initialisation breaks the symmetry between hidden units, but through 20 "
            "ReLU layers weights of std 0.01 shrink the signal by more than ten orders of "
            "magnitude, while He's std √(2/fan_in) keeps it within a factor of ten: symmetry "
            "and scale are two separate requirements.",
            torch,
        ),
        measurements=measurements,
    )
