"""BP303 constant-weight-init."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.optimizers import constant_starts
from linter.analysis.training import const_inits, feeds_constant, stacked_layer
from linter.rule import Invalid, Report, Rule, Valid


class ConstantWeightInit(Rule):
    """Flags hidden-layer weights initialised to a constant (zeros, ones, a fill value)."""

    code = "BP303"
    prefilter = (P.BASE, P.CONST_INIT)
    name = "constant-weight-init"
    kb = "zero-init-symmetry"
    summary = "Hidden weights initialised to a constant: every hidden unit stays identical."
    why = (
        "If all incoming and outgoing weights of the hidden units are equal, every unit computes "
        "the same activation and receives the same gradient, so they stay equal forever: the "
        "layer behaves like one unit. Zeros for a single layer (logistic regression) or for "
        "biases are fine."
    )
    instead = (
        "Initialise weights randomly, e.g. `rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)`."
    )
    known_problems = (
        "A constant weight is flagged when its layer's output feeds another constant-initialised "
        "weight (or the same list of weights, or a layer class that propagates the gradient to "
        "its input and so is made to be stacked). Weights unrolled into the starting point of a "
        "scipy minimizer (`fmin_cg`, `minimize`, ...) are flagged when every piece packed into "
        "it starts constant and at least two are matrices none of whose sizes is a literal 1 "
        "(a column or a row may be a bias or a single unit's weights); a random piece breaks "
        "the symmetry."
    )
    valid = [
        Valid(
            """
            class LogisticRegression:
                def __init__(self, n):
                    self.w = np.zeros(n)

                def predict(self, X):
                    return sigmoid(X @ self.w)
            """,
            note="One layer: zeros are fine.",
        ),
        Valid(
            """
            W1 = np.random.randn(2, 4) * 0.1
            b1 = np.zeros((1, 4))
            W2 = np.random.randn(4, 1) * 0.1
            h = sigmoid(X @ W1 + b1)
            out = sigmoid(h @ W2)
            """
        ),
        Valid(
            """
            def backprop(self, x, y):
                nabla_w = [np.zeros(w.shape) for w in self.weights]
                return nabla_w
            """,
            note="Gradient accumulators, not weights.",
        ),
        Valid(
            """
            W1 = rng.standard_normal((3, 5))
            W2 = np.zeros((5, 1))
            h = np.tanh(X @ W1)
            out = h @ W2
            """,
            note="Zero output weights with random hidden weights break no symmetry that matters.",
        ),
        Valid(
            """
            def init(sizes):
                return [np.random.randn(m, n) for n, m in zip(sizes[:-1], sizes[1:])]
            """
        ),
        Valid(
            """
            W = np.eye(4)
            h = np.tanh(W @ x)
            """,
        ),
        Valid(
            """
            velocity = np.zeros_like(W1)
            W1 = np.random.randn(3, 3)
            h = np.tanh(x @ W1)
            """
        ),
        Valid(
            """
            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_in, n_out) * 0.01
                    self.b = np.zeros(n_out)

                def forward(self, x):
                    return x @ self.W + self.b

                def backward(self, grad):
                    return grad @ self.W.T
            """
        ),
        Valid(
            """
            def glorot(like):
                n_out, n_in = like.shape
                return np.random.randn(n_out, n_in) * np.sqrt(2.0 / (n_in + n_out))

            W1 = np.zeros((8, 3))
            W2 = np.zeros((2, 8))
            W1 = glorot(W1)
            W2 = glorot(W2)
            out = W2 @ np.tanh(W1 @ x)
            """,
            note="The zeros only give the helper a shape: the weights it returns are random.",
        ),
        Valid(
            """
            from scipy import optimize

            def init_layer(n_in, n_out):
                eps = np.sqrt(6.0 / (n_in + n_out))
                W = np.zeros((n_out, n_in + 1))
                W = np.random.rand(n_out, n_in + 1) * 2 * eps - eps
                return W

            def train(cost, grad, n_in, n_hidden, n_out):
                T1 = init_layer(n_in, n_hidden)
                T2 = init_layer(n_hidden, n_out)
                start = np.concatenate((T1.ravel(), T2.ravel()))
                return optimize.fmin_cg(cost, start, fprime=grad)
            """,
            note="The helper's zeros are replaced by a random draw before it returns.",
        ),
        Valid(
            """
            from scipy.optimize import minimize

            def fit(cost, grad, n):
                return minimize(cost, np.zeros(n + 1), jac=grad, method="TNC")
            """,
            note="Logistic regression: one layer, zeros are fine.",
        ),
        Valid(
            """
            from scipy.optimize import fmin_l_bfgs_b

            def fit(cost, X, k, h):
                hidden = np.random.randn(h, X.shape[1]) * 0.1
                out = np.zeros((k, h))
                theta = np.r_[hidden.ravel(), out.ravel()]
                return fmin_l_bfgs_b(cost, theta, args=(X,))
            """,
            note="Random hidden weights break the symmetry; zero output weights are fine.",
        ),
        Valid(
            """
            from scipy import optimize

            def fit(cost, grad, n, k):
                W = np.zeros((k, n))
                b = np.zeros((k, 1))
                return optimize.fmin_bfgs(cost, np.hstack((W.ravel(), b.ravel())), fprime=grad)
            """,
            note="Softmax regression: one weight matrix and a bias column, a convex problem.",
        ),
    ]
    invalid = [
        Invalid(
            """
            W1 = np.zeros((2, 4))
            W2 = np.zeros((4, 1))
            h = sigmoid(X @ W1)
            out = sigmoid(h @ W2)
            """,
            at=(1, 6),
        ),
        Invalid(
            """
            class Network:
                def __init__(self, sizes):
                    self.weights = [np.zeros((m, n)) for n, m in zip(sizes[:-1], sizes[1:])]

                def feedforward(self, a):
                    for w in self.weights:
                        a = sigmoid(np.dot(w, a))
                    return a
            """,
            at=(3, 25),
        ),
        Invalid(
            """
            W1 = np.full((3, 4), 0.5)
            W2 = np.full((4, 1), 0.5)
            h = np.tanh(X @ W1)
            out = h @ W2
            """,
            at=(1, 6),
        ),
        Invalid(
            """
            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.ones((n_in, n_out)) * 0.1
                    self.b = np.zeros(n_out)

                def forward(self, x):
                    return x @ self.W + self.b

                def backward(self, grad):
                    return grad @ self.W.T
            """,
            at=(3, 18),
        ),
        Invalid(
            """
            def init(layer_dims):
                params = {}
                for l in range(1, len(layer_dims)):
                    params["W" + str(l)] = np.zeros((layer_dims[l], layer_dims[l - 1]))
                return params

            def forward(X, params, L):
                A = X
                for l in range(1, L):
                    A = relu(params["W" + str(l)] @ A)
                return A
            """,
            at=(4, 32),
        ),
        Invalid(
            """
            import torch

            W1 = torch.zeros(10, 20)
            W2 = torch.zeros(20, 1)
            h = torch.relu(x @ W1)
            out = h @ W2
            """,
            at=(3, 6),
        ),
        Invalid(
            """
            class MLP:
                def __init__(self):
                    self.W1 = np.zeros((4, 8))
                    self.W2 = np.zeros((8, 3))

                def forward(self, X):
                    self.h = np.tanh(X @ self.W1)
                    return self.h @ self.W2
            """,
            at=(3, 19),
        ),
        Invalid(
            """
            weights = [np.ones((5, 5)) for _ in range(3)]
            a = x
            for W in weights:
                a = sigmoid(W @ a)
            """,
            at=(1, 12),
        ),
        Invalid(
            """
            from scipy import optimize

            def init_layer(n_in, n_out):
                return np.zeros((n_out, n_in + 1))

            def train(cost, grad, n_in, n_hidden, n_out):
                T1 = init_layer(n_in, n_hidden)
                T2 = init_layer(n_hidden, n_out)
                start = np.concatenate((T1.ravel(), T2.ravel()))
                return optimize.fmin_cg(cost, start, fprime=grad)
            """,
            at=(4, 12),
            note="Both layers come from one helper that returns zeros, unrolled into the "
            "starting point of the minimizer: the hidden units stay identical.",
        ),
        Invalid(
            """
            import scipy.optimize as op

            def fit(loss, X, Y, h):
                w_in = np.ones((h, X.shape[1])) * 0.01
                w_out = np.ones((Y.shape[1], h)) * 0.01
                theta = np.vstack((w_in.reshape(-1, 1), w_out.reshape(-1, 1)))
                return op.minimize(loss, theta, args=(X, Y), jac=True)
            """,
            at=(4, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        reported: set[cst.CSTNode] = set()
        for vector, constants in constant_starts(model):
            init = constants[0]  # the first layer packed: the hidden one
            if init not in reported:
                reported.add(init)
                minimizer = model.src(vector.call.func)
                yield Report(
                    init,
                    f"`{model.src(init)}` initialises a layer's weights to a constant, and "
                    f"every array the minimizer `{minimizer}` starts from is constant: every "
                    f"hidden unit then computes and learns the same thing; initialise randomly",
                    evidence=(
                        (
                            vector.x0,
                            f"the starting point of `{minimizer}`: the weights packed into it "
                            f"are the parameters it changes",
                        ),
                        *(
                            (piece.node, "packed into it, initialised constant")
                            for piece in vector.pieces
                        ),
                    ),
                )
        inits = const_inits(model)
        if not inits.by_key:
            return
        forward = [
            (use, site)
            for use, site in model.weight_uses()
            if not model.has(use.other, site.scope, Role.GRAD)
        ]
        for key, init in inits.by_key.items():
            if init in inits.in_layer_loop and init not in reported:
                uses = [
                    (use.matmul.node, "the layer's weights multiply its input here")
                    for use, _ in forward
                    if use.key == key
                ]
                yield self._report(model, init, uses[:1] + _trained(model, key))
        reported |= inits.in_layer_loop
        for use, site in forward:
            init = inits.by_key.get(use.key)
            if init is None or init in reported:
                continue
            if feeds_constant(site, forward, inits.by_key) or stacked_layer(model, use.key):
                reported.add(init)
                uses = [(use.matmul.node, "the layer's weights multiply its input here")]
                yield self._report(model, init, uses + _trained(model, use.key))

    @staticmethod
    def _report(
        model: ModuleModel, init: cst.CSTNode, evidence: list[tuple[cst.CSTNode, str]]
    ) -> Report:
        return Report(
            init,
            f"`{model.src(init)}` initialises a hidden layer's weights to a constant: every "
            f"hidden unit then computes and learns the same thing; initialise randomly",
            evidence=tuple(evidence),
        )


def _trained(model: ModuleModel, key: str) -> list[tuple[cst.CSTNode, str]]:
    """Where the weights stored under ``key`` are updated (each unit by the same step)."""
    for u in model.updates():
        if u.key == key or (key.endswith("[]") and u.key == key[:-2]):
            stmt = u.binding.stmt
            at = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else u.binding.target
            return [(at, "they are updated here, every unit by the same step")]
    return []
