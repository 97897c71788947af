"""Meaning-preserving rewrites of Python source, for metamorphic tests of the analysis.

``alpha_rename(source)`` consistently renames what a user chooses the name of: local variables,
parameters, data attributes (``self.W`` -> ``self.v7``) and constant dict keys
(``params['W1']`` -> ``params['k3_1']``), keeping everything that is structure: imported and
library names, builtins, names of functions, classes and methods (``forward``/``backward`` and
helpers), keyword arguments of calls that do not go to a function defined in the source, and
attribute names that are never assigned in the source (``.T``, ``.shape``, ``.dot``, ...)
and an ndarray's own attributes even where the source assigns through them (``x.flat[i] = v``).
The rewrite keeps every statement on its line: it changes identifiers only.

``respell(source)`` rewrites ``np.dot(a, b)`` to ``a @ b`` and ``x.T`` to ``np.transpose(x)``
(both value-preserving for the matrices backprop code multiplies).

Both are deterministic: the same source gives the same output, whatever the hash seed.
"""

from __future__ import annotations

import ast
import builtins
import itertools
import json
import re

import libcst as cst
import numpy as np

KEEP = frozenset(dir(builtins)) | {"self", "cls", "ctx", "__name__", "__file__", "_"}
# Attributes a framework defines (a tensor's ``.grad``), assigned by users but not named by them.
FRAMEWORK_ATTRS = frozenset({"grad", "data", "requires_grad", "training", "grad_fn", "is_leaf"})
# An ndarray's own attributes (``x.flat[i] = v``, ``x.real[...] = 0``): the library's names, kept
# like imported ones even where the source assigns through them.
LIBRARY_ATTRS = frozenset(a for a in dir(np.ndarray) if not a.startswith("_"))
_KEY_RE = re.compile(r"^([A-Za-z_]+)(\d*)$")


class _Census(cst.CSTVisitor):
    """What the source binds (renameable) and what it defines or imports (kept)."""

    def __init__(self) -> None:
        self.bound: list[str] = []
        self.kept: set[str] = set()
        self.attrs: list[str] = []
        self.keys: list[str] = []
        self.params: set[str] = set()

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.bound.append(target.value)
        elif isinstance(target, cst.Tuple | cst.List):
            for el in target.elements:
                self._bind(el.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)
        elif isinstance(target, cst.Attribute):
            self.attrs.append(target.attr.value)
        elif isinstance(target, cst.Subscript):
            self._bind_base(target.value)

    def _bind_base(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Attribute):
            self.attrs.append(node.attr.value)

    def visit_Import(self, node: cst.Import) -> None:
        for a in node.names:
            name = a.asname.name if a.asname else a.name
            self.kept.add(_first(name))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for a in node.names:
            name = a.asname.name if a.asname else a.name
            self.kept.add(_first(name))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.kept.add(node.name.value)
        for p in (
            *node.params.posonly_params,
            *node.params.params,
            *node.params.kwonly_params,
        ):
            self.bound.append(p.name.value)
            self.params.add(p.name.value)
        for p in (node.params.star_arg, node.params.star_kwarg):
            if isinstance(p, cst.Param):
                self.bound.append(p.name.value)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        for p in node.params.params:
            self.bound.append(p.name.value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.kept.add(node.name.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind(t.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name)

    def visit_Global(self, node: cst.Global) -> None:
        for n in node.names:
            self.bound.append(n.name.value)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        for el in node.slice:
            if isinstance(el.slice, cst.Index):
                for s in _key_strings(el.slice.value):
                    self.keys.append(s)

    def visit_Dict(self, node: cst.Dict) -> None:
        for el in node.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString):
                self.keys.append(el.key.evaluated_value)

    def visit_Call(self, node: cst.Call) -> None:
        # setattr(self, "W", ...) and getattr(self, "W") name data attributes too
        if isinstance(node.func, cst.Name) and node.func.value in ("setattr", "getattr"):
            if len(node.args) >= 2 and isinstance(node.args[1].value, cst.SimpleString):
                self.attrs.append(str(node.args[1].value.evaluated_value))


def _first(name: cst.BaseExpression) -> str:
    while isinstance(name, cst.Attribute):
        name = name.value
    return name.value if isinstance(name, cst.Name) else ""


def _key_strings(node: cst.BaseExpression) -> list[str]:
    """Constant keys in a subscript index: ``'W1'``, and the prefix of ``'W' + str(l)``."""
    if isinstance(node, cst.SimpleString):
        v = node.evaluated_value
        return [v] if isinstance(v, str) and _KEY_RE.match(v) else []
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _key_strings(node.left)
    return []


class _Renamer(cst.CSTTransformer):
    def __init__(
        self,
        names: dict[str, str],
        attrs: dict[str, str],
        prefixes: dict[str, str],
        local_callables: set[str],
        params: set[str],
    ) -> None:
        self.names = names
        self.attrs = attrs
        self.prefixes = prefixes
        self.local_callables = local_callables
        self.params = params
        self._in_key = 0
        self._import = 0

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        new = self.names.get(updated.value)
        return updated.with_changes(value=new) if new else updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        # the attribute's own name was renamed by leave_Name if it is a bound local name: undo
        # that, then apply the attribute map
        attr = original.attr.value
        new = self.attrs.get(attr, attr)
        return updated.with_changes(attr=cst.Name(new))

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        return updated.with_changes(name=original.name)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        return updated.with_changes(name=original.name)

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        if original.keyword is None:
            return updated
        return updated.with_changes(keyword=original.keyword)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        callee = original.func
        name = (
            callee.attr.value
            if isinstance(callee, cst.Attribute)
            else (callee.value if isinstance(callee, cst.Name) else None)
        )
        if isinstance(callee, cst.Name) and callee.value in ("setattr", "getattr"):
            args = list(updated.args)
            if len(args) >= 2 and isinstance(args[1].value, cst.SimpleString):
                v = args[1].value.evaluated_value
                if v in self.attrs:
                    args[1] = args[1].with_changes(value=cst.SimpleString(repr(self.attrs[v])))
                    return updated.with_changes(args=args)
            return updated
        if name not in self.local_callables:
            return updated
        args = [
            a.with_changes(keyword=cst.Name(self.names[a.keyword.value]))
            if a.keyword is not None
            and a.keyword.value in self.params
            and a.keyword.value in self.names
            else a
            for a in updated.args
        ]
        return updated.with_changes(args=args)

    def leave_SubscriptElement(
        self, original: cst.SubscriptElement, updated: cst.SubscriptElement
    ) -> cst.SubscriptElement:
        if isinstance(updated.slice, cst.Index):
            return updated.with_changes(
                slice=updated.slice.with_changes(value=self._rekey(updated.slice.value))
            )
        return updated

    def leave_DictElement(
        self, original: cst.DictElement, updated: cst.DictElement
    ) -> cst.DictElement:
        return updated.with_changes(key=self._rekey(updated.key))

    def _rekey(self, node: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(node, cst.SimpleString):
            v = node.evaluated_value
            if isinstance(v, str):
                m = _KEY_RE.match(v)
                if m and m.group(1) in self.prefixes:
                    return cst.SimpleString(repr(self.prefixes[m.group(1)] + m.group(2)))
            return node
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            return node.with_changes(left=self._rekey(node.left))
        return node


def alpha_rename(source: str) -> str:
    """Consistently rename locals, parameters, data attributes and constant dict keys."""
    module = cst.parse_module(source)
    census = _Census()
    module.visit(census)
    kept = census.kept | KEEP
    names: dict[str, str] = {}
    for n in census.bound:
        if n not in kept and n not in names:
            names[n] = f"v{len(names)}"
    attrs: dict[str, str] = {}
    for a in census.attrs:
        if (
            a not in kept
            and a not in attrs
            and not a.startswith("__")
            and a not in FRAMEWORK_ATTRS | LIBRARY_ATTRS
        ):
            attrs[a] = f"f{len(attrs)}"
    prefixes: dict[str, str] = {}
    for k in census.keys:
        m = _KEY_RE.match(k)
        if m and m.group(1) not in prefixes:
            prefixes[m.group(1)] = f"k{len(prefixes)}_"
    local_callables = {n for n in census.kept if n not in census.bound}
    renamed = module.visit(_Renamer(names, attrs, prefixes, local_callables, census.params))
    return renamed.code


class _Respeller(cst.CSTTransformer):
    """``np.dot(a, b)`` -> ``(a @ b)``; ``x.T`` -> ``np.transpose(x)``."""

    def __init__(self, np_alias: str) -> None:
        self.np = np_alias

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        f = updated.func
        if (
            isinstance(f, cst.Attribute)
            and isinstance(f.value, cst.Name)
            and f.value.value == self.np
            and f.attr.value in ("dot", "matmul")
            and len(updated.args) == 2
            and all(a.keyword is None and not a.star for a in updated.args)
        ):
            return cst.BinaryOperation(
                left=_wrap(updated.args[0].value),
                operator=cst.MatrixMultiply(),
                right=_wrap(updated.args[1].value),
                lpar=[cst.LeftParen()],
                rpar=[cst.RightParen()],
            )
        return updated

    def leave_Attribute(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression:
        if updated.attr.value == "T":
            return cst.Call(
                func=cst.Attribute(value=cst.Name(self.np), attr=cst.Name("transpose")),
                args=[cst.Arg(updated.value)],
            )
        return updated


def _wrap(node: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(node, cst.Name | cst.Attribute | cst.Subscript | cst.Call):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def respell(source: str) -> str:
    """``np.dot``/``np.matmul`` to ``@`` and ``.T`` to ``np.transpose`` where numpy is imported."""
    module = cst.parse_module(source)
    census = _Census()
    module.visit(census)
    alias = None
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for a in small.names:
                    if isinstance(a.name, cst.Name) and a.name.value == "numpy":
                        alias = a.asname.name.value if a.asname else "numpy"  # type: ignore[union-attr]
    if alias is None:
        return source
    return module.visit(_Respeller(alias)).code


# --- structural forms: the same code as notebook cells, or as methods of a class -------------


def as_cells(source: str) -> list[tuple[int, str]]:
    """``source`` cut into notebook cells before each top-level statement (decorators and the
    comments and blank lines above a statement go with it): ``(first line, text)`` per cell.
    Joined back, the cells are the source, so a finding at line ``k`` of the cell that starts
    at line ``f`` is a finding at line ``f + k - 1``."""
    lines = source.splitlines(keepends=True)
    starts = [1]
    for stmt in ast.parse(source).body:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
        # comments and blank lines right above the statement belong to its cell
        while first > starts[-1] + 1 and (
            not lines[first - 2].strip() or lines[first - 2].lstrip().startswith("#")
        ):
            first -= 1
        if first > starts[-1]:
            starts.append(first)
    bounds = [*starts, len(lines) + 1]
    return [(a, "".join(lines[a - 1 : b - 1])) for a, b in itertools.pairwise(bounds) if a < b]


def notebook_bytes(cells: list[tuple[int, str]]) -> bytes:
    """An nbformat 4 notebook of code cells with these texts."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": text.splitlines(keepends=True),
            }
            for _, text in cells
        ],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1).encode()


CLASS_NAME = "_Model"


class _ToMethods(cst.CSTTransformer):
    """Reads of the moved functions become ``self.f`` inside the class and ``_Model().f``
    outside it: as calls, as arguments, as elements of lists, tuples and dicts, as values."""

    def __init__(self, moved: frozenset[str]) -> None:
        self.moved = moved
        self.depth = 0  # > 0 inside a moved function

    def _ref(self, node: cst.BaseExpression) -> cst.BaseExpression:
        if not isinstance(node, cst.Name) or node.value not in self.moved:
            return node
        owner: cst.BaseExpression = (
            cst.Name("self") if self.depth else cst.Call(func=cst.Name(CLASS_NAME))
        )
        return cst.Attribute(value=owner, attr=cst.Name(node.value))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value in self.moved:
            self.depth += 1

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        if original.name.value in self.moved:
            self.depth -= 1
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        return updated.with_changes(func=self._ref(updated.func))

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        return updated.with_changes(value=self._ref(updated.value))

    def leave_Element(self, original: cst.Element, updated: cst.Element) -> cst.Element:
        return updated.with_changes(value=self._ref(updated.value))

    def leave_DictElement(
        self, original: cst.DictElement, updated: cst.DictElement
    ) -> cst.DictElement:
        return updated.with_changes(value=self._ref(updated.value))

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        return updated.with_changes(value=self._ref(updated.value))

    def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
        return updated.with_changes(value=self._ref(updated.value) if updated.value else None)


def as_methods(source: str) -> tuple[str, int] | None:
    """The source's top-level functions as methods of one class, ``(text, line)``: the class
    statement is inserted at ``line``, so what was at line ``k >= line`` is now at ``k + 1``.

    Every call and reference to a moved function goes through ``self`` inside the class and
    through a fresh instance outside it. None when the rewrite would not be plain: no
    top-level function, functions not next to each other, a decorator, a class already there,
    or a moved function's name also bound as a variable."""
    module = cst.parse_module(source)
    body = list(module.body)
    at = [i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef)]
    if not at or at != list(range(at[0], at[-1] + 1)):
        return None
    if any(isinstance(s, cst.ClassDef) for s in body):
        return None
    defs = [body[i] for i in at]
    assert all(isinstance(d, cst.FunctionDef) for d in defs)
    if any(d.decorators or d.asynchronous for d in defs):  # type: ignore[union-attr]
        return None
    moved = frozenset(d.name.value for d in defs)  # type: ignore[union-attr]
    census = _Census()
    module.visit(census)
    if moved & set(census.bound):
        return None
    methods = []
    for d in defs:
        assert isinstance(d, cst.FunctionDef)
        params = d.params.with_changes(params=[cst.Param(cst.Name("self")), *d.params.params])
        methods.append(
            d.with_changes(params=params, leading_lines=[] if d is defs[0] else d.leading_lines)
        )
    first = defs[0]
    assert isinstance(first, cst.FunctionDef)
    cls = cst.ClassDef(
        name=cst.Name(CLASS_NAME),
        body=cst.IndentedBlock(body=methods),
        leading_lines=first.leading_lines,
    )
    new = module.with_changes(body=[*body[: at[0]], cls, *body[at[-1] + 1 :]])
    text = new.visit(_ToMethods(moved)).code
    line = source.count("\n", 0, _offset_of_def(source, first)) + 1
    return text, line


def _offset_of_def(source: str, first: cst.FunctionDef) -> int:
    """Where the first moved function's ``def`` line starts (after its leading comments)."""
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == first.name.value:
            lines = source.splitlines(keepends=True)
            return sum(len(x) for x in lines[: stmt.lineno - 1])
    raise ValueError(first.name.value)
