"""A row-major multilayer perceptron: a batch X is (n_samples, n_features), Z = X @ W + b.

Sigmoid hidden layers, linear output layer. ``backward(dY)`` takes dL/dY for the output of the
last ``forward`` call, stores dW and db for every layer and returns dL/dX.
"""

import numpy as np


def sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))


class MLP:
    def __init__(self, layer_sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.W = []
        self.b = []
        for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            self.W.append(rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=(fan_in, fan_out)))
            self.b.append(np.zeros(fan_out))

    def forward(self, X):
        self.inputs = []  # the input of every layer
        self.preacts = []  # Z of every layer
        self.outputs = []  # activation of every layer
        A = X
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            self.inputs.append(A)
            Z = A @ W + b
            A = Z if i == last else sigmoid(Z)
            self.preacts.append(Z)
            self.outputs.append(A)
        return A

    def backward(self, dY):
        self.dW = [None] * len(self.W)
        self.db = [None] * len(self.b)
        dZ = dY  # the output layer is linear, so dL/dZ = dL/dY there
        for i in reversed(range(len(self.W))):
            A_prev = self.inputs[i]
            self.dW[i] = A_prev.T @ dZ
            self.db[i] = dZ.sum(axis=0)
            dA_prev = dZ @ self.W[i].T
            if i > 0:  # through the sigmoid of the layer below: sigma' = A * (1 - A)
                dZ = dA_prev * self.outputs[i - 1] * (1.0 - self.outputs[i - 1])
        return dA_prev

    def step(self, lr):
        for W, dW, b, db in zip(self.W, self.dW, self.b, self.db):
            W -= lr * dW
            b -= lr * db


def mse(Y_hat, Y):
    return np.mean((Y_hat - Y) ** 2)


def mse_grad(Y_hat, Y):
    return 2.0 * (Y_hat - Y) / Y.size


def train_step(model, X, Y, lr):
    loss = mse(model.forward(X), Y)
    model.backward(mse_grad(model.outputs[-1], Y))
    model.step(lr)
    return loss


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(256, 2))
    Y = np.stack([np.sin(X[:, 0]) * np.cos(X[:, 1]), X[:, 0] * X[:, 1] / 4], axis=1)
    model = MLP([2, 16, 16, 2])
    for epoch in range(200):
        loss = train_step(model, X, Y, lr=0.5)
        if epoch % 50 == 0:
            print(f"epoch {epoch:3d}  mse {loss:.5f}")
