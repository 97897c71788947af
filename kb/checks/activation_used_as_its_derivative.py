"""An activation applied again where its derivative belongs: σ(a) instead of σ′(z) = a(1 − a)."""

from __future__ import annotations

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, rel_err, sigmoid
from kb.schema import CheckResult, above, below


def check() -> CheckResult:
    right_net = column_net(seed=181)  # 4-5-5-3 sigmoid net, z = W a + b
    numeric, _ = right_net.numerical()
    right, _ = right_net.backward()  # delta = (W.T delta) * sigmoid'(z) = ... * a (1 - a)
    wrong_net = column_net(seed=181, act_prime=lambda z: sigmoid(sigmoid(z)))  # sigmoid(a)
    wrong, _ = wrong_net.backward()
    forgot_flag = column_net(seed=181, act_prime=sigmoid)  # sigmoid(z): the flag left off
    forgot, _ = forgot_flag.backward()

    return CheckResult(
        claim=(
            "Backprop through a sigmoid multiplies by its derivative a(1 - a). Multiplying by the "
            "sigmoid again, of the output a or of z (a derivative switch left off), gives wrong "
            "gradients in every layer below."
        ),
        measurements=[
            below("a(1 - a): rel. error of all dW", max_rel_err(right, numeric), RIGHT),
            above(
                "sigmoid(a) as the derivative: rel. error of dW1",
                rel_err(wrong[0], numeric[0]),
                WRONG,
            ),
            above(
                "sigmoid(z) as the derivative: rel. error of dW1",
                rel_err(forgot[0], numeric[0]),
                WRONG,
            ),
        ],
    )
