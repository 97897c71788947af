"""A recurrent layer object for sequence regression, with a linear read-out at every step.

Column vectors: h_t = tanh(Wx x_t + Wh h_{t-1} + b), y_t = V h_t, cost = 1/2 sum_t ||y_t - d_t||^2.
forward keeps the hidden states in a Python list (hs[t] is the state after step t; the initial
state h0 is kept apart), backward runs backpropagation through time over every step.
"""

import numpy as np


class RNNRegressor:
    def __init__(self, n_in, n_hidden, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.Wx = rng.standard_normal((n_hidden, n_in)) * 0.5
        self.Wh = rng.standard_normal((n_hidden, n_hidden)) * 0.5
        self.b = np.zeros((n_hidden, 1))
        self.V = rng.standard_normal((n_out, n_hidden)) * 0.5
        self.h0 = np.zeros((n_hidden, 1))

    def forward(self, xs):
        self.xs = xs
        self.hs = []
        h = self.h0
        for x in xs:
            h = np.tanh(self.Wx @ x + self.Wh @ h + self.b)
            self.hs.append(h)
        return [self.V @ h for h in self.hs]

    def cost(self, xs, ds):
        ys = self.forward(xs)
        return 0.5 * sum(float(np.sum((y - d) ** 2)) for y, d in zip(ys, ds))

    def backward(self, ys, ds):
        """Gradients of the cost for the sequence last seen by forward."""
        dWx, dWh = np.zeros_like(self.Wx), np.zeros_like(self.Wh)
        db, dV = np.zeros_like(self.b), np.zeros_like(self.V)
        dh_next = np.zeros_like(self.h0)
        for t in reversed(range(len(self.xs))):
            dy = ys[t] - ds[t]
            dV += dy @ self.hs[t].T
            dh = self.V.T @ dy + dh_next
            dz = dh * (1 - self.hs[t] ** 2)
            h_prev = self.hs[t - 1] if t > 0 else self.h0
            dWx += dz @ self.xs[t].T
            dWh += dz @ h_prev.T
            db += dz
            dh_next = self.Wh.T @ dz
        return dWx, dWh, db, dV

    def train_step(self, xs, ds, lr=0.05):
        ys = self.forward(xs)
        dWx, dWh, db, dV = self.backward(ys, ds)
        self.Wx -= lr * dWx
        self.Wh -= lr * dWh
        self.b -= lr * db
        self.V -= lr * dV


def make_data(n_steps=6, n_in=3, n_out=2, seed=1):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((n_in, 1)) for _ in range(n_steps)]
    ds = [rng.standard_normal((n_out, 1)) for _ in range(n_steps)]
    return xs, ds


if __name__ == "__main__":
    net = RNNRegressor(3, 5, 2)
    xs, ds = make_data()
    for epoch in range(200):
        net.train_step(xs, ds)
        if epoch % 50 == 0:
            print(epoch, net.cost(xs, ds))
