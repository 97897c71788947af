"""Binary logistic regression, a single sigmoid unit trained on the cross-entropy.

With p = sigmoid(z) and the cross-entropy, dL/dz = p - y: the sigmoid derivative cancels.
A single unit has no hidden layer, so starting from zero weights is fine (the loss is convex).
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class LogisticRegression:
    def __init__(self, n_features, lr=0.5):
        self.w = np.zeros(n_features)
        self.b = 0.0
        self.lr = lr

    def predict_proba(self, X):
        return sigmoid(X @ self.w + self.b)

    def loss(self, X, y):
        z = X @ self.w + self.b
        # -[y log p + (1 - y) log(1 - p)] = log(1 + e^z) - y z, finite for any z
        return np.mean(np.logaddexp(0.0, z) - y * z)

    def gradients(self, X, y):
        m = X.shape[0]
        a = self.predict_proba(X)
        dz = a - y
        dw = X.T @ dz / m
        db = np.sum(dz) / m
        return dw, db

    def step(self, X, y):
        dw, db = self.gradients(X, y)
        self.w -= self.lr * dw
        self.b -= self.lr * db

    def fit(self, X, y, n_iter=200, verbose=False):
        for i in range(n_iter):
            self.step(X, y)
            if verbose and i % 50 == 0:
                print(f"iter {i}: loss {self.loss(X, y):.4f}")
        return self


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.3 > 0).astype(float)
    clf = LogisticRegression(3).fit(X, y, verbose=True)
    print("accuracy", np.mean((clf.predict_proba(X) > 0.5) == y))
