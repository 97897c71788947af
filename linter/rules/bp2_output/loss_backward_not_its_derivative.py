"""BP205 loss-backward-not-its-derivative."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.lossgrad import loss_mismatches
from linter.rule import Invalid, Report, Rule, Valid


class LossBackwardNotItsDerivative(Rule):
    """Flags a loss whose backward (``backward``, ``gradient``, ``grad``, ``derivative`` ...)
    returns something that is not the derivative of the formula its forward (``forward``,
    ``loss``, ``__call__`` ...) computes, differentiated here symbolically."""

    code = "BP205"
    prefilter = (P.BASE, P.LOSS_BACKWARD)
    name = "loss-backward-not-its-derivative"
    kb = "loss-backward-not-its-derivative"
    summary = "A loss's backward returns the derivative of a different loss than its forward."
    why = (
        "Training follows the backward's gradient, while the forward's value is what gets "
        "reported. The mean squared error's derivative is p − y, the cross-entropy's −y/p, the "
        "binary cross-entropy's (p − y)/(p(1 − p)); using one loss's formula with another's "
        "forward changes the gradient by a factor that depends on p and y, so the network "
        "optimises a different objective than the one printed (or climbs it, when the sign "
        "is flipped)."
    )
    instead = (
        "Return the derivative of the forward's formula with respect to its prediction "
        "argument; return p − y only as the gradient in the logits of a softmax with "
        "cross-entropy or of a sigmoid with binary cross-entropy."
    )
    known_problems = (
        "Only formulas the analysis can read are judged: the prediction and target, constants, "
        "arithmetic, powers, log, exp, sums and means, a softmax or sigmoid of the input, "
        "followed through local names, `self.` attributes assigned once and argument-free "
        "`self.` helpers; indexing, branches and unknown calls leave the pair alone. Constant "
        "factors (a missing 1/m or 2) are not reported; a backward that is the derivative times "
        "an output activation's derivative (p(1 − p), 1 − p²) is accepted as the gradient in "
        "that activation's input. A symmetric loss (the squared error) may be differentiated "
        "in either argument, so its sign is not judged."
    )
    valid = [
        Valid(
            """
            class MSE:
                def forward(self, p, y):
                    return np.mean(0.5 * (p - y) ** 2)

                def backward(self, p, y):
                    return (p - y) / p.size
            """
        ),
        Valid(
            """
            class BinaryCrossEntropy:
                def loss(self, y, p):
                    p = np.clip(p, 1e-15, 1 - 1e-15)
                    return -y * np.log(p) - (1 - y) * np.log(1 - p)

                def gradient(self, y, p):
                    p = np.clip(p, 1e-15, 1 - 1e-15)
                    return -(y / p) + (1 - y) / (1 - p)
            """
        ),
        Valid(
            """
            class LogLoss:
                def forward(self, a, y):
                    return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))

                def delta(self, a, y):
                    return a - y
            """,
            note="a − y is the gradient in z of a sigmoid output a: σ′ = a(1 − a) cancels.",
        ),
        Valid(
            """
            class CrossEntropy:
                def __call__(self, probs, onehot):
                    return -np.sum(onehot * np.log(probs + 1e-12)) / len(probs)

                def grad(self, probs, onehot):
                    return (probs - onehot) / len(probs)
            """,
            note="p − y is the cross-entropy's gradient in the logits of the softmax before it.",
        ),
        Valid(
            """
            class SoftmaxWithLoss:
                def forward(self, x, t):
                    self.t = t
                    e = np.exp(x)
                    self.p = e / np.sum(e, axis=1, keepdims=True)
                    return -np.sum(t * np.log(self.p)) / x.shape[0]

                def backward(self, dout=1):
                    return dout * (self.p - self.t) / self.t.shape[0]
            """
        ),
        Valid(
            """
            class SquaredError:
                def loss(self, target, output):
                    return np.sum((target - output) ** 2)

                def derivative(self, target, output):
                    return output - target
            """,
            note="A missing factor 2 is a step size, not a different loss: not reported.",
        ),
        Valid(
            """
            class HalfSquare:
                def loss(self, y, y_hat):
                    return 0.5 * np.power(y - y_hat, 2)

                def gradient(self, y, y_hat):
                    return -(y - y_hat)
            """,
            note="Differentiated in y_hat, the second argument: the sign is right.",
        ),
        Valid(
            """
            def mse_forward(pred, target):
                return np.mean(np.square(pred - target))

            def mse_backward(pred, target):
                return 2 * (pred - target) / pred.size
            """
        ),
        Valid(
            """
            class Focal:
                def forward(self, p, y):
                    return focal_term(p, y)

                def backward(self, p, y):
                    return p - y
            """,
            note="The forward's formula is not visible: not judged.",
        ),
    ]
    invalid = [
        Invalid(
            """
            class MSE:
                def forward(self, p, y):
                    return np.mean(0.5 * (p - y) ** 2)

                def backward(self, p, y):
                    return (p - y) / (p * (1 - p))
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            class CrossEntropy:
                def forward(self, p, y):
                    self.p = p
                    self.y = y
                    return -np.sum(y * np.log(p + 1e-9)) / len(p)

                def backward(self):
                    return 2 * (self.p - self.y) / len(self.p)
            """,
            at=(8, 16),
            note="The squared error's derivative with a cross-entropy forward.",
        ),
        Invalid(
            """
            class NLL:
                def loss(self, probs, labels):
                    return -np.sum(labels * np.log(probs))

                def gradient(self, probs, labels):
                    return labels / probs
            """,
            at=(6, 16),
            note="−y/p with its sign flipped.",
        ),
        Invalid(
            """
            class SoftmaxBCE:
                def forward(self, logits, t):
                    self.t = t
                    e = np.exp(logits)
                    self.p = e / e.sum(axis=1, keepdims=True)
                    terms = t * np.log(self.p) + (1 - t) * np.log(1 - self.p)
                    return -np.sum(terms) / logits.shape[0]

                def backward(self):
                    return (self.p - self.t) / self.t.shape[0]
            """,
            at=(10, 16),
            note="p − y after a softmax is the gradient of −Σ y log p only.",
        ),
        Invalid(
            """
            class BCE:
                def forward(self, p, y):
                    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

                def backward(self, p, y):
                    return -y / p
            """,
            at=(6, 16),
            note="The (1 − y) log(1 − p) half of the loss is left out of its gradient.",
        ),
        Invalid(
            """
            def cross_entropy_forward(p, y):
                return -np.sum(y * np.log(p))

            def cross_entropy_backward(p, y):
                return (p - y) / (p * (1 - p))
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            class SigmoidCE:
                def forward(self, z, y):
                    self.y = y
                    self.a = 1 / (1 + np.exp(-z))
                    return -np.sum(y * np.log(self.a) + (1 - y) * np.log(1 - self.a))

                def backward(self):
                    return (self.a - self.y) * self.a * (1 - self.a)
            """,
            at=(8, 16),
            note="σ′ applied twice: a − y already is the gradient in z.",
        ),
        Invalid(
            """
            class SquaredLoss:
                def loss(self, y, y_pred):
                    return 0.5 * np.square(y - y_pred)

                def grad(self, y, y_pred):
                    return y_pred * (y_pred - y)
            """,
            at=(6, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for z in loss_mismatches(model):
            forward = z.pair.forward
            what = (
                f"the {z.loss} computed by `{forward.name}`"
                if z.loss
                else (f"what `{forward.name}` computes")
            )
            got = model.src(z.node).strip()
            if z.sign:
                message = (
                    f"`{got}` is the derivative of {what} with its sign flipped: gradient "
                    "descent on it climbs the loss"
                )
            else:
                message = f"`{got}` is not the derivative of {what}"
                if z.expected:
                    message += f" (that is {z.expected})"
            yield Report(
                z.node,
                message,
                evidence=((forward.returns[0], f"`{forward.name}` returns this loss"),),
            )
