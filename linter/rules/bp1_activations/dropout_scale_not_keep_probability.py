"""BP107 dropout-scale-not-keep-probability."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.dropout import scale_mismatches
from linter.rule import Invalid, Report, Rule, Valid


class DropoutScaleNotKeepProbability(Rule):
    """Flags a dropout mask whose kept units are divided by the complement of the mask's own
    keep probability: ``(U < q) / (1 - q)`` or ``(U > q) / q`` for a uniform draw ``U``."""

    code = "BP107"
    prefilter = (P.BASE, P.UNIFORM_DRAW, P.DIVIDE)
    name = "dropout-scale-not-keep-probability"
    kb = "inverted-dropout-scaling"
    summary = (
        "A dropout mask's kept units are divided by the drop probability instead of the keep "
        "probability: the training output no longer averages to the test output."
    )
    why = (
        "`U < q` with `U` uniform on [0, 1) keeps a unit with probability q, and `U > q` with "
        "probability 1 − q. Inverted dropout divides the kept units by that keep probability so "
        "that the expected training output equals the input, which is what the network sees at "
        "test time. Dividing by the other one scales the expected output by q / (1 − q) (or its "
        "inverse): 4 for q = 0.8, 0.25 for q = 0.2. Which of the two `q` means does not matter; "
        "the comparison and the divisor disagree either way."
    )
    instead = (
        "Divide by the probability the comparison keeps with: `(U < q) / q`, or "
        "`(U > p) / (1 - p)` when `p` is the drop probability."
    )
    known_problems = (
        "The divisor must be written as the threshold or one minus it (up to spacing and "
        "parentheses); a scale held in another variable, or a mask built through a helper, is "
        "not compared. A mask used as a drop mask (`1 - mask`, `~mask`) is not read."
    )
    valid = [
        Valid(
            """
            def dropout(h, keep):
                mask = (np.random.rand(*h.shape) < keep) / keep
                return h * mask, mask
            """
        ),
        Valid(
            """
            def forward_dropout(A1, keep_prob):
                D1 = np.random.rand(A1.shape[0], A1.shape[1])
                D1 = (D1 < keep_prob).astype(int)
                A1 = A1 * D1
                A1 = A1 / keep_prob
                return A1, D1
            """,
            note="The two-step style: draw, compare, multiply, divide.",
        ),
        Valid(
            """
            def dropout(h, p):
                drop = np.random.rand(*h.shape) < p
                return h * (1 - drop) / (1 - p)
            """,
            note="`drop` marks the dropped units; `1 - drop` keeps with probability 1 − p.",
        ),
        Valid(
            """
            def dropout(x, p):
                mask = torch.rand(x.shape) > p
                return x * mask / (1 - p)
            """,
            note="PyTorch's convention: p is the drop probability.",
        ),
        Valid(
            """
            def dropout(h, keep):
                mask = np.random.binomial(1, keep, size=h.shape)
                return h * mask / keep
            """
        ),
        Valid(
            """
            def dropout(h, keep, scale):
                mask = np.random.rand(*h.shape) < keep
                return h * mask / scale
            """,
            note="The divisor is not written in terms of the threshold: not compared.",
        ),
        Valid(
            """
            def dropout(h, keep, train):
                if train:
                    return h * (np.random.rand(*h.shape) < keep)
                return h * keep
            """,
            note="Original (non-inverted) dropout: no division at train time.",
        ),
        Valid(
            """
            rng = np.random.default_rng(0)

            def dropout(a, p):
                m = rng.random(a.shape) >= p
                return a * m / (1.0 - p)
            """
        ),
        Valid(
            """
            def jitter(h, p):
                noise = np.random.uniform(-1, 1, h.shape) < p
                return h * noise / (1 - p)
            """,
            note="A draw on [−1, 1): its keep probability is not p.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def dropout(h, p):
                mask = np.random.rand(*h.shape) < p
                return h * mask / (1 - p)
            """,
            at=(3, 12),
        ),
        Invalid(
            """
            def dropout(h, keep_prob):
                mask = (np.random.rand(*h.shape) > keep_prob) / keep_prob
                return h * mask
            """,
            at=(2, 12),
            note="Keeps with probability 1 − keep_prob, divides by keep_prob.",
        ),
        Invalid(
            """
            def forward_dropout(A1, keep_prob):
                D1 = np.random.rand(A1.shape[0], A1.shape[1])
                D1 = (D1 > keep_prob).astype(int)
                A1 = A1 * D1
                A1 = A1 / keep_prob
                return A1, D1
            """,
            at=(5, 10),
        ),
        Invalid(
            """
            class Dropout:
                def __init__(self, p):
                    self.p = p

                def forward(self, x):
                    self.mask = np.random.rand(*x.shape) < self.p
                    return x * self.mask / (1 - self.p)

                def backward(self, grad):
                    return grad * self.mask / (1 - self.p)
            """,
            at=(7, 16),
            note="One finding: the backward repeats the forward's scale.",
        ),
        Invalid(
            """
            def dropout(h, p):
                return h * np.random.binomial(1, p, size=h.shape) / (1 - p)
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            rng = np.random.default_rng(0)

            def dropout(a, q):
                m = rng.random(a.shape) < q
                return a * m / (1 - q)
            """,
            at=(5, 12),
        ),
        Invalid(
            """
            def dropout(x, p):
                mask = torch.rand(x.shape) > p
                return x * mask / p
            """,
            at=(3, 12),
        ),
        Invalid(
            """
            def drop(A, keep):
                D = np.random.rand(*A.shape)
                D = D > keep
                A = A * D
                A /= keep
                return A
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            def dropout(a, keep_prob):
                mask = keep_prob < np.random.rand(*a.shape)
                return a * mask / keep_prob
            """,
            at=(3, 12),
            note="The threshold on the left: `q < U` keeps with probability 1 − q.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for z in scale_mismatches(model):
            q = model.src(z.mask.threshold).strip()
            keep = f"1 - {q}" if z.mask.complement else q
            evidence = ((z.mask.node, f"this mask keeps a unit with probability {keep}"),)
            yield Report(
                z.product,
                f"`{model.src(z.mask.node).strip()}` keeps a unit with probability `{keep}`, but "
                f"the kept units are divided by `{model.src(z.divisor).strip()}`: the expected "
                f"output is no longer the input; divide by `{keep}`",
                evidence=evidence,
            )
