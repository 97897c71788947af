"""A softmax output layer backpropagated through its full Jacobian, one example at a time.

Column vectors: x is (n_in, 1). Hidden layer sigmoid, output softmax, cross-entropy loss.
Instead of the shortcut dL/dz = p - y, the backward pass chains dL/ds = -y / s through the
Jacobian ds/dz = diag(s) - s s^T, the way it is derived on paper.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def log_softmax(z):
    shifted = z - np.max(z)
    return shifted - np.log(np.sum(np.exp(shifted)))


def softmax_jacobian(s):
    """J[i, j] = ds_i / dz_j = s_i * (delta_ij - s_j), for a column vector s."""
    return np.diagflat(s) - np.dot(s, s.T)


def init_params(n_in, n_hidden, n_out, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((n_hidden, n_in)) * 0.5
    b1 = np.zeros((n_hidden, 1))
    W2 = rng.standard_normal((n_out, n_hidden)) * 0.5
    b2 = np.zeros((n_out, 1))
    return [W1, b1, W2, b2]


def loss(params, x, y):
    """Cross-entropy of one example; y is a one-hot column."""
    W1, b1, W2, b2 = params
    a1 = sigmoid(W1 @ x + b1)
    return -float(np.sum(y * log_softmax(W2 @ a1 + b2)))


def backward(params, x, y):
    W1, b1, W2, b2 = params
    a1 = sigmoid(W1 @ x + b1)
    s = softmax(W2 @ a1 + b2)
    dL_ds = -y / s
    dz2 = softmax_jacobian(s).T @ dL_ds
    dW2 = dz2 @ a1.T
    da1 = W2.T @ dz2
    dz1 = da1 * a1 * (1 - a1)
    dW1 = dz1 @ x.T
    return [dW1, dz1, dW2, dz2]


def train(data, n_hidden=8, lr=0.2, epochs=30, seed=0):
    x0, y0 = data[0]
    params = init_params(x0.shape[0], n_hidden, y0.shape[0], seed)
    for epoch in range(epochs):
        total = 0.0
        for x, y in data:
            total += loss(params, x, y)
            for p, g in zip(params, backward(params, x, y)):
                p -= lr * g
        if epoch % 10 == 0:
            print(f"epoch {epoch}: mean loss {total / len(data):.4f}")
    return params


if __name__ == "__main__":
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((90, 2, 1))
    labels = np.argmax(np.stack([xs[:, 0, 0], xs[:, 1, 0], -xs[:, 0, 0] - xs[:, 1, 0]]), axis=0)
    train([(x, np.eye(3)[:, [k]]) for x, k in zip(xs, labels)])
