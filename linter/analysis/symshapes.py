"""Symbolic shapes: array shapes whose dimensions are named by what the code states.

``np.random.randn(n_out, n_in)`` in ``__init__(self, n_in, n_out)`` allocates an
``(n_out, n_in)`` matrix; ``W @ x`` in a forward pass says ``x``'s first axis is ``n_in``; the
gradient a layer's ``backward`` receives has the shape of what its ``forward`` returns. ``.T``,
broadcasting, ``sum(axis=..., keepdims=...)`` and ``reshape`` with stated dimensions carry shapes
on. Two dimensions are provably different only when both are integers that differ or both are
distinct symbols (``n_out`` and ``n_in`` stay distinct even if a caller passes equal values: the
code is written for any sizes); a symbol against an integer, or anything unknown, proves nothing.

A value whose rank the code does not state (a layer's input multiplied by a weight) has
alternative shapes, one per rank (a vector ``(n_in,)`` or a matrix ``(n_in, ?)``): a conflict is
proven only when every alternative conflicts. Nothing is guessed: a dimension that is not stated
is unknown (``None``) and an expression the module does not model has no shape.

Shapes are computed on demand, memoised per (node, scope) for the model's life (nodes and scopes
are stable objects, never ``id()``), and each dimension keeps the node it was learnt at.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis import names as N
from linter.analysis.exprs import dotted, int_value, keyword_arg, number_value, positional_args
from linter.analysis.forms import Kind

if TYPE_CHECKING:
    from linter.analysis.collect import Binding, Scope
    from linter.analysis.model import MatMul, ModuleModel


@dataclass(frozen=True)
class Dim:
    """A dimension: an integer, or a symbol keyed by where it is defined (``Net.__init__:n_in``).
    ``label`` is how the code writes it; ``origin`` and ``how`` say where and how it was learnt
    (not part of its identity)."""

    key: str | int
    label: str = field(compare=False)
    origin: cst.CSTNode | None = field(default=None, compare=False, repr=False)
    how: str = field(default="", compare=False, repr=False)

    def learnt(self, origin: cst.CSTNode, how: str) -> Dim:
        return Dim(self.key, self.label, origin, how)


Shape = tuple[Dim | None, ...]
Shapes = tuple[Shape, ...]  # alternatives (one per possible rank); never empty

ONE = Dim(1, "1")
# how a dimension was learnt (``Dim.how``); the text is rendered only for a finding's evidence
STATED = "stated"
FORWARD_PRODUCT = "forward product"
_MAX_ALTERNATIVES = 4
_MAX_DEPTH = 24

_DIMS_AS_ARGS = frozenset({"numpy.random.randn", "numpy.random.rand"})
_SHAPE_FIRST = frozenset({"numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full"})
_SIZE_THIRD = frozenset({"numpy.random.uniform", "numpy.random.normal"})
_SIZE_FIRST = frozenset(
    {"numpy.random.standard_normal", "numpy.random.random", "numpy.random.random_sample"}
)
_RNG_SIZE_THIRD = frozenset({"normal", "uniform"})
_RNG_SIZE_FIRST = frozenset({"standard_normal", "random"})
_LIKE = frozenset({"numpy.zeros_like", "numpy.ones_like", "numpy.empty_like", "numpy.full_like"})
_ELEMENTWISE = frozenset(
    {
        "numpy.exp",
        "numpy.log",
        "numpy.tanh",
        "numpy.sqrt",
        "numpy.abs",
        "numpy.square",
        "numpy.sign",
        "numpy.negative",
        "numpy.copy",
        "numpy.array",
        "numpy.asarray",
        "numpy.clip",
    }
)
_BINARY_ELEMENTWISE = frozenset({"numpy.maximum", "numpy.minimum", "numpy.multiply", "numpy.add"})
_SAME_METHODS = frozenset({"copy", "astype", "clip"})
_REDUCTIONS = frozenset({"numpy.sum", "numpy.mean", "numpy.max", "numpy.min"})
_REDUCE_METHODS = frozenset({"sum", "mean", "max", "min"})
_SHAPE_KINDS = frozenset(
    {
        Kind.SIGMOID,
        Kind.TANH,
        Kind.RELU,
        Kind.SOFTMAX,
        Kind.EXP,
        Kind.SIGMOID_PRIME_OF_Z,
        Kind.OUTPUT_POLY,
        Kind.TANH_PRIME_OF_Z,
        Kind.ONE_MINUS_SQUARE,
        Kind.STEP,
        Kind.LOG_SOFTMAX,
        Kind.SOFTMAX_DIAG_OF_Z,
    }
)
_ARITH = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)

_ANALYSES: weakref.WeakKeyDictionary[ModuleModel, ShapeAnalysis] = weakref.WeakKeyDictionary()


def shapes(model: ModuleModel) -> ShapeAnalysis:
    """The module's shape analysis (one per model)."""
    found = _ANALYSES.get(model)
    if found is None:
        found = _ANALYSES[model] = ShapeAnalysis(model)
    return found


@dataclass(frozen=True)
class Step:
    """A parameter moved by a step: ``target -= step`` (``target = target - step``)."""

    target: cst.BaseExpression
    scope: Scope
    binding: Binding
    step: cst.BaseExpression
    step_scope: Scope


def steps(model: ModuleModel) -> list[Step]:
    """The model's parameter updates, and the in-place steps ``P -= a * G`` whose factor ``a``
    the shape analysis knows to be a number (an annotated ``float`` parameter) that the update
    table does not hold."""
    sa = shapes(model)
    if sa._steps is None:
        found = [
            Step(u.binding.target, u.scope, u.binding, model.core_value(u.step), u.step_scope)
            for u in model.updates()
        ]
        seen = {s.binding for s in found}
        for scope in model.c.scopes:
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b in seen or b.kind != "aug" or b.op not in ("SubtractAssign", "AddAssign"):
                        continue
                    value = b.value
                    if not (
                        isinstance(value, cst.BinaryOperation)
                        and isinstance(value.operator, cst.Multiply)
                    ):
                        continue
                    for factor, rest in ((value.left, value.right), (value.right, value.left)):
                        if sa.number(factor, scope):
                            found.append(Step(b.target, scope, b, rest, scope))
                            break
        sa._steps = found
    return sa._steps


def distinct(a: Dim | None, b: Dim | None) -> bool:
    """Provably different: two integers that differ, or two distinct symbols."""
    if a is None or b is None or a.key == b.key:
        return False
    return isinstance(a.key, int) == isinstance(b.key, int)


def shapes_differ(a: Shape, b: Shape) -> bool:
    """Provably different shapes: another rank, or an axis with provably different sizes."""
    if len(a) != len(b):
        return True
    return any(distinct(x, y) for x, y in zip(a, b, strict=True))


def inner_dims(a: Shape, b: Shape) -> tuple[Dim | None, Dim | None] | None:
    """The dimensions a matrix product ``a @ b`` contracts (None when a side is a scalar)."""
    if not a or not b or len(a) > 2 or len(b) > 2:
        return None
    return a[-1], (b[0] if len(b) == 1 else b[-2])


def show(shape: Shape) -> str:
    parts = [d.label if d is not None else "?" for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def matmul_shape(a: Shape, b: Shape) -> Shape | None:
    """``a @ b`` / ``np.dot(a, b)`` for ranks up to 2 (the contracted sizes are not checked)."""
    if len(a) > 2 or len(b) > 2 or not a or not b:
        return None
    left = a[:-1]
    right = b[1:] if len(b) == 2 else ()
    return left + right


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """Numpy broadcasting, aligned from the right; None where the sizes cannot be told apart."""
    out: list[Dim | None] = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else ONE
        y = b[-i] if i <= len(b) else ONE
        if x == ONE:
            out.append(y)
        elif y == ONE:
            out.append(x)
        elif x is not None and x == y:
            out.append(x)
        elif x is None and y is not None and isinstance(y.key, int):
            out.append(y)
        elif y is None and x is not None and isinstance(x.key, int):
            out.append(x)
        else:
            out.append(None)  # a symbol against an unknown may be 1: the result is not known
    return tuple(reversed(out))


class ShapeAnalysis:
    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self._memo: dict[tuple[cst.CSTNode, Scope], Shapes | None] = {}
        self._busy: set[tuple[cst.CSTNode, Scope]] = set()
        self._dim_memo: dict[tuple[str, Scope], Dim | None] = {}
        self._homes: dict[Binding, Scope] | None = None
        self._uses: dict[tuple[str, object], list[tuple[MatMul, str, bool, Scope]]] | None = None
        self._depth = 0
        self._ints: set[str | int] | None = None
        self._leaves: dict[tuple[object, ...], Shapes | None] = {}
        self._steps: list[Step] | None = None
        self._outputs: dict[Scope, Shapes | None] = {}
        self._leaves_busy: set[tuple[object, ...]] = set()

    # --- public --------------------------------------------------------------------------------

    def of(self, node: cst.BaseExpression, scope: Scope) -> Shapes | None:
        """The alternative shapes ``node`` may have in ``scope``, or None when not known."""
        memo = (node, scope)
        if memo in self._memo:
            return self._memo[memo]
        if memo in self._busy or self._depth > _MAX_DEPTH:
            return None
        self._busy.add(memo)
        self._depth += 1
        try:
            found = self._of(node, scope)
        finally:
            self._depth -= 1
            self._busy.discard(memo)
        if found is not None and (len(found) > _MAX_ALTERNATIVES or any(len(s) > 8 for s in found)):
            found = None
        self._memo[memo] = found
        return found

    def number(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """A number, not an array: a literal, a scalar by the model's reading, a size the
        module passes to an allocation, an annotated ``float``/``int`` parameter."""
        return (  # the model's reading last: it asks every caller of a parameter
            self._is_size(node, scope)
            or self._annotated_number(node, scope)
            or self.m.scalar(node, scope)
        )

    def known(self, node: cst.BaseExpression, scope: Scope) -> Shape | None:
        """The one shape ``node`` has, when its rank and every dimension are known."""
        found = self.of(node, scope)
        if found is None or len(found) != 1 or any(d is None for d in found[0]):
            return None
        return found[0]

    # --- expressions ---------------------------------------------------------------------------

    def _of(self, node: cst.BaseExpression, scope: Scope) -> Shapes | None:
        if number_value(node) is not None:
            return ((),)
        if isinstance(node, cst.UnaryOperation):
            return self.of(node.expression, scope)
        if isinstance(node, cst.BinaryOperation):
            return self._binop(node, scope)
        if isinstance(node, cst.Attribute):
            if node.attr.value in N.TRANSPOSE_ATTRS:
                return _map(self.of(node.value, scope), lambda s: s[::-1])
            return self._leaf(node, scope)
        if isinstance(node, cst.Name):
            return self._leaf(node, scope)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, scope)
        if isinstance(node, cst.Call):
            return self._call(node, scope)
        if isinstance(node, cst.IfExp):
            return _join([self.of(node.body, scope), self.of(node.orelse, scope)])
        return None

    def _binop(self, node: cst.BinaryOperation, scope: Scope) -> Shapes | None:
        if isinstance(node.operator, cst.MatrixMultiply):
            return self._product(node.left, node.right, scope)
        if not isinstance(node.operator, _ARITH):
            return None
        return self._broadcast(node.left, node.right, scope)

    def _broadcast(
        self, left: cst.BaseExpression, right: cst.BaseExpression, scope: Scope
    ) -> Shapes | None:
        a = self._operand(left, scope)
        b = self._operand(right, scope)
        if a is None or b is None:
            return None
        return _pairs(a, b, broadcast)

    def _operand(self, node: cst.BaseExpression, scope: Scope) -> Shapes | None:
        found = self.of(node, scope)
        if found is None and self.number(node, scope):
            return ((),)
        return found

    def _annotated_number(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """A parameter annotated ``float`` or ``int`` (``learning_rate: float``)."""
        if not isinstance(node, cst.Name):
            return False
        bindings = self._visible(node.value, scope)
        if len(bindings) != 1 or bindings[0].kind != "param":
            return False
        fn = bindings[0].stmt
        if not isinstance(fn, cst.FunctionDef):
            return False
        params = fn.params
        for p in (*params.posonly_params, *params.params, *params.kwonly_params):
            if p.name.value == node.value and p.annotation is not None:
                ann = p.annotation.annotation
                return isinstance(ann, cst.Name) and ann.value in ("float", "int")
        return False

    def _is_size(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """A number because the module passes it as a size (``randn(n_out, n_in)``), or
        arithmetic of such numbers and literals (``1.0 / n_in``)."""
        if number_value(node) is not None:
            return True
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _ARITH):
            return self._is_size(node.left, scope) and self._is_size(node.right, scope)
        if isinstance(node, cst.Name | cst.Attribute):
            d = self._dim(node, scope, 0)
            return d is not None and d.key in self._int_dims()
        return False

    def _product(
        self, left: cst.BaseExpression, right: cst.BaseExpression, scope: Scope
    ) -> Shapes | None:
        """``a @ b``. Alternatives under which the product would contract two different
        dimensions are dropped (the code is read as running), unless every one does."""
        a = self.of(left, scope)
        b = self.of(right, scope)
        if a is None or b is None:
            return None
        fits = [(x, y) for x in a for y in b if not _contracts_distinct(x, y)]
        if fits and len(fits) < len(a) * len(b):
            return _pairs_of(fits, matmul_shape)
        return _pairs(a, b, matmul_shape)

    def _int_dims(self) -> set[str | int]:
        """Dimensions the module passes as one size among several (``randn(n_out, n_in)``,
        ``zeros((n, 1))``): those hold integers, not tuples."""
        if self._ints is None:
            found: set[str | int] = set()
            self._ints = found
            for site in self.m.c.calls:
                node = site.node
                assert isinstance(node, cst.Call)
                name = self.m.qualname(node.func)
                args = positional_args(node)
                if name in _DIMS_AS_ARGS and len(args) > 1:
                    elements = args
                    size: cst.BaseExpression | None = None
                elif name in _SHAPE_FIRST | _SIZE_FIRST or (
                    name is None
                    and isinstance(node.func, cst.Attribute)
                    and node.func.attr.value in _RNG_SIZE_FIRST
                ):
                    size = args[0] if args else keyword_arg(node, "size")
                elif name in _SIZE_THIRD or (
                    name is None
                    and isinstance(node.func, cst.Attribute)
                    and node.func.attr.value in _RNG_SIZE_THIRD
                ):
                    size = args[2] if len(args) > 2 else keyword_arg(node, "size")
                else:
                    continue
                if size is not None:
                    if not isinstance(size, cst.Tuple):
                        continue
                    elements = [e.value for e in size.elements]
                for e in elements:
                    d = self._dim(e, site.scope, 0)
                    if d is not None:
                        found.add(d.key)
        return self._ints

    def _subscript(self, node: cst.Subscript, scope: Scope) -> Shapes | None:
        idx = node.slice[0].slice if len(node.slice) == 1 else None
        if isinstance(idx, cst.Index) and isinstance(idx.value, cst.SimpleString):
            return self._keyed(node, idx.value.value, scope)
        base = self.of(node.value, scope)
        if base is None:
            return None
        return _map(base, lambda s: _index(s, node.slice))

    def _call(self, node: cst.Call, scope: Scope) -> Shapes | None:
        m = self.m
        name = m.qualname(node.func)
        args = positional_args(node)
        func = node.func
        if name is None and isinstance(func, cst.Attribute):
            method = func.attr.value
            base = func.value
            if method in N.TRANSPOSE_METHODS and not node.args:
                return _map(self.of(base, scope), lambda s: s[::-1])
            if method == "dot" and len(args) == 1:
                return self._product(base, args[0], scope)
            if method in _SAME_METHODS:
                return self.of(base, scope)
            if method == "reshape" and args:
                return self._reshape(args, scope, base)
            if method in _REDUCE_METHODS:
                return self._reduce(base, node, args[0] if args else None, scope)
            if method in _RNG_SIZE_THIRD | _RNG_SIZE_FIRST and m.is_rng(base):
                size = (
                    (args[2] if len(args) > 2 else None)
                    if method in _RNG_SIZE_THIRD
                    else (args[0] if args else None)
                )
                size = size or keyword_arg(node, "size")
                return None if size is None else self._size(size, scope, node)
            return self._form(node, scope)
        if name is None:
            return self._form(node, scope)
        if name in N.MATMUL and len(args) == 2:
            return self._product(args[0], args[1], scope)
        if name in N.TRANSPOSE and len(args) == 1:
            return _map(self.of(args[0], scope), lambda s: s[::-1])
        if name in _DIMS_AS_ARGS:
            if len(args) == 1 and isinstance(node.args[0].star, str) and node.args[0].star == "*":
                return self._size(args[0], scope, node)
            if any(a.star for a in node.args):
                return None
            dims = tuple(self.dim(a, scope, node) for a in args)
            return (dims,)
        size: cst.BaseExpression | None = None
        if name in _SHAPE_FIRST:
            size = args[0] if args else keyword_arg(node, "shape")
        elif name in _SIZE_THIRD:
            size = args[2] if len(args) > 2 else keyword_arg(node, "size")
        elif name in _SIZE_FIRST:
            size = args[0] if args else keyword_arg(node, "size")
        if size is not None:
            return self._size(size, scope, node)
        if name in _LIKE and args:
            return self.of(args[0], scope)
        if name in _ELEMENTWISE and args:
            return self._operand(args[0], scope)
        if name in _BINARY_ELEMENTWISE and len(args) == 2:
            return self._broadcast(args[0], args[1], scope)
        if name == "numpy.reshape" and len(args) == 2:
            return self._reshape(args[1:], scope, args[0])
        if name in _REDUCTIONS and args:
            return self._reduce(args[0], node, args[1] if len(args) > 1 else None, scope)
        if name == "numpy.outer" and len(args) == 2:
            a, b = self.known(args[0], scope), self.known(args[1], scope)
            if a is not None and b is not None and len(a) == 1 and len(b) == 1:
                return ((a[0], b[0]),)
            return None
        return self._form(node, scope)

    def _form(self, node: cst.Call, scope: Scope) -> Shapes | None:
        """A helper the forms recognise as elementwise (``sigmoid(z)``, ``relu_prime(z)``)."""
        form = self.m.forms.form(node, scope)
        if form is None or form.kind not in _SHAPE_KINDS:
            return None
        return self.of(form.operand, scope)

    def _reduce(
        self,
        value: cst.BaseExpression,
        call: cst.Call,
        axis: cst.BaseExpression | None,
        scope: Scope,
    ) -> Shapes | None:
        axis = axis if axis is not None else keyword_arg(call, "axis")
        keep = keyword_arg(call, "keepdims")
        keepdims = isinstance(keep, cst.Name) and keep.value == "True"
        if (
            keep is not None
            and not keepdims
            and not (isinstance(keep, cst.Name) and keep.value == "False")
        ):
            return None
        base = self.of(value, scope)
        if base is None:
            return None
        if axis is None or (isinstance(axis, cst.Name) and axis.value == "None"):
            return _map(base, lambda s: tuple(ONE for _ in s) if keepdims else ())
        k = int_value(axis)
        if k is None:
            return None

        def reduce(s: Shape) -> Shape | None:
            i = k + len(s) if k < 0 else k
            if not 0 <= i < len(s):
                return None
            return s[:i] + ((ONE,) if keepdims else ()) + s[i + 1 :]

        return _map(base, reduce)

    def _reshape(
        self, args: list[cst.BaseExpression], scope: Scope, value: cst.BaseExpression
    ) -> Shapes | None:
        if len(args) == 1:
            return self._size(args[0], scope, value)
        dims = tuple(self.dim(a, scope, value) for a in args)
        return (dims,)

    def _size(self, size: cst.BaseExpression, scope: Scope, origin: cst.CSTNode) -> Shapes | None:
        """A shape argument: a tuple of dimensions, one dimension, ``x.shape``, or a name bound
        once to a tuple."""
        if isinstance(size, cst.Tuple | cst.List):
            if any(isinstance(e, cst.StarredElement) for e in size.elements):
                return None
            return (tuple(self.dim(e.value, scope, origin) for e in size.elements),)
        if isinstance(size, cst.Attribute) and size.attr.value == "shape":
            return self.of(size.value, scope)
        if isinstance(size, cst.Name):
            bindings = self.m.visible_bindings(size.value, scope)
            if len(bindings) == 1 and bindings[0].kind == "assign":
                value = bindings[0].value
                if isinstance(value, cst.Tuple | cst.List):
                    home = self._home(bindings[0], scope)
                    return self._size(value, home, origin)
                if isinstance(value, cst.Attribute) and value.attr.value == "shape":
                    return self.of(value.value, self._home(bindings[0], scope))
                if int_value(value) is None:
                    return None
            else:
                # a parameter alone may hold a tuple: a size only where the module also uses it
                # as one dimension among others (``randn(n, m)``, ``zeros((n, 1))``)
                d = self.dim(size, scope, origin)
                if d is None or d.key not in self._int_dims():
                    return None
                return ((d,),)
        d = self.dim(size, scope, origin)
        return None if d is None else ((d,),)

    # --- dimensions ----------------------------------------------------------------------------

    def dim(self, node: cst.BaseExpression, scope: Scope, origin: cst.CSTNode) -> Dim | None:
        """A dimension as written: an integer, a parameter (or a constant-index element of
        one), a name or ``self`` attribute bound once to one of those, or ``x.shape[i]`` of a
        value whose shape is known. Anything else is unknown."""
        found = self._dim(node, scope, 0)
        if found is None:
            return None
        if found.origin is None:
            return found.learnt(origin, STATED)
        return found

    def _dim(self, node: cst.BaseExpression, scope: Scope, depth: int) -> Dim | None:
        if depth > 6:
            return None
        v = int_value(node)
        if v is not None:
            return Dim(v, str(v)) if v >= 0 else None
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute):
            if node.value.attr.value == "shape" and len(node.slice) == 1:
                idx = node.slice[0].slice
                k = int_value(idx.value) if isinstance(idx, cst.Index) else None
                base = self.of(node.value.value, scope)
                if k is None or base is None:
                    return None
                dims = {s[k] if -len(s) <= k < len(s) else None for s in base}
                return dims.pop() if len(dims) == 1 else None
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name):
            # ``sizes[1]`` of a parameter ``sizes``: a symbol of its own
            idx = node.slice[0].slice if len(node.slice) == 1 else None
            k = int_value(idx.value) if isinstance(idx, cst.Index) else None
            inner = self._dim(node.value, scope, depth + 1)
            if k is None or inner is None or isinstance(inner.key, int):
                return None
            return Dim(f"{inner.key}[{k}]", self.m.src(node))
        if isinstance(node, cst.Name):
            memo = (node.value, scope)
            if memo not in self._dim_memo:
                self._dim_memo[memo] = None
                self._dim_memo[memo] = self._name_dim(node.value, scope, depth)
            return self._dim_memo[memo]
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            if node.value.value != "self" or scope.cls is None:
                return None
            bindings = self.m.c.class_attrs.get(scope.cls, {}).get(node.attr.value, [])
            if len(bindings) != 1 or bindings[0].kind != "assign" or bindings[0].value is None:
                return None
            b = bindings[0]
            assert b.value is not None
            if isinstance(b.value, cst.Name | cst.Subscript) or int_value(b.value) is not None:
                return self._dim(b.value, self._home(b, scope), depth + 1)
            return None
        return None

    def _name_dim(self, name: str, scope: Scope, depth: int) -> Dim | None:
        bindings = self.m.visible_bindings(name, scope)
        if len(bindings) != 1:
            return None
        b = bindings[0]
        home = self._home(b, scope)
        if b.kind == "param":
            return Dim(f"{home.qualname()}:{name}", name)
        if b.kind != "assign" or b.value is None:
            return None
        if int_value(b.value) is not None:
            return Dim(f"{home.qualname()}:{name}", name)  # a named size: a symbol
        if isinstance(b.value, cst.Name | cst.Attribute | cst.Subscript):
            return self._dim(b.value, home, depth + 1)
        return None

    # --- names, attributes, keys ---------------------------------------------------------------

    def _home(self, b: Binding, scope: Scope) -> Scope:
        if self._homes is None:
            self._homes = {}
            for s in self.m.c.scopes:
                for bindings in s.bindings.values():
                    for x in bindings:
                        self._homes[x] = s
        return self._homes.get(b, scope)

    def _leaf(self, node: cst.Name | cst.Attribute, scope: Scope) -> Shapes | None:
        """A name's or ``self`` attribute's shape: memoised by the name and the scope it is
        read in, not by the node, so each name's bindings are read once however often it is
        used (a chain ``d = W.T @ d`` stays linear)."""
        key: tuple[object, ...]
        if isinstance(node, cst.Name):
            key = (node.value, scope)
        elif isinstance(node.value, cst.Name) and node.value.value == "self" and scope.cls:
            key = ("self", scope.cls, node.attr.value)
        else:
            return None
        if key in self._leaves:
            return self._leaves[key]
        if key in self._leaves_busy:
            return None
        self._leaves_busy.add(key)
        try:
            found = self._leaf_of(node, scope)
        finally:
            self._leaves_busy.discard(key)
        self._leaves[key] = found
        return found

    def _leaf_of(self, node: cst.Name | cst.Attribute, scope: Scope) -> Shapes | None:
        if isinstance(node, cst.Name):
            bindings = self._visible(node.value, scope)
        else:
            if not (isinstance(node.value, cst.Name) and node.value.value == "self"):
                return None
            if scope.cls is None:
                return None
            bindings = self.m.c.class_attrs.get(scope.cls, {}).get(node.attr.value, [])
        if not bindings:
            return None
        found: list[Shapes | None] = []
        for b in bindings:
            if b.kind == "aug":
                continue  # in place: the shape stays
            home = self._home(b, scope)
            if b.kind == "param":
                found.append(self._param(b, home))
                continue
            if b.kind != "assign" or b.value is None:
                return None
            if isinstance(b.value, cst.Name) and b.value.value == "None":
                continue
            if _steps_itself(b):
                continue  # ``P = P - lr * g``: an update keeps the parameter's shape
            found.append(self.of(b.value, home))
        if not found:
            return None
        joined = _join(found)
        if joined is None and isinstance(node, cst.Attribute):
            return self._learnt(("self", scope.cls, node.attr.value), scope)
        return joined

    def _visible(self, name: str, scope: Scope) -> list[Binding]:
        """The bindings a name reads, past scopes that only update it in place (``global W;
        W -= ...``)."""
        s: Scope | None = scope
        while s is not None:
            found = s.bindings.get(name)
            if found and any(b.kind != "aug" for b in found):
                return found
            s = s.parent
        return scope.comp_bindings.get(name, [])

    def _keyed(self, node: cst.Subscript, key: str, scope: Scope) -> Shapes | None:
        """``params['W1']``: the values stored under that constant key (memoised by the
        container, the key and the scope, like names)."""
        base = dotted(node.value)
        if base is None:
            return None
        memo = ("key", base, key, scope.cls if base.startswith("self.") else scope)
        if memo in self._leaves:
            return self._leaves[memo]
        if memo in self._leaves_busy:
            return None
        self._leaves_busy.add(memo)
        try:
            found = self._keyed_of(base, key, scope)
        finally:
            self._leaves_busy.discard(memo)
        self._leaves[memo] = found
        return found

    def _keyed_of(self, base: str, key: str, scope: Scope) -> Shapes | None:
        bindings = (
            self._visible(base, scope)
            if "." not in base
            else (
                self.m.c.class_attrs.get(scope.cls, {}).get(base.split(".", 1)[1], [])
                if base.startswith("self.") and scope.cls
                else []
            )
        )
        found: list[Shapes | None] = []
        for b in bindings:
            t = b.target
            if isinstance(t, cst.Subscript):
                idx = t.slice[0].slice if len(t.slice) == 1 else None
                if not (isinstance(idx, cst.Index) and isinstance(idx.value, cst.SimpleString)):
                    return None  # stored under a computed key: anything may be there
                if idx.value.value != key or b.kind == "aug":
                    continue
                if b.kind != "assign" or b.value is None:
                    return None
                found.append(self.of(b.value, self._home(b, scope)))
            elif b.kind == "assign" and isinstance(b.value, cst.Dict):
                for el in b.value.elements:
                    if not isinstance(el, cst.DictElement):
                        return None
                    if isinstance(el.key, cst.SimpleString) and el.key.value == key:
                        found.append(self.of(el.value, self._home(b, scope)))
            elif b.kind != "param":
                return None
        return _join(found) if found else None

    def _param(self, b: Binding, fn: Scope) -> Shapes | None:
        """A parameter's shape: the upstream gradient has its forward output's shape; a
        forward pass's input is what its products with stated matrices say."""
        assert isinstance(b.target, cst.Name)
        name = b.target.value
        m = self.m
        if m.upstream_gradient_param(fn) == name:
            return self._forward_output(fn)
        return self._learnt(("param", fn, name), fn)

    def _forward_output(self, fn: Scope) -> Shapes | None:
        if fn not in self._outputs:
            self._outputs[fn] = None
            self._outputs[fn] = self._forward_output_of(fn)
        return self._outputs[fn]

    def _forward_output_of(self, fn: Scope) -> Shapes | None:
        if fn.cls is not None:
            forward = self.m.method_in_chain(fn.cls, ("forward", "__call__"))
            partners = [forward] if forward is not None else []
        else:
            partners = self.m.forward_partners(fn)
        if len(partners) != 1 or not partners[0].returns:
            return None
        fwd = partners[0]
        found: list[Shapes | None] = []
        for r in fwd.returns:
            if isinstance(r, cst.Tuple):
                if not r.elements:
                    return None
                r = r.elements[0].value
            found.append(self.of(r, fwd))
        return _join(found)

    def _learnt(self, leaf: tuple[object, ...], scope: Scope) -> Shapes | None:
        """What forward products say about a leaf (a parameter, a ``self`` attribute): in
        ``W @ x`` with ``W`` of shape (n, k), ``x`` is ``(k,)`` or ``(k, ?)``."""
        uses = self._leaf_uses().get((str(leaf[0]), leaf[1:]), [])
        found: list[Shapes | None] = []
        for mm, side, transposed, site_scope in uses:
            other = mm.right if side == "left" else mm.left
            o = self.known(other, site_scope)
            if o is None or len(o) != 2:
                return None
            if side == "right":  # W @ x: x's first axis is W's last
                k = o[-1]
                alts: Shapes = ((k,), (k, None)) if k is not None else ()
            else:  # x @ W: x's last axis is W's first
                k = o[0]
                alts = ((k,), (None, k)) if k is not None else ()
            if not alts:
                return None
            how = FORWARD_PRODUCT
            alts = tuple(
                tuple(d.learnt(mm.node, how) if d is not None else None for d in s) for s in alts
            )
            if transposed:
                alts = tuple(s[::-1] for s in alts)
            found.append(alts)
        return _join(found) if found else None

    def _leaf_uses(
        self,
    ) -> dict[tuple[str, object], list[tuple[MatMul, str, bool, Scope]]]:
        """Operands of the products outside backward passes that are parameters or ``self``
        attributes: indexed once per module."""
        if self._uses is None:
            index: dict[tuple[str, object], list[tuple[MatMul, str, bool, Scope]]] = {}
            for mm, site in self.m.matmuls():
                if site.scope.is_module or self.m.is_backward_scope(site.scope):
                    continue
                for side, operand in (("left", mm.left), ("right", mm.right)):
                    base, transposed = self.m.strip_transpose(operand)
                    leaf = self._leaf_key(base, site.scope)
                    if leaf is not None:
                        index.setdefault(leaf, []).append((mm, side, transposed, site.scope))
            self._uses = index
        return self._uses

    def _leaf_key(self, node: cst.BaseExpression, scope: Scope) -> tuple[str, object] | None:
        if isinstance(node, cst.Name):
            bindings = scope.bindings.get(node.value, [])
            if len(bindings) == 1 and bindings[0].kind == "param":
                return ("param", (scope, node.value))
            return None
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, cst.Name)
            and node.value.value == "self"
            and scope.cls is not None
        ):
            return ("self", (scope.cls, node.attr.value))
        return None


# --- helpers ----------------------------------------------------------------------------------


def _map(found: Shapes | None, f: object) -> Shapes | None:
    if found is None:
        return None
    out: list[Shape] = []
    for s in found:
        r = f(s)  # type: ignore[operator]
        if r is None:
            return None
        if r not in out:
            out.append(r)
    return tuple(out)


def _pairs(a: Shapes, b: Shapes, f: object) -> Shapes | None:
    return _pairs_of([(x, y) for x in a for y in b], f)


def describe(model: ModuleModel, d: Dim) -> str:
    """How ``d`` was learnt, in words, for a finding's evidence."""
    if d.origin is None:
        return f"`{d.label}` is learnt here"
    written = _short(model.src(d.origin))
    if d.how == FORWARD_PRODUCT:
        return f"`{d.label}`: learnt from the forward product `{written}`"
    return f"`{d.label}`: stated by `{written}`"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _steps_itself(b: Binding) -> bool:
    value = b.value
    return (
        isinstance(value, cst.BinaryOperation)
        and isinstance(value.operator, cst.Add | cst.Subtract)
        and value.left.deep_equals(b.target)
    )


def _contracts_distinct(a: Shape, b: Shape) -> bool:
    pair = inner_dims(a, b)
    return pair is not None and distinct(*pair)


def _pairs_of(pairs: list[tuple[Shape, Shape]], f: object) -> Shapes | None:
    out: list[Shape] = []
    for x, y in pairs:
        r = f(x, y)  # type: ignore[operator]
        if r is None:
            return None
        if r not in out:
            out.append(r)
    return tuple(out)


def _join(found: list[Shapes | None]) -> Shapes | None:
    """Every binding's shape agrees: the common shape; the alternatives of a single one."""
    if not found or any(f is None for f in found):
        return None
    first = found[0]
    assert first is not None
    for other in found[1:]:
        assert other is not None
        if set(other) != set(first):
            if len(first) == 1 and len(other) == 1 and len(first[0]) == len(other[0]):
                merged = tuple(
                    x if x == y else None for x, y in zip(first[0], other[0], strict=True)
                )
                first = (merged,)
                continue
            return None
    return first


def _index(shape: Shape, elements: object) -> Shape | None:
    """Basic indexing with ``:``, ``None``, ``...`` and integers."""
    out: list[Dim | None] = []
    items = list(elements)  # type: ignore[call-overload]
    consumed = sum(
        1
        for el in items
        if not (
            isinstance(el.slice, cst.Index)
            and isinstance(el.slice.value, cst.Name | cst.Ellipsis)
            and (isinstance(el.slice.value, cst.Ellipsis) or el.slice.value.value == "None")
        )
    )
    if consumed > len(shape):
        return None
    pos = 0
    for el in items:
        s = el.slice
        if isinstance(s, cst.Slice):
            if s.lower is not None or s.upper is not None or s.step is not None:
                if pos >= len(shape):
                    return None
                out.append(None)
            else:
                out.append(shape[pos])
            pos += 1
            continue
        value = s.value
        if isinstance(value, cst.Ellipsis):
            rest = len(shape) - consumed
            out.extend(shape[pos : pos + rest])
            pos += rest
            continue
        if isinstance(value, cst.Name) and value.value == "None":
            out.append(ONE)
            continue
        if int_value(value) is None:
            return None  # an array or a computed index: not modelled
        pos += 1
    out.extend(shape[pos:])
    return tuple(out)
