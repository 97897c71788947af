"""BP104 derivative-of-upstream-gradient."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.derivatives import derivative_sites
from linter.analysis.evidence import derivative_evidence, gradient_evidence
from linter.rule import Invalid, Report, Rule, Valid


class DerivativeOfUpstreamGradient(Rule):
    """An activation derivative evaluated at the upstream gradient instead of z or a."""

    code = "BP104"
    prefilter = (P.DERIVATIVE,)
    name = "derivative-of-upstream-gradient"
    kb = "activation-derivative-applied-to-error"
    summary = "Activation derivative evaluated at the upstream gradient (e.g. `dh * (1 - dh)`)."
    why = (
        "δ = ∇ₐC ⊙ σ′(z): the local derivative is evaluated at the forward value (z, or a through "
        "a(1 − a)) and multiplies the upstream gradient. Evaluating it at the gradient itself "
        "computes a number that has nothing to do with the network."
    )
    instead = "Evaluate the derivative at the cached forward value: `dh * h * (1 - h)`."
    valid = [
        Valid(
            """
            class ReLU:
                def forward(self, z):
                    self.z = z
                    self.out = z * (z > 0)
                    return self.out

                def backward(self, grad):
                    return grad * (self.z > 0)
            """
        ),
        Valid("def backward(dh, h):\n    return dh * h * (1 - h)\n"),
        Valid(
            """
            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backward(self, delta, z):
                return delta * sigmoid_prime(z)
            """
        ),
        Valid(
            """
            def backward(self, grad):
                return grad * (1 - self.out ** 2)
            """
        ),
        Valid(
            """
            dh2 = h2 - y
            dz2 = dh2 * h2 * (1 - h2)
            """
        ),
        Valid(
            """
            def backward(dout, cache):
                x = cache
                return dout * (x > 0)
            """
        ),
        Valid(
            """
            def update(grad, w):
                return w * (1 - 0.01) - 0.1 * grad
            """
        ),
        Valid(
            """
            def smooth(grad, beta):
                return beta * grad + (1 - beta) * grad ** 2
            """,
        ),
        Valid(
            """
            def loss_grad(p, y):
                return (p - y) / (p * (1 - p))
            """,
        ),
        Valid(
            """
            class Perceptron:
                def step_function(self, x):
                    return np.array([1 if elem >= 0 else 0 for elem in x])

                def train(self, X, y):
                    y_pred = self.step_function(X @ self.w)
                    delta_w = 0.1 * X.T @ (y - y_pred)
                    self.w += delta_w
                    return self.step_function(delta_w)
            """,
            note="A threshold activation, not a derivative mask.",
        ),
        Valid(
            """
            params = {
                "W1": np.random.randn(6, 4) * 0.01,
                "W2": np.random.randn(4, 2) * 0.01,
            }

            def step(X, Y, lr=0.1):
                A1 = np.tanh(X @ params["W1"])
                dZ2 = A1 @ params["W2"] - Y
                dZ1 = (dZ2 @ params["W2"].T) * (1 - A1**2)
                params["W2"] -= lr * (A1.T @ dZ2)
                params["W1"] -= lr * (X.T @ dZ1)
            """,
            note="A module-level dict updated in place inside a function: its entries stay "
            "parameters, so tanh's derivative is taken at the forward value.",
        ),
    ]
    invalid = [
        Invalid(
            """
            dh2 = h2 - y
            dz2 = dh2 * (1 - dh2)
            """,
            at=(2, 7),
        ),
        Invalid(
            """
            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backward(self, delta):
                return sigmoid_prime(delta)
            """,
            at=(5, 12),
        ),
        Invalid("def backward(dh, h):\n    return dh * (1 - dh)\n", at=(2, 12)),
        Invalid(
            """
            def backward(self, grad):
                return grad * (1 - grad ** 2)
            """,
            at=(2, 20),
        ),
        Invalid(
            """
            def dsigmoid(y):
                return y * (1 - y)

            def backward(self, output, target):
                error = target - output
                return dsigmoid(error)
            """,
            at=(6, 12),
        ),
        Invalid(
            """
            def backward(dout, cache):
                return dout * (dout > 0)
            """,
            at=(2, 20),
        ),
        Invalid(
            """
            def layer_backward(dA, Z):
                return dA * (1 - np.tanh(dA) ** 2)
            """,
            at=(2, 18),
        ),
        Invalid(
            """
            class Sigmoid:
                def backward(self, grad_output):
                    s = grad_output
                    return s * (1 - s)
            """,
            at=(4, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in derivative_sites(model):
            node, form, scope = site.node, site.form, site.scope
            roles = model.roles(form.operand, scope)
            if Role.GRAD in roles and not roles & {Role.ACT, Role.PREACT, Role.PROB}:
                yield Report(
                    node,
                    f"`{model.src(node)}` evaluates the activation derivative at the gradient "
                    f"`{model.src(form.operand)}`; evaluate it at the forward value (z, or a "
                    f"for the a(1 − a) form) and multiply the gradient by it",
                    evidence=(
                        *(site.evidence or gradient_evidence(model, form.operand, scope)),
                        *derivative_evidence(model, form),
                    ),
                )
