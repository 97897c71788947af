"""BP003 weight-gradient-orientation."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role, Scope
from linter.analysis import names as N
from linter.analysis.evidence import gradient_evidence, layout_evidence
from linter.analysis.gradients import product_operands, transposed_in_updates
from linter.analysis.shapes import stored_for_vector
from linter.rule import Invalid, Report, Rule, Valid


class WeightGradientOrientation(Rule):
    """Flags a weight gradient built as an outer product in the orientation of the other layout."""

    code = "BP003"
    prefilter = (P.BASE, f"{P.MATMUL}|{P.OUTER}", f"{P.UPDATE}|{P.WEIGHT_GRAD}")
    name = "weight-gradient-orientation"
    kb = "weight-gradient-orientation"
    summary = "Weight gradient outer product in the wrong orientation for the forward convention."
    why = (
        "A weight stored as (out, in) — the forward pass computes `W @ a` — has the gradient "
        "`delta @ a.T` (the gradient's index first); a weight stored as (in, out) — `X @ W` — has "
        "`X.T @ dZ`. The other orientation is the transpose of the gradient: a shape error for "
        "most layers, but square layers accept it and train on a transposed gradient."
    )
    instead = "Column convention: `dW = delta @ a_prev.T`; row convention: `dW = a_prev.T @ dZ`."
    known_problems = (
        "The convention is learnt from the module's forward products; a module that stores "
        "weights both ways is not judged. Only values stored under a weight-gradient name "
        "(`dW1`, `nabla_w[l]`, `grads['W1']`) are considered weight gradients."
    )
    valid = [
        Valid(
            """
            def forward(self, a):
                return sigmoid(np.dot(self.W, a) + self.b)

            def backward(self, delta, a_prev):
                dW = np.dot(delta, a_prev.T)
                return dW
            """
        ),
        Valid(
            """
            def forward(X, W1, b1):
                return np.tanh(X @ W1 + b1)

            def backward(X, dZ1):
                dW1 = X.T @ dZ1
                return dW1
            """
        ),
        Valid(
            """
            def forward(self, x):
                return x @ self.weight.T

            def backward(self, x, grad_out):
                grad_weight = grad_out.T @ x
                return grad_weight
            """,
            note="PyTorch layout (out, in) with row-major batches.",
        ),
        Valid(
            """
            def step(W, x, target):
                h = np.tanh(np.dot(W, x))
                dh = (h - target) * (1 - h**2)
                dW = np.outer(dh, x)
                return dW
            """
        ),
        Valid(
            """
            def forward(x, w):
                return x.dot(w)

            def backward(dout, x):
                dw = x.T.dot(dout)
                return dw
            """
        ),
        Valid(
            """
            def forward(self, X):
                self.H = X @ self.W1
                self.Y = self.H @ self.W2.T
                return self.Y

            def backward(self, X, dY):
                dW1 = X.T @ (dY @ self.W2)
                return dW1
            """,
            note="Weights stored both ways in one module: the rule cannot tell, so it is silent.",
        ),
        Valid(
            """
            def backprop(self, x, delta, activations):
                self.W = self.W @ self.W
                nabla_w = np.dot(delta, activations[-2].transpose())
                return nabla_w
            """,
            note="No forward product with a non-gradient: no convention to compare with.",
        ),
        Valid(
            """
            def train(self, X, y, lr):
                probs = softmax(np.dot(X, self.W.T))
                dw = np.dot(X.T, probs - y)
                self.W = self.W - lr * dw.T
            """,
            note="Stored the other way round and applied transposed: right.",
        ),
        Valid(
            """
            def forward(self, a):
                return np.dot(self.W, a)

            def backward(self, delta, a):
                dW = 1 / a.shape[1] * np.dot(delta, a.T) + 0.01 * self.W
                return dW
            """
        ),
        Valid(
            """
            import numpy as np

            def train(P, Q, rate):
                M = np.random.randn(3, 3)
                for _ in range(10):
                    out = np.tanh(P @ M)
                    g = (out - Q) * (1 - out**2)
                    M -= rate * (P.T @ g)
                return M
            """,
            note="The batch is summed by `P.T @ g`: the right weight gradient.",
        ),
        Valid(
            """
            import numpy as np

            def train(X, Y, lr):
                W = np.random.randn(3, 2)
                for _ in range(10):
                    out = np.tanh(X @ W)
                    W -= lr * X.T @ ((out - Y) * (1 - out**2))
                return W
            """,
            note="`lr * X.T @ g` is `(lr * X.T) @ g`: the input is transposed, the scale aside.",
        ),
        Valid(
            """
            class LogisticRegression:
                def fit(self, X, y, lr=0.01, epochs=100):
                    self.w = np.random.uniform(-0.1, 0.1, (X.shape[1],))
                    for _ in range(epochs):
                        y_hat = 1 / (1 + np.exp(-X.dot(self.w)))
                        self.w -= lr * -(y - y_hat).dot(X)
            """,
            note="A vector parameter has no orientation: `g.dot(X)` is `X.T.dot(g)`.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def forward(self, a):
                return sigmoid(np.dot(self.W, a) + self.b)

            def backward(self, delta, a_prev):
                dW = np.dot(a_prev, delta.T)
                return dW
            """,
            at=(5, 10),
        ),
        Invalid(
            """
            def forward(X, W1, b1):
                return np.tanh(X @ W1 + b1)

            def backward(X, dZ1):
                dW1 = dZ1.T @ X
                return dW1
            """,
            at=(5, 11),
        ),
        Invalid(
            """
            def forward(self, x):
                return x @ self.weight.T

            def backward(self, x, grad_out):
                grad_weight = x.T @ grad_out
                return grad_weight
            """,
            at=(5, 19),
        ),
        Invalid(
            """
            def step(W, x, target):
                h = np.tanh(np.dot(W, x))
                dh = (h - target) * (1 - h**2)
                dW = np.outer(x, dh)
                return dW
            """,
            at=(4, 10),
        ),
        Invalid(
            """
            def forward(x, w):
                return x.dot(w)

            def backward(dout, x):
                dw = dout.T.dot(x)
                return dw
            """,
            at=(5, 10),
        ),
        Invalid(
            """
            def feedforward(self, a):
                for w, b in zip(self.weights, self.biases):
                    a = sigmoid(np.dot(w, a) + b)
                return a

            def backprop(self, delta, activations, nabla_w):
                nabla_w[-1] = np.dot(activations[-2], delta.transpose())
                return nabla_w
            """,
            at=(7, 19),
        ),
        Invalid(
            """
            def forward(self, a):
                return np.dot(self.W, a)

            def backward(self, delta, a):
                dW = 1 / a.shape[1] * np.dot(a, delta.T) + 0.01 * self.W
                return dW
            """,
            at=(5, 27),
        ),
        Invalid(
            """
            def train(X, y, W1, W2, lr):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                d_out = (out - y) * out * (1 - out)
                grads = {}
                grads["W2"] = d_out.T @ h
                return grads
            """,
            at=(6, 19),
        ),
        Invalid(
            """
            import numpy as np

            class Net:
                def __init__(self, n_in, n_hid):
                    self.V = np.random.rand(n_in, n_hid)

                def run(self, X):
                    self.H = 1 / (1 + np.exp(-np.dot(X, self.V)))
                    return self.H

                def learn(self, X, E):
                    step = np.dot(X, E * self.H * (1 - self.H))
                    self.V += step
            """,
            at=(12, 16),
            note="`X @ E` with neither factor transposed: runs only when the batch size equals "
            "the input width, and then it is not the gradient.",
        ),
        Invalid(
            """
            import numpy as np

            def train(P, Q, rate):
                M = np.random.randn(3, 3)
                for _ in range(10):
                    out = np.tanh(P @ M)
                    g = (out - Q) * (1 - out**2)
                    M -= rate * (P @ g)
                return M
            """,
            at=(8, 22),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        layouts = model.weight_layouts()
        if len(layouts) != 1:
            return
        layout = next(iter(layouts))
        transposed_in_update = transposed_in_updates(model)
        for b, scope in model.gradient_stores("weight"):
            if N.target_label(b.target) in transposed_in_update:
                continue  # stored the other way round and applied as ``W -= lr * dW.T``
            if stored_for_vector(model, b, scope):
                continue  # a vector parameter has no orientation: g.dot(X) is X.T.dot(g)
            assert b.value is not None
            found = product_operands(model, model.core_value(b.value))
            if found is None:
                continue
            node, left, right = found
            lg = model.has(left, scope, Role.GRAD)
            rg = model.has(right, scope, Role.GRAD)
            if lg == rg:
                continue
            other = right if lg else left
            if model.is_weight(other, scope):
                continue
            got = "out-in" if lg else "in-out"
            if got == layout:
                if (
                    model.matmul(node) is not None
                    and not model.strip_transpose(model.core_value(left))[1]
                    and not model.strip_transpose(model.core_value(right))[1]
                    and isinstance(model.core_value(other), cst.Name | cst.Attribute)
                ):
                    yield self._untransposed(
                        model, node, model.core_value(other), layout, left if lg else right, scope
                    )
                continue
            # Said with the code's own operands: which one goes on the left.
            grad = _operand(model, left if lg else right)
            data = _operand(model, other)
            first, second = (grad, data) if layout == "out-in" else (data, grad)
            method = (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and model.qualname(node.func) is None
            )
            if method:  # a.dot(b) as written
                rewrite = (
                    f"{first}.dot({second}.T)" if layout == "out-in" else f"{first}.T.dot({second})"
                )
            elif isinstance(node, cst.Call):  # np.outer(a, b) / np.dot(a, b) as written
                func = model.src(node.func)
                outer = model.qualname(node.func) in ("numpy.outer", "torch.outer")
                tail = "" if outer else ".T"
                rewrite = (
                    f"{func}({first}, {second}{tail})"
                    if layout == "out-in"
                    else f"{func}({first}{tail}, {second})"
                )
            else:
                rewrite = f"{first} @ {second}.T" if layout == "out-in" else f"{first}.T @ {second}"
            want = f"`{first}` on the left and `{second}` on the right (`{rewrite}`)"
            yield Report(
                node,
                f"`{model.src(node)}` builds the weight gradient in the orientation of the "
                f"other convention: the forward pass stores weights as ({layout.replace('-', ', ')}), "
                f"so the product needs {want}",
                evidence=(
                    *layout_evidence(model, layout),
                    *gradient_evidence(model, left if lg else right, scope),
                ),
            )

    def _untransposed(
        self, model: ModuleModel, node, other, layout: str, grad, scope: Scope
    ) -> Report:
        """``a_prev @ dZ``: right order, but neither factor is transposed, so the product does
        not sum over the batch (it only runs when the batch size equals a layer width)."""
        fixed = f"{model.src(other)}.T"
        return Report(
            node,
            f"`{model.src(node)}` multiplies the gradient by the layer input "
            f"`{model.src(other)}` without transposing it; the weight gradient sums over the "
            f"batch: use `{fixed}` ({'`delta @ a_prev.T`' if layout == 'out-in' else '`a_prev.T @ dZ`'})",
            evidence=(*layout_evidence(model, layout), *gradient_evidence(model, grad, scope)),
        )


def _operand(model: ModuleModel, node: cst.BaseExpression) -> str:
    """A product operand as written, without its transpose, parenthesised unless atomic."""
    base = model.strip_transpose(node)[0]
    text = model.src(base)
    atomic = isinstance(base, (cst.Name, cst.Attribute, cst.Subscript, cst.Call))
    return text if atomic else f"({text})"
