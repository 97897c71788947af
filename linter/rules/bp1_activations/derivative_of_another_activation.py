"""BP105 derivative-of-another-activation."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.derivatives import OUTPUT_FORM_OF, activation_origin, derivative_sites
from linter.analysis.evidence import activation_evidence, derivative_evidence
from linter.analysis.exprs import factors_of
from linter.analysis.forms import negated, sigmoid_without_minus
from linter.rule import Invalid, Report, Rule, Valid

_NAMES = {"sigmoid": "σ", "tanh": "tanh"}


class DerivativeOfAnotherActivation(Rule):
    """The backward pass multiplies by the derivative of a different function than the forward
    pass computed: a sigmoid that lost its minus sign, or the sigmoid's and tanh's output-side
    derivatives swapped."""

    code = "BP105"
    prefilter = (P.BASE, P.ONE_MINUS)
    name = "derivative-of-another-activation"
    kb = "derivative-of-another-activation"
    summary = "The derivative in backward belongs to another function than the forward's."
    why = (
        "The local derivative must be the derivative of what the forward pass computed. "
        "`1 / (1 + exp(x))` is σ(−x), whose derivative is −a(1 − a): multiplying by a(1 − a) "
        "flips the sign of every gradient through the layer, so descent climbs the loss. "
        "a(1 − a) is the sigmoid's derivative and 1 − a² is tanh's; used on the other's output, "
        "the gradient is wrong by a factor that depends on a."
    )
    instead = (
        "Write the sigmoid as `1 / (1 + np.exp(-x))`; use `a * (1 - a)` for a sigmoid output "
        "and `1 - a**2` for a tanh output."
    )
    known_problems = (
        "The activation is read from the forward formula (or a library call) the value comes "
        "from, through assignments, attributes and helpers of this module; a value whose origin "
        "is not visible is not judged."
    )
    valid = [
        Valid(
            """
            class Sigmoid:
                def forward(self, x):
                    self.out = 1.0 / (1.0 + np.exp(-x))
                    return self.out

                def backward(self, dout):
                    return dout * self.out * (1 - self.out)
            """
        ),
        Valid(
            """
            def sigmoid(x):
                return 1 / (1 + np.exp(-x))

            def train_step(W, X, y, lr):
                a = sigmoid(X @ W)
                delta = (a - y) * a * (1 - a)
                return W - lr * X.T @ delta
            """
        ),
        Valid(
            """
            def layer_backward(x, W1, W2, dout):
                h = np.tanh(x @ W1)
                dh = (dout @ W2.T) * (1 - h**2)
                return x.T @ dh
            """
        ),
        Valid(
            """
            class MirrorSigmoid:
                def forward(self, x):
                    self.out = 1.0 / (1.0 + np.exp(x))
                    return self.out

                def backward(self, dout):
                    return -dout * self.out * (1 - self.out)
            """,
            note="σ(−x) on purpose, with its own derivative −a(1 − a).",
        ),
        Valid(
            """
            import torch

            def gate(x):
                return 1 / (1 + torch.exp(x))
            """,
            note="No hand-written derivative: autograd differentiates the formula as written.",
        ),
        Valid(
            """
            class RNNCell:
                def forward(self, x, h_prev):
                    self.h = np.tanh(x @ self.Wx + h_prev @ self.Wh)
                    return self.h

                def backward(self, dh):
                    dz = dh * (1 - self.h * self.h)
                    return dz @ self.Wh.T
            """
        ),
        Valid(
            """
            def bernoulli_variance(logits):
                p = 1 / (1 + np.exp(-logits))
                return p * (1 - p)
            """,
            note="p(1 − p) of a sigmoid, with the minus: the right derivative (and a variance).",
        ),
        Valid(
            """
            def lstm_gate_grads(dc, c, o):
                tc = np.tanh(c)
                do = dc * tc * o * (1 - o)
                dcell = dc * o * (1 - tc**2)
                return do, dcell
            """,
            note="o(1 − o) is a sigmoid gate's, 1 − tanh(c)² is the cell's; each on its own value.",
        ),
        Valid(
            """
            def unit(x, threshold, y):
                a = 1 / (1 + np.exp(threshold - x))
                return (a - y) * a * (1 - a)
            """,
            note="σ(x − threshold) written with the shift inside exp: its derivative in x is "
            "a(1 − a).",
        ),
    ]
    invalid = [
        Invalid(
            """
            class Sigmoid:
                def forward(self, X):
                    out = 1.0 / (1.0 + np.exp(X))
                    self.out = out
                    return out

                def backward(self, dout):
                    return dout * self.out * (1 - self.out)
            """,
            at=(3, 15),
        ),
        Invalid(
            """
            def sigmoid(x):
                return 1 / (1 + np.exp(x))

            def train_step(W, X, y, lr):
                a = sigmoid(X @ W)
                delta = (a - y) * a * (1 - a)
                return W - lr * X.T @ delta
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            import math

            import numpy as np

            def neuron_grad(w, x, y):
                s = 1 / (1 + math.exp(w * x))
                return (s - y) * s * (1 - s) * x
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            def layer_backward(x, W1, W2, dout):
                h = np.tanh(x @ W1)
                dh = (dout @ W2.T) * h * (1 - h)
                return x.T @ dh
            """,
            at=(3, 10),
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def output_delta(z, y):
                a = sigmoid(z)
                return (a - y) * (1 - a**2)
            """,
            at=(6, 23),
        ),
        Invalid(
            """
            class RNNCell:
                def forward(self, x, h_prev):
                    self.h = np.tanh(x @ self.Wx + h_prev @ self.Wh)
                    return self.h

                def backward(self, dh):
                    dz = dh * self.h * (1 - self.h)
                    return dz @ self.Wh.T
            """,
            at=(7, 14),
        ),
        Invalid(
            """
            def tanh_prime(a):
                return 1 - a * a

            def sigmoid(z):
                return 1.0 / (1.0 + np.exp(-z))

            def hidden_delta(W, delta, z):
                return (W.T @ delta) * tanh_prime(sigmoid(z))
            """,
            at=(8, 28),
        ),
        Invalid(
            """
            class Network:
                def forward(self, x):
                    self.a1 = np.tanh(self.W1 @ x)
                    self.a2 = 1 / (1 + np.exp(-(self.W2 @ self.a1)))
                    return self.a2

                def backward(self, x, y):
                    d2 = (self.a2 - y) * self.a2 * (1 - self.a2)
                    d1 = (self.W2.T @ d2) * self.a1 * (1 - self.a1)
                    return np.outer(d2, self.a1), np.outer(d1, x)
            """,
            at=(9, 14),
            note="The output layer is a sigmoid and its derivative is right; the hidden layer is "
            "tanh and gets the sigmoid's.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        reported: set[cst.CSTNode] = set()
        for site in derivative_sites(model):
            node, form, scope = site.node, site.form, site.scope
            expected = OUTPUT_FORM_OF.get(form.kind)
            if expected is None or model.has(form.operand, scope, Role.PROB):
                continue
            origin = None
            if form.kind in OUTPUT_FORM_OF and not _negated_product(node):
                origin = activation_origin(model, form.operand, scope, _sigmoid_without_minus)
            if origin is not None:
                if origin[0] not in reported:
                    reported.add(origin[0])
                    exp = sigmoid_without_minus(origin[0])
                    x = model.src(exp.args[0].value) if isinstance(exp, cst.Call) else "x"
                    yield Report(
                        origin[0],
                        f"`{model.src(origin[0])}` is σ(−{x}), a sigmoid without its minus sign, "
                        f"but its derivative is taken as `{model.src(node)}`, σ′ of +{x}: the "
                        f"derivative of σ(−{x}) is −a(1 − a), so every gradient through it has "
                        f"the wrong sign; write `exp(-{x})`",
                        evidence=((node, "the derivative of σ(+x) is taken here"),),
                    )
                continue
            actual = model.activation_kind(form.operand, scope)
            if (
                actual in OUTPUT_FORM_OF.values()
                and actual is not expected
                and node not in reported
            ):
                reported.add(node)
                yield Report(
                    node,
                    f"`{model.src(node)}` is the {_NAMES[expected.value]} derivative, but "
                    f"`{model.src(form.operand)}` is a {_NAMES[actual.value]} output: use "
                    + ("`1 - a**2`" if actual.value == "tanh" else "`a * (1 - a)`"),
                    evidence=(
                        *(site.evidence or activation_evidence(model, form.operand, scope)),
                        *derivative_evidence(model, form),
                    ),
                )


def _sigmoid_without_minus(node: cst.BaseExpression) -> bool:
    return sigmoid_without_minus(node) is not None


def _negated_product(node: cst.CSTNode) -> bool:
    """A product with a negated factor: the derivative of σ(−x) written out, −a(1 − a)."""
    if not isinstance(node, cst.BaseExpression):
        return False
    return negated(node) or any(negated(f) for f in factors_of(node))
