"""BP204 softmax-derivative-times-p-minus-y."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.derivatives import softmax_counted_twice
from linter.analysis.evidence import activation_evidence, gradient_evidence
from linter.rule import Invalid, Report, Rule, Valid


class SoftmaxDerivativeTimesPMinusY(Rule):
    """Flags a softmax derivative multiplied into the softmax–cross-entropy gradient p − y."""

    code = "BP204"
    prefilter = (P.BASE, f"{P.DERIVATIVE}|softmax|jacobian")
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
        for node, value, scope in softmax_counted_twice(model):
            yield Report(
                node,
                f"`{model.src(node).strip()}` multiplies the softmax derivative into p − y, which "
                f"already is the gradient with respect to the logits: the softmax is "
                f"differentiated twice; use p − y alone",
                evidence=(
                    *activation_evidence(model, value, scope),
                    *gradient_evidence(model, value, scope),
                ),
            )
