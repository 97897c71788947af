"""Elementwise algebra: an expression as a polynomial over opaque atoms.

``Y - np.square(Y)``, ``Y * (1 - Y)``, ``(1 - Y) * Y`` and ``dx = Y * g; dx -= Y * dx`` are the
same elementwise function of ``Y`` (and ``g``); the pattern matchers in ``forms`` see one spelling
each. Here a value is expanded into a polynomial with rational coefficients whose variables
("atoms") are the sub-expressions the algebra cannot look into (names, attributes, calls to
anything but elementwise arithmetic). Local names are followed to their assignment in the same
scope, in statement order (an augmented assignment adds to the version before it), so a value
built over several statements is read as one formula. Nothing is evaluated: this is symbolic.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.exprs import number_value, positional_args

if TYPE_CHECKING:
    from linter.analysis.collect import Binding, Scope
    from linter.analysis.model import ModuleModel

Mono = tuple[tuple[str, int], ...]  # sorted (atom key, power) pairs
Poly = dict[Mono, Fraction]

MAX_TERMS = 24
MAX_DEPTH = 6
_ELEMENTWISE_BINARY = {
    "numpy.multiply": "*",
    "numpy.add": "+",
    "numpy.subtract": "-",
    "torch.mul": "*",
    "torch.add": "+",
    "torch.sub": "-",
}
_SAME_VALUE_METHODS = frozenset({"copy", "clone"})
_AUG_OPS = {"AddAssign": "+", "SubtractAssign": "-", "MultiplyAssign": "*"}


def _const(c: Fraction) -> Poly:
    return {(): c} if c else {}


def _add(a: Poly, b: Poly, sign: int = 1) -> Poly:
    out = dict(a)
    for m, c in b.items():
        v = out.get(m, Fraction(0)) + sign * c
        if v:
            out[m] = v
        else:
            out.pop(m, None)
    return out


def _mono_mul(a: Mono, b: Mono) -> Mono:
    powers: dict[str, int] = dict(a)
    for k, p in b:
        powers[k] = powers.get(k, 0) + p
    return tuple(sorted(powers.items()))


def _mul(a: Poly, b: Poly) -> Poly | None:
    out: Poly = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            m = _mono_mul(ma, mb)
            v = out.get(m, Fraction(0)) + ca * cb
            if v:
                out[m] = v
            else:
                out.pop(m, None)
    return out if len(out) <= MAX_TERMS else None


def _scale(a: Poly, c: Fraction) -> Poly:
    return {m: v * c for m, v in a.items()} if c else {}


class Algebra:
    """Polynomial reading of expressions for one module model; atoms keep their first node."""

    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self.atoms: dict[str, cst.BaseExpression] = {}
        self._follow = True

    def atom(self, key: str) -> cst.BaseExpression:
        return self.atoms[key]

    def _atom(self, node: cst.BaseExpression) -> Poly:
        key = self.m.src(node).replace(" ", "")
        self.atoms.setdefault(key, node)
        return {((key, 1),): Fraction(1)}

    def poly(
        self,
        node: cst.BaseExpression,
        scope: Scope,
        before: int | None = None,
        *,
        follow: bool = True,
    ) -> Poly | None:
        """The polynomial ``node`` computes, reading local names as their value just before
        statement ``before`` (None: at the end of the scope); with ``follow=False`` names are
        atoms. None when it grows too large."""
        saved, self._follow = self._follow, follow
        try:
            return self._p(node, scope, before, 0)
        finally:
            self._follow = saved

    def _p(
        self, node: cst.BaseExpression, scope: Scope, before: int | None, depth: int
    ) -> Poly | None:
        if depth > MAX_DEPTH:
            return self._atom(node)
        value = number_value(node)
        if value is not None:
            if value != value or value in (float("inf"), float("-inf")):
                return None
            return _const(Fraction(value).limit_denominator(10**6))
        if isinstance(node, cst.UnaryOperation):
            if isinstance(node.operator, cst.Minus):
                inner = self._p(node.expression, scope, before, depth + 1)
                return None if inner is None else _scale(inner, Fraction(-1))
            if isinstance(node.operator, cst.Plus):
                return self._p(node.expression, scope, before, depth + 1)
            return self._atom(node)
        if isinstance(node, cst.BinaryOperation):
            return self._binop(node, scope, before, depth)
        if isinstance(node, cst.Call):
            return self._call(node, scope, before, depth)
        if isinstance(node, cst.Name):
            return self._name(node, scope, before, depth)
        return self._atom(node)

    def _combine(
        self,
        op: str,
        left: cst.BaseExpression,
        right: cst.BaseExpression,
        scope: Scope,
        before: int | None,
        depth: int,
    ) -> Poly | None:
        a = self._p(left, scope, before, depth + 1)
        b = self._p(right, scope, before, depth + 1)
        if a is None or b is None:
            return None
        if op == "+":
            out = _add(a, b)
        elif op == "-":
            out = _add(a, b, -1)
        else:
            return _mul(a, b)
        return out if len(out) <= MAX_TERMS else None

    def _binop(
        self, node: cst.BinaryOperation, scope: Scope, before: int | None, depth: int
    ) -> Poly | None:
        op = node.operator
        if isinstance(op, cst.Add):
            return self._combine("+", node.left, node.right, scope, before, depth)
        if isinstance(op, cst.Subtract):
            return self._combine("-", node.left, node.right, scope, before, depth)
        if isinstance(op, cst.Multiply):
            return self._combine("*", node.left, node.right, scope, before, depth)
        if isinstance(op, cst.Divide):
            d = number_value(node.right)
            if d:
                a = self._p(node.left, scope, before, depth + 1)
                return None if a is None else _scale(a, 1 / Fraction(d).limit_denominator(10**6))
            return self._atom(node)
        if isinstance(op, cst.Power):
            return self._power(node.left, node.right, scope, before, depth) or self._atom(node)
        return self._atom(node)

    def _power(
        self,
        base: cst.BaseExpression,
        exponent: cst.BaseExpression,
        scope: Scope,
        before: int | None,
        depth: int,
    ) -> Poly | None:
        e = number_value(exponent)
        if e is None or e != int(e) or not 1 <= e <= 4:
            return None
        b = self._p(base, scope, before, depth + 1)
        out: Poly | None = {(): Fraction(1)}
        for _ in range(int(e)):
            if b is None or out is None:
                return None
            out = _mul(out, b)
        return out

    def _call(self, node: cst.Call, scope: Scope, before: int | None, depth: int) -> Poly | None:
        qn = self.m.qualname(node.func)
        args = positional_args(node)
        if qn in _ELEMENTWISE_BINARY and len(args) == 2 and len(node.args) == 2:
            return self._combine(_ELEMENTWISE_BINARY[qn], args[0], args[1], scope, before, depth)
        if qn in ("numpy.square", "torch.square") and len(args) == 1:
            return self._power(args[0], cst.Integer("2"), scope, before, depth)
        if qn in ("numpy.power", "torch.pow") and len(args) == 2:
            return self._power(args[0], args[1], scope, before, depth) or self._atom(node)
        if qn in ("numpy.negative", "torch.neg") and len(args) == 1:
            inner = self._p(args[0], scope, before, depth + 1)
            return None if inner is None else _scale(inner, Fraction(-1))
        func = node.func
        if (
            qn is None
            and isinstance(func, cst.Attribute)
            and func.attr.value in _SAME_VALUE_METHODS
            and not node.args
        ):
            return self._p(func.value, scope, before, depth + 1)
        return self._atom(node)

    def _name(self, node: cst.Name, scope: Scope, before: int | None, depth: int) -> Poly | None:
        """A local name read as the value of its assignments up to ``before``: the latest plain
        assignment, then each augmented one after it. Names bound in loops, by parameters or
        anywhere but plain and augmented assignments stay atoms."""
        if not self._follow:
            return self._atom(node)
        bindings: list[Binding] = [
            b for b in scope.bindings.get(node.value, []) if before is None or b.index < before
        ]
        if not bindings or any(b.loops or b.kind not in ("assign", "aug") for b in bindings):
            return self._atom(node)
        bindings.sort(key=lambda b: b.index)
        last_assign = max((i for i, b in enumerate(bindings) if b.kind == "assign"), default=None)
        if last_assign is None:
            return self._atom(node)
        chain = bindings[last_assign:]
        first = chain[0]
        if first.value is None or not isinstance(first.target, cst.Name):
            return self._atom(node)
        value = self._p(first.value, scope, first.index, depth + 1)
        if value is None:
            return None
        if len(chain) == 1 and _is_single_atom(value):
            return self._atom(node)  # a name for a call: the name is the better handle
        for b in chain[1:]:
            op = _AUG_OPS.get(b.op)
            if op is None or b.value is None or not isinstance(b.target, cst.Name):
                return self._atom(node)
            rhs = self._p(b.value, scope, b.index, depth + 1)
            if rhs is None:
                return None
            combined = _add(value, rhs, -1 if op == "-" else 1) if op != "*" else _mul(value, rhs)
            if combined is None or len(combined) > MAX_TERMS:
                return None
            value = combined
        return value


def _is_single_atom(p: Poly) -> bool:
    return (
        len(p) == 1
        and next(iter(p.values())) == 1
        and len(next(iter(p))) == 1
        and (next(iter(p))[0][1] == 1)
    )


def quotient_by(p: Poly, key: str) -> Poly | None:
    """``p / atom`` when every term has that atom to the first power; else None."""
    out: Poly = {}
    for m, c in p.items():
        powers = dict(m)
        if powers.get(key) != 1:
            return None
        del powers[key]
        out[tuple(sorted(powers.items()))] = c
    return out or None


def output_poly(p: Poly) -> tuple[str, Fraction] | None:
    """``c·x·(1 − x)``: two terms, c·x and −c·x² over one atom x -> (x, c)."""
    if len(p) != 2:
        return None
    by_power: dict[int, tuple[str, Fraction]] = {}
    for m, c in p.items():
        if len(m) != 1:
            return None
        ((key, power),) = m
        by_power[power] = (key, c)
    if set(by_power) != {1, 2}:
        return None
    (k1, c1), (k2, c2) = by_power[1], by_power[2]
    if k1 != k2 or c1 != -c2:
        return None
    return k1, c1


def one_minus_square(p: Poly) -> tuple[str, Fraction] | None:
    """``c·(1 − x²)`` -> (x, c)."""
    if len(p) != 2 or p.get(()) is None:
        return None
    c = p[()]
    rest = [(m, v) for m, v in p.items() if m]
    ((m, v),) = rest
    if len(m) == 1 and m[0][1] == 2 and v == -c:
        return m[0][0], c
    return None
