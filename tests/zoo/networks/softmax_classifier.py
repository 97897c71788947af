"""One-hidden-layer softmax classifier trained with full-batch gradient descent.

Parameters live in a tuple (W1, b1, W2, b2); rows of X are examples; y holds integer labels.
The ``softmax`` helper does not shift its input: callers subtract the row max first.
"""

import numpy as np


def softmax(x):
    """Row-wise softmax of logits whose row maximum has already been subtracted."""
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def logsumexp(x):
    m = np.max(x, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


def init_params(n_in, n_hidden, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    W1 = 0.5 * rng.standard_normal((n_in, n_hidden))
    b1 = np.zeros((1, n_hidden))
    W2 = 0.5 * rng.standard_normal((n_hidden, n_classes))
    b2 = np.zeros((1, n_classes))
    return W1, b1, W2, b2


def loss_and_grads(params, X, y, reg=1e-3):
    W1, b1, W2, b2 = params
    N = X.shape[0]
    hidden = np.maximum(0, np.dot(X, W1) + b1)  # ReLU
    scores = np.dot(hidden, W2) + b2
    probs = softmax(scores - np.max(scores, axis=1, keepdims=True))

    # cross-entropy from the log-sum-exp: -log p_y = logsumexp(scores) - scores_y
    data_loss = np.mean(logsumexp(scores)[:, 0] - scores[np.arange(N), y])
    reg_loss = 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    loss = data_loss + reg_loss

    # gradient of the mean cross-entropy with respect to the scores
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N

    dW2 = np.dot(hidden.T, dscores) + reg * W2
    db2 = np.sum(dscores, axis=0, keepdims=True)
    dhidden = np.dot(dscores, W2.T)
    dhidden[hidden <= 0] = 0  # backprop through the ReLU
    dW1 = np.dot(X.T, dhidden) + reg * W1
    db1 = np.sum(dhidden, axis=0, keepdims=True)
    return loss, (dW1, db1, dW2, db2)


def train(X, y, n_hidden=20, step_size=0.5, reg=1e-3, n_iters=500):
    params = init_params(X.shape[1], n_hidden, int(y.max()) + 1)
    for i in range(n_iters):
        loss, grads = loss_and_grads(params, X, y, reg)
        params = tuple(p - step_size * g for p, g in zip(params, grads))
        if i % 100 == 0:
            print(f"iteration {i}: loss {loss:.4f}")
    return params


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = np.repeat(np.arange(3), 40)
    X = centers[y] + 0.8 * rng.standard_normal((120, 2))
    W1, b1, W2, b2 = train(X, y)
    pred = np.argmax(np.maximum(0, X @ W1 + b1) @ W2 + b2, axis=1)
    print("training accuracy", np.mean(pred == y))
