"""Fix building: small constructors of replacement CST nodes that rules hand to ``Report``."""

from __future__ import annotations

import libcst as cst

from linter.analysis import ModuleModel
from linter.analysis.exprs import dotted, keyword_arg

_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
_TIGHT = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)


def parenthesize(node: cst.BaseExpression) -> cst.BaseExpression:
    """``node`` in parentheses when it is an operation that would bind looser than an operand."""
    if (
        isinstance(node, cst.BinaryOperation | cst.UnaryOperation | cst.Comparison)
        and not node.lpar
    ):
        return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node


def transposed(model: ModuleModel, weight: cst.BaseExpression) -> cst.BaseExpression:
    """The transpose of ``weight``: ``W`` for ``W.T`` (or ``W.transpose()``), else ``W.T``."""
    base, is_transposed = model.strip_transpose(weight)
    return base if is_transposed else cst.Attribute(value=base, attr=cst.Name("T"))


def elementwise_product(left: cst.BaseExpression, right: cst.BaseExpression) -> cst.BinaryOperation:
    """``left * right``, each side parenthesised where needed."""
    return cst.BinaryOperation(parenthesize(left), cst.Multiply(), parenthesize(right))


_BINDS_AT_LEAST_AS_MINUS = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Modulo,
    cst.MatrixMultiply,
    cst.Power,
)


def _minuend(x: cst.BaseExpression) -> cst.BaseExpression:
    """``x`` as the left side of ``x - m``: parenthesised only where ``-`` would bind first."""
    if x.lpar or isinstance(x, cst.UnaryOperation):
        return x
    if isinstance(x, cst.BinaryOperation) and isinstance(x.operator, _BINDS_AT_LEAST_AS_MINUS):
        return x
    return parenthesize(x)


def numpy_name(model: ModuleModel, exp: cst.Call) -> str | None:
    """``np`` for ``np.exp(...)``: a fix is written with the module's own numpy name."""
    prefix = dotted(exp.func) or ""
    if prefix.endswith(".exp") and model.qualname(exp.func) == "numpy.exp":
        return prefix[: -len(".exp")]
    return None


def reusable(x: cst.BaseExpression) -> bool:
    """``x`` can be written twice without changing what the code does: names, attributes,
    subscripts, numbers and arithmetic on them; no call (it could draw random numbers)."""
    if isinstance(x, cst.Name | cst.Integer | cst.Float):
        return True
    if isinstance(x, cst.Attribute):
        return reusable(x.value)
    if isinstance(x, cst.Subscript):
        return reusable(x.value) and all(_reusable_slice(el.slice) for el in x.slice)
    if isinstance(x, cst.BinaryOperation):
        return reusable(x.left) and reusable(x.right)
    if isinstance(x, cst.UnaryOperation):
        return reusable(x.expression)
    return False


def _reusable_slice(index: cst.BaseSlice) -> bool:
    if isinstance(index, cst.Index):
        return reusable(index.value)
    if isinstance(index, cst.Slice):
        return all(p is None or reusable(p) for p in (index.lower, index.upper, index.step))
    return False


def max_of(
    np_name: str, x: cst.BaseExpression, axis: cst.BaseExpression | None, keepdims: bool
) -> cst.Call:
    """``np.max(x)``, ``np.max(x, axis=a)`` or ``np.max(x, axis=a, keepdims=True)``."""
    args = [cst.Arg(x)]
    if axis is not None:
        args = [
            cst.Arg(x, comma=_COMMA),
            cst.Arg(
                axis,
                keyword=cst.Name("axis"),
                equal=_TIGHT,
                comma=_COMMA if keepdims else cst.MaybeSentinel.DEFAULT,
            ),
        ]
        if keepdims:
            args.append(cst.Arg(cst.Name("True"), keyword=cst.Name("keepdims"), equal=_TIGHT))
    return cst.Call(cst.Attribute(cst.parse_expression(np_name), cst.Name("max")), args)


def max_shift(
    np_name: str, x: cst.BaseExpression, axis: cst.BaseExpression | None
) -> cst.BinaryOperation:
    """``x - np.max(x, axis=a, keepdims=True)``: constant along the summed axis ``a``."""
    return cst.BinaryOperation(_minuend(x), cst.Subtract(), max_of(np_name, x, axis, True))


def shifted_exp(exp: cst.Call, shift: cst.BaseExpression) -> cst.Call:
    return exp.with_changes(args=[cst.Arg(shift)])


def shifted_ratio(
    ratio: cst.BinaryOperation, exps: tuple[cst.Call, ...], shift: cst.BaseExpression
) -> cst.BinaryOperation:
    """``exp(x) / sum(exp(x))`` with both exponentials shifted: the numerator is the left side,
    the other exponential sits in the right side."""
    numerator, *others = exps
    right: cst.CSTNode = ratio.right
    for e in others:
        right = right.deep_replace(e, shifted_exp(e, shift))
    return ratio.with_changes(left=shifted_exp(numerator, shift), right=right)


def logsumexp_with_max(
    np_name: str,
    log_call: cst.Call,
    summed: cst.Call,
    exp: cst.Call,
    x: cst.BaseExpression,
    axis: cst.BaseExpression | None,
    alone: bool,
) -> cst.BinaryOperation:
    """``log(sum(exp(x), ...))`` -> ``m + log(sum(exp(x - m'), ...))``: ``m'`` keeps the summed
    axis for broadcasting, ``m`` is reduced as the sum is (keepdims as the sum has it).
    Parenthesised unless it is a whole statement's value (``alone``)."""
    keepdims = keyword_arg(summed, "keepdims")
    kept = isinstance(keepdims, cst.Name) and keepdims.value == "True"
    inner = log_call.deep_replace(exp, shifted_exp(exp, max_shift(np_name, x, axis)))
    outer = max_of(np_name, x, axis, kept) if axis is not None else max_of(np_name, x, None, False)
    parens = {} if alone else {"lpar": [cst.LeftParen()], "rpar": [cst.RightParen()]}
    return cst.BinaryOperation(outer, cst.Add(), inner, **parens)  # type: ignore[arg-type]


def log_softmax(model: ModuleModel, arg: cst.BaseExpression) -> cst.CSTNode | None:
    """``F.softmax(x, dim=d)`` -> ``F.log_softmax(x, dim=d)`` (PyTorch spelling only)."""
    if not isinstance(arg, cst.Call):
        return None
    qn = model.qualname(arg.func)
    if qn not in ("torch.nn.functional.softmax", "torch.softmax"):
        return None
    func = arg.func
    if isinstance(func, cst.Attribute) and func.attr.value == "softmax":
        return arg.with_changes(func=func.with_changes(attr=cst.Name("log_softmax")))
    return None
