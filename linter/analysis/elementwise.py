"""A small elementwise expression language, read from code and differentiated here.

``lossgrad`` (a loss's backward against its forward) and ``actgrad`` (an activation layer's
backward against its forward) read formulas into this language by following local names,
``self.`` attributes assigned once and ``self.`` helpers to their one assignment; anything the
reader does not know (indexing, branches it cannot resolve, unknown calls, mutation it cannot
follow) raises ``Unreadable`` and the formula is not judged. The derivative is taken
symbolically (``derivative``) and formulas are compared as functions by evaluating them
(``evaluate``) at seeded points: the user's code is never run.

Expressions are tuples: ``("c", x)`` a constant, ``("v", i)`` an input, ``("g",)`` an upstream
gradient, ``("k", name)`` a layer's constant hyper-parameter, ``("S",)``/``("G",)`` a softmax or
sigmoid of a loss's input, ``("N",)`` a batch size, and operators: ``+ * / pow log exp sum``;
with ``Reader.extended`` also ``tanh sig max min gt ge and or not where abs`` (comparisons are
0/1 indicators).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import libcst as cst

from linter.analysis.collect import Binding, Scope
from linter.analysis.exprs import number_value, positional_args
from linter.analysis.forms import Kind
from linter.analysis.model import ModuleModel
from linter.analysis.treewalk import walk

Expr = tuple

LEAVES = ("v", "S", "G", "g", "k")  # symbols: evaluated from an environment
_INDICATORS = ("gt", "ge", "and", "or", "not")


class Unreadable(Exception):
    pass


def add(a: Expr, b: Expr) -> Expr:
    return ("+", a, b)


def mul(a: Expr, b: Expr) -> Expr:
    return ("*", a, b)


def neg(a: Expr) -> Expr:
    return ("*", ("c", -1.0), a)


def symbols(e: Expr) -> set[Expr]:
    if e[0] in LEAVES:
        return {e}
    if e[0] in ("c", "N"):
        return set()
    out: set[Expr] = set()
    for a in e[1:]:
        if isinstance(a, tuple):
            out |= symbols(a)
    return out


def ops(e: Expr) -> set[str]:
    out = {e[0]}
    for a in e[1:]:
        if isinstance(a, tuple):
            out |= ops(a)
    return out


def constant(e: Expr) -> bool:
    return not symbols(e)


def substitute(e: Expr, old: Expr, new: Expr) -> Expr:
    if e == old:
        return new
    return tuple(substitute(a, old, new) if isinstance(a, tuple) else a for a in e)


def derivative(e: Expr, wrt: Expr) -> Expr:
    """The elementwise derivative of ``e`` in the symbol ``wrt`` (a sum's derivative is its
    summand's: every element of a reduction depends on its own input only; an indicator's is 0,
    away from its kink)."""
    op = e[0]
    if op in ("c", "N") or op in _INDICATORS:
        return ("c", 0.0)
    if op in LEAVES:
        return ("c", 1.0 if e == wrt else 0.0)
    if op == "sum":
        return derivative(e[1], wrt)
    if op == "+":
        return add(derivative(e[1], wrt), derivative(e[2], wrt))
    if op == "*":
        return add(mul(derivative(e[1], wrt), e[2]), mul(e[1], derivative(e[2], wrt)))
    if op == "/":
        num = add(mul(derivative(e[1], wrt), e[2]), neg(mul(e[1], derivative(e[2], wrt))))
        return ("/", num, ("pow", e[2], 2.0))
    if op == "pow":
        return mul(mul(("c", e[2]), ("pow", e[1], e[2] - 1.0)), derivative(e[1], wrt))
    if op == "log":
        return ("/", derivative(e[1], wrt), e[1])
    if op == "exp":
        return mul(e, derivative(e[1], wrt))
    if op == "tanh":
        return mul(add(("c", 1.0), neg(("pow", e, 2.0))), derivative(e[1], wrt))
    if op == "sig":
        return mul(mul(e, add(("c", 1.0), neg(e))), derivative(e[1], wrt))
    if op == "max":
        return ("where", ("gt", e[1], e[2]), derivative(e[1], wrt), derivative(e[2], wrt))
    if op == "min":
        return ("where", ("gt", e[2], e[1]), derivative(e[1], wrt), derivative(e[2], wrt))
    if op == "where":
        return ("where", e[1], derivative(e[2], wrt), derivative(e[3], wrt))
    if op == "abs":
        d = derivative(e[1], wrt)
        return ("where", ("gt", e[1], ("c", 0.0)), d, neg(d))
    raise Unreadable(op)


N_VALUE = 7.0  # the value a batch size takes: any positive constant (scales are not judged)


def evaluate(e: Expr, env: dict[Expr, list[float]], k: int) -> list[float]:
    """``e`` at the ``k`` points of ``env`` (each symbol's values); a tuple is not a value."""
    op = e[0]
    if op == "c":
        return [e[1]] * k
    if op == "N":
        return [N_VALUE] * k
    if op in LEAVES:
        if e not in env:
            raise Unreadable(e)
        return env[e]
    if op == "sum":
        return [math.fsum(evaluate(e[1], env, k))] * k
    if op == "pow":
        return [math.pow(x, e[2]) for x in evaluate(e[1], env, k)]
    one = {
        "log": math.log,
        "exp": math.exp,
        "tanh": math.tanh,
        "sig": lambda x: 1.0 / (1.0 + math.exp(-x)),
        "abs": abs,
        "not": lambda x: 0.0 if x else 1.0,
    }
    if op in one:
        return [one[op](x) for x in evaluate(e[1], env, k)]
    if op == "where":
        c = evaluate(e[1], env, k)
        a, b = evaluate(e[2], env, k), evaluate(e[3], env, k)
        return [x if t else y for t, x, y in zip(c, a, b, strict=True)]
    if op == "tuple":
        raise Unreadable(op)
    a, b = evaluate(e[1], env, k), evaluate(e[2], env, k)
    two = {
        "+": lambda x, y: x + y,
        "*": lambda x, y: x * y,
        "/": lambda x, y: x / y,
        "max": max,
        "min": min,
        "gt": lambda x, y: 1.0 if x > y else 0.0,
        "ge": lambda x, y: 1.0 if x >= y else 0.0,
        "and": lambda x, y: 1.0 if x and y else 0.0,
        "or": lambda x, y: 1.0 if x or y else 0.0,
    }
    if op not in two:
        raise Unreadable(op)
    fn = two[op]
    return [fn(x, y) for x, y in zip(a, b, strict=True)]


# --- comparing ------------------------------------------------------------------------------------


def ratio(b: list[float], d: list[float]) -> float | None:
    """The constant c with b = c·d elementwise, if there is one (and d is not all zero)."""
    c = None
    for x, y in zip(b, d, strict=True):
        if abs(y) < 1e-9:
            if abs(x) > 1e-9:
                return None
            continue
        r = x / y
        if c is None:
            c = r
        elif abs(r - c) > 1e-6 * max(1.0, abs(c)):
            return None
    return c


def proportional(pairs: list[tuple[list[float], list[float]]]) -> float | None:
    c = None
    for b, d in pairs:
        r = ratio(b, d)
        if r is None or (c is not None and abs(r - c) > 1e-6 * max(1.0, abs(c))):
            return None
        c = r if c is None else c
    return c


# --- reading code into the language -------------------------------------------------------------

_REDUCE = frozenset({"numpy.sum", "numpy.mean", "numpy.nansum", "numpy.nanmean"})
_IDENTITY = frozenset({"numpy.nan_to_num", "numpy.asarray", "numpy.array", "numpy.squeeze"})
_METHOD_REDUCE = frozenset({"sum", "mean"})
_METHOD_IDENTITY = frozenset({"copy", "squeeze", "flatten", "ravel"})
_SIZE_ATTRS = frozenset({"size"})
_COMPARE = {
    cst.GreaterThan: ("gt", False),
    cst.GreaterThanEqual: ("ge", False),
    cst.LessThan: ("gt", True),
    cst.LessThanEqual: ("ge", True),
}

MAX_STEPS = 400  # expression nodes read for one pair: loss and activation formulas are a few dozen


class Reader:
    """Reads the expressions of one forward/backward pair; ``slots`` maps a scope's parameters to
    the pair's inputs (or to constants, for parameters with a numeric default).

    ``extended`` (activations) also reads comparisons as indicators, ``np.where``, ``np.maximum``
    / ``np.minimum`` / ``np.clip`` as they are, ``tanh``, the logistic function, calls of the
    module's own functions and ``self.`` helpers with arguments, an element assignment through a
    boolean mask (``dx[x <= 0] = 0``), and a hyper-parameter set from ``__init__``'s argument as a
    constant. Without it (losses) a clip or a maximum against a tiny bound reads as its argument
    (the guard against log(0)), and a softmax or sigmoid of the input is the symbol S or G."""

    extended = False

    def __init__(self, model: ModuleModel, cls: str | None, slots: dict[Scope, dict[str, Expr]]):
        self.m = model
        self.cls = cls
        self.slots = slots
        self.depth = 0
        self.steps = 0  # a name read twice per statement must not double the work each time
        self.active: list[Scope] = []  # functions being inlined

    def read(self, node: cst.BaseExpression, scope: Scope, before: int | None) -> Expr:
        self.depth += 1
        try:
            self.steps += 1
            if self.depth > 40 or self.steps > MAX_STEPS:
                raise Unreadable("size")
            return self._read(node, scope, before)
        finally:
            self.depth -= 1

    def _read(self, node: cst.BaseExpression, scope: Scope, before: int | None) -> Expr:
        value = number_value(node)
        if value is not None:
            return ("c", value)
        if isinstance(node, cst.UnaryOperation):
            if isinstance(node.operator, cst.Minus):
                return neg(self.read(node.expression, scope, before))
            if self.extended and isinstance(node.operator, cst.BitInvert | cst.Not):
                return ("not", self._indicator(node.expression, scope, before))
            if self.extended and isinstance(node.operator, cst.Plus):
                return self.read(node.expression, scope, before)
        if not self.extended and isinstance(node, cst.BinaryOperation | cst.Call):
            form = self.m.forms.form(node, scope)
            if form is not None and form.kind in (Kind.SOFTMAX, Kind.SIGMOID):
                return ("S",) if form.kind is Kind.SOFTMAX else ("G",)
        if isinstance(node, cst.BinaryOperation):
            return self._binop(node, scope, before)
        if isinstance(node, cst.Name):
            return self._name(node.value, scope, before)
        if isinstance(node, cst.Attribute):
            return self._attribute(node, scope, before)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, scope, before)
        if isinstance(node, cst.Call):
            return self._call(node, scope, before)
        if self.extended and isinstance(node, cst.Comparison):
            return self._comparison(node, scope, before)
        if self.extended and isinstance(node, cst.Tuple):
            return ("tuple", *(self.read(e.value, scope, before) for e in node.elements))
        raise Unreadable(type(node).__name__)

    def _indicator(self, node: cst.BaseExpression, scope: Scope, before: int | None) -> Expr:
        e = self.read(node, scope, before)
        if e[0] not in _INDICATORS:
            raise Unreadable("not a comparison")
        return e

    def _comparison(self, node: cst.Comparison, scope: Scope, before: int | None) -> Expr:
        if len(node.comparisons) != 1:
            raise Unreadable("chained comparison")
        found = _COMPARE.get(type(node.comparisons[0].operator))
        if found is None:
            raise Unreadable("comparison")
        op, swap = found
        left = self.read(node.left, scope, before)
        right = self.read(node.comparisons[0].comparator, scope, before)
        return (op, right, left) if swap else (op, left, right)

    def _binop(self, node: cst.BinaryOperation, scope: Scope, before: int | None) -> Expr:
        op = node.operator
        if isinstance(op, cst.Power):
            k = number_value(node.right)
            if k is None:
                raise Unreadable("power")
            left = node.left
            if (
                k == 2.0
                and isinstance(left, cst.Call)
                and self.m.qualname(left.func) == "numpy.linalg.norm"
                and len(left.args) == 1
            ):
                return ("sum", ("pow", self.read(left.args[0].value, scope, before), 2.0))
            return ("pow", self.read(node.left, scope, before), k)
        if self.extended and isinstance(op, cst.BitAnd | cst.BitOr):
            a = self._indicator(node.left, scope, before)
            b = self._indicator(node.right, scope, before)
            return ("and" if isinstance(op, cst.BitAnd) else "or", a, b)
        left = self.read(node.left, scope, before)
        right = self.read(node.right, scope, before)
        if "tuple" in (left[0], right[0]):
            raise Unreadable("tuple arithmetic")
        if isinstance(op, cst.Add):
            return add(left, right)
        if isinstance(op, cst.Subtract):
            return add(left, neg(right))
        if isinstance(op, cst.Multiply):
            return mul(left, right)
        if isinstance(op, cst.Divide):
            return ("/", left, right)
        raise Unreadable("operator")

    def _name(self, name: str, scope: Scope, before: int | None) -> Expr:
        bindings = [b for b in scope.bindings.get(name, []) if before is None or b.index < before]
        if not bindings:
            if name in scope.params:
                return self._param(name, scope)
            return self._global_constant(name, scope)
        if any(b.kind != "param" and not unconditional(b.stmt, scope) for b in bindings):
            raise Unreadable(name)  # a value chosen by a branch
        b = max(bindings, key=lambda b: b.index)
        if b.kind == "param":
            return self._param(name, scope)
        if self.extended and b.kind == "assign" and isinstance(b.target, cst.Subscript):
            return self._masked(name, b, scope)
        if self.extended and b.kind == "unpack" and b.value is not None and not b.loops:
            whole = self.read(b.value, scope, b.index)
            items = whole[1:]
            if whole[0] != "tuple" or not -len(items) <= b.position < len(items):
                raise Unreadable(name)
            return items[b.position]
        if b.kind != "assign" or b.value is None or b.loops or not isinstance(b.target, cst.Name):
            raise Unreadable(name)
        if self.extended and changed_after(b.value, b.index, scope):
            raise Unreadable(name)  # ``dx = g`` then ``g[m] = 0``: dx is the changed array
        return self.read(b.value, scope, b.index)

    def _masked(self, name: str, b: Binding, scope: Scope) -> Expr:
        """``dx[mask] = v``: where the mask holds, v; elsewhere dx's value before."""
        target = b.target
        assert isinstance(target, cst.Subscript)
        if not isinstance(target.value, cst.Name) or len(target.slice) != 1:
            raise Unreadable(name)
        index = target.slice[0].slice
        if not isinstance(index, cst.Index) or b.value is None or b.loops:
            raise Unreadable(name)
        if not mutation_followed(name, b, scope):
            raise Unreadable(name)
        cond = self._indicator(index.value, scope, b.index)
        value = self.read(b.value, scope, b.index)
        return ("where", cond, value, self._name(name, scope, b.index))

    def _global_constant(self, name: str, scope: Scope) -> Expr:
        """A module-level name assigned once, to a number (``EPS = 1e-12``)."""
        module = scope.parent
        while module is not None and not module.is_module:
            module = module.parent
        found = module.bindings.get(name, []) if module is not None else []
        value = number_value(found[0].value) if len(found) == 1 else None
        if value is None or found[0].kind != "assign":
            raise Unreadable(name)
        return ("c", value)

    def _param(self, name: str, scope: Scope) -> Expr:
        found = self.slots.get(scope, {}).get(name)
        if found is None:
            raise Unreadable(name)
        return found

    def _attribute(self, node: cst.Attribute, scope: Scope, before: int | None) -> Expr:
        if node.attr.value in _SIZE_ATTRS and not self.extended:
            return ("N",)
        if (
            node.attr.value == "eps"
            and isinstance(node.value, cst.Call)
            and self.m.qualname(node.value.func) == "numpy.finfo"
        ):
            return ("c", 1e-16)  # machine epsilon: an offset against log(0)
        if not (isinstance(node.value, cst.Name) and node.value.value == "self" and self.cls):
            raise Unreadable("attribute")
        key = f"self.{node.attr.value}"
        found = [(b, s) for s in self._class_scopes() for b in s.bindings.get(key, [])]
        if self.extended:
            # ``self.mask = None`` in ``__init__``: a placeholder, never a value backward uses
            found = [(b, s) for b, s in found if not _none(b.value)]
            if not found:
                return self._inherited(key, scope)
        if len(found) != 1:
            raise Unreadable(key)
        b, s = found[0]
        if b.kind != "assign" or b.value is None or b.loops or not unconditional(b.stmt, s):
            raise Unreadable(key)
        if self.extended and changed_after(b.value, b.index, s):
            raise Unreadable(key)  # ``self.out = out`` then ``out[m] = 0``
        if self.extended and s.name == "__init__":
            value = number_value(b.value)
            if value is not None:
                return ("c", value)
            if isinstance(b.value, cst.Name) and b.value.value in s.params:
                return ("k", key)  # a hyper-parameter: the same constant in forward and backward
            raise Unreadable(key)
        return self.read(b.value, s, b.index)

    def _inherited(self, key: str, scope: Scope) -> Expr:
        """An attribute this module never assigns (a base class elsewhere sets it)."""
        raise Unreadable(key)

    def _class_scopes(self) -> list[Scope]:
        assert self.cls is not None
        chain = {self.cls, *(c.rsplit(".", 1)[-1] for c in self.m.class_chain(self.cls))}
        return self.m.c.scopes_of_classes(chain)

    def _subscript(self, node: cst.Subscript, scope: Scope, before: int | None) -> Expr:
        # x.shape[0]: a batch size
        base = node.value
        if isinstance(base, cst.Attribute) and base.attr.value == "shape" and not self.extended:
            return ("N",)
        raise Unreadable("subscript")

    def _call(self, node: cst.Call, scope: Scope, before: int | None) -> Expr:
        qn = self.m.qualname(node.func)
        args = positional_args(node)
        func = node.func
        if self.extended:
            found = self._extended_call(qn, node, args, scope, before)
            if found is not None:
                return found
        elif qn == "len" or (isinstance(func, cst.Name) and func.value == "len" and qn is None):
            return ("N",)
        if qn is not None and qn.startswith("numpy."):
            return self._numpy_call(qn, node, args, scope, before)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _METHOD_REDUCE and not keyword_given(node, "where") and not self.extended:
                return ("sum", self.read(func.value, scope, before))
            if method in _METHOD_IDENTITY and not args:
                return self.read(func.value, scope, before)
            if method == "clip" and qn is None and not self.extended:
                return self.read(func.value, scope, before)
            if isinstance(func.value, cst.Name) and func.value.value == "self" and self.cls:
                return self._method(node, method, scope, before)
        raise Unreadable("call")

    def _extended_call(
        self,
        qn: str | None,
        node: cst.Call,
        args: list[cst.BaseExpression],
        scope: Scope,
        before: int | None,
    ) -> Expr | None:
        """What activations add: None when the call is left to the common reading."""
        if qn == "numpy.array" and len(node.args) == 2 and _copy_true(node.args[1]):
            return self.read(args[0], scope, before)  # np.array(g, copy=True): a copy
        if len(args) != len(node.args):
            raise Unreadable("keyword arguments")
        func = node.func

        def rd(a: cst.BaseExpression) -> Expr:
            return self.read(a, scope, before)

        if qn in ("numpy.tanh", "math.tanh") and len(args) == 1:
            return ("tanh", rd(args[0]))
        if qn == "scipy.special.expit" and len(args) == 1:
            return ("sig", rd(args[0]))
        if qn in ("numpy.abs", "numpy.absolute", "abs") and len(args) == 1:
            return ("abs", rd(args[0]))
        if qn in ("numpy.maximum", "numpy.fmax", "max") and len(args) == 2:
            return ("max", rd(args[0]), rd(args[1]))
        if qn in ("numpy.minimum", "numpy.fmin", "min") and len(args) == 2:
            return ("min", rd(args[0]), rd(args[1]))
        if qn == "numpy.clip" and len(args) == 3:
            out = rd(args[0])
            lo, hi = args[1], args[2]
            if not _none(lo):
                out = ("max", out, rd(lo))
            if not _none(hi):
                out = ("min", out, rd(hi))
            return out
        if qn == "numpy.where" and len(args) == 3:
            return ("where", self._indicator(args[0], scope, before), rd(args[1]), rd(args[2]))
        if qn in ("numpy.ones_like", "numpy.zeros_like") and len(args) == 1:
            rd(args[0])  # its shape only, but it must be a value the reading knows
            return ("c", 1.0 if qn == "numpy.ones_like" else 0.0)
        if qn == "numpy.copy" and len(args) == 1:
            return rd(args[0])
        if qn in ("numpy.greater", "numpy.greater_equal", "numpy.less", "numpy.less_equal"):
            if len(args) != 2:
                raise Unreadable(qn)
            a, b = rd(args[0]), rd(args[1])
            op = "gt" if qn in ("numpy.greater", "numpy.less") else "ge"
            return (op, a, b) if qn.startswith("numpy.greater") else (op, b, a)
        if qn == "numpy.heaviside" and len(args) == 2:
            return ("gt", rd(args[0]), ("c", 0.0))
        if qn in ("numpy.logical_and", "numpy.logical_or") and len(args) == 2:
            a = self._indicator(args[0], scope, before)
            b = self._indicator(args[1], scope, before)
            return ("and" if qn == "numpy.logical_and" else "or", a, b)
        if qn == "numpy.logical_not" and len(args) == 1:
            return ("not", self._indicator(args[0], scope, before))
        if isinstance(func, cst.Attribute) and func.attr.value == "astype" and len(args) == 1:
            return rd(func.value)  # a 0/1 indicator as numbers: the same values
        if isinstance(func, cst.Name) and qn == func.value:
            return self._function(node, func.value, args, scope, before)
        return None

    def _function(
        self,
        node: cst.Call,
        name: str,
        args: list[cst.BaseExpression],
        scope: Scope,
        before: int | None,
    ) -> Expr:
        """A call of one of the module's own functions: its one return, its parameters bound to
        the arguments."""
        found = [s for s in self.m.c.functions.get(name, []) if s.cls is None and not s.nested]
        if len(found) != 1:
            raise Unreadable(name)
        return self._inline(found[0], [], args, scope, before)

    def _inline(
        self,
        fn: Scope,
        skip: list[str],
        args: list[cst.BaseExpression],
        scope: Scope,
        before: int | None,
    ) -> Expr:
        params = [p for p in fn.params if p not in skip]
        if len(params) != len(args) or len(fn.returns) != 1:
            raise Unreadable(fn.name)
        if not top_level_return(fn.returns[0], fn) or fn in self.active:
            raise Unreadable(fn.name)  # recursion
        values = {p: self.read(a, scope, before) for p, a in zip(params, args, strict=True)}
        old = self.slots.get(fn)
        if old is not None and old != values:
            # the pair's own forward called again on other values: the attributes it stores
            # would then hold those, which the reading does not follow
            raise Unreadable(fn.name)
        self.slots[fn] = values
        self.active.append(fn)
        try:
            return self.read(fn.returns[0], fn, None)
        finally:
            self.active.pop()
            if old is None:
                del self.slots[fn]

    def _numpy_call(
        self,
        qn: str,
        node: cst.Call,
        args: list[cst.BaseExpression],
        scope: Scope,
        before: int | None,
    ) -> Expr:
        if not args:
            raise Unreadable(qn)
        if qn in _REDUCE and len(node.args) <= 2 and not keyword_given(node, "where"):
            if self.extended:
                raise Unreadable(qn)
            return ("sum", self.read(args[0], scope, before))
        guards = ("numpy.clip", "numpy.maximum", "numpy.minimum")
        if qn in _IDENTITY or (qn in guards and not self.extended):
            if qn in ("numpy.maximum", "numpy.minimum"):
                if len(args) != 2 or (not _tiny(args[1]) and not _near_one(args[1])):
                    raise Unreadable(qn)
            return self.read(args[0], scope, before)
        if qn in ("numpy.log", "numpy.exp") and len(args) == 1:
            return (
                "log" if qn == "numpy.log" else "exp",
                strip_tiny(self.read(args[0], scope, before)),
            )
        if qn == "numpy.square" and len(args) == 1:
            return ("pow", self.read(args[0], scope, before), 2.0)
        if qn == "numpy.sqrt" and len(args) == 1:
            return ("pow", self.read(args[0], scope, before), 0.5)
        if qn == "numpy.power" and len(args) == 2:
            k = number_value(args[1])
            if k is None:
                raise Unreadable(qn)
            return ("pow", self.read(args[0], scope, before), k)
        binary = {
            "numpy.multiply": "*",
            "numpy.add": "+",
            "numpy.subtract": "-",
            "numpy.divide": "/",
        }
        if qn in binary and len(args) == 2 and len(node.args) == 2:
            a, b = self.read(args[0], scope, before), self.read(args[1], scope, before)
            op = binary[qn]
            return add(a, neg(b)) if op == "-" else (op, a, b)
        if qn == "numpy.negative" and len(args) == 1:
            return neg(self.read(args[0], scope, before))
        raise Unreadable(qn)

    def _method(self, node: cst.Call, name: str, scope: Scope, before: int | None) -> Expr:
        """``self._output()``: the method the concrete class resolves it to, through its one
        return (with its arguments bound, when ``extended``)."""
        if self.cls is None:
            raise Unreadable(name)
        fn = self.m.method_in_chain(self.cls, (name,))
        if fn is None:
            raise Unreadable(name)
        if self.extended:
            args = positional_args(node)
            if len(args) != len(node.args):
                raise Unreadable(name)
            return self._inline(fn, ["self"], args, scope, before)
        if node.args or [p for p in fn.params if p != "self"]:
            raise Unreadable(name)
        if len(fn.returns) != 1 or not top_level_return(fn.returns[0], fn):
            raise Unreadable(name)
        return self.read(fn.returns[0], fn, None)


def _copy_true(arg: cst.Arg) -> bool:
    return (
        arg.keyword is not None
        and arg.keyword.value == "copy"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "True"
    )


def _none(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def body(scope: Scope) -> list[cst.CSTNode]:
    node = scope.node
    if isinstance(node, cst.FunctionDef) and isinstance(node.body, cst.IndentedBlock):
        return list(node.body.body)
    return []


def unconditional(stmt: cst.CSTNode, scope: Scope) -> bool:
    """A statement of the function's own body, not inside an ``if``, loop, ``try`` or ``with``:
    it runs on every call."""
    return any(stmt is s for s in body(scope))


def top_level_return(value: cst.BaseExpression, scope: Scope) -> bool:
    for stmt in body(scope):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Return) and small.value is value:
                    return True
    return False


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _names_in(nodes: list[cst.CSTNode]) -> set[str]:
    v = _Names()
    for n in nodes:
        walk(n, v)
    return v.names


def mutation_followed(name: str, b: Binding, scope: Scope) -> bool:
    """``name[mask] = v`` changes the array ``name`` holds: the reading follows it only when no
    other name or attribute holds the same array. So ``name`` was not aliased before
    (``y = name``, ``self.out = name``), and when ``name`` was itself an alias (``name = g``),
    the array it aliases is not read after the change."""
    for others in scope.bindings.values():
        for o in others:
            if (
                o.index < b.index
                and isinstance(o.value, cst.Name)
                and o.value.value == name
                and o.kind in ("assign", "unpack")
            ):
                return False
    earlier = [
        o
        for o in scope.bindings.get(name, [])
        if o.index < b.index and isinstance(o.target, cst.Name)
    ]
    if earlier:
        last = max(earlier, key=lambda o: o.index)
        if isinstance(last.value, cst.Name | cst.Attribute) and last.kind == "assign":
            aliased = last.value
            root = aliased.value if isinstance(aliased, cst.Name) else None
            stmts = body(scope)
            after = [s for s in stmts if _index_of(s, stmts) > _index_of(b.stmt, stmts)]
            if isinstance(aliased, cst.Attribute) or (
                root is not None and root in _names_in(after)
            ):
                return False
    return True


def changed_after(value: cst.BaseExpression, index: int, scope: Scope) -> bool:
    """``value`` is a bare name whose array is changed in place (an element assignment, an
    augmented assignment) after statement ``index``: a name bound to it then holds the change."""
    if not isinstance(value, cst.Name):
        return False
    return any(
        o.index > index
        and (o.kind == "aug" or (o.kind == "assign" and isinstance(o.target, cst.Subscript)))
        for o in scope.bindings.get(value.value, [])
    )


def _index_of(stmt: cst.CSTNode, stmts: list[cst.CSTNode]) -> int:
    for i, s in enumerate(stmts):
        if s is stmt:
            return i
    return -1


def keyword_given(call: cst.Call, name: str) -> bool:
    return any(a.keyword is not None and a.keyword.value == name for a in call.args)


def _tiny(node: cst.BaseExpression) -> bool:
    v = number_value(node)
    return v is not None and 0 < abs(v) < 1e-3


def _near_one(node: cst.BaseExpression) -> bool:
    v = number_value(node)
    return v is not None and 0 < 1 - v < 1e-3


def strip_tiny(e: Expr) -> Expr:
    """``p + 1e-9`` inside a log: the offset against log(0), not part of the formula."""
    if e[0] == "+":
        for a, b in ((e[1], e[2]), (e[2], e[1])):
            if b[0] == "c" and 0 < abs(b[1]) < 1e-3:
                return a
    return e


def method_pairs(
    model: ModuleModel,
    names: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...],
    named_partners: Callable[[ModuleModel, Scope], list[Scope]] | None = None,
) -> Iterator[tuple[Scope, Scope, str | None]]:
    """(forward, backward, class) pairs to read: per class, the first (forward names, backward
    names) of ``names`` the class (or a base in this module) defines both of, one of them in the
    class itself; then ``X_backward`` functions (or methods of one class) with exactly one forward partner
    (``X_forward`` by the pair convention, or what ``named_partners`` finds)."""
    for cls in model.c.class_bases:
        for fnames, bnames in names:
            fwd = model.method_in_chain(cls, fnames)
            bwd = model.method_in_chain(cls, bnames)
            if fwd is None or bwd is None or fwd is bwd or cls not in (fwd.cls, bwd.cls):
                continue
            if fwd.nested or bwd.nested:
                continue
            yield fwd, bwd, cls
            break
    for fns in model.c.functions.values():
        for bwd in fns:
            if bwd.nested:
                continue
            partners = model.forward_partners(bwd)  # functions, or methods of one class
            if bwd.cls is not None and not partners:
                continue
            if not partners and named_partners is not None:
                partners = named_partners(model, bwd)
            if len(partners) == 1 and partners[0] is not bwd:
                yield partners[0], bwd, None
