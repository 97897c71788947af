"""BP605 gate-bias-gradient-wrong-delta."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.recurrent import misrouted_gate_biases
from linter.rule import Invalid, Report, Rule, Valid


class GateBiasGradientWrongDelta(Rule):
    """Flags a gate's bias gradient taken from another gate's delta: the gates' weight gradients
    share one operand and use one delta each, and the bias gradients do not follow them."""

    code = "BP605"
    prefilter = (P.BASE, f"{P.MATMUL}|{P.OUTER}")
    name = "gate-bias-gradient-wrong-delta"
    kb = "gate-gradients-use-their-own-delta"
    summary = "A gate's bias gradient is taken from another gate's delta."
    why = (
        "Each gate of an LSTM or GRU has its own pre-activation z_g = W_g z + b_g, so its bias "
        "gradient is that gate's delta ∂C/∂z_g, the same delta that forms W_g's gradient. Here "
        "the weight gradients use one delta per gate, but one delta also serves as the bias "
        "gradient of a gate whose weights use another: that bias follows the wrong gate's error, "
        "and the delta of its own gate reaches no bias at all."
    )
    instead = (
        "Take each bias gradient from the delta of its own gate's weight gradient "
        "(`dbi = di` next to `dWi = di @ z.T`)."
    )
    known_problems = (
        "Read within one function: at least two weight gradients formed from one shared operand "
        "(`h_prev`, `z.T`), one delta each, and exactly one bias gradient per delta (a bare "
        "delta or its sum, handed on: returned or gathered, or accumulated with `+=`), each "
        "written right after one weight gradient. A bias gradient whose delta serves two biases "
        "while the weight gradient just above it uses a delta no bias gets is reported; other "
        "layouts (all weights first, a gate with two biases) are not judged."
    )
    valid = [
        Valid(
            """
            def gate_grads(df, di, do, dg, h_prev):
                dWf = np.dot(df, h_prev.T)
                dbf = df
                dWi = np.dot(di, h_prev.T)
                dbi = di
                dWo = np.dot(do, h_prev.T)
                dbo = do
                dWg = np.dot(dg, h_prev.T)
                dbg = dg
                return dWf, dbf, dWi, dbi, dWo, dbo, dWg, dbg
            """
        ),
        Valid(
            """
            def lstm_back(dfs, dis, dos, dgs, zs, Wf):
                dWf, dWi, dWo, dWg = [np.zeros_like(Wf) for _ in range(4)]
                dbf, dbi, dbo, dbg = [np.zeros((Wf.shape[0], 1)) for _ in range(4)]
                for t in reversed(range(len(zs))):
                    df, di, do, dg = dfs[t], dis[t], dos[t], dgs[t]
                    dWo += np.dot(do, zs[t].T)
                    dbo += do
                    dWg += np.dot(dg, zs[t].T)
                    dbg += dg
                    dWi += np.dot(di, zs[t].T)
                    dbi += di
                    dWf += np.dot(df, zs[t].T)
                    dbf += df
                return dWf, dWi, dWo, dWg, dbf, dbi, dbo, dbg
            """
        ),
        Valid(
            """
            def gru_grads(dz, dr, dn, x):
                gWz = x.T @ dz
                gWr = x.T @ dr
                gWn = x.T @ dn
                gbz = np.sum(dz, axis=0)
                gbr = np.sum(dr, axis=0)
                gbn = np.sum(dn, axis=0)
                return gWz, gWr, gWn, gbz, gbr, gbn
            """,
            note="Row convention, the biases summed over the batch after all weights.",
        ),
        Valid(
            """
            def two_biases(df, di, z):
                dWf = np.dot(df, z.T)
                db_ih_f = df
                db_hh_f = df
                dWi = np.dot(di, z.T)
                return dWf, dWi, db_ih_f, db_hh_f
            """,
            note="Two biases on the forget gate's pre-activation, none on the input gate's.",
        ),
        Valid(
            """
            def grads(d1, d2, x):
                dW1 = np.dot(d1, x.T)
                db1 = d1
                dW2 = np.dot(d2, x.T)
                db2 = d1
                db2 = d2
                return dW1, db1, dW2, db2
            """,
            note="The second bias gradient is bound twice: it is not read as handed on once.",
        ),
        Valid(
            """
            def grads(d1, d2, x):
                dW1 = np.dot(d1, x.T)
                db1 = d1
                dW2 = np.dot(d2, x.T)
                scale = d1
                return dW1, db1, dW2, scale * 2
            """,
            note="`scale` is computed with, not handed on: not a bias gradient.",
        ),
        Valid(
            """
            def grads(d, x, W1, W2):
                dW1 = np.dot(d, x.T)
                db1 = d
                d = np.dot(W1.T, d)
                dW2 = np.dot(d, x.T)
                db2 = d
                return dW1, db1, dW2, db2
            """,
            note="The same spelling, a rebound value.",
        ),
        Valid(
            """
            def grads(df, di, do, h):
                dWf = np.outer(df, h)
                dWi = np.outer(di, h)
                dbf = df
                dbi = df
                dWo = np.outer(do, h)
                dbo = do
                return dWf, dWi, dWo, dbf, dbi, dbo
            """,
            note="Which of two bias gradients is misplaced cannot be told from the order.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def gate_grads(df, di, do, dg, h_prev):
                dWf = np.dot(df, h_prev.T)
                dbf = df
                dWi = np.dot(di, h_prev.T)
                dbi = df
                dWo = np.dot(do, h_prev.T)
                dbo = do
                dWg = np.dot(dg, h_prev.T)
                dbg = dg
                return dWf, dbf, dWi, dbi, dWo, dbo, dWg, dbg
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            class Lstm:
                def grads_at(self, t):
                    h_prev = self.hs[t - 1].T
                    gWf = np.dot(self.df[t], h_prev)
                    gbf = self.df[t]
                    gWi = np.dot(self.di[t], h_prev)
                    gbi = self.df[t]
                    gWo = np.dot(self.do[t], h_prev)
                    gbo = self.df[t]
                    gWc = np.dot(self.dc[t], h_prev)
                    gbc = self.dc[t]
                    return gWf, gbf, gWi, gbi, gWo, gbo, gWc, gbc
            """,
            at=[(7, 9), (9, 9)],
        ),
        Invalid(
            """
            def lstm_back(dfs, dis, dos, dgs, zs, Wf):
                dWf, dWi, dWo, dWg = [np.zeros_like(Wf) for _ in range(4)]
                dbf, dbi, dbo, dbg = [np.zeros((Wf.shape[0], 1)) for _ in range(4)]
                for t in reversed(range(len(zs))):
                    df, di, do, dg = dfs[t], dis[t], dos[t], dgs[t]
                    dWo += np.dot(do, zs[t].T)
                    dbo += do
                    dWg += np.dot(dg, zs[t].T)
                    dbg += do
                    dWi += np.dot(di, zs[t].T)
                    dbi += di
                    dWf += np.dot(df, zs[t].T)
                    dbf += df
                return dWf, dWi, dWo, dWg, dbf, dbi, dbo, dbg
            """,
            at=(9, 9),
        ),
        Invalid(
            """
            def gru_grads(dz, dr, dn, x):
                gWz = x.T @ dz
                gbz = np.sum(dz, axis=0)
                gWr = x.T @ dr
                gbr = np.sum(dz, axis=0)
                gWn = x.T @ dn
                gbn = np.sum(dn, axis=0)
                return gWz, gWr, gWn, gbz, gbr, gbn
            """,
            at=(5, 5),
            note="Row convention, biases summed over the batch.",
        ),
        Invalid(
            """
            class Cell:
                def backward(self, df, di, z):
                    self.dWf += df.dot(z.T)
                    self.dbf += df
                    self.dWi += di.dot(z.T)
                    self.dbi += df
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            def grads(d_forget, d_input, d_cand, d_out, xh):
                W_f_d = np.outer(d_forget, xh)
                b_f_d = d_forget
                W_i_d = np.outer(d_input, xh)
                b_i_d = d_input
                W_c_d = np.outer(d_cand, xh)
                b_c_d = d_cand
                W_o_d = np.outer(d_out, xh)
                b_o_d = d_cand
                return [W_f_d, W_i_d, W_c_d, W_o_d], [b_f_d, b_i_d, b_c_d, b_o_d]
            """,
            at=(9, 5),
            note="The bias gradients gathered in a list.",
        ),
        Invalid(
            """
            def backward_step(cache, dz_gates):
                df, di = dz_gates
                x_h = cache["x_h"]
                grads = {}
                dW_f = np.matmul(df, x_h.T)
                db_f = np.sum(df, axis=1, keepdims=True)
                dW_i = np.matmul(di, x_h.T)
                db_i = np.sum(df, axis=1, keepdims=True)
                return dW_f, db_f, dW_i, db_i
            """,
            at=(8, 5),
        ),
        Invalid(
            """
            def cell_grads(dr, du, dc, hx):
                dWr = dr @ hx.T
                dbr = np.sum(dr, axis=1, keepdims=True)
                dWu = du @ hx.T
                dbu = np.sum(dr, axis=1, keepdims=True)
                dWc = dc @ hx.T
                dbc = np.sum(dc, axis=1, keepdims=True)
                return dWr, dWu, dWc, dbr, dbu, dbc
            """,
            at=(5, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in misrouted_gate_biases(model):
            yield Report(
                f.node,
                f"this bias gradient is taken from `{f.subject}`, the delta of another gate; the "
                f"weight gradient just above uses `{f.other}`, which no bias gradient receives: "
                f"take the bias gradient from `{f.other}`",
                evidence=f.evidence,
            )
