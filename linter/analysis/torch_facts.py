"""PyTorch facts the BP4xx rules query: training-loop events, module output kinds, loss pairing,
autograd Function summaries.

Everything is structure, never local names: an optimizer is what ``torch.optim.*(...)`` returns
(or what ``zero_grad()``/``scaler.step()`` are applied to), a loss is what ``.backward()`` is
called on, a criterion is what ``nn.CrossEntropyLoss()`` returns, a model is an instance of a class
whose base is ``nn.Module``. Module summaries follow ``forward``'s returns through attributes
(``self.act = nn.Softmax(dim=1)``), ``nn.Sequential`` last layers, helper calls, constructor
arguments and classes defined in sibling modules. No ``torch`` import: this is all read from the
syntax tree built by ``collect.py``; only the stable entry points of the model are used
(``qualname``, the collector's scopes, bindings and call sites).

Computed once per module on first use and kept beside the model (``facts(model)``).
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Binding, Scope, Site
from linter.analysis.exprs import dotted, keyword_arg, positional_args
from linter.analysis.treewalk import parent_map, walk

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

MAX_PATHS = 64

# Why a fact holds: (node, short sentence) pairs a finding shows at the nodes' lines.
Evidence = tuple[tuple[cst.CSTNode, str], ...]
TORCH_BUILTINS = frozenset(dir(builtins))
MAX_DEPTH = 12


class Out(StrEnum):
    """What a tensor holds, as far as a loss cares."""

    RAW = "raw scores"  # a linear / conv layer's output (logits)
    PROB = "softmax probabilities"
    SIGMOID = "sigmoid probabilities"
    LOGPROB = "log-probabilities"
    TUPLE = "a tuple of outputs"  # parts hold each element's kind


@dataclass(frozen=True)
class Kind:
    """An output kind and the node that made it so (the activation, or the last layer); a tuple
    (``return realfake, classes``) keeps each element's kind in ``parts``."""

    out: Out
    node: cst.CSTNode
    model: ModuleModel  # the module the node lives in (a sibling file for imported classes)
    parts: tuple[Kind | None, ...] = ()
    alts: tuple[Kind, ...] = ()  # the same kind made elsewhere too (one model per branch)


# --- vocabulary: library names (import-resolved), not local identifiers ---------------------------

_NN = ("torch.nn.", "torch.nn.modules.")
SOFTMAX_FNS = {"torch.softmax", "torch.nn.functional.softmax", "torch.special.softmax"}
LOG_SOFTMAX_FNS = {"torch.log_softmax", "torch.nn.functional.log_softmax"}
SIGMOID_FNS = {"torch.sigmoid", "torch.nn.functional.sigmoid", "torch.special.expit"}
LOG_FNS = {"torch.log", "torch.Tensor.log"}
EXP_FNS = {"torch.exp", "torch.Tensor.exp"}
LINEAR_FNS = {"torch.nn.functional.linear", "torch.matmul", "torch.mm", "torch.bmm"}
MODULE_OUT = {
    "Softmax": Out.PROB,
    "Softmax2d": Out.PROB,
    "LogSoftmax": Out.LOGPROB,
    "Sigmoid": Out.SIGMOID,
    "Linear": Out.RAW,
    "Bilinear": Out.RAW,
    "LazyLinear": Out.RAW,
    "Conv1d": Out.RAW,
    "Conv2d": Out.RAW,
    "Conv3d": Out.RAW,
}
# layers that hand their input on unchanged as far as the loss cares (shape, not values)
PASS_LAYERS = {"Flatten", "Unflatten", "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d"}
PASS_METHODS = {
    "resize",
    "resize_as",
    "squeeze",
    "unsqueeze",
    "view",
    "view_as",
    "reshape",
    "reshape_as",
    "flatten",
    "contiguous",
    "permute",
    "transpose",
    "t",
    "float",
    "double",
    "half",
    "to",
    "cuda",
    "cpu",
    "clone",
    "type",
    "type_as",
    "expand",
    "expand_as",
}
PASS_FNS = {"torch.squeeze", "torch.unsqueeze", "torch.flatten", "torch.reshape", "torch.transpose"}
METHOD_OUT = {"softmax": Out.PROB, "log_softmax": Out.LOGPROB, "sigmoid": Out.SIGMOID}

CRITERIA = {
    "CrossEntropyLoss": "ce",
    "NLLLoss": "nll",
    "BCEWithLogitsLoss": "bce_logits",
    "BCELoss": "bce",
}
CRITERION_FNS = {
    "torch.nn.functional.cross_entropy": "ce",
    "torch.nn.functional.nll_loss": "nll",
    "torch.nn.functional.binary_cross_entropy_with_logits": "bce_logits",
    "torch.nn.functional.binary_cross_entropy": "bce",
}
NO_GRAD = {"torch.no_grad", "torch.inference_mode", "torch.set_grad_enabled"}
DROPOUT_FNS = {
    "torch.nn.functional.dropout",
    "torch.nn.functional.dropout1d",
    "torch.nn.functional.dropout2d",
    "torch.nn.functional.dropout3d",
    "torch.nn.functional.alpha_dropout",
    "torch.nn.functional.feature_alpha_dropout",
}
MODE_LAYERS = ("Dropout", "BatchNorm", "AlphaDropout", "InstanceNorm")
# what is taken from a tensor without its values (no gradient flows through these)
SHAPE_ONLY_FNS = {
    "torch.ones_like",
    "torch.zeros_like",
    "torch.empty_like",
    "torch.full_like",
    "torch.rand_like",
    "torch.randn_like",
}
SHAPE_ONLY_ATTRS = {
    "shape",
    "size",
    "device",
    "dtype",
    "new_ones",
    "new_zeros",
    "new_empty",
    "new_full",
    "dim",
    "ndim",
    "numel",
}
# optimizer / scaler methods that read gradients and never clear them
KNOWN_NON_CLEARING = {
    "unscale_",
    "step",
    "update",
    "scale",
    "state_dict",
    "load_state_dict",
    "add_param_group",
    "append",
    "info",
    "debug",
    "format",
}
CLIP_FNS = {
    "torch.nn.utils.clip_grad_norm_",
    "torch.nn.utils.clip_grad_value_",
    "torch.nn.utils.clip_grad.clip_grad_norm_",
    "torch.nn.utils.clip_grad.clip_grad_value_",
    "torch.nn.utils.clip_grad_norm",
}
DETACHING_ATTRS = {"item", "detach", "data", "tolist", "numpy"}


def nn_name(q: str | None) -> str | None:
    """``torch.nn.Softmax`` / ``torch.nn.modules.activation.Softmax`` -> ``Softmax``."""
    if q and q.startswith(_NN):
        return q.rsplit(".", 1)[1]
    return None


def _is_optim_qualname(q: str | None) -> bool:
    if not q:
        return False
    parts = q.split(".")
    return ("optim" in parts or "optimizers" in parts) and "lr_scheduler" not in parts


# --- events of a training loop ---------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: str  # "zero" | "backward" | "step" | "maybe-zero"
    node: cst.CSTNode
    target: str | None = None  # receiver key of zero/step; None: every parameter
    scope: Scope | None = None
    nested: bool = False  # inside a loop nested in the one analysed


@dataclass
class Loop:
    node: cst.For | cst.While
    scope: Scope
    paths: list[list[Event]]  # one event word per path through one iteration
    ended: list[bool]  # per path: it leaves the loop (break / return)
    events: list[Event] = field(default_factory=list)  # every event, nested loops included


@dataclass(frozen=True)
class OrderFault:
    kind: str  # "never-cleared" | "step-before-backward" | "zero-between"
    node: cst.CSTNode  # the step (never cleared, step before backward) or the zero_grad
    optimizer: str
    loop: Loop
    backward: cst.CSTNode | None = None  # never cleared: the backward() that adds into .grad
    evidence: Evidence = ()  # the events that make it a fault (the zero_grad, the backward)


@dataclass(frozen=True)
class Accumulation:
    """``acc += loss`` in a loop that back-propagates ``loss``: the sum keeps every graph."""

    stmt: cst.CSTNode
    value: cst.BaseExpression
    acc: str
    loss: str
    scope: Scope
    evidence: Evidence = ()  # where the loss is back-propagated, where the sum starts


Crit = tuple[str, cst.CSTNode, "ModuleModel"]  # criterion, where it is made, that module


@dataclass(frozen=True)
class Pairing:
    """A criterion applied to a value of a known kind."""

    call: cst.Call
    criterion: str  # "ce" | "nll" | "bce_logits" | "bce"
    criterion_node: cst.CSTNode  # where the criterion is made (call or constructor)
    kind: Kind
    scope: Scope
    model: ModuleModel  # the module of ``call``
    criterion_model: ModuleModel  # the module of ``criterion_node``


@dataclass(frozen=True)
class FunctionSummary:
    """A ``torch.autograd.Function`` subclass."""

    cls: str
    node: cst.ClassDef
    forward: Scope
    backward: Scope
    n_inputs: int | None  # forward's inputs after ctx (None: *args)
    grad_params: tuple[str, ...]  # backward's parameters after ctx
    returns: tuple[cst.BaseExpression, ...]  # backward's return expressions
    forward_returns: tuple[cst.BaseExpression, ...]


class _Calls(cst.CSTVisitor):
    """Calls and simple things in evaluation order (inner calls first), not entering lambdas
    or nested functions."""

    def __init__(self) -> None:
        self.found: list[cst.CSTNode] = []

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Call(self, node: cst.Call) -> None:
        self.found.append(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.found.append(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.found.append(node)


class _TooMany(Exception):
    pass


_facts: weakref.WeakKeyDictionary[ModuleModel, TorchFacts] = weakref.WeakKeyDictionary()


def facts(model: ModuleModel) -> TorchFacts:
    """The PyTorch facts of ``model``'s module, computed on first use."""
    from linter.analysis.siblings import generation

    found = _facts.get(model)
    if found is None or found.generation != generation[0]:
        found = _facts[model] = TorchFacts(model)
    return found


_base_names: dict[str, str | None] = {}


def _base_name(base: str) -> str | None:
    """The dotted name a class base's text is (``nn.Module``), or None (``Generic[T]``); read
    once per process for each text."""
    if base not in _base_names:
        _base_names[base] = dotted(cst.parse_expression(base))
    return _base_names[base]


class TorchFacts:
    def __init__(self, model: ModuleModel) -> None:
        from linter.analysis.siblings import generation

        self.m = model
        self.c = model.c
        self.generation = generation[0]
        self.uses_torch = any(
            v == "torch" or v.startswith("torch.") for v in self.c.aliases.values()
        )
        self._call_sites: dict[cst.CSTNode, Site] | None = None
        self._loops: list[Loop] | None = None
        self._kinds: dict[tuple[cst.CSTNode, int], Kind | None] = {}
        self._in_progress: set[tuple[cst.CSTNode, int]] = set()
        self._optim: dict[tuple[str, Scope], bool] = {}
        self._zeroed_keys: set[str] | None = None
        self._scaler_args: set[str] | None = None
        self._parents: dict[cst.CSTNode, cst.CSTNode] | None = None
        self._stmt_index: dict[cst.CSTNode, int] | None = None
        self._owners: set[str] | None = None
        self._pairings: list[Pairing] | None = None
        self._arguments: dict[tuple[str, Scope], list[tuple[cst.BaseExpression, Scope, TorchFacts]]]
        self._arguments = {}
        # every pairing of this module's project with an end here, and its ends (``mismatches``)
        self._ends_here: list[tuple[Pairing, list[tuple[str, cst.CSTNode, ModuleModel]]]] | None = (
            None
        )

    # --- generic lookups ---------------------------------------------------------------------

    def site_of(self, node: cst.CSTNode) -> Site | None:
        if self._call_sites is None:
            self._call_sites = {s.node: s for s in self.c.calls}
        return self._call_sites.get(node)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        if self._parents is None:  # the syntax's alone: kept with the model, across linted files
            found = self.m.lasting.get("torch_facts.parents")
            if found is None:
                found = self.m.lasting["torch_facts.parents"] = parent_map(self.m.module)
            self._parents = found
        return self._parents.get(node)

    def bindings(self, key: str, scope: Scope) -> list[tuple[Binding, Scope]]:
        """The bindings of ``key`` visible from ``scope``: its own, else the enclosing ones."""
        s: Scope | None = scope
        while s is not None:
            found = s.bindings.get(key)
            if found:
                return [(b, s) for b in found]
            if key.startswith("self.") and s.cls and not s.is_module:
                attr = key.split(".")[1]
                if "." not in key[5:]:
                    attrs = self.c.class_attrs.get(s.cls, {}).get(attr, [])
                    if attrs:
                        return [(b, self._scope_of_stmt(b, s.cls)) for b in attrs]
            s = s.parent
        return []

    def _scope_of_stmt(self, b: Binding, cls: str) -> Scope:
        for sc in self.c.scopes:
            if sc.cls == cls and b in sc.bindings.get(dotted(b.target) or "", []):
                return sc
        return self.c.module_scope  # type: ignore[return-value]

    def reaching(self, key: str, scope: Scope, before: int | None) -> list[tuple[Binding, Scope]]:
        """The assignments to ``key`` that can reach a use at statement ``before`` of ``scope``:
        the last one before it in the same scope (all of them when that is unknown)."""
        found = self.bindings(key, scope)
        own = [(b, s) for b, s in found if s is scope and b.kind != "param"]
        if own and before is not None:
            earlier = [(b, s) for b, s in own if b.index < before]
            if earlier:
                last = max(b.index for b, _ in earlier)
                final = [(b, s) for b, s in earlier if b.index == last]
                # if c: m = A() / else: m = B(): both reach
                return final + [
                    (b, s)
                    for b, s in earlier
                    if b.index != last and self._exclusive(b.stmt, final[0][0].stmt)
                ]
        return found

    def _exclusive(self, a: cst.CSTNode, b: cst.CSTNode) -> bool:
        """Are ``a`` and ``b`` in different branches of one ``if``, neither rebinding after?"""
        chain: list[cst.CSTNode] = []
        n: cst.CSTNode | None = a
        while n is not None and not isinstance(n, cst.FunctionDef):
            chain.append(n)
            n = self.parent(n)
        n = b
        prev: cst.CSTNode | None = None
        while n is not None and not isinstance(n, cst.FunctionDef):
            if n in chain and isinstance(n, cst.If) and prev is not None:
                i = chain.index(n)
                other = chain[i - 1] if i > 0 else None
                return other is not None and (other is n.body) != (prev is n.body)
            if n in chain:
                return False
            prev = n
            n = self.parent(n)
        return False

    def class_scope(self, cls: str, method: str) -> Scope | None:
        return next((s for s in self.c.methods(method, cls) if not s.nested), None)

    def is_module_class(self, cls: str, depth: int = 0) -> bool:
        for base in self.c.class_bases.get(cls, []):
            name = _base_name(base) if "." in base or base else None
            q = self.m.qualify(name) if name is not None else None
            if q in ("torch.nn.Module", "torch.nn.modules.module.Module") or (
                q is not None
                and (q.endswith(".LightningModule") or q.startswith("torchvision.models."))
            ):
                return True
            if base in self.c.class_bases and depth < 4 and self.is_module_class(base, depth + 1):
                return True
        return False

    def is_function_class(self, cls: str) -> bool:
        for base in self.c.class_bases.get(cls, []):
            name = _base_name(base)
            q = self.m.qualify(name) if name is not None else None
            if q in ("torch.autograd.Function", "torch.autograd.function.Function"):
                return True
        return False

    # --- what a value is ----------------------------------------------------------------------

    def kind(self, node: cst.BaseExpression, scope: Scope, depth: int = 0) -> Kind | None:
        """What ``node`` holds: raw scores, probabilities or log-probabilities (None: unknown)."""
        if depth > MAX_DEPTH:
            return None
        memo = (node, depth)
        if memo in self._kinds:
            return self._kinds[memo]
        if memo in self._in_progress:
            return None
        self._in_progress.add(memo)
        try:
            found = self._kind(node, scope, depth)
        finally:
            self._in_progress.discard(memo)
        self._kinds[memo] = found
        return found

    def _kind(self, node: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
        if isinstance(node, cst.Subscript):
            inner = self.kind(node.value, scope, depth + 1)
            if inner is None or inner.out is not Out.TUPLE:
                return inner
            return _part(inner, _int_index(node))
        if isinstance(node, cst.Tuple):
            parts = tuple(
                None if isinstance(e, cst.StarredElement) else self.kind(e.value, scope, depth + 1)
                for e in node.elements
            )
            if any(isinstance(e, cst.StarredElement) for e in node.elements):
                return None
            return Kind(Out.TUPLE, node, self.m, parts) if any(parts) else None
        if isinstance(node, cst.Name | cst.Attribute) and dotted(node) is not None:
            key = dotted(node)
            assert key is not None
            values = []
            for b, s in self.reaching(key, scope, self._index_of(node, scope)):
                if b.kind == "assign" and b.value is not None:
                    values.append(self.kind(b.value, s, depth + 1))
                elif b.kind == "unpack" and b.value is not None and b.position >= 0:
                    whole = self.kind(b.value, s, depth + 1)
                    values.append(_part(whole, b.position) if whole is not None else None)
                elif b.kind == "param":
                    values.append(self._param_kind(key, s, depth))
                else:
                    return None
            return _agree(values)
        if not isinstance(node, cst.Call):
            return None
        func = node.func
        q = self.m.qualname(func)
        args = positional_args(node)
        if q in SOFTMAX_FNS:
            return Kind(Out.PROB, node, self.m)
        if q in LOG_SOFTMAX_FNS:
            return Kind(Out.LOGPROB, node, self.m)
        if q in SIGMOID_FNS:
            return Kind(Out.SIGMOID, node, self.m)
        if q in LOG_FNS and args:
            inner = self.kind(args[0], scope, depth + 1)
            if inner is not None and inner.out in (Out.PROB, Out.SIGMOID):
                return Kind(Out.LOGPROB, node, self.m)
            return None
        if q in LINEAR_FNS:
            return Kind(Out.RAW, node, self.m)
        if q in EXP_FNS and args:
            inner = self.kind(args[0], scope, depth + 1)
            if inner is not None and inner.out is Out.LOGPROB:
                return Kind(Out.PROB, node, self.m)  # exp(log_softmax(x)) is softmax(x)
            return None
        if q in PASS_FNS and args:
            return self.kind(args[0], scope, depth + 1)
        if isinstance(func, cst.Attribute):
            meth = func.attr.value
            if meth in METHOD_OUT and q is None:
                return Kind(METHOD_OUT[meth], node, self.m)
            if meth == "exp" and q is None:
                inner = self.kind(func.value, scope, depth + 1)
                if inner is not None and inner.out is Out.LOGPROB:
                    return Kind(Out.PROB, node, self.m)
                return None
            if meth == "log" and q is None:
                inner = self.kind(func.value, scope, depth + 1)
                if inner is not None and inner.out in (Out.PROB, Out.SIGMOID):
                    return Kind(Out.LOGPROB, node, self.m)
                return None
            if meth in PASS_METHODS and q is None:
                return self.kind(func.value, scope, depth + 1)
            if meth in ("forward", "__call__"):
                return self.applied(func.value, scope, node, depth)
        return self.applied(func, scope, node, depth)

    def enclosing_function(self, node: cst.CSTNode) -> cst.CSTNode | None:
        n = self.parent(node)
        while n is not None and not isinstance(n, cst.FunctionDef):
            n = self.parent(n)
        return n

    def enclosing_loop(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The innermost ``for``/``while`` holding ``node`` within its function (None: none)."""
        n = self.parent(node)
        while n is not None and not isinstance(n, cst.FunctionDef | cst.ClassDef):
            if isinstance(n, cst.For | cst.While):
                return n
            n = self.parent(n)
        return None

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        n: cst.CSTNode | None = node
        while n is not None and not isinstance(
            n, cst.SimpleStatementLine | cst.BaseCompoundStatement
        ):
            n = self.parent(n)
        return n

    def _index_of(self, node: cst.CSTNode, scope: Scope) -> int | None:
        """The statement index (in ``scope``) of the statement holding ``node``."""
        if self._stmt_index is None:
            self._stmt_index = self.c.stmt_index  # numbered as ``collect.Collector`` counts
        n: cst.CSTNode | None = node
        while n is not None:
            if n in self._stmt_index:
                return self._stmt_index[n]
            if isinstance(n, cst.FunctionDef):
                return None
            n = self.parent(n)
        return None

    def _param_kind(self, name: str, fn: Scope, depth: int) -> Kind | None:
        """A function parameter: what every resolved call site passes (one level)."""
        if fn.cls is not None or fn.nested or "." in name:
            return None
        values = [tf.kind(arg, s, depth + 1) for arg, s, tf in self.all_arguments(name, fn)]
        return _agree(values) if values else None

    def arguments(self, name: str, fn: Scope) -> list[tuple[cst.BaseExpression, Scope]]:
        """What the call sites of ``fn`` in this module pass for parameter ``name``."""
        if name not in fn.params:
            return []
        pos = fn.params.index(name)
        out: list[tuple[cst.BaseExpression, Scope]] = []
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if not (isinstance(call.func, cst.Name) and call.func.value == fn.name):
                continue
            got = keyword_arg(call, name)
            if got is None:
                pargs = positional_args(call)
                if any(a.star for a in call.args):
                    return []
                got = pargs[pos] if pos < len(pargs) else None
            if got is None:
                continue
            out.append((got, site.scope))
        return out

    def applied(
        self, func: cst.BaseExpression, scope: Scope, call: cst.Call, depth: int
    ) -> Kind | None:
        """What calling ``func`` (a layer, a model, an activation function) returns."""
        # a constructor applied at once: nn.Softmax(dim=1)(x)
        if isinstance(func, cst.Call):
            return self.layer_kind(func, scope, call, depth + 1)
        key = dotted(func)
        if key is None:
            return self._method_kind(func, scope, depth)  # ``Net().predict(x)``
        q = self.m.qualname(func)
        if q in SOFTMAX_FNS:
            return Kind(Out.PROB, call, self.m)
        if q in SIGMOID_FNS:
            return Kind(Out.SIGMOID, call, self.m)
        if q in LOG_SOFTMAX_FNS:
            return Kind(Out.LOGPROB, call, self.m)
        if isinstance(func, cst.Name) and func.value == "self" and scope.cls:
            return self.forward_kind(scope.cls, depth + 1)  # self(x) runs this class's forward
        helper = self.m.local_function(func, scope) if isinstance(func, cst.Name) else None
        if helper is not None and helper.cls is None:
            return self.returns_kind(helper, depth + 1)
        if isinstance(func, cst.Name) and not self.bindings(key, scope):
            found = self.m.imported_function(func)
            if found is not None:
                other, fn = found
                return facts(other).returns_kind(fn, depth + 1)
            return None
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == "self"
            and scope.cls
        ):
            method = self.class_scope(scope.cls, func.attr.value)
            if method is not None:
                return self.returns_kind(method, depth + 1)
        if isinstance(func, cst.Attribute) and q is None and not self.bindings(key, scope):
            found = self._method_kind(func, scope, depth)
            if found is not None:
                return found
        values = []
        reaching = self.reaching(key, scope, self._index_of(call, scope))
        if reaching and all(_moves(b, key) for b, _ in reaching):
            reaching = [x for x in self.bindings(key, scope) if not _moves(x[0], key)]
        for b, s in reaching:
            if _moves(b, key):
                continue
            if b.kind == "assign" and b.value is not None:
                values.append(self.layer_kind(b.value, s, call, depth + 1))
            elif b.kind == "param" and s.name == "__init__" and s.cls is not None:
                values.append(self.ctor_arg_kind(b, s, call, depth + 1))
            elif b.kind == "param":
                values.append(self._param_layer(key, s, call, depth + 1))
            else:
                return None
        return _agree(values)

    def _param_layer(self, name: str, fn: Scope, call: cst.Call, depth: int) -> Kind | None:
        if fn.cls is not None or fn.nested:
            return None
        values = [self.layer_kind(a, s, call, depth + 1) for a, s in self.arguments(name, fn)]
        return _agree(values) if values else None

    def ctor_arg_kind(self, b: Binding, init: Scope, call: cst.Call, depth: int) -> Kind | None:
        """``self.f = f`` with ``f`` a constructor argument: what the instantiations pass."""
        name = dotted(b.target)
        cls = init.cls
        if name is None or cls is None or name not in init.params:
            return None
        pos = init.params.index(name) - 1  # after self
        values: list[Kind | None] = []
        for site in self.c.calls:
            c = site.node
            assert isinstance(c, cst.Call)
            if not (isinstance(c.func, cst.Name) and c.func.value == cls):
                continue
            arg = keyword_arg(c, name)
            if arg is None:
                pargs = positional_args(c)
                arg = pargs[pos] if 0 <= pos < len(pargs) else None
            if arg is None:
                return None
            values.append(self.layer_kind(arg, site.scope, call, depth + 1))
        return _agree(values) if values else None

    def layer_kind(
        self, value: cst.BaseExpression, scope: Scope, call: cst.Call, depth: int
    ) -> Kind | None:
        """What applying the layer/model/function ``value`` (as constructed) returns."""
        if depth > MAX_DEPTH:
            return None
        value = _unwrap_module(value)
        q = self.m.qualname(value)
        if q in SOFTMAX_FNS:
            return Kind(Out.PROB, call, self.m)
        if q in SIGMOID_FNS:
            return Kind(Out.SIGMOID, call, self.m)
        if q in LOG_SOFTMAX_FNS:
            return Kind(Out.LOGPROB, call, self.m)
        if isinstance(value, cst.Name | cst.Attribute):
            key = dotted(value)
            if key is None:
                return None
            values = []
            for b, s in self.bindings(key, scope):
                if _moves(b, key):
                    continue  # net = net.cuda(): the same module
                if b.kind == "assign" and b.value is not None:
                    values.append(self.layer_kind(b.value, s, call, depth + 1))
                elif b.kind == "param" and s.name == "__init__" and s.cls is not None:
                    values.append(self.ctor_arg_kind(b, s, call, depth + 1))
                elif b.kind == "param":
                    values.append(self._param_layer(key, s, call, depth + 1))
                else:
                    return None
            return _agree(values) if values else None
        if not isinstance(value, cst.Call):
            return None
        q = self.m.qualname(value.func)
        layer = nn_name(q)
        if layer is not None:
            if layer in MODULE_OUT:
                return Kind(MODULE_OUT[layer], value, self.m)
            if layer == "Sequential":
                layers = positional_args(value)
                for last in reversed(layers):
                    lq = self.m.qualname(last.func) if isinstance(last, cst.Call) else None
                    if nn_name(lq) in PASS_LAYERS:
                        continue
                    return self.layer_kind(last, scope, call, depth + 1)
            return None
        cls = self.class_of(value)
        if cls is not None:
            model, name = cls
            return facts(model).forward_kind(name, depth + 1)
        return None

    def class_of(self, ctor: cst.Call) -> tuple[ModuleModel, str] | None:
        """The nn.Module class a constructor call instantiates: this module's or a sibling's."""
        from linter.analysis.siblings import sibling_model, sibling_path, star_sibling

        unwrapped = _unwrap_module(ctor)  # Net().to(device)
        if not isinstance(unwrapped, cst.Call):
            return None
        ctor = unwrapped
        func = ctor.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            base = self.c.aliases.get(func.value.value)  # import network; network.Net()
            if base is None or base.split(".")[0] == "torch" or self.m.path is None:
                return None
            qualified = f"{base}.{func.attr.value}"
        elif isinstance(func, cst.Name):
            name = func.value
            if name in self.c.class_bases:
                return (self.m, name) if self.is_module_class(name) else None
            qualified = self.c.aliases.get(name)
            if qualified is None and not self.bindings(name, self.c.module_scope):  # type: ignore[arg-type]
                other = star_sibling(self.m, name)  # from model import *
                if other is not None and name in other.c.class_bases:
                    return (other, name) if facts(other).is_module_class(name) else None
                return None
        else:
            return None
        if qualified is None or self.m.path is None or qualified.split(".")[0] in ("torch",):
            return None
        found = sibling_path(self.m.path, qualified)
        if found is None:
            return None
        other = sibling_model(found[0])
        if other is None or found[1] not in other.c.class_bases:
            return None
        if not facts(other).is_module_class(found[1]):
            return None
        return other, found[1]

    def instance_class(
        self, key: str, scope: Scope, depth: int = 0
    ) -> tuple[ModuleModel, str] | None:
        """The nn.Module class ``key`` is an instance of: ``m = Net()``, ``self.m = Net()``, or a
        parameter every call site fills with an instance of one class."""
        if depth > 3:
            return None
        found: set[tuple[ModuleModel, str]] = set()
        for b, s in self.bindings(key, scope):
            if _moves(b, key):
                continue
            if b.kind == "assign" and isinstance(b.value, cst.Call):
                cls = self.class_of(b.value)
                if cls is None:
                    return None
                found.add(cls)
            elif b.kind == "param" and s.cls is None and not s.nested:
                args = self.arguments(key, s)
                if not args:
                    return None
                for a, sc in args:
                    if isinstance(a, cst.Call):
                        cls = self.class_of(a)
                    else:
                        ak = dotted(a)
                        cls = self.instance_class(ak, sc, depth + 1) if ak else None
                    if cls is None:
                        return None
                    found.add(cls)
            else:
                return None
        return found.pop() if len(found) == 1 else None

    def forward_kind(self, cls: str, depth: int = 0) -> Kind | None:
        """What ``cls.forward`` returns (every return agrees), or None."""
        fwd = self.class_scope(cls, "forward")
        if fwd is None:
            return None
        return self.returns_kind(fwd, depth + 1)

    def _method_kind(self, func: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
        """What a method of a class of this module returns, called on an object that is not
        ``self`` (``net.predict(x)``, ``Net().predict(x)``): the method the model resolves the
        call to (the object's class, or the one class defining a method of that name)."""
        if not isinstance(func, cst.Attribute) or func.attr.value in ("forward", "__call__"):
            return None  # a module's ``forward`` is read where the module is called
        cls = self._local_class_of(func.value, scope)
        method = self.class_scope(cls, func.attr.value) if cls is not None else None
        if method is None:
            method = self.m.local_function(func, scope)
        if method is None or method.cls is None:
            return None
        return self.returns_kind(method, depth + 1)

    def _local_class_of(self, obj: cst.BaseExpression, scope: Scope) -> str | None:
        """The class of this module ``obj`` is an instance of: ``Net()``, or a name bound once,
        to ``Net()``."""
        if isinstance(obj, cst.Name):
            bound = self.bindings(obj.value, scope)
            if len(bound) != 1 or bound[0][0].kind != "assign":
                return None
            obj = bound[0][0].value
        if isinstance(obj, cst.Call) and isinstance(obj.func, cst.Name):
            name = obj.func.value
            return name if name in self.c.class_bases else None
        return None

    def returns_kind(self, fn: Scope, depth: int) -> Kind | None:
        if not fn.returns or depth > MAX_DEPTH:
            return None
        return _agree([self.kind(r, fn, depth + 1) for r in fn.returns])

    # --- criteria -----------------------------------------------------------------------------

    def criterion(self, call: cst.Call, scope: Scope) -> Crit | None:
        """(``"ce" | "nll" | "bce_logits" | "bce"``, where it is made, that module) when
        ``call`` computes a loss."""
        q = self.m.qualname(call.func)
        if q in CRITERION_FNS:
            return CRITERION_FNS[q], call, self.m
        return self._criterion_value(call.func, scope, 0)

    def _criterion_value(self, value: cst.BaseExpression, scope: Scope, depth: int) -> Crit | None:
        if depth > 4:
            return None
        if isinstance(value, cst.Call):
            crit = nn_name(self.m.qualname(value.func))
            return (CRITERIA[crit], value, self.m) if crit in CRITERIA else None
        key = dotted(value)
        if key is None:
            return None
        found: list[Crit | None] = []
        base, _, attr = key.rpartition(".")
        if base and base != "self":
            owner = self.instance_class(base, scope)
            if owner is not None:
                other, cls = owner
                tf = facts(other)
                for b in other.c.class_attrs.get(cls, {}).get(attr, []):
                    init = tf._scope_of_stmt(b, cls)
                    if b.kind == "assign" and b.value is not None:
                        found.append(tf._criterion_value(b.value, init, depth + 1))
                if found and all(f is not None for f in found):
                    return _same_criterion(found)
                return None
        for b, s in self.bindings(key, scope):
            if _moves(b, key):
                continue  # criterion = criterion.to(device)
            if b.kind == "assign" and b.value is not None:
                found.append(self._criterion_value(b.value, s, depth + 1))
            elif b.kind == "param" and not s.nested:
                args = self.all_arguments(key, s)
                if not args:
                    return None
                found.extend(tf._criterion_value(a, sc, depth + 1) for a, sc, tf in args)
            else:
                return None
        if not found or any(f is None for f in found):
            return None
        return _same_criterion(found)

    def all_arguments(
        self, name: str, fn: Scope
    ) -> list[tuple[cst.BaseExpression, Scope, TorchFacts]]:
        """What every resolved call site passes for parameter ``name`` of ``fn``: calls of a
        module-level function, of a method on an instance of its class, of a class's
        constructor (for ``__init__``), in this module and in the modules of the project that
        import it. Empty when one call site cannot be read (``*args``). Computed once per
        parameter (the list is shared: callers do not change it)."""
        found = self._arguments.get((name, fn))
        if found is None:
            found = self._arguments[(name, fn)] = self._all_arguments(name, fn)
        return found

    def _all_arguments(
        self, name: str, fn: Scope
    ) -> list[tuple[cst.BaseExpression, Scope, TorchFacts]]:
        if name not in fn.params or fn.nested:
            return []
        pos = fn.params.index(name)
        if fn.cls is not None:
            pos -= 1  # after self
            if pos < 0 or "staticmethod" in fn.decorators or "classmethod" in fn.decorators:
                return []
        out: list[tuple[cst.BaseExpression, Scope, TorchFacts]] = []
        from linter.analysis.siblings import importers

        for other in [self.m, *importers(self.m)]:
            tf = facts(other)
            for site in other.c.calls:
                call = site.node
                assert isinstance(call, cst.Call)
                if not tf._calls(call, site.scope, fn, self.m):
                    continue
                got = keyword_arg(call, name)
                if got is None:
                    if any(a.star for a in call.args):
                        return []
                    pargs = positional_args(call)
                    got = pargs[pos] if pos < len(pargs) else None
                if got is not None:
                    out.append((got, site.scope, tf))
        return out

    def _calls(self, call: cst.Call, scope: Scope, fn: Scope, home: ModuleModel) -> bool:
        """Does ``call`` (in this module) call ``fn``, defined in ``home``?"""
        func = call.func
        if fn.cls is None:
            if not isinstance(func, cst.Name):
                return False
            if home is self.m:
                return func.value == fn.name and self.m.local_function(func, scope) is fn
            target = func
            bound = self.bindings(func.value, scope)
            if len(bound) == 1 and isinstance(bound[0][0].value, cst.Name):
                target = bound[0][0].value  # loss_fn = my_loss
            found = self.m.imported_function(target)
            return found is not None and _same_module(found[0], home) and found[1].name == fn.name
        if fn.name == "__init__":
            cls = self.class_of(call)
        elif isinstance(func, cst.Attribute) and func.attr.value == fn.name:
            recv = dotted(func.value)
            if recv == "self" and home is self.m:
                return scope.cls == fn.cls
            cls = self.instance_class(recv, scope) if recv else None
        else:
            return False
        return cls is not None and cls[1] == fn.cls and _same_module(cls[0], home)

    def pairings(self) -> list[Pairing]:
        """Every criterion call whose input has a known kind (computed once)."""
        if self._pairings is None:
            self._pairings = list(self._find_pairings()) if self.uses_torch else []
        return self._pairings

    def _find_pairings(self) -> Iterator[Pairing]:
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            crit = self.criterion(call, site.scope)
            if crit is None or self._under_no_grad(call):
                continue
            args = positional_args(call)
            inp = keyword_arg(call, "input") or (args[0] if args else None)
            if inp is None:
                continue
            k = self.kind(inp, site.scope)
            if k is not None:
                yield Pairing(call, crit[0], crit[1], k, site.scope, self.m, crit[2])

    # --- training loops -----------------------------------------------------------------------

    def loops(self) -> list[Loop]:
        """Every loop whose iteration (helpers called in it included) calls ``.backward()``."""
        if self._loops is None:
            self._loops = list(self._find_loops()) if self.uses_torch else []
        return self._loops

    def _find_loops(self) -> Iterator[Loop]:
        for scope in self.c.scopes:
            body = _body_of(scope.node)
            for loop in _loops_in(body):
                try:
                    paths = self._paths(loop.body.body, scope, 0, frozenset())
                except _TooMany:
                    continue
                events = [e for p, _ in paths for e in p]
                if not any(e.kind == "backward" for e in events):
                    continue
                yield Loop(loop, scope, [p for p, _ in paths], [d for _, d in paths], events)

    def _paths(
        self,
        stmts: Iterable[cst.BaseStatement | cst.BaseSmallStatement],
        scope: Scope,
        depth: int,
        seen: frozenset[Scope],
    ) -> list[tuple[list[Event], bool]]:
        paths: list[tuple[list[Event], bool]] = [([], False)]
        for stmt in stmts:
            alts = self._stmt_paths(stmt, scope, depth, seen)
            new: list[tuple[list[Event], bool]] = []
            for p, done in paths:
                if done:
                    new.append((p, done))
                    continue
                for a, adone in alts:
                    new.append((p + a, adone))
            paths = _dedupe(new)
            if len(paths) > MAX_PATHS:
                raise _TooMany
        return paths

    def _stmt_paths(
        self, stmt: cst.CSTNode, scope: Scope, depth: int, seen: frozenset[Scope]
    ) -> list[tuple[list[Event], bool]]:
        if isinstance(stmt, cst.SimpleStatementLine):
            events: list[Event] = []
            done = False
            for small in stmt.body:
                if isinstance(small, cst.Return | cst.Raise | cst.Break | cst.Continue):
                    done = True
                events.extend(self._events(small, scope, depth, seen))
            return [(events, done)]
        if isinstance(stmt, cst.If):
            test = self._events(stmt.test, scope, depth, seen)
            alts = self._paths(stmt.body.body, scope, depth, seen)
            other: list[tuple[list[Event], bool]] = [([], False)]
            if isinstance(stmt.orelse, cst.If):
                other = self._stmt_paths(stmt.orelse, scope, depth, seen)
            elif isinstance(stmt.orelse, cst.Else):
                other = self._paths(stmt.orelse.body.body, scope, depth, seen)
            return _dedupe([(test + p, d) for p, d in alts + other])
        if isinstance(stmt, cst.For | cst.While):
            head = self._events(
                stmt.iter if isinstance(stmt, cst.For) else stmt.test, scope, depth, seen
            )
            inner = self._paths(stmt.body.body, scope, depth, seen)
            return [(head + [replace(e, nested=True) for e in p], False) for p, _ in inner]
        if isinstance(stmt, cst.With):
            head = [e for item in stmt.items for e in self._events(item.item, scope, depth, seen)]
            return [(head + p, d) for p, d in self._paths(stmt.body.body, scope, depth, seen)]
        if isinstance(stmt, cst.Try):
            body = self._paths(stmt.body.body, scope, depth, seen)
            if stmt.finalbody is not None:
                fin = self._paths(stmt.finalbody.body.body, scope, depth, seen)
                body = [(p + f, d or fd) for p, d in body for f, fd in fin]
            return body
        return [([], False)]

    def _events(
        self, node: cst.CSTNode, scope: Scope, depth: int, seen: frozenset[Scope]
    ) -> list[Event]:
        v = _Calls()
        walk(node, v)
        out: list[Event] = []
        for n in v.found:
            if isinstance(n, cst.Assign):
                if (
                    n.value is not None
                    and isinstance(n.value, cst.Name)
                    and n.value.value == "None"
                ):
                    if any(_is_grad_attr(t.target) for t in n.targets):
                        out.append(Event("zero", n, None, scope))
                continue
            if isinstance(n, cst.AugAssign):
                if _is_grad_attr(n.target) and isinstance(n.operator, cst.MultiplyAssign):
                    out.append(Event("zero", n, None, scope))
                continue
            assert isinstance(n, cst.Call)
            out.extend(self._call_events(n, scope, depth, seen))
        return out

    def _call_events(
        self, call: cst.Call, scope: Scope, depth: int, seen: frozenset[Scope]
    ) -> list[Event]:
        func = call.func
        q = self.m.qualname(func)
        if q == "torch.autograd.backward":
            return [Event("backward", call, None, scope)]
        if isinstance(func, cst.Attribute):
            meth = func.attr.value
            recv = func.value
            key = dotted(recv)
            if meth == "backward" and self._is_loss_backward(call, scope):
                return [Event("backward", call, None, scope)]
            if meth == "zero_grad" and q is None:
                return [Event("zero", call, key, scope)]
            if (meth in ("zero_", "fill_") and _is_grad_attr(recv)) or (
                meth in ("zero_", "fill_")
                and isinstance(recv, cst.Attribute)
                and recv.attr.value == "data"
                and _is_grad_attr(recv.value)
            ):
                return [Event("zero", call, None, scope)]
            if meth == "step" and q is None:
                args = positional_args(call)
                if not call.args and key is not None and self.is_optimizer(key, scope):
                    return [Event("step", call, key, scope)]
                if len(args) == 1 and not keyword_arg(call, "closure"):
                    arg_key = dotted(args[0])
                    if arg_key is not None and self.is_optimizer(arg_key, scope):
                        return [Event("step", call, arg_key, scope)]  # scaler.step(optimizer)
                return []
        if depth < 2:
            helper = self.m.local_function(func, scope)
            if helper is not None and helper not in seen and helper is not scope:
                try:
                    inner = self._paths(_body_of(helper.node), helper, depth + 1, seen | {helper})
                except _TooMany:
                    inner = []
                if inner:
                    # a helper's events, along its longest path (returns end the helper only)
                    best = max((p for p, _ in inner), key=len)
                    zeros = [e for p, _ in inner for e in p if e.kind == "zero"]
                    extra = [Event("maybe-zero", z.node, z.target, scope) for z in zeros]
                    return best + [z for z in extra if all(z.node is not e.node for e in best)]
                return []
        if q is not None and q.startswith("torch."):
            return []
        if isinstance(func, cst.Attribute) and func.attr.value in KNOWN_NON_CLEARING:
            return []
        if isinstance(func, cst.Name) and q is None and not self.m.local_function(func, scope):
            if func.value in TORCH_BUILTINS and not self.bindings(func.value, scope):
                return []  # a builtin: print(model), len(optimizer.param_groups)
        keys = [k for a in call.args if (k := dotted(a.value)) is not None]
        keys = [k for k in keys if self.is_optimizer(k, scope) or k in self._param_owners()]
        if not keys:
            return []
        sibling = self._sibling_function(func)
        if sibling is not None:
            other, fn = sibling
            try:
                inner = facts(other)._paths(_body_of(fn.node), fn, 2, frozenset({fn}))
            except _TooMany:
                inner = [([Event("zero", call)], False)]
            if not any(e.kind in ("zero", "maybe-zero") for p, _ in inner for e in p):
                return []
        # an unknown callee handed an optimizer or a model may clear its gradients
        return [Event("maybe-zero", call, k, scope) for k in keys]

    def _sibling_function(self, func: cst.BaseExpression) -> tuple[ModuleModel, Scope] | None:
        """``helper`` or ``utils.helper`` defined in a sibling module of this file."""
        if isinstance(func, cst.Name):
            return self.m.imported_function(func)
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return None
        base = self.c.aliases.get(func.value.value)
        if base is None or self.m.path is None or base.split(".")[0] == "torch":
            return None
        from linter.analysis.siblings import sibling_model, sibling_path

        found = sibling_path(self.m.path, f"{base}.{func.attr.value}")
        other = sibling_model(found[0]) if found else None
        if other is None or found is None:
            return None
        scopes = [s for s in other.c.functions.get(found[1], []) if s.cls is None]
        return (other, scopes[-1]) if scopes else None

    def _models_by_parameters(self) -> set[str]:
        """Keys whose ``.parameters()`` are taken or that are called (``model(x)``): models, not
        optimizers."""
        out: set[str] = set()
        for site in self.c.calls:
            call = site.node
            if not isinstance(call, cst.Call):
                continue
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in (
                "parameters",
                "named_parameters",
                "train",
                "eval",
            ):
                k = dotted(call.func.value)
            else:
                k = dotted(call.func)
            if k is not None:
                out.add(k)
        return out

    def _param_owners(self) -> set[str]:
        """Keys whose ``.parameters()`` or ``.zero_grad()`` are used: models and optimizers."""
        if self._owners is None:
            self._owners = {
                k
                for site in self.c.calls
                if isinstance(site.node, cst.Call)
                and isinstance(site.node.func, cst.Attribute)
                and site.node.func.attr.value in ("parameters", "named_parameters", "zero_grad")
                and (k := dotted(site.node.func.value)) is not None
            }
        return self._owners

    def _is_loss_backward(self, call: cst.Call, scope: Scope) -> bool:
        """``loss.backward()``: no positional argument other than a gradient tensor for a
        non-scalar, and not a hand-written layer's ``backward(grad)`` on ``self``."""
        func = call.func
        assert isinstance(func, cst.Attribute)
        recv = func.value
        if isinstance(recv, cst.Name) and recv.value in ("self", "cls", "super"):
            return False
        if positional_args(call):
            return False
        # a hand-written layer object (class with its own backward) is not a tensor
        key = dotted(recv)
        if key is not None:
            for b, _ in self.bindings(key, scope):
                if isinstance(b.value, cst.Call) and isinstance(b.value.func, cst.Name):
                    cls = b.value.func.value
                    if self.class_scope(cls, "backward") is not None:
                        return False
        return True

    def is_optimizer(self, key: str, scope: Scope, depth: int = 0) -> bool:
        """What ``torch.optim.*(...)`` returns, or what ``zero_grad()`` / ``scaler.step()`` are
        applied to, or what steps right after gradient clipping (schedulers excluded: their
        constructor takes an optimizer)."""
        memo = (key, scope)
        if memo in self._optim:
            return self._optim[memo]
        if depth > 3:
            return False
        self._optim[memo] = False  # while in progress: a cycle is not evidence
        self._optim[memo] = found = self._is_optimizer(key, scope, depth)
        return found

    def _is_optimizer(self, key: str, scope: Scope, depth: int) -> bool:
        verdicts: list[bool | None] = []
        for b, s in self.bindings(key, scope):
            if b.kind == "assign" and isinstance(b.value, cst.Call):
                q = self.m.qualname(b.value.func)
                if q is not None and "lr_scheduler" in q.split("."):
                    return False
                args = positional_args(b.value)
                if (
                    args
                    and dotted(args[0])
                    and self.is_optimizer(dotted(args[0]) or "", s, depth + 1)
                ):
                    return False  # a scheduler or wrapper made from an optimizer
                verdicts.append(True if _is_optim_qualname(q) else None)
            elif b.kind == "param" and s.cls is None and not s.nested and depth < 2:
                for a, sc in self.arguments(key, s):
                    ak = dotted(a)
                    verdicts.append(True if ak and self.is_optimizer(ak, sc, depth + 1) else None)
        if any(v is True for v in verdicts):
            return True
        if self._zeroed_keys is None:
            self._zeroed_keys = set()
            self._scaler_args = set()
            for site in self.c.calls:
                call = site.node
                assert isinstance(call, cst.Call)
                if isinstance(call.func, cst.Attribute):
                    if call.func.attr.value == "zero_grad" and (k := dotted(call.func.value)):
                        self._zeroed_keys.add(k)
                    if call.func.attr.value in ("unscale_", "step") and len(call.args) == 1:
                        k2 = dotted(call.args[0].value)
                        if k2 and call.func.attr.value == "unscale_":
                            self._scaler_args.add(k2)
        assert self._scaler_args is not None
        if key in self._scaler_args:
            return True
        if any(self._follows_clipping(c) for c in self._bare_steps(key, scope)):
            return True
        if (
            key in self._zeroed_keys
            and not self._is_model_key(key, scope)
            and key not in self._models_by_parameters()
        ):
            return True
        return False

    def _bare_steps(self, key: str, scope: Scope) -> list[cst.Call]:
        """``key.step()`` calls without arguments in ``scope``."""
        return [
            c
            for site in self.c.calls
            if site.scope is scope
            and isinstance(c := site.node, cst.Call)
            and not c.args
            and isinstance(c.func, cst.Attribute)
            and c.func.attr.value == "step"
            and dotted(c.func.value) == key
        ]

    def _follows_clipping(self, step: cst.Call) -> bool:
        """Is ``step`` the statement right after ``clip_grad_norm_(...)`` (or the first statement
        of an ``if`` right after it, as ``if torch.isfinite(norm): opt.step()``)? Gradients are
        clipped for the step that reads them next: that step is an optimizer's."""
        node = self.statement_of(step)
        if node is None:
            return False
        block = self.parent(node)
        if (
            isinstance(block, cst.IndentedBlock)
            and block.body
            and block.body[0] is node
            and isinstance(self.parent(block), cst.If)
        ):
            node = self.parent(block)
            block = self.parent(node) if node is not None else None
        if not isinstance(block, cst.IndentedBlock | cst.Module) or node is None:
            return False
        body = list(block.body)
        i = next((k for k, n in enumerate(body) if n is node), 0)
        if i == 0 or not isinstance(body[i - 1], cst.SimpleStatementLine):
            return False
        prev = body[i - 1].body
        if len(prev) != 1 or not isinstance(prev[0], cst.Expr | cst.Assign):
            return False
        value = prev[0].value
        return isinstance(value, cst.Call) and self.m.qualname(value.func) in CLIP_FNS

    def _is_model_key(self, key: str, scope: Scope) -> bool:
        for b, _ in self.bindings(key, scope):
            if isinstance(b.value, cst.Call) and isinstance(b.value.func, cst.Name):
                if b.value.func.value in self.c.class_bases:
                    return True
            if isinstance(b.value, cst.Call) and nn_name(self.m.qualname(b.value.func)):
                return True
        return False

    def coverage(self, key: str, scope: Scope) -> set[str] | None:
        """The models whose ``.parameters()`` an optimizer was made from (None: unknown)."""
        out: set[str] = set()
        for b, _ in self.bindings(key, scope):
            if b.kind != "assign" or not isinstance(b.value, cst.Call):
                return None
            args = positional_args(b.value)
            params = keyword_arg(b.value, "params") or (args[0] if args else None)
            if params is None:
                return None
            found = [
                k
                for c in _calls(params)
                if isinstance(c.func, cst.Attribute)
                and c.func.attr.value in ("parameters", "named_parameters")
                and (k := dotted(c.func.value)) is not None
            ]
            if not found:
                return None
            out.update(found)
        return out or None

    def clears(self, zero: Event, optimizer: str, scope: Scope) -> bool:
        """Does ``zero`` clear the gradients ``optimizer`` steps with?"""
        if zero.target is None or zero.target == optimizer:
            return True
        if self.is_optimizer(zero.target, zero.scope or scope):
            return False
        cov = self.coverage(optimizer, scope)
        if cov is None:
            return True
        t = zero.target
        return any(c == t or c.startswith(t + ".") or t.startswith(c + ".") for c in cov)

    def order_faults(self) -> list[OrderFault]:
        """Per training loop and optimizer: gradients never cleared, a step that sees cleared
        gradients (step before backward, or zero_grad between backward and step)."""
        out: list[OrderFault] = []
        seen: set[tuple[str, cst.CSTNode]] = set()
        for loop in self.loops():
            steps = [e for p in loop.paths for e in p if e.kind == "step" and not e.nested]
            for opt in dict.fromkeys(e.target for e in steps if e.target):
                fault = self._order_fault(loop, opt)
                if fault is not None and (fault.kind, fault.node) not in seen:
                    seen.add((fault.kind, fault.node))
                    out.append(fault)
        return out

    def _order_fault(self, loop: Loop, opt: str) -> OrderFault | None:
        scope = loop.scope
        relevant: list[list[Event]] = []
        for path, ended in zip(loop.paths, loop.ended, strict=True):
            word = [
                e
                for e in path
                if e.kind == "backward"
                or (e.kind == "step" and e.target == opt)
                or (e.kind in ("zero", "maybe-zero") and self.clears(e, opt, scope))
            ]
            if ended and word and word[-1].kind == "step":
                continue  # steps once and leaves the loop
            relevant.append(word)
        with_step = [w for w in relevant if any(e.kind == "step" for e in w)]
        if not with_step or not any(e.kind == "backward" for w in with_step for e in w):
            return None
        if not any(
            e.kind == "zero" or (e.kind == "maybe-zero" and not _between_backward_and_step(w, i))
            for w in relevant
            for i, e in enumerate(w)
        ):
            word = next(w for w in with_step if any(e.kind == "backward" for e in w))
            step = next(e for e in word if e.kind == "step")
            backward = next(e for e in word if e.kind == "backward")
            return OrderFault("never-cleared", step.node, opt, loop, backward.node)
        for word in with_step:
            if not any(e.kind == "backward" for e in word):
                continue
            unknown = any(e.kind == "maybe-zero" for e in word)
            for i, e in enumerate(word):
                if e.kind != "step":
                    continue
                # walk back (cyclically: the previous iteration's tail) to the nearest event
                back = word[:i][::-1] + word[i + 1 :][::-1]
                first = next((x for x in back if x.kind != "step"), None)
                if first is None or first.kind != "zero":
                    continue
                zero_at = word.index(first)
                if unknown and zero_at > i:
                    continue  # across iterations an unknown callee may have stepped or cleared
                backward_before_zero = any(x.kind == "backward" for x in word[:zero_at])
                if zero_at < i and backward_before_zero:
                    filled = next(x for x in word[:zero_at][::-1] if x.kind == "backward")
                    evidence = (
                        (filled.node, f"`{self._short(filled.node)}` computes the gradients here"),
                        (e.node, f"`{self._short(e.node)}` would apply them here"),
                    )
                    return OrderFault("zero-between", first.node, opt, loop, evidence=evidence)
                return OrderFault(
                    "step-before-backward",
                    e.node,
                    opt,
                    loop,
                    evidence=self._cleared_evidence(word, i, zero_at),
                )
        return None

    def _cleared_evidence(self, word: list[Event], step: int, zero: int) -> Evidence:
        """Why the step at ``word[step]`` sees cleared gradients: the zero_grad at
        ``word[zero]`` (before it, or at the end of the previous iteration) and the backward
        that fills them only after the step (or fills them and has them cleared again)."""
        cleared = self._short(word[zero].node)
        when = " (at the end of the previous iteration)" if zero > step else ""
        out = [(word[zero].node, f"`{cleared}` clears the gradients here{when}")]
        after = word[step + 1 :] + word[:step]
        filled = next((x for x in after if x.kind == "backward"), None)
        if filled is not None:
            text = self._short(filled.node)
            at = word.index(filled)
            if step < at < zero:
                out.append((filled.node, f"`{text}` fills them here, but they are cleared again"))
            else:
                out.append((filled.node, f"`{text}` fills them only here, after the step"))
        return tuple(out)

    def _short(self, node: cst.CSTNode, width: int = 40) -> str:
        """``node``'s source on one line, cut at ``width`` characters."""
        text = " ".join(self.m.src(node).split())
        return text if len(text) <= width else text[: width - 3] + "..."

    # --- loss kept across iterations ------------------------------------------------------------

    def accumulations(self) -> Iterator[Accumulation]:
        for loop in self.loops():
            scope = loop.scope
            losses: dict[str, cst.CSTNode] = {}  # each loss and a backward() it is walked by
            backwarded: set[str] = set()
            for e in loop.events:
                if e.kind != "backward" or e.scope is not scope:
                    continue
                assert isinstance(e.node, cst.Call)
                recv = e.node.func.value if isinstance(e.node.func, cst.Attribute) else None
                for name in _loss_names(recv):
                    losses.setdefault(name, e.node)
            for sc in (scope,):
                for site in self.c.calls:
                    call = site.node
                    if site.scope is sc and isinstance(call, cst.Call):
                        if (
                            isinstance(call.func, cst.Attribute)
                            and call.func.attr.value == "backward"
                        ):
                            backwarded.update(_loss_names(call.func.value))
            if not losses:
                continue
            for key, bindings in scope.bindings.items():
                if key in losses or key in backwarded:
                    continue
                for b in bindings:
                    if loop.node not in b.loops or b.value is None:
                        continue
                    value = _accumulated(b, key)
                    if value is None:
                        continue
                    live = _live_name(value, set(losses))
                    if live is None:
                        continue
                    if self._reset_in_loop(key, bindings, b, loop.node):
                        continue
                    if self._under_no_grad(b.stmt):
                        continue
                    walked = losses[live]
                    evidence: list[tuple[cst.CSTNode, str]] = [
                        (
                            walked,
                            f"`{self._short(walked)}` back-propagates `{live}`: it has a graph",
                        )
                    ]
                    start = next(
                        (
                            s
                            for s in bindings
                            if s.kind == "assign" and loop.node not in s.loops and s.index < b.index
                        ),
                        None,
                    )
                    if start is not None:
                        at = start.stmt
                        if isinstance(at, cst.SimpleStatementLine):
                            at = at.body[0]
                        evidence.append((at, f"`{key}` starts here, before the loop"))
                    yield Accumulation(b.stmt, value, key, live, scope, tuple(evidence))

    def _reset_in_loop(
        self, key: str, bindings: list[Binding], acc: Binding, loop: cst.CSTNode
    ) -> bool:
        for b in bindings:
            if b is acc or loop not in b.loops or b.index > acc.index:
                continue
            if b.kind == "assign" and _accumulated(b, key) is None:
                return True
        return False

    def _under_no_grad(self, node: cst.CSTNode) -> bool:
        n: cst.CSTNode | None = node
        while n is not None:
            if isinstance(n, cst.With) and any(
                self.m.qualname(i.item.func if isinstance(i.item, cst.Call) else i.item) in NO_GRAD
                for i in n.items
            ):
                return True
            if isinstance(n, cst.FunctionDef):
                for d in n.decorators:
                    dec = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
                    if self.m.qualname(dec) in NO_GRAD:
                        return True
                return False
            n = self.parent(n)
        return False

    # --- autograd Functions ---------------------------------------------------------------------

    def functions(self) -> Iterator[FunctionSummary]:
        for cls in self.c.class_bases:
            if not self.is_function_class(cls):
                continue
            fwd = self.class_scope(cls, "forward")
            bwd = self.class_scope(cls, "backward")
            if fwd is None or bwd is None:
                continue
            node = self._class_node(cls)
            if node is None:
                continue
            fparams = fwd.params[1:]
            star = isinstance(fwd.node, cst.FunctionDef) and (
                isinstance(fwd.node.params.star_arg, cst.Param)
                or fwd.node.params.star_kwarg is not None
            )
            n_inputs = None if star else len(fparams)
            yield FunctionSummary(
                cls,
                node,
                fwd,
                bwd,
                n_inputs,
                tuple(bwd.params[1:]),
                tuple(bwd.returns),
                tuple(fwd.returns),
            )

    def _param_node(self, name: str, scope: Scope) -> cst.CSTNode | None:
        return next((b.target for b in scope.bindings.get(name, []) if b.kind == "param"), None)

    def _param_text(self, p: cst.Param) -> str:
        """``name`` or ``name=default`` (without the comma that belongs to the node)."""
        if p.default is None:
            return p.name.value
        return f"{p.name.value}={self._short(p.default, 20)}"

    def _inputs_evidence(self, fn: FunctionSummary) -> Evidence:
        """``forward``'s inputs after ctx, and what it saves for ``backward``."""
        out: list[tuple[cst.CSTNode, str]] = []
        fwd = fn.forward.node
        if isinstance(fwd, cst.FunctionDef):
            params = fwd.params
            plain = [*[*params.posonly_params, *params.params][1:], *params.kwonly_params]
            if plain:
                names = ", ".join(f"`{self._param_text(p)}`" for p in plain)
                count = f"{len(plain)} input" + ("s" if len(plain) != 1 else "")
                out.append((params, f"`forward` takes {count} after ctx: {names}"))
            else:
                out.append((fwd.name, "`forward` takes no input after ctx"))
        out += self._saved_evidence(fn)
        return tuple(out)

    def _saved_evidence(self, fn: FunctionSummary) -> list[tuple[cst.CSTNode, str]]:
        for site in self.c.calls:
            call = site.node
            if (
                site.scope is fn.forward
                and isinstance(call, cst.Call)
                and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "save_for_backward"
                and call.args
            ):
                saved = ", ".join(f"`{self._short(a.value, 20)}`" for a in call.args)
                return [(call, f"`forward` saves {saved} for `backward` here")]
        return []

    def _grad_evidence(self, fn: FunctionSummary, why: str) -> Evidence:
        """Where ``backward`` receives the gradient of ``forward``'s output."""
        grad = fn.grad_params[0]
        at = self._param_node(grad, fn.backward)
        if at is None:
            return ()
        return ((at, f"`{grad}` is the gradient of `forward`'s output: `backward` {why}"),)

    def ignored_gradients(
        self,
    ) -> Iterator[tuple[FunctionSummary, cst.BaseExpression, Evidence]]:
        """Gradients a ``backward`` returns that do not depend on any incoming gradient (only on
        its shape, as ``ones_like(grad_output)``): the chain rule's upstream factor is missing.
        Evidence: where the gradient comes in, and what ``forward`` saves for ``backward``."""
        for fn in self.functions():
            grads = set(fn.grad_params)
            if not grads:
                continue
            for ret in fn.returns:
                for el in _elements(ret):
                    if _no_gradient(el, self.m):
                        continue
                    if not self.flows_from(el, grads, fn.backward):
                        evidence = self._grad_evidence(fn, "receives it here")
                        yield fn, el, evidence + tuple(self._saved_evidence(fn))

    def passed_through(
        self,
    ) -> Iterator[tuple[FunctionSummary, cst.BaseExpression, str, cst.BaseExpression, Evidence]]:
        """``(function, returned grad, input name, forward's output)`` when ``backward`` returns
        its incoming gradient unchanged for an input of which ``forward`` computes a
        differentiable function whose derivative is not 1 (exp, sigmoid, a product, a power,
        a negation). Not when forward is the identity of that input (``x.view_as(x)``, a sum
        with other terms), nor when any part of forward is not differentiable or not known
        (sign, round, comparisons, clamp, helper calls: straight-through estimators), nor when
        the gradient is changed in place or rebound in ``backward``."""
        for fn in self.functions():
            if len(fn.grad_params) != 1 or fn.n_inputs is None or len(fn.forward_returns) != 1:
                continue
            grad = fn.grad_params[0]
            if any(b.kind != "param" for b in fn.backward.bindings.get(grad, [])):
                continue
            if self._mutated(grad, fn.backward):
                continue
            inputs = fn.forward.params[1:]
            out = fn.forward_returns[0]
            for ret in fn.returns:
                elements = _elements(ret)
                if len(elements) > len(inputs) or (
                    not isinstance(ret, cst.Tuple) and len(inputs) != 1
                ):
                    continue
                for el, name in zip(elements, inputs, strict=False):
                    if not _is_unchanged(el, grad):
                        continue
                    verdict = self._non_identity(out, name, fn.forward, 0)
                    if verdict is True:
                        made = f"`forward` returns `{self._short(out)}` here, not `{name}` itself"
                        evidence = ((out, made), *self._grad_evidence(fn, "receives it here"))
                        yield fn, el, name, out, evidence

    def unread_factors(
        self,
    ) -> Iterator[tuple[FunctionSummary, str, cst.CSTNode, cst.BaseExpression, Evidence]]:
        """``(function, input, where forward stores it, returned gradient)`` when ``forward``
        takes an input, stores it on ``ctx`` (``ctx.alpha = alpha``) and uses it for nothing
        else (its output does not depend on it), and ``backward`` never reads it back: the only
        purpose of that input is to scale the gradient, and the gradient ``backward`` returns
        does not have it (a gradient reversal that forgot its ``alpha``). Not when ``ctx``
        itself is handed to a helper in ``backward``."""
        for fn in self.functions():
            fwd, bwd = fn.forward.node, fn.backward.node
            if not (isinstance(fwd, cst.FunctionDef) and isinstance(bwd, cst.FunctionDef)):
                continue
            if len(fn.forward.params) < 2 or not fn.backward.params or not fn.grad_params:
                continue
            ctx_f, ctx_b = fn.forward.params[0], fn.backward.params[0]
            if not _ctx_only_as_receiver(bwd.body, ctx_b):
                continue
            read = _ctx_attrs(bwd.body, ctx_b)
            flags = {
                p.name.value
                for p in (*fwd.params.params, *fwd.params.kwonly_params)
                if p.default is not None and not isinstance(p.default, cst.Integer | cst.Float)
            }
            for x in fn.forward.params[1:]:
                if x in flags:
                    continue  # is_training=True, mode=None: a switch, not a factor
                stores = [
                    b
                    for key, bound in fn.forward.bindings.items()
                    if key.startswith(ctx_f + ".") and key.count(".") == 1
                    for b in bound
                    if b.kind == "assign" and isinstance(b.value, cst.Name) and b.value.value == x
                ]
                if len(stores) != 1 or _count_name(fwd.body, x) != 1:
                    continue  # x is used for more than the store
                attr = dotted(stores[0].target)
                if attr is None or attr.split(".", 1)[1] in read:
                    continue
                grads = set(fn.grad_params)
                returned = [
                    el
                    for ret in fn.returns
                    for el in _elements(ret)
                    if not _no_gradient(el, self.m) and self.flows_from(el, grads, fn.backward)
                ]
                if returned:
                    stored = self._short(stores[0].stmt)
                    evidence: list[tuple[cst.CSTNode, str]] = [
                        (stores[0].stmt, f"`{stored}` keeps it; `backward` never reads it back")
                    ]
                    param = self._param_node(x, fn.forward)
                    if param is not None:
                        evidence.insert(0, (param, f"`{x}` is an input of `forward`"))
                    yield fn, x, stores[0].stmt, returned[0], tuple(evidence)

    def _mutated(self, name: str, scope: Scope) -> bool:
        for site in self.c.calls:
            call = site.node
            if (
                site.scope is scope
                and isinstance(call, cst.Call)
                and isinstance(call.func, cst.Attribute)
                and call.func.attr.value.endswith("_")
                and dotted(call.func.value) == name
            ):
                return True
        return any(
            b.kind in ("aug", "assign") and isinstance(b.target, cst.Subscript)
            for b in scope.bindings.get(name, [])
        )

    def _non_identity(
        self, node: cst.BaseExpression, x: str, scope: Scope, depth: int
    ) -> bool | None:
        """Is d(node)/d(x) known not to be 1 (True), known to be 1 or 0 (False), or unknown
        (None: something not differentiable or not read)? Follows single assignments."""
        if depth > 8:
            return None
        if isinstance(node, cst.Integer | cst.Float):
            return False
        if isinstance(node, cst.Name):
            if node.value == x:
                return False
            bound = scope.bindings.get(node.value, [])
            if not bound:
                return False if node.value in scope.params or node.value == "None" else None
            if all(b.kind == "param" for b in bound):
                return False  # another input: no dependence on x
            if len(bound) != 1 or bound[0].kind != "assign" or bound[0].value is None:
                return None
            if isinstance(bound[0].target, cst.Subscript):
                return None
            return self._non_identity(bound[0].value, x, scope, depth + 1)
        if isinstance(node, cst.Attribute):
            return None if _depends(node, x) else False  # ctx.alpha, self.k: constants
        if isinstance(node, cst.UnaryOperation):
            inner = self._non_identity(node.expression, x, scope, depth + 1)
            if isinstance(node.operator, cst.Minus):
                return None if inner is None else (inner or self._uses(node.expression, x, scope))
            return inner if isinstance(node.operator, cst.Plus) else None
        if isinstance(node, cst.BinaryOperation):
            left = self._non_identity(node.left, x, scope, depth + 1)
            right = self._non_identity(node.right, x, scope, depth + 1)
            if left is None or right is None:
                return None
            op = node.operator
            if isinstance(op, cst.Add):
                return left or right
            if isinstance(op, cst.Subtract):
                return left or right or self._uses(node.right, x, scope)
            if isinstance(op, cst.Multiply | cst.Divide | cst.Power | cst.MatrixMultiply):
                uses = self._uses(node.left, x, scope) or self._uses(node.right, x, scope)
                if not uses:
                    return False
                if isinstance(op, cst.Multiply | cst.Divide) and (
                    _is_one(node.right) or (isinstance(op, cst.Multiply) and _is_one(node.left))
                ):
                    return left or right
                return True
            return None
        if isinstance(node, cst.Call):
            q = self.m.qualname(node.func)
            args = [a.value for a in node.args]
            if isinstance(node.func, cst.Attribute) and q is None:
                meth = node.func.attr.value
                recv = node.func.value
                if meth in SHAPE_METHODS:
                    return self._non_identity(recv, x, scope, depth + 1)
                if meth in SMOOTH_METHODS:
                    inner = self._non_identity(recv, x, scope, depth + 1)
                    return None if inner is None else self._uses(recv, x, scope)
                return None
            if q in SMOOTH_FNS and args:
                inner = self._non_identity(args[0], x, scope, depth + 1)
                return None if inner is None else self._uses(args[0], x, scope)
            return None
        return None

    def _uses(self, node: cst.BaseExpression, x: str, scope: Scope) -> bool:
        return self.flows_from(node, {x}, scope)

    def gradient_counts(
        self,
    ) -> Iterator[tuple[FunctionSummary, cst.CSTNode, int, int, int, Evidence]]:
        """``(function, return, returned, fewest, most)`` when a ``backward`` returns fewer
        gradients than ``forward`` has required inputs, or more than it has inputs."""
        for fn in self.functions():
            if fn.n_inputs is None or not isinstance(fn.forward.node, cst.FunctionDef):
                continue
            params = fn.forward.node.params
            plain = [*params.posonly_params, *params.params][1:]
            required = sum(1 for p in plain if p.default is None)
            most = len(plain) + len(params.kwonly_params)
            if not fn.returns and required >= 2:
                node = fn.backward.node
                if _falls_off(node) is not None and isinstance(node, cst.FunctionDef):
                    # no return: a single None
                    yield fn, node.name, 0, required, most, self._inputs_evidence(fn)
            for ret in fn.returns:
                count = self._count(ret, fn.backward)
                if count is None:
                    continue
                if count < required or count > most:
                    yield fn, ret, count, required, most, self._inputs_evidence(fn)

    def switch_without_gradient(
        self,
    ) -> Iterator[tuple[FunctionSummary, cst.BaseExpression, int, str, int, Evidence]]:
        """``(function, return, returned, input, inputs)`` when ``backward`` returns fewer
        gradients than ``forward`` has positional inputs and a missing one has a default that
        ``forward`` branches on (``if is_training:`` with code for the other value): that code
        runs only for callers who pass the input, and every such call raises for the missing
        gradient. Not when this module calls ``apply`` and never passes it."""
        for fn in self.functions():
            fwd = fn.forward.node
            if fn.n_inputs is None or not isinstance(fwd, cst.FunctionDef):
                continue
            plain = [*fwd.params.posonly_params, *fwd.params.params][1:]
            if not fn.returns:
                continue
            counts = {self._count(ret, fn.backward) for ret in fn.returns}
            if len(counts) != 1 or None in counts:
                continue
            count = counts.pop()
            assert count is not None
            if count >= len(plain) or count < sum(1 for p in plain if p.default is None):
                continue
            tests = _branch_tests(fwd.body)
            switch = next(
                (
                    (p, t)
                    for p in plain[count:]
                    if p.default is not None
                    for t in tests
                    if _count_name(t, p.name.value)
                ),
                None,
            )
            if switch is None:
                continue
            passed = self._apply_arity(fn.cls)
            if passed and max(passed) <= count:
                continue
            param, test = switch
            name = param.name.value
            evidence = (
                (param, f"`{self._param_text(param)}` is an input of `forward` with a default"),
                (test, f"`forward` branches on `{name}` here"),
            )
            yield fn, fn.returns[0], count, name, len(plain), evidence

    def _apply_arity(self, cls: str) -> list[int]:
        """Positional argument counts of ``cls.apply(...)`` calls in this module."""
        out: list[int] = []
        for site in self.c.calls:
            call = site.node
            if isinstance(call, cst.Call) and dotted(call.func) == f"{cls}.apply":
                if any(a.star for a in call.args):
                    out.append(1 << 16)
                else:
                    out.append(len(positional_args(call)))
        return out

    def _count(self, ret: cst.BaseExpression, scope: Scope) -> int | None:
        if isinstance(ret, cst.Tuple):
            if any(isinstance(e, cst.StarredElement) for e in ret.elements):
                return None
            return len(ret.elements)
        if isinstance(ret, cst.Name):
            whole = [
                b
                for b in scope.bindings.get(ret.value, [])
                if not isinstance(b.target, cst.Subscript)
            ]
            if whole and all(b.kind == "param" for b in whole):
                star = isinstance(scope.node, cst.FunctionDef) and any(
                    isinstance(p, cst.Param) and p.name.value == ret.value
                    for p in (scope.node.params.star_arg,)
                )
                return None if star else 1  # the incoming gradient itself: one tensor
            if not whole or any(b.kind != "assign" or b.value is None for b in whole):
                return None
            counts = {self._count(b.value, scope) for b in whole if b.value is not None}
            return counts.pop() if len(counts) == 1 else None
        if isinstance(ret, cst.BinaryOperation | cst.UnaryOperation):
            return 1
        if isinstance(ret, cst.Call) and self.m.qualname(ret.func) in SHAPE_ONLY_FNS:
            return 1
        if (
            isinstance(ret, cst.Call)
            and isinstance(ret.func, cst.Attribute)
            and ret.func.attr.value in PASS_METHODS | {"sum", "mean", "neg", "mul", "clamp"}
        ):
            return 1
        return None

    def dropout_always_on(self) -> Iterator[tuple[cst.Call, Evidence]]:
        """``F.dropout(x, p)`` in a method of an ``nn.Module`` without ``training=`` (its default
        is True) or with ``training=True``: dropout stays on after ``model.eval()``. Evidence:
        the class is a module, whose ``eval()`` only sets ``self.training``."""
        for site in self.c.calls:
            call = site.node
            if not isinstance(call, cst.Call) or self.m.qualname(call.func) not in DROPOUT_FNS:
                continue
            cls = site.scope.cls
            if cls is None or not self.is_module_class(cls):
                continue
            training = keyword_arg(call, "training")
            if training is None:
                pos = positional_args(call)
                if len(pos) >= 3 or any(a.star for a in call.args):
                    continue
                yield call, self.module_class_evidence(cls)
            elif isinstance(training, cst.Name) and training.value == "True":
                yield call, self.module_class_evidence(cls)

    def module_class_evidence(self, cls: str) -> Evidence:
        """Where ``cls`` is declared an ``nn.Module``: ``eval()`` reaches its registered
        submodules and sets its ``self.training``, nothing else."""
        node = self._class_node(cls)
        if node is None:
            return ()
        text = f"`{cls}` is an `nn.Module`: `eval()` switches only `self.training` and submodules"
        return ((node.name, text),)

    def _class_node(self, cls: str) -> cst.ClassDef | None:
        for s in self.c.scopes:
            if s.cls == cls and isinstance(s.node, cst.FunctionDef):
                n = self.parent(s.node)
                while n is not None and not isinstance(n, cst.ClassDef):
                    n = self.parent(n)
                if isinstance(n, cst.ClassDef) and n.name.value == cls:
                    return n
        return None

    def flows_from(self, node: cst.BaseExpression, names: set[str], scope: Scope) -> bool:
        """Does ``node``'s value depend on one of ``names`` (values, not just shapes), following
        the assignments of ``scope``?"""
        seen: set[str] = set()
        todo = [node]
        while todo:
            n = todo.pop()
            for name in _value_names(n, self.m):
                if name in names:
                    return True
                if name in seen:
                    continue
                seen.add(name)
                for b in scope.bindings.get(name, []):
                    if b.value is not None and b.kind != "param":
                        todo.append(b.value)
                for site in self.c.calls:  # in-place updates: grad.index_add_(0, i, g)
                    call = site.node
                    if (
                        site.scope is scope
                        and isinstance(call, cst.Call)
                        and isinstance(call.func, cst.Attribute)
                        and call.func.attr.value.endswith("_")
                        and dotted(call.func.value) == name
                    ):
                        todo.extend(a.value for a in call.args)
        return False

    # --- train / eval mode ----------------------------------------------------------------------

    def mode_calls(self) -> list[tuple[str, str, Site]]:
        """``(receiver key, "train" | "eval", site)`` for ``m.train()`` / ``m.eval()``."""
        out = []
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if not isinstance(call.func, cst.Attribute) or self.m.qualname(call.func):
                continue
            meth = call.func.attr.value
            key = dotted(call.func.value)
            if key is None:
                continue
            if meth == "eval" and not call.args:
                out.append((key, "eval", site))
            elif meth == "train":
                arg = call.args[0].value if call.args else None
                if arg is None or (isinstance(arg, cst.Name) and arg.value == "True"):
                    out.append((key, "train", site))
                elif isinstance(arg, cst.Name) and arg.value == "False":
                    out.append((key, "eval", site))
                else:
                    out.append((key, "either", site))
        return out

    def no_grad_blocks(self) -> Iterator[tuple[cst.With, Scope]]:
        for scope in self.c.scopes:
            for w in _withs_in(_body_of(scope.node)):
                for item in w.items:
                    it = item.item
                    q = self.m.qualname(it.func if isinstance(it, cst.Call) else it)
                    if q in ("torch.no_grad", "torch.inference_mode"):
                        yield w, scope
                        break

    def has_mode_layers(self, cls: str) -> bool:
        """Does the class (or what it builds) hold dropout or batch-norm?"""
        for bindings in self.c.class_attrs.get(cls, {}).values():
            for b in bindings:
                if b.value is not None and self._mentions_mode_layer(b.value):
                    return True
        for s in self.c.scopes:
            if s.cls == cls:
                for site in self.c.calls:
                    if site.scope is s and isinstance(site.node, cst.Call):
                        q = self.m.qualname(site.node.func)
                        if q in DROPOUT_FNS:
                            return True
        return False

    def _mentions_mode_layer(self, node: cst.CSTNode) -> bool:
        for c in _calls(node):
            name = nn_name(self.m.qualname(c.func))
            if name and name.startswith(MODE_LAYERS):
                return True
        return False


# --- small helpers ---------------------------------------------------------------------------


def _falls_off(fn: cst.CSTNode) -> cst.CSTNode | None:
    """The last statement of a function that ends without ``return`` (and does not raise, yield,
    or only ``pass``): what it returns is None."""
    if not isinstance(fn, cst.FunctionDef) or not isinstance(fn.body, cst.IndentedBlock):
        return None
    body = fn.body.body
    if not body:
        return None
    last = body[-1]
    found = False

    class _V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is fn

        def visit_Raise(self, node: cst.Raise) -> None:
            nonlocal found
            found = True

        def visit_Yield(self, node: cst.Yield) -> None:
            nonlocal found
            found = True

        def visit_Pass(self, node: cst.Pass) -> None:
            nonlocal found
            found = True

    walk(fn, _V())
    if found or not isinstance(last, cst.SimpleStatementLine):
        return None
    return last


# differentiable everywhere, derivative not 1: what a pass-through backward gets wrong
SMOOTH_FNS = {
    "torch.exp",
    "torch.log",
    "torch.sigmoid",
    "torch.tanh",
    "torch.sin",
    "torch.cos",
    "torch.sqrt",
    "torch.pow",
    "torch.square",
    "torch.mul",
    "torch.nn.functional.softplus",
    "torch.special.expit",
    "torch.nn.functional.sigmoid",
    "torch.nn.functional.tanh",
}
SMOOTH_METHODS = {"exp", "log", "sigmoid", "tanh", "sin", "cos", "sqrt", "pow", "square", "mul"}
SHAPE_METHODS = {"view", "view_as", "reshape", "reshape_as", "clone", "contiguous", "flatten"}


def _is_one(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Integer | cst.Float) and float(node.value) == 1.0


def _depends(node: cst.CSTNode, name: str) -> bool:
    found = False

    class _V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            nonlocal found
            found = found or n.value == name

    walk(node, _V())
    return found


def _branch_tests(body: cst.CSTNode) -> list[cst.BaseExpression]:
    """The tests of ``if`` statements and conditional expressions in ``body``."""
    found: list[cst.BaseExpression] = []

    class _V(cst.CSTVisitor):
        def visit_If(self, n: cst.If) -> None:
            found.append(n.test)

        def visit_IfExp(self, n: cst.IfExp) -> None:
            found.append(n.test)

        def visit_FunctionDef(self, n: cst.FunctionDef) -> bool:
            return False

    walk(body, _V())
    return found


def _count_name(node: cst.CSTNode, name: str) -> int:
    count = 0

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> bool:
            walk(n.value, self)  # ``ctx.alpha``: ``alpha`` here is an attribute, not the name
            return False

        def visit_Name(self, n: cst.Name) -> None:
            nonlocal count
            count += n.value == name

    walk(node, _V())
    return count


def _ctx_attrs(node: cst.CSTNode, ctx: str) -> set[str]:
    """The attributes read or written on ``ctx`` in ``node``."""
    found: set[str] = set()

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> None:
            if isinstance(n.value, cst.Name) and n.value.value == ctx:
                found.add(n.attr.value)

    walk(node, _V())
    return found


def _ctx_only_as_receiver(node: cst.CSTNode, ctx: str) -> bool:
    """Is ``ctx`` in ``node`` only ever the receiver of an attribute (``ctx.saved_tensors``)?"""
    return _count_name(node, ctx) == sum(1 for _ in _ctx_reads(node, ctx))


def _ctx_reads(node: cst.CSTNode, ctx: str) -> list[cst.Attribute]:
    found: list[cst.Attribute] = []

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> None:
            if isinstance(n.value, cst.Name) and n.value.value == ctx:
                found.append(n)

    walk(node, _V())
    return found


def _is_unchanged(el: cst.BaseExpression, grad: str) -> bool:
    """``g`` or ``g.clone()`` / ``g.view_as(x)``: the incoming gradient as it came."""
    if isinstance(el, cst.Name):
        return el.value == grad
    if (
        isinstance(el, cst.Call)
        and isinstance(el.func, cst.Attribute)
        and el.func.attr.value in ("clone", "view_as", "reshape_as", "contiguous")
    ):
        return _is_unchanged(el.func.value, grad)
    return False


def _elements(ret: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(ret, cst.Tuple):
        return [e.value for e in ret.elements if not isinstance(e, cst.StarredElement)]
    return [ret]


def _no_gradient(node: cst.BaseExpression, model: ModuleModel) -> bool:
    """``None``, a constant, or zeros: a deliberate "no gradient" for that input."""
    if isinstance(node, cst.Name) and node.value == "None":
        return True
    if isinstance(node, cst.Integer | cst.Float):
        return True
    if isinstance(node, cst.Call):
        q = model.qualname(node.func)
        if q in ("torch.zeros_like", "torch.zeros", "torch.empty_like"):
            return True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("new_zeros", "zero_"):
            return True
    return False


def _dedupe(paths: list[tuple[list[Event], bool]]) -> list[tuple[list[Event], bool]]:
    """Paths that differ only in statements without events are one path."""
    out: dict[tuple[tuple[cst.CSTNode, ...], bool], tuple[list[Event], bool]] = {}
    for p, done in paths:
        out.setdefault((tuple(e.node for e in p), done), (p, done))
    return list(out.values())


def _agree(values: list[Kind | None]) -> Kind | None:
    if not values or any(v is None for v in values):
        return None
    outs = {v.out for v in values if v}
    if len(outs) != 1:
        return None
    first = values[0]
    assert first is not None
    if first.out is not Out.TUPLE or len(values) == 1:
        if len(values) == 1:
            return first
        others: dict[cst.CSTNode, Kind] = {}
        for v in values:
            assert v is not None
            for k in (v, *v.alts):
                if k.node is not first.node:
                    others.setdefault(k.node, replace(k, alts=()))
        return replace(first, alts=tuple(others.values())) if others else first
    sizes = {len(v.parts) for v in values if v}
    if len(sizes) != 1:
        return None
    parts = tuple(_agree([v.parts[i] if v else None for v in values]) for i in range(sizes.pop()))
    return replace(first, parts=parts) if any(parts) else None


# methods of a module that return the module itself
MODULE_SELF_METHODS = {"to", "cuda", "cpu", "float", "double", "half", "train", "eval", "type"}


def _unwrap_module(value: cst.BaseExpression) -> cst.BaseExpression:
    """``Net().to(device).train()`` -> ``Net()``: these methods return the module itself."""
    while (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value in MODULE_SELF_METHODS
    ):
        value = value.func.value
    return value


def _moves(b: Binding, key: str) -> bool:
    """``net = net.cuda()``: a rebinding of ``key`` to itself."""
    if b.kind != "assign" or b.value is None or not isinstance(b.value, cst.Call):
        return False
    inner = _unwrap_module(b.value)
    return inner is not b.value and dotted(inner) == key


def _same_criterion(found: list[Crit | None]) -> Crit | None:
    kinds = {f[0] for f in found if f}
    return found[0] if len(kinds) == 1 else None


def _same_module(a: ModuleModel, b: ModuleModel) -> bool:
    if a is b:
        return True
    if a.path is None or b.path is None:
        return False
    from linter.analysis.siblings import resolved

    try:
        return resolved(a.path) == resolved(b.path)
    except OSError:
        return False


def _part(whole: Kind, index: int | None) -> Kind | None:
    """Element ``index`` of a tuple kind (None: not a tuple, or out of range)."""
    if (
        whole.out is not Out.TUPLE
        or index is None
        or not -len(whole.parts) <= index < len(whole.parts)
    ):
        return None
    return whole.parts[index]


def _int_index(node: cst.Subscript) -> int | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    v = node.slice[0].slice.value
    if isinstance(v, cst.Integer):
        return int(v.value)
    if (
        isinstance(v, cst.UnaryOperation)
        and isinstance(v.operator, cst.Minus)
        and isinstance(v.expression, cst.Integer)
    ):
        return -int(v.expression.value)
    return None


def _body_of(node: cst.CSTNode) -> list[cst.BaseStatement]:
    if isinstance(node, cst.Module):
        return list(node.body)
    if isinstance(node, cst.FunctionDef) and isinstance(node.body, cst.IndentedBlock):
        return list(node.body.body)
    return []


def _loops_in(stmts: Iterable[cst.CSTNode]) -> Iterator[cst.For | cst.While]:
    """Loops among ``stmts`` and inside their compound statements, not inside nested defs."""
    for s in stmts:
        if isinstance(s, cst.FunctionDef | cst.ClassDef):
            continue
        if isinstance(s, cst.For | cst.While):
            yield s
        for block in _blocks(s):
            yield from _loops_in(block)


def _withs_in(stmts: Iterable[cst.CSTNode]) -> Iterator[cst.With]:
    for s in stmts:
        if isinstance(s, cst.FunctionDef | cst.ClassDef):
            continue
        if isinstance(s, cst.With):
            yield s
        for block in _blocks(s):
            yield from _withs_in(block)


def _blocks(s: cst.CSTNode) -> Iterator[list[cst.BaseStatement]]:
    body = getattr(s, "body", None)
    if isinstance(body, cst.IndentedBlock):
        yield list(body.body)
    orelse = getattr(s, "orelse", None)
    if isinstance(orelse, cst.If):
        yield [orelse]
    elif isinstance(orelse, cst.Else) and isinstance(orelse.body, cst.IndentedBlock):
        yield list(orelse.body.body)
    for h in getattr(s, "handlers", ()) or ():
        if isinstance(h.body, cst.IndentedBlock):
            yield list(h.body.body)
    fin = getattr(s, "finalbody", None)
    if fin is not None and isinstance(fin.body, cst.IndentedBlock):
        yield list(fin.body.body)


def _calls(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            found.append(n)

    walk(node, _V())
    return found


def _is_grad_attr(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "grad"


def _loss_names(recv: cst.BaseExpression | None) -> set[str]:
    """The names a ``.backward()`` receiver is built from: ``loss``, ``(loss / k)``,
    ``scaler.scale(loss)``, ``loss1 + loss2``."""
    if recv is None:
        return set()
    if isinstance(recv, cst.Name):
        return {recv.value}
    if isinstance(recv, cst.BinaryOperation):
        return _loss_names(recv.left) | _loss_names(recv.right)
    if isinstance(recv, cst.Call) and len(recv.args) == 1 and isinstance(recv.func, cst.Attribute):
        return _loss_names(recv.args[0].value)
    if isinstance(recv, cst.Call) and isinstance(recv.func, cst.Attribute) and not recv.args:
        return _loss_names(recv.func.value)  # loss.mean().backward()
    return set()


def _accumulated(b: Binding, key: str) -> cst.BaseExpression | None:
    """What ``b`` adds into ``key``: ``acc += v``, ``acc = acc + v``, ``acc.append(v)``."""
    if b.kind == "aug" and b.op == "AddAssign":
        return b.value
    if b.kind == "append":
        return b.value
    if b.kind == "assign" and isinstance(b.value, cst.BinaryOperation):
        v = b.value
        if isinstance(v.operator, cst.Add):
            if dotted(v.left) == key:
                return v.right
            if dotted(v.right) == key:
                return v.left
    return None


def _live_name(node: cst.BaseExpression, names: set[str]) -> str | None:
    """A name of ``names`` read in ``node`` as a tensor still attached to its graph."""
    if isinstance(node, cst.Name):
        return node.value if node.value in names else None
    if isinstance(node, cst.Attribute):
        if node.attr.value in DETACHING_ATTRS:
            return None
        return _live_name(node.value, names)
    if isinstance(node, cst.Call):
        f = node.func
        if isinstance(f, cst.Name) and f.value in ("float", "int", "round", "str", "len"):
            return None
        if isinstance(f, cst.Attribute):
            if f.attr.value in DETACHING_ATTRS:
                return None
            if f.attr.value in ("mean", "sum", "squeeze", "view", "reshape", "clone"):
                return _live_name(f.value, names)
        return None
    if isinstance(node, cst.BinaryOperation):
        return _live_name(node.left, names) or _live_name(node.right, names)
    if isinstance(node, cst.UnaryOperation):
        return _live_name(node.expression, names)
    return None


def _value_names(node: cst.CSTNode, model: ModuleModel) -> set[str]:
    """Names whose values (not only shapes) flow into ``node``."""
    found: set[str] = set()

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> bool:
            q = model.qualname(n.func)
            if q in SHAPE_ONLY_FNS:
                return False
            if isinstance(n.func, cst.Attribute) and n.func.attr.value in SHAPE_ONLY_ATTRS:
                return False
            return True

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            if n.attr.value in SHAPE_ONLY_ATTRS:
                return False
            walk(n.value, self)
            return False

        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    walk(node, _V())
    return found


def source_path(model: ModuleModel) -> Path | None:
    return model.path


# --- for the loss-pairing rules ----------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One end of a loss-pairing defect that lies in the linted module: where the output is made
    (``"output"``), where the criterion is made (``"criterion"``, when that is not where it is
    applied), or where it is applied (``"call"``)."""

    node: cst.CSTNode
    role: str
    pairing: Pairing
    act: str  # the producing expression, shortened
    ends: str  # every end as ``file:line (role)``
    evidence: Evidence = ()  # each end of the pairing that lies in this module, and its role


def mismatches(model: ModuleModel, criteria: set[str], outs: set[Out]) -> Iterator[Mismatch]:
    """The ends, in this module, of each criterion of ``criteria`` fed a value of kind ``outs``.

    A defect is reported at each of its ends so that it shows whichever file is linted (the
    model in ``model.py``, the loss in ``train.py``) and next to each place a fix can go: where
    the activation is (or the model's last layer), where the loss is computed and, when it is
    made in another function or file, where the criterion is made. Ends in one statement are one
    finding. Loss calls under ``torch.no_grad()`` (validation) are not training and not ends.
    The pairings are read from this module and from the modules of the project related to it:
    those it imports, those that import it, and what those import (``LYTNet.py`` <-
    ``training.py`` -> ``loss.py``)."""
    mine = facts(model)
    if not mine.uses_torch:
        return
    if mine._ends_here is None:  # once per linted file, whichever loss rules ask
        mine._ends_here = [
            (p, ends)
            for m in _related(model)
            for p, ends in _pairings_and_ends(m)
            if any(mod is model for _, _, mod in ends)
        ]
    seen: set[cst.CSTNode] = set()
    for p, ends in mine._ends_here:
        if p.criterion not in criteria or p.kind.out not in outs:
            continue
        where = ", ".join(f"{_place(mod, n)} ({role})" for role, n, mod in ends)
        act = _head(p.kind.model.src(p.kind.node))
        evidence = _pairing_evidence(p, model)
        for role, node, mod in ends:
            if mod is model and node not in seen:
                seen.add(node)
                yield Mismatch(node, role, p, act, where, evidence)


# module -> (``siblings.world`` when computed, its pairings and their ends, the paths consulted)
_lasting_pairings: weakref.WeakKeyDictionary[
    ModuleModel,
    tuple[int, list[tuple[Pairing, list[tuple[str, cst.CSTNode, ModuleModel]]]], list[str]],
] = weakref.WeakKeyDictionary()


def _pairings_and_ends(
    m: ModuleModel,
) -> list[tuple[Pairing, list[tuple[str, cst.CSTNode, ModuleModel]]]]:
    """``m``'s pairings and their ends, computed once for all the files linted in this process
    that relate to ``m`` (while ``siblings.world`` stays: every module they read is the one
    model of its file). The sibling paths consulted are recorded again at each use, for the
    results cache: those the linted file had consulted when they were computed (a superset, as
    an answer over several modules cannot tell which of the file's look-ups it used)."""
    from linter.analysis import siblings

    found = _lasting_pairings.get(m)
    if found is not None and found[0] == siblings.world[0]:
        siblings.consulted.extend(found[2])
        return found[1]
    out = [(p, _ends(p)) for p in facts(m).pairings()]
    deps = list(dict.fromkeys(siblings.consulted[siblings.consulted_start[0] :]))
    _lasting_pairings[m] = (siblings.world[0], out, deps)
    return out


def _pairing_evidence(p: Pairing, model: ModuleModel) -> Evidence:
    """Where, in ``model``'s module, the output gets its kind, the criterion is made and the
    loss is computed (an end in another file has no line here: ``Mismatch.ends`` names it)."""
    out: list[tuple[cst.CSTNode, str]] = []
    for k in (p.kind, *p.kind.alts):
        if k.model is model:
            out.append((k.node, f"`{_head(model.src(k.node))}` gives {k.out.value} here"))
    made = _head(p.criterion_model.src(p.criterion_node))
    if p.criterion_node is not p.call and p.criterion_model is model:
        out.append((p.criterion_node, f"`{made}` makes the criterion here"))
    if p.model is model:
        call = _head(model.src(p.call))
        out.append((p.call, f"`{call}` computes the loss on the {p.kind.out.value} here"))
    return tuple(out)


def _related(model: ModuleModel) -> list[ModuleModel]:
    from linter.analysis.siblings import importers, imports_of, sibling_model

    out: list[ModuleModel] = [model]

    def add(m: ModuleModel | None) -> None:
        if m is not None and all(not _same_module(m, o) for o in out):
            out.append(m)

    users = importers(model)
    for path in imports_of(model):
        add(sibling_model(path))
    for user in users:
        add(user)
    for user in users:
        for path in imports_of(user):
            add(sibling_model(path))
    return out


def _between_backward_and_step(word: list[Event], i: int) -> bool:
    """Is event ``i`` after a backward and before the step that uses its gradients (no other
    backward or step between)? An unknown callee there (``clip_gradient(optimizer, c)``) is
    taken to keep the gradients: clearing them would leave the step nothing to apply."""
    before = next((e for e in reversed(word[:i]) if e.kind in ("backward", "step")), None)
    after = next((e for e in word[i + 1 :] if e.kind in ("backward", "step")), None)
    return (
        before is not None
        and before.kind == "backward"
        and after is not None
        and after.kind == "step"
    )


def _ends(p: Pairing) -> list[tuple[str, cst.CSTNode, ModuleModel]]:
    """The output, the criterion and the loss call, one per function (in that order of
    preference): a defect whose ends sit in one function is one finding there, except that a
    loss computed in a loop is its own end when the other ends of that function are outside
    the loop (``criterion = nn.NLLLoss()`` at the top of a script, ``criterion(out, y)`` in its
    training loop: the criterion names the loss, the call is where the training signal is
    wrong, many lines apart)."""
    ends = [
        *(("output", k.node, k.model) for k in (p.kind, *p.kind.alts)),
        ("criterion", p.criterion_node, p.criterion_model),
        ("loss call", p.call, p.model),
    ]
    out: list[tuple[str, cst.CSTNode, ModuleModel]] = []
    places: list[tuple[ModuleModel, cst.CSTNode | None, cst.CSTNode | None]] = []
    for role, node, mod in ends:
        tf = facts(mod)
        place = (mod, tf.enclosing_function(node), tf.enclosing_loop(node))
        if any(
            m is place[0] and f is place[1] and (role != "loss call" or lp is place[2])
            for m, f, lp in places
        ):
            continue
        places.append(place)
        out.append((role, node, mod))
    return out


def _contains(outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    found = False

    class _V(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            nonlocal found
            if n is inner:
                found = True
            return not found

    walk(outer, _V())
    return found


_lines: weakref.WeakKeyDictionary[ModuleModel, Mapping[cst.CSTNode, object]] = (
    weakref.WeakKeyDictionary()
)


def _place(model: ModuleModel, node: cst.CSTNode) -> str:
    """``file.py:line`` of ``node`` (the line in the module as parsed)."""
    from linter.analysis.treewalk import code_positions

    positions = _lines.get(model)
    if positions is None:
        positions = _lines[model] = code_positions(model.module)
    pos = positions.get(node)
    name = model.path.name if model.path is not None else "<module>"
    line = getattr(getattr(pos, "start", None), "line", None)
    return f"{name}:{line}" if line is not None else name


def _head(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 50 else text[:47] + "..."
