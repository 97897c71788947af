# %% [markdown]
# # Two-layer network for a 2-D binary problem, written like a notebook
#
# Everything lives in module-level globals. Hidden layer: 4 sigmoid units; output: one sigmoid
# unit trained with binary cross-entropy, so the output error is simply `a2 - y`.

# %%
import numpy as np

rng = np.random.default_rng(42)

# %% data: label 1 inside a circle of radius 1, 0 outside
m = 64
X = rng.uniform(-1.5, 1.5, size=(m, 2))
y = (np.sum(X**2, axis=1, keepdims=True) < 1.0).astype(float)  # (m, 1)

# %% parameters
n_input, n_hidden, n_output = 2, 4, 1
W1 = rng.standard_normal((n_input, n_hidden)) * 0.5
b1 = np.zeros((1, n_hidden))
W2 = rng.standard_normal((n_hidden, n_output)) * 0.5
b2 = np.zeros((1, n_output))

learning_rate = 1.0
num_iterations = 300
losses = []


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# %% training loop
for i in range(num_iterations):
    # forward pass
    z1 = X @ W1 + b1
    a1 = sigmoid(z1)
    z2 = a1 @ W2 + b2
    a2 = sigmoid(z2)
    # logaddexp(0, z) = log(1 + e^z): the cross-entropy written on the logits
    loss = np.mean(np.logaddexp(0, z2) - y * z2)
    losses.append(loss)

    # backward pass (gradients of the mean loss)
    dz2 = a2 - y
    dW2 = a1.T @ dz2 / m
    db2 = np.sum(dz2, axis=0, keepdims=True) / m
    da1 = dz2 @ W2.T
    dz1 = da1 * a1 * (1 - a1)
    dW1 = X.T @ dz1 / m
    db1 = np.sum(dz1, axis=0, keepdims=True) / m

    # gradient descent
    W2 -= learning_rate * dW2
    b2 -= learning_rate * db2
    W1 -= learning_rate * dW1
    b1 -= learning_rate * db1

    if i % 100 == 0:
        print(f"iteration {i}: loss {loss:.4f}")

# %% accuracy on the training set
predictions = sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2) > 0.5
print("train accuracy:", np.mean(predictions == y))
