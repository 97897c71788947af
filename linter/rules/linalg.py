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
                        f"`{model.src(call)}` solves a linear system with weight "
                        f"`{model.src(args[0])}` to carry the gradient back; backprop multiplies "
                        f"by the transpose instead: `{model.src(weight)}"
                        f"{'' if t else '.T'} @ {model.src(args[1])}`",
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
            f"`{model.src(call)}` inverts weight `{model.src(weight)}` to carry the gradient "
            f"back; backprop multiplies by the transpose, not the inverse: use "
            f"`{model.src(replacement)}`",
            replacement=replacement,
            fix_description=f"Replace the inverse with `{model.src(replacement)}`",
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
        Valid(
            """
            import numpy as np

            def step(Wxh, Whh, xs, hs, dhraw, t):
                hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]))
                dhnext = np.dot(Whh.T, dhraw)
                return dhnext
            """,
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
        Invalid(
            """
            import numpy as np

            def bptt(Wxh, Whh, xs, hs, dh, t):
                hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]))
                dhraw = (1 - hs[t] * hs[t]) * dh
                dhnext = np.dot(Whh, dhraw)
                return dhnext
            """,
            at=(6, 14),
        ),
        Invalid(
            """
            def forward(x, W):
                return np.tanh(x @ W)

            def backward(dz, W):
                return dz @ W
            """,
            at=(5, 12),
            note="Row convention, one example: `dz @ W` applies Wᵀ again.",
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
            fixed = model.src(weight) if transposed else f"{model.src(weight)}.T"
            yield Report(
                use.matmul.node,
                f"`{model.src(use.matmul.node)}` applies weight `{model.src(weight)}` in the "
                f"same orientation as the forward pass ({use.applies}); the gradient needs the "
                f"opposite one: use `{fixed}` in place of `{model.src(use.weight)}`",
            )


def _product_operands(
    model: ModuleModel, node: cst.BaseExpression
) -> tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression] | None:
    """(node, left, right) for a matrix product or an outer product."""
    mm = model.matmul(node)
    if mm is not None:
        return mm.node, mm.left, mm.right
    if isinstance(node, cst.Call) and model.qualname(node.func) in ("numpy.outer", "torch.outer"):
        args = positional_args(node)
        if len(args) == 2:
            return node, args[0], args[1]
    return None


class WeightGradientOrientation(Rule):
    """Flags a weight gradient built as an outer product in the orientation of the other layout."""

    code = "BP003"
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
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        layouts = model.weight_layouts()
        if len(layouts) != 1:
            return
        layout = next(iter(layouts))
        transposed_in_update = _transposed_in_updates(model)
        for b, scope in model.gradient_stores(N.WEIGHT_GRAD_NAME):
            if N.target_label(b.target) in transposed_in_update:
                continue  # stored the other way round and applied as ``W -= lr * dW.T``
            assert b.value is not None
            found = _product_operands(model, model.core_value(b.value))
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
                continue
            want = (
                "the gradient first (`delta @ a_prev.T`)"
                if layout == "out-in"
                else "the input first (`a_prev.T @ dZ`)"
            )
            yield Report(
                node,
                f"`{model.src(node)}` builds the weight gradient in the orientation of the "
                f"other convention: the forward pass stores weights as ({layout.replace('-', ', ')}), "
                f"so the gradient needs {want}",
            )


def _transposed_in_updates(model: ModuleModel) -> set[str]:
    """Gradient names an update applies transposed (``self.W - lr * dw.T``)."""
    found: set[str] = set()

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            if node.attr.value == "T":
                label = N.target_label(node.value)
                if label:
                    found.add(label)

    for u in model.updates():
        u.step.visit(_V())
    return found


class MatmulInsteadOfHadamard(Rule):
    """Flags a matrix product between a gradient and an elementwise local derivative."""

    code = "BP004"
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
                left = _paren(mm.left)
                right = _paren(mm.right)
                replacement = cst.BinaryOperation(left, cst.Multiply(), right)
                yield Report(
                    mm.node,
                    f"`{model.src(mm.node)}` is a matrix product of the gradient and the local "
                    f"derivative `{model.src(deriv)}`; an elementwise activation needs the "
                    f"elementwise product: `{model.src(replacement)}`",
                    replacement=replacement,
                    fix_description="Use the elementwise product `*`",
                )
                break


def _paren(node: cst.BaseExpression) -> cst.BaseExpression:
    if (
        isinstance(node, cst.BinaryOperation | cst.UnaryOperation | cst.Comparison)
        and not node.lpar
    ):
        return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node


class BiasGradientNotSummed(Rule):
    """Flags a batched bias gradient that is not reduced over the batch axis."""

    code = "BP005"
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
    ]
    invalid = [
        Invalid(
            """
            def backward(dZ, A_prev, m):
                dW = A_prev.T @ dZ / m
                db = dZ / m
                return dW, db
            """,
            at=(3, 10),
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
            def backward(dZ, A_prev, m):
                dW = 1 / m * np.dot(dZ, A_prev.T)
                db = 1 / m * dZ
                return dW, db
            """,
            at=(3, 10),
        ),
        Invalid(
            """
            def backward(self, dout, X):
                N = X.shape[0]
                grads = {}
                grads["W"] = X.T @ dout / N
                grads["b"] = dout / N
                return grads
            """,
            at=(5, 18),
        ),
        Invalid(
            """
            def backward(delta, X):
                dW = np.dot(delta, X.T) / len(X)
                db = delta / len(X)
                return dW, db
            """,
            at=(3, 10),
        ),
        Invalid(
            """
            def layer_backward(self, dZ, n):
                self.dW = self.A_prev.T @ dZ / n
                self.db = dZ / n
            """,
            at=(3, 15),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for b, scope in model.gradient_stores(N.BIAS_GRAD_NAME):
            assert b.value is not None
            value = b.value
            if isinstance(value, cst.Subscript | cst.Attribute):
                continue  # ``db1 = grads['db1']``: a lookup; the gradient was formed elsewhere
            if not model.has(value, scope, Role.GRAD) or not _unreduced(model, value, scope):
                continue
            if not _batched(model, scope, value):
                continue
            yield Report(
                value,
                f"bias gradient `{model.src(value)}` keeps the batch axis; a bias is added to "
                f"every example, so its gradient is the sum over the batch: e.g. "
                f"`np.sum(..., axis=0)`",
            )


def _unreduced(
    model: ModuleModel, value: cst.BaseExpression, scope, depth: int = 0, seen: set | None = None
) -> bool:
    """The value is an upstream gradient that provably never went through a reduction: names
    are followed to their assignments; a value returned by a call or unpacked from one is
    unknown, and unknown is not a finding."""
    seen = set() if seen is None else seen
    if depth > 4:
        return True  # no reduction found along the way
    # on the stored value itself any reduction counts (``np.ones(m) @ dZ`` sums); upstream,
    # only explicit sums do: a matrix product there is the backward pass, not a batch sum
    if _reduces(model, value) if depth == 0 else _sums(value):
        return False
    from linter.analysis.exprs import names_in

    for name in names_in(value):
        bindings = scope.bindings.get(name, [])
        if not bindings or name in seen:
            continue
        seen.add(name)
        if any(b.kind in ("unpack", "param", "for", "append") for b in bindings):
            if not model.has(cst.Name(name), scope, Role.GRAD):
                continue
            if any(b.kind == "unpack" for b in bindings):
                return False
        for b in bindings:
            if b.kind == "assign" and b.value is not None and model.has(b.value, scope, Role.GRAD):
                if isinstance(b.value, cst.Subscript | cst.Attribute):
                    return False  # ``dbat = gradients["dba"]``: formed elsewhere, unknown
                if not _unreduced(model, b.value, scope, depth + 1, seen):
                    return False
    return True


def _sums(value: cst.BaseExpression) -> bool:
    from linter.analysis.exprs import calls_in

    for call in calls_in(value):
        func = call.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if name in _REDUCERS:
            return True
    return False


_REDUCERS = frozenset({"sum", "mean", "einsum", "tensordot", "average", "nansum"})


def _reduces(model: ModuleModel, value: cst.BaseExpression) -> bool:
    """Whether the value sums or averages somewhere (a reducing call or a matrix product)."""
    from linter.analysis.exprs import calls_in

    if model.matmul(model.core_value(value)) is not None or _sums(value):
        return True
    return any(model.matmul(call) is not None for call in calls_in(value))


def _batched(model: ModuleModel, scope, value: cst.BaseExpression) -> bool:
    """Evidence that the gradients in ``scope`` carry a batch axis."""
    # divided (or scaled) by a batch size, here or in a sibling weight gradient of the scope
    for b, sc in model.gradient_stores(N.WEIGHT_GRAD_NAME):
        if sc is scope and b.value is not None and _scaled_by_batch(b.value):
            return True
    if _scaled_by_batch(value):
        return True
    # flattening a batch: x.reshape(x.shape[0], -1)
    for site in model.c.calls:
        if site.scope is not scope:
            continue
        call = site.node
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "reshape":
            args = positional_args(call)
            if args and "shape" in model.module.code_for_node(args[0]):
                return True
    # another bias gradient of the module reduced over an axis
    for b, _ in model.gradient_stores(N.BIAS_GRAD_NAME):
        if b.value is not None and b.value is not value and _reduces(model, b.value):
            return True
    return False


def _scaled_by_batch(value: cst.BaseExpression) -> bool:
    from linter.analysis.model import _is_scalar

    node = value
    while isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, cst.Multiply | cst.Divide
    ):
        for side in (node.left, node.right):
            if _is_scalar(side) and number_value_is_none(side):
                return True
        node = node.left
    return False


def number_value_is_none(node: cst.BaseExpression) -> bool:
    from linter.analysis.exprs import number_value

    if isinstance(node, cst.BinaryOperation):
        return number_value_is_none(node.left) or number_value_is_none(node.right)
    return number_value(node) is None


class GradientOverwrittenAtFanOut(Rule):
    """Flags a gradient assigned with `=` where contributions must be accumulated with `+=`."""

    code = "BP006"
    name = "gradient-overwritten-at-fan-out"
    kb = "fan-out-gradients-accumulate"
    summary = "Gradient overwritten instead of accumulated (`=` where `+=` is needed)."
    why = (
        "When a value feeds several operations, or a weight is used at every time step, the "
        "chain rule sums the contributions of every use. Assigning the gradient keeps only the "
        "last one: `b = a + a` then reports db/da = 1 instead of 2, and BPTT keeps only the "
        "first time step's weight gradient."
    )
    instead = "Accumulate: `self.grad += out.grad * local` in `_backward`, `dWhh += ...` in BPTT."
    known_problems = (
        "Two shapes are recognised: assignments to `.grad` inside a `_backward`-style closure "
        "that reads another node's `.grad`, and a weight-gradient accumulator set to zeros "
        "before a loop and plain-assigned inside it."
    )
    valid = [
        Valid(
            """
            def __add__(self, other):
                out = Value(self.data + other.data, (self, other))

                def _backward():
                    self.grad += out.grad
                    other.grad += out.grad

                out._backward = _backward
                return out
            """
        ),
        Valid(
            """
            def backward(self):
                topo = build_topo(self)
                self.grad = 1.0
                for v in reversed(topo):
                    v._backward()
            """,
            note="Seeding the output's gradient with `=` is right.",
        ),
        Valid(
            """
            def zero_grad(self):
                for p in self.parameters():
                    p.grad = 0.0
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Whh, Why):
                dWhh = np.zeros_like(Whh)
                dhnext = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh = np.dot(Why.T, dys[t]) + dhnext
                    dhraw = (1 - hs[t] ** 2) * dh
                    dWhh += np.dot(dhraw, hs[t - 1].T)
                    dhnext = np.dot(Whh.T, dhraw)
                return dWhh
            """,
            note="`dhnext` is carried state, rightly replaced every step.",
        ),
        Valid(
            """
            def backward(dout, x, w):
                dw = np.zeros_like(w)
                dw = x.T @ dout
                return dw
            """,
            note="No loop: the zeros are simply replaced.",
        ),
        Valid(
            """
            def tanh(self):
                t = math.tanh(self.data)
                out = Value(t, (self,))

                def _backward():
                    self.grad += (1 - t**2) * out.grad

                out._backward = _backward
                return out
            """
        ),
        Valid(
            """
            def train(X, Y, W):
                for epoch in range(10):
                    dW = np.zeros_like(W)
                    for x, y in zip(X, Y):
                        dW = dW + np.outer(y - W @ x, x)
                    W += 0.1 * dW
                return W
            """
        ),
        Valid(
            """
            def set_grad(node, g):
                node.grad = g
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            def __add__(self, other):
                out = Value(self.data + other.data, (self, other))

                def _backward():
                    self.grad = out.grad
                    other.grad = out.grad

                out._backward = _backward
                return out
            """,
            at=[(5, 9), (6, 9)],
        ),
        Invalid(
            """
            def __mul__(self, other):
                out = Value(self.data * other.data, (self, other))

                def _backward():
                    self.grad += other.data * out.grad
                    other.grad = self.data * out.grad

                out._backward = _backward
                return out
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            def tanh(self):
                t = math.tanh(self.data)
                out = Value(t, (self,))

                def _backward():
                    self.grad = (1 - t**2) * out.grad

                out._backward = _backward
                return out
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Whh, Why):
                dWhh = np.zeros_like(Whh)
                dhnext = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh = np.dot(Why.T, dys[t]) + dhnext
                    dhraw = (1 - hs[t] ** 2) * dh
                    dWhh = np.dot(dhraw, hs[t - 1].T)
                    dhnext = np.dot(Whh.T, dhraw)
                return dWhh
            """,
            at=(7, 9),
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Wxh, Why):
                dWxh, dWhy = np.zeros_like(Wxh), np.zeros_like(Why)
                for t in reversed(range(len(xs))):
                    dWhy = np.dot(dys[t], hs[t].T)
                    dh = np.dot(Why.T, dys[t]) * (1 - hs[t] ** 2)
                    dWxh += np.dot(dh, xs[t].T)
                return dWxh, dWhy
            """,
            at=(4, 9),
        ),
        Invalid(
            """
            def relu(self):
                out = Value(max(0.0, self.data), (self,))

                def _backward():
                    self.grad = (out.data > 0) * out.grad

                out._backward = _backward
                return out
            """,
            at=(5, 9),
        ),
        Invalid(
            """
            class Value:
                def __pow__(self, k):
                    out = Value(self.data**k, (self,))

                    def _backward():
                        self.grad = k * self.data ** (k - 1) * out.grad

                    out._backward = _backward
                    return out
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            def accumulate(batch, W):
                grad_W = np.zeros_like(W)
                for x, delta in batch:
                    grad_W = np.outer(delta, x)
                return grad_W
            """,
            at=(4, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for scope in model.c.scopes:
            for key, bindings in scope.bindings.items():
                for b in bindings:
                    if b.kind != "assign" or b.value is None:
                        continue
                    if scope.nested and key.endswith(".grad") and _reads_grad(b.value):
                        yield Report(
                            b.target,
                            f"`{model.src(b.target)} = ...` inside a backward closure "
                            f"overwrites the gradient: a node used more than once receives a "
                            f"contribution from each use; accumulate with `+=`",
                        )
                    elif self._overwrites_accumulator(model, key, b, bindings):
                        yield Report(
                            b.target,
                            f"`{model.src(b.target)}` is set to zeros before the loop and "
                            f"assigned inside it, so only the last iteration's gradient "
                            f"survives; accumulate with `+=`",
                        )

    @staticmethod
    def _overwrites_accumulator(model: ModuleModel, key: str, b, bindings) -> bool:
        if not b.loops or not N.WEIGHT_GRAD_NAME.match(key.rsplit(".", 1)[-1]):
            return False
        from linter.analysis.exprs import names_in

        if key in names_in(b.value):
            return False
        for other in bindings:
            if other is b or other.kind != "assign" or other.value is None:
                continue
            if (
                other.index < b.index
                and b.loops[: len(other.loops)] == other.loops
                and len(other.loops) < len(b.loops)
            ):
                if model.is_call_to(
                    other.value, N.CONST_INIT | {"numpy.zeros_like", "torch.zeros_like"}
                ):
                    return True
        return False


def _reads_grad(value: cst.BaseExpression) -> bool:
    found = False

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            nonlocal found
            if node.attr.value == "grad":
                found = True

    value.visit(_V())
    return found
