"""BP009 gradient-shape-conflict."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel, Role
from linter.analysis.exprs import contains
from linter.analysis.gradients import value_definitions
from linter.analysis.symshapes import (
    Dim,
    Shape,
    Shapes,
    describe,
    distinct,
    inner_dims,
    shapes,
    shapes_differ,
    show,
    steps,
)
from linter.rule import Invalid, Report, Rule, Valid


class GradientShapeConflict(Rule):
    """Flags an update whose gradient provably has another shape than its parameter, and a
    product in a backward pass whose contracted dimensions are provably different."""

    code = "BP009"
    prefilter = (P.BASE, f"{P.MATMUL}|{P.OUTER}")
    name = "gradient-shape-conflict"
    kb = "gradient-has-its-parameters-shape"
    summary = "Gradient whose symbolic shape is not its parameter's, or a backward product over mismatched dimensions."
    why = (
        "The gradient of a loss with respect to a parameter has one entry per entry of the "
        "parameter, so it has the parameter's shape, axis by axis: for `W` of shape (n_out, n_in) "
        "the gradient is (n_out, n_in). A step of shape (n_in, n_out) is the transpose of a "
        "gradient, and a product in the backward pass that contracts `n_out` against `n_in` "
        "pairs entries that the chain rule never pairs. When the layer is square the code runs "
        "and trains on a wrong gradient; when it is not, numpy broadcasts or raises far from the "
        "mistake."
    )
    instead = (
        "Build every gradient axis by axis from the forward pass: for `z = W @ a` the weight "
        "gradient is `delta @ a.T` (n_out, n_in) and the input gradient `W.T @ delta`; for "
        "`Z = X @ W` they are `X.T @ dZ` and `dZ @ W.T`. A bias gradient is summed over the batch "
        "to the bias's own shape."
    )
    known_problems = (
        "Dimensions are learnt only where the code states them: an initialiser's arguments "
        "(integers, parameters, names bound to them), a forward product with a matrix of known "
        "shape, `.T`, broadcasting, reductions with a constant axis and `reshape` with stated "
        "sizes. Inputs of rank 3 or more are not modelled. A conflict is reported only between "
        "two integers that differ or two distinct named dimensions (`n_out` against `n_in`), so "
        "a square layer written with one size (`randn(n, n)`) is never judged. Where BP002, "
        "BP003, BP004, BP005 or BP008 explain the same value, this rule stays silent."
    )

    valid = [
        Valid(
            """
            import numpy as np

            class Affine:
                def __init__(self, n_in, n_out):
                    self.mat = np.random.randn(n_out, n_in)
                    self.offs = np.zeros((n_out, 1))

                def forward(self, x_in):
                    self.x_in = x_in
                    return self.mat @ self.x_in + self.offs

                def backward(self, g, rate=0.01):
                    step = g @ self.x_in.T
                    self.mat -= rate * step
                    self.offs -= rate * g.sum(axis=1, keepdims=True)
                    return self.mat.T @ g
            """,
            note="Column convention: the step is (n_out, n_in), like the weight.",
        ),
        Valid(
            """
            import numpy as np

            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_in, n_out) * 0.1
                    self.b = np.zeros(n_out)

                def forward(self, X):
                    self.X = X
                    return X @ self.W + self.b

                def backward(self, dZ, lr=0.01):
                    dW = self.X.T @ dZ
                    self.W -= lr * dW
                    self.b -= lr * dZ.sum(axis=0)
                    return dZ @ self.W.T
            """,
            note="Row convention: `X.T @ dZ` is (n_in, n_out); the bias gradient is summed.",
        ),
        Valid(
            """
            import numpy as np

            class Square:
                def __init__(self, n):
                    self.W = np.random.randn(n, n)

                def forward(self, x):
                    self.x = x
                    return self.W @ x

                def backward(self, g, lr=0.01):
                    dx = self.W.T @ g
                    self.W -= lr * (g @ self.x.T)
                    return dx
            """,
            note="One size for both axes (`randn(n, n)`): the shapes cannot tell an orientation "
            "apart, so this rule never judges such a layer.",
        ),
        Valid(
            """
            import numpy as np

            class Affine:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_out, n_in)

                def forward(self, x):
                    self.x = x
                    return np.dot(self.W, x)

                def backward(self, g, lr=0.01):
                    dW = np.dot(self.x, g.T)
                    self.W -= lr * dW.T
                    return np.dot(self.W.T, g)
            """,
            note="Stored transposed and applied transposed: the step has the weight's shape.",
        ),
        Valid(
            """
            import numpy as np

            class Affine:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_out, n_in)

                def forward(self, x):
                    self.x = x
                    return self.W.dot(x)

                def backward(self, g, lr=0.01):
                    self.W -= lr * np.outer(g, self.x)
                    return self.W.T.dot(g)
            """,
            note="One example as 1-D vectors: `np.outer(g, x)` is (n_out, n_in).",
        ),
        Valid(
            """
            import numpy as np

            W = np.random.randn(3, 4)
            b = np.zeros((3, 1))

            def forward(x):
                return W @ x + b

            def backward(g, x, lr=0.01):
                global W
                W = W - lr * (g @ x.T)
                return W.T @ g
            """,
            note="The input's shape is not stated anywhere: unknown stays unknown.",
        ),
        Valid(
            """
            import numpy as np

            class Layer:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_out, n_in)

                def forward(self, x):
                    self.x = x
                    return self.W @ x

                def backward(self, g, lr=0.01):
                    dW = g @ self.x.T + 0.01 * self.W
                    self.W -= lr * dW
                    return self.W.T @ g
            """,
            note="Weight decay adds the weight itself: same shape.",
        ),
        Valid(
            """
            import numpy as np

            class RNN:
                def __init__(self, n_in, n_h):
                    self.Wxh = np.random.randn(n_h, n_in)
                    self.Whh = np.random.randn(n_h, n_h)

                def forward(self, x, h):
                    return np.tanh(self.Wxh @ x + self.Whh @ h)

                def backward(self, dh, x, h, lr=0.01):
                    self.Whh -= lr * (dh @ h.T)
                    self.Wxh -= lr * (dh @ x.T)
                    return self.Whh.T @ dh
            """,
        ),
        Valid(
            """
            import numpy as np

            class Affine:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_out, n_in)

                def forward(self, x):
                    self.x = x
                    return self.W @ x

                def backward(self, g, lr=0.01):
                    dx = self.W.T @ g
                    self.W -= lr * (self.x @ g.T)
                    return dx
            """,
            note="A flipped weight gradient: BP003 reports it in its own terms, at the product; "
            "this rule does not report the same defect again at the update.",
        ),
    ]
    invalid = [
        Invalid(
            """
            import numpy as np

            n_input, n_hidden, n_output, batch = 4, 5, 3, 8
            W1 = np.random.randn(n_hidden, n_input) * 0.1
            W2 = np.random.randn(n_output, n_hidden) * 0.1
            X = np.random.randn(n_input, batch)
            Y = np.random.randn(n_output, batch)

            def train(lr=0.01):
                global W1, W2
                H = np.tanh(W1 @ X)
                d2 = W2 @ H - Y
                d1 = (W1.T @ d2) * (1 - H**2)
                W2 -= lr * (d2 @ H.T)
                W1 -= lr * (d1 @ X.T)
            """,
            at=(13, 11),
            note="The first layer's weight where the second's belongs: (n_input, n_hidden) "
            "against d2's n_output.",
        ),
        Invalid(
            """
            import numpy as np

            n_input, n_hidden, n_output, batch = 4, 5, 3, 8
            W1 = np.random.randn(n_hidden, n_input) * 0.1
            W2 = np.random.randn(n_output, n_hidden) * 0.1
            X = np.random.randn(n_input, batch)
            Y = np.random.randn(n_output, batch)

            def train(lr=0.01):
                global W1, W2
                H = np.tanh(W1 @ X)
                d2 = W2 @ H - Y
                d1 = (W2.T @ d2) * (1 - H**2)
                dW1 = d1 @ X.T
                dW2 = d2 @ H.T
                W2 -= lr * dW1
                W1 -= lr * dW2
            """,
            at=[(16, 5), (17, 5)],
            note="Each layer stepped with the other layer's gradient.",
        ),
        Invalid(
            """
            import numpy as np

            class Affine:
                def __init__(self, n_in, n_out):
                    self.n_in, self.n_out = n_in, n_out
                    self.W = np.random.randn(n_out, n_in)

                def forward(self, x):
                    self.x = x
                    return self.W @ x

                def backward(self, g, lr=0.01):
                    dx = self.W.T @ g
                    self.W -= lr * (g @ self.x.T).reshape(self.n_in, self.n_out)
                    return dx
            """,
            at=(14, 9),
            note="Reshaped to 'fit': (n_in, n_out) for an (n_out, n_in) weight. A reshape is not "
            "a transpose, and neither makes a gradient.",
        ),
        Invalid(
            """
            import numpy as np

            n_x, n_h, n_y, m = 6, 4, 2, 10
            params = {
                "W1": np.random.randn(n_x, n_h) * 0.01,
                "W2": np.random.randn(n_h, n_y) * 0.01,
            }
            X = np.random.randn(m, n_x)
            Y = np.random.randn(m, n_y)

            def step(lr=0.01):
                A1 = np.tanh(X @ params["W1"])
                dZ2 = A1 @ params["W2"] - Y
                dZ1 = (dZ2 @ params["W2"].T) * (1 - A1**2)
                params["W2"] -= lr * (A1.T @ dZ2)
                params["W1"] -= lr * (X.T @ dZ2)
            """,
            at=(16, 5),
            note="Row convention, dict-held parameters: the first layer's step uses the output "
            "layer's delta, (n_x, n_y) for an (n_x, n_h) weight.",
        ),
        Invalid(
            """
            import numpy as np

            n_input, n_hidden, n_output, batch = 4, 5, 3, 8
            W1 = np.random.randn(n_hidden, n_input) * 0.1
            b1 = np.zeros((n_hidden, 1))
            W2 = np.random.randn(n_output, n_hidden) * 0.1
            b2 = np.zeros((n_output, 1))
            X = np.random.randn(n_input, batch)
            Y = np.random.randn(n_output, batch)

            def train(lr=0.01):
                global b1, b2
                H = np.tanh(W1 @ X + b1)
                d2 = W2 @ H + b2 - Y
                d1 = (W2.T @ d2) * (1 - H**2)
                b2 -= lr * d1.sum(axis=1, keepdims=True)
                b1 -= lr * d2.sum(axis=1, keepdims=True)
            """,
            at=[(16, 5), (17, 5)],
            note="The biases stepped with each other's deltas: (n_hidden, 1) for (n_output, 1).",
        ),
        Invalid(
            """
            import numpy as np

            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_in, n_out)
                    self.b = np.zeros((1, n_out))

                def forward(self, X):
                    self.X = X
                    return X @ self.W + self.b

                def backward(self, dZ, lr=0.01):
                    dX = dZ @ self.W.T
                    self.W -= lr * dX
                    self.b -= lr * dZ.sum(axis=0, keepdims=True)
                    return dX
            """,
            at=(14, 9),
            note="The weight stepped with the gradient of the layer's input, (?, n_in).",
        ),
        Invalid(
            """
            import numpy as np

            class Net:
                def __init__(self, n_in, n_hidden, n_out):
                    self.W1 = np.random.randn(n_hidden, n_in)
                    self.W2 = np.random.randn(n_out, n_hidden)

                def forward(self, x):
                    self.x = x
                    self.h = np.tanh(self.W1 @ x)
                    return self.W2 @ self.h

                def backward(self, g, lr=0.01):
                    dh = (self.W2.T @ g) * (1 - self.h**2)
                    self.W2 -= lr * (g @ self.h.T)
                    self.W1 -= lr * (g @ self.x.T)
                    return self.W1.T @ dh
            """,
            at=(16, 9),
            note="The output gradient where the hidden layer's belongs: (n_out, n_in) for "
            "(n_hidden, n_in).",
        ),
        Invalid(
            """
            import numpy as np

            class Net:
                def __init__(self, n_in, n_hidden, n_out):
                    self.W1 = np.random.randn(n_in, n_hidden)
                    self.W2 = np.random.randn(n_hidden, n_out)

                def forward(self, X):
                    self.X = X
                    self.H = np.maximum(X @ self.W1, 0)
                    return self.H @ self.W2

                def backward(self, dY):
                    dH = (dY @ self.W1.T) * (self.H > 0)
                    return dH
            """,
            at=(14, 15),
            note="Propagated through the first layer's weight: `dY` is (?, n_out), `W1.T` is "
            "(n_hidden, n_in).",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        if next(model.matmuls(), None) is None:
            return
        sa = shapes(model)
        found: list[tuple[Report, list[cst.CSTNode]]] = []
        contracted: list[cst.CSTNode] = []
        for mm, site in model.matmuls():
            a = sa.of(mm.left, site.scope)
            b = sa.of(mm.right, site.scope)
            if a is None or b is None:
                continue
            pairs = [inner_dims(x, y) for x in a for y in b]
            if not pairs or any(p is None or not distinct(*p) for p in pairs):
                continue
            if not (
                model.is_backward_scope(site.scope)
                or model.has(mm.left, site.scope, Role.GRAD)
                or model.has(mm.right, site.scope, Role.GRAD)
            ):
                continue
            left_dim, right_dim = pairs[0]  # type: ignore[misc]
            assert left_dim is not None and right_dim is not None
            report = Report(
                mm.node,
                f"`{model.src(mm.node)}` contracts `{model.src(mm.left)}`'s "
                f"`{left_dim.label}` axis with `{model.src(mm.right)}`'s `{right_dim.label}` "
                f"axis: they are different dimensions, and the chain rule only sums over a "
                f"dimension both factors share",
                evidence=_dim_evidence(model, [left_dim, right_dim]),
            )
            found.append((report, [mm.node]))
            contracted.append(mm.node)
        for u in steps(model):
            param = sa.of(u.target, u.scope)
            if param is None or len(param) != 1 or not param[0]:
                continue
            step = sa.of(u.step, u.step_scope)
            # a scalar step (``W -= lr * penalty``) scales every entry alike: no shape to judge
            if step is None or not all(s and shapes_differ(param[0], s) for s in step):
                continue
            shown = _closest(param[0], step)
            target = model.src(u.target)
            stmt = u.binding.stmt
            at = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else u.target
            report = Report(
                at,
                f"`{target}` has shape {show(param[0])} but the step `{model.src(u.step)}` has "
                f"shape {show(shown)}: a gradient has its parameter's shape, axis by axis, so "
                f"this step is not `{target}`'s gradient",
                evidence=_dim_evidence(model, [d for d in (*param[0], *shown) if d is not None]),
            )
            where = [at, *value_definitions(model, u.step, u.step_scope)]
            if any(contains(w, c) for w in where for c in contracted):
                continue  # the mismatched product that made this step is reported already
            found.append((report, where))
        if not found:
            return
        explained = _explained(model)
        for report, where in found:
            if any(contains(w, e) or contains(e, w) for w in where for e in explained):
                continue
            yield report


def _closest(param: Shape, step: Shapes) -> Shape:
    """The alternative to show: one of the parameter's rank, the least specific (a batch
    axis left unknown) first."""
    same = [s for s in step if len(s) == len(param)] or list(step)
    return max(same, key=lambda s: sum(d is None for d in s))


def _dim_evidence(model: ModuleModel, dims: list[Dim]) -> tuple[tuple[cst.CSTNode, str], ...]:
    out: list[tuple[cst.CSTNode, str]] = []
    seen: set[tuple[cst.CSTNode, str]] = set()
    for d in dims:
        if d.origin is None or isinstance(d.key, int):
            continue
        text = describe(model, d)
        if (d.origin, text) in seen:
            continue
        seen.add((d.origin, text))
        out.append((d.origin, text))
    return tuple(out[:6])


def _explained(model: ModuleModel) -> list[cst.CSTNode]:
    """The nodes the specific rules report in this module (asked only when this rule has a
    candidate, which is rare)."""
    from linter.rules.bp0_linalg.bias_gradient_not_summed import BiasGradientNotSummed
    from linter.rules.bp0_linalg.matmul_instead_of_hadamard import MatmulInsteadOfHadamard
    from linter.rules.bp0_linalg.untransposed_weight_in_backward import (
        UntransposedWeightInBackward,
    )
    from linter.rules.bp0_linalg.weight_gradient_from_own_output import (
        WeightGradientFromOwnOutput,
    )
    from linter.rules.bp0_linalg.weight_gradient_orientation import WeightGradientOrientation

    specific: tuple[type[Rule], ...] = (
        UntransposedWeightInBackward,
        WeightGradientOrientation,
        MatmulInsteadOfHadamard,
        BiasGradientNotSummed,
        WeightGradientFromOwnOutput,
    )
    return [r.node for rule in specific for r in rule().query(model)]
