"""BP601 bptt-carry-never-updated."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.recurrent import stale_carries
from linter.rule import Invalid, Report, Rule, Valid


class BpttCarryNeverUpdated(Rule):
    """Flags a gradient a BPTT loop computes for the previous step and never reads, while the loop
    reads a zero array that nothing ever updates."""

    code = "BP601"
    prefilter = (P.TIME_LOOP, P.ZEROS)
    name = "bptt-carry-never-updated"
    kb = "bptt-carries-gradient-through-time"
    summary = (
        "A BPTT loop computes the carry for the previous step but reads a zero that never changes."
    )
    why = (
        "Backpropagation through time hands the hidden state's (and an LSTM's cell state's) "
        "gradient from step t to step t − 1. Here the loop stores it in one variable and reads "
        "another, bound to zeros before the loop and never reassigned: every step sees a zero "
        "carry, so no gradient flows to earlier steps and the recurrent weights learn only "
        "one-step dependencies."
    )
    instead = (
        "Assign the carry the loop reads (`dh_next = W_h.T @ dz`), or read the one it assigns."
    )
    known_problems = (
        "The loop must sum into arrays initialised to zeros before it (a BPTT loop); the zero "
        "carry must be a plain local never passed to a helper that could fill it in place."
    )
    valid = [
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh, Wy):
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                dh_next = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh = Wy.T @ dys[t] + dh_next
                    dz = dh * (1 - hs[t] ** 2)
                    dWx += dz @ xs[t].T
                    dWh += dz @ hs[t - 1].T
                    dh_next = Wh.T @ dz
                return dWx, dWh
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh, Wy):
                dWx = np.zeros_like(Wx)
                carry = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dz = (Wy.T @ dys[t] + carry) * (1 - hs[t] ** 2)
                    dWx += dz @ xs[t].T
                    carry[:] = Wh.T @ dz
                return dWx
            """,
            note="The carry is filled in place.",
        ),
        Valid(
            """
            def lstm_back(dhs, f, i, o, g, c, Wh):
                dW = np.zeros_like(Wh)
                dh_next = np.zeros_like(dhs[0])
                dc_next = np.zeros_like(dhs[0])
                for t in reversed(range(len(dhs))):
                    dh = dhs[t] + dh_next
                    dc = dc_next + dh * o[t] * (1 - np.tanh(c[t]) ** 2)
                    dz = dc * i[t]
                    dW += dz
                    dh_next = Wh.T @ dz
                    dc_next = f[t] * dc
                return dW
            """
        ),
        Valid(
            """
            def total(xs, W):
                acc = np.zeros_like(W)
                offset = np.zeros_like(W)
                for t in range(len(xs)):
                    acc += xs[t] + offset
                return acc
            """,
            note="A constant zero read in a loop, but nothing computed and dropped.",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh, step_back):
                dWx = np.zeros_like(Wx)
                dh_next = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dz = (dys[t] + dh_next) * (1 - hs[t] ** 2)
                    dWx += dz @ xs[t].T
                    unused = Wh.T @ dz
                    step_back(dh_next, Wh, dz)
                return dWx
            """,
            note="A helper may fill the carry in place.",
        ),
        Valid(
            """
            def grads(xs, ds, W):
                dW = np.zeros_like(W)
                for t in range(len(xs)):
                    dW += ds[t] @ xs[t].T
                    last = ds[t]
                return dW
            """,
            note="A value kept and dropped, but no zero carry is read.",
        ),
        Valid(
            """
            class RNN:
                def backward(self, xs, hs, dys):
                    dWx = np.zeros_like(self.Wx)
                    dh_next = np.zeros_like(hs[0])
                    for t in reversed(range(len(xs))):
                        dz = (self.Wy.T @ dys[t] + dh_next) * (1 - hs[t] ** 2)
                        dWx += dz @ xs[t].T
                        dh_next = self.Wh.T @ dz
                    self.Wx -= 0.1 * dWx
            """
        ),
        Valid(
            """
            def forward(xs, Wx, Wh):
                h = np.zeros((Wh.shape[0], 1))
                hs = np.zeros((len(xs), Wh.shape[0]))
                for t in range(len(xs)):
                    h = np.tanh(Wx @ xs[t] + Wh @ h)
                    hs += h.T
                return hs
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            def bptt(xs, hs, dys, Wx, Wh, Wy):
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                dh_next = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh = Wy.T @ dys[t] + dh_next
                    dz = dh * (1 - hs[t] ** 2)
                    dWx += dz @ xs[t].T
                    dWh += dz @ hs[t - 1].T
                    dh_prev = Wh.T @ dz
                return dWx, dWh
            """,
            at=(9, 9),
        ),
        Invalid(
            """
            def lstm_back(dhs, f, i, o, g, c, Wh):
                dW = np.zeros_like(Wh)
                dh_next = np.zeros_like(dhs[0])
                dc_next = np.zeros_like(dhs[0])
                for t in reversed(range(len(dhs))):
                    dh = dhs[t] + dh_next
                    dc = np.copy(dc_next)
                    dc += dh * o[t] * (1 - np.tanh(c[t]) ** 2)
                    dz = dc * i[t]
                    dW += dz
                    dh_next = Wh.T @ dz
                    dc_prev = f[t] * dc
                return dW
            """,
            at=(12, 9),
        ),
        Invalid(
            """
            def lstm_back(dhs, f, i, o, c, Wh):
                dW = np.zeros_like(Wh)
                dh_next = np.zeros_like(dhs[0])
                dc_next = np.zeros_like(dhs[0])
                for t in reversed(range(len(dhs))):
                    dh = dhs[t] + dh_next
                    dc = dc_next + dh * o[t]
                    dz = dc * i[t]
                    dW += dz
                    dh_prev = Wh.T @ dz
                    dc_prev = f[t] * dc
                return dW
            """,
            at=[(10, 9), (11, 9)],
        ),
        Invalid(
            """
            class RNN:
                def backward(self, xs, hs, dys):
                    dWx = np.zeros_like(self.Wx)
                    dh_next = np.zeros_like(hs[0])
                    for t in reversed(range(len(xs))):
                        dz = (self.Wy.T @ dys[t] + dh_next) * (1 - hs[t] ** 2)
                        dWx += dz @ xs[t].T
                        dh_prev = self.Wh.T @ dz
                    self.Wx -= 0.1 * dWx
            """,
            at=(8, 13),
        ),
        Invalid(
            """
            dWx = np.zeros_like(Wx)
            dh_next = np.zeros_like(hs[0])
            for t in reversed(range(len(xs))):
                dz = (np.dot(Wy.T, dys[t]) + dh_next) * (1 - hs[t] ** 2)
                dWx += np.dot(dz, xs[t].T)
                dh_carry = np.dot(Wh.T, dz)
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            def bptt(X, H, G, Wx, Wh):
                gWx = np.zeros_like(Wx)
                g_next = np.zeros_like(H[0])
                for t in range(len(X) - 1, -1, -1):
                    dz = (G[t] + g_next) * (1 - H[t] ** 2)
                    gWx += X[t].T @ dz
                    g_back = dz @ Wh.T
                return gWx
            """,
            at=(7, 9),
            note="Row convention, a descending range.",
        ),
        Invalid(
            """
            def rnn_backward(dh_all, cache, Wx, Wh):
                xs, hs = cache
                dWx = np.zeros_like(Wx)
                dWh = np.zeros_like(Wh)
                dprev = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dtanh = (dh_all[t] + dprev) * (1 - hs[t] ** 2)
                    dWx += xs[t].T.dot(dtanh)
                    dWh += hs[t - 1].T.dot(dtanh)
                    dprev_new = dtanh.dot(Wh.T)
                return dWx, dWh
            """,
            at=(10, 9),
        ),
        Invalid(
            """
            def bptt(inputs, states, errs, A, B):
                gA = np.zeros_like(A)
                gB = np.zeros_like(B)
                back = np.zeros_like(states[0])
                for k in reversed(range(len(inputs))):
                    d = (errs[k] + back) * (1 - states[k] ** 2)
                    gA += np.outer(d, inputs[k])
                    gB += np.outer(d, states[k - 1])
                    back_next = B.T.dot(d)
                return gA, gB
            """,
            at=(9, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in stale_carries(model):
            yield Report(
                f.node,
                f"`{f.subject}` is computed every step and never read, while the loop reads "
                f"{f.other}, {'which stay' if ', ' in f.other else 'which stays'} zero: no "
                f"gradient reaches the earlier steps; assign the carry the loop reads",
                evidence=f.evidence,
            )
