"""A tanh RNN regressor whose backward pass runs in two passes.

Column vectors: h_t = tanh(Wx x_t + Wh h_{t-1} + b), y_t = V h_t, cost = 1/2 sum_t ||y_t - d_t||^2.
The first pass goes back through time and stores each step's delta dz_t = dC/d(Wx x_t + Wh h_{t-1}
+ b); the second sums the shared weights' gradients over every step from those deltas.
"""

import numpy as np


class TwoPassRNN:
    def __init__(self, n_in, n_h, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.Wx = rng.standard_normal((n_h, n_in)) * 0.5
        self.Wh = rng.standard_normal((n_h, n_h)) * 0.5
        self.b = np.zeros((n_h, 1))
        self.V = rng.standard_normal((n_out, n_h)) * 0.5
        self.h0 = np.zeros((n_h, 1))

    def forward(self, xs):
        self.xs, self.h_prevs, self.hs = xs, [], []
        h = self.h0
        for x in xs:
            self.h_prevs.append(h)
            h = np.tanh(self.Wx @ x + self.Wh @ h + self.b)
            self.hs.append(h)
        return [self.V @ h for h in self.hs]

    def cost(self, xs, ds):
        return 0.5 * sum(float(np.sum((y - d) ** 2)) for y, d in zip(self.forward(xs), ds))

    def deltas(self, ys, ds):
        """First pass: each step's delta, from the last step back to the first."""
        T = len(ys)
        self.dzs = [None] * T
        dh_next = np.zeros_like(self.h0)
        for k in range(T - 1, -1, -1):
            dh = self.V.T @ (ys[k] - ds[k]) + dh_next
            self.dzs[k] = dh * (1 - self.hs[k] ** 2)
            dh_next = self.Wh.T @ self.dzs[k]

    def backward(self, ys, ds):
        """The gradients of Wx, Wh, b and V, each summed over every step."""
        self.deltas(ys, ds)
        dWx, dWh = np.zeros_like(self.Wx), np.zeros_like(self.Wh)
        db, dV = np.zeros_like(self.b), np.zeros_like(self.V)
        for t in range(len(ys)):
            dWx += np.dot(self.dzs[t], self.xs[t].T)
            dWh += np.dot(self.dzs[t], self.h_prevs[t].T)
            db += self.dzs[t]
            dV += np.dot(ys[t] - ds[t], self.hs[t].T)
        return dWx, dWh, db, dV

    def step(self, xs, ds, learning_rate=0.05):
        dWx, dWh, db, dV = self.backward(self.forward(xs), ds)
        self.Wx -= learning_rate * dWx
        self.Wh -= learning_rate * dWh
        self.b -= learning_rate * db
        self.V -= learning_rate * dV


if __name__ == "__main__":
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((3, 1)) for _ in range(6)]
    ds = [np.sin(np.sum(xs[t])).reshape(1, 1) for t in range(6)]
    net = TwoPassRNN(3, 5, 1)
    for epoch in range(200):
        net.step(xs, ds)
        if epoch % 50 == 0:
            print(f"epoch {epoch}: cost {net.cost(xs, ds):.4f}")
