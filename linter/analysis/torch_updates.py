"""Hand-written PyTorch parameter updates: ``p.data.sub_(lr * p.grad)``, ``p -= lr * p.grad``
under ``no_grad``, ``p.data.add_(p.grad, alpha=-lr)``, and the direction each one moves ``p``
relative to its own gradient.

``p.grad`` is a gradient because of where it comes from (autograd fills it for ``p``), never
because of a name. A direction is known only when the step is a product of ``p.grad`` with
scalars whose signs are known (names and attributes count as positive rates unless bound to a
negative number); anything else (sums, other tensors, ``.sign()`` of something else) is unknown.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import dotted, keyword_arg, positional_args
from linter.analysis.torch_facts import facts

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel


@dataclass(frozen=True)
class ManualUpdate:
    node: cst.CSTNode  # the update call or statement
    param: str  # the parameter's key (without ``.data``)
    direction: int  # +1: along its gradient (ascent), -1: against it (descent)
    block: cst.CSTNode  # the statement block that holds it
    scope: Scope


def _param_key(node: cst.BaseExpression) -> str | None:
    """``p.data`` / ``p`` -> ``p``."""
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        node = node.value
    return dotted(node)


def _grad_of(node: cst.BaseExpression) -> str | None:
    """``p.grad`` / ``p.grad.data`` -> ``p``."""
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        node = node.value
    if isinstance(node, cst.Attribute) and node.attr.value == "grad":
        return dotted(node.value)
    return None


class UpdateFacts:
    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self.tf = facts(model)
        self._updates: list[ManualUpdate] | None = None

    def updates(self) -> list[ManualUpdate]:
        if self._updates is None:
            self._updates = list(self._find()) if self.tf.uses_torch else []
        return self._updates

    def _find(self):  # type: ignore[no-untyped-def]
        c = self.m.c
        for site in c.calls:
            call = site.node
            if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
                continue
            meth = call.func.attr.value
            if meth not in ("add_", "sub_"):
                continue
            param = _param_key(call.func.value)
            if param is None:
                continue
            args = positional_args(call)
            if len(args) != 1 or any(a.star for a in call.args):
                continue
            alpha = keyword_arg(call, "alpha")
            sign = self._sign_along(args[0], param, site.scope)
            if sign is None:
                continue
            if alpha is not None:
                a = self._scalar_sign(alpha, site.scope, 0)
                if a is None:
                    continue
                sign *= a
            direction = sign if meth == "add_" else -sign
            block = self._block(call)
            if block is not None:
                yield ManualUpdate(call, param, direction, block, site.scope)
        for scope in c.scopes:
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.kind != "aug" or b.op not in ("AddAssign", "SubtractAssign"):
                        continue
                    if b.value is None:
                        continue
                    param = _param_key(b.target)
                    if param is None:
                        continue
                    if not isinstance(b.target, cst.Attribute) and not self.tf._under_no_grad(
                        b.stmt
                    ):
                        continue  # a tensor rebound outside no_grad: not a parameter update
                    sign = self._sign_along(b.value, param, scope)
                    if sign is None:
                        continue
                    direction = sign if b.op == "AddAssign" else -sign
                    block = self._block(b.stmt)
                    if block is not None:
                        yield ManualUpdate(b.stmt, param, direction, block, scope)

    def _block(self, node: cst.CSTNode) -> cst.CSTNode | None:
        n: cst.CSTNode | None = node
        while n is not None and not isinstance(n, cst.IndentedBlock | cst.Module):
            n = self.tf.parent(n)
        return n

    def _sign_along(self, expr: cst.BaseExpression, param: str, scope: Scope) -> int | None:
        """+1 / -1 when ``expr`` is ``±(scalars) * param.grad``; None otherwise."""
        if _grad_of(expr) == param:
            return 1
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
            inner = self._sign_along(expr.expression, param, scope)
            return -inner if inner is not None else None
        if isinstance(expr, cst.BinaryOperation) and isinstance(
            expr.operator, cst.Multiply | cst.Divide
        ):
            left = self._sign_along(expr.left, param, scope)
            if left is not None:
                right = self._scalar_sign(expr.right, scope, 0)
                return left * right if right is not None else None
            if isinstance(expr.operator, cst.Multiply):
                right = self._sign_along(expr.right, param, scope)
                if right is not None:
                    s = self._scalar_sign(expr.left, scope, 0)
                    return right * s if s is not None else None
        return None

    def _scalar_sign(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> int | None:
        if isinstance(expr, cst.Integer | cst.Float):
            try:
                v = float(expr.value)
            except ValueError:
                return None
            return 1 if v > 0 else None
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
            inner = self._scalar_sign(expr.expression, scope, depth)
            return -inner if inner is not None else None
        if isinstance(expr, cst.BinaryOperation) and isinstance(
            expr.operator, cst.Multiply | cst.Divide
        ):
            a = self._scalar_sign(expr.left, scope, depth)
            b = self._scalar_sign(expr.right, scope, depth)
            return a * b if a is not None and b is not None else None
        key = dotted(expr)
        if key is None or depth > 2:
            return None
        if _grad_of(expr) is not None or key.endswith((".data", ".grad")):
            return None
        # a rate: positive unless an assignment makes it negative or unknown arithmetic
        for b, s in self.tf.bindings(key, scope):
            if b.kind == "assign" and b.value is not None:
                v = b.value
                if isinstance(v, cst.UnaryOperation) and isinstance(v.operator, cst.Minus):
                    return None
                if isinstance(v, cst.Integer | cst.Float):
                    if self._scalar_sign(v, s, depth + 1) is None:
                        return None
        return 1

    def inconsistent_ascents(self) -> list[tuple[ManualUpdate, ManualUpdate]]:
        """Updates that move a parameter along its gradient in a block where another
        parameter moves against its own: ``(ascent, a descent beside it)``."""
        out = []
        by_block: dict[cst.CSTNode, list[ManualUpdate]] = {}
        for u in self.updates():
            by_block.setdefault(u.block, []).append(u)
        for ups in by_block.values():
            down = [u for u in ups if u.direction == -1]
            if not down:
                continue
            for u in ups:
                if u.direction == 1 and all(d.param != u.param for d in down):
                    out.append((u, down[0]))
        return out


_updates: weakref.WeakKeyDictionary[ModuleModel, UpdateFacts] = weakref.WeakKeyDictionary()


def updates(model: ModuleModel) -> UpdateFacts:
    found = _updates.get(model)
    if found is None:
        found = _updates[model] = UpdateFacts(model)
    return found
