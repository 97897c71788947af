"""BP006 gradient-overwritten-at-fan-out."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.gradients import overwrites_accumulator, reads_grad
from linter.rule import Invalid, Report, Rule, Valid


class GradientOverwrittenAtFanOut(Rule):
    """Flags a gradient assigned with `=` where contributions must be accumulated with `+=`."""

    code = "BP006"
    prefilter = (
        P.BASE,
        # a weight gradient's store: named, fed to an update, or a product of its shape
        f"{P.GRAD_ATTR}|{P.WEIGHT_GRAD}|{P.UPDATE}|{P.MATMUL}|{P.OUTER}",
        f"{P.GRAD_ATTR}|{P.CONST_INIT}",
    )
    name = "gradient-overwritten-at-fan-out"
    kb = "fan-out-gradients-accumulate"
    summary = "Gradient overwritten instead of accumulated (`=` where `+=` is needed)."
    why = (
        "When a value feeds several operations, or a weight is used at every time step, the "
        "chain rule sums the contributions of every use. Assigning the gradient keeps only the "
        "last one: `b = a + a` then reports db/da = 1 instead of 2, and BPTT keeps only the "
        "first time step's weight gradient."
    )
    instead = "Accumulate: `self.grad += out.grad * local` in `_backward`, `dWhh += ...` in BPTT."
    known_problems = (
        "Two shapes are recognised: assignments to `.grad` inside a `_backward`-style closure "
        "that reads another node's `.grad`, and a weight-gradient accumulator set to zeros "
        "before a loop and plain-assigned inside it."
    )
    valid = [
        Valid(
            """
            def __add__(self, other):
                out = Value(self.data + other.data, (self, other))

                def _backward():
                    self.grad += out.grad
                    other.grad += out.grad

                out._backward = _backward
                return out
            """
        ),
        Valid(
            """
            def backward(self):
                topo = build_topo(self)
                self.grad = 1.0
                for v in reversed(topo):
                    v._backward()
            """,
            note="Seeding the output's gradient with `=` is right.",
        ),
        Valid(
            """
            def zero_grad(self):
                for p in self.parameters():
                    p.grad = 0.0
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Whh, Why):
                dWhh = np.zeros_like(Whh)
                dhnext = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh = np.dot(Why.T, dys[t]) + dhnext
                    dhraw = (1 - hs[t] ** 2) * dh
                    dWhh += np.dot(dhraw, hs[t - 1].T)
                    dhnext = np.dot(Whh.T, dhraw)
                return dWhh
            """,
            note="`dhnext` is carried state, rightly replaced every step.",
        ),
        Valid(
            """
            def backward(dout, x, w):
                dw = np.zeros_like(w)
                dw = x.T @ dout
                return dw
            """,
            note="No loop: the zeros are simply replaced.",
        ),
        Valid(
            """
            def tanh(self):
                t = math.tanh(self.data)
                out = Value(t, (self,))

                def _backward():
                    self.grad += (1 - t**2) * out.grad

                out._backward = _backward
                return out
            """
        ),
        Valid(
            """
            def train(X, Y, W):
                for epoch in range(10):
                    dW = np.zeros_like(W)
                    for x, y in zip(X, Y):
                        dW = dW + np.outer(y - W @ x, x)
                    W += 0.1 * dW
                return W
            """
        ),
        Valid(
            """
            def set_grad(node, g):
                node.grad = g
            """
        ),
        Valid(
            """
            def fit(X, y, W, lr, n):
                dW = np.zeros_like(W)
                for epoch in range(100):
                    dW = X.T @ (X @ W - y) / n
                    W -= lr * dW
                return W
            """,
            note="Each iteration's gradient is used in that iteration: nothing to accumulate.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def __add__(self, other):
                out = Value(self.data + other.data, (self, other))

                def _backward():
                    self.grad = out.grad
                    other.grad = out.grad

                out._backward = _backward
                return out
            """,
            at=[(5, 9), (6, 9)],
        ),
        Invalid(
            """
            def __mul__(self, other):
                out = Value(self.data * other.data, (self, other))

                def _backward():
                    self.grad += other.data * out.grad
                    other.grad = self.data * out.grad

                out._backward = _backward
                return out
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            def tanh(self):
                t = math.tanh(self.data)
                out = Value(t, (self,))

                def _backward():
                    self.grad = (1 - t**2) * out.grad

                out._backward = _backward
                return out
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Whh, Why):
                dWhh = np.zeros_like(Whh)
                dhnext = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh = np.dot(Why.T, dys[t]) + dhnext
                    dhraw = (1 - hs[t] ** 2) * dh
                    dWhh = np.dot(dhraw, hs[t - 1].T)
                    dhnext = np.dot(Whh.T, dhraw)
                return dWhh
            """,
            at=(7, 9),
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Wxh, Why):
                dWxh, dWhy = np.zeros_like(Wxh), np.zeros_like(Why)
                for t in reversed(range(len(xs))):
                    dWhy = np.dot(dys[t], hs[t].T)
                    dh = np.dot(Why.T, dys[t]) * (1 - hs[t] ** 2)
                    dWxh += np.dot(dh, xs[t].T)
                return dWxh, dWhy
            """,
            at=(4, 9),
        ),
        Invalid(
            """
            def relu(self):
                out = Value(max(0.0, self.data), (self,))

                def _backward():
                    self.grad = (out.data > 0) * out.grad

                out._backward = _backward
                return out
            """,
            at=(5, 9),
        ),
        Invalid(
            """
            class Value:
                def __pow__(self, k):
                    out = Value(self.data**k, (self,))

                    def _backward():
                        self.grad = k * self.data ** (k - 1) * out.grad

                    out._backward = _backward
                    return out
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            def accumulate(batch, W):
                grad_W = np.zeros_like(W)
                for x, delta in batch:
                    grad_W = np.outer(delta, x)
                return grad_W
            """,
            at=(4, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for scope in model.c.scopes:
            for key, bindings in scope.bindings.items():
                for b in bindings:
                    if b.kind != "assign" or b.value is None:
                        continue
                    if scope.nested and key.endswith(".grad") and reads_grad(b.value):
                        yield Report(
                            b.target,
                            f"`{model.src(b.target)} = ...` inside a backward closure "
                            f"overwrites the gradient: a node used more than once receives a "
                            f"contribution from each use; accumulate with `+=`",
                            evidence=(
                                (
                                    scope.node,
                                    f"`{scope.name}` is a closure run once per use of its node",
                                ),
                            ),
                        )
                    elif (zeroed := overwrites_accumulator(model, key, b, bindings)) is not None:
                        yield Report(
                            b.target,
                            f"`{model.src(b.target)}` is set to zeros before the loop and "
                            f"assigned inside it, so only the last iteration's gradient "
                            f"survives; accumulate with `+=`",
                            evidence=((zeroed.target, f"`{model.src(b.target)}` is zeroed here"),),
                        )
