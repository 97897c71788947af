"""Facts about training: constant weight initialisers and how the values they feed flow, which
the BP3xx rules query."""

from __future__ import annotations

from collections.abc import Container
from typing import NamedTuple

import libcst as cst

from linter.analysis import ModuleModel, Role, WeightUse
from linter.analysis import names as N
from linter.analysis.collect import Binding, Scope, Site
from linter.analysis.exprs import names_in, number_value, positional_args

# calls that fill an array with one value
CONST_FILL = frozenset(
    {"numpy.zeros", "numpy.ones", "numpy.full", "torch.zeros", "torch.ones", "torch.full"}
)


class ConstInits(NamedTuple):
    """Constant weight initialisers of a module."""

    by_key: dict[str, cst.CSTNode]  # storage key (``Net.W1``, ``W[]`` for lists) -> its init call
    in_layer_loop: set[cst.CSTNode]  # ``params["W" + str(l)] = np.zeros(...)`` in a layer loop


def const_inits(model: ModuleModel) -> ConstInits:
    """Every value initialised to a constant (zeros, ones, a fill) that is not a bias, by the
    key it is stored under; the first initialiser of a key wins."""
    found: dict[str, cst.CSTNode] = {}
    in_layer_loop: set[cst.CSTNode] = set()
    biases = model.bias_keys()
    weights = _activation_multipliers(model)
    for scope in model.c.scopes:
        for bindings in scope.bindings.values():
            for b in bindings:
                if b.kind != "assign" or b.value is None:
                    continue
                node = const_call(model, b.value)
                if node is None or _replaced(model, b, bindings, scope):
                    continue
                key = model.key(b.target, scope)
                if key is None:
                    continue
                if isinstance(b.value, cst.ListComp | cst.List):
                    key = f"{key}[]"
                if key in biases:
                    continue  # added to a product (``W @ x + b``): a bias, rightly zero
                found.setdefault(key, node)
                if b.loops and isinstance(b.target, cst.Subscript):
                    # params["W" + str(l)] = np.zeros(...) in a loop over the layers, and
                    # what multiplies the activations in a product (or an updated matrix)
                    if model.updated_matrix(key) or key in weights:
                        in_layer_loop.add(node)
    return ConstInits(found, in_layer_loop)


def _activation_multipliers(model: ModuleModel) -> set[str]:
    """Keys of what a matrix product multiplies an activation by (``params["W" + str(l)] @ A``
    with ``A`` an activation, not a gradient), and what callers pass for them: a layer's
    weights by their use, whatever they are called."""
    found: set[str] = set()
    for mm, site in model.matmuls():
        for side, other in ((mm.left, mm.right), (mm.right, mm.left)):
            roles = model.roles(model.strip_transpose(other)[0], site.scope)
            if Role.ACT in roles and Role.GRAD not in roles:
                k = model.key(side, site.scope)
                if k is not None:
                    found.add(k)
                found.update(model.argument_keys(side, site.scope))
    return found


def _replaced(model: ModuleModel, init: Binding, same: list[Binding], scope: Scope) -> bool:
    """The constant ``init`` is rebound later in its scope, outside any loop, to what a random
    draw or a helper of this module returns (``U = np.zeros(s); U = init_orthogonal(U)``): the
    constant only gave the helper a shape."""
    for b in same:
        if b.index <= init.index or b.kind != "assign" or b.loops != init.loops:
            continue
        if not isinstance(b.value, cst.Call):
            continue
        if model.qualname(b.value.func) in N.RANDOM_INIT:
            return True
        if model.local_function(b.value.func, scope) is not None:
            return True
    return False


def feeds_constant(
    site: Site,
    forward: list[tuple[WeightUse, Site]],
    const_keys: Container[str],
) -> bool:
    """The forward product at ``site`` feeds, through data flow in its scope, another
    forward product whose weight has a constant initialiser: it is a hidden layer."""
    produced = assigned_names(site.stmt)
    if not produced:
        return False
    scope = site.scope
    reach = reachable(scope, produced)
    for other, osite in forward:
        if osite.scope is not scope or other.key not in const_keys:
            continue
        if names_in(other.other) & reach:
            return True
    return False


def stacked_layer(model: ModuleModel, key: str) -> bool:
    """The weight ``key`` belongs to a layer class whose backward propagates a gradient through
    it: a layer made to be stacked, so a hidden one."""
    if "." not in key:
        return False
    cls = key.split(".", 1)[0]
    for use, site in model.weight_uses():
        if use.key == key and site.scope.cls == cls and model.has(use.other, site.scope, Role.GRAD):
            return True
    return False


def const_call(model: ModuleModel, value: cst.BaseExpression) -> cst.CSTNode | None:
    """The constant-initialising call in ``np.zeros(...)``, ``np.ones(...) * 0.1``, lists of them."""
    if isinstance(value, cst.ListComp):
        return const_call(model, value.elt)
    if isinstance(value, cst.List) and value.elements:
        inner = [const_call(model, e.value) for e in value.elements]
        return inner[0] if all(inner) else None
    if isinstance(value, cst.BinaryOperation) and number_value(value.right) is not None:
        return const_call(model, value.left)
    if isinstance(value, cst.Call) and model.qualname(value.func) in CONST_FILL:
        args = positional_args(value)
        shape = args[0] if args else None
        if isinstance(shape, cst.Tuple) and len(shape.elements) < 2:
            return None
        if isinstance(shape, cst.Tuple) or (
            len(args) >= 2 and model.qualname(value.func).startswith("torch")
        ):
            return value
    return None


def assigned_names(stmt: cst.CSTNode) -> set[str]:
    """Names (and attribute names) a simple statement assigns; ``<return>`` for a return."""
    out: set[str] = set()
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                for t in small.targets:
                    out |= {n for n in names_in(t.target) if n != "self"}
                    if isinstance(t.target, cst.Attribute):
                        out.add(t.target.attr.value)
            elif isinstance(small, cst.Return):
                out.add("<return>")
    return out


def reachable(scope: Scope, names: set[str]) -> set[str]:
    """Names whose values are computed (transitively) from ``names`` in this scope, through
    data flow only: parameter updates (``W1 -= lr * dW1``) are not followed."""
    reach = set(names)
    changed = True
    while changed:
        changed = False
        for key, bindings in scope.bindings.items():
            short = key.rsplit(".", 1)[-1]
            if short in reach:
                continue
            for b in bindings:
                if b.kind == "aug" or (
                    b.kind == "assign"
                    and isinstance(b.value, cst.BinaryOperation)
                    and short in names_in(b.value.left)
                ):
                    continue
                if b.value is not None and names_in(b.value) & reach:
                    reach.add(short)
                    changed = True
                    break
    return reach
