"""BP301 update-sign-inconsistent."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.evidence import sign_evidence
from linter.analysis.model import Update
from linter.analysis.signs import disagreeing_updates
from linter.rule import Invalid, Report, Rule, Valid


class UpdateSignInconsistent(Rule):
    """Flags an update that moves a parameter along its gradient instead of against it."""

    code = "BP301"
    prefilter = (P.UPDATE,)
    name = "update-sign-inconsistent"
    kb = "gradient-sign-convention"
    summary = "Update sign inconsistent with the error's sign (the step climbs the cost)."
    why = (
        "Gradient descent moves against the gradient: w ← w − η ∂C/∂w. An error written "
        "`a - y` has the gradient's sign, so its update is `-=`; written `y - a` it is the "
        "negative gradient, so the update is `+=`. Mixing the two conventions (copied from two "
        "tutorials) makes the loss grow."
    )
    instead = "With `error = a - y` use `W -= lr * dW`; with `error = y - a` use `W += lr * dW`."
    known_problems = (
        "The sign is followed from the error `a - y` / `y - a` through products, sums, names, "
        "helper returns and comprehensions to the update; when any step is ambiguous, the rule "
        "is silent."
    )
    valid = [
        Valid(
            """
            def backward(params, X, Y, A):
                dZ = A - Y
                dW = dZ @ X.T / X.shape[1]
                return {"dW": dW}

            def update(params, grads, rate):
                params["W"] = params["W"] - rate * grads["dW"]
                return params

            def fit(X, Y, params):
                for _ in range(100):
                    A = sigmoid(params["W"] @ X)
                    grads = backward(params, X, Y, A)
                    params = update(params, grads, rate=0.1)
            """
        ),
        Valid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = y - out
                W += lr * X.T @ (error * out * (1 - out))
                return W
            """,
            note="`y - a` with `+=`: the error already carries the minus sign.",
        ),
        Valid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = out - y
                W -= lr * X.T @ (error * out * (1 - out))
                return W
            """
        ),
        Valid(
            """
            def step(self, X, y):
                p = sigmoid(X @ self.w)
                grad = X.T @ (p - y) / len(y)
                self.w = self.w - self.lr * grad
            """
        ),
        Valid(
            """
            def update(self, nabla_w, eta, n):
                self.weights = [w - (eta / n) * nw for w, nw in zip(self.weights, nabla_w)]
            """
        ),
        Valid(
            """
            def perceptron(w, x, y, lr):
                pred = np.sign(w @ x)
                w += lr * (y - pred) * x
                return w
            """
        ),
        Valid(
            """
            def train(W, grads, lr):
                W -= lr * grads["W"]
                return W
            """,
            note="The gradient's sign is unknown here: silent.",
        ),
        Valid(
            """
            def train(X, y, W, lr):
                out = X @ W
                error = out - y
                W += -lr * X.T @ error
                return W
            """
        ),
        Valid(
            """
            def ascent(theta, x, y, lr):
                p = sigmoid(x @ theta)
                theta += lr * x.T @ (y - p)
                return theta
            """,
            note="Maximising the log-likelihood with y − p: a consistent ascent.",
        ),
        Valid(
            """
            class Dense:
                def forward(self, x):
                    self.x = x
                    return self.W @ x + self.b

                def backward(self, g):
                    self.gW = g @ self.x.T
                    self.gb = g.sum(axis=1, keepdims=True)
                    return self.W.T @ g

                def step(self, lr):
                    self.W -= lr * self.gW
                    self.b -= lr * self.gb
            """
        ),
        Valid(
            """
            class Dense:
                def forward(self, x):
                    self.x = x
                    return self.W @ x + self.b

                def backward(self, g):
                    self.gW = g @ self.x.T
                    self.gb = g.sum(axis=1, keepdims=True)
                    return self.W.T @ g

                def step(self, lr):
                    self.W += lr * self.gW
                    self.b += lr * self.gb
            """,
            note="The caller passes y − a: both parameters move the same way.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = y - out
                W -= lr * X.T @ (error * out * (1 - out))
                return W
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = out - y
                W += lr * X.T @ (error * out * (1 - out))
                return W
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def step(self, X, y):
                p = sigmoid(X @ self.w)
                grad = X.T @ (p - y) / len(y)
                self.w = self.w + self.lr * grad
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            class Net:
                def feedforward(self, x):
                    return sigmoid(np.dot(self.W, x))

                def backprop(self, x, y):
                    delta = (self.feedforward(x) - y) * 0.25
                    return np.dot(delta, x.T)

                def update(self, x, y, eta):
                    nabla_w = self.backprop(x, y)
                    self.W = self.W + eta * nabla_w
            """,
            at=(11, 9),
        ),
        Invalid(
            """
            def fit(self, X, y):
                for _ in range(100):
                    a = sigmoid(X @ self.w)
                    dz = a - y
                    dw = X.T @ dz / len(y)
                    self.w += self.lr * dw
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            error = y - output
            d_output = error * output * (1 - output)
            W2 -= learning_rate * hidden.T.dot(d_output)
            """,
            at=(3, 1),
        ),
        Invalid(
            """
            def train(X, y, W, lr):
                out = X @ W
                error = out - y
                W += -lr * X.T @ (-error)
                return W
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def sgd(weights, x, y, eta):
                out = sigmoid(np.dot(weights, x))
                delta = (y - out) * out * (1 - out)
                weights = weights - eta * np.outer(delta, x)
                return weights
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            class Dense:
                def forward(self, x):
                    self.x = x
                    return self.W @ x + self.b

                def backward(self, g):
                    self.gW = g @ self.x.T
                    self.gb = g.sum(axis=1, keepdims=True)
                    return self.W.T @ g

                def step(self, lr):
                    self.W -= lr * self.gW
                    self.b += lr * self.gb
            """,
            at=(13, 9),
        ),
        Invalid(
            """
            def backward(params, X, Y, A):
                dZ = A - Y
                dW = dZ @ X.T / X.shape[1]
                return {"dW": dW}

            def update(params, grads, rate):
                params["W"] = params["W"] + rate * grads["dW"]
                return params

            def fit(X, Y, params):
                for _ in range(100):
                    A = sigmoid(params["W"] @ X)
                    grads = backward(params, X, Y, A)
                    params = update(params, grads, rate=0.1)
            """,
            at=(7, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for u in model.updates():
            sign = model.sign(u.step, u.step_scope)
            if sign is None or u.direction * sign != 1:
                continue
            node = _statement(u)
            error, other = ("a − y", "y − a") if sign == 1 else ("y − a", "a − y")
            verb, flip = ("adds", "subtract it") if u.direction == 1 else ("subtracts", "add it")
            yield Report(
                node,
                f"`{model.src(node).strip()}` {verb} a step built from {error}, so "
                f"`{model.src(u.binding.target)}` moves up its gradient and the loss grows; "
                f"{flip}, or build the step from {other}",
                evidence=tuple(sign_evidence(model, u.step, u.step_scope)),
            )
        yield from _disagreeing_updates(model)


def _statement(u: Update) -> cst.CSTNode:
    stmt = u.binding.stmt
    return stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else u.binding.target


def _disagreeing_updates(model: ModuleModel) -> Iterator[Report]:
    for d in disagreeing_updates(model):
        node = _statement(d.update)
        other_node = _statement(d.other)
        yield Report(
            node,
            f"`{model.src(node).strip()}` moves `{model.src(d.update.binding.target)}` "
            f"{'along' if d.along else 'against'} `{d.param}` (the gradient "
            f"`{d.scope.qualname()}` receives), but `{model.src(other_node).strip()}` moves "
            f"`{model.src(d.other.binding.target)}` the other way; both steps are the same-sign "
            f"multiple of `{d.param}`, so one of them climbs the loss",
            evidence=((other_node, "this update moves the other way"),),
        )
