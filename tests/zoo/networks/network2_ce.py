"""network2.py style: pluggable cost classes, L2 weight decay, scaled weight init.

Each cost class has ``fn(a, y)`` (the cost of one example) and ``delta(z, a, y)`` (the error
dC/dz at the output layer). Column vectors, one example at a time.
"""

import numpy as np


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        # nan_to_num: 0 * log(0) would be nan when a output saturates at the right answer
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        # dC/da = (a - y) / (a (1 - a)) and sigma'(z) = a (1 - a) cancel, so z is not needed
        return a - y


class Network:
    def __init__(self, sizes, cost=CrossEntropyCost, seed=0):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.cost = cost
        self.rng = np.random.default_rng(seed)
        self.default_weight_initializer()

    def default_weight_initializer(self):
        """Gaussian weights with standard deviation 1/sqrt(fan-in), so z starts small."""
        self.biases = [self.rng.standard_normal((y, 1)) for y in self.sizes[1:]]
        self.weights = [
            self.rng.standard_normal((y, x)) / np.sqrt(x)
            for x, y in zip(self.sizes[:-1], self.sizes[1:])
        ]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def total_cost(self, data, lmbda):
        cost = sum(self.cost.fn(self.feedforward(x), y) for x, y in data) / len(data)
        return cost + 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """Gradient step with weight decay; ``n`` is the size of the whole training set."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [
            (1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
            for w, nw in zip(self.weights, nabla_w)
        ]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-l])
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    data = [(x, (x.sum(keepdims=True) > 0).astype(float)) for x in rng.standard_normal((100, 3, 1))]
    net = Network([3, 5, 1])
    for epoch in range(30):
        net.update_mini_batch(data, eta=0.5, lmbda=0.1, n=len(data))
        if epoch % 10 == 0:
            print(f"epoch {epoch}: cost {net.total_cost(data, lmbda=0.1):.4f}")
