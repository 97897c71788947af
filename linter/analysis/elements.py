"""Where an element of a tuple or list comes from, across packing, lists, calls and returns.

The forward pass of course-style numpy code packs what backward needs into tuples and lists:
``linear_cache = (A_prev, W, b)``, ``return A, (linear_cache, activation_cache)``,
``caches.append(cache)``; backward takes them apart again: ``linear_cache, activation_cache =
caches[l]`` then ``A_prev, W, b = linear_cache`` in a helper that received it as a parameter.
``origins`` follows such a value back with an *element path*, the positions still to be taken
out of it, until the path is used up: ``W`` in backward is the ``W`` of the tuple literal in
forward, whatever either is called.

Steps (each keeps or consumes the path):
- a tuple or list literal hands out the element at the next position (a list element read with
  an index that is not a constant reads any element);
- ``x[i]`` adds position ``i`` (or "any element") to the path of ``x``;
- a name goes to its bindings: an assignment keeps the path, ``a, b = v`` adds ``a``'s
  position to ``v``'s path, ``xs.append(v)`` consumes one position, ``for x in xs`` adds "any
  element" to ``xs``, a parameter goes to what every call site in the module passes;
- a call of a function of this module goes to its returns; ``a if c else b`` to both arms.
Anything else (an opaque call, a star, a starred unpacking, an attribute) ends the search with
no answer: the origins are all known or none are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import UNKNOWN_POSITION, Binding, Scope

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

ANY = None  # "any element" of a list: read with an index that is not a constant
Position = int | None
_BUDGET = 200  # steps per question: the answer is "unknown" past it


def unpacked_origins(
    model: ModuleModel, b: Binding, scope: Scope
) -> list[tuple[cst.BaseExpression, Scope]] | None:
    """The expressions (with their scopes) an unpacking binding ``..., x, ... = value`` takes
    ``x`` from, or None when some origin cannot be followed."""
    if b.kind != "unpack" or b.value is None or b.position == UNKNOWN_POSITION:
        return None
    return origins(model, b.value, scope, (b.position,))


def origins(
    model: ModuleModel,
    node: cst.BaseExpression,
    scope: Scope,
    path: tuple[Position, ...],
) -> list[tuple[cst.BaseExpression, Scope]] | None:
    """The expressions the element at ``path`` of ``node`` comes from (``path`` empty: ``node``
    itself), or None when some branch of the search ends in something it cannot follow."""
    found: list[tuple[cst.BaseExpression, Scope]] = []
    seen: set[tuple[cst.BaseExpression, Scope, tuple[Position, ...]]] = set()
    work: list[tuple[cst.BaseExpression, Scope, tuple[Position, ...]]] = [(node, scope, path)]
    steps = 0
    while work:
        expr, where, rest = work.pop()
        steps += 1
        if steps > _BUDGET:
            return None
        if not rest:
            found.append((expr, where))
            continue
        mark = (expr, where, rest)
        if mark in seen:
            continue  # a cycle (a list appended to itself through a loop) adds nothing new
        seen.add(mark)
        following = _step(model, expr, where, rest)
        if following is None:
            return None
        work.extend(following)
    return found


def _step(
    model: ModuleModel,
    expr: cst.BaseExpression,
    where: Scope,
    path: tuple[Position, ...],
) -> list[tuple[cst.BaseExpression, Scope, tuple[Position, ...]]] | None:
    first, rest = path[0], path[1:]
    if isinstance(expr, cst.Tuple | cst.List):
        elements = expr.elements
        if any(isinstance(e, cst.StarredElement) for e in elements):
            return None
        if first is ANY:
            return [(e.value, where, rest) for e in elements] if elements else None
        if -len(elements) <= first < len(elements):
            return [(elements[first].value, where, rest)]
        return None
    if isinstance(expr, cst.Subscript):
        if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
            return None
        index = _constant_int(expr.slice[0].slice.value)
        return [(expr.value, where, (index, *path))]
    if isinstance(expr, cst.IfExp):
        return [(expr.body, where, path), (expr.orelse, where, path)]
    if isinstance(expr, cst.Call):
        fn = model.local_function(expr.func, where)
        if fn is None or not fn.returns:
            return None
        return [(r, fn, path) for r in fn.returns]
    if isinstance(expr, cst.Name):
        return _name_step(model, expr, where, path)
    return None


def _name_step(
    model: ModuleModel,
    expr: cst.Name,
    where: Scope,
    path: tuple[Position, ...],
) -> list[tuple[cst.BaseExpression, Scope, tuple[Position, ...]]] | None:
    home = model.owner(expr.value, where)
    bindings = model.visible_bindings(expr.value, where)
    if not bindings:
        return None
    out: list[tuple[cst.BaseExpression, Scope, tuple[Position, ...]]] = []
    for b in bindings:
        if b.kind == "param":
            args = list(model.arguments_for(expr.value, home))
            if not args:
                return None
            out.extend((a, caller, path) for a, caller in args)
        elif b.value is None:
            return None
        elif b.kind == "assign":
            if isinstance(b.value, cst.List) and not b.value.elements:
                continue  # ``caches = []``: the elements are what is appended
            out.append((b.value, home, path))
        elif b.kind == "append":
            out.append((b.value, home, path[1:]))  # any position: appends are read back by index
        elif b.kind == "unpack":
            if b.position == UNKNOWN_POSITION:
                return None
            out.append((b.value, home, (b.position, *path)))
        elif b.kind == "for":
            out.append((b.value, home, (ANY, *path)))
        else:
            return None  # ``xs += ...``, ``x -= ...``: not an element store this follows
    return out or None


def _constant_int(node: cst.BaseExpression) -> Position:
    negative = False
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node, negative = node.expression, True
    if isinstance(node, cst.Integer):
        try:
            value = int(node.value, 0)
        except ValueError:
            return ANY
        return -value if negative else value
    return ANY
