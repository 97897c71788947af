"""CrossEntropyLoss on softmax outputs has a loss floor of ln(K-1+e)-1 and a different gradient."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng, softmax
from kb.schema import CheckResult, above, below

if TYPE_CHECKING:
    from matplotlib.figure import Figure

K = 10


def cross_entropy_loss(inputs: np.ndarray, targets: np.ndarray) -> float:
    """What nn.CrossEntropyLoss computes: log-softmax of its input, then mean NLL (rows = batch)."""
    m = inputs.max(axis=1)
    logsumexp = m + np.log(np.exp(inputs - m[:, None]).sum(axis=1))
    return float((logsumexp - inputs[np.arange(len(targets)), targets]).mean())


def softmax_rows(z: np.ndarray) -> np.ndarray:
    return softmax(z, axis=1)


def double_softmax_grad(z: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Exact gradient of CrossEntropyLoss(softmax(z)) w.r.t. z: J_softmax(z)^T (softmax(p) - y) / N."""
    p = softmax_rows(z)
    q = softmax_rows(p)
    g = (q - np.eye(z.shape[1])[targets]) / len(targets)
    return p * (g - (g * p).sum(axis=1, keepdims=True))


def confident_logits(margin: float, target: int = 3) -> np.ndarray:
    z = np.zeros((1, K))
    z[0, target] = margin
    return z


def check() -> CheckResult:
    target = np.array([3])
    z = confident_logits(50.0)
    single = cross_entropy_loss(z, target)
    double = cross_entropy_loss(softmax_rows(z), target)
    floor = np.log(K - 1 + np.e) - 1.0

    r = rng(13)
    logits = r.normal(scale=2.0, size=(7, K))
    labels = r.integers(0, K, size=7)
    right = (softmax_rows(logits) - np.eye(K)[labels]) / len(labels)
    right_err = rel_err(right, numerical_grad(lambda: cross_entropy_loss(logits, labels), logits))

    def double_loss() -> float:
        return cross_entropy_loss(softmax_rows(logits), labels)

    double_grad = double_softmax_grad(logits, labels)
    double_is_exact = rel_err(double_grad, numerical_grad(double_loss, logits))
    double_vs_right = rel_err(double_grad, right)

    return CheckResult(
        claim=(
            "CrossEntropyLoss applies log-softmax itself: fed logits, its loss reaches 0 and its "
            "gradient is (p - y)/m; fed softmax outputs, it optimises a different function whose "
            "loss cannot go below ln(K - 1 + e) - 1 and whose gradient is not (p - y)/m."
        ),
        measurements=[
            below("logits in, confident prediction (K = 10): loss", single, 1e-12),
            below("logits in: rel. error of dL/dz = (p - y)/m", right_err, RIGHT),
            above("softmax in, same prediction: loss", double, 1.0),
            below("softmax in: |loss - (ln(K - 1 + e) - 1)|", abs(double - floor), 1e-12),
            below("softmax in: rel. error of its own exact gradient", double_is_exact, RIGHT),
            above(
                "softmax in: rel. gap between its gradient and (p - y)/m", double_vs_right, WRONG
            ),
        ],
    )


# What the figure shows, for the page: its alt text and its caption.
FIGURE_ALT = (
    "Loss against the logit margin of the correct class (0 to 20, K = 10 classes) for "
    "CrossEntropyLoss on logits, which falls to 0, and on softmax outputs, which levels off at "
    "ln(K - 1 + e) - 1."
)
FIGURE_CAPTION = (
    "CrossEntropyLoss on softmax outputs (dashed) cannot go below ln(K − 1 + e) − 1 however "
    "confident the model is; on logits (solid) it goes to 0."
)


def figure() -> Figure:
    from matplotlib.figure import Figure

    margins = np.linspace(0.0, 20.0, 81)
    target = np.array([3])
    single = [cross_entropy_loss(confident_logits(m), target) for m in margins]
    double = [cross_entropy_loss(softmax_rows(confident_logits(m)), target) for m in margins]
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    ax.plot(margins, single, label="CrossEntropyLoss(logits)")
    ax.plot(margins, double, "--", label="CrossEntropyLoss(softmax(logits))")
    ax.axhline(np.log(K - 1 + np.e) - 1.0, color="gray", lw=0.8, ls=":")
    ax.text(20.0, np.log(K - 1 + np.e) - 1.0 + 0.05, "ln(K - 1 + e) - 1", ha="right", fontsize=8)
    ax.set_xlabel("logit margin of the correct class (K = 10)")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
