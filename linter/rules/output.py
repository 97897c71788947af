"""BP2xx: the output layer and the loss — σ′ kept or dropped, the softmax Jacobian."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis.exprs import factors_of
from linter.analysis.forms import Form, Kind
from linter.rule import Invalid, Report, Rule, Valid


def _sigmoid_factor(model: ModuleModel, node: cst.BaseExpression, scope) -> Form | None:
    """A factor that is σ′ of the output: σ′(z) in any spelling, or a(1 − a) of a sigmoid."""
    form = model.forms.form(node, scope)
    if form is None:
        return None
    if form.kind is Kind.SIGMOID_PRIME_OF_Z:
        return form
    if form.kind is Kind.OUTPUT_POLY and not model.has(form.operand, scope, Role.PROB):
        if model.activation_kind(form.operand, scope) in (Kind.SIGMOID, None):
            return form
    return None


def _softmax_poly(model: ModuleModel, node: cst.BaseExpression, scope) -> Form | None:
    """``p * (1 - p)`` of a softmax output p (the 'elementwise softmax Jacobian')."""
    form = model.forms.form(node, scope)
    if form is not None and form.kind is Kind.OUTPUT_POLY:
        if model.has(form.operand, scope, Role.PROB):
            return form
    return None


def _error_products(model: ModuleModel):
    """Products whose factors include an error signal ``a - y``: (node, error, others, scope)."""
    for site in model.c.binops:
        node = site.node
        if not isinstance(node, cst.BinaryOperation) or not isinstance(node.operator, cst.Multiply):
            continue
        factors = factors_of(node)
        for i, f in enumerate(factors):
            parts = model.error_parts(f, site.scope)
            if parts is not None:
                yield node, parts, factors[:i] + factors[i + 1 :], site.scope
                break


def _poly_pairs(model: ModuleModel, factors: list[cst.BaseExpression], scope) -> Form | None:
    """``a * (1 - a)`` as one factor, or spread over separate factors of a product chain."""
    for f in factors:
        form = model.forms.form(f, scope)
        if form is not None and form.kind in (Kind.SIGMOID_PRIME_OF_Z, Kind.OUTPUT_POLY):
            return form
    return model.forms.poly_pair(factors, factors, scope)


class SigmoidPrimeWithCrossEntropy(Rule):
    """Flags an output delta that keeps σ′(z) although the cost is cross-entropy."""

    code = "BP201"
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
                def delta(z, a, y):
                    return (a - y) * sigmoid_prime(z)
            """,
            at=(7, 16),
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
                return (a - y) * sigmoid(z) * (1 - sigmoid(z))
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            def bce_delta(z, a, y):
                s = sigmoid(z)
                return (a - y) * s * (1 - s)
            """,
            at=(3, 12),
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
            """,
            at=(2, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for node, (pred, _target, _sign), others, scope in _error_products(model):
            if model.costs(scope) != frozenset({"ce"}):
                continue
            if model.has(pred, scope, Role.PROB) or model.activation_kind(pred, scope) not in (
                Kind.SIGMOID,
                None,
            ):
                continue
            form = None
            for f in others:
                form = _sigmoid_factor(model, f, scope)
                if form is not None:
                    break
            if form is None:
                form = _poly_pairs(model, others, scope)
                if form is None or model.has(form.operand, scope, Role.PROB):
                    continue
            yield Report(
                node,
                f"`{model.src(node)}` keeps σ′ in the output delta, but the cost here is "
                f"cross-entropy: σ′ cancels against dC/da, so δ = a − y; drop the σ′ factor",
            )


class OutputDerivativeMissing(Rule):
    """Flags the raw error a − y propagated from a sigmoid/tanh output under the quadratic cost."""

    code = "BP202"
    name = "output-derivative-missing"
    kb = "output-derivative-missing-from-error"
    summary = "σ′ factor missing from the output delta with the quadratic cost."
    why = (
        "With the quadratic cost, δᴸ = (a − y) ⊙ σ′(zᴸ). The shortcut δ = a − y only holds for "
        "cross-entropy (or a linear output). Sending the raw error back to the hidden layer, or "
        "into the output weight gradient, drops the output activation's derivative."
    )
    instead = "Multiply the error by the output derivative: `delta = (a - y) * a * (1 - a)`."
    known_problems = (
        "The rule needs evidence of the quadratic cost (`(a - y)**2`, `np.square(a - y)`, or a "
        "function or class named for it) and no evidence of cross-entropy, and an output produced "
        "by a sigmoid or tanh."
    )
    valid = [
        Valid(
            """
            def train(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                loss = np.mean((y - out) ** 2)
                error = y - out
                d_out = error * out * (1 - out)
                d_h = d_out @ W2.T * h * (1 - h)
                return d_h, loss
            """
        ),
        Valid(
            """
            def train(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                loss = -np.mean(y * np.log(out) + (1 - y) * np.log(1 - out))
                error = out - y
                return error @ W2.T * h * (1 - h), loss
            """,
            note="Cross-entropy: a − y is the delta.",
        ),
        Valid(
            """
            def train(X, y, W1, W2):
                h = np.tanh(X @ W1)
                out = h @ W2
                loss = np.mean((out - y) ** 2)
                d_out = out - y
                return d_out @ W2.T * (1 - h**2), loss
            """,
            note="A linear output: δ = a − y is right.",
        ),
        Valid(
            """
            class QuadraticCost:
                @staticmethod
                def delta(z, a, y):
                    return (a - y) * sigmoid_prime(z)
            """
        ),
        Valid(
            """
            def mse(a, y):
                return 0.5 * np.sum((a - y) ** 2)

            def cost_derivative(output_activations, y):
                return output_activations - y
            """,
            note="The derivative of the cost with respect to a is a − y: no delta is formed here.",
        ),
        Valid(
            """
            def train(X, y, W):
                out = sigmoid(X @ W)
                error = np.square(y - out).mean()
                return error
            """
        ),
        Valid(
            """
            def backward(out, y, W2, h):
                err = (out - y) ** 2
                d = (out - y) * out * (1 - out)
                return W2.T @ d * h * (1 - h), err
            """
        ),
        Valid(
            """
            def loss_and_grad(X, y, W):
                p = softmax(X @ W)
                loss = np.mean((p - y) ** 2)
                return X.T @ (p - y), loss
            """,
            note="Not a sigmoid or tanh output: another rule's business.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def train(X, y, W1, W2):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                loss = np.mean((y - out) ** 2)
                error = y - out
                d_h = error @ W2.T * h * (1 - h)
                return d_h, loss
            """,
            at=(5, 13),
        ),
        Invalid(
            """
            class QuadraticCost:
                @staticmethod
                def fn(a, y):
                    return 0.5 * np.linalg.norm(a - y) ** 2

                def backward(self, W, a, y, h):
                    out = sigmoid(W @ h)
                    delta = out - y
                    return W.T @ delta
            """,
            at=(8, 17),
        ),
        Invalid(
            """
            def train(X, y, W1, W2):
                h = np.tanh(X @ W1)
                out = np.tanh(h @ W2)
                loss = np.mean(np.square(out - y))
                d_out = out - y
                dW2 = h.T @ d_out
                return dW2, loss
            """,
            at=(5, 13),
        ),
        Invalid(
            """
            def mse(a, y):
                return np.mean((a - y) ** 2)

            def backprop(W2, a1, a2, y):
                delta2 = a2 - y
                return np.dot(W2.T, delta2) * a1 * (1 - a1)

            a1 = sigmoid(W1 @ x)
            a2 = sigmoid(W2 @ a1)
            backprop(W2, a1, a2, y)
            """,
            at=(5, 14),
        ),
        Invalid(
            """
            def quadratic_cost(out, y):
                return 0.5 * ((out - y) ** 2).sum()

            def backward(self, X, y):
                out = sigmoid(self.h @ self.W2)
                d_out = (out - y) / len(X)
                return d_out @ self.W2.T
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            a1 = sigmoid(X @ W1)
            a2 = sigmoid(a1 @ W2)
            loss = ((a2 - Y) ** 2).mean()
            dz2 = a2 - Y
            dW2 = a1.T @ dz2
            """,
            at=(4, 7),
        ),
        Invalid(
            """
            def mse_loss(pred, target):
                return np.mean((pred - target) ** 2)

            class Net:
                def backward(self, x, target):
                    pred = sigmoid(np.dot(self.W2, self.h))
                    err = pred - target
                    dh = np.dot(self.W2.T, err)
                    return dh
            """,
            at=(7, 15),
        ),
        Invalid(
            """
            def fit(X, Y, W1, W2):
                H = np.tanh(X.dot(W1))
                P = sigmoid(H.dot(W2))
                cost = np.sum(np.square(Y - P))
                E = Y - P
                dH = E.dot(W2.T) * (1 - H ** 2)
                return dH, cost
            """,
            at=(5, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        seen: set[int] = set()
        for mm, site in model.matmuls():
            scope = site.scope
            costs = model.costs(scope)
            if "mse" not in costs or "ce" in costs:
                continue
            for side in (mm.left, mm.right):
                inner, _ = model.strip_transpose(side)
                where = self._raw_error_source(model, inner, scope, site.index)
                if where is None or id(where) in seen:
                    continue
                seen.add(id(where))
                kind = model.activation_kind(model.error_parts(where, scope)[0], scope)  # type: ignore[index]
                yield Report(
                    where,
                    f"the output delta `{model.src(where)}` is the raw error of a {kind} output "
                    f"under the quadratic cost, and it is propagated as is "
                    f"(`{model.src(mm.node)}`); the delta needs the activation's derivative: "
                    f"(a − y) ⊙ σ′(z)",
                )

    @staticmethod
    def _raw_error_source(
        model: ModuleModel, operand: cst.BaseExpression, scope, use_index: int
    ) -> cst.BaseExpression | None:
        """The raw ``a - y`` (of a sigmoid/tanh output) this operand is, where it was formed:
        the operand itself, or the latest assignment to its name before this use."""
        candidates: list[cst.BaseExpression] = []
        if isinstance(operand, cst.Name):
            before = [
                b
                for b in scope.bindings.get(operand.value, [])
                if b.kind == "assign" and b.value is not None and b.index <= use_index
            ]
            if before:
                candidates.append(max(before, key=lambda b: b.index).value)
        else:
            candidates.append(operand)
        for value in candidates:
            parts = model.error_parts(value, scope)
            if parts is None:
                continue
            if model.activation_kind(parts[0], scope) in (Kind.SIGMOID, Kind.TANH):
                return value
        return None


class ElementwiseSoftmaxJacobian(Rule):
    """Flags p(1 − p) used as the derivative of a softmax output."""

    code = "BP203"
    name = "elementwise-softmax-jacobian"
    kb = "softmax-jacobian-treated-elementwise"
    summary = "Softmax Jacobian treated as elementwise: s * (1 - s)."
    why = (
        "Each softmax output depends on every logit: ∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ). The diagonal "
        "sᵢ(1 − sᵢ) alone drops the off-diagonal terms −sᵢsⱼ, so the backward pass is wrong "
        "for every upstream gradient that is not constant across classes."
    )
    instead = (
        "Use the full vector-Jacobian product `s * (g - (g * s).sum(axis=-1, keepdims=True))`, or "
        "with cross-entropy skip it: the gradient with respect to the logits is `p - y`."
    )
    valid = [
        Valid(
            """
            def softmax_backward(s, g):
                return s * (g - np.sum(g * s, axis=1, keepdims=True))
            """
        ),
        Valid(
            """
            def sigmoid_backward(a, g):
                return g * a * (1 - a)

            a = sigmoid(z)
            """
        ),
        Valid(
            """
            def softmax_jacobian(s):
                return np.diagflat(s) - np.outer(s, s)
            """
        ),
        Valid(
            """
            def variance(p):
                return p * (1 - p)

            v = variance(0.3)
            """,
            note="A Bernoulli variance is not a derivative of a softmax.",
        ),
        Valid(
            """
            def step(scores, y):
                probs = softmax(scores)
                dscores = probs.copy()
                dscores[range(len(y)), y] -= 1
                return dscores
            """
        ),
        Valid(
            """
            import torch.nn.functional as F

            def entropy_bonus(logits):
                p = F.softmax(logits, dim=-1)
                return -(p * torch.log(p)).sum()
            """
        ),
        Valid(
            """
            class Sigmoid:
                def forward(self, x):
                    self.out = 1 / (1 + np.exp(-x))
                    return self.out

                def backward(self, grad):
                    return grad * self.out * (1 - self.out)
            """
        ),
        Valid(
            """
            def backward(self, s, grad):
                jac = np.diag(s) - np.outer(s, s)
                return jac @ grad
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            class Softmax:
                def forward(self, x):
                    e = np.exp(x - x.max(axis=1, keepdims=True))
                    self.out = e / e.sum(axis=1, keepdims=True)
                    return self.out

                def backward(self, grad):
                    return grad * self.out * (1 - self.out)
            """,
            at=(8, 16),
        ),
        Invalid(
            """
            def softmax_jacobian(s):
                return np.diagflat(s * (1 - s))

            J = softmax_jacobian(softmax(z))
            """,
            at=(2, 24),
        ),
        Invalid(
            """
            def softmax_derivative(s):
                return s * (1 - s)

            def backward(z, g):
                s = softmax(z)
                return g * softmax_derivative(s)
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def backward(logits, grad_output):
                p = F.softmax(logits, dim=1)
                return grad_output * p * (1 - p)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def layer_backward(dA, cache):
                Z = cache
                S = np.exp(Z - Z.max()) / np.sum(np.exp(Z - Z.max()))
                return dA * S * (1 - S)
            """,
            at=(4, 12),
        ),
        Invalid(
            """
            probs = softmax(scores)
            dprobs = upstream(probs)
            dscores = dprobs * probs * (1 - probs)
            """,
            at=(3, 11),
        ),
        Invalid(
            """
            class Net:
                def forward(self, x):
                    self.p = softmax(self.W @ x)
                    return self.p

                def backward(self, dp):
                    ds = dp * (self.p * (1 - self.p))
                    return ds
            """,
            at=(7, 20),
        ),
        Invalid(
            """
            def softmax_grad(x):
                s = softmax(x)
                return s * (1 - s)

            def backward(x, grad):
                return grad * softmax_grad(x)
            """,
            at=(3, 12),
            note="Reported in the helper: it is wrong whoever calls it.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        from linter.rules.activations import derivative_sites

        double_counted: list[cst.CSTNode] | None = None
        for node, form, scope in derivative_sites(model):
            if form.kind is not Kind.OUTPUT_POLY or not model.has(form.operand, scope, Role.PROB):
                continue
            if double_counted is None:  # BP204's sites: the p(1 − p) there is its finding
                double_counted = [r.node for r in SoftmaxDerivativeTimesPMinusY().query(model)]
            if any(outer is node or _contains(outer, node) for outer in double_counted):
                continue
            yield Report(
                node,
                f"`{model.src(node)}` treats the softmax Jacobian as elementwise: ∂sᵢ/∂zⱼ = "
                f"sᵢ(δᵢⱼ − sⱼ) has off-diagonal terms; use s * (g − Σ g·s), or p − y with "
                f"cross-entropy",
            )


def _contains(outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    found = False

    class _V(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            nonlocal found
            if n is inner:
                found = True
            return not found

    outer.visit(_V())
    return found


class SoftmaxDerivativeTimesPMinusY(Rule):
    """Flags a softmax derivative multiplied into the softmax–cross-entropy gradient p − y."""

    code = "BP204"
    name = "softmax-derivative-times-p-minus-y"
    kb = "softmax-ce-double-counting"
    summary = "Softmax derivative multiplied into p − y (the softmax counted twice)."
    why = (
        "For softmax followed by cross-entropy, the gradient with respect to the logits is "
        "already p − y: the softmax Jacobian has been applied. Multiplying by p(1 − p), or by the "
        "Jacobian again, differentiates the softmax twice."
    )
    instead = "Use `p - y` (e.g. `dscores = probs; dscores[range(N), y] -= 1`) and stop there."
    valid = [
        Valid(
            """
            def step(scores, y):
                probs = softmax(scores)
                dscores = probs.copy()
                dscores[range(len(y)), y] -= 1
                dscores /= len(y)
                return dscores
            """
        ),
        Valid(
            """
            def backward(s, y):
                return s - y

            s = softmax(z)
            """
        ),
        Valid(
            """
            def softmax_jacobian(s):
                return np.diagflat(s) - np.dot(s, s.T)

            def backward(s, dL_ds):
                return softmax_jacobian(s).T @ dL_ds
            """,
            note="The Jacobian applied to dL/ds (not to p − y) is the long way round, and right.",
        ),
        Valid(
            """
            def sigmoid_mse(a, y):
                return (a - y) * a * (1 - a)

            a = sigmoid(z)
            """
        ),
        Valid(
            """
            def backward(self, probs, y):
                grad = probs.copy()
                grad[np.arange(len(y)), y] -= 1
                return grad / len(y)
            """
        ),
        Valid(
            """
            import torch.nn.functional as F

            def manual_ce_grad(logits, onehot):
                return F.softmax(logits, dim=1) - onehot
            """
        ),
        Valid(
            """
            def variance_weighted(p, y):
                return (p - y) * p * (1 - p)

            p = np.clip(x, 0, 1)
            """,
            note="Not a softmax output.",
        ),
        Valid(
            """
            def backward(s, g):
                return s * (g - (g * s).sum(axis=1, keepdims=True))
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            def step(scores, y):
                probs = softmax(scores)
                dscores = probs.copy()
                dscores[range(len(y)), y] -= 1
                dscores *= probs * (1 - probs)
                return dscores
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def backward(s, y):
                return (s - y) * s * (1 - s)

            s = softmax(z)
            backward(s, y)
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            def softmax_jacobian(s):
                return np.diagflat(s) - np.dot(s, s.T)

            def backward(s, y):
                return softmax_jacobian(s).T @ (s - y)

            backward(softmax(z), y)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            probs = softmax(logits)
            delta = (probs - targets) * probs * (1 - probs)
            """,
            at=(2, 9),
        ),
        Invalid(
            """
            def backward(probs, y):
                grad = probs.copy()
                grad[np.arange(len(y)), y] -= 1
                grad = grad * probs * (1 - probs)
                return grad / len(y)

            backward(softmax(scores), labels)
            """,
            at=(4, 12),
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def manual_ce_grad(logits, onehot):
                p = F.softmax(logits, dim=1)
                return (p - onehot) * p * (1 - p)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def softmax_derivative(s):
                return s * (1 - s)

            def output_delta(z, y):
                a = softmax(z)
                return (a - y) * softmax_derivative(a)
            """,
            at=(6, 12),
        ),
        Invalid(
            """
            def bptt(ys, targets):
                ps = {}
                for t in range(len(ys)):
                    ps[t] = softmax(ys[t])
                    dy = np.copy(ps[t])
                    dy[targets[t]] -= 1
                    dy *= ps[t] * (1 - ps[t])
                return dy
            """,
            at=(7, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        # (a) error * p(1 - p), in one product chain
        for node, (pred, _t, _s), others, scope in _error_products(model):
            if not model.has(pred, scope, Role.PROB):
                continue
            form = None
            for f in others:
                form = _softmax_poly(model, f, scope) or _softmax_helper(model, f, scope)
                if form is not None:
                    break
            if form is None:
                form = _poly_pairs(model, others, scope)
                if form is None or not model.has(form.operand, scope, Role.PROB):
                    continue
            yield self._report(model, node)
        # (b) grad *= p * (1 - p) / grad = grad * p * (1 - p) on a seeded p - onehot
        for scope in model.c.scopes:
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.value is None or b.kind not in ("aug", "assign"):
                        continue
                    if b.kind == "aug" and b.op != "MultiplyAssign":
                        continue
                    if not model.has(b.target, scope, Role.ERROR):
                        continue
                    factors = [b.value] if b.kind == "aug" else factors_of(b.value)
                    if b.kind == "assign" and not any(
                        isinstance(f, cst.Name)
                        and isinstance(b.target, cst.Name)
                        and f.value == b.target.value
                        for f in factors
                    ):
                        continue
                    others = [f for f in factors if not _same_name(f, b.target)]
                    hit = any(_softmax_poly(model, f, scope) for f in others) or (
                        (pp := _poly_pairs(model, others, scope)) is not None
                        and model.has(pp.operand, scope, Role.PROB)
                    )
                    if hit:
                        yield self._report(model, b.stmt if b.kind == "aug" else b.value)
        # (c) the softmax Jacobian applied to p - y
        for mm, site in model.matmuls():
            for jac, err in ((mm.left, mm.right), (mm.right, mm.left)):
                base, _ = model.strip_transpose(jac)
                form = model.forms.form(base, site.scope)
                if form is None or form.kind is not Kind.SOFTMAX_JACOBIAN:
                    continue
                parts = model.error_parts(err, site.scope)
                if parts is not None and model.has(parts[0], site.scope, Role.PROB):
                    yield self._report(model, mm.node)

    def _report(self, model: ModuleModel, node: cst.CSTNode) -> Report:
        if isinstance(node, cst.SimpleStatementLine):
            node = node.body[0]
        return Report(
            node,
            f"`{model.src(node).strip()}` multiplies the softmax derivative into p − y, which "
            f"already is the gradient with respect to the logits: the softmax is differentiated "
            f"twice; use p − y alone",
        )


def _softmax_helper(model: ModuleModel, node: cst.BaseExpression, scope) -> Form | None:
    form = model.forms.form(node, scope)
    if (
        form is not None
        and form.kind is Kind.OUTPUT_POLY
        and model.has(form.operand, scope, Role.PROB)
    ):
        return form
    return None


def _same_name(a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    return isinstance(a, cst.Name) and isinstance(b, cst.Name) and a.value == b.value
