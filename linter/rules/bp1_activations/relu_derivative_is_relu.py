"""BP103 relu-derivative-is-relu."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.evidence import gradient_evidence
from linter.analysis.forms import Kind
from linter.analysis.switches import switch_helpers
from linter.rule import Invalid, Report, Rule, Valid


class ReluDerivativeIsRelu(Rule):
    """A ReLU "derivative" that is ReLU itself (``max(0, z)``) multiplying a gradient."""

    code = "BP103"
    prefilter = (P.BASE, P.RELU_FORM)
    name = "relu-derivative-is-relu"
    kb = "relu-derivative-written-as-relu"
    summary = "ReLU derivative written as max(0, z) instead of the step 1[z > 0]."
    why = (
        "ReLU′(z) is the step function 1[z > 0], not ReLU itself. Multiplying the upstream "
        "gradient by max(0, z) scales it by z on the active side, which looks like exploding "
        "gradients on large inputs and silently biases every update."
    )
    instead = "Multiply by the mask: `dZ = dA * (Z > 0)` (or set `dZ[Z <= 0] = 0`)."
    valid = [
        Valid("def relu_backward(dout, x):\n    return dout * (x > 0)\n"),
        Valid(
            """
            def relu_backward(dout, cache):
                dx = dout.copy()
                dx[cache <= 0] = 0
                return dx
            """
        ),
        Valid(
            """
            def relu(x):
                return np.maximum(0, x)

            def forward(self, x):
                self.h = relu(self.W1 @ x)
                return self.W2 @ self.h
            """,
        ),
        Valid(
            """
            def relu_prime(z):
                return (z > 0).astype(float)

            def backward(self, delta, z):
                return delta * relu_prime(z)
            """
        ),
        Valid(
            """
            def backward(self, grad_output):
                return grad_output * np.where(self.z > 0, 1.0, 0.0)
            """
        ),
        Valid(
            """
            h = np.maximum(0, X @ W1 + b1)
            scores = h @ W2 + b2
            dhidden = dscores @ W2.T
            dhidden[h <= 0] = 0
            """,
        ),
        Valid(
            """
            def leaky(x):
                return np.maximum(0.01 * x, x)
            """,
        ),
        Valid(
            """
            def clip_update(grad, w):
                return np.maximum(0, w - 0.1 * grad)
            """,
            note="A projected step (clip to non-negative) is not a derivative.",
        ),
        Valid(
            """
            def rectify(v, grad=False):
                if grad:
                    return (v > 0).astype(float)
                return np.maximum(0, v)
            """,
            note="A derivative switch whose derivative branch is the step.",
        ),
        Valid(
            """
            class Rect:
                def forward(self, v):
                    self.v = v
                    return np.maximum(0, v)

                def backward(self, g):
                    mask = self.v > 0
                    return mask * g
            """
        ),
        Valid(
            """
            constant = lambda k: lambda v: 0.5
            slope = constant(0)(np.maximum(0, x))
            """,
            note="Nested lambdas are not derivative switches (and must not trip the analysis).",
        ),
    ]
    invalid = [
        Invalid("def relu_backward(dout, x):\n    return dout * np.maximum(0, x)\n", at=(2, 12)),
        Invalid(
            """
            def relu(x):
                return np.maximum(0, x)

            def relu_derivative(x):
                return np.maximum(0, x)

            def backward(self, delta, z):
                return delta * relu_derivative(z)
            """,
            at=(8, 12),
        ),
        Invalid(
            """
            def relu_prime(z):
                return z * (z > 0)

            def backprop(self, delta, zs):
                return np.dot(self.W.T, delta) * relu_prime(zs[-2])
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def backward(self, grad_output):
                return grad_output * np.where(self.z > 0, self.z, 0)
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            import torch

            def backward(ctx, grad_output):
                x, = ctx.saved_tensors
                return grad_output * torch.relu(x)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            Z1 = X @ W1 + b1
            A1 = np.maximum(Z1, 0)
            dZ2 = A2 - Y
            dA1 = dZ2 @ W2.T
            dZ1 = dA1 * np.maximum(Z1, 0)
            """,
            at=(5, 7),
        ),
        Invalid(
            """
            def relu_grad(x):
                return np.maximum(x, 0)

            def layer_backward(dA, cache):
                Z = cache
                return relu_grad(Z) * dA
            """,
            at=(6, 12),
        ),
        Invalid(
            """
            class ReLU:
                def backward(self, dout):
                    dx = dout * np.clip(self.x, 0, None)
                    return dx
            """,
            at=(3, 14),
        ),
        Invalid(
            """
            def rectify(v, grad=False):
                if grad:
                    return np.maximum(0, v)
                return np.maximum(0, v)
            """,
            at=(3, 16),
            note="A derivative switch whose derivative branch is the activation again.",
        ),
        Invalid(
            """
            class Rect:
                def forward(self, v):
                    self.v = v
                    return np.maximum(0, v)

                def backward(self, g):
                    slope = np.maximum(0, self.v)
                    return slope * g
            """,
            at=(8, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in model.c.binops:
            node = site.node
            assert isinstance(node, cst.BinaryOperation)
            if not isinstance(node.operator, cst.Multiply):
                continue
            for grad, other in ((node.left, node.right), (node.right, node.left)):
                if not model.has(grad, site.scope, Role.GRAD):
                    continue
                form = model.forms.form(other, site.scope)
                value = other
                if form is None and isinstance(other, cst.Name):  # dr = np.maximum(0, z); g * dr
                    value = model.forms.through_local(other, site.scope)
                    if value is not other:
                        form = model.forms.form(value, site.scope)
                if form is None or form.kind is not Kind.RELU:
                    continue
                if Role.GRAD in model.roles(form.operand, site.scope):
                    continue
                yield Report(
                    node,
                    f"`{model.src(other)}` is ReLU itself, not its derivative: ReLU′(z) = "
                    f"1[z > 0]; multiply by the mask `({model.src(form.operand)} > 0)` instead",
                    evidence=(
                        *gradient_evidence(model, grad, site.scope),
                        *(
                            [
                                (
                                    value,
                                    f"`{model.src(other)}` is ReLU of `{model.src(form.operand)}`",
                                )
                            ]
                            if value is not other
                            else []
                        ),
                    ),
                )
                break
        for switch in switch_helpers(model):
            form = switch.derivative_form
            if form is None or form.kind is not Kind.RELU:
                continue
            yield Report(
                switch.derivative,
                f"with `{switch.flag}` on, this helper returns ReLU itself, not its derivative: "
                f"ReLU′(z) = 1[z > 0]; return the mask `({model.src(form.operand)} > 0)` "
                f"as floats instead",
                evidence=tuple(
                    (call, f"`{model.src(call)}` turns `{switch.flag}` on: it gets ReLU itself")
                    for call, _ in model.callers(switch.scope)
                    if model.forms.flag_call_kind(call, switch.scope) is Kind.RELU
                )
                or (
                    (
                        switch.scope.node,
                        f"`{switch.scope.name}` returns its derivative when `{switch.flag}` is set",
                    ),
                ),
            )
