"""dC/da^l is the chain-rule sum W^T delta: a sensitivity, not a share of the error; plain W, or
the error split in proportion to the weights, is wrong. The 2x3 worked example and the figure of
the two layers come from kb/worked_example.py."""

from __future__ import annotations

import numpy as np

from kb import worked_example
from kb.numerics import RIGHT, WRONG, ColumnNet, column_net, numerical_grad, rel_err
from kb.schema import CheckResult, above, below
from kb.worked_example import compute

example = worked_example.markdown  # the 2x3 worked example, rendered into the page at build
figure = worked_example.figure  # the two layers, drawn from the same numbers
FIGURE_ALT, FIGURE_CAPTION = worked_example.FIGURE_ALT, worked_example.FIGURE_CAPTION


def _cost_from(net: ColumnNet, layer: int, a: np.ndarray) -> float:
    """The cost as a function of the activation that enters weight layer ``layer``."""
    for w, b in zip(net.weights[layer:], net.biases[layer:], strict=True):
        a = net.act(w @ a + b)
    return float(0.5 * np.sum(net.upstream * (a - net.y) ** 2))


def _delta_at(net: ColumnNet, layer: int) -> np.ndarray:
    """delta = dC/dz of weight layer ``layer`` (exact backprop, W^T at every step)."""
    net.forward()
    delta = net.output_grad() * net.act_prime(net.zs[-1])
    for l in range(len(net.weights) - 1, layer, -1):
        delta = (net.weights[l].T @ delta) * net.act_prime(net.zs[l - 1])
    return delta


def _routed(w: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """'Error routing': each unit splits its delta among its inputs in proportion to |w|."""
    share = np.abs(w) / np.abs(w).sum(axis=1, keepdims=True)
    return share.T @ delta


def check() -> CheckResult:
    net = column_net(seed=5)  # 4-5-5-3 sigmoid net; weight layer 1 is the square 5x5 one
    net.forward()
    layer = 1
    a = net.activations[layer].copy()  # the hidden activation that feeds the square layer
    sensitivity = numerical_grad(lambda: _cost_from(net, layer, a), a)

    w = net.weights[layer]
    delta = _delta_at(net, layer)

    numeric_w, _ = net.numerical()
    right_w, _ = net.backward()

    def untransposed(wl: np.ndarray, d: np.ndarray) -> np.ndarray:
        return wl @ d if wl.shape[0] == wl.shape[1] else wl.T @ d

    plain_w, _ = net.backward(untransposed)
    routed_w, _ = net.backward(_routed)
    worked = compute()

    return CheckResult(
        claim=(
            "Perturbing a hidden activation directly gives exactly W^T delta, the chain-rule sum "
            "over the unit's outgoing weights. Routing delta back in proportion to the weights, "
            "or multiplying by W instead of W^T, gives a wrong gradient even on a square layer."
        ),
        measurements=[
            below("dC/da by perturbing a, vs W^T delta", rel_err(w.T @ delta, sensitivity), RIGHT),
            above("dC/da by perturbing a, vs W delta", rel_err(w @ delta, sensitivity), WRONG),
            above(
                "dC/da by perturbing a, vs delta split by |w|",
                rel_err(_routed(w, delta), sensitivity),
                WRONG,
            ),
            below("backprop with W^T: rel. error of dW1", rel_err(right_w[0], numeric_w[0]), RIGHT),
            above(
                "backprop with W on the square layer: rel. error of dW1",
                rel_err(plain_w[0], numeric_w[0]),
                WRONG,
            ),
            above(
                "backprop routing delta by |w|: rel. error of dW1",
                rel_err(routed_w[0], numeric_w[0]),
                WRONG,
            ),
            below(
                "worked 2x3 example: W^T delta vs dC/da by finite differences, rel. error",
                rel_err(worked.wt_delta, worked.numeric),
                RIGHT,
            ),
            above(
                "worked example: the error split in proportion to the weights vs dC/da, rel. error",
                rel_err(worked.split, worked.numeric),
                WRONG,
            ),
            below("worked example: |dC/da_2| by finite differences", abs(worked.numeric[1]), 1e-8),
            above("worked example: a_2's share of the split error", abs(worked.split[1]), 0.05),
        ],
    )
