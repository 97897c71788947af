"""BP007 weight-gradient-from-own-output."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.evidence import activation_evidence, gradient_evidence
from linter.analysis.layers import gradient_with_own_output
from linter.rule import Invalid, Report, Rule, Valid


class WeightGradientFromOwnOutput(Rule):
    """Flags a weight gradient that pairs a layer's delta with the layer's own output."""

    code = "BP007"
    prefilter = (P.BASE, P.MATMUL)
    name = "weight-gradient-from-own-output"
    kb = "weight-gradient-uses-layer-input"
    summary = "Weight gradient built from the layer's own output instead of its input."
    why = (
        "For z = W a_prev, ∂C/∂W = δ a_prevᵀ: the delta of the layer times what flowed *into* "
        "the layer. The layer's own output a = f(z) does not appear in its weight gradient; "
        "pairing δ with it gives a gradient of the wrong values (and with 1-D vectors and "
        "`np.dot`, a scalar that is then subtracted from every weight)."
    )
    instead = (
        "Pair the delta with the layer's input: `np.outer(delta, a_prev)` (column vectors), "
        "`delta @ a_prev.T`, or `a_prev.T @ delta` (rows)."
    )
    known_problems = (
        "The layer is told by its pre-activation: the delta must be built with f′(z) (or be the "
        "error of the output a = f(z)) and the other factor must be f(z) for the same z, named "
        "by a variable, an attribute or a constant dict key. Values indexed by a loop variable "
        "(`hs[t]`) are never matched."
    )
    valid = [
        Valid(
            """
            def grads(x, y, W1, W2):
                z1 = W1 @ x
                a1 = sigmoid(z1)
                a2 = sigmoid(W2 @ a1)
                d2 = (a2 - y) * a2 * (1 - a2)
                d1 = (W2.T @ d2) * a1 * (1 - a1)
                return d1 @ x.T, d2 @ a1.T
            """
        ),
        Valid(
            """
            class Net:
                def forward(self, x):
                    p = self.params
                    p["A0"] = x
                    p["Z1"] = p["W1"] @ p["A0"]
                    p["A1"] = np.tanh(p["Z1"])
                    return p["A1"]

                def backward(self, g):
                    p = self.params
                    d = g * (1 - p["A1"] ** 2)
                    return {"W1": np.outer(d, p["A0"])}
            """
        ),
        Valid(
            """
            def softmax_vjp(z, g):
                s = softmax(z)
                return s * (g - np.dot(g, s))
            """,
            note="The upstream gradient dotted with the softmax output: a Jacobian product.",
        ),
        Valid(
            """
            def rnn_step_grads(xs, hs, dh, Wxh):
                dWhh = 0
                for t in range(len(xs)):
                    draw = dh[t] * (1 - hs[t] ** 2)
                    dWhh += draw @ hs[t - 1].T
                return dWhh
            """,
            note="The previous step's state is the recurrent weight's input.",
        ),
        Valid(
            """
            def layer_grads(a_prev, W, b, y):
                z = a_prev @ W + b
                a = sigmoid(z)
                delta = (a - y) * a * (1 - a)
                return a_prev.T @ delta, delta.sum(axis=0)
            """
        ),
        Valid(
            """
            def attention_weights(q, k):
                z = q @ k.T
                a = softmax(z)
                return a @ k
            """,
            note="No delta: a forward product of an activation.",
        ),
        Valid(
            """
            def grads(x, y, W):
                z = x @ W
                out = sigmoid(z)
                err = out - y
                return x.T @ err
            """
        ),
        Valid(
            """
            def two_layer(x, y, W1, W2):
                h = np.maximum(0, x @ W1)
                out = h @ W2
                dout = out - y
                dh = (dout @ W2.T) * (h > 0)
                return x.T @ dh, h.T @ dout
            """,
            note="h is W2's input: h.T @ dout is right.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def grads(x, y, W1, W2):
                z1 = W1 @ x
                a1 = sigmoid(z1)
                a2 = sigmoid(W2 @ a1)
                d2 = (a2 - y) * a2 * (1 - a2)
                d1 = (W2.T @ d2) * a1 * (1 - a1)
                return d1 @ a1.T, d2 @ a1.T
            """,
            at=(7, 12),
        ),
        Invalid(
            """
            class Net:
                def forward(self, x):
                    p = self.params
                    p["A0"] = x
                    p["Z1"] = p["W1"] @ p["A0"]
                    p["A1"] = np.tanh(p["Z1"])
                    return p["A1"]

                def backward(self, g):
                    p = self.params
                    d = g * (1 - p["A1"] ** 2)
                    return {"W1": np.dot(d, p["A1"])}
            """,
            at=(12, 23),
        ),
        Invalid(
            """
            class Net:
                def act(self, v, derivative=False):
                    if derivative:
                        return np.exp(-v) / (1 + np.exp(-v)) ** 2
                    return 1 / (1 + np.exp(-v))

                def forward(self, x):
                    self.z = self.W @ x
                    self.a = self.act(self.z)
                    return self.a

                def backward(self, g):
                    d = g * self.act(self.z, derivative=True)
                    self.dW = np.outer(d, self.a)
            """,
            at=(14, 19),
        ),
        Invalid(
            """
            def layer_grads(a_prev, W, b, y):
                z = a_prev @ W + b
                a = sigmoid(z)
                delta = (a - y) * a * (1 - a)
                return a.T @ delta, delta.sum(axis=0)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def grads(x, y, W):
                z = x @ W
                out = sigmoid(z)
                err = out - y
                return out.T @ err
            """,
            at=(5, 12),
            note="The output's own error paired with the output.",
        ),
        Invalid(
            """
            def two_layer(x, y, W1, W2):
                z1 = x @ W1
                h = np.maximum(0, z1)
                out = h @ W2
                dout = out - y
                dh = (dout @ W2.T) * (z1 > 0)
                return h.T @ dh, h.T @ dout
            """,
            at=(7, 12),
        ),
        Invalid(
            """
            def grads(x, y, W):
                z = W @ x
                a = 1 / (1 + np.exp(-z))
                delta = (a - y) * a * (1 - a)
                return np.dot(delta, a.T)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            import numpy as np

            def step(x, y, W):
                z = W @ x
                a = np.tanh(z)
                delta = (a - y) * (1 - np.tanh(z) ** 2)
                W -= 0.1 * np.outer(delta, a)
                return W
            """,
            at=(7, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for node, delta, output, _z, scope in gradient_with_own_output(model):
            yield Report(
                node,
                f"`{model.src(node)}` pairs the delta `{model.src(delta)}` with "
                f"`{model.src(output)}`, the output of the same layer; a weight gradient pairs "
                f"the delta with the layer's input (what was multiplied by the weights)",
                evidence=(
                    *activation_evidence(model, output, scope),
                    *gradient_evidence(model, delta, scope),
                ),
            )
