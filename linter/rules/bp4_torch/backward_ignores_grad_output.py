"""BP408: a custom autograd backward returns a gradient that ignores grad_output."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{cls}.backward` returns `{value}`, which does not depend on the incoming gradient "
    "`{grad}`: that is the local derivative alone; multiply it by `{grad}` (the chain rule)"
)


class BackwardIgnoresGradOutput(Rule):
    """Flags a ``torch.autograd.Function.backward`` whose returned gradient never uses the
    gradient it receives (``grad_output``) except for its shape."""

    code = "BP408"
    prefilter = (P.BASE, P.AUTOGRAD_FUNCTION)
    name = "backward-ignores-grad-output"
    kb = "custom-backward-ignores-grad-output"
    summary = "Custom autograd backward returns a gradient that does not use grad_output."
    why = (
        "`backward` receives dL/d(output) and must return dL/d(input) = grad_output times the "
        "local derivative. Returning only the local derivative (or `ones_like(grad_output)`) "
        "drops everything downstream of the Function: every upstream layer trains on a "
        "gradient as if the loss were the sum of this Function's outputs."
    )
    instead = "Return `grad_output * local_derivative` (or `grad_output` itself for an identity)."
    known_problems = (
        "Dependence is followed through the assignments of `backward`; `None` and zeros "
        "(a deliberate 'no gradient') are not findings; shape-only uses such as "
        "`ones_like(grad_output)` or `grad_output.size()` do not count as using it."
    )
    valid = [
        Valid(
            """
            import torch

            class Exp(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = x.exp()
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return grad_output * y
            """
        ),
        Valid(
            """
            import torch

            class ReverseGrad(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, alpha):
                    ctx.alpha = alpha
                    return x.view_as(x)

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output.neg() * ctx.alpha, None
            """,
            note="gradient reversal: deliberate, and it uses grad_output",
        ),
        Valid(
            """
            import torch

            class SignSTE(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x.sign()

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output
            """,
            note="straight-through estimator",
        ),
        Valid(
            """
            import torch

            class ClippedSTE(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.round()

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    grad = grad_output.clone()
                    grad[x.abs() > 1] = 0
                    return grad
            """
        ),
        Valid(
            """
            import torch
            from torch.autograd import Function

            class MulConst(Function):
                @staticmethod
                def forward(ctx, x, k):
                    ctx.k = k
                    return x * k

                @staticmethod
                def backward(ctx, g):
                    return g * ctx.k, None
            """
        ),
        Valid(
            """
            import torch

            class Gather(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, index):
                    ctx.save_for_backward(index)
                    ctx.n = x.shape[0]
                    return x[index]

                @staticmethod
                def backward(ctx, grad_output):
                    (index,) = ctx.saved_tensors
                    grad = grad_output.new_zeros((ctx.n,) + grad_output.shape[1:])
                    grad.index_add_(0, index, grad_output)
                    return grad, torch.zeros_like(index)
            """
        ),
        Valid(
            """
            import torch

            class Square(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x * x

                @staticmethod
                def backward(ctx, *grads):
                    (x,) = ctx.saved_tensors
                    return 2 * x * grads[0]
            """
        ),
        Valid(
            """
            import torch

            class Layer:
                def backward(self, grad):
                    return torch.ones_like(grad)
            """,
            note="not an autograd Function",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch

            class Exp(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    y = x.exp()
                    ctx.save_for_backward(y)
                    return y

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return y
            """,
            at=(13, 16),
        ),
        Invalid(
            """
            import torch

            class SignSTE(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x.sign()

                @staticmethod
                def backward(ctx, grad_output):
                    return torch.ones_like(grad_output)
            """,
            at=(10, 16),
        ),
        Invalid(
            """
            import torch

            class Sigmoid(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    s = torch.sigmoid(x)
                    ctx.save_for_backward(s)
                    return s

                @staticmethod
                def backward(ctx, grad_output):
                    (s,) = ctx.saved_tensors
                    local = s * (1 - s)
                    return local
            """,
            at=(14, 16),
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
                def backward(ctx, grad_output):
                    a, b = ctx.saved_tensors
                    return grad_output * b, a
            """,
            at=(12, 33),
        ),
        Invalid(
            """
            from torch.autograd import Function

            class Relu(Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return (x > 0).float()
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class BinActive(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.sign()

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    grad_input = torch.ones_like(grad_output)
                    grad_input[x.ge(1)] = 0
                    grad_input[x.le(-1)] = 0
                    return grad_input
            """,
            at=(15, 16),
        ),
        Invalid(
            """
            import torch

            class Tanh(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    t = x.tanh()
                    ctx.save_for_backward(t)
                    return t

                @staticmethod
                def backward(ctx, grad_output):
                    (t,) = ctx.saved_tensors
                    n = grad_output.size(0)
                    return (1 - t * t) / n
            """,
            at=(14, 16),
        ),
        Invalid(
            """
            import torch

            class Dist(torch.autograd.Function):
                @staticmethod
                def forward(ctx, w, x):
                    ctx.save_for_backward(w, x)
                    return -(w - x).abs().sum(1)

                @staticmethod
                def backward(ctx, grad_output):
                    w, x = ctx.saved_tensors
                    grad_w = (x - w) * grad_output.unsqueeze(1)
                    grad_x = (w - x).clamp(-1, 1)
                    return grad_w, grad_x
            """,
            at=(14, 24),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for fn, value, evidence in facts(model).ignored_gradients():
            text = " ".join(model.src(value).split())
            text = text if len(text) <= 40 else text[:37] + "..."
            grad = fn.grad_params[0]
            yield Report(
                value, MESSAGE.format(cls=fn.cls, value=text, grad=grad), evidence=evidence
            )
