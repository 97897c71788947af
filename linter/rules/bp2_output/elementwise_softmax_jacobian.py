"""BP203 elementwise-softmax-jacobian."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.coupling import (
    coupled_output,
    elementwise_coupled_backwards,
    stored_into_elements,
)
from linter.analysis.derivatives import derivative_sites, softmax_counted_twice
from linter.analysis.evidence import coupled_evidence, derivative_evidence
from linter.analysis.exprs import contains
from linter.analysis.forms import Kind
from linter.rule import Invalid, Report, Rule, Valid


class ElementwiseSoftmaxJacobian(Rule):
    """Flags p(1 − p) used as the derivative of a softmax output."""

    code = "BP203"
    prefilter = (P.BASE, f"{P.ONE_MINUS}|{P.HELPER_IMPORT}|{P.EXPANDED_POLY}")
    name = "elementwise-softmax-jacobian"
    kb = "softmax-jacobian-treated-elementwise"
    summary = "Softmax Jacobian treated as elementwise: s * (1 - s)."
    why = (
        "Each softmax output depends on every logit: ∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ). The diagonal "
        "sᵢ(1 − sᵢ) alone drops the off-diagonal terms −sᵢsⱼ, so the backward pass is wrong "
        "for every upstream gradient that is not constant across classes."
    )
    instead = (
        "Use the full vector-Jacobian product `s * (g - (g * s).sum(axis=-1, keepdims=True))`, or "
        "with cross-entropy skip it: the gradient with respect to the logits is `p - y`."
    )
    valid = [
        Valid(
            """
            def softmax_backward(s, g):
                return s * (g - np.sum(g * s, axis=1, keepdims=True))
            """
        ),
        Valid(
            """
            def sigmoid_backward(a, g):
                return g * a * (1 - a)

            a = sigmoid(z)
            """
        ),
        Valid(
            """
            def softmax_jacobian(s):
                return np.diagflat(s) - np.outer(s, s)
            """
        ),
        Valid(
            """
            def variance(p):
                return p * (1 - p)

            v = variance(0.3)
            """,
            note="A Bernoulli variance is not a derivative of a softmax.",
        ),
        Valid(
            """
            def step(scores, y):
                probs = softmax(scores)
                dscores = probs.copy()
                dscores[range(len(y)), y] -= 1
                return dscores
            """
        ),
        Valid(
            """
            import torch.nn.functional as F

            def entropy_bonus(logits):
                p = F.softmax(logits, dim=-1)
                return -(p * torch.log(p)).sum()
            """
        ),
        Valid(
            """
            class Sigmoid:
                def forward(self, x):
                    self.out = 1 / (1 + np.exp(-x))
                    return self.out

                def backward(self, grad):
                    return grad * self.out * (1 - self.out)
            """
        ),
        Valid(
            """
            def backward(self, s, grad):
                jac = np.diag(s) - np.outer(s, s)
                return jac @ grad
            """
        ),
        Valid(
            """
            def softmax_backward(s, g):
                J = -s[:, :, None] * s[:, None, :]
                i = np.arange(s.shape[1])
                J[:, i, i] = s * (1 - s)
                return np.einsum("nij,nj->ni", J, g)
            """,
            note="The diagonal of a full Jacobian that is then applied whole.",
        ),
        Valid(
            """
            class Normalise:
                def forward(self, x):
                    self.y = x / x.sum(axis=1, keepdims=True)
                    self.total = x.sum(axis=1, keepdims=True)
                    return self.y

                def backward(self, g):
                    return (g - (g * self.y).sum(axis=1, keepdims=True)) / self.total
            """
        ),
        Valid(
            """
            class Softmax:
                def forward(self, x):
                    self.out = softmax(x)
                    return self.out

                def backward(self, dout):
                    dx = self.out * dout
                    rows = dx.sum(axis=1, keepdims=True)
                    dx -= self.out * rows
                    return dx
            """
        ),
        Valid(
            """
            class Net:
                def act(self, v, deriv=False):
                    if deriv:
                        return v * (1 - v)
                    return 1 / (1 + np.exp(-v))

                def backward(self, out, err):
                    return err * self.act(out, deriv=True)
            """,
            note="A sigmoid helper with a derivative switch: its a(1 − a) is right.",
        ),
        Valid(
            """
            def output_backward(z, g, multiclass):
                if multiclass:
                    p = softmax(z)
                    dz = p * (g - np.sum(g * p, axis=1, keepdims=True))
                else:
                    p = 1 / (1 + np.exp(-z))
                    dz = g * p * (1 - p)
                return dz
            """,
            note="p is a sigmoid where p(1 − p) is used: the softmax is in the other branch.",
        ),
        Valid(
            """
            def output_backward(z, g, multiclass):
                if multiclass:
                    p = softmax(z)
                else:
                    p = 1 / (1 + np.exp(-z))
                if not multiclass:
                    return g * p * (1 - p)
                return p * (g - np.sum(g * p, axis=1, keepdims=True))
            """,
            note="Two branches on one flag: the softmax p never reaches the sigmoid's branch.",
        ),
        Valid(
            """
            def heads_backward(z, gates, grads):
                p = softmax(z)
                dz = p * (grads[0] - np.sum(grads[0] * p, axis=1, keepdims=True))
                dgates = [g * p * (1 - p) for g, p in zip(grads[1:], gates)]
                return dz, dgates
            """,
            note="The comprehension's p is its own variable (a gate), not the softmax p.",
        ),
    ]
    invalid = [
        Invalid(
            """
            class Softmax:
                def forward(self, x):
                    e = np.exp(x - x.max(axis=1, keepdims=True))
                    self.out = e / e.sum(axis=1, keepdims=True)
                    return self.out

                def backward(self, grad):
                    return grad * self.out * (1 - self.out)
            """,
            at=(8, 16),
        ),
        Invalid(
            """
            def softmax_jacobian(s):
                return np.diagflat(s * (1 - s))

            J = softmax_jacobian(softmax(z))
            """,
            at=(2, 24),
        ),
        Invalid(
            """
            def softmax_derivative(s):
                return s * (1 - s)

            def backward(z, g):
                s = softmax(z)
                return g * softmax_derivative(s)
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def backward(logits, grad_output):
                p = F.softmax(logits, dim=1)
                return grad_output * p * (1 - p)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def layer_backward(dA, cache):
                Z = cache
                S = np.exp(Z - Z.max()) / np.sum(np.exp(Z - Z.max()))
                return dA * S * (1 - S)
            """,
            at=(4, 12),
        ),
        Invalid(
            """
            probs = softmax(scores)
            dprobs = upstream(probs)
            dscores = dprobs * probs * (1 - probs)
            """,
            at=(3, 11),
        ),
        Invalid(
            """
            class Net:
                def forward(self, x):
                    self.p = softmax(self.W @ x)
                    return self.p

                def backward(self, dp):
                    ds = dp * (self.p * (1 - self.p))
                    return ds
            """,
            at=(7, 20),
        ),
        Invalid(
            """
            def softmax_grad(x):
                s = softmax(x)
                return s * (1 - s)

            def backward(x, grad):
                return grad * softmax_grad(x)
            """,
            at=(3, 12),
            note="Reported in the helper: it is wrong whoever calls it.",
        ),
        Invalid(
            """
            class Softmax:
                def forward(self, x):
                    self.out = softmax(x)
                    return self.out

                def backward(self, dout):
                    dx = self.out * dout
                    rows = dx
                    dx -= self.out * rows
                    return dx
            """,
            at=(10, 16),
            note="Read over statements: dx is g·s − s·(g·s) = g·s(1 − s).",
        ),
        Invalid(
            """
            class Normalise:
                def forward(self, x):
                    self.y = x / np.sum(x, axis=1, keepdims=True)
                    return self.y

                def backward(self, g):
                    return g * self.y * (1 - self.y)
            """,
            at=(7, 16),
            note="Any normalised output couples its row, not only the softmax.",
        ),
        Invalid(
            """
            class Probs:
                def forward(self):
                    e = np.exp(self.X - np.max(self.X, axis=1, keepdims=True))
                    total = np.sum(e, axis=1, keepdims=True)
                    self.Y = e / total

                def backward(self):
                    self.dX = np.multiply(self.dY, self.Y - np.square(self.Y))
            """,
            at=(8, 40),
        ),
        Invalid(
            """
            class Model:
                def probs(self, v, deriv=False):
                    e = np.exp(v - v.max())
                    if deriv:
                        return e / np.sum(e, axis=0) * (1 - e / np.sum(e, axis=0))
                    return e / np.sum(e, axis=0)

                def backward(self, z, y, out):
                    return 2 * (out - y) * self.probs(z, deriv=True)
            """,
            at=(9, 32),
            note="A derivative switch turned on at the call: reported there.",
        ),
        Invalid(
            """
            def output_backward(z, g, multiclass):
                if multiclass:
                    p = softmax(z)
                else:
                    p = 1 / (1 + np.exp(-z))
                return g * p * (1 - p)
            """,
            at=(6, 12),
            note="Wrong on the path where p is the softmax.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        double_counted: list[cst.CSTNode] | None = None
        reported: list[cst.CSTNode] = []
        scopes: set[object] = set()
        for site in derivative_sites(model):
            node, form, scope = site.node, site.form, site.scope
            if form.kind is Kind.SOFTMAX_DIAG_OF_Z:
                pass  # a softmax helper's elementwise "derivative" switched on at this call
            elif form.kind is not Kind.OUTPUT_POLY or not coupled_output(
                model, form.operand, scope
            ):
                continue
            if stored_into_elements(node, scope):  # the diagonal of a full Jacobian
                continue
            if double_counted is None:  # BP204's sites: the p(1 − p) there is its finding
                double_counted = [n for n, _, _ in softmax_counted_twice(model)]
            if any(contains(outer, node) for outer in double_counted):
                continue
            reported.append(node)
            scopes.add(scope)
            yield Report(
                node,
                f"`{model.src(node)}` treats the softmax Jacobian as elementwise: ∂sᵢ/∂zⱼ = "
                f"sᵢ(δᵢⱼ − sⱼ) has off-diagonal terms; use s * (g − Σ g·s), or p − y with "
                f"cross-entropy",
                evidence=(
                    *coupled_evidence(model, form.operand, scope),
                    *derivative_evidence(model, form),
                ),
            )
        for found in elementwise_coupled_backwards(model):
            if found.scope in scopes:  # already reported where the product is written
                continue
            reported.append(found.node)
            s = model.src(found.output)
            yield Report(
                found.node,
                f"this backward returns the upstream gradient times `{s}`·(1 − `{s}`), the "
                f"diagonal of the Jacobian of `{s}` alone: each element of `{s}` depends on the "
                f"whole row (∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ)); subtract the row sum: "
                f"s * (g − Σ g·s)",
                evidence=tuple(coupled_evidence(model, found.output, found.scope)),
            )
