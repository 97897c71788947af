"""A deep network whose backward pass is one loop over dicts keyed by layer number.

The parameters ("W1", "b1", ...) and the forward values ("A0", "Z1", "A1", ...) are dict entries
whose keys are built in the loops ("W" + str(i)); the backward loop reads layer i's weight from
the parameter dict, keeps each layer's delta next to its forward values ("dZ1", ...) and writes
dW/db of layer i into a gradient dict. Examples are the columns of X; tanh hidden layers, a
sigmoid output with binary cross-entropy (so the output delta is A - Y).
"""

import numpy as np


def init_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for i in range(1, len(sizes)):
        scale = 1 / np.sqrt(sizes[i - 1])
        params["W" + str(i)] = rng.standard_normal((sizes[i], sizes[i - 1])) * scale
        params["b" + str(i)] = np.zeros((sizes[i], 1))
    return params


def forward(X, params, depth):
    values = {"A0": X}
    for i in range(1, depth + 1):
        Z = params["W" + str(i)] @ values["A" + str(i - 1)] + params["b" + str(i)]
        if i < depth:
            A = np.tanh(Z)
        else:
            A = 1 / (1 + np.exp(-Z))
        values["Z" + str(i)] = Z
        values["A" + str(i)] = A
    return values


def cost(values, Y, depth):
    out = values["A" + str(depth)]
    return float(-np.sum(Y * np.log(out) + (1 - Y) * np.log(1 - out)) / Y.shape[1])


def backward(values, Y, params, depth):
    grads = {}
    m = Y.shape[1]
    dZ = values["A" + str(depth)] - Y
    for i in reversed(range(1, depth + 1)):
        values["dZ" + str(i)] = dZ  # kept next to the forward values, for inspection
        grads["dW" + str(i)] = dZ @ values["A" + str(i - 1)].T / m
        grads["db" + str(i)] = np.sum(dZ, axis=1, keepdims=True) / m
        if i > 1:
            dA = params["W" + str(i)].T @ dZ
            dZ = dA * (1 - values["A" + str(i - 1)] ** 2)
    return grads


def update(params, grads, lr, depth):
    for i in range(1, depth + 1):
        params["W" + str(i)] -= lr * grads["dW" + str(i)]
        params["b" + str(i)] -= lr * grads["db" + str(i)]


def train(X, Y, sizes, lr=0.5, epochs=300):
    params = init_params(sizes)
    depth = len(sizes) - 1
    for epoch in range(epochs):
        values = forward(X, params, depth)
        grads = backward(values, Y, params, depth)
        update(params, grads, lr, depth)
        if epoch % 100 == 0:
            print(f"epoch {epoch}: cost {cost(values, Y, depth):.4f}")
    return params


if __name__ == "__main__":
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2, 300))
    Y = ((X[0:1] > 0) != (X[1:2] > 0)).astype(float)
    train(X, Y, [2, 6, 6, 1])
