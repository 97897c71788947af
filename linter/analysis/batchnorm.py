"""Batch normalisation layers recognised by what they compute, and what their backward returns.

A class is a batch-norm layer when one of its methods normalises an input ``x`` (a parameter of
that method) with the batch's own statistics, ``x̂ = (x − mean(x, axis)) / sqrt(var(x, axis) + ε)``
(the variance as ``var``, ``std`` or the mean of the squared centred input; the division may be a
product with ``1 / sqrt(…)``), and scales it by an attribute γ: ``γ·x̂ + β``. Values are followed
through local names and ``self.`` attributes of the class, never by their names.

Its backward is a method of the class, other than the one that normalises, whose first parameter
(the upstream gradient ``g``) reaches what it returns (``dx``, or the first element of a returned
tuple). The facts:

- ``dx_terms_without_gamma``: ``dx`` is a sum whose terms do not all carry γ (or none does):
  every term of the right ``dx = γ/σ · (g − mean(g) − x̂·mean(g·x̂))`` does;
- ``dx_without_batch_statistics``: no reduction over the batch of anything built from ``g`` reaches
  ``dx``; the terms through μ and σ² (which depend on every ``x`` of the batch) are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import dotted, keyword_arg, number_value, positional_args
from linter.analysis.treewalk import walk

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

_REDUCE = frozenset({"numpy.sum", "numpy.mean"})
_LIB_ROOTS = ("numpy", "math")
_METHODS = frozenset({"sum", "mean", "reshape", "dot", "transpose", "copy", "astype", "var", "std"})


@dataclass(frozen=True)
class BatchNormLayer:
    cls: str
    normalise: Scope  # the method computing x̂
    gamma: str  # the scale attribute, ``self.gamma``
    xhat: cst.CSTNode  # the statement computing x̂ (evidence)
    scale: cst.CSTNode  # the statement computing γ·x̂ + β (evidence)


@dataclass(frozen=True)
class Finding:
    node: cst.CSTNode
    layer: BatchNormLayer
    backward: Scope
    upstream: str


class _Walk(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: list[cst.Name] = []
        self.attrs: list[cst.Attribute] = []
        self.calls: list[cst.Call] = []

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attrs.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


def _walk(node: cst.CSTNode) -> _Walk:
    w = _Walk()
    walk(node, w)
    return w


def _strip(node: cst.BaseExpression) -> cst.BaseExpression:
    """``γ.T``, ``γ.reshape(…)`` -> γ."""
    while True:
        if isinstance(node, cst.Attribute) and node.attr.value == "T":
            node = node.value
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ("reshape", "copy", "astype")
        ):
            node = node.func.value
        else:
            return node


class _Class:
    """Values of one class: local names of each method, ``self.`` attributes across methods."""

    def __init__(self, model: ModuleModel, cls: str) -> None:
        self.model = model
        self.cls = cls
        self.methods = [s for s in model.c.class_scopes(cls) if not s.nested]
        self.attrs: dict[str, list[tuple[cst.BaseExpression, Scope]]] = {}
        for m in self.methods:
            for key, bindings in m.bindings.items():
                if not key.startswith("self."):
                    continue
                for b in bindings:
                    if (
                        b.kind == "assign"
                        and b.value is not None
                        and isinstance(b.target, cst.Attribute)
                    ):
                        self.attrs.setdefault(key, []).append((b.value, m))

    def values(
        self, node: cst.BaseExpression, scope: Scope
    ) -> list[tuple[cst.BaseExpression, Scope]]:
        """What a name or ``self.`` attribute may hold (one step); the node itself otherwise."""
        key = dotted(node)
        if key is None:
            return [(node, scope)]
        if key.startswith("self."):
            return self.attrs.get(key, [])
        if isinstance(node, cst.Name):
            return [
                (b.value, scope)
                for b in scope.bindings.get(key, [])
                if b.kind == "assign" and b.value is not None
            ]
        return []

    def is_param(self, node: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        if depth > 3:
            return False
        if isinstance(node, cst.Name) and node.value in scope.params and node.value != "self":
            return True
        return any(
            isinstance(v, cst.Name | cst.Attribute) and self.is_param(v, s, depth + 1)
            for v, s in self.values(node, scope)
            if v is not node
        )

    def _call(self, node: cst.BaseExpression) -> tuple[str, cst.BaseExpression] | None:
        """("mean" | "var" | "std" | "sqrt", argument) for ``np.mean(a, axis)`` / ``a.mean(axis)``."""
        if not isinstance(node, cst.Call):
            return None
        q = self.model.qualname(node.func)
        args = positional_args(node)
        if q in ("numpy.mean", "numpy.var", "numpy.std", "numpy.sqrt") and args:
            kind = q.split(".")[1]
            if kind != "sqrt" and len(args) < 2 and keyword_arg(node, "axis") is None:
                return None
            return kind, args[0]
        if (
            q is None
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ("mean", "var", "std")
            and (args or keyword_arg(node, "axis") is not None)
        ):
            return node.func.attr.value, node.func.value
        return None

    def _follow(
        self, node: cst.BaseExpression, scope: Scope, depth: int
    ) -> list[tuple[cst.BaseExpression, Scope]]:
        if isinstance(node, cst.Name | cst.Attribute) and dotted(node) and depth < 4:
            out = []
            for v, s in self.values(node, scope):
                out.extend(self._follow(v, s, depth + 1))
            return out
        return [(node, scope)]

    def is_mean_of_input(self, node: cst.BaseExpression, scope: Scope) -> bool:
        for v, s in self._follow(node, scope, 0):
            c = self._call(v)
            if c and c[0] == "mean" and self.is_param(c[1], s):
                return True
        return False

    def centred(self, node: cst.BaseExpression, scope: Scope) -> bool:
        for v, s in self._follow(node, scope, 0):
            if (
                isinstance(v, cst.BinaryOperation)
                and isinstance(v.operator, cst.Subtract)
                and self.is_param(v.left, s)
                and self.is_mean_of_input(v.right, s)
            ):
                return True
        return False

    def is_var(self, node: cst.BaseExpression, scope: Scope) -> bool:
        for v, s in self._follow(node, scope, 0):
            if isinstance(v, cst.BinaryOperation) and isinstance(v.operator, cst.Add):
                if self.is_var(v.left, s) or self.is_var(v.right, s):
                    return True
                continue
            c = self._call(v)
            if c is None:
                continue
            if c[0] == "var" and self.is_param(c[1], s):
                return True
            if c[0] == "mean":
                sq = c[1]
                if (
                    isinstance(sq, cst.BinaryOperation)
                    and isinstance(sq.operator, cst.Power)
                    and number_value(sq.right) == 2
                    and self.centred(sq.left, s)
                ):
                    return True
        return False

    def is_std(self, node: cst.BaseExpression, scope: Scope) -> bool:
        for v, s in self._follow(node, scope, 0):
            c = self._call(v)
            if c is None:
                continue
            if c[0] == "std" and self.is_param(c[1], s):
                return True
            if c[0] == "sqrt" and self.is_var(c[1], s):
                return True
        return False

    def is_inv_std(self, node: cst.BaseExpression, scope: Scope) -> bool:
        for v, s in self._follow(node, scope, 0):
            if (
                isinstance(v, cst.BinaryOperation)
                and isinstance(v.operator, cst.Divide)
                and number_value(v.left) == 1
                and self.is_std(v.right, s)
            ):
                return True
        return False

    def is_xhat(self, node: cst.BaseExpression, scope: Scope) -> cst.BaseExpression | None:
        for v, s in self._follow(node, scope, 0):
            if not isinstance(v, cst.BinaryOperation):
                continue
            if (
                isinstance(v.operator, cst.Divide)
                and self.centred(v.left, s)
                and self.is_std(v.right, s)
            ):
                return v
            if isinstance(v.operator, cst.Multiply):
                for a, b in ((v.left, v.right), (v.right, v.left)):
                    if self.centred(a, s) and self.is_inv_std(b, s):
                        return v
        return None


def layers(model: ModuleModel) -> list[BatchNormLayer]:
    memo = model.memo.get("batchnorm.layers")
    if memo is not None:
        return memo  # type: ignore[return-value]
    out: list[BatchNormLayer] = []
    classes = sorted({s.cls for s in model.c.scopes if s.cls})
    for cls in classes:
        k = _Class(model, cls)
        found = _find(k)
        if found:
            out.append(found)
    model.memo["batchnorm.layers"] = out
    return out


def _find(k: _Class) -> BatchNormLayer | None:
    for m in k.methods:
        candidates = [
            (b.value, b.stmt)
            for bindings in m.bindings.values()
            for b in bindings
            if b.kind == "assign" and b.value is not None
        ] + [(r, r) for r in m.returns]
        for v, stmt in candidates:
            if not isinstance(v, cst.BinaryOperation):
                continue
            # γ·x̂ + β  or  γ·x̂
            prod = v.left if isinstance(v.operator, cst.Add) else v
            if not (
                isinstance(prod, cst.BinaryOperation) and isinstance(prod.operator, cst.Multiply)
            ):
                continue
            for a, g in ((prod.left, prod.right), (prod.right, prod.left)):
                gkey = dotted(_strip(g))
                if not gkey or not gkey.startswith("self.") or gkey.count(".") != 1:
                    continue
                xh = k.is_xhat(a, m)
                if xh is not None:
                    return BatchNormLayer(k.cls, m, gkey, _stmt_of(k, xh) or stmt, stmt)
    return None


def _stmt_of(k: _Class, node: cst.CSTNode) -> cst.CSTNode | None:
    for m in k.methods:
        for bindings in m.bindings.values():
            for b in bindings:
                if b.value is node:
                    return b.stmt
    return None


@dataclass
class _Backward:
    scope: Scope
    upstream: str
    dx: cst.BaseExpression  # the returned value (first element of a tuple)
    ret: cst.CSTNode  # the node to report at


def _backwards(model: ModuleModel, layer: BatchNormLayer) -> Iterator[_Backward]:
    for m in model.c.scopes:
        if m.cls != layer.cls or m.nested or m is layer.normalise or m.name == "__init__":
            continue
        params = [p for p in m.params if p not in ("self", "cls")]
        if not params or len(m.returns) != 1:
            continue
        g = params[0]
        r = m.returns[0]
        dx = r.elements[0].value if isinstance(r, cst.Tuple) and r.elements else r
        yield _Backward(m, g, dx, dx)


def _cone(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope
) -> tuple[set[str], list[cst.Call], bool]:
    """Keys ``node`` depends on through local names of ``scope`` (names and ``self.`` attributes,
    the latter not followed), the calls met, and whether every binding was seen (no loops,
    subscripts or unpacking)."""
    keys: set[str] = set()
    calls: list[cst.Call] = []
    complete = True
    todo: list[cst.CSTNode] = [node]
    seen: set[str] = set()
    while todo:
        w = _walk(todo.pop())
        calls.extend(w.calls)
        for a in w.attrs:
            d = dotted(a)
            if d:
                keys.add(d)
        for n in w.names:
            keys.add(n.value)
            if n.value in seen:
                continue
            seen.add(n.value)
            for b in scope.bindings.get(n.value, []):
                if b.kind == "param":
                    continue
                if b.value is None or b.kind not in ("assign", "aug"):
                    complete = False
                    continue
                todo.append(b.value)
    return keys, calls, complete


def _library(model: ModuleModel, call: cst.Call) -> bool:
    q = model.qualname(call.func)
    if q is not None:
        return q.split(".")[0] in _LIB_ROOTS
    return isinstance(call.func, cst.Attribute) and call.func.attr.value in _METHODS


def _terms(node: cst.BaseExpression) -> list[tuple[cst.BaseExpression, list[cst.BaseExpression]]]:
    """The additive terms of ``node``, each with the factors it is multiplied or divided by:
    ``(a + b) / s`` gives ``a`` (with ``s``) and ``b`` (with ``s``)."""
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Add | cst.Subtract):
            return _terms(node.left) + _terms(node.right)
        if isinstance(node.operator, cst.Multiply | cst.Divide):
            lt = _terms(node.left)
            rt = (
                _terms(node.right)
                if isinstance(node.operator, cst.Multiply)
                else [(node.right, [])]
            )
            if len(lt) > 1 and len(rt) == 1:
                return [(t, [*extra, node.right]) for t, extra in lt]
            if len(rt) > 1 and len(lt) == 1:
                return [(t, [*extra, node.left]) for t, extra in rt]
    if isinstance(node, cst.UnaryOperation):
        return _terms(node.expression)
    return [(node, [])]


def _reduces_gradient(model: ModuleModel, calls: list[cst.Call], scope: Scope, g: str) -> bool:
    for c in calls:
        q = model.qualname(c.func)
        if q in _REDUCE:
            args = positional_args(c)
            arg: cst.BaseExpression | None = args[0] if args else None
        elif (
            q is None and isinstance(c.func, cst.Attribute) and c.func.attr.value in ("sum", "mean")
        ):
            arg = c.func.value
        else:
            continue
        if arg is not None and g in _cone(model, arg, scope)[0]:
            return True
    return False


def dx_terms_without_gamma(model: ModuleModel) -> Iterator[Finding]:
    for layer in layers(model):
        for bw in _backwards(model, layer):
            keys, calls, complete = _cone(model, bw.dx, bw.scope)
            if bw.upstream not in keys or not complete:
                continue
            if any(not _library(model, c) for c in calls):
                continue
            expr = bw.dx
            if isinstance(expr, cst.Name):
                bindings = bw.scope.bindings.get(expr.value, [])
                if (
                    len(bindings) == 1
                    and bindings[0].kind == "assign"
                    and bindings[0].value is not None
                ):
                    expr = bindings[0].value
            terms = []
            for t, extra in _terms(expr):
                tk = set(_cone(model, t, bw.scope)[0])
                for e in extra:
                    tk |= _cone(model, e, bw.scope)[0]
                terms.append((t, tk))
            if not any(layer.gamma in tk for _, tk in terms):
                if _trained(model, layer, bw, calls):
                    yield Finding(bw.ret, layer, bw.scope, bw.upstream)
                continue
            for t, tk in terms:
                if bw.upstream in tk and layer.gamma not in tk:
                    yield Finding(t, layer, bw.scope, bw.upstream)


def dx_without_batch_statistics(model: ModuleModel) -> Iterator[Finding]:
    for layer in layers(model):
        for bw in _backwards(model, layer):
            keys, calls, complete = _cone(model, bw.dx, bw.scope)
            if bw.upstream not in keys or not complete:
                continue
            if any(not _library(model, c) for c in calls):
                continue
            if _reduces_gradient(model, calls, bw.scope, bw.upstream):
                continue
            node: cst.CSTNode = bw.ret
            if isinstance(bw.dx, cst.Name):
                bindings = bw.scope.bindings.get(bw.dx.value, [])
                if len(bindings) == 1 and bindings[0].kind == "assign":
                    node = bindings[0].stmt
            yield Finding(node, layer, bw.scope, bw.upstream)


def _trained(
    model: ModuleModel, layer: BatchNormLayer, bw: _Backward, calls: list[cst.Call]
) -> bool:
    """γ is a parameter: it is updated like one, or the backward reduces ``g`` times something
    over the batch (γ's own gradient, Σ g·x̂)."""
    if layer.gamma in model.updated_params():
        return True
    for bindings in bw.scope.bindings.values():
        for b in bindings:
            v = b.value
            if b.kind != "assign" or v is None:
                continue
            w = _walk(v)
            for c in w.calls:
                q = model.qualname(c.func)
                arg = None
                if q in _REDUCE and positional_args(c):
                    arg = positional_args(c)[0]
                elif q is None and isinstance(c.func, cst.Attribute) and c.func.attr.value == "sum":
                    arg = c.func.value
                if (
                    isinstance(arg, cst.BinaryOperation)
                    and isinstance(arg.operator, cst.Multiply)
                    and bw.upstream in _cone(model, arg, bw.scope)[0]
                    and len(_cone(model, arg, bw.scope)[0] - {bw.upstream}) > 0
                ):
                    return True
    return False
