"""A cached array modified in place after the forward pass silently corrupts the backward pass."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, sigmoid
from kb.schema import CheckResult, above, below

KEEP = 0.8


class Linear:
    """z = W x; caches x (by reference unless told to copy)."""

    def __init__(self, w: np.ndarray, copy_cache: bool) -> None:
        self.w, self.copy_cache = w, copy_cache

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x.copy() if self.copy_cache else x
        return self.w @ x

    def backward(self, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return dz @ self.x.T, self.w.T @ dz


class Tanh:
    """a = tanh(z); caches z and uses 1 - tanh(z)^2 in backward."""

    def __init__(self, copy_cache: bool, inplace: bool) -> None:
        self.copy_cache, self.inplace = copy_cache, inplace

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.z = z.copy() if self.copy_cache else z
        return np.tanh(z, out=z) if self.inplace else np.tanh(z)

    def backward(self, da: np.ndarray) -> np.ndarray:
        return da * (1.0 - np.tanh(self.z) ** 2)


class Sigmoid:
    """s = sigmoid(z); caches its output s and uses s (1 - s) in backward."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.s = sigmoid(z)
        return self.s

    def backward(self, ds: np.ndarray) -> np.ndarray:
        return ds * self.s * (1.0 - self.s)


def setup() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r = rng(37)
    w1, w2 = r.normal(size=(5, 4)), r.normal(size=(3, 5))
    x, u = r.normal(size=(4, 7)), r.normal(size=(3, 7))
    mask = (r.random((5, 7)) < KEEP) / KEEP
    return w1, w2, x, u, mask


def tanh_net_grad(copy_cache: bool, inplace: bool) -> tuple[np.ndarray, np.ndarray]:
    """C = sum(U * W2 tanh(W1 x)); returns (analytic dW1, finite-difference dW1)."""
    w1, w2, x, u, _ = setup()
    lin, act = Linear(w1, copy_cache=True), Tanh(copy_cache, inplace)
    act.forward(lin.forward(x))  # the output itself is not needed here
    dw1, _ = lin.backward(act.backward(w2.T @ u))
    probe = w1.copy()
    numeric = numerical_grad(lambda: float(np.sum(u * (w2 @ np.tanh(probe @ x)))), probe)
    return dw1, numeric


def dropout_after_sigmoid_grad(inplace: bool) -> tuple[np.ndarray, np.ndarray]:
    """C = sum(U * W2 dropout(sigmoid(W1 x))), dropout applied in place or not."""
    w1, w2, x, u, mask = setup()
    lin, act = Linear(w1, copy_cache=True), Sigmoid()
    s = act.forward(lin.forward(x))
    if inplace:
        s *= mask  # modifies the array the Sigmoid layer cached
    else:
        s = s * mask
    dw1, _ = lin.backward(act.backward((w2.T @ u) * mask))
    probe = w1.copy()
    numeric = numerical_grad(lambda: float(np.sum(u * (w2 @ (sigmoid(probe @ x) * mask)))), probe)
    return dw1, numeric


def check() -> CheckResult:
    return CheckResult(
        claim=(
            "A backward pass reads the arrays its forward pass cached. Out-of-place code (or a "
            "cached copy) gives the exact gradient; an in-place update of a cached array after the "
            "forward pass (np.tanh(z, out=z), s *= mask) makes the same backward code wrong, with no "
            "error raised."
        ),
        measurements=[
            below(
                "tanh computed out of place: rel. error of dW1",
                rel_err(*tanh_net_grad(False, False)),
                RIGHT,
            ),
            below(
                "tanh in place, cache holds a copy: rel. error of dW1",
                rel_err(*tanh_net_grad(True, True)),
                RIGHT,
            ),
            above(
                "tanh in place over the cached z: rel. error of dW1",
                rel_err(*tanh_net_grad(False, True)),
                WRONG,
            ),
            below(
                "dropout out of place (s = s * mask): rel. error of dW1",
                rel_err(*dropout_after_sigmoid_grad(False)),
                RIGHT,
            ),
            above(
                "dropout in place on the cached sigmoid output (s *= mask): rel. error",
                rel_err(*dropout_after_sigmoid_grad(True)),
                WRONG,
            ),
        ],
    )
