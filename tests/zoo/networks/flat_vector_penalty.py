"""A one-hidden-layer sigmoid classifier over a flat parameter vector, in the style of cost and
gradient functions handed to ``scipy.optimize.minimize``.

The bias is column 0 of each weight matrix (inputs get a leading column of ones). The cost is the
mean cross-entropy plus (lam / 2m) times the squared weights without the bias columns, so the
penalty's gradient uses copies of the weights with the bias columns zeroed.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def init_theta(n_in, n_hid, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n_hid * (n_in + 1) + n_out * (n_hid + 1)) * 0.5


def cost(theta, X, Y, lam, n_in, n_hid, n_out):
    split = n_hid * (n_in + 1)
    V1, V2 = theta[:split].reshape(n_hid, n_in + 1), theta[split:].reshape(n_out, n_hid + 1)
    m = X.shape[0]
    hidden = sigmoid(np.hstack([np.ones((m, 1)), X]) @ V1.T)
    out = sigmoid(np.hstack([np.ones((m, 1)), hidden]) @ V2.T)
    data = -np.sum(Y * np.log(out) + (1 - Y) * np.log(1 - out)) / m
    return data + lam / (2 * m) * (np.sum(V1[:, 1:] ** 2) + np.sum(V2[:, 1:] ** 2))


def gradient(theta, X, Y, lam, n_in, n_hid, n_out):
    k = n_hid * (n_in + 1)
    T1 = theta[:k].reshape(n_hid, n_in + 1)
    T2 = theta[k:].reshape(n_out, n_hid + 1)
    m = X.shape[0]
    A1 = np.hstack([np.ones((m, 1)), X])
    Z2 = A1 @ T1.T
    S2 = sigmoid(Z2)
    A2 = np.hstack([np.ones((m, 1)), S2])
    Z3 = A2 @ T2.T
    H = sigmoid(Z3)
    D3 = H - Y
    D2 = (D3 @ T2[:, 1:]) * S2 * (1 - S2)
    P1 = T1.copy()
    P1[:, 0] = 0
    P2 = T2.copy()
    P2[:, 0] = 0
    G1 = (D2.T @ A1 + lam * P1) / m
    G2 = (D3.T @ A2 + lam * P2) / m
    return np.concatenate([G1.ravel(), G2.ravel()])


def train(X, Y, n_hid=5, lr=1.0, lam=0.1, steps=300):
    n_in, n_out = X.shape[1], Y.shape[1]
    theta = init_theta(n_in, n_hid, n_out)
    for _ in range(steps):
        theta = theta - lr * gradient(theta, X, Y, lam, n_in, n_hid, n_out)
    return theta
