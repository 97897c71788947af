"""sigma'(z) = a(1 - a): the helper's argument must match the form it is written in."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, rel_err, sigmoid, sigmoid_prime
from kb.schema import CheckResult, above, below


def _output_form(x: np.ndarray) -> np.ndarray:
    """The popular helper ``sigmoid_derivative(x) = x * (1 - x)``: it expects a = sigmoid(z)."""
    return x * (1.0 - x)


def check() -> CheckResult:
    net = column_net(seed=31)  # 4-5-5-3 sigmoid net, quadratic cost with random upstream weights
    numeric_w, _ = net.numerical()

    net.act_prime = sigmoid_prime  # input form, given z
    right_input_form, _ = net.backward()
    net.act_prime = lambda z: _output_form(sigmoid(z))  # output form, given a = sigmoid(z)
    right_output_form, _ = net.backward()
    net.act_prime = lambda z: sigmoid_prime(sigmoid(z))  # input form, given a: sigmoid twice
    double, _ = net.backward()
    net.act_prime = _output_form  # output form, given z
    on_z, _ = net.backward()

    # Why loose tests pass: for small z the two slopes differ by only a few percent.
    small_z = np.linspace(-0.1, 0.1, 21)
    small_gap = rel_err(sigmoid_prime(sigmoid(small_z)), sigmoid_prime(small_z))

    return CheckResult(
        claim=(
            "sigmoid'(z) computed as sigmoid(z)(1 - sigmoid(z)) from z, or as a(1 - a) from the "
            "cached activation, matches finite differences; a z-helper fed a (sigmoid applied "
            "twice) or an a-helper fed z does not, in the output layer or below it."
        ),
        measurements=[
            below(
                "sigmoid_prime(z): rel. error of all dW",
                max_rel_err(right_input_form, numeric_w),
                RIGHT,
            ),
            below(
                "a * (1 - a): rel. error of all dW",
                max_rel_err(right_output_form, numeric_w),
                RIGHT,
            ),
            above(
                "sigmoid_prime(a): rel. error of dW (output layer)",
                rel_err(double[-1], numeric_w[-1]),
                WRONG,
            ),
            above("sigmoid_prime(a): rel. error of dW1", rel_err(double[0], numeric_w[0]), WRONG),
            above(
                "z * (1 - z): rel. error of dW (output layer)",
                rel_err(on_z[-1], numeric_w[-1]),
                WRONG,
            ),
            above("z * (1 - z): rel. error of dW1", rel_err(on_z[0], numeric_w[0]), WRONG),
            below(
                "|z| <= 0.1: rel. gap between sigmoid_prime(a) and sigmoid_prime(z)", small_gap, 0.1
            ),
        ],
    )
