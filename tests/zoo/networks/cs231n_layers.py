"""Modular layers in the CS231n assignment style: each forward returns (out, cache), each
backward takes (dout, cache) and returns the gradients of its inputs.

Row-major: x is (N, D) with one example per row, w is (D, M), b is (M,).
"""

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, _ = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def softmax_loss(x, y):
    """Mean cross-entropy of the softmax of the scores x (N, C) for integer labels y (N,).

    Returns the loss and its gradient with respect to x.
    """
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


class TwoLayerNet:
    """affine - relu - affine - softmax, with L2 regularisation on the weights."""

    def __init__(
        self,
        input_dim=3 * 32 * 32,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        seed=0,
    ):
        rng = np.random.default_rng(seed)
        self.params = {}
        self.reg = reg
        self.params["W1"] = weight_scale * rng.standard_normal((input_dim, hidden_dim))
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * rng.standard_normal((hidden_dim, num_classes))
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        """Scores if y is None, else (loss, grads) with grads keyed like self.params."""
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        h, cache_h = affine_relu_forward(X, W1, b1)
        scores, cache_scores = affine_forward(h, W2, b2)
        if y is None:
            return scores

        grads = {}
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dh, grads["W2"], grads["b2"] = affine_backward(dscores, cache_scores)
        grads["W2"] += self.reg * W2
        _, grads["W1"], grads["b1"] = affine_relu_backward(dh, cache_h)
        grads["W1"] += self.reg * W1
        return loss, grads


def sgd(net, X, y, learning_rate=1e-1, num_iters=100):
    for it in range(num_iters):
        loss, grads = net.loss(X, y)
        for name, dparam in grads.items():
            net.params[name] -= learning_rate * dparam
        if it % 25 == 0:
            print(f"iteration {it}: loss {loss:.4f}")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    sgd(TwoLayerNet(input_dim=4, hidden_dim=10, num_classes=3, weight_scale=0.1, reg=1e-3), X, y)
