"""BP502 log-of-softmax."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.numerics import is_probability, logs
from linter.edits import log_softmax
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid


class LogOfSoftmax(Rule):
    """Flags the logarithm of a softmax output instead of a log-softmax."""

    code = "BP502"
    prefilter = (P.BASE, P.LOG, r"softmax|\bexp\b")
    name = "log-of-softmax"
    kb = "log-of-softmax"
    summary = "log of a softmax instead of log-softmax."
    why = (
        "log softmax(z)ₖ = zₖ − logsumexp(z). Forming the probabilities first underflows the "
        "small ones to 0, so the log gives −inf and the loss and its gradient become inf or "
        "nan; before that point the small probabilities have already lost their digits. The "
        "fused form stays finite."
    )
    instead = (
        "Use log-softmax: `z - logsumexp(z)`, `F.log_softmax(z, dim=1)`, or `F.cross_entropy`."
    )
    fix_safety = FixSafety.SAFE
    known_problems = "The fix is offered for the PyTorch spelling `torch.log(F.softmax(x, dim=d))`."
    valid = [
        Valid(
            """
            def loss(scores, y):
                shifted = scores - scores.max(axis=1, keepdims=True)
                log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
                return -log_probs[np.arange(len(y)), y].mean()
            """
        ),
        Valid(
            """
            import torch.nn.functional as F

            def loss(logits, y):
                return F.nll_loss(F.log_softmax(logits, dim=1), y)
            """
        ),
        Valid(
            """
            def bce(p, y):
                return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

            p = sigmoid(z)
            """,
            note="The log of a sigmoid output: another entry's business.",
        ),
        Valid(
            """
            from scipy.special import logsumexp

            def nll(z, k):
                return logsumexp(z) - z[k]
            """
        ),
        Valid("x = np.log(np.arange(1, 10))\n"),
        Valid(
            """
            import torch

            def entropy(logits):
                logp = torch.log_softmax(logits, dim=-1)
                return -(logp.exp() * logp).sum()
            """
        ),
        Valid(
            """
            def perplexity(losses):
                return np.exp(np.mean(np.log(losses)))
            """
        ),
        Valid(
            """
            def softmax(z):
                e = np.exp(z - z.max())
                return e / e.sum()

            def loss(z, y):
                return -(z[y] - z.max() - np.log(np.sum(np.exp(z - z.max()))))
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            import torch.nn.functional as F

            def loss(logits, y):
                return F.nll_loss(torch.log(F.softmax(logits, dim=1)), y)
            """,
            at=(5, 23),
            fixed="""
            import torch
            import torch.nn.functional as F

            def loss(logits, y):
                return F.nll_loss(F.log_softmax(logits, dim=1), y)
            """,
        ),
        Invalid(
            """
            def softmax(z):
                e = np.exp(z - z.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)

            def loss(scores, y):
                probs = softmax(scores)
                return -np.mean(np.log(probs[np.arange(len(y)), y]))
            """,
            at=(7, 21),
        ),
        Invalid(
            """
            def loss(scores, y):
                exp_scores = np.exp(scores - scores.max(axis=1, keepdims=True))
                probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
                correct_logprobs = -np.log(probs[range(len(y)), y])
                return np.sum(correct_logprobs) / len(y)
            """,
            at=(4, 25),
        ),
        Invalid(
            """
            import torch

            def nll(logits, target):
                p = torch.softmax(logits, dim=-1)
                return -torch.log(p.gather(1, target[:, None])).mean()
            """,
            at=(5, 13),
        ),
        Invalid(
            """
            from scipy.special import softmax

            def cross_entropy(z, y):
                return -np.log(softmax(z)[y])
            """,
            at=(4, 13),
        ),
        Invalid(
            """
            def log_softmax(v):
                v = v - np.max(v)
                return v - np.log(np.sum(np.exp(v)))

            def loss(ys, targets, t):
                ps = np.exp(log_softmax(ys[t]))
                return -np.log(ps[targets[t], 0])
            """,
            at=(7, 13),
        ),
        Invalid(
            """
            class Classifier:
                def forward(self, x):
                    self.probs = softmax(x @ self.W)
                    return self.probs

                def loss(self, y):
                    return -np.sum(y * np.log(self.probs))
            """,
            at=(7, 28),
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def kl(logits, target_probs):
                return (target_probs * (target_probs.log() - F.softmax(logits, dim=1).log())).sum()
            """,
            at=(4, 50),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, arg, site in logs(model):
            if not is_probability(model, arg, site.scope):
                continue
            yield Report(
                call,
                f"`{model.src(call)}` takes the log of a softmax output: small probabilities "
                f"underflow to 0 and the log to −inf; use log-softmax (z − logsumexp(z))",
                replacement=log_softmax(model, arg),
                fix_description="Use F.log_softmax",
            )
