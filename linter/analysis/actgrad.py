"""An elementwise activation layer whose backward is not the derivative of its forward.

A layer class pairs a forward method (``forward``, ``__call__``, ``fprop`` ...) taking one input
x with a backward method (``backward``, ``backprop``, ``bprop`` ...) taking the upstream
gradient g (and, by the forward's parameter name, x itself); a module-level ``X_forward`` /
``X_backward`` pair is read the same way, with the forward's ``(out, cache)`` return feeding the
backward's second parameter. The forward's return is read into the shared elementwise language
(``elementwise``, extended: comparisons, ``np.where``, maximum/minimum/clip, tanh, the logistic
function, the module's own helpers), following what it stores on ``self`` (x, the output, a
mask); the backward's return E(g, stored values) likewise.

Judged only when both read fully, the forward depends on x and has a derivative that is not
constant (a linear layer's deliberate gradient scaling is left alone), nor zero wherever it is
evaluated (a straight-through estimator is a convention, not a slip), and E is g times a factor
of x alone. The factor is then compared with f′(x), differentiated here, at seeded points on
both sides of zero (never at a kink): a mismatch is reported with the input where it shows.

Operation classes whose base (in another file) stores the input and the output
(``_output(self)`` / ``_input_grad(self, output_grad)`` reading ``self.input_`` and
``self.output``): an attribute the module never assigns is taken as the forward's input when the
forward reads it, and as its output when only the backward does, and such a pair is judged only
when another pair of the module reads the same attributes the same way and is consistent with
that reading.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.elementwise import (
    Expr,
    Reader,
    Unreadable,
    derivative,
    evaluate,
    method_pairs,
    ops,
    symbols,
    top_level_return,
)
from linter.analysis.model import ModuleModel
from linter.analysis.treewalk import walk

FORWARD_NAMES = ("forward", "__call__", "fprop", "forward_pass", "fwd")
BACKWARD_NAMES = ("backward", "backprop", "bprop", "backward_pass", "bwd", "backpropagate")
# a base class elsewhere runs these for its forward and backward (lincoln's Operation)
HOOK_NAMES = (("_output",), ("_input_grad",))

X: Expr = ("v", 0)
G: Expr = ("g",)
_NOT_ELEMENTWISE = {"sum", "N", "S", "G", "tuple"}


@dataclass(frozen=True)
class LayerPair:
    forward: Scope
    backward: Scope
    cls: str | None


@dataclass(frozen=True)
class ActivationMismatch:
    """``node`` (what ``pair.backward`` returns) differs from g·f′(x) at input ``x`` and upstream
    gradient ``g``; when it is g times a factor of x (``linear``), ``got`` and ``want`` are that
    factor and f′(x), else the returned value and g·f′(x)."""

    node: cst.BaseExpression
    pair: LayerPair
    x: float
    g: float
    got: float
    want: float
    linear: bool


class _Reader(Reader):
    extended = True

    def __init__(self, model: ModuleModel, cls: str | None, slots: dict[Scope, dict[str, Expr]]):
        super().__init__(model, cls, slots)
        self.phase = "forward"
        self.forward_expr: Expr | None = None
        self.hypotheses: dict[str, str] = {}  # attribute -> "input" | "output"
        self.hook = False  # a forward without parameters: its input is an inherited attribute

    def _inherited(self, key: str, scope: Scope) -> Expr:
        if not self.hook:
            raise Unreadable(key)
        role = self.hypotheses.get(key)
        if role is None:
            role = "input" if self.phase == "forward" else "output"
            if role in self.hypotheses.values():
                raise Unreadable(key)
            self.hypotheses[key] = role
        if role == "input":
            return X
        if self.phase == "forward" or self.forward_expr is None:
            raise Unreadable(key)
        return self.forward_expr


def _required(fn: Scope) -> list[str]:
    return [p for p in fn.params if p not in ("self", "cls") and p not in fn.param_defaults]


def layer_pairs(model: ModuleModel) -> Iterator[LayerPair]:
    pairs = ((FORWARD_NAMES, BACKWARD_NAMES), HOOK_NAMES)
    for fwd, bwd, cls in method_pairs(model, pairs, _named_partners):
        yield LayerPair(fwd, bwd, cls)


def _named_partners(model: ModuleModel, bwd: Scope) -> list[Scope]:
    """``relu_backward`` beside a ``relu`` that returns ``(A, cache)``: the function the
    backward is named after, when no ``relu_forward`` exists."""
    if not bwd.name.endswith("_backward"):
        return []
    found = model.c.functions.get(bwd.name.removesuffix("_backward"), [])
    return [s for s in found if s.cls is None and not s.nested]


class _Mutating(cst.CSTVisitor):
    """A statement that may change an array without an assignment the reading sees: a call as a
    statement (``np.putmask(dx, m, 0)``, ``dx.fill(0)``), an ``out=`` argument, ``+=`` on an
    element, ``del``, ``global``."""

    def __init__(self) -> None:
        self.found = False

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Call):
            func = node.value.func
            if not (isinstance(func, cst.Name) and func.value == "print"):
                self.found = True

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None and node.keyword.value == "out":
            self.found = True

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Subscript):
            self.found = True

    def visit_Global(self, node: cst.Global) -> None:
        self.found = True

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.found = True


def _plain(fn: Scope) -> bool:
    v = _Mutating()
    walk(fn.node, v)
    return not v.found


def _read_pair(
    model: ModuleModel, pair: LayerPair
) -> tuple[Expr, list[tuple[cst.BaseExpression, Expr]], dict[str, str]] | None:
    fwd, bwd = pair.forward, pair.backward
    fparams, bparams = _required(fwd), _required(bwd)
    hook = fwd.name == "_output"
    if len(fwd.returns) != 1 or not top_level_return(fwd.returns[0], fwd):
        return None
    if len(fparams) != (0 if hook else 1) or not bparams:
        return None
    if not _plain(fwd) or not _plain(bwd) or model.activator_convention(bwd):
        return None
    ret = fwd.returns[0]
    cache: cst.BaseExpression | None = None
    if isinstance(ret, cst.Tuple):
        if pair.cls is not None or len(ret.elements) != 2:
            return None
        ret, cache = ret.elements[0].value, ret.elements[1].value
    slots: dict[Scope, dict[str, Expr]] = {fwd: {p: X for p in fparams}}
    reader = _Reader(model, pair.cls, slots)
    reader.hook = hook
    try:
        f = reader.read(ret, fwd, None)
        reader.forward_expr = f
        reader.phase = "backward"
        bslots: dict[str, Expr] = {}
        rest = [p for p in bparams if p not in fparams]
        if not rest:
            return None
        bslots[rest[0]] = G
        for p in bparams:
            if p in fparams:
                bslots[p] = X
        if cache is not None:
            if len(rest) != 2:
                return None
            bslots[rest[1]] = reader.read(cache, fwd, None)
        slots[bwd] = bslots
        _delegates(model, pair, f, reader)
        returns = [_input_gradient(r) for r in bwd.returns if top_level_return(r, bwd)]
        if len(returns) != 1 or len(bwd.returns) != 1:
            return None
        backs = [(r, reader.read(r, bwd, None)) for r in returns]
    except (Unreadable, RecursionError):
        return None
    if not _elementwise(f, {X}) or X not in symbols(f):
        return None
    for _, e in backs:
        if not _elementwise(e, {X, G}) or G not in symbols(e):
            return None
    return f, backs, dict(reader.hypotheses)


def _input_gradient(node: cst.BaseExpression) -> cst.BaseExpression:
    """``return dX, []``: a layer that returns its input's gradient with its parameters'
    (none, for an activation)."""
    if isinstance(node, cst.Tuple) and len(node.elements) >= 2:
        rest = [e.value for e in node.elements[1:]]
        if all(
            (isinstance(v, cst.List | cst.Tuple) and not v.elements)
            or (isinstance(v, cst.Name) and v.value == "None")
            for v in rest
        ):
            return node.elements[0].value
    return node


def _delegates(model: ModuleModel, pair: LayerPair, f: Expr, reader: _Reader) -> None:
    """``__call__(self, X)`` that stores ``self.X = X`` and returns ``self.forward(self.X)``:
    another entry of the same layer, given the same input. It is read as one when its return
    reads as the forward's own formula."""
    if pair.cls is None:
        return
    for name in FORWARD_NAMES:
        other = model.method_in_chain(pair.cls, (name,))
        if other is None or other is pair.forward or other in reader.slots:
            continue
        params = _required(other)
        if len(params) != 1 or len(other.returns) != 1 or not _plain(other):
            continue
        if not top_level_return(other.returns[0], other):
            continue
        reader.slots[other] = {params[0]: X}
        try:
            same = reader.read(other.returns[0], other, None) == f
        except (Unreadable, RecursionError):
            same = False
        if not same:
            del reader.slots[other]


def _elementwise(e: Expr, allowed: set[Expr]) -> bool:
    if ops(e) & _NOT_ELEMENTWISE:
        return False
    return all(s in allowed or s[0] == "k" for s in symbols(e))


_K = 24


def _points(seed: int, ks: set[Expr]) -> dict[Expr, list[float]]:
    r = random.Random(seed)
    xs = [r.uniform(0.1, 2.5) * (1 if i % 2 else -1) for i in range(_K)]
    env = {X: xs, G: [r.uniform(0.5, 2.0) * r.choice((-1, 1)) for _ in range(_K)]}
    for k in sorted(ks):
        env[k] = [r.uniform(0.05, 0.5)] * _K
    return env


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 + 1e-6 * max(abs(a), abs(b))


def _verdict(f: Expr, back: Expr) -> tuple[float, float, float, float, bool] | None:
    """None when ``back`` is g·f′(x) (or is not judged); else (x, g, got, want, linear) at the
    first point where they differ (see ``ActivationMismatch``)."""
    ks = {s for s in symbols(f) | symbols(back) if s[0] == "k"}
    env = _points(20, ks)
    e = evaluate(back, env, _K)
    doubled = dict(env)
    doubled[G] = [2.0 * g for g in env[G]]
    if not all(_close(2.0 * a, b) for a, b in zip(e, evaluate(back, doubled, _K), strict=True)):
        # not of degree one in g: the parameter is not the upstream gradient (an activator's
        # backward(output) returning output * (1 - output), for its caller to multiply)
        return None
    d = evaluate(derivative(f, X), env, _K)
    if all(_close(di, 0.0) for di in d):
        return None  # piecewise constant: its backward is a surrogate by design
    ones = dict(env)
    ones[G] = [1.0] * _K
    h = evaluate(back, ones, _K)
    linear = all(_close(ei, gi * hi) for ei, gi, hi in zip(e, env[G], h, strict=True))
    if linear and all(_close(di, d[0]) for di in d) and all(_close(hi, h[0]) for hi in h):
        return None  # a linear layer scaling its gradient: deliberate or not, not ours
    for x, g, ei, hi, di in zip(env[X], env[G], e, h, d, strict=True):
        if not _close(ei, g * di):
            return (x, g, hi, di, True) if linear else (x, g, ei, g * di, False)
    return None


def activation_mismatches(model: ModuleModel) -> Iterator[ActivationMismatch]:
    judged: list[tuple[LayerPair, dict[str, str], bool]] = []
    found: list[tuple[ActivationMismatch, dict[str, str]]] = []
    seen: set[cst.CSTNode] = set()
    for pair in layer_pairs(model):
        read = _read_pair(model, pair)
        if read is None:
            continue
        f, backs, hyp = read
        for node, back in backs:
            if node in seen:
                continue
            try:
                verdict = _verdict(f, back)
            except (Unreadable, ValueError, ZeroDivisionError, OverflowError):
                continue
            seen.add(node)
            judged.append((pair, hyp, verdict is None))
            if verdict is not None:
                found.append((ActivationMismatch(node, pair, *verdict), hyp))
    for mismatch, hyp in found:
        if hyp and not any(ok and h == hyp and p is not mismatch.pair for p, h, ok in judged):
            continue  # the attributes' reading is not borne out by a sibling
        yield mismatch
