"""Finite-difference stencils: where a difference quotient evaluates its function.

``(f_a - f_b) / (c·h)`` in a gradient check is read as a stencil: the offsets ``a`` and ``b`` (in
units of the step ``h``) at which the two evaluations ran, and the divisor ``c``. The offsets come
from the evaluations' arguments (``f(x + h)``) or, when the function is called on a variable that
was perturbed in place beforehand, from the perturbations in statement order (``x[i] = old + h``,
``x[i] += h``, ``x[i] -= 2 * h``, ``t = theta.copy(); t[i] += eps``, a setter call
``net.set_param(i, old - h)``). A stencil is centred when ``a = -b`` and consistent when
``a - b = c``. Nothing is inferred from names.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import libcst as cst

from linter.analysis import ModuleModel
from linter.analysis.collect import Binding, Scope, Site, binding_key
from linter.analysis.exprs import number_value

# one-argument wrappers that keep the value of what they wrap
_TRANSPARENT = frozenset(
    {"float", "int", "numpy.sum", "numpy.mean", "numpy.squeeze", "numpy.asarray", "numpy.float64"}
)


@dataclass(frozen=True)
class Amount:
    """A multiple of a step: ``coef`` times ``key`` (the step's source text, or "" for a pure
    number, whose value is then in ``coef``)."""

    coef: Fraction
    key: str


@dataclass(frozen=True)
class Evaluation:
    call: cst.Call
    offset: Fraction
    evidence: tuple[tuple[cst.CSTNode, str], ...]


@dataclass(frozen=True)
class Stencil:
    plus: Evaluation
    minus: Evaluation
    divisor: Fraction
    step: str

    @property
    def centred(self) -> bool:
        return self.plus.offset == -self.minus.offset

    @property
    def consistent(self) -> bool:
        return self.plus.offset - self.minus.offset == self.divisor


def _fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(10**6)


def _amount(node: cst.BaseExpression, key: str | None, model: ModuleModel) -> Amount | None:
    """``node`` as a multiple of the step ``key`` (``h``, ``2 * h``, ``h / 2``); with ``key``
    None, as a multiple of whatever step it names (the divisor sets the key)."""
    value = number_value(node)
    if value is not None:
        if key in (None, ""):
            return Amount(_fraction(value), "") if value else None
        return None
    text = model.src(node)
    if isinstance(node, cst.Name | cst.Attribute):
        return Amount(Fraction(1), text) if key in (None, text) else None
    if isinstance(node, cst.BinaryOperation):
        left, right = node.left, node.right
        if isinstance(node.operator, cst.Multiply):
            for k, s in ((left, right), (right, left)):
                kv = number_value(k)
                if kv is not None:
                    inner = _amount(s, key, model)
                    if inner is not None:
                        return Amount(inner.coef * _fraction(kv), inner.key)
        if isinstance(node.operator, cst.Divide):
            kv = number_value(right)
            if kv:
                inner = _amount(left, key, model)
                if inner is not None:
                    return Amount(inner.coef / _fraction(kv), inner.key)
    return None


def _shift(node: cst.BaseExpression, key: str, model: ModuleModel) -> Fraction | None:
    """The signed multiple of the step that ``node`` adds: ``v + h`` → 1, ``v - 2 * h`` → -2,
    ``v + h * e_i`` → 1 (a step along a unit vector)."""
    if not isinstance(node, cst.BinaryOperation):
        return None
    if isinstance(node.operator, cst.Add):
        sign = 1
    elif isinstance(node.operator, cst.Subtract):
        sign = -1
    else:
        return None
    terms = [(node.right, sign)] + ([(node.left, 1)] if sign == 1 else [])
    for term, s in terms:
        amount = _amount(term, key, model)
        coef = amount.coef if amount is not None else _along(term, key, model)
        if coef is not None:
            return s * coef
    return None


def _along(node: cst.BaseExpression, key: str, model: ModuleModel) -> Fraction | None:
    """``h * e`` or ``e * h`` with ``e`` not a number: one step along ``e``."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        for s, other in ((node.left, node.right), (node.right, node.left)):
            amount = _amount(s, key, model)
            if number_value(other) is None and amount is not None:
                return amount.coef
    return None


def _root(node: cst.BaseExpression) -> str | None:
    key = binding_key(node)
    return key.split(".")[0] if key else None


def _latest(scope: Scope, name: str, index: int) -> Binding | None:
    found = None
    for b in scope.bindings.get(name, []):
        if b.kind in ("assign", "unpack") and b.index < index:
            if found is None or b.index >= found.index:
                found = b
    return found


class _Perturbations:
    """The in-place perturbations of one scope by one step, in statement order."""

    def __init__(self, model: ModuleModel, scope: Scope, key: str) -> None:
        self.events: list[tuple[int, str, str, Fraction, cst.CSTNode]] = []  # index, root, op
        for name, bindings in scope.bindings.items():
            root = name.split(".")[0]
            for b in bindings:
                if b.value is None:
                    continue
                if b.kind == "assign":
                    shift = _shift(b.value, key, model)
                    if shift is not None:
                        # ``x[i] = x[i] + h`` adds; ``x[i] = old + h`` sets from the original
                        value = b.value
                        adds = isinstance(value, cst.BinaryOperation) and model.src(
                            value.left
                        ) == model.src(b.target)
                        op = "add" if adds else "set"
                        self.events.append((b.index, root, op, shift, b.stmt))
                    else:  # a reset (``x[i] = old``) or a fresh value (``t = theta.copy()``)
                        self.events.append((b.index, root, "set", Fraction(0), b.stmt))
                elif b.kind == "aug" and b.op in ("AddAssign", "SubtractAssign"):
                    amount = _amount(b.value, key, model)
                    if amount is not None:
                        sign = 1 if b.op == "AddAssign" else -1
                        self.events.append((b.index, root, "add", sign * amount.coef, b.stmt))
        for site in model.c.calls:
            if site.scope is not scope:
                continue
            stmt = site.stmt
            call = site.node
            assert isinstance(call, cst.Call)
            if not (
                isinstance(stmt, cst.SimpleStatementLine)
                and isinstance(stmt.body[0], cst.Expr)
                and stmt.body[0].value is call
                and isinstance(call.func, cst.Attribute)
            ):
                continue
            root = _root(call.func.value)
            if root is None:
                continue
            shifts = [s for a in call.args if (s := _shift(a.value, key, model)) is not None]
            if len(shifts) == 1:
                self.events.append((site.index, root, "set", shifts[0], stmt))
            elif not shifts and any(e[1] == root for e in self.events):
                self.events.append((site.index, root, "set", Fraction(0), stmt))
        self.events.sort(key=lambda e: e[0])
        self.perturbed = {e[1] for e in self.events if e[3] != 0}

    def state(self, index: int) -> tuple[dict[str, Fraction], dict[str, cst.CSTNode]]:
        state: dict[str, Fraction] = {}
        where: dict[str, cst.CSTNode] = {}
        for i, root, op, value, stmt in self.events:
            if i >= index:
                break
            state[root] = value if op == "set" else state.get(root, Fraction(0)) + value
            where[root] = stmt
        return state, where


def _evaluation_call(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, index: int, depth: int = 0
) -> tuple[cst.Call, int] | None:
    """The function call whose value ``node`` is, and the statement index it ran at."""
    if depth > 6:
        return None
    if isinstance(node, cst.Subscript):
        return _evaluation_call(model, node.value, scope, index, depth + 1)
    if isinstance(node, cst.Name):
        b = _latest(scope, node.value, index)
        if b is None or b.value is None:
            return None
        if b.kind == "unpack" and b.position != 0:
            return None
        return _evaluation_call(model, b.value, scope, b.index, depth + 1)
    if isinstance(node, cst.Call):
        if model.qualname(node.func) in _TRANSPARENT and len(node.args) == 1:
            return _evaluation_call(model, node.args[0].value, scope, index, depth + 1)
        return node, index
    return None


def _offset(
    model: ModuleModel, call: cst.Call, index: int, scope: Scope, key: str, moves: _Perturbations
) -> Evaluation | None:
    src = model.src(call)
    direct = [s for a in call.args if (s := _shift(a.value, key, model)) is not None]
    if len(direct) == 1:
        return Evaluation(call, direct[0], ((call, f"`{src}` evaluates at a shifted point"),))
    if direct:
        return None
    state, where = moves.state(index)
    roots = {r for a in call.args if (r := _root(a.value)) is not None}
    if isinstance(call.func, cst.Attribute) and (r := _root(call.func.value)) is not None:
        roots.add(r)
    # an argument bound to a shifted value: ``xp = x + h; f(xp)``
    for a in call.args:
        if isinstance(a.value, cst.Name):
            b = _latest(scope, a.value.value, index)
            if b is not None and b.value is not None and b.kind == "assign":
                shift = _shift(b.value, key, model)
                if shift is not None and a.value.value not in state:
                    return Evaluation(call, shift, ((b.stmt, f"`{a.value.value}` is shifted"),))
    tracked = {r for r in roots if r in moves.perturbed}
    if moves.perturbed and not any(
        i < index and root in moves.perturbed for i, root, *_ in moves.events
    ):
        # evaluated before anything was perturbed: at the unperturbed point
        return Evaluation(call, Fraction(0), ((call, f"`{src}` runs before any change"),))
    if tracked:
        values = {state.get(r, Fraction(0)) for r in tracked}
        if len(values) != 1:
            return None
        value = values.pop()
        r = next(iter(tracked))
        evidence: tuple[tuple[cst.CSTNode, str], ...] = ()
        if r in where:
            evidence = ((where[r], f"`{r}` is {_describe(value)} here"),)
        return Evaluation(call, value, evidence)
    if not call.args and len(moves.perturbed) == 1:
        r = next(iter(moves.perturbed))
        value = state.get(r, Fraction(0))
        ev = ((where[r], f"`{r}` is {_describe(value)} here"),) if r in where else ()
        return Evaluation(call, value, ev)
    return None


def _describe(value: Fraction) -> str:
    if value == 0:
        return "restored to its original value"
    sign = "+" if value > 0 else "-"
    mag = abs(value)
    return f"shifted by {sign}{'' if mag == 1 else str(mag) + '·'}h"


def _divisor(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, index: int
) -> Amount | None:
    amount = _amount(node, None, model)
    if isinstance(node, cst.Name):
        b = _latest(scope, node.value, index)
        if b is not None and b.value is not None and b.kind == "assign":
            bound = _amount(b.value, None, model)
            if bound is not None and bound.key:
                return bound
    return amount


def stencil(model: ModuleModel, site: Site) -> Stencil | None:
    """The stencil of the difference quotient at ``site`` (a ``BinaryOperation`` dividing a
    difference), or None when either evaluation point is unknown."""
    node = site.node
    if not (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, cst.Divide)
        and isinstance(node.left, cst.BinaryOperation)
        and isinstance(node.left.operator, cst.Subtract)
    ):
        return None
    scope = site.scope
    divisor = _divisor(model, node.right, scope, site.index)
    if divisor is None:
        return None
    key = divisor.key
    moves = _Perturbations(model, scope, key)
    evaluations = []
    for side in (node.left.left, node.left.right):
        found = _evaluation_call(model, side, scope, site.index + 1)
        if found is None:
            return None
        call, index = found
        ev = _offset(model, call, index, scope, key, moves)
        if ev is None:
            return None
        evaluations.append(ev)
    plus, minus = evaluations
    if plus.offset == minus.offset:
        return None
    return Stencil(plus, minus, divisor.coef, key or model.src(node.right))
