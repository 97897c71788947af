"""BP106 activation-used-as-derivative."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.evidence import activation_evidence
from linter.analysis.reactivation import reactivated_gradient_factors
from linter.rule import Invalid, Report, Rule, Valid


class ActivationUsedAsDerivative(Rule):
    """Flags an activation applied to its own output as a factor of a gradient."""

    code = "BP106"
    prefilter = (P.BASE, r"sigm|tanh|logistic|expit|exp\(")
    name = "activation-used-as-derivative"
    kb = "activation-used-as-its-derivative"
    summary = "Activation applied again to its own output where its derivative belongs."
    why = (
        "The chain rule through a = σ(z) multiplies by σ′(z) = a(1 − a). Multiplying the "
        "gradient by σ(a), the activation of a value that already is the activation's output, "
        "is not a derivative at all: it is in (0.5, 0.74) for every unit, so every gradient "
        "below is wrong (a derivative switch left off gives the same mistake)."
    )
    instead = (
        "Multiply by the derivative written on the stored output: `a * (1 - a)` for a sigmoid, "
        "`1 - a**2` for tanh (or call the helper with its derivative switch on, if the helper "
        "computes the derivative from the output)."
    )
    known_problems = (
        "The value must be known to be that activation's output (assignments, lists, dict keys "
        "and call sites are followed) and the other factor must be a gradient."
    )
    valid = [
        Valid(
            """
            class Gate:
                def forward(self, x):
                    self.a = sigmoid(x @ self.W)
                    return self.a

                def backward(self, g):
                    return g * self.a * (1 - self.a)
            """
        ),
        Valid(
            """
            class Cell:
                def forward(self, x):
                    self.c = x @ self.W
                    self.o = sigmoid(x @ self.U)
                    return self.o * np.tanh(self.c)

                def backward(self, dh):
                    do = dh * np.tanh(self.c)
                    dc = dh * self.o * (1 - np.tanh(self.c) ** 2)
                    return do, dc
            """,
            note="tanh of the cell state is part of h = o·tanh(c): its derivative in o.",
        ),
        Valid(
            """
            class Layer:
                def forward(self, x):
                    self.z = x @ self.W
                    return np.tanh(self.z)

                def backward(self, g):
                    return g * (1 - np.tanh(self.z) ** 2)
            """
        ),
        Valid(
            """
            def predict(x, W1, W2):
                h = sigmoid(x @ W1)
                return sigmoid(sigmoid(h @ W2))
            """,
            note="A forward pass, no gradient.",
        ),
        Valid(
            """
            class Gate:
                def forward(self, x):
                    self.a = np.tanh(x @ self.W)
                    return self.a

                def backward(self, g):
                    return g * sigmoid(self.a)
            """,
            note="Another activation of the output: odd, but not this rule's mistake.",
        ),
        Valid(
            """
            def sigmoid(x, derivative=False):
                s = 1 / (1 + np.exp(-x))
                if derivative:
                    return s * (1 - s)
                return s

            class Gate:
                def forward(self, x):
                    self.z = x @ self.W
                    self.a = sigmoid(self.z)
                    return self.a

                def backward(self, g):
                    return g * sigmoid(self.z, derivative=True)
            """
        ),
        Valid(
            """
            class Gate:
                def forward(self, x):
                    self.a = sigmoid(x @ self.W)
                    return self.a

                def backward(self, g):
                    local = self.a * (1 - self.a)
                    return g * local
            """
        ),
        Valid(
            """
            class Gate:
                def forward(self, x):
                    self.a = sigmoid(x @ self.W)
                    return self.a

                def backward(self, g):
                    scale = sigmoid(self.bias)
                    return g * scale
            """,
            note="The sigmoid of something that is not a sigmoid output.",
        ),
    ]
    invalid = [
        Invalid(
            """
            class Gate:
                def forward(self, x):
                    self.a = sigmoid(x @ self.W)
                    return self.a

                def backward(self, g):
                    return g * sigmoid(self.a)
            """,
            at=(7, 20),
        ),
        Invalid(
            """
            class Gate:
                def forward(self, x):
                    self.a = np.tanh(x @ self.W)
                    return self.a

                def backward(self, g):
                    return np.tanh(self.a) * g
            """,
            at=(7, 16),
        ),
        Invalid(
            """
            class Net:
                def forward(self, x):
                    self.h = sigmoid(self.W1 @ x)
                    return self.W2 @ self.h

                def backward(self, dout):
                    dh = self.W2.T @ dout
                    return dh * sigmoid(self.h)
            """,
            at=(8, 21),
        ),
        Invalid(
            """
            class Gate:
                def forward(self, x):
                    self.a = 1 / (1 + np.exp(-(x @ self.W)))
                    return self.a

                def backward(self, g):
                    return g * (1 / (1 + np.exp(-self.a)))
            """,
            at=(7, 21),
        ),
        Invalid(
            """
            def sigmoid(x, derivative=False):
                s = 1 / (1 + np.exp(-x))
                if derivative:
                    return s * (1 - s)
                return s

            class Gate:
                def forward(self, x):
                    self.a = sigmoid(x @ self.W)
                    return self.a

                def backward(self, g):
                    return g * sigmoid(self.a)
            """,
            at=(13, 20),
        ),
        Invalid(
            """
            class Net:
                def forward(self, x):
                    self.h = np.tanh(x @ self.W1)
                    self.out = self.h @ self.W2
                    return self.out

                def backward(self, g):
                    dh = (g @ self.W2.T) * np.tanh(self.h)
                    return dh
            """,
            at=(8, 32),
        ),
        Invalid(
            """
            def train_step(x, y, W):
                a = sigmoid(x @ W)
                err = a - y
                grad = err * sigmoid(a)
                return x.T @ grad
            """,
            at=(4, 18),
        ),
        Invalid(
            """
            class Gate:
                def forward(self, x):
                    self.a = sigmoid(x @ self.W)
                    return self.a

                def backward(self, grad):
                    slope = sigmoid(self.a)
                    return slope * grad
            """,
            at=(7, 17),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, operand, kind, scope in reactivated_gradient_factors(model):
            yield Report(
                call,
                f"`{model.src(call)}` applies the {kind} to `{model.src(operand)}`, which already "
                f"is a {kind} output, and multiplies a gradient by it: the chain rule needs the "
                f"derivative here, a(1 − a) for a sigmoid, 1 − a² for tanh",
                evidence=tuple(activation_evidence(model, operand, scope)),
            )
