"""An activation's derivative must be evaluated on the variable its formula is written in:
σ'(z) = a(1 - a) and tanh'(z) = 1 - a² take the activation a, σ(x)(1 - σ(x)) takes z; crossing
them (the function applied twice, or the a-formula fed z) gives wrong gradients. ReLU's mask may
come from either side."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import (
    RIGHT,
    WRONG,
    H,
    RowNet,
    column_net,
    max_rel_err,
    numerical_grad,
    rel_err,
    rng,
    row_net,
    sigmoid,
    sigmoid_prime,
)
from kb.schema import CheckResult, Measurement, above, below

Slope = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z, a) -> tanh'(z) as the code computes it


def _output_form(x: np.ndarray) -> np.ndarray:
    """The popular helper ``sigmoid_derivative(x) = x * (1 - x)``: it expects a = sigmoid(z)."""
    return x * (1.0 - x)


def _tanh_backward(net: RowNet, slope: Slope) -> list[np.ndarray]:
    """Weight gradients of the row net (tanh hidden layers, linear output) with a given slope."""
    inputs, zs = net.forward()
    dws: list[np.ndarray] = [np.empty(0)] * len(net.weights)
    dz = net.upstream
    for l in range(len(net.weights) - 1, -1, -1):
        dws[l] = inputs[l].T @ dz
        if l > 0:
            z = zs[l - 1]
            dz = (dz @ net.weights[l].T) * slope(z, np.tanh(z))
    return dws


def _sigmoid() -> list[Measurement]:
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

    return [
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
        below("|z| <= 0.1: rel. gap between sigmoid_prime(a) and sigmoid_prime(z)", small_gap, 0.1),
    ]


def _tanh_and_relu() -> list[Measurement]:
    net = row_net(seed=41)  # 4-5-5-3, tanh hidden layers (the 5x5 one is square), linear output
    numeric_w, _ = net.numerical()
    right = _tanh_backward(net, lambda z, a: 1.0 - a**2)
    on_z = _tanh_backward(net, lambda z, a: 1.0 - z**2)
    twice = _tanh_backward(net, lambda z, a: 1.0 - np.tanh(a) ** 2)

    # ReLU: the mask from the output equals the mask from the input, so either is right.
    r = rng(42)
    x = r.normal(size=(7, 5))
    w = r.normal(size=(5, 5)) / np.sqrt(5)
    b = r.normal(size=5) * 0.1
    c = r.normal(size=(7, 5))  # random upstream weights
    z = x @ w + b

    def relu_cost() -> float:
        return float(np.sum(c * np.maximum(x @ w + b, 0.0)))

    relu_numeric = numerical_grad(relu_cost, w)
    mask_from_a = x.T @ (c * (np.maximum(z, 0.0) > 0))
    mask_from_z = x.T @ (c * (z > 0))

    return [
        below("tanh, 1 - a^2: rel. error of all dW", max_rel_err(right, numeric_w), RIGHT),
        above("tanh, 1 - z^2: rel. error of dW1", rel_err(on_z[0], numeric_w[0]), WRONG),
        above("tanh, 1 - tanh(a)^2: rel. error of dW1", rel_err(twice[0], numeric_w[0]), WRONG),
        below("ReLU, mask from a: rel. error of dW", rel_err(mask_from_a, relu_numeric), RIGHT),
        below(
            "ReLU: rel. gap between masks from a and from z",
            rel_err(mask_from_a, mask_from_z),
            1e-15,
        ),
        above(
            "ReLU: smallest |z| (at least 10h from the kink)",
            float(np.min(np.abs(z))),
            10 * H,
            "finite differences step h = 1e-5; 10h from a kink they are exact (see the "
            "gradcheck-with-stochastic-or-kinked-ops entry)",
        ),
    ]


def check() -> CheckResult:
    return CheckResult(
        claim=(
            "sigmoid'(z) computed as sigmoid(z)(1 - sigmoid(z)) from z, or as a(1 - a) from the "
            "cached activation, matches finite differences, and so does tanh's 1 - a^2; a z-helper "
            "fed a (the function applied twice) or an a-formula fed z (z(1 - z), 1 - z^2) does "
            "not, in the output layer or below it. For ReLU the mask may come from the output: "
            "a > 0 exactly when z > 0."
        ),
        measurements=[*_sigmoid(), *_tanh_and_relu()],
    )
