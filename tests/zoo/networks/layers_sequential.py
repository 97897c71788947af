"""Layer objects with forward/backward and a Sequential container, "from scratch" style.

Each layer's ``backward(output_error, learning_rate)`` returns dE/dinput and, for layers with
parameters, applies its own gradient step once the input error has been computed.
Row-major batches: x is (batch, features). Mean squared error on the softmax output.
"""

from __future__ import annotations

import numpy as np


class Layer:
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:
        raise NotImplementedError


class Dense(Layer):
    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator) -> None:
        self.W = rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_in)
        self.b = np.zeros((1, n_out))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:
        grad_W = self.x.T @ output_error
        grad_b = output_error.sum(axis=0, keepdims=True)
        input_error = output_error @ self.W.T
        self.W -= learning_rate * grad_W
        self.b -= learning_rate * grad_b
        return input_error


class ReLU(Layer):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.maximum(0, x)

    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:
        return output_error * (self.x > 0)


class Tanh(Layer):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.out = np.tanh(x)
        return self.out

    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:
        return output_error * (1 - self.out**2)


class Sigmoid(Layer):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:
        local_grad = self.out * (1 - self.out)
        return output_error * local_grad


class Softmax(Layer):
    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - np.max(x, axis=1, keepdims=True))
        self.out = e / np.sum(e, axis=1, keepdims=True)
        return self.out

    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:
        # the Jacobian diag(s) - s s^T applied to each row, without building it
        s = self.out
        return s * (output_error - np.sum(output_error * s, axis=1, keepdims=True))


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean((y_pred - y_true) ** 2))


def mse_prime(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return 2 * (y_pred - y_true) / y_true.size


class Sequential:
    def __init__(self, layers: list[Layer]) -> None:
        self.layers = layers

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:
        for layer in reversed(self.layers):
            output_error = layer.backward(output_error, learning_rate)
        return output_error

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float) -> list[float]:
        history = []
        for _ in range(epochs):
            y_pred = self.forward(x)
            history.append(mse(y, y_pred))
            self.backward(mse_prime(y, y_pred), learning_rate)
        return history


def build(sizes: list[int], seed: int = 0) -> Sequential:
    """Dense-ReLU-Dense-Tanh-Dense-Sigmoid-Dense-Softmax for ``sizes`` of length 5."""
    rng = np.random.default_rng(seed)
    dense = [Dense(n_in, n_out, rng) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return Sequential(
        [dense[0], ReLU(), dense[1], Tanh(), dense[2], Sigmoid(), dense[3], Softmax()]
    )


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 4))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
    model = build([4, 16, 16, 16, 3])
    history = model.fit(x, np.eye(3)[labels], epochs=300, learning_rate=2.0)
    print(f"mse {history[0]:.4f} -> {history[-1]:.4f}")
