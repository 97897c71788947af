"""Custom ``torch.autograd.Function``s read as functions of scalars.

``forward`` and ``backward`` are evaluated on a few numbers, every tensor taken as one scalar:
reshapes, transposes, sums and means drop out, a matrix product becomes a product. What is left
keeps the sign of each elementwise derivative, so the gradient ``backward`` returns for an input
(with ``grad_output = 1``) can be compared in sign with a central difference of ``forward``.
Magnitudes are not compared: deliberate approximations (a clipped term for ``sign``, a rescaled
weight gradient) keep the sign. Anything not in the small vocabulary below (a branch, a loop, a
helper, an in-place write) makes the Function unknown and it is not judged.

Nothing is imported from torch; the numbers are Python floats.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.exprs import keyword_arg, positional_args

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel
    from linter.analysis.torch_facts import FunctionSummary


class _Unknown(Exception):
    pass


Value = float | tuple["Value", ...] | None

SAME = {
    "unsqueeze",
    "squeeze",
    "view",
    "view_as",
    "reshape",
    "reshape_as",
    "permute",
    "contiguous",
    "t",
    "transpose",
    "expand",
    "expand_as",
    "clone",
    "detach",
    "float",
    "double",
    "half",
    "to",
    "cuda",
    "cpu",
    "type_as",
    "flatten",
    "sum",
    "mean",
    "item",
}
UNARY: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "neg": lambda v: -v,
    "exp": math.exp,
    "log": math.log,
    "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
    "tanh": math.tanh,
    "sqrt": math.sqrt,
    "sign": lambda v: float((v > 0) - (v < 0)),
    "relu": lambda v: max(v, 0.0),
    "norm": abs,
    "sin": math.sin,
    "cos": math.cos,
    "reciprocal": lambda v: 1.0 / v,
}
BINARY: dict[str, Callable[[float, float], float]] = {
    "mul": lambda a, b: a * b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "matmul": lambda a, b: a * b,
    "mm": lambda a, b: a * b,
    "bmm": lambda a, b: a * b,
}
SIZE = {"size", "numel", "dim"}  # a positive number whatever the tensor
TORCH_PREFIXES = ("torch.", "torch.nn.functional.", "math.", "torch.Tensor.")


def _lookup(q: str | None) -> str | None:
    """``torch.abs`` / ``F.relu`` / ``math.sqrt`` -> ``abs`` / ``relu`` / ``sqrt``."""
    if q is None:
        return None
    for pre in sorted(TORCH_PREFIXES, key=len, reverse=True):
        if q.startswith(pre) and "." not in q[len(pre) :]:
            return q[len(pre) :]
    return None


class _Run:
    """One evaluation of a method body."""

    def __init__(self, model: ModuleModel, ctx: str, env: dict[str, Value]) -> None:
        self.m = model
        self.ctx = ctx
        self.env = env
        self.attrs: dict[str, Value] = {}
        self.saved: tuple[Value, ...] = ()

    def body(self, fn: cst.FunctionDef) -> Value:
        stmts = fn.body.body if isinstance(fn.body, cst.IndentedBlock) else [fn.body]
        for i, stmt in enumerate(stmts):
            if not isinstance(stmt, cst.SimpleStatementLine):
                raise _Unknown
            for small in stmt.body:
                if isinstance(small, cst.Return):
                    return self.expr(small.value) if small.value is not None else None
                self.small(small, first=i == 0)
        return None

    def small(self, small: cst.BaseSmallStatement, first: bool) -> None:
        if isinstance(small, cst.Pass):
            return
        if isinstance(small, cst.Expr):
            v = small.value
            if isinstance(v, cst.SimpleString | cst.ConcatenatedString) and first:
                return
            if (
                isinstance(v, cst.Call)
                and isinstance(v.func, cst.Attribute)
                and isinstance(v.func.value, cst.Name)
                and v.func.value.value == self.ctx
            ):
                if v.func.attr.value == "save_for_backward":
                    self.saved = tuple(self.expr(a.value) for a in v.args if not a.star)
                    if any(a.star for a in v.args):
                        raise _Unknown
                return  # ctx.mark_dirty(...), ctx.set_materialize_grads(...)
            raise _Unknown
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            self.bind(small.targets[0].target, self.expr(small.value))
            return
        if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            name = small.target.value
            if name not in self.env:
                raise _Unknown
            op = cst.BinaryOperation(
                left=small.target,
                operator=_AUG[type(small.operator)](),
                right=small.value,
            )
            self.env[name] = self.expr(op)
            return
        raise _Unknown

    def bind(self, target: cst.BaseAssignTargetExpression, value: Value) -> None:
        if isinstance(target, cst.Name):
            self.env[target.value] = value
        elif (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == self.ctx
        ):
            self.attrs[target.attr.value] = value
        elif isinstance(target, cst.Tuple | cst.List):
            if not isinstance(value, tuple) or len(value) != len(target.elements):
                raise _Unknown
            for el, v in zip(target.elements, value, strict=True):
                if isinstance(el, cst.StarredElement):
                    raise _Unknown
                self.bind(el.value, v)  # type: ignore[arg-type]
        else:
            raise _Unknown  # x[mask] = 0, self.k = ...: not read

    def expr(self, node: cst.BaseExpression) -> Value:
        if isinstance(node, cst.Integer | cst.Float):
            return float(node.evaluated_value)
        if isinstance(node, cst.Name):
            if node.value == "None":
                return None
            if node.value in self.env:
                return self.env[node.value]
            raise _Unknown
        if isinstance(node, cst.Attribute):
            if isinstance(node.value, cst.Name) and node.value.value == self.ctx:
                attr = node.attr.value
                if attr in ("saved_tensors", "saved_variables"):
                    return self.saved
                if attr in self.attrs:
                    return self.attrs[attr]
                raise _Unknown
            if node.attr.value in ("data", "T", "mT"):
                return self.expr(node.value)
            raise _Unknown
        if isinstance(node, cst.Tuple):
            if any(isinstance(e, cst.StarredElement) for e in node.elements):
                raise _Unknown
            return tuple(self.expr(e.value) for e in node.elements)
        if isinstance(node, cst.Subscript):
            v = self.expr(node.value)
            if isinstance(v, tuple):
                idx = node.slice[0].slice if len(node.slice) == 1 else None
                if isinstance(idx, cst.Index) and isinstance(idx.value, cst.Integer):
                    i = int(idx.value.value)
                    if -len(v) <= i < len(v):
                        return v[i]
                raise _Unknown
            return v  # one element of a tensor: a scalar like the rest
        if isinstance(node, cst.UnaryOperation):
            v = _num(self.expr(node.expression))
            if isinstance(node.operator, cst.Minus):
                return -v
            if isinstance(node.operator, cst.Plus):
                return v
            raise _Unknown
        if isinstance(node, cst.BinaryOperation):
            a, b = _num(self.expr(node.left)), _num(self.expr(node.right))
            op = type(node.operator)
            if op not in _BINOPS:
                raise _Unknown
            return _safe(lambda: _BINOPS[op](a, b))
        if isinstance(node, cst.Call):
            return self.call(node)
        raise _Unknown

    def call(self, node: cst.Call) -> Value:
        if any(a.star for a in node.args):
            raise _Unknown
        func = node.func
        q = self.m.qualname(func)
        args = positional_args(node)
        if isinstance(func, cst.Attribute) and q is None:
            meth = func.attr.value
            if meth in SIZE:
                return 3.0
            recv = _num(self.expr(func.value))
            return self.apply(meth, recv, args, node)
        name = _lookup(q)
        if name is None:
            raise _Unknown
        if name in ("ones_like", "zeros_like"):
            return 1.0 if name == "ones_like" else 0.0
        if not args:
            raise _Unknown
        return self.apply(name, _num(self.expr(args[0])), args[1:], node)

    def apply(self, name: str, x: float, rest: list[cst.BaseExpression], node: cst.Call) -> Value:
        if name in SAME:
            return x
        if name in UNARY:
            return _safe(lambda: UNARY[name](x))
        if name in BINARY:
            other = keyword_arg(node, "other") or keyword_arg(node, "exponent")
            arg = rest[0] if rest else other
            if arg is None:
                raise _Unknown
            y = _num(self.expr(arg))
            return _safe(lambda: BINARY[name](x, y))
        if name in ("clamp", "clip", "clamp_min", "clamp_max", "hardtanh"):
            lo_node = keyword_arg(node, "min") or keyword_arg(node, "min_val")
            hi_node = keyword_arg(node, "max") or keyword_arg(node, "max_val")
            if name == "clamp_max":
                hi_node = hi_node or (rest[0] if rest else None)
            else:
                lo_node = lo_node or (rest[0] if rest else None)
                hi_node = hi_node or (rest[1] if len(rest) > 1 else None)
            if name == "hardtanh":
                lo_node = lo_node or None
            lo = _num(self.expr(lo_node)) if lo_node is not None else None
            hi = _num(self.expr(hi_node)) if hi_node is not None else None
            if name == "hardtanh":
                lo = -1.0 if lo is None else lo
                hi = 1.0 if hi is None else hi
            if lo is not None:
                x = max(x, lo)
            if hi is not None:
                x = min(x, hi)
            return x
        raise _Unknown


_AUG = {
    cst.AddAssign: cst.Add,
    cst.SubtractAssign: cst.Subtract,
    cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide,
}
_BINOPS: dict[type, Callable[[float, float], float]] = {
    cst.Add: lambda a, b: a + b,
    cst.Subtract: lambda a, b: a - b,
    cst.Multiply: lambda a, b: a * b,
    cst.MatrixMultiply: lambda a, b: a * b,
    cst.Divide: lambda a, b: a / b,
    cst.Power: lambda a, b: a**b,
}


def _num(v: Value) -> float:
    if not isinstance(v, float):
        raise _Unknown
    return v


def _safe(f: Callable[[], float]) -> float:
    try:
        v = f()
    except (ArithmeticError, ValueError):
        raise _Unknown from None
    if isinstance(v, complex) or not math.isfinite(v):
        raise _Unknown
    return float(v)


# inputs drawn away from 0 and from each other, both signs (a fixed list: results are stable)
_POINTS = (
    (0.62, -0.35, 0.48),
    (-0.41, 0.27, -0.73),
    (0.19, 0.83, -0.22),
    (-0.77, -0.14, 0.36),
    (0.44, -0.66, -0.58),
    (-0.25, 0.58, 0.91),
    (0.85, 0.11, -0.39),
    (-0.57, -0.88, 0.17),
)
_H = 1e-5


@dataclass(frozen=True)
class SignFlip:
    """``backward``'s gradient for input ``index`` has the opposite sign of forward's
    derivative at every point tried where both are non-zero."""

    function: FunctionSummary
    index: int  # position among forward's inputs (after ctx)
    name: str
    returned: cst.BaseExpression  # the returned element
    at: cst.CSTNode  # where that gradient is computed (its last assignment, or the element)
    points: int
    # what forward returns (the function differentiated), and the returned element when the
    # gradient is computed elsewhere
    evidence: tuple[tuple[cst.CSTNode, str], ...] = ()


def wrong_signs(model: ModuleModel) -> Iterator[SignFlip]:
    """Every input of a custom Function of ``model`` whose gradient has the wrong sign."""
    from linter.analysis.torch_facts import facts

    tf = facts(model)
    if not tf.uses_torch:
        return
    for fn in tf.functions():
        yield from sign_flips(model, fn)


def sign_flips(model: ModuleModel, fn: FunctionSummary) -> Iterator[SignFlip]:
    """Inputs for which ``fn``'s backward returns a gradient of the wrong sign. Only inputs whose
    local derivative varies from point to point are judged: a negated gradient of an op whose
    derivative is one constant (the identity of a gradient reversal layer) is deliberate."""
    fwd, bwd = fn.forward.node, fn.backward.node
    if not (isinstance(fwd, cst.FunctionDef) and isinstance(bwd, cst.FunctionDef)):
        return
    inputs = list(fn.forward.params[1:])
    if not inputs or fn.n_inputs is None or len(fn.returns) != 1 or not fn.forward.params:
        return
    grads = list(fn.backward.params[1:])
    if not grads or not fn.backward.params:
        return
    ret = fn.returns[0]
    elements = (
        [e.value for e in ret.elements if not isinstance(e, cst.StarredElement)]
        if isinstance(ret, cst.Tuple)
        else [ret]
    )
    if len(elements) != len(inputs):
        return
    ctx_f, ctx_b = fn.forward.params[0], fn.backward.params[0]

    def forward(values: tuple[float, ...]) -> tuple[float, _Run]:
        run = _Run(model, ctx_f, dict(zip(inputs, values, strict=True)))
        out = run.body(fwd)
        return _num(out), run

    def backward(state: _Run) -> tuple[Value, ...]:
        run = _Run(model, ctx_b, {g: 1.0 for g in grads})
        run.attrs = dict(state.attrs)
        run.saved = state.saved
        out = run.body(bwd)
        return out if isinstance(out, tuple) else (out,)

    try:
        table: list[tuple[list[float], tuple[Value, ...]]] = []
        for point in _POINTS:
            values = tuple(
                point[i % len(point)] * (1 + 0.1 * (i // len(point))) for i in range(len(inputs))
            )
            _, state = forward(values)
            derivs = []
            for i in range(len(inputs)):
                up = list(values)
                down = list(values)
                up[i] += _H
                down[i] -= _H
                derivs.append((forward(tuple(up))[0] - forward(tuple(down))[0]) / (2 * _H))
            table.append((derivs, backward(state)))
    except _Unknown:
        return
    if any(len(b) != len(inputs) for _, b in table):
        return
    for i, name in enumerate(inputs):
        pairs = [(d[i], b[i]) for d, b in table]
        if any(not isinstance(g, float) for _, g in pairs):
            continue  # None for this input, or not a number
        fds = [d for d, _ in pairs]
        if max(fds) - min(fds) < 1e-6 * (1 + max(abs(d) for d in fds)):
            continue  # the same derivative everywhere (x, -x, 2x): a sign change is a choice
        both = [(d, g) for d, g in pairs if abs(d) > 1e-6 and abs(g) > 1e-9]  # type: ignore[arg-type]
        if len(both) >= 4 and all(d * g < 0 for d, g in both):  # type: ignore[operator]
            el = elements[i]
            at: cst.CSTNode = el
            if isinstance(el, cst.Name):
                bound = [b for b in fn.backward.bindings.get(el.value, []) if b.kind == "assign"]
                if bound and bound[-1].value is not None:
                    at = bound[-1].value
            evidence = [
                (out, f"`forward` returns `{_short(model, out)}` here, the function differentiated")
                for out in fn.forward_returns[:1]
            ]
            if el is not at:
                evidence.append((el, f"`{_short(model, el)}` is returned for `{name}` here"))
            yield SignFlip(fn, i, name, el, at, len(both), tuple(evidence))


def _short(model: ModuleModel, node: cst.CSTNode) -> str:
    text = " ".join(model.src(node).split())
    return text if len(text) <= 40 else text[:37] + "..."
