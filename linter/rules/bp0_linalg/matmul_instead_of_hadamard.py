"""BP004 matmul-instead-of-hadamard."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.evidence import derivative_evidence, gradient_evidence
from linter.edits import elementwise_product
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid


class MatmulInsteadOfHadamard(Rule):
    """Flags a matrix product between a gradient and an elementwise local derivative."""

    code = "BP004"
    prefilter = (P.BASE, P.MATMUL, P.DERIVATIVE)
    name = "matmul-instead-of-hadamard"
    kb = "dot-vs-hadamard"
    summary = "Matrix product where the chain rule needs an elementwise (Hadamard) product."
    why = (
        "An elementwise activation has a diagonal Jacobian, so its backward pass multiplies the "
        "upstream gradient elementwise by σ′(z): δ = (Wᵀδ) ⊙ σ′(z). `np.dot` of two 1-D vectors "
        "returns their inner product (a scalar), and for square 2-D arrays a matrix product: both "
        "run and both are wrong."
    )
    instead = "Use `*` (or `np.multiply`) with the local derivative."
    fix_safety = FixSafety.UNSAFE
    valid = [
        Valid("def backward(dh, a1):\n    return dh * (1 - a1**2)\n"),
        Valid(
            """
            def backprop(W2, delta2, z1):
                return np.dot(W2.T, delta2) * sigmoid_prime(z1)
            """
        ),
        Valid(
            """
            def backward(J, grad):
                return J.T @ grad
            """
        ),
        Valid(
            """
            def softmax_jacobian(s):
                return np.diagflat(s) - np.dot(s, s.T)

            def backward(s, dL_ds):
                return softmax_jacobian(s).T @ dL_ds
            """,
            note="A full Jacobian matrix is a matrix product, rightly.",
        ),
        Valid(
            """
            def backward(dh, z):
                return np.diagflat(sigmoid_prime(z)) @ dh
            """,
            note="A diagonal matrix of derivatives times the gradient is the same as `*`.",
        ),
        Valid(
            """
            def backward(delta, a_prev):
                return np.dot(delta, a_prev.T)
            """
        ),
        Valid("def f(a, b):\n    return np.dot(a, b)\n"),
        Valid(
            """
            def backward(self, grad):
                return np.multiply(grad, self.out * (1 - self.out))
            """
        ),
    ]
    invalid = [
        Invalid("def backward(dh, a1):\n    return np.dot(dh, 1 - a1**2)\n", at=(2, 12)),
        Invalid(
            """
            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backprop(W2, delta2, z1):
                return np.dot(np.dot(W2.T, delta2), sigmoid_prime(z1))
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backprop(W2, delta2, z1):
                return (W2.T @ delta2) @ sigmoid_prime(z1)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def backward(self, grad):
                return grad @ (self.out * (1 - self.out))
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            def layer_backward(dA, Z):
                return np.dot(dA, Z > 0)
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            def sigmoid_derivative(x):
                return x * (1 - x)

            def train(self, X, y):
                out = sigmoid(X @ self.W)
                error = y - out
                return error.dot(sigmoid_derivative(out))
            """,
            at=(7, 12),
        ),
        Invalid(
            """
            def backward(delta, a):
                return np.matmul(delta, a * (1 - a))
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            def backward(ctx, grad_output):
                y, = ctx.saved_tensors
                return torch.matmul(grad_output, 1 - y**2)
            """,
            at=(3, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for mm, site in model.matmuls():
            for grad, deriv in ((mm.left, mm.right), (mm.right, mm.left)):
                if not model.has(grad, site.scope, Role.GRAD):
                    continue
                if model.has(deriv, site.scope, Role.GRAD):
                    continue
                form = model.forms.form(deriv, site.scope)
                if form is None or not form.kind.is_derivative:
                    continue
                replacement = elementwise_product(mm.left, mm.right)
                yield Report(
                    mm.node,
                    f"`{model.src(mm.node)}` is a matrix product of the gradient and the local "
                    f"derivative `{model.src(deriv)}`; an elementwise activation needs the "
                    f"elementwise product: `{model.src(replacement)}`",
                    replacement=replacement,
                    fix_description="Use the elementwise product `*`",
                    evidence=(
                        *gradient_evidence(model, grad, site.scope),
                        *derivative_evidence(model, form),
                    ),
                )
                break
