"""``treewalk.walk`` calls a visitor on the nodes, in the order, ``CSTNode.visit`` does."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from linter.analysis.treewalk import TRIVIA, parent_map, walk
from linter.rules import ALL_RULES
from tests.zoo.sources import NETWORKS_DIR

ROOT = Path(__file__).resolve().parent.parent

# Every kind of syntax the fast paths treat specially: f-strings with and without a format spec,
# `import *`, decorators, async, walrus, match, lambdas (a visitor stops there), comments.
ODDS = """\
from m import *  # comment
from . import (a, b as c)
import x.y as z

@dec(1)
async def f(p, /, q=2, *r, s, **t) -> int:
    async with a as b, c:
        await g(f"{p!r:>{q}} {s=}", f"plain {t}")
    return [i async for i in r if i] or {k: v for k, v in t.items()}

class C(B, metaclass=M):
    x: int = 1
    def m(self):
        lam = lambda u, *, w=3: u @ w
        if (n := len(self.x)) > 1 and not n:
            del self.x[0:2, ...]
        else:
            self.x[1] += -n ** 2
        match n:
            case [1, *rest] | {"k": _} as y if y:
                pass
            case C(a=1):
                raise ValueError("x") from None
        try:
            yield from g()
        except* (E, F) as e:
            global G
        finally:
            print(1, 2, sep="", end="\\n"); z = 1 if 2 else 3
"""


def _sources() -> list[tuple[str, str]]:
    out = [("odds", ODDS)]
    for path in sorted(NETWORKS_DIR.rglob("*.py")):
        out.append((path.relative_to(NETWORKS_DIR).as_posix(), path.read_text(encoding="utf-8")))
    for rule in ALL_RULES:  # one example a rule: the zoo already covers the common syntax
        if rule.invalid:
            out.append((f"{rule.code}-invalid", rule.invalid[0].source))
    return out


class _Generic(cst.CSTVisitor):
    """Own on_visit/on_leave: sees every node, whitespace and tokens included."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return not isinstance(node, cst.Lambda)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", id(original_node)))


def _typed_visitor() -> type[cst.CSTVisitor]:
    """visit_/leave_ methods for every node class that is not TRIVIA (so walk skips trivia)."""

    def subclasses(c: type) -> set[type]:
        out = set()
        for s in c.__subclasses__():
            out |= {s} | subclasses(s)
        return out

    def on_visit(self: cst.CSTVisitor, node: cst.CSTNode) -> bool | None:
        self.events.append(("visit", id(node)))  # type: ignore[attr-defined]
        return False if isinstance(node, cst.FunctionDef) and node.name.value == "m" else None

    def on_leave(self: cst.CSTVisitor, node: cst.CSTNode) -> None:
        self.events.append(("leave", id(node)))  # type: ignore[attr-defined]

    methods: dict[str, object] = {}
    for c in subclasses(cst.CSTNode) - TRIVIA:
        if c.__module__.startswith("libcst") and not c.__name__.startswith(("Base", "_")):
            methods[f"visit_{c.__name__}"] = on_visit
            methods[f"leave_{c.__name__}"] = on_leave
    methods["__init__"] = lambda self: setattr(self, "events", [])
    return type("_Typed", (cst.CSTVisitor,), methods)


_Typed = _typed_visitor()


@pytest.mark.parametrize(("name", "source"), _sources(), ids=[n for n, _ in _sources()])
def test_walk_visits_what_visit_visits(name: str, source: str) -> None:
    module = cst.parse_module(source)
    for make in (_Generic, _Typed):
        by_libcst, by_walk = make(), make()
        module.visit(by_libcst)
        walk(module, by_walk)
        assert by_walk.events == by_libcst.events, make.__name__
        assert by_walk.events, "the visitor saw nothing: the comparison proves nothing"


def test_trivia_holds_only_trivia_and_parent_map_matches_children() -> None:
    module = cst.parse_module(ODDS)
    parents = parent_map(module)
    seen = 0
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        for child in node.children:
            if type(node) in TRIVIA:
                assert type(child) in TRIVIA, (type(node), type(child))
            if type(child) not in TRIVIA:
                assert parents[child] is node
                seen += 1
            stack.append(child)
    assert seen == len(parents) > 100


def test_walk_is_not_limited_by_the_recursion_limit() -> None:
    import sys

    depth = sys.getrecursionlimit() * 2
    expr: cst.BaseExpression = cst.Name("x")
    for _ in range(depth):
        expr = cst.UnaryOperation(cst.Minus(), expr)
    names = []

    class _Names(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.append(node.value)

    walk(expr, _Names())
    assert names == ["x"]


def test_attribute_hooks_are_refused() -> None:
    class _Attr(cst.CSTVisitor):
        def visit_Call_func(self, node: cst.Call) -> None:
            pass

    with pytest.raises(TypeError, match="attribute hooks"):
        walk(cst.parse_expression("f(x)"), _Attr())
