"""Which values the model reads as parameters: what an update changes by a step."""

from __future__ import annotations

import textwrap

import libcst as cst

from linter.analysis import analyze

SGD = textwrap.dedent(
    """
    import numpy as np

    class Net:
        def __init__(self, sizes):
            self.weights = [np.random.randn(m, n) for n, m in zip(sizes[:-1], sizes[1:])]
            self.biases = [np.random.randn(m, 1) for m in sizes[1:]]

        def train_batch(self, batch, rate):
            acc_w = [np.zeros(w.shape) for w in self.weights]
            acc_b = [np.zeros(b.shape) for b in self.biases]
            for x, y in batch:
                step_b, step_w = self.grads(x, y)
                acc_b = [a + s for a, s in zip(acc_b, step_b)]
                acc_w = [a + s for a, s in zip(acc_w, step_w)]
            self.weights = [w - (rate / len(batch)) * a for w, a in zip(self.weights, acc_w)]
            self.biases = [b - rate * a for b, a in zip(self.biases, acc_b)]
    """
)


def test_a_list_comprehension_update_changes_by_a_step():
    params = analyze(cst.parse_module(SGD)).updated_params()
    assert {"Net.weights", "Net.biases"} <= params


def test_a_local_that_sums_gradients_is_no_parameter():
    params = analyze(cst.parse_module(SGD)).updated_params()
    assert "acc_w" not in params and "acc_b" not in params

