"""An LSTM regressor over a sequence, backpropagated through time by hand.

Column vectors: z_t = [h_{t-1}; x_t], four gates a_g = W_g z_t + b_g (forget, input, output
sigmoids and a tanh candidate), c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t), y_t = Wy h_t + by,
cost = 1/2 sum_t ||y_t - d_t||^2. Every weight is shared by all steps, so the gradients are
summed with +=; the hidden state's and the cell state's gradients are carried to the previous
step.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def init_params(n_in, n_h, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "Wf": rng.standard_normal((n_h, n_h + n_in)) * 0.4,
        "Wi": rng.standard_normal((n_h, n_h + n_in)) * 0.4,
        "Wo": rng.standard_normal((n_h, n_h + n_in)) * 0.4,
        "Wg": rng.standard_normal((n_h, n_h + n_in)) * 0.4,
        "bf": np.ones((n_h, 1)),  # a forget bias of one keeps the cell's memory at the start
        "bi": np.zeros((n_h, 1)),
        "bo": np.zeros((n_h, 1)),
        "bg": np.zeros((n_h, 1)),
        "Wy": rng.standard_normal((n_out, n_h)) * 0.4,
        "by": np.zeros((n_out, 1)),
    }


def forward(params, xs, h0, c0):
    Wf, Wi, Wo, Wg = params["Wf"], params["Wi"], params["Wo"], params["Wg"]
    bf, bi, bo, bg = params["bf"], params["bi"], params["bo"], params["bg"]
    zs, fs, ins, outs, gs, cs, hs, ys = [], [], [], [], [], [], [], []
    h, c = h0, c0
    for x in xs:
        z = np.vstack((h, x))
        f = sigmoid(Wf @ z + bf)
        i = sigmoid(Wi @ z + bi)
        o = sigmoid(Wo @ z + bo)
        g = np.tanh(Wg @ z + bg)
        c = f * c + i * g
        h = o * np.tanh(c)
        zs.append(z)
        fs.append(f)
        ins.append(i)
        outs.append(o)
        gs.append(g)
        cs.append(c)
        hs.append(h)
        ys.append(params["Wy"] @ h + params["by"])
    return zs, fs, ins, outs, gs, cs, hs, ys


def cost(params, xs, ds, h0, c0):
    ys = forward(params, xs, h0, c0)[-1]
    return 0.5 * sum(float(np.sum((y - d) ** 2)) for y, d in zip(ys, ds))


def backward(params, xs, ds, h0, c0):
    """The gradients of every parameter, in a dict with the parameters' keys."""
    Wf, Wi, Wo, Wg, Wy = params["Wf"], params["Wi"], params["Wo"], params["Wg"], params["Wy"]
    n_h = Wf.shape[0]
    zs, fs, ins, outs, gs, cs, hs, ys = forward(params, xs, h0, c0)
    dWf, dWi, dWo, dWg = np.zeros_like(Wf), np.zeros_like(Wi), np.zeros_like(Wo), np.zeros_like(Wg)
    dbf, dbi = np.zeros_like(params["bf"]), np.zeros_like(params["bi"])
    dbo, dbg = np.zeros_like(params["bo"]), np.zeros_like(params["bg"])
    dWy, dby = np.zeros_like(Wy), np.zeros_like(params["by"])
    dh_next = np.zeros_like(h0)
    dc_next = np.zeros_like(c0)
    for t in reversed(range(len(xs))):
        dy = ys[t] - ds[t]
        dWy += dy @ hs[t].T
        dby += dy
        dh = Wy.T @ dy + dh_next
        tanh_c = np.tanh(cs[t])
        c_prev = cs[t - 1] if t > 0 else c0
        dc = dc_next + dh * outs[t] * (1 - tanh_c**2)
        do = dh * tanh_c * outs[t] * (1 - outs[t])
        df = dc * c_prev * fs[t] * (1 - fs[t])
        di = dc * gs[t] * ins[t] * (1 - ins[t])
        dg = dc * ins[t] * (1 - gs[t] ** 2)
        dWf += df @ zs[t].T
        dbf += df
        dWi += di @ zs[t].T
        dbi += di
        dWo += do @ zs[t].T
        dbo += do
        dWg += dg @ zs[t].T
        dbg += dg
        dz = Wf.T @ df + Wi.T @ di + Wo.T @ do + Wg.T @ dg
        dh_next = dz[:n_h]
        dc_next = dc * fs[t]
    return {
        "Wf": dWf,
        "Wi": dWi,
        "Wo": dWo,
        "Wg": dWg,
        "bf": dbf,
        "bi": dbi,
        "bo": dbo,
        "bg": dbg,
        "Wy": dWy,
        "by": dby,
    }


def train(xs, ds, n_h=6, learning_rate=0.05, epochs=200):
    params = init_params(xs[0].shape[0], n_h, ds[0].shape[0])
    h0, c0 = np.zeros((n_h, 1)), np.zeros((n_h, 1))
    for epoch in range(epochs):
        grads = backward(params, xs, ds, h0, c0)
        for k in params:
            params[k] -= learning_rate * grads[k]
        if epoch % 50 == 0:
            print(f"epoch {epoch}: cost {cost(params, xs, ds, h0, c0):.4f}")
    return params


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((2, 1)) for _ in range(6)]
    ds = [np.tanh(np.cumsum([x[0, 0] for x in xs[: t + 1]])).reshape(1, 1) for t in range(6)]
    train(xs, ds)
