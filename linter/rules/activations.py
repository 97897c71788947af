"""BP1xx: activation derivatives — evaluated at the wrong variable, or not a derivative at all."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis.forms import DERIVATIVES, Form, Kind
from linter.rule import Invalid, Report, Rule, Valid


def derivative_sites(model: ModuleModel) -> Iterator[tuple[cst.CSTNode, Form, object]]:
    """Every call or expression that computes an activation derivative, outside helper bodies.

    Inside a derivative helper (``def sigmoid_prime(z): ...``) that the module calls, the formula
    is applied to the helper's own parameter; it is judged at the helper's call sites instead.
    """
    for site, node in _candidate_nodes(model):
        form = model.forms.form(node, site.scope)
        if form is None and isinstance(node, cst.BinaryOperation):
            form = model.forms.derivative_in_product(node, site.scope)
        if form is None or form.kind not in DERIVATIVES:
            continue
        scope = site.scope
        if (
            isinstance(form.operand, cst.Name)
            and form.operand.value in scope.params
            and model.forms.helper_kind(scope) in DERIVATIVES
            and model.callers(scope)
        ):
            continue
        yield node, form, scope


def _candidate_nodes(model: ModuleModel):
    """Calls and arithmetic; a bare comparison (``z > 0``) only as a factor of a product, where
    it is a ReLU mask and not, say, a perceptron's threshold."""
    for site in (*model.c.calls, *model.c.binops):
        yield site, site.node
        node = site.node
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
            for side in (node.left, node.right):
                if isinstance(side, cst.Comparison):
                    yield site, side


def _what(form: Form, model: ModuleModel) -> str:
    return model.src(form.operand)


class SigmoidDerivativeOnWrongVariable(Rule):
    """σ′ evaluated at the activation where it wants z, or ``x * (1 - x)`` evaluated at z."""

    code = "BP101"
    name = "sigmoid-derivative-on-wrong-variable"
    kb = "activation-derivative-on-wrong-variable"
    summary = "Sigmoid derivative evaluated at the wrong variable (σ′(a) for σ′(z), or z(1 − z))."
    why = (
        "σ′(z) = σ(z)(1 − σ(z)) = a(1 − a). A helper that recomputes σ from its argument must get "
        "the pre-activation z; one written as `x * (1 - x)` must get the activation a. Mixing them "
        "computes σ(a)(1 − σ(a)) or z(1 − z): the code runs, the sign is preserved, and training "
        "'sort of works' with a wrong gradient."
    )
    instead = (
        "Pass z to a helper that applies σ itself, or write `a * (1 - a)` with the activation."
    )
    known_problems = (
        "The helper's convention is read from its body (or a library function); the argument's "
        "role comes from data flow (a value produced by the sigmoid is an activation, `W @ a + b` "
        "and what is stored alongside it in `zs` is a pre-activation). Helpers from other modules "
        "whose body is not visible are not judged."
    )
    valid = [
        Valid(
            """
            def sigmoid(z):
                return 1.0 / (1.0 + np.exp(-z))

            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backprop(self, x, y):
                z = np.dot(self.W, x) + self.b
                a = sigmoid(z)
                delta = (a - y) * sigmoid_prime(z)
                return delta
            """,
            note="The helper recomputes σ and gets z.",
        ),
        Valid(
            """
            def sigmoid(x):
                return 1 / (1 + np.exp(-x))

            def sigmoid_derivative(x):
                return x * (1 - x)

            def train(X, y, W):
                output = sigmoid(np.dot(X, W))
                error = y - output
                return error * sigmoid_derivative(output)
            """,
            note="The helper takes the activation, and gets it.",
        ),
        Valid(
            """
            def backward(self, a, grad):
                return grad * a * (1 - a)
            """,
        ),
        Valid(
            """
            def layer_backward(dA, cache):
                Z, A = cache
                s = 1 / (1 + np.exp(-Z))
                return dA * s * (1 - s)
            """,
        ),
        Valid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def backprop(self, x, y):
                zs = []
                for w, b in zip(self.weights, self.biases):
                    z = np.dot(w, x) + b
                    zs.append(z)
                    x = sigmoid(z)
                sp = sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
                return (x - y) * sp
            """,
        ),
        Valid(
            """
            from scipy.special import expit

            def grad(z, upstream):
                s = expit(z)
                return upstream * s * (1 - s)
            """,
        ),
        Valid(
            """
            def sigmoid_prime(a):
                return a * (1 - a)

            def backprop(self, X, y):
                self.h = sigmoid(self.W1 @ X)
                out = sigmoid(self.W2 @ self.h)
                d_out = (out - y) * sigmoid_prime(out)
                return (self.W2.T @ d_out) * sigmoid_prime(self.h)
            """,
            note="`sigmoid_prime(a)` whose helper takes a: correct.",
        ),
        Valid(
            """
            def p(x):
                return x * (1 - x)

            values = p(np.linspace(0, 1, 5))
            """,
            note="A polynomial on data that is neither an activation nor a pre-activation.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def sigmoid(z):
                return 1.0 / (1.0 + np.exp(-z))

            def sigmoid_prime(z):
                return sigmoid(z) * (1 - sigmoid(z))

            def backprop(self, x, y):
                z = np.dot(self.W, x) + self.b
                a = sigmoid(z)
                delta = (a - y) * sigmoid_prime(a)
                return delta
            """,
            at=(10, 23),
        ),
        Invalid(
            """
            def sigmoid(x):
                return 1 / (1 + np.exp(-x))

            def sigmoid_derivative(x):
                return x * (1 - x)

            def train(X, y, W):
                z = np.dot(X, W)
                output = sigmoid(z)
                return (y - output) * sigmoid_derivative(z)
            """,
            at=(10, 27),
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def backprop(self, x, y):
                zs, activations = [], [x]
                for w, b in zip(self.weights, self.biases):
                    z = np.dot(w, x) + b
                    zs.append(z)
                    x = sigmoid(z)
                    activations.append(x)
                sp = zs[-1] * (1 - zs[-1])
                return (activations[-1] - y) * sp
            """,
            at=(11, 10),
        ),
        Invalid(
            """
            from scipy.special import expit

            def backward(self, X, y):
                hidden = expit(self.W1 @ X)
                out = expit(self.W2 @ hidden)
                d_out = (out - y) * expit(out) * (1 - expit(out))
                return d_out
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            import numpy as np

            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def sigmoid_grad(z):
                s = sigmoid(z)
                return s * (1 - s)

            def backward(W2, a1, a2, y):
                delta2 = (a2 - y) * sigmoid_grad(a2)
                return W2.T @ delta2 * sigmoid_grad(a1)

            a1 = sigmoid(W1 @ x + b1)
            a2 = sigmoid(W2 @ a1 + b2)
            backward(W2, a1, a2, y)
            """,
            at=[(11, 25), (12, 28)],
            note="The parameters take their roles from the call site's arguments.",
        ),
        Invalid(
            """
            import torch

            def backward(ctx, grad_output):
                out, = ctx.saved_tensors
                return grad_output * torch.sigmoid(out) * (1 - torch.sigmoid(out))

            def forward(ctx, z):
                out = torch.sigmoid(z)
                ctx.save_for_backward(out)
                return out
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            class Net:
                def forward(self, x):
                    self.z1 = self.W1 @ x + self.b1
                    self.a1 = sigmoid(self.z1)
                    return self.a1

                def backward(self, grad):
                    return grad * self.z1 * (1 - self.z1)
            """,
            at=(11, 16),
        ),
        Invalid(
            """
            def sigmoid(x, derivative=False):
                return 1 / (1 + np.exp(-x))

            def dsigmoid(y):
                return y * (1.0 - y)

            def train(self, inputs, targets):
                net = np.dot(self.wi, inputs)
                hidden = sigmoid(net)
                errors = targets - hidden
                return errors * dsigmoid(net)
            """,
            at=(11, 21),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for node, form, scope in derivative_sites(model):
            roles = model.roles(form.operand, scope)
            if form.kind is Kind.SIGMOID_PRIME_OF_Z:
                if Role.ACT in roles and Role.PREACT not in roles and Role.PROB not in roles:
                    if model.activation_kind(form.operand, scope) is Kind.SIGMOID:
                        yield Report(
                            node,
                            f"`{model.src(node)}` evaluates σ′ at the activation "
                            f"`{_what(form, model)}`, but it applies σ to its argument (it wants "
                            f"z): this is σ(a)(1 − σ(a)); pass z, or use `a * (1 - a)`",
                        )
            elif form.kind is Kind.OUTPUT_POLY:
                if Role.PREACT in roles and Role.ACT not in roles:
                    yield Report(
                        node,
                        f"`{model.src(node)}` computes x(1 − x) at the pre-activation "
                        f"`{_what(form, model)}`; σ′(z) = a(1 − a) needs the activation a = σ(z)",
                    )


class TanhDerivativeOnWrongVariable(Rule):
    """tanh′ written ``1 - x**2`` evaluated at z, or ``1 - tanh(x)**2`` evaluated at the activation."""

    code = "BP102"
    name = "tanh-derivative-on-wrong-variable"
    kb = "tanh-derivative-on-wrong-variable"
    summary = "tanh derivative evaluated at the wrong variable (1 − z², or 1 − tanh(a)²)."
    why = (
        "tanh′(z) = 1 − tanh²(z) = 1 − a². `1 - x**2` needs the activation a = tanh(z); "
        "`1 - np.tanh(x)**2` needs z. Feeding z to the first or a to the second gives a wrong "
        "gradient without any error."
    )
    instead = "Use `1 - a**2` with the activation, or `1 - np.tanh(z)**2` with the pre-activation."
    valid = [
        Valid(
            """
            def backward(self, dh):
                return dh * (1 - self.h ** 2)

            def forward(self, x):
                self.h = np.tanh(self.W @ x + self.b)
                return self.h
            """,
        ),
        Valid(
            """
            def layer(X, W, b):
                Z = X @ W + b
                return Z, np.tanh(Z)

            def layer_backward(dA, Z):
                return dA * (1 - np.tanh(Z) ** 2)
            """,
        ),
        Valid(
            """
            def tanh_prime(x):
                return 1.0 - np.tanh(x) ** 2

            def backprop(self, x, y):
                z = self.W @ x
                a = np.tanh(z)
                return (a - y) * tanh_prime(z)
            """,
        ),
        Valid(
            """
            def dtanh(y):
                return 1 - y * y

            def step(self, x, target):
                h = np.tanh(np.dot(self.Wxh, x))
                dh = np.dot(self.Why.T, target - h)
                return dh * dtanh(h)
            """,
        ),
        Valid(
            """
            hs = np.tanh(np.dot(Wxh, x) + np.dot(Whh, hprev) + bh)
            dhraw = (1 - hs * hs) * dh
            """,
        ),
        Valid(
            """
            def f(r):
                return 1 - r ** 2

            area = f(np.linspace(0, 1, 10))
            """,
        ),
        Valid(
            """
            import torch

            def backward(ctx, grad_out):
                y, = ctx.saved_tensors
                return grad_out * (1 - y.pow(2))

            def forward(ctx, x):
                y = torch.tanh(x)
                ctx.save_for_backward(y)
                return y
            """,
        ),
        Valid(
            """
            def grad_tanh(z, upstream):
                t = np.tanh(z)
                return upstream * (1 - t ** 2)
            """,
        ),
    ]
    invalid = [
        Invalid(
            """
            def layer(X, W, b):
                Z = X @ W + b
                return Z, np.tanh(Z)

            def layer_backward(dA, Z):
                return dA * (1 - Z ** 2)

            Z1, A1 = layer(X, W1, b1)
            dZ1 = layer_backward(dA1, Z1)
            """,
            at=(6, 18),
        ),
        Invalid(
            """
            class Layer:
                def backward(self, dh):
                    return dh * (1 - np.tanh(self.h) ** 2)

                def forward(self, x):
                    self.h = np.tanh(self.W @ x + self.b)
                    return self.h
            """,
            at=(3, 22),
        ),
        Invalid(
            """
            def tanh_prime(x):
                return 1.0 - np.tanh(x) ** 2

            def backprop(self, x, y):
                z = self.W @ x
                a = np.tanh(z)
                return (a - y) * tanh_prime(a)
            """,
            at=(7, 22),
        ),
        Invalid(
            """
            def dtanh(y):
                return 1 - y * y

            def step(self, x, target):
                z = np.dot(self.Wxh, x)
                h = np.tanh(z)
                dh = np.dot(self.Why.T, target - h)
                return dh * dtanh(z)
            """,
            at=(8, 17),
        ),
        Invalid(
            """
            z1 = X @ W1 + b1
            a1 = np.tanh(z1)
            out = a1 @ W2 + b2
            d_out = out - y
            d_a1 = d_out @ W2.T
            d_z1 = d_a1 * (1 - np.square(z1))
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch

            def backward(ctx, grad_out):
                y, = ctx.saved_tensors
                return grad_out * (1 - torch.tanh(y) ** 2)

            def forward(ctx, x):
                y = torch.tanh(x)
                ctx.save_for_backward(y)
                return y
            """,
            at=(5, 24),
        ),
        Invalid(
            """
            class Tanh:
                def forward(self, x):
                    self.x = x
                    self.out = np.tanh(x)
                    return self.out

                def backward(self, grad):
                    return grad * (1 - np.tanh(self.out) ** 2)
            """,
            at=(8, 24),
        ),
        Invalid(
            """
            def tanh_deriv(x):
                return 1 - np.power(x, 2)

            def backprop(W, x, y):
                net = W @ x
                out = np.tanh(net)
                return (out - y) * tanh_deriv(net)
            """,
            at=(7, 24),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for node, form, scope in derivative_sites(model):
            roles = model.roles(form.operand, scope)
            if form.kind is Kind.TANH_PRIME_OF_Z:
                if Role.ACT in roles and Role.PREACT not in roles:
                    if model.activation_kind(form.operand, scope) is Kind.TANH:
                        yield Report(
                            node,
                            f"`{model.src(node)}` applies tanh again to the activation "
                            f"`{_what(form, model)}`; tanh′(z) = 1 − a²: use `1 - a**2`, or "
                            f"`1 - np.tanh(z)**2` with the pre-activation",
                        )
            elif form.kind is Kind.ONE_MINUS_SQUARE:
                if Role.PREACT in roles and Role.ACT not in roles:
                    yield Report(
                        node,
                        f"`{model.src(node)}` computes 1 − x² at the pre-activation "
                        f"`{_what(form, model)}`; tanh′(z) = 1 − tanh(z)² = 1 − a² needs the "
                        f"activation",
                    )


class ReluDerivativeIsRelu(Rule):
    """A ReLU "derivative" that is ReLU itself (``max(0, z)``) multiplying a gradient."""

    code = "BP103"
    name = "relu-derivative-is-relu"
    kb = "relu-derivative-written-as-relu"
    summary = "ReLU derivative written as max(0, z) instead of the step 1[z > 0]."
    why = (
        "ReLU′(z) is the step function 1[z > 0], not ReLU itself. Multiplying the upstream "
        "gradient by max(0, z) scales it by z on the active side, which looks like exploding "
        "gradients on large inputs and silently biases every update."
    )
    instead = "Multiply by the mask: `dZ = dA * (Z > 0)` (or set `dZ[Z <= 0] = 0`)."
    valid = [
        Valid("def relu_backward(dout, x):\n    return dout * (x > 0)\n"),
        Valid(
            """
            def relu_backward(dout, cache):
                dx = dout.copy()
                dx[cache <= 0] = 0
                return dx
            """
        ),
        Valid(
            """
            def relu(x):
                return np.maximum(0, x)

            def forward(self, x):
                self.h = relu(self.W1 @ x)
                return self.W2 @ self.h
            """,
        ),
        Valid(
            """
            def relu_prime(z):
                return (z > 0).astype(float)

            def backward(self, delta, z):
                return delta * relu_prime(z)
            """
        ),
        Valid(
            """
            def backward(self, grad_output):
                return grad_output * np.where(self.z > 0, 1.0, 0.0)
            """
        ),
        Valid(
            """
            h = np.maximum(0, X @ W1 + b1)
            scores = h @ W2 + b2
            dhidden = dscores @ W2.T
            dhidden[h <= 0] = 0
            """,
        ),
        Valid(
            """
            def leaky(x):
                return np.maximum(0.01 * x, x)
            """,
        ),
        Valid(
            """
            def clip_update(grad, w):
                return np.maximum(0, w - 0.1 * grad)
            """,
            note="A projected step (clip to non-negative) is not a derivative.",
        ),
    ]
    invalid = [
        Invalid("def relu_backward(dout, x):\n    return dout * np.maximum(0, x)\n", at=(2, 12)),
        Invalid(
            """
            def relu(x):
                return np.maximum(0, x)

            def relu_derivative(x):
                return np.maximum(0, x)

            def backward(self, delta, z):
                return delta * relu_derivative(z)
            """,
            at=(8, 12),
        ),
        Invalid(
            """
            def relu_prime(z):
                return z * (z > 0)

            def backprop(self, delta, zs):
                return np.dot(self.W.T, delta) * relu_prime(zs[-2])
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def backward(self, grad_output):
                return grad_output * np.where(self.z > 0, self.z, 0)
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            import torch

            def backward(ctx, grad_output):
                x, = ctx.saved_tensors
                return grad_output * torch.relu(x)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            Z1 = X @ W1 + b1
            A1 = np.maximum(Z1, 0)
            dZ2 = A2 - Y
            dA1 = dZ2 @ W2.T
            dZ1 = dA1 * np.maximum(Z1, 0)
            """,
            at=(5, 7),
        ),
        Invalid(
            """
            def relu_grad(x):
                return np.maximum(x, 0)

            def layer_backward(dA, cache):
                Z = cache
                return relu_grad(Z) * dA
            """,
            at=(6, 12),
        ),
        Invalid(
            """
            class ReLU:
                def backward(self, dout):
                    dx = dout * np.clip(self.x, 0, None)
                    return dx
            """,
            at=(3, 14),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in model.c.binops:
            node = site.node
            assert isinstance(node, cst.BinaryOperation)
            if not isinstance(node.operator, cst.Multiply):
                continue
            for grad, other in ((node.left, node.right), (node.right, node.left)):
                if not model.has(grad, site.scope, Role.GRAD):
                    continue
                form = model.forms.form(other, site.scope)
                if form is None or form.kind is not Kind.RELU:
                    continue
                if Role.GRAD in model.roles(form.operand, site.scope):
                    continue
                yield Report(
                    node,
                    f"`{model.src(other)}` is ReLU itself, not its derivative: ReLU′(z) = "
                    f"1[z > 0]; multiply by the mask `({model.src(form.operand)} > 0)` instead",
                )
                break


class DerivativeOfUpstreamGradient(Rule):
    """An activation derivative evaluated at the upstream gradient instead of z or a."""

    code = "BP104"
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
        for node, form, scope in derivative_sites(model):
            roles = model.roles(form.operand, scope)
            if Role.GRAD in roles and not roles & {Role.ACT, Role.PREACT, Role.PROB}:
                yield Report(
                    node,
                    f"`{model.src(node)}` evaluates the activation derivative at the gradient "
                    f"`{model.src(form.operand)}`; evaluate it at the forward value (z, or a "
                    f"for the a(1 − a) form) and multiply the gradient by it",
                )
