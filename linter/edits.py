"""Fix building: small constructors of replacement CST nodes that rules hand to ``Report``."""

from __future__ import annotations

import libcst as cst

from linter.analysis import ModuleModel
from linter.analysis.exprs import dotted, keyword_arg, positional_args

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


def max_shifted_exp(
    model: ModuleModel, call: cst.Call, x: cst.BaseExpression, normaliser: cst.Call
) -> cst.Call | None:
    """``np.exp(x)`` -> ``np.exp(x - np.max(x, axis=a, keepdims=True))`` with the axis of the
    normalising sum; None when the call is not numpy's or the axis cannot be told."""
    prefix = dotted(call.func) or ""
    if not (prefix.endswith(".exp") and model.qualname(call.func) == "numpy.exp"):
        return None
    np_name = prefix[: -len(".exp")]
    axis = keyword_arg(normaliser, "axis")
    max_args = [cst.Arg(parenthesize(x))]
    if axis is not None:
        max_args = [
            cst.Arg(parenthesize(x), comma=_COMMA),
            cst.Arg(axis, keyword=cst.Name("axis"), equal=_TIGHT, comma=_COMMA),
            cst.Arg(cst.Name("True"), keyword=cst.Name("keepdims"), equal=_TIGHT),
        ]
    shift = cst.BinaryOperation(
        parenthesize(x),
        cst.Subtract(),
        cst.Call(cst.Attribute(cst.parse_expression(np_name), cst.Name("max")), max_args),
    )
    if axis is not None or len(positional_args(normaliser)) <= 1:
        return call.with_changes(args=[cst.Arg(shift)])
    return None


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
