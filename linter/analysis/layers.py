"""Which pre-activation a value belongs to: A = f(Z) is the output of the layer that made Z, and a
delta built with f′(Z) (or from the error of A) is that same layer's gradient.

A weight gradient pairs a layer's delta with the layer's *input*; pairing it with the layer's own
output A = f(Z) has no place in backprop. To say "same layer" the analysis names Z by an exact key
(a name, an attribute, a constant dict key: ``params['Z2']``; never a subscript by a variable
index, so ``hs[t]`` and ``hs[t - 1]`` are never confused) and follows values to where they were
made: local assignments before the use, attributes and dict entries set anywhere in the module,
parameters through their call sites, calls through the helper's return.
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Iterator

import libcst as cst

from linter.analysis.collect import Scope, Site
from linter.analysis.exprs import factors_of, positional_args, string_value
from linter.analysis.forms import ACTIVATION_KINDS, Kind
from linter.analysis.model import ModuleModel

_OF_Z = frozenset(
    {Kind.SIGMOID_PRIME_OF_Z, Kind.TANH_PRIME_OF_Z, Kind.STEP, Kind.SOFTMAX_DIAG_OF_Z}
)
_OF_A = frozenset({Kind.OUTPUT_POLY, Kind.ONE_MINUS_SQUARE})
_ASSIGNED: weakref.WeakKeyDictionary[
    Scope, dict[str, tuple[list[int], int, list[cst.BaseExpression]] | None]
] = weakref.WeakKeyDictionary()
_STORES: weakref.WeakKeyDictionary[ModuleModel, dict[str, list[tuple[cst.BaseExpression, Scope]]]]
_STORES = weakref.WeakKeyDictionary()
_PRE: weakref.WeakKeyDictionary[
    ModuleModel, dict[tuple[cst.BaseExpression | str, Scope, int], str | None]
] = weakref.WeakKeyDictionary()


def exact_key(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> str | None:
    """A module-wide name for a stored value: ``Net.params['Z2']`` for ``params['Z2']`` where
    ``params = self.params``; None for anything indexed by a variable."""
    node, _ = model.strip_transpose(node)
    if isinstance(node, cst.Subscript):
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return None
        text = string_value(node.slice[0].slice.value)
        base = exact_key(model, node.value, scope)
        return f"{base}[{text!r}]" if text is not None and base is not None else None
    if isinstance(node, cst.Name | cst.Attribute):
        key = model.key(node, scope)
        return key if key is not None and "[" not in key else None
    return None


def _stores(model: ModuleModel) -> dict[str, list[tuple[cst.BaseExpression, Scope]]]:
    """Every value assigned to an attribute or a constant dict key, by exact key."""
    found = _STORES.get(model)
    if found is None:
        found = {}
        for scope in model.c.scopes:
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.kind != "assign" or b.value is None:
                        continue
                    if not isinstance(b.target, cst.Subscript | cst.Attribute):
                        continue
                    key = exact_key(model, b.target, scope)
                    if key is not None:
                        found.setdefault(key, []).append((b.value, scope))
        _STORES[model] = found
    return found


def value_before(node: cst.BaseExpression, scope: Scope, index: int | None) -> cst.BaseExpression:
    """A local name's value from its latest plain assignment before statement ``index``."""
    if isinstance(node, cst.Name) and index is not None:
        ordered = _plain_assignments(scope, node.value)
        if ordered is not None:
            indices, first_loop, values = ordered
            k = bisect.bisect_left(indices, index)  # the assignments before ``index``
            if k and first_loop >= k:
                # the first of the latest, as ``max`` picks it
                return values[bisect.bisect_left(indices, indices[k - 1])]
            return node
        before = [
            b
            for b in scope.bindings.get(node.value, [])
            if b.index < index and b.kind == "assign" and b.value is not None
        ]
        if before and not any(b.loops for b in before):
            value = max(before, key=lambda b: b.index).value
            assert value is not None
            return value
    return node


def _plain_assignments(
    scope: Scope, name: str
) -> tuple[list[int], int, list[cst.BaseExpression]] | None:
    """The plain assignments of ``name`` in ``scope`` in statement order: their statement
    indices, the position of the first one inside a loop (their number if none is) and their
    values; None when the bindings are not in statement order. Built once per name, so that
    ``value_before`` is a binary search, not a scan of every binding per read (a name assigned
    a thousand times in one long function)."""
    memo = _ASSIGNED.get(scope)
    if memo is None:
        memo = _ASSIGNED[scope] = {}
    if name not in memo:
        plain = [
            b for b in scope.bindings.get(name, []) if b.kind == "assign" and b.value is not None
        ]
        indices = [b.index for b in plain]
        if indices != sorted(indices):
            memo[name] = None
        else:
            loops = [i for i, b in enumerate(plain) if b.loops]
            values = [b.value for b in plain if b.value is not None]
            memo[name] = (indices, loops[0] if loops else len(plain), values)
    return memo[name]


def _sources(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope
) -> Iterator[tuple[cst.BaseExpression, Scope]]:
    if isinstance(node, cst.Call):
        fn = model.local_function(node.func, scope)
        if fn is not None and len(fn.returns) == 1:
            yield fn.returns[0], fn
        return
    if isinstance(node, cst.Subscript | cst.Attribute):
        key = exact_key(model, node, scope)
        if key is not None:
            yield from _stores(model).get(key, [])
            return
    if isinstance(node, cst.Name | cst.Attribute):
        yield from model.value_sources(node, scope)


def pre_activation(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> str | None:
    """The exact key of Z for a value made as A = f(Z) by an activation f."""
    if depth > 5:
        return None
    memo = _PRE.get(model)
    if memo is None:
        memo = _PRE[model] = {}
    # memoised: a name bound n times is read by each of its uses; unmemoised, following every
    # binding of every binding (to depth 5) made a long function's cost grow as a power of n.
    # A bare name's answer is its bindings' (no form is a name), the same for all its uses.
    at = (node.value if isinstance(node, cst.Name) else node, scope, depth)
    if at not in memo:
        memo[at] = _pre_activation(model, node, scope, depth)
    return memo[at]


def _pre_activation(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int
) -> str | None:
    form = model.forms.form(node, scope)
    if form is not None:
        if form.kind in ACTIVATION_KINDS:
            return exact_key(model, form.operand, scope)
        return None
    keys = {pre_activation(model, v, sc, depth + 1) for v, sc in _sources(model, node, scope)}
    return keys.pop() if len(keys) == 1 else None


def _factors(node: cst.BaseExpression, model: ModuleModel) -> list[cst.BaseExpression]:
    out: list[cst.BaseExpression] = []
    for f in factors_of(node):
        if isinstance(f, cst.Call) and model.qualname(f.func) == "numpy.multiply":
            for a in positional_args(f):
                out.extend(_factors(a, model))
        else:
            out.append(f)
    return out


def delta_layer(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, index: int | None
) -> str | None:
    """The exact key of Z for a delta of that layer: built with f′(Z) (or f′ written on A =
    f(Z)), or the error A − y of the output A = f(Z)."""
    value = value_before(node, scope, index)
    factors = _factors(value, model)
    paired = model.forms.poly_pair(factors, factors, scope)
    for f in factors:
        form = model.forms.form(f, scope)
        if form is None or form.kind not in _OF_Z | _OF_A:
            form = paired
        if form is None:
            continue
        if form.kind in _OF_Z:
            return exact_key(model, form.operand, scope)
        if form.kind in _OF_A:
            return pre_activation(model, form.operand, scope)
    parts = model.error_parts(value, scope)
    if parts is not None:
        return pre_activation(model, parts[0], scope)
    return None


def gradient_with_own_output(
    model: ModuleModel,
) -> Iterator[tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression, str, Scope]]:
    """Matrix products pairing a layer's delta with that layer's own output A = f(Z):
    (product, delta, output, key of Z, the product's scope)."""
    pairs: list[tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression, Site]] = [
        (mm.node, mm.left, mm.right, site) for mm, site in model.matmuls()
    ]
    for site in model.c.calls:
        call = site.node
        assert isinstance(call, cst.Call)
        args = positional_args(call)
        if model.qualname(call.func) in ("numpy.outer", "torch.outer") and len(args) == 2:
            pairs.append((call, args[0], args[1], site))
    for node, left, right, site in pairs:
        for delta, other in ((left, right), (right, left)):
            out_z = pre_activation(model, model.strip_transpose(other)[0], site.scope)
            if out_z is None:
                continue
            delta_z = delta_layer(model, model.strip_transpose(delta)[0], site.scope, site.index)
            if delta_z == out_z:
                yield node, delta, other, out_z, site.scope
                break
