"""Value ranges: the interval a value lies in by construction, whatever the inputs.

sigmoid is in (0, 1), tanh in (−1, 1), ReLU in [0, ∞), a softmax in (0, 1], ``exp`` in
(0, ∞) and at most 1 when its argument is at most 0; squares, absolute values and norms are
≥ 0; intervals go through ``+ − × ÷``, constant powers, ``clip``/``maximum``/``minimum``, sums
and means (sign only), and names through every assignment that reaches them (the union of
their ranges; a parameter, a loop variable or anything unread is unbounded). Two relational
facts an interval cannot state are read structurally: ``z − max(z)`` and ``z − logsumexp(z)``
are ≤ 0 (see ``softmax.bounded_above_by_zero``).

A range is a fact about values, never about names. Read on demand, memoised per (node, scope)
on the module's model; a cycle or a chain deeper than a few steps is unbounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Binding, Scope
from linter.analysis.exprs import number_value, positional_args
from linter.analysis.forms import Kind
from linter.analysis.model import ModuleModel

INF = math.inf


@dataclass(frozen=True)
class Range:
    """``lo ≤ x ≤ hi``; an open end (``lo_open``/``hi_open``) excludes the bound itself."""

    lo: float = -INF
    hi: float = INF
    lo_open: bool = True
    hi_open: bool = True

    @property
    def known(self) -> bool:
        return self.lo > -INF or self.hi < INF

    def join(self, other: Range) -> Range:
        lo, lo_open = _lower(self, other, min)
        hi, hi_open = _upper(self, other, max)
        return Range(lo, hi, lo_open, hi_open)

    def always(self, op: str, t: float) -> bool | None:
        """Is ``x op t`` the same for every x in the range? True/False if so, else None."""
        if op in (">", ">="):
            if self.lo > t or (self.lo == t and (op == ">=" or self.lo_open)):
                return True
            if self.hi < t or (self.hi == t and (op == ">" or self.hi_open)):
                return False
        if op in ("<", "<="):
            flipped = self.always(">=" if op == "<" else ">", t)
            return None if flipped is None else not flipped
        return None

    def __str__(self) -> str:
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{left}{_num(self.lo)}, {_num(self.hi)}{right}"


UNBOUNDED = Range()
_UNIT = Range(0.0, 1.0, True, True)
_SYMMETRIC_UNIT = Range(-1.0, 1.0, True, True)
_NONNEG = Range(0.0, INF, False, True)
_POSITIVE = Range(0.0, INF, True, True)
_PROBABILITY = Range(0.0, 1.0, True, False)

_NONNEG_CALLS = frozenset(
    {
        "numpy.abs",
        "numpy.absolute",
        "numpy.fabs",
        "numpy.square",
        "numpy.sqrt",
        "numpy.linalg.norm",
        "numpy.bincount",
        "torch.abs",
        "torch.square",
        "torch.sqrt",
        "torch.norm",
        "math.sqrt",
        "math.fabs",
        "abs",
    }
)
_EXP = frozenset({"numpy.exp", "torch.exp", "math.exp"})
_LOG = frozenset({"numpy.log", "torch.log", "math.log"})
_CLIP = frozenset({"numpy.clip", "torch.clamp", "torch.clip"})
_MAXIMUM = frozenset({"numpy.maximum", "torch.maximum", "numpy.fmax"})
_MINIMUM = frozenset({"numpy.minimum", "torch.minimum", "numpy.fmin"})
_SIGN_KEEPING = frozenset({"numpy.sum", "numpy.mean", "torch.sum", "torch.mean", "numpy.nansum"})
_SAME = frozenset({"numpy.copy", "numpy.array", "numpy.asarray", "numpy.ravel", "numpy.reshape"})
_SAME_METHODS = frozenset({"copy", "clone", "detach", "reshape", "ravel", "flatten", "view"})


def value_range(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> Range:
    """The interval ``node`` (read in ``scope``) lies in by construction."""
    memo: dict[tuple[cst.CSTNode, Scope], Range] = model.__dict__.setdefault("_ranges", {})
    key = (node, scope)
    if key in memo:
        return memo[key]
    if depth > 12:
        return UNBOUNDED
    memo[key] = UNBOUNDED  # a cycle reads as unbounded
    found = _range_of(model, node, scope, depth)
    memo[key] = found
    return found


def _range_of(model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int) -> Range:
    value = number_value(node)
    if value is not None:
        return Range(value, value, False, False)
    node, _ = model.strip_transpose(node)
    form = model.forms.form(node, scope)
    if form is not None:
        by_form = _FORM_RANGES.get(form.kind)
        if by_form is not None:
            return by_form
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = value_range(model, node.expression, scope, depth + 1)
        return Range(-inner.hi, -inner.lo, inner.hi_open, inner.lo_open)
    if isinstance(node, cst.BinaryOperation):
        return _binary(model, node, scope, depth)
    if isinstance(node, cst.Call):
        return _call(model, node, scope, depth)
    if isinstance(node, cst.Comparison):
        return Range(0.0, 1.0, False, False)  # a mask: booleans
    if isinstance(node, cst.Subscript):
        # an element or a slice lies in its container's range
        return value_range(model, node.value, scope, depth + 1)
    if isinstance(node, cst.Name | cst.Attribute):
        return _bound(model, node, scope, depth)
    return UNBOUNDED


_FORM_RANGES = {
    Kind.SIGMOID: _UNIT,
    Kind.TANH: _SYMMETRIC_UNIT,
    Kind.RELU: _NONNEG,
    Kind.SOFTMAX: _PROBABILITY,
}


def _bound(model: ModuleModel, node: cst.Name | cst.Attribute, scope: Scope, depth: int) -> Range:
    """The union of the ranges of every value assigned to a name or attribute (and, for a
    parameter, of every argument the module's callers pass); unbounded when anything else can
    set it (a loop target, an in-place update, an unpacking, a parameter nobody here passes)."""
    key = model.src(node)
    if isinstance(node, cst.Name):
        owner = model.owner(node.value, scope)
        bindings = owner.bindings.get(node.value, [])
        if any(b.kind == "param" for b in bindings) and not model.callers(owner):
            return UNBOUNDED  # a parameter nobody in this module passes: anything
    elif key.startswith("self.") and scope.cls:
        bindings = [b for sc in model.c.class_scopes(scope.cls) for b in sc.bindings.get(key, [])]
    else:
        bindings = scope.bindings.get(key, [])
    if not bindings or any(b.kind not in ("assign", "param", "aug") for b in bindings):
        return UNBOUNDED
    sources = model.value_sources(node, scope)
    if not sources:
        return UNBOUNDED
    found: Range | None = None
    for value, home in sources:
        r = value_range(model, value, home, depth + 1)
        if not r.known:
            return UNBOUNDED
        found = r if found is None else found.join(r)
    if found is None:
        return UNBOUNDED
    for b in bindings:
        if b.kind == "aug":
            if not isinstance(node, cst.Name):
                return UNBOUNDED  # an attribute's in-place updates may sit in any method
            found = _accumulated(found, b, model, model.owner(node.value, scope), depth)
    return found


def _accumulated(found: Range, b: Binding, model: ModuleModel, scope: Scope, depth: int) -> Range:
    """``t += v`` with every ``v`` at most 0 keeps t at most its start (a sum of log-
    probabilities stays <= 0); at least 0 keeps it at least its start; anything else is
    unbounded."""
    if b.value is None or b.op not in ("AddAssign", "SubtractAssign"):
        return UNBOUNDED
    step = value_range(model, b.value, scope, depth + 1)
    if b.op == "SubtractAssign":
        step = Range(-step.hi, -step.lo, step.hi_open, step.lo_open)
    if step.hi <= 0:
        return Range(-INF, found.hi, True, found.hi_open)
    if step.lo >= 0:
        return Range(found.lo, INF, found.lo_open, True)
    return UNBOUNDED


def _binary(model: ModuleModel, node: cst.BinaryOperation, scope: Scope, depth: int) -> Range:
    op = node.operator
    if isinstance(op, cst.Power):
        exponent = number_value(node.right)
        base = value_range(model, node.left, scope, depth + 1)
        if exponent is None or exponent != int(exponent) or exponent < 1:
            return UNBOUNDED
        if int(exponent) % 2 == 0:
            mag = max(abs(base.lo), abs(base.hi))
            low = 0.0 if base.lo <= 0 <= base.hi else min(abs(base.lo), abs(base.hi)) ** exponent
            return Range(low, mag**exponent if mag < INF else INF, False, True)
        if base.known:
            return Range(
                _pow(base.lo, exponent), _pow(base.hi, exponent), base.lo_open, base.hi_open
            )
        return UNBOUNDED
    left = value_range(model, node.left, scope, depth + 1)
    if isinstance(op, cst.Divide) and left.lo >= 0 and _sum_of(model, node.right, node.left):
        return Range(0.0, 1.0, False, False)  # ``c / c.sum()``: a share of a nonnegative total
    right = value_range(model, node.right, scope, depth + 1)
    if not (left.known and right.known):
        return UNBOUNDED
    if isinstance(op, cst.Add):
        return Range(
            left.lo + right.lo,
            left.hi + right.hi,
            left.lo_open or right.lo_open,
            left.hi_open or right.hi_open,
        )
    if isinstance(op, cst.Subtract):
        return Range(
            left.lo - right.hi,
            left.hi - right.lo,
            left.lo_open or right.hi_open,
            left.hi_open or right.lo_open,
        )
    if isinstance(op, cst.Multiply):
        return _product(left, right)
    if isinstance(op, cst.Divide) and right.lo > 0:
        return _product(left, Range(1 / right.hi if right.hi < INF else 0.0, 1 / right.lo))
    if isinstance(op, cst.Divide) and right.hi < 0:
        flipped = Range(-right.hi, -right.lo)
        inverse = Range(1 / flipped.hi if flipped.hi < INF else 0.0, 1 / flipped.lo)
        return _product(left, Range(-inverse.hi, -inverse.lo))
    return UNBOUNDED


def _call(model: ModuleModel, node: cst.Call, scope: Scope, depth: int) -> Range:
    qn = model.qualname(node.func)
    args = positional_args(node)
    first = value_range(model, args[0], scope, depth + 1) if args else UNBOUNDED
    if qn in _NONNEG_CALLS:
        return _NONNEG
    if qn in _EXP:
        if first.lo == -INF:
            return Range(0.0, _exp(first.hi), True, first.hi_open)
        return Range(math.exp(first.lo), _exp(first.hi), first.lo_open, first.hi_open)
    if qn in _LOG and first.lo >= 0 and first.hi < INF:
        return Range(-INF, math.log(first.hi) if first.hi > 0 else -INF, True, first.hi_open)
    if qn in _CLIP and len(args) >= 2:
        lo, hi = number_value(args[1]), number_value(args[2]) if len(args) > 2 else None
        lo = _keyword_number(node, ("a_min", "min"), lo)
        hi = _keyword_number(node, ("a_max", "max"), hi)
        return _clamped(first, lo, hi)
    if qn in ("torch.clamp", "torch.clip") and len(args) == 1:
        return _clamped(
            first, _keyword_number(node, ("min",), None), _keyword_number(node, ("max",), None)
        )
    if qn in _MAXIMUM | _MINIMUM and len(args) == 2:
        a, b = first, value_range(model, args[1], scope, depth + 1)
        pick = max if qn in _MAXIMUM else min
        lo, lo_open = _lower(a, b, pick)
        hi, hi_open = _upper(a, b, pick)
        return Range(lo, hi, lo_open, hi_open)
    if qn in _SIGN_KEEPING and args:
        if first.lo >= 0:
            return _NONNEG
        if first.hi <= 0:
            return Range(-INF, 0.0, True, False)
        return UNBOUNDED
    if qn in _SAME and len(args) >= 1:
        return first
    func = node.func
    if isinstance(func, cst.Attribute) and qn is None:
        if func.attr.value in _SAME_METHODS:
            return value_range(model, func.value, scope, depth + 1)
        if func.attr.value in ("clip", "clamp"):
            own = value_range(model, func.value, scope, depth + 1)
            lo = number_value(args[0]) if args else None
            hi = number_value(args[1]) if len(args) > 1 else None
            lo = _keyword_number(node, ("min", "a_min"), lo)
            hi = _keyword_number(node, ("max", "a_max"), hi)
            return _clamped(own, lo, hi)
    found: Range | None = None
    for fn in _implementations(model, func, scope):
        for r in fn.returns:
            got = value_range(model, r, fn, depth + 1)
            if not got.known:
                return UNBOUNDED
            found = got if found is None else found.join(got)
    return found or UNBOUNDED


def _implementations(model: ModuleModel, func: cst.BaseExpression, scope: Scope) -> list[Scope]:
    """The functions a call may run, as the model resolves calls: ``self.m(...)`` in class C
    runs C's own (or inherited) ``m`` or the override of any subclass of C defined here; an
    abstract method that only raises returns nothing and adds nothing."""
    if (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value == "self"
        and scope.cls
    ):
        name = func.attr.value
        classes = [scope.cls] + [
            c for c in model.c.class_bases if c != scope.cls and scope.cls in model.class_chain(c)
        ]
        found = {model.method_in_chain(c, (name,)) for c in classes} - {None}
        if found:
            return sorted(found, key=lambda s: s.qualname())  # type: ignore[union-attr]
    local = model.local_function(func, scope)
    return [local] if local is not None else []


def _sum_of(model: ModuleModel, total: cst.BaseExpression, part: cst.BaseExpression) -> bool:
    """``total`` sums the array ``part`` is (an element or a slice of): ``np.sum(c)``,
    ``c.sum(axis=1, keepdims=True)``, ``sum(c)``."""
    while isinstance(part, cst.Subscript):
        part = part.value
    if not isinstance(total, cst.Call):
        return False
    args = positional_args(total)
    qn = model.qualname(total.func)
    if qn in ("numpy.sum", "torch.sum", "sum", "numpy.nansum") and args:
        summed = args[0]
    elif isinstance(total.func, cst.Attribute) and total.func.attr.value == "sum" and qn is None:
        summed = total.func.value
    else:
        return False
    return summed.deep_equals(part)


def _clamped(r: Range, lo: float | None, hi: float | None) -> Range:
    out = r
    if lo is not None:
        out = Range(max(out.lo, lo), max(out.hi, lo), out.lo_open and out.lo > lo, out.hi_open)
    if hi is not None:
        out = Range(min(out.lo, hi), min(out.hi, hi), out.lo_open, out.hi_open and out.hi < hi)
    return out


def _keyword_number(node: cst.Call, names: tuple[str, ...], default: float | None) -> float | None:
    for a in node.args:
        if a.keyword is not None and a.keyword.value in names:
            return number_value(a.value)
    return default


def _product(a: Range, b: Range) -> Range:
    corners = [_mul(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    if any(math.isnan(c) for c in corners):
        return UNBOUNDED
    # closed ends: a closed end claims less than an open one, so it is always sound
    return Range(min(corners), max(corners), False, False)


def _mul(x: float, y: float) -> float:
    if x == 0 or y == 0:
        return 0.0
    return x * y


def _pow(x: float, e: float) -> float:
    try:
        return math.copysign(abs(x) ** e, x)
    except OverflowError:
        return math.copysign(INF, x)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def _lower(a: Range, b: Range, pick: object) -> tuple[float, bool]:
    value = pick(a.lo, b.lo)  # type: ignore[operator]
    opens = [r.lo_open for r in (a, b) if r.lo == value]
    return value, all(opens)


def _upper(a: Range, b: Range, pick: object) -> tuple[float, bool]:
    value = pick(a.hi, b.hi)  # type: ignore[operator]
    opens = [r.hi_open for r in (a, b) if r.hi == value]
    return value, all(opens)


def _num(x: float) -> str:
    if x == INF:
        return "∞"
    if x == -INF:
        return "−∞"
    return f"{x:g}"
