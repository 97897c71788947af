"""BP002 untransposed-weight-in-backward."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.evidence import gradient_evidence, weight_evidence
from linter.edits import transposed
from linter.rule import Invalid, Report, Rule, Valid


class UntransposedWeightInBackward(Rule):
    """Flags a gradient propagated with a weight in the same orientation as the forward pass."""

    code = "BP002"
    prefilter = (P.BASE, P.MATMUL)
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
            written = model.src(use.weight)
            fixed = use.matmul.node.deep_replace(use.weight, transposed(model, use.weight))
            # Said in the code's own terms (the operand as written, the product to write), not in
            # W / W^T, which reads the other way round in row-major code.
            yield Report(
                use.matmul.node,
                f"`{model.src(use.matmul.node)}` multiplies by `{written}` the same way the "
                f"forward pass does; going backwards needs the transpose of `{written}`: "
                f"write `{model.src(fixed)}`",
                evidence=(
                    *weight_evidence(model, use.weight, site.scope),
                    *gradient_evidence(model, use.other, site.scope),
                ),
            )
