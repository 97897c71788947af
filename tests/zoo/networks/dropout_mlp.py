"""A row-major MLP with inverted dropout on its tanh hidden layer.

The mask keeps a hidden unit with probability ``keep`` and the kept units are divided by
``keep``, so the mean training-time hidden layer is the test-time one; backward multiplies by the
same mask and scale. The mask comes from numpy's global generator, so seeding it before a forward
pass fixes the mask (as a gradient check must).
"""

import numpy as np


class DropoutMLP:
    def __init__(self, n_in, n_hid, n_out, keep=0.8, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((n_in, n_hid)) / np.sqrt(n_in)
        self.b1 = np.zeros(n_hid)
        self.W2 = rng.standard_normal((n_hid, n_out)) / np.sqrt(n_hid)
        self.b2 = np.zeros(n_out)
        self.keep = keep

    def hidden(self, X, train=True):
        self.X = X
        self.A = np.tanh(X @ self.W1 + self.b1)
        if not train:
            return self.A
        self.mask = np.random.rand(*self.A.shape) < self.keep
        return self.A * self.mask / self.keep

    def forward(self, X, train=True):
        self.H = self.hidden(X, train)
        return self.H @ self.W2 + self.b2

    def loss(self, X, Y, train=True):
        self.Y = Y
        self.out = self.forward(X, train)
        return 0.5 * np.sum((self.out - Y) ** 2) / X.shape[0]

    def backward(self):
        """Gradients of the last training-mode loss: (dW1, db1, dW2, db2)."""
        dout = (self.out - self.Y) / self.X.shape[0]
        dW2 = self.H.T @ dout
        db2 = dout.sum(axis=0)
        dH = dout @ self.W2.T
        dA = dH * self.mask / self.keep
        dZ = dA * (1 - self.A**2)
        dW1 = self.X.T @ dZ
        db1 = dZ.sum(axis=0)
        return dW1, db1, dW2, db2

    def step(self, X, Y, lr=0.1):
        loss = self.loss(X, Y)
        for p, g in zip((self.W1, self.b1, self.W2, self.b2), self.backward()):
            p -= lr * g
        return loss
