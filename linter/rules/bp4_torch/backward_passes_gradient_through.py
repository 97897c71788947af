"""BP417: a custom backward passes grad_output through unchanged for a non-identity forward."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{cls}.backward` returns the incoming gradient `{grad}` unchanged for `{x}`, but `forward` "
    "computes `{out}` from it, whose derivative is not 1: multiply `{grad}` by the local "
    "derivative (passing it through is right only for the identity, or on purpose for a "
    "non-differentiable forward such as sign or round)"
)

UNREAD = (
    "`{cls}.forward` takes `{x}` only to hand it to backward (`{store}`), but `backward` never "
    "reads it: the gradient it returns lacks the factor `{x}` was passed for (a gradient "
    "reversal without its `alpha`); multiply the gradient by it, or drop the input"
)


class BackwardPassesGradientThrough(Rule):
    """Flags a ``torch.autograd.Function.backward`` that returns ``grad_output`` as it came for
    an input of which ``forward`` computes a smooth, non-identity function."""

    code = "BP417"
    prefilter = (P.BASE, P.AUTOGRAD_FUNCTION)
    name = "backward-passes-gradient-through"
    kb = "custom-backward-drops-local-derivative"
    summary = "Custom backward returns grad_output unchanged for a differentiable non-identity op."
    why = (
        "Each op multiplies the upstream gradient by its own local derivative. Returning "
        "`grad_output` unchanged is the derivative of the identity: for `exp`, `sigmoid`, a "
        "product or a power it is wrong wherever the op is not close to the identity, and the "
        "weights below the op get entries of the wrong sign."
    )
    instead = (
        "Save what the derivative needs in `forward` (`ctx.save_for_backward`) and return "
        "`grad_output * local_derivative`."
    )
    known_problems = (
        "Only forwards built from known smooth operations (arithmetic, exp, log, sigmoid, tanh, "
        "powers, trigonometric functions, reshapes) are judged. A forward with a "
        "non-differentiable or unknown part (sign, round, comparisons, clamp, a helper call) "
        "is taken as a deliberate straight-through estimator; a negated or clipped gradient "
        "(gradient reversal, clipping) is not unchanged and is not flagged. Also flagged: a "
        "forward input whose only use is `ctx.name = input` (it changes nothing in forward's "
        "output) that backward never reads: the factor it was passed for is missing from the "
        "gradient; when backward hands `ctx` to a helper, or the input has a non-numeric "
        "default (a switch such as `is_training=True`), nothing is said."
    )
    valid = [
        Valid(
            """
            import torch

            class Identity(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x.view_as(x)

                @staticmethod
                def backward(ctx, g):
                    return g
            """,
            note="forward is the identity: its derivative is 1",
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
                    return g
            """,
            note="straight-through estimator of a non-differentiable forward",
        ),
        Valid(
            """
            import torch

            class RoundSTE(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, scale):
                    return torch.round(x * scale) / scale

                @staticmethod
                def backward(ctx, g):
                    return g, None
            """,
            note="quantisation: rounding is not differentiable, pass-through is deliberate",
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
            note="gradient reversal: the returned gradient is negated, not unchanged",
        ),
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
            """,
        ),
        Valid(
            """
            import torch

            class Add(torch.autograd.Function):
                @staticmethod
                def forward(ctx, a, b):
                    return a + b

                @staticmethod
                def backward(ctx, g):
                    return g, g
            """,
            note="a sum: its derivative with respect to each term is 1",
        ),
        Valid(
            """
            import torch

            class ClipGrad(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x.clone()

                @staticmethod
                def backward(ctx, g):
                    return g.clamp(-1.0, 1.0)
            """,
            note="gradient clipping",
        ),
        Valid(
            """
            import torch

            class BinActive(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.sign()

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    grad = g.clone()
                    grad[x.abs() > 1] = 0
                    return grad
            """,
            note="clipped straight-through estimator",
        ),
        Valid(
            """
            import torch

            class Quant(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return quantize(x) * 2.0

                @staticmethod
                def backward(ctx, g):
                    return g
            """,
            note="an unknown helper in forward: not judged",
        ),
        Valid(
            """
            import torch

            class Binarize(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.x = x
                    return x.sign()

                @staticmethod
                def backward(ctx, g):
                    return g.clone()
            """,
            note="saved and not read, but forward's output depends on it: a plain STE",
        ),
        Valid(
            """
            import torch

            class Scale(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return x.view_as(x)

                @staticmethod
                def backward(ctx, g):
                    return scale_grad(ctx, g), None
            """,
            note="ctx is handed to a helper that may read the factor",
        ),
        Valid(
            """
            import torch

            class Sign(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, is_training=True):
                    ctx.is_training = is_training
                    return x.view_as(x)

                @staticmethod
                def backward(ctx, g):
                    return g.neg(), None
            """,
            note="an unread switch (its default is a flag, not a number) is not a lost factor",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch

            class Exp(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return torch.exp(x)

                @staticmethod
                def backward(ctx, g):
                    return g
            """,
            at=(10, 16),
        ),
        Invalid(
            """
            import torch

            class Sigmoid(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = x.sigmoid()
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output.clone()
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class Scale(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return x * k

                @staticmethod
                def backward(ctx, g):
                    return g, None
            """,
            at=(11, 16),
            note="y = kx: the local derivative is k",
        ),
        Invalid(
            """
            import torch

            class Mul(torch.autograd.Function):
                @staticmethod
                def forward(ctx, a, b):
                    ctx.save_for_backward(a, b)
                    return a * b

                @staticmethod
                def backward(ctx, g):
                    a, b = ctx.saved_tensors
                    return g * b, g
            """,
            at=(12, 23),
            note="the second input's gradient is g * a",
        ),
        Invalid(
            """
            import torch

            class Square(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x ** 2

                @staticmethod
                def backward(ctx, g):
                    return g
            """,
            at=(10, 16),
        ),
        Invalid(
            """
            import torch
            from torch.autograd import Function

            class Tanh(Function):
                @staticmethod
                def forward(ctx, inp):
                    out = torch.tanh(inp)
                    return out.view(-1)

                @staticmethod
                def backward(ctx, grad_out):
                    return grad_out
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class Diff(torch.autograd.Function):
                @staticmethod
                def forward(ctx, a, b):
                    return a - b

                @staticmethod
                def backward(ctx, g):
                    return g, g
            """,
            at=(10, 19),
            note="d(a - b)/db is -1",
        ),
        Invalid(
            """
            import torch

            class Softplus(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return torch.log(1 + torch.exp(x))

                @staticmethod
                def backward(ctx, g):
                    return g
            """,
            at=(11, 16),
        ),
        Invalid(
            """
            import torch

            class GradReverse(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, lambd):
                    ctx.lambd = lambd
                    return x.view_as(x)

                @staticmethod
                def backward(ctx, grad_output):
                    grad = grad_output.neg()
                    return grad, None
            """,
            at=(12, 16),
            note="lambd is stored for backward and never read back: the reversal is unscaled",
        ),
        Invalid(
            """
            import torch

            class ScaleGrad(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, factor):
                    ctx.factor = factor
                    return x.clone()

                @staticmethod
                def backward(ctx, g):
                    return g.clamp(-1, 1), None
            """,
            at=(11, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for fn, el, x, out, evidence in facts(model).passed_through():
            text = " ".join(model.src(out).split())
            text = text if len(text) <= 40 else text[:37] + "..."
            grad = fn.grad_params[0]
            message = MESSAGE.format(cls=fn.cls, grad=grad, x=x, out=text)
            yield Report(el, message, evidence=evidence)
        for fn, x, store, el, evidence in facts(model).unread_factors():
            text = " ".join(model.src(store).split())
            yield Report(el, UNREAD.format(cls=fn.cls, x=x, store=text), evidence=evidence)
