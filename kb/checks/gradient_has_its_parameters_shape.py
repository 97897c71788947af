"""A gradient has its parameter's shape axis by axis; a step that only fits is not the gradient."""

from __future__ import annotations

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, rel_err
from kb.schema import CheckResult, above, below

SIZES = (4, 5, 5, 5, 3)  # W1 (5, 4); W2 and W3 (5, 5): square, and of the same shape


def check() -> CheckResult:
    net = column_net(seed=151, sizes=SIZES)
    numeric, _ = net.numerical()
    right, _ = net.backward()  # dW = delta @ a_prev.T: (n_out, n_in), axis by axis like W

    net.forward()
    deltas = [None] * len(net.weights)
    delta = net.output_grad() * net.act_prime(net.zs[-1])
    for l in range(len(net.weights) - 1, -1, -1):
        deltas[l] = delta
        if l > 0:
            delta = (net.weights[l].T @ delta) * net.act_prime(net.zs[l - 1])
    a = net.activations

    # (n_in, n_out) reshaped to the (n_out, n_in) of W1: the entries land in the right count
    # of places, not in the right places
    reshaped = (a[0] @ deltas[0].T).reshape(net.weights[0].shape)
    # the square layer's gradient transposed: (n_in, n_out) read as (n_out, n_in)
    transposed = a[1] @ deltas[1].T
    # another layer's gradient of the same shape: the next layer's (n_out', n_in')
    other_layer = deltas[2] @ a[2].T

    return CheckResult(
        claim=(
            "The gradient of a weight W of shape (n_out, n_in) is delta a_prev^T, of shape "
            "(n_out, n_in) axis by axis. A step of another symbolic shape is not the gradient, "
            "even when its numbers fit W: a product reshaped to W's shape, the transposed "
            "gradient of a square layer, or the gradient of another layer of the same size."
        ),
        measurements=[
            below("delta @ a_prev.T: rel. error of every dW", max_rel_err(right, numeric), RIGHT),
            above(
                "(a_prev @ delta.T).reshape(W1.shape): rel. error of dW1",
                rel_err(reshaped, numeric[0]),
                WRONG,
            ),
            above(
                "a_prev @ delta.T on the square layer W2: rel. error of dW2",
                rel_err(transposed, numeric[1]),
                WRONG,
            ),
            above(
                "W3's gradient used for W2 (both 5 x 5): rel. error of dW2",
                rel_err(other_layer, numeric[1]),
                WRONG,
            ),
        ],
    )
