"""BP111 activation-backward-not-its-derivative."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.actgrad import activation_mismatches
from linter.analysis.treewalk import subtree
from linter.rule import Invalid, Report, Rule, Valid
from linter.rules.bp1_activations.activation_used_as_derivative import ActivationUsedAsDerivative
from linter.rules.bp1_activations.derivative_of_another_activation import (
    DerivativeOfAnotherActivation,
)
from linter.rules.bp1_activations.derivative_of_upstream_gradient import (
    DerivativeOfUpstreamGradient,
)
from linter.rules.bp1_activations.gradient_mask_is_constant import GradientMaskIsConstant
from linter.rules.bp1_activations.relu_derivative_is_relu import ReluDerivativeIsRelu
from linter.rules.bp1_activations.sigmoid_derivative_on_wrong_variable import (
    SigmoidDerivativeOnWrongVariable,
)
from linter.rules.bp1_activations.tanh_derivative_on_wrong_variable import (
    TanhDerivativeOnWrongVariable,
)

# the rules that name the defect more precisely: a backward they report on is theirs
_SPECIFIC: tuple[type[Rule], ...] = (
    SigmoidDerivativeOnWrongVariable,
    TanhDerivativeOnWrongVariable,
    ReluDerivativeIsRelu,
    DerivativeOfUpstreamGradient,
    DerivativeOfAnotherActivation,
    ActivationUsedAsDerivative,
    GradientMaskIsConstant,
)


def _num(v: float) -> str:
    text = f"{v:.3g}"
    return "0" if text == "-0" else text


class ActivationBackwardNotItsDerivative(Rule):
    """Flags an elementwise activation layer (a class with ``forward``/``backward``, or an
    ``X_forward``/``X_backward`` pair) whose backward does not return the upstream gradient
    times the derivative of the function its forward computes, differentiated here
    symbolically and compared at seeded inputs on both sides of zero."""

    code = "BP111"
    prefilter = (P.BASE, P.LAYER_BACKWARD)
    name = "activation-backward-not-its-derivative"
    kb = "activation-backward-not-its-derivative"
    summary = "An activation layer's backward is not g times the derivative of its forward."
    why = (
        "The layer below receives whatever the backward returns as its gradient. If that is "
        "not g·f′(x) for the f the forward applied — a ReLU mask that is always true because "
        "it tests the clipped output with ≥ 0, a mask taken from the gradient instead of the "
        "input, tanh′ written 1 − a instead of 1 − a², a leaky slope on the wrong side — "
        "every layer underneath is trained on a wrong gradient, while the loss still goes "
        "down for a while and nothing crashes."
    )
    instead = (
        "Return `g * f′(x)` of the forward's own f: for ReLU `g * (x > 0)` (or `out > 0`), "
        "for the sigmoid `g * out * (1 - out)`, for tanh `g * (1 - out ** 2)`, for a leaky "
        "ReLU `np.where(x > 0, g, alpha * g)`."
    )
    known_problems = (
        "Only layers the analysis can read fully are judged: one input, a formula of "
        "constants, arithmetic, powers, exp, log, tanh, the logistic function, comparisons, "
        "`np.where`, maximum/minimum/clip and the module's own helpers, followed through local "
        "names, `self.` attributes assigned once (a `None` placeholder in `__init__` aside), "
        "a hyper-parameter set in `__init__` and element assignments through a boolean mask. "
        "Reductions (softmax), indexing, branches, in-place calls, randomness (dropout) and "
        "unknown calls leave the layer alone, as do a piecewise-constant forward (its "
        "straight-through surrogate is a choice), a linear layer that scales its gradient, and "
        "a backward that is not of degree one in its gradient parameter (an activator that "
        "returns f′ for its caller to multiply). An attribute set by a base class in another "
        "file is read as the input or output only when a sibling layer confirms that reading."
    )
    valid = [
        Valid(
            """
            class ReLU:
                def forward(self, x):
                    self.x = x
                    return np.maximum(0, x)

                def backward(self, dout):
                    return dout * (self.x > 0)
            """
        ),
        Valid(
            """
            class ReLU:
                def __init__(self):
                    self.mask = None

                def forward(self, x):
                    self.mask = x <= 0
                    out = x.copy()
                    out[self.mask] = 0
                    return out

                def backward(self, dout):
                    dout[self.mask] = 0
                    dx = dout
                    return dx
            """,
            note="The mask stored by the forward, applied in place to the gradient.",
        ),
        Valid(
            """
            class ReLU:
                def forward(self, x):
                    self.x = x
                    return np.maximum(0, x)

                def backward(self, dout):
                    dx = dout
                    dout[self.x <= 0] = 0
                    return dx
            """,
            note="`dx` is the same array as `dout`: the masking reaches it.",
        ),
        Valid(
            """
            def relu_forward(x):
                out = np.clip(x, 0, None)
                return out, x

            def relu_backward(dout, cache):
                x = cache
                dx = dout.copy()
                dx[x <= 0] = 0
                return dx
            """
        ),
        Valid(
            """
            def relu(Z):
                A = np.maximum(0, Z)
                return A, Z

            def relu_backward(dA, cache):
                Z = cache
                dZ = np.array(dA, copy=True)
                dZ[Z <= 0] = 0
                return dZ
            """,
            note="A backward named after its forward, which returns `(A, cache)`.",
        ),
        Valid(
            """
            class Rectifier:
                def forward(self, z):
                    self.out = np.maximum(z, 0)
                    return self.out

                def backward(self, grad):
                    return np.where(self.out > 0, grad, 0.0)
            """
        ),
        Valid(
            """
            def sigmoid(z):
                return 1.0 / (1.0 + np.exp(-z))

            class Sigmoid:
                def forward(self, z):
                    self.out = sigmoid(z)
                    return self.out

                def backward(self, grad):
                    return grad * self.out * (1 - self.out)
            """
        ),
        Valid(
            """
            class Sigmoid:
                def __call__(self, z):
                    self.z = z
                    return self.forward(self.z)

                def forward(self, z):
                    return self._sigmoid(z)

                def backward(self, grad):
                    s = self._sigmoid(self.z)
                    return grad * s * (1 - s)

                def _sigmoid(self, z):
                    return 1.0 / (1.0 + np.exp(-z))
            """,
            note="`__call__` stores the input and hands it to `forward`: one layer.",
        ),
        Valid(
            """
            class Tanh:
                def forward(self, x):
                    self.y = np.tanh(x)
                    return self.y

                def backward(self, dy):
                    return dy * (1 - self.y ** 2)
            """
        ),
        Valid(
            """
            class LeakyReLU:
                def __init__(self, alpha=0.01):
                    self.alpha = alpha

                def forward(self, x):
                    self.x = x
                    return np.where(x > 0, x, self.alpha * x)

                def backward(self, g):
                    return np.where(self.x > 0, g, self.alpha * g)
            """
        ),
        Valid(
            """
            class Identity:
                def forward(self, x):
                    return x

                def backward(self, grad):
                    return grad
            """
        ),
        Valid(
            """
            class Scale:
                def __init__(self, factor):
                    self.factor = factor

                def forward(self, x):
                    return self.factor * x

                def backward(self, grad):
                    return grad * self.factor
            """
        ),
        Valid(
            """
            class BinaryActivation:
                def forward(self, x):
                    self.x = x
                    return np.where(x >= 0, 1.0, -1.0)

                def backward(self, grad):
                    return grad * (np.abs(self.x) <= 1)
            """,
            note="A step forward has a zero derivative: its straight-through surrogate is a "
            "choice, not judged.",
        ),
        Valid(
            """
            class SigmoidActivator:
                def forward(self, weighted_input):
                    return 1.0 / (1.0 + np.exp(-weighted_input))

                def backward(self, output):
                    return output * (1 - output)
            """,
            note="Returns the derivative at the output; the caller multiplies the gradient.",
        ),
    ]
    invalid = [
        Invalid(
            """
            class ReLU:
                def forward(self, x):
                    self.x = x
                    return np.maximum(0, x)

                def backward(self, grad):
                    return np.maximum(0, grad)
            """,
            at=(7, 16),
            note="The mask is taken from the gradient's sign, not from the input.",
        ),
        Invalid(
            """
            class Tanh:
                def forward(self, x):
                    self.out = np.tanh(x)
                    return self.out

                def backward(self, g):
                    return g * (1 - self.out)
            """,
            at=(7, 16),
        ),
        Invalid(
            """
            class Sigmoid:
                def forward(self, z):
                    self.a = 1 / (1 + np.exp(-z))
                    return self.a

                def backward(self, grad):
                    return grad * self.a
            """,
            at=(7, 16),
        ),
        Invalid(
            """
            class LeakyReLU:
                def __init__(self, slope=0.1):
                    self.slope = slope

                def forward(self, x):
                    self.x = x
                    return np.where(x > 0, x, self.slope * x)

                def backward(self, g):
                    return np.where(self.x > 0, self.slope * g, g)
            """,
            at=(10, 16),
            note="The slope belongs to the negative side.",
        ),
        Invalid(
            """
            class Tanh:
                def __init__(self):
                    self.params = []

                def forward(self, X):
                    self.X = X
                    return np.tanh(X)

                def backward(self, dout):
                    dX = dout * (1 - np.tanh(self.X))
                    return dX, []
            """,
            at=(11, 16),
            note="The layer returns its input's gradient with its (no) parameters' gradients.",
        ),
        Invalid(
            """
            def relu_forward(x):
                return np.maximum(x, 0), x

            def relu_backward(dout, cache):
                x = cache
                return dout * (x < 0)
            """,
            at=(6, 12),
            note="The mask is inverted.",
        ),
        Invalid(
            """
            class ELU:
                def __init__(self, alpha=1.0):
                    self.alpha = alpha

                def forward(self, x):
                    self.x = x
                    self.out = np.where(x > 0, x, self.alpha * (np.exp(x) - 1))
                    return self.out

                def backward(self, dout):
                    return np.where(self.x > 0, dout, dout * self.out)
            """,
            at=(11, 16),
            note="ELU′(x) for x < 0 is out + α, not out.",
        ),
        Invalid(
            """
            class Softplus:
                def forward(self, x):
                    self.x = x
                    return np.log(1 + np.exp(x))

                def backward(self, grad):
                    return grad / (1 + np.exp(self.x))
            """,
            at=(7, 16),
            note="Softplus′ is σ(x) = 1/(1 + e^(−x)); this is σ(−x).",
        ),
        Invalid(
            """
            class Operation:
                pass

            class Sigmoid(Operation):
                def _output(self):
                    return 1.0 / (1.0 + np.exp(-self.input_))

                def _input_grad(self, output_grad):
                    return self.output * (1.0 - self.output) * output_grad

            class ReLU(Operation):
                def _output(self):
                    return np.clip(self.input_, 0, None)

                def _input_grad(self, output_grad):
                    return output_grad * (self.output >= 0)
            """,
            at=(16, 16),
            note="The base class (elsewhere) stores input_ and output; the Sigmoid sibling "
            "confirms that reading.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        told: set[cst.CSTNode] | None = None
        for z in activation_mismatches(model):
            if told is None:
                told = {r.node for rule in _SPECIFIC for r in rule().query(model)}
            if told & (subtree(z.pair.backward.node) | subtree(z.pair.forward.node)):
                continue  # one finding per defect: the specific rule's
            forward = z.pair.forward
            got = model.src(z.node).strip()
            if z.linear:
                where = (
                    f"at x = {_num(z.x)} it scales the gradient by {_num(z.got)}, where "
                    f"f′(x) = {_num(z.want)}"
                )
            else:
                where = (
                    f"at x = {_num(z.x)} with g = {_num(z.g)} it returns {_num(z.got)}, where "
                    f"g·f′(x) = {_num(z.want)}"
                )
            yield Report(
                z.node,
                f"`{got}` is not the upstream gradient times the derivative of what "
                f"`{forward.name}` computes: {where}",
                evidence=((forward.returns[0], f"`{forward.name}` returns this function of x"),),
            )
