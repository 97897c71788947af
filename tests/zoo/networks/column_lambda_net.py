"""A column-vector network in a style many tutorials share: weights ``wih`` (hidden x input) and
``who`` (output x hidden), the activation held in a lambda, one example per call to ``train``,
and no cost computed anywhere.

The output error is written target - output, so both updates add. The cost is the quadratic
0.5 * ||t - o||^2: the output update's factor o(1 - o) says so, and the hidden layer is sent the
output *delta*, who.T @ ((t - o) * o * (1 - o)), not the raw error.
"""

import numpy as np


class ColumnNet:
    def __init__(self, n_in, n_hidden, n_out, learning_rate, seed=0):
        rng = np.random.default_rng(seed)
        self.wih = rng.normal(0.0, n_in**-0.5, (n_hidden, n_in))
        self.who = rng.normal(0.0, n_hidden**-0.5, (n_out, n_hidden))
        self.lr = learning_rate
        self.act = lambda v: 1.0 / (1.0 + np.exp(-v))

    def query(self, x_list):
        x = np.array(x_list, ndmin=2).T
        h = self.act(np.dot(self.wih, x))
        return self.act(np.dot(self.who, h))

    def train(self, x_list, t_list):
        x = np.array(x_list, ndmin=2).T
        t = np.array(t_list, ndmin=2).T
        h = self.act(np.dot(self.wih, x))
        o = self.act(np.dot(self.who, h))
        out_err = t - o
        out_delta = out_err * o * (1.0 - o)
        hidden_err = np.dot(self.who.T, out_delta)
        self.who += self.lr * np.dot(out_delta, h.T)
        self.wih += self.lr * np.dot(hidden_err * h * (1.0 - h), x.T)


if __name__ == "__main__":
    rng = np.random.default_rng(3)
    net = ColumnNet(3, 5, 2, learning_rate=0.3)
    samples = rng.uniform(-1.0, 1.0, size=(200, 3))
    targets = np.stack([samples[:, 0] > 0, samples[:, 1] * samples[:, 2] > 0], axis=1) * 0.8 + 0.1
    for _epoch in range(30):
        for x, t in zip(samples, targets):
            net.train(x, t)
    err = np.mean(
        [np.sum((np.array(t, ndmin=2).T - net.query(x)) ** 2) for x, t in zip(samples, targets)]
    )
    print(f"mean squared error {err:.4f}")
