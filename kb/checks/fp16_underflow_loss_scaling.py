"""Small gradients flush to zero in float16; multiplying the loss by S before backward and the
gradients by 1/S (in float32) after it keeps them."""

from __future__ import annotations

import numpy as np

from kb.numerics import rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

N = 64
LOSS_WEIGHT = 2.0**-20  # e.g. a mean over ~10^6 elements, or a small loss coefficient
SCALE = 2.0**16  # GradScaler's default initial scale


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def check() -> CheckResult:
    torch = get_torch()
    r = rng(79)
    x = r.normal(scale=1e-2, size=N)  # activations
    w = r.normal(size=N)
    true = LOSS_WEIGHT * x  # d(LOSS_WEIGHT * w·x)/dw, in float64

    if torch is not None:

        def grad(dtype, scale: float) -> np.ndarray:
            wt = tensor(torch, w, requires_grad=True, dtype=dtype)
            # As under autocast: the float16 product, the loss itself kept in float32.
            loss = (wt * tensor(torch, x, dtype=dtype)).sum().float() * LOSS_WEIGHT
            (loss * scale).backward()
            return numpy(wt.grad.float() / scale)  # unscale in float32

        half, half_scaled, single = (
            grad(torch.float16, 1.0),
            grad(torch.float16, SCALE),
            grad(torch.float32, 1.0),
        )
    else:  # numpy model: the same products rounded to float16 / float32

        def grad(dtype, scale: float) -> np.ndarray:
            # d(scale * loss)/d(w·x), formed in float32 and cast to the product's dtype
            upstream = (np.float32(LOSS_WEIGHT) * np.float32(scale)).astype(dtype)
            g = x.astype(dtype) * upstream
            return (g.astype(np.float32) / np.float32(scale)).astype(np.float64)

        half, half_scaled, single = (
            grad(np.float16, 1.0),
            grad(np.float16, SCALE),
            grad(np.float32, 1.0),
        )

    return CheckResult(
        claim=says_which(
            "Gradients of size ~1e-8 are below float16's smallest subnormal (6e-8) and flush to "
            "zero; the same backward with the loss multiplied by 2^16 and the gradients divided "
            "by 2^16 in float32 afterwards recovers them to float16 precision. float32 never "
            "had the problem.",
            torch,
        ),
        measurements=[
            above(
                "float16, no scaling: fraction of gradient entries that are exactly 0",
                float(np.mean(half == 0)),
                0.5,
            ),
            above("float16, no scaling: rel. error against float64", rel(half, true), 0.5),
            below(
                "float16, loss × 2^16 then ÷ 2^16: rel. error against float64",
                rel(half_scaled, true),
                2e-3,
            ),
            below("float32, no scaling: rel. error against float64", rel(single, true), 1e-6),
        ],
    )
