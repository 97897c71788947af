"""BP604 bptt-recurrent-jacobian-missing."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.recurrent import uncarried_recurrences
from linter.rule import Invalid, Report, Rule, Valid


class BpttRecurrentJacobianMissing(Rule):
    """Flags a gradient a BPTT loop carries from step to step without ever multiplying it by the
    recurrent weight (the weight whose gradient takes the previous state)."""

    code = "BP604"
    prefilter = (P.TIME_LOOP, P.ZEROS)
    name = "bptt-recurrent-jacobian-missing"
    kb = "bptt-carries-gradient-through-time"
    summary = "The carried hidden-state gradient never goes through the recurrent weight."
    why = (
        "h_t reaches h_{t+1} through W_h and the activation, so the gradient carried to step t "
        "is W_hᵀ(dh_{t+1} ⊙ f′). A carry that only adds up later steps' output errors "
        "(`dh += W_yᵀ dy_t`) skips that Jacobian: the recurrent and input weights get wrong "
        "gradients at every step but the last."
    )
    instead = (
        "Recompute the carry every step through the recurrent weight: "
        "`dh_next = W_h.T @ (dh * (1 - h[t] ** 2))`."
    )
    known_problems = (
        "The recurrent weight is the one whose zero-initialised gradient (`np.zeros_like(W)`) is "
        "summed with the previous state `S[t - 1]`; the loop body must call no helper of the "
        "module (it could apply the weight)."
    )
    valid = [
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh, Wy):
                dWh = np.zeros_like(Wh)
                dh_next = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dz = (Wy.T @ dys[t] + dh_next) * (1 - hs[t] ** 2)
                    dWh += np.outer(dz, hs[t - 1])
                    dh_next = Wh.T @ dz
                return dWh
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wx, Wh, Wy):
                dWh = np.zeros_like(Wh)
                dh = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh += Wy.T @ dys[t]
                    dz = dh * (1 - hs[t] ** 2)
                    dWh += np.outer(dz, hs[t - 1])
                    dh = np.dot(Wh.T, dz)
                return dWh
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wh, step_back):
                dWh = np.zeros_like(Wh)
                dh = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dz = (dys[t] + dh) * (1 - hs[t] ** 2)
                    dWh += np.outer(dz, hs[t - 1])
                    dh = step_back(dz)
                return dWh
            """,
            note="A helper may apply Wh.",
        ),
        Valid(
            """
            def grads(xs, dys, Wx):
                dWx = np.zeros_like(Wx)
                total = np.zeros_like(dys[0])
                for t in reversed(range(len(xs))):
                    total += dys[t]
                    dWx += np.outer(total, xs[t])
                return dWx
            """,
            note="No previous state: not a recurrent weight.",
        ),
        Valid(
            """
            class RNN:
                def backward(self, xs, hs, dys):
                    dWh = np.zeros_like(self.Wh)
                    carry = np.zeros_like(hs[0])
                    for t in reversed(range(len(xs))):
                        dz = (self.Wy.T @ dys[t] + carry) * (1 - hs[t] ** 2)
                        dWh += np.outer(dz, hs[t - 1])
                        carry = self.Wh.T @ dz
                    self.Wh -= 0.1 * dWh
            """
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wh):
                dWh = np.zeros_like(Wh)
                for t in reversed(range(len(xs))):
                    dz = dys[t] * (1 - hs[t] ** 2)
                    dWh += np.outer(dz, hs[t - 1])
                return dWh
            """,
            note="Truncated to one step: nothing is carried (a different choice, not this bug).",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, params):
                Wh = params[1]
                dWh = np.zeros_like(Wh)
                dh = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dz = (dys[t] + dh) * (1 - hs[t] ** 2)
                    dWh += np.outer(dz, hs[t - 1])
                    dh = params[1].T @ dz
                return dWh
            """,
            note="The weight is applied under another spelling; the rule stays silent when it "
            "cannot tell.",
        ),
        Valid(
            """
            def bptt(xs, hs, dys, Wh, Wy):
                dWh = np.zeros((4, 4))
                dh = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh += Wy.T @ dys[t]
                    dWh += np.outer(dh, hs[t - 1])
                return dWh
            """,
            note="Which weight the gradient belongs to is not known.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def bptt(xs, hs, dys, Wh, Wy):
                dWh = np.zeros_like(Wh)
                dh = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    dh += Wy.T @ dys[t]
                    dz = dh * (1 - hs[t] ** 2)
                    dWh += np.outer(dz, hs[t - 1])
                return dWh
            """,
            at=(5, 9),
        ),
        Invalid(
            """
            class RNN:
                def backward(self, x, y, h, out):
                    T = x.shape[1]
                    dh = np.dot(self.Wy.T, out[-1] - y[:, -1])
                    dWh = np.zeros_like(self.Wh)
                    dWx = np.zeros_like(self.Wx)
                    for t in range(T - 1, -1, -1):
                        err = out[t] - y[:, t]
                        dh += np.dot(self.Wy.T, err)
                        dz = (1 - h[t] * h[t]) * dh
                        dWx += np.outer(dz, x[:, t])
                        dWh += np.outer(dz, h[t - 1])
                    self.Wh -= 0.01 * dWh
                    self.Wx -= 0.01 * dWx
            """,
            at=(9, 13),
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Wh, Wy):
                dWh = np.zeros_like(Wh)
                carry = np.zeros_like(hs[0])
                for t in reversed(range(len(xs))):
                    carry = carry + Wy.T @ dys[t]
                    dWh += np.outer(carry * (1 - hs[t] ** 2), hs[t - 1])
                return dWh
            """,
            at=(5, 9),
        ),
        Invalid(
            """
            dWh = np.zeros_like(Wh)
            dh = np.zeros_like(hs[0])
            for t in reversed(range(len(xs))):
                dh += np.dot(Wy.T, dys[t])
                dWh += np.outer(dh * (1 - hs[t] ** 2), hs[t - 1])
            """,
            at=(4, 5),
        ),
        Invalid(
            """
            def bptt(X, H, G, Wh, Wy):
                gWh = np.zeros_like(Wh)
                g = np.zeros_like(H[0])
                for k in reversed(range(len(X))):
                    g += G[k] @ Wy.T
                    gWh += H[k - 1].T @ (g * (1 - H[k] ** 2))
                return gWh
            """,
            at=(5, 9),
            note="Row convention.",
        ),
        Invalid(
            """
            def bptt(xs, hs, dys, Wx, Wh, Wy):
                dWx = np.zeros_like(Wx)
                dWh = np.zeros_like(Wh)
                dh = np.zeros_like(hs[0])
                for t in range(len(xs) - 1, -1, -1):
                    dh += Wy.T.dot(dys[t])
                    dz = dh * (1 - hs[t] ** 2)
                    dWx += dz.dot(xs[t].T)
                    dWh += dz.dot(hs[t - 1].T)
                return dWx, dWh
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            def bptt(inputs, states, errs, A, B, C):
                gB = np.zeros_like(B)
                back = np.zeros_like(states[0])
                for k in reversed(range(len(inputs))):
                    back += C.T @ errs[k]
                    gB += np.outer(back * (1 - states[k] ** 2), states[k - 1])
                return gB
            """,
            at=(5, 9),
        ),
        Invalid(
            """
            class Recurrent:
                def grads(self, xs, hs, dys):
                    dWh = np.zeros_like(self.Wh)
                    dh = np.zeros_like(hs[0])
                    for t in reversed(range(len(xs))):
                        dh += self.Wy.T @ dys[t]
                        dWh += (dh * (1 - hs[t] ** 2)) @ hs[t - 1].T
                    return dWh
            """,
            at=(6, 13),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in uncarried_recurrences(model):
            yield Report(
                f.node,
                f"`{f.subject}` is carried to the previous step without going through the "
                f"recurrent weight `{f.other}` and the activation's derivative; carry "
                f"`{f.other}.T @ (dh * f′)` instead",
                evidence=f.evidence,
            )
