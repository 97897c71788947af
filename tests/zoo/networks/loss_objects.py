"""Loss objects with forward/backward seeding the backward pass of a small row-major network.

``MeanSquaredError`` and ``BinaryCrossEntropy`` take probabilities (the network's logits through
a sigmoid) and return the gradient in those probabilities, which the caller multiplies by the
sigmoid's derivative; ``SoftmaxCrossEntropy`` takes the logits, applies its own softmax and
returns the gradient in the logits, p - y over the batch.
"""

import numpy as np


class MeanSquaredError:
    def forward(self, pred, target):
        return np.mean(0.5 * (pred - target) ** 2)

    def backward(self, pred, target):
        return (pred - target) / pred.size


class BinaryCrossEntropy:
    def forward(self, prob, target):
        prob = np.clip(prob, 1e-12, 1 - 1e-12)
        return -np.mean(target * np.log(prob) + (1 - target) * np.log(1 - prob))

    def backward(self, prob, target):
        prob = np.clip(prob, 1e-12, 1 - 1e-12)
        return (prob - target) / (prob * (1 - prob)) / prob.size


class SoftmaxCrossEntropy:
    def forward(self, logits, target):
        self.target = target
        e = np.exp(logits - np.max(logits, axis=1, keepdims=True))
        self.probs = e / np.sum(e, axis=1, keepdims=True)
        return -np.sum(target * np.log(self.probs)) / logits.shape[0]

    def backward(self):
        return (self.probs - self.target) / self.target.shape[0]


class Net:
    def __init__(self, n_in, n_hid, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((n_in, n_hid)) / np.sqrt(n_in)
        self.b1 = np.zeros(n_hid)
        self.W2 = rng.standard_normal((n_hid, n_out)) / np.sqrt(n_hid)
        self.b2 = np.zeros(n_out)

    def forward(self, X):
        self.X = X
        self.H = np.tanh(X @ self.W1 + self.b1)
        return self.H @ self.W2 + self.b2

    def backward(self, dZ):
        """Gradients (dW1, db1, dW2, db2) from the gradient in the logits."""
        dW2 = self.H.T @ dZ
        db2 = dZ.sum(axis=0)
        dA = (dZ @ self.W2.T) * (1 - self.H**2)
        dW1 = self.X.T @ dA
        db1 = dA.sum(axis=0)
        return dW1, db1, dW2, db2


def logits_loss_and_grads(net, loss, X, Y):
    """A loss on the logits: its backward is the gradient in the logits."""
    value = loss.forward(net.forward(X), Y)
    return value, net.backward(loss.backward())


def sigmoid_loss_and_grads(net, loss, X, Y):
    """A loss on sigmoid outputs: its backward times the sigmoid's derivative."""
    prob = 1 / (1 + np.exp(-net.forward(X)))
    value = loss.forward(prob, Y)
    d_prob = loss.backward(prob, Y)
    return value, net.backward(d_prob * prob * (1 - prob))


def train(net, loss, X, Y, lr=0.5, steps=50, on_logits=False):
    step = logits_loss_and_grads if on_logits else sigmoid_loss_and_grads
    history = []
    for _ in range(steps):
        value, grads = step(net, loss, X, Y)
        for p, g in zip((net.W1, net.b1, net.W2, net.b2), grads):
            p -= lr * g
        history.append(value)
    return history
