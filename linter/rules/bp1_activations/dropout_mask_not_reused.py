"""BP109 dropout-mask-not-reused."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.dropout import masks_not_reused
from linter.rule import Invalid, Report, Rule, Valid


class DropoutMaskNotReused(Rule):
    """Flags a dropout layer's backward that draws a mask of its own, or passes the upstream
    gradient on without the mask its forward applied."""

    code = "BP109"
    prefilter = (P.BASE, P.UNIFORM_DRAW, P.BACKWARD_CALL)
    name = "dropout-mask-not-reused"
    kb = "dropout-mask-reused-in-backward"
    summary = "A dropout backward does not multiply by the mask its forward drew."
    why = (
        "For the forward pass that was run, dropout is the fixed map x ↦ m ⊙ x / q, so its "
        "derivative is the same m / q. A mask drawn again in backward sends gradient to units "
        "whose output was zeroed and blocks units that were kept; no mask at all is the "
        "derivative of a layer that dropped nothing. Either way the layer below learns from a "
        "gradient that is not the derivative of the loss it produced."
    )
    instead = (
        "Save the mask in forward (`self.mask = ...`, or in the cache it returns) and multiply "
        "the upstream gradient by it in backward: `return grad * self.mask` (with the same "
        "1/keep if the saved mask does not include it)."
    )
    known_problems = (
        "Read for numpy layer classes (`forward`/`__call__` with `backward`) and "
        "`X_forward`/`X_backward` function pairs whose forward multiplies its input by a mask "
        "drawn with a uniform comparison or `binomial`. A backward that reads anything its "
        "forward stored (or an attribute the class never assigns, or a cache it is given) is "
        "taken to use the mask; only one that reads the upstream gradient and constants alone "
        "is reported as omitting it."
    )
    valid = [
        Valid(
            """
            class Dropout:
                def __init__(self, keep):
                    self.keep = keep

                def forward(self, x):
                    self.mask = (np.random.rand(*x.shape) < self.keep) / self.keep
                    return x * self.mask

                def backward(self, grad):
                    return grad * self.mask
            """
        ),
        Valid(
            """
            class Dropout:
                def __init__(self, ratio=0.5):
                    self.ratio = ratio

                def forward(self, x, train=True):
                    if train:
                        self.mask = np.random.rand(*x.shape) > self.ratio
                        return x * self.mask
                    return x * (1.0 - self.ratio)

                def backward(self, dout):
                    return dout * self.mask
            """
        ),
        Valid(
            """
            def dropout_forward(x, p):
                mask = (np.random.rand(*x.shape) < p) / p
                out = x * mask
                cache = (p, mask)
                return out, cache

            def dropout_backward(dout, cache):
                p, mask = cache
                dx = dout * mask
                return dx
            """
        ),
        Valid(
            """
            class Dropout:
                def __init__(self, p):
                    self.p = p
                    self.training = True

                def forward(self, x):
                    if self.training:
                        self.mask = np.random.rand(*x.shape) > self.p
                        return x * self.mask / (1 - self.p)
                    return x

                def backward(self, dout):
                    if self.training:
                        return dout * self.mask / (1 - self.p)
                    return dout
            """,
            note="The unmasked return is the evaluation-mode one; the training one has the mask.",
        ),
        Valid(
            """
            class Dropout:
                def __init__(self, keep):
                    self.keep = keep

                def forward(self, x):
                    self.mask = np.random.binomial(1, self.keep, size=x.shape)
                    return np.multiply(x, self.mask) / self.keep

                def backward(self, grad):
                    return np.multiply(grad, self.mask) / self.keep
            """
        ),
        Valid(
            """
            class SaltNoise:
                def forward(self, x):
                    self.noise = np.random.rand(*x.shape) < 0.05
                    return x + self.noise

                def backward(self, grad):
                    return grad
            """,
            note="Added, not multiplied: the derivative of x + noise is 1.",
        ),
        Valid(
            """
            class Dropout:
                def __init__(self, keep):
                    self.keep = keep

                def forward(self, x):
                    self.mask = np.random.rand(*x.shape) < self.keep
                    return x * self.mask / self.keep

                def backward(self, grad):
                    return self.apply_mask(grad) / self.keep
            """,
            note="A helper the module does not show may apply the mask: not judged.",
        ),
        Valid(
            """
            class Tanh:
                def forward(self, x):
                    self.out = np.tanh(x)
                    return self.out

                def backward(self, grad):
                    return grad * (1 - self.out**2)
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            class Dropout:
                def __init__(self, p=0.5):
                    self.p = p

                def forward(self, x):
                    mask = np.random.rand(*x.shape) < self.p
                    return x * mask / self.p

                def backward(self, dout):
                    mask = np.random.rand(*dout.shape) < self.p
                    return dout * mask / self.p
            """,
            at=(10, 16),
            note="The forward never saved its mask, so the backward drew another.",
        ),
        Invalid(
            """
            class Dropout:
                def __init__(self, keep):
                    self.keep = keep

                def forward(self, x):
                    self.mask = (np.random.rand(*x.shape) < self.keep) / self.keep
                    return x * self.mask

                def backward(self, grad):
                    return grad * (np.random.rand(*grad.shape) < self.keep) / self.keep
            """,
            at=(10, 24),
        ),
        Invalid(
            """
            class Dropout:
                def __init__(self, keep=0.8):
                    self.keep = keep

                def forward(self, x):
                    self.mask = np.random.binomial(1, self.keep, size=x.shape)
                    return x * self.mask / self.keep

                def backward(self, grad):
                    return grad / self.keep
            """,
            at=(10, 16),
            note="The scale without the mask.",
        ),
        Invalid(
            """
            class Dropout:
                def __init__(self, p):
                    self.p = p

                def forward(self, x):
                    self.mask = np.random.rand(*x.shape) < self.p
                    x *= self.mask
                    return x

                def backward(self, dout):
                    return dout
            """,
            at=(11, 16),
            note="'Dropout has no weights': the gradient passed on as if nothing was dropped.",
        ),
        Invalid(
            """
            def dropout_forward(x, p):
                mask = (np.random.rand(*x.shape) < p) / p
                out = x * mask
                return out, (p, mask)

            def dropout_backward(dout, cache):
                dx = dout
                return dx
            """,
            at=(8, 12),
        ),
        Invalid(
            """
            def dropout_forward(x, p):
                mask = (np.random.rand(*x.shape) < p) / p
                return x * mask, (p, mask)

            def dropout_backward(dout, cache):
                p, mask = cache
                fresh = (np.random.rand(*dout.shape) < p) / p
                return dout * fresh
            """,
            at=(7, 14),
        ),
        Invalid(
            """
            class Dropout:
                def __init__(self, keep):
                    self.keep = keep

                def __call__(self, h):
                    self.d = np.random.binomial(1, self.keep, h.shape)
                    return h * self.d / self.keep

                def backward(self, delta):
                    d = np.random.binomial(1, self.keep, delta.shape)
                    return delta * d / self.keep
            """,
            at=(10, 13),
        ),
        Invalid(
            """
            class Dropout:
                def __init__(self, rate):
                    self.rate = rate

                def forward(self, inputs):
                    self.inputs = inputs
                    keep = np.random.rand(*inputs.shape) >= self.rate
                    self.kept = keep.astype(float) / (1 - self.rate)
                    return inputs * self.kept

                def backward(self, upstream):
                    return upstream / (1 - self.rate)
            """,
            at=(12, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for z in masks_not_reused(model):
            mask = model.src(z.forward_mask).strip()
            evidence = ((z.forward_mask, "the forward pass multiplies by this mask"),)
            if z.fresh:
                message = (
                    f"`{model.src(z.node).strip()}` draws a new mask in backward: the gradient "
                    f"must go through the mask the forward applied (`{mask}`), saved for "
                    "backward, not through another draw"
                )
            else:
                message = (
                    f"`{model.src(z.node).strip()}` passes the gradient on without the mask "
                    f"the forward applied (`{mask}`): multiply by the saved mask, as the "
                    "forward did"
                )
            yield Report(z.node, message, evidence=evidence)
