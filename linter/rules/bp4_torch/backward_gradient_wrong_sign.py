"""BP419: a custom backward returns a gradient of the opposite sign to forward's derivative."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_scalar import wrong_signs
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{cls}.backward` returns a gradient for `{x}` whose sign is opposite to the derivative of "
    "`forward` at all {n} points tried (tensors read as scalars): the local derivative has a "
    "sign error, so everything below this op is pushed to increase the loss; check the sign of "
    "each factor (d|w - x|/dx = -sign(w - x), d exp(-x)/dx = -exp(-x), d(1/x)/dx = -1/x^2)"
)


class BackwardGradientWrongSign(Rule):
    """Flags a ``torch.autograd.Function.backward`` whose gradient for an input has the opposite
    sign of forward's derivative wherever both are non-zero."""

    code = "BP419"
    prefilter = (P.BASE, P.AUTOGRAD_FUNCTION)
    name = "backward-gradient-wrong-sign"
    kb = "custom-backward-drops-local-derivative"
    summary = "Custom autograd backward returns a gradient of the wrong sign."
    why = (
        "`backward` must return grad_output times the local derivative of `forward`. A sign "
        "slip in that derivative (the minus of -|w - x| or of exp(-x) dropped, (x - y) written "
        "for (y - x)) returns the gradient of the opposite function: gradient descent then "
        "climbs the loss through this op, silently, since shapes and magnitudes stay right."
    )
    instead = (
        "Derive the local derivative once by hand and compare it with "
        "`torch.autograd.gradcheck(Fn.apply, inputs)` on double-precision inputs."
    )
    known_problems = (
        "`forward` and `backward` are read as functions of scalars (tensors as single numbers: "
        "reshapes, sums and transposes drop out) and evaluated at eight fixed points; only "
        "straight-line code built from arithmetic, abs, exp, log, sigmoid, tanh, sqrt, sin, cos, "
        "clamp and reshapes is judged (a branch, a loop, a helper call or an in-place write "
        "leaves the Function alone). Inputs in which `forward` is linear are not judged: a "
        "negated gradient there is a deliberate gradient reversal. Magnitudes are not compared, "
        "so a deliberately approximate backward (a clipped or rescaled gradient) passes."
    )
    valid = [
        Valid(
            """
            import torch

            class Exp(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = torch.exp(x)
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, g):
                    (y,) = ctx.saved_tensors
                    return g * y
            """
        ),
        Valid(
            """
            import torch

            class GradReverse(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, alpha):
                    ctx.alpha = alpha
                    return x.view_as(x)

                @staticmethod
                def backward(ctx, g):
                    return g.neg() * ctx.alpha, None
            """,
            note="forward is linear in x: the negated gradient is a deliberate reversal",
        ),
        Valid(
            """
            import torch

            class NegL1Distance(torch.autograd.Function):
                @staticmethod
                def forward(ctx, w, x):
                    ctx.save_for_backward(w, x)
                    return -(w.unsqueeze(2) - x.unsqueeze(0)).abs().sum(1)

                @staticmethod
                def backward(ctx, g):
                    w, x = ctx.saved_tensors
                    grad_w = ((x.unsqueeze(0) - w.unsqueeze(2)) * g.unsqueeze(1)).sum(2)
                    grad_x = ((w.unsqueeze(2) - x.unsqueeze(0)).clamp(-1, 1) * g.unsqueeze(1)).sum(0)
                    return grad_w, grad_x
            """,
            note="approximate (full-precision and clipped) gradients with the right signs",
        ),
        Valid(
            """
            import torch

            class SignSTE(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return torch.sign(x)

                @staticmethod
                def backward(ctx, g):
                    return -g
            """,
            note="forward is flat almost everywhere: its derivative says nothing of the sign",
        ),
        Valid(
            """
            import torch

            class Square(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x**2

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return 2 * x * g
            """
        ),
        Valid(
            """
            import torch

            class Sigmoid(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = torch.sigmoid(x)
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, g):
                    (y,) = ctx.saved_tensors
                    return g * y * (1 - y)
            """
        ),
        Valid(
            """
            import torch

            class L1Loss(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, y):
                    ctx.save_for_backward(x, y)
                    return (x - y).abs().sum()

                @staticmethod
                def backward(ctx, g):
                    x, y = ctx.saved_tensors
                    d = torch.sign(x - y) * g
                    return d, -d
            """
        ),
        Valid(
            """
            import torch

            class Clipped(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    if x.requires_grad:
                        x = x * 2
                    return torch.exp(-x)

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return g * torch.exp(-x)
            """,
            note="a branch in forward: not read, not judged",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch

            class SquaredError(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, y):
                    ctx.save_for_backward(x, y)
                    return ((y - x) ** 2).sum()

                @staticmethod
                def backward(ctx, g):
                    x, y = ctx.saved_tensors
                    return 2 * (y - x) * g, 2 * (y - x) * g
            """,
            at=(12, 16),
            note="d(y - x)^2/dx is -2(y - x)",
        ),
        Invalid(
            """
            import torch

            class Decay(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = torch.exp(-x)
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, g):
                    (y,) = ctx.saved_tensors
                    return g * y
            """,
            at=(13, 16),
        ),
        Invalid(
            """
            import torch

            class Reciprocal(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return 1 / x

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return g / (x * x)
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class LogOneMinus(torch.autograd.Function):
                @staticmethod
                def forward(ctx, p):
                    ctx.save_for_backward(p)
                    return torch.log(1 - p)

                @staticmethod
                def backward(ctx, g):
                    (p,) = ctx.saved_tensors
                    return g / (1 - p)
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class NegL1Distance(torch.autograd.Function):
                @staticmethod
                def forward(ctx, w, x):
                    ctx.save_for_backward(w, x)
                    return -(w.unsqueeze(2) - x.unsqueeze(0)).abs().sum(1)

                @staticmethod
                def backward(ctx, g):
                    w, x = ctx.saved_tensors
                    grad_w = ((x.unsqueeze(0) - w.unsqueeze(2)) * g.unsqueeze(1)).sum(2)
                    grad_x = ((x.unsqueeze(0) - w.unsqueeze(2)).clamp(-1, 1) * g.unsqueeze(1)).sum(0)
                    return grad_w, grad_x
            """,
            at=(13, 18),
            note="the minus of -|w - x| is lost in the input gradient; reported where it is made",
        ),
        Invalid(
            """
            import torch

            class Cos(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return torch.cos(x)

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return g * torch.sin(x)
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class SoftplusNeg(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return torch.log(1 + torch.exp(-x))

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    grad = grad_output * torch.sigmoid(-x)
                    return grad
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class Gaussian(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = torch.exp(-x**2)
                    ctx.save_for_backward(x, y)
                    return y

                @staticmethod
                def backward(ctx, g):
                    x, y = ctx.saved_tensors
                    return 2 * x * y * g
            """,
            at=(13, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for flip in wrong_signs(model):
            yield Report(
                flip.at,
                MESSAGE.format(cls=flip.function.cls, x=flip.name, n=flip.points),
                evidence=flip.evidence,
            )
