"""BP201 sigmoid-prime-with-cross-entropy."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.derivatives import error_products, sigmoid_prime_among
from linter.analysis.evidence import activation_evidence, derivative_evidence
from linter.analysis.forms import Kind
from linter.rule import Invalid, Report, Rule, Valid


class SigmoidPrimeWithCrossEntropy(Rule):
    """Flags an output delta that keeps σ′(z) although the cost is cross-entropy."""

    code = "BP201"
    prefilter = (P.BASE, f"{P.ONE_MINUS}|{P.HELPER_IMPORT}")
    name = "sigmoid-prime-with-cross-entropy"
    kb = "sigmoid-prime-kept-with-cross-entropy"
    summary = "σ′ factor kept in the output delta with the cross-entropy cost."
    why = (
        "For cross-entropy with a sigmoid output, dC/da = (a − y) / (a(1 − a)) and σ′(z) = "
        "a(1 − a) cancels it: δ = a − y. Multiplying by σ′ again applies it twice and brings "
        "back the learning slowdown cross-entropy was chosen to remove."
    )
    instead = "With cross-entropy the output delta is just `a - y`."
    known_problems = (
        "The cost must be recognisable as cross-entropy where the delta is computed: a log of the "
        "prediction combined with the targets, or a class or function named for it "
        "(`CrossEntropyCost`, `bce_loss`). A module that also uses the quadratic cost is judged "
        "by the enclosing class or function only."
    )
    valid = [
        Valid(
            """
            class CrossEntropyCost:
                @staticmethod
                def delta(z, a, y):
                    return a - y

            class QuadraticCost:
                @staticmethod
                def delta(z, a, y):
                    return (a - y) * sigmoid_prime(z)
            """,
            note="network2.py: each cost has its own delta.",
        ),
        Valid(
            """
            def train(X, y, W):
                a = sigmoid(X @ W)
                loss = np.mean((a - y) ** 2)
                dz = (a - y) * a * (1 - a)
                return dz, loss
            """,
            note="Quadratic cost: the σ′ factor belongs there.",
        ),
        Valid(
            """
            def step(X, y, w):
                a = sigmoid(X @ w)
                loss = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
                dz = a - y
                return X.T @ dz, loss
            """,
        ),
        Valid(
            """
            def backward(self, a, y, h):
                cost = -np.sum(y * np.log(a))
                dz_out = a - y
                dz_hidden = (self.W2.T @ dz_out) * h * (1 - h)
                return dz_hidden, cost
            """,
            note="σ′ on the hidden layer is right even with cross-entropy.",
        ),
        Valid(
            """
            def bce_grad(a, y):
                return (a - y) / (a * (1 - a))
            """,
        ),
        Valid(
            """
            def cross_entropy_delta(z, a, y):
                return a - y
            """
        ),
        Valid(
            """
            def mse_backward(out, y):
                return 2 * (out - y) * out * (1 - out)
            """
        ),
        Valid(
            """
            def step(scores, y):
                probs = softmax(scores)
                loss = -np.log(probs[range(len(y)), y]).mean()
                return probs - y, loss
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            class CrossEntropyCost:
                @staticmethod
                def fn(a, y):
                    return np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a))

                @staticmethod
                def delta(z, a, y):
                    return (a - y) * sigmoid_prime(z)

            def output_error(w, x, y):
                z = w @ x
                return CrossEntropyCost.delta(z, sigmoid(z), y)
            """,
            at=(11, 16),
        ),
        Invalid(
            """
            def step(X, y, w):
                a = sigmoid(X @ w)
                loss = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
                dz = (a - y) * a * (1 - a)
                return X.T @ dz, loss
            """,
            at=(4, 10),
        ),
        Invalid(
            """
            def backward(self, a, y, h):
                cost = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
                dz_out = (a - y) * sigmoid_derivative(a)
                return self.W2.T @ dz_out, cost

            def sigmoid_derivative(s):
                return s * (1 - s)
            """,
            at=(3, 14),
        ),
        Invalid(
            """
            def binary_cross_entropy_backward(z, a, y):
                loss = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
                return (a - y) * sigmoid(z) * (1 - sigmoid(z)), loss
            """,
            at=(3, 12),
        ),
        Invalid(
            """
            def bce_delta(z, a, y):
                s = sigmoid(z)
                loss = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
                return (a - y) * s * (1 - s), loss
            """,
            at=(4, 12),
        ),
        Invalid(
            """
            a2 = sigmoid(W2 @ a1 + b2)
            cost = -np.mean(Y * np.log(a2) + (1 - Y) * np.log(1 - a2))
            dz2 = (a2 - Y) * a2 * (1 - a2)
            """,
            at=(3, 7),
        ),
        Invalid(
            """
            class LogisticRegression:
                def loss(self, y, p):
                    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

                def grad(self, X, y):
                    p = sigmoid(X @ self.w)
                    dz = (p - y) * p * (1 - p)
                    return X.T @ dz
            """,
            at=(7, 14),
        ),
        Invalid(
            """
            def cross_entropy_delta(z, a, y):
                return (a - y) * sigmoid_prime(z)

            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def output_delta(x, w, y):
                z = w @ x
                return cross_entropy_delta(z, sigmoid(z), y)
            """,
            at=(2, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for node, (pred, _target, _sign), others, scope in error_products(model):
            if model.costs(scope) != frozenset({"ce"}):
                continue
            if model.has(pred, scope, Role.PROB) or model.activation_kind(pred, scope) not in (
                Kind.SIGMOID,
                None,
            ):
                continue
            prime = sigmoid_prime_among(model, others, scope)
            if prime is None:
                continue
            cost = model.cost_evidence(scope, "ce")
            yield Report(
                node,
                f"`{model.src(node)}` keeps σ′ in the output delta, but the cost here is "
                f"cross-entropy: σ′ cancels against dC/da, so δ = a − y; drop the σ′ factor",
                evidence=(
                    *([cost] if cost is not None else []),
                    *activation_evidence(model, pred, scope),
                    *derivative_evidence(model, prime),
                ),
            )
