"""BP005 bias-gradient-not-summed."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role, Scope
from linter.analysis.batch import batch_axis
from linter.analysis.evidence import applied_evidence, gradient_evidence
from linter.analysis.gradients import batched, one_example, summed_by_loop, unreduced
from linter.rule import Invalid, Report, Rule, Valid


class BiasGradientNotSummed(Rule):
    """Flags a batched bias gradient that is not reduced over the batch axis."""

    code = "BP005"
    prefilter = (P.BASE, f"{P.UPDATE}|{P.BIAS_GRAD}")
    name = "bias-gradient-not-summed"
    kb = "bias-gradient-not-summed"
    summary = "Bias gradient not reduced over the batch axis."
    why = (
        "A bias is added to every example of the batch (broadcasting), so its gradient is the "
        "sum of the upstream gradient over the batch axis. Storing the per-example gradient "
        "either raises a shape error at the update or, with `b = b - lr * db`, silently "
        "broadcasts the bias into a matrix."
    )
    instead = "Reduce over the batch axis: `db = dZ.sum(axis=0)` (rows) or `axis=1, keepdims=True`."
    known_problems = (
        "Per-example code (`nabla_b = delta` for one column) is correct, so the rule needs "
        "evidence that the code is batched: the same function divides by a batch size, reads "
        "`x.shape[0]` to flatten a batch, or reduces another bias gradient over an axis."
    )
    valid = [
        Valid(
            """
            def backward(dZ, A_prev, m):
                dW = A_prev.T @ dZ / m
                db = np.sum(dZ, axis=0) / m
                return dW, db
            """
        ),
        Valid(
            """
            def backprop(self, x, y):
                delta = self.cost_derivative(x, y)
                nabla_b = delta
                return nabla_b
            """,
            note="Per-example Nielsen code: delta is one column, no reduction needed.",
        ),
        Valid(
            """
            def affine_backward(dout, cache):
                x, w, b = cache
                dw = x.reshape(x.shape[0], -1).T.dot(dout)
                db = np.sum(dout, axis=0)
                return dw, db
            """
        ),
        Valid(
            """
            def backward(self, dZ):
                self.db = dZ.mean(axis=0)
                return dZ @ self.W.T
            """
        ),
        Valid(
            """
            def backward(dZ, m):
                db = np.ones(m) @ dZ / m
                return db
            """,
            note="A product with a ones vector is a sum over the batch.",
        ),
        Valid(
            """
            def backward(delta, m):
                db = np.sum(delta, axis=1, keepdims=True) / m
                return db
            """
        ),
        Valid(
            """
            def sgd_step(b, db, lr):
                b = b - lr * db
                return b
            """
        ),
        Valid(
            """
            def backward(self, dout):
                db = dout
                return db
            """,
            note="No evidence of a batch: silent.",
        ),
        Valid(
            """
            def update(parameters, grads, m):
                dW1 = grads["dW1"] / m
                db1 = grads["db1"]
                return dW1, db1
            """,
            note="A lookup: the gradient was reduced where it was formed.",
        ),
        Valid(
            """
            def rnn_backward(dh, cache, m):
                dWx = np.zeros_like(cache[0]) / m
                db = 0
                for t in range(dh.shape[1]):
                    dx_t, dWx_t, db_t = step_backward(dh[:, t], cache)
                    dWx += dWx_t
                    db += db_t
                return dWx, db
            """,
            note="Per-step gradients returned by a helper that reduced them.",
        ),
        Valid(
            """
            class Conv1D:
                def forward(self, X):
                    self.X = X
                    return X @ self.W + self.b

                def backward(self, dZ):
                    X, W, b = self.X, self.W, self.b
                    dW, dB = np.zeros_like(W), np.zeros_like(b)
                    n_ex = X.shape[0]
                    Xf = X.reshape(X.shape[0], -1)
                    for m in range(n_ex):
                        for c in range(W.shape[-1]):
                            kernel = dZ[m, c]
                            dB[c] += kernel
                            dW[:, c] += Xf[m] * kernel
                    self.gradients["W"] += dW
                    self.gradients["b"] += dB
                    return dZ @ W.T
            """,
            note="The loop over examples m adds one example's gradient per pass: the loop is the sum.",
        ),
        Valid(
            """
            def init(n_x, n_h, n_y):
                return {
                    "W1": np.random.randn(n_h, n_x) * 0.01,
                    "b1": np.zeros((n_h, 1)),
                    "W2": np.random.randn(n_y, n_h) * 0.01,
                    "b2": np.zeros((n_y, 1)),
                }

            def backward(params, cache, X, Y):
                m = X.shape[1]
                dZ2 = cache["A2"] - Y
                dW2 = np.dot(dZ2, cache["A1"].T) / m
                db2 = np.sum(dZ2, axis=1, keepdims=True) / m
                dZ1 = np.dot(params["W2"].T, dZ2) * (1 - cache["A1"] ** 2)
                dW1 = np.dot(dZ1, X.T) / m
                db1 = np.sum(dZ1, axis=1, keepdims=True) / m
                return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}

            def update(params, grads, lr):
                params["W1"] = params["W1"] - lr * grads["dW1"]
                params["b1"] = params["b1"] - lr * grads["db1"]
                params["W2"] = params["W2"] - lr * grads["dW2"]
                params["b2"] = params["b2"] - lr * grads["db2"]
                return params

            def model(X, Y, n_h, steps):
                params = init(X.shape[0], n_h, Y.shape[0])
                for _ in range(steps):
                    A1 = np.tanh(np.dot(params["W1"], X) + params["b1"])
                    A2 = 1 / (1 + np.exp(-(np.dot(params["W2"], A1) + params["b2"])))
                    grads = backward(params, {"A1": A1, "A2": A2}, X, Y)
                    params = update(params, grads, 0.5)
                return params
            """,
            note="The same dict-passing network with the hidden bias gradient summed.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def forward(A_prev, W, b):
                return A_prev @ W + b

            def backward(dZ, A_prev, m):
                dW = A_prev.T @ dZ / m
                db = dZ / m
                return dW, db
            """,
            at=(6, 10),
        ),
        Invalid(
            """
            def affine_backward(dout, cache):
                x, w, b = cache
                dw = x.reshape(x.shape[0], -1).T.dot(dout)
                db = dout
                return dw, db
            """,
            at=(4, 10),
        ),
        Invalid(
            """
            def backprop(self, X, Y, zs, activations):
                delta = (activations[-1] - Y) * sigmoid_prime(zs[-1])
                nabla_b = [None, None]
                nabla_b[-1] = np.sum(delta, axis=1, keepdims=True)
                delta = np.dot(self.weights[-1].T, delta) * sigmoid_prime(zs[-2])
                nabla_b[-2] = delta
                return nabla_b
            """,
            at=(6, 19),
        ),
        Invalid(
            """
            def backward(A, Y, X):
                m = X.shape[1]
                dz = A - Y
                dw = np.dot(X, dz.T) / m
                db = dz / m
                return dw, db
            """,
            at=(5, 10),
        ),
        Invalid(
            """
            def forward(A_prev, W, b):
                return np.dot(W, A_prev) + b

            def backward(dZ, A_prev, m):
                dW = 1 / m * np.dot(dZ, A_prev.T)
                db = 1 / m * dZ
                return dW, db
            """,
            at=(6, 10),
        ),
        Invalid(
            """
            class Dense:
                def forward(self, X):
                    return X @ self.W + self.b

                def backward(self, dout, X):
                    N = X.shape[0]
                    grads = {}
                    grads["W"] = X.T @ dout / N
                    grads["b"] = dout / N
                    return grads
            """,
            at=(9, 22),
        ),
        Invalid(
            """
            def forward(X, W, b):
                return np.dot(W, X) + b

            def backward(delta, X):
                dW = np.dot(delta, X.T) / len(X)
                db = delta / len(X)
                return dW, db
            """,
            at=(6, 10),
        ),
        Invalid(
            """
            class Layer:
                def layer_forward(self, A_prev):
                    self.A_prev = A_prev
                    return A_prev @ self.W + self.b

                def layer_backward(self, dZ, n):
                    self.dW = self.A_prev.T @ dZ / n
                    self.db = dZ / n
            """,
            at=(8, 19),
        ),
        Invalid(
            """
            class Affine:
                def forward(self, x):
                    self.x = x
                    return np.dot(x, self.W) + self.b

                def backward(self, dout):
                    self.dW = np.dot(self.x.T, dout)
                    self.db = dout[0]
                    return np.dot(dout, self.W.T)
            """,
            at=(8, 19),
        ),
        Invalid(
            """
            def init(n_x, n_h, n_y):
                return {
                    "W1": np.random.randn(n_h, n_x) * 0.01,
                    "b1": np.zeros((n_h, 1)),
                    "W2": np.random.randn(n_y, n_h) * 0.01,
                    "b2": np.zeros((n_y, 1)),
                }

            def backward(params, cache, X, Y):
                m = X.shape[1]
                dZ2 = cache["A2"] - Y
                dW2 = np.dot(dZ2, cache["A1"].T) / m
                db2 = np.sum(dZ2, axis=1, keepdims=True) / m
                dZ1 = np.dot(params["W2"].T, dZ2) * (1 - cache["A1"] ** 2)
                dW1 = np.dot(dZ1, X.T) / m
                db1 = dZ1 / m
                return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}

            def update(params, grads, lr):
                params["W1"] = params["W1"] - lr * grads["dW1"]
                params["b1"] = params["b1"] - lr * grads["db1"]
                params["W2"] = params["W2"] - lr * grads["dW2"]
                params["b2"] = params["b2"] - lr * grads["db2"]
                return params

            def model(X, Y, n_h, steps):
                params = init(X.shape[0], n_h, Y.shape[0])
                for _ in range(steps):
                    A1 = np.tanh(np.dot(params["W1"], X) + params["b1"])
                    A2 = 1 / (1 + np.exp(-(np.dot(params["W2"], A1) + params["b2"])))
                    grads = backward(params, {"A1": A1, "A2": A2}, X, Y)
                    params = update(params, grads, 0.5)
                return params
            """,
            at=(16, 11),
            note="Parameters and gradients travel in dicts between functions: each constant key "
            "is followed from where it is stored to where it is read.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for b, scope in model.gradient_stores("bias"):
            assert b.value is not None
            value = b.value
            row = one_example(model, value, scope)
            if row is not None:
                yield Report(
                    value,
                    f"bias gradient `{model.src(value)}` is the gradient of example {row} only; "
                    f"a bias is added to every example, so its gradient is the sum over the "
                    f"batch: e.g. `np.sum({model.src(value.value)}, axis=0)`",  # type: ignore[attr-defined]
                    evidence=(
                        *applied_evidence(model, b.target, scope),
                        *gradient_evidence(model, value.value, scope),  # type: ignore[attr-defined]
                    ),
                )
                continue
            if isinstance(value, cst.Subscript | cst.Attribute):
                continue  # ``db1 = grads['db1']``: a lookup; the gradient was formed elsewhere
            if isinstance(value, cst.Call) and not (model.qualname(value.func) or "").startswith(
                ("numpy.", "torch.")
            ):
                continue  # ``numerical_gradient(f, b)``: what a helper returns is not known here
            if not model.has(value, scope, Role.GRAD) or not unreduced(model, value, scope):
                continue
            if summed_by_loop(b, scope):
                continue  # ``dB[...] += dZ[m, ...]`` in ``for m``: the loop is the batch sum
            if not batched(model, scope, value):
                continue
            yield Report(
                value,
                f"bias gradient `{model.src(value)}` keeps the batch axis; a bias is added to "
                f"every example, so its gradient is the sum over the batch: "
                f"{_summed(model, value, scope)}",
                evidence=(
                    *applied_evidence(model, b.target, scope),
                    *gradient_evidence(model, value, scope),
                ),
            )


def _summed(model: ModuleModel, value: cst.BaseExpression, scope: Scope) -> str:
    """The sum to write, over the axis this code keeps its examples on."""
    src = model.src(value)
    axis = batch_axis(model, scope)
    if axis == 0:
        return f"`np.sum({src}, axis=0)` (examples are rows here)"
    if axis == 1:
        return f"`np.sum({src}, axis=1, keepdims=True)` (examples are columns here)"
    return (
        f"`np.sum({src}, axis=0)` if examples are rows, "
        f"`np.sum({src}, axis=1, keepdims=True)` if they are columns"
    )
