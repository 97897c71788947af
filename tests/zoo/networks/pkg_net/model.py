"""A sigmoid network on row-major batches (X is (n_samples, n_features)), squared-error cost."""

import numpy as np

from .activations import sigmoid, sigmoid_prime


def mse(Y_hat, Y):
    """Half the squared error, averaged over the examples (rows)."""
    return 0.5 * np.sum((Y_hat - Y) ** 2) / Y.shape[0]


class Model:
    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = [
            rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])
        ]
        self.biases = [np.zeros(n_out) for n_out in sizes[1:]]

    def predict(self, X):
        a = X
        for W, b in zip(self.weights, self.biases):
            a = sigmoid(a @ W + b)
        return a

    def gradients(self, X, Y):
        """Gradients of ``mse`` with respect to every weight and bias."""
        n = X.shape[0]
        a = X
        activations, zs = [X], []
        for W, b in zip(self.weights, self.biases):
            z = a @ W + b
            a = sigmoid(z)
            zs.append(z)
            activations.append(a)

        grads_W = [np.empty_like(W) for W in self.weights]
        grads_b = [np.empty_like(b) for b in self.biases]
        delta = (a - Y) / n * sigmoid_prime(z)
        for k in range(len(self.weights) - 1, -1, -1):
            grads_W[k] = activations[k].T @ delta
            grads_b[k] = delta.sum(axis=0)
            if k > 0:
                delta = (delta @ self.weights[k].T) * sigmoid_prime(zs[k - 1])
        return grads_W, grads_b

    def fit(self, X, Y, lr=1.0, epochs=100):
        for epoch in range(epochs):
            grads_W, grads_b = self.gradients(X, Y)
            for W, gW in zip(self.weights, grads_W):
                W -= lr * gW
            for b, gb in zip(self.biases, grads_b):
                b -= lr * gb
            if epoch % 25 == 0:
                print(f"epoch {epoch}: mse {mse(self.predict(X), Y):.5f}")
        return self
