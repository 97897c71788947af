"""BP203 elementwise-softmax-jacobian."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.derivatives import derivative_sites, softmax_counted_twice
from linter.analysis.exprs import contains
from linter.analysis.forms import Kind
from linter.rule import Invalid, Report, Rule, Valid


class ElementwiseSoftmaxJacobian(Rule):
    """Flags p(1 − p) used as the derivative of a softmax output."""

    code = "BP203"
    prefilter = (P.BASE, f"{P.ONE_MINUS}|{P.HELPER_IMPORT}")
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
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        double_counted: list[cst.CSTNode] | None = None
        for node, form, scope in derivative_sites(model):
            if form.kind is not Kind.OUTPUT_POLY or not model.has(form.operand, scope, Role.PROB):
                continue
            if double_counted is None:  # BP204's sites: the p(1 − p) there is its finding
                double_counted = list(softmax_counted_twice(model))
            if any(contains(outer, node) for outer in double_counted):
                continue
            yield Report(
                node,
                f"`{model.src(node)}` treats the softmax Jacobian as elementwise: ∂sᵢ/∂zⱼ = "
                f"sᵢ(δᵢⱼ − sⱼ) has off-diagonal terms; use s * (g − Σ g·s), or p − y with "
                f"cross-entropy",
            )
