"""In-place writes inside a ``torch.autograd.Function`` into tensors that are not the Function's
own: in ``backward``, the incoming gradient and the tensors ``forward`` saved from its inputs or
returned; in ``forward``, an input written after ``ctx.save_for_backward`` saved it.

What a tensor is comes from where it comes from: a parameter of ``backward`` after ``ctx`` is an
incoming gradient; an element of ``ctx.saved_tensors`` is what ``forward`` passed to
``save_for_backward`` at that position (an input of ``forward``, or a tensor it returns). A name
bound to such a tensor, or to a view of it (``.view``, ``.t()``, ``.detach()``, ``.data``...),
still holds it; any other binding (``.clone()``, arithmetic, ``.contiguous()``) ends it. A write is
an item or slice assignment, an augmented assignment (``+=`` on a tensor writes in place) or a
method whose name ends in ``_`` (``clamp_``, ``mul_``, ``masked_fill_``), on the name or its
``.data``. Tensors ``forward`` makes for itself and saves are left alone (a write into them
changes nothing the caller holds), and so is every input named in ``ctx.mark_dirty``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Binding, Scope
from linter.analysis.exprs import dotted, positional_args
from linter.analysis.torch_facts import FunctionSummary, facts

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

SAVED = ("saved_tensors", "saved_variables")
# calls that return a tensor sharing the receiver's memory
VIEWS = frozenset(
    {
        "view",
        "view_as",
        "detach",
        "t",
        "transpose",
        "permute",
        "squeeze",
        "unsqueeze",
        "expand",
        "expand_as",
        "narrow",
        "select",
        "unflatten",
    }
)
# trailing-underscore methods that do not write the tensor's values
NOT_WRITES = frozenset({"requires_grad_", "share_memory_", "detach_", "retain_grad_"})


@dataclass(frozen=True)
class InplaceWrite:
    fn: FunctionSummary
    node: cst.CSTNode  # the writing statement or call
    name: str  # the name written, as written
    kind: str  # "grad_output" | "saved input" | "saved output" | "input after save"
    source: str  # the incoming gradient's name, or the forward input / output saved
    origin: cst.CSTNode  # where the name got the tensor (save_for_backward for forward)
    index: int  # statement order in its method


class InplaceFacts:
    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self.tf = facts(model)
        self._found: list[InplaceWrite] | None = None

    def writes(self) -> list[InplaceWrite]:
        if self._found is None:
            self._found = []
            if self.tf.uses_torch:
                for fn in self.tf.functions():
                    self._found.extend(self._in_function(fn))
        return self._found

    # --- the two methods --------------------------------------------------------------------

    def _in_function(self, fn: FunctionSummary) -> list[InplaceWrite]:
        fwd, bwd = fn.forward, fn.backward
        if not fwd.params or not bwd.params:
            return []
        ctx_f = fwd.params[0]
        saves = [
            s.node
            for s in self.m.c.calls
            if s.scope is fwd
            and isinstance(s.node, cst.Call)
            and dotted(s.node.func) == f"{ctx_f}.save_for_backward"
        ]
        dirty = self._dirty(fwd, ctx_f)
        out: list[InplaceWrite] = []
        inputs = [p for p in fwd.params[1:] if p not in dirty]
        save = saves[0] if len(saves) == 1 else None
        saved = self._saved_kinds(fn, save, inputs) if save is not None else None
        out.extend(self._backward_writes(fn, saved))
        if save is not None:
            out.extend(self._forward_writes(fn, save, saved or []))
        return out

    def _dirty(self, fwd: Scope, ctx: str) -> set[str]:
        """Names passed to ``ctx.mark_dirty`` (None: everything, when an argument is not a
        plain name)."""
        out: set[str] = set()
        for s in self.m.c.calls:
            call = s.node
            if s.scope is fwd and isinstance(call, cst.Call):
                if dotted(call.func) == f"{ctx}.mark_dirty":
                    for a in call.args:
                        if isinstance(a.value, cst.Name) and not a.star:
                            out.add(a.value.value)
                        else:
                            return set(fwd.params)
        return out

    def _saved_kinds(
        self, fn: FunctionSummary, save: cst.Call, inputs: list[str]
    ) -> list[tuple[str, str] | None] | None:
        """Per position of ``save_for_backward``: (kind, name) for an untouched input of
        forward or a name forward returns; None for anything else. None when a starred
        argument hides the positions."""
        if any(a.star for a in save.args):
            return None
        index = self._index_of(save, fn.forward)
        returned = {
            el.value for r in fn.forward_returns for el in _elements(r) if isinstance(el, cst.Name)
        }
        out: list[tuple[str, str] | None] = []
        for arg in positional_args(save):
            kind: tuple[str, str] | None = None
            if isinstance(arg, cst.Name):
                x = arg.value
                rebound = [
                    b
                    for b in fn.forward.bindings.get(x, [])
                    if b.kind != "param" and b.index < index
                ]
                if x in inputs and not rebound:
                    kind = ("saved input", x)
                elif x in returned and x not in fn.forward.params:
                    kind = ("saved output", x)
            out.append(kind)
        return out

    def _index_of(self, node: cst.CSTNode, scope: Scope) -> int:
        for s in self.m.c.calls:
            if s.node is node and s.scope is scope:
                return s.index
        return -1

    def _backward_writes(
        self, fn: FunctionSummary, saved: list[tuple[str, str] | None] | None
    ) -> list[InplaceWrite]:
        bwd = fn.backward
        ctx = bwd.params[0]
        # name -> (origin binding, kind, source)
        held: dict[str, list[tuple[Binding, str, str]]] = {}
        for g in fn.grad_params:
            for b in bwd.bindings.get(g, []):
                if b.kind == "param":
                    held.setdefault(g, []).append((b, "grad_output", g))
        for key, bound in bwd.bindings.items():
            for b in bound:
                pos = _saved_position(b, ctx)
                if pos is None or saved is None:
                    continue
                if pos < 0:
                    pos += len(saved)
                if 0 <= pos < len(saved) and saved[pos] is not None:
                    kind, src = saved[pos]  # type: ignore[misc]
                    held.setdefault(key, []).append((b, kind, src))
        # aliases and views, to a fixpoint
        changed = True
        while changed:
            changed = False
            for key, bound in bwd.bindings.items():
                for b in bound:
                    if b.kind != "assign" or not isinstance(b.target, cst.Name) or b.value is None:
                        continue
                    base = _view_base(b.value)
                    if base is None or base not in held:
                        continue
                    if any(o is b for o, _, _ in held.get(key, [])):
                        continue
                    live = self._live(base, bwd, b.index)
                    for origin, kind, src in held[base]:
                        if origin is live:
                            held.setdefault(key, []).append((b, kind, src))
                            changed = True
        out: list[InplaceWrite] = []
        for name, origins in held.items():
            for node, index in self._writes(name, bwd):
                live = self._live(name, bwd, index)
                for origin, kind, src in origins:
                    if origin is live:
                        out.append(InplaceWrite(fn, node, name, kind, src, origin.stmt, index))
        return sorted(out, key=lambda w: w.index)

    def _forward_writes(
        self, fn: FunctionSummary, save: cst.Call, saved: list[tuple[str, str] | None]
    ) -> list[InplaceWrite]:
        fwd = fn.forward
        at = self._index_of(save, fwd)
        out: list[InplaceWrite] = []
        for entry in saved:
            if entry is None or entry[0] != "saved input":
                continue
            x = entry[1]
            for node, index in self._writes(x, fwd):
                if index <= at:
                    continue
                live = self._live(x, fwd, index)
                if live is not None and live.kind == "param":
                    out.append(InplaceWrite(fn, node, x, "input after save", x, save, index))
        return sorted(out, key=lambda w: w.index)

    # --- bindings ---------------------------------------------------------------------------

    def _live(self, name: str, scope: Scope, index: int) -> Binding | None:
        """The binding of ``name`` (not a write into it) last before statement ``index``."""
        params: list[Binding] = []
        best: Binding | None = None
        for b in scope.bindings.get(name, []):
            if b.kind == "aug" or isinstance(b.target, cst.Subscript):
                continue  # writes into the tensor, not a new binding
            if b.kind == "param":
                params.append(b)
            elif b.index < index and (best is None or b.index > best.index):
                best = b
        if best is None and params:
            return params[0]
        return best

    def _writes(self, name: str, scope: Scope) -> list[tuple[cst.CSTNode, int]]:
        out: list[tuple[cst.CSTNode, int]] = []
        for key in (name, f"{name}.data"):
            for b in scope.bindings.get(key, []):
                if isinstance(b.target, cst.Subscript) and b.kind in ("assign", "aug"):
                    out.append((b.stmt, b.index))
                elif b.kind == "aug" and key == name:
                    out.append((b.stmt, b.index))
        for s in self.m.c.calls:
            call = s.node
            if s.scope is not scope or not isinstance(call, cst.Call):
                continue
            f = call.func
            if not isinstance(f, cst.Attribute):
                continue
            meth = f.attr.value
            if not meth.endswith("_") or meth.startswith("_") or meth in NOT_WRITES:
                continue
            if dotted(f.value) in (name, f"{name}.data"):
                out.append((call, s.index))
        return out


def _saved_position(b: Binding, ctx: str) -> int | None:
    """Position in ``ctx.saved_tensors`` that binding ``b`` takes, if it takes one."""
    v = b.value
    if v is None or not isinstance(b.target, cst.Name):
        return None
    if b.kind == "unpack" and dotted(v) in {f"{ctx}.{s}" for s in SAVED}:
        return b.position
    if b.kind == "assign" and isinstance(v, cst.Subscript) and len(v.slice) == 1:
        if dotted(v.value) not in {f"{ctx}.{s}" for s in SAVED}:
            return None
        idx = v.slice[0].slice
        if isinstance(idx, cst.Index) and isinstance(idx.value, cst.Integer):
            return int(idx.value.value)
        if (
            isinstance(idx, cst.Index)
            and isinstance(idx.value, cst.UnaryOperation)
            and isinstance(idx.value.operator, cst.Minus)
            and isinstance(idx.value.expression, cst.Integer)
        ):
            return -int(idx.value.expression.value)
    return None


def _view_base(v: cst.BaseExpression) -> str | None:
    """``y`` for ``y``, ``y.data``, ``y.view(...)``, ``y.t()``, ``y.T``: a tensor sharing
    ``y``'s memory."""
    while True:
        if isinstance(v, cst.Name):
            return v.value
        if isinstance(v, cst.Attribute) and v.attr.value in ("data", "T", "mT"):
            v = v.value
            continue
        if (
            isinstance(v, cst.Call)
            and isinstance(v.func, cst.Attribute)
            and v.func.attr.value in VIEWS
        ):
            v = v.func.value
            continue
        return None


def _elements(ret: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(ret, cst.Tuple):
        return [e.value for e in ret.elements]
    return [ret]


_facts: weakref.WeakKeyDictionary[ModuleModel, InplaceFacts] = weakref.WeakKeyDictionary()


def inplace(model: ModuleModel) -> InplaceFacts:
    found = _facts.get(model)
    if found is None:
        found = _facts[model] = InplaceFacts(model)
    return found
