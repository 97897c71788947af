"""The classic XOR network: 2 inputs, a small sigmoid hidden layer, 1 sigmoid output.

The error is written target - output, so the weight updates *add* the scaled gradient terms.
``sigmoid_derivative`` expects a value that has already been through the sigmoid.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_derivative(x):
    # x is sigmoid(z) here, so sigma'(z) = x * (1 - x)
    return x * (1 - x)


class XORNet:
    def __init__(self, n_hidden=4, learning_rate=0.5, seed=1):
        rng = np.random.default_rng(seed)
        self.hidden_weights = rng.uniform(-1, 1, size=(2, n_hidden))
        self.hidden_bias = rng.uniform(-1, 1, size=(1, n_hidden))
        self.output_weights = rng.uniform(-1, 1, size=(n_hidden, 1))
        self.output_bias = rng.uniform(-1, 1, size=(1, 1))
        self.lr = learning_rate

    def predict(self, inputs):
        hidden_layer_output = sigmoid(np.dot(inputs, self.hidden_weights) + self.hidden_bias)
        return sigmoid(np.dot(hidden_layer_output, self.output_weights) + self.output_bias)

    def train_step(self, inputs, expected_output):
        """One full-batch step on the squared error 0.5 * sum((expected - predicted)^2)."""
        # forward propagation
        hidden_layer_activation = np.dot(inputs, self.hidden_weights) + self.hidden_bias
        hidden_layer_output = sigmoid(hidden_layer_activation)
        output_layer_activation = (
            np.dot(hidden_layer_output, self.output_weights) + self.output_bias
        )
        predicted_output = sigmoid(output_layer_activation)

        # backpropagation
        error = expected_output - predicted_output
        d_predicted_output = error * sigmoid_derivative(predicted_output)
        error_hidden_layer = d_predicted_output.dot(self.output_weights.T)
        d_hidden_layer = error_hidden_layer * sigmoid_derivative(hidden_layer_output)

        # updating weights and biases (error = target - output, hence +=)
        self.output_weights += hidden_layer_output.T.dot(d_predicted_output) * self.lr
        self.output_bias += np.sum(d_predicted_output, axis=0, keepdims=True) * self.lr
        self.hidden_weights += inputs.T.dot(d_hidden_layer) * self.lr
        self.hidden_bias += np.sum(d_hidden_layer, axis=0, keepdims=True) * self.lr
        return 0.5 * np.sum(error**2)


XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_TARGETS = np.array([[0], [1], [1], [0]], dtype=float)


if __name__ == "__main__":
    net = XORNet()
    for epoch in range(5000):
        loss = net.train_step(XOR_INPUTS, XOR_TARGETS)
        if epoch % 1000 == 0:
            print(f"epoch {epoch}: loss {loss:.4f}")
    print(net.predict(XOR_INPUTS).round(3).ravel())
