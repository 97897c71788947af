"""Small, pure helpers over libcst expressions, shared by the analysis and the rules."""

from __future__ import annotations

import libcst as cst


def dotted(node: cst.BaseExpression) -> str | None:
    """``np.linalg.inv`` -> "np.linalg.inv"; None for anything that is not a plain dotted name."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def positional_args(call: cst.Call) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None and not a.star]


def keyword_arg(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a.value
    return None


def int_value(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value)
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return -int(node.expression.value)
    return None


def number_value(node: cst.BaseExpression | None) -> float | None:
    if isinstance(node, cst.Integer | cst.Float):
        return float(node.value.replace("_", ""))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = number_value(node.expression)
        return -inner if inner is not None else None
    return None


def names_in(node: cst.CSTNode) -> set[str]:
    """Every bare Name read inside ``node`` (cheap; no scope semantics)."""
    found: set[str] = set()

    class _V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    node.visit(_V())
    return found


def target_names(target: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Flatten ``a, (b, c)`` / ``[a, b]`` assignment targets into their leaves."""
    if isinstance(target, cst.Tuple | cst.List):
        out: list[cst.BaseExpression] = []
        for el in target.elements:
            out.extend(target_names(el.value))
        return out
    return [target]


def calls_in(node: cst.CSTNode) -> list[cst.Call]:
    """Every call inside ``node`` (cheap; used on single expressions only)."""
    found: list[cst.Call] = []

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            found.append(n)

    node.visit(_V())
    return found


def factors_of(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The factors of a product chain ``a * b * (c)`` (parenthesised products stay whole)."""
    if (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, cst.Multiply)
        and not node.lpar
    ):
        return [*factors_of(node.left), *factors_of(node.right)]
    return [node]
