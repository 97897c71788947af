"""BP304 parameters-zeroed-before-forward."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.inplace import zeroed_parameters
from linter.rule import Invalid, Report, Rule, Valid


class ParametersZeroedBeforeForward(Rule):
    """Flags a constant written into a view of a gradient function's parameter argument
    (``Theta1[:, 0] = 0``) before the forward pass of that function reads it."""

    code = "BP304"
    prefilter = (P.BASE, P.MATMUL, P.CONST_STORE)
    name = "parameters-zeroed-before-forward"
    kb = "penalty-mask-on-parameters"
    summary = (
        "Part of the parameters is zeroed in place before the forward pass of a gradient "
        "function: the gradient belongs to another network, and the caller's vector changes."
    )
    why = (
        "Leaving the bias out of an L2 penalty concerns the penalty term only. Zeroing the bias "
        "column of the parameters before the forward pass computes every activation, delta and "
        "gradient of a network without biases; and since slices and `reshape` of the argument "
        "are views, the optimiser's own parameter vector is overwritten as well."
    )
    instead = (
        "Run the forward pass with the parameters as given; for the penalty, zero a copy: "
        "`reg = Theta1.copy(); reg[:, 0] = 0; Theta1_grad += lam / m * reg`."
    )
    known_problems = (
        "Only a parameter argument or a view of one (slices, `reshape`, `.T`) is followed; a "
        "copy zeroed before the forward pass, a write inside a loop, or one at a computed index "
        "is not flagged."
    )
    valid = [
        Valid(
            """
            def grad(theta, X, Y, lam, h, n):
                T1 = theta[: h * (n + 1)].reshape(h, n + 1)
                A1 = np.hstack([np.ones((X.shape[0], 1)), X])
                A2 = sigmoid(A1 @ T1.T)
                D2 = A2 - Y
                reg = T1.copy()
                reg[:, 0] = 0
                return D2.T @ A1 / X.shape[0] + lam * reg
            """,
            note="The copy is zeroed for the penalty only.",
        ),
        Valid(
            """
            def grad(theta, X, Y, lam, h, n):
                T1 = theta[: h * (n + 1)].reshape(h, n + 1).copy()
                A1 = np.hstack([np.ones((X.shape[0], 1)), X])
                A2 = sigmoid(A1 @ T1.T)
                D2 = A2 - Y
                T1[:, 0] = 0
                return D2.T @ A1 / X.shape[0] + lam * T1
            """,
            note="A copy, zeroed after the forward pass.",
        ),
        Valid(
            """
            def grad(W, X, Y):
                G = np.zeros_like(W)
                G[:, 0] = 0
                A = np.tanh(X @ W)
                E = A - Y
                G += X.T @ (E * (1 - A ** 2))
                return G
            """,
            note="A gradient buffer, not the parameters.",
        ),
        Valid(
            """
            def grad(W, X, Y):
                for j in range(3):
                    W[:, 0] = 0
                A = np.tanh(X @ W)
                E = A - Y
                return X.T @ (E * (1 - A ** 2))
            """,
            note="Inside a loop: not followed.",
        ),
        Valid(
            """
            def grad(W, X, Y, dead):
                W[:, dead] = 0
                A = np.tanh(X @ W)
                E = A - Y
                return X.T @ (E * (1 - A ** 2))
            """,
            note="A computed index (a pruned unit): a choice, not a mask for a penalty.",
        ),
        Valid(
            """
            def predict(W, X):
                W[:, 0] = 0
                return sigmoid(X @ W.T)
            """,
            note="No gradient is computed here.",
        ),
        Valid(
            """
            def grad(E, W, tokens, Y):
                E[0] = 0
                H = E[tokens]
                A = np.tanh(H @ W)
                D = A - Y
                return H.T @ (D * (1 - A ** 2))
            """,
            note="The padding row of an embedding: read by indexing, not by a product.",
        ),
        Valid(
            """
            def grad(theta, X, Y, h, n):
                T1 = theta[: h * n].reshape(h, n)
                A = sigmoid(X @ T1.T)
                D = A - Y
                T1[:, 0] = 0
                return D.T @ X
            """,
            note="After the forward pass: the gradient is that of the given parameters.",
        ),
        Valid(
            """
            def grad(W, V, X, Y):
                V[0, :] = 0
                A = np.tanh(X @ W)
                E = A - Y
                return X.T @ (E * (1 - A ** 2))
            """,
            note="The zeroed array feeds no product.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def nn_grad(params, X, Y, lam, h, n, k):
                T1 = params[: h * (n + 1)].reshape(h, n + 1)
                T2 = params[h * (n + 1) :].reshape(k, h + 1)
                T1[:, 0] = 0
                T2[:, 0] = 0
                m = X.shape[0]
                A1 = np.hstack([np.ones((m, 1)), X])
                Z2 = A1 @ T1.T
                A2 = np.hstack([np.ones((m, 1)), sigmoid(Z2)])
                Z3 = A2 @ T2.T
                H = sigmoid(Z3)
                D3 = H - Y
                D2 = (D3 @ T2[:, 1:]) * sigmoid_prime(Z2)
                G1 = (D2.T @ A1 + lam * T1) / m
                G2 = (D3.T @ A2 + lam * T2) / m
                return np.concatenate([G1.ravel(), G2.ravel()])
            """,
            at=[(4, 5), (5, 5)],
        ),
        Invalid(
            """
            def gradient(theta, X, y, hidden, n_in):
                W = np.reshape(theta[: hidden * (n_in + 1)], (hidden, n_in + 1))
                W[:, 0] = 0.0
                z = np.dot(np.c_[np.ones(len(X)), X], W.T)
                a = np.tanh(z)
                err = a - y
                return np.dot(err.T, np.c_[np.ones(len(X)), X])
            """,
            at=(3, 5),
        ),
        Invalid(
            """
            def backprop(W1, W2, X, Y):
                W1[0] = 0
                Z1 = X @ W1
                A1 = np.tanh(Z1)
                Z2 = A1 @ W2
                E = Z2 - Y
                dW2 = A1.T @ E
                dW1 = X.T @ ((E @ W2.T) * (1 - A1 ** 2))
                return dW1, dW2
            """,
            at=(2, 5),
            note="Row convention, the bias in row 0; the arguments themselves are written.",
        ),
        Invalid(
            """
            def cost_grad(vec, data, labels, shape):
                Theta = vec.reshape(shape)
                Theta[:, 0] = 0
                net = Theta.dot(data)
                out = 1 / (1 + np.exp(-net))
                delta = out - labels
                return delta.dot(data.T)
            """,
            at=(3, 5),
        ),
        Invalid(
            """
            class Model:
                def gradient(self, theta, X, targets):
                    W = theta[: self.k].reshape(self.h, self.n)
                    W[:, -1] = 0
                    Z = X @ W.T
                    A = np.maximum(Z, 0)
                    D = A - targets
                    return D.T @ X
            """,
            at=(4, 9),
            note="A method; the bias in the last column.",
        ),
        Invalid(
            """
            def grads(p, X, Y, h, n):
                W = p[: h * n].reshape(h, n).T
                W[0, :] = 0
                A = np.tanh(np.matmul(X, W))
                E = A - Y
                return np.matmul(X.T, E * (1 - A ** 2))
            """,
            at=(3, 5),
            note="A transposed view is still a view.",
        ),
        Invalid(
            """
            def grad_fn(theta, X, y):
                theta[0] = 0
                z = X @ theta
                p = 1 / (1 + np.exp(-z))
                delta = p - y
                return X.T @ delta
            """,
            at=(2, 5),
            note="The argument vector itself (logistic regression's intercept).",
        ),
        Invalid(
            """
            def backward_pass(flat, X, Y, sizes):
                n_in, n_hid = sizes
                W1 = flat[: n_in * n_hid].reshape(n_hid, n_in)
                W1[:, 0:1] = 0
                H = sigmoid(W1 @ X)
                D = H - Y
                return (D * H * (1 - H)) @ X.T
            """,
            at=(4, 5),
            note="Column convention; a slice of one column.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for z in zeroed_parameters(model):
            param = (
                f"`{z.name}` is the argument `{z.param}`"
                if z.name == z.param
                else f"`{z.name}` is a view of the argument `{z.param}`"
            )
            yield Report(
                z.write,
                f"`{model.src(z.write)} = …` zeroes part of the parameters before the forward "
                f"pass reads them: the gradient is that of another network, and {param}, so the "
                "caller's parameters change too; zero a copy, for the penalty term only",
                evidence=(
                    (z.use, "the forward pass reads it here"),
                    (z.activation, "and applies an activation to the result"),
                ),
            )
