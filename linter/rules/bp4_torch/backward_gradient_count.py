"""BP409: a custom autograd backward returns a different number of gradients than forward's
inputs."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{cls}.backward` returns {count} gradient(s), but `forward` takes {expected} input(s) after "
    "ctx: PyTorch raises 'returned an incorrect number of gradients'; return one per input "
    "(None for inputs that need none)"
)


SWITCH = (
    "`{cls}.backward` returns {count} gradient(s), but `forward` branches on `{name}`, its "
    "input {pos} with a default: that branch runs only for a caller who passes `{name}`, and "
    "such a call raises 'returned an incorrect number of gradients (expected {n}, got "
    "{count})'; return a None for it as well (a trailing None for an input not passed is "
    "ignored)"
)


class BackwardGradientCount(Rule):
    """Flags a ``backward`` whose returned tuple does not match ``forward``'s inputs."""

    code = "BP409"
    prefilter = (P.BASE, P.AUTOGRAD_FUNCTION)
    name = "backward-gradient-count"
    kb = "custom-backward-wrong-gradient-count-or-order"
    summary = "Custom autograd backward returns the wrong number of gradients."
    why = (
        "`backward` must return one gradient per argument of `forward` (after ctx), in order, "
        "with None for non-tensor or non-differentiable ones. Too few or too many raises at the "
        "first backward pass; in code paths tests rarely take (a flag, an evaluation-only "
        "branch) that error surfaces late."
    )
    instead = "Return a tuple with one entry per `forward` input: the gradient or None."
    known_problems = (
        "Counted only when the return is a literal tuple or a single expression; inputs with "
        "defaults may be omitted by callers, so the count may lie between the required and "
        "the total number of inputs."
    )
    valid = [
        Valid(
            """
            import torch

            class Frozen(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x.sign()

                @staticmethod
                def backward(ctx, g):
                    pass
            """,
            note="one input and no return: None is its (empty) gradient",
        ),
        Valid(
            """
            import torch

            class NoGrad(torch.autograd.Function):
                @staticmethod
                def forward(ctx, a, b):
                    return a + b

                @staticmethod
                def backward(ctx, g):
                    raise RuntimeError("not differentiable")
            """,
        ),
        Valid(
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
                    return g * b, g * a
            """
        ),
        Valid(
            """
            import torch

            class Scale(torch.autograd.Function):
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

            class Sign(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, training=True):
                    return x.sign()

                @staticmethod
                def backward(ctx, g):
                    return g, None
            """,
            note="an input with a default that forward does not branch on: one or two "
            "gradients are both accepted",
        ),
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
                def backward(ctx, g):
                    (y,) = ctx.saved_tensors
                    return g * y
            """
        ),
        Valid(
            """
            import torch

            class Cat(torch.autograd.Function):
                @staticmethod
                def forward(ctx, *xs):
                    ctx.sizes = [x.shape[0] for x in xs]
                    return torch.cat(xs)

                @staticmethod
                def backward(ctx, g):
                    return tuple(g.split(ctx.sizes))
            """
        ),
        Valid(
            """
            import torch

            class Affine(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, w, b):
                    ctx.save_for_backward(x, w)
                    return x @ w + b

                @staticmethod
                def backward(ctx, g):
                    x, w = ctx.saved_tensors
                    grads = (g @ w.T, x.T @ g, g.sum(0))
                    return grads
            """
        ),
        Valid(
            """
            import torch

            class Id(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x.clone()

                @staticmethod
                def backward(ctx, g):
                    return g.clone()
            """
        ),
        Valid(
            """
            class Layer:
                def forward(self, x, w):
                    return x @ w

                def backward(self, g):
                    return g
            """,
            note="not an autograd Function",
        ),
        Valid(
            """
            import torch

            class Quantize(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, stochastic=False):
                    if stochastic:
                        return (x + torch.rand_like(x) - 0.5).round()
                    return x.round()

                @staticmethod
                def backward(ctx, g):
                    return g, None
            """,
            note="forward branches on a defaulted input and backward has a slot for it",
        ),
        Valid(
            """
            import torch

            class Quantize(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, stochastic=False):
                    if stochastic:
                        return (x + torch.rand_like(x) - 0.5).round()
                    return x.round()

                @staticmethod
                def backward(ctx, g):
                    return g

            def quantize(x):
                return Quantize.apply(x)
            """,
            note="every apply call in the module leaves the defaulted input out",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            from torch.autograd import Function

            class Dist(Function):
                @staticmethod
                def forward(ctx, w, x):
                    ctx.save_for_backward(w, x)
                    return -(w - x).abs()

                @staticmethod
                def backward(ctx, g):
                    w, x = ctx.saved_tensors
                    gw = (x - w) * g
                    gx = (w - x) * g
            """,
            at=(11, 9),
            note="no return statement: backward returns None for two inputs",
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
                    return g * b
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
                    return g * ctx.k
            """,
            at=(11, 16),
            note="None missing for the constant",
        ),
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
                def backward(ctx, g):
                    (y,) = ctx.saved_tensors
                    return g * y, None
            """,
            at=(13, 16),
        ),
        Invalid(
            """
            import torch

            class Affine(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, w, b):
                    ctx.save_for_backward(x, w)
                    return x @ w + b

                @staticmethod
                def backward(ctx, g):
                    x, w = ctx.saved_tensors
                    return g @ w.T, x.T @ g
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            from torch.autograd import Function

            class Dist(Function):
                @staticmethod
                def forward(ctx, w, x, p):
                    ctx.save_for_backward(w, x)
                    return (w - x).abs().pow(p).sum()

                @staticmethod
                def backward(ctx, g):
                    w, x = ctx.saved_tensors
                    return g * (w - x).sign(), -g * (w - x).sign()
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            import torch

            class Clamp(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, lo, hi):
                    ctx.save_for_backward(x)
                    ctx.lo, ctx.hi = lo, hi
                    return x.clamp(lo, hi)

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    inside = (x >= ctx.lo) & (x <= ctx.hi)
                    return g * inside, None
            """,
            at=(14, 16),
        ),
        Invalid(
            """
            import torch

            class Sq(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x * x

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    grads = (2 * x * g, None)
                    return grads
            """,
            at=(13, 16),
        ),
        Invalid(
            """
            import torch

            class Lerp(torch.autograd.Function):
                @staticmethod
                def forward(ctx, a, b, t):
                    ctx.t = t
                    return a + (b - a) * t

                @staticmethod
                def backward(ctx, g):
                    if ctx.t is None:
                        return g, g, None
                    return g * (1 - ctx.t), g * ctx.t
            """,
            at=(13, 16),
        ),
        Invalid(
            """
            import torch

            class NoisySign(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, train=True):
                    if not train:
                        return x.sign()
                    noise = torch.rand_like(x)
                    return torch.where((1 + x) / 2 > noise, 1.0, -1.0)

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output
            """,
            at=(13, 16),
            note="the eval branch runs only for a caller passing train=False, which raises",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for fn, ret, count, required, most, evidence in facts(model).gradient_counts():
            expected = str(required) if required == most else f"{required} to {most}"
            got = "no `return`, so a single None instead of" if count == 0 else f"{count}"
            message = MESSAGE.format(cls=fn.cls, count=got, expected=expected)
            yield Report(ret, message, evidence=evidence)
        for fn, ret, count, name, n, evidence in facts(model).switch_without_gradient():
            message = SWITCH.format(cls=fn.cls, count=count, name=name, pos=count + 1, n=n)
            yield Report(ret, message, evidence=evidence)
