"""Which classes of this module an object may be an instance of, so ``layer.backward(g)`` on an
object resolves to the method of ``layer``'s class, not to a method found by its name alone.

A network keeps its layers as objects: ``self.layers = [Dense(4, 8), Tanh(), Dense(8, 3)]``,
``layers.append(Dense(...))``, ``first = Dense(4, 8)``; its training loop calls them:
``for layer in reversed(self.layers): g = layer.backward(g, lr)``. When two layer classes both
define the method, its name alone does not say which one runs; the objects' classes do, and each
of them receives what the call passes.

Followed from structure only: a constructor call of a class defined in this module, a name's
assignments and ``for`` loops, ``self.<attr>`` assignments of the class, list and tuple literals,
list comprehensions, concatenation, ``append``, indexing, ``reversed(...)``, ``list(...)`` and slices. What
cannot be followed adds no class (the answer is the classes known, possibly none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Binding, Scope

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

_DEPTH = 6
_SEQUENCE_CALLS = frozenset({"reversed", "list", "tuple", "iter", "sorted"})


def instance_classes(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> set[str]:
    """The classes of this module whose instances ``node`` may hold."""
    return _value(model, node, scope, 0)


def _value(model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int) -> set[str]:
    if depth > _DEPTH:
        return set()
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Name) and node.func.value in model.c.class_bases:
            if not model.visible_bindings(node.func.value, scope):
                return {node.func.value}
        return set()
    if isinstance(node, cst.Subscript):
        return _elements(model, node.value, scope, depth + 1)
    found: set[str] = set()
    for b, where in _bindings(model, node, scope):
        if b.kind == "assign" and b.value is not None:
            found |= _value(model, b.value, where, depth + 1)
        elif b.kind == "for" and b.value is not None and b.target is _target_of(b):
            found |= _elements(model, b.value, where, depth + 1)
    return found


def _elements(model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int) -> set[str]:
    """The classes of the objects a sequence holds."""
    if depth > _DEPTH:
        return set()
    if isinstance(node, cst.List | cst.Tuple):
        found: set[str] = set()
        for e in node.elements:
            if isinstance(e, cst.Element):
                found |= _value(model, e.value, scope, depth + 1)
        return found
    if isinstance(node, cst.ListComp | cst.GeneratorExp):
        return _value(model, node.elt, scope, depth + 1)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        left = _elements(model, node.left, scope, depth + 1)
        return left | _elements(model, node.right, scope, depth + 1)
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Name) and func.value in _SEQUENCE_CALLS and node.args:
            if model.qualname(func) in (None, f"builtins.{func.value}", func.value):
                return _elements(model, node.args[0].value, scope, depth + 1)
        return set()
    if isinstance(node, cst.Subscript):  # layers[::-1], layers[1:]
        if any(isinstance(s.slice, cst.Slice) for s in node.slice):
            return _elements(model, node.value, scope, depth + 1)
        return set()
    found = set()
    for b, where in _bindings(model, node, scope):
        if b.kind == "assign" and b.value is not None:
            found |= _elements(model, b.value, where, depth + 1)
        elif b.kind == "append" and b.value is not None:
            found |= _value(model, b.value, where, depth + 1)
    return found


def _target_of(b: Binding) -> cst.BaseExpression | None:
    """The ``for`` statement's whole target when it is one name (not an unpacking)."""
    stmt = b.stmt
    if isinstance(stmt, cst.For) and isinstance(stmt.target, cst.Name):
        return stmt.target
    return None


def _bindings(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope
) -> list[tuple[Binding, Scope]]:
    """A name's bindings visible in ``scope``, or a ``self.<attr>``'s bindings in its class, each
    with the scope it is made in."""
    if isinstance(node, cst.Name):
        owner = _owner(model, node.value, scope)
        return [(b, owner) for b in model.visible_bindings(node.value, scope)]
    if (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == "self"
        and scope.cls
    ):
        key = f"self.{node.attr.value}"
        found: list[tuple[Binding, Scope]] = []
        for s in model.c.class_scopes(scope.cls):
            found.extend((b, s) for b in s.bindings.get(key, []))
        return found
    return []


def _owner(model: ModuleModel, name: str, scope: Scope) -> Scope:
    """The scope whose binding of ``name`` a read in ``scope`` sees (the nearest that binds it)."""
    s: Scope | None = scope
    while s is not None:
        if name in s.bindings:
            return s
        s = s.parent
    return model.c.module_scope or scope
