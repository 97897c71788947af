"""Read-only tree walks that cost a fraction of ``CSTNode.visit``.

``CSTNode.visit`` rebuilds every node it passes (libcst's visitors share the code path of its
transformers: each level calls a constructor, validates and runs a ``__post_init__``), and it
recurses three Python frames per level of the tree. ``walk`` calls a ``cst.CSTVisitor``'s
``on_visit``/``on_leave`` (and so its ``visit_<Node>``/``leave_<Node>`` methods) on exactly the
nodes, in exactly the order, ``node.visit(visitor)`` would, with an explicit stack (the depth of
the tree is the input's, never Python's recursion limit) and without building anything.

Children are read in the order each node class's ``_visit_and_replace_children`` visits its
fields; that order is recorded from libcst itself the first time a class is met (so it follows
the installed libcst), and ``tests/test_walk.py`` compares whole walks with ``visit``.

Whitespace, comments, brackets, commas and operator tokens (``TRIVIA``) can only hold more of
the same; a visitor that handles none of them (no ``visit_``/``leave_`` method for them and no
own ``on_visit``/``on_leave``) never sees them, so they are not walked; a visitor with its own
``on_visit`` that does not need them says so with ``walk_trivia = False``.
"""

from __future__ import annotations

import inspect
import typing
import weakref
from collections.abc import Callable, Iterator, Mapping

import libcst as cst

if typing.TYPE_CHECKING:
    from libcst.metadata import CodeRange

_FIELDS: dict[type, tuple[str, ...]] = {}  # every field that can hold a node, in visit order
_SOLID: dict[type, tuple[str, ...]] = {}  # the same without the fields that hold only TRIVIA
_IS_NODE: dict[type, bool] = {}


class _Recorder(cst.CSTVisitor):
    """Records the field names ``_visit_and_replace_children`` visits, without descending."""

    def __init__(self) -> None:
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_leave(self, original_node: cst.CSTNode) -> None:
        pass

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if attribute not in self.fields:
            self.fields.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


def _classes(annotation: object) -> Iterator[type]:
    if isinstance(annotation, type):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _classes(arg)


def _subclasses(c: type) -> Iterator[type]:
    for s in c.__subclasses__():
        yield s
        yield from _subclasses(s)


def _only_trivia(c: type) -> bool:
    """Every instance of ``c`` is TRIVIA (an abstract base counts by its subclasses)."""
    if c in TRIVIA:
        return True
    subs = list(_subclasses(c))
    return inspect.isabstract(c) and bool(subs) and all(s in TRIVIA for s in subs)


def _field_kinds(cls: type) -> dict[str, str]:
    """Per dataclass field: "none" (never holds a node), "trivia" (only TRIVIA) or "node"."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: treat every field as a node's
        return {}
    kinds = {}
    for name in cls.__dataclass_fields__:
        nodes = [c for c in _classes(hints.get(name)) if issubclass(c, cst.CSTNode)]
        if name not in hints:
            kinds[name] = "node"
        elif not nodes:
            kinds[name] = "none"
        elif all(_only_trivia(c) for c in nodes):
            kinds[name] = "trivia"
        else:
            kinds[name] = "node"
    return kinds


def _fields(node: cst.CSTNode) -> tuple[str, ...]:
    cls = type(node)
    found = _FIELDS.get(cls)
    if found is None:
        rec = _Recorder()
        node._visit_and_replace_children(rec)
        kinds = _field_kinds(cls)
        # a field visited only for some values (``format_spec=None`` is not visited) comes last,
        # where libcst visits it: such fields are the constructor's last arguments
        rest = [f for f in cls.__dataclass_fields__ if f not in rec.fields]
        found = tuple(f for f in (*rec.fields, *rest) if kinds.get(f, "node") != "none")
        _FIELDS[cls] = found
        _SOLID[cls] = tuple(f for f in found if kinds.get(f, "node") == "node")
    return found


def _solid(node: cst.CSTNode) -> tuple[str, ...]:
    _fields(node)
    return _SOLID[type(node)]


def _is_node(value: object) -> bool:
    t = type(value)
    found = _IS_NODE.get(t)
    if found is None:
        found = _IS_NODE[t] = isinstance(value, cst.CSTNode)
    return found


def _trivia() -> frozenset[type]:
    def subclasses(c: type) -> Iterator[type]:
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    modules = ("libcst._nodes.op", "libcst._nodes.whitespace")
    brackets = {"LeftParen", "RightParen", "LeftSquareBracket", "RightSquareBracket"}
    brackets |= {"LeftCurlyBrace", "RightCurlyBrace", "Asynchronous"}
    return frozenset(
        c
        for c in subclasses(cst.CSTNode)
        if c.__module__ in modules or (c.__name__ in brackets and c.__module__.startswith("libcst"))
    )


TRIVIA = _trivia()
_TRIVIA_NAMES = frozenset(c.__name__ for c in TRIVIA)

_Hook = Callable[[cst.CSTVisitor, cst.CSTNode], object] | None
_Plan = tuple[bool, bool, dict[type, tuple[_Hook, _Hook]]]
_PLANS: weakref.WeakKeyDictionary[type, _Plan] = weakref.WeakKeyDictionary()


def _plan(vcls: type) -> _Plan:
    """(generic, skip_trivia, hooks per node class) for a visitor class: ``generic`` when it
    has its own ``on_visit``/``on_leave``; hooks are its own ``visit_``/``leave_`` methods
    (``CSTVisitor`` defines a do-nothing one for every node class)."""
    plan = _PLANS.get(vcls)
    if plan is None:
        generic = vcls.on_visit is not cst.CSTVisitor.on_visit or (
            vcls.on_leave is not cst.CSTVisitor.on_leave
        )
        own: set[str] = set()
        for klass in vcls.__mro__:
            if klass is cst.CSTVisitor:
                break
            own.update(n for n in vars(klass) if n.startswith(("visit_", "leave_")))
        handled = {n.split("_", 1)[1] for n in own}
        if any("_" in h for h in handled) or (
            vcls.on_visit_attribute is not cst.CSTVisitor.on_visit_attribute
            or vcls.on_leave_attribute is not cst.CSTVisitor.on_leave_attribute
        ):
            raise TypeError(f"{vcls.__name__}: walk() calls no attribute hooks; use visit()")
        skip = getattr(vcls, "walk_trivia", True) is False or (
            not generic and not (handled & _TRIVIA_NAMES)
        )
        plan = (generic, skip, {})
        _PLANS[vcls] = plan
    return plan


def _hooks(vcls: type, cls: type) -> tuple[_Hook, _Hook]:
    name = cls.__name__
    base_visit = getattr(cst.CSTVisitor, f"visit_{name}", None)
    base_leave = getattr(cst.CSTVisitor, f"leave_{name}", None)
    v = getattr(vcls, f"visit_{name}", None)
    lv = getattr(vcls, f"leave_{name}", None)
    return (None if v is base_visit else v, None if lv is base_leave else lv)


def walk(root: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """``root.visit(visitor)`` for a read-only ``cst.CSTVisitor``, iteratively, nothing rebuilt."""
    vcls = type(visitor)
    generic, skip, hooks = _plan(vcls)
    on_visit, on_leave = visitor.on_visit, visitor.on_leave
    fields = _SOLID if skip else _FIELDS
    get_fields = _solid if skip else _fields
    is_node = _IS_NODE
    trivia = TRIVIA
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, leaving = pop()
        cls = type(node)
        if generic:
            if leaving:
                on_leave(node)
                continue
            descend = on_visit(node)
        else:
            pair = hooks.get(cls)
            if pair is None:
                pair = hooks[cls] = _hooks(vcls, cls)
            if leaving:
                if pair[1] is not None:
                    pair[1](visitor, node)
                continue
            descend = pair[0] is None or pair[0](visitor, node) is not False
        push((node, True))
        if not descend:
            continue
        kids: list[cst.CSTNode] = []
        for name in fields.get(cls) or get_fields(node):
            value = getattr(node, name)
            t = type(value)
            if t is tuple or t is list:
                kids.extend(value)
            elif is_node.get(t) or _is_node(value):
                kids.append(value)
        for child in reversed(kids):
            t = type(child)
            if (is_node.get(t) or _is_node(child)) and not (skip and t in trivia):
                push((child, False))


def parent_map(root: cst.CSTNode) -> dict[cst.CSTNode, cst.CSTNode]:
    """Each node under ``root`` (not whitespace or tokens) to its parent."""
    parents: dict[cst.CSTNode, cst.CSTNode] = {}
    is_node = _IS_NODE
    trivia = TRIVIA
    stack = [root]
    while stack:
        node = stack.pop()
        kids: list[cst.CSTNode] = []
        for name in _SOLID.get(type(node)) or _solid(node):
            value = getattr(node, name)
            t = type(value)
            if t is tuple or t is list:
                kids.extend(value)
            elif is_node.get(t) or _is_node(value):
                kids.append(value)
        for child in reversed(kids):
            t = type(child)
            if (is_node.get(t) or _is_node(child)) and t not in trivia:
                parents[child] = node
                stack.append(child)
    return parents


def subtree(root: cst.CSTNode) -> set[cst.CSTNode]:
    """``root`` and every node under it (not whitespace or tokens): ``node in subtree(f)`` asks
    whether ``node`` is part of ``f``."""
    return {root, *parent_map(root)}


def code_positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    """``MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)`` without its
    second pass: ``resolve`` follows the provider's code generation with a full ``visit`` of
    the module for batchable providers even when there are none, which costs as much again as
    the positions themselves (``tests/test_walk.py`` compares the two)."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    return PositionProvider()._gen(MetadataWrapper(module, unsafe_skip_copy=True))
