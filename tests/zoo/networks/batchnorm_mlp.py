"""A two-layer regression network with batch normalisation after the first affine layer.

Rows are examples: Z = X W1 (no bias: batch norm's beta takes its place), Z_hat = BN(Z) = gamma * (Z - mean) / sqrt(var + eps) + beta,
A = tanh(Z_hat), Y = A W2 + b2, cost = 1/(2m) ||Y - T||^2. The batch statistics are computed from
the batch itself, so the backward of BN differentiates through them.
"""

import numpy as np


class BatchNorm:
    def __init__(self, n, eps=1e-5):
        self.gamma = np.ones((1, n))
        self.beta = np.zeros((1, n))
        self.eps = eps

    def forward(self, z):
        self.mu = z.mean(axis=0, keepdims=True)
        self.zc = z - self.mu
        self.sigma2 = np.mean(self.zc**2, axis=0, keepdims=True)
        self.inv = 1.0 / np.sqrt(self.sigma2 + self.eps)
        self.zhat = self.zc * self.inv
        return self.gamma * self.zhat + self.beta

    def backward(self, dout):
        m = dout.shape[0]
        dzhat = dout * self.gamma
        self.dgamma = np.sum(dout * self.zhat, axis=0, keepdims=True)
        self.dbeta = np.sum(dout, axis=0, keepdims=True)
        total = np.sum(dzhat, axis=0, keepdims=True)
        along = self.zhat * np.sum(dzhat * self.zhat, axis=0, keepdims=True)
        dz = self.inv / m * (m * dzhat - total - along)
        return dz


class Net:
    def __init__(self, n_in, n_hidden, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((n_in, n_hidden)) * 0.5
        self.W2 = rng.standard_normal((n_hidden, n_out)) * 0.5
        self.b2 = np.zeros((1, n_out))
        self.bn = BatchNorm(n_hidden)

    def forward(self, X):
        self.X = X
        self.A = np.tanh(self.bn.forward(X @ self.W1))
        return self.A @ self.W2 + self.b2

    def cost(self, X, T):
        return 0.5 * float(np.sum((self.forward(X) - T) ** 2)) / X.shape[0]

    def gradients(self, X, T):
        Y = self.forward(X)
        dY = (Y - T) / X.shape[0]
        dW2 = self.A.T @ dY
        db2 = dY.sum(axis=0, keepdims=True)
        dZ = self.bn.backward((dY @ self.W2.T) * (1 - self.A**2))
        dW1 = self.X.T @ dZ
        return dW1, dW2, db2

    def train_step(self, X, T, lr=0.1):
        dW1, dW2, db2 = self.gradients(X, T)
        self.W1 -= lr * dW1
        self.W2 -= lr * dW2
        self.b2 -= lr * db2
        self.bn.gamma -= lr * self.bn.dgamma
        self.bn.beta -= lr * self.bn.dbeta


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    X, T = rng.standard_normal((16, 4)), rng.standard_normal((16, 2))
    net = Net(4, 5, 2)
    for step in range(100):
        net.train_step(X, T)
        if step % 25 == 0:
            print(step, net.cost(X, T))
