"""BP5xx: numerics — softmax overflow, log of a softmax, one-sided finite differences."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis.exprs import dotted, keyword_arg, number_value, positional_args
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid

EXP = frozenset({"numpy.exp", "torch.exp", "math.exp"})
MAX = frozenset({"numpy.max", "numpy.amax", "torch.max", "numpy.nanmax", "torch.amax"})
SUM = frozenset({"numpy.sum", "torch.sum", "numpy.nansum"})
LOG = frozenset({"numpy.log", "torch.log", "math.log", "numpy.log2", "numpy.log10"})


class SoftmaxWithoutMaxShift(Rule):
    """Flags ``exp(z)`` normalised by a sum of exps (softmax, log-sum-exp) without the max shift."""

    code = "BP501"
    name = "softmax-without-max-shift"
    kb = "softmax-without-max-shift"
    summary = "Softmax or log-sum-exp computed without subtracting the max."
    why = (
        "softmax(z) = softmax(z − c) for any constant c. Without c = max(z), `np.exp` overflows "
        "to inf for logits above about 709 (float64; 88 in float32) and the division gives nan; "
        "large negative logits underflow the sum to 0. The shift changes nothing else."
    )
    instead = "Subtract the max first: `e = np.exp(z - np.max(z, axis=1, keepdims=True))`."
    known_problems = (
        "A helper that receives already-shifted logits from every caller in the module is not "
        "flagged; if only some callers shift, the others are. Logits that are bounded for another "
        "reason (a log-softmax output) are not flagged."
    )
    fix_safety = FixSafety.SAFE
    valid = [
        Valid(
            """
            def softmax(z):
                e = np.exp(z - np.max(z, axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
            """
        ),
        Valid(
            """
            def softmax(x):
                e = np.exp(x)
                return e / e.sum(axis=1, keepdims=True)

            def forward(scores):
                return softmax(scores - np.max(scores, axis=1, keepdims=True))
            """,
            note="The caller subtracts the max before calling the helper.",
        ),
        Valid(
            """
            def loss(scores, y):
                scores -= scores.max(axis=1, keepdims=True)
                probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
                return probs
            """
        ),
        Valid(
            """
            def sigmoid(z):
                return 1 / (1 + np.exp(-z))
            """,
            note="No normalising sum: not a softmax.",
        ),
        Valid(
            """
            def log_softmax(v):
                v = v - np.max(v)
                return v - np.log(np.sum(np.exp(v)))
            """
        ),
        Valid(
            """
            from scipy.special import logsumexp

            def probs_from(log_probs):
                return np.exp(log_probs) / np.sum(np.exp(log_probs))

            p = probs_from(scores - logsumexp(scores))
            """
        ),
        Valid(
            """
            def gaussian(x, mu):
                return np.exp(-((x - mu) ** 2))
            """
        ),
        Valid(
            """
            import torch

            def softmax(z):
                e = torch.exp(z - z.max(dim=1, keepdim=True).values)
                return e / e.sum(dim=1, keepdim=True)
            """
        ),
        Valid(
            """
            def loss(scores):
                shift_scores = scores - np.max(scores, axis=1)[..., np.newaxis]
                return np.exp(shift_scores) / np.sum(np.exp(shift_scores), axis=1)[..., np.newaxis]
            """,
            note="The max reshaped for broadcasting is still a shift.",
        ),
    ]
    invalid = [
        Invalid(
            """
            def softmax(z):
                e = np.exp(z)
                return e / e.sum(axis=1, keepdims=True)
            """,
            at=(2, 9),
            fixed="""
            def softmax(z):
                e = np.exp(z - np.max(z, axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)
            """,
        ),
        Invalid(
            """
            def softmax(x):
                return np.exp(x) / np.sum(np.exp(x))
            """,
            at=[(2, 12), (2, 31)],
        ),
        Invalid(
            """
            def softmax(x):
                e = np.exp(x)
                return e / e.sum(axis=1, keepdims=True)

            def forward(scores):
                return softmax(scores - np.max(scores, axis=1, keepdims=True))

            def predict(scores):
                return softmax(scores)
            """,
            at=(9, 12),
            note="Other callers shift; this one does not.",
        ),
        Invalid(
            """
            def logsumexp(v):
                return np.log(np.sum(np.exp(v)))
            """,
            at=(2, 26),
        ),
        Invalid(
            """
            def loss(x, y):
                Z = np.sum(np.exp(x), axis=1, keepdims=True)
                log_probs = x - np.log(Z)
                return -log_probs[np.arange(len(y)), y].mean()
            """,
            at=(2, 16),
        ),
        Invalid(
            """
            import torch

            def softmax(z):
                e = torch.exp(z)
                return e / e.sum(dim=1, keepdim=True)
            """,
            at=(4, 9),
        ),
        Invalid(
            """
            class Softmax:
                def forward(self, x):
                    e = np.exp(x)
                    self.out = e / np.sum(e, axis=-1, keepdims=True)
                    return self.out
            """,
            at=(3, 13),
        ),
        Invalid(
            """
            exp_scores = np.exp(scores)
            probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
            """,
            at=(1, 14),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in model.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if model.qualname(call.func) not in EXP:
                continue
            args = positional_args(call)
            if not args:
                continue
            normaliser = _normalising_sum(model, call, site)
            if normaliser is None:
                continue
            x = args[0]
            scope = site.scope
            if _shifted(model, x, scope) or model.has(x, scope, Role.LOGPROB):
                continue
            if isinstance(x, cst.Name) and x.value in scope.params:
                # When some callers shift, the helper's contract is "the caller shifts": judge
                # the call sites. When none does, the helper itself is missing the shift.
                callers = _callers_for_param(model, scope, x.value)
                unshifted = [c for c in callers if not _shifted(model, c[0], c[1])]
                if callers and not unshifted:
                    continue
                if callers and len(unshifted) < len(callers):
                    for _arg, _caller_scope, call_node in unshifted:
                        yield Report(
                            call_node,
                            f"`{model.src(call_node)}` passes unshifted logits to a softmax "
                            f"that relies on its callers to subtract the max (the other calls "
                            f"do); `exp` overflows for large logits",
                        )
                    continue
            yield self._report(model, call, x, normaliser)

    def _report(
        self, model: ModuleModel, call: cst.Call, x: cst.BaseExpression, normaliser: cst.Call
    ) -> Report:
        replacement = None
        prefix = dotted(call.func) or ""
        if prefix.endswith(".exp") and model.qualname(call.func) == "numpy.exp":
            np_name = prefix[: -len(".exp")]
            axis = keyword_arg(normaliser, "axis")
            max_args = [cst.Arg(_paren_x(x))]
            if axis is not None:
                tight = cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""),
                    whitespace_after=cst.SimpleWhitespace(""),
                )
                max_args = [
                    cst.Arg(_paren_x(x), comma=_COMMA),
                    cst.Arg(axis, keyword=cst.Name("axis"), equal=tight, comma=_COMMA),
                    cst.Arg(cst.Name("True"), keyword=cst.Name("keepdims"), equal=tight),
                ]
            shift = cst.BinaryOperation(
                _paren_x(x),
                cst.Subtract(),
                cst.Call(cst.Attribute(cst.parse_expression(np_name), cst.Name("max")), max_args),
            )
            if axis is not None or len(positional_args(normaliser)) <= 1:
                replacement = call.with_changes(args=[cst.Arg(shift)])
        return Report(
            call,
            f"`{model.src(call)}` is normalised by a sum of exponentials without subtracting "
            f"the max first: it overflows to inf (and the softmax to nan) for large logits",
            replacement=replacement,
            fix_description="Subtract the max inside the exponential",
        )


_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _paren_x(x: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(x, cst.BinaryOperation | cst.UnaryOperation) and not x.lpar:
        return x.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return x


def _normalising_sum(model: ModuleModel, exp_call: cst.Call, site) -> cst.Call | None:
    """The ``sum`` call this exponential (or the name it is stored in) is summed by."""
    scope = site.scope
    targets: list[cst.CSTNode] = [exp_call]
    stmt = site.stmt
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Assign) and small.value is exp_call:
                for t in small.targets:
                    if isinstance(t.target, cst.Name | cst.Attribute):
                        targets.append(t.target)
    for other in model.c.calls:
        if other.scope is not scope:
            continue
        call = other.node
        assert isinstance(call, cst.Call)
        summed = None
        if model.qualname(call.func) in SUM:
            args = positional_args(call)
            summed = args[0] if args else None
        elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "sum":
            summed = call.func.value
        if summed is None:
            continue
        for t in targets:
            if summed is t or summed.deep_equals(t):
                return call
    return None


def _shifted(model: ModuleModel, x: cst.BaseExpression, scope, depth: int = 0) -> bool:
    """``z - max(z)`` (or a name bound to it, or shifted in place with ``-=``)."""
    if depth > 4:
        return False
    if isinstance(x, cst.BinaryOperation) and isinstance(x.operator, cst.Subtract):
        right = _unwrap_shape(x.right)
        if isinstance(right, cst.Call):
            if model.qualname(right.func) in MAX:
                return True
            if isinstance(right.func, cst.Attribute) and right.func.attr.value in ("max", "amax"):
                return True
            if model.qualname(right.func) in ("scipy.special.logsumexp", "torch.logsumexp"):
                return True
        if isinstance(right, cst.Attribute) and right.attr.value == "values":
            return True
        if isinstance(right, cst.Name):  # m = np.max(x, ...); np.exp(x - m)
            values = [
                b.value for b in model._visible_bindings(right.value, scope) if b.kind == "assign"
            ]
            if values and all(
                v is not None
                and _shifted(
                    model, cst.BinaryOperation(x.left, cst.Subtract(), v), scope, depth + 1
                )
                for v in values
            ):
                return True
        return False
    if isinstance(x, cst.Name):
        bindings = model._visible_bindings(x.value, scope)
        for b in bindings:
            if b.kind == "aug" and b.op == "SubtractAssign" and b.value is not None:
                probe = cst.BinaryOperation(x, cst.Subtract(), b.value)
                if _shifted(model, probe, scope, depth + 1):
                    return True
        assigns = [b for b in bindings if b.kind == "assign" and b.value is not None]
        if assigns and all(_shifted(model, b.value, scope, depth + 1) for b in assigns):
            return True
    return False


def _unwrap_shape(node: cst.BaseExpression) -> cst.BaseExpression:
    """``np.max(z, axis=1)[:, None]``, ``.reshape(-1, 1)``, ``np.expand_dims(m, 1)``, ``.T`` ->
    the max itself: reshaping for broadcasting keeps it a shift."""
    for _ in range(4):
        if isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Attribute) and node.attr.value == "T":
            node = node.value
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ("reshape", "unsqueeze", "view")
        ):
            node = node.func.value
        elif isinstance(node, cst.Call) and dotted(node.func) in (
            "np.expand_dims",
            "numpy.expand_dims",
        ):
            node = node.args[0].value
        else:
            break
    return node


def _callers_for_param(model: ModuleModel, fn, name: str):
    out = []
    for arg, caller in model._arguments_for(name, fn):
        call = next((c for c, sc in model.callers(fn) if sc is caller and _has_arg(c, arg)), None)
        if call is not None:
            out.append((arg, caller, call))
    return out


def _has_arg(call: cst.Call, arg: cst.BaseExpression) -> bool:
    return any(a.value is arg for a in call.args)


class LogOfSoftmax(Rule):
    """Flags the logarithm of a softmax output instead of a log-softmax."""

    code = "BP502"
    name = "log-of-softmax"
    kb = "log-of-softmax"
    summary = "log of a softmax instead of log-softmax."
    why = (
        "log softmax(z)ₖ = zₖ − logsumexp(z). Forming the probabilities first underflows the "
        "small ones to 0, so the log gives −inf and the loss and its gradient become inf or "
        "nan; before that point the small probabilities have already lost their digits. The "
        "fused form stays finite."
    )
    instead = (
        "Use log-softmax: `z - logsumexp(z)`, `F.log_softmax(z, dim=1)`, or `F.cross_entropy`."
    )
    fix_safety = FixSafety.SAFE
    known_problems = "The fix is offered for the PyTorch spelling `torch.log(F.softmax(x, dim=d))`."
    valid = [
        Valid(
            """
            def loss(scores, y):
                shifted = scores - scores.max(axis=1, keepdims=True)
                log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
                return -log_probs[np.arange(len(y)), y].mean()
            """
        ),
        Valid(
            """
            import torch.nn.functional as F

            def loss(logits, y):
                return F.nll_loss(F.log_softmax(logits, dim=1), y)
            """
        ),
        Valid(
            """
            def bce(p, y):
                return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

            p = sigmoid(z)
            """,
            note="The log of a sigmoid output: another entry's business.",
        ),
        Valid(
            """
            from scipy.special import logsumexp

            def nll(z, k):
                return logsumexp(z) - z[k]
            """
        ),
        Valid("x = np.log(np.arange(1, 10))\n"),
        Valid(
            """
            import torch

            def entropy(logits):
                logp = torch.log_softmax(logits, dim=-1)
                return -(logp.exp() * logp).sum()
            """
        ),
        Valid(
            """
            def perplexity(losses):
                return np.exp(np.mean(np.log(losses)))
            """
        ),
        Valid(
            """
            def softmax(z):
                e = np.exp(z - z.max())
                return e / e.sum()

            def loss(z, y):
                return -(z[y] - z.max() - np.log(np.sum(np.exp(z - z.max()))))
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            import torch.nn.functional as F

            def loss(logits, y):
                return F.nll_loss(torch.log(F.softmax(logits, dim=1)), y)
            """,
            at=(5, 23),
            fixed="""
            import torch
            import torch.nn.functional as F

            def loss(logits, y):
                return F.nll_loss(F.log_softmax(logits, dim=1), y)
            """,
        ),
        Invalid(
            """
            def softmax(z):
                e = np.exp(z - z.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)

            def loss(scores, y):
                probs = softmax(scores)
                return -np.mean(np.log(probs[np.arange(len(y)), y]))
            """,
            at=(7, 21),
        ),
        Invalid(
            """
            def loss(scores, y):
                exp_scores = np.exp(scores - scores.max(axis=1, keepdims=True))
                probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
                correct_logprobs = -np.log(probs[range(len(y)), y])
                return np.sum(correct_logprobs) / len(y)
            """,
            at=(4, 25),
        ),
        Invalid(
            """
            import torch

            def nll(logits, target):
                p = torch.softmax(logits, dim=-1)
                return -torch.log(p.gather(1, target[:, None])).mean()
            """,
            at=(5, 13),
        ),
        Invalid(
            """
            from scipy.special import softmax

            def cross_entropy(z, y):
                return -np.log(softmax(z)[y])
            """,
            at=(4, 13),
        ),
        Invalid(
            """
            def log_softmax(v):
                v = v - np.max(v)
                return v - np.log(np.sum(np.exp(v)))

            def loss(ys, targets, t):
                ps = np.exp(log_softmax(ys[t]))
                return -np.log(ps[targets[t], 0])
            """,
            at=(7, 13),
        ),
        Invalid(
            """
            class Classifier:
                def forward(self, x):
                    self.probs = softmax(x @ self.W)
                    return self.probs

                def loss(self, y):
                    return -np.sum(y * np.log(self.probs))
            """,
            at=(7, 28),
        ),
        Invalid(
            """
            import torch.nn.functional as F

            def kl(logits, target_probs):
                return (target_probs * (target_probs.log() - F.softmax(logits, dim=1).log())).sum()
            """,
            at=(4, 50),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for site in model.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            arg = None
            if model.qualname(call.func) in LOG:
                args = positional_args(call)
                arg = args[0] if args else None
            elif (
                isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "log"
                and not call.args
                and model.qualname(call.func) is None
            ):
                arg = call.func.value
            if arg is None or not _is_probability(model, arg, site.scope):
                continue
            yield Report(
                call,
                f"`{model.src(call)}` takes the log of a softmax output: small probabilities "
                f"underflow to 0 and the log to −inf; use log-softmax (z − logsumexp(z))",
                replacement=_log_softmax_fix(model, arg),
                fix_description="Use F.log_softmax",
            )


def _is_probability(model: ModuleModel, node: cst.BaseExpression, scope) -> bool:
    while isinstance(node, cst.Subscript):
        node = node.value
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        if node.func.attr.value in ("gather", "take", "take_along_dim", "index_select"):
            node = node.func.value
        elif node.func.attr.value in ("clip", "clamp"):
            node = node.func.value
    if isinstance(node, cst.Call) and model.qualname(node.func) in ("numpy.clip", "torch.clamp"):
        args = positional_args(node)
        node = args[0] if args else node
    return model.has(node, scope, Role.PROB)


def _log_softmax_fix(model: ModuleModel, arg: cst.BaseExpression) -> cst.CSTNode | None:
    if not isinstance(arg, cst.Call):
        return None
    qn = model.qualname(arg.func)
    if qn not in ("torch.nn.functional.softmax", "torch.softmax"):
        return None
    func = arg.func
    if isinstance(func, cst.Attribute) and func.attr.value == "softmax":
        return arg.with_changes(func=func.with_changes(attr=cst.Name("log_softmax")))
    return None


class OneSidedFiniteDifference(Rule):
    """Flags a one-sided (forward) finite difference ``(f(x + h) - f(x)) / h`` in a gradient check."""

    code = "BP503"
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
            step = node.right
            if not _small_step(model, step, site.scope):
                continue
            if not _perturbs(model, step, site.scope):
                continue
            if _half_steps(model, step, site.scope):
                continue
            if not _in_gradient_check(site):
                continue
            yield Report(
                node,
                f"`{model.src(node)}` is a one-sided finite difference (error O(h)); use the "
                f"centred difference (f(x + h) − f(x − h)) / (2h), error O(h²)",
            )


_CHECK_NAME = re.compile(r"grad|check|numer|finite|approx|estimate|^d\w*_d\w+", re.IGNORECASE)


def _in_gradient_check(site) -> bool:
    """A gradient check, not a one-off slope demo: the function (or its class) is named for one,
    or the estimate is stored per parameter (``grad[i] = ...``)."""
    scope = site.scope
    if any(_CHECK_NAME.search(n or "") for n in (scope.name, scope.cls)) and not scope.is_module:
        return True
    stmt = site.stmt
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Assign) and any(
                isinstance(t.target, cst.Subscript) for t in small.targets
            ):
                return True
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                func = small.value.func
                if isinstance(func, cst.Attribute) and func.attr.value == "append":
                    return True
    return False


def _small_step(model: ModuleModel, node: cst.BaseExpression, scope) -> bool:
    value = number_value(node)
    if value is not None:
        return 0 < value < 0.1
    if not isinstance(node, cst.Name):
        return False
    if node.value in scope.param_defaults:
        v = number_value(scope.param_defaults[node.value])
        return v is not None and 0 < v < 0.1
    values = [b.value for b in scope.bindings.get(node.value, []) if b.kind == "assign"]
    return bool(values) and all(
        (v := number_value(x)) is not None and 0 < v < 0.1 for x in values if x is not None
    )


def _perturbs(model: ModuleModel, step: cst.BaseExpression, scope) -> bool:
    """The function adds the step to something: ``x + h``, ``x[i] += h``."""
    text = model.module.code_for_node(step)
    for site in model.c.binops:
        if site.scope is not scope:
            continue
        node = site.node
        assert isinstance(node, cst.BinaryOperation)
        if isinstance(node.operator, cst.Add) and any(
            model.module.code_for_node(side) == text for side in (node.left, node.right)
        ):
            return True
    for bindings in scope.bindings.values():
        for b in bindings:
            if b.kind == "aug" and b.op == "AddAssign" and b.value is not None:
                if model.module.code_for_node(b.value) == text:
                    return True
    return False


def _half_steps(model: ModuleModel, step: cst.BaseExpression, scope) -> bool:
    """``x + h / 2`` and ``x - h / 2``: a centred difference with half steps."""
    text = model.module.code_for_node(step)
    for site in model.c.binops:
        node = site.node
        if site.scope is scope and isinstance(node, cst.BinaryOperation):
            if (
                isinstance(node.operator, cst.Divide)
                and model.module.code_for_node(node.left) == text
            ):
                if number_value(node.right) == 2.0:
                    return True
    return False
