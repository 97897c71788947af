"""BP0xx: linear algebra and orientation — transposes, inverses, outer products, Hadamard."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis import names as N
from linter.analysis.exprs import positional_args
from linter.analysis.model import resolve_local
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid


def _src(model: ModuleModel, node: cst.CSTNode) -> str:
    return model.module.code_for_node(node)


class InverseInBackward(Rule):
    """Flags an inverse, pseudo-inverse or solve of a weight matrix that carries a gradient back."""

    code = "BP001"
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
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        seen: set[int] = set()
        for mm, site in model.matmuls():
            for side, other in ((mm.left, mm.right), (mm.right, mm.left)):
                inv = self._inverse_of_weight(model, side, site.scope)
                if inv is None or id(inv[0]) in seen:
                    continue
                if not model.has(other, site.scope, Role.GRAD):
                    continue
                seen.add(id(inv[0]))
                yield self._report(model, *inv)
        for site in model.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if model.qualname(call.func) not in N.SOLVE or id(call) in seen:
                continue
            args = positional_args(call)
            if len(args) == 2 and model.is_weight(args[0], site.scope):
                if model.has(args[1], site.scope, Role.GRAD):
                    seen.add(id(call))
                    weight, t = model.strip_transpose(args[0])
                    yield Report(
                        call,
                        f"`{_src(model, call)}` solves a linear system with weight "
                        f"`{_src(model, args[0])}` to carry the gradient back; backprop multiplies "
                        f"by the transpose instead: `{_src(model, weight)}"
                        f"{'' if t else '.T'} @ {_src(model, args[1])}`",
                    )

    def _inverse_of_weight(
        self, model: ModuleModel, operand: cst.BaseExpression, scope
    ) -> tuple[cst.Call, cst.BaseExpression] | None:
        node, _ = model.strip_transpose(operand)
        node = resolve_local(model, node, scope)
        node, _ = model.strip_transpose(node)
        if not isinstance(node, cst.Call):
            return None
        args = positional_args(node)
        if model.qualname(node.func) in N.INVERSE and len(args) >= 1:
            arg = args[0]
        elif (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value in N.INVERSE_METHODS
            and not args
            and model.qualname(node.func) is None
        ):
            arg = node.func.value
        else:
            return None
        return (node, arg) if model.is_weight(arg, scope) else None

    def _report(self, model: ModuleModel, call: cst.Call, weight: cst.BaseExpression) -> Report:
        base, transposed = model.strip_transpose(weight)
        replacement = base if transposed else cst.Attribute(value=base, attr=cst.Name("T"))
        return Report(
            call,
            f"`{_src(model, call)}` inverts weight `{_src(model, weight)}` to carry the gradient "
            f"back; backprop multiplies by the transpose, not the inverse: use "
            f"`{_src(model, replacement)}`",
            replacement=replacement,
            fix_description=f"Replace the inverse with `{_src(model, replacement)}`",
        )


class UntransposedWeightInBackward(Rule):
    """Flags a gradient propagated with a weight in the same orientation as the forward pass."""

    code = "BP002"
    name = "untransposed-weight-in-backward"
    kb = "transpose-does-not-move-error"
    summary = "Gradient propagated with the weight in its forward orientation (missing transpose)."
    why = (
        "If the forward pass applies W (`W @ a`), the gradient with respect to `a` is `W.T @ delta`: "
        "the chain rule sums over the units each input feeds, which is the transpose. Applying W "
        "again is a shape error for most layers, but for square layers it runs and silently "
        "gives a wrong gradient; people then 'fix' the shapes by trial and error."
    )
    instead = (
        "Use the opposite orientation of the forward pass: forward `W @ a` -> backward "
        "`W.T @ delta`; forward `X @ W` -> backward `dZ @ W.T`; forward `x @ W.T` (PyTorch "
        "Linear) -> backward `grad @ W`."
    )
    known_problems = (
        "The weight's forward orientation must be visible in the same module (a product of the "
        "weight with a non-gradient). If the weight is used in both orientations (tied weights, "
        "autoencoders), the rule stays silent."
    )

    valid = [
        Valid(
            """
            import numpy as np

            def feedforward(self, a):
                for w, b in zip(self.weights, self.biases):
                    a = sigmoid(np.dot(w, a) + b)
                return a

            def backprop(self, delta, zs):
                for l in range(2, self.num_layers):
                    delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
                return delta
            """,
            note="Nielsen's network.py: forward `np.dot(w, a)`, backward with `.transpose()`.",
        ),
        Valid(
            """
            def affine_forward(x, w, b):
                out = x.reshape(x.shape[0], -1).dot(w) + b
                return out, (x, w, b)

            def affine_backward(dout, cache):
                x, w, b = cache
                dx = dout.dot(w.T).reshape(x.shape)
                dw = x.reshape(x.shape[0], -1).T.dot(dout)
                return dx, dw, dout.sum(axis=0)
            """,
            note="CS231n row convention: forward `x.dot(w)`, backward `dout.dot(w.T)`.",
        ),
        Valid(
            """
            import torch

            class Linear(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, weight):
                    ctx.save_for_backward(x, weight)
                    return x @ weight.T

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight = ctx.saved_tensors
                    return grad_output @ weight, grad_output.T @ x
            """,
            note="PyTorch's layout: forward `x @ W.T`, so backward `grad @ W` is right.",
        ),
        Valid(
            """
            import numpy as np

            def forward(x, W1):
                return np.dot(W1, x)

            def backward(delta, W1):
                return np.dot(delta, W1)
            """,
            note="`np.dot(delta, W)` with a 1-D delta is `W.T @ delta`: correct.",
        ),
        Valid(
            """
            import numpy as np

            def encode(self, x):
                return sigmoid(self.W @ x)

            def decode(self, h):
                return self.W.T @ h

            def backward(self, delta):
                return self.W @ delta
            """,
            note="Tied weights are used in both orientations: the rule cannot tell, so it is silent.",
        ),
        Valid(
            """
            import numpy as np

            def forward(X, W):
                return X @ W

            def backward(dZ, X, W):
                dW = X.T @ dZ
                dX = dZ @ W.T
                return dW, dX
            """,
        ),
        Valid(
            """
            import numpy as np

            W = np.random.randn(5, 5)
            h = np.tanh(W @ x)
            W2 = W @ W
            """,
            note="Products without a gradient operand are not backward passes.",
        ),
    ]
    invalid = [
        Invalid(
            """
            import numpy as np

            def feedforward(self, a):
                for w, b in zip(self.weights, self.biases):
                    a = sigmoid(np.dot(w, a) + b)
                return a

            def backprop(self, delta, zs):
                for l in range(2, self.num_layers):
                    delta = np.dot(self.weights[-l + 1], delta) * sigmoid_prime(zs[-l])
                return delta
            """,
            at=(10, 17),
        ),
        Invalid(
            """
            def affine_forward(x, w, b):
                out = x.reshape(x.shape[0], -1).dot(w) + b
                return out, (x, w, b)

            def affine_backward(dout, cache):
                x, w, b = cache
                dx = dout.dot(w).reshape(x.shape)
                return dx
            """,
            at=(7, 10),
        ),
        Invalid(
            """
            import numpy as np

            def forward(X, W1, b1, W2, b2):
                H = np.tanh(X @ W1 + b1)
                return H @ W2 + b2, H

            def backward(dY, H, W2):
                dH = dY @ W2
                return dH * (1 - H**2)
            """,
            at=(8, 10),
        ),
        Invalid(
            """
            import numpy as np

            W1 = np.random.randn(4, 4)
            W2 = np.random.randn(4, 4)
            a1 = sigmoid(W1 @ x)
            out = sigmoid(W2 @ a1)
            error = y - out
            delta2 = error * out * (1 - out)
            delta1 = (W2 @ delta2) * a1 * (1 - a1)
            """,
            at=(9, 11),
        ),
        Invalid(
            """
            import numpy as np
            from numpy import dot

            class Net:
                def forward(self, x):
                    self.h = np.tanh(dot(self.W1, x))
                    return dot(self.W2, self.h)

                def backward(self, grad_out):
                    grad_h = dot(self.W2, grad_out)
                    return grad_h * (1 - self.h ** 2)
            """,
            at=(10, 18),
        ),
        Invalid(
            """
            import torch

            class Linear(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, weight):
                    ctx.save_for_backward(x, weight)
                    return x @ weight.t()

                @staticmethod
                def backward(ctx, grad_output):
                    x, weight = ctx.saved_tensors
                    return grad_output @ weight.t(), grad_output.t() @ x
            """,
            at=(12, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for use, site in model.weight_uses():
            if not model.has(use.other, site.scope, Role.GRAD):
                continue
            forward = model.forward_orientation(use.key)
            if len(forward) != 1 or use.applies not in forward:
                continue
            weight, transposed = model.strip_transpose(use.weight)
            fixed = _src(model, weight) if transposed else f"{_src(model, weight)}.T"
            yield Report(
                use.matmul.node,
                f"`{_src(model, use.matmul.node)}` applies weight `{_src(model, weight)}` in the "
                f"same orientation as the forward pass ({use.applies}); the gradient needs the "
                f"opposite one: use `{fixed}` in place of `{_src(model, use.weight)}`",
            )
