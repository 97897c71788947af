"""Array ranks from allocations: ``np.zeros((n,))`` and ``np.random.randn(n)`` are vectors,
``np.random.randn(n_out, n_in)`` a matrix. A first, small piece of the symbolic shapes issue 8
asks for: only what an initialiser states literally."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.exprs import dotted, keyword_arg, names_in, positional_args

if TYPE_CHECKING:
    from linter.analysis.collect import Binding, Scope
    from linter.analysis.model import ModuleModel

_READS: weakref.WeakKeyDictionary[
    ModuleModel, tuple[dict[Binding, list[str]], dict[str, list[str]]]
]
_READS = weakref.WeakKeyDictionary()
_VECTORS: weakref.WeakKeyDictionary[ModuleModel, dict[str, bool]] = weakref.WeakKeyDictionary()
_READ_VECTORS: weakref.WeakKeyDictionary[ModuleModel, dict[str, bool]] = weakref.WeakKeyDictionary()
_SHAPE_FIRST = frozenset({"numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full"})
_DIMS_AS_ARGS = frozenset({"numpy.random.randn", "numpy.random.rand"})
_SIZE_THIRD = frozenset({"numpy.random.uniform", "numpy.random.normal"})
_SIZE_FIRST = frozenset(
    {"numpy.random.standard_normal", "numpy.random.random", "numpy.random.random_sample"}
)


def allocation_rank(model: ModuleModel, node: cst.BaseExpression) -> int | None:
    """The number of dimensions an initialiser allocates (scaled or shifted by scalars:
    ``np.random.randn(n) * 0.01``), or None when it does not say."""
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.MatrixMultiply):
            return None
        ranks = [r for s in (node.left, node.right) if (r := allocation_rank(model, s)) is not None]
        return ranks[0] if len(ranks) == 1 else None
    if not isinstance(node, cst.Call):
        return None
    name = model.qualname(node.func)
    args = positional_args(node)
    if name in _DIMS_AS_ARGS:
        return len(args) if all(_dimension(a, element=True) for a in args) else None
    size: cst.BaseExpression | None = None
    if name in _SHAPE_FIRST:
        size = args[0] if args else keyword_arg(node, "shape")
    elif name in _SIZE_THIRD:
        size = args[2] if len(args) > 2 else keyword_arg(node, "size")
    elif name in _SIZE_FIRST:
        size = args[0] if args else keyword_arg(node, "size")
    if size is None:
        return None
    if isinstance(size, cst.Tuple | cst.List):
        elements = [e.value for e in size.elements]
        return len(elements) if all(_dimension(e, element=True) for e in elements) else None
    return 1 if _dimension(size) else None


def _dimension(node: cst.BaseExpression, element: bool = False) -> bool:
    """A length: an integer, ``len(x)``, ``x.shape[i]``, arithmetic of those, or, as an element
    of a shape tuple or an argument of ``randn``, a name (alone, a name could hold a tuple)."""
    if isinstance(node, cst.Integer) or (element and isinstance(node, cst.Name | cst.Attribute)):
        return True
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value
        in (
            "len",
            "int",
        )
    ):
        return True
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute):
        return node.value.attr.value == "shape"
    if isinstance(node, cst.BinaryOperation):
        return _dimension(node.left, element) and _dimension(node.right, element)
    return False


def is_vector_parameter(model: ModuleModel, key: str) -> bool:
    """Every initialiser of ``key`` that states its rank allocates a vector, and one does."""
    memo = _VECTORS.get(model)
    if memo is None:
        memo = _VECTORS[model] = {}
    if key not in memo:
        memo[key] = _is_vector_parameter(model, key)
    return memo[key]


def _is_vector_parameter(model: ModuleModel, key: str) -> bool:
    cls, _, attr = key.partition(".")
    if attr and cls in model.c.class_attrs:  # a parameter key ``Class.attr``
        bindings = list(model.c.class_attrs[cls].get(attr, []))
    else:
        bindings = [b for scope in model.c.scopes for b in scope.bindings.get(key, [])]
    ranks = set()
    for b in bindings:
        if b.kind == "assign" and b.value is not None:
            rank = allocation_rank(model, b.value)
            if rank is not None:
                ranks.add(rank)
    return ranks == {1}


def stored_for_vector(model: ModuleModel, b: Binding, scope: Scope) -> bool:
    """A gradient store (``dW = ...``, or the update itself) for a parameter allocated as a
    vector: a vector has no orientation, ``g.dot(X)`` is ``X.T.dot(g)``."""
    keys = {model.key(b.target, scope)}
    stored = dotted(b.target)
    by_binding, by_read = _update_index(model)
    keys.update(by_binding.get(b, ()))
    if any(k is not None and is_vector_parameter(model, k) for k in keys):
        return True
    return stored is not None and _read_by_vector_update(model, stored, by_read)


def _read_by_vector_update(model: ModuleModel, stored: str, by_read: dict[str, list[str]]) -> bool:
    """An update of a vector parameter reads ``stored`` in its step: asked once per name, not
    once per store (``self.dW`` is read by the update of every layer class's ``W``)."""
    memo = _READ_VECTORS.get(model)
    if memo is None:
        memo = _READ_VECTORS[model] = {}
    if stored not in memo:
        memo[stored] = any(is_vector_parameter(model, k) for k in by_read.get(stored, ()))
    return memo[stored]


def _update_index(
    model: ModuleModel,
) -> tuple[dict[Binding, list[str]], dict[str, list[str]]]:
    """The keys of the updates made by each binding (the binding itself: it lives as long as
    the model, so no other object can take its place as an ``id()`` could) and of those whose
    step reads each name or dotted attribute: built once per model, not scanned once per
    gradient store."""
    found = _READS.get(model)
    if found is None:
        by_binding: dict[Binding, list[str]] = {}
        by_read: dict[str, list[str]] = {}
        for u in model.updates():
            by_binding.setdefault(u.binding, []).append(u.key)
            for k in _read_keys(u.step):
                by_read.setdefault(k, []).append(u.key)
        found = _READS[model] = (by_binding, by_read)
    return found


def _read_keys(node: cst.BaseExpression) -> set[str]:
    """The names and dotted attributes an expression reads."""
    found = set(names_in(node))
    stack: list[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Attribute) and (key := dotted(n)) is not None:
            found.add(key)
        stack.extend(n.children)
    return found
