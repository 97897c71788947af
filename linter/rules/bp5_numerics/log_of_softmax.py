"""BP502 log-of-softmax."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.evidence import coupled_evidence
from linter.analysis.numerics import differentiated, is_probability, logs
from linter.edits import log_softmax
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid


class LogOfSoftmax(Rule):
    """Flags the logarithm of a softmax output instead of a log-softmax."""

    code = "BP502"
    prefilter = (P.BASE, P.LOG, r"[Ss]oftmax|\bexp\b")
    name = "log-of-softmax"
    kb = "log-of-softmax"
    summary = "log of a softmax instead of log-softmax."
    why = (
        "log softmax(z)ₖ = zₖ − logsumexp(z). Forming the probabilities first underflows the "
        "small ones to 0 (in float32 from a logit gap of about 104), so the log gives −inf and "
        "the gradient automatic differentiation takes through it, −1/p times the softmax "
        "Jacobian, becomes nan. The fused form stays finite and its gradient is softmax − y."
    )
    instead = (
        "Use log-softmax: `z - logsumexp(z)`, `F.log_softmax(z, dim=1)`, or `F.cross_entropy`."
    )
    fix_safety = FixSafety.SAFE
    known_problems = (
        "Only logs that automatic differentiation runs through are flagged (PyTorch, JAX, "
        "autograd): in plain numpy with a hand-written backward the gradient `p − y` does not "
        "pass through the log, which then only feeds the reported loss value. The fix is "
        "offered for the PyTorch spelling `torch.log(F.softmax(x, dim=d))`."
    )
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
        Valid(
            """
            def softmax(z):
                e = np.exp(z - z.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)

            def loss(scores, y):
                probs = softmax(scores)
                return -np.mean(np.log(probs[np.arange(len(y)), y]))
            """,
            note="Plain numpy: the log only feeds the reported loss value; the hand-written "
            "gradient `probs - y` does not pass through it.",
        ),
        Valid(
            """
            def loss(scores, y):
                exp_scores = np.exp(scores - scores.max(axis=1, keepdims=True))
                probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
                correct_logprobs = -np.log(probs[range(len(y)), y])
                return np.sum(correct_logprobs) / len(y)
            """,
            note="The CS231n loss in plain numpy: a reported value.",
        ),
        Valid(
            """
            from scipy.special import softmax

            def cross_entropy(z, y):
                return -np.log(softmax(z)[y])
            """,
            note="scipy and numpy do not differentiate.",
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
            import torch

            def nll(logits, target):
                p = torch.softmax(logits, dim=-1)
                return -torch.log(p.gather(1, target[:, None])).mean()
            """,
            at=(5, 13),
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def kl(logits, target_probs):
                return (target_probs * (target_probs.log() - F.softmax(logits, dim=1).log())).sum()
            """,
            at=(4, 50),
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def soft_target_loss(logits, targets):
                probs = F.softmax(logits, dim=-1)
                return -(targets * probs.log()).sum(dim=1).mean()
            """,
            at=(5, 24),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Head(nn.Module):
                def __init__(self, n):
                    super().__init__()
                    self.proj = nn.Linear(n, 5)
                    self.act = nn.Softmax(dim=-1)

                def forward(self, h, y):
                    p = self.act(self.proj(h))
                    return -torch.log(p[torch.arange(len(y)), y]).mean()
            """,
            at=(12, 17),
            note="An `nn.Softmax` layer's output.",
        ),
        Invalid(
            """
            import jax
            import jax.numpy as jnp

            def loss(params, x, y):
                logits = x @ params
                return -jnp.mean(jnp.log(jax.nn.softmax(logits))[jnp.arange(len(y)), y])
            """,
            at=(6, 22),
            note="JAX differentiates the log with `jax.grad`.",
        ),
        Invalid(
            """
            import autograd.numpy as np
            from autograd import grad

            def softmax(z):
                e = np.exp(z - z.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)

            def loss(W, X, y):
                p = softmax(X @ W)
                return -np.mean(np.log(p[np.arange(len(y)), y]))

            dloss = grad(loss)
            """,
            at=(10, 21),
            note="numpy's API from `autograd`, which differentiates through the log.",
        ),
        Invalid(
            """
            import torch

            class Classifier(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = torch.nn.Linear(784, 10)

                def forward(self, x):
                    self.probs = torch.softmax(self.fc(x), dim=1)
                    return self.probs

                def loss(self, y_onehot):
                    return -(y_onehot * torch.log(self.probs)).sum(dim=1).mean()
            """,
            at=(13, 29),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, arg, site in logs(model):
            if not differentiated(model, call) or not is_probability(model, arg, site.scope):
                continue
            yield Report(
                call,
                f"`{model.src(call)}` takes the log of a softmax output: small probabilities "
                f"underflow to 0 and the log to −inf; use log-softmax (z − logsumexp(z))",
                replacement=log_softmax(model, arg),
                fix_description="Use F.log_softmax",
                evidence=tuple(coupled_evidence(model, arg, site.scope)),
            )
