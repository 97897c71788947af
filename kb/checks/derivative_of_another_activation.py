"""The backward pass must use the derivative of the function the forward pass computed:
1 / (1 + exp(z)) is σ(-z), whose derivative is -a(1 - a), not a(1 - a); a(1 - a) belongs to the
sigmoid and 1 - a² to tanh, and swapping them gives wrong gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.numerics import (
    RIGHT,
    WRONG,
    RowNet,
    column_net,
    max_rel_err,
    numerical_grad,
    rel_err,
    rng,
    row_net,
    sigmoid,
)
from kb.schema import CheckResult, Measurement, above, below

Slope = Callable[[np.ndarray], np.ndarray]  # da/dz written in the layer's output a

_LR, _STEPS = 0.5, 2


def _sigmoid_slope(a: np.ndarray) -> np.ndarray:
    """The sigmoid's derivative written in its output: σ'(z) = a(1 - a)."""
    return a * (1.0 - a)


def _tanh_slope(a: np.ndarray) -> np.ndarray:
    """tanh's derivative written in its output: tanh'(z) = 1 - a²."""
    return 1.0 - a**2


# --- case 1: the sigmoid without its minus sign ------------------------------------------------

Act = Callable[[np.ndarray], np.ndarray]


def _minus_dropped(z: np.ndarray) -> np.ndarray:
    """The sigmoid as sometimes typed: 1 / (1 + exp(z)), which is σ(-z)."""
    return 1.0 / (1.0 + np.exp(z))


def _negated_sigmoid_slope(a: np.ndarray) -> np.ndarray:
    """The derivative of σ(-z) written in its output a = σ(-z): -a(1 - a)."""
    return -a * (1.0 - a)


def _layer_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer A = act(X W), MSE against targets in (0, 1); returns X, Y and the initial W."""
    r = rng(1051)
    x = r.normal(size=(8, 4))
    y = r.uniform(0.05, 0.95, size=(8, 3))
    w = r.normal(size=(4, 3)) / 2.0
    return x, y, w


def _mse(act: Act, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    return float(0.5 * np.mean(np.sum((act(x @ w) - y) ** 2, axis=1)))


def _layer_grad(act: Act, slope: Slope, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """dC/dW backpropagated with the local derivative ``slope(a)``."""
    a = act(x @ w)
    return x.T @ ((a - y) * slope(a) / len(x))


def _descend(act: Act, slope: Slope) -> float:
    """Loss after ``_STEPS`` steps W -= lr * dW, over the initial loss."""
    x, y, w = _layer_problem()
    first = _mse(act, x, y, w)
    for _ in range(_STEPS):
        w = w - _LR * _layer_grad(act, slope, x, y, w)
    return _mse(act, x, y, w) / first


def _missing_minus() -> list[Measurement]:
    x, y, w = _layer_problem()
    numeric = numerical_grad(lambda: _mse(_minus_dropped, x, y, w), w)
    right = _layer_grad(_minus_dropped, _negated_sigmoid_slope, x, y, w)
    wrong = _layer_grad(_minus_dropped, _sigmoid_slope, x, y, w)  # the derivative of σ(+z)
    ratio = float(np.sum(wrong * numeric) / np.sum(numeric * numeric))
    steps = f"loss after {_STEPS} steps of W -= {_LR} * dW / initial loss"
    return [
        below(
            "1 / (1 + exp(z)) with -a * (1 - a): rel. error of dW",
            rel_err(right, numeric),
            RIGHT,
        ),
        above(
            "1 / (1 + exp(z)) with a * (1 - a): rel. error of dW",
            rel_err(wrong, numeric),
            WRONG,
        ),
        below(
            "1 / (1 + exp(z)) with a * (1 - a): <dW, dW_fd> / <dW_fd, dW_fd>",
            ratio,
            -0.99,
            "-1 is the true gradient with its sign flipped",
        ),
        below(
            f"1 / (1 + exp(z)) with -a * (1 - a): {steps}",
            _descend(_minus_dropped, _negated_sigmoid_slope),
            1.0,
        ),
        above(
            f"1 / (1 + exp(z)) with a * (1 - a): {steps}",
            _descend(_minus_dropped, _sigmoid_slope),
            1.0,
            "above 1: the steps climb the loss",
        ),
    ]


# --- case 2: sigmoid's and tanh's derivatives swapped ------------------------------------------


def _tanh_backward(net: RowNet, slope: Slope) -> list[np.ndarray]:
    """Weight gradients of the row net (tanh hidden layers, linear output) with a given slope."""
    inputs, zs = net.forward()
    dws: list[np.ndarray] = [np.empty(0)] * len(net.weights)
    dz = net.upstream
    for l in range(len(net.weights) - 1, -1, -1):
        dws[l] = inputs[l].T @ dz
        if l > 0:
            dz = (dz @ net.weights[l].T) * slope(np.tanh(zs[l - 1]))
    return dws


def _swapped() -> list[Measurement]:
    sig = column_net(seed=1052)  # 4-5-5-3 sigmoid net, quadratic cost with random upstream weights
    sig_numeric, _ = sig.numerical()
    sig.act_prime = lambda z: _sigmoid_slope(sigmoid(z))
    sig_right, _ = sig.backward()
    sig.act_prime = lambda z: _tanh_slope(sigmoid(z))  # tanh's formula on a sigmoid output
    sig_swapped, _ = sig.backward()
    a_sig = np.concatenate([a.ravel() for a in sig.activations[1:]])
    scale = float(np.min(_tanh_slope(a_sig) / _sigmoid_slope(a_sig)))

    tanh = row_net(seed=1053)  # 4-5-5-3, tanh hidden layers (the 5x5 one is square), linear output
    tanh_numeric, _ = tanh.numerical()
    tanh_right = _tanh_backward(tanh, _tanh_slope)
    tanh_swapped = _tanh_backward(tanh, _sigmoid_slope)  # the sigmoid's formula on a tanh output
    _, zs = tanh.forward()
    a_tanh = np.concatenate([np.tanh(z).ravel() for z in zs[:-1]])
    flipped = float(np.mean(np.sign(_sigmoid_slope(a_tanh)) != np.sign(_tanh_slope(a_tanh))))
    steps = f"loss after {_STEPS} steps of W -= {_LR} * dW / initial loss"

    return [
        below(
            "sigmoid net, a * (1 - a): rel. error of all dW",
            max_rel_err(sig_right, sig_numeric),
            RIGHT,
        ),
        above(
            "sigmoid net, 1 - a**2: rel. error of dW (output layer)",
            rel_err(sig_swapped[-1], sig_numeric[-1]),
            WRONG,
        ),
        above(
            "sigmoid net, 1 - a**2: rel. error of dW1",
            rel_err(sig_swapped[0], sig_numeric[0]),
            WRONG,
        ),
        above(
            "sigmoid net, 1 - a**2: smallest (1 - a**2) / (a * (1 - a)) over all units",
            scale,
            2.0,
            "(1 + a) / a > 2 for 0 < a < 1: every unit's factor keeps its sign and is too large",
        ),
        below(
            f"sigmoid layer, a * (1 - a): {steps}",
            _descend(sigmoid, _sigmoid_slope),
            1.0,
        ),
        below(
            f"sigmoid layer, 1 - a**2: {steps}",
            _descend(sigmoid, _tanh_slope),
            1.0,
            "below 1 too: the wrong derivative still trains the layer",
        ),
        below(
            "tanh net, 1 - a**2: rel. error of all dW", max_rel_err(tanh_right, tanh_numeric), RIGHT
        ),
        above(
            "tanh net, a * (1 - a): rel. error of dW1",
            rel_err(tanh_swapped[0], tanh_numeric[0]),
            WRONG,
        ),
        above(
            "tanh net, a * (1 - a): fraction of hidden units whose factor has the wrong sign",
            flipped,
            0.2,
            "a(1 - a) < 0 wherever a = tanh(z) < 0",
        ),
    ]


def check() -> CheckResult:
    return CheckResult(
        claim=(
            "1 / (1 + exp(z)) is sigmoid(-z), whose derivative is -a(1 - a): backpropagating "
            "a(1 - a) through it gives the true gradient with its sign flipped, and gradient "
            "descent then raises the loss. a(1 - a) is the sigmoid's derivative and 1 - a^2 is "
            "tanh's: each matches finite differences on its own activation and is wrong on the "
            "other's."
        ),
        measurements=[*_missing_minus(), *_swapped()],
    )
