"""Masks applied to gradients, and the ones whose value cannot depend on the data.

A mask is a comparison with a constant (``Z > 0``, ``self.out >= 0``) that gates a gradient:
a factor of a product with it (``dA * (Z > 0)``, through ``.astype`` and a name bound to the
comparison), the index of a store into it (``dZ[Z <= 0] = 0``) or the condition of
``np.where(cond, g, 0)``. With the compared value's range (``ranges.value_range``) a mask can
be constant: ``relu_out >= 0`` is true everywhere, ``relu_out < 0`` nowhere, so the gate
passes the gradient unchanged where the layer's derivative is zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import number_value, positional_args
from linter.analysis.model import ModuleModel, Role
from linter.analysis.ranges import Range, value_range

_OPS = {
    cst.GreaterThan: ">",
    cst.GreaterThanEqual: ">=",
    cst.LessThan: "<",
    cst.LessThanEqual: "<=",
}
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
_WHERE = frozenset({"numpy.where", "torch.where"})
_CASTS = frozenset({"astype", "float", "double", "type", "to"})


@dataclass(frozen=True)
class ConstantMask:
    comparison: cst.Comparison
    operand: cst.BaseExpression  # the value compared with the constant
    range: Range
    always: bool  # True: the mask keeps every entry; False: it keeps none
    use: cst.CSTNode  # the product, the store or the np.where that applies it
    gradient: cst.BaseExpression
    scope: Scope


def constant_masks(model: ModuleModel) -> Iterator[ConstantMask]:
    """Every mask on a gradient whose value the compared value's range decides."""
    for site in model.c.binops:
        node = site.node
        if not isinstance(node, cst.BinaryOperation) or not isinstance(node.operator, cst.Multiply):
            continue
        for mask, other in ((node.left, node.right), (node.right, node.left)):
            found = _constant(model, mask, site.scope)
            if found is not None and model.has(other, site.scope, Role.GRAD):
                yield ConstantMask(*found, node, other, site.scope)
                break
    for scope in model.c.scopes:
        for bindings in scope.bindings.values():
            for b in bindings:
                target = b.target
                if b.kind != "assign" or not isinstance(target, cst.Subscript):
                    continue
                if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
                    continue
                found = _constant(model, target.slice[0].slice.value, scope)
                if found is not None and model.has(target.value, scope, Role.GRAD):
                    yield ConstantMask(*found, b.stmt, target.value, scope)
    for site in model.c.calls:
        call = site.node
        if not isinstance(call, cst.Call) or model.qualname(call.func) not in _WHERE:
            continue
        args = positional_args(call)
        if len(args) != 3:
            continue
        found = _constant(model, args[0], site.scope)
        grads = [a for a in args[1:] if model.has(a, site.scope, Role.GRAD)]
        if found is not None and grads:
            yield ConstantMask(*found, call, grads[0], site.scope)


def _constant(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> tuple[cst.Comparison, cst.BaseExpression, Range, bool] | None:
    """(comparison, compared value, its range, constant value) when ``node`` is a mask that
    the range decides."""
    if depth > 3:
        return None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        if node.func.attr.value in _CASTS:
            return _constant(model, node.func.value, scope, depth + 1)  # (x > 0).astype(float)
        return None
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if number_value(other) is not None:  # (a > 0) * 1.0
                return _constant(model, side, scope, depth + 1)
        return None
    if isinstance(node, cst.Name):
        sources = model.value_sources(node, scope)
        bindings = model.owner(node.value, scope).bindings.get(node.value, [])
        if len(sources) != 1 or len(bindings) != 1:
            return None
        value, home = sources[0]
        return _constant(model, value, home, depth + 1)
    if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
        return None
    target = node.comparisons[0]
    op = _OPS.get(type(target.operator))
    if op is None:
        return None
    left, right = node.left, target.comparator
    t = number_value(right)
    operand = left
    if t is None:
        t, operand, op = number_value(left), right, _FLIP[op]
    if t is None:
        return None
    r = value_range(model, operand, scope)
    # judged on the closed range: an open end (sigmoid > 0) can be reached in floating point
    verdict = Range(r.lo, r.hi, False, False).always(op, t)
    if verdict is None:
        return None
    return node, operand, r, verdict


def range_origin(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> cst.CSTNode:
    """Where the compared value is made (its one assignment), for the finding's evidence."""
    sources = model.value_sources(node, scope) if isinstance(node, cst.Name | cst.Attribute) else []
    return sources[0][0] if len(sources) == 1 else node
