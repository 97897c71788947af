"""BP420: a custom autograd Function writes in place into a tensor it does not own."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_inplace import inplace
from linter.rule import Invalid, Report, Rule, Valid

MESSAGES = {
    "grad_output": (
        "`{cls}.backward` writes in place into `{name}`, the incoming gradient `{source}` "
        "itself, not a copy: autograd hands the same tensor to the other branches of a sum "
        "and to the caller of `backward(v)`, which then see the changed values; after "
        "`y.sum().backward()` it is one value expanded, and a masked write zeroes every "
        "entry; clone it first (`{source}.clone()`)"
    ),
    "saved input": (
        "`{cls}.backward` writes in place into `{name}`, the caller's input `{source}` that "
        "forward saved: no error (autograd checks a saved tensor when it is unpacked, not "
        "after), and the caller's tensor is changed; write into a copy (`{name}.clone()`)"
    ),
    "saved output": (
        "`{cls}.backward` writes in place into `{name}`, the output `{source}` forward "
        "returned and saved: no error, and the caller's output tensor is changed; write into "
        "a copy (`{name}.clone()`)"
    ),
    "input after save": (
        "`{cls}.forward` writes in place into its input `{name}` after `save_for_backward` "
        "saved it: no error, backward reads the changed values (a wrong gradient) and the "
        "caller's tensor is changed; compute out of place (`{name} = {name}.clamp(...)`) or "
        "declare it with `ctx.mark_dirty({name})`"
    ),
}

EVIDENCE = {
    "grad_output": "`{source}` is the gradient `{cls}.backward` receives, and `{name}` is that "
    "tensor itself: no copy is made on the way",
    "grad_output itself": "`{source}` is the gradient `{cls}.backward` receives: the tensor "
    "autograd hands in, not a copy",
    "saved input": "`{name}` is unpacked here from `ctx.saved_tensors`: the input `{source}` "
    "that forward saved, the caller's own tensor",
    "saved output": "`{name}` is unpacked here from `ctx.saved_tensors`: the output `{source}` "
    "that forward returned and saved",
    "input after save": "`{name}` is saved for backward here, before the write changes it",
}


class FunctionWritesHeldTensor(Rule):
    """Flags an in-place write, inside a ``torch.autograd.Function``, into a tensor that
    autograd or the caller still holds: the incoming gradient or a saved input or output in
    ``backward``, or an input ``forward`` already saved."""

    code = "BP420"
    prefilter = (P.BASE, P.AUTOGRAD_FUNCTION)
    name = "function-writes-held-tensor"
    kb = "custom-function-inplace-write"
    summary = "Custom autograd Function changes grad_output or a saved tensor in place."
    why = (
        "`grad_output` and the tensors `ctx.saved_tensors` returns are not copies: the "
        "gradient may be shared with other branches of the graph (or be an expanded scalar "
        "after `.sum()`), and a saved input is the caller's own tensor. PyTorch checks a saved "
        "tensor's version only when backward unpacks it, so a write after that point, or a "
        "write in forward after `save_for_backward`, raises nothing: the gradient elsewhere is "
        "wrong, or the caller's tensor changes under it."
    )
    instead = (
        "Write into a copy, as the PyTorch tutorial's ReLU does: "
        "`grad_input = grad_output.clone(); grad_input[x < 0] = 0`; in forward, compute out "
        "of place or mark the changed input with `ctx.mark_dirty`."
    )
    known_problems = (
        "A name keeps the tensor through plain assignment and views (`.view`, `.t()`, "
        "`.detach()`, `.data`); any other binding ends it, including `.contiguous()` and "
        "`.reshape()`, which may return the same tensor. Writes into tensors forward makes "
        "for itself and saves are not flagged, nor writes reached through a helper."
    )
    valid = [
        Valid(
            """
            import torch

            class MyReLU(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    grad_input = grad_output.clone()
                    grad_input[x < 0] = 0
                    return grad_input
            """,
            note="the PyTorch tutorial's ReLU: the mask is written into a copy",
        ),
        Valid(
            """
            import torch

            class Clip(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(-1, 1)

                @staticmethod
                def backward(ctx, g):
                    (x,) = ctx.saved_tensors
                    return g * (x.abs() <= 1).to(g.dtype)
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
                def backward(ctx, grad_output):
                    x, = ctx.saved_tensors
                    x = x.clone()
                    x.mul_(2)
                    return grad_output * x
            """,
            note="rebound to a copy before the write",
        ),
        Valid(
            """
            import torch

            class Mask(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    mask = (x > 0).float()
                    ctx.save_for_backward(mask)
                    return x * mask

                @staticmethod
                def backward(ctx, grad_output):
                    (mask,) = ctx.saved_tensors
                    mask.mul_(grad_output)
                    return mask
            """,
            note="a tensor forward made for itself: no caller holds it",
        ),
        Valid(
            """
            import torch

            class ReluInplace(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    x.clamp_(min=0)
                    ctx.mark_dirty(x)
                    ctx.save_for_backward(x)
                    return x

                @staticmethod
                def backward(ctx, grad_output):
                    (y,) = ctx.saved_tensors
                    return grad_output * (y > 0).to(grad_output.dtype)
            """,
            note="an in-place forward declared with mark_dirty",
        ),
        Valid(
            """
            import torch

            class Scale(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, k):
                    x = x * k
                    ctx.save_for_backward(x)
                    x.add_(1)
                    return x

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output * 2, None
            """,
            note="the name was rebound to forward's own tensor before it was saved",
        ),
        Valid(
            """
            import torch

            class Sign(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.sign()

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    grad = grad_output * 1.0
                    grad[x.abs() > 1] = 0
                    grad.requires_grad_(False)
                    return grad
            """,
            note="grad_output * 1.0 is a new tensor",
        ),
        Valid(
            """
            import torch

            class Noise(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    out = x.clone()
                    out.add_(torch.randn_like(out))
                    return out

                @staticmethod
                def backward(ctx, grad_output):
                    return grad_output
            """,
            note="forward writes into its own copy, nothing saved",
        ),
        Valid(
            """
            def relu_backward(grad_output, x):
                grad_output[x < 0] = 0
                return grad_output
            """,
            note="not an autograd Function",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch

            class MyReLU(torch.autograd.Function):
                @staticmethod
                def forward(ctx, input):
                    ctx.save_for_backward(input)
                    return input.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    input, = ctx.saved_tensors
                    grad_output[input < 0] = 0
                    return grad_output
            """,
            at=(12, 9),
        ),
        Invalid(
            """
            import torch

            class MyReLU(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return x.clamp(min=0)

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    grad_input = grad_output
                    grad_input[x < 0] = 0
                    return grad_input
            """,
            at=(13, 9),
            note="an alias is not a copy",
        ),
        Invalid(
            """
            import torch

            class LeakyGrad(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    return torch.where(x > 0, x, 0.01 * x)

                @staticmethod
                def backward(ctx, g):
                    x, = ctx.saved_tensors
                    x[x > 0] = 1
                    x[x <= 0] = 0.01
                    return g * x
            """,
            at=(12, 9),
            note="the saved input is the caller's tensor (the second write is the same fault)",
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
                def backward(ctx, grad_output):
                    y = ctx.saved_tensors[0]
                    return y.mul_(grad_output)
            """,
            at=(13, 16),
            note="the saved output is the tensor the caller holds",
        ),
        Invalid(
            """
            import torch

            class Half(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    ctx.save_for_backward(x)
                    x.mul_(0.5)
                    return x.exp()

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * 0.5 * (0.5 * x).exp()
            """,
            at=(7, 9),
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
                def backward(ctx, grad):
                    (x,) = ctx.saved_tensors
                    grad.masked_fill_((x < ctx.lo) | (x > ctx.hi), 0)
                    return grad, None, None
            """,
            at=(13, 9),
        ),
        Invalid(
            """
            import torch

            class Scaled(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, scale):
                    ctx.scale = scale
                    return x * scale

                @staticmethod
                def backward(ctx, grad_output):
                    grad_output *= ctx.scale
                    return grad_output, None
            """,
            at=(11, 9),
            note="*= on a tensor writes in place",
        ),
        Invalid(
            """
            import torch

            class Binarize(torch.autograd.Function):
                @staticmethod
                def forward(ctx, w):
                    ctx.save_for_backward(w)
                    return w.sign()

                @staticmethod
                def backward(ctx, grad_output):
                    (w,) = ctx.saved_tensors
                    g = grad_output.view(-1)
                    g[w.view(-1).abs() > 1] = 0
                    return grad_output
            """,
            at=(13, 9),
            note="a view shares the gradient's memory",
        ),
        Invalid(
            """
            from torch.autograd import Function

            class Threshold(Function):
                @staticmethod
                def forward(ctx, x, t):
                    ctx.save_for_backward(x)
                    x.data[x.data < t] = 0
                    return x.clone()

                @staticmethod
                def backward(ctx, grad_output):
                    (x,) = ctx.saved_tensors
                    return grad_output * (x > 0).float(), None
            """,
            at=(7, 9),
            note="a write through .data after the save",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        seen: set[tuple[str, str]] = set()
        for w in inplace(model).writes():
            key = (w.fn.cls, w.name)
            if key in seen:
                continue  # one finding per tensor and Function
            seen.add(key)
            yield Report(
                w.node,
                MESSAGES[w.kind].format(cls=w.fn.cls, name=w.name, source=w.source),
                evidence=(
                    (
                        w.origin,
                        EVIDENCE[
                            "grad_output itself"
                            if w.kind == "grad_output" and w.name == w.source
                            else w.kind
                        ].format(cls=w.fn.cls, name=w.name, source=w.source),
                    ),
                ),
            )
