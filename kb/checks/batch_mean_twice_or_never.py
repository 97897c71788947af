"""The 1/m of a batch-mean loss appears in its gradient exactly once."""

from __future__ import annotations

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, numerical_grad, rel_err
from kb.schema import CheckResult, above, below


def check() -> CheckResult:
    net = column_net(seed=161)  # 4-5-5-3 sigmoid net, batch of m = 7 examples (columns)
    m = net.x.shape[1]

    def mean_cost() -> float:
        return net.cost() / m  # the loss the training loop reports: a batch mean

    numeric = [numerical_grad(mean_cost, w) for w in net.weights]
    summed, _ = net.backward()  # sum over the batch of the per-example gradients

    once = [g / m for g in summed]
    twice = [g / m**2 for g in summed]  # 1/m in the loss's gradient and again in the update
    closed_form = (m - 1) / (m + 1)  # rel. error of g/m against g (or g against g/m)

    return CheckResult(
        claim=(
            "For a batch-mean loss the gradient is the sum of per-example gradients divided by m "
            "once. Dividing twice, or never, is off by exactly a factor of m, so the relative "
            "error is exactly (m - 1)/(m + 1) and rescaling by m repairs it."
        ),
        measurements=[
            below("1/m once: rel. error of all dW", max_rel_err(once, numeric), RIGHT),
            above("1/m twice: rel. error of dW1", rel_err(twice[0], numeric[0]), WRONG),
            above("1/m never: rel. error of dW1", rel_err(summed[0], numeric[0]), WRONG),
            below(
                "1/m twice: gap to (m - 1)/(m + 1)",
                abs(rel_err(twice[0], numeric[0]) - closed_form),
                1e-8,
            ),
            below(
                "1/m twice, multiplied by m: rel. error of all dW",
                max_rel_err([g * m for g in twice], numeric),
                RIGHT,
            ),
        ],
    )
