"""The one tree walk per module: collect imports, scopes, bindings and the sites rules query.

Everything the rules need is recorded here in a single pass; the semantic questions (roles,
orientation, helper conventions) are answered lazily from these records in ``model.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from linter.analysis.exprs import dotted, target_names


@dataclass(repr=False, eq=False)
class Binding:
    """One assignment to a name (or ``self.attr`` / subscript key) inside a scope."""

    target: cst.BaseExpression
    value: cst.BaseExpression | None
    stmt: cst.CSTNode
    index: int  # statement order in the scope
    kind: str  # "assign" | "aug" | "param" | "for" | "append" | "unpack"
    op: str = ""  # for "aug": "+=", "-=", ...
    loops: tuple[cst.CSTNode, ...] = ()
    position: int = -1  # for "unpack": element index (negative: from the end)
    path: Path = ()  # the branch arms and loop bodies around the statement, outermost first


# Where a statement sits: the ``if`` arms (``(if_node, "body")`` / ``(if_node, "orelse")``) and
# loop bodies (``(loop_node, "loop")``) around it, outermost first. Two statements whose paths
# first differ at the two arms of one ``if`` are on mutually exclusive branches.
Path = tuple[tuple[cst.CSTNode, str], ...]


@dataclass(frozen=True, repr=False)
class Read:
    """Where a name is read, when that is inside an ``if`` arm: its scope, the index of its
    statement and the statement's path."""

    scope: Scope
    index: int
    path: Path


@dataclass(repr=False)
class Site:
    """A node of interest with its scope and enclosing simple statement."""

    node: cst.CSTNode
    scope: Scope
    stmt: cst.CSTNode
    index: int
    loops: tuple[cst.CSTNode, ...] = ()


@dataclass(eq=False, repr=False)
class Scope:
    name: str
    node: cst.CSTNode
    cls: str | None
    parent: Scope | None
    params: list[str] = field(default_factory=list)
    param_defaults: dict[str, cst.BaseExpression] = field(default_factory=dict)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    comp_bindings: dict[str, list[Binding]] = field(default_factory=dict)
    returns: list[cst.BaseExpression] = field(default_factory=list)
    decorators: list[str] = field(default_factory=list)
    statements: int = 0
    nested: bool = False  # a function defined inside another function (closures, _backward)
    # where it is defined in the file: the module-wide count of statements, definitions and
    # classes entered up to its ``def`` (textual order, as notebook cells run)
    order: int = 0
    # its ``for`` statements in visit order, not those of nested functions or class bodies
    fors: list[cst.For] = field(default_factory=list)

    @property
    def is_module(self) -> bool:
        return isinstance(self.node, cst.Module)

    def qualname(self) -> str:
        return f"{self.cls}.{self.name}" if self.cls else self.name

    def __repr__(self) -> str:
        return f"<Scope {self.qualname()}>"


def single_value(node: cst.BaseExpression, scope: Scope) -> cst.BaseExpression:
    """A name's value when one plain assignment in ``scope`` is all it has (``W_inv = inv(W)``:
    ``W_inv`` -> ``inv(W)``); anything else as it is. ``Forms.through_local`` is the
    path-aware reading (which assignments reach a given read)."""
    if isinstance(node, cst.Name):
        bindings = scope.bindings.get(node.value, [])
        if len(bindings) == 1 and bindings[0].kind == "assign" and bindings[0].value is not None:
            return bindings[0].value
    return node


UNKNOWN_POSITION = -(10**6)


def binding_key(target: cst.BaseExpression) -> str | None:
    """Bindings are keyed by a name or a dotted attribute (``self.W1``); subscripts key their base."""
    if isinstance(target, cst.Subscript):
        return binding_key(target.value)
    return dotted(target)


class Collector(cst.CSTVisitor):
    """Single pass over a module. Nothing here interprets meaning; it only records."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.star_imports: list[str] = []  # ``from model import *``: the module, as written
        self.module_scope: Scope | None = None
        self.scopes: list[Scope] = []
        self.functions: dict[str, list[Scope]] = {}
        self.class_attrs: dict[str, dict[str, list[Binding]]] = {}
        self.class_bases: dict[str, list[str]] = {}
        self.lambdas: dict[cst.Lambda, Scope] = {}
        # textual order: every statement, ``def`` and ``class`` entered bumps it (``Scope.order``);
        # each call's ``func`` keeps the order of the statement it is in
        self.order = 0
        self.call_order: dict[cst.BaseExpression, int] = {}
        self.calls: list[Site] = []
        self.binops: list[Site] = []
        self.assigns: list[Site] = []
        self.subscript_assigns: list[Site] = []
        self.comparisons: list[Site] = []
        self._scope_stack: list[Scope] = []
        self._class_stack: list[str] = []
        self._stmt_stack: list[cst.CSTNode] = []
        # each statement's number in its scope (``Scope.statements`` as it is entered)
        self.stmt_index: dict[cst.CSTNode, int] = {}
        self._loops: list[cst.CSTNode] = []
        self._class_depth = 0  # class bodies open in the current function (or the module)
        self._path: Path = ()
        self._arms = 0  # ``if`` arms in ``_path``
        # A comprehension's (or generator's) targets are its own scope: the reads of them inside
        # it, each with the comprehension's binding (``comp_reads``). ``_comps`` holds the
        # comprehensions and lambdas around the walk, each with its own variables (or
        # parameters) and whether it is hidden: while its outermost iterable, read in the
        # enclosing scope, is walked.
        self.comp_reads: dict[cst.Name, Binding] = {}
        self.reads: dict[cst.Name, Read] = {}  # name reads inside an ``if`` arm
        self.ifs: dict[cst.If, tuple[int, tuple[cst.CSTNode, ...]]] = {}  # index, loops
        self._comps: list[tuple[cst.CSTNode, dict[str, Binding], list[bool]]] = []
        self._arm_nodes: dict[cst.CSTNode, tuple[cst.CSTNode, str]] = {}
        self._arm_stack: list[cst.CSTNode] = []
        self._exited: list[int] = []  # per open block: the ``if``s that return, passed in it
        # indexes over the finished walk, built on first use (see ``class_scopes``)
        self._class_scopes: dict[str | None, list[Scope]] | None = None
        self._methods: dict[tuple[str, str | None], list[Scope]] | None = None
        self._homes: dict[tuple[str, Binding], list[Scope]] | None = None
        self._bound_names: frozenset[str] | None = None
        self._scope_order: dict[Scope, int] | None = None
        self._class_methods: dict[str, list[Scope]] | None = None
        self._attr_classes: dict[str, list[str]] | None = None

    # --- structure -----------------------------------------------------------------------------

    @property
    def scope(self) -> Scope:
        return self._scope_stack[-1]

    def visit_Module(self, node: cst.Module) -> None:
        scope = Scope("<module>", node, None, None)
        self.module_scope = scope
        self.scopes.append(scope)
        self._scope_stack.append(scope)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.order += 1
        self._class_depth += 1
        self._class_stack.append(node.name.value)
        self.class_attrs.setdefault(node.name.value, {})
        self.class_bases[node.name.value] = [
            d for a in node.bases if (d := dotted(a.value)) is not None
        ]

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._class_depth -= 1
        self._class_stack.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        enclosing = self._scope_stack[-1]
        nested = not enclosing.is_module
        cls = self._class_stack[-1] if self._class_stack and not nested else None
        if nested:
            cls = enclosing.cls
        scope = Scope(node.name.value, node, cls, enclosing, nested=nested)
        self.order += 1
        scope.order = self.order
        scope.decorators = [
            d for dec in node.decorators if (d := dotted(_dec_name(dec))) is not None
        ]
        params = node.params
        all_params = [*params.posonly_params, *params.params, *params.kwonly_params]
        for p in all_params:
            scope.params.append(p.name.value)
            if p.default is not None:
                scope.param_defaults[p.name.value] = p.default
        for p in (params.star_arg, params.star_kwarg):
            if isinstance(p, cst.Param):
                scope.params.append(p.name.value)
        for i, p in enumerate(all_params):
            scope.bindings.setdefault(p.name.value, []).append(
                Binding(p.name, None, node, -1 - i, "param")
            )
        self.scopes.append(scope)
        self.functions.setdefault(node.name.value, []).append(scope)
        self._scope_stack.append(scope)
        self._saved_loops = getattr(self, "_saved_loops", [])
        self._saved_loops.append(self._loops)
        self._loops = []
        self._saved_paths = getattr(self, "_saved_paths", [])
        self._saved_paths.append((self._path, self._arms, self._class_depth))
        self._path, self._arms, self._class_depth = (), 0, 0

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scope_stack.pop()
        self._loops = self._saved_loops.pop()
        self._path, self._arms, self._class_depth = self._saved_paths.pop()

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        # a lambda is a function too: ``self.act_prime = lambda x: ...`` is a helper
        enclosing = self._scope_stack[-1]
        scope = Scope("<lambda>", node, enclosing.cls, enclosing, nested=True)
        scope.order = self.order
        params = node.params
        for i, p in enumerate([*params.posonly_params, *params.params, *params.kwonly_params]):
            scope.params.append(p.name.value)
            if p.default is not None:
                scope.param_defaults[p.name.value] = p.default
            scope.bindings.setdefault(p.name.value, []).append(
                Binding(p.name, None, node, -1 - i, "param")
            )
        scope.returns.append(node.body)
        self.scopes.append(scope)
        self.lambdas[node] = scope
        self._scope_stack.append(scope)
        # its parameters shadow the variables of comprehensions around it
        self._comps.append((node, {p: scope.bindings[p][0] for p in scope.params}, [False]))
        return True

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._scope_stack.pop()
        self._comps.pop()

    # --- statements ----------------------------------------------------------------------------

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.order += 1
        self._stmt_stack.append(node)
        self.scope.statements += 1
        self.stmt_index[node] = self.scope.statements

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self._stmt_stack.pop()

    def _enter_compound(self, node: cst.CSTNode) -> None:
        self.order += 1
        self._stmt_stack.append(node)
        self.scope.statements += 1
        self.stmt_index[node] = self.scope.statements

    def visit_For(self, node: cst.For) -> None:
        self._enter_compound(node)
        if not self._class_depth:
            self.scope.fors.append(node)
        self._arm_nodes[node.body] = (node, "loop")
        for leaf in target_names(node.target):
            self._bind(leaf, node.iter, node, "for")
        self._loops.append(node)

    def leave_For(self, original_node: cst.For) -> None:
        self._loops.pop()
        self._stmt_stack.pop()

    def _enter_comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp
    ) -> None:
        # Comprehension variables do not leak in Python 3: they are kept apart (consulted for
        # names that have no ordinary binding in the scope), and a read of one inside its
        # comprehension is that comprehension's own.
        own: dict[str, Binding] = {}
        f: cst.CompFor | None = node.for_in
        while f is not None:
            for leaf in target_names(f.target):
                if isinstance(leaf, cst.Name):
                    b = Binding(leaf, f.iter, f, self.scope.statements, "for", path=self._path)
                    self.scope.comp_bindings.setdefault(leaf.value, []).append(b)
                    own[leaf.value] = b
            f = f.inner_for_in
        self._comps.append((node, own, [False]))

    def _leave_comprehension(self, original_node: cst.CSTNode) -> None:
        self._comps.pop()

    visit_ListComp = _enter_comprehension
    visit_SetComp = _enter_comprehension
    visit_DictComp = _enter_comprehension
    visit_GeneratorExp = _enter_comprehension
    leave_ListComp = _leave_comprehension
    leave_SetComp = _leave_comprehension
    leave_DictComp = _leave_comprehension
    leave_GeneratorExp = _leave_comprehension

    def visit_CompFor(self, node: cst.CompFor) -> None:
        top = self._comps[-1] if self._comps else None
        if top is not None and getattr(top[0], "for_in", None) is node:
            top[2][0] = True  # its outermost iterable is read in the enclosing scope
        else:
            self._show_comprehension(node)

    def visit_CompIf(self, node: cst.CompIf) -> None:
        self._show_comprehension(node)

    def leave_CompFor(self, original_node: cst.CompFor) -> None:
        self._show_comprehension(original_node)

    def _show_comprehension(self, node: cst.CSTNode) -> None:
        """Past the outermost iterable: its conditions, inner loops (and its end)."""
        top = self._comps[-1] if self._comps else None
        if top is None or not top[2][0]:
            return
        outer = getattr(top[0], "for_in", None)
        if outer is not None and (node is outer or node is outer.inner_for_in or node in outer.ifs):
            top[2][0] = False

    def visit_Name(self, node: cst.Name) -> None:
        for entry in reversed(self._comps):
            if entry[2][0]:
                continue
            found = entry[1].get(node.value)
            if found is not None:
                if found.kind == "for":  # a lambda's own parameter shadows it: "param"
                    self.comp_reads[node] = found
                break
        if self._arms:
            self.reads[node] = Read(self.scope, self.scope.statements, self._path)

    def _enter_arm(self, node: cst.CSTNode, arm: str) -> None:
        self._path = (*self._path, (node, arm))
        if arm != "loop":
            self._arms += 1

    def _leave_arm(self) -> None:
        if self._path[-1][1] != "loop":
            self._arms -= 1
        self._path = self._path[:-1]

    def _arm_starts(self, node: cst.CSTNode) -> None:
        mark = self._arm_nodes.pop(node, None)
        if mark is not None:
            self._enter_arm(*mark)
            self._arm_stack.append(node)

    def _arm_ends(self, node: cst.CSTNode) -> None:
        if self._arm_stack and self._arm_stack[-1] is node:
            self._arm_stack.pop()
            self._leave_arm()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._arm_starts(node)
        self._exited.append(0)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        for _ in range(self._exited.pop()):
            self._leave_arm()
        self._arm_ends(original_node)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._arm_starts(node)

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        self._arm_ends(original_node)

    def visit_Else(self, node: cst.Else) -> None:
        self._arm_starts(node)

    def leave_Else(self, original_node: cst.Else) -> None:
        self._arm_ends(original_node)

    def visit_While(self, node: cst.While) -> None:
        self._enter_compound(node)
        self._arm_nodes[node.body] = (node, "loop")
        self._loops.append(node)

    def leave_While(self, original_node: cst.While) -> None:
        self._loops.pop()
        self._stmt_stack.pop()

    def visit_If(self, node: cst.If) -> None:
        self._arm_starts(node)  # an ``elif``: the ``orelse`` arm of the ``if`` before it
        self._enter_compound(node)
        self._arm_nodes[node.body] = (node, "body")
        self.ifs[node] = (self.scope.statements, tuple(self._loops))
        if node.orelse is not None:
            self._arm_nodes[node.orelse] = (node, "orelse")

    def leave_If(self, original_node: cst.If) -> None:
        self._stmt_stack.pop()
        self._arm_ends(original_node)
        if original_node.orelse is None and _exits(original_node.body):
            # ``if c: return ...``: what follows in the block runs only where c does not hold
            self._enter_arm(original_node, "orelse")
            if self._exited:
                self._exited[-1] += 1

    def visit_With(self, node: cst.With) -> None:
        self._enter_compound(node)

    def leave_With(self, original_node: cst.With) -> None:
        self._stmt_stack.pop()

    @property
    def stmt(self) -> cst.CSTNode:
        return self._stmt_stack[-1] if self._stmt_stack else self.scope.node

    def _site(self, node: cst.CSTNode) -> Site:
        return Site(node, self.scope, self.stmt, self.scope.statements, tuple(self._loops))

    def _bind(
        self,
        target: cst.BaseExpression,
        value: cst.BaseExpression | None,
        stmt: cst.CSTNode,
        kind: str,
        op: str = "",
        position: int = -1,
    ) -> None:
        key = binding_key(target)
        if key is None:
            return
        binding = Binding(
            target,
            value,
            stmt,
            self.scope.statements,
            kind,
            op,
            tuple(self._loops),
            position,
            self._path,
        )
        self.scope.bindings.setdefault(key, []).append(binding)
        if key.startswith("self.") and self.scope.cls:
            attr = key.split(".", 2)[1]
            self.class_attrs[self.scope.cls].setdefault(attr, []).append(binding)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.assigns.append(self._site(node))
        for t in node.targets:
            leaves = target_names(t.target)
            if len(leaves) == 1 and not isinstance(t.target, cst.Tuple | cst.List):
                self._bind(leaves[0], node.value, self.stmt, "assign")
                if isinstance(leaves[0], cst.Subscript):
                    self.subscript_assigns.append(self._site(node))
            else:
                self._bind_unpacked(t.target, node.value)

    def _bind_unpacked(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """``a, b = x, y`` binds element-wise; ``a, *rest, c = f()`` records each target's
        position in the value (negative after a star: counted from the end; -inf for the star)."""
        if not isinstance(target, cst.Tuple | cst.List):
            return
        elements = list(target.elements)
        star = next((i for i, e in enumerate(elements) if isinstance(e, cst.StarredElement)), None)
        values = (
            [e.value for e in value.elements]
            if isinstance(value, cst.Tuple | cst.List)
            and star is None
            and len(value.elements) == len(elements)
            and not any(isinstance(e, cst.StarredElement) for e in value.elements)
            else None
        )
        for i, el in enumerate(elements):
            leaf = el.value
            if isinstance(leaf, cst.Tuple | cst.List):
                continue  # nested unpacking: too rare to model
            if values is not None:
                self._bind(leaf, values[i], self.stmt, "assign")
            elif star is None or i < star:
                self._bind(leaf, value, self.stmt, "unpack", position=i)
            elif i > star:
                self._bind(leaf, value, self.stmt, "unpack", position=i - len(elements))
            else:
                self._bind(leaf, value, self.stmt, "unpack", position=UNKNOWN_POSITION)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.assigns.append(self._site(node))
            self._bind(node.target, node.value, self.stmt, "assign")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.assigns.append(self._site(node))
        op = node.operator.__class__.__name__
        self._bind(node.target, node.value, self.stmt, "aug", op)
        if isinstance(node.target, cst.Subscript):
            self.subscript_assigns.append(self._site(node))

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.scope.returns.append(node.value)

    # --- imports -------------------------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = full
            else:
                top = full.split(".")[0]
                self.aliases.setdefault(top, top)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.module is not None and isinstance(node.names, cst.ImportStar):
            star = dotted(node.module)
            if star is not None:
                self.star_imports.append("." * len(node.relative) + star)
            return
        if node.module is None or isinstance(node.names, cst.ImportStar):
            return
        base = dotted(node.module)
        if base is None:
            return
        if node.relative:
            base = "." * len(node.relative) + base
        for alias in node.names:
            name = dotted(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.aliases[local] = f"{base}.{name}"

    # --- expression sites ----------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(self._site(node))
        self.call_order[node.func] = self.order
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "append"
            and len(node.args) == 1
            and self._stmt_stack
        ):
            self._bind(func.value, node.args[0].value, self.stmt, "append")

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        self.binops.append(self._site(node))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.comparisons.append(self._site(node))

    # --- indexes over the finished walk (built once, on first use) ----------------------------
    # A question about one class or one binding asked of every scope of the module was a scan
    # per question: quadratic in a module of many classes (tests/test_scaling.py).

    def class_scopes(self, cls: str | None) -> list[Scope]:
        """The scopes whose ``cls`` is ``cls``, in ``scopes`` order."""
        index = self._class_scopes
        if index is None:
            index = self._class_scopes = {}
            for s in self.scopes:
                index.setdefault(s.cls, []).append(s)
        return index.get(cls, [])

    def scopes_of_classes(self, classes: set[str] | frozenset[str]) -> list[Scope]:
        """The scopes whose ``cls`` is one of ``classes``, in ``scopes`` order."""
        if len(classes) == 1:
            return list(self.class_scopes(next(iter(classes))))
        found = [s for cls in classes for s in self.class_scopes(cls)]
        if len(found) < 2:
            return found
        if self._scope_order is None:
            self._scope_order = {s: i for i, s in enumerate(self.scopes)}
        return sorted(found, key=self._scope_order.__getitem__)

    def methods(self, name: str, cls: str | None) -> list[Scope]:
        """``functions[name]`` whose ``cls`` is ``cls``, in order."""
        index = self._methods
        if index is None:
            index = self._methods = {}
            for fname, found in self.functions.items():
                for s in found:
                    index.setdefault((fname, s.cls), []).append(s)
        return index.get((name, cls), [])

    def class_methods(self, name: str) -> list[Scope]:
        """``functions[name]`` defined in a class (``cls`` set), in order."""
        index = self._class_methods
        if index is None:
            index = self._class_methods = {}
            for fname, found in self.functions.items():
                index[fname] = [s for s in found if s.cls is not None]
        return index.get(name, [])

    def attr_classes(self, attr: str) -> list[str]:
        """The classes whose ``class_attrs`` hold ``attr``, in ``class_attrs`` order."""
        index = self._attr_classes
        if index is None:
            index = self._attr_classes = {}
            for cls, attrs in self.class_attrs.items():
                for a in attrs:
                    index.setdefault(a, []).append(cls)
        return index.get(attr, [])

    def homes(self, key: str, b: Binding) -> list[Scope]:
        """The scopes whose bindings of ``key`` hold ``b`` (the binding itself), in order."""
        index = self._homes
        if index is None:
            index = self._homes = {}
            for s in self.scopes:
                for k, bindings in s.bindings.items():
                    for x in bindings:
                        found = index.setdefault((k, x), [])
                        if not found or found[-1] is not s:
                            found.append(s)
        return index.get((key, b), [])

    def bound_anywhere(self, name: str) -> bool:
        """Some scope binds ``name``."""
        names = self._bound_names
        if names is None:
            names = self._bound_names = frozenset(k for s in self.scopes for k in s.bindings)
        return name in names


def _exits(body: cst.BaseSuite) -> bool:
    """The block ends in ``return`` or ``raise``."""
    last: cst.CSTNode | None = body.body[-1] if body.body else None
    if isinstance(last, cst.SimpleStatementLine):
        last = last.body[-1] if last.body else None
    return isinstance(last, cst.Return | cst.Raise)


def _dec_name(dec: cst.Decorator) -> cst.BaseExpression:
    d = dec.decorator
    return d.func if isinstance(d, cst.Call) else d
