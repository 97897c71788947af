"""network.py rewritten so a whole mini-batch goes through backprop at once.

The examples of a mini-batch are the columns of X (shape (n_in, m)); the biases are (n, 1)
columns that broadcast across the batch. Quadratic cost, sigmoid neurons.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1.0 - s)


class Network:
    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rng.standard_normal((n, 1)) for n in sizes[1:]]
        self.weights = [rng.standard_normal((n, m)) for m, n in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, X):
        A = X
        for b, w in zip(self.biases, self.weights):
            A = sigmoid(w.dot(A) + b)
        return A

    def cost(self, X, Y):
        """Mean over the batch of ||a - y||^2 / 2."""
        return 0.5 * np.sum((self.feedforward(X) - Y) ** 2) / X.shape[1]

    def backprop(self, X, Y):
        """Gradients of the *summed* cost over the columns of X, as (nabla_b, nabla_w)."""
        activation = X
        activations = [X]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = w.dot(activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)

        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        delta = (activations[-1] - Y) * sigmoid_prime(zs[-1])  # one column per example
        nabla_b[-1] = delta.sum(axis=1, keepdims=True)
        nabla_w[-1] = delta.dot(activations[-2].T)  # sums the outer products over the batch
        for l in range(2, self.num_layers):
            delta = self.weights[-l + 1].T.dot(delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = np.sum(delta, axis=1, keepdims=True)
            nabla_w[-l] = delta.dot(activations[-l - 1].T)
        return nabla_b, nabla_w

    def update_mini_batch(self, X, Y, eta):
        m = X.shape[1]
        nabla_b, nabla_w = self.backprop(X, Y)
        self.weights = [w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    def SGD(self, X, Y, epochs, mini_batch_size, eta, seed=0):
        rng = np.random.default_rng(seed)
        n = X.shape[1]
        for epoch in range(epochs):
            order = rng.permutation(n)
            for k in range(0, n, mini_batch_size):
                cols = order[k : k + mini_batch_size]
                self.update_mini_batch(X[:, cols], Y[:, cols], eta)
            print(f"epoch {epoch}: cost {self.cost(X, Y):.4f}")


if __name__ == "__main__":
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (3, 300))
    Y = np.vstack([X[0] * X[1] > 0, X[2] > 0]).astype(float)
    Network([3, 8, 2]).SGD(X, Y, epochs=20, mini_batch_size=20, eta=2.0)
