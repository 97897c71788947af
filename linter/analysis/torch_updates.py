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

from linter.analysis.collect import Binding, Scope, Site
from linter.analysis.exprs import dotted, keyword_arg, positional_args
from linter.analysis.torch_facts import Evidence, facts
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

    # --- updates autograd records --------------------------------------------------------------

    def tracked_updates(self) -> list[TrackedUpdate]:
        """Manual updates that autograd records instead of applying to the leaf: in place on a
        leaf that requires grad outside ``no_grad`` (PyTorch raises), a leaf rebound to
        ``w - lr * w.grad`` outside ``no_grad`` in the loop that calls ``backward`` (the next
        iteration's ``w.grad`` is None), the variable of a loop over parameters rebound (the
        parameter never changes). Only in a scope that calls ``backward()`` before the update;
        a helper that only updates may run under a caller's ``no_grad``."""
        if not self.tf.uses_torch:
            return []
        out: list[TrackedUpdate] = []
        for scope in self.m.c.scopes:
            backs = [
                s
                for s in self.m.c.calls
                if s.scope is scope and isinstance(s.node, cst.Call) and _is_backward(s.node)
            ]
            if not backs:
                continue
            out.extend(self._tracked_in(scope, backs))
        return out

    def _tracked_in(self, scope: Scope, backs: list[Site]) -> Iterator[TrackedUpdate]:
        def backward_before(index: int, loops: tuple[cst.CSTNode, ...]) -> Site | None:
            for b in backs:
                if b.index < index or (loops and set(loops) & set(b.loops)):
                    return b
            return None

        # in place: p -= ... p.grad ..., p.sub_(... p.grad ...)
        writes: list[tuple[str, cst.CSTNode, int, tuple[cst.CSTNode, ...]]] = []
        for key, bindings in scope.bindings.items():
            for b in bindings:
                if (
                    b.kind == "aug"
                    and b.op in ("SubtractAssign", "AddAssign")
                    and isinstance(b.target, cst.Name)
                    and b.value is not None
                    and _reads_grad_of(b.value, key)
                ):
                    writes.append((key, b.stmt, b.index, b.loops))
        for site in self.m.c.calls:
            call = site.node
            if site.scope is not scope or not isinstance(call, cst.Call):
                continue
            f = call.func
            if not (isinstance(f, cst.Attribute) and f.attr.value in ("sub_", "add_")):
                continue
            if not isinstance(f.value, cst.Name):
                continue  # p.data.sub_(...) bypasses autograd
            key = f.value.value
            if any(_reads_grad_of(a.value, key) for a in call.args):
                writes.append((key, call, site.index, site.loops))
        for key, node, index, loops in writes:
            if self.tf._under_no_grad(node):
                continue
            origin = self._leaf_origin(key, scope, index)
            back = backward_before(index, loops)
            if origin is not None and back is not None:
                yield TrackedUpdate(node, key, "in-place", origin[0], back.node)
        # rebound: w = w - lr * w.grad
        for key, bindings in scope.bindings.items():
            for b in bindings:
                if b.kind != "assign" or not isinstance(b.target, cst.Name) or b.value is None:
                    continue
                if not _reads_grad_of(b.value, key) or not _reads_value_of(b.value, key):
                    continue
                origin = self._leaf_origin(key, scope, b.index)
                back = backward_before(b.index, b.loops)
                if origin is None or back is None:
                    continue
                node, kind = origin
                if kind == "loop":
                    if self._read_after(key, scope, b):
                        continue  # the new value is used in the same iteration
                    yield TrackedUpdate(b.stmt, key, "loop variable", node, back.node)
                    continue
                if not b.loops or not set(b.loops) & set(back.loops):
                    continue  # one step, no next iteration to fail
                if self._releafed(key, scope, b):
                    continue
                kind = "rebound under no_grad" if self.tf._under_no_grad(b.stmt) else "rebound"
                yield TrackedUpdate(b.stmt, key, kind, node, back.node)

    def _leaf_origin(self, key: str, scope: Scope, before: int) -> tuple[cst.CSTNode, str] | None:
        """Where ``key`` was made a leaf tensor that requires grad ("leaf"), or the loop over
        ``.parameters()`` that binds it ("loop"): its latest binding before ``before`` that is
        not an update from its own gradient."""
        found: Binding | None = None
        for b in scope.bindings.get(key, []):
            if b.index >= before or b.kind in ("aug", "param"):
                continue
            if b.value is not None and _reads_grad_of(b.value, key):
                continue  # an earlier update of the same kind
            if found is None or b.index > found.index:
                found = b
        if found is None or found.value is None:
            return None
        v = found.value
        if found.kind == "for":
            if (
                isinstance(v, cst.Call)
                and isinstance(v.func, cst.Attribute)
                and v.func.attr.value in ("parameters", "named_parameters")
            ):
                return found.stmt, "loop"
            return None
        if found.kind != "assign" or not isinstance(v, cst.Call):
            return None
        q = self.m.qualname(v.func)
        if q in LEAF_FACTORIES:
            return found.stmt, "leaf"
        if q is not None and q.startswith("torch."):
            flag = keyword_arg(v, "requires_grad")
            if isinstance(flag, cst.Name) and flag.value == "True":
                return found.stmt, "leaf"
        if (
            isinstance(v.func, cst.Attribute)
            and v.func.attr.value == "requires_grad_"
            and not (
                v.args
                and not (isinstance(v.args[0].value, cst.Name) and v.args[0].value.value == "True")
            )
        ):
            inner = v.func.value
            if isinstance(inner, cst.Call) and (self.m.qualname(inner.func) or "").startswith(
                "torch."
            ):
                return found.stmt, "leaf"
        return None

    def _read_after(self, key: str, scope: Scope, b: Binding) -> bool:
        """Is ``key`` read in a statement after binding ``b`` in the body of the loop that
        binds it (a new value that is used, appended or copied somewhere)?"""
        if not b.loops:
            return True
        loop = b.loops[-1]
        if not isinstance(loop, cst.For | cst.While) or not isinstance(
            loop.body, cst.IndentedBlock
        ):
            return True
        top: cst.CSTNode | None = b.stmt
        while top is not None and self.tf.parent(top) is not loop.body:
            top = self.tf.parent(top)
        if top is None:
            return True
        body = list(loop.body.body)
        later = body[body.index(top) + 1 :] if top in body else body
        names = _NameReads(key)
        for st in later:
            walk(st, names)
        return names.found

    def _releafed(self, key: str, scope: Scope, b: Binding) -> bool:
        """``w.requires_grad_()`` / ``w.retain_grad()`` after the rebinding, or another
        rebinding of ``w`` in the same loop: the rebinding is handled."""
        for site in self.m.c.calls:
            call = site.node
            if site.scope is scope and isinstance(call, cst.Call) and site.index > b.index:
                f = call.func
                if (
                    isinstance(f, cst.Attribute)
                    and f.attr.value in ("requires_grad_", "retain_grad", "detach_")
                    and dotted(f.value) == key
                ):
                    return True
        return any(
            o is not b and o.index > b.index and o.kind in ("assign", "unpack")
            for o in scope.bindings.get(key, [])
        )

    def inconsistent_ascents(self) -> list[tuple[ManualUpdate, ManualUpdate, Evidence]]:
        """Updates that move a parameter along its gradient in a block where another
        parameter moves against its own: ``(ascent, a descent beside it, evidence)``; the
        evidence is every descent of the block."""
        out = []
        by_block: dict[cst.CSTNode, list[ManualUpdate]] = {}
        for u in self.updates():
            by_block.setdefault(u.block, []).append(u)
        for ups in by_block.values():
            down = [u for u in ups if u.direction == -1]
            if not down:
                continue
            evidence = tuple(
                (d.node, f"`{d.param}` moves against its gradient here (descends)") for d in down
            )
            for u in ups:
                if u.direction == 1 and all(d.param != u.param for d in down):
                    out.append((u, down[0], evidence))
        return out


@dataclass(frozen=True)
class TrackedUpdate:
    """A hand-written update of a leaf tensor that autograd records: ``p -= lr * p.grad`` or
    ``p.sub_(lr * p.grad)`` outside ``no_grad`` (kind "in-place"), ``w = w - lr * w.grad``
    in the loop that back-propagates (kind "rebound", or "rebound under no_grad"), or
    ``p = p - lr * p.grad`` on the variable of a loop over parameters (kind "loop variable")."""

    node: cst.CSTNode
    param: str
    kind: str
    origin: cst.CSTNode  # where the leaf is made (or the loop over parameters)
    backward: cst.CSTNode


LEAF_FACTORIES = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})


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


class _NameReads(cst.CSTVisitor):
    def __init__(self, key: str) -> None:
        self.key = key
        self.found = False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.key:
            self.found = True


def _reads_grad_of(node: cst.CSTNode, key: str) -> bool:
    """Does ``node`` read ``key.grad``?"""
    found = False

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> bool:
            nonlocal found
            if n.attr.value == "grad" and dotted(n.value) == key:
                found = True
            return not found

    walk(node, _V())
    return found


def _reads_value_of(node: cst.CSTNode, key: str) -> bool:
    """Does ``node`` read ``key`` itself (not only ``key.grad``, not ``key.data``)?"""
    found = False

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> bool:
            return not (dotted(n.value) == key and n.attr.value in ("grad", "data"))

        def visit_Call(self, n: cst.Call) -> bool:
            f = n.func
            return not (isinstance(f, cst.Attribute) and f.attr.value in ("detach", "item"))

        def visit_Name(self, n: cst.Name) -> None:
            nonlocal found
            if n.value == key:
                found = True

    walk(node, _V())
    return found


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
