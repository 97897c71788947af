"""Values known by where they come from, not by their names (issue 8): a batch size is what
divides a summed gradient, a learning rate the factor common to the steps of updates, a
cross-entropy cost its formula."""

from __future__ import annotations

import textwrap
from pathlib import Path

from linter.engine import lint_source
from linter.rules import ALL_RULES

RULES = {r.code: r for r in ALL_RULES}


def _found(code: str, source: str) -> list[int]:
    text = textwrap.dedent(source)
    return sorted({f.start.line for f in lint_source(text, Path("t.py"), [RULES[code]]).findings})


def test_a_batch_size_is_the_divisor_of_a_summed_gradient_whatever_its_name():
    # ``count`` divides the weight gradient (a product summed over the batch): a batch size,
    # so the bias gradient divided by it without a sum keeps the batch axis (BP005)
    source = """
        import numpy as np

        def layer_backward(dout, x, w, count):
            dw = x.T @ dout / count
            db = dout / count
            dx = dout @ w.T
            return dx, dw, db
        """
    assert _found("BP005", source) == [6]
    # divided by something that divides no summed gradient: no evidence of a batch
    assert _found("BP005", source.replace("x.T @ dout / count", "x.T @ dout")) == []


COST_CLASSES = """
    import numpy as np

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def sigmoid_prime(z):
        return sigmoid(z) * (1 - sigmoid(z))

    class Cost2:
        @staticmethod
        def fn(a, y):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

        @staticmethod
        def delta(z, a, y):
            return (a - y) * sigmoid_prime(z)

    class Cost1:
        @staticmethod
        def fn(a, y):
            return 0.5 * np.linalg.norm(a - y) ** 2

        @staticmethod
        def delta(z, a, y):
            return (a - y) * sigmoid_prime(z)
    """


def test_a_cross_entropy_cost_is_known_by_its_formula_and_speaks_for_its_class():
    # Cost2's ``fn`` computes a cross-entropy: its delta keeps σ′ (BP201). Cost1's cost is
    # not one: the formula of another class says nothing about it.
    assert _found("BP201", COST_CLASSES) == [17]
    picked = COST_CLASSES.replace(
        "np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))",
        "-np.mean(np.log(a[range(len(y)), y]))",
    )
    assert _found("BP201", picked) == [17]
    plain = COST_CLASSES.replace("-y * np.log(a) - (1 - y) * np.log(1 - a)", "(a - y) ** 2")
    assert _found("BP201", plain) == []


def test_a_helper_named_as_a_derivative_makes_its_factor_a_gradient():
    # ``sigmoid_prime`` is not defined here, but a helper's name is structure: what it multiplies
    # elementwise is carried by the chain rule, and the inverted matrix is the weight (BP001)
    source = """
        import numpy as np

        def carry(m, g, z):
            return (np.linalg.pinv(m) @ g) * sigmoid_prime(z)
        """
    assert _found("BP001", source) == [5]
    # a helper whose name says nothing about a derivative gives no chain-rule step
    assert _found("BP001", source.replace("sigmoid_prime", "rescale")) == []


def test_a_derivative_helper_whose_body_is_the_activation_is_reported():
    # the helper is named a derivative but computes ReLU itself (BP103); multiplied by a helper
    # that is named the activation, the product is a gate, not a chain-rule step
    source = """
        import numpy as np

        def relu_derivative(v):
            return np.maximum(0, v)

        def gate(p, q):
            return p * relu_derivative(q)
        """
    assert _found("BP103", source) == [8]
    renamed = source.replace("relu_derivative", "relu")
    assert _found("BP103", renamed) == []


def test_the_chain_rule_shape_with_a_matrix_product_is_reported():
    # ``dot(Mᵀ @ g, σ'(z))``: the chain rule's step written with the wrong product (BP004)
    source = """
        import numpy as np

        def sigmoid(v):
            return 1 / (1 + np.exp(-v))

        def sigmoid_prime(v):
            return sigmoid(v) * (1 - sigmoid(v))

        def carry(m, g, z):
            return np.dot(np.dot(m.T, g), sigmoid_prime(z))
        """
    assert _found("BP004", source) == [11]
    # without the transposed matrix carrying a value, a product with σ'(z) is no chain rule
    assert _found("BP004", source.replace("np.dot(m.T, g)", "m")) == []


def test_the_first_argument_after_ctx_of_backward_is_the_upstream_gradient():
    # ``backward(ctx, g)`` is autograd.Function's signature, even with its class out of sight
    source = """
        import torch

        def backward(ctx, g):
            y, = ctx.saved_tensors
            return torch.matmul(g, 1 - y**2)
        """
    assert _found("BP004", source) == [6]
    assert _found("BP004", source.replace("def backward", "def combine")) == []


def test_the_one_argument_of_a_layer_backward_is_the_upstream_gradient():
    # a layer's ``backward(self, g)`` whose forward is not in sight: its one argument is the
    # gradient of the layer's output (BP004: matrix product with the local derivative)
    source = """
        class Squash:
            def backward(self, g):
                return g @ (self.out * (1 - self.out))
        """
    assert _found("BP004", source) == [4]
    # a network's ``backward(self, y)`` subtracts its argument from an output: data
    target = """
        import numpy as np

        class Net:
            def backward(self, y):
                e = self.out - y
                return np.dot(self.h.T, e)
        """
    assert _found("BP003", target) == []
    assert _found("BP004", target) == []
    # an activator's ``backward(self, out)`` returns the derivative at its argument (through a
    # copy too): the argument is the forward's output, not a gradient (BP104 stays silent)
    activator = """
        class Logistic:
            def backward(self, out):
                s = out
                return s * (1 - s)
        """
    assert _found("BP104", activator) == []


def test_a_learning_rate_is_the_plain_factor_of_a_step_written_without_parentheses():
    # ``r * a.T @ g`` parses as ``(r * a.T) @ g``: the plain factor ``r`` (never transposed,
    # indexed or multiplied as a matrix) scales the product, whatever it is called, so the
    # statement is an update and its sign is judged (BP301: ``t - o`` with ``-=`` climbs)
    source = """
        def sigmoid(z):
            return 1 / (1 + np.exp(-z))

        def fit(a, t, p, r):
            o = sigmoid(a @ p)
            e = t - o
            p -= r * a.T @ (e * o * (1 - o))
            return p
        """
    assert _found("BP301", source) == [8]
    # the consistent descent (``o - t`` with ``-=``) is clean
    assert _found("BP301", source.replace("e = t - o", "e = o - t")) == []


def test_a_target_is_what_weighs_the_log_of_a_cross_entropy():
    # in ``v * np.log(u)`` the log is taken of the network's output and weighed by the labels:
    # ``u - v`` is then the output error whatever the two are called, and σ′ kept beside it
    # under this cross-entropy is BP201
    source = """
        import numpy as np

        def head(z, u, v):
            cost = -np.sum(v * np.log(u) + (1 - v) * np.log(1 - u))
            d = (u - v) * u * (1 - u)
            return d, cost
        """
    assert _found("BP201", source) == [6]
    # the correct output delta of this cost has no σ′: clean
    assert _found("BP201", source.replace("(u - v) * u * (1 - u)", "u - v")) == []
    # a difference of two inputs with no formula saying which is the target: no error signal
    no_cost = source.replace("cost = -np.sum(v * np.log(u) + (1 - v) * np.log(1 - u))", "cost = 0")
    assert _found("BP201", no_cost) == []


def test_a_matrix_mapping_an_activation_into_a_pre_activation_is_a_weight():
    # ``b`` multiplies the previous state, an activation this function computes, inside the
    # next tanh: a weight, so carrying the gradient back through it untransposed is BP002
    source = """
        import numpy as np

        def unroll(a, b, inputs, states, g, k):
            states[k] = np.tanh(np.dot(a, inputs[k]) + np.dot(b, states[k - 1]))
            back = (1 - states[k] ** 2) * g
            return np.dot(b, back)
        """
    assert _found("BP002", source) == [7]
    # multiplied with data (not an activation), ``b`` shows nothing about being a weight
    assert _found("BP002", source.replace("np.dot(b, states[k - 1])", "np.dot(b, inputs[k])")) == []


def test_a_matrix_inverted_to_carry_the_upstream_gradient_is_a_weight():
    # in autograd's ``backward(ctx, g)``, ``g`` times an inverse: the matrix g is carried back
    # through is the layer's weight (BP001)
    source = """
        import torch

        def backward(ctx, g):
            a, m = ctx.saved_tensors
            return g @ torch.linalg.inv(m).T, g.T @ a
        """
    assert _found("BP001", source) == [6]
    # a Newton step outside any backward inverts a Hessian, not a weight
    newton = """
        import torch

        def newton(ctx, g):
            a, m = ctx.saved_tensors
            return g @ torch.linalg.inv(m).T, g.T @ a
        """
    assert _found("BP001", newton) == []


def test_a_rate_is_the_factor_beside_a_gradient_not_a_name():
    # ``k`` scales ``g``, a gradient by where it comes from (the output minus the labels,
    # through the input): ``k`` is the rate whatever it is called, and adding the step climbs
    source = """
        import numpy as np

        def sigmoid(z):
            return 1 / (1 + np.exp(-z))

        class Fit:
            def step(self, X, t):
                p = sigmoid(X @ self.w)
                g = X.T @ (p - t) / len(t)
                self.w = self.w + self.k * g
        """
    assert _found("BP301", source) == [11]
    assert _found("BP301", source.replace("self.w + self.k", "self.w - self.k")) == []
    # a gradient times a local computed from arrays is the chain rule accumulating a
    # gradient (``acc += d * g`` with ``d = 1 - h * h``), not a step: nothing to judge
    accumulate = """
        import numpy as np

        def sigmoid(z):
            return 1 / (1 + np.exp(-z))

        def grads(X, t, w, h):
            p = sigmoid(X @ w)
            g = X.T @ (p - t)
            acc = np.zeros_like(w)
            d = 1 - h * h
            acc += d * g
            return acc
        """
    assert _found("BP301", accumulate) == []


def test_a_learning_rate_name_alone_makes_no_update():
    from linter.analysis.siblings import build, shared_parse

    # ``lr * m`` scales a value nothing says is a gradient, by a factor nothing says is a
    # number: a name is not evidence of an update
    source = "def f(w, lr, m):\n    w -= lr * m\n    return w\n"
    assert list(build(shared_parse(source)).updates()) == []
    # a number is
    numeric = source.replace("lr * m", "0.1 * m")
    assert [u.key for u in build(shared_parse(numeric)).updates()] != []


def test_what_a_weight_step_multiplies_with_the_layer_input_is_the_upstream_gradient():
    # ``p`` is applied to ``u`` (``p @ u``) and stepped by ``np.outer(q, u)``: ``q`` is the
    # gradient of that layer's output whatever it is called, so propagating it through the
    # already-updated ``p`` is BP302
    source = """
        import numpy as np

        def step(p, u, q, r):
            o = p @ u
            p -= r * np.outer(q, u)
            back = p.T @ q
            return back
        """
    assert _found("BP302", source) == [6]
    (finding,) = lint_source(textwrap.dedent(source), Path("t.py"), [RULES["BP302"]]).findings
    assert any(
        e.start.line == 6 and "`q` is the gradient of the layer's output" in e.message
        for e in finding.evidence
    )
    # propagated before the update: clean
    fixed = source.replace(
        "p -= r * np.outer(q, u)\n            back = p.T @ q",
        "back = p.T @ q\n            p -= r * np.outer(q, u)",
    )
    assert _found("BP302", fixed) == []
    # the step's product does not involve what the forward pass applies p to: no evidence
    assert _found("BP302", source.replace("np.outer(q, u)", "np.outer(q, q)")) == []


def test_a_method_of_a_class_held_in_an_attribute_is_resolved():
    # ``self.c`` holds the class ``Cost`` (the default of ``__init__``'s parameter, never
    # overridden; ``Square`` has a ``delta`` too): ``self.c.delta(z, s(z), v)`` calls
    # ``Cost.delta``, so its ``u`` is the
    # network's output and ``v`` the data, and σ′ kept beside this cross-entropy is BP201
    source = """
        import numpy as np

        def s(z):
            return 1 / (1 + np.exp(-z))

        def sp(z):
            return s(z) * (1 - s(z))

        class Cost:
            @staticmethod
            def fn(u, v):
                return np.sum(-v * np.log(u) - (1 - v) * np.log(1 - u))

            @staticmethod
            def delta(z, u, v):
                return (u - v) * sp(z)

        class Square:
            @staticmethod
            def fn(u, v):
                return 0.5 * np.sum((u - v) ** 2)

            @staticmethod
            def delta(z, u, v):
                return (u - v) * sp(z)

        class Net:
            def __init__(self, k, c=Cost):
                self.k = k
                self.c = c

            def out_delta(self, x, v):
                z = self.k @ x
                return self.c.delta(z, s(z), v)
        """
    assert _found("BP201", source) == [17]
    # a constructor call that passes something else: which class is held is not known
    passed = textwrap.dedent(source) + "net = Net(np.ones((2, 2)), c=Square)\n"
    assert _found("BP201", passed) == []
