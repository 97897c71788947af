"""Small, pure helpers over libcst expressions, shared by the analysis and the rules."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from linter.analysis.treewalk import TRIVIA, walk


def dotted(node: cst.BaseExpression) -> str | None:
    """``np.linalg.inv`` -> "np.linalg.inv"; None for anything that is not a plain dotted name."""
    # exact type tests: libcst's node classes are ABCs, and ``isinstance`` against one costs a
    # Python-level ``__instancecheck__`` (this runs ~10^6 times on a big tree); ``Name`` and
    # ``Attribute`` have no subclasses
    parts = []
    t = type(node)
    while t is _ATTRIBUTE:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
        t = type(node)
    if t is not _NAME:
        return None
    parts.append(node.value)  # type: ignore[attr-defined]
    return ".".join(reversed(parts))


_ATTRIBUTE, _NAME = cst.Attribute, cst.Name
assert not _ATTRIBUTE.__subclasses__() and not _NAME.__subclasses__()


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


@dataclass(frozen=True)
class DictKey:
    """A dict key as written: a constant (``"W1"``) or a family, a constant prefix followed by
    the decimal digits of an index (``"W" + str(l)``, ``f"W{l}"``, ``"W%d" % l``,
    ``"W{}".format(l)``: prefix "W", ``index`` the expression ``l``)."""

    text: str
    family: bool = False
    index: cst.BaseExpression | None = field(default=None, compare=False, hash=False)

    def may_equal(self, other: DictKey) -> bool:
        """Whether the two keys can name the same entry: "W" + str(l) meets "W1" and
        "W" + str(l + 1), never "dW1", "b" + str(l) or "W"."""
        if not self.family and not other.family:
            return self.text == other.text
        if self.family and other.family and self.text == other.text:
            return True
        # ``"W" + str(12)`` is "W12", also written "W1" + str(2): the longer text is the
        # shorter family's prefix followed by digits
        longer, shorter = (self, other) if len(self.text) >= len(other.text) else (other, self)
        if not shorter.family:
            return False
        rest = longer.text[len(shorter.text) :]
        return longer.text.startswith(shorter.text) and rest.isascii() and rest.isdigit()


_FORMAT_DIRECTIVES = ("%d", "%i", "%s")


def dict_key(node: cst.BaseExpression | None) -> DictKey | None:
    """The key a subscript index or a dict literal's key spells, when it is a constant string
    or a constant prefix followed by one formatted index (see ``DictKey``); else None. Whether
    the index is an integer is for the caller to tell."""
    text = string_value(node)
    if text is not None:
        return DictKey(text)
    if isinstance(node, cst.BinaryOperation):
        prefix = string_value(node.left)
        if prefix is None:
            return None
        if isinstance(node.operator, cst.Add):
            right = node.right
            if (
                isinstance(right, cst.Call)
                and isinstance(right.func, cst.Name)
                and right.func.value == "str"
                and len(right.args) == 1
                and right.args[0].keyword is None
                and not right.args[0].star
            ):
                return DictKey(prefix, True, right.args[0].value)
            return None
        if isinstance(node.operator, cst.Modulo) and prefix.count("%") == 1:
            right = node.right
            if isinstance(right, cst.Tuple):
                if len(right.elements) != 1 or isinstance(right.elements[0], cst.StarredElement):
                    return None
                right = right.elements[0].value
            if prefix.endswith(_FORMAT_DIRECTIVES):
                return DictKey(prefix[:-2], True, right)
        return None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        prefix = string_value(node.func.value)
        args = node.args
        if (
            prefix is not None
            and node.func.attr.value == "format"
            and len(args) == 1
            and args[0].keyword is None
            and not args[0].star
        ):
            for tail in ("{}", "{0}", "{0!s}", "{!s}"):
                head = prefix[: -len(tail)]
                if prefix.endswith(tail) and "{" not in head and "}" not in head:
                    return DictKey(head, True, args[0].value)
        return None
    if isinstance(node, cst.FormattedString) and not node.prefix.lower().count("b"):
        parts = node.parts
        texts = [p for p in parts if isinstance(p, cst.FormattedStringText)]
        exprs = [p for p in parts if isinstance(p, cst.FormattedStringExpression)]
        if not exprs:
            return None
        if (
            len(exprs) == 1
            and parts[-1] is exprs[0]
            and len(texts) == len(parts) - 1
            and exprs[0].format_spec is None
            and exprs[0].conversion in (None, "s")
            and "\\" not in "".join(t.value for t in texts)
            and "{" not in "".join(t.value for t in texts)
        ):
            return DictKey("".join(t.value for t in texts), True, exprs[0].expression)
    return None
