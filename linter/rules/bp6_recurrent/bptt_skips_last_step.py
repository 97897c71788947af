"""BP603 bptt-skips-last-step."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.recurrent import short_loops
from linter.rule import Invalid, Report, Rule, Valid


class BpttSkipsLastStep(Rule):
    """Flags a BPTT loop that starts at ``len(S) - 2`` going down while it alone sums the
    gradients of the shared weights."""

    code = "BP603"
    prefilter = (P.TIME_LOOP, P.ZEROS)
    name = "bptt-skips-last-step"
    kb = "bptt-carries-gradient-through-time"
    summary = (
        "A BPTT loop starting at len − 2 leaves the last time step out of the weight gradients."
    )
    why = (
        "The gradient of a weight shared across time steps is the sum of every step's "
        "contribution. A loop `range(T - 2, -1, -1)` visits T − 1 steps; when the summed "
        "gradients get nothing from outside the loop, the last step's output error never reaches "
        "them and its hidden-state gradient never reaches the input and recurrent weights."
    )
    instead = "Start at the last step: `for t in reversed(range(T))` (`range(T - 1, -1, -1)`)."
    known_problems = (
        "The loop must index a sequence with `t` (never `t + 1`), its length `T` must be "
        "`len(S)` or `S.shape[k]`, and no accumulated gradient may be added to outside the loop "
        "(a last step handled before the loop is not flagged)."
    )
    valid = [
        Valid(
            """
            def bptt(xs, hs, dys, Wx):
                T = len(xs)
                dWx = np.zeros_like(Wx)
                for t in range(T - 1, -1, -1):
                    dWx += np.outer(dys[t] * (1 - hs[t] ** 2), xs[t])
                return dWx
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx):
                dWx = np.zeros_like(Wx)
                for t in reversed(range(len(xs))):
                    dWx += np.outer(dys[t] * (1 - hs[t] ** 2), xs[t])
                return dWx
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx):
                T = len(xs)
                dWx = np.zeros_like(Wx)
                dWx += np.outer(dys[T - 1] * (1 - hs[T - 1] ** 2), xs[T - 1])
                for t in range(T - 2, -1, -1):
                    dWx += np.outer(dys[t] * (1 - hs[t] ** 2), xs[t])
                return dWx
            """,
            note="The last step is added before the loop.",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx):
                dWx = np.zeros_like(Wx)
                for t in range(len(xs) - 2, -1, -1):
                    dWx += np.outer(dys[t + 1] * (1 - hs[t + 1] ** 2), xs[t + 1])
                return dWx
            """,
            note="Shifted indices: t + 1 covers the last step.",
        ),
        Valid(
            """
            def diffs(xs, W):
                acc = np.zeros_like(W)
                for t in range(len(xs) - 2, -1, -1):
                    acc += xs[t + 1] - xs[t]
                return acc
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, n):
                dWx = np.zeros_like(Wx)
                for t in range(n - 2, -1, -1):
                    dWx += np.outer(dys[t], xs[t])
                return dWx
            """,
            note="`n` is not known to be the sequence length.",
        ),
        Valid(
            """
            def bptt(xs, dys, Wx):
                dWx = np.zeros_like(Wx)
                for t in range(len(xs) - 2, -1, -1):
                    if t == len(xs) - 2:
                        dWx += np.outer(dys[-1], xs[-1])
                    dWx += np.outer(dys[t], xs[t])
                return dWx
            """
        ),
        Valid(
            """
            def bptt(xs, dys, Wx):
                dWx = np.zeros_like(Wx)
                for t in range(len(xs) - 1):
                    dWx += np.outer(dys[t], xs[t])
                return dWx
            """,
            note="Ascending: not the reversed BPTT loop this rule reads.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def bptt(xs, hs, dys, Wx):
                T = len(xs)
                dWx = np.zeros_like(Wx)
                for t in range(T - 2, -1, -1):
                    dWx += np.outer(dys[t] * (1 - hs[t] ** 2), xs[t])
                return dWx
            """,
            at=(4, 14),
        ),
        Invalid(
            """
            def bptt(x, hs, dys, Wx):
                T = x.shape[1]
                dWx = np.zeros_like(Wx)
                for t in range(T - 2, -1, -1):
                    dWx += np.outer(dys[t] * (1 - hs[t] ** 2), x[:, t])
                return dWx
            """,
            at=(4, 14),
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Wx):
                dWx = np.zeros_like(Wx)
                for t in reversed(range(len(xs) - 1)):
                    dWx += np.outer(dys[t] * (1 - hs[t] ** 2), xs[t])
                return dWx
            """,
            at=(3, 14),
        ),
        Invalid(
            """
            class RNN:
                def backward(self, xs, hs, dys):
                    T = len(xs)
                    dWx = np.zeros_like(self.Wx)
                    dWh = np.zeros_like(self.Wh)
                    for t in range(T - 2, -1, -1):
                        dz = dys[t] * (1 - hs[t] ** 2)
                        dWx += dz @ xs[t].T
                        dWh += dz @ hs[t - 1].T
                    self.Wx -= 0.1 * dWx
                    self.Wh -= 0.1 * dWh
            """,
            at=(6, 18),
        ),
        Invalid(
            """
            dW = np.zeros_like(W)
            for t in range(len(inputs) - 2, -1, -1):
                dW += np.dot(errors[t], inputs[t].T)
            """,
            at=(2, 10),
        ),
        Invalid(
            """
            def bptt(X, H, G, Wx):
                n = X.shape[0]
                gWx = np.zeros_like(Wx)
                for k in range(n - 2, -1, -1):
                    gWx += X[k].T @ (G[k] * (1 - H[k] ** 2))
                return gWx
            """,
            at=(4, 14),
            note="Row convention.",
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Wx, Wy):
                T = len(dys)
                dWx = np.zeros_like(Wx)
                dWy = np.zeros_like(Wy)
                for t in range(T - 2, -1, -1):
                    dWy += np.outer(dys[t], hs[t])
                    dWx += np.outer(Wy.T @ dys[t], xs[t])
                return dWx, dWy
            """,
            at=(5, 14),
        ),
        Invalid(
            """
            def bptt(seq, states, errs, A):
                steps = len(seq)
                gA = np.zeros_like(A)
                last = errs[-1]
                for i in range(steps - 2, -1, -1):
                    gA += np.outer(errs[i] + last, seq[i])
                return gA
            """,
            at=(5, 14),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in short_loops(model):
            yield Report(
                f.node,
                f"`{f.subject}` starts one step short: the last time step never reaches "
                f"{f.other}, which are summed only in this loop; start at the last step",
                evidence=f.evidence,
            )
