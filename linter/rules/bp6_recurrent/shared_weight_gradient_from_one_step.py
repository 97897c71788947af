"""BP606 shared-weight-gradient-from-one-step."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.recurrent import one_step_gradients
from linter.rule import Invalid, Report, Rule, Valid


class SharedWeightGradientFromOneStep(Rule):
    """Flags a gradient formed after a BPTT loop from one step's delta ``S[-1]``, while a
    gradient initialised with it is summed over every step from ``S[t]``."""

    code = "BP606"
    prefilter = (P.BASE, P.TIME_LOOP, f"{P.MATMUL}|{P.OUTER}")
    name = "shared-weight-gradient-from-one-step"
    kb = "bptt-carries-gradient-through-time"
    summary = (
        "A weight shared by every time step gets its gradient from the last step's delta only."
    )
    why = (
        "An input weight (W_x) is applied at every time step, like the recurrent weight, so its "
        "gradient is the sum of every step's delta times that step's input. Here the loop sums "
        "the recurrent weight's gradient from the per-step deltas `S[t]`, but the gradient "
        "initialised with it is assigned after the loop from `S[-1]`, one step's delta: the "
        "other steps' contributions are lost."
    )
    instead = (
        "Sum it in the same loop from each step's delta and input: `dWx += np.dot(S[t], x[t].T)`."
    )
    known_problems = (
        "The sequence `S` must be filled backwards step by step (`S[k] = …` in a descending loop, "
        "or in a helper such a loop calls with its variable), `S[t]` must be a factor of a "
        "product the loop adds into a gradient (directly, through a name, or through a helper "
        "called with `t` that returns it), and the two gradients must be bound in one statement "
        "before the loop."
    )
    valid = [
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh):
                T = len(xs)
                dzs = [None] * T
                dh = np.zeros_like(hs[0])
                for k in range(T - 1, -1, -1):
                    dzs[k] = (dys[k] + dh) * (1 - hs[k] ** 2)
                    dh = Wh.T @ dzs[k]
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                for t in range(1, T):
                    dWh += np.dot(dzs[t], hs[t - 1].T)
                    dWx += np.dot(dzs[t], xs[t].T)
                dWx += np.dot(dzs[0], xs[0].T)
                return dWx, dWh
            """,
            note="The first step added after the loop, with +=.",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh):
                T = len(xs)
                dzs = [None] * T
                dh = np.zeros_like(hs[0])
                for k in reversed(range(T)):
                    dzs[k] = (dys[k] + dh) * (1 - hs[k] ** 2)
                    dh = Wh.T @ dzs[k]
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                for t in range(1, T):
                    dWh += np.dot(dzs[t], hs[t - 1].T)
                for t in range(T):
                    dWx += np.dot(dzs[t], xs[t].T)
                return dWx, dWh
            """
        ),
        Valid(
            """
            def many_to_one(xs, hs, dy, Wx, Wh, Wy):
                T = len(xs)
                dWy, dWh = np.zeros_like(Wy), np.zeros_like(Wh)
                for t in range(1, T):
                    dWh += np.outer(dy, hs[t])
                dWy = np.outer(dy, hs[-1])
                return dWy, dWh
            """,
            note="`hs` is the forward's list of states: the output weight meets the last one.",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh):
                T = len(xs)
                dzs = [None] * T
                dh = np.zeros_like(hs[0])
                for k in reversed(range(T)):
                    dzs[k] = (dys[k] + dh) * (1 - hs[k] ** 2)
                    dh = Wh.T @ dzs[k]
                dWh = np.zeros_like(Wh)
                for t in range(1, T):
                    dWh += np.dot(dzs[t], hs[t - 1].T)
                dx_last = np.dot(Wx.T, dzs[-1])
                return dWh, dx_last
            """,
            note="An input gradient of the last step, not a weight gradient bound with `dWh`.",
        ),
        Valid(
            """
            class Cell:
                def calc_delta(self):
                    for k in range(self.T, 0, -1):
                        self.delta_step(k)

                def delta_step(self, k):
                    self.deltas[k] = self.dhs[k] * (1 - self.hs[k] ** 2)

                def gradients(self, x):
                    self.gWh, self.gWx = self.zero_grads()
                    for t in range(self.T, 0, -1):
                        gh, gx = self.step_grads(t)
                        self.gWh += gh
                        self.gWx += gx

                def step_grads(self, t):
                    gh = np.dot(self.deltas[t], self.hs[t - 1].T)
                    gx = np.dot(self.deltas[t], self.xs[t].T)
                    return gh, gx
            """
        ),
        Valid(
            """
            def backward(deltas, acts, W1, W2):
                dW1, dW2 = np.zeros_like(W1), np.zeros_like(W2)
                for t in range(len(acts)):
                    dW1 += np.dot(deltas[t], acts[t].T)
                dW2 = np.dot(deltas[-1], acts[-1].T)
                return dW1, dW2
            """,
            note="`deltas` is not filled step by step by a backward loop here.",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh):
                T = len(xs)
                dzs = [None] * T
                dh = np.zeros_like(hs[0])
                for k in reversed(range(T)):
                    dzs[k] = (dys[k] + dh) * (1 - hs[k] ** 2)
                    dh = Wh.T @ dzs[k]
                dWh = np.zeros_like(Wh)
                dWx = np.zeros_like(Wx)
                for t in range(1, T):
                    dWh += np.dot(dzs[t], hs[t - 1].T)
                dWx = np.dot(dzs[-1], xs[-1].T)
                return dWx, dWh
            """,
            note="Initialised apart: whether Wx is shared by the steps is not read from the code.",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh):
                T = len(xs)
                dzs = [None] * T
                dh = np.zeros_like(hs[0])
                for k in reversed(range(T)):
                    dzs[k] = (dys[k] + dh) * (1 - hs[k] ** 2)
                    dh = Wh.T @ dzs[k]
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                for t in range(T):
                    dWh += np.dot(dzs[t], hs[t - 1].T)
                    dWx += np.dot(dzs[t], xs[t].T)
                dWx = np.dot(dzs[-1], xs[-1].T) + dWx
                return dWx, dWh
            """,
            note="Added to what the loop summed (it is counted twice, but not as one step only).",
        ),
    ]
    invalid = [
        Invalid(
            """
            def bptt(xs, hs, dys, Wx, Wh):
                T = len(xs)
                dzs = [None] * T
                dh = np.zeros_like(hs[0])
                for k in reversed(range(T)):
                    dzs[k] = (dys[k] + dh) * (1 - hs[k] ** 2)
                    dh = Wh.T @ dzs[k]
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                for t in range(1, T):
                    dWh += np.dot(dzs[t], hs[t - 1].T)
                dWx = np.dot(dzs[-1], xs[-1].T)
                return dWx, dWh
            """,
            at=(11, 5),
        ),
        Invalid(
            """
            class Cell:
                def calc_delta(self):
                    for k in range(self.T, 0, -1):
                        self.delta_step(k)

                def delta_step(self, k):
                    self.deltas[k] = self.dhs[k] * (1 - self.hs[k] ** 2)

                def gradients(self, x):
                    self.gWh, self.gWx, self.gb = self.zero_grads()
                    for t in range(self.T, 0, -1):
                        gh, gb = self.step_grads(t)
                        self.gWh += gh
                        self.gb += gb
                    self.gWx = np.dot(self.deltas[-1], x.T)

                def step_grads(self, t):
                    gh = np.dot(self.deltas[t], self.hs[t - 1].T)
                    gb = self.deltas[t]
                    return gh, gb
            """,
            at=(15, 9),
        ),
        Invalid(
            """
            class Lstm:
                def calc_delta(self):
                    for k in range(self.times, 0, -1):
                        self.calc_delta_k(k)

                def calc_delta_k(self, k):
                    self.df[k] = self.dh[k] * self.c[k - 1]
                    self.di[k] = self.dh[k] * self.g[k]

                def calc_gradient(self, x):
                    self.gWfh, self.gWfx = self.init_grads()
                    self.gWih, self.gWix = self.init_grads()
                    for t in range(self.times, 0, -1):
                        gWfh, gWih = self.grad_at(t)
                        self.gWfh += gWfh
                        self.gWih += gWih
                    xt = x.T
                    self.gWfx = np.dot(self.df[-1], xt)
                    self.gWix = np.dot(self.di[-1], xt)

                def grad_at(self, t):
                    h_prev = self.h[t - 1].T
                    gWfh = np.dot(self.df[t], h_prev)
                    gWih = np.dot(self.di[t], h_prev)
                    return gWfh, gWih
            """,
            at=[(18, 9), (19, 9)],
        ),
        Invalid(
            """
            def bptt(X, H, G, Wx, Wh):
                n = len(X)
                D = np.zeros((n, Wh.shape[0]))
                back = np.zeros(Wh.shape[0])
                for k in range(n - 1, -1, -1):
                    D[k] = (G[k] + back) * (1 - H[k] ** 2)
                    back = D[k] @ Wh.T
                gWx, gWh = np.zeros_like(Wx), np.zeros_like(Wh)
                for t in range(1, n):
                    gWh += np.outer(H[t - 1], D[t])
                gWx = np.outer(X[-1], D[-1])
                return gWx, gWh
            """,
            at=(11, 5),
            note="Row convention, np.outer.",
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Wx, Wh, Wy):
                T = len(xs)
                dz = [None] * T
                dh = np.zeros_like(hs[0])
                for k in reversed(range(T)):
                    dz[k] = (Wy.T @ dys[k] + dh) * (1 - hs[k] ** 2)
                    dh = Wh.T @ dz[k]
                dWh, dWx = np.zeros_like(Wh), np.zeros_like(Wx)
                for t in reversed(range(1, T)):
                    dWh += dz[t] @ hs[t - 1].T
                dWx = dz[-1] @ xs[-1].T
                return dWx, dWh
            """,
            at=(11, 5),
        ),
        Invalid(
            """
            def grads(xs, hs, dys, Wx, Wh):
                T = len(xs)
                deltas = {}
                carry = np.zeros_like(hs[0])
                for k in range(T - 1, -1, -1):
                    deltas[k] = (dys[k] + carry) * (1 - hs[k] ** 2)
                    carry = np.dot(Wh.T, deltas[k])
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                for t in range(1, T):
                    term = np.dot(deltas[t], hs[t - 1].T)
                    dWh += term
                dWx = np.dot(deltas[T - 1], xs[-1].T)
                return dWx, dWh
            """,
            at=(12, 5),
            note="A dict keyed by step; the last key spelt out.",
        ),
        Invalid(
            """
            def bptt(inputs, states, errs, A, B):
                T = len(inputs)
                d = [0] * T
                nxt = np.zeros_like(states[0])
                for k in reversed(range(T)):
                    d[k] = (errs[k] + nxt) * (1 - states[k] ** 2)
                    nxt = B.T.dot(d[k])
                gA, gB = np.zeros_like(A), np.zeros_like(B)
                for t in range(1, T):
                    gB += d[t].dot(states[t - 1].T)
                gA = d[-1].dot(inputs[-1].T)
                return gA, gB
            """,
            at=(11, 5),
            note="Method-style .dot products.",
        ),
        Invalid(
            """
            class RNN:
                def backward(self, xs, dys):
                    T = len(xs)
                    self.dz = [None] * T
                    dh = np.zeros_like(self.hs[0])
                    for k in reversed(range(T)):
                        self.dz[k] = (dys[k] + dh) * (1 - self.hs[k] ** 2)
                        dh = self.Wh.T @ self.dz[k]
                    self.dWh, self.dWx = np.zeros_like(self.Wh), np.zeros_like(self.Wx)
                    for t in range(1, T):
                        self.dWh += self.dz[t] @ self.hs[t - 1].T
                    self.dWx = self.dz[-1] @ xs[-1].T
            """,
            at=(12, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in one_step_gradients(model):
            yield Report(
                f.node,
                f"`{f.subject}` is formed from `{f.other}`, one step's delta, while the gradient "
                f"initialised with it sums every step: the weight is shared by all steps; sum "
                f"its gradient over them in the loop",
                evidence=f.evidence,
            )
