"""A two-layer tanh network trained one example at a time, with 1-D numpy vectors.

x is a vector of shape (n_in,), W1 is (n_hidden, n_in), W2 is (n_out, n_hidden); the output
layer is tanh too (targets lie in (-1, 1)) and the cost is 0.5 * ||y_hat - y||^2.
"""

import numpy as np


def init(n_in, n_hidden, n_out, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((n_hidden, n_in)) / np.sqrt(n_in)
    b1 = np.zeros(n_hidden)
    W2 = rng.standard_normal((n_out, n_hidden)) / np.sqrt(n_hidden)
    b2 = np.zeros(n_out)
    return [W1, b1, W2, b2]


def forward(params, x):
    W1, b1, W2, b2 = params
    z1 = W1 @ x + b1
    a1 = np.tanh(z1)
    z2 = W2 @ a1 + b2
    y_hat = np.tanh(z2)
    return z1, a1, z2, y_hat


def loss(params, x, y):
    y_hat = forward(params, x)[-1]
    return 0.5 * np.sum((y_hat - y) ** 2)


def backprop(params, x, y):
    """Gradients [dW1, db1, dW2, db2] of the cost of one example."""
    W1, b1, W2, b2 = params
    # forward pass again, keeping the intermediate values
    z1 = W1 @ x + b1
    a1 = np.tanh(z1)
    z2 = W2 @ a1 + b2
    y_hat = np.tanh(z2)
    # tanh'(z) = 1 - tanh(z)^2, and tanh(z) is what the forward pass kept
    delta2 = (y_hat - y) * (1 - y_hat**2)
    dh = W2.T @ delta2
    delta1 = dh * (1 - a1**2)
    dW2 = np.outer(delta2, a1)
    dW1 = np.outer(delta1, x)
    return [dW1, delta1, dW2, delta2]


def sgd_epoch(params, X, Y, lr=0.05):
    total = 0.0
    for x, y in zip(X, Y):
        total += loss(params, x, y)
        for p, g in zip(params, backprop(params, x, y)):
            p -= lr * g
    return total / len(X)


if __name__ == "__main__":
    rng = np.random.default_rng(7)
    X = rng.uniform(-1, 1, size=(200, 3))
    Y = np.tanh(np.stack([X[:, 0] - X[:, 1], X[:, 1] * X[:, 2]], axis=1))
    params = init(3, 8, 2)
    for epoch in range(20):
        mean_loss = sgd_epoch(params, X, Y)
        if epoch % 5 == 0:
            print(f"epoch {epoch}: {mean_loss:.5f}")
