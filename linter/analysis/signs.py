"""Relative signs: which gradient a value is a positive or negative multiple of.

``ModuleModel.sign`` gives a value's sign against the loss gradient when the error ``a - y`` /
``y - a`` it comes from is in view. Often it is not (the error is formed by a caller, in another
file, or by a loss object), yet the signs of a layer's values relative to each other are still
known: ``W_grad = delta @ x.T`` and ``b_grad = delta`` are both +1 × the upstream gradient
``delta`` that ``backward`` receives. Two updates built from the same source must then move their
parameters the same way. A source is the upstream-gradient parameter of a ``backward`` (its
scope and name), or ``None`` for the error itself (the absolute sign).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis import ModuleModel
from linter.analysis.collect import Scope
from linter.analysis.exprs import dotted
from linter.analysis.model import Update

Source = tuple[Scope, str] | None
Signed = tuple[int, Source]


def _negated(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)


class RelativeSigns:
    """Memoised relative signs over one module's analysis."""

    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        self._memo: dict[tuple[cst.CSTNode, Scope], Signed | None] = {}
        self._busy: set[tuple[cst.CSTNode, Scope]] = set()

    def of(self, node: cst.BaseExpression, scope: Scope, depth: int = 0) -> Signed | None:
        key = (node, scope)
        if key in self._memo:
            return self._memo[key]
        if key in self._busy or depth > 12:
            return None
        self._busy.add(key)
        try:
            result = self._of(node, scope, depth)
        finally:
            self._busy.discard(key)
        self._memo[key] = result
        return result

    def _agree(self, found: list[Signed | None]) -> Signed | None:
        known = {f for f in found if f is not None}
        return known.pop() if len(known) == 1 else None

    def _of(self, node: cst.BaseExpression, scope: Scope, depth: int) -> Signed | None:
        model = self.model
        node, _ = model.strip_transpose(node)
        absolute = model.sign(node, scope)
        if absolute:
            return absolute, None
        if isinstance(node, cst.Name):
            if node.value == model.upstream_gradient_param(scope):
                return 1, (scope, node.value)
            bindings = model.bindings_at(node, scope)
            if any(b.kind == "param" for b in bindings):
                return None
            found: list[Signed | None] = []
            for b in bindings:
                if b.kind == "aug" and b.value is not None:
                    s = self.of(b.value, model.owner(node.value, scope), depth + 1)
                    if s is not None and b.op == "SubtractAssign":
                        s = (-s[0], s[1])
                    found.append(s)
            for value, home in model.value_sources(node, scope):
                found.append(self.of(value, home, depth + 1))
            return self._agree(found)
        if isinstance(node, cst.Attribute) and dotted(node) is not None:
            sources = model.value_sources(node, scope)
            if sources:
                return self._agree([self.of(v, home, depth + 1) for v, home in sources])
            return None
        if isinstance(node, cst.Subscript):
            return self.of(node.value, scope, depth + 1)
        if _negated(node):
            inner = self.of(node.expression, scope, depth + 1)  # type: ignore[attr-defined]
            return (-inner[0], inner[1]) if inner else None
        if isinstance(node, cst.BinaryOperation):
            op = node.operator
            left = self.of(node.left, scope, depth + 1)
            right = self.of(node.right, scope, depth + 1)
            if isinstance(op, cst.Multiply | cst.Divide | cst.MatrixMultiply):
                known = [x for x in (left, right) if x is not None]
                if len(known) != 1:
                    return None  # a product of two signed values has no single source
                sign, source = known[0]
                for side, s in ((node.left, left), (node.right, right)):
                    if s is None and _negated(side):
                        sign = -sign
                return sign, source
            if isinstance(op, cst.Add | cst.Subtract):
                if isinstance(op, cst.Subtract) and right is not None:
                    right = (-right[0], right[1])
                return self._agree([left, right])
            return None
        if isinstance(node, cst.Call):
            fn = model.local_function(node.func, scope)
            if fn is not None:
                return self._agree([self.of(r, fn, depth + 1) for r in fn.returns])
            candidates = [a.value for a in node.args]
            if isinstance(node.func, cst.Attribute):
                candidates.append(node.func.value)
            found = [s for c in candidates if (s := self.of(c, scope, depth + 1)) is not None]
            if len(found) != 1:
                return None
            return found[0]
        return None


@dataclass(frozen=True)
class Disagreement:
    """``update`` moves its parameter ``along`` (or against) the upstream gradient ``param`` of
    ``scope`` while ``other``, a step of the same sign-multiple of it, moves the other way."""

    update: Update
    other: Update
    along: bool
    scope: Scope
    param: str


def disagreeing_updates(model: ModuleModel) -> Iterator[Disagreement]:
    """Updates whose steps are the same multiple of one upstream gradient (``backward``'s
    parameter) but move their parameters in opposite directions: one of them climbs the loss,
    whichever sign convention the caller uses. Steps whose sign against the error itself is
    known (``ModuleModel.sign``) are judged there instead. Of one update each way, the later
    one in the file is the one reported; otherwise the fewer."""
    signs = RelativeSigns(model)
    groups: dict[tuple[Scope, str], list[tuple[Update, int]]] = {}
    for u in model.updates():
        if model.sign(u.step, u.step_scope) is not None:
            continue
        found = signs.of(u.step, u.step_scope)
        if found is None or found[1] is None:
            continue
        groups.setdefault(found[1], []).append((u, u.direction * found[0]))
    order: dict[Scope, int] | None = None
    for (scope, param), items in groups.items():
        along = [u for u, d in items if d == 1]
        against = [u for u, d in items if d == -1]
        if not along or not against:
            continue
        if len(along) != len(against):
            odd, rest = (along, against) if len(along) < len(against) else (against, along)
        else:
            if order is None:  # built once, not once per group
                order = {sc: i for i, sc in enumerate(model.c.scopes)}
            first = min(items, key=lambda x: (order[x[0].scope], x[0].binding.index))[0]
            odd, rest = ([u for u, _ in items if u is not first], [first])
        for u in odd:
            yield Disagreement(u, rest[0], u in along, scope, param)
