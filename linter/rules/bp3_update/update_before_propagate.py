"""BP302 update-before-propagate."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.evidence import gradient_evidence
from linter.rule import Invalid, Report, Rule, Valid


class UpdateBeforePropagate(Rule):
    """Flags a weight updated before the same backward pass propagates the gradient through it."""

    code = "BP302"
    prefilter = (P.BASE, P.MATMUL, P.UPDATE)
    name = "update-before-propagate"
    kb = "update-before-propagate"
    summary = "Weight updated before it is used to propagate delta to the layer below."
    why = (
        "Backprop differentiates the network that computed the forward pass. Updating W and "
        "then computing `delta @ W.T` propagates through the new weights, so the layers below "
        "get a gradient of a network that never ran; the error grows with the learning rate."
    )
    instead = "Propagate the gradient through every layer first, then apply all the updates."
    valid = [
        Valid(
            """
            def train_step(X, y, W1, W2, lr):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                d_out = (out - y) * out * (1 - out)
                d_h = d_out @ W2.T * h * (1 - h)
                W2 -= lr * h.T @ d_out
                W1 -= lr * X.T @ d_h
            """
        ),
        Valid(
            """
            class Dense:
                def backward(self, grad, lr):
                    grad_input = grad @ self.W.T
                    self.W -= lr * self.x.T @ grad
                    return grad_input
            """
        ),
        Valid(
            """
            for epoch in range(10):
                h = sigmoid(X @ W1)
                out = h @ W2
                d_out = out - y
                d_h = d_out @ W2.T
                W2 -= lr * h.T @ d_out
                W1 -= lr * X.T @ d_h
            """,
            note="The next iteration's backward uses the updated W2: that is training.",
        ),
        Valid(
            """
            def step(W1, W2, grads, lr):
                W1 -= lr * grads[0]
                W2 -= lr * grads[1]
                return W1, W2
            """
        ),
        Valid(
            """
            def train(self, X, y):
                self.W2 -= self.lr * self.dW2
                h = sigmoid(X @ self.W1)
                return h @ self.W2
            """,
            note="A forward use after the update is fine.",
        ),
        Valid(
            """
            def backward(self, d_out, lr):
                d_h = d_out @ self.W2.T
                self.W2 -= lr * self.h.T @ d_out
                self.W1 -= lr * self.x.T @ d_h
            """
        ),
        Valid(
            """
            def rnn_step(Whh, dWhh, dh, lr):
                Whh -= lr * dWhh
                return Whh
            """
        ),
        Valid(
            """
            def two_nets(A, B, dA, dB, delta, lr):
                A -= lr * dA
                return delta @ B.T
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            def train_step(X, y, W1, W2, lr):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                d_out = (out - y) * out * (1 - out)
                W2 -= lr * h.T @ d_out
                d_h = d_out @ W2.T * h * (1 - h)
                W1 -= lr * X.T @ d_h
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            class Dense:
                def forward(self, x):
                    self.x = x
                    return x @ self.W

                def backward(self, grad, lr):
                    self.W -= lr * self.x.T @ grad
                    return grad @ self.W.T
            """,
            at=(7, 9),
        ),
        Invalid(
            """
            for epoch in range(10):
                h = sigmoid(X @ W1)
                out = h @ W2
                d_out = out - y
                W2 -= lr * h.T @ d_out
                d_h = d_out @ W2.T
                W1 -= lr * X.T @ d_h
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def backward(self, d_out, lr):
                self.W2 -= lr * self.h.T @ d_out
                d_h = d_out @ self.W2.T
                self.W1 -= lr * self.x.T @ d_h

            def forward(self, x):
                self.h = sigmoid(x @ self.W1)
                return self.h @ self.W2
            """,
            at=(2, 5),
        ),
        Invalid(
            """
            def train(self, X, y):
                output = sigmoid(np.dot(self.hidden, self.W2))
                d_output = (y - output) * output * (1 - output)
                self.W2 += self.hidden.T.dot(d_output) * self.lr
                d_hidden = d_output.dot(self.W2.T) * self.hidden * (1 - self.hidden)
                self.W1 += X.T.dot(d_hidden) * self.lr
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def backprop(self, x, y, eta):
                a1 = sigmoid(np.dot(self.W1, x))
                a2 = sigmoid(np.dot(self.W2, a1))
                delta2 = (a2 - y) * a2 * (1 - a2)
                self.W2 = self.W2 - eta * np.outer(delta2, a1)
                delta1 = np.dot(self.W2.T, delta2) * a1 * (1 - a1)
                self.W1 = self.W1 - eta * np.outer(delta1, x)
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def step(params, grads, X, y, lr):
                h = np.tanh(X @ params["W1"])
                out = h @ params["W2"]
                d_out = out - y
                params["W2"] -= lr * h.T @ d_out
                d_h = d_out @ params["W2"].T * (1 - h**2)
                params["W1"] -= lr * X.T @ d_h
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def bptt_step(Why, h, dy, lr):
                out = Why @ h
                Why -= lr * np.outer(dy, h)
                dh = Why.T @ dy
                return dh
            """,
            at=(3, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        uses = [
            (use, site)
            for use, site in model.weight_uses()
            if model.has(use.other, site.scope, Role.GRAD)
        ]
        for u in model.updates():
            b = u.binding
            for use, site in uses:
                if use.key != u.key or site.scope is not u.scope:
                    continue
                if site.index <= b.index or site.loops != b.loops:
                    continue
                stmt = b.stmt
                node = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else b.target
                yield Report(
                    node,
                    f"`{model.src(b.target)}` is updated before `{model.src(use.matmul.node)}` "
                    f"propagates the gradient through it, so the layers below get the gradient "
                    f"of the updated network; propagate first, then update",
                    evidence=(
                        (
                            use.matmul.node,
                            f"`{model.src(use.matmul.node)}` propagates the gradient through "
                            f"the updated `{model.src(b.target)}`",
                        ),
                        *gradient_evidence(model, use.other, site.scope),
                    ),
                )
                break
