"""BP501 softmax-without-max-shift."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis.numerics import callers_for_param, max_shifted, normalised_exps
from linter.edits import max_shifted_exp
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid


class SoftmaxWithoutMaxShift(Rule):
    """Flags ``exp(z)`` normalised by a sum of exps (softmax, log-sum-exp) without the max shift."""

    code = "BP501"
    name = "softmax-without-max-shift"
    kb = "softmax-without-max-shift"
    summary = "Softmax or log-sum-exp computed without subtracting the max."
    why = (
        "softmax(z) = softmax(z − c) for any constant c. Without c = max(z), `np.exp` overflows "
        "to inf for logits above about 709 (float64; 88 in float32) and the division gives nan; "
        "large negative logits underflow the sum to 0. The shift changes nothing else."
    )
    instead = "Subtract the max first: `e = np.exp(z - np.max(z, axis=1, keepdims=True))`."
    known_problems = (
        "A helper that receives already-shifted logits from every caller in the module is not "
        "flagged; if only some callers shift, the others are. Logits that are bounded for another "
        "reason (a log-softmax output) are not flagged."
    )
    fix_safety = FixSafety.SAFE
    valid = [
        Valid(
            """
            def softmax(z):
                e = np.exp(z - np.max(z, axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
            """
        ),
        Valid(
            """
            def softmax(x):
                e = np.exp(x)
                return e / e.sum(axis=1, keepdims=True)

            def forward(scores):
                return softmax(scores - np.max(scores, axis=1, keepdims=True))
            """,
            note="The caller subtracts the max before calling the helper.",
        ),
        Valid(
            """
            def loss(scores, y):
                scores -= scores.max(axis=1, keepdims=True)
                probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
                return probs
            """
        ),
        Valid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))
            """,
            note="No normalising sum: not a softmax.",
        ),
        Valid(
            """
            def log_softmax(v):
                v = v - np.max(v)
                return v - np.log(np.sum(np.exp(v)))
            """
        ),
        Valid(
            """
            from scipy.special import logsumexp

            def probs_from(log_probs):
                return np.exp(log_probs) / np.sum(np.exp(log_probs))

            p = probs_from(scores - logsumexp(scores))
            """
        ),
        Valid(
            """
            def gaussian(x, mu):
                return np.exp(-((x - mu) ** 2))
            """
        ),
        Valid(
            """
            import torch

            def softmax(z):
                e = torch.exp(z - z.max(dim=1, keepdim=True).values)
                return e / e.sum(dim=1, keepdim=True)
            """
        ),
        Valid(
            """
            def loss(scores):
                shift_scores = scores - np.max(scores, axis=1)[..., np.newaxis]
                return np.exp(shift_scores) / np.sum(np.exp(shift_scores), axis=1)[..., np.newaxis]
            """,
            note="The max reshaped for broadcasting is still a shift.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def softmax(z):
                e = np.exp(z)
                return e / e.sum(axis=1, keepdims=True)
            """,
            at=(2, 9),
            fixed="""
            def softmax(z):
                e = np.exp(z - np.max(z, axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
            """,
        ),
        Invalid(
            """
            def softmax(x):
                return np.exp(x) / np.sum(np.exp(x))
            """,
            at=[(2, 12), (2, 31)],
        ),
        Invalid(
            """
            def softmax(x):
                e = np.exp(x)
                return e / e.sum(axis=1, keepdims=True)

            def forward(scores):
                return softmax(scores - np.max(scores, axis=1, keepdims=True))

            def predict(scores):
                return softmax(scores)
            """,
            at=(9, 12),
            note="Other callers shift; this one does not.",
        ),
        Invalid(
            """
            def logsumexp(v):
                return np.log(np.sum(np.exp(v)))
            """,
            at=(2, 26),
        ),
        Invalid(
            """
            def loss(x, y):
                Z = np.sum(np.exp(x), axis=1, keepdims=True)
                log_probs = x - np.log(Z)
                return -log_probs[np.arange(len(y)), y].mean()
            """,
            at=(2, 16),
        ),
        Invalid(
            """
            import torch

            def softmax(z):
                e = torch.exp(z)
                return e / e.sum(dim=1, keepdim=True)
            """,
            at=(4, 9),
        ),
        Invalid(
            """
            class Softmax:
                def forward(self, x):
                    e = np.exp(x)
                    self.out = e / np.sum(e, axis=-1, keepdims=True)
                    return self.out
            """,
            at=(3, 13),
        ),
        Invalid(
            """
            exp_scores = np.exp(scores)
            probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
            """,
            at=(1, 14),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, x, normaliser, site in normalised_exps(model):
            scope = site.scope
            if max_shifted(model, x, scope) or model.has(x, scope, Role.LOGPROB):
                continue
            if isinstance(x, cst.Name) and x.value in scope.params:
                # When some callers shift, the helper's contract is "the caller shifts": judge
                # the call sites. When none does, the helper itself is missing the shift.
                callers = callers_for_param(model, scope, x.value)
                unshifted = [c for c in callers if not max_shifted(model, c[0], c[1])]
                if callers and not unshifted:
                    continue
                if callers and len(unshifted) < len(callers):
                    for _arg, _caller_scope, call_node in unshifted:
                        yield Report(
                            call_node,
                            f"`{model.src(call_node)}` passes unshifted logits to a softmax "
                            f"that relies on its callers to subtract the max (the other calls "
                            f"do); `exp` overflows for large logits",
                        )
                    continue
            yield Report(
                call,
                f"`{model.src(call)}` is normalised by a sum of exponentials without subtracting "
                f"the max first: it overflows to inf (and the softmax to nan) for large logits",
                replacement=max_shifted_exp(model, call, x, normaliser),
                fix_description="Subtract the max inside the exponential",
            )
