"""BP110 gradient-mask-is-constant."""

from __future__ import annotations

from collections.abc import Iterator

from linter.analysis import ModuleModel
from linter.analysis.masks import constant_masks, range_origin
from linter.rule import Invalid, Report, Rule, Valid


class GradientMaskIsConstant(Rule):
    """A mask on a gradient that the compared value's range makes all-true or all-false."""

    code = "BP110"
    prefilter = (r"[<>]",)
    name = "gradient-mask-is-constant"
    kb = "relu-mask-always-true"
    summary = "A mask on a gradient that cannot be false (or true): `relu_out >= 0`."
    why = (
        "A ReLU's derivative is 0 where its input is ≤ 0, and the mask that applies it must be "
        "false there. A ReLU's output is never negative, so `out >= 0` is true everywhere (and "
        "`out < 0` nowhere): the gate passes the whole gradient through and the layer "
        "back-propagates as the identity. The same holds for any compared value whose range "
        "decides the comparison (a sigmoid's output is always > 0)."
    )
    instead = (
        "Take the mask from the input (`x > 0`) or use a strict comparison on the output "
        "(`out > 0`): `dx = dout * (x > 0)`."
    )
    known_problems = (
        "Only comparisons with a constant are judged, and only when the compared value's range "
        "is known by construction (ReLU, clip, sigmoid, tanh, exp, squares and what is computed "
        "from them, through names, attributes and this module's helpers); a value whose range "
        "is unknown is never reported."
    )
    valid = [
        Valid("def relu_backward(dout, x):\n    return dout * (x > 0)\n"),
        Valid(
            """
            def relu_backward(dout, cache):
                out = np.maximum(0, cache)
                return dout * (out > 0)
            """
        ),
        Valid(
            """
            class ReLU:
                def forward(self, x):
                    self.x = x
                    return np.maximum(0, x)

                def backward(self, g):
                    dx = g.copy()
                    dx[self.x <= 0] = 0
                    return dx
            """
        ),
        Valid(
            """
            class ReLU:
                def forward(self, x):
                    self.out = np.clip(x, 0, None)
                    return self.out

                def backward(self, g):
                    return g * (self.out > 0)
            """
        ),
        Valid(
            """
            def backward(dA, Z):
                return np.where(Z > 0, dA, 0.0)
            """
        ),
        Valid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def backward(dA, Z):
                a = sigmoid(Z)
                return dA * (a > 0.5)
            """,
        ),
        Valid(
            """
            def leaky_backward(dout, x, slope=0.01):
                dx = np.ones_like(x)
                dx[x < 0] = slope
                return dout * dx
            """
        ),
        Valid(
            """
            def clip_grad(g, x):
                h = np.tanh(x)
                keep = np.abs(h) < 0.99
                return g * keep
            """
        ),
        Valid(
            """
            def predict(X, W):
                p = 1 / (1 + np.exp(-(X @ W)))
                return (p >= 0.5).astype(int)
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            class ReLU:
                def forward(self, x):
                    self.out = np.clip(x, 0, None)
                    return self.out

                def backward(self, g):
                    mask = self.out >= 0
                    return g * mask
            """,
            at=(8, 16),
        ),
        Invalid(
            """
            def relu_backward(dout, cache):
                out = np.maximum(0, cache)
                return dout * (out >= 0)
            """,
            at=(3, 12),
        ),
        Invalid(
            """
            class ReLU:
                def forward(self, Z):
                    self.A = np.maximum(Z, 0)
                    return self.A

                def backward(self, dA):
                    dZ = np.array(dA, copy=True)
                    dZ[self.A < 0] = 0
                    return dZ
            """,
            at=(8, 9),
        ),
        Invalid(
            """
            class Relu:
                def forward(self, x):
                    self.a = np.maximum(0, x)
                    return self.a

                def backward(self, grad):
                    return np.where(self.a >= 0, grad, 0)
            """,
            at=(7, 16),
        ),
        Invalid(
            """
            def relu(z):
                return np.maximum(0, z)

            def backprop(W1, W2, x, y):
                h = relu(W1 @ x)
                out = W2 @ h
                delta = out - y
                dh = (W2.T @ delta) * (h >= 0).astype(float)
                return np.outer(dh, x), np.outer(delta, h)
            """,
            at=(8, 10),
        ),
        Invalid(
            """
            def relu_grad(dout, z):
                a = np.maximum(z, 0)
                dz = dout.copy()
                dz[a < 0] = 0
                return dz

            def train_step(W1, W2, x, y, lr):
                z = W1 @ x
                h = np.maximum(z, 0)
                out = W2 @ h
                dz = relu_grad(W2.T @ (out - y), z)
                W2 -= lr * np.outer(out - y, h)
                W1 -= lr * np.outer(dz, x)
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            class Layer:
                def forward(self, x):
                    self.x = x
                    self.h = np.maximum(self.W @ x, 0.0)
                    return self.h

                def backward(self, g):
                    g = g * (self.h >= 0.0)
                    self.dW = g @ self.x.T
                    return self.W.T @ g
            """,
            at=(8, 13),
        ),
        Invalid(
            """
            def layer_backward(upstream, z):
                a = np.clip(z, 0, 6)
                local = (a >= 0) * 1.0
                return upstream * local
            """,
            at=(4, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        seen = set()
        for m in constant_masks(model):
            if m.comparison in seen:
                continue
            seen.add(m.comparison)
            value = model.src(m.operand)
            kept = "every entry" if m.always else "no entry"
            yield Report(
                m.use,
                f"`{model.src(m.comparison)}` is {'always true' if m.always else 'never true'}: "
                f"`{value}` lies in {m.range} by construction, so this mask keeps {kept} of "
                f"`{model.src(m.gradient)}` and the derivative it should apply is lost; take the "
                f"mask from the layer's input (`x > 0`) or compare strictly (`out > 0`)",
                evidence=(
                    (
                        range_origin(model, m.operand, m.scope),
                        f"`{value}` is made here: its values lie in {m.range}",
                    ),
                ),
            )
