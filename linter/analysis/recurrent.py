"""Backpropagation through time: loops over time steps and what they carry from step to step.

A *BPTT loop* is a ``for t in <range over time steps>`` loop that accumulates into arrays
initialised to zero before it (``dW = np.zeros_like(W)`` … ``dW += …``): the gradient of a weight
shared across steps is the sum of every step's contribution. Facts about such loops are decided
from structure alone (the range, which indices are read, what is bound before the loop and never
again, which weight an accumulator is the gradient of), never from names:

- ``stale_carries``: a value the loop computes every step and never reads (``dh_prev = …``) while
  the loop reads a zero array bound once before it and never again (``dh_next``): the gradient
  never reaches the earlier steps;
- ``wraparounds``: ``S[t - 1]`` where ``t`` reaches 0 and ``S`` is a list or an array (so index
  ``-1`` is its *last* element, not the initial state);
- ``short_loops``: a loop that starts at ``len(S) - 2`` going down, so the last step's
  contribution never reaches the accumulated gradients;
- ``uncarried_recurrences``: a recurrent weight (its gradient takes the previous state ``S[t - 1]``)
  that the loop never multiplies by, although it carries a gradient from step to step.

- ``one_step_gradients``: a gradient bound together with others before a time loop, which the
  loop sums from ``S[t] ⊗ …`` (``S`` a sequence the backward pass fills step by step), while it
  is itself assigned after the loop from one element ``S[-1]``: a weight shared by every step
  gets one step's contribution.

Gates (an LSTM's or a GRU's, not only inside loops):

- ``misrouted_gate_biases``: several weight gradients formed from one shared operand and one
  delta each (``dWf = df @ z.T``, ``dWi = di @ z.T``, …: the gates of one layer), with as many bias
  gradients taken from those deltas (``dbf = df``); one delta feeds two bias gradients while the
  delta of the weight gradient just above one of them feeds none: that bias gets another gate's
  delta.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Binding, Scope
from linter.analysis.exprs import dotted, int_value, positional_args
from linter.analysis.treewalk import walk

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

ZEROS = frozenset({"numpy.zeros", "numpy.zeros_like"})
ARRAY_MAKERS = frozenset(
    {
        "numpy.zeros",
        "numpy.zeros_like",
        "numpy.empty",
        "numpy.empty_like",
        "numpy.ones",
        "numpy.array",
        "numpy.stack",
        "numpy.vstack",
        "numpy.hstack",
        "numpy.concatenate",
    }
)


@dataclass(eq=False)
class TimeLoop:
    """A ``for t in range(...)`` loop of a function that accumulates into zero-initialised arrays."""

    node: cst.For
    scope: Scope
    var: str
    covers_zero: bool
    short_start: cst.BaseExpression | None  # ``len(S) - 2`` (descending): the last step skipped
    short_seq: str | None  # the sequence whose length it is
    accumulators: dict[str, list[Binding]] = field(default_factory=dict)  # key -> its += in loop
    zero_inits: dict[str, Binding] = field(default_factory=dict)  # key -> ``zeros`` before loop


@dataclass(frozen=True)
class Finding:
    """A fact a rule reports: the node, what it is, and the evidence (node, text)."""

    node: cst.CSTNode
    subject: str
    other: str
    evidence: tuple[tuple[cst.CSTNode, str], ...]


# --- small structural helpers ----------------------------------------------------------------


def _is_name(node: cst.BaseExpression | None, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _call_name(node: cst.BaseExpression) -> str | None:
    return (
        node.func.value if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) else None
    )


def _range_args(node: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    if _call_name(node) == "range" and isinstance(node, cst.Call):
        args = positional_args(node)
        if 1 <= len(args) <= 3 and len(args) == len(node.args):
            return args
    return None


def _minus(node: cst.BaseExpression, k: int) -> cst.BaseExpression | None:
    """``E - k`` -> E."""
    if (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, cst.Subtract)
        and int_value(node.right) == k
    ):
        return node.left
    return None


class _Nodes(cst.CSTVisitor):
    """Every node under a statement, without entering nested functions, classes or lambdas."""

    def __init__(self) -> None:
        self.names: list[cst.Name] = []
        self.attrs: list[cst.Attribute] = []
        self.subscripts: list[cst.Subscript] = []
        self.calls: list[cst.Call] = []
        self.ifs: list[cst.CSTNode] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attrs.append(node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        self.subscripts.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_If(self, node: cst.If) -> None:
        self.ifs.append(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.ifs.append(node.test)

    def visit_While(self, node: cst.While) -> None:
        self.ifs.append(node.test)


def _nodes(node: cst.CSTNode) -> _Nodes:
    v = _Nodes()
    if isinstance(node, cst.FunctionDef):
        walk(node.body, v)
    else:
        walk(node, v)
    return v


def _keys(node: cst.CSTNode) -> set[str]:
    """Names and dotted attributes (``self.Whh``) that occur under ``node``."""
    v = _nodes(node)
    out = {n.value for n in v.names}
    out |= {k for a in v.attrs if (k := dotted(a)) is not None}
    return out


def _in_loop(b: Binding, loop: cst.For) -> bool:
    return loop in b.loops


# --- the loops --------------------------------------------------------------------------------


def _length_of(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> str | None:
    """The sequence ``S`` when ``node`` is ``len(S)``, ``S.shape[k]`` or a name bound once to one."""
    if depth > 2:
        return None
    if _call_name(node) == "len" and isinstance(node, cst.Call):
        args = positional_args(node)
        return dotted(args[0]) if len(args) == 1 else None
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute):
        if node.value.attr.value == "shape":
            return dotted(node.value.value)
    if isinstance(node, cst.Name):
        bindings = scope.bindings.get(node.value, [])
        if len(bindings) == 1 and bindings[0].kind == "assign" and bindings[0].value is not None:
            return _length_of(model, bindings[0].value, scope, depth + 1)
    return None


def _classify(
    model: ModuleModel, it: cst.BaseExpression, scope: Scope
) -> tuple[bool, cst.BaseExpression | None, str | None] | None:
    """(covers 0, start of a descending loop that begins at len(S) - 2, S) for a range loop."""
    if _call_name(it) == "reversed" and isinstance(it, cst.Call):
        args = positional_args(it)
        inner = _range_args(args[0]) if len(args) == 1 else None
        if inner is None or len(inner) == 3:
            return None
        start = inner[0] if len(inner) == 2 else None
        if start is not None and int_value(start) != 0:
            return False, None, None
        stop = inner[-1]
        base = _minus(stop, 1)
        seq = _length_of(model, base, scope) if base is not None else None
        return True, (stop if seq else None), seq
    args = _range_args(it)
    if args is None:
        return None
    if len(args) == 1:
        return True, None, None
    step = int_value(args[2]) if len(args) == 3 else 1
    if step is None:
        return None
    if step > 0:
        return int_value(args[0]) == 0, None, None
    covers = int_value(args[1]) == -1
    base = _minus(args[0], 2)
    seq = _length_of(model, base, scope) if base is not None and step == -1 else None
    return covers, (args[0] if seq and covers else None), seq


def time_loops(model: ModuleModel) -> list[TimeLoop]:
    """Every BPTT-like loop of the module (memoised on the model)."""
    memo = model.lasting.get("recurrent.time_loops")
    if memo is not None:
        return memo  # type: ignore[return-value]
    out: list[TimeLoop] = []
    for scope in model.c.scopes:
        if scope.is_module and not scope.bindings:
            continue
        for loop in scope.fors:
            if not isinstance(loop.target, cst.Name):
                continue
            kind = _classify(model, loop.iter, scope)
            if kind is None:
                continue
            tl = TimeLoop(loop, scope, loop.target.value, kind[0], kind[1], kind[2])
            for key, bindings in scope.bindings.items():
                aug = [
                    b
                    for b in bindings
                    if b.kind == "aug" and b.op == "AddAssign" and _in_loop(b, loop)
                ]
                if not aug:
                    continue
                inits = [
                    b
                    for b in bindings
                    if b.kind == "assign"
                    and not b.loops
                    and b.value is not None
                    and isinstance(b.value, cst.Call)
                    and model.qualname(b.value.func) in ZEROS
                    and b.index < min(a.index for a in aug)
                ]
                if inits:
                    tl.accumulators[key] = aug
                    tl.zero_inits[key] = inits[-1]
            if tl.accumulators:
                out.append(tl)
    model.lasting["recurrent.time_loops"] = out
    return out


# --- a carry never updated --------------------------------------------------------------------


def _library_call(model: ModuleModel, call: cst.Call) -> bool:
    q = model.qualname(call.func)
    if q is not None and q.split(".")[0] in ("numpy", "math"):
        return True
    if isinstance(call.func, cst.Attribute) and call.func.attr.value in (
        "copy",
        "dot",
        "sum",
        "mean",
        "reshape",
    ):
        return True
    return isinstance(call.func, cst.Name) and call.func.value in (
        "len",
        "range",
        "float",
        "int",
        "abs",
    )


def stale_carries(model: ModuleModel) -> Iterator[Finding]:
    """A value computed in the loop and never read, while the loop reads a zero array that is
    bound once before the loop and never changed."""
    for tl in time_loops(model):
        scope, loop = tl.scope, tl.node
        body = _nodes(loop.body)
        loop_reads = {n.value for n in body.names}
        whole = _nodes(scope.node)
        read_counts: dict[str, int] = {}
        for n in whole.names:
            read_counts[n.value] = read_counts.get(n.value, 0) + 1
        carries: list[tuple[str, Binding]] = []
        for key, bindings in scope.bindings.items():
            if "." in key or key not in loop_reads or key in tl.accumulators:
                continue
            if len(bindings) != 1:
                continue
            b = bindings[0]
            if b.kind != "assign" or b.loops or not isinstance(b.value, cst.Call):
                continue
            if model.qualname(b.value.func) not in ZEROS:
                continue
            if not _only_read(model, key, whole):
                continue
            carries.append((key, b))
        if not carries:
            continue
        for key, bindings in scope.bindings.items():
            if "." in key or key in tl.accumulators:
                continue
            if not bindings or not all(b.kind == "assign" and _in_loop(b, loop) for b in bindings):
                continue
            if any(isinstance(b.target, cst.Subscript) for b in bindings):
                continue
            # bound only here: every occurrence of the name is one of its targets
            if read_counts.get(key, 0) != len(bindings):
                continue
            if key in scope.params:
                continue
            b = bindings[-1]
            if b.value is None or not (_keys(b.value) & (set(tl.accumulators) | loop_reads)):
                continue
            names = ", ".join(f"`{k}`" for k, _ in carries)
            evidence = (
                *(
                    (
                        cb.stmt,
                        f"`{k}` is bound to zeros here and never reassigned; the loop reads it",
                    )
                    for k, cb in carries
                ),
                (loop, "the loop over time steps"),
            )
            yield Finding(b.stmt, key, names, evidence)


def _only_read(model: ModuleModel, key: str, whole: _Nodes) -> bool:
    """``key`` is never mutated in place: not passed to a call other than a numpy one, not the
    target of a subscript store or a method call."""
    for call in whole.calls:
        for a in call.args:
            if _is_name(a.value, key):
                if a.keyword is not None and a.keyword.value == "out":
                    return False
                if not _library_call(model, call):
                    return False
        if isinstance(call.func, cst.Attribute) and _is_name(call.func.value, key):
            if call.func.attr.value not in ("copy", "dot", "sum", "mean", "reshape", "T"):
                return False
    return True


# --- S[t - 1] at t = 0 ------------------------------------------------------------------------


def _seq_kind(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> str | None:
    """ "list", "array" or "dict" (or None: unknown) for a container, followed through local
    bindings, tuple returns of local functions and resolved call sites."""
    if depth > 4:
        return None
    if isinstance(node, cst.List | cst.ListComp):
        return "list"
    if isinstance(node, cst.Dict | cst.DictComp):
        return "dict"
    if isinstance(node, cst.Call):
        q = model.qualname(node.func)
        if q in ARRAY_MAKERS:
            return "array"
        name = _call_name(node)
        if name == "list":
            return "list"
        if name == "dict":
            return "dict"
        return _returned_kind(model, node, scope, None, depth)
    key = dotted(node)
    if isinstance(node, cst.Attribute) and key and key.startswith("self.") and scope.cls:
        # an attribute of the instance: every method of the class that binds it
        bindings = [b for s in model.c.class_scopes(scope.cls) for b in s.bindings.get(key, [])]
        return _kind_of_bindings(model, bindings, node, scope, depth)
    if isinstance(node, cst.Name):
        bindings = scope.bindings.get(node.value, [])
        return _kind_of_bindings(model, bindings, node, scope, depth)
    return None


def _kind_of_bindings(
    model: ModuleModel, bindings: list[Binding], node: cst.BaseExpression, scope: Scope, depth: int
) -> str | None:
    kinds: set[str | None] = set()
    for b in bindings:
        if b.kind == "append":
            kinds.add("list")
        elif b.kind == "aug" or (b.kind == "assign" and isinstance(b.target, cst.Subscript)):
            continue
        elif b.kind == "assign" and b.value is not None:
            kinds.add(_seq_kind(model, b.value, scope, depth + 1))
        elif b.kind == "unpack" and isinstance(b.value, cst.Call):
            kinds.add(_returned_kind(model, b.value, scope, b.position, depth))
        elif b.kind == "param" and isinstance(node, cst.Name):
            kinds.add(_param_kind(model, node.value, scope, depth))
        else:
            kinds.add(None)
    if "dict" in kinds:
        return "dict"
    return kinds.pop() if len(kinds) == 1 else None


def _returned_kind(
    model: ModuleModel, call: cst.Call, scope: Scope, position: int | None, depth: int
) -> str | None:
    fn = model.local_function(call.func, scope)
    if fn is None and isinstance(call.func, cst.Attribute):
        candidates = model.c.functions.get(call.func.attr.value, [])
        if len(candidates) == 1 and candidates[0].cls is not None:
            fn = candidates[0]
    if fn is None or not fn.returns:
        return None
    kinds = set()
    for r in fn.returns:
        if position is None:
            kinds.add(_seq_kind(model, r, fn, depth + 1))
        elif isinstance(r, cst.Tuple) and -len(r.elements) <= position < len(r.elements):
            kinds.add(_seq_kind(model, r.elements[position].value, fn, depth + 1))
        else:
            kinds.add(None)
    return kinds.pop() if len(kinds) == 1 else None


def _param_kind(model: ModuleModel, name: str, fn: Scope, depth: int) -> str | None:
    args = list(model.arguments_for(name, fn))
    if not args and fn.cls is not None and len(model.c.functions.get(fn.name, [])) == 1:
        params = [p for p in fn.params if p not in ("self", "cls")]
        for site in model.c.calls:
            call = site.node
            if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
                continue
            if call.func.attr.value != fn.name or _is_name(call.func.value, "self"):
                continue
            for i, a in enumerate(call.args):
                if a.star:
                    break
                if (a.keyword is not None and a.keyword.value == name) or (
                    a.keyword is None and i < len(params) and params[i] == name
                ):
                    args.append((a.value, site.scope))
    if not args:
        return None
    kinds = {_seq_kind(model, a, s, depth + 1) for a, s in args}
    return kinds.pop() if len(kinds) == 1 else None


def _store_at_minus_one(model: ModuleModel) -> bool:
    """Somewhere the module stores at index -1 (``hs[-1] = h0``): the initial state may live there."""
    memo = model.lasting.get("recurrent.store_minus_one")
    if memo is None:
        memo = False
        for site in model.c.subscript_assigns:
            node = site.node
            targets = []
            if isinstance(node, cst.Assign):
                targets = [t.target for t in node.targets]
            elif isinstance(node, cst.AugAssign | cst.AnnAssign):
                targets = [node.target]
            elif isinstance(node, cst.Subscript):
                targets = [node]
            for t in targets:
                if isinstance(t, cst.Subscript):
                    for el in t.slice:
                        s = el.slice
                        if isinstance(s, cst.Index) and int_value(s.value) == -1:
                            memo = True
        model.lasting["recurrent.store_minus_one"] = memo
    return bool(memo)


def _prev_index(sub: cst.Subscript, var: str) -> bool:
    """``S[t - 1]`` or ``S[t - 1, ...]`` / ``S[:, t - 1]`` (an index of exactly ``t - 1``)."""
    for el in sub.slice:
        s = el.slice
        if isinstance(s, cst.Index) and _is_name(_minus(s.value, 1), var):
            return True
    return False


class _Products(cst.CSTVisitor):
    """Nodes that are operands of a product (``*``, ``@``, ``dot``, ``outer``, ``matmul``)."""

    def __init__(self) -> None:
        self.inside: set[cst.CSTNode] = set()
        self._depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def _product(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.BinaryOperation):
            return isinstance(node.operator, cst.Multiply | cst.MatrixMultiply)
        if isinstance(node, cst.Call):
            f = node.func
            name = (
                f.attr.value
                if isinstance(f, cst.Attribute)
                else f.value
                if isinstance(f, cst.Name)
                else ""
            )
            return name in ("dot", "outer", "matmul", "multiply")
        return False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._product(node):
            self._depth += 1
        if self._depth:
            self.inside.add(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self._product(original_node):
            self._depth -= 1
        super().on_leave(original_node)


def _product_operands(node: cst.CSTNode) -> set[cst.CSTNode]:
    v = _Products()
    walk(node, v)
    return v.inside


def _feeds_product(sub: cst.Subscript, tl: TimeLoop, inside: set[cst.CSTNode]) -> bool:
    """``S[t - 1]`` is a factor of a product, directly or through a name bound to it in the loop."""
    if sub in inside:
        return True
    for key, bindings in tl.scope.bindings.items():
        if "." in key:
            continue
        if any(b.value is sub and _in_loop(b, tl.node) for b in bindings):
            return any(isinstance(n, cst.Name) and n.value == key for n in inside)
    return False


def wraparounds(model: ModuleModel) -> Iterator[Finding]:
    if _store_at_minus_one(model):
        return
    for tl in time_loops(model):
        if not tl.covers_zero:
            continue
        body = _nodes(tl.node.body)
        if any(tl.var in _keys(test) for test in body.ifs):
            continue  # the first step is handled apart
        in_products = _product_operands(tl.node.body)
        for sub in body.subscripts:
            if not _prev_index(sub, tl.var):
                continue
            if not _feeds_product(sub, tl, in_products):
                continue
            # a list: index -1 is its last element (an array may hold the initial state in a
            # spare last row, so arrays are left alone)
            if _seq_kind(model, sub.value, tl.scope) != "list":
                continue
            what = "list"
            yield Finding(
                sub,
                model.src(sub),
                what,
                (
                    (
                        tl.node,
                        f"`{tl.var}` runs down to 0 here, where `{model.src(sub)}` is the {what}'s last element",
                    ),
                ),
            )


# --- the last step skipped --------------------------------------------------------------------


def short_loops(model: ModuleModel) -> Iterator[Finding]:
    for tl in time_loops(model):
        if tl.short_start is None or tl.short_seq is None:
            continue
        body = _nodes(tl.node.body)
        if any(tl.var in _keys(test) for test in body.ifs):
            continue
        indexed_now = False
        shifted = False
        for sub in body.subscripts:
            for el in sub.slice:
                s = el.slice
                if not isinstance(s, cst.Index):
                    continue
                if _is_name(s.value, tl.var):
                    indexed_now = True
                elif (
                    isinstance(s.value, cst.BinaryOperation)
                    and isinstance(s.value.operator, cst.Add)
                    and tl.var in _keys(s.value)
                ):
                    shifted = True
        if not indexed_now or shifted:
            continue
        # every accumulator gets its contributions in this loop only
        outside = [
            b
            for key in tl.accumulators
            for b in tl.scope.bindings.get(key, [])
            if b.kind == "aug" and not _in_loop(b, tl.node)
        ]
        if outside:
            continue
        accs = ", ".join(f"`{k}`" for k in sorted(tl.accumulators))
        yield Finding(
            tl.node.iter,
            model.src(tl.node.iter),
            accs,
            tuple(
                (tl.zero_inits[k].stmt, f"`{k}` starts at zero and is summed only in this loop")
                for k in sorted(tl.accumulators)
            )[:3],
        )


# --- the recurrent Jacobian left out ----------------------------------------------------------


def uncarried_recurrences(model: ModuleModel) -> Iterator[Finding]:
    for tl in time_loops(model):
        scope, loop = tl.scope, tl.node
        body = _nodes(loop.body)
        if any(not _library_call(model, c) for c in body.calls):
            continue  # a helper could apply the weight
        body_keys = _keys(loop.body)
        for key, augs in tl.accumulators.items():
            init = tl.zero_inits[key].value
            assert isinstance(init, cst.Call)
            if model.qualname(init.func) != "numpy.zeros_like":
                continue
            args = positional_args(init)
            weight = dotted(args[0]) if len(args) == 1 else None
            if weight is None or weight in body_keys:
                continue
            # the weight under another spelling (``Wh = params[1]`` ... ``params[1].T``)
            sources = {
                k
                for b in scope.bindings.get(weight, [])
                if b.value is not None and b.kind in ("assign", "unpack")
                for k in _keys(b.value)
            }
            if sources & body_keys:
                continue
            prev = [
                sub
                for b in augs
                if b.value is not None
                for sub in _nodes(b.value).subscripts
                if _prev_index(sub, tl.var)
            ]
            if not prev:
                continue
            # a gradient carried from step to step that feeds this accumulator
            fed = set().union(*(_keys(b.value) for b in augs if b.value is not None))
            todo = list(fed)
            while todo:
                k = todo.pop()
                for b in scope.bindings.get(k, []):
                    if _in_loop(b, loop) and b.value is not None and b.kind == "assign":
                        for k2 in _keys(b.value) - fed:
                            fed.add(k2)
                            todo.append(k2)
            for ckey, bindings in scope.bindings.items():
                if ckey not in fed or ckey == key or "." in ckey:
                    continue
                inside = [b for b in bindings if _in_loop(b, loop) and b.kind in ("aug", "assign")]
                before = [b for b in bindings if not b.loops and b.index < _first_index(tl)]
                if not inside or not before:
                    continue
                b = inside[-1]
                yield Finding(
                    b.stmt,
                    ckey,
                    weight,
                    (
                        (tl.zero_inits[key].stmt, f"`{key}` is the gradient of `{weight}`"),
                        (
                            augs[0].stmt,
                            f"`{weight}` multiplies the previous state `{model.src(prev[0])}`: it is the recurrent weight",
                        ),
                    ),
                )
                break


def _first_index(tl: TimeLoop) -> int:
    return min(b.index for augs in tl.accumulators.values() for b in augs)


# --- a gate's bias gradient from another gate's delta -----------------------------------------


def _product_operands2(
    model: ModuleModel, node: cst.BaseExpression
) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """(left, right) of ``a @ b``, ``np.dot(a, b)``, ``np.outer(a, b)``, ``np.matmul(a, b)`` or
    ``a.dot(b)``."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
        return node.left, node.right
    if not isinstance(node, cst.Call) or len(node.args) != len(positional_args(node)):
        return None
    args = positional_args(node)
    q = model.qualname(node.func)
    if q in ("numpy.dot", "numpy.outer", "numpy.matmul") and len(args) == 2:
        return args[0], args[1]
    if (
        isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "dot"
        and q is None
        and len(args) == 1
    ):
        return node.func.value, args[0]
    return None


def _summed(model: ModuleModel, node: cst.BaseExpression) -> cst.BaseExpression:
    """``X`` for ``np.sum(X, ...)`` / ``X.sum(...)`` (a bias gradient over a batch), else node."""
    if isinstance(node, cst.Call):
        args = positional_args(node)
        if model.qualname(node.func) == "numpy.sum" and args:
            return args[0]
        if (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "sum"
            and model.qualname(node.func) is None
        ):
            return node.func.value
    return node


class _Reads(cst.CSTVisitor):
    """Names read in a scope, and which of those reads only gather values (a returned name, an
    element of a tuple or list that is returned or assigned): a gathered name is handed on, not
    computed with."""

    def __init__(self) -> None:
        self.reads: dict[str, int] = {}
        self.gathered: dict[str, int] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Tuple | cst.List):
            self._gather(node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> bool:
        walk(node.value, self)
        return False

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self._gather(node.value)

    def _gather(self, node: cst.BaseExpression) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, cst.Tuple | cst.List):
                stack.extend(
                    el.value for el in n.elements if not isinstance(el, cst.StarredElement)
                )
            elif isinstance(n, cst.Name):
                self.gathered[n.value] = self.gathered.get(n.value, 0) + 1

    def visit_Name(self, node: cst.Name) -> None:
        self.reads[node.value] = self.reads.get(node.value, 0) + 1


def _scope_reads(model: ModuleModel, scope: Scope) -> _Reads:
    memo: dict[Scope, _Reads] = model.memo.setdefault("recurrent.reads", {})  # type: ignore[assignment]
    got = memo.get(scope)
    if got is None:
        got = memo[scope] = _Reads()
        walk(scope.node.body if isinstance(scope.node, cst.FunctionDef) else scope.node, got)
    return got


@dataclass(frozen=True)
class _GateGrad:
    binding: Binding
    delta: str  # the delta's source text
    roots: frozenset[str]  # the names it reads


def _delta_roots(node: cst.BaseExpression) -> frozenset[str]:
    return frozenset(_keys(node))


def misrouted_gate_biases(model: ModuleModel) -> Iterator[Finding]:
    for scope in model.c.scopes:
        if scope.is_module and not scope.bindings:
            continue
        weights: dict[tuple[int, str], list[_GateGrad]] = {}
        plain: list[_GateGrad] = []
        for bindings in scope.bindings.values():
            for b in bindings:
                if b.kind not in ("assign", "aug") or b.value is None:
                    continue
                if b.kind == "aug" and b.op != "AddAssign":
                    continue
                ops = _product_operands2(model, b.value)
                if ops is not None:
                    for pos in (0, 1):
                        delta, shared = ops[pos], ops[1 - pos]
                        g = _GateGrad(b, model.src(delta), _delta_roots(delta))
                        weights.setdefault((pos, model.src(shared)), []).append(g)
                    continue
                value = _summed(model, b.value)
                if not isinstance(value, cst.Name | cst.Attribute | cst.Subscript):
                    continue
                if b.kind == "assign" and not isinstance(b.target, cst.Name):
                    continue
                if b.kind == "aug" and not isinstance(b.target, cst.Name | cst.Attribute):
                    continue
                plain.append(_GateGrad(b, model.src(value), _delta_roots(value)))
        if not plain:
            continue
        yield from _misrouted_in(model, scope, weights, plain)


def _misrouted_in(
    model: ModuleModel,
    scope: Scope,
    weights: dict[tuple[int, str], list[_GateGrad]],
    plain: list[_GateGrad],
) -> Iterator[Finding]:
    reads: _Reads | None = None  # walked for only when a candidate needs it
    reported: set[cst.CSTNode] = set()
    for (_pos, shared), products in weights.items():
        deltas = {g.delta for g in products}
        if len(deltas) < 2 or len(products) != len(deltas):
            continue  # one weight gradient per gate
        if any(g.delta == shared for g in products):
            continue
        biases = []
        for p in plain:
            if p.delta not in deltas:
                continue
            if p.binding.kind == "assign":
                name = dotted(p.binding.target)
                assert name is not None
                # a bias gradient is handed on (returned, gathered), never computed with
                if reads is None:
                    reads = _scope_reads(model, scope)
                if reads.reads.get(name, 0) != reads.gathered.get(name, 0):
                    continue
                if len(scope.bindings.get(name, [])) != 1:
                    continue
            biases.append(p)
        if len(biases) != len(deltas):
            continue
        counts = {d: sum(1 for p in biases if p.delta == d) for d in deltas}
        if not any(c == 0 for c in counts.values()):
            continue
        # the layout pairs them: every weight gradient is followed at once by one bias gradient
        after = {g.binding.index + 1 for g in products}
        if {p.binding.index for p in biases} != after or len(after) != len(biases):
            continue
        ordered = sorted(products, key=lambda g: g.binding.index)
        for p in biases:
            if counts[p.delta] < 2 or p.binding.stmt in reported:
                continue
            near = next(g for g in ordered if g.binding.index + 1 == p.binding.index)
            if near.delta == p.delta or counts[near.delta] != 0:
                continue
            if _rebound_between(scope, near.roots | p.roots, near.binding.index, p.binding.index):
                continue
            own = next(g for g in ordered if g.delta == p.delta)
            reported.add(p.binding.stmt)
            yield Finding(
                p.binding.stmt,
                p.delta,
                near.delta,
                (
                    (
                        near.binding.stmt,
                        f"the weight gradient just above is formed from `{near.delta}`, which no bias gradient uses",
                    ),
                    (
                        own.binding.stmt,
                        f"`{p.delta}` is the delta of this weight gradient, and of another bias gradient",
                    ),
                ),
            )


def _rebound_between(scope: Scope, roots: frozenset[str], lo: int, hi: int) -> bool:
    """A name in ``roots`` is bound by a statement strictly between statements ``lo`` and ``hi``."""
    return any(
        lo < b.index < hi
        for k in roots
        for b in scope.bindings.get(k, [])
        if b.kind not in ("param", "for")
    )


# --- a shared weight's gradient from one step -------------------------------------------------


def _descending(it: cst.BaseExpression) -> bool:
    """``reversed(range(...))`` or ``range(a, b, -k)``."""
    if _call_name(it) == "reversed" and isinstance(it, cst.Call):
        args = positional_args(it)
        return len(args) == 1 and _range_args(args[0]) is not None
    args = _range_args(it)
    return args is not None and len(args) == 3 and (int_value(args[2]) or 0) < 0


def _index_name(sub: cst.Subscript) -> cst.BaseExpression | None:
    """The index of ``S[i]`` (one plain index), else None."""
    if len(sub.slice) != 1 or not isinstance(sub.slice[0].slice, cst.Index):
        return None
    return sub.slice[0].slice.value


def _descending_params(model: ModuleModel) -> dict[Scope, set[str]]:
    """For each function, the parameters some call passes the variable of a descending loop
    over time steps (``for k in range(T, 0, -1): self.step(k)``)."""
    memo = model.memo.get("recurrent.descending_params")
    if memo is not None:
        return memo  # type: ignore[return-value]
    out: dict[Scope, set[str]] = {}
    for site in model.c.calls:
        call = site.node
        assert isinstance(call, cst.Call)
        loops = [
            lp
            for lp in site.loops
            if isinstance(lp, cst.For) and isinstance(lp.target, cst.Name) and _descending(lp.iter)
        ]
        if not loops:
            continue
        func = call.func
        if not (
            isinstance(func, cst.Name)
            or (isinstance(func, cst.Attribute) and _is_name(func.value, "self"))
        ):
            continue
        callee = model.local_function(func, site.scope)
        if callee is None:
            continue
        params = [p for p in callee.params if p not in ("self", "cls")]
        for i, a in enumerate(call.args):
            if a.star or a.keyword is not None or i >= len(params):
                break
            if any(_is_name(a.value, lp.target.value) for lp in loops):  # type: ignore[union-attr]
                out.setdefault(callee, set()).add(params[i])
    model.memo["recurrent.descending_params"] = out
    return out


def _backward_sequences(model: ModuleModel, scope: Scope) -> set[str]:
    """Sequences stored step by step backwards: ``S[k] = …`` where ``k`` is the variable of a
    descending loop, or a parameter a descending loop passes its variable to; an instance's
    ``self.S`` counts in every method of its class."""
    by_desc = _descending_params(model)
    out: set[str] = set()
    scopes = [scope]
    if scope.cls is not None:
        scopes = list(model.c.class_scopes(scope.cls))
    for sc in scopes:
        passed = by_desc.get(sc, set())
        for key, bindings in sc.bindings.items():
            if sc is not scope and not key.startswith("self."):
                continue
            for b in bindings:
                if b.kind != "assign" or not isinstance(b.target, cst.Subscript):
                    continue
                idx = _index_name(b.target)
                if not isinstance(idx, cst.Name):
                    continue
                if idx.value in passed or any(
                    isinstance(lp, cst.For)
                    and _is_name(lp.target, idx.value)
                    and _descending(lp.iter)
                    for lp in b.loops
                ):
                    out.add(key)
    return out


def _step_operands(
    model: ModuleModel, value: cst.BaseExpression, var: str
) -> Iterator[tuple[str, cst.Subscript]]:
    """``(S, S[var])`` for each product in ``value`` that has ``S[var]`` as a direct operand."""
    for node in dict.fromkeys([value, *_nodes(value).calls, *_binops(value)]):
        ops = _product_operands2(model, node)
        if ops is None:
            continue
        for op in ops:
            base = op.value if isinstance(op, cst.Attribute) and op.attr.value == "T" else op
            if isinstance(base, cst.Subscript) and _is_name(_index_name(base), var):
                key = dotted(base.value)
                if key is not None:
                    yield key, base


def _binops(node: cst.CSTNode) -> list[cst.BinaryOperation]:
    found: list[cst.BinaryOperation] = []

    class _V(cst.CSTVisitor):
        def visit_BinaryOperation(self, n: cst.BinaryOperation) -> None:
            found.append(n)

    walk(node, _V())
    return found


def _summed_step_terms(
    model: ModuleModel, scope: Scope, loop: cst.For, b: Binding
) -> Iterator[tuple[str, cst.CSTNode]]:
    """Sequences ``S`` whose element ``S[t]`` (``t`` the loop's variable) is a factor of a product
    the accumulation ``b`` (``G += v``) adds: in ``v``, in a name bound to one in the loop, or in
    a helper called with ``t`` whose returned element ``v`` unpacks is one."""
    assert isinstance(loop.target, cst.Name) and b.value is not None
    var = loop.target.value
    yield from _step_operands(model, b.value, var)
    if not isinstance(b.value, cst.Name):
        return
    for vb in scope.bindings.get(b.value.value, []):
        if not _in_loop(vb, loop) or vb.value is None:
            continue
        if vb.kind == "assign":
            yield from _step_operands(model, vb.value, var)
        elif vb.kind == "unpack" and isinstance(vb.value, cst.Call):
            yield from _returned_step_terms(model, scope, vb.value, vb.position, var)


def _returned_step_terms(
    model: ModuleModel, scope: Scope, call: cst.Call, position: int, var: str
) -> Iterator[tuple[str, cst.CSTNode]]:
    func = call.func
    if not (
        isinstance(func, cst.Name)
        or (isinstance(func, cst.Attribute) and _is_name(func.value, "self"))
    ):
        return
    callee = model.local_function(func, scope)
    if callee is None or len(callee.returns) != 1:
        return
    params = [p for p in callee.params if p not in ("self", "cls")]
    inner = None
    for i, a in enumerate(call.args):
        if a.star or a.keyword is not None or i >= len(params):
            return
        if _is_name(a.value, var):
            inner = params[i]
    ret = callee.returns[0]
    if inner is None or not isinstance(ret, cst.Tuple):
        return
    if not -len(ret.elements) <= position < len(ret.elements):
        return
    el = ret.elements[position].value
    values = [el]
    if isinstance(el, cst.Name):
        bs = callee.bindings.get(el.value, [])
        if len(bs) != 1 or bs[0].kind != "assign" or bs[0].value is None:
            return
        values = [bs[0].value]
    for v in values:
        for key, sub in _step_operands(model, v, inner):
            if key.startswith("self."):
                yield key, sub


def one_step_gradients(model: ModuleModel) -> Iterator[Finding]:
    for scope in model.c.scopes:
        if scope.is_module and not scope.bindings:
            continue
        for loop in scope.fors:
            if not isinstance(loop.target, cst.Name) or _range_args_any(loop.iter) is None:
                continue
            yield from _one_step_in(model, scope, loop)


def _range_args_any(it: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    if _call_name(it) == "reversed" and isinstance(it, cst.Call):
        args = positional_args(it)
        return _range_args(args[0]) if len(args) == 1 else None
    return _range_args(it)


def _one_step_in(model: ModuleModel, scope: Scope, loop: cst.For) -> Iterator[Finding]:
    summed: dict[str, list[tuple[str, Binding, cst.CSTNode]]] = {}  # S -> (G, its +=, S[t])
    first = None
    for key, bindings in scope.bindings.items():
        for b in bindings:
            if b.kind != "aug" or b.op != "AddAssign" or not _in_loop(b, loop):
                continue
            if b.value is None:
                continue
            first = b.index if first is None else min(first, b.index)
            for seq, sub in _summed_step_terms(model, scope, loop, b):
                summed.setdefault(seq, []).append((key, b, sub))
    if not summed or first is None:
        return
    backward = None
    for key, bindings in scope.bindings.items():
        for b in bindings:
            if b.kind != "assign" or b.loops or b.value is None or b.index <= first:
                continue
            if isinstance(b.target, cst.Subscript):
                continue
            ops = _product_operands2(model, b.value)
            if ops is None:
                continue
            for op in ops:
                base = op.value if isinstance(op, cst.Attribute) and op.attr.value == "T" else op
                if not isinstance(base, cst.Subscript):
                    continue
                if not _fixed_index(_index_name(base)):
                    continue
                seq = dotted(base.value)
                if seq is None or seq not in summed:
                    continue
                if backward is None:
                    backward = _backward_sequences(model, scope)
                if seq not in backward:
                    continue
                mate = _initialised_with(scope, key, summed[seq], first)
                if mate is None:
                    continue
                g, acc, sub = mate
                yield Finding(
                    b.stmt,
                    key,
                    model.src(base),
                    (
                        (
                            acc.stmt,
                            f"`{g}`, initialised with `{key}`, sums `{model.src(sub)}` over every step of the loop",
                        ),
                        (loop, "the loop over time steps"),
                    ),
                )
                break


def _fixed_index(idx: cst.BaseExpression | None) -> bool:
    """An index that names one step: a literal (``-1``) or ``T - k`` / ``len(S) - k``."""
    if idx is None:
        return False
    if int_value(idx) is not None:
        return True
    left = _minus(idx, 1)
    return isinstance(left, cst.Name) or _call_name(left) == "len" if left is not None else False


def _initialised_with(
    scope: Scope, key: str, summed: list[tuple[str, Binding, cst.CSTNode]], first: int
) -> tuple[str, Binding, cst.CSTNode] | None:
    """A summed gradient bound in the same statement as ``key`` before the loop (``dWh, dWx =
    zeros…`` or one helper's tuple), when ``key`` itself is never summed."""
    before = [b for b in scope.bindings.get(key, []) if not b.loops and b.index < first]
    if not before or any(b.kind == "aug" for b in scope.bindings.get(key, [])):
        return None
    stmts = {b.stmt for b in before if b.kind in ("assign", "unpack")}
    for g, acc, sub in summed:
        if g == key:
            continue
        if any(
            b.stmt in stmts and not b.loops and b.index < first for b in scope.bindings.get(g, [])
        ):
            return g, acc, sub
    return None
