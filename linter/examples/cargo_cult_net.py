"""A small two-layer sigmoid network with two cargo-culted backward passes.

Shipped with bplint as the README's example: `bplint check linter/examples/`. It runs without
any error and trains a little, but both backward passes compute a wrong gradient for the hidden
layer. The 5x5 hidden layer is square, so no shape error gives the bugs away.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


class TwoLayerNet:
    def __init__(self, sizes=(5, 5, 5), seed=0):
        rng = np.random.default_rng(seed)
        self.weights = [rng.standard_normal((m, n)) for n, m in zip(sizes[:-1], sizes[1:])]
        self.biases = [rng.standard_normal((m, 1)) for m in sizes[1:]]

    def feedforward(self, a):
        zs, activations = [], [a]
        for w, b in zip(self.weights, self.biases):
            z = np.dot(w, a) + b
            a = sigmoid(z)
            zs.append(z)
            activations.append(a)
        return zs, activations

    def backprop(self, x, y):
        zs, activations = self.feedforward(x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        # "undo" the output layer to get the hidden error
        hidden = np.dot(np.linalg.pinv(self.weights[1]), delta) * sigmoid_prime(zs[0])
        return [np.dot(hidden, activations[0].T), np.dot(delta, activations[1].T)]

    def backprop_v2(self, x, y):
        zs, activations = self.feedforward(x)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        # "send the error back through the weights"
        hidden = np.dot(self.weights[1], delta) * sigmoid_prime(zs[0])
        return [np.dot(hidden, activations[0].T), np.dot(delta, activations[1].T)]

    def train(self, x, y, eta=0.5, epochs=10):
        for _ in range(epochs):
            nabla_w = self.backprop(x, y)
            self.weights = [w - eta * nw for w, nw in zip(self.weights, nabla_w)]
