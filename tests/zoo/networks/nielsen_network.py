"""A feedforward network trained by mini-batch stochastic gradient descent.

Written the way network.py is: one example at a time through ``backprop``, column vectors
(an input is an (n, 1) array), sigmoid neurons and the quadratic cost C = ||a - y||^2 / 2.
"""

import random

import numpy as np


class Network:
    def __init__(self, sizes, seed=0):
        """``sizes`` holds the neurons per layer; [2, 3, 1] is 2 inputs, 3 hidden, 1 output.

        Weights and biases start as standard normal draws; the input layer has no biases.
        """
        rng = np.random.default_rng(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """Output of the network for the column vector ``a``."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Shuffle, cut into mini-batches, take one gradient step per mini-batch."""
        training_data = list(training_data)
        n = len(training_data)
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [
                training_data[k : k + mini_batch_size] for k in range(0, n, mini_batch_size)
            ]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                print(f"Epoch {j}: {self.evaluate(test_data)} / {len(test_data)}")

    def update_mini_batch(self, mini_batch, eta):
        """One gradient descent step using the gradient averaged over ``mini_batch``."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost for the single example (x, y).

        Both are lists of arrays shaped like ``self.biases`` and ``self.weights``.
        """
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # forward pass, keeping every z and every activation
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # output layer: delta^L = dC/da * sigma'(z^L)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        # hidden layers, counted from the end: l = 2 is the last hidden layer
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        """Number of test inputs whose largest output is the right class."""
        test_results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations, y):
        """dC/da for the quadratic cost."""
        return output_activations - y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid at the weighted input z."""
    return sigmoid(z) * (1 - sigmoid(z))


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    data = []
    for _ in range(200):
        x = rng.uniform(0, 1, (2, 1))
        label = int(x[0, 0] > x[1, 0])
        data.append((x, np.eye(2)[:, [label]]))
    test = [(x, int(np.argmax(y))) for x, y in data[:50]]
    Network([2, 6, 2]).SGD(data, 10, 10, 3.0, test_data=test)
