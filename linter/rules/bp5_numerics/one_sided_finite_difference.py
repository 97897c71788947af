"""BP503 one-sided-finite-difference."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.numerics import half_steps, in_gradient_check, perturbs, small_step
from linter.analysis.stencil import Stencil, stencil
from linter.rule import Invalid, Report, Rule, Valid


class OneSidedFiniteDifference(Rule):
    """Flags a one-sided (forward) finite difference ``(f(x + h) - f(x)) / h`` in a gradient check."""

    code = "BP503"
    prefilter = (P.DIVIDE, P.GRADIENT_CHECK, P.SMALL_NUMBER)
    name = "one-sided-finite-difference"
    kb = "gradcheck-one-sided-or-bad-epsilon"
    summary = "One-sided finite difference in a gradient check."
    why = (
        "The forward difference (f(x + h) − f(x)) / h has error O(h); the centred difference "
        "(f(x + h) − f(x − h)) / 2h has error O(h²). At h = 1e-5 the one-sided estimate is off "
        "by about 1e-6 relative, above the 1e-7 a correct float64 gradient should reach, so a "
        "right backward pass looks wrong (or a loose tolerance lets a wrong one through)."
    )
    instead = "Use the centred difference `(f(x + h) - f(x - h)) / (2 * h)`."
    known_problems = (
        "The step must be a small constant (a literal below 0.1, or a name bound or defaulted to "
        "one) that the same function adds to something, i.e. a perturbation."
    )
    valid = [
        Valid(
            """
            def numerical_grad(f, x, h=1e-5):
                grad = np.zeros_like(x)
                for i in range(x.size):
                    old = x.flat[i]
                    x.flat[i] = old + h
                    fp = f(x)
                    x.flat[i] = old - h
                    fm = f(x)
                    x.flat[i] = old
                    grad.flat[i] = (fp - fm) / (2 * h)
                return grad
            """
        ),
        Valid(
            """
            def slope(y1, y0, x1, x0):
                return (y1 - y0) / (x1 - x0)
            """
        ),
        Valid(
            """
            def normalise(x, mu, sigma):
                return (x - mu) / sigma
            """
        ),
        Valid(
            """
            def check(f, x, eps=1e-6):
                return (f(x + eps) - f(x - eps)) / (2 * eps)
            """
        ),
        Valid(
            """
            def backward(delta, a):
                return (a - delta) / 2
            """
        ),
        Valid(
            """
            def velocity(pos_new, pos_old, dt):
                return (pos_new - pos_old) / dt
            """,
            note="dt is not a perturbation this function applies.",
        ),
        Valid(
            """
            def check(f, x, h=1e-4):
                fp = f(x + h / 2)
                fm = f(x - h / 2)
                return (fp - fm) / h
            """,
            note="Centred with half steps.",
        ),
        Valid(
            """
            def update(w, grad, lr=0.1):
                return (w - lr * grad) / lr
            """
        ),
        Valid(
            """
            h = 0.0001
            x = 3.0
            print((f(x + h) - f(x)) / h)
            """,
            note="A slope shown to build intuition, not a gradient check.",
        ),
        Valid(
            """
            def check_gradient(net, X, y, i, eps=1e-5):
                w = net.get_weight(i)
                net.set_weight(i, w + eps)
                plus = net.loss(X, y)
                net.set_weight(i, w - eps)
                minus = net.loss(X, y)
                net.set_weight(i, w)
                return (plus - minus) / (2 * eps)
            """,
            note="Centred, with the parameter set through a setter method.",
        ),
        Valid(
            """
            def grad_check(f, x, h=1e-5):
                g = np.zeros_like(x)
                for i in range(len(x)):
                    x[i] = x[i] + h
                    fp = f(x)
                    x[i] = x[i] - 2 * h
                    fm = f(x)
                    x[i] = x[i] + h
                    g[i] = (fp - fm) / (2 * h)
                return g
            """,
            note="Centred: the second change moves x from x + h to x − h.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def numerical_grad(f, x, h=1e-5):
                grad = np.zeros_like(x)
                fx = f(x)
                for i in range(x.size):
                    old = x.flat[i]
                    x.flat[i] = old + h
                    fxph = f(x)
                    x.flat[i] = old
                    grad.flat[i] = (fxph - fx) / h
                return grad
            """,
            at=(9, 24),
        ),
        Invalid(
            """
            def check(f, x, eps=1e-6):
                return (f(x + eps) - f(x)) / eps
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            def grad_check(model, loss_fn, delta=1e-5):
                base = loss_fn(model)
                model.W[0, 0] += delta
                plus = loss_fn(model)
                model.W[0, 0] -= delta
                return (plus - base) / delta
            """,
            at=(6, 12),
        ),
        Invalid(
            """
            def num_grad(J, theta):
                epsilon = 1e-4
                grad = np.zeros(theta.shape)
                for i in range(len(theta)):
                    t = theta.copy()
                    t[i] += epsilon
                    grad[i] = (J(t) - J(theta)) / epsilon
                return grad
            """,
            at=(7, 19),
        ),
        Invalid(
            """
            def check(f, w):
                return (f(w + 1e-4) - f(w)) / 1e-4
            """,
            at=(2, 12),
        ),
        Invalid(
            """
            def dloss_dw(loss, w, i, h=1e-6):
                w2 = w.copy()
                w2[i] = w2[i] + h
                return (loss(w2) - loss(w)) / h
            """,
            at=(4, 12),
        ),
        Invalid(
            """
            def gradient_check(f, x, h=1e-5):
                fx, _ = f(x)
                grads = []
                for i in range(x.shape[0]):
                    x[i] += h
                    fxh, _ = f(x)
                    x[i] -= h
                    grads.append((fxh - fx) / h)
                return grads
            """,
            at=(8, 22),
        ),
        Invalid(
            """
            class GradCheck:
                def estimate(self, params, step=1e-5):
                    base = self.loss(params)
                    params[0] += step
                    bumped = self.loss(params)
                    return (bumped - base) / step
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            def numerical_gradient(f, x, h=1e-4):
                grad = np.zeros_like(x)
                for i in range(x.size):
                    old = x.flat[i]
                    x.flat[i] = old + h
                    up = f(x)
                    x.flat[i] = old
                    here = f(x)
                    grad.flat[i] = (up - here) / (2 * h)
                return grad
            """,
            at=(9, 24),
        ),
        Invalid(
            """
            def check_gradient(net, X, y, i, eps=1e-5):
                w = net.get_weight(i)
                net.set_weight(i, w + eps)
                plus = net.loss(X, y)
                net.set_weight(i, w)
                base = net.loss(X, y)
                return (plus - base) / eps
            """,
            at=(7, 12),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in model.c.binops:
            node = site.node
            assert isinstance(node, cst.BinaryOperation)
            if not isinstance(node.operator, cst.Divide):
                continue
            num = node.left
            if not (
                isinstance(num, cst.BinaryOperation) and isinstance(num.operator, cst.Subtract)
            ):
                continue
            if not in_gradient_check(site):
                continue
            found = stencil(model, site)
            if found is not None:
                if found.centred and found.consistent:
                    continue
                yield Report(node, _message(model, node, found), evidence=_evidence(found))
                continue
            step = node.right
            if not small_step(step, site.scope):
                continue
            shifted = perturbs(model, step, site.scope)
            if shifted is None:
                continue
            if half_steps(model, step, site.scope):
                continue
            yield Report(
                node,
                f"`{model.src(node)}` is a one-sided finite difference (error O(h)); use the "
                f"centred difference (f(x + h) − f(x − h)) / (2h), error O(h²)",
                evidence=((shifted, f"`{model.src(shifted)}` shifts the input one way only"),),
            )


def _points(found: Stencil) -> str:
    def at(offset: Fraction) -> str:
        if offset == 0:
            return "x"
        mag = abs(offset)
        return f"x {'+' if offset > 0 else '−'} {'' if mag == 1 else f'{mag}·'}h"

    return f"{at(found.plus.offset)} and {at(found.minus.offset)}"


def _message(model: ModuleModel, node: cst.BaseExpression, found: Stencil) -> str:
    text = f"`{model.src(node)}` evaluates the function at {_points(found)}"
    spread = found.plus.offset - found.minus.offset
    if not found.consistent:
        if spread == -found.divisor:
            scale = "so it estimates the negated derivative"
        else:
            ratio = spread / found.divisor
            shown = str(ratio) if ratio.denominator == 1 else f"{float(ratio):g}"
            scale = f"so it estimates {shown}× the derivative"
        div = "h" if found.divisor == 1 else f"{found.divisor}·h"
        text += f" but divides by {div}, {scale}"
        if not found.centred:
            text += "; it is also one-sided (error O(h))"
        return text + "; use (f(x + h) − f(x − h)) / (2h)"
    return (
        text
        + ": a one-sided difference (error O(h)); use (f(x + h) − f(x − h)) / (2h), error O(h²)"
    )


def _evidence(found: Stencil) -> tuple[tuple[cst.CSTNode, str], ...]:
    return found.plus.evidence + found.minus.evidence
