"""Parameters an optimizer changes: the starting point of a scipy minimizer.

``scipy.optimize.fmin_cg(cost, x0, fprime=grad)`` and ``minimize(cost, x0, jac=grad)`` change
``x0``: it is a parameter vector, by structure, whatever it is called. Hand-written networks
unroll their weight matrices into it (``np.concatenate((W1.ravel(), W2.ravel()))``,
``np.vstack((T1.reshape(-1, 1), T2.reshape(-1, 1)))``, ``np.r_[W1.flatten(), W2.flatten()]``),
so each piece packed into ``x0`` is a parameter too. ``optimizer_vectors(model)`` lists, once
per module, every such starting point with its pieces and what initialises each piece (followed
through names bound once and through helpers of this module, ``W = init(n_in, n_out)``, to the
value the helper returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.exprs import keyword_arg, positional_args

if TYPE_CHECKING:
    from linter.analysis.collect import Scope
    from linter.analysis.model import ModuleModel

# minimizers of scipy.optimize whose second argument (or ``x0=``) is the starting point
MINIMIZERS = frozenset(
    f"scipy.optimize.{name}"
    for name in (
        "minimize",
        "fmin",
        "fmin_cg",
        "fmin_bfgs",
        "fmin_l_bfgs_b",
        "fmin_ncg",
        "fmin_tnc",
        "fmin_powell",
        "fmin_slsqp",
        "least_squares",
    )
)
_PACK = frozenset({"numpy.concatenate", "numpy.vstack", "numpy.hstack", "numpy.append"})
_FLATTEN_METHODS = frozenset({"reshape", "ravel", "flatten"})
_FLATTEN_FUNCS = frozenset({"numpy.ravel", "numpy.reshape", "numpy.ndarray.flatten"})


@dataclass(frozen=True)
class Piece:
    """One array packed into a starting point, and the value that initialises it (``None``
    when it cannot be followed)."""

    node: cst.BaseExpression
    init: cst.BaseExpression | None
    init_scope: Scope | None


@dataclass(frozen=True)
class ParamVector:
    """The starting point ``x0`` of the minimizer ``call``, and the arrays packed into it."""

    call: cst.Call
    scope: Scope
    x0: cst.BaseExpression
    pieces: tuple[Piece, ...]


def optimizer_vectors(model: ModuleModel) -> list[ParamVector]:
    """Every starting point of a scipy minimizer in the module (memoised)."""
    memo = model.__dict__.get("_optimizer_vectors")
    if memo is None:
        memo = []
        for site in model.c.calls:
            call = site.node
            if not isinstance(call, cst.Call) or model.qualname(call.func) not in MINIMIZERS:
                continue
            x0 = keyword_arg(call, "x0")
            if x0 is None:
                args = positional_args(call)
                x0 = args[1] if len(args) > 1 else None
            if x0 is None:
                continue
            pieces = [
                Piece(node, *_initialiser(model, node, site.scope))
                for node in _pieces(model, x0, site.scope, 0)
            ]
            memo.append(ParamVector(call, site.scope, x0, tuple(pieces)))
        model.__dict__["_optimizer_vectors"] = memo
    return memo


def _flattened(model: ModuleModel, node: cst.BaseExpression) -> cst.BaseExpression:
    """``W.reshape(-1, 1)``, ``W.ravel()``, ``W.flatten()``, ``np.ravel(W)`` -> ``W``."""
    for _ in range(4):
        if not isinstance(node, cst.Call):
            break
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in _FLATTEN_METHODS
            and model.qualname(func) is None
        ):
            node = func.value
        elif model.qualname(func) in _FLATTEN_FUNCS and positional_args(node):
            node = positional_args(node)[0]
        else:
            break
    return node


def _packed(model: ModuleModel, node: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    """The arrays ``np.concatenate((a, b))``, ``np.vstack([a, b])``, ``np.append(a, b)`` or
    ``np.r_[a, b]`` joins, in order (``None``: not a join)."""
    if isinstance(node, cst.Call):
        qn = model.qualname(node.func)
        args = positional_args(node)
        if qn == "numpy.append" and len(args) >= 2:
            return args[:2]
        if qn in _PACK and args and isinstance(args[0], cst.Tuple | cst.List):
            return [e.value for e in args[0].elements if not isinstance(e, cst.StarredElement)]
        return None
    if isinstance(node, cst.Subscript) and model.qualname(node.value) == "numpy.r_":
        out = []
        for el in node.slice:
            if not isinstance(el.slice, cst.Index):
                return None
            out.append(el.slice.value)
        return out
    return None


def _pieces(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int
) -> list[cst.BaseExpression]:
    """The arrays packed into ``node``, through flattening, joins and names bound once."""
    node = _flattened(model, node)
    if depth > 4:
        return [node]
    packed = _packed(model, node)
    if packed is not None:
        return [p for part in packed for p in _pieces(model, part, scope, depth + 1)]
    if isinstance(node, cst.Name):
        value = _bound_once(model, node, scope)
        if value is not None and _packed(model, _flattened(model, value)) is not None:
            return _pieces(model, value, scope, depth + 1)
    return [node]


def _bound_once(model: ModuleModel, node: cst.Name, scope: Scope) -> cst.BaseExpression | None:
    bindings = model.bindings_at(node, scope)
    if len(bindings) == 1 and bindings[0].kind == "assign" and bindings[0].value is not None:
        if isinstance(bindings[0].target, cst.Name):
            return bindings[0].value
    return None


def _initialiser(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> tuple[cst.BaseExpression | None, Scope | None]:
    """The value that initialises ``node``: itself, what a name bound once holds, or what a
    helper of this module returns (its last straight-line assignment of the returned name)."""
    node = _flattened(model, node)
    if depth > 3:
        return None, None
    if isinstance(node, cst.Name):
        value = _bound_once(model, node, scope)
        if value is None:
            return None, None
        return _initialiser(model, value, scope, depth + 1)
    if isinstance(node, cst.Call):
        fn = model.local_function(node.func, scope)
        if fn is not None:
            returned = _returned_value(fn)
            if returned is None:
                return None, None
            return _initialiser(model, returned, fn, depth + 1)
    return node, scope


def _returned_value(fn: Scope) -> cst.BaseExpression | None:
    """What a helper returns: its one return value, or for a returned name, the last of its
    assignments when every one of them is a plain, unconditional ``name = value``."""
    if len(fn.returns) != 1:
        return None
    value = fn.returns[0]
    if not isinstance(value, cst.Name):
        return value
    bindings = fn.bindings.get(value.value, [])
    if not bindings:
        return None
    for b in bindings:
        if b.kind != "assign" or b.value is None or b.path or b.loops:
            return None
        if not isinstance(b.target, cst.Name):
            return None  # W[0] = ...: an element store changes what the helper returns
    return max(bindings, key=lambda b: b.index).value


def constant_starts(model: ModuleModel) -> list[tuple[ParamVector, list[cst.CSTNode]]]:
    """Starting points where every piece is initialised to a constant and at least two are
    matrices (weights of stacked layers): with the constant matrix initialisers. Every hidden
    unit then starts identical and the minimizer keeps them so (their gradients are equal)."""
    from linter.analysis.training import CONST_FILL, const_call

    out = []
    for vector in optimizer_vectors(model):
        matrices: list[cst.CSTNode] = []
        for piece in vector.pieces:
            init = piece.init
            if init is None:
                break
            found = const_call(model, init)
            if found is not None and _matrix_shape(found):
                matrices.append(found)
                continue
            core = _scaled(init)
            if not (isinstance(core, cst.Call) and model.qualname(core.func) in CONST_FILL):
                break  # a random or unknown piece breaks the symmetry
        else:
            if len(matrices) >= 2:
                out.append((vector, matrices))
    return out


def _matrix_shape(call: cst.CSTNode) -> bool:
    """A constant's shape is a tuple of two or more sizes, none of them a literal 1 (a column
    ``(n, 1)`` or a row ``(1, n)`` is a bias or a single unit's weights)."""
    from linter.analysis.exprs import int_value

    if not isinstance(call, cst.Call):
        return False
    args = positional_args(call)
    shape = args[0] if args else None
    if not isinstance(shape, cst.Tuple) or len(shape.elements) < 2:
        return False
    return all(int_value(e.value) != 1 for e in shape.elements)


def _scaled(node: cst.BaseExpression) -> cst.BaseExpression:
    """``np.zeros(n) * 0.1`` -> ``np.zeros(n)``."""
    while isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        node = node.left
    return node
