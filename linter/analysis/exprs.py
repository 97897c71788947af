"""Small, pure helpers over libcst expressions, shared by the analysis and the rules."""

from __future__ import annotations

import libcst as cst

from linter.analysis.treewalk import TRIVIA, walk


def dotted(node: cst.BaseExpression) -> str | None:
    """``np.linalg.inv`` -> "np.linalg.inv"; None for anything that is not a plain dotted name."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def positional_args(call: cst.Call) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None and not a.star]


def keyword_arg(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a.value
    return None


def int_value(node: cst.BaseExpression | None) -> int | None:
    """The value of an integer literal in any spelling (``0x10``, ``0o17``, ``1_000``), negated
    by a unary minus; None for anything else."""
    if isinstance(node, cst.Integer):
        return node.evaluated_value
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return -node.expression.evaluated_value
    return None


def number_value(node: cst.BaseExpression | None) -> float | None:
    """A real literal's value as a float (``0xff``, ``1e999`` -> inf, ``-2``); None for anything
    else, complex literals and integers too large for a float included."""
    sign = 1.0
    while isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        sign, node = -sign, node.expression
    if isinstance(node, cst.Integer | cst.Float):
        try:
            return sign * _literal(node)
        except OverflowError:
            return None
    return None


def _literal(node: cst.Integer | cst.Float) -> float:
    """``float(node.evaluated_value)`` without its ``ast.literal_eval`` (a compile per call, the
    largest cost of reading a long function): Python's own int/float syntax, underscores and
    prefixes included; anything they refuse goes the slow way."""
    try:
        return float(int(node.value, 0) if isinstance(node, cst.Integer) else float(node.value))
    except ValueError:
        return float(node.evaluated_value)


def string_value(node: cst.BaseExpression | None) -> str | None:
    """The text of a plain (not bytes, not f-) string literal, else None."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def names_in(node: cst.CSTNode) -> set[str]:
    """Every bare Name read inside ``node`` (cheap; no scope semantics)."""
    found: set[str] = set()

    class _V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    walk(node, _V())
    return found


def target_names(target: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Flatten ``a, (b, c)`` / ``[a, b]`` assignment targets into their leaves."""
    out: list[cst.BaseExpression] = []
    stack = [target]
    while stack:
        t = stack.pop()
        if isinstance(t, cst.Tuple | cst.List):
            stack.extend(el.value for el in reversed(t.elements))
        else:
            out.append(t)
    return out


def calls_in(node: cst.CSTNode) -> list[cst.Call]:
    """Every call inside ``node`` (cheap; used on single expressions only)."""
    found: list[cst.Call] = []

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            found.append(n)

    walk(node, _V())
    return found


def factors_of(node: cst.BaseExpression, *, own_parens: bool = False) -> list[cst.BaseExpression]:
    """The factors of a product chain ``a * b * (c)`` (parenthesised products stay whole; with
    ``own_parens`` the chain itself may be parenthesised: ``(a * b * c)``)."""
    out: list[cst.BaseExpression] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if (
            isinstance(n, cst.BinaryOperation)
            and isinstance(n.operator, cst.Multiply)
            and (not n.lpar or (own_parens and n is node))
        ):
            stack.append(n.right)
            stack.append(n.left)
        else:
            out.append(n)
    return out


def same_name(a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    """Both are the same bare name (``x`` and ``x``)."""
    return isinstance(a, cst.Name) and isinstance(b, cst.Name) and a.value == b.value


def contains(outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    """Whether ``inner`` (by identity) is ``outer`` or somewhere inside it."""
    found = False

    class _V(cst.CSTVisitor):
        walk_trivia = type(inner) in TRIVIA

        def on_visit(self, n: cst.CSTNode) -> bool:
            nonlocal found
            if n is inner:
                found = True
            return not found

    walk(outer, _V())
    return found
