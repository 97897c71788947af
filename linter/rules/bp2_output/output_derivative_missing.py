"""BP202 output-derivative-missing."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.collect import Scope, Site
from linter.analysis.derivatives import output_delta_elsewhere, raw_error_source
from linter.analysis.evidence import activation_evidence
from linter.analysis.model import MatMul
from linter.analysis.outputs import squared_error_gradient
from linter.rule import Invalid, Report, Rule, Valid


class OutputDerivativeMissing(Rule):
    """Flags the raw error a − y propagated from a sigmoid/tanh output under the quadratic cost."""

    code = "BP202"
    prefilter = (P.BASE, P.MATMUL)
    name = "output-derivative-missing"
    kb = "output-derivative-missing-from-error"
    summary = "σ′ factor missing from the output delta with the quadratic cost."
    why = (
        "With the quadratic cost, δᴸ = (a − y) ⊙ σ′(zᴸ). The shortcut δ = a − y only holds for "
        "cross-entropy (or a linear output). Sending the raw error back to the hidden layer, or "
        "into the output weight gradient, drops the output activation's derivative."
    )
    instead = "Multiply the error by the output derivative: `delta = (a - y) * a * (1 - a)`."
    known_problems = (
        "The rule needs a sigmoid or tanh output and, when no cost names the quadratic cost "
        "(`(a - y)**2`, `np.square(a - y)`, or a function or class named for it), the code's own "
        "output delta: the same raw error multiplied elsewhere by the output's derivative (for "
        "the output weights), while it is sent back without it. A cost that is only printed "
        "counts: it says which cost the code descends. Layers held in a list are one object: "
        "what one element stores in `layer.delta` is what `layers[i + 1].delta` reads. "
        "Evidence of cross-entropy silences it."
    )
    valid = [
        Valid(
            """
            class Unit:
                def __init__(self, fan_in, fan_out, kind=None):
                    self.M = np.random.randn(fan_in, fan_out) * 0.1
                    self.kind = kind
                    self.out = None
                    self.err = None
                    self.dlt = None

                def fire(self, v):
                    self.out = self.squash(v @ self.M)
                    return self.out

                def squash(self, s):
                    if self.kind == "relu":
                        return np.maximum(s, 0)
                    elif self.kind == "sigmoid":
                        return 1 / (1 + np.exp(-s))
                    return s

                def slope(self, a):
                    if self.kind == "relu":
                        return (a > 0).astype(float)
                    elif self.kind == "sigmoid":
                        return a * (1 - a)
                    return np.ones_like(a)

            class Stack:
                def __init__(self, units):
                    self.units = units

                def infer(self, v):
                    for u in self.units:
                        v = u.fire(v)
                    return v

                def learn(self, v, t, rate):
                    res = self.infer(v)
                    for i in reversed(range(len(self.units))):
                        u = self.units[i]
                        if u == self.units[-1]:
                            u.err = t - res
                            u.dlt = u.err * u.slope(res)
                        else:
                            nxt = self.units[i + 1]
                            u.err = np.dot(nxt.M, nxt.dlt)
                            u.dlt = u.err * u.slope(u.out)
                    for i in range(len(self.units)):
                        u = self.units[i]
                        prev = np.atleast_2d(v if i == 0 else self.units[i - 1].out)
                        u.M += u.dlt * prev.T * rate

                def fit(self, X, labels, rate, epochs):
                    Y = np.zeros((len(labels), 2))
                    Y[np.arange(len(labels)), labels] = 1
                    for e in range(epochs):
                        for j in range(len(X)):
                            self.learn(X[j], Y[j], rate)
                        print(e, np.mean(np.square(Y - self.infer(X))))

            net = Stack([Unit(2, 16, "sigmoid"), Unit(16, 2, "sigmoid")])
            """,
            note="The same layers with the output delta (t − a) ⊙ σ′.",
        ),
        Valid(
            """
            class Unit:
                def __init__(self, fan_in, fan_out, kind=None):
                    self.M = np.random.randn(fan_in, fan_out) * 0.1
                    self.kind = kind
                    self.out = None
                    self.err = None
                    self.dlt = None

                def fire(self, v):
                    self.out = self.squash(v @ self.M)
                    return self.out

                def squash(self, s):
                    if self.kind == "relu":
                        return np.maximum(s, 0)
                    elif self.kind == "sigmoid":
                        return 1 / (1 + np.exp(-s))
                    return s

                def slope(self, a):
                    if self.kind == "relu":
                        return (a > 0).astype(float)
                    elif self.kind == "sigmoid":
                        return a * (1 - a)
                    return np.ones_like(a)

            class Stack:
                def __init__(self, units):
                    self.units = units

                def infer(self, v):
                    for u in self.units:
                        v = u.fire(v)
                    return v

                def learn(self, v, t, rate):
                    res = self.infer(v)
                    for i in reversed(range(len(self.units))):
                        u = self.units[i]
                        if u == self.units[-1]:
                            u.err = t - res
                            u.dlt = u.err
                        else:
                            nxt = self.units[i + 1]
                            u.err = np.dot(nxt.M, nxt.dlt)
                            u.dlt = u.err * u.slope(u.out)
                    for i in range(len(self.units)):
                        u = self.units[i]
                        prev = np.atleast_2d(v if i == 0 else self.units[i - 1].out)
                        u.M += u.dlt * prev.T * rate

                def fit(self, X, labels, rate, epochs):
                    Y = np.zeros((len(labels), 2))
                    Y[np.arange(len(labels)), labels] = 1
                    for e in range(epochs):
                        for j in range(len(X)):
                            self.learn(X[j], Y[j], rate)
                        print(e, -np.mean(Y * np.log(self.infer(X))))

            net = Stack([Unit(2, 16, "sigmoid"), Unit(16, 2, "sigmoid")])
            """,
            note="The printed cost is the cross-entropy: t − a is the delta for it.",
        ),
        Valid(
            """
            class Net:
                def train(self, x, t):
                    h = self.act(np.dot(self.wih, x))
                    o = self.act(np.dot(self.who, h))
                    e = t - o
                    d = e * o * (1.0 - o)
                    e_hidden = np.dot(self.who.T, d)
                    self.who += self.lr * np.dot(d, h.T)
                    self.wih += self.lr * np.dot(e_hidden * h * (1.0 - h), x.T)

                def act(self, v):
                    return 1.0 / (1.0 + np.exp(-v))
            """,
            note="The output delta, not the raw error, is sent back.",
        ),
        Valid(
            """
            def step(X, T, W1, W2, lr):
                H = sigmoid(X @ W1)
                O = sigmoid(H @ W2)
                E = O - T
                back = E @ W2.T
                W2 -= lr * H.T @ E
                W1 -= lr * X.T @ (back * H * (1 - H))
            """,
            note="Cross-entropy convention throughout: a − y is the output delta in both uses.",
        ),
        Valid(
            """
            def train(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                loss = np.mean((y - out) ** 2)
                error = y - out
                d_out = error * out * (1 - out)
                d_h = d_out @ W2.T * h * (1 - h)
                return d_h, loss
            """
        ),
        Valid(
            """
            def train(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                loss = -np.mean(y * np.log(out) + (1 - y) * np.log(1 - out))
                error = out - y
                return error @ W2.T * h * (1 - h), loss
            """,
            note="Cross-entropy: a − y is the delta.",
        ),
        Valid(
            """
            def train(X, y, W1, W2):
                h = np.tanh(X @ W1)
                out = h @ W2
                loss = np.mean((out - y) ** 2)
                d_out = out - y
                return d_out @ W2.T * (1 - h**2), loss
            """,
            note="A linear output: δ = a − y is right.",
        ),
        Valid(
            """
            class QuadraticCost:
                @staticmethod
                def delta(z, a, y):
                    return (a - y) * sigmoid_prime(z)
            """
        ),
        Valid(
            """
            def mse(a, y):
                return 0.5 * np.sum((a - y) ** 2)

            def cost_derivative(output_activations, y):
                return output_activations - y
            """,
            note="The derivative of the cost with respect to a is a − y: no delta is formed here.",
        ),
        Valid(
            """
            def train(X, y, W):
                out = sigmoid(X @ W)
                error = np.square(y - out).mean()
                return error
            """
        ),
        Valid(
            """
            def backward(out, y, W2, h):
                err = (out - y) ** 2
                d = (out - y) * out * (1 - out)
                return W2.T @ d * h * (1 - h), err
            """
        ),
        Valid(
            """
            def loss_and_grad(X, y, W):
                p = softmax(X @ W)
                loss = np.mean((p - y) ** 2)
                return X.T @ (p - y), loss
            """,
            note="Not a sigmoid or tanh output: another rule's business.",
        ),
        Valid(
            """
            def grads(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                d_out = 2 * (out - y) * out * (1 - out)
                return X.T @ ((d_out @ W2.T) * h * (1 - h)), h.T @ d_out
            """
        ),
        Valid(
            """
            def grads(X, y, W1, W2):
                h = np.tanh(X @ W1)
                out = h @ W2
                d_out = 2 * (out - y) / len(y)
                return X.T @ ((d_out @ W2.T) * (1 - h**2)), h.T @ d_out
            """,
            note="A linear output: 2(a − y) is already the delta.",
        ),
    ]
    invalid = [
        Invalid(
            """
            class Unit:
                def __init__(self, fan_in, fan_out, kind=None):
                    self.M = np.random.randn(fan_in, fan_out) * 0.1
                    self.kind = kind
                    self.out = None
                    self.err = None
                    self.dlt = None

                def fire(self, v):
                    self.out = self.squash(v @ self.M)
                    return self.out

                def squash(self, s):
                    if self.kind == "relu":
                        return np.maximum(s, 0)
                    elif self.kind == "sigmoid":
                        return 1 / (1 + np.exp(-s))
                    return s

                def slope(self, a):
                    if self.kind == "relu":
                        return (a > 0).astype(float)
                    elif self.kind == "sigmoid":
                        return a * (1 - a)
                    return np.ones_like(a)

            class Stack:
                def __init__(self, units):
                    self.units = units

                def infer(self, v):
                    for u in self.units:
                        v = u.fire(v)
                    return v

                def learn(self, v, t, rate):
                    res = self.infer(v)
                    for i in reversed(range(len(self.units))):
                        u = self.units[i]
                        if u == self.units[-1]:
                            u.err = t - res
                            u.dlt = u.err
                        else:
                            nxt = self.units[i + 1]
                            u.err = np.dot(nxt.M, nxt.dlt)
                            u.dlt = u.err * u.slope(u.out)
                    for i in range(len(self.units)):
                        u = self.units[i]
                        prev = np.atleast_2d(v if i == 0 else self.units[i - 1].out)
                        u.M += u.dlt * prev.T * rate

                def fit(self, X, labels, rate, epochs):
                    Y = np.zeros((len(labels), 2))
                    Y[np.arange(len(labels)), labels] = 1
                    for e in range(epochs):
                        for j in range(len(X)):
                            self.learn(X[j], Y[j], rate)
                        print(e, np.mean(np.square(Y - self.infer(X))))

            net = Stack([Unit(2, 16, "sigmoid"), Unit(16, 2, "sigmoid")])
            """,
            at=(41, 25),
            note="The activation is chosen by a string every layer is built with ('sigmoid'); the "
            "cost is only printed, but it is the quadratic one: the output layer's delta, stored "
            "on the list element, is the raw error, and the next layer down reads it.",
        ),
        Invalid(
            """
            class Net:
                def train(self, x, t):
                    h = self.act(np.dot(self.wih, x))
                    o = self.act(np.dot(self.who, h))
                    e = t - o
                    e_hidden = np.dot(self.who.T, e)
                    self.who += self.lr * np.dot(e * o * (1.0 - o), h.T)
                    self.wih += self.lr * np.dot(e_hidden * h * (1.0 - h), x.T)

                def act(self, v):
                    return 1.0 / (1.0 + np.exp(-v))
            """,
            at=(6, 39),
            note="No cost is computed; the output weights' own update shows the quadratic-cost "
            "delta (t − o)·o(1 − o), and the hidden layer is sent the raw error.",
        ),
        Invalid(
            """
            def step(X, T, W1, W2, lr):
                H = np.tanh(X.dot(W1))
                O = np.tanh(H.dot(W2))
                E = O - T
                G = E.dot(W2.T)
                W2 -= lr * H.T.dot(E * (1 - O ** 2))
                W1 -= lr * X.T.dot(G * (1 - H ** 2))
            """,
            at=(5, 9),
        ),
        Invalid(
            """
            def train(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                loss = np.mean((y - out) ** 2)
                error = y - out
                d_h = error @ W2.T * h * (1 - h)
                return d_h, loss
            """,
            at=(5, 13),
        ),
        Invalid(
            """
            class QuadraticCost:
                @staticmethod
                def fn(a, y):
                    return 0.5 * np.linalg.norm(a - y) ** 2

                def backward(self, W, a, y, h):
                    out = sigmoid(W @ h)
                    delta = out - y
                    return W.T @ delta
            """,
            at=(8, 17),
        ),
        Invalid(
            """
            def train(X, y, W1, W2):
                h = np.tanh(X @ W1)
                out = np.tanh(h @ W2)
                loss = np.mean(np.square(out - y))
                d_out = out - y
                dW2 = h.T @ d_out
                return dW2, loss
            """,
            at=(5, 13),
        ),
        Invalid(
            """
            def mse(a, y):
                return np.mean((a - y) ** 2)

            def backprop(W2, a1, a2, y):
                delta2 = a2 - y
                return np.dot(W2.T, delta2) * a1 * (1 - a1)

            a1 = sigmoid(W1 @ x)
            a2 = sigmoid(W2 @ a1)
            backprop(W2, a1, a2, y)
            """,
            at=(5, 14),
        ),
        Invalid(
            """
            def quadratic_cost(out, y):
                return 0.5 * ((out - y) ** 2).sum()

            def backward(self, X, y):
                out = sigmoid(self.h @ self.W2)
                d_out = (out - y) / len(X)
                return d_out @ self.W2.T
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            a1 = sigmoid(X @ W1)
            a2 = sigmoid(a1 @ W2)
            loss = ((a2 - Y) ** 2).mean()
            dz2 = a2 - Y
            dW2 = a1.T @ dz2
            """,
            at=(4, 7),
        ),
        Invalid(
            """
            def mse_loss(pred, target):
                return np.mean((pred - target) ** 2)

            class Net:
                def backward(self, x, target):
                    pred = sigmoid(np.dot(self.W2, self.h))
                    err = pred - target
                    dh = np.dot(self.W2.T, err)
                    return dh
            """,
            at=(7, 15),
        ),
        Invalid(
            """
            def fit(X, Y, W1, W2):
                H = np.tanh(X.dot(W1))
                P = sigmoid(H.dot(W2))
                cost = np.sum(np.square(Y - P))
                E = Y - P
                dH = E.dot(W2.T) * (1 - H ** 2)
                return dH, cost
            """,
            at=(5, 9),
        ),
        Invalid(
            """
            def grads(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                d_out = 2 * (out - y)
                return X.T @ ((d_out @ W2.T) * h * (1 - h)), h.T @ d_out
            """,
            at=(4, 13),
            note="The factor 2 is the squared error's derivative: the cost need not be computed.",
        ),
        Invalid(
            """
            def train_step(X, y, W, lr):
                out = np.tanh(X @ W)
                W -= lr * np.dot(X.T, 2 * (out - y) / len(y))
                return W
            """,
            at=(3, 27),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        seen: set[cst.CSTNode] = set()
        for mm, site in model.matmuls():
            scope = site.scope
            costs = model.costs(scope)
            if "ce" not in costs:
                for side in (mm.left, mm.right):
                    inner, _ = model.strip_transpose(side)
                    inner = model.forms.through_local(inner, scope)
                    found = squared_error_gradient(model, inner, scope)
                    if found is None or inner in seen:
                        continue
                    seen.add(inner)
                    yield Report(
                        inner,
                        f"`{model.src(inner)}` is the derivative of the squared error with "
                        f"respect to the {found[1]} output, and it is propagated as is "
                        f"(`{model.src(mm.node)}`); the delta with respect to the "
                        f"pre-activation needs the activation's derivative too: "
                        f"2(a − y) ⊙ σ′(z)",
                        evidence=tuple(_output_evidence(model, found[0], scope)),
                    )
            if "ce" in costs:
                continue
            for inner, where, kind in _raw_errors(model, mm, site, seen):
                if "mse" in costs:
                    seen.add(where)
                    yield Report(
                        where,
                        f"the output delta `{model.src(where)}` is the raw error of a {kind} "
                        f"output under the quadratic cost, and it is propagated as is "
                        f"(`{model.src(mm.node)}`); the delta needs the activation's "
                        f"derivative: (a − y) ⊙ σ′(z)",
                        evidence=(
                            *filter(None, [model.cost_evidence(scope, "mse")]),
                            *_output_evidence(model, inner, scope),
                        ),
                    )
                    continue
                # no cost computed: the code's own output delta, the same error times the
                # output derivative elsewhere (for the output weights), is the evidence
                delta = output_delta_elsewhere(model, where, scope)
                if delta is None:
                    continue
                seen.add(where)
                yield Report(
                    inner,
                    f"`{model.src(inner)}` is the raw error of a {kind} output, sent back as is "
                    f"(`{model.src(mm.node)}`), while `{model.src(delta)}` multiplies the same "
                    f"error by the output's derivative: the delta the layer below needs is that "
                    f"product, (a − y) ⊙ {'tanh′' if kind == 'tanh' else 'σ′'}(z), not the raw "
                    f"error",
                    evidence=(
                        (where, "the raw error a − y of the network's output"),
                        (delta, "the same error times the output activation's derivative"),
                    ),
                )


def _output_evidence(
    model: ModuleModel, error: cst.BaseExpression, scope: Scope
) -> list[tuple[cst.CSTNode, str]]:
    """Where the output in the error ``a - y`` was computed by its activation."""
    parts = model.error_parts(error, scope)
    return activation_evidence(model, parts[0], scope) if parts is not None else []


def _raw_errors(
    model: ModuleModel, mm: MatMul, site: Site, seen: set[cst.CSTNode]
) -> Iterator[tuple[cst.BaseExpression, cst.BaseExpression, str]]:
    """The operands of a matrix product that are the raw error a − y of a sigmoid or tanh
    output: (the operand, where the error was formed, the output's activation)."""
    for side in (mm.left, mm.right):
        inner, _ = model.strip_transpose(side)
        where = raw_error_source(model, inner, site.scope, site.index)
        if where is None or where in seen:
            continue
        parts = model.error_parts(where, site.scope)
        if parts is not None:
            yield inner, where, str(model.activation_kind(parts[0], site.scope))
