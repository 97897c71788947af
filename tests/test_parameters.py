"""Which values the model reads as parameters (what an update changes by a step), and the
roles a network-level backward and a thresholded label take."""

from __future__ import annotations

import textwrap

import libcst as cst

from linter.analysis import Role, analyze

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


NETWORK_PAIR = textwrap.dedent(
    """
    import numpy as np

    def layer_backward(g, cache):
        x, w = cache
        return g @ w.T, x.T @ g

    def net_forward(inputs, weights):
        h = inputs @ weights[0]
        out = 1 / (1 + np.exp(-(h @ weights[1])))
        return out, [(inputs, weights[0]), (h, weights[1])]

    def net_backward(out, labels, caches):
        g = out - labels
        grads = []
        for cache in reversed(caches):
            g, dw = layer_backward(g, cache)
            grads.append(dw)
        return grads

    def fit(inputs, labels, weights):
        out, caches = net_forward(inputs, weights)
        return net_backward(out, labels, caches)
    """
)


def _upstream(source: str, fn: str):
    model = analyze(cst.parse_module(source))
    return model.upstream_gradient_param(next(s for s in model.c.scopes if s.name == fn))


def test_a_network_backward_takes_the_forward_output_not_a_gradient():
    # net_backward pairs with net_forward, and its first parameter receives what net_forward
    # returned: the network's output, not the gradient of one
    assert _upstream(NETWORK_PAIR, "net_backward") is None


def test_a_layer_backward_still_takes_the_upstream_gradient():
    forward = "def layer_forward(x, w):\n    return x @ w\n\n\ndef layer_backward"
    source = NETWORK_PAIR.replace("def layer_backward", forward)
    assert _upstream(source, "layer_backward") == "g"


THRESHOLD_LABELS = textwrap.dedent(
    """
    import numpy as np

    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3))
    X = rng.standard_normal((3, 60))
    Y = (X[0:1] * X[1:2] > 0).astype(float)
    Z = W @ X
    mask = (Z > 0).astype(float)
    """
)


def _module_roles(source: str, name: str):
    model = analyze(cst.parse_module(source))
    scope = next(s for s in model.c.scopes if s.is_module)
    binding = scope.bindings[name][-1]
    return model.roles(binding.target, scope)


def test_a_threshold_of_random_draws_is_no_derivative():
    # labels made from the inputs by a threshold look like ReLU's derivative (x > 0), but the
    # derivative is evaluated at a value the network computes, never at raw draws
    assert Role.DERIV not in _module_roles(THRESHOLD_LABELS, "Y")


def test_a_threshold_of_a_preactivation_still_is():
    assert Role.DERIV in _module_roles(THRESHOLD_LABELS, "mask")
