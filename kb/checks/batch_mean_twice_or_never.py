"""The 1/m of a batch-mean loss appears in its gradient exactly once; what a missing or doubled
factor m does and does not harm (plain SGD and Adam absorb it; gradient checks, learning-rate
transfer across batch sizes and the balance with an L2 term do not)."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, column_net, max_rel_err, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below

STEPS, LAMBDA = 20, 0.1


def _sgd(grad, w0: np.ndarray, lr: float) -> np.ndarray:
    w = w0.copy()
    for _ in range(STEPS):
        w = w - lr * grad(w)
    return w


def _adam(grad, w0: np.ndarray, lr: float = 0.05, b1=0.9, b2=0.999, eps=1e-8) -> np.ndarray:
    w, m1, m2 = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t in range(1, STEPS + 1):
        g = grad(w)
        m1, m2 = b1 * m1 + (1 - b1) * g, b2 * m2 + (1 - b2) * g * g
        w = w - lr * (m1 / (1 - b1**t)) / (np.sqrt(m2 / (1 - b2**t)) + eps)
    return w


def _harms() -> dict[str, float]:
    """Least squares on a batch of 7: where a factor m is harmless and where it is not."""
    r = rng(162)
    x, y = r.normal(size=(7, 4)), r.normal(size=7)
    w0 = r.normal(size=4)

    def mean_grad(xb, yb):
        return lambda w: xb.T @ (xb @ w - yb) / len(yb)

    def sum_grad(xb, yb):
        return lambda w: xb.T @ (xb @ w - yb)

    m = len(y)
    lr = 0.1
    # The same 7 examples repeated 4 times: the mean gradient is unchanged, the sum is 4x.
    x4, y4 = np.tile(x, (4, 1)), np.tile(y, 4)
    step = np.linalg.norm
    # With an L2 term (lam/2)|w|^2 the minimiser of mean loss + L2 vs what the unscaled sum finds.
    eye = np.eye(4)
    w_mean = np.linalg.solve(x.T @ x / m + LAMBDA * eye, x.T @ y / m)
    w_sum = np.linalg.solve(x.T @ x + LAMBDA * eye, x.T @ y)
    return {
        "sgd": rel_err(_sgd(sum_grad(x, y), w0, lr / m), _sgd(mean_grad(x, y), w0, lr)),
        "adam": rel_err(_adam(sum_grad(x, y), w0), _adam(mean_grad(x, y), w0)),
        "mean_transfer": step(mean_grad(x4, y4)(w0)) / step(mean_grad(x, y)(w0)),
        "sum_transfer": step(sum_grad(x4, y4)(w0)) / step(sum_grad(x, y)(w0)),
        "l2": rel_err(w_sum, w_mean),
    }


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
    harms = _harms()

    return CheckResult(
        claim=(
            "For a batch-mean loss the gradient is the sum of per-example gradients divided by m "
            "once. Dividing twice, or never, is off by exactly a factor of m, so the relative "
            "error is exactly (m - 1)/(m + 1) and rescaling by m repairs it. Plain SGD absorbs "
            "the factor into the learning rate and Adam ignores it; what it breaks is the "
            "gradient check, a learning rate that transfers across batch sizes, and the balance "
            "between an L2 term and the data."
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
            below(
                f"harmless: SGD, summed gradient with lr/m vs mean with lr, weights after {STEPS} "
                "steps: rel. gap",
                harms["sgd"],
                1e-12,
            ),
            below(
                f"harmless: Adam, summed vs mean gradient, weights after {STEPS} steps: rel. gap",
                harms["adam"],
                1e-6,
            ),
            below(
                "batch of 7 repeated 4 times, mean gradient: |step size ratio - 1| (lr transfers)",
                abs(harms["mean_transfer"] - 1.0),
                1e-12,
            ),
            above(
                "batch of 7 repeated 4 times, summed gradient: step size ratio (lr must change)",
                harms["sum_transfer"],
                3.9,
            ),
            above(
                f"with an L2 term (lambda = {LAMBDA}): minimiser with the summed data gradient "
                "vs the mean: rel. gap",
                harms["l2"],
                WRONG,
            ),
        ],
    )
