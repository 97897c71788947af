"""Numerical facts: softmaxes and their max shift, log-probabilities, finite-difference gradient
checks. The BP5xx rules query these."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis.collect import Scope, Site
from linter.analysis.exprs import dotted, number_value, positional_args

# library functions by qualified name
EXP = frozenset({"numpy.exp", "torch.exp", "math.exp"})
MAX = frozenset({"numpy.max", "numpy.amax", "torch.max", "numpy.nanmax", "torch.amax"})
SUM = frozenset({"numpy.sum", "torch.sum", "numpy.nansum"})
LOG = frozenset({"numpy.log", "torch.log", "math.log", "numpy.log2", "numpy.log10"})


def normalised_exps(
    model: ModuleModel,
) -> Iterator[tuple[cst.Call, cst.BaseExpression, cst.Call, Site]]:
    """(exp call, its argument, the sum that normalises it, site) for every ``exp(x)`` that a
    sum of the same exponentials divides or subtracts: a softmax or a log-sum-exp."""
    for site in model.c.calls:
        call = site.node
        assert isinstance(call, cst.Call)
        if model.qualname(call.func) not in EXP:
            continue
        args = positional_args(call)
        if not args:
            continue
        normaliser = normalising_sum(model, call, site)
        if normaliser is not None:
            yield call, args[0], normaliser, site


def logs(model: ModuleModel) -> Iterator[tuple[cst.Call, cst.BaseExpression, Site]]:
    """(call, argument, site) for every logarithm: ``np.log(x)`` or a method ``x.log()``."""
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
        if arg is not None:
            yield call, arg, site


def normalising_sum(model: ModuleModel, exp_call: cst.Call, site: Site) -> cst.Call | None:
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


def max_shifted(model: ModuleModel, x: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
    """``z - max(z)`` (or a name bound to it, or shifted in place with ``-=``)."""
    if depth > 4:
        return False
    if isinstance(x, cst.BinaryOperation) and isinstance(x.operator, cst.Subtract):
        right = unwrap_broadcast(x.right)
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
                and max_shifted(
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
                if max_shifted(model, probe, scope, depth + 1):
                    return True
        assigns = [b for b in bindings if b.kind == "assign" and b.value is not None]
        if assigns and all(max_shifted(model, b.value, scope, depth + 1) for b in assigns):
            return True
    return False


def unwrap_broadcast(node: cst.BaseExpression) -> cst.BaseExpression:
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


def callers_for_param(
    model: ModuleModel, fn: Scope, name: str
) -> list[tuple[cst.BaseExpression, Scope, cst.Call]]:
    """(argument, calling scope, call) for each resolved call of ``fn`` that passes its
    parameter ``name``."""
    out = []
    for arg, caller in model._arguments_for(name, fn):
        call = next((c for c, sc in model.callers(fn) if sc is caller and _has_arg(c, arg)), None)
        if call is not None:
            out.append((arg, caller, call))
    return out


def _has_arg(call: cst.Call, arg: cst.BaseExpression) -> bool:
    return any(a.value is arg for a in call.args)


def is_probability(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> bool:
    """A softmax probability, maybe indexed, gathered or clipped (``p[range(n), y]``,
    ``probs.gather(1, y)``, ``np.clip(p, eps, 1)``)."""
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


_CHECK_NAME = re.compile(r"grad|check|numer|finite|approx|estimate|^d\w*_d\w+", re.IGNORECASE)


def in_gradient_check(site: Site) -> bool:
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


def small_step(node: cst.BaseExpression, scope: Scope) -> bool:
    """A positive constant below 0.1 (a literal, a parameter default, or every assignment of
    the name): a finite-difference step."""
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


def perturbs(model: ModuleModel, step: cst.BaseExpression, scope: Scope) -> bool:
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


def half_steps(model: ModuleModel, step: cst.BaseExpression, scope: Scope) -> bool:
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
