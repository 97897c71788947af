"""BP102 tanh-derivative-on-wrong-variable."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.derivatives import derivative_sites
from linter.analysis.evidence import (
    activation_evidence,
    derivative_evidence,
    preactivation_evidence,
)
from linter.analysis.forms import Kind
from linter.rule import Invalid, Report, Rule, Valid


class TanhDerivativeOnWrongVariable(Rule):
    """tanh′ written ``1 - x**2`` evaluated at z, or ``1 - tanh(x)**2`` evaluated at the activation."""

    code = "BP102"
    prefilter = (P.BASE, f"{P.ONE_MINUS}|{P.HELPER_IMPORT}")
    name = "tanh-derivative-on-wrong-variable"
    kb = "activation-derivative-on-wrong-variable"
    summary = "tanh derivative evaluated at the wrong variable (1 − z², or 1 − tanh(a)²)."
    why = (
        "tanh′(z) = 1 − tanh²(z) = 1 − a². `1 - x**2` needs the activation a = tanh(z); "
        "`1 - np.tanh(x)**2` needs z. Feeding z to the first or a to the second gives a wrong "
        "gradient without any error."
    )
    instead = "Use `1 - a**2` with the activation, or `1 - np.tanh(z)**2` with the pre-activation."
    valid = [
        Valid(
            """
            def backward(self, dh):
                return dh * (1 - self.h ** 2)

            def forward(self, x):
                self.h = np.tanh(self.W @ x + self.b)
                return self.h
            """,
        ),
        Valid(
            """
            def layer(X, W, b):
                Z = X @ W + b
                return Z, np.tanh(Z)

            def layer_backward(dA, Z):
                return dA * (1 - np.tanh(Z) ** 2)
            """,
        ),
        Valid(
            """
            def tanh_prime(x):
                return 1.0 - np.tanh(x) ** 2

            def backprop(self, x, y):
                z = self.W @ x
                a = np.tanh(z)
                return (a - y) * tanh_prime(z)
            """,
        ),
        Valid(
            """
            def dtanh(y):
                return 1 - y * y

            def step(self, x, target):
                h = np.tanh(np.dot(self.Wxh, x))
                dh = np.dot(self.Why.T, target - h)
                return dh * dtanh(h)
            """,
        ),
        Valid(
            """
            hs = np.tanh(np.dot(Wxh, x) + np.dot(Whh, hprev) + bh)
            dhraw = (1 - hs * hs) * dh
            """,
        ),
        Valid(
            """
            def f(r):
                return 1 - r ** 2

            area = f(np.linspace(0, 1, 10))
            """,
        ),
        Valid(
            """
            import torch

            def backward(ctx, grad_out):
                y, = ctx.saved_tensors
                return grad_out * (1 - y.pow(2))

            def forward(ctx, x):
                y = torch.tanh(x)
                ctx.save_for_backward(y)
                return y
            """,
        ),
        Valid(
            """
            def grad_tanh(z, upstream):
                t = np.tanh(z)
                return upstream * (1 - t ** 2)
            """,
        ),
        Valid(
            """
            def tanh(x, derivative=False):
                t = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
                if derivative:
                    return 1 - t**2
                else:
                    return t

            def step(x, h_prev, Wx, Wh, dh):
                h = tanh(x @ Wx + h_prev @ Wh)
                dz = dh * tanh(x @ Wx + h_prev @ Wh, derivative=True)
                return dz @ Wh.T
            """,
            note="The flag selects tanh′ of the argument, and the argument is z.",
        ),
        Valid(
            """
            class Net:
                def __init__(self, n, m):
                    self.W1 = np.random.randn(m, n)
                    self.W2 = np.random.randn(1, m)
                    self.act = np.tanh

                def backprop(self, x, y):
                    a1 = self.act(self.W1 @ x)
                    delta2 = self.W2 @ a1 - y
                    delta1 = (self.W2.T @ delta2) * (1 - a1**2)
                    return np.outer(delta1, x)
            """,
            note="The activation held in an attribute is tanh: 1 − a² is its derivative.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def tanh_grad(x):
                return 1.0 - np.tanh(x) ** 2

            def step(Wxh, Whh, Why, x, h_prev, target):
                h = np.tanh(Wxh @ x + Whh @ h_prev)
                y = np.tanh(Why @ h)
                dy = (y - target) * tanh_grad(y)
                dh = (Why.T @ dy) * tanh_grad(h)
                return dy, dh
            """,
            at=(2, 12),
            note="Every call passes a tanh output: the helper, not its calls, is the defect.",
        ),
        Invalid(
            """
            def layer(X, W, b):
                Z = X @ W + b
                return Z, np.tanh(Z)

            def layer_backward(dA, Z):
                return dA * (1 - Z ** 2)

            Z1, A1 = layer(X, W1, b1)
            dZ1 = layer_backward(dA1, Z1)
            """,
            at=(6, 18),
        ),
        Invalid(
            """
            class Layer:
                def backward(self, dh):
                    return dh * (1 - np.tanh(self.h) ** 2)

                def forward(self, x):
                    self.h = np.tanh(self.W @ x + self.b)
                    return self.h
            """,
            at=(3, 22),
        ),
        Invalid(
            """
            def tanh_prime(x):
                return 1.0 - np.tanh(x) ** 2

            def backprop(self, x, y):
                z = self.W @ x
                a = np.tanh(z)
                return (a - y) * tanh_prime(a)
            """,
            at=(7, 22),
        ),
        Invalid(
            """
            def dtanh(y):
                return 1 - y * y

            def step(self, x, target):
                z = np.dot(self.Wxh, x)
                h = np.tanh(z)
                dh = np.dot(self.Why.T, target - h)
                return dh * dtanh(z)
            """,
            at=(8, 17),
        ),
        Invalid(
            """
            z1 = X @ W1 + b1
            a1 = np.tanh(z1)
            out = a1 @ W2 + b2
            d_out = out - y
            d_a1 = d_out @ W2.T
            d_z1 = d_a1 * (1 - np.square(z1))
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch

            def backward(ctx, grad_out):
                y, = ctx.saved_tensors
                return grad_out * (1 - torch.tanh(y) ** 2)

            def forward(ctx, x):
                y = torch.tanh(x)
                ctx.save_for_backward(y)
                return y
            """,
            at=(5, 24),
        ),
        Invalid(
            """
            class Tanh:
                def forward(self, x):
                    self.x = x
                    self.out = np.tanh(x)
                    return self.out

                def backward(self, grad):
                    return grad * (1 - np.tanh(self.out) ** 2)
            """,
            at=(8, 24),
        ),
        Invalid(
            """
            def tanh_deriv(x):
                return 1 - np.power(x, 2)

            def backprop(W, x, y):
                net = W @ x
                out = np.tanh(net)
                return (out - y) * tanh_deriv(net)
            """,
            at=(7, 24),
        ),
        Invalid(
            """
            def tanh(x, derivative=False):
                t = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
                if derivative:
                    return 1 - t**2
                else:
                    return t

            def step(x, h_prev, Wx, Wh, dh):
                h = tanh(x @ Wx + h_prev @ Wh)
                dz = dh * tanh(h, derivative=True)
                return dz @ Wh.T
            """,
            at=(10, 15),
        ),
        Invalid(
            """
            class Net:
                def __init__(self, n, m):
                    self.W1 = np.random.randn(m, n)
                    self.W2 = np.random.randn(1, m)
                    self.act = np.tanh

                def backprop(self, x, y):
                    a1 = self.act(self.W1 @ x)
                    delta2 = self.W2 @ a1 - y
                    delta1 = (self.W2.T @ delta2) * (1 - np.tanh(a1) ** 2)
                    return np.outer(delta1, x)
            """,
            at=(10, 42),
            note="`self.act` holds `np.tanh`: `a1` is already a tanh output.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in derivative_sites(model):
            node, form, scope = site.node, site.form, site.scope
            roles = model.roles(form.operand, scope)
            if form.kind is Kind.TANH_PRIME_OF_Z:
                if Role.ACT in roles and Role.PREACT not in roles:
                    if model.activation_kind(form.operand, scope) is Kind.TANH:
                        yield Report(
                            node,
                            f"`{model.src(node)}` applies tanh again to "
                            f"{site.operand_text(model, 'the activation')}; tanh′(z) = 1 − a²: use `1 - a**2`, or "
                            f"`1 - np.tanh(z)**2` with the pre-activation{site.at_helper}",
                            evidence=(
                                *(site.evidence or activation_evidence(model, form.operand, scope)),
                                *derivative_evidence(model, form),
                            ),
                        )
            elif form.kind is Kind.ONE_MINUS_SQUARE:
                if Role.PREACT in roles and Role.ACT not in roles:
                    yield Report(
                        node,
                        f"`{model.src(node)}` computes 1 − x² at "
                        f"{site.operand_text(model, 'the pre-activation')}; tanh′(z) = 1 − tanh(z)² = 1 − a² needs the "
                        f"activation{site.at_helper}",
                        evidence=(
                            *(site.evidence or preactivation_evidence(model, form.operand, scope)),
                            *derivative_evidence(model, form),
                        ),
                    )
