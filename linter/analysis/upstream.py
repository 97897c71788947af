"""A numpy layer's ``backward`` whose returned gradient does not depend on its upstream gradient.

By the forward/backward convention (``ModuleModel.upstream_gradient_param``), the first parameter
of a layer class's ``backward`` receives dL/d(output); what it returns is dL/d(input), the
upstream gradient times the layer's local derivative. A returned value that no assignment of the
method connects to that parameter is the local derivative alone: right only when the upstream
gradient is all ones.

Decided from structure: the value flow inside the method (a name or ``self.`` attribute is
tainted when an assignment reads the parameter or a tainted value; reading only its shape,
``len`` or an ``*_like`` constructor does not count). Left alone, so that no correct code is
flagged: classes whose ``forward`` takes more than one required input (losses take a target),
parameters with a default (``dout=1`` at the end of the network), returns of ``None`` or zeros
(a stop-gradient), ``autograd.Function`` subclasses (BP408 reads those), and any module where a
``.backward(...)`` result is multiplied by something (the caller applies the chain rule itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import dotted
from linter.analysis.model import ModuleModel
from linter.analysis.treewalk import walk

_SHAPE_ATTRS = frozenset({"shape", "ndim", "dtype", "size"})
_ZEROS = frozenset({"numpy.zeros", "numpy.zeros_like"})


@dataclass(frozen=True)
class IgnoredUpstream:
    """``ret`` (returned by ``fn``) never depends on the upstream gradient parameter ``param``."""

    ret: cst.BaseExpression
    fn: Scope
    param: str


class _Reads(cst.CSTVisitor):
    """Names and dotted attributes an expression reads for their values (not for a shape)."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if node.attr.value in _SHAPE_ATTRS:
            return False
        text = dotted(node)
        if text is not None:
            self.found.add(text)
        return True

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else dotted(func)
        if name is not None and (name.endswith("_like") or name == "len"):
            for a in node.args[1:]:
                walk(a.value, self)
            walk(func, self)
            return False
        return True

    def visit_Name(self, node: cst.Name) -> None:
        self.found.add(node.value)


def _reads(node: cst.CSTNode) -> set[str]:
    v = _Reads()
    walk(node, v)
    return v.found


class _MethodCalls(cst.CSTVisitor):
    """``obj.method(args)`` calls: what ``obj`` may take in (``xs.append(x)``, ``xs.insert(0, x)``)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, set[str]]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute):
            obj = dotted(node.func.value)
            if obj is not None:
                reads: set[str] = set()
                for a in node.args:
                    reads |= _reads(a.value)
                self.found.append((obj, reads))


def _tainted(fn: Scope, param: str) -> set[str]:
    """Every name or dotted attribute of ``fn`` whose value depends on ``param`` (through an
    assignment, or an argument of a method called on it)."""
    flows: list[tuple[str, set[str]]] = [
        (key, _reads(b.value))
        for key, bindings in fn.bindings.items()
        for b in bindings
        if b.value is not None
    ]
    calls = _MethodCalls()
    walk(fn.node, calls)
    flows += [(obj, reads) for obj, reads in calls.found if obj in fn.bindings or "." in obj]
    tainted = {param}
    changed = True
    while changed:
        changed = False
        for key, reads in flows:
            if key not in tainted and reads & tainted:
                tainted.add(key)
                changed = True
    return tainted


def _required(fn: Scope) -> list[cst.Param]:
    node = fn.node
    if not isinstance(node, cst.FunctionDef):
        return []
    return [
        p
        for p in (*node.params.posonly_params, *node.params.params)
        if p.default is None and p.name.value not in ("self", "cls", "ctx")
    ]


def _caller_multiplies(model: ModuleModel) -> bool:
    """Some ``.backward(...)`` result is a factor of a product: the caller multiplies the
    returned local derivative by the gradient itself."""
    for site in model.c.binops:
        node = site.node
        if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply)):
            continue
        for side in (node.left, node.right):
            if (
                isinstance(side, cst.Call)
                and isinstance(side.func, cst.Attribute)
                and side.func.attr.value == "backward"
            ):
                return True
    for site in model.c.calls:
        call = site.node
        assert isinstance(call, cst.Call)
        if model.qualname(call.func) == "numpy.multiply" and any(
            isinstance(a.value, cst.Call)
            and isinstance(a.value.func, cst.Attribute)
            and a.value.func.attr.value == "backward"
            for a in call.args
        ):
            return True
    return False


def _trivial(model: ModuleModel, ret: cst.BaseExpression) -> bool:
    if isinstance(ret, cst.Name) and ret.value == "None":
        return True
    return isinstance(ret, cst.Call) and model.qualname(ret.func) in _ZEROS


def ignored_upstreams(model: ModuleModel) -> Iterator[IgnoredUpstream]:
    """Layer ``backward`` methods whose every returned value ignores the upstream gradient."""
    candidates = [
        fn for fn in model.c.scopes if fn.cls is not None and fn.name == "backward" and fn.returns
    ]
    if not candidates or _caller_multiplies(model):
        return
    for fn in candidates:
        assert fn.cls is not None
        bases = model.c.class_bases.get(fn.cls, [])
        if any(b.rsplit(".", 1)[-1] in ("Function", "Module") for b in bases):
            continue  # PyTorch: BP408 reads autograd Functions
        if not fn.params or fn.params[0] != "self":
            continue
        param = model.upstream_gradient_param(fn)
        required = _required(fn)
        if param is None or not required or required[0].name.value != param:
            continue
        forwards = list(model.c.methods("forward", fn.cls))
        if len(forwards) != 1 or len(_required(forwards[0])) != 1:
            continue
        if any(_trivial(model, r) for r in fn.returns):
            continue
        tainted = _tainted(fn, param)
        if any(_reads(r) & tainted for r in fn.returns):
            continue
        yield IgnoredUpstream(fn.returns[0], fn, param)
