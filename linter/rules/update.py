"""BP3xx: the update and the training loop — sign, order, initialisation."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis import names as N
from linter.analysis.exprs import names_in, number_value, positional_args
from linter.rule import Invalid, Report, Rule, Valid


class UpdateSignInconsistent(Rule):
    """Flags an update that moves a parameter along its gradient instead of against it."""

    code = "BP301"
    name = "update-sign-inconsistent"
    kb = "gradient-sign-convention"
    summary = "Update sign inconsistent with the error's sign (the step climbs the cost)."
    why = (
        "Gradient descent moves against the gradient: w ← w − η ∂C/∂w. An error written "
        "`a - y` has the gradient's sign, so its update is `-=`; written `y - a` it is the "
        "negative gradient, so the update is `+=`. Mixing the two conventions (copied from two "
        "tutorials) makes the loss grow."
    )
    instead = "With `error = a - y` use `W -= lr * dW`; with `error = y - a` use `W += lr * dW`."
    known_problems = (
        "The sign is followed from the error `a - y` / `y - a` through products, sums, names, "
        "helper returns and comprehensions to the update; when any step is ambiguous, the rule "
        "is silent."
    )
    valid = [
        Valid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = y - out
                W += lr * X.T @ (error * out * (1 - out))
                return W
            """,
            note="`y - a` with `+=`: the error already carries the minus sign.",
        ),
        Valid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = out - y
                W -= lr * X.T @ (error * out * (1 - out))
                return W
            """
        ),
        Valid(
            """
            def step(self, X, y):
                p = sigmoid(X @ self.w)
                grad = X.T @ (p - y) / len(y)
                self.w = self.w - self.lr * grad
            """
        ),
        Valid(
            """
            def update(self, nabla_w, eta, n):
                self.weights = [w - (eta / n) * nw for w, nw in zip(self.weights, nabla_w)]
            """
        ),
        Valid(
            """
            def perceptron(w, x, y, lr):
                pred = np.sign(w @ x)
                w += lr * (y - pred) * x
                return w
            """
        ),
        Valid(
            """
            def train(W, grads, lr):
                W -= lr * grads["W"]
                return W
            """,
            note="The gradient's sign is unknown here: silent.",
        ),
        Valid(
            """
            def train(X, y, W, lr):
                out = X @ W
                error = out - y
                W += -lr * X.T @ error
                return W
            """
        ),
        Valid(
            """
            def ascent(theta, x, y, lr):
                p = sigmoid(x @ theta)
                theta += lr * x.T @ (y - p)
                return theta
            """,
            note="Maximising the log-likelihood with y − p: a consistent ascent.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = y - out
                W -= lr * X.T @ (error * out * (1 - out))
                return W
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def train(X, y, W, lr):
                out = sigmoid(X @ W)
                error = out - y
                W += lr * X.T @ (error * out * (1 - out))
                return W
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def step(self, X, y):
                p = sigmoid(X @ self.w)
                grad = X.T @ (p - y) / len(y)
                self.w = self.w + self.lr * grad
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            class Net:
                def backprop(self, x, y):
                    delta = (self.feedforward(x) - y) * 0.25
                    return np.dot(delta, x.T)

                def update(self, x, y, eta):
                    nabla_w = self.backprop(x, y)
                    self.W = self.W + eta * nabla_w
            """,
            at=(8, 9),
        ),
        Invalid(
            """
            def fit(self, X, y):
                for _ in range(100):
                    a = sigmoid(X @ self.w)
                    dz = a - y
                    dw = X.T @ dz / len(y)
                    self.w += self.lr * dw
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            error = y - output
            d_output = error * output * (1 - output)
            W2 -= learning_rate * hidden.T.dot(d_output)
            """,
            at=(3, 1),
        ),
        Invalid(
            """
            def train(X, y, W, lr):
                out = X @ W
                error = out - y
                W += -lr * X.T @ (-error)
                return W
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def sgd(weights, x, y, eta):
                out = sigmoid(np.dot(weights, x))
                delta = (y - out) * out * (1 - out)
                weights = weights - eta * np.outer(delta, x)
                return weights
            """,
            at=(4, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for u in model.updates():
            sign = model.sign(u.step, u.step_scope)
            if sign is None or u.direction * sign != 1:
                continue
            stmt = u.binding.stmt
            node = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else u.binding.target
            error = "a − y" if sign == 1 else "y − a"
            op = "+" if u.direction == 1 else "−"
            yield Report(
                node,
                f"`{model.src(node).strip()}` moves `{model.src(u.binding.target)}` along its "
                f"gradient: the step is built from {error}, which has the "
                f"{'same' if sign == 1 else 'opposite'} sign as ∂C/∂w, and is applied with "
                f"{op}; gradient descent needs the opposite sign",
            )


class UpdateBeforePropagate(Rule):
    """Flags a weight updated before the same backward pass propagates the gradient through it."""

    code = "BP302"
    name = "update-before-propagate"
    kb = "update-before-propagate"
    summary = "Weight updated before it is used to propagate delta to the layer below."
    why = (
        "Backprop differentiates the network that computed the forward pass. Updating W and "
        "then computing `delta @ W.T` propagates through the new weights, so the layers below "
        "get a gradient of a network that never ran; the error grows with the learning rate."
    )
    instead = "Propagate the gradient through every layer first, then apply all the updates."
    valid = [
        Valid(
            """
            def train_step(X, y, W1, W2, lr):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                d_out = (out - y) * out * (1 - out)
                d_h = d_out @ W2.T * h * (1 - h)
                W2 -= lr * h.T @ d_out
                W1 -= lr * X.T @ d_h
            """
        ),
        Valid(
            """
            class Dense:
                def backward(self, grad, lr):
                    grad_input = grad @ self.W.T
                    self.W -= lr * self.x.T @ grad
                    return grad_input
            """
        ),
        Valid(
            """
            for epoch in range(10):
                h = sigmoid(X @ W1)
                out = h @ W2
                d_out = out - y
                d_h = d_out @ W2.T
                W2 -= lr * h.T @ d_out
                W1 -= lr * X.T @ d_h
            """,
            note="The next iteration's backward uses the updated W2: that is training.",
        ),
        Valid(
            """
            def step(W1, W2, grads, lr):
                W1 -= lr * grads[0]
                W2 -= lr * grads[1]
                return W1, W2
            """
        ),
        Valid(
            """
            def train(self, X, y):
                self.W2 -= self.lr * self.dW2
                h = sigmoid(X @ self.W1)
                return h @ self.W2
            """,
            note="A forward use after the update is fine.",
        ),
        Valid(
            """
            def backward(self, d_out, lr):
                d_h = d_out @ self.W2.T
                self.W2 -= lr * self.h.T @ d_out
                self.W1 -= lr * self.x.T @ d_h
            """
        ),
        Valid(
            """
            def rnn_step(Whh, dWhh, dh, lr):
                Whh -= lr * dWhh
                return Whh
            """
        ),
        Valid(
            """
            def two_nets(A, B, dA, dB, delta, lr):
                A -= lr * dA
                return delta @ B.T
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            def train_step(X, y, W1, W2, lr):
                h = sigmoid(X @ W1)
                out = sigmoid(h @ W2)
                d_out = (out - y) * out * (1 - out)
                W2 -= lr * h.T @ d_out
                d_h = d_out @ W2.T * h * (1 - h)
                W1 -= lr * X.T @ d_h
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            class Dense:
                def forward(self, x):
                    self.x = x
                    return x @ self.W

                def backward(self, grad, lr):
                    self.W -= lr * self.x.T @ grad
                    return grad @ self.W.T
            """,
            at=(7, 9),
        ),
        Invalid(
            """
            for epoch in range(10):
                h = sigmoid(X @ W1)
                out = h @ W2
                d_out = out - y
                W2 -= lr * h.T @ d_out
                d_h = d_out @ W2.T
                W1 -= lr * X.T @ d_h
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def backward(self, d_out, lr):
                self.W2 -= lr * self.h.T @ d_out
                d_h = d_out @ self.W2.T
                self.W1 -= lr * self.x.T @ d_h

            def forward(self, x):
                self.h = sigmoid(x @ self.W1)
                return self.h @ self.W2
            """,
            at=(2, 5),
        ),
        Invalid(
            """
            def train(self, X, y):
                output = sigmoid(np.dot(self.hidden, self.W2))
                d_output = (y - output) * output * (1 - output)
                self.W2 += self.hidden.T.dot(d_output) * self.lr
                d_hidden = d_output.dot(self.W2.T) * self.hidden * (1 - self.hidden)
                self.W1 += X.T.dot(d_hidden) * self.lr
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def backprop(self, x, y, eta):
                a1 = sigmoid(np.dot(self.W1, x))
                a2 = sigmoid(np.dot(self.W2, a1))
                delta2 = (a2 - y) * a2 * (1 - a2)
                self.W2 = self.W2 - eta * np.outer(delta2, a1)
                delta1 = np.dot(self.W2.T, delta2) * a1 * (1 - a1)
                self.W1 = self.W1 - eta * np.outer(delta1, x)
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def step(params, grads, X, y, lr):
                h = np.tanh(X @ params["W1"])
                out = h @ params["W2"]
                d_out = out - y
                params["W2"] -= lr * h.T @ d_out
                d_h = d_out @ params["W2"].T * (1 - h**2)
                params["W1"] -= lr * X.T @ d_h
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def bptt_step(Why, h, dy, lr):
                out = Why @ h
                Why -= lr * np.outer(dy, h)
                dh = Why.T @ dy
                return dh
            """,
            at=(3, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        uses = [
            (use, site)
            for use, site in model.weight_uses()
            if model.has(use.other, site.scope, Role.GRAD)
        ]
        for u in model.updates():
            b = u.binding
            for use, site in uses:
                if use.key != u.key or site.scope is not u.scope:
                    continue
                if site.index <= b.index or site.loops != b.loops:
                    continue
                stmt = b.stmt
                node = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else b.target
                yield Report(
                    node,
                    f"`{model.src(b.target)}` is updated before `{model.src(use.matmul.node)}` "
                    f"propagates the gradient through it, so the layers below get the gradient "
                    f"of the updated network; propagate first, then update",
                )
                break


_CONST = frozenset(
    {"numpy.zeros", "numpy.ones", "numpy.full", "torch.zeros", "torch.ones", "torch.full"}
)


class ConstantWeightInit(Rule):
    """Flags hidden-layer weights initialised to a constant (zeros, ones, a fill value)."""

    code = "BP303"
    name = "constant-weight-init"
    kb = "zero-init-symmetry"
    summary = "Hidden weights initialised to a constant: every hidden unit stays identical."
    why = (
        "If all incoming and outgoing weights of the hidden units are equal, every unit computes "
        "the same activation and receives the same gradient, so they stay equal forever: the "
        "layer behaves like one unit. Zeros for a single layer (logistic regression) or for "
        "biases are fine."
    )
    instead = (
        "Initialise weights randomly, e.g. `rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)`."
    )
    known_problems = (
        "A constant weight is flagged when its layer's output feeds another constant-initialised "
        "weight (or the same list of weights, or a layer class that propagates the gradient to "
        "its input and so is made to be stacked)."
    )
    valid = [
        Valid(
            """
            class LogisticRegression:
                def __init__(self, n):
                    self.w = np.zeros(n)

                def predict(self, X):
                    return sigmoid(X @ self.w)
            """,
            note="One layer: zeros are fine.",
        ),
        Valid(
            """
            W1 = np.random.randn(2, 4) * 0.1
            b1 = np.zeros((1, 4))
            W2 = np.random.randn(4, 1) * 0.1
            h = sigmoid(X @ W1 + b1)
            out = sigmoid(h @ W2)
            """
        ),
        Valid(
            """
            def backprop(self, x, y):
                nabla_w = [np.zeros(w.shape) for w in self.weights]
                return nabla_w
            """,
            note="Gradient accumulators, not weights.",
        ),
        Valid(
            """
            W1 = rng.standard_normal((3, 5))
            W2 = np.zeros((5, 1))
            h = np.tanh(X @ W1)
            out = h @ W2
            """,
            note="Zero output weights with random hidden weights break no symmetry that matters.",
        ),
        Valid(
            """
            def init(sizes):
                return [np.random.randn(m, n) for n, m in zip(sizes[:-1], sizes[1:])]
            """
        ),
        Valid(
            """
            W = np.eye(4)
            h = np.tanh(W @ x)
            """,
        ),
        Valid(
            """
            velocity = np.zeros_like(W1)
            W1 = np.random.randn(3, 3)
            h = np.tanh(x @ W1)
            """
        ),
        Valid(
            """
            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_in, n_out) * 0.01
                    self.b = np.zeros(n_out)

                def forward(self, x):
                    return x @ self.W + self.b

                def backward(self, grad):
                    return grad @ self.W.T
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            W1 = np.zeros((2, 4))
            W2 = np.zeros((4, 1))
            h = sigmoid(X @ W1)
            out = sigmoid(h @ W2)
            """,
            at=(1, 6),
        ),
        Invalid(
            """
            class Network:
                def __init__(self, sizes):
                    self.weights = [np.zeros((m, n)) for n, m in zip(sizes[:-1], sizes[1:])]

                def feedforward(self, a):
                    for w in self.weights:
                        a = sigmoid(np.dot(w, a))
                    return a
            """,
            at=(3, 25),
        ),
        Invalid(
            """
            W1 = np.full((3, 4), 0.5)
            W2 = np.full((4, 1), 0.5)
            h = np.tanh(X @ W1)
            out = h @ W2
            """,
            at=(1, 6),
        ),
        Invalid(
            """
            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.ones((n_in, n_out)) * 0.1
                    self.b = np.zeros(n_out)

                def forward(self, x):
                    return x @ self.W + self.b

                def backward(self, grad):
                    return grad @ self.W.T
            """,
            at=(3, 18),
        ),
        Invalid(
            """
            def init(layer_dims):
                params = {}
                for l in range(1, len(layer_dims)):
                    params["W" + str(l)] = np.zeros((layer_dims[l], layer_dims[l - 1]))
                return params

            def forward(X, params, L):
                A = X
                for l in range(1, L):
                    A = relu(params["W" + str(l)] @ A)
                return A
            """,
            at=(4, 32),
        ),
        Invalid(
            """
            import torch

            W1 = torch.zeros(10, 20)
            W2 = torch.zeros(20, 1)
            h = torch.relu(x @ W1)
            out = h @ W2
            """,
            at=(3, 6),
        ),
        Invalid(
            """
            class MLP:
                def __init__(self):
                    self.W1 = np.zeros((4, 8))
                    self.W2 = np.zeros((8, 3))

                def forward(self, X):
                    self.h = np.tanh(X @ self.W1)
                    return self.h @ self.W2
            """,
            at=(3, 19),
        ),
        Invalid(
            """
            weights = [np.ones((5, 5)) for _ in range(3)]
            a = x
            for W in weights:
                a = sigmoid(W @ a)
            """,
            at=(1, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        self._layer_loop_inits: set[int] = set()
        const_inits = self._const_inits(model)
        if not const_inits:
            return
        for init in const_inits.values():
            if id(init) in self._layer_loop_inits:
                yield self._report(model, init)
        reported = set(self._layer_loop_inits)
        forward = [
            (use, site)
            for use, site in model.weight_uses()
            if not model.has(use.other, site.scope, Role.GRAD)
        ]
        for use, site in forward:
            init = const_inits.get(use.key)
            if init is None or id(init) in reported:
                continue
            if self._feeds_constant(model, use, site, forward, const_inits) or self._stacked_layer(
                model, use.key
            ):
                reported.add(id(init))
                yield self._report(model, init)

    @staticmethod
    def _report(model: ModuleModel, init: cst.CSTNode) -> Report:
        return Report(
            init,
            f"`{model.src(init)}` initialises a hidden layer's weights to a constant: every "
            f"hidden unit then computes and learns the same thing; initialise randomly",
        )

    def _const_inits(self, model: ModuleModel) -> dict[str, cst.CSTNode]:
        found: dict[str, cst.CSTNode] = {}
        for scope in model.c.scopes:
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.kind != "assign" or b.value is None:
                        continue
                    node = _const_call(model, b.value)
                    if node is None:
                        continue
                    key = model.key(b.target, scope)
                    if key is not None and not N.BIAS_NAME.match(N.last_part(key)):
                        if isinstance(b.value, cst.ListComp | cst.List):
                            key = f"{key}[]"
                        found.setdefault(key, node)
                        if b.loops and isinstance(b.target, cst.Subscript):
                            # params["W" + str(l)] = np.zeros(...) in a loop over the layers
                            if N.WEIGHT_NAME.match(N.last_part(key)):
                                self._layer_loop_inits.add(id(node))
        return found

    @staticmethod
    def _feeds_constant(model, use, site, forward, const_inits) -> bool:
        produced = _assigned_names(site.stmt)
        if not produced:
            return False
        scope = site.scope
        reach = _reachable(scope, produced)
        for other, osite in forward:
            if osite.scope is not scope or other.key not in const_inits:
                continue
            if names_in(other.other) & reach:
                return True
        return False

    @staticmethod
    def _stacked_layer(model: ModuleModel, key: str) -> bool:
        """A layer class whose backward returns the gradient for its input: made to be stacked."""
        if "." not in key:
            return False
        cls = key.split(".", 1)[0]
        for use, site in model.weight_uses():
            if (
                use.key == key
                and site.scope.cls == cls
                and model.has(use.other, site.scope, Role.GRAD)
            ):
                return True
        return False


def _const_call(model: ModuleModel, value: cst.BaseExpression) -> cst.CSTNode | None:
    """The constant-initialising call in ``np.zeros(...)``, ``np.ones(...) * 0.1``, lists of them."""
    if isinstance(value, cst.ListComp):
        return _const_call(model, value.elt)
    if isinstance(value, cst.List) and value.elements:
        inner = [_const_call(model, e.value) for e in value.elements]
        return inner[0] if all(inner) else None
    if isinstance(value, cst.BinaryOperation) and number_value(value.right) is not None:
        return _const_call(model, value.left)
    if isinstance(value, cst.Call) and model.qualname(value.func) in _CONST:
        args = positional_args(value)
        shape = args[0] if args else None
        if isinstance(shape, cst.Tuple) and len(shape.elements) < 2:
            return None
        if isinstance(shape, cst.Tuple) or (
            len(args) >= 2 and model.qualname(value.func).startswith("torch")
        ):
            return value
    return None


def _assigned_names(stmt: cst.CSTNode) -> set[str]:
    out: set[str] = set()
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                for t in small.targets:
                    out |= {n for n in names_in(t.target) if n != "self"}
                    if isinstance(t.target, cst.Attribute):
                        out.add(t.target.attr.value)
            elif isinstance(small, cst.Return):
                out.add("<return>")
    return out


def _reachable(scope, names: set[str]) -> set[str]:
    """Names whose values are computed (transitively) from ``names`` in this scope, through
    data flow only: parameter updates (``W1 -= lr * dW1``) are not followed."""
    reach = set(names)
    changed = True
    while changed:
        changed = False
        for key, bindings in scope.bindings.items():
            short = key.rsplit(".", 1)[-1]
            if short in reach:
                continue
            for b in bindings:
                if b.kind == "aug" or (
                    b.kind == "assign"
                    and isinstance(b.value, cst.BinaryOperation)
                    and short in names_in(b.value.left)
                ):
                    continue
                if b.value is not None and names_in(b.value) & reach:
                    reach.add(short)
                    changed = True
                    break
    return reach
