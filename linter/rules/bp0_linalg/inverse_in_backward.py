"""BP001 inverse-in-backward."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.collect import Scope
from linter.analysis.evidence import gradient_evidence, weight_evidence
from linter.analysis.gradients import inverted_weights, weight_solves
from linter.edits import transposed
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid


class InverseInBackward(Rule):
    """Flags an inverse, pseudo-inverse or solve of a weight matrix that carries a gradient back."""

    code = "BP001"
    prefilter = (P.BASE, P.INVERSE, f"{P.MATMUL}|{P.SOLVE}")
    name = "inverse-in-backward"
    kb = "transpose-is-not-inverse"
    summary = "Inverse, pseudo-inverse or solve of a weight used to propagate a gradient."
    why = (
        "Backpropagation computes a derivative, not an inverse. The gradient with respect to a "
        "layer's input is the transpose of the weight times the upstream gradient (a "
        "vector-Jacobian product). `inv(W)`, `pinv(W)` or `solve(W, delta)` give a different "
        "vector unless W happens to be orthogonal, so the layers below learn from a wrong "
        "gradient. `pinv` never raises a shape error, so the bug runs silently."
    )
    instead = "Multiply by the transpose: `W.T @ delta` (column convention) or `dZ @ W.T` (row)."
    known_problems = (
        "The weight must be recognisable as a weight (initialised randomly or updated with a "
        "learning rate somewhere in the module, and used in a matrix product), and the other "
        "operand must be a gradient by data flow. An inverse in a Newton step or a closed-form "
        "least-squares fit is not a finding."
    )
    fix_safety = FixSafety.UNSAFE

    valid = [
        Valid(
            """
            import numpy as np

            def backprop(W2, delta2, z1):
                return (W2.T @ delta2) * sigmoid_prime(z1)
            """,
            note="The transpose: the correct vector-Jacobian product.",
        ),
        Valid(
            """
            import numpy as np

            def newton_step(w, grad, hessian):
                return w - np.linalg.inv(hessian) @ grad
            """,
            note="A Newton step inverts the Hessian, not a layer's weight.",
        ),
        Valid(
            """
            import numpy as np

            def fit(X, y):
                W = np.linalg.inv(X.T @ X) @ X.T @ y
                return W
            """,
            note="Closed-form least squares: an inverse, but no backward pass.",
        ),
        Valid(
            """
            from numpy.linalg import solve

            def normal_equations(X, y):
                return solve(X.T @ X, X.T @ y)
            """,
        ),
        Valid(
            """
            import torch

            def reverse(self, z):
                # an invertible 1x1 convolution run backwards: data, not gradients
                return torch.inverse(self.weight) @ z
            """,
            note="Invertible flows invert weights on data in their reverse pass.",
        ),
        Valid(
            """
            import numpy as np

            def backward(W, dout):
                logdet = np.log(abs(np.linalg.det(W)))
                return dout @ W.T, logdet
            """,
        ),
        Valid(
            """
            import numpy as np

            def solve_system(A, b):
                x = np.linalg.pinv(A) @ b
                return x
            """,
            note="A pseudo-inverse of a matrix that is no layer weight.",
        ),
        Valid(
            """
            import numpy as np

            class LinearAutoencoder:
                def encode(self, x):
                    return self.W @ x

                def decode(self, h):
                    return np.linalg.pinv(self.W) @ h
            """,
            note="Decoding data with the pseudo-inverse is not a backward pass.",
        ),
    ]
    invalid = [
        Invalid(
            """
            import numpy as np

            def backprop(W2, delta2, z1):
                return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
            """,
            at=(4, 13),
            fixed="""
            import numpy as np

            def backprop(W2, delta2, z1):
                return (W2.T @ delta2) * sigmoid_prime(z1)
            """,
        ),
        Invalid(
            """
            from numpy.linalg import inv

            def layer_backward(dZ, W):
                dA = dZ @ inv(W)
                return dA
            """,
            at=(4, 15),
        ),
        Invalid(
            """
            import scipy.linalg as sla

            def backward(self, delta):
                return sla.inv(self.W).dot(delta)
            """,
            at=(4, 12),
        ),
        Invalid(
            """
            import torch

            class MyLinear(torch.autograd.Function):
                @staticmethod
                def backward(ctx, grad_out):
                    x, w = ctx.saved_tensors
                    grad_x = grad_out @ torch.linalg.inv(w).T
                    return grad_x, grad_out.T @ x
            """,
            at=(7, 29),
        ),
        Invalid(
            """
            import numpy as np

            def backprop(self, x, y):
                a = sigmoid(self.W1 @ x)
                out = sigmoid(self.W2 @ a)
                delta = (out - y) * out * (1 - out)
                hidden = np.linalg.solve(self.W2, delta)
                return hidden
            """,
            at=(7, 14),
        ),
        Invalid(
            """
            import numpy as np

            def backprop(self, delta, activations):
                for l in range(2, self.num_layers):
                    w_inv = np.linalg.pinv(self.weights[-l + 1])
                    delta = np.dot(w_inv, delta) * activations[-l] * (1 - activations[-l])
                return delta
            """,
            at=(5, 17),
        ),
        Invalid(
            """
            import torch as th

            def grad_input(weight, grad_output):
                return grad_output @ th.pinverse(weight).t()
            """,
            at=(4, 26),
        ),
        Invalid(
            """
            import numpy as np

            def backward(self, dZ):
                dA = np.linalg.lstsq(self.W, dZ, rcond=None)[0]
                return dA
            """,
            at=(4, 10),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, weight, grad, scope in inverted_weights(model):
            replacement = transposed(model, weight)
            yield Report(
                call,
                f"`{model.src(call)}` inverts weight `{model.src(weight)}` to carry the gradient "
                f"back; backprop multiplies by the transpose, not the inverse: use "
                f"`{model.src(replacement)}`",
                replacement=replacement,
                fix_description=f"Replace the inverse with `{model.src(replacement)}`",
                evidence=_evidence(model, weight, grad, scope),
            )
        for call, weight, grad, scope in weight_solves(model):
            yield Report(
                call,
                f"`{model.src(call)}` solves a linear system with weight `{model.src(weight)}` to "
                f"carry the gradient back; backprop multiplies by the transpose instead: "
                f"`{model.src(transposed(model, weight))} @ {model.src(grad)}`",
                evidence=_evidence(model, weight, grad, scope),
            )


def _evidence(
    model: ModuleModel, weight: cst.BaseExpression, grad: cst.BaseExpression, scope: Scope
) -> tuple[tuple[cst.CSTNode, str], ...]:
    return (*weight_evidence(model, weight, scope), *gradient_evidence(model, grad, scope))
