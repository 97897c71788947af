"""Gradient accumulation in PyTorch training loops: ``backward()`` every micro-batch, the
optimizer's ``step()`` only every k iterations, and whether the loss was scaled by 1/k.

Read from the training-loop event model of ``torch_facts`` (the events along every path of one
iteration), never from names: a micro-batch is a path through the loop body that
back-propagates and steps no optimizer; the accumulation count k is the modulus of the test
that guards the step (``if (i + 1) % k == 0:``, ``if not step % k:``, either side of an
``or``/``and``), whose counter changes inside the loop. The loss is taken as scaled when the
value back-propagated comes, through its assignments in that scope, from a division or a product
(``loss / k``, ``loss /= k``, ``loss.div_(k)``, ``loss * (1 / k)``, ``scaler.scale(loss / k)``),
from a call handed k, or from anything that cannot be read (a parameter, an unknown name):
only a loss known to be unscaled is reported. A loop that rescales ``.grad`` itself, or whose
optimizer's learning rate is divided by k, sums on purpose.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import dotted, keyword_arg, names_in, number_value, positional_args
from linter.analysis.torch_facts import Event, Loop, facts

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

MAX_DEPTH = 6
SCALING_AUG = ("DivideAssign", "MultiplyAssign", "FloorDivideAssign")
SCALING_METHODS = frozenset({"div", "div_", "mul", "mul_", "true_divide", "true_divide_"})
SCALING_FNS = frozenset({"torch.div", "torch.mul", "torch.true_divide", "torch.multiply"})
# methods that keep the scale of the tensor they are called on
SAME_SCALE = frozenset(
    {"mean", "sum", "float", "double", "half", "to", "cuda", "cpu", "squeeze", "clone"}
)


@dataclass(frozen=True)
class Unscaled:
    """A ``backward()`` run on every micro-batch with a loss not divided by k."""

    backward: cst.Call
    step: cst.CSTNode  # the optimizer step, run every k iterations
    guard: cst.BaseExpression  # the test that guards it
    modulus: cst.BaseExpression  # k
    optimizer: str
    loop: Loop


_cache: weakref.WeakKeyDictionary[ModuleModel, list[Unscaled]] = weakref.WeakKeyDictionary()


def unscaled_accumulations(model: ModuleModel) -> list[Unscaled]:
    """Every unscaled accumulating ``backward()`` of ``model``'s module (computed once)."""
    found = _cache.get(model)
    if found is None:
        found = _cache[model] = list(_Accumulation(model).find())
    return found


class _Accumulation:
    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self.tf = facts(model)

    def find(self) -> Iterator[Unscaled]:
        seen: set[cst.CSTNode] = set()
        for loop in self.tf.loops():
            for found in self._in_loop(loop):
                if found.backward not in seen:
                    seen.add(found.backward)
                    yield found

    def _in_loop(self, loop: Loop) -> Iterator[Unscaled]:
        steps = [e for p in loop.paths for e in p if e.kind == "step" and not e.nested]
        if not steps:
            return
        # micro-batches: paths that back-propagate and step no optimizer at all
        micro = [
            p
            for p in loop.paths
            if any(e.kind == "backward" and not e.nested for e in p)
            and not any(e.kind == "step" for e in p)
        ]
        if not micro or self._rescales_grads(loop):
            return
        for opt in dict.fromkeys(e.target for e in steps if e.target):
            if any(
                e.kind in ("zero", "maybe-zero") and self.tf.clears(e, opt, loop.scope)
                for p in micro
                for e in p
            ):
                continue  # cleared every micro-batch: nothing accumulates
            own = list({e.node: e for e in steps if e.target == opt}.values())
            guards = [self._modulo_guard(e, loop) for e in own]
            if any(g is None for g in guards):
                continue  # a step that is not (only) every k-th iteration
            first = guards[0]
            assert first is not None
            step, (guard, modulus) = own[0], first
            if self._lr_divided(opt, loop.scope, modulus):
                continue  # a sum over micro-batches with lr / k: deliberate
            backwards = [e for p in micro for e in p if e.kind == "backward" and not e.nested]
            for b in dict.fromkeys(backwards):
                call = b.node
                if not isinstance(call, cst.Call) or self._scaled_backward(
                    call, b.scope or loop.scope, modulus
                ):
                    continue
                yield Unscaled(call, step.node, guard, modulus, opt, loop)

    # --- the step's guard -------------------------------------------------------------------------

    def _modulo_guard(
        self, step: Event, loop: Loop
    ) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
        """The test of an ``if`` between ``loop`` and ``step`` whose body runs every k-th
        iteration, and its modulus k."""
        prev: cst.CSTNode = step.node
        n = self.tf.parent(prev)
        while n is not None and n is not loop.node:
            if isinstance(n, cst.FunctionDef | cst.ClassDef | cst.Lambda):
                return None  # the step is in a helper: its guard is not read here
            if isinstance(n, cst.If) and prev is n.body:
                modulus = self._modulus(n.test, loop)
                if modulus is not None:
                    return n.test, modulus
            prev, n = n, self.tf.parent(n)
        return None

    def _modulus(self, test: cst.BaseExpression, loop: Loop) -> cst.BaseExpression | None:
        if isinstance(test, cst.BooleanOperation):
            return self._modulus(test.left, loop) or self._modulus(test.right, loop)
        mod: cst.BaseExpression | None = None
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            mod = test.expression  # not (i + 1) % k
        elif (
            isinstance(test, cst.Comparison)
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.Equal)
        ):
            left, right = test.left, test.comparisons[0].comparator
            mod = left if _is_modulo(left) else right  # i % k == 0, 0 == i % k, i % k == k - 1
        if mod is None or not _is_modulo(mod):
            return None
        assert isinstance(mod, cst.BinaryOperation)
        k = mod.right
        if number_value(k) is not None and number_value(k) in (0.0, 1.0):
            return None  # % 1 is every iteration
        if not (names_in(mod.left) & self._loop_counters(loop)):
            return None
        if names_in(k) & self._loop_counters(loop):
            return None  # k changes inside the loop: not a fixed count
        return k

    def _loop_counters(self, loop: Loop) -> set[str]:
        """Names bound by the loop header or rebound in its body (``i``, ``step += 1``)."""
        out: set[str] = set()
        if isinstance(loop.node, cst.For):
            out |= names_in(loop.node.target)
        for key, bindings in loop.scope.bindings.items():
            if any(loop.node in b.loops for b in bindings):
                out.add(key.rsplit(".", 1)[-1])
        return out

    def _rescales_grads(self, loop: Loop) -> bool:
        """``p.grad /= k`` or ``p.grad.div_(k)`` in the loop's scope: the sum is rescaled."""
        scope = loop.scope
        for key, bindings in scope.bindings.items():
            if key.endswith(".grad") or key.endswith(".grad.data"):
                if any(b.kind == "aug" and b.op in SCALING_AUG for b in bindings):
                    return True
        for site in self.m.c.calls:
            call = site.node
            if site.scope is not scope or not isinstance(call, cst.Call):
                continue
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value in SCALING_METHODS:
                recv = func.value
                if isinstance(recv, cst.Attribute) and recv.attr.value == "data":
                    recv = recv.value
                if isinstance(recv, cst.Attribute) and recv.attr.value == "grad":
                    return True
        return False

    def _lr_divided(self, opt: str, scope: Scope, k: cst.BaseExpression) -> bool:
        """The optimizer was made with ``lr=base / k`` (directly or through one name)."""
        for b, s in self.tf.bindings(opt, scope):
            if b.kind != "assign" or not isinstance(b.value, cst.Call):
                continue
            args = positional_args(b.value)
            lr = keyword_arg(b.value, "lr") or (args[1] if len(args) > 1 else None)
            for _ in range(2):
                if isinstance(lr, cst.BinaryOperation) and isinstance(lr.operator, cst.Divide):
                    if self._same(lr.right, k, s):
                        return True
                    break
                key = dotted(lr) if lr is not None else None
                found = self.tf.bindings(key, s) if key else []
                lr = found[0][0].value if len(found) == 1 else None
        return False

    def _same(self, a: cst.BaseExpression, b: cst.BaseExpression, scope: Scope) -> bool:
        """The same count: the same literal or dotted name, or a name bound to the other."""
        if number_value(a) is not None:
            return number_value(a) == number_value(b)
        ka, kb = dotted(a), dotted(b)
        if ka is None or kb is None:
            return False
        if ka == kb:
            return True
        for one, other in ((ka, b), (kb, a)):
            found = self.tf.bindings(one, scope)
            if len(found) == 1 and found[0][0].kind == "assign" and found[0][0].value is not None:
                value = found[0][0].value
                if dotted(value) is not None and dotted(value) == dotted(other):
                    return True
                if number_value(value) is not None and number_value(value) == number_value(other):
                    return True
        return False

    # --- the loss -----------------------------------------------------------------------------

    def _scaled_backward(self, call: cst.Call, scope: Scope, k: cst.BaseExpression) -> bool:
        if not isinstance(call.func, cst.Attribute):
            return True  # torch.autograd.backward(...): not read
        site = self.tf.site_of(call)
        before = site.index if site is not None else None
        return self._scaled(call.func.value, scope, before, k, 0)

    def _scaled(
        self,
        value: cst.BaseExpression,
        scope: Scope,
        before: int | None,
        k: cst.BaseExpression,
        depth: int,
    ) -> bool:
        """Might ``value`` (a loss) have been divided by k? Unknown counts as yes."""
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, cst.BinaryOperation):
            op, left, right = value.operator, value.left, value.right
            if isinstance(op, cst.Add | cst.Subtract):
                # a sum of terms: a weighted term (1e-4 * penalty) is not a scaling of the loss
                return self._scaled_term(left, scope, before, k, depth) or self._scaled_term(
                    right, scope, before, k, depth
                )
            return True  # a division or product of the loss (or something not read)
        if isinstance(value, cst.UnaryOperation):
            return self._scaled(value.expression, scope, before, k, depth + 1)
        if isinstance(value, cst.Call):
            return self._scaled_call(value, scope, before, k, depth)
        if isinstance(value, cst.Name | cst.Attribute):
            key = dotted(value)
            if key is None:
                return True
            if self._scaled_in_place(key, scope):
                return True
            found = self.tf.reaching(key, scope, before)
            if not found:
                if isinstance(value, cst.Attribute):  # outputs.loss: what outputs holds
                    return self._scaled(value.value, scope, before, k, depth + 1)
                return True
            for b, s in found:
                if b.kind == "aug":
                    if b.op in SCALING_AUG or b.value is None or s is not scope:
                        return True
                    # loss += aux: either part may carry the scaling
                    if self._scaled(b.value, s, b.index, k, depth + 1):
                        return True
                    if self._scaled(value, s, b.index, k, depth + 1):
                        return True
                elif b.kind in ("assign", "unpack") and b.value is not None:
                    at = b.index if s is scope else None
                    if self._scaled(b.value, s, at, k, depth + 1):
                        return True
                else:
                    return True  # a parameter, a loop target, ...: not read
            return False
        if isinstance(value, cst.Subscript):  # outputs["loss"], losses[0]
            return self._scaled(value.value, scope, before, k, depth + 1)
        return True

    def _scaled_term(
        self,
        term: cst.BaseExpression,
        scope: Scope,
        before: int | None,
        k: cst.BaseExpression,
        depth: int,
    ) -> bool:
        if (
            isinstance(term, cst.BinaryOperation)
            and isinstance(term.operator, cst.Multiply)
            and not self._same(term.left, k, scope)
            and not self._same(term.right, k, scope)
        ):
            if number_value(term.left) is not None:
                return self._scaled(term.right, scope, before, k, depth + 1)
            if number_value(term.right) is not None:
                return self._scaled(term.left, scope, before, k, depth + 1)
        return self._scaled(term, scope, before, k, depth + 1)

    def _scaled_call(
        self,
        call: cst.Call,
        scope: Scope,
        before: int | None,
        k: cst.BaseExpression,
        depth: int,
    ) -> bool:
        func = call.func
        if self.m.qualname(func) in SCALING_FNS:
            return True
        args = [a.value for a in call.args if not a.star]
        if any(self._same(a, k, scope) for a in args):
            return True  # handed the accumulation count
        if isinstance(func, cst.Attribute):
            meth = func.attr.value
            if meth in SCALING_METHODS:
                return True
            if meth in SAME_SCALE:
                return self._scaled(func.value, scope, before, k, depth + 1)
            if meth == "scale" and len(args) == 1:  # GradScaler.scale(loss)
                return self._scaled(args[0], scope, before, k, depth + 1)
        helper = self.m.local_function(func, scope)
        if helper is not None and helper is not scope:
            return (
                any(
                    self._scaled(r, helper, None, k, depth + 1)
                    for r in helper.returns
                    if r is not None
                )
                or not helper.returns
            )
        return False  # a criterion, the model, an external function: the loss as computed

    def _scaled_in_place(self, key: str, scope: Scope) -> bool:
        """``loss.div_(k)`` / ``loss.mul_(s)`` as a statement of the scope."""
        for site in self.m.c.calls:
            call = site.node
            if site.scope is not scope or not isinstance(call, cst.Call):
                continue
            if (
                isinstance(call.func, cst.Attribute)
                and call.func.attr.value in SCALING_METHODS
                and call.func.attr.value.endswith("_")
                and dotted(call.func.value) == key
            ):
                return True
        return False


def _is_modulo(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo)
