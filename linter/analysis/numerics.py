"""Numerical facts: logs of probabilities, helpers' callers, finite-difference gradient checks.
The BP5xx rules query these; exponentials normalised by their own sum (softmax, log-sum-exp) and
values that cannot overflow ``exp`` are in ``linter.analysis.softmax``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis.callables import applications
from linter.analysis.collect import Scope, Site
from linter.analysis.exprs import number_value, positional_args
from linter.analysis.torch_facts import Out, facts

# library functions by qualified name
LOG = frozenset({"numpy.log", "torch.log", "math.log", "numpy.log2", "numpy.log10"})


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


AUTODIFF_PACKAGES = frozenset({"torch", "jax", "autograd", "tensorflow"})


def differentiated(model: ModuleModel, call: cst.Call) -> bool:
    """Whether automatic differentiation runs through this call: a tensor method
    (``p.log()``; numpy arrays have none) or a function of torch, JAX or autograd. A plain
    numpy function is not: a hand-written backward computes the gradient itself."""
    if model.qualname(call.func) is None:
        return isinstance(call.func, cst.Attribute)
    return model.package(call.func) in AUTODIFF_PACKAGES


def callers_for_param(
    model: ModuleModel, fn: Scope, name: str
) -> list[tuple[cst.BaseExpression, Scope, cst.Call]]:
    """(argument, calling scope, call) for each resolved call of ``fn`` that passes its
    parameter ``name``."""
    out = []
    for arg, caller in model.arguments_for(name, fn):
        call = next((c for c, sc in model.callers(fn) if sc is caller and _has_arg(c, arg)), None)
        if call is None:  # np.apply_along_axis(fn, 1, arg) and the like
            call = next(
                (a.call for a, sc in applications(model, fn) if sc is caller and a.array is arg),
                None,
            )
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
    if model.has(node, scope, Role.PROB):
        return True
    torch = facts(model)
    if not torch.uses_torch:
        return False
    kind = torch.kind(node, scope)  # an nn.Softmax layer's or a model's output
    return kind is not None and kind.out is Out.PROB


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


def perturbs(model: ModuleModel, step: cst.BaseExpression, scope: Scope) -> cst.CSTNode | None:
    """Where the function adds the step to something: ``x + h``, ``x[i] += h``."""
    text = model.module.code_for_node(step)
    for site in model.c.binops:
        if site.scope is not scope:
            continue
        node = site.node
        assert isinstance(node, cst.BinaryOperation)
        if isinstance(node.operator, cst.Add) and any(
            model.module.code_for_node(side) == text for side in (node.left, node.right)
        ):
            return node
    for bindings in scope.bindings.values():
        for b in bindings:
            if b.kind == "aug" and b.op == "AddAssign" and b.value is not None:
                if model.module.code_for_node(b.value) == text:
                    stmt = b.stmt
                    return stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else b.target
    return None


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
