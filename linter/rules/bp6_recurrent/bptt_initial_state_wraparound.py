"""BP602 bptt-initial-state-wraparound."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.recurrent import wraparounds
from linter.rule import Invalid, Report, Rule, Valid


class BpttInitialStateWraparound(Rule):
    """Flags ``states[t - 1]`` in a BPTT loop whose ``t`` reaches 0, where ``states`` is a list."""

    code = "BP602"
    prefilter = (P.TIME_LOOP, P.ZEROS)
    name = "bptt-initial-state-wraparound"
    kb = "bptt-carries-gradient-through-time"
    summary = "`states[t - 1]` at t = 0 reads the last state of a list, not the initial state."
    why = (
        "At the first step the previous hidden (or cell) state is the initial state h₀. In a "
        "Python list `states[-1]` is the *last* element, so at t = 0 `states[t - 1]` feeds the "
        "final state into the recurrent weight's gradient (or the forget gate's), and that "
        "step's contribution is wrong."
    )
    instead = (
        "Read the initial state at t = 0 (`h_prev = hs[t - 1] if t > 0 else h0`), or keep h₀ "
        "at index 0 and shift the indices (`hs[t]` is then the previous state of step t)."
    )
    known_problems = (
        "Only lists are flagged (built with `[]` and `.append`, a list comprehension or `list()`, "
        "followed through returns and resolved call sites): an array may keep h₀ in a spare last "
        "row, and a dict keyed by time (`hs[-1] = h0`) holds it at -1. A module that stores at "
        "index -1 anywhere is left alone."
    )
    valid = [
        Valid(
            """
            def loss_fun(xs, h0, Wx, Wh):
                hs = {}
                hs[-1] = np.copy(h0)
                for t in range(len(xs)):
                    hs[t] = np.tanh(Wx @ xs[t] + Wh @ hs[t - 1])
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    dWh += np.outer(1 - hs[t] ** 2, hs[t - 1])
                return dWh
            """,
            note="A dict keyed by time holds h0 at key -1.",
        ),
        Valid(
            """
            def bptt(xs, h0, Wx, Wh):
                hs = []
                h = h0
                for x in xs:
                    h = np.tanh(Wx @ x + Wh @ h)
                    hs.append(h)
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    h_prev = hs[t - 1] if t > 0 else h0
                    dWh += np.outer(1 - hs[t] ** 2, h_prev)
                return dWh
            """
        ),
        Valid(
            """
            def bptt(xs, h0, Wx, Wh):
                hs = [h0]
                for x in xs:
                    hs.append(np.tanh(Wx @ x + Wh @ hs[-1]))
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    dWh += np.outer(1 - hs[t + 1] ** 2, hs[t])
                return dWh
            """,
            note="h0 at index 0: the previous state of step t is hs[t].",
        ),
        Valid(
            """
            def bptt(xs, Wx, Wh):
                hs = np.zeros((len(xs) + 1, Wh.shape[0]))
                for t in range(len(xs)):
                    hs[t] = np.tanh(Wx @ xs[t] + Wh @ hs[t - 1])
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    dWh += np.outer(1 - hs[t] ** 2, hs[t - 1])
                return dWh
            """,
            note="An array with a spare zero row at the end for h0.",
        ),
        Valid(
            """
            def backward(hs, dzs, Wh):
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(dzs))):
                    dWh += np.outer(dzs[t], hs[t - 1])
                return dWh
            """,
            note="What `hs` is cannot be told: no call site.",
        ),
        Valid(
            """
            def bptt(xs, h0, Wx, Wh):
                hs = []
                h = h0
                for x in xs:
                    h = np.tanh(Wx @ x + Wh @ h)
                    hs.append(h)
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    if t == 0:
                        prev = h0
                    else:
                        prev = hs[t - 1]
                    dWh += np.outer(1 - hs[t] ** 2, prev)
                return dWh
            """
        ),
        Valid(
            """
            def bptt(xs, h0, Wx, Wh):
                hs = []
                h = h0
                for x in xs:
                    h = np.tanh(Wx @ x + Wh @ h)
                    hs.append(h)
                dWh = np.zeros_like(Wh)
                for t in range(1, len(xs)):
                    dWh += np.outer(1 - hs[t] ** 2, hs[t - 1])
                dWh += np.outer(1 - hs[0] ** 2, h0)
                return dWh
            """,
            note="The first step is handled after the loop.",
        ),
        Valid(
            """
            def smooth(values):
                out = []
                for v in values:
                    out.append(v)
                total = np.zeros(3)
                for t in range(len(out)):
                    total += out[t] - out[t - 1]
                return total
            """,
            note="A circular difference taken on purpose: `out[t - 1]` is no factor of a product.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def forward(xs, h0, Wx, Wh):
                hs = []
                h = h0
                for x in xs:
                    h = np.tanh(Wx @ x + Wh @ h)
                    hs.append(h)
                return hs

            def backward(xs, hs, dhs, Wx, Wh):
                dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    dz = dhs[t] * (1 - hs[t] ** 2)
                    dWx += dz @ xs[t].T
                    dWh += dz @ hs[t - 1].T
                return dWx, dWh

            hs = forward(xs, h0, Wx, Wh)
            grads = backward(xs, hs, dhs, Wx, Wh)
            """,
            at=(14, 21),
        ),
        Invalid(
            """
            def bptt(xs, h0, dys, Wx, Wh, Wy):
                hs = []
                h = h0
                for x in xs:
                    h = np.tanh(np.dot(Wx, x) + np.dot(Wh, h))
                    hs.append(h)
                dWh = np.zeros_like(Wh)
                for t in range(len(xs) - 1, -1, -1):
                    dz = np.dot(Wy.T, dys[t]) * (1 - hs[t] ** 2)
                    dWh += np.outer(dz, hs[t - 1])
                return dWh
            """,
            at=(10, 29),
        ),
        Invalid(
            """
            class RNN:
                def forward(self, xs):
                    states = []
                    h = self.h0
                    for x in xs:
                        h = np.tanh(self.Wx @ x + self.Wh @ h)
                        states.append(h)
                    return states

                def backward(self, xs, states, dys):
                    dWh = np.zeros_like(self.Wh)
                    for t in reversed(range(len(xs))):
                        dz = (self.Wy.T @ dys[t]) * (1 - states[t] ** 2)
                        dWh += dz @ states[t - 1].T
                    self.Wh -= 0.01 * dWh

            net = RNN()
            states = net.forward(xs)
            net.backward(xs, states, dys)
            """,
            at=(14, 25),
        ),
        Invalid(
            """
            hs = []
            h = h0
            for x in xs:
                h = np.tanh(Wx @ x + Wh @ h)
                hs.append(h)
            dWh = np.zeros_like(Wh)
            for t in reversed(range(len(xs))):
                dz = dys[t] * (1 - hs[t] ** 2)
                dWh += dz @ hs[t - 1].T
            """,
            at=(9, 17),
        ),
        Invalid(
            """
            def run(xs, h0, Wx, Wh):
                outs, hs = [], []
                h = h0
                for x in xs:
                    h = np.tanh(Wx @ x + Wh @ h)
                    hs.append(h)
                    outs.append(h.sum())
                return outs, hs

            def grads(xs, hs, dz, Wh):
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    dWh += np.outer(dz[t], hs[t - 1])
                return dWh

            outs, hs = run(xs, h0, Wx, Wh)
            g = grads(xs, hs, dz, Wh)
            """,
            at=(13, 32),
        ),
        Invalid(
            """
            def lstm_backward(cs, fs, dcs, Wf):
                dWf = np.zeros_like(Wf)
                for t in reversed(range(len(fs))):
                    c_prev = cs[t - 1]
                    df = dcs[t] * c_prev * fs[t] * (1 - fs[t])
                    dWf += df
                return dWf

            cs = [np.zeros(4) for _ in range(5)]
            dWf = lstm_backward(cs, fs, dcs, Wf)
            """,
            at=(4, 18),
        ),
        Invalid(
            """
            def bptt(xs, h0, Wx, Wh):
                hs = list()
                h = h0
                for x in xs:
                    h = np.tanh(Wx @ x + Wh @ h)
                    hs.append(h)
                gWh = np.zeros_like(Wh)
                for k in range(len(xs)):
                    gWh += (1 - hs[k] ** 2) @ hs[k - 1].T
                return gWh
            """,
            at=(9, 35),
            note="An ascending loop reaches t = 0 too.",
        ),
        Invalid(
            """
            def bptt(X, H0, Wx, Wh, G):
                H = []
                h = H0
                for x in X:
                    h = np.tanh(x @ Wx + h @ Wh)
                    H.append(h)
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(X))):
                    dz = G[t] * (1 - H[t] ** 2)
                    dWh += H[t - 1].T @ dz
                return dWh
            """,
            at=(10, 16),
            note="Row convention.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in wraparounds(model):
            yield Report(
                f.node,
                f"at t = 0 `{f.subject}` is the {f.other}'s last element, not the initial state; "
                f"use the initial state at the first step",
                evidence=f.evidence,
            )
