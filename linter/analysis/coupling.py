"""Outputs whose elements are coupled: a vector normalised along an axis.

A softmax ``e / e.sum(axis)`` and a plain normaliser ``x / x.sum(axis)`` both divide every
element by a sum over the others, so each output depends on every input of its row: their
Jacobian is not diagonal, and an elementwise derivative of such an output is wrong whatever the
upstream gradient. This module says which values are such outputs (following assignments,
attributes set in a layer's ``forward`` and tensors saved for backward), and reads a backward's
result as an elementwise polynomial in its upstream gradient and that output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.algebra import output_poly, quotient_by
from linter.analysis.collect import Scope
from linter.analysis.exprs import int_value, positional_args
from linter.analysis.forms import Kind
from linter.analysis.model import ModuleModel, Role

_DATA_ATTRS = frozenset({"data"})  # ``t.data``: the array a tensor object holds


def _strip(node: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(node, cst.Attribute) and node.attr.value in _DATA_ATTRS:
        node = node.value
    return node


def is_normaliser(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> bool:
    """``v / v.sum(axis)`` or ``v / np.sum(v, axis)`` (the sum possibly held in a local)."""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)):
        return False
    num = node.left
    den = model.forms.through_local(node.right, scope)
    summed: cst.BaseExpression | None = None
    if isinstance(den, cst.Call):
        args = positional_args(den)
        if model.qualname(den.func) in ("numpy.sum", "torch.sum") and args:
            summed = args[0]
        elif (
            isinstance(den.func, cst.Attribute)
            and den.func.attr.value == "sum"
            and model.qualname(den.func) is None
        ):
            summed = den.func.value
    return summed is not None and summed.deep_equals(num)


def coupled_output(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """This value is a softmax or a normalised vector (where it was made, or by its role)."""
    node = _strip(node)
    return model.per_name(
        coupled_output, node, scope, depth, lambda: _coupled_output(model, node, scope, depth)
    )


def _coupled_output(model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int) -> bool:
    if model.has(node, scope, Role.PROB):
        return True
    if depth > 4:
        return False
    if is_normaliser(model, node, scope):
        return True
    form = model.forms.form(node, scope)
    if form is not None:
        return form.kind is Kind.SOFTMAX
    saved = _saved_tensor(model, node, scope)
    if saved is not None:
        return coupled_output(model, saved[0], saved[1], depth + 1)
    if isinstance(node, cst.Name | cst.Attribute):
        return any(
            coupled_output(model, v, sc, depth + 1) for v, sc in model.value_sources(node, scope)
        )
    return False


def _saved_tensor(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope
) -> tuple[cst.BaseExpression, Scope] | None:
    """``ctx.saved_tensors[k]`` -> the k-th value ``forward`` saved."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return None
    base = node.value
    index = node.slice[0].slice
    if not (
        isinstance(base, cst.Attribute)
        and base.attr.value in ("saved_tensors", "saved_variables")
        and isinstance(index, cst.Index)
    ):
        return None
    k = int_value(index.value)
    if k is None or k < 0:
        return None
    return model.saved_for_backward(k, scope)


def stored_into_elements(node: cst.BaseExpression, scope: Scope) -> bool:
    """``J[:, i, i] = s * (1 - s)``: the value is written into part of a larger array (the
    diagonal of a full Jacobian being built), not applied as a derivative."""
    return any(
        b.value is node and isinstance(b.target, cst.Subscript)
        for bindings in scope.bindings.values()
        for b in bindings
    )


@dataclass(frozen=True)
class ElementwiseBackward:
    """A backward's result that is ``c · g · s(1 − s)`` for its upstream gradient g and a
    coupled output s."""

    node: cst.BaseExpression  # the result as written (returned or stored)
    output: cst.BaseExpression  # s
    scope: Scope


def elementwise_coupled_backwards(model: ModuleModel) -> Iterator[ElementwiseBackward]:
    """Results of a layer's backward (its return values, and what it stores on ``self``) that
    are, as an elementwise polynomial over several statements, the upstream gradient times
    s(1 − s) of a coupled output s."""
    algebra = model.forms.algebra
    for scope in model.c.scopes:
        if scope.is_module:
            continue
        upstream = model.upstream_gradient_param(scope)
        if upstream is None:
            continue
        results: list[tuple[cst.BaseExpression, int | None]] = [(r, None) for r in scope.returns]
        for key, bindings in scope.bindings.items():
            if key.startswith("self.") and bindings:
                last = max(bindings, key=lambda b: b.index)
                if last.kind == "assign" and last.value is not None:
                    results.append((last.value, last.index))
        for value, index in results:
            poly = algebra.poly(value, scope, index)
            if poly is None:
                continue
            rest = next(
                (
                    q
                    for k in (upstream, f"{upstream}.data")
                    if (q := quotient_by(poly, k)) is not None
                ),
                None,
            )
            found = output_poly(rest) if rest is not None else None
            if found is None:
                continue
            s = algebra.atom(found[0])
            if coupled_output(model, s, scope):
                yield ElementwiseBackward(value, s, scope)
