"""BP008 bias-and-weight-batch-scale-differ."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.batch import mixed_reductions
from linter.analysis.evidence import gradient_evidence
from linter.rule import Invalid, Report, Rule, Valid


class BiasAndWeightBatchScaleDiffer(Rule):
    """Flags a layer whose weight gradient sums the batch while its bias gradient averages it."""

    code = "BP008"
    prefilter = (P.BASE, P.MATMUL, r"\b(?:mean|sum)\b")
    name = "bias-and-weight-batch-scale-differ"
    kb = "batch-mean-twice-or-never"
    summary = "Bias gradient averaged over the batch while the weight gradient is summed."
    why = (
        "In one backward both parameter gradients come from the same upstream gradient g. "
        "`X.T @ g` sums over the examples; `g.mean(axis=0)` divides that sum by N. If the loss "
        "already averaged over the batch, the bias gradient is divided twice (1/N of the true "
        "one); if it did not, the weight gradient is never divided. Either way the two "
        "parameters of one layer are on scales N apart."
    )
    instead = (
        "Reduce both the same way: `dW = X.T @ g` with `db = g.sum(axis=0)` when the upstream "
        "gradient already carries the 1/N, or divide both by N."
    )
    known_problems = (
        "Only products of the upstream gradient with the layer's (transposed) input and reductions "
        "of that same gradient, in the same backward, are compared; the batch axis is read from "
        "the product (`X.T @ g`: axis 0, `g @ X.T`: axis 1)."
    )
    valid = [
        Valid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return x @ self.w + self.b

                def backward(self, g):
                    self.dw = self.x.T @ g
                    self.db = g.sum(axis=0)
                    return g @ self.w.T
            """
        ),
        Valid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return x @ self.w + self.b

                def backward(self, g):
                    n = g.shape[0]
                    self.dw = self.x.T @ g / n
                    self.db = g.mean(axis=0)
                    return g @ self.w.T
            """
        ),
        Valid(
            """
            class Dense:
                def forward(self, a):
                    self.a = a
                    return self.W @ a + self.c

                def backward(self, d):
                    self.dW = d @ self.a.T
                    self.dc = np.sum(d, axis=1, keepdims=True)
                    return self.W.T @ d
            """
        ),
        Valid(
            """
            class Dense:
                def forward(self, a):
                    self.a = a
                    return self.W @ a + self.c

                def backward(self, d):
                    self.dW = d @ self.a.T
                    self.dc = np.mean(d, axis=0)
                    return self.W.T @ d
            """,
            note="A mean over the other axis is not a batch reduction here (columns are examples).",
        ),
        Valid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return x @ self.w + self.b

                def backward(self, g):
                    dx = g @ self.w.T
                    avg = dx.mean(axis=0)
                    self.dw = self.x.T @ g
                    self.db = g.sum(axis=0)
                    return dx, avg
            """
        ),
        Valid(
            """
            def backward(X, y, out, W):
                g = out - y
                dW = X.T @ g
                db = np.mean(g, axis=0)
                return dW, db
            """,
            note="No upstream gradient parameter: a whole network's backward, judged elsewhere.",
        ),
        Valid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return np.dot(x, self.w) + self.b

                def backward(self, g):
                    self.dw = np.dot(self.x.T, g) / g.shape[0]
                    self.db = np.mean(g, axis=0)
                    return np.dot(g, self.w.T)
            """
        ),
        Valid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return x @ self.w + self.b

                def backward(self, g):
                    return g @ self.w.T, self.x.T @ g, g.sum(0)
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return x @ self.w + self.b

                def backward(self, g):
                    self.dw = self.x.T @ g
                    self.db = g.mean(axis=0)
                    return g @ self.w.T
            """,
            at=(8, 19),
        ),
        Invalid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return np.dot(x, self.w) + self.b

                def backward(self, d_out):
                    d_x = np.dot(d_out, self.w.T)
                    d_w = np.dot(self.x.T, d_out)
                    d_b = np.mean(d_out, axis=0)
                    return d_x, [d_w, d_b]
            """,
            at=(9, 15),
        ),
        Invalid(
            """
            class Dense:
                def forward(self, a):
                    self.a = a
                    return self.W @ a + self.c

                def backward(self, d):
                    self.dW = d @ self.a.T
                    self.dc = np.mean(d, axis=1, keepdims=True)
                    return self.W.T @ d
            """,
            at=(8, 19),
        ),
        Invalid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return x @ self.w + self.b

                def backward(self, g):
                    self.dw = (self.x.T @ g) / len(g)
                    self.db = g.sum(axis=0)
                    return g @ self.w.T
            """,
            at=(8, 19),
            note="The reverse: the weight gradient averaged, the bias gradient summed.",
        ),
        Invalid(
            """
            class Affine:
                def forward(self, inputs):
                    self.inputs = inputs
                    return inputs.dot(self.kernel) + self.offset

                def backward(self, upstream):
                    grad_kernel = self.inputs.T.dot(upstream)
                    grad_offset = upstream.mean(0)
                    self.kernel -= 0.01 * grad_kernel
                    self.offset -= 0.01 * grad_offset
                    return upstream.dot(self.kernel.T)
            """,
            at=(8, 23),
        ),
        Invalid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return np.matmul(x, self.w) + self.b

                def backward(self, g):
                    self.dw = np.matmul(np.transpose(self.x), g)
                    self.db = np.mean(g, 0)
                    return np.matmul(g, self.w.T)
            """,
            at=(8, 19),
        ),
        Invalid(
            """
            class Layer:
                def forward(self, x):
                    self.x = x
                    return self.W @ x + self.b

                def backward(self, delta):
                    self.gW = delta @ self.x.T
                    self.gb = delta.mean(axis=1, keepdims=True)
                    return self.W.T @ delta
            """,
            at=(8, 19),
        ),
        Invalid(
            """
            class Linear:
                def forward(self, x):
                    self.x = x
                    return x @ self.w + self.b

                def backward(self, g):
                    dw = self.x.T @ g
                    db = np.mean(g, axis=0)
                    self.w -= 0.1 * dw
                    self.b -= 0.1 * db
                    return g @ self.w.T
            """,
            at=(8, 14),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for found in mixed_reductions(model):
            yield Report(
                found.bias_grad,
                f"`{model.src(found.bias_grad)}` and `{model.src(found.weight_grad)}` reduce "
                f"the batch of `{found.gradient}` differently (one averages, the other sums): "
                f"the two gradients of this layer are N apart; reduce both the same way",
                evidence=(
                    (found.weight_grad, f"the weight gradient reduces `{found.gradient}` here"),
                    *(
                        fact
                        for b in found.scope.bindings.get(found.gradient, [])[:1]
                        if isinstance(b.target, cst.Name)
                        for fact in gradient_evidence(model, b.target, found.scope)
                    ),
                ),
            )
