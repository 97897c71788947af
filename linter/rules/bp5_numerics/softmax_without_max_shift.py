"""BP501 softmax-without-max-shift."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.numerics import callers_for_param
from linter.analysis.softmax import ExpSum, exp_cannot_overflow, exp_sums
from linter.edits import (
    logsumexp_with_max,
    max_shift,
    numpy_name,
    reusable,
    shifted_exp,
    shifted_ratio,
)
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid


class SoftmaxWithoutMaxShift(Rule):
    """Flags ``exp(z)`` normalised by a sum of exps (softmax, log-sum-exp) without the max shift."""

    code = "BP501"
    prefilter = (P.BASE, r"\bexp\b")
    name = "softmax-without-max-shift"
    kb = "softmax-without-max-shift"
    summary = "Softmax or log-sum-exp computed without subtracting the max."
    why = (
        "Without a shift, `np.exp` overflows to inf for inputs above about 709 (float64; 88 in "
        "float32): a softmax becomes inf/inf = nan, a log-sum-exp inf; large negative inputs "
        "underflow the sum to 0. In a ratio exp(z) / sum(exp(z)) the shift cancels, so "
        "softmax(z − max z) = softmax(z) exactly; in a log-sum-exp it does not cancel and must "
        "be added back: log Σ exp(z) = m + log Σ exp(z − m)."
    )
    instead = (
        "In a softmax, subtract the max first: `e = np.exp(z - np.max(z, axis=1, keepdims=True))`."
        " In a log-sum-exp, add it back: `m + np.log(np.sum(np.exp(z - m)))`, or use "
        "`scipy.special.logsumexp`."
    )
    known_problems = (
        "Only an exponential whose own sum divides it (a softmax) or goes under a log (a "
        "log-sum-exp) is flagged, once per softmax; a plain sum of exponentials (a kernel "
        "density, a partition function) is not. An exponential of a value that is at most 0 by "
        "construction (max-shifted, a log-probability `x - logsumexp(x)`, minus a square) is not "
        "flagged, nor one whose value range is bounded above by a moderate number (the output of "
        "a tanh or a sigmoid, a probability, a clipped value: `exp` cannot overflow there). A helper "
        "that receives already-shifted logits from every caller in the module is not flagged; if "
        "only some callers shift, the others are."
    )
    fix_safety = FixSafety.SAFE
    fix_safety_note = (
        "A fix is offered only where it provably keeps every value the code computes: the max "
        "shift when every use of the exponential is a ratio to its own sum (the shift cancels); "
        "an inline log-sum-exp `log(sum(exp(z)))` is rewritten `m + log(sum(exp(z - m)))`. "
        "Anywhere else (a sum that is reused or logged later, an exponential kept at module "
        "level, an argument that is a call) the finding comes without a fix. The test suite "
        "runs every fix on seeded inputs: the values must agree to 1e-12, and be finite where "
        "the original overflowed."
    )
    valid = [
        Valid(
            """
            def attention(h, v):
                scores = np.tanh(h @ v)
                weights = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
                return weights
            """
        ),
        Valid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            def soft_vote(X, W):
                p = sigmoid(X @ W)
                e = np.exp(p)
                return e / e.sum(axis=0)
            """
        ),
        Valid(
            """
            def gaussian_weights(d, h):
                k = np.exp(-(d**2) / (2 * h**2))
                return k / np.sum(k)
            """
        ),
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
            def kernel_density(x, points, h):
                k = np.exp(-((x - points) ** 2) / (2 * h**2))
                return np.sum(k) / len(points)

            def rbf_weights(d):
                w = np.exp(-(d**2))
                return w / np.sum(w)
            """,
            note="Exponentials of minus a square are at most 1: no overflow, shift or not.",
        ),
        Valid(
            """
            from scipy.special import logsumexp

            def forward_step(log_alpha):
                log_norm = logsumexp(log_alpha)
                alpha = np.exp(log_alpha - log_norm)
                return alpha / alpha.sum()
            """,
            note="Log-probabilities normalised by their logsumexp are at most 0.",
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
        Valid(
            """
            def softmax(z):
                e = np.apply_along_axis(lambda r: np.exp(r), 1, z - z.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
            """,
            note="The lambda exponentiates rows the caller has already shifted.",
        ),
        Valid(
            """
            def softmax(z):
                row_exp = lambda r: np.exp(r - np.max(r))
                e = np.apply_along_axis(row_exp, 1, z)
                return e * (1.0 / e.sum(axis=1, keepdims=True))
            """,
            note="Shifted inside the lambda, normalised by multiplying with the reciprocal sum.",
        ),
        Valid(
            """
            def rbf(d):
                k = np.vectorize(lambda v: np.exp(-v * v))(d)
                return k * (1 / np.sum(k))
            """,
            note="Minus a square is at most 0: nothing to shift.",
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
            at=(2, 12),
            fixed="""
            def softmax(x):
                return np.exp(x - np.max(x)) / np.sum(np.exp(x - np.max(x)))
            """,
            note="One softmax, one finding; the fix shifts both exponentials of the ratio.",
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
            fixed="""
            def logsumexp(v):
                return np.max(v) + np.log(np.sum(np.exp(v - np.max(v))))
            """,
            note="A log-sum-exp: the max goes back outside the log.",
        ),
        Invalid(
            """
            def loss(z, y):
                return -z[y] + np.log(np.sum(np.exp(z)))
            """,
            at=(2, 34),
            fixed="""
            def loss(z, y):
                return -z[y] + (np.max(z) + np.log(np.sum(np.exp(z - np.max(z)))))
            """,
        ),
        Invalid(
            """
            def softmax_loss(scores, y):
                exp_scores = np.exp(scores)
                sums = np.sum(exp_scores, axis=1, keepdims=True)
                probs = exp_scores / sums
                loss = np.mean(np.log(sums) - scores[np.arange(len(y)), y][:, None])
                return loss, probs
            """,
            at=(2, 18),
            note="The sum is reused in the loss: shifting inside exp would change the loss, "
            "so the finding comes without a fix.",
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
            fixed="""
            class Softmax:
                def forward(self, x):
                    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
                    self.out = e / np.sum(e, axis=-1, keepdims=True)
                    return self.out
            """,
        ),
        Invalid(
            """
            exp_scores = np.exp(scores)
            probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
            """,
            at=(1, 14),
            note="At module level `exp_scores` outlives the ratio: reported without a fix.",
        ),
        Invalid(
            """
            def softmax(scores):
                row_exp = lambda r: np.exp(r)
                e = np.apply_along_axis(row_exp, 1, scores)
                return e / e.sum(axis=1, keepdims=True)
            """,
            at=(2, 25),
            note="A lambda applied row by row is read as if it were called on the rows.",
        ),
        Invalid(
            """
            def softmax(v):
                e = np.exp(v)
                return e * (1.0 / np.sum(e))
            """,
            at=(2, 9),
            note="Multiplying by the reciprocal of the sum is the same ratio.",
        ),
        Invalid(
            """
            def exp_row(r):
                return np.exp(r)

            def softmax(z):
                e = np.apply_along_axis(exp_row, 1, z)
                inv = np.apply_along_axis(lambda r: 1.0 / np.sum(r), 1, e)
                return e * inv[:, None]
            """,
            at=(2, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for group in exp_sums(model):
            x, scope = group.x, group.site.scope
            if exp_cannot_overflow(model, x, scope):
                continue
            if isinstance(x, cst.Name) and x.value in scope.params:
                # When some callers shift, the helper's contract is "the caller shifts": judge
                # the call sites. When none does, the helper itself is missing the shift.
                callers = callers_for_param(model, scope, x.value)
                unshifted = [c for c in callers if not exp_cannot_overflow(model, c[0], c[1])]
                if callers and not unshifted:
                    continue
                if callers and len(unshifted) < len(callers):
                    for _arg, _caller_scope, call_node in unshifted:
                        yield Report(
                            call_node,
                            f"`{model.src(call_node)}` passes unshifted logits to a softmax "
                            f"that relies on its callers to subtract the max (the other calls "
                            f"do); `exp` overflows for large logits",
                            evidence=((group.exp, "the softmax exponentiates its argument here"),),
                        )
                    continue
            yield _report(model, group)


def _report(model: ModuleModel, group: ExpSum) -> Report:
    """One finding per softmax or log-sum-exp, at its first exponential. A fix only where it
    provably keeps every value (tests/test_fix_equivalence.py runs each one)."""
    exp = group.exp
    if group.is_logsumexp:
        message = (
            f"`{model.src(exp)}` is summed and its log taken (a log-sum-exp) without "
            f"subtracting the max first: it overflows to inf for large inputs; compute "
            f"`m + log(sum(exp(z - m)))` with `m = max(z)`"
        )
    else:
        message = (
            f"`{model.src(exp)}` is normalised by a sum of exponentials without subtracting "
            f"the max first: it overflows to inf (and the softmax to nan) for large logits"
        )
    evidence = tuple(
        (summed, f"`{model.src(summed)}` sums the exponentials") for summed in group.sums[:1]
    )
    if group.evaluated is not None:
        return Report(
            exp,
            message,
            evidence=(
                (
                    group.evaluated,
                    "evaluates the function holding this exponential, and its value is "
                    "normalised by its sum",
                ),
                *evidence,
            ),
        )
    np_name = numpy_name(model, exp)
    if np_name is None or not reusable(group.x):
        return Report(exp, message, evidence=evidence)
    if group.lse_call is not None:
        (summed,) = group.sums
        return Report(
            exp,
            message,
            replacement=logsumexp_with_max(
                np_name, group.lse_call, summed, exp, group.x, group.axis, group.lse_alone
            ),
            replaces=group.lse_call,
            fix_description="Add the max back outside the log: m + log(sum(exp(z - m)))",
            evidence=evidence,
        )
    if not group.shift_safe:
        return Report(exp, message, evidence=evidence)
    shift = max_shift(np_name, group.x, group.axis)
    if group.ratio is not None:
        return Report(
            exp,
            message,
            replacement=shifted_ratio(group.ratio, group.exps, shift),
            replaces=group.ratio,
            fix_description="Subtract the max inside both exponentials of the ratio",
            evidence=evidence,
        )
    return Report(
        exp,
        message,
        replacement=shifted_exp(exp, shift),
        fix_description="Subtract the max inside the exponential",
        evidence=evidence,
    )
