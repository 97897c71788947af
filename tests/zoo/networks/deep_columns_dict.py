"""An L-layer network in the style of the deep-learning course notebooks.

Parameters live in a dict ("W1", "b1", ...); examples are the columns of X (n_x, m); every
forward step returns a cache and the backward pass walks the list of caches in reverse.
[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, binary cross-entropy cost.
"""

import numpy as np


def initialize_parameters_deep(layer_dims, seed=3):
    rng = np.random.default_rng(seed)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        scale = 1 / np.sqrt(layer_dims[l - 1])
        parameters["W" + str(l)] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * scale
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def sigmoid(Z):
    A = 1 / (1 + np.exp(-Z))
    return A, Z


def relu(Z):
    A = np.maximum(0, Z)
    return A, Z


def relu_backward(dA, cache):
    Z = cache
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0  # the gradient only flows where the unit was active
    return dZ


def sigmoid_backward(dA, cache):
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    return dZ


def linear_activation_forward(A_prev, W, b, activation):
    Z = np.dot(W, A_prev) + b
    linear_cache = (A_prev, W, b)
    A, activation_cache = sigmoid(Z) if activation == "sigmoid" else relu(Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(
            A, parameters["W" + str(l)], parameters["b" + str(l)], "relu"
        )
        caches.append(cache)
    AL, cache = linear_activation_forward(
        A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid"
    )
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -1 / m * np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))
    return float(np.squeeze(cost))


def linear_backward(dZ, cache):
    A_prev, W, _b = cache
    m = A_prev.shape[1]
    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    # derivative of the cost with respect to AL; sigmoid_backward then applies sigma'(Z)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    linear_cache, activation_cache = caches[L - 1]
    dZ = sigmoid_backward(dAL, activation_cache)
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_backward(
        dZ, linear_cache
    )
    for l in reversed(range(L - 1)):
        linear_cache, activation_cache = caches[l]
        dZ = relu_backward(grads["dA" + str(l + 1)], activation_cache)
        dA_prev, dW, db = linear_backward(dZ, linear_cache)
        grads["dA" + str(l)] = dA_prev
        grads["dW" + str(l + 1)] = dW
        grads["db" + str(l + 1)] = db
    return grads


def update_parameters(parameters, grads, learning_rate):
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] = (
            parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        )
        parameters["b" + str(l + 1)] = (
            parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
        )
    return parameters


def L_layer_model(X, Y, layers_dims, learning_rate=0.1, num_iterations=1000, print_cost=False):
    parameters = initialize_parameters_deep(layers_dims)
    for i in range(num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)
        if print_cost and i % 200 == 0:
            print(f"Cost after iteration {i}: {cost:.4f}")
    return parameters


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 200))
    Y = (X[0:1] * X[1:2] > 0).astype(float)
    L_layer_model(X, Y, [3, 8, 4, 1], learning_rate=0.3, print_cost=True)
