"""Callables followed through variables, dict entries, attributes and functional helpers.

A function reaches its call in many spellings: ``f = sigmoid; f(z)``, ``acts["relu"](z)``,
``self.act = np.tanh; self.act(z)``, ``lambda v: np.exp(v)`` passed to
``np.apply_along_axis``. This module answers two questions the model and the form recogniser
ask, from structure only:

- ``held_value``: the one expression a name, a ``self``/``cls`` attribute or a constant-key entry
  of a dict literal holds (what ``f`` in ``f(z)`` stands for);
- ``application``: a functional helper call that evaluates a callable on an array, row by row
  or element by element (``np.apply_along_axis(f, axis, a)``, ``np.vectorize(f)(a)``,
  ``np.frompyfunc(f, 1, 1)(a)``, ``map(f, a)``): the callable and the array it is given. The
  value of such a call is, row by row, the callable's value on the array, so a helper applied
  this way is read as if it were called on the array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.exprs import dotted, int_value, positional_args, string_value

if TYPE_CHECKING:
    from linter.analysis.collect import Scope
    from linter.analysis.model import ModuleModel

# ``f(a)`` row by row or element by element: (the callable's position, the array's position)
_APPLY = {
    "numpy.apply_along_axis": (0, 2),
}
# ``vectorize(f)(a)``: the wrapper's callable position; the array is the wrapped call's first
_WRAP = frozenset({"numpy.vectorize", "numpy.frompyfunc"})


@dataclass(frozen=True)
class Application:
    """``call`` evaluates ``func`` (as written) on ``array``."""

    call: cst.Call
    func: cst.BaseExpression
    array: cst.BaseExpression


def held_value(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope
) -> cst.BaseExpression | None:
    """The one value a name, a ``self.attr`` or a constant-key dict entry is bound to
    (``None`` when it has several or none, or is not one of these)."""
    if isinstance(node, cst.Subscript):
        return _dict_entry(model, node, scope)
    key = dotted(node)
    if key is None:
        return None
    if isinstance(node, cst.Name):
        bindings = model.visible_bindings(key, scope)
    elif key.startswith(("self.", "cls.")) and key.count(".") == 1 and scope.cls:
        bindings = list(model.c.class_attrs.get(scope.cls, {}).get(key.split(".", 1)[1], []))
    else:
        return None
    if len(bindings) == 1 and bindings[0].kind == "unpack" and bindings[0].value is not None:
        # ``f, f_prime = ACTS["relu"]`` with ``ACTS = {"relu": (relu, relu_grad)}``
        return _element(model, bindings[0].value, scope, bindings[0].position)
    values = [b.value for b in bindings if b.kind == "assign" and b.value is not None]
    if len(values) != 1 or len(values) != len(bindings):
        return None
    return values[0]


def _element(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, position: int
) -> cst.BaseExpression | None:
    """The element at ``position`` of a tuple or list literal ``node`` is (or holds)."""
    literal = node if isinstance(node, cst.Tuple | cst.List) else held_value(model, node, scope)
    if not isinstance(literal, cst.Tuple | cst.List):
        return None
    elements = literal.elements
    if any(not isinstance(e, cst.Element) for e in elements):
        return None  # ``*rest``: positions we cannot count
    if not -len(elements) <= position < len(elements):
        return None
    return elements[position].value


def _dict_entry(model: ModuleModel, node: cst.Subscript, scope: Scope) -> cst.BaseExpression | None:
    """``acts["relu"]`` with ``acts = {"relu": relu, ...}`` (bound once) -> ``relu``; an entry's
    element ``acts["relu"][1]`` with ``acts = {"relu": (relu, relu_grad)}`` -> ``relu_grad``."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    wanted = _constant_key(node.slice[0].slice.value)
    if wanted is None:
        return None
    if wanted[0] == "int" and isinstance(wanted[1], int):
        found_element = _element(model, node.value, scope, wanted[1])
        if found_element is not None:
            return found_element
    literal = held_value(model, node.value, scope)
    if not isinstance(literal, cst.Dict):
        return None
    found = None
    for el in literal.elements:
        if not isinstance(el, cst.DictElement):
            return None  # ``**other``: entries we cannot see
        if _constant_key(el.key) == wanted:
            found = el.value
    return found


def _constant_key(node: cst.BaseExpression) -> tuple[str, object] | None:
    text = string_value(node)
    if text is not None:
        return ("str", text)
    number = int_value(node)
    return ("int", number) if number is not None else None


def held_library(model: ModuleModel, func: cst.BaseExpression, scope: Scope) -> str | None:
    """The library function (``numpy.tanh``) a variable, attribute or dict entry holds, followed
    through up to three bindings (``act = np.tanh; self.f = act``)."""
    node: cst.BaseExpression | None = func
    for _ in range(4):
        if node is None or model.qualname(node) is not None:
            break
        node = held_value(model, node, scope)
    if node is None or node is func:
        return None
    return model.qualname(node)


def application(model: ModuleModel, call: cst.CSTNode) -> Application | None:
    """The callable a functional helper evaluates and the array it evaluates it on."""
    if not isinstance(call, cst.Call):
        return None
    args = positional_args(call)
    func = call.func
    if isinstance(func, cst.Call) and model.qualname(func.func) in _WRAP:
        inner = positional_args(func)
        if inner and args:
            return Application(call, inner[0], args[0])
        return None
    qn = model.qualname(func)
    where = _APPLY.get(qn or "")
    if where is None and isinstance(func, cst.Name) and func.value == "map" and qn is None:
        if not any("map" in sc.bindings for sc in model.c.scopes):  # the builtin
            where = (0, 1)
    if where is None or len(args) <= max(where):
        return None
    return Application(call, args[where[0]], args[where[1]])


def applied_function(model: ModuleModel, app: Application, scope: Scope) -> Scope | None:
    """The function or lambda of this module an application evaluates."""
    if isinstance(app.func, cst.Lambda):
        return model.c.lambdas.get(app.func)
    return model.local_function(app.func, scope)


def applications(model: ModuleModel, fn: Scope) -> list[tuple[Application, Scope]]:
    """Every application of ``fn`` by a functional helper in the module (memoised)."""
    table: dict[Scope, list[tuple[Application, Scope]]] | None = model.__dict__.get("_applied")
    if table is None:
        table = {}
        for site in model.c.calls:
            app = application(model, site.node)
            if app is None:
                continue
            target = applied_function(model, app, site.scope)
            if target is not None:
                table.setdefault(target, []).append((app, site.scope))
        model.__dict__["_applied"] = table
    return table.get(fn, [])


def evaluations(model: ModuleModel, fn: Scope) -> list[tuple[cst.Call, Scope, cst.BaseExpression]]:
    """Where ``fn`` is evaluated on a value given for its first parameter: (the call, its
    scope, the value), for direct calls (``f(z)``) and functional helpers (``np.apply_along_axis
    (f, 1, z)``)."""
    params = list(fn.params)
    out: list[tuple[cst.Call, Scope, cst.BaseExpression]] = []
    for call, scope in model.callers(fn):
        args = positional_args(call)
        skip = 1 if fn.cls is not None and params[:1] in (["self"], ["cls"]) else 0
        if isinstance(call.func, cst.Attribute) and skip and args:
            out.append((call, scope, args[0]))
        elif not skip and args:
            out.append((call, scope, args[0]))
    out.extend((app.call, scope, app.array) for app, scope in applications(model, fn))
    return out


def returned(fn: Scope) -> cst.BaseExpression | None:
    """The one value a function or lambda returns (through a local bound once: ``e = f(x);
    return e``)."""
    if len(fn.returns) != 1:
        return None
    value = fn.returns[0]
    if isinstance(value, cst.Name) and not isinstance(fn.node, cst.Lambda):
        bound = fn.bindings.get(value.value, [])
        if len(bound) == 1 and bound[0].kind == "assign" and bound[0].value is not None:
            return bound[0].value
    return value
