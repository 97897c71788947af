"""Backward through a graph whose weights an optimizer step has already changed is not a gradient
of anything: it mixes the old activations with the new weights."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

LR_D = 0.5


class Dense:
    """y = W x. Caches x in forward; backward reads the *current* W, as autograd would if the
    optimizer's in-place update went unnoticed."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return self.w @ x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.dw = dy @ self.x.T
        return self.w.T @ dy


class Tanh:
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (1.0 - self.y**2)


class GAN:
    """Generator x = tanh(A z); discriminator score s = V tanh(B x); losses are weighted sums."""

    def __init__(self) -> None:
        r = rng(41)
        self.gen = [Dense(r.normal(size=(4, 3))), Tanh()]
        self.disc = [Dense(r.normal(size=(5, 4))), Tanh(), Dense(r.normal(size=(1, 5)))]
        self.z = r.normal(size=(3, 8))
        self.c_d, self.c_g = r.normal(size=(1, 8)), r.normal(size=(1, 8))

    def forward(self) -> np.ndarray:
        x = self.z
        for layer in self.gen + self.disc:
            x = layer.forward(x)
        return x

    def backward(self, ds: np.ndarray) -> np.ndarray:
        """Backward through D then G; returns dC/dA (the generator's weight)."""
        for layer in reversed(self.gen + self.disc):
            ds = layer.backward(ds)
        return self.gen[0].dw

    def step_discriminator(self) -> None:
        for layer in self.disc:
            if isinstance(layer, Dense):
                layer.w -= LR_D * layer.dw  # in place, like optimizer.step()

    def generator_loss(self) -> float:
        return float(np.sum(self.c_g * self.forward()))

    def numeric_dA(self) -> np.ndarray:
        a = self.gen[0].w
        return numerical_grad(self.generator_loss, a)


def check() -> CheckResult:
    # Right: the generator's backward runs before the discriminator's step.
    gan = GAN()
    gan.forward()
    gan.backward(gan.c_d)  # discriminator loss: fills .dw of B and V
    before_step = gan.backward(gan.c_g).copy()  # same graph, weights untouched so far
    numeric_old = gan.numeric_dA()

    # Wrong: one forward, discriminator backward and step, then the generator backward.
    gan = GAN()
    gan.forward()
    gan.backward(gan.c_d)
    gan.step_discriminator()
    stale = gan.backward(gan.c_g).copy()  # old activations, new discriminator weights
    numeric_new = gan.numeric_dA()

    # Right again: a fresh forward through the updated discriminator before the backward.
    gan.forward()
    fresh = gan.backward(gan.c_g)

    return CheckResult(
        claim=(
            "The generator's gradient is exact if its backward runs before the discriminator's "
            "step, or after a fresh forward through the updated discriminator. Backward through the "
            "old graph after the step matches neither the gradient at the old weights nor at the new."
        ),
        measurements=[
            below(
                "G backward before the D step: rel. error vs d L_G/dA at the old D",
                rel_err(before_step, numeric_old),
                RIGHT,
            ),
            below(
                "fresh forward after the D step: rel. error vs d L_G/dA at the new D",
                rel_err(fresh, numeric_new),
                RIGHT,
            ),
            above(
                "old graph after the D step: rel. error vs the gradient at the old D",
                rel_err(stale, numeric_old),
                WRONG,
            ),
            above(
                "old graph after the D step: rel. error vs the gradient at the new D",
                rel_err(stale, numeric_new),
                WRONG,
            ),
        ],
    )
