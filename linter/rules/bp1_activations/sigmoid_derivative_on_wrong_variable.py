"""BP101 sigmoid-derivative-on-wrong-variable."""

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


class SigmoidDerivativeOnWrongVariable(Rule):
    """σ′ evaluated at the activation where it wants z, or ``x * (1 - x)`` evaluated at z."""

    code = "BP101"
    prefilter = (P.BASE, f"{P.ONE_MINUS}|{P.HELPER_IMPORT}")
    name = "sigmoid-derivative-on-wrong-variable"
    kb = "activation-derivative-on-wrong-variable"
    summary = "Sigmoid derivative evaluated at the wrong variable (σ′(a) for σ′(z), or z(1 − z))."
    why = (
        "σ′(z) = σ(z)(1 − σ(z)) = a(1 − a). A helper that recomputes σ from its argument must get "
        "the pre-activation z; one written as `x * (1 - x)` must get the activation a. Mixing them "
        "computes σ(a)(1 − σ(a)) or z(1 − z): the code runs, the sign is preserved, and training "
        "'sort of works' with a wrong gradient."
    )
    instead = (
        "Pass z to a helper that applies σ itself, or write `a * (1 - a)` with the activation."
    )
    known_problems = (
        "The helper's convention is read from its body (or a library function); the argument's "
        "role comes from data flow (a value produced by the sigmoid is an activation, `W @ a + b` "
        "and what is stored alongside it in `zs` is a pre-activation). Helpers from other modules "
        "whose body is not visible are not judged. When two or more calls of a derivative "
        "helper all pass the side its body does not want, the helper is reported, once; when "
        "the calls disagree, the odd call is."
    )
    valid = [
        Valid(
            """
            def sigmoid_gradient(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def gradients(T1, T2, X, Y):
                a1 = np.hstack([np.ones((len(X), 1)), X])
                z2 = a1 @ T1.T
                a2 = np.hstack([np.ones((len(X), 1)), sigmoid(z2)])
                d3 = sigmoid(a2 @ T2.T) - Y
                d2 = (d3 @ T2[:, 1:]) * sigmoid_gradient(z2)
                return d2.T @ a1, d3.T @ a2
            """
        ),
        Valid(
            """
            def sigmoid(z):
                return 1.0 / (1.0 + np.exp(-z))

            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backprop(self, x, y):
                z = np.dot(self.W, x) + self.b
                a = sigmoid(z)
                delta = (a - y) * sigmoid_prime(z)
                return delta
            """,
            note="The helper recomputes σ and gets z.",
        ),
        Valid(
            """
            def sigmoid(x):
                return 1 / (1 + np.exp(-x))

            def sigmoid_derivative(x):
                return x * (1 - x)

            def train(X, y, W):
                output = sigmoid(np.dot(X, W))
                error = y - output
                return error * sigmoid_derivative(output)
            """,
            note="The helper takes the activation, and gets it.",
        ),
        Valid(
            """
            def backward(self, a, grad):
                return grad * a * (1 - a)
            """,
        ),
        Valid(
            """
            def layer_backward(dA, cache):
                Z, A = cache
                s = 1 / (1 + np.exp(-Z))
                return dA * s * (1 - s)
            """,
        ),
        Valid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def backprop(self, x, y):
                zs = []
                for w, b in zip(self.weights, self.biases):
                    z = np.dot(w, x) + b
                    zs.append(z)
                    x = sigmoid(z)
                sp = sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
                return (x - y) * sp
            """,
        ),
        Valid(
            """
            from scipy.special import expit

            def grad(z, upstream):
                s = expit(z)
                return upstream * s * (1 - s)
            """,
        ),
        Valid(
            """
            def sigmoid_prime(a):
                return a * (1 - a)

            def backprop(self, X, y):
                self.h = sigmoid(self.W1 @ X)
                out = sigmoid(self.W2 @ self.h)
                d_out = (out - y) * sigmoid_prime(out)
                return (self.W2.T @ d_out) * sigmoid_prime(self.h)
            """,
            note="`sigmoid_prime(a)` whose helper takes a: correct.",
        ),
        Valid(
            """
            def p(x):
                return x * (1 - x)

            values = p(np.linspace(0, 1, 5))
            """,
            note="A polynomial on data that is neither an activation nor a pre-activation.",
        ),
        Valid(
            """
            def sigmoid(x, deriv=False):
                s = 1 / (1 + np.exp(-x))
                if deriv:
                    return s * (1 - s)
                return s

            def train(X, y, W):
                z = X @ W
                a = sigmoid(z)
                delta = (a - y) * sigmoid(z, deriv=True)
                W -= 0.1 * X.T @ delta
            """,
            note="The flag selects σ′ of the argument, and the argument is z.",
        ),
        Valid(
            """
            def sigmoid(x, deriv=False):
                if deriv:
                    return x * (1 - x)
                return 1 / (1 + np.exp(-x))

            def train(X, y, W):
                z = X @ W
                a = sigmoid(z)
                delta = (a - y) * sigmoid(a, True)
                W -= 0.1 * X.T @ delta
            """,
            note="This helper's derivative branch wants the activation.",
        ),
        Valid(
            """
            class Layer:
                def __init__(self, n_in, n_out, activation=None):
                    self.W = np.random.randn(n_in, n_out) * 0.1
                    self.activation = activation

                def forward(self, x):
                    self.z = x @ self.W
                    self.out = self.apply(self.z)
                    return self.out

                def apply(self, r):
                    if self.activation is None:
                        return r
                    elif self.activation == "tanh":
                        return np.tanh(r)
                    elif self.activation == "sigmoid":
                        return 1 / (1 + np.exp(-r))
                    return r

                def derivative(self, r):
                    if self.activation is None:
                        return np.ones_like(r)
                    elif self.activation == "tanh":
                        return 1 - r**2
                    elif self.activation == "sigmoid":
                        return r * (1 - r)
                    return r

            def backward(layers, delta):
                for i in reversed(range(len(layers))):
                    layer = layers[i]
                    delta = delta * layer.derivative(layer.out)
                    delta = delta @ layer.W.T
                return delta

            net = [Layer(2, 8, "sigmoid"), Layer(8, 1, "sigmoid")]
            """,
            note="The same layers with the derivative written for the output, r(1 − r).",
        ),
        Valid(
            """
            class Layer:
                def __init__(self, n_in, n_out, activation=None):
                    self.W = np.random.randn(n_in, n_out) * 0.1
                    self.activation = activation

                def forward(self, x):
                    self.z = x @ self.W
                    self.out = self.apply(self.z)
                    return self.out

                def apply(self, r):
                    if self.activation is None:
                        return r
                    elif self.activation == "tanh":
                        return np.tanh(r)
                    elif self.activation == "sigmoid":
                        return 1 / (1 + np.exp(-r))
                    return r

                def derivative(self, r):
                    if self.activation is None:
                        return np.ones_like(r)
                    elif self.activation == "tanh":
                        return 1 - r**2
                    elif self.activation == "sigmoid":
                        return self.apply(r) * (1 - self.apply(r))
                    return r

            def backward(layers, delta):
                for i in reversed(range(len(layers))):
                    layer = layers[i]
                    delta = delta * layer.derivative(layer.out)
                    delta = delta @ layer.W.T
                return delta

            net = [Layer(2, 8, "sigmoid"), Layer(8, 1, "tanh")]
            """,
            note="Layers built with different activations: which branch runs is not known, and "
            "bplint does not guess.",
        ),
        Valid(
            """
            ACT = {"sig": sigmoid}
            PRIME = {"sig": sigmoid_prime}

            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backprop(W1, W2, x, y):
                z1 = W1 @ x
                a1 = ACT["sig"](z1)
                a2 = ACT["sig"](W2 @ a1)
                delta1 = (W2.T @ (a2 - y)) * PRIME["sig"](z1)
                return np.outer(delta1, x)
            """,
            note="Helpers held in dict entries: σ′ gets the pre-activation.",
        ),
    ]
    invalid = [
        Invalid(
            """
            class Unit:
                def __init__(self, fan_in, fan_out, kind=None):
                    self.M = np.random.randn(fan_in, fan_out) * 0.1
                    self.kind = kind

                def fire(self, v):
                    self.out = self.squash(v @ self.M)
                    return self.out

                def squash(self, s):
                    if self.kind == "tanh":
                        return np.tanh(s)
                    elif self.kind == "sigmoid":
                        return 1 / (1 + np.exp(-s))
                    return s

                def slope(self, s):
                    if self.kind == "tanh":
                        return 1 - s**2
                    elif self.kind == "sigmoid":
                        return self.squash(s) * (1 - self.squash(s))
                    return np.ones_like(s)

            def learn(units, v, t, rate):
                for u in units:
                    v = u.fire(v)
                delta = (t - v) * units[-1].slope(v)
                for i in reversed(range(len(units) - 1)):
                    u = units[i]
                    delta = (delta @ units[i + 1].M.T) * u.slope(u.out)
                return delta

            stack = [Unit(2, 8, "sigmoid"), Unit(8, 2, "sigmoid")]
            """,
            at=(21, 20),
            note="Both calls pass a layer's output, and every layer is built with 'sigmoid': "
            "the helper applies σ a second time; one finding, at the helper.",
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def dsig(v):
                return sigmoid(v) * (1 - sigmoid(v))

            def backward(W2, z1, a1, a2, y):
                delta2 = (a2 - y) * dsig(a2)
                return (W2.T @ delta2) * dsig(z1)

            def forward(W1, W2, x):
                z1 = W1 @ x
                a1 = sigmoid(z1)
                return z1, a1, sigmoid(W2 @ a1)

            z1, a1, a2 = forward(W1, W2, x)
            backward(W2, z1, a1, a2, y)
            """,
            at=(8, 25),
            note="The calls disagree: one passes z, the other the activation; the odd call is "
            "the defect.",
        ),
        Invalid(
            """
            class Layer:
                def __init__(self, n_in, n_out, activation=None):
                    self.W = np.random.randn(n_in, n_out) * 0.1
                    self.activation = activation

                def forward(self, x):
                    self.z = x @ self.W
                    self.out = self.apply(self.z)
                    return self.out

                def apply(self, r):
                    if self.activation is None:
                        return r
                    elif self.activation == "tanh":
                        return np.tanh(r)
                    elif self.activation == "sigmoid":
                        return 1 / (1 + np.exp(-r))
                    return r

                def derivative(self, r):
                    if self.activation is None:
                        return np.ones_like(r)
                    elif self.activation == "tanh":
                        return 1 - r**2
                    elif self.activation == "sigmoid":
                        return self.apply(r) * (1 - self.apply(r))
                    return r

            def backward(layers, delta):
                for i in reversed(range(len(layers))):
                    layer = layers[i]
                    delta = delta * layer.derivative(layer.out)
                    delta = delta @ layer.W.T
                return delta

            net = [Layer(2, 8, "sigmoid"), Layer(8, 1, "sigmoid")]
            """,
            at=(32, 25),
            note="The activation is chosen by a string attribute; every layer is built with "
            "'sigmoid', so `derivative` is σ(r)(1 − σ(r)), and it gets the layer's output.",
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1.0 / (1.0 + np.exp(-z))

            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backprop(self, x, y):
                z = np.dot(self.W, x) + self.b
                a = sigmoid(z)
                delta = (a - y) * sigmoid_prime(a)
                return delta
            """,
            at=(10, 23),
        ),
        Invalid(
            """
            def sigmoid(x):
                return 1 / (1 + np.exp(-x))

            def sigmoid_derivative(x):
                return x * (1 - x)

            def train(X, y, W):
                z = np.dot(X, W)
                output = sigmoid(z)
                return (y - output) * sigmoid_derivative(z)
            """,
            at=(10, 27),
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def backprop(self, x, y):
                zs, activations = [], [x]
                for w, b in zip(self.weights, self.biases):
                    z = np.dot(w, x) + b
                    zs.append(z)
                    x = sigmoid(z)
                    activations.append(x)
                sp = zs[-1] * (1 - zs[-1])
                return (activations[-1] - y) * sp
            """,
            at=(11, 10),
        ),
        Invalid(
            """
            from scipy.special import expit

            def backward(self, X, y):
                hidden = expit(self.W1 @ X)
                out = expit(self.W2 @ hidden)
                d_out = (out - y) * expit(out) * (1 - expit(out))
                return d_out
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            import numpy as np

            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def sigmoid_grad(z):
                s = sigmoid(z)
                return s * (1 - s)

            def backward(W2, a1, a2, y):
                delta2 = (a2 - y) * sigmoid_grad(a2)
                return W2.T @ delta2 * sigmoid_grad(a1)

            a1 = sigmoid(W1 @ x + b1)
            a2 = sigmoid(W2 @ a1 + b2)
            backward(W2, a1, a2, y)
            """,
            at=(8, 12),
            note="The parameters take their roles from the call site's arguments; both calls "
            "pass an activation, so the one defect is the helper that applies σ again.",
        ),
        Invalid(
            """
            import torch

            def backward(ctx, grad_output):
                out, = ctx.saved_tensors
                return grad_output * torch.sigmoid(out) * (1 - torch.sigmoid(out))

            def forward(ctx, z):
                out = torch.sigmoid(z)
                ctx.save_for_backward(out)
                return out
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            class Net:
                def forward(self, x):
                    self.z1 = self.W1 @ x + self.b1
                    self.a1 = sigmoid(self.z1)
                    return self.a1

                def backward(self, grad):
                    return grad * self.z1 * (1 - self.z1)
            """,
            at=(11, 16),
        ),
        Invalid(
            """
            def sigmoid(x, derivative=False):
                return 1 / (1 + np.exp(-x))

            def dsigmoid(y):
                return y * (1.0 - y)

            def train(self, inputs, targets):
                net = np.dot(self.wi, inputs)
                hidden = sigmoid(net)
                errors = targets - hidden
                return errors * dsigmoid(net)
            """,
            at=(11, 21),
        ),
        Invalid(
            """
            def sigmoid(x, deriv=False):
                s = 1 / (1 + np.exp(-x))
                if deriv:
                    return s * (1 - s)
                return s

            def train(X, y, W):
                z = X @ W
                a = sigmoid(z)
                delta = (a - y) * sigmoid(a, deriv=True)
                W -= 0.1 * X.T @ delta
            """,
            at=(10, 23),
        ),
        Invalid(
            """
            def sigmoid(x, deriv=False):
                if deriv:
                    return x * (1 - x)
                return 1 / (1 + np.exp(-x))

            def train(X, y, W):
                z = X @ W
                a = sigmoid(z)
                delta = (a - y) * sigmoid(z, True)
                W -= 0.1 * X.T @ delta
            """,
            at=(9, 23),
        ),
        Invalid(
            """
            def sigmoid_gradient(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def gradients(T1, T2, X, Y):
                a1 = np.hstack([np.ones((len(X), 1)), X])
                z2 = a1 @ T1.T
                a2 = np.hstack([np.ones((len(X), 1)), sigmoid(z2)])
                d3 = sigmoid(a2 @ T2.T) - Y
                d2 = (d3 @ T2[:, 1:]) * sigmoid_gradient(a2[:, 1:])
                return d2.T @ a1, d3.T @ a2
            """,
            at=(9, 29),
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            ACT = {"sig": sigmoid}
            PRIME = {"sig": sigmoid_prime}

            def backprop(W1, W2, x, y):
                z1 = W1 @ x
                a1 = ACT["sig"](z1)
                a2 = ACT["sig"](W2 @ a1)
                delta1 = (W2.T @ (a2 - y)) * PRIME["sig"](a1)
                return np.outer(delta1, x)
            """,
            at=(14, 34),
            note="A helper held in a dict entry is read as the helper itself.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in derivative_sites(model):
            node, form, scope = site.node, site.form, site.scope
            roles = model.roles(form.operand, scope)
            if form.kind is Kind.SIGMOID_PRIME_OF_Z:
                if Role.ACT in roles and Role.PREACT not in roles and Role.PROB not in roles:
                    if model.activation_kind(form.operand, scope) is Kind.SIGMOID:
                        yield Report(
                            node,
                            f"`{model.src(node)}` evaluates σ′ at "
                            f"{site.operand_text(model, 'the activation')}, but it applies σ to its argument (it wants "
                            f"z): this is σ(a)(1 − σ(a)); pass z, or use `a * (1 - a)`{site.at_helper}",
                            evidence=(
                                *(site.evidence or activation_evidence(model, form.operand, scope)),
                                *derivative_evidence(model, form),
                            ),
                        )
            elif form.kind is Kind.OUTPUT_POLY:
                if Role.PREACT in roles and Role.ACT not in roles:
                    yield Report(
                        node,
                        f"`{model.src(node)}` computes x(1 − x) at "
                        f"{site.operand_text(model, 'the pre-activation')}; σ′(z) = a(1 − a) needs the activation a = σ(z)"
                        f"{site.at_helper}",
                        evidence=(
                            *(site.evidence or preactivation_evidence(model, form.operand, scope)),
                            *derivative_evidence(model, form),
                        ),
                    )
