"""Messages speak the code's own convention (rows or columns are the examples)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from linter.engine import lint_source
from linter.rules.bp0_linalg.bias_gradient_not_summed import BiasGradientNotSummed


def _bp005(source: str) -> list[str]:
    report = lint_source(textwrap.dedent(source), Path("net.py"), [BiasGradientNotSummed])
    return [f.message for f in report.findings if f.code == "BP005"]


def test_bp005_rows_are_examples() -> None:
    (message,) = _bp005(
        """
        import numpy as np

        def backward(dZ, A_prev, m):
            dW = A_prev.T @ dZ / m
            db = dZ / m
            return dW, db
        """
    )
    assert "`np.sum(dZ / m, axis=0)` (examples are rows here)" in message
    assert "axis=1" not in message


def test_bp005_columns_are_examples() -> None:
    (message,) = _bp005(
        """
        import numpy as np

        def backward(dZ, A_prev, m):
            dW = np.dot(dZ, A_prev.T) / m
            db = dZ / m
            return dW, db
        """
    )
    assert "`np.sum(dZ / m, axis=1, keepdims=True)` (examples are columns here)" in message
    assert "axis=0" not in message


def test_bp005_columns_from_the_forward_product() -> None:
    (message,) = _bp005(
        """
        import numpy as np

        class Dense:
            def __init__(self, n_in, n_out):
                self.W = np.random.randn(n_out, n_in) * 0.01
                self.b = np.zeros((n_out, 1))

            def forward(self, X):
                self.X = X
                return np.dot(self.W, X) + self.b

            def backward(self, dZ, lr):
                m = self.X.shape[1]
                self.db = dZ / m
                self.W -= lr * self.dW
                self.b -= lr * self.db
                return np.dot(self.W.T, dZ)
        """
    )
    assert "axis=1, keepdims=True)` (examples are columns here)" in message


def test_bp005_columns_from_a_transposed_gradient() -> None:
    (message,) = _bp005(
        """
        import numpy as np

        def backward(A, Y, X):
            m = X.shape[1]
            dz = A - Y
            dw = np.dot(X, dz.T) / m
            db = dz / m
            return dw, db
        """
    )
    assert "`np.sum(dz / m, axis=1, keepdims=True)` (examples are columns here)" in message


def test_bp005_no_convention_says_both() -> None:
    (message,) = _bp005(
        """
        import numpy as np

        def backward(dZ, X, m):
            dW = np.sum(dZ * X) / m  # m divides a summed gradient: the batch size
            db = dZ / m
            return dW, db
        """
    )
    assert "axis=0)` if examples are rows" in message
    assert "axis=1, keepdims=True)` if they are columns" in message
