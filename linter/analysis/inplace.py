"""In-place writes into the parameters a gradient function is handed.

A gradient function that receives its parameters (``nnGradient(nn_params, ...)``) and cuts them
into matrices with views (``Theta1 = nn_params[:k].reshape(r, c)``) shares memory with its
caller. Writing a constant into such a view (``Theta1[:, 0] = 0``, usually to keep the bias column
out of an L2 penalty) before the forward pass changes the network the gradient is computed for,
and the caller's parameter vector with it.

Decided from structure alone: the written array is a function parameter or a view of one (slices,
``reshape``, ``.T``, ``np.reshape``; never ``.copy()`` or arithmetic), the write is a constant
into a constant index, outside any loop, and the same array is an operand of a matrix product
later in the function whose result an activation is applied to, in a function that computes a
gradient.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Binding, Scope
from linter.analysis.exprs import number_value
from linter.analysis.forms import ACTIVATION_KINDS
from linter.analysis.model import ModuleModel, Role

_VIEW_METHODS = frozenset({"reshape", "view", "ravel", "transpose", "swapaxes"})
_VIEW_FUNCS = frozenset({"numpy.reshape", "numpy.transpose", "numpy.ravel"})


@dataclass(frozen=True)
class ZeroedParameter:
    """``write`` stores a constant into ``name`` (a view of the argument ``param``) before the
    forward product ``use`` reads it."""

    write: cst.CSTNode
    name: str
    param: str
    use: cst.CSTNode
    activation: cst.CSTNode


def _constant_index(sub: cst.Subscript) -> bool:
    """Every index is a literal number or a slice of literal numbers (``[:, 0]``, ``[0]``)."""

    def const(node: cst.BaseExpression | None) -> bool:
        return node is None or number_value(node) is not None

    for el in sub.slice:
        s = el.slice
        if isinstance(s, cst.Index):
            if number_value(s.value) is None:
                return False
        elif not (const(s.lower) and const(s.upper) and const(s.step)):
            return False
    return True


def _view_base(model: ModuleModel, node: cst.BaseExpression) -> str | None:
    """The name a view expression is taken of: ``p[a:b].reshape(r, c)`` -> ``p``."""
    for _ in range(8):
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Attribute) and node.attr.value == "T":
            node = node.value
        elif isinstance(node, cst.Call):
            func = node.func
            if model.qualname(func) in _VIEW_FUNCS and node.args:
                node = node.args[0].value
            elif (
                isinstance(func, cst.Attribute)
                and func.attr.value in _VIEW_METHODS
                and model.qualname(func) is None
            ):
                node = func.value
            else:
                return None
        else:
            return None
    return None


def _argument_view(model: ModuleModel, name: str, scope: Scope, before: int) -> str | None:
    """The function parameter ``name`` shares memory with at statement ``before``: itself, or
    the parameter every earlier binding of ``name`` takes a view of."""
    earlier = [
        b
        for b in scope.bindings.get(name, [])
        if b.index < before and not isinstance(b.target, cst.Subscript)
    ]
    if name in scope.params:
        return name if all(b.kind == "param" for b in earlier) else None
    if not earlier or any(b.kind != "assign" or b.value is None for b in earlier):
        return None
    assert earlier[-1].value is not None
    base = _view_base(model, earlier[-1].value)
    if base is None or base == name:
        return None
    return _argument_view(model, base, scope, earlier[-1].index)


def _activation_of(
    model: ModuleModel,
    node: cst.BaseExpression,
    target: str | cst.CSTNode,
    scope: Scope,
    depth: int = 0,
) -> cst.CSTNode | None:
    """``node`` applies an activation to ``target`` (a name, or the product node itself),
    itself or as an element it stacks (``np.hstack([ones, sigmoid(z)])``)."""
    form = model.forms.form(node, scope)
    if form is not None:
        operand = form.operand
        if form.kind in ACTIVATION_KINDS and (
            operand is target or (isinstance(operand, cst.Name) and operand.value == target)
        ):
            return node
        return None
    if depth >= 3:
        return None
    parts: list[cst.BaseExpression] = []
    if isinstance(node, cst.Call):
        parts = [a.value for a in node.args]
    elif isinstance(node, cst.List | cst.Tuple):
        parts = [e.value for e in node.elements]
    for part in parts:
        found = _activation_of(model, part, target, scope, depth + 1)
        if found is not None:
            return found
    return None


def _activated(model: ModuleModel, target: str, scope: Scope, after: int) -> cst.CSTNode | None:
    """A later binding of the scope that applies an activation to the name ``target``."""
    for bindings in scope.bindings.values():
        for b in bindings:
            if b.index <= after or b.kind != "assign" or b.value is None:
                continue
            found = _activation_of(model, b.value, target, scope)
            if found is not None:
                return found
    return None


def _forward_use(
    model: ModuleModel, name: str, scope: Scope, after: int
) -> tuple[cst.CSTNode, cst.CSTNode] | None:
    """A matrix product after statement ``after`` with ``name`` as an operand, whose result
    (bound to a plain name) goes through an activation: (product, activation)."""
    for mm, site in model.matmuls():
        if site.scope is not scope or site.index <= after:
            continue
        operands = [model.strip_transpose(mm.left)[0], model.strip_transpose(mm.right)[0]]
        if not any(isinstance(o, cst.Name) and o.value == name for o in operands):
            continue
        stmt = site.stmt
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            stmt = stmt.body[0]
        if isinstance(stmt, cst.Assign):
            direct = _activation_of(model, stmt.value, mm.node, scope)
            if direct is not None:
                return mm.node, direct
        if not (
            isinstance(stmt, cst.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0].target, cst.Name)
        ):
            continue
        act = _activated(model, stmt.targets[0].target.value, scope, site.index)
        if act is not None:
            return mm.node, act
    return None


def _computes_gradient(model: ModuleModel, scope: Scope) -> bool:
    for bindings in scope.bindings.values():
        for b in bindings:
            if b.kind in ("assign", "aug") and model.has(b.target, scope, Role.GRAD):
                return True
    return False


def _writes(scope: Scope) -> Iterator[Binding]:
    for bindings in scope.bindings.values():
        for b in bindings:
            if (
                b.kind == "assign"
                and not b.loops
                and isinstance(b.target, cst.Subscript)
                and isinstance(b.target.value, cst.Name)
                and number_value(b.value) is not None
                and _constant_index(b.target)
            ):
                yield b


def zeroed_parameters(model: ModuleModel) -> Iterator[ZeroedParameter]:
    """Constants written into a view of a function's parameter argument before the forward pass
    of a gradient function reads it."""
    for scope in model.c.scopes:
        if scope.is_module or not scope.params:
            continue
        writes = list(_writes(scope))
        if not writes or not _computes_gradient(model, scope):
            continue
        for b in writes:
            assert isinstance(b.target, cst.Subscript) and isinstance(b.target.value, cst.Name)
            name = b.target.value.value
            param = _argument_view(model, name, scope, b.index)
            if param is None:
                continue
            use = _forward_use(model, name, scope, b.index)
            if use is not None:
                yield ZeroedParameter(b.target, name, param, use[0], use[1])
