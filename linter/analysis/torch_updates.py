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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Scope, Site
from linter.analysis.exprs import dotted, keyword_arg, positional_args
from linter.analysis.torch_facts import facts
from linter.analysis.treewalk import walk

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

    def _find(self) -> Iterator[ManualUpdate]:
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

    def uncleared_manual_loops(self) -> list[tuple[cst.Call, list[ManualUpdate]]]:
        """``(backward, updates)`` for a loop that back-propagates and updates parameters by
        hand from their ``.grad`` but clears no gradient anywhere in its iteration (no
        ``p.grad.zero_()``, ``p.grad = None``, ``zero_grad()``, no unknown callee handed a
        model or optimizer) and steps no optimizer: every update uses the sum of all past
        gradients."""
        out: list[tuple[cst.Call, list[ManualUpdate]]] = []
        seen: set[cst.CSTNode] = set()
        for loop in self.tf.loops():
            if any(e.kind in ("zero", "maybe-zero", "step") for e in loop.events):
                continue
            ups = [
                u
                for u in self.updates()
                if u.scope is loop.scope and _inside(self.tf, u.node, loop.node)
            ]
            if not ups:
                continue
            backs = [e.node for e in loop.events if e.kind == "backward"]
            if not backs or not isinstance(backs[0], cst.Call) or backs[0] in seen:
                continue
            if self._grad_cleared_elsewhere({u.param for u in ups}):
                continue
            seen.add(backs[0])
            out.append((backs[0], ups))
        return out

    def _grad_cleared_elsewhere(self, params: set[str]) -> bool:
        """A ``p.grad`` of these parameters cleared or rebound anywhere else in the file (a
        helper the loop reaches in a way not followed): the clearing may happen there."""
        for site in self.m.c.calls:
            call = site.node
            if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
                continue
            if call.func.attr.value in ("zero_", "fill_", "detach_", "mul_"):
                if _grad_of(call.func.value) in params:
                    return True
        for scope in self.m.c.scopes:
            for key in scope.bindings:
                if key.endswith(".grad") and key[: -len(".grad")] in params:
                    return True
        return False

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


@dataclass(frozen=True)
class StaleBackward:
    """``loss.backward()`` through a model output computed before ``opt.step()`` changed that
    model's weights in place."""

    backward: cst.Call
    model_call: cst.Call  # the forward call whose graph is walked
    step: cst.Call  # the step in between
    retained: cst.Call | None  # an earlier backward(retain_graph=True) that kept this graph
    scope: Scope


class GraphFacts:
    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self.tf = facts(model)

    def stale_backwards(self) -> list[StaleBackward]:
        if not self.tf.uses_torch:
            return []
        out: list[StaleBackward] = []
        seen: set[cst.CSTNode] = set()
        for loop in self.tf.loops():
            scope = loop.scope
            sites = [
                s
                for s in self.m.c.calls
                if s.scope is scope and loop.node in s.loops and isinstance(s.node, cst.Call)
            ]
            steps = [s for s in sites if self._step_key(s) is not None]
            backwards = [s for s in sites if isinstance(s.node, cst.Call) and _is_backward(s.node)]
            for b in backwards:
                bcall = b.node
                assert isinstance(bcall, cst.Call) and isinstance(bcall.func, cst.Attribute)
                if bcall in seen:
                    continue
                recv = bcall.func.value
                for mcall, mindex in self._model_calls(recv, scope, b.index, 0, set()):
                    key = dotted(mcall.func)
                    if key is None:
                        continue
                    for st in steps:
                        if not (mindex < st.index < b.index):
                            continue
                        if not any(mindex <= o.index <= st.index for o in backwards):
                            continue  # no backward before that step: step before backward
                        opt = self._step_key(st)
                        cov = self.tf.coverage(opt, scope) if opt else None
                        if not cov or not any(_covers(c, key) for c in cov):
                            continue
                        retained = self._retaining(backwards, mindex, st.index, mcall, scope)
                        assert isinstance(st.node, cst.Call)
                        seen.add(bcall)
                        out.append(StaleBackward(bcall, mcall, st.node, retained, scope))
                        break
                    if bcall in seen:
                        break
        return out

    def _step_key(self, site: Site) -> str | None:
        call = site.node
        assert isinstance(call, cst.Call)
        if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "step"):
            return None
        if call.args:
            return None
        key = dotted(call.func.value)
        if key is None or not self.tf.is_optimizer(key, site.scope):
            return None
        return key

    def _model_calls(
        self, node: cst.CSTNode, scope: Scope, before: int, depth: int, seen: set[str]
    ) -> list[tuple[cst.Call, int]]:
        """The forward calls of models (keys an optimizer is built over) that ``node``'s value
        is computed from, through the assignments of ``scope`` that reach statement ``before``;
        ``.detach()``, ``.data``, ``.item()`` cut the graph."""
        if depth > 8:
            return []
        out: list[tuple[cst.Call, int]] = []
        for n in _graph_nodes(node):
            if isinstance(n, cst.Call):
                key = dotted(n.func)
                if key is not None and key in self._optimized():
                    out.append((n, self._index(n, scope, before)))
            elif isinstance(n, cst.Name):
                name = n.value
                if name in seen:
                    continue
                bindings = [
                    b
                    for b in scope.bindings.get(name, [])
                    if b.index < before and b.kind in ("assign", "aug") and b.value is not None
                ]
                if not bindings:
                    continue
                last = max(b.index for b in bindings)
                for b in bindings:
                    if b.index == last and b.value is not None:
                        out.extend(
                            self._model_calls(b.value, scope, b.index + 1, depth + 1, seen | {name})
                        )
        return out

    def _index(self, node: cst.CSTNode, scope: Scope, default: int) -> int:
        for s in self.m.c.calls:
            if s.node is node:
                return s.index
        return default

    def _optimized(self) -> set[str]:
        """Keys whose parameters some optimizer of this file steps."""
        out: set[str] = set()
        for scope in self.m.c.scopes:
            for key in scope.bindings:
                if self.tf.is_optimizer(key, scope):
                    out |= self.tf.coverage(key, scope) or set()
        return out

    def _retaining(
        self, backwards: list[Site], start: int, end: int, mcall: cst.Call, scope: Scope
    ) -> cst.Call | None:
        """A ``backward(retain_graph=True)`` between the forward call and the step whose loss
        is built on the same forward call: the graph it keeps is the one walked again."""
        for b in backwards:
            if not (start <= b.index <= end):
                continue
            call = b.node
            assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
            keep = keyword_arg(call, "retain_graph")
            if not (isinstance(keep, cst.Name) and keep.value == "True"):
                continue
            found = self._model_calls(call.func.value, scope, b.index, 0, set())
            if any(c is mcall for c, _ in found):
                return call
        return None


def _inside(tf: object, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
    n: cst.CSTNode | None = node
    while n is not None:
        if n is loop:
            return True
        n = tf.parent(n)  # type: ignore[attr-defined]
    return False


def _covers(cov: str, key: str) -> bool:
    return cov == key or key.startswith(cov + ".") or cov.startswith(key + ".")


def _is_backward(call: cst.Call) -> bool:
    f = call.func
    if not (isinstance(f, cst.Attribute) and f.attr.value == "backward"):
        return False
    if isinstance(f.value, cst.Name) and f.value.value in ("self", "cls", "super"):
        return False
    return not positional_args(call)


def _graph_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Calls and names whose values flow into ``node``, not through detach/data/item."""
    found: list[cst.CSTNode] = []

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> bool:
            f = n.func
            if isinstance(f, cst.Attribute) and f.attr.value in (
                "detach",
                "item",
                "tolist",
                "numpy",
                "size",
                "dim",
            ):
                return False
            found.append(n)
            return True

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            if n.attr.value in ("data", "shape", "grad"):
                return False
            return True

        def visit_Name(self, n: cst.Name) -> None:
            found.append(n)

        def visit_Lambda(self, n: cst.Lambda) -> bool:
            return False

    walk(node, _V())
    return found


_graphs: weakref.WeakKeyDictionary[ModuleModel, GraphFacts] = weakref.WeakKeyDictionary()


def graphs(model: ModuleModel) -> GraphFacts:
    found = _graphs.get(model)
    if found is None:
        found = _graphs[model] = GraphFacts(model)
    return found


_updates: weakref.WeakKeyDictionary[ModuleModel, UpdateFacts] = weakref.WeakKeyDictionary()


def updates(model: ModuleModel) -> UpdateFacts:
    found = _updates.get(model)
    if found is None:
        found = _updates[model] = UpdateFacts(model)
    return found
