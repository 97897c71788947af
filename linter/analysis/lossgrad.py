"""A loss whose backward is not the derivative of its forward.

A loss class pairs a forward method (``forward``, ``loss``, ``__call__``, ``fn`` ...) taking a
prediction and a target with a backward method (``backward``, ``gradient``, ``grad``,
``derivative``, ``delta`` ...) that returns the loss's gradient; a module-level ``X_forward`` /
``X_backward`` pair is read the same way. Both formulas are read into a small elementwise
expression language (the two inputs, constants, ``+ - * /``, powers, ``log``, ``exp``, sums and
means, a batch size) by following local names, ``self.`` attributes and ``self.`` helper methods
to their one assignment; anything else (indexing, branches the reading cannot resolve, unknown
calls) makes the pair unreadable and it is not judged. The forward formula is differentiated
symbolically here; the derivative and the backward formula are then compared as functions by
evaluating both expressions (never the user's code) at a few seeded points.

Precision first. A backward is accepted when it is the derivative up to a positive constant
(a missing ``1/N`` or ``2`` is a learning-rate matter), and also when it is the derivative times
an output activation's derivative written on the prediction, ``p(1 - p)`` or ``1 - p²`` (the
class returns dL/dz for a sigmoid or tanh output: BCE's ``p - y``), or, for the cross-entropy
``-y log p``, ``p - y`` (the softmax folded in). A forward that applies its own softmax or
sigmoid is differentiated through it (the softmax's Jacobian, with a one-hot target). A
symmetric loss (MSE) may be differentiated in either input, so its sign is never judged.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import number_value, positional_args
from linter.analysis.forms import Kind
from linter.analysis.model import ModuleModel

FORWARD_NAMES = ("forward", "loss", "__call__", "fn", "function", "compute", "calculate", "cost")
BACKWARD_NAMES = (
    "backward",
    "gradient",
    "grad",
    "derivative",
    "deriv",
    "prime",
    "delta",
    "backprop",
    "dloss",
)

Expr = tuple  # ("c", x) | ("v", slot) | ("S",) | ("G",) | ("N",) | (op, *args)


class _Unreadable(Exception):
    pass


@dataclass(frozen=True)
class LossPair:
    forward: Scope
    backward: Scope
    cls: str | None  # the concrete class the pair is read for


@dataclass(frozen=True)
class LossMismatch:
    """``node`` (what ``pair.backward`` returns) is not the derivative of ``pair.forward``'s
    loss; ``sign`` when it is the derivative with its sign flipped."""

    node: cst.BaseExpression
    pair: LossPair
    loss: str  # "mean squared error", "cross-entropy", ... or "" when not a named one
    expected: str  # the derivative, written on the forward's parameter names
    sign: bool


# --- the expression language ------------------------------------------------------------------


def _add(a: Expr, b: Expr) -> Expr:
    return ("+", a, b)


def _mul(a: Expr, b: Expr) -> Expr:
    return ("*", a, b)


def _neg(a: Expr) -> Expr:
    return ("*", ("c", -1.0), a)


def _symbols(e: Expr) -> set[Expr]:
    if e[0] in ("v", "S", "G"):
        return {e}
    if e[0] in ("c", "N"):
        return set()
    out: set[Expr] = set()
    for a in e[1:]:
        if isinstance(a, tuple):
            out |= _symbols(a)
    return out


def _constant(e: Expr) -> bool:
    return not _symbols(e)


def _sums_linear(e: Expr, linear: bool = True) -> bool:
    """Reductions only where the loss is linear in them: a sum of sums, scaled by constants."""
    op = e[0]
    if op in ("c", "v", "S", "G", "N"):
        return True
    if op == "sum":
        return linear and _sums_linear(e[1], linear)
    if op == "+":
        return _sums_linear(e[1], linear) and _sums_linear(e[2], linear)
    if op == "*":
        a, b = e[1], e[2]
        return _sums_linear(a, linear and _constant(b)) and _sums_linear(b, linear and _constant(a))
    if op == "/":
        return _sums_linear(e[1], linear and _constant(e[2])) and _sums_linear(e[2], False)
    return all(_sums_linear(a, False) for a in e[1:] if isinstance(a, tuple))


def _d(e: Expr, wrt: Expr) -> Expr:
    """The elementwise derivative of ``e`` in the symbol ``wrt`` (a sum's derivative is its
    summand's: every element of a reduction depends on its own input only)."""
    op = e[0]
    if op in ("c", "N"):
        return ("c", 0.0)
    if op in ("v", "S", "G"):
        return ("c", 1.0 if e == wrt else 0.0)
    if op == "sum":
        return _d(e[1], wrt)
    if op == "+":
        return _add(_d(e[1], wrt), _d(e[2], wrt))
    if op == "*":
        return _add(_mul(_d(e[1], wrt), e[2]), _mul(e[1], _d(e[2], wrt)))
    if op == "/":
        num = _add(_mul(_d(e[1], wrt), e[2]), _neg(_mul(e[1], _d(e[2], wrt))))
        return ("/", num, ("pow", e[2], 2.0))
    if op == "pow":
        return _mul(_mul(("c", e[2]), ("pow", e[1], e[2] - 1.0)), _d(e[1], wrt))
    if op == "log":
        return ("/", _d(e[1], wrt), e[1])
    if op == "exp":
        return _mul(e, _d(e[1], wrt))
    raise _Unreadable(op)


_N = 7.0  # the value a batch size takes: any positive constant (scales are not judged)


def _eval(e: Expr, env: dict[Expr, list[float]], k: int) -> list[float]:
    op = e[0]
    if op == "c":
        return [e[1]] * k
    if op == "N":
        return [_N] * k
    if op in ("v", "S", "G"):
        if e not in env:
            raise _Unreadable(e)
        return env[e]
    if op == "sum":
        return [math.fsum(_eval(e[1], env, k))] * k
    if op == "pow":
        return [math.pow(x, e[2]) for x in _eval(e[1], env, k)]
    if op == "log":
        return [math.log(x) for x in _eval(e[1], env, k)]
    if op == "exp":
        return [math.exp(x) for x in _eval(e[1], env, k)]
    a, b = _eval(e[1], env, k), _eval(e[2], env, k)
    if op == "+":
        return [x + y for x, y in zip(a, b, strict=True)]
    if op == "*":
        return [x * y for x, y in zip(a, b, strict=True)]
    if op == "/":
        return [x / y for x, y in zip(a, b, strict=True)]
    raise _Unreadable(op)


# --- reading code into the language -------------------------------------------------------------

_REDUCE = frozenset({"numpy.sum", "numpy.mean", "numpy.nansum", "numpy.nanmean"})
_IDENTITY = frozenset({"numpy.nan_to_num", "numpy.asarray", "numpy.array", "numpy.squeeze"})
_METHOD_REDUCE = frozenset({"sum", "mean"})
_METHOD_IDENTITY = frozenset({"copy", "squeeze", "flatten", "ravel"})
_SIZE_ATTRS = frozenset({"size"})


_MAX_STEPS = 400  # expression nodes read for one pair: loss formulas are a few dozen


class _Reader:
    """Reads expressions of one loss pair; ``slots`` maps a scope's parameters to the pair's
    two inputs (or to constants, for parameters with a numeric default)."""

    def __init__(self, model: ModuleModel, cls: str | None, slots: dict[Scope, dict[str, Expr]]):
        self.m = model
        self.cls = cls
        self.slots = slots
        self.depth = 0
        self.steps = 0  # a name read twice per statement must not double the work each time

    def read(self, node: cst.BaseExpression, scope: Scope, before: int | None) -> Expr:
        self.depth += 1
        try:
            self.steps += 1
            if self.depth > 40 or self.steps > _MAX_STEPS:
                raise _Unreadable("size")
            return self._read(node, scope, before)
        finally:
            self.depth -= 1

    def _read(self, node: cst.BaseExpression, scope: Scope, before: int | None) -> Expr:
        value = number_value(node)
        if value is not None:
            return ("c", value)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            return _neg(self.read(node.expression, scope, before))
        if isinstance(node, cst.BinaryOperation | cst.Call):
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
        raise _Unreadable(type(node).__name__)

    def _binop(self, node: cst.BinaryOperation, scope: Scope, before: int | None) -> Expr:
        op = node.operator
        if isinstance(op, cst.Power):
            k = number_value(node.right)
            if k is None:
                raise _Unreadable("power")
            left = node.left
            if (
                k == 2.0
                and isinstance(left, cst.Call)
                and self.m.qualname(left.func) == "numpy.linalg.norm"
                and len(left.args) == 1
            ):
                return ("sum", ("pow", self.read(left.args[0].value, scope, before), 2.0))
            return ("pow", self.read(node.left, scope, before), k)
        left = self.read(node.left, scope, before)
        right = self.read(node.right, scope, before)
        if isinstance(op, cst.Add):
            return _add(left, right)
        if isinstance(op, cst.Subtract):
            return _add(left, _neg(right))
        if isinstance(op, cst.Multiply):
            return _mul(left, right)
        if isinstance(op, cst.Divide):
            return ("/", left, right)
        raise _Unreadable("operator")

    def _name(self, name: str, scope: Scope, before: int | None) -> Expr:
        bindings = [b for b in scope.bindings.get(name, []) if before is None or b.index < before]
        if not bindings:
            if name in scope.params:
                return self._param(name, scope)
            return self._global_constant(name, scope)
        if any(b.kind != "param" and not _unconditional(b.stmt, scope) for b in bindings):
            raise _Unreadable(name)  # a value chosen by a branch
        b = max(bindings, key=lambda b: b.index)
        if b.kind == "param":
            return self._param(name, scope)
        if b.kind != "assign" or b.value is None or b.loops or not isinstance(b.target, cst.Name):
            raise _Unreadable(name)
        return self.read(b.value, scope, b.index)

    def _global_constant(self, name: str, scope: Scope) -> Expr:
        """A module-level name assigned once, to a number (``EPS = 1e-12``)."""
        module = scope.parent
        while module is not None and not module.is_module:
            module = module.parent
        found = module.bindings.get(name, []) if module is not None else []
        value = number_value(found[0].value) if len(found) == 1 else None
        if value is None or found[0].kind != "assign":
            raise _Unreadable(name)
        return ("c", value)

    def _param(self, name: str, scope: Scope) -> Expr:
        found = self.slots.get(scope, {}).get(name)
        if found is None:
            raise _Unreadable(name)
        return found

    def _attribute(self, node: cst.Attribute, scope: Scope, before: int | None) -> Expr:
        if node.attr.value in _SIZE_ATTRS:
            return ("N",)
        if (
            node.attr.value == "eps"
            and isinstance(node.value, cst.Call)
            and self.m.qualname(node.value.func) == "numpy.finfo"
        ):
            return ("c", 1e-16)  # machine epsilon: an offset against log(0)
        if not (isinstance(node.value, cst.Name) and node.value.value == "self" and self.cls):
            raise _Unreadable("attribute")
        key = f"self.{node.attr.value}"
        found = [(b, s) for s in self._class_scopes() for b in s.bindings.get(key, [])]
        if len(found) != 1:
            raise _Unreadable(key)
        b, s = found[0]
        if b.kind != "assign" or b.value is None or b.loops or not _unconditional(b.stmt, s):
            raise _Unreadable(key)
        return self.read(b.value, s, b.index)

    def _class_scopes(self) -> list[Scope]:
        assert self.cls is not None
        chain = {self.cls, *(c.rsplit(".", 1)[-1] for c in self.m._class_chain(self.cls))}
        return [s for s in self.m.c.scopes if s.cls in chain]

    def _subscript(self, node: cst.Subscript, scope: Scope, before: int | None) -> Expr:
        # x.shape[0]: a batch size
        base = node.value
        if isinstance(base, cst.Attribute) and base.attr.value == "shape":
            return ("N",)
        raise _Unreadable("subscript")

    def _call(self, node: cst.Call, scope: Scope, before: int | None) -> Expr:
        qn = self.m.qualname(node.func)
        args = positional_args(node)
        func = node.func
        if qn == "len" or (isinstance(func, cst.Name) and func.value == "len" and qn is None):
            return ("N",)
        if qn is not None and qn.startswith("numpy."):
            return self._numpy_call(qn, node, args, scope, before)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _METHOD_REDUCE and not _keyword(node, "where"):
                return ("sum", self.read(func.value, scope, before))
            if method in _METHOD_IDENTITY and not args:
                return self.read(func.value, scope, before)
            if method == "clip" and qn is None:
                return self.read(func.value, scope, before)
            if isinstance(func.value, cst.Name) and func.value.value == "self" and self.cls:
                return self._method(node, method, scope)
        raise _Unreadable("call")

    def _numpy_call(
        self,
        qn: str,
        node: cst.Call,
        args: list[cst.BaseExpression],
        scope: Scope,
        before: int | None,
    ) -> Expr:
        if not args:
            raise _Unreadable(qn)
        if qn in _REDUCE and len(node.args) <= 2 and not _keyword(node, "where"):
            return ("sum", self.read(args[0], scope, before))
        if qn in _IDENTITY or qn in ("numpy.clip", "numpy.maximum", "numpy.minimum"):
            if qn in ("numpy.maximum", "numpy.minimum"):
                if len(args) != 2 or (not _tiny(args[1]) and not _near_one(args[1])):
                    raise _Unreadable(qn)
            return self.read(args[0], scope, before)
        if qn in ("numpy.log", "numpy.exp") and len(args) == 1:
            return (
                "log" if qn == "numpy.log" else "exp",
                _strip_tiny(self.read(args[0], scope, before)),
            )
        if qn == "numpy.square" and len(args) == 1:
            return ("pow", self.read(args[0], scope, before), 2.0)
        if qn == "numpy.sqrt" and len(args) == 1:
            return ("pow", self.read(args[0], scope, before), 0.5)
        if qn == "numpy.power" and len(args) == 2:
            k = number_value(args[1])
            if k is None:
                raise _Unreadable(qn)
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
            return _add(a, _neg(b)) if op == "-" else (op, a, b)
        if qn == "numpy.negative" and len(args) == 1:
            return _neg(self.read(args[0], scope, before))
        raise _Unreadable(qn)

    def _method(self, node: cst.Call, name: str, scope: Scope) -> Expr:
        """``self._output()``: the method the concrete class resolves it to, without
        arguments, through its one return."""
        if node.args or self.cls is None:
            raise _Unreadable(name)
        fn = self.m._method_in_chain(self.cls, (name,))
        if fn is None or [p for p in fn.params if p != "self"]:
            raise _Unreadable(name)
        if len(fn.returns) != 1 or not _top_level_return(fn.returns[0], fn):
            raise _Unreadable(name)
        return self.read(fn.returns[0], fn, None)


def _body(scope: Scope) -> list[cst.CSTNode]:
    node = scope.node
    if isinstance(node, cst.FunctionDef) and isinstance(node.body, cst.IndentedBlock):
        return list(node.body.body)
    return []


def _unconditional(stmt: cst.CSTNode, scope: Scope) -> bool:
    """A statement of the function's own body, not inside an ``if``, loop, ``try`` or ``with``:
    it runs on every call."""
    return any(stmt is s for s in _body(scope))


def _top_level_return(value: cst.BaseExpression, scope: Scope) -> bool:
    for stmt in _body(scope):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Return) and small.value is value:
                    return True
    return False


def _keyword(call: cst.Call, name: str) -> bool:
    return any(a.keyword is not None and a.keyword.value == name for a in call.args)


def _tiny(node: cst.BaseExpression) -> bool:
    v = number_value(node)
    return v is not None and 0 < abs(v) < 1e-3


def _near_one(node: cst.BaseExpression) -> bool:
    v = number_value(node)
    return v is not None and 0 < 1 - v < 1e-3


def _strip_tiny(e: Expr) -> Expr:
    """``p + 1e-9`` inside a log: the offset against log(0), not part of the formula."""
    if e[0] == "+":
        for a, b in ((e[1], e[2]), (e[2], e[1])):
            if b[0] == "c" and 0 < abs(b[1]) < 1e-3:
                return a
    return e


# --- pairs ---------------------------------------------------------------------------------------


def _loss_params(fn: Scope) -> list[str]:
    return [p for p in fn.params if p not in ("self", "cls") and p not in fn.param_defaults]


def _backward_slots(model: ModuleModel, fwd: Scope, bwd: Scope) -> dict[str, Expr] | None:
    """The backward's parameters as the pair's inputs: by position when it takes as many as the
    forward, by name when it takes more; the scalar upstream gradient of a loss layer
    (``backward(self, dout=1)``, or its one parameter when the inputs come through ``self``) is a
    positive scale."""
    fparams = _loss_params(fwd)
    bparams = [p for p in bwd.params if p not in ("self", "cls")]
    required = [p for p in bparams if p not in bwd.param_defaults]
    out: dict[str, Expr] = {}
    for p in bparams:
        default = number_value(bwd.param_defaults.get(p))
        if p in bwd.param_defaults:
            if default is None or default <= 0:
                return None
            out[p] = ("c", default)
    if len(required) == len(fparams):
        out.update({p: ("v", i) for i, p in enumerate(required)})
    elif set(fparams) <= set(required):
        out.update({p: ("v", fparams.index(p)) for p in fparams})
    elif len(required) == 1:
        out[required[0]] = ("N",)
    elif required:
        return None
    return out


def loss_pairs(model: ModuleModel) -> Iterator[LossPair]:
    for cls in model.c.class_bases:
        fwd = model._method_in_chain(cls, FORWARD_NAMES)
        bwd = model._method_in_chain(cls, BACKWARD_NAMES)
        if fwd is None or bwd is None or fwd is bwd or cls not in (fwd.cls, bwd.cls):
            continue
        if fwd.nested or bwd.nested:
            continue
        yield LossPair(fwd, bwd, cls)
    for fns in model.c.functions.values():
        for bwd in fns:
            if bwd.cls is not None or bwd.nested:
                continue
            partners = model._forward_partners(bwd)
            if len(partners) == 1 and partners[0] is not bwd:
                yield LossPair(partners[0], bwd, None)


def _read_pair(
    model: ModuleModel, pair: LossPair
) -> tuple[Expr, list[tuple[cst.BaseExpression, Expr]]] | None:
    fparams = _loss_params(pair.forward)
    if len(fparams) != 2 or len(pair.forward.returns) != 1:
        return None
    bslots = _backward_slots(model, pair.forward, pair.backward)
    if bslots is None or not pair.backward.returns:
        return None
    slots = {
        pair.forward: {p: ("v", i) for i, p in enumerate(fparams)},
        pair.backward: bslots,
    }
    if not _top_level_return(pair.forward.returns[0], pair.forward):
        return None
    reader = _Reader(model, pair.cls, slots)
    returns = [r for r in pair.backward.returns if _top_level_return(r, pair.backward)]
    try:
        forward = reader.read(pair.forward.returns[0], pair.forward, None)
        backs = [(r, reader.read(r, pair.backward, None)) for r in returns]
    except (_Unreadable, RecursionError):
        return None
    if not _sums_linear(forward):
        return None
    return forward, backs


# --- comparing ------------------------------------------------------------------------------------

_SAMPLES = 5
_K = 4


def _ratio(b: list[float], d: list[float]) -> float | None:
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


def _proportional(pairs: list[tuple[list[float], list[float]]]) -> float | None:
    c = None
    for b, d in pairs:
        r = _ratio(b, d)
        if r is None or (c is not None and abs(r - c) > 1e-6 * max(1.0, abs(c))):
            return None
        c = r if c is None else c
    return c


def _batch_power(c: float) -> bool:
    """``c`` is 1/N, 1 or N: the batch size is the one constant a p - y may differ by."""
    return any(abs(c - _N**k) < 1e-9 * _N**k for k in (-1, 0, 1))


def _softmax(z: list[float]) -> list[float]:
    m = max(z)
    e = [math.exp(x - m) for x in z]
    s = math.fsum(e)
    return [x / s for x in e]


def _verdict(forward: Expr, back: Expr) -> str | None:
    """None when ``back`` is an accepted derivative of ``forward``; "sign" or "wrong"."""
    syms = _symbols(forward)
    r = random.Random(20)
    acts = [s for s in syms if s[0] in ("S", "G")]
    slots = sorted(s for s in syms if s[0] == "v")
    if acts:
        if len(acts) != 1 or len(slots) != 1:
            return None
        act, target = acts[0], slots[0]
        other = ("v", 1 - target[1])
        g = _d(forward, act)
        true_vals, dl_dp, backs, residuals = [], [], [], []
        for _ in range(_SAMPLES):
            z = [r.gauss(0.0, 1.0) for _ in range(_K)]
            if act == ("S",):
                p = _softmax(z)
                y = [0.0] * _K
                y[r.randrange(_K)] = 1.0
            else:
                p = [1 / (1 + math.exp(-x)) for x in z]
                y = [r.uniform(0.05, 0.95) for _ in range(_K)]
            env = {act: p, target: y, other: z}
            gv = _eval(g, env, _K)
            if act == ("S",):
                dot = math.fsum(pi * gi for pi, gi in zip(p, gv, strict=True))
                dv = [pi * (gi - dot) for pi, gi in zip(p, gv, strict=True)]
            else:
                # p is the sigmoid in this branch
                dv = [gi * pi * (1 - pi) for pi, gi in zip(p, gv, strict=True)]
            true_vals.append(dv)
            dl_dp.append(gv)
            backs.append(_eval(back, env, _K))
            residuals.append([pi - yi for pi, yi in zip(p, y, strict=True)])
        c = _proportional(list(zip(backs, true_vals, strict=True)))
        if c is not None and c > 0:
            # p - y times a constant: the constant is exact (2(p - y) is the squared error's)
            exact = _proportional(list(zip(true_vals, residuals, strict=True))) is None
            return None if exact or _batch_power(c) else "wrong"
        c2 = _proportional(list(zip(backs, dl_dp, strict=True)))
        if c2 is not None and c2 > 0:
            return None
        return "sign" if c is not None and c < 0 else "wrong"
    if not slots:
        return None
    signs: list[float] = []
    samples = []
    for _ in range(_SAMPLES):
        env = {("v", i): [r.uniform(0.05, 0.95) for _ in range(_K)] for i in (0, 1)}
        samples.append(env)
    backs = [_eval(back, env, _K) for env in samples]
    for v in slots:
        u = ("v", 1 - v[1])
        g = _d(forward, v)
        gv = [_eval(g, env, _K) for env in samples]
        forms = [gv]
        # the derivative times an output activation's derivative, written on the prediction
        forms.append(
            [
                # the comprehension's own p (a sigmoid output), not the softmax p above
                [gi * p * (1 - p) for gi, p in zip(gs, env[v], strict=True)]
                for env, gs in zip(samples, gv, strict=True)
            ]
        )
        forms.append(
            [
                [gi * (1 - p * p) for gi, p in zip(gs, env[v], strict=True)]
                for env, gs in zip(samples, gv, strict=True)
            ]
        )
        ce = [[-t / p for p, t in zip(env[v], env[u], strict=True)] for env in samples]
        c_ce = _proportional(list(zip(gv, ce, strict=True)))
        if c_ce is not None and c_ce > 0:
            # -y log p: p - y is its gradient through a softmax, with the forward's own scale
            # (up to the batch size)
            shortcut = [[p - t for p, t in zip(env[v], env[u], strict=True)] for env in samples]
            c = _proportional(list(zip(backs, shortcut, strict=True)))
            if c is not None and c > 0 and _batch_power(c / c_ce):
                return None
        for i, f in enumerate(forms):
            c = _proportional(list(zip(backs, f, strict=True)))
            if c is not None and c > 0:
                return None
            if c is not None and i == 0:
                signs.append(c)
    return "sign" if signs else "wrong"


def _named_loss(forward: Expr) -> tuple[int, str, str] | None:
    """(slot of the prediction, the loss's name, its derivative's template) for the three
    losses backprop code writes by hand."""
    r = random.Random(21)
    samples = [
        {("v", i): [r.uniform(0.05, 0.95) for _ in range(_K)] for i in (0, 1)}
        for _ in range(_SAMPLES)
    ]
    for v in (0, 1):
        if ("v", v) not in _symbols(forward):
            continue
        u = 1 - v
        g = _d(forward, ("v", v))
        gv = [_eval(g, env, _K) for env in samples]
        templates = (
            ("squared error", "{p} - {y}", lambda p, t: p - t),
            ("cross-entropy", "-{y} / {p}", lambda p, t: -t / p),
            (
                "binary cross-entropy",
                "({p} - {y}) / ({p} * (1 - {p}))",
                lambda p, t: (p - t) / (p * (1 - p)),
            ),
        )
        for name, text, fn in templates:
            want = [
                [fn(p, t) for p, t in zip(env[("v", v)], env[("v", u)], strict=True)]
                for env in samples
            ]
            c = _proportional(list(zip(gv, want, strict=True)))
            if c is not None and c > 0:
                return v, name, text
    return None


def loss_mismatches(model: ModuleModel) -> Iterator[LossMismatch]:
    seen: set[cst.CSTNode] = set()
    for pair in loss_pairs(model):
        read = _read_pair(model, pair)
        if read is None:
            continue
        forward, backs = read
        for node, back in backs:
            if node in seen:
                continue
            try:
                verdict = _verdict(forward, back)
            except (_Unreadable, ValueError, ZeroDivisionError, OverflowError):
                continue
            if verdict is None:
                continue
            if verdict == "sign" and _ascends(model):
                continue
            seen.add(node)
            loss, expected = _describe(forward, _loss_params(pair.forward))
            yield LossMismatch(node, pair, loss, expected, verdict == "sign")


def _describe(forward: Expr, fparams: list[str]) -> tuple[str, str]:
    """The loss's name and its right gradient, written on the forward's parameters."""
    acts = _symbols(forward) & {("S",), ("G",)}
    act = next(iter(acts), None)
    if act is not None:
        target = next(s for s in _symbols(forward) if s[0] == "v")
        forward = _substitute(forward, act, ("v", 1 - target[1]))
    try:
        named = _named_loss(forward)
    except (_Unreadable, ValueError, ZeroDivisionError, OverflowError):
        return "", ""
    if named is None:
        return "", ""
    v, loss, text = named
    p, y = fparams[v], fparams[1 - v]
    if act is None:
        right = f"`{text.format(p=p, y=y)}`, up to a constant factor"
        if loss == "cross-entropy":
            right += f", or `{p} - {y}` as the gradient in the logits of a softmax"
        return loss, right
    squash = "softmax" if act == ("S",) else "sigmoid"
    if (squash, loss) in (("softmax", "cross-entropy"), ("sigmoid", "binary cross-entropy")):
        return f"{squash} {loss}", f"`{squash}({p}) - {y}`, or that over the batch size"
    return f"{loss} of a {squash}", ""


def _substitute(e: Expr, old: Expr, new: Expr) -> Expr:
    if e == old:
        return new
    return tuple(_substitute(a, old, new) if isinstance(a, tuple) else a for a in e)


def _ascends(model: ModuleModel) -> bool:
    """Some update adds its step: the module may keep the negative gradient on purpose."""
    return any(u.direction > 0 for u in model.updates())
