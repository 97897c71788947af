"""A dropout layer object between dense layers, each with forward/backward(grad).

The dropout layer draws its mask from numpy's global generator in forward and saves it; its
backward multiplies the upstream gradient by that saved mask and 1/keep. Seeding the generator
before a forward pass fixes the mask, as a gradient check must.
"""

import numpy as np


class Dense:
    def __init__(self, n_in, n_out, rng):
        self.W = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW = self.x.T @ grad
        self.db = grad.sum(axis=0)
        return grad @ self.W.T


class Tanh:
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out**2)


class Dropout:
    def __init__(self, keep):
        self.keep = keep

    def forward(self, x):
        self.mask = np.random.rand(*x.shape) < self.keep
        return x * self.mask / self.keep

    def backward(self, grad):
        return grad * self.mask / self.keep


class Model:
    def __init__(self, n_in, n_hid, n_out, keep=0.7, seed=0):
        rng = np.random.default_rng(seed)
        self.dense = [Dense(n_in, n_hid, rng), Dense(n_hid, n_out, rng)]
        self.layers = [self.dense[0], Tanh(), Dropout(keep), self.dense[1]]

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad
