"""Regression with one sigmoid hidden layer, with a gradient check before training starts.

Per-example backprop on 1-D vectors (x has shape (n_in,)); the batch gradient is the mean of
the per-example gradients of 0.5 * ||y_hat - y||^2. ``numerical_gradient`` uses centred
differences, and ``train`` refuses to start if backprop disagrees with it.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


def init_params(n_in, n_hidden, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((n_hidden, n_in)),
        "b1": rng.standard_normal(n_hidden) * 0.1,
        "W2": rng.standard_normal((n_out, n_hidden)) / np.sqrt(n_hidden),
        "b2": np.zeros(n_out),
    }


def cost(params, X, Y):
    total = 0.0
    for x, y in zip(X, Y):
        h = sigmoid(params["W1"] @ x + params["b1"])
        y_hat = params["W2"] @ h + params["b2"]  # linear output
        total += 0.5 * np.sum((y_hat - y) ** 2)
    return total / len(X)


def backprop(params, X, Y):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for x, y in zip(X, Y):
        z1 = params["W1"] @ x + params["b1"]
        h = sigmoid(z1)
        y_hat = params["W2"] @ h + params["b2"]
        delta2 = y_hat - y
        delta1 = (params["W2"].T @ delta2) * sigmoid_prime(z1)
        grads["W2"] += np.outer(delta2, h)
        grads["b2"] += delta2
        grads["W1"] += np.outer(delta1, x)
        grads["b1"] += delta1
    return {k: g / len(X) for k, g in grads.items()}


def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of the scalar function f() with respect to array x."""
    grad = np.zeros_like(x)
    fx = f()  # the unperturbed value, handed back for logging
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        fxph = f()
        x[idx] = old - h
        fxmh = f()
        x[idx] = old
        grad[idx] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad, fx


def gradient_check(params, X, Y):
    """Worst relative error between backprop and numerical gradients over the parameters."""
    analytic = backprop(params, X, Y)
    worst = 0.0
    for name, p in params.items():
        numeric, _ = numerical_gradient(lambda: cost(params, X, Y), p)
        err = np.linalg.norm(analytic[name] - numeric) / (
            np.linalg.norm(analytic[name]) + np.linalg.norm(numeric)
        )
        worst = max(worst, err)
    return worst


def train(X, Y, n_hidden=6, lr=0.5, epochs=200, check=True):
    params = init_params(X.shape[1], n_hidden, Y.shape[1])
    if check:
        err = gradient_check(params, X[:5], Y[:5])
        print(f"gradient check: relative error {err:.2e}")
        if err > 1e-6:
            raise RuntimeError("backprop does not match the numerical gradient")
    for epoch in range(epochs):
        grads = backprop(params, X, Y)
        for name in params:
            params[name] -= lr * grads[name]
        if epoch % 50 == 0:
            print(f"epoch {epoch}: cost {cost(params, X, Y):.5f}")
    return params


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (100, 2))
    Y = np.stack([X[:, 0] ** 2 - X[:, 1], np.sin(2 * X[:, 1])], axis=1)
    train(X, Y)
