"""The per-module model rules query: names, roles with evidence, weight orientation.

Built from the single walk in ``collect.py``; every question is answered lazily and memoised, so
a rule that never asks about roles costs nothing.

Roles (``Role``) come from data flow first: ``a - y`` with ``y`` a target is an error signal,
anything multiplied by a gradient is a gradient, a value fed to an activation is a
pre-activation, a matrix updated with ``-= lr * ...`` is a parameter. Name patterns are consulted
only when the flow gives nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TypeVar

import libcst as cst

from linter.analysis import names as N
from linter.analysis.callables import applications, held_value
from linter.analysis.collect import Binding, Collector, Read, Scope, Site, single_value
from linter.analysis.elements import unpacked_origins
from linter.analysis.exprs import (
    DictKey,
    dict_key,
    dotted,
    factors_of,
    int_value,
    names_in,
    number_value,
    positional_args,
    string_value,
)
from linter.analysis.forms import ACTIVATION_KINDS, DERIVATIVES, Form, Forms, Kind, one_minus
from linter.analysis.instances import instance_classes
from linter.analysis.treewalk import walk

T = TypeVar("T")


class Role(StrEnum):
    BIAS = "bias"
    PREACT = "z"  # pre-activation
    ACT = "a"  # activation output
    GRAD = "gradient"  # dC/d(something): delta, upstream gradient, error signal
    ERROR = "error"  # a - y or y - a (a GRAD seed)
    TARGET = "target"
    DERIV = "local-derivative"  # σ'(.) and friends
    INIT = "random-init"
    LINEAR = "linear"  # W @ a, before the bias is added
    PROB = "softmax"
    LOGPROB = "log-softmax"


@dataclass(frozen=True)
class MatMul:
    node: cst.CSTNode
    left: cst.BaseExpression
    right: cst.BaseExpression


@dataclass(frozen=True)
class WeightUse:
    """A weight used as an operand of a matrix product, and which map the product applies."""

    matmul: MatMul
    key: str
    weight: cst.BaseExpression  # the operand as written (maybe transposed)
    other: cst.BaseExpression
    applies: str  # "W" or "W^T"


@dataclass(frozen=True)
class Update:
    """``key`` moved by ``direction`` (-1 for ``-=``) times ``step`` (``lr * g``)."""

    key: str
    scope: Scope
    binding: Binding
    direction: int
    step: cst.BaseExpression
    step_scope: Scope


@dataclass(frozen=True)
class _DictFlow:
    """One place a dict gets its entries from (``ModuleModel._dict_flows``): a ``store``
    (``d[key] = v``, ``d[key] += v``; ``key`` None when it cannot be read), a dict ``literal``
    and each of its ``entry``s, a ``cut`` (a flow met again) or something ``opaque`` (with the
    value or binding it comes from, when there is one)."""

    kind: str
    scope: Scope
    key: DictKey | None = None
    binding: Binding | None = None
    value: cst.BaseExpression | None = None


_EMPTY: frozenset[Role] = frozenset()


@dataclass
class _Recorder:
    """What one binding's value read touched: the questions answered afresh (``("r", node,
    scope)``, ``("n", name, owner)``, ``("f", fn)``, ``("s", node, scope)``), the answers it
    left in the scratch memo, and whether it read an answer someone else left there."""

    touched: set[object]
    writes: dict[object, object]
    hits: int = 0
    other_writes: bool = False


@dataclass
class _BindingRead:
    roles: frozenset[Role]
    cuts: int  # uses of the name cut short inside this value (each one a cycle)
    writes: dict[object, object]


@dataclass
class _NameReads:
    """The value roles of a name's bindings, each read while the name is open (its own uses
    cut short), kept when the read met no other cut and read nothing another question left in
    the scratch memo: it is then the same whoever opened the name, unless a question in
    progress for the opener is among those the read touched (then it is read again)."""

    reads: dict[int, _BindingRead]
    missing: set[int]  # bindings with no kept read
    counts: tuple[dict[Role, int], dict[Role, int]]  # over kept reads: plain, augmented
    cuts: list[int]  # [plain, augmented]: cuts of the kept reads
    touched: dict[object, set[int]]  # question -> the kept reads that touched it
    written: dict[object, tuple[int, bool]]  # scratch answer -> (its read, augmented)


class _Layer:
    """The scratch answers of the kept reads an opener used instead of reading again: visible,
    as those reads left them, until the outermost question ends."""

    __slots__ = ("aug", "excluded", "name_reads")

    def __init__(self, name_reads: _NameReads, excluded: set[int]) -> None:
        self.name_reads = name_reads
        self.excluded = excluded
        self.aug = False

    def get(self, key: object) -> object | None:
        found = self.name_reads.written.get(key)
        if found is None or found[0] in self.excluded or (found[1] and not self.aug):
            return None
        read = self.name_reads.reads.get(found[0])
        return None if read is None else read.writes.get(key)


_CE_WORDS = ("crossentropy", "logloss", "nll", "bce", "loglikelihood")
CE_LOGS = frozenset(
    {
        "numpy.log",
        "numpy.log2",
        "numpy.log1p",
        "numpy.logaddexp",
        "math.log",
        "torch.log",
        "torch.log1p",
        "torch.logaddexp",
        "scipy.special.logsumexp",
        "scipy.special.xlogy",
    }
)
_SCALAR_OPS = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Power,
    cst.Modulo,
)
_SCALAR_FUNCS = frozenset(
    {
        "math.sqrt",
        "math.exp",
        "math.log",
        "math.pow",
        "numpy.sqrt",
        "numpy.float64",
        "numpy.float32",
    }
)
_RNG_FACTORIES = frozenset(
    {
        "numpy.random.default_rng",
        "numpy.random.RandomState",
        "numpy.random.Generator",
        "torch.Generator",
        "random.Random",
    }
)
_OUTPUT_ROLES = frozenset({Role.ACT, Role.PROB, Role.PREACT, Role.LINEAR})
CONVENTIONAL_ALIASES = {"np": "numpy", "torch": "torch", "F": "torch.nn.functional"}
# Libraries with numpy's API whose functions are differentiated by automatic differentiation.
NUMPY_WORKALIKES = ("autograd.numpy", "jax.numpy")
_UNSET = object()


class Neighbours(Protocol):
    """The modules next to a linted file, as the model reads them (``analysis.siblings``
    builds models with one; a model built without has no neighbours)."""

    def sibling_path(self, importer: Path, qualified: str) -> tuple[Path, str] | None: ...

    def sibling_model(self, path: Path) -> ModuleModel | None: ...


class ModuleModel:
    def __init__(
        self,
        module: cst.Module,
        collected: Collector,
        path: Path | None = None,
        neighbours: Neighbours | None = None,
    ) -> None:
        self.module = module
        self.neighbours = neighbours
        self.path = path
        self.c = collected
        self._roles: dict[tuple[cst.CSTNode, Scope], frozenset[Role]] = {}
        self._attr_constants: dict[tuple[str, str], tuple[str | None] | None] = {}
        self._in_progress: set[tuple[cst.CSTNode, Scope]] = set()
        self._names_open: set[tuple[str, Scope]] = set()
        self._seed_memo: dict[tuple[str, Scope], list[Binding]] = {}
        self._dict_memo: dict[tuple[str, Scope | str | None], tuple[_DictFlow, ...]] = {}
        self._dict_open: set[tuple[str, Scope | str | None]] = set()
        self._int_memo: dict[tuple[str, Scope], bool] = {}
        self._int_open: set[tuple[str, Scope]] = set()
        self._sizes: frozenset[str] | None = None
        self._name_keys: dict[tuple[str, Scope, int], str | None] = {}
        self._held_classes: dict[tuple[str, str], str | None] = {}
        self._name_memo: dict[tuple[str, Scope], frozenset[Role]] = {}
        self._updates: list[Update] | None = None
        self._updates_open = False
        self._own_cuts: dict[tuple[str, Scope], int] = {}  # uses of a name cut short in its read
        self._name_reads: dict[tuple[str, Scope], _NameReads] = {}
        self._recorders: list[_Recorder] = []
        self._layers: list[_Layer] = []
        self._upstream_memo: dict[tuple[bool, str | None, Scope], bool] = {}
        self._per_name: dict[
            tuple[object, bool, str, Scope, int, tuple[Binding, ...] | None], object
        ] = {}
        self._assigns: dict[tuple[str, Scope], tuple[list[int], list[cst.BaseExpression]]] = {}
        self._cycles = 0
        self._scratch_keys: dict[tuple[str, str, Scope], set[str]] = {}
        self._scratch_origins: dict[Scope, dict[str, tuple[cst.BaseExpression, Scope] | None]] = {}
        self._target_params: frozenset[tuple[Scope, str]] | None = None
        self._depth = 0
        # answers memoised by the analysis modules, keyed by (module-qualified question, ...)
        self.memo: dict[object, object] = {}
        # module-wide answers that depend on the syntax alone (never on a question in progress),
        # kept for the model's life (``memo`` is emptied after each outermost question)
        self.lasting: dict[object, object] = {}
        self._matmuls: list[tuple[MatMul, Site]] | None = None
        self._src: dict[cst.CSTNode, str] = {}
        # dotted name -> ``qualname`` (asked ~10^5 times on a big tree; keyed by the text, whose
        # hash is cheaper than a node's)
        self._qualified: dict[str, str | None] = {}
        self._orientation: dict[str, frozenset[str]] | None = None
        self._params: set[str] | None = None
        self._func_returns: dict[Scope, frozenset[Role]] = {}
        self._returns_in_progress: set[Scope] = set()
        self._signs: dict[tuple[cst.CSTNode, Scope], int | None] = {}
        # a name's plain value sources in a scope, shared by every read that sees them all
        self._plain_sources: dict[tuple[str, Scope], list[tuple[cst.BaseExpression, Scope]]] = {}
        self._signs_in_progress: set[tuple[cst.CSTNode, Scope]] = set()
        self._costs: dict[object, dict[str, tuple[cst.CSTNode, str]]] | None = None
        self._ce_operands: dict[tuple[Scope, str], Role] | None = None
        self._step_operands: frozenset[tuple[Scope, str]] | None = None
        self._step_sites: dict[tuple[Scope, str], tuple[Binding, str, str]] = {}
        self.forms = Forms(self)
        self._scratch_scalar: dict[object, bool] = {}
        self._deriv_marks: tuple[set[cst.CSTNode], set[tuple[Scope, str]]] | None = None
        self._propagation_weights: set[str] = set()
        self._propagation_sites: dict[str, cst.CSTNode] = {}  # key -> its first such product
        self._chain_sites: dict[tuple[Scope, str], cst.CSTNode] = {}  # (scope, name) -> g * σ'(z)
        self._input_weights: set[str] | None = None
        self._act_weights: dict[str, cst.CSTNode] | None = None
        self._upstream_inversions: dict[str, cst.CSTNode] = {}  # key -> g @ inv(M)
        self._bias_keys: set[str] | None = None
        self._random: set[str] | None = None
        self._rngs: set[str] | None = None

    # --- names ---------------------------------------------------------------------------------

    def qualname(self, node: cst.BaseExpression) -> str | None:
        """Resolve ``np.linalg.inv`` / ``inv`` (imported) / ``torch.inverse`` to a dotted name."""
        name = dotted(node)
        return None if name is None else self.qualify(name)

    def qualify(self, name: str) -> str | None:
        """``qualname`` of a dotted name's text (``np.linalg.inv``)."""
        found = self._qualified.get(name, _UNSET)
        if found is _UNSET:
            found = self._qualified[name] = self._qualify(name)
        return found  # type: ignore[return-value]

    def _qualify(self, name: str) -> str | None:
        head, _, rest = name.partition(".")
        target = self.c.aliases.get(head)
        if target is None and head in CONVENTIONAL_ALIASES and not self._bound_anywhere(head):
            target = CONVENTIONAL_ALIASES[head]  # a pasted snippet or notebook cell: np is numpy
        if target is None:
            return None
        full = f"{target}.{rest}" if rest else target
        for alike in NUMPY_WORKALIKES:  # the same API, read as numpy's
            if full == alike or full.startswith(alike + "."):
                return "numpy" + full[len(alike) :]
        return full

    def package(self, node: cst.BaseExpression) -> str | None:
        """The top-level package a dotted callee comes from, before numpy work-alikes are read
        as numpy: ``jnp.log`` -> ``jax``, ``np.log`` -> ``numpy`` (or ``autograd``)."""
        name = dotted(node)
        if name is None or self.qualname(node) is None:
            return None
        head = name.partition(".")[0]
        target = self.c.aliases.get(head) or CONVENTIONAL_ALIASES[head]
        return target.partition(".")[0]

    def imported_function(self, node: cst.BaseExpression) -> tuple[ModuleModel, Scope] | None:
        """A function imported from a sibling module of this file, with that module's model."""
        if self.path is None or not isinstance(node, cst.Name):
            return None
        qualified = self.c.aliases.get(node.value)
        if qualified is None or qualified.split(".")[0] in ("numpy", "torch", "scipy", "jax"):
            return None
        if self.neighbours is None:
            return None
        found = self.neighbours.sibling_path(self.path, qualified)
        if found is None:
            return None
        model = self.neighbours.sibling_model(found[0])
        if model is None:
            return None
        scopes = [s for s in model.c.functions.get(found[1], []) if s.cls is None]
        return (model, scopes[-1]) if scopes else None

    def _bound_anywhere(self, name: str) -> bool:
        return self.c.bound_anywhere(name)

    def src(self, node: cst.CSTNode) -> str:
        """The source text of a node, for messages (memoised: the algebra asks for each atom's
        text many times, and generating code is the expensive part)."""
        text = self._src.get(node)
        if text is None:
            if type(node) is cst.Name and not node.lpar:
                text = node.value
            else:
                text = self.module.code_for_node(node)
            self._src[node] = text
        return text

    def is_call_to(self, node: cst.CSTNode, names: frozenset[str] | set[str]) -> bool:
        return isinstance(node, cst.Call) and self.qualname(node.func) in names

    def local_function(self, node: cst.BaseExpression, scope: Scope) -> Scope | None:
        """The function a call's ``func`` refers to, when it is defined in this module."""
        if isinstance(node, cst.Name):
            candidates = self.c.functions.get(node.value, [])
            plain = [s for s in candidates if s.cls is None and not s.nested]
            if plain:
                return self.definition_at(plain, node, scope)
            nested = [s for s in candidates if s.nested]
            return nested[-1] if nested else self._held_callable(node, scope)
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, cst.Name)
            and node.value.value in ("self", "cls")
            and scope.cls
        ):
            own = self.c.methods(node.attr.value, scope.cls)
            if own:
                return own[0]
            for s in self.c.functions.get(node.attr.value, []):
                if s.cls is not None:
                    return s
        held = self._held_callable(node, scope)
        if held is None and isinstance(node, cst.Attribute) and self.qualname(node) is None:
            owner = self._held_class(node.value, scope)
            if owner is not None:  # ``self.cost.delta(...)`` with ``self.cost`` one class
                found = self.c.methods(node.attr.value, owner)
                if len(found) == 1:
                    return found[0]
            return self._unique_method(node.attr.value)
        return held

    def _held_class(self, node: cst.BaseExpression, scope: Scope) -> str | None:
        """The class of this module that ``self.<attr>`` holds (the class itself, not an
        instance) in every instance: ``__init__`` assigns it once from a parameter whose default
        is the class (``cost=CrossEntropyCost``), nothing else assigns that attribute, and
        every constructor call of the module leaves the default or passes the same class."""
        key = dotted(node) if isinstance(node, cst.Attribute) else None
        if key is None or not scope.cls or key.count(".") != 1 or not key.startswith("self."):
            return None
        attr = key.split(".", 1)[1]
        memo = (scope.cls, attr)
        if memo not in self._held_classes:  # one answer per class and attribute
            self._held_classes[memo] = self._held_class_of(scope.cls, attr)
        return self._held_classes[memo]

    def _held_class_of(self, cls: str, attr: str) -> str | None:
        found = self._set_once_in_init(cls, attr)
        if found is None or not isinstance(found[1], cst.Name):
            return None
        init, value = found
        default = init.param_defaults.get(value.value)
        if not isinstance(default, cst.Name) or default.value not in self.c.class_bases:
            return None
        for site in self.c.calls:
            call = site.node
            if (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Name)
                and call.func.value == cls
                and any(a.star for a in call.args)
            ):
                return None  # ``Net(*args)``: what it passes is not known
        for arg, _ in self._constructor_args(value.value, init):
            if not (isinstance(arg, cst.Name) and arg.value == default.value):
                return None
        return default.value

    def _set_once_in_init(
        self, cls: str, attr: str
    ) -> tuple[Scope, cst.BaseExpression | None] | None:
        """``(__init__, value)`` when ``self.<attr>`` of ``cls`` is assigned exactly once, by a
        plain assignment in the class's one ``__init__``, and no other assignment in the module
        writes an attribute of that name (``net.cost = ...`` from outside); else None."""
        writes = self.c.class_attrs.get(cls, {}).get(attr, [])
        inits = self.c.methods("__init__", cls)
        if len(writes) != 1 or len(inits) != 1 or writes[0].kind != "assign":
            return None
        for site in self.c.assigns:
            for target in _assign_targets(site.node):
                if isinstance(target, cst.Attribute) and target.attr.value == attr:
                    if target is not writes[0].target:
                        return None
        if writes[0] not in inits[0].bindings.get(f"self.{attr}", []):
            return None
        return inits[0], writes[0].value

    def definition_at(self, defined: list[Scope], node: cst.BaseExpression, scope: Scope) -> Scope:
        """Which of a module's several definitions of one function a call reads: the last one
        defined before the call's statement (a module-level call) or before the top-level
        function or class it sits in, as a script or notebook cells run in order; a later
        cell redefining the helper does not change what an earlier cell called. The last
        definition when none comes before (helpers defined below their caller)."""
        if len(defined) == 1:
            return defined[0]
        if scope.is_module:
            at = self.c.call_order.get(node)
        else:
            top = scope
            while top.parent is not None and not top.parent.is_module:
                top = top.parent
            at = top.order
        before = [s for s in defined if at is not None and s.order < at]
        return before[-1] if before else defined[-1]

    def _unique_method(self, name: str) -> Scope | None:
        """``layer.activation_prime(z)`` on an object of unknown class: the method, when one
        class of this module defines it and no library object has a method of that name."""
        if name.startswith("__") or name in N.LIBRARY_METHODS:
            return None
        if name in N.TORCH_METHODS and self.uses_torch:
            return None
        defined = self.c.class_methods(name)
        return defined[0] if len(defined) == 1 else None

    def _unique_attr_class(self, attr: str) -> str | None:
        """The one class of this module that assigns ``self.<attr>``, if only one does."""
        owners = self.c.attr_classes(attr)
        return owners[0] if len(owners) == 1 else None

    @property
    def uses_torch(self) -> bool:
        return any(v == "torch" or v.startswith("torch.") for v in self.c.aliases.values())

    def _held_callable(
        self, node: cst.BaseExpression, scope: Scope, depth: int = 0
    ) -> Scope | None:
        """A function held in a variable, an attribute or a dict entry: ``act = sigmoid``,
        ``self.act_prime = lambda x: ...``, ``acts["relu"]``; followed through one assignment
        at a time."""
        if depth > 3:
            return None
        if isinstance(node, cst.Subscript):  # acts["relu"] with acts = {"relu": relu, ...}
            value = held_value(self, node, scope)
            if value is None:
                return None
        else:
            key = dotted(node)
            if key is None:
                return None
            if isinstance(node, cst.Name):
                bindings = self.visible_bindings(key, scope)
            elif key.startswith(("self.", "cls.")) and scope.cls:
                attr = key.split(".", 2)[1]
                bindings = list(self.c.class_attrs.get(scope.cls, {}).get(attr, []))
            else:
                return None
            values = [b.value for b in bindings if b.kind == "assign" and b.value is not None]
            if not values and isinstance(node, cst.Name):  # ``f, f_prime = ACTS["relu"]``
                unpacked = held_value(self, node, scope)
                values = [unpacked] if unpacked is not None else []
            if len(values) != 1:
                return None
            value = values[0]
        if isinstance(value, cst.Lambda):
            return self.c.lambdas.get(value)
        if isinstance(value, cst.Subscript) and value is not node:  # f = ACTS["relu"][0]
            return self._held_callable(value, scope, depth + 1)
        if isinstance(value, cst.Name | cst.Attribute) and not value.deep_equals(node):
            if self.qualname(value) is not None:
                return None
            if isinstance(value, cst.Name):
                defined = [s for s in self.c.functions.get(value.value, []) if s.cls is None]
                if defined:
                    return defined[-1]
            return self._held_callable(value, scope, depth + 1)
        return None

    # --- structural helpers --------------------------------------------------------------------

    def strip_transpose(self, node: cst.BaseExpression) -> tuple[cst.BaseExpression, bool]:
        """``W.T`` / ``W.transpose()`` / ``np.transpose(W)`` -> (W, True); parity of nesting."""
        transposed = False
        while True:
            if isinstance(node, cst.Attribute) and node.attr.value in N.TRANSPOSE_ATTRS:
                node, transposed = node.value, not transposed
                continue
            if isinstance(node, cst.Call):
                func = node.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in N.TRANSPOSE_METHODS
                    and (not node.args or _is_swap_axes(node.args))
                ):
                    node, transposed = func.value, not transposed
                    continue
                if self.qualname(func) in N.TRANSPOSE and len(node.args) == 1:
                    node, transposed = node.args[0].value, not transposed
                    continue
            return node, transposed

    def matmul(self, node: cst.CSTNode) -> MatMul | None:
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
            return MatMul(node, node.left, node.right)
        if isinstance(node, cst.Call):
            args = positional_args(node)
            if self.qualname(node.func) in N.MATMUL and len(args) == 2:
                return MatMul(node, args[0], args[1])
            func = node.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in N.MATMUL_METHODS
                and len(args) == 1
                and self.qualname(func) is None  # np.dot(...) handled above
            ):
                return MatMul(node, func.value, args[0])
        return None

    def matmuls(self) -> Iterator[tuple[MatMul, Site]]:
        """Every matrix product of the module (found once: syntax and imports only)."""
        if self._matmuls is None:
            found = []
            for site in self.c.binops:
                mm = self.matmul(site.node)
                if mm is not None:
                    found.append((mm, site))
            for site in self.c.calls:
                mm = self.matmul(site.node)
                if mm is not None:
                    found.append((mm, site))
            self._matmuls = found
        return iter(self._matmuls)

    def key(self, node: cst.BaseExpression, scope: Scope, depth: int = 0) -> str | None:
        """A canonical, module-wide key for a weight expression.

        ``self.weights[-l]``, ``w`` from ``for w, b in zip(self.weights, ...)`` and
        ``w = self.weights[i]`` all become ``self.weights[]``; ``params['W1']`` stays as is.
        """
        node, _ = self.strip_transpose(node)
        if depth > 4:
            return None
        if isinstance(node, cst.Name):
            if node.value == "self" and scope.cls:
                return scope.cls  # self.W in class Net -> "Net.W": classes do not share keys
            memo = (node.value, scope, depth)
            if memo in self._name_keys:
                return self._name_keys[memo]  # a name's bindings are read once, not per use
            found = self._name_keys[memo] = self._name_key(node.value, scope, depth)
            return found
        if isinstance(node, cst.Attribute):
            base = self.key(node.value, scope, depth + 1)
            return f"{base}.{node.attr.value}" if base else None
        if isinstance(node, cst.Subscript):
            base = self.key(node.value, scope, depth + 1)
            if base is None or not node.slice:
                return None
            idx = node.slice[0].slice
            if isinstance(idx, cst.Index) and isinstance(idx.value, cst.SimpleString):
                return f"{base}[{idx.value.value}]"
            # params["W" + str(l)]: one key per name prefix, as in the deeplearning.ai style
            if (
                isinstance(idx, cst.Index)
                and isinstance(idx.value, cst.BinaryOperation)
                and isinstance(idx.value.operator, cst.Add)
                and isinstance(idx.value.left, cst.SimpleString)
            ):
                return f"{base}[{idx.value.left.value}]"
            family = dict_key(idx.value) if isinstance(idx, cst.Index) else None
            if family is not None and family.family:  # f"W{l}", "W%d" % l, "W{}".format(l)
                return f"{base}[{family.text!r}]"
            return f"{base}[]"
        return None

    def _name_key(self, name: str, scope: Scope, depth: int) -> str | None:
        """``key`` of a bare name (not ``self``): through a loop over ``zip(...)`` or an alias."""
        bindings = self.visible_bindings(name, scope)
        for b in bindings:
            if b.kind == "for":
                src = _zip_source(b)
                if src is not None:
                    k = self.key(src, scope, depth + 1)
                    return f"{k}[]" if k else None
            if b.kind == "assign" and b.value is not None:
                if isinstance(b.value, cst.Subscript | cst.Attribute) and not _is_transpose_attr(
                    b.value
                ):
                    k = self.key(b.value, scope, depth + 1)
                    if k:
                        return k
        return name

    def reaching(self, node: cst.Name, scope: Scope) -> tuple[Binding, ...] | None:
        """The bindings that can reach this read of a name, when fewer than all the name's
        visible bindings (None: all of them).

        A comprehension's own variable, read inside it, is that comprehension's binding alone.
        A binding in one arm of an ``if`` does not reach a read in the other arm, unless a loop
        around the ``if`` carries it round to the read past no plain rebinding of the name
        (``for ...: if c: p = softmax(z) else: p = sigmoid(z); use(p)``: the softmax never
        reaches ``use(p)``). Otherwise every binding of the function is seen at every read:
        straight-line rebinding (``d = f(d)``) is read flow-insensitively."""
        own = self.c.comp_reads.get(node)
        if own is not None:
            return (own,)
        read = self.c.reads.get(node)
        if read is None or read.scope is not scope:
            return None
        bindings = self.visible_bindings(node.value, scope)
        if not bindings or self._owner(node.value, scope) is not scope:
            return None
        kept = tuple(b for b in bindings if not self._excluded(b, read, bindings))
        return None if len(kept) == len(bindings) else kept

    def _excluded(self, b: Binding, read: Read, bindings: list[Binding]) -> bool:
        """``b`` cannot reach ``read`` (``bindings``: the name's bindings in the scope): they
        sit in the two arms of one ``if`` and no loop around it carries ``b`` round to the read
        (or one does, but a plain rebinding inside it comes first on every path to the read);
        or in arms of two ``if``s that test one unchanging condition, ``b`` where it holds and
        the read where it does not (``if multiclass: p = softmax(z)`` ... ``if not multiclass:
        use(p)``)."""
        bp, rp = b.path, read.path
        k = 0
        while k < len(bp) and k < len(rp) and bp[k] == rp[k]:
            k += 1
        if k < len(bp) and k < len(rp) and bp[k][0] is rp[k][0] and bp[k][1] != "loop":
            loops = [i for i in range(k) if rp[i][1] == "loop"]
            if not loops or any(_dominates(x, read, loops[-1]) for x in bindings):
                return True
        for node, arm in bp[k:]:
            if arm == "loop":
                continue
            for other, other_arm in rp[k:]:
                if other_arm != "loop" and self._opposite(node, arm, other, other_arm, read.scope):
                    return True
        return False

    def _opposite(
        self, first: cst.CSTNode, arm: str, second: cst.CSTNode, other_arm: str, scope: Scope
    ) -> bool:
        """Arms of two ``if``s that cannot both run in one call: their tests are one condition
        over names that hold one value throughout (bound only before both, outside any loop
        around them), and one arm is where it holds, the other where it does not."""
        if not isinstance(first, cst.If) or not isinstance(second, cst.If) or first is second:
            return False
        t1, neg1 = _unnegated(first.test)
        t2, neg2 = _unnegated(second.test)
        if ((arm == "body") != neg1) == ((other_arm == "body") != neg2):
            return False
        if not t1.deep_equals(t2) or not _pure_test(t1):
            return False
        place1, place2 = self.c.ifs.get(first), self.c.ifs.get(second)
        if place1 is None or place2 is None:
            return False
        before = min(place1[0], place2[0])
        loops = {*place1[1], *place2[1]}
        for name in names_in(t1):
            for b in self.visible_bindings(name, scope):
                if b.index >= before or loops.intersection(b.loops):
                    return False
        return True

    def bindings_at(self, node: cst.Name, scope: Scope) -> list[Binding]:
        """The bindings a read of a name sees: ``reaching``, or all the visible ones."""
        reach = self.reaching(node, scope)
        return self.visible_bindings(node.value, scope) if reach is None else list(reach)

    def visible_bindings(self, name: str, scope: Scope) -> list[Binding]:
        s: Scope | None = scope
        while s is not None:
            found = s.bindings.get(name)
            if found:
                return found
            s = s.parent
        return scope.comp_bindings.get(name, [])

    # --- parameters (updated with a step) ------------------------------------------------------

    def updated_params(self) -> set[str]:
        """Keys updated like parameters, by a step: ``K -= lr * g``, ``K = K - lr * g``,
        ``K = [k - lr * g for k, g in zip(K, G)]`` (a local summing gradients is none)."""
        if self._params is None:
            found: set[str] = set()
            for scope in self.c.scopes:
                for bindings in scope.bindings.values():
                    for b in bindings:
                        k = self._update_key(b, scope)
                        if k:
                            found.add(k)
            # ``W += dW`` with no visible scale: an update when W is a randomly initialised matrix
            random = self._random_keys()
            for scope in self.c.scopes:
                for bindings in scope.bindings.values():
                    for b in bindings:
                        if (
                            b.kind == "aug"
                            and b.op in ("SubtractAssign", "AddAssign")
                            and isinstance(b.value, cst.Name | cst.Attribute | cst.Subscript)
                        ):
                            k = self.key(b.target, scope)
                            if k in random and not self.scalar(b.value, scope):
                                found.add(k)
            self._params = found
        return self._params

    def _random_keys(self) -> set[str]:
        """Keys assigned a random initialisation (``np.random.randn(n, m) * 0.01`` and the like),
        read from the syntax alone so that the parameter table never waits on roles."""
        if self._random is not None:
            return self._random
        found: set[str] = set()
        self._random = found
        for scope in self.c.scopes:
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.kind == "assign" and b.value is not None and self._is_random(b.value):
                        k = self.key(b.target, scope)
                        if k:
                            found.add(k)
        return found

    def _is_random(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        if depth > 4:
            return False
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, cst.Multiply | cst.Divide | cst.Subtract | cst.Add
        ):
            return self._is_random(node.left, depth + 1) or self._is_random(node.right, depth + 1)
        if isinstance(node, cst.Call):
            if self.qualname(node.func) in N.RANDOM_INIT:
                return True
            func = node.func
            return (
                isinstance(func, cst.Attribute)
                and func.attr.value in N.RANDOM_METHODS
                and self.qualname(func) is None
                and self.is_rng(func.value)
            )
        return False

    def is_rng(self, node: cst.BaseExpression) -> bool:
        """A random generator: what ``np.random.default_rng(...)``/``RandomState(...)`` returned
        (followed through names and ``self.`` attributes); a conventional name breaks a tie."""
        if self._rngs is None:
            found: set[str] = set()
            for scope in self.c.scopes:
                for key, bindings in scope.bindings.items():
                    for b in bindings:
                        if (
                            b.kind == "assign"
                            and isinstance(b.value, cst.Call)
                            and self.qualname(b.value.func) in _RNG_FACTORIES
                        ):
                            found.add(key)
            self._rngs = found
        key = dotted(node)
        return (key is not None and key in self._rngs) or _looks_like_rng(node)

    def _update_key(self, b: Binding, scope: Scope) -> str | None:
        if b.value is None:
            return None
        if b.kind == "aug" and b.op in ("SubtractAssign", "AddAssign"):
            if self.is_step(b.value, scope):
                return self.key(b.target, scope)
            return None
        if b.kind != "assign":
            return None
        value = b.value
        target_key = self.key(b.target, scope)
        if target_key is None:
            return None
        if isinstance(value, cst.BinaryOperation) and isinstance(
            value.operator, cst.Subtract | cst.Add
        ):
            if self.key(value.left, scope) == target_key and self.is_step(value.right, scope):
                return target_key
        if (
            isinstance(value, cst.ListComp)
            and isinstance(value.elt, cst.BinaryOperation)
            and isinstance(value.elt.operator, cst.Subtract | cst.Add)
            and _scaled(self, value.elt.right, scope)
        ):
            # ``[w - eta * nw for w, nw in zip(W, G)]`` changes W by a step; ``[a + g for a, g
            # in zip(acc, grads)]`` sums gradients into an accumulator (no parameter)
            for comp in _comp_fors(value):
                if self.key(comp.iter, scope) == target_key or (
                    _is_zip(comp.iter)
                    and any(self.key(a.value, scope) == target_key for a in comp.iter.args)
                ):
                    return target_key
        return None

    def is_weight(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """A weight matrix: init or update evidence, confirmed by its use or its name."""
        return self.weight_key(node, scope) is not None

    def weight_key(self, node: cst.BaseExpression, scope: Scope) -> str | None:
        base, _ = self.strip_transpose(node)
        k = self.key(base, scope)
        if k is None:
            return None
        structural = (
            k in self.updated_params()
            or Role.INIT in self.roles(base, scope)
            or k in self._propagation_weights_now()
        )
        if k in self.bias_keys():
            return None  # added to a product (``W @ x + b``): a bias
        if k in self.forward_input_weights() or k in self.activation_input_weights():
            return k
        if k in self._propagation_weights_now():
            return k  # ``(inv(M) @ g) * σ'(z)``: the matrix the chain rule carries g through
        name_says = bool(N.WEIGHT_NAME.match(N.last_part(k)))
        if name_says or (structural and k in self._matmul_keys()):
            return k
        passed = self.argument_keys(base, scope)
        if passed and all(self.updated_matrix(p) for p in passed):
            return k  # ``W`` of ``linear_forward(A, W, b)``: callers pass updated matrices
        element = self._unpacked_parameter(base, scope)
        if element is not None:
            return element
        packed = self.unpacked_origin(base, scope)
        if packed is not None and self.weight_key(*packed) is not None:
            return k  # ``A_prev, W, b = cache``: the ``W`` the forward pass packed
        return None

    def unpacked_origin(
        self, node: cst.BaseExpression, scope: Scope
    ) -> tuple[cst.BaseExpression, Scope] | None:
        """The one expression a name bound only by unpacking (``A_prev, W, b = cache``) takes
        its value from, followed through tuples, lists, calls and returns
        (``linter.analysis.elements``); None when there is not exactly one."""
        if not isinstance(node, cst.Name):
            return None
        bound = self.visible_bindings(node.value, scope)
        if not bound or any(b.kind != "unpack" for b in bound):
            return None
        memo = self._scratch_origins
        if node.value in memo.get(scope, {}):
            return memo[scope][node.value]
        memo.setdefault(scope, {})[node.value] = None  # a cycle back here finds nothing
        owner = self._owner(node.value, scope)
        leaves: dict[cst.BaseExpression, Scope] = {}
        for b in bound:
            found = unpacked_origins(self, b, owner)
            if found is None:
                return None
            leaves.update(found)
        answer = next(iter(leaves.items())) if len(leaves) == 1 else None
        memo[scope][node.value] = answer
        return answer

    def _unpacked_parameter(self, node: cst.BaseExpression, scope: Scope) -> str | None:
        """``W1, b1, W2, b2 = params`` with ``params`` a list whose elements are updated
        (``for p, g in zip(params, grads): p -= lr * g``) and ``W1`` a matrix product's
        operand: an element of the parameter list (its key, ``params[]``)."""
        if not isinstance(node, cst.Name):
            return None
        bound = self.visible_bindings(node.value, scope)
        if not bound or any(
            b.kind != "unpack" or not isinstance(b.value, cst.Name | cst.Attribute) for b in bound
        ):
            return None
        owner = self._owner(node.value, scope)
        keys = {self.key(b.value, owner) for b in bound}  # type: ignore[arg-type]
        if len(keys) != 1:
            return None
        k = keys.pop()
        if k is None or f"{k}[]" not in self.updated_params():
            return None
        if node.value not in self._matmul_names().get(owner, set()):
            return None
        return f"{k}[]"

    def _matmul_names(self) -> dict[Scope, set[str]]:
        """The bare names that are operands of a matrix product, per scope."""
        found = getattr(self, "_mm_names", None)
        if found is None:
            found = {}
            for mm, site in self.matmuls():
                for side in (mm.left, mm.right):
                    base, _ = self.strip_transpose(side)
                    if isinstance(base, cst.Name):
                        found.setdefault(site.scope, set()).add(base.value)
            self._mm_names = found
        return found

    def updated_matrix(self, key: str) -> bool:
        """A key that an update moves and a matrix product multiplies, never added as a bias:
        a weight by what the code does with it, whatever it is called."""
        return (
            key in self.updated_params()
            and key in self._matmul_keys()
            and key not in self.bias_keys()
        )

    def argument_keys(self, node: cst.BaseExpression, scope: Scope) -> set[str]:
        """The keys of what this module's calls pass to a parameter ``node`` (a name bound only
        as a parameter of a function): ``linear_forward(A, params['W1'], params['b1'])``
        makes ``W`` of ``linear_forward(A, W, b)`` stand for ``params['W1']``."""
        base, _ = self.strip_transpose(node)
        if not isinstance(base, cst.Name):
            return set()
        owner = self._owner(base.value, scope)
        bound = owner.bindings.get(base.value, [])
        if owner.is_module or not bound or any(b.kind != "param" for b in bound):
            return set()
        memo = ("argkeys", base.value, owner)
        found = self._scratch_keys.get(memo)
        if found is None:
            found = set()
            for arg, caller in self.arguments_for(base.value, owner):
                if isinstance(arg, cst.Attribute | cst.Subscript):
                    k = self.key(arg, caller)
                    if k is not None:
                        found.add(k)
            self._scratch_keys[memo] = found
        return found

    def _matmul_keys(self) -> set[str]:
        keys = getattr(self, "_mm_keys", None)
        if keys is None:
            keys = set()
            for mm, site in self.matmuls():
                for side in (mm.left, mm.right):
                    k = self.key(side, site.scope)
                    if k:
                        keys.add(k)
                    keys.update(self.argument_keys(side, site.scope))
            self._mm_keys = keys
        return keys

    # --- weight orientation --------------------------------------------------------------------

    def weight_uses(self) -> Iterator[tuple[WeightUse, Site]]:
        """Every matrix product with exactly one weight operand."""
        for mm, site in self.matmuls():
            lk = self.weight_key(mm.left, site.scope)
            rk = self.weight_key(mm.right, site.scope)
            if (lk is None) == (rk is None):
                continue
            if lk is not None:
                _, t = self.strip_transpose(mm.left)
                yield WeightUse(mm, lk, mm.left, mm.right, "W^T" if t else "W"), site
            else:
                assert rk is not None
                _, t = self.strip_transpose(mm.right)
                yield WeightUse(mm, rk, mm.right, mm.left, "W" if t else "W^T"), site

    def forward_orientation(self, key: str) -> frozenset[str]:
        """The maps (``W`` / ``W^T``) the forward pass applies with this weight, module-wide.

        A forward use is a product of the weight with a value that is not a gradient. More than
        one orientation means the model cannot tell, and rules stay silent.
        """
        if self._orientation is None:
            table: dict[str, set[str]] = {}
            for use, site in self.weight_uses():
                if Role.GRAD in self.roles(use.other, site.scope):
                    continue
                table.setdefault(use.key, set()).add(use.applies)
            self._orientation = {k: frozenset(v) for k, v in table.items()}
        return self._orientation.get(key, frozenset())

    # --- structural seeds: scalars, steps, data, the upstream gradient -------------------------

    def scalar(self, node: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        """A value known to be a number rather than an array: a literal, arithmetic of scalars,
        ``len(x)``, ``x.shape[0]``, ``float(...)``, or a name or attribute all of whose values are
        such (parameter defaults and the arguments callers pass included)."""
        if number_value(node) is not None:
            return True
        if depth > 6:
            return False
        if isinstance(node, cst.UnaryOperation):
            return self.scalar(node.expression, scope, depth + 1)
        if isinstance(node, cst.BinaryOperation):
            return isinstance(node.operator, _SCALAR_OPS) and (
                self.scalar(node.left, scope, depth + 1)
                and self.scalar(node.right, scope, depth + 1)
            )
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Name) and node.func.value in ("len", "float", "int"):
                return True
            qn = self.qualname(node.func)
            args = positional_args(node)
            if (
                qn in _SCALAR_FUNCS
                or (isinstance(node.func, cst.Name) and node.func.value in ("abs", "min", "max"))
            ) and args:
                return all(self.scalar(a, scope, depth + 1) for a in args)
            return False
        if isinstance(node, cst.Subscript):
            return isinstance(node.value, cst.Attribute) and node.value.attr.value == "shape"
        if isinstance(node, cst.Attribute) and node.attr.value in ("size", "ndim"):
            return True
        if not isinstance(node, cst.Name | cst.Attribute):
            return False
        memo = ("scalar", node, scope)
        if memo in self._scratch_scalar:
            return self._scratch_scalar[memo]
        self._scratch_scalar[memo] = False  # a cycle (``lr = lr * 0.9``) proves nothing
        values = self.value_sources(node, scope)
        if isinstance(node, cst.Name):
            owner = self._owner(node.value, scope)
            default = owner.param_defaults.get(node.value)
            if default is not None:
                values.append((default, owner))
            if owner.name == "__init__" and owner.cls and node.value in owner.params:
                values.extend(self._constructor_args(node.value, owner))
        found = bool(values) and all(self.scalar(v, sc, depth + 1) for v, sc in values)
        self._scratch_scalar[memo] = found
        return found

    def is_step(self, value: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        """``lr * dW``, ``eta / n * nw``, ``-lr * g``, ``step`` (a name holding one): a quantity
        scaled by a number, as an update step is. The factor is a scalar by its values (a
        literal, a parameter default, what callers pass) or by its place: the plain factor of
        a matrix product, of a gradient computed from a layer's upstream gradient, or common to
        the steps of two parameters (``scale_names``). Its name says nothing."""
        if depth > 4:
            return False
        if isinstance(value, cst.UnaryOperation):
            return self.is_step(value.expression, scope, depth + 1)
        if isinstance(value, cst.Name | cst.Attribute):
            if isinstance(value, cst.Name):
                bs = self.bindings_at(value, scope)
                if len(bs) == 1 and bs[0].kind == "assign" and bs[0].value is not None:
                    inner = bs[0].value
                    return isinstance(inner, cst.BinaryOperation) and self.is_step(
                        inner, self._owner(value.value, scope), depth + 1
                    )
            return False
        if isinstance(value, cst.BinaryOperation) and isinstance(
            value.operator, cst.Multiply | cst.Divide | cst.MatrixMultiply
        ):
            if isinstance(value.operator, cst.MatrixMultiply) and _plain_factor(value.left):
                # ``rate * X.T @ g`` parses as ``(rate * X.T) @ g``: the same plain factor
                # scaling a matrix product, written without parentheses
                return True
            if isinstance(value.operator, cst.Multiply):
                # ``rate * (P.T @ g)``: a plain factor scaling a matrix product
                lm, rm = self._is_product(value.left), self._is_product(value.right)
                plain = (value.right if lm else value.left) if lm != rm else None
                if isinstance(plain, cst.Name | cst.Attribute):
                    return True
                # ``rate * self.gW`` where ``self.gW`` is computed from the gradient a layer's
                # ``backward`` receives: the other factor scales a gradient
                sides = (value.left, value.right)
                if all(isinstance(x, cst.Name | cst.Attribute) for x in sides):
                    derived = [self._from_upstream(x, scope) for x in sides]
                    if derived[0] != derived[1]:
                        return True
                    # ``rate * g`` with ``g`` a gradient by where it comes from (an error, the
                    # chain rule): the other factor, a plain name, is the rate
                    grads = [Role.GRAD in self.roles(x, scope) for x in sides]
                    plain = sides[1] if grads[0] else sides[0]
                    if grads[0] != grads[1] and self._given_factor(plain, scope):
                        return True
            for side in (value.left, value.right):
                if self.scalar(side, scope):
                    return True
                if isinstance(value.operator, cst.Multiply) and (
                    _plain_key(side) in self.scale_names()
                ):
                    return True  # the factor common to two parameters' steps: their rate
                if isinstance(side, cst.BinaryOperation | cst.UnaryOperation) and self.is_step(
                    side, scope, depth + 1
                ):
                    return True
        return False

    def _given_factor(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """A plain name or attribute whose value is handed in, never computed here: a parameter
        (``lr``), or an attribute set only from a parameter or a number (``self.lr = lr``) or
        never set in this module. A local computed from arrays (``dy = 1 - h * h``) is not: a
        gradient times it is the chain rule, not a step."""
        if isinstance(node, cst.Name):
            bound = self.bindings_at(node, scope)
            return bool(bound) and all(b.kind == "param" for b in bound)
        if not isinstance(node, cst.Attribute) or node.attr.value == "T":
            return False
        key = dotted(node)
        if key is None or not key.startswith("self."):
            return False
        for home in self.c.scopes:  # every ``self.lr = ...`` of the module, whatever the class
            for b in home.bindings.get(key, []):
                if b.kind != "assign" or b.value is None:
                    return False
                if number_value(b.value) is not None:
                    continue
                if not (isinstance(b.value, cst.Name) and b.value.value in home.params):
                    return False
        return True

    def _from_upstream(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """A value assigned in the backward half of a forward/backward pair from the gradient
        that half receives (``self.gW = g @ self.x.T`` in ``backward(self, g)``)."""
        memo = (isinstance(node, cst.Name), dotted(node), scope)  # all value_sources reads
        found = self._upstream_memo.get(memo)
        if found is None:
            found = self._upstream_memo[memo] = any(
                (upstream := self.upstream_gradient_param(home)) is not None
                and upstream in names_in(value)
                for value, home in self.value_sources(node, scope)
            )
        return found

    def is_data(self, node: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        """A value that flows in and is not computed here: a parameter (and what its callers
        pass, when that is data too), a loop variable, an element or attribute of one. Targets
        are data; so are inputs."""
        if depth > 5:
            return False
        if isinstance(node, cst.Subscript):
            return self.is_data(node.value, scope, depth + 1)
        if not isinstance(node, cst.Name | cst.Attribute):
            return False
        if self.roles(node, scope) - {Role.TARGET, Role.INIT}:
            return False
        key = dotted(node)
        if key is None:
            return False
        if isinstance(node, cst.Name):
            bindings = self.bindings_at(node, scope)
        else:
            bindings = list(scope.bindings.get(key, []))
            if not bindings and key.startswith("self.") and scope.cls:
                bindings = list(self.c.class_attrs.get(scope.cls, {}).get(key.split(".", 2)[1], []))
        if not bindings:
            return False
        filled = False
        for b in bindings:
            if b.kind in ("param", "for"):
                continue
            if b.kind == "assign" and _is_allocation(self.qualname(_call_func(b.value))):
                continue  # ``onehot = np.zeros((m, k))``: data only if filled with data below
            if b.kind == "assign" and isinstance(b.target, cst.Subscript):
                home = self._owner(key.split(".")[0], scope)
                if self._data_derived(b.value, home, depth + 1):  # ``onehot[:, i] = y == i``
                    filled = True
                    continue
                if number_value(b.value) is not None and any(
                    isinstance(e.slice, cst.Index) and self.is_data(e.slice.value, home, depth + 1)
                    for e in b.target.slice
                ):  # ``onehot[np.arange(n), y] = 1``: a constant put where the labels say
                    filled = True
                    continue
                return False
            if b.kind == "assign" and isinstance(b.value, cst.Name | cst.Attribute | cst.Subscript):
                home = (
                    self._owner(key, scope)
                    if isinstance(node, cst.Name)
                    else next(iter(self.c.homes(key, b)), scope)
                )
                if self.is_data(b.value, home, depth + 1):
                    filled = True
                    continue
            if b.kind == "assign" and isinstance(b.value, cst.Call | cst.Attribute):
                # ``t = np.array(t_list, ndmin=2).T``: data converted, cast or transposed
                if self._data_derived(b.value, self._owner(key.split(".")[0], scope), depth + 1):
                    filled = True
                    continue
            return False
        return filled or any(b.kind in ("param", "for") for b in bindings)

    def _data_derived(self, node: cst.BaseExpression | None, scope: Scope, depth: int) -> bool:
        """Data compared, cast or reshaped: ``y == i``, ``np.int32(y == i).reshape(1, -1)``,
        ``(labels == k).astype(float)``, ``np.eye(k)[y]`` (a one-hot encoding of labels)."""
        if node is None or depth > 6:
            return False
        if isinstance(node, cst.Attribute) and node.attr.value == "T":
            return self._data_derived(node.value, scope, depth + 1)  # ``np.array(y).T``
        if isinstance(node, cst.Comparison):
            sides = [node.left, *(c.comparator for c in node.comparisons)]
            return any(self.is_data(x, scope, depth + 1) for x in sides)
        if isinstance(node, cst.Call):
            func = node.func
            name = self.qualname(func) or ""
            if not name and isinstance(func, cst.Attribute) and func.attr.value in _CASTS:
                return self._data_derived(func.value, scope, depth + 1)  # ``t.astype(float)``
            name = name or dotted(func) or ""
            if name in ("float", "int", "bool") or name.rsplit(".", 1)[-1] in _CASTS:
                args = positional_args(node)
                return bool(args) and self._data_derived(args[0], scope, depth + 1)
            return False
        if isinstance(node, cst.Subscript):
            if isinstance(node.value, cst.Call) and self.qualname(node.value.func) in (
                "numpy.eye",
                "numpy.identity",
            ):
                return any(
                    isinstance(e.slice, cst.Index) and self.is_data(e.slice.value, scope, depth + 1)
                    for e in node.slice
                )
        return self.is_data(node, scope, depth + 1)

    def output_minus_data(
        self, node: cst.BinaryOperation, scope: Scope
    ) -> tuple[cst.BaseExpression, cst.BaseExpression, int] | None:
        """``a - y`` with ``a`` the network's output (an activation, a probability, a linear
        output) and ``y`` data: (output, data, +1); ``y - a`` gives -1. The error signal is
        recognised by where its two sides come from, not by their names; a target name only
        breaks a tie when the data side has no other evidence."""
        if not isinstance(node.operator, cst.Subtract):
            return None
        lr, rr = self.roles(node.left, scope), self.roles(node.right, scope)
        lo, ro = bool(lr & _OUTPUT_ROLES), bool(rr & _OUTPUT_ROLES)
        if Role.GRAD in lr | rr:
            return None
        if (
            lo
            and not ro
            and (
                Role.TARGET in rr
                or self.is_data(node.right, scope)
                or self._apart(node.right, scope)
            )
        ):
            return node.left, node.right, +1
        if (
            ro
            and not lo
            and (
                Role.TARGET in lr or self.is_data(node.left, scope) or self._apart(node.left, scope)
            )
        ):
            return node.right, node.left, -1
        lt, rt = Role.TARGET in lr, Role.TARGET in rr
        if lt != rt:
            return (node.right, node.left, -1) if lt else (node.left, node.right, +1)
        return None

    def _apart(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """An array made apart from the network: a name whose every binding is computed from
        values the network never produced (``t = (np.sum(X**2, axis=1) < 1).astype(float)``),
        so that an output minus it compares the output with data. A value computed from an
        output (``mu = a.mean(0)``), a number, or anything the analysis gives a role is not."""
        if not isinstance(node, cst.Name) or self.roles(node, scope) - {Role.TARGET, Role.INIT}:
            return False
        bindings = self.bindings_at(node, scope)
        if not bindings or self.scalar(node, scope):
            return False
        owner = self._owner(node.value, scope)
        for b in bindings:
            if b.kind != "assign" or b.value is None or not isinstance(b.target, cst.Name):
                return False
            if self.scalar(b.value, owner) or number_value(b.value) is not None:
                return False
            used = names_in(b.value) - {node.value}
            if not used or any(self._name_roles(n, owner) - {Role.TARGET, Role.INIT} for n in used):
                return False
        return True

    def upstream_gradient_param(self, fn: Scope) -> str | None:
        """The parameter that receives the gradient of a layer's output, by the forward/backward
        pair convention: the first parameter (after self/ctx) of ``backward`` in a class that
        also defines ``forward`` or ``__call__`` (or derives from ``autograd.Function``), and of a
        function ``X_backward`` paired with ``X_forward``. A network's ``backward(X, y, out)``,
        whose first parameter is also ``forward``'s, takes data and has none."""
        if fn.is_module or fn.nested:
            return None
        params = [p for p in fn.params if p not in ("self", "cls", "ctx")]
        if not params:
            return None
        if fn.name == "backward" and next(iter(fn.params), None) == "ctx":
            return params[0]  # ``backward(ctx, grad_output)``: autograd.Function's signature
        if fn.cls is not None and (fn.name == "backward" or not self.forward_partners(fn)):
            if fn.name != "backward":
                return None
            if any(b.rsplit(".", 1)[-1] == "Function" for b in self.class_chain(fn.cls)):
                return params[0]
            forward = self.method_in_chain(fn.cls, ("forward", "__call__"))
            if forward is None:
                return self._lone_upstream(fn, params)
            if self.activator_convention(fn):
                return None
            fparams = [p for p in forward.params if p not in ("self", "cls", "ctx")]
            return _upstream_of(params, fparams)
        partners = self.forward_partners(fn)
        if partners:
            fparams = [p for p in partners[0].params if p not in ("self", "cls")]
            upstream = _upstream_of(params, fparams)
            if upstream is not None and self._receives_forward_output(upstream, fn, partners):
                return None  # ``L_model_backward(AL, Y, caches)``: the network's output comes in
            return upstream
        if fn.cls is None and next(iter(fn.params), None) == "self":
            return self._lone_upstream(fn, params)  # a layer's method, its class not in sight
        return None

    def _lone_upstream(self, fn: Scope, params: list[str]) -> str | None:
        """``backward(self, g)`` (and ``backward(self, g, lr=0.1)``) of a layer whose forward is
        not in sight: a method ``backward`` whose one required argument is never used as data
        is the upstream gradient. A network's ``backward(self, y)`` subtracts its one argument
        from an output, compares it or indexes with it: data, not a gradient; an activator's
        ``backward(self, out)`` returns the derivative at it (``activator_convention``)."""
        if fn.name != "backward" or fn.nested:
            return None
        required = [p for p in params if p not in fn.param_defaults]
        if required != params[:1] or self.activator_convention(fn):
            return None
        if _used_as_data(fn.node, params[0]):
            return None
        return params[0]

    def _receives_forward_output(self, name: str, fn: Scope, partners: list[Scope]) -> bool:
        """A caller passes ``name`` what a call of the forward half returned (``AL, caches =
        L_model_forward(X, params)``, then ``L_model_backward(AL, Y, caches)``)."""
        for arg, caller in self.arguments_for(name, fn):
            values: list[cst.BaseExpression | None] = [arg]
            if isinstance(arg, cst.Name):
                values = [
                    b.value for b in self.bindings_at(arg, caller) if b.kind in ("assign", "unpack")
                ]
            for v in values:
                if isinstance(v, cst.Call) and self.local_function(v.func, caller) in partners:
                    return True
        return False

    def forward_partners(self, fn: Scope) -> list[Scope]:
        """The ``X_forward`` (or ``X_fwd``) functions paired with the function ``X_backward``
        (``X_bwd``), in definition order: module-level functions for a function, methods of the
        same class for a method (``relu_forward``/``relu_backward`` of one class)."""
        for back, fwd in (("backward", "forward"), ("bwd", "fwd")):
            if back in fn.name:
                if fn.cls is not None and fn.name == back:
                    return []  # a layer's ``backward``: its class's ``forward`` (``class_chain``)
                found = self.c.methods(fn.name.replace(back, fwd), fn.cls)
                return [s for s in found if not s.nested]
        return []

    def activator_convention(self, fn: Scope) -> bool:
        """``backward(self, output)`` that returns the activation's derivative evaluated at its
        parameter (``output * (1 - output)``, ``1 if output > 0 else 0``): the parameter is the
        forward's output and the caller multiplies by the gradient (hanbt's activators). A
        backward returning a constant (an identity activator's 1) follows the convention of the
        module's other backwards of this kind."""
        kind = self._derivative_backward(fn)
        if kind == "derivative":
            return True
        if kind != "constant":
            return False
        return any(
            s is not fn and s.cls is not None and self._derivative_backward(s) == "derivative"
            for s in self.c.functions.get("backward", [])
        )

    def _derivative_backward(self, fn: Scope) -> str | None:
        params = [p for p in fn.params if p not in ("self", "cls")]
        if len(params) != 1 or not fn.returns:
            return None
        kinds = set()
        for r in fn.returns:
            if number_value(r) is not None:
                kinds.add("constant")
                continue
            if isinstance(r, cst.IfExp) and all(
                number_value(x) is not None for x in (r.body, r.orelse)
            ):
                kinds.add("derivative" if params[0] in names_in(r.test) else "other")
                continue
            form = self.forms.form(r, fn)
            operand = form.operand if form is not None else None
            if operand is not None:  # ``s = out; return s * (1 - s)``: the same value
                operand = single_value(operand, fn)
            if (
                form is not None
                and form.kind in DERIVATIVES
                and isinstance(operand, cst.Name)
                and operand.value == params[0]
            ):
                kinds.add("derivative")
                continue
            kinds.add("other")
        return kinds.pop() if len(kinds) == 1 else None

    def forward_input_weights(self) -> set[str]:
        """Keys a layer's forward pass multiplies its input by: ``x @ self.W``,
        ``np.dot(self.W, x)``, where ``x`` is (derived from) the first parameter of the forward
        half of a forward/backward pair. That is what a weight is, whatever it is called."""
        if self._input_weights is not None:
            return self._input_weights
        found: set[str] = set()
        self._input_weights = found
        for mm, site in self.matmuls():
            fn = site.scope
            inp = self._forward_input(fn)
            if inp is None:
                continue
            for side, other in ((mm.left, mm.right), (mm.right, mm.left)):
                if self._derives_from(side, fn, inp) and not self._derives_from(other, fn, inp):
                    base, _ = self.strip_transpose(other)
                    k = self.key(base, fn)
                    if k is not None and isinstance(base, cst.Name | cst.Attribute | cst.Subscript):
                        found.add(k)
                        found.update(self._aliases_of(base, fn))
        return found

    def activation_input_weights(self) -> dict[str, cst.CSTNode]:
        """Keys a product multiplies with what an activation produced, inside another
        activation's argument: ``np.tanh(U @ x + V @ h)`` with ``h`` bound to a ``np.tanh(...)``,
        ``sigmoid(h @ M)``. A matrix mapping one layer's activations into the next
        pre-activation is a weight, whatever it is called. Maps each key to that product."""
        if self._act_weights is not None:
            return self._act_weights
        found: dict[str, cst.CSTNode] = {}
        self._act_weights = found
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            form = self.forms.call_kind(call, site.scope)
            if form is None or form.kind not in ACTIVATION_KINDS:
                continue
            for term in _summands(form.operand):
                mm = self.matmul(term)
                if mm is None:
                    continue
                for side, other in ((mm.left, mm.right), (mm.right, mm.left)):
                    if not self._activation_output(other, site.scope):
                        continue
                    base, _ = self.strip_transpose(side)
                    if not isinstance(base, cst.Name | cst.Attribute | cst.Subscript):
                        continue
                    if self._activation_output(base, site.scope):
                        continue
                    k = self.key(base, site.scope)
                    if k is not None:
                        found.setdefault(k, mm.node)
        return found

    def _activation_output(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """A name (or an element of one, ``hs[t - 1]``) that this function binds to an
        activation's value and otherwise only to empty containers (``hs = {}``) or parameters."""
        while isinstance(node, cst.Subscript):
            node = node.value
        key = dotted(node)
        if key is None or not isinstance(node, cst.Name | cst.Attribute):
            return False
        active = False
        for b in scope.bindings.get(key, []):
            if b.kind == "param":
                continue
            if b.kind != "assign" or b.value is None:
                return False
            form = self.forms.form(b.value, scope)
            if form is not None and form.kind in ACTIVATION_KINDS:
                active = True
            elif not (isinstance(b.value, cst.Dict | cst.List) and not b.value.elements):
                return False
        return active

    def _aliases_of(self, node: cst.BaseExpression, scope: Scope) -> set[str]:
        """Keys that hold the same matrix: ``col_W = self.W.reshape(n, -1).T`` (a view of
        ``self.W``) and ``self.col_W = col_W`` (kept for the backward pass)."""
        out: set[str] = set()
        if not isinstance(node, cst.Name):
            return out
        for b in scope.bindings.get(node.value, []):
            if b.kind == "assign" and b.value is not None:
                base = _view_base(self.strip_transpose(b.value)[0])
                base = _view_base(self.strip_transpose(base)[0])
                if isinstance(base, cst.Attribute | cst.Subscript):
                    k = self.key(base, scope)
                    if k:
                        out.add(k)
        for key, bindings in scope.bindings.items():
            for b in bindings:
                if (
                    b.kind == "assign"
                    and isinstance(b.value, cst.Name)
                    and b.value.value == node.value
                    and key.startswith("self.")
                ):
                    k = self.key(b.target, scope)
                    if k:
                        out.add(k)
        return out

    def _forward_input(self, fn: Scope) -> str | None:
        """The input parameter of the forward half of a forward/backward pair."""
        if fn.is_module or fn.nested:
            return None
        params = [p for p in fn.params if p not in ("self", "cls", "ctx")]
        if not params:
            return None
        if fn.cls is not None and fn.name in ("forward", "__call__"):
            chain = (fn.cls, *self.class_chain(fn.cls))
            if any(b.rsplit(".", 1)[-1] == "Function" for b in chain):
                return params[0]
            return params[0] if self.method_in_chain(fn.cls, ("backward",)) else None
        if "forward" in fn.name:
            partner = fn.name.replace("forward", "backward")
            if self.c.methods(partner, fn.cls):
                return params[0]
        return None

    def _derives_from(
        self, node: cst.BaseExpression, scope: Scope, param: str, depth: int = 0
    ) -> bool:
        """Whether a value is computed from ``param`` in this function (reshapes, im2col,
        element selection and arithmetic included)."""
        if depth > 6:
            return False
        if isinstance(node, cst.Name):
            if node.value == param:
                return True
            return any(
                b.value is not None and self._derives_from(b.value, scope, param, depth + 1)
                for b in scope.bindings.get(node.value, [])
                if b.kind in ("assign", "unpack")
            )
        if isinstance(node, cst.Attribute):
            key = dotted(node)
            if key is not None and key.startswith("self."):
                return any(
                    b.value is not None and self._derives_from(b.value, scope, param, depth + 1)
                    for b in scope.bindings.get(key, [])
                    if b.kind == "assign"
                )
            return self._derives_from(node.value, scope, param, depth + 1)
        if isinstance(node, cst.Call):
            parts = [a.value for a in node.args]
            if isinstance(node.func, cst.Attribute):
                parts.append(node.func.value)
            return any(self._derives_from(x, scope, param, depth + 1) for x in parts)
        if isinstance(node, cst.Subscript):
            return self._derives_from(node.value, scope, param, depth + 1)
        if isinstance(node, cst.BinaryOperation):
            return self._derives_from(node.left, scope, param, depth + 1) or self._derives_from(
                node.right, scope, param, depth + 1
            )
        if isinstance(node, cst.UnaryOperation):
            return self._derives_from(node.expression, scope, param, depth + 1)
        return False

    def class_chain(self, cls: str) -> list[str]:
        """The class's bases as written, and those of its bases defined in this module."""
        out: list[str] = []
        todo, seen = [cls], set()
        while todo:
            c = todo.pop()
            if c in seen:
                continue
            seen.add(c)
            for b in self.c.class_bases.get(c, []):
                out.append(b)
                todo.append(b)
        return out

    def method_in_chain(self, cls: str, names: tuple[str, ...]) -> Scope | None:
        for c in (cls, *self.class_chain(cls)):
            for name in names:
                found = self.c.methods(name, c)
                if found:
                    return found[0]
        return None

    def derivative_factors(self) -> tuple[set[cst.CSTNode], set[tuple[Scope, str]]]:
        """Values multiplied elementwise by an activation derivative (``g * σ'(z)``, ``g * a *
        (1 - a)``): the chain rule's step, so those values are gradients. Returns the factor
        nodes and, for names, (scope, name). The derivative is recognised by its formula or
        its helper's body (``forms``), never by a name."""
        if self._deriv_marks is not None:
            return self._deriv_marks
        nodes: set[cst.CSTNode] = set()
        names: set[tuple[Scope, str]] = set()
        self._deriv_marks = (nodes, names)
        for site in self.c.binops:
            node = site.node
            if not isinstance(node, cst.BinaryOperation) or not isinstance(
                node.operator, cst.Multiply
            ):
                continue
            form = self.forms.form(node, site.scope)
            if form is not None and form.kind is Kind.RELU:
                continue  # ``z * (z > 0)`` is ReLU itself, not a gradient times ReLU's derivative
            factors = [*factors_of(node.left), *factors_of(node.right)]  # its own parens too
            deriv = {
                i
                for i, f in enumerate(factors)
                if self._is_derivative(f, site.scope) or self.derivative_helper_call(f, site.scope)
            }
            for i, f in enumerate(factors):
                for j, g in enumerate(factors):
                    rest = one_minus(g)
                    if i != j and rest is not None and rest.deep_equals(f):
                        deriv |= {i, j}
            if not deriv:
                continue
            for i, f in enumerate(factors):
                if i in deriv or number_value(f) is not None:
                    continue
                nodes.add(f)
                inner = f
                if isinstance(inner, cst.Name):
                    names.add((self._owner(inner.value, site.scope), inner.value))
                    self._chain_sites.setdefault((site.scope, inner.value), node)
                mm = self.matmul(inner)
                if mm is not None:
                    self._mark_propagation(mm, site.scope, nodes, names)
                    for side in (mm.left, mm.right):
                        if isinstance(side, cst.Name) and side in nodes:
                            self._chain_sites.setdefault((site.scope, side.value), node)
        for outer, site in self.matmuls():
            # ``np.dot(W.T @ g, σ'(z))``: the chain rule's shape with the wrong product (BP004).
            # Only the whole shape counts: a derivative on one side and, on the other, a
            # product carrying a value through a matrix written as a transpose or an inverse.
            for deriv, other in ((outer.right, outer.left), (outer.left, outer.right)):
                if not self._is_derivative(deriv, site.scope) and not self.derivative_helper_call(
                    deriv, site.scope
                ):
                    continue
                inner = self.matmul(other)
                if inner is None or self._is_derivative(other, site.scope):
                    continue
                if not any(self._wrapped(x) for x in (inner.left, inner.right)):
                    continue
                nodes.add(other)
                self._mark_propagation(inner, site.scope, nodes, names)
                break
        for mm, site in self.matmuls():
            # ``g @ inv(M).T`` in a backward whose upstream gradient is ``g``: the matrix it is
            # carried back through. Data is never inverted there; a weight is the bug BP001.
            upstream = self.upstream_gradient_param(site.scope)
            if upstream is None:
                continue
            for side, other in ((mm.left, mm.right), (mm.right, mm.left)):
                base = self.strip_transpose(side)[0]
                if not (isinstance(base, cst.Name) and base.value == upstream):
                    continue
                if site.scope.bindings.get(upstream, [])[1:]:
                    continue  # rebound: no longer only what came in
                inverted = self._inverse_arg(self.strip_transpose(other)[0])
                k = self.key(inverted, site.scope) if inverted is not None else None
                if k is not None:
                    self._propagation_weights.add(k)
                    self._upstream_inversions.setdefault(k, mm.node)
        return self._deriv_marks

    def upstream_inversion(self, key: str) -> cst.CSTNode | None:
        """The product of a backward's upstream gradient with the inverse of the matrix of
        ``key`` (``g @ inv(M).T``), if any: why ``M`` is a weight."""
        self.derivative_factors()
        return self._upstream_inversions.get(key)

    def chain_rule_site(self, name: str, scope: Scope) -> cst.CSTNode | None:
        """The product in ``scope`` that multiplies the value of ``name`` (or its product with a
        matrix) by a local derivative, ``g * σ'(z)``: why ``name`` is a gradient."""
        self.derivative_factors()
        return self._chain_sites.get((scope, name))

    def _mark_propagation(
        self, mm: MatMul, scope: Scope, nodes: set[cst.CSTNode], names: set[tuple[Scope, str]]
    ) -> None:
        """``(M @ g) * σ'(z)``: the product carries a gradient through the matrix M. The operand
        written as a transpose or an inverse is the matrix (the weight); the other is the
        gradient being carried."""
        sides = (mm.left, mm.right)
        wrapped = [self._matrix_like(s, scope) for s in sides]
        if wrapped[0] == wrapped[1]:
            return
        grad = sides[1] if wrapped[0] else sides[0]
        matrix = sides[0] if wrapped[0] else sides[1]
        nodes.add(grad)
        if isinstance(grad, cst.Name):
            names.add((self._owner(grad.value, scope), grad.value))
        base = self._inverse_arg(matrix) or self.strip_transpose(matrix)[0]
        k = self.key(base, scope)
        if k is not None:
            self._propagation_weights.add(k)
            self._propagation_sites.setdefault(k, mm.node)

    def _propagation_weights_now(self) -> set[str]:
        self.derivative_factors()
        return self._propagation_weights

    def _wrapped(self, node: cst.BaseExpression) -> bool:
        """Written as a transpose or an inverse of something."""
        base, transposed = self.strip_transpose(node)
        return transposed or self._inverse_arg(base) is not None

    def propagation_site(self, key: str) -> cst.CSTNode | None:
        """The product ``(M @ g) * σ'(z)`` (``M`` written transposed or inverted) that carries a
        gradient back through the matrix of ``key``, if any: why ``M`` is a weight."""
        self.derivative_factors()
        return self._propagation_sites.get(key)

    def _matrix_like(self, node: cst.BaseExpression, scope: Scope) -> bool:
        base, transposed = self.strip_transpose(node)
        if transposed or self._inverse_arg(base) is not None:
            return True
        k = self.key(base, scope)
        return k is not None and k in self.updated_params()

    def _inverse_arg(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        if isinstance(node, cst.Call):
            args = positional_args(node)
            if self.qualname(node.func) in N.INVERSE and args:
                return args[0]
            if (
                isinstance(node.func, cst.Attribute)
                and node.func.attr.value in N.INVERSE_METHODS
                and not args
                and self.qualname(node.func) is None
            ):
                return node.func.value
        return None

    def derivative_helper_call(self, node: cst.BaseExpression, scope: Scope) -> Scope | None:
        """``sigmoid_prime(z)``, ``relu_derivative(z)``, ``dtanh(h)``, ``self.act_prime(z)``: a
        call with one argument of a helper whose name says it is an activation's derivative.
        A helper's name is structure (renaming locals keeps it): multiplying by what it returns
        is the chain rule's step, whatever its body computes (a body that is the activation
        itself is the bug BP103 reports) and when the body is not in sight. Returns the
        helper's scope, or the module's when it is not defined here."""
        if not isinstance(node, cst.Call) or len(node.args) != 1 or node.args[0].keyword:
            return None
        if node.args[0].star or self.qualname(node.func) is not None:
            return None
        name = (dotted(node.func) or "").rsplit(".", 1)[-1]
        if not N.DERIVATIVE_HELPER.match(name):
            return None
        helper = self.local_function(node.func, scope)
        if helper is not None:
            return helper
        return next((s for s in self.c.scopes if s.is_module), None)

    def _is_derivative(self, node: cst.BaseExpression, scope: Scope) -> bool:
        form = self.forms.form(node, scope)
        if form is None and isinstance(node, cst.Name):
            bs = self.bindings_at(node, scope)
            if len(bs) == 1 and bs[0].kind == "assign" and bs[0].value is not None:
                form = self.forms.form(bs[0].value, self._owner(node.value, scope))
        return form is not None and form.kind in DERIVATIVES

    # --- roles ---------------------------------------------------------------------------------

    def roles(self, node: cst.BaseExpression, scope: Scope) -> frozenset[Role]:
        memo = (node, scope)  # the objects, kept alive: an id() can be reused
        cached = self._roles.get(memo)
        if cached is None:
            key = ("r", *memo)
            cached = self.memo.get(key)
            if cached is None and self._layers:
                for layer in self._layers:
                    cached = layer.get(key)  # type: ignore[assignment]
                    if cached is not None:
                        break
            if self._recorders:
                for rec in self._recorders:
                    if cached is not None:
                        rec.hits += 1
                    else:
                        rec.touched.add(key)
        if cached is not None:
            return cached
        if memo in self._in_progress:
            self._cycles += 1
            return _EMPTY
        self._in_progress.add(memo)
        self._depth += 1
        cycles_before = self._cycles
        try:
            result = self._with_factor_mark(node, self._roles_of(node, scope))
        finally:
            self._in_progress.discard(memo)
            self._depth -= 1
        self._remember(self._roles, memo, ("r", *memo), result, cycles_before)
        return result

    def _with_factor_mark(self, node: cst.BaseExpression, found: set[Role]) -> frozenset[Role]:
        if node in self.derivative_factors()[0] and not found & {Role.DERIV, Role.INIT}:
            found = {*found, Role.GRAD}
        return frozenset(found)

    def _remember(
        self, cache: dict, memo: object, scratch_key: object, value: object, before: int
    ) -> None:
        """Memoise a cycle-free answer for good. An answer computed while a cycle was cut short
        depends on where the question started, so it is kept only until the outermost question
        is answered: every rule then sees the same roles, whatever the order of questions."""
        if self._cycles == before:
            cache[memo] = value
        else:
            self.memo[scratch_key] = value
            for rec in self._recorders:
                rec.writes[scratch_key] = value
                if scratch_key[0] != "r":  # type: ignore[index]
                    rec.other_writes = True
        if self._depth == 0:
            self.memo.clear()
            self._layers.clear()

    def outside_questions(self) -> bool:
        """No question about a value is in progress: an answer computed now is final (one
        computed inside a question may rest on a cycle cut short, see ``_remember``)."""
        return not (
            self._depth
            or self._in_progress
            or self._names_open
            or self._returns_in_progress
            or self._signs_in_progress
        )

    def has(self, node: cst.BaseExpression, scope: Scope, role: Role) -> bool:
        return role in self.roles(node, scope)

    def _roles_of(self, node: cst.BaseExpression, scope: Scope) -> set[Role]:
        if isinstance(node, cst.Name):
            return self._name_roles(node.value, scope, self.reaching(node, scope))
        if isinstance(node, cst.Attribute):
            if node.attr.value in N.TRANSPOSE_ATTRS:
                return set(self.roles(node.value, scope))
            if node.attr.value in ("shape", "size", "ndim", "dtype"):
                return set()
            key = dotted(node)
            if key is not None:
                found = self._binding_roles(key, scope)
                if found:
                    return found
                if key.startswith("self.") and scope.cls:
                    found = self._class_attr_roles(scope.cls, node.attr.value, scope)
                    if not found and self._fed_to_activation(key, scope):
                        found = {Role.PREACT}
                    if found:
                        return found
                elif not key.startswith(("self.", "cls.")) and self.qualname(node) is None:
                    # ``layer.out`` on an object of unknown class: the one class that sets it
                    owner_cls = self._unique_attr_class(node.attr.value)
                    if owner_cls is not None:
                        found = self._class_attr_roles(owner_cls, node.attr.value, scope)
                        if found:
                            return found
            return self._name_hint(node.attr.value, scope)
        if isinstance(node, cst.Subscript):
            idx = node.slice[0].slice if node.slice else None
            key = self._dict_key(idx.value, scope) if isinstance(idx, cst.Index) else None
            keyed = self._keyed_roles(node.value, key, scope) if key and key.text else None
            roles = set(self.roles(node.value, scope)) if keyed is None else keyed
            if key and key.text and not key.family:
                roles |= self._name_hint(key.text, scope)
            return roles
        if isinstance(node, cst.Call):
            return self._call_roles(node, scope)
        if isinstance(node, cst.BinaryOperation):
            return self._binop_roles(node, scope)
        if isinstance(node, cst.UnaryOperation):
            return set(self.roles(node.expression, scope))
        if isinstance(node, cst.List | cst.Tuple):
            out: set[Role] = set()
            for el in node.elements:
                out |= self.roles(el.value, scope)
            return out
        if isinstance(node, cst.ListComp | cst.GeneratorExp):
            return set(self.roles(node.elt, scope))
        return set()

    def _name_roles(
        self, name: str, scope: Scope, reach: tuple[Binding, ...] | None = None
    ) -> set[Role]:
        # The roles of a name are those of all its bindings, the same for each of its uses: a
        # cycle-free answer is kept for the name, so n uses of a name bound n times cost n, not
        # n^2 (an answer that met a cycle depends on where the question started: not kept).
        # Another use met while the name's own bindings are read sees them cut short (below),
        # the same whoever asked: an answer whose only cuts are those is the name's own, kept
        # too. The use that asked, met inside its own binding, is a cut that depends on who
        # asked: such an answer is not kept (reading that use as cut short like the others
        # lost three mutants of the real-code yardstick, time_layers.py N01/N05/N06); each
        # binding's read is kept instead (``_read_bindings``), so ``delta = np.dot(W.T, delta)
        # * 0.5`` n times costs n, not n^2.
        # A read that only some bindings reach (``reaching``) is answered from those alone,
        # memoised apart.
        memo: tuple = (name, scope) if reach is None else (name, scope, reach)
        known = self._name_memo.get(memo)
        if known is not None:
            return set(known)
        opened = (name, self._owner(name, scope))
        opener = opened not in self._names_open
        before, own_before = self._cycles, self._own_cuts.get(opened, 0)
        found = self._name_roles_of(name, scope, reach)
        cuts = self._cycles - before
        if opener and cuts == self._own_cuts.get(opened, 0) - own_before:
            self._name_memo[memo] = frozenset(found)
        return found

    def _name_roles_of(
        self, name: str, scope: Scope, reach: tuple[Binding, ...] | None = None
    ) -> set[Role]:
        bindings = self.visible_bindings(name, scope) if reach is None else list(reach)
        owner = self._owner(name, scope)
        seeds = self._seed_candidates(name, scope)
        if reach is not None:
            seeds = [b for b in seeds if b in reach]
        if any(self._seeds_error(b, owner) for b in seeds):
            return {Role.GRAD, Role.ERROR}
        if (owner, name) in self.derivative_factors()[1]:
            return {Role.GRAD}
        roles: set[Role] = set()
        opened = (name, owner)
        for rec in self._recorders:
            rec.touched.add(("n", *opened))
        nested = opened in self._names_open
        if nested:
            # another use of the name met while its bindings are being read (``d = f(d)``
            # repeated): they are being read already, so this use sees them cut short, as a use
            # inside its own binding does. Reading them again for every such use made a chain of
            # n rebindings cost n^3 (158 s for 90 lines); cut short here, and with each
            # binding's read kept (``_read_bindings``), it costs n.
            self._cycles += 1
            self._own_cuts[opened] = self._own_cuts.get(opened, 0) + 1
            bindings = []
        else:
            self._names_open.add(opened)
        try:
            if bindings:
                roles = self._read_bindings(name, scope, owner, bindings, reach)
        finally:
            if not nested:
                self._names_open.discard(opened)
        if not roles and self._fed_to_activation(name, owner):
            roles = {Role.PREACT}  # consumer evidence: weaker than what produced the value
        if not roles:
            roles = self._cross_entropy_roles(name, owner)
        if not roles and (owner, name) in self.step_gradients():
            roles = {Role.GRAD}
        if not roles:
            roles = self._name_hint(name, scope)
        return roles

    def _read_bindings(
        self,
        name: str,
        scope: Scope,
        owner: Scope,
        bindings: list[Binding],
        reach: tuple[Binding, ...] | None = None,
    ) -> set[Role]:
        """The union of the value roles of ``bindings`` (plain ones; then, unless one of them
        is an initialisation, augmented ones: ``W += -eps * dW`` adds a gradient into a
        parameter, only a value with no role of its own, ``dW = np.zeros_like(W); dW += ...``,
        becomes what is added), read while ``name`` is open.

        A binding's read that met no cut but the name's own uses is kept (``_NameReads``) and
        not read again by a later opener, unless one of that opener's questions in progress is
        among those it touched: then the answer is what reading every binding again gives,
        and a chain ``delta = np.dot(W.T, delta) * 0.5`` n times costs n, not n^2, whichever
        link is asked about (the link being asked is in progress: its binding is cut short)."""
        opened = (name, owner)
        reads_key: tuple = (name, scope) if reach is None else (name, scope, reach)
        nr = self._name_reads.get(reads_key)
        if nr is None:
            nr = _NameReads({}, set(range(len(bindings))), ({}, {}), [0, 0], {}, {})
            self._name_reads[reads_key] = nr
        fresh = self._conflicts(nr, opened) | nr.missing
        layer = _Layer(nr, fresh)
        if nr.reads:
            self._layers.append(layer)
            for rec in self._recorders:
                rec.hits += 1  # kept reads stand in for questions the recorder did not see
        roles = self._kept_roles(nr, opened, fresh, bindings, aug=False)
        roles |= self._fresh_roles(nr, name, owner, fresh, bindings, aug=False)
        if Role.INIT not in roles:
            layer.aug = True
            roles |= self._kept_roles(nr, opened, fresh, bindings, aug=True)
            roles |= self._fresh_roles(nr, name, owner, fresh, bindings, aug=True)
        return roles

    def _kept_roles(
        self,
        nr: _NameReads,
        opened: tuple[str, Scope],
        fresh: set[int],
        bindings: list[Binding],
        aug: bool,
    ) -> set[Role]:
        counts = dict(nr.counts[aug])
        cuts = nr.cuts[aug]
        for i in fresh:
            read = nr.reads.get(i)
            if read is not None and (bindings[i].kind == "aug") == aug:
                cuts -= read.cuts
                for r in read.roles:
                    counts[r] -= 1
        if cuts:  # the cuts those reads met, as if they were read again here
            self._cycles += cuts
            self._own_cuts[opened] = self._own_cuts.get(opened, 0) + cuts
        return {r for r, n in counts.items() if n > 0}

    def _fresh_roles(
        self,
        nr: _NameReads,
        name: str,
        owner: Scope,
        fresh: set[int],
        bindings: list[Binding],
        aug: bool,
    ) -> set[Role]:
        opened = (name, owner)
        roles: set[Role] = set()
        for i in sorted(fresh):
            b = bindings[i]
            if (b.kind == "aug") != aug:
                continue
            rec = _Recorder(set(), {})
            self._recorders.append(rec)
            cycles, own = self._cycles, self._own_cuts.get(opened, 0)
            try:
                found = self._binding_value_roles(name, b, owner)
            finally:
                self._recorders.pop()
            roles |= found
            cuts = self._own_cuts.get(opened, 0) - own
            if i in nr.missing and self._cycles - cycles == cuts and not rec.hits:
                if not rec.other_writes:
                    self._keep_read(nr, i, aug, _BindingRead(frozenset(found), cuts, rec.writes))
                    for key in rec.touched:
                        nr.touched.setdefault(key, set()).add(i)
        return roles

    @staticmethod
    def _keep_read(nr: _NameReads, i: int, aug: bool, read: _BindingRead) -> None:
        nr.missing.discard(i)
        nr.reads[i] = read
        counts = nr.counts[aug]
        for r in read.roles:
            counts[r] = counts.get(r, 0) + 1
        nr.cuts[aug] += read.cuts
        for key in read.writes:
            nr.written[key] = (i, aug)

    def _conflicts(self, nr: _NameReads, opened: tuple[str, Scope]) -> set[int]:
        """The kept reads of ``nr`` that touched a question in progress or answered in the
        scratch memo now (reading them again would meet it)."""
        index = nr.touched
        out: set[int] = set()
        if not index:
            return out
        for layer in self._layers:
            if layer.name_reads is not nr:
                return set(nr.reads)  # another name's kept answers: read everything again
        for k in self._in_progress:
            out |= index.get(("r", *k), out)
        for n in self._names_open:
            if n != opened:
                out |= index.get(("n", *n), out)
        for f in self._returns_in_progress:
            out |= index.get(("f", f), out)
        for g in self._signs_in_progress:
            out |= index.get(("s", *g), out)
        for key in self.memo:
            out |= index.get(key, out)
        return out

    def _seed_candidates(self, name: str, scope: Scope) -> list[Binding]:
        """The visible bindings of ``name`` that ``_seeds_error`` can accept, by their shape
        alone (``x[...] -= 1``), memoised: a name read many times is not rescanned each time."""
        found = self._seed_memo.get((name, scope))
        if found is None:
            found = self._seed_memo[(name, scope)] = [
                b
                for b in self.visible_bindings(name, scope)
                if b.kind == "aug"
                and b.op == "SubtractAssign"
                and isinstance(b.target, cst.Subscript)
                and number_value(b.value) == 1.0
            ]
        return found

    def _seeds_error(self, b: Binding, scope: Scope) -> bool:
        """``dscores[range(N), y] -= 1`` on a copy of the probabilities: p - onehot(y)."""
        if b.kind != "aug" or b.op != "SubtractAssign" or not isinstance(b.target, cst.Subscript):
            return False
        if number_value(b.value) != 1.0:
            return False
        if self.roles(b.target.value, scope) & {Role.PROB, Role.ACT}:
            return True  # a copy of the probabilities, minus one at each label: p - onehot(y)
        if isinstance(b.target.value, cst.Name):
            # ``dy = np.copy(ps[t]); dy[targets[t]] -= 1``: the name holds a copy of them
            for other in self.visible_bindings(b.target.value.value, scope):
                src = self._copied(other.value) if other.kind == "assign" else None
                if src is not None and self.roles(src, scope) & {Role.PROB, Role.ACT}:
                    return True
        return any(
            Role.TARGET in self._name_hint(n, scope)
            for element in b.target.slice
            for n in names_in(element)
        )

    def _copied(self, node: cst.BaseExpression | None) -> cst.BaseExpression | None:
        """``np.copy(x)``, ``x.copy()``, ``np.array(x)`` -> ``x``."""
        if not isinstance(node, cst.Call):
            return None
        args = positional_args(node)
        if self.qualname(node.func) in ("numpy.copy", "numpy.array") and len(args) == 1:
            return args[0]
        if (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "copy"
            and not node.args
            and self.qualname(node.func) is None
        ):
            return node.func.value
        return None

    def weight_gradient_bindings(self) -> frozenset[Binding]:
        """Every store of a weight's gradient (``gradient_stores("weight")``), as a set."""
        found = getattr(self, "_weight_stores", None)
        if found is None:
            found = self._weight_stores = frozenset(b for b, _ in self.gradient_stores("weight"))
        return found

    def _fed_to_activation(self, key: str, scope: Scope) -> bool:
        """Consumer evidence: this value is what an activation is applied to in its scope."""
        table = getattr(self, "_activation_inputs", None)
        if table is None:
            table = set()
            for site in (*self.c.calls, *self.c.binops):
                if isinstance(site.node, cst.Call):
                    form = self.forms.call_kind(site.node, site.scope)
                else:
                    form = self.forms.form(site.node, site.scope)  # 1 / (1 + np.exp(-x))
                if form is not None and form.kind in (Kind.SIGMOID, Kind.TANH, Kind.RELU):
                    k = dotted(form.operand)
                    if k is not None:
                        table.add((site.scope, k))
                        if k.startswith("self.") and site.scope.cls:
                            table.add((site.scope.cls, k))
            self._activation_inputs = table
        if (scope, key) in table:
            return True
        return key.startswith("self.") and (scope.cls, key) in table

    def owner(self, name: str, scope: Scope) -> Scope:
        """The scope whose binding of ``name`` a read in ``scope`` sees."""
        return self._owner(name, scope)

    def _owner(self, name: str, scope: Scope) -> Scope:
        s: Scope | None = scope
        while s is not None:
            if name in s.bindings:
                return s
            s = s.parent
        return scope  # comprehension variables live in the scope that uses them

    def _keyed_roles(
        self, base: cst.BaseExpression, key: DictKey, scope: Scope
    ) -> set[Role] | None:
        """Roles of ``base[key]`` from what is stored under that key only (``cache["A"].append(a)``,
        ``cache["dA"] = g``, a dict literal's entry; under a key of the same family for
        ``params["W" + str(l)]``): a dict holding forward values and gradients is not one value.
        None when some write uses a key that cannot be read or the dict comes from something
        opaque."""
        flows = self._dict_flows(base, scope)
        if any(
            (f.kind == "opaque" and f.value is None and f.binding is None)
            or (f.kind == "entry" and f.key is None)
            for f in flows
        ):
            return None
        roles: set[Role] = set()
        added: list[tuple[cst.BaseExpression, Scope]] = []
        keyed = False
        for f in flows:
            if f.kind == "opaque":
                # a dict from somewhere the flow cannot read (a parameter nobody passes, a
                # library call): the entry may be anything that dict holds
                keyed = True
                if f.value is not None:
                    roles |= self.roles(f.value, f.scope)
                elif f.binding is not None:
                    owner = dotted(f.binding.target) or ""
                    roles |= self._binding_value_roles(owner, f.binding, f.scope)
                continue
            if f.kind != "store":
                keyed = True  # a literal, its entries, a flow met again
                if f.kind == "entry" and f.key is not None and key.may_equal(f.key):
                    assert f.value is not None
                    roles |= self.roles(f.value, f.scope)
                continue
            b = f.binding
            assert b is not None
            if f.key is None:
                if b.value is not None and not self.roles(b.value, f.scope):
                    continue  # a reset (``cache[k] = []``) carries nothing to mix up
                return None
            keyed = True
            if key.may_equal(f.key) and b.value is not None:
                if b.kind == "aug" and b.op in ("AddAssign", "SubtractAssign"):
                    added.append((b.value, f.scope))  # ``params["W1"] -= lr * dW1``
                else:
                    roles |= self.roles(b.value, f.scope)
        if Role.INIT not in roles:
            # a step added into an entry makes it a parameter, not a gradient; only an entry
            # with no role of its own (an accumulator, ``grads["W"] += ...``) is what is added
            for value, home in added:
                roles |= self.roles(value, home)
        return roles if keyed else None

    def _dict_key(self, node: cst.BaseExpression | None, scope: Scope) -> DictKey | None:
        """The key a subscript or a dict literal spells (``exprs.dict_key``), or None."""
        key = dict_key(node)
        if key is None or not key.family:
            return key
        assert key.index is not None
        return key if self._int_index(key.index, scope, 0) else None

    def _int_index(self, node: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        """Whether a key's index is an integer (its text then only decimal digits): a literal,
        ``len(...)``, ``int(...)``, ``x.shape[i]``, integer arithmetic, a loop variable over
        ``range`` (or the position ``enumerate`` gives), a name bound only to such values, a
        parameter every caller passes such a value."""
        if int_value(node) is not None:
            return True
        if depth > 4:
            return False
        if isinstance(node, cst.UnaryOperation):
            return isinstance(node.operator, cst.Minus) and self._int_index(
                node.expression, scope, depth + 1
            )
        if isinstance(node, cst.BinaryOperation):
            return isinstance(
                node.operator, cst.Add | cst.Subtract | cst.Multiply | cst.FloorDivide | cst.Modulo
            ) and (
                self._int_index(node.left, scope, depth + 1)
                and self._int_index(node.right, scope, depth + 1)
            )
        if isinstance(node, cst.Call):
            return (
                isinstance(node.func, cst.Name)
                and node.func.value in ("len", "int")
                and not self._bound_anywhere(node.func.value)
            )
        if isinstance(node, cst.Subscript):
            return isinstance(node.value, cst.Attribute) and node.value.attr.value == "shape"
        if not isinstance(node, cst.Name):
            return False
        memo = (node.value, self._owner(node.value, scope))
        known = self._int_memo.get(memo)
        if known is not None:
            return known
        if memo in self._int_open:
            return True  # ``l = l + 1``: the name's other values decide
        self._int_open.add(memo)
        try:
            known = self._int_name(node.value, scope, depth)
        finally:
            self._int_open.discard(memo)
        if not self._int_open:  # an answer that leaned on an open name is not kept
            self._int_memo[memo] = known
        return known

    def _int_name(self, name: str, scope: Scope, depth: int) -> bool:
        bindings = self.visible_bindings(name, scope)
        if not bindings:
            return False
        home = self._owner(name, scope)
        for b in bindings:
            if b.kind == "for":
                if not _range_position(b):
                    return False
            elif b.kind == "param":
                default = home.param_defaults.get(name)
                if default is not None and not self._int_index(default, home, depth + 1):
                    return False
                args = list(self.arguments_for(name, home))
                if not args and default is None:
                    return False
                if not all(self._int_index(a, caller, depth + 1) for a, caller in args):
                    return False
            elif b.kind in ("assign", "aug") and isinstance(b.target, cst.Name):
                if b.value is None or not self._int_index(b.value, home, depth + 1):
                    return False
            else:
                return False
        return True

    def _dict_flows(self, base: cst.BaseExpression, scope: Scope) -> tuple[_DictFlow, ...]:
        """Where the dict held in ``base`` (a name or ``self.attr``) gets its entries, wherever
        it was made: writes ``d[key] = v`` / ``d[key] += v``, dict literals and their entries,
        followed from a parameter to what every call site passes and from a call to the dicts
        a function of this module returns. A flow that comes back to a dict already met is a
        ``cut`` (it adds nothing); what the flow cannot read (an argument that is not a name, a
        library call, a flow deeper than a few functions) is ``opaque``. Both readers of dict
        entries (roles, ``_stores_of``) share it."""
        name = dotted(base)
        if name is None:
            return (_DictFlow("opaque", scope),)
        if isinstance(base, cst.Name):
            memo: tuple[str, Scope | str | None] = (name, self._owner(name, scope))
        elif name.startswith("self.") and name.count(".") == 1 and scope.cls:
            memo = (name, scope.cls)
        else:
            return (_DictFlow("opaque", scope),)
        found = self._dict_memo.get(memo)
        if found is None:
            if memo in self._dict_open:
                return (_DictFlow("opaque", scope),)  # asked again while being read
            self._dict_open.add(memo)
            out: list[_DictFlow] = []
            try:
                self._dict_walk(base, name, scope, out, set(), 0)
            finally:
                self._dict_open.discard(memo)
            found = self._dict_memo[memo] = tuple(out)
        return found

    def _dict_walk(
        self,
        base: cst.BaseExpression,
        name: str,
        scope: Scope,
        out: list[_DictFlow],
        seen: set[tuple[str, Scope | str | None]],
        depth: int,
    ) -> None:
        pairs = self._dict_bindings(base, name, scope)
        marker = (name, pairs[0][1] if pairs else scope)
        if marker in seen:
            out.append(_DictFlow("cut", scope))
            return
        if depth > 7 or not pairs:
            out.append(_DictFlow("opaque", scope))
            return
        seen.add(marker)
        for b, home in pairs:
            if isinstance(b.target, cst.Subscript):
                key = _key_under(b.target, name)
                out.append(_DictFlow("store", home, self._dict_key(key, home), b, b.value))
            elif b.kind == "param" and isinstance(base, cst.Name):
                args = list(self.arguments_for(name, home))
                if not args:
                    out.append(_DictFlow("opaque", home, binding=b))
                for arg, caller in args:
                    if isinstance(arg, cst.Name):
                        self._dict_walk(arg, arg.value, caller, out, seen, depth + 1)
                    else:
                        out.append(_DictFlow("opaque", caller, value=arg))
            elif b.kind == "assign" and isinstance(b.value, cst.Call):
                fn = self.local_function(b.value.func, home)
                if fn is None or not fn.returns:
                    out.append(_DictFlow("opaque", home, binding=b))
                    continue
                for r in fn.returns:
                    if isinstance(r, cst.Dict):
                        self._dict_literal(r, fn, out)
                    elif isinstance(r, cst.Name):
                        self._dict_walk(r, r.value, fn, out, seen, depth + 1)
                    else:
                        out.append(_DictFlow("opaque", fn, value=r))
            elif b.kind == "assign" and isinstance(b.value, cst.Dict):
                self._dict_literal(b.value, home, out)
            elif b.kind == "unpack" and (element := self._unpacked_element(b, home)) is not None:
                # ``AL, cache = forward(X, params)`` with ``return A, cache``
                value, fn = element
                if isinstance(value, cst.Dict):
                    self._dict_literal(value, fn, out)
                elif isinstance(value, cst.Name):
                    self._dict_walk(value, value.value, fn, out, seen, depth + 1)
                else:
                    out.append(_DictFlow("opaque", fn, value=value))
            else:
                out.append(_DictFlow("opaque", home, binding=b))

    def _dict_literal(self, literal: cst.Dict, scope: Scope, out: list[_DictFlow]) -> None:
        out.append(_DictFlow("literal", scope, value=literal))
        for el in literal.elements:
            key = self._dict_key(el.key, scope) if isinstance(el, cst.DictElement) else None
            out.append(_DictFlow("entry", scope, key, value=el.value))

    def _dict_bindings(
        self, base: cst.BaseExpression, name: str, scope: Scope
    ) -> list[tuple[Binding, Scope]]:
        """The bindings of a dict's name with the scope each one is in."""
        if isinstance(base, cst.Name):
            owner = self._owner(name, scope)
            pairs = [(b, owner) for b in self.visible_bindings(name, scope)]
            if pairs and all(isinstance(b.target, cst.Subscript) for b, _ in pairs):
                # ``params["W1"] -= ...`` in a function writes into the module's dict: it does
                # not make ``params`` local, so the module's own bindings are read too
                module = next((s for s in self.c.scopes if s.is_module), None)
                if module is not None and module is not owner:
                    pairs += [(b, module) for b in module.bindings.get(name, [])]
            return pairs
        pairs = []
        for b in self.c.class_attrs.get(scope.cls or "", {}).get(name[5:], []):
            home = next((s for s in self.c.homes(name, b) if s.cls == scope.cls), scope)
            pairs.append((b, home))
        return pairs

    def _binding_roles(self, key: str, scope: Scope) -> set[Role]:
        roles: set[Role] = set()
        for b in scope.bindings.get(key, []):
            roles |= self._binding_value_roles(key, b, scope)
        return roles

    def _class_attr_roles(self, cls: str, attr: str, scope: Scope) -> set[Role]:
        roles: set[Role] = set()
        for b in self.c.class_attrs.get(cls, {}).get(attr, []):
            owner = next((s for s in self.c.homes(f"self.{attr}", b) if s.cls == cls), scope)
            roles |= self._binding_value_roles(f"self.{attr}", b, owner)
        return roles

    def _binding_value_roles(self, name: str, b: Binding, scope: Scope) -> set[Role]:
        if b.kind == "param":
            return self._param_roles(name, scope)
        if b.kind == "for":
            src = _zip_source(b)
            if src is not None:
                return set(self.roles(src, scope))
            return self._name_hint(name, scope)
        if b.kind == "unpack":
            element = self._unpacked_element(b, scope)
            if element is not None:
                return set(self.roles(element[0], element[1]))
            return self._name_hint(name, scope)
        if b.value is None:
            return set()
        roles = set(self.roles(b.value, scope))
        if b.kind == "aug" and Role.GRAD in roles and b.op in ("AddAssign", "SubtractAssign"):
            # ``W -= lr * dW`` makes W a parameter, not a gradient.
            if self.key(b.target, scope) in self.updated_params():
                roles.discard(Role.GRAD)
        return roles

    def _unpacked_element(
        self, b: Binding, scope: Scope
    ) -> tuple[cst.BaseExpression, Scope] | None:
        """``Z, A = layer(X)`` where layer returns ``(Z, np.tanh(Z))``: the element for Z."""
        from linter.analysis.collect import UNKNOWN_POSITION

        if b.position == UNKNOWN_POSITION or b.kind != "unpack":
            return None
        if isinstance(b.value, cst.Attribute) and b.value.attr.value in (
            "saved_tensors",
            "saved_variables",
        ):
            return self.saved_for_backward(b.position, scope)
        if isinstance(b.value, cst.Name):
            # what the calls in this module really pass, before the pair convention's guess
            traced = unpacked_origins(self, b, scope)
            if traced is not None and len({node for node, _ in traced}) == 1:
                return traced[0]
            cached = self.forward_cache(b.value.value, scope)
            if cached is not None and -len(cached[0].elements) <= b.position < len(
                cached[0].elements
            ):
                return cached[0].elements[b.position].value, cached[1]
            return None
        if not isinstance(b.value, cst.Call):
            return None
        fn = self.local_function(b.value.func, scope)
        if fn is None:
            return None
        for r in fn.returns:
            if isinstance(r, cst.Tuple) and -len(r.elements) <= b.position < len(r.elements):
                return r.elements[b.position].value, fn
        return None

    def forward_cache(self, name: str, fn: Scope) -> tuple[cst.Tuple, Scope] | None:
        """What a ``X_backward(dout, cache)`` parameter holds, by the forward/backward pair
        convention: the element of ``X_forward``'s returned tuple at the same position
        (``return out, cache`` with ``cache = (x, w, b)``), as a tuple literal in the forward's
        scope. None unless every return of the forward agrees."""
        if fn.is_module or name not in fn.params or (fn.cls is not None and fn.name == "backward"):
            return None
        upstream = self.upstream_gradient_param(fn)
        if upstream is None or name == upstream:
            return None
        index = [p for p in fn.params if p not in ("self", "cls")].index(name)
        partners = self.forward_partners(fn)
        forward = partners[-1] if partners else None  # the definition in force
        if forward is None or not forward.returns:
            return None
        found: list[cst.Tuple] = []
        for r in forward.returns:
            if not isinstance(r, cst.Tuple) or index >= len(r.elements):
                return None
            element = r.elements[index].value
            if isinstance(element, cst.Name):
                bound = [
                    b.value for b in forward.bindings.get(element.value, []) if b.kind == "assign"
                ]
                element = bound[0] if len(bound) == 1 and bound[0] is not None else element
            if not isinstance(element, cst.Tuple):
                return None
            found.append(element)
        return (found[0], forward) if len(found) == 1 else None

    def saved_for_backward(
        self, position: int, scope: Scope
    ) -> tuple[cst.BaseExpression, Scope] | None:
        """``x, = ctx.saved_tensors`` in backward <- ``ctx.save_for_backward(x)`` in forward."""
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if (
                site.scope.cls == scope.cls
                and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "save_for_backward"
                and 0 <= position < len(call.args)
            ):
                return call.args[position].value, site.scope
        return None

    def _param_roles(self, name: str, scope: Scope) -> set[Role]:
        """A parameter takes the roles of the arguments passed to it in this module; names only
        when no call site says anything."""
        roles: set[Role] = set()
        for arg, caller in self.arguments_for(name, scope):
            roles |= self.roles(arg, caller)
        roles.discard(Role.INIT)
        if roles:
            return roles
        if self.upstream_gradient_param(scope) == name:
            return {Role.GRAD}
        roles = self._name_hint(name, scope)
        if Role.GRAD in roles and not self.is_backward_scope(scope):
            roles.discard(Role.GRAD)
        return roles

    def callers(self, fn: Scope) -> list[tuple[cst.Call, Scope]]:
        table = getattr(self, "_callers", None)
        if table is None:
            table = {}
            for site in self.c.calls:
                call = site.node
                assert isinstance(call, cst.Call)
                target = self.local_function(call.func, site.scope)
                if target is not None:
                    table.setdefault(target, []).append((call, site.scope))
                for method in self._object_methods(call.func, site.scope):
                    if method is not target:
                        table.setdefault(method, []).append((call, site.scope))
            self._callers = table
        return table.get(fn, [])

    def _object_methods(self, func: cst.BaseExpression, scope: Scope) -> list[Scope]:
        """``layer.backward(g)``: the method ``backward`` of each class of this module ``layer``
        may be an instance of (``instances``), so every layer class of a network's list
        receives what its loop passes, even when several classes define the method."""
        if not isinstance(func, cst.Attribute) or self.qualname(func) is not None:
            return []
        obj = func.value
        if isinstance(obj, cst.Name) and obj.value in ("self", "cls"):
            return []
        found: list[Scope] = []
        for cls in sorted(instance_classes(self, obj, scope)):
            method = self.method_in_chain(cls, (func.attr.value,))
            if method is not None and method not in found:
                found.append(method)
        return found

    def attribute_constant(self, cls: str, attr: str) -> tuple[str | None] | None:
        """The one value every instance of ``cls`` holds in ``self.<attr>``, as a 1-tuple
        (a string or None), or None when it is not known to be one value.

        A closed-world reading of the module: the class assigns the attribute once, in
        ``__init__``, from a constant or from a parameter, nothing else assigns an attribute
        of that name, the class has no subclass here, and every constructor call in the module
        passes a constant (or leaves the default). ``Layer(2, 25, 'sigmoid')`` at every call
        makes every layer's ``self.activation`` 'sigmoid'."""
        memo = self._attr_constants
        if (cls, attr) not in memo:
            memo[(cls, attr)] = self._attribute_constant(cls, attr)
        return memo[(cls, attr)]

    def _attribute_constant(self, cls: str, attr: str) -> tuple[str | None] | None:
        if any(cls in bases for bases in self.c.class_bases.values()):
            return None
        found = self._set_once_in_init(cls, attr)
        if found is None:
            return None
        init, value = found
        constant = _constant(value)
        if constant is not None:
            return constant
        if not isinstance(value, cst.Name) or value.value not in init.params:
            return None
        params = [p for p in init.params if p not in ("self", "cls")]
        if value.value not in params:
            return None  # ``self.cls = cls``: a parameter named like the receiver
        position = params.index(value.value)
        found: set[str | None] = set()
        calls = 0
        for site in self.c.calls:
            call = site.node
            if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)):
                continue
            if call.func.value != cls:
                continue
            calls += 1
            passed: cst.BaseExpression | None = None
            for i, a in enumerate(call.args):
                if a.star:
                    return None
                if (a.keyword is not None and a.keyword.value == value.value) or (
                    a.keyword is None and i == position
                ):
                    passed = a.value
            if passed is None:
                passed = init.param_defaults.get(value.value)
            constant = _constant(passed)
            if constant is None:
                return None
            found.add(constant[0])
        return (found.pop(),) if calls and len(found) == 1 else None

    def _constructor_args(self, name: str, init: Scope) -> list[tuple[cst.BaseExpression, Scope]]:
        """What ``Net(sizes, 0.1)`` passes to a parameter of ``Net.__init__``. Used for scalar
        evidence only: an attribute read in a method belongs to one instance, and the
        constructor calls describe them all."""
        params = [p for p in init.params if p not in ("self", "cls")]
        if name not in params:
            return []
        out = []
        for site in self.c.calls:
            call = site.node
            if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)):
                continue
            if call.func.value != init.cls:
                continue
            for i, a in enumerate(call.args):
                if a.star:
                    break
                if (a.keyword is not None and a.keyword.value == name) or (
                    a.keyword is None and i < len(params) and params[i] == name
                ):
                    out.append((a.value, site.scope))
        return out

    def arguments_for(self, name: str, fn: Scope) -> Iterator[tuple[cst.BaseExpression, Scope]]:
        if name not in fn.params or fn.is_module:
            return
        params = list(fn.params)
        is_method = fn.cls is not None and params and params[0] in ("self", "cls")
        first = params[1] if is_method and len(params) > 1 else params[0] if params else None
        if name == first:  # np.apply_along_axis(f, 1, a), np.vectorize(f)(a): f's first parameter
            for app, caller in applications(self, fn):
                yield app.array, caller
        for call, caller in self.callers(fn):
            positional = (
                params[1:] if is_method and isinstance(call.func, cst.Attribute) else params
            )
            pos = 0
            for a in call.args:
                if a.star:
                    break
                if a.keyword is not None:
                    if a.keyword.value == name:
                        yield a.value, caller
                    continue
                if pos < len(positional) and positional[pos] == name:
                    yield a.value, caller
                pos += 1

    def _name_hint(self, name: str, scope: Scope) -> set[Role]:
        """Names as a tie-breaker only: called when the data flow gives nothing."""
        if N.TARGET_NAME.match(name):
            return {Role.TARGET}
        if N.GRAD_NAME.match(name) and self.is_backward_scope(scope):
            return {Role.GRAD}
        return set()

    def is_backward_scope(self, scope: Scope) -> bool:
        """A function whose name says it computes gradients, or a closure inside one."""
        s: Scope | None = scope
        while s is not None and not s.is_module:
            if N.BACKWARD_FUNC.search(s.name):
                return True
            s = s.parent
        return False

    def _call_roles(self, node: cst.Call, scope: Scope) -> set[Role]:
        form = self.forms.call_kind(node, scope)
        if form is not None:
            return self._form_roles(form, scope)
        qn = self.qualname(node.func)
        if qn is not None:
            if qn in N.RANDOM_INIT:
                return {Role.INIT}
            if qn in N.CONST_INIT and _matrix_shape(node):
                return {Role.INIT}
            padded = bias_padded(node, self.qualname)
            if padded is not None:  # ``np.hstack([np.ones((m, 1)), a])`` is ``a`` with a column
                return set(self.roles(padded, scope))
            if qn.startswith(N.NUMPY_PREFIXES):
                grad = self._args_grad(node, scope)
                if not grad and qn in N.MATMUL and self.matmul(node) is not None:
                    mm = self.matmul(node)
                    assert mm is not None
                    if self.weight_key(mm.left, scope) or self.weight_key(mm.right, scope):
                        return {Role.PREACT}
                return grad
        func = node.func
        if isinstance(func, cst.Attribute) and qn is None:
            method = func.attr.value
            if method in N.RANDOM_METHODS and self.is_rng(func.value):
                return {Role.INIT}
            local = self.local_function(func, scope)
            if local is None:
                if method in N.MATMUL_METHODS and not self._args_grad(node, scope):
                    mm = self.matmul(node)
                    if (
                        mm is not None
                        and Role.GRAD not in self.roles(mm.left, scope)
                        and (self.weight_key(mm.left, scope) or self.weight_key(mm.right, scope))
                    ):
                        return {Role.PREACT}
                roles = set(self.roles(func.value, scope)) - {Role.INIT, Role.ERROR}
                return roles | self._args_grad(node, scope)
        local = self.local_function(func, scope)
        if local is not None:
            return set(self.returns_roles(local))
        return set()

    def _literal_product(self, node: cst.BaseExpression) -> bool:
        """``node`` is (a sum of terms with) a matrix product by an array of numbers written
        out: ``X @ np.array([1.5, -2.0, 0.5]) + 0.3``."""
        todo = [node]
        while todo:
            n = todo.pop()
            if isinstance(n, cst.BinaryOperation) and isinstance(
                n.operator, cst.Add | cst.Subtract
            ):
                todo += [n.left, n.right]
                continue
            mm = self.matmul(n)
            if mm is not None and any(self._number_array(side) for side in (mm.left, mm.right)):
                return True
        return False

    def _number_array(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call) and self.qualname(node.func) in (
            "numpy.array",
            "numpy.asarray",
        ):
            args = positional_args(node)
            return len(args) >= 1 and self._number_array(args[0])
        if isinstance(node, cst.List | cst.Tuple):
            return bool(node.elements) and all(
                isinstance(e, cst.Element)
                and (number_value(e.value) is not None or self._number_array(e.value))
                for e in node.elements
            )
        return False

    def _form_roles(self, form: Form, scope: Scope) -> set[Role]:
        if form.kind is Kind.STEP and form.operand is not None:
            # ``(X[0] * X[1] > 0).astype(float)`` on a random draw or on labels is data (a
            # label made by a threshold), not ReLU's derivative: that is evaluated at a value
            # the network computes
            seen = self.roles(form.operand, scope)
            if seen and seen <= {Role.INIT, Role.TARGET}:
                return {Role.TARGET} if Role.TARGET in seen else set()
            if self._literal_product(form.operand):
                # ``(X @ np.array([1.5, -2.0]) + 0.3 > 0)``: a labelling rule with numbers
                # written out; a trained weight is never a literal, so this is data
                return set()
        if form.kind in DERIVATIVES:
            return {Role.DERIV}
        if form.kind is Kind.SOFTMAX:
            return {Role.PROB, Role.ACT}
        if form.kind is Kind.LOG_SOFTMAX:
            return {Role.LOGPROB}
        if form.kind is Kind.EXP:
            # exp of a log-softmax is the softmax
            return (
                {Role.PROB, Role.ACT} if Role.LOGPROB in self.roles(form.operand, scope) else set()
            )
        if form.kind is Kind.SOFTMAX_JACOBIAN:
            return {Role.DERIV}
        return {Role.ACT}

    def _args_grad(self, node: cst.Call, scope: Scope) -> set[Role]:
        for a in node.args:
            if Role.GRAD in self.roles(a.value, scope):
                return {Role.GRAD}
        return set()

    def returns_roles(self, fn: Scope) -> frozenset[Role]:
        key = fn
        if key in self._func_returns:
            return self._func_returns[key]
        if ("f", key) in self.memo:
            for rec in self._recorders:
                rec.hits += 1
            return self.memo[("f", key)]  # type: ignore[return-value]
        for rec in self._recorders:
            rec.touched.add(("f", key))
        if key in self._returns_in_progress:
            self._cycles += 1
            return _EMPTY
        self._returns_in_progress.add(key)
        self._depth += 1
        cycles_before = self._cycles
        roles: set[Role] = set()
        try:
            for r in fn.returns:
                if isinstance(r, cst.Tuple):
                    continue  # (nabla_b, nabla_w): a bundle, not one value
                roles |= self.roles(r, fn)
        finally:
            self._returns_in_progress.discard(key)
            self._depth -= 1
        result = frozenset(roles - {Role.INIT})
        self._remember(self._func_returns, key, ("f", key), result, cycles_before)
        return result

    def _binop_roles(self, node: cst.BinaryOperation, scope: Scope) -> set[Role]:
        form = self.forms.form(node, scope)
        if form is not None:
            return self._form_roles(form, scope)
        left = self.roles(node.left, scope)
        right = self.roles(node.right, scope)
        op = node.operator
        if isinstance(op, cst.MatrixMultiply) and Role.GRAD not in left | right:
            if self.weight_key(node.left, scope) or self.weight_key(node.right, scope):
                return {Role.PREACT}
        if (
            isinstance(op, cst.Add)
            and Role.PREACT in left | right
            and Role.GRAD not in left | right
        ):
            return {Role.PREACT}
        if isinstance(op, cst.Subtract | cst.Add):
            # ``w - eta * nw``: a step applied to a value is that value, updated, not a gradient
            if Role.GRAD in right and Role.GRAD not in left and self.is_step(node.right, scope):
                return set(left)
            if (
                isinstance(op, cst.Add)
                and Role.GRAD in left
                and Role.GRAD not in right
                and self.is_step(node.left, scope)
            ):
                return set(right)
            if isinstance(op, cst.Subtract) and self.output_minus_data(node, scope) is not None:
                return {Role.GRAD, Role.ERROR}
            if Role.GRAD in left or Role.GRAD in right:
                return {Role.GRAD}
            return set()
        if isinstance(op, cst.MatrixMultiply | cst.Multiply | cst.Divide):
            if Role.GRAD in left or Role.GRAD in right:
                return {Role.GRAD}
            if isinstance(op, cst.Multiply | cst.Divide) and Role.INIT in left | right:
                return {Role.INIT}  # randn(n, m) / np.sqrt(n): still a fresh initialisation
        return set()

    # --- activation kind, error sign, cost in use ----------------------------------------------

    def value_sources(
        self, node: cst.BaseExpression, scope: Scope
    ) -> list[tuple[cst.BaseExpression, Scope]]:
        """Where a name's or attribute's value comes from: assignments, appends, unpacked
        returns, saved tensors, and the arguments callers pass to a parameter."""
        key = dotted(node)
        if key is None:
            return []
        if isinstance(node, cst.Name):
            if self.reaching(node, scope) is None:
                return list(self._name_sources(key, scope))
            bindings = self.bindings_at(node, scope)
            owner = self._owner(key, scope)
        else:
            bindings = list(scope.bindings.get(key, []))
            owner = scope
            if not bindings and key.startswith("self.") and scope.cls:
                bindings = list(self.c.class_attrs.get(scope.cls, {}).get(key.split(".", 2)[1], []))
            elif not bindings and isinstance(node, cst.Attribute) and self.qualname(node) is None:
                # ``layer.out`` on an object of unknown class: the one class that sets it
                owner_cls = self._unique_attr_class(node.attr.value)
                if owner_cls is not None and not key.startswith("cls."):
                    key = f"self.{node.attr.value}"
                    bindings = list(self.c.class_attrs[owner_cls][node.attr.value])
        out: list[tuple[cst.BaseExpression, Scope]] = []
        param_name = key if isinstance(node, cst.Name) else None
        for b in bindings:
            home = owner
            if not isinstance(node, cst.Name) and key.startswith("self."):
                home = next(iter(self.c.homes(key, b)), scope)
            out.extend(self._binding_sources(b, home, param_name))
        return out

    def _binding_sources(
        self, b: Binding, home: Scope, param_name: str | None
    ) -> list[tuple[cst.BaseExpression, Scope]]:
        """The values one binding gives: an assignment's or append's value, a loop's zipped
        source, an unpacked element's origin, and (``param_name``) what callers pass."""
        if b.kind in ("assign", "append") and b.value is not None:
            return [(b.value, home)]
        if b.kind == "for":
            src = _zip_source(b)
            return [] if src is None else [(src, home)]
        if b.kind == "unpack":
            element = self._unpacked_element(b, home)
            return [] if element is None else [element]
        if b.kind == "param" and param_name is not None:
            return list(self.arguments_for(param_name, home))
        return []

    def _name_sources(self, name: str, scope: Scope) -> list[tuple[cst.BaseExpression, Scope]]:
        """``value_sources`` of a read of ``name`` that every visible binding reaches: the same
        for every such read, so listed once when they are all plain (``d = f(d)`` a thousand
        times in a function was a thousand lists of a thousand values)."""
        found = self._plain_sources.get((name, scope))
        if found is not None:
            return found
        bindings = self.visible_bindings(name, scope)
        owner = self._owner(name, scope)
        out: list[tuple[cst.BaseExpression, Scope]] = []
        plain = True
        for b in bindings:
            plain = plain and b.kind not in ("unpack", "param")  # these depend on more than b
            out.extend(self._binding_sources(b, owner, name))
        if plain:
            self._plain_sources[(name, scope)] = out
        return out

    def element_attr_stores(self, node: cst.BaseExpression, scope: Scope) -> list[Binding]:
        """The plain stores ``other.attr = v`` in ``scope`` to the attribute ``node`` reads, where
        ``node``'s object and ``other`` are both elements of one container of this scope
        (``layer = self.layers[i]``, ``nxt = self.layers[i + 1]``, ``for layer in layers``):
        the elements of a list of layers are read as one object, so what one iteration stores
        in ``layer.delta`` is what a later one reads as ``nxt.delta``."""
        if not isinstance(node, cst.Attribute) or not isinstance(node.value, cst.Name):
            return []
        container = self._element_of(node.value.value, scope)
        if container is None:
            return []
        attr = node.attr.value
        out: list[Binding] = []
        for key, bindings in scope.bindings.items():
            obj, _, rest = key.partition(".")
            if rest != attr or self._element_of(obj, scope) != container:
                continue
            out.extend(b for b in bindings if b.kind == "assign" and b.value is not None)
        return sorted(out, key=lambda b: b.index)

    def _element_of(self, name: str, scope: Scope) -> str | None:
        """The container every binding of ``name`` in ``scope`` takes an element of."""
        found: set[str | None] = set()
        for b in scope.bindings.get(name, []):
            if b.kind == "assign" and isinstance(b.value, cst.Subscript):
                found.add(dotted(b.value.value))
            elif b.kind == "for" and isinstance(b.value, cst.Name | cst.Attribute):
                found.add(dotted(b.value))
            else:
                return None
        return found.pop() if len(found) == 1 else None

    def latest_assign(self, name: str, scope: Scope, at: int) -> cst.BaseExpression | None:
        """The value of the last plain assignment to ``name`` in ``scope`` at statement ``at`` or
        before (the first such in the scope's order when one statement holds two), found by
        bisection in the name's assignments, sorted once: a use costs log k, not k."""
        found = self._assigns.get((name, scope))
        if found is None:
            own = sorted(
                (
                    (b.index, b.value)
                    for b in scope.bindings.get(name, [])
                    if b.kind == "assign" and b.value is not None
                ),
                key=lambda iv: iv[0],
            )
            found = self._assigns[(name, scope)] = ([i for i, _ in own], [v for _, v in own])
        indices, values = found
        last = bisect.bisect_right(indices, at) - 1
        if last < 0:
            return None
        return values[bisect.bisect_left(indices, indices[last])]

    def per_name(
        self,
        question: object,
        node: cst.BaseExpression,
        scope: Scope,
        depth: int,
        answer: Callable[[], T],
    ) -> T:
        """``answer()`` for a name or attribute, once per (question, dotted name, scope,
        depth): a question read off a name's sources (``value_sources``: its bindings, the
        arguments its callers pass) has the same answer at each of its uses, so a name bound k
        times and used k times costs k, not k^2 (a 100,000-line function rebinds each of its
        names hundreds of times). ``question`` is a stable object (a string, a module-level
        function); any other node is answered directly."""
        key = dotted(node) if isinstance(node, cst.Name | cst.Attribute) else None
        if key is None:
            return answer()
        # a read that only some of the name's bindings reach (``reaching``) is asked apart
        reach = self.reaching(node, scope) if isinstance(node, cst.Name) else None
        memo = (question, isinstance(node, cst.Name), key, scope, depth, reach)
        if memo in self._per_name:
            return self._per_name[memo]  # type: ignore[return-value]
        found = self._per_name[memo] = answer()
        return found

    def activation_kind(
        self, node: cst.BaseExpression, scope: Scope, depth: int = 0
    ) -> Kind | None:
        """Which activation produced this value (following assignments, appends, parameters,
        copies)."""
        if depth > 10:
            return None
        node, _ = self.strip_transpose(node)
        if isinstance(node, cst.Name):
            return self.per_name(
                "activation_kind",
                node,
                scope,
                depth,
                lambda: self._activation_kind(node, scope, depth),
            )
        return self._activation_kind(node, scope, depth)

    def _activation_kind(self, node: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
        form = self.forms.form(node, scope)
        if form is not None and form.kind in (Kind.SIGMOID, Kind.TANH, Kind.RELU, Kind.SOFTMAX):
            return form.kind
        if isinstance(node, cst.Subscript):
            return self.activation_kind(node.value, scope, depth + 1)
        if isinstance(node, cst.Call) and form is None:
            # a function of this module (``self.feed_forward(X)``): what every return is
            fn = self.local_function(node.func, scope)
            if fn is not None and fn.returns:
                found = {self.activation_kind(r, fn, depth + 1) for r in fn.returns}
                return found.pop() if len(found) == 1 else None
        copied = _copied(node, self.qualname) or bias_padded(node, self.qualname)
        if copied is not None:
            return self.activation_kind(copied, scope, depth + 1)
        kinds = {
            self.activation_kind(v, sc, depth + 1) for v, sc in self.value_sources(node, scope)
        }
        kinds.discard(None)
        return kinds.pop() if len(kinds) == 1 else None

    def error_parts(
        self, node: cst.BaseExpression, scope: Scope
    ) -> tuple[cst.BaseExpression, cst.BaseExpression, int] | None:
        """For an error signal ``a - y`` / ``y - a`` (maybe behind a name or a helper's return):
        (prediction, target, sign) with sign +1 for ``a - y`` (the gradient's own sign)."""
        for _ in range(6):
            if (
                isinstance(node, cst.BinaryOperation)
                and isinstance(node.operator, cst.Multiply | cst.Divide)
                and (is_scalar(node.right, self.scale_names()) or self.scalar(node.right, scope))
            ):
                node = node.left  # (a - y) / n
                continue
            if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract):
                return self.output_minus_data(node, scope)
            if isinstance(node, cst.Name):
                bs = [b for b in self.bindings_at(node, scope) if b.kind == "assign"]
                if len(bs) != 1 or bs[0].value is None:
                    return None
                scope = self._owner(node.value, scope)
                node = bs[0].value
                continue
            if isinstance(node, cst.Call):
                fn = self.local_function(node.func, scope)
                if fn is None or len(fn.returns) != 1:
                    return None
                node, scope = fn.returns[0], fn
                continue
            return None
        return None

    def sign(self, node: cst.BaseExpression, scope: Scope, depth: int = 0) -> int | None:
        """+1 if the value is the gradient's direction, -1 if its negative (``y - a``)."""
        memo = (node, scope)  # the objects, kept alive: an id() can be reused
        if memo in self._signs:
            return self._signs[memo]
        if ("s", *memo) in self.memo:
            for rec in self._recorders:
                rec.hits += 1
            return self.memo[("s", *memo)]  # type: ignore[return-value]
        for rec in self._recorders:
            rec.touched.add(("s", *memo))
            if depth:
                rec.hits += 1  # a cut by depth depends on where the question started
        if memo in self._signs_in_progress or depth >= 12:
            self._cycles += 1
            return None
        self._signs_in_progress.add(memo)
        self._depth += 1
        before = self._cycles
        try:
            result = self._sign_of(node, scope, depth)
        finally:
            self._signs_in_progress.discard(memo)
            self._depth -= 1
        self._remember(self._signs, memo, ("s", *memo), result, before)
        return result

    def _sign_of(self, node: cst.BaseExpression, scope: Scope, depth: int) -> int | None:
        node, _ = self.strip_transpose(node)
        if Role.GRAD not in self.roles(node, scope):
            return None
        if isinstance(node, cst.Name):
            signs = set()
            owner = self._owner(node.value, scope)
            bindings = self.bindings_at(node, scope)
            if any(b.kind == "param" for b in bindings):
                return None
            for b in bindings:
                if b.kind == "aug" and b.value is not None:
                    s_ = self.sign(b.value, owner, depth + 1)
                    if b.op == "SubtractAssign" and s_:
                        s_ = -s_
                    signs.add(s_)
            for value, home in self.value_sources(node, scope):
                signs.add(self.sign(value, home, depth + 1))
            signs.discard(None)
            return signs.pop() if len(signs) == 1 else None
        if isinstance(node, cst.Attribute):
            # ``layer.delta`` assigned here (or ``self.delta`` in the class): its values' sign
            sources = self.value_sources(node, scope)
            if sources:
                signs = {self.sign(value, home, depth + 1) for value, home in sources}
                signs.discard(None)
                return signs.pop() if len(signs) == 1 else None
        if isinstance(node, cst.Subscript) and _string_key(node) is not None:
            # ``grads["dW1"]``: the sign of what was stored under that key, here or in the
            # function that built the dict (``return {"dW1": dW1}``, a caller's argument)
            stored = {self.sign(b.value, sc, depth + 1) for b, sc in self._stores_of(node, scope)}
            stored.discard(None)
            if len(stored) == 1:
                return stored.pop()
        if isinstance(node, cst.Subscript | cst.Attribute):
            base = node.value
            return self.sign(base, scope, depth + 1)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            inner = self.sign(node.expression, scope, depth + 1)
            return -inner if inner else None
        if isinstance(node, cst.BinaryOperation):
            op = node.operator
            parts = self.error_parts(node, scope)
            if parts is not None:
                return parts[2]
            ls = self.sign(node.left, scope, depth + 1)
            rs = self.sign(node.right, scope, depth + 1)
            if isinstance(op, cst.Multiply | cst.Divide | cst.MatrixMultiply):
                known = [x for x in (ls, rs) if x]
                if not known:
                    return None
                out = 1
                for x in known:
                    out *= x
                # an explicit minus on the other factor (``-lr * g``) flips the sign too
                for side, s_ in ((node.left, ls), (node.right, rs)):
                    if not s_ and _negated(side):
                        out = -out
                return out
            if isinstance(op, cst.Add | cst.Subtract):
                if isinstance(op, cst.Subtract) and rs:
                    rs = -rs
                known = {x for x in (ls, rs) if x}
                return known.pop() if len(known) == 1 else None
            return None
        if isinstance(node, cst.Call):
            fn = self.local_function(node.func, scope)
            if fn is not None:
                signs = {self.sign(r, fn, depth + 1) for r in fn.returns}
                signs.discard(None)
                return signs.pop() if len(signs) == 1 else None
            signs = set()
            candidates = [a.value for a in node.args]
            if isinstance(node.func, cst.Attribute):
                candidates.append(node.func.value)
            out = 1
            seen = False
            for c in candidates:
                s_ = self.sign(c, scope, depth + 1)
                if s_:
                    out *= s_
                    seen = True
            return out if seen else None
        return None

    def costs(self, scope: Scope) -> frozenset[str]:
        """Costs in use where ``scope`` lives: "ce" (cross-entropy / log-likelihood), "mse".

        The scope's own class or function decides first (network2.py defines both costs, each in
        its own class); otherwise the whole module's evidence counts.
        """
        return frozenset(self._cost_sites(scope))

    def cost_evidence(self, scope: Scope, cost: str) -> tuple[cst.CSTNode, str] | None:
        """Where the module shows that ``cost`` is in use for ``scope`` (the first such place),
        and what it is there: a squared error, a log of a probability, a loss named for it."""
        return self._cost_sites(scope).get(cost)

    def _cost_sites(self, scope: Scope) -> dict[str, tuple[cst.CSTNode, str]]:
        if self._costs is None:
            self._costs = self._collect_costs()
        for key in (("fn", scope), ("cls", scope.cls)):
            found = self._costs.get(key)
            if found:
                return found
        return self._costs.get("module", {})

    def _collect_costs(self) -> dict[object, dict[str, tuple[cst.CSTNode, str]]]:
        found: dict[object, dict[str, tuple[cst.CSTNode, str]]] = {}

        def add(scope: Scope, cost: str, node: cst.CSTNode, why: str, own: bool = False) -> None:
            # ``own``: evidence in a class's method speaks for that class only (a module may
            # define a cost class per cost)
            keys = (("fn", scope), ("cls", scope.cls)) if own and scope.cls else None
            for key in keys or (("fn", scope), ("cls", scope.cls), "module"):
                if key == ("cls", None):
                    continue
                found.setdefault(key, {}).setdefault(cost, (node, why))

        # the formula of a cross-entropy: ``-sum(y * log(p))``, ``y*log(a) + (1-y)*log(1-a)``,
        # ``-log(p[range(N), y])`` (in a cost class's ``fn``/``loss`` too: add() records it for
        # the class)
        for site in (*self.c.binops, *self.c.calls):
            why = self._cross_entropy_term(site.node)
            if why is not None:
                add(site.scope, "ce", site.node, why, own=True)
        for scope in self.c.scopes:
            # a class or function named for a cost, when nothing in it shows the formula
            # (``CrossEntropyCost.delta`` alone): still read, see issue 8
            for name in (scope.name, scope.cls or ""):
                low = name.lower().replace("_", "")
                if any(w in low for w in _CE_WORDS):
                    add(scope, "ce", scope.node, f"`{name}` is named for a cross-entropy cost")
                if any(w in low for w in ("quadratic", "mse", "squarederror", "meansquared")):
                    add(scope, "mse", scope.node, f"`{name}` is named for a quadratic cost")
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            # a call of a loss function named for its cost (``cross_entropy_error(p, t)``,
            # ``F.binary_cross_entropy``): function names are structure, unlike variables'
            called = (dotted(call.func) or "").rsplit(".", 1)[-1].lower().replace("_", "")
            if call.args and any(w in called for w in _CE_WORDS):
                add(site.scope, "ce", call, f"`{self.src(call.func)}` is a cross-entropy loss")
            if self.qualname(call.func) in CE_LOGS:
                stmt_src = site.stmt
                if self._mentions_target(stmt_src, site.scope):
                    add(
                        site.scope,
                        "ce",
                        call,
                        "the cost is a log-likelihood: a log of the output",
                        own=True,
                    )
        for site in self.c.binops:
            node = site.node
            assert isinstance(node, cst.BinaryOperation)
            if isinstance(node.operator, cst.Power) and number_value(node.right) == 2.0:
                if self.error_parts(node.left, site.scope) is not None:
                    add(site.scope, "mse", node, "the cost is a squared error")
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if self.qualname(call.func) in ("numpy.square",) and call.args:
                if self.error_parts(call.args[0].value, site.scope) is not None:
                    add(site.scope, "mse", call, "the cost is a squared error")
        return found

    def _cross_entropy_term(self, node: cst.CSTNode) -> str | None:
        """What makes ``node`` a cross-entropy term: a value times the log of another
        (``y * np.log(p)``, ``np.dot(y, np.log(p).T)``), or the log of the probabilities picked
        at the labels (``np.log(p[range(N), y])``)."""
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, cst.Multiply | cst.MatrixMultiply
        ):
            sides = (node.left, node.right)
        elif isinstance(node, cst.Call) and self.qualname(node.func) in ("numpy.dot", "numpy.sum"):
            sides = tuple(positional_args(node))
            if self.qualname(node.func) == "numpy.sum":  # np.sum(np.log(p[range(N), y]))
                sides = ()
        else:
            sides = ()
        if len(sides) == 2:
            for log, other in ((sides[0], sides[1]), (sides[1], sides[0])):
                arg = self._log_argument(log)
                if (
                    arg is not None
                    and number_value(other) is None
                    and number_value(arg) is None
                    and self.src(other) != self.src(arg)
                ):
                    return f"the cost is a cross-entropy: `{self.src(node)}`"
        arg = self._log_argument(node)
        if arg is not None and _picked_at_labels(arg):
            return f"the cost is a cross-entropy: `{self.src(node)}`"
        return None

    def _cross_entropy_roles(self, name: str, owner: Scope) -> set[Role]:
        """The roles a cross-entropy's formula gives the plain names it is written with, when
        nothing else gives them one: in ``y * np.log(a)`` (``np.dot(y, np.log(a).T)``) ``a`` is
        the network's output (what the log is taken of) and ``y`` the target (what weighs the
        log: the labels)."""
        if self._ce_operands is None:
            found: dict[tuple[Scope, str], Role] = {}
            for site in self.c.binops:
                node = site.node
                sides: tuple[cst.BaseExpression, ...] = ()
                if isinstance(node, cst.BinaryOperation) and isinstance(
                    node.operator, cst.Multiply | cst.MatrixMultiply
                ):
                    sides = (node.left, node.right)
                for log, other in (sides, sides[::-1]) if sides else ():
                    arg = self._log_argument(log)
                    if not (isinstance(arg, cst.Name) and isinstance(other, cst.Name)):
                        continue
                    if arg.value == other.value:
                        continue
                    for n, role in ((arg.value, Role.ACT), (other.value, Role.TARGET)):
                        key = (self._owner(n, site.scope), n)
                        if found.setdefault(key, role) != role:
                            found[key] = Role.INIT  # both sides somewhere: no answer
            self._ce_operands = {k: r for k, r in found.items() if r is not Role.INIT}
        role = self._ce_operands.get((owner, name))
        return {role} if role is not None else set()

    def step_gradients(self) -> frozenset[tuple[Scope, str]]:
        """Names whose product with a layer's input is a weight's descent step: in
        ``W -= rate * np.outer(g, x)`` (``rate * x.T @ g``, ``rate * (g @ x.T)``) where the
        forward pass multiplies ``W`` with ``x``, ``g`` is the gradient of that layer's output,
        whatever it is called. Read from the syntax alone (no roles), so asking costs no cycle."""
        if self._step_operands is not None:
            return self._step_operands
        pairs: dict[object, set[frozenset[str]]] = {}
        for mm, site in self.matmuls():
            sides = {dotted(self.strip_transpose(x)[0]) for x in (mm.left, mm.right)}
            if None not in sides and len(sides) == 2:
                pairs.setdefault(site.scope.cls or site.scope, set()).add(frozenset(sides))
        found: set[tuple[Scope, str]] = set()
        for scope in self.c.scopes:
            known = pairs.get(scope.cls or scope, set())
            if not known:
                continue
            for target, bindings in scope.bindings.items():
                for b in bindings:
                    step = _update_step(b, target)
                    operands = self._scaled_product(step) if step is not None else None
                    if operands is None:
                        continue
                    names = [dotted(self.strip_transpose(x)[0]) for x in operands]
                    for i, x in enumerate(names):
                        g = operands[1 - i]
                        g = self.strip_transpose(g)[0]
                        if (
                            x is not None
                            and frozenset({target, x}) in known
                            and isinstance(g, cst.Name)
                            and g.value not in (target, x)
                        ):
                            key = (self._owner(g.value, scope), g.value)
                            found.add(key)
                            self._step_sites.setdefault(key, (b, target, x))
        self._step_operands = frozenset(found)
        return self._step_operands

    def step_gradient_site(self, scope: Scope, name: str) -> tuple[Binding, str, str] | None:
        """For a name ``step_gradients`` gives: the update whose step multiplies it with the
        layer input, the parameter updated and that input."""
        self.step_gradients()
        return self._step_sites.get((self._owner(name, scope), name))

    def _scaled_product(
        self, step: cst.BaseExpression
    ) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
        """The two operands of ``rate * P`` / ``P * rate`` / ``(rate * a) @ b`` with ``P`` a
        matrix or outer product and ``rate`` a plain name or a number."""
        while isinstance(step, cst.UnaryOperation):
            step = step.expression
        if not isinstance(step, cst.BinaryOperation):
            return None
        if isinstance(step.operator, cst.MatrixMultiply) and _plain_factor(step.left):
            left = step.left.expression if isinstance(step.left, cst.UnaryOperation) else step.left
            assert isinstance(left, cst.BinaryOperation)
            return left.right, step.right
        if not isinstance(step.operator, cst.Multiply):
            return None
        for rate, other in ((step.left, step.right), (step.right, step.left)):
            if _plain_key(rate) is None and number_value(rate) is None:
                continue
            mm = self.matmul(other)
            if mm is not None:
                return mm.left, mm.right
            if isinstance(other, cst.Call) and self.qualname(other.func) in (
                "numpy.outer",
                "torch.outer",
            ):
                args = positional_args(other)
                if len(args) == 2:
                    return args[0], args[1]
        return None

    def _log_argument(self, node: cst.CSTNode) -> cst.BaseExpression | None:
        """``x`` of ``np.log(x)`` / ``-np.log(x)`` / ``np.log(x).T``."""
        while isinstance(node, cst.UnaryOperation):
            node = node.expression
        if isinstance(node, cst.Attribute) and node.attr.value == "T":
            node = node.value
        if isinstance(node, cst.Call) and self.qualname(node.func) in (
            "numpy.log",
            "numpy.log2",
            "math.log",
            "torch.log",
        ):
            args = positional_args(node)
            return args[0] if len(args) == 1 else None
        return None

    def _mentions_target(self, stmt: cst.CSTNode, scope: Scope) -> bool:
        from linter.analysis.exprs import names_in

        names = names_in(stmt)
        if any(Role.TARGET in self._name_roles(n, scope) for n in names):
            return True
        # data that is not the network's output: ``class_y`` filled from the labels
        return any(
            not self._name_roles(n, scope) - {Role.TARGET, Role.INIT}
            and (
                (
                    self.is_data(cst.Name(n), scope)
                    and any(b.kind != "param" for b in self.visible_bindings(n, scope))
                )
                or self._apart(cst.Name(n), scope)
                or (self._owner(n, scope), n) in self.target_params()
            )
            for n in names
        )

    def target_params(self) -> frozenset[tuple[Scope, str]]:
        """Parameters that receive what an error compares the network's output with: the data
        side of ``a - y`` when it is a parameter, and, through this module's calls, the
        arguments passed for it and the parameters those same values reach elsewhere
        (``fit(X, y)`` passes ``y`` to both ``gradients(X, y)``, where ``p - y`` is formed,
        and ``loss(X, y)``)."""
        if self._target_params is not None:
            return self._target_params
        self._target_params = frozenset()
        edges: dict[tuple[Scope, str], set[tuple[Scope, str]]] = {}
        for fn in self.c.scopes:
            if fn.is_module:
                continue
            for p in fn.params:
                for arg, caller in self.arguments_for(p, fn):
                    if isinstance(arg, cst.Name):
                        a = (self._owner(arg.value, caller), arg.value)
                        edges.setdefault(a, set()).add((fn, p))
                        edges.setdefault((fn, p), set()).add(a)
        todo: list[tuple[Scope, str]] = []
        for site in self.c.binops:
            node = site.node
            if not isinstance(node, cst.BinaryOperation):
                continue
            found = self.output_minus_data(node, site.scope)
            if found is None or not isinstance(found[1], cst.Name):
                continue
            name = found[1].value
            owner = self._owner(name, site.scope)
            if name in owner.params and not owner.is_module:
                todo.append((owner, name))
        seen = set(todo)
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        self._target_params = frozenset(k for k in seen if k[1] in k[0].params)
        return self._target_params

    # --- weight layout, gradient stores --------------------------------------------------------

    def weight_layouts(self) -> frozenset[str]:
        """How this module stores its weights, from their forward use: "out-in" when the forward
        pass applies W (``W @ a``, ``x @ W.T``), "in-out" when it applies W^T (``X @ W``)."""
        layouts = set()
        for use, site in self.weight_uses():
            if Role.GRAD in self.roles(use.other, site.scope):
                continue
            layouts.add("out-in" if use.applies == "W" else "in-out")
        return frozenset(layouts)

    def gradient_stores(self, kind: str) -> Iterator[tuple[Binding, Scope]]:
        """Assignments (=, +=) of a parameter's gradient; ``kind`` is "weight" or "bias".

        A store is found by where its value goes: every assignment to the value that an update
        subtracts from a weight (``self.W -= lr * self.dW`` makes ``self.dW = ...`` a store of
        W's gradient). A target named like a gradient (``dW``, ``nabla_b``) is a store too, for
        updates this module does not make (an optimizer elsewhere)."""
        seen: set[Binding] = set()
        for b, scope in self._update_fed_stores(kind):
            if b not in seen:
                seen.add(b)
                yield b, scope
        chain = list(self._chain_rule_weight_gradients())
        if kind == "weight":
            for b, scope in chain:
                if b not in seen:
                    seen.add(b)
                    yield b, scope
        else:
            for b, scope in self._upstream_copies({sc for _, sc in chain}):
                if b not in seen:
                    seen.add(b)
                    yield b, scope
        pattern = N.WEIGHT_GRAD_NAME if kind == "weight" else N.BIAS_GRAD_NAME
        for b, scope in self._named_stores(pattern):
            if b not in seen:
                seen.add(b)
                yield b, scope

    def _chain_rule_weight_gradients(self) -> Iterator[tuple[Binding, Scope]]:
        """A value computed as a product of a gradient with a forward activation (never a
        weight) is a weight gradient: the chain rule gives nothing else that shape. So is a
        product of the gradient with data when the data is the input of a layer's backward
        half (a forward/backward pair), or an outer product (``np.outer(delta, x)``), which
        propagation never is."""
        for scope in self.c.scopes:
            paired = self.upstream_gradient_param(scope) is not None
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.kind != "assign" or b.value is None:
                        continue
                    core = self.core_value(b.value)
                    mm = self.matmul(core)
                    outer = mm is None and self._is_product(core)
                    if mm is not None:
                        operands = [mm.left, mm.right]
                    elif outer:
                        assert isinstance(core, cst.Call)
                        operands = positional_args(core)
                        if len(operands) != 2:
                            continue
                    else:
                        continue
                    sides = [self.strip_transpose(x)[0] for x in operands]
                    grads = [self.has(x, scope, Role.GRAD) for x in sides]
                    if grads[0] == grads[1]:
                        continue
                    other = sides[1] if grads[0] else sides[0]
                    if self.is_weight(other, scope):
                        continue
                    if self.has(other, scope, Role.ACT) or (
                        (paired or outer) and self.is_data(other, scope)
                    ):
                        yield b, scope

    def _upstream_copies(self, scopes: set[Scope]) -> Iterator[tuple[Binding, Scope]]:
        """``db = dout`` / ``db = dZ / m`` beside a weight gradient ``x.T @ dout``: the upstream
        gradient itself, kept as a separate result, is the bias gradient (the weight gradient
        sums the batch; this one must too)."""
        for scope in scopes:
            upstream = self.upstream_gradient_param(scope)
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.kind != "assign" or b.value is None:
                        continue
                    core = self.core_value(b.value)
                    if (  # ``db = dout[0]``: one example's row of it
                        isinstance(core, cst.Subscript)
                        and len(core.slice) == 1
                        and isinstance(core.slice[0].slice, cst.Index)
                        and int_value(core.slice[0].slice.value) is not None
                    ):
                        core = core.value
                    if isinstance(core, cst.Name) and core.value == upstream:
                        if not (isinstance(b.target, cst.Name) and b.target.value == upstream):
                            yield b, scope

    def bias_keys(self) -> set[str]:
        """Keys added to a matrix product (``W @ x + b``, ``np.dot(x, W) + self.b``)."""
        if self._bias_keys is None:
            found: set[str] = set()
            for site in self.c.binops:
                node = site.node
                if not (
                    isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add)
                ):
                    continue
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    if self.matmul(side) is not None and isinstance(
                        other, cst.Name | cst.Attribute | cst.Subscript
                    ):
                        k = self.key(other, site.scope)
                        if k:
                            found.add(k)
                        found.update(self.argument_keys(other, site.scope))
            self._bias_keys = found
        return self._bias_keys

    def _update_fed_stores(self, kind: str) -> Iterator[tuple[Binding, Scope]]:
        weights = self._matmul_keys()
        biases = self.bias_keys()
        # the stores of a name or an attribute read in a scope are the same for every update
        # that steps by it (``W0 -= lr * g0`` a thousand times in one function): listed once
        listed: set[tuple[type, str, Scope]] = set()
        for u in self.updates():
            key = u.key
            if isinstance(u.binding.value, cst.ListComp) and key not in weights | biases:
                key += "[]"  # ``self.b = [b - eta * nb for ...]`` moves the elements
            is_weight = key in weights and key not in biases
            is_bias = key in biases and key not in weights
            if (kind == "weight" and not is_weight) or (kind == "bias" and not is_bias):
                continue
            grad = self._step_gradient(u.step, u.step_scope)
            if grad is None:
                continue
            if self._is_product(grad):
                yield u.binding, u.scope  # ``W -= rate * (P.T @ g)``: the update is the store
                continue
            if isinstance(grad, cst.Name | cst.Attribute) and (key := dotted(grad)) is not None:
                if (type(grad), key, u.step_scope) in listed:
                    continue
                listed.add((type(grad), key, u.step_scope))
            yield from self._stores_of(grad, u.step_scope)

    def _step_gradient(self, step: cst.BaseExpression, scope: Scope) -> cst.BaseExpression | None:
        """``lr * dW`` / ``dW * lr`` / ``lr / m * dW`` / ``-lr * dW`` -> ``dW``."""
        node = step
        for _ in range(6):
            if isinstance(node, cst.UnaryOperation):
                node = node.expression
                continue
            if isinstance(node, cst.BinaryOperation) and isinstance(
                node.operator, cst.Multiply | cst.Divide
            ):
                if isinstance(node.operator, cst.Divide):
                    node = node.left
                    continue
                ls, rs = self.scalar(node.left, scope), self.scalar(node.right, scope)
                if ls and not rs:
                    node = node.right
                    continue
                if rs and not ls:
                    node = node.left
                    continue
                lstep = self.is_step(node.left, scope)  # is_step breaks ties by a rate's name
                rstep = self.is_step(node.right, scope)
                if lstep != rstep:
                    node = node.right if lstep else node.left
                    continue
                # ``rate * g`` with ``g`` a gradient by where it comes from: the other factor,
                # whatever its name, is the rate
                lg = Role.GRAD in self.roles(node.left, scope)
                rg = Role.GRAD in self.roles(node.right, scope)
                if lg != rg and isinstance(
                    node.right if lg else node.left, cst.Name | cst.Attribute
                ):
                    node = node.left if lg else node.right
                    continue
                lm, rm = self._is_product(node.left), self._is_product(node.right)
                if lm != rm:
                    node = node.left if lm else node.right
                    break
                return None
            break
        if self._is_product(node):
            return node  # the gradient is computed in the update itself
        return node if isinstance(node, cst.Name | cst.Attribute | cst.Subscript) else None

    def value_stores(
        self, node: cst.BaseExpression, scope: Scope
    ) -> Iterator[tuple[Binding, Scope]]:
        """The assignments (=, +=) that give ``node`` (a name, an attribute, a dict entry under
        a constant key) its value, wherever they are, with the scope each is in."""
        return self._stores_of(node, scope)

    def _stores_of(
        self, grad: cst.BaseExpression, scope: Scope, depth: int = 0
    ) -> Iterator[tuple[Binding, Scope]]:
        """The assignments (=, +=) that give ``grad`` its value, wherever they are."""
        if isinstance(grad, cst.Name):
            owner = self._owner(grad.value, scope)
            bound = owner.bindings.get(grad.value) or owner.comp_bindings.get(grad.value, [])
            if bound and all(b.kind == "unpack" for b in bound):
                # ``dW, db = self.gradients(X, y)``: the stores of what the helper returns there
                for b in bound:
                    element = self._unpacked_element(b, owner)
                    if (
                        element is not None
                        and isinstance(element[0], cst.Name)
                        and element[1] is not owner
                        and depth < 4
                    ):
                        yield from self._stores_of(element[0], element[1], depth + 1)
                return
            if bound and all(b.kind == "for" for b in bound):
                # ``for W, dW in zip(self.W, self.dW): W -= lr * dW``: the element stores
                for b in bound:
                    src = _zip_source(b)
                    if isinstance(src, cst.Name | cst.Attribute):
                        yield from self._element_stores(src, owner)
                return
        key = dotted(grad.value if isinstance(grad, cst.Subscript) else grad)
        if key is None:
            return
        index = grad.slice[0].slice if isinstance(grad, cst.Subscript) and grad.slice else None
        if key.startswith("self.") and scope.cls:
            scopes = list(self.c.class_scopes(scope.cls))
        else:
            scopes = [self._owner(key.split(".")[0], scope)]
        read = (
            self._dict_key(index.value, scope)
            if isinstance(grad, cst.Subscript) and isinstance(index, cst.Index)
            else None
        )
        if read is not None and (
            isinstance(grad.value, cst.Name)
            or (key.startswith("self.") and key.count(".") == 1 and scope.cls)
        ):
            assert isinstance(grad, cst.Subscript)
            # the stores of the value a dict holds under this key, wherever the dict is made
            for f in self._dict_flows(grad.value, scope):
                if f.key is None or not read.may_equal(f.key):
                    continue
                if f.kind == "entry" and isinstance(f.value, cst.Name):
                    yield from self._stores_of(f.value, f.scope)
                b = f.binding
                if f.kind != "store" or b is None or b.value is None:
                    continue
                if (
                    b.kind == "assign"
                    and isinstance(b.value, cst.Name)
                    and depth < 4
                    and (
                        unpacked := self._owner(b.value.value, f.scope).bindings.get(b.value.value)
                    )
                    and all(u.kind == "unpack" for u in unpacked)
                ):
                    # ``grads['db1'] = db`` with ``dA, dW, db = linear_backward(...)``
                    found = list(self._stores_of(b.value, f.scope, depth + 1))
                    if found:
                        yield from found
                        continue
                if b.kind == "assign" or (b.kind == "aug" and b.op == "AddAssign"):
                    yield b, f.scope
            return
        for sc in scopes:
            for b in sc.bindings.get(key, []):
                if b.kind not in ("assign", "aug") or b.value is None:
                    continue
                if b.kind == "aug" and b.op != "AddAssign":
                    continue
                if isinstance(grad, cst.Subscript) != isinstance(b.target, cst.Subscript):
                    continue
                if read is not None and isinstance(b.target, cst.Subscript):
                    written = self._dict_key(_key_under(b.target, key), sc)
                    if written is None or not read.may_equal(written):
                        continue
                yield b, sc

    def _element_stores(
        self, container: cst.BaseExpression, scope: Scope, depth: int = 0
    ) -> Iterator[tuple[Binding, Scope]]:
        """Stores into the elements of a list: ``self.dW[i] = ...``, ``grads.append(...)``."""
        key = dotted(container)
        if key is None:
            return
        if key.startswith("self.") and scope.cls:
            scopes = list(self.c.class_scopes(scope.cls))
        else:
            scopes = [self._owner(key.split(".")[0], scope)]
        if isinstance(container, cst.Name) and depth < 4:
            bound = scopes[0].bindings.get(key, [])
            if bound and all(b.kind == "unpack" for b in bound):
                # ``nabla_b, nabla_w = self.backprop(x, y)``: the lists the helper fills
                for b in bound:
                    element = self._unpacked_element(b, scopes[0])
                    if element is not None and isinstance(element[0], cst.Name):
                        if element[1] is not scopes[0]:
                            yield from self._element_stores(element[0], element[1], depth + 1)
                return
        for sc in scopes:
            for b in sc.bindings.get(key, []):
                if b.value is None:
                    continue
                if b.kind == "append" or (
                    b.kind in ("assign", "aug")
                    and isinstance(b.target, cst.Subscript)
                    and (b.kind == "assign" or b.op == "AddAssign")
                ):
                    yield b, sc

    def _named_stores(self, pattern: object) -> Iterator[tuple[Binding, Scope]]:
        """Assignments (=, +=) of a value to a target named like a parameter gradient."""
        for scope in self.c.scopes:
            for bindings in scope.bindings.values():
                for b in bindings:
                    if b.kind not in ("assign", "aug") or b.value is None:
                        continue
                    if b.kind == "aug" and b.op not in ("AddAssign",):
                        continue
                    label = N.target_label(b.target)
                    if label is None:
                        continue
                    name = label.rsplit(":", 1)[-1]
                    if pattern.match(name) or (  # type: ignore[attr-defined]
                        ":" in label
                        and pattern.match("d" + name)  # type: ignore[attr-defined]
                        and N.GRAD_NAME.match(label.split(":")[0])
                    ):
                        yield b, scope

    def _is_product(self, node: cst.BaseExpression) -> bool:
        return self.matmul(node) is not None or (
            isinstance(node, cst.Call)
            and self.qualname(node.func) in ("numpy.outer", "torch.outer")
        )

    def size_names(self) -> frozenset[str]:
        """Names that hold an array's size wherever they are bound: every binding of the name,
        in every scope, is ``x.shape[k]``, ``len(x)`` or ``float``/``int`` of one
        (``m = Y.shape[1]``): a batch size by what it is, whatever it is called."""
        if self._sizes is None:
            sizes: set[str] = set()
            other: set[str] = set()
            for scope in self.c.scopes:
                for name, bindings in scope.bindings.items():
                    for b in bindings:
                        if b.kind == "assign" and _size_expression(b.value):
                            sizes.add(name)
                        else:
                            other.add(name)
                for name in scope.params:
                    other.add(name)
            self._sizes = frozenset(sizes - other)
        return self._sizes

    def scale_names(self) -> frozenset[str]:
        """Names (and dotted attributes) that hold a scalar by their use, whatever they are
        called: sizes (``size_names``); a batch size, the divisor of a summed gradient
        (``np.dot(dZ, A.T) / m``, ``1 / m * np.sum(dZ)``); a learning rate, the factor common
        to the steps of updates of two different parameters (``W -= lr * dW; b -= lr * db``)."""
        found = getattr(self, "_scale_names", None)
        if found is not None:
            return found
        names = set(self.size_names())
        for site in self.c.binops:
            node = site.node
            if not isinstance(node, cst.BinaryOperation):
                continue
            if isinstance(node.operator, cst.Divide) and self._sums(node.left):
                k = _plain_key(node.right)
                if k is not None:
                    names.add(k)
            if isinstance(node.operator, cst.Multiply):
                for ratio, other in ((node.left, node.right), (node.right, node.left)):
                    if (
                        isinstance(ratio, cst.BinaryOperation)
                        and isinstance(ratio.operator, cst.Divide)
                        and number_value(ratio.left) is not None
                        and self._sums(other)
                    ):
                        k = _plain_key(ratio.right)
                        if k is not None:
                            names.add(k)
        factors: dict[str, set[str]] = {}
        for scope in self.c.scopes:
            for target, bindings in scope.bindings.items():
                for b in bindings:
                    step = _update_step(b, target)
                    if step is None:
                        continue
                    for k in _plain_factors(step):
                        factors.setdefault(k, set()).add(target)
        names.update(k for k, targets in factors.items() if len(targets) >= 2)
        self._scale_names = frozenset(names)
        return self._scale_names

    def _sums(self, node: cst.BaseExpression) -> bool:
        """A matrix product or a reduction over an axis (``np.sum``, ``.mean()``)."""
        while isinstance(node, cst.UnaryOperation):
            node = node.expression
        if self._is_product(node):
            return True
        return isinstance(node, cst.Call) and (
            (isinstance(node.func, cst.Attribute) and node.func.attr.value in _REDUCERS)
            or (isinstance(node.func, cst.Name) and node.func.value in _REDUCERS)
        )

    def core_value(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """Strip scalar scaling and regularisation: ``1 / m * np.dot(dZ, A.T) + lam * W``."""
        for _ in range(8):
            if isinstance(node, cst.BinaryOperation):
                op = node.operator
                if isinstance(op, cst.Multiply | cst.Divide):
                    if is_scalar(node.right, self.scale_names()):
                        node = node.left
                        continue
                    if isinstance(op, cst.Multiply) and is_scalar(node.left, self.scale_names()):
                        node = node.right
                        continue
                    if isinstance(op, cst.Multiply):
                        # ``rate * (P.T @ g)``: a plain factor times a product is that product,
                        # scaled
                        lm, rm = self._is_product(node.left), self._is_product(node.right)
                        plain = (node.right if lm else node.left) if lm != rm else None
                        if isinstance(plain, cst.Name | cst.Attribute):
                            node = node.left if lm else node.right
                            continue
                if isinstance(op, cst.Add):
                    lc, rc = self.core_value(node.left), self.core_value(node.right)
                    lm, rm = self._is_product(lc), self._is_product(rc)
                    if lm != rm:
                        node = lc if lm else rc
                        continue
            if isinstance(node, cst.UnaryOperation):
                node = node.expression
                continue
            return node
        return node

    # --- parameter updates ---------------------------------------------------------------------

    def updates(self) -> Iterator[Update]:
        """Every parameter update ``K -= lr * g`` (and its spellings), with its direction
        (found once: many rules and analyses ask, some once per gradient store)."""
        if self._updates is None:
            if self._updates_open:
                return iter(())  # asked again while reading the steps' roles: none known yet
            self._updates_open = True
            try:
                self._updates = [
                    u
                    for scope in self.c.scopes
                    for bindings in scope.bindings.values()
                    for b in bindings
                    if (u := self._as_update(b, scope)) is not None
                ]
            finally:
                self._updates_open = False
        return iter(self._updates)

    def _as_update(self, b: Binding, scope: Scope) -> Update | None:
        if b.value is None:
            return None
        if (
            b.kind == "aug"
            and b.op in ("SubtractAssign", "AddAssign")
            and (
                self.is_step(b.value, scope)
                or (
                    isinstance(b.value, cst.Name | cst.Attribute | cst.Subscript)
                    and self.key(b.target, scope) in self._random_keys()
                    and not self.scalar(b.value, scope)
                )
            )
        ):
            key = self.key(b.target, scope)
            if key is None:
                return None
            return Update(key, scope, b, -1 if b.op == "SubtractAssign" else 1, b.value, scope)
        if b.kind != "assign":
            return None
        key = self.key(b.target, scope)
        if key is None:
            return None
        value = b.value
        if isinstance(value, cst.BinaryOperation) and isinstance(
            value.operator, cst.Subtract | cst.Add
        ):
            if self.key(value.left, scope) == key and self.is_step(value.right, scope):
                d = -1 if isinstance(value.operator, cst.Subtract) else 1
                return Update(key, scope, b, d, value.right, scope)
        if isinstance(value, cst.ListComp) and isinstance(value.elt, cst.BinaryOperation):
            elt = value.elt
            if (
                self._update_key(b, scope) == key
                and isinstance(elt.operator, cst.Subtract | cst.Add)
                and self.is_step(elt.right, scope)
            ):
                d = -1 if isinstance(elt.operator, cst.Subtract) else 1
                return Update(key, scope, b, d, elt.right, scope)
        return None


# --- small syntactic helpers ----------------------------------------------------------------------

_CASTS = frozenset(
    {
        "astype",
        "reshape",
        "int32",
        "int64",
        "float32",
        "float64",
        "array",
        "asarray",
        "squeeze",
        "atleast_2d",
        "ravel",
        "flatten",
    }
)
_ALLOCATIONS = frozenset({"numpy.zeros", "numpy.empty", "numpy.zeros_like", "numpy.empty_like"})


def _unnegated(test: cst.BaseExpression) -> tuple[cst.BaseExpression, bool]:
    """``not not c`` -> (c, False); ``not c`` -> (c, True)."""
    negated = False
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test, negated = test.expression, not negated
    return test, negated


def _pure_test(test: cst.BaseExpression) -> bool:
    """A condition that reads names and constants only (no call, attribute or subscript whose
    value a statement between two tests could change)."""
    if isinstance(test, cst.Name | cst.SimpleString | cst.Integer | cst.Float):
        return True
    if isinstance(test, cst.Comparison):
        return _pure_test(test.left) and all(_pure_test(c.comparator) for c in test.comparisons)
    if isinstance(test, cst.BooleanOperation):
        return _pure_test(test.left) and _pure_test(test.right)
    if isinstance(test, cst.UnaryOperation):
        return _pure_test(test.expression)
    if isinstance(test, cst.Tuple):
        return all(_pure_test(e.value) for e in test.elements)
    return False


def _dominates(x: Binding, read: Read, inner: int) -> bool:
    """A plain rebinding of the name that every path from the head of the loop at ``read.path[
    inner]`` to ``read`` passes: inside that loop, before the read, on the read's own path."""
    if x.kind not in ("assign", "unpack", "for") or not isinstance(x.target, cst.Name):
        return False
    if isinstance(x.stmt, cst.CompFor) or x.index >= read.index:
        return False
    n = len(x.path)
    if n <= inner or n > len(read.path) or read.path[:n] != x.path:
        return False
    # a ``for`` target is bound only inside its loop's body (the loop may not run at all)
    return x.kind != "for" or (n < len(read.path) and read.path[n] == (x.stmt, "loop"))


def _copied(node: cst.BaseExpression, qualname: object) -> cst.BaseExpression | None:
    """``h.copy()`` / ``h.clone()`` / ``h.detach()`` / ``np.copy(h)`` -> ``h``."""
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    if (
        isinstance(func, cst.Attribute)
        and func.attr.value in ("copy", "clone", "detach")
        and not node.args
    ):
        return func.value
    if qualname(func) in ("numpy.copy", "numpy.array") and len(node.args) == 1:  # type: ignore[operator]
        return node.args[0].value
    return None


_STACKS = frozenset(
    {"numpy.hstack", "numpy.vstack", "numpy.column_stack", "numpy.row_stack", "numpy.concatenate"}
)
_FILLS = frozenset({"numpy.ones", "numpy.zeros", "numpy.full", "numpy.ones_like"})


def bias_padded(
    node: cst.BaseExpression, qualname: Callable[..., str | None]
) -> cst.BaseExpression | None:
    """The one value in a concatenation whose other parts are constant fills (a bias column
    or row): ``np.hstack([np.ones((m, 1)), a])``, ``np.concatenate((np.ones((1, n)), a))``,
    ``np.insert(a, 0, 1, axis=1)``, ``np.append(np.ones((m, 1)), a, axis=1)`` -> ``a``."""
    if not isinstance(node, cst.Call) or not node.args:
        return None
    qn = qualname(node.func)
    if qn in _STACKS:
        seq = node.args[0].value
        if not isinstance(seq, cst.List | cst.Tuple) or node.args[0].keyword is not None:
            return None
        parts = [el.value for el in seq.elements if isinstance(el, cst.Element)]
    elif qn == "numpy.append" and len(node.args) >= 2:
        parts = [node.args[0].value, node.args[1].value]
    elif qn == "numpy.insert" and len(node.args) >= 3:
        fill = node.args[2].value
        if not isinstance(fill, cst.Integer | cst.Float):
            return None
        return node.args[0].value
    else:
        return None
    kept = [p for p in parts if not _is_fill(p, qualname)]
    return kept[0] if len(kept) == 1 and len(parts) > 1 else None


def _is_fill(node: cst.BaseExpression, qualname: Callable[..., str | None]) -> bool:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.right, cst.Integer | cst.Float):
        node = node.left  # np.ones((m, 1)) * 1.0
    return isinstance(node, cst.Call) and qualname(node.func) in _FILLS


def _call_func(node: cst.BaseExpression | None) -> cst.BaseExpression:
    return node.func if isinstance(node, cst.Call) else cst.Name("_")


def _is_allocation(name: str | None) -> bool:
    return name in _ALLOCATIONS


class _DataUse(cst.CSTVisitor):
    """Whether a name is used as data: subtracted (from) or added to something, compared,
    used as an index, or called or asked for a method other than an array's arithmetic."""

    ARRAY_METHODS = frozenset({"dot", "T", "transpose", "reshape", "shape", "copy", "sum", "t"})

    def __init__(self, name: str) -> None:
        self.name = name
        self.found = False

    def _is(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Name) and node.value == self.name

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Subtract | cst.Add) and (
            self._is(node.left) or self._is(node.right)
        ):
            self.found = True

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if self._is(node.left) or any(self._is(c.comparator) for c in node.comparisons):
            self.found = True

    def visit_SubscriptElement(self, node: cst.SubscriptElement) -> None:
        if isinstance(node.slice, cst.Index) and self.name in names_in(node.slice.value):
            self.found = True

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self._is(func) or (
            isinstance(func, cst.Attribute)
            and self._is(func.value)
            and func.attr.value not in self.ARRAY_METHODS
        ):
            self.found = True


def _summands(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """``a + b + c`` -> [a, b, c]; anything else -> [node]."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return [*_summands(node.left), *_summands(node.right)]
    return [node]


def _used_as_data(fn: cst.CSTNode, name: str) -> bool:
    visitor = _DataUse(name)
    walk(fn, visitor)
    return visitor.found


def _upstream_of(params: list[str], forward_params: list[str]) -> str | None:
    """The upstream-gradient parameter of a backward half, given its forward half's parameters:
    the first one, unless that is the forward's input (then the backward takes data first, and
    only ``backward(x, g)`` says which one is the gradient)."""
    if not forward_params or forward_params[0] != params[0]:
        return params[0]
    if len(params) == 2 and params[1] not in forward_params:
        return params[1]
    return None


def _view_base(node: cst.BaseExpression) -> cst.BaseExpression:
    """``W.reshape(n, -1)`` / ``W.view(...)`` / ``W.flatten()`` -> ``W``."""
    while (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in ("reshape", "view", "flatten", "ravel", "copy")
    ):
        node = node.func.value
    return node


def _is_swap_axes(args: object) -> bool:
    vals = [a.value for a in args]  # type: ignore[attr-defined]
    if len(vals) == 2 and all(isinstance(v, cst.Integer) for v in vals):
        return {int_value(v) for v in vals} == {0, 1}
    if len(vals) == 1 and isinstance(vals[0], cst.Tuple):
        nums = [e.value for e in vals[0].elements]
        return [getattr(n, "value", None) for n in nums] == ["1", "0"]
    return False


def _is_transpose_attr(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value in N.TRANSPOSE_ATTRS


def _is_zip(node: cst.BaseExpression) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value in ("zip", "reversed")
    )


def _range_position(b: Binding) -> bool:
    """``for l in range(...)``, ``for l in reversed(range(...))``, ``for i, x in
    enumerate(...)``: the loop variable is an integer."""
    stmt = b.stmt
    if not isinstance(stmt, cst.For | cst.CompFor):
        return False
    it = stmt.iter
    while (
        isinstance(it, cst.Call)
        and isinstance(it.func, cst.Name)
        and it.func.value in ("reversed", "list", "tuple")
        and len(it.args) == 1
    ):
        it = it.args[0].value
    if not isinstance(it, cst.Call) or not isinstance(it.func, cst.Name):
        return False
    if it.func.value == "range":
        return stmt.target is b.target
    return (
        it.func.value == "enumerate"
        and isinstance(stmt.target, cst.Tuple)
        and bool(stmt.target.elements)
        and stmt.target.elements[0].value is b.target
    )


def _zip_source(b: Binding) -> cst.BaseExpression | None:
    """For ``for w, b in zip(self.weights, self.biases)`` the container ``w`` is drawn from.

    Handles ``enumerate(...)``, ``reversed(...)``, ``list(...)`` and nested tuple targets such as
    ``for i, (w, b) in enumerate(zip(W, B))``.
    """
    stmt = b.stmt
    if not isinstance(stmt, cst.For | cst.CompFor):
        return None
    return _element_source(b.target, stmt.target, stmt.iter)


def _element_source(
    leaf: cst.BaseExpression, target: cst.BaseExpression, it: cst.BaseExpression
) -> cst.BaseExpression | None:
    while (
        isinstance(it, cst.Call)
        and isinstance(it.func, cst.Name)
        and it.func.value in ("reversed", "list", "tuple", "iter")
        and len(it.args) == 1
    ):
        it = it.args[0].value
    if isinstance(target, cst.Tuple | cst.List):
        elements = [e.value for e in target.elements]
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Name):
            if it.func.value == "enumerate" and len(elements) == 2 and it.args:
                return _element_source(leaf, elements[1], it.args[0].value)
            if it.func.value == "zip":
                for el, arg in zip(elements, it.args, strict=False):
                    if arg.star:
                        return None
                    found = _element_source(leaf, el, arg.value)
                    if found is not None:
                        return found
        return None
    if target is leaf and isinstance(it, cst.Name | cst.Attribute | cst.Subscript):
        return it
    return None


def _scaled(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> bool:
    """A step: a quantity scaled by a factor (``eta * nw``, ``g / n``),
    not a bare gradient added to a running sum."""
    if isinstance(node, cst.UnaryOperation):
        node = node.expression
    return model.is_step(node, scope) or (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, cst.Multiply | cst.Divide)
    )


def _comp_fors(node: cst.ListComp) -> Iterator[cst.CompFor]:
    f: cst.CompFor | None = node.for_in
    while f is not None:
        yield f
        f = f.inner_for_in


def _matrix_shape(call: cst.Call) -> bool:
    """``np.zeros((n, m))`` / ``torch.zeros(n, m)``: a matrix, as weights are."""
    args = positional_args(call)
    if not args:
        return False
    if isinstance(args[0], cst.Tuple):
        return len(args[0].elements) >= 2
    return len(args) >= 2 and not isinstance(args[1], cst.Float)


def _negated(node: cst.BaseExpression) -> bool:
    """``-lr``, ``-1``, ``(-lr * X.T)``: a factor carrying an explicit minus sign."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, cst.Multiply | cst.Divide | cst.MatrixMultiply
    ):
        return _negated(node.left) != _negated(node.right)
    value = number_value(node)
    return value is not None and value < 0


def is_scalar(node: cst.BaseExpression, sizes: frozenset[str] = frozenset()) -> bool:
    """A number, a name or attribute known to hold a scalar (``sizes``: ``m = X.shape[1]``, a
    batch size or learning rate by its use, ``ModuleModel.scale_names``), ``len(x)``,
    ``x.shape[0]``, ``1 / m``."""
    if number_value(node) is not None:
        return True
    if isinstance(node, cst.Name):
        return node.value in sizes
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value in ("len", "float")
    ):
        return True
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute):
        return node.value.attr.value == "shape"
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, cst.Multiply | cst.Divide
    ):
        return is_scalar(node.left, sizes) and is_scalar(node.right, sizes)
    if isinstance(node, cst.Attribute):
        return dotted(node) in sizes
    return False


_REDUCERS = frozenset({"sum", "mean", "average", "nansum"})


def _picked_at_labels(node: cst.BaseExpression) -> bool:
    """``p[range(N), y]`` / ``p[np.arange(N), y]``: one entry per row, picked by a label."""
    if not (isinstance(node, cst.Subscript) and len(node.slice) == 2):
        return False
    first = node.slice[0].slice
    if not isinstance(first, cst.Index) or not isinstance(first.value, cst.Call):
        return False
    func = dotted(first.value.func) or ""
    return func.rsplit(".", 1)[-1] in ("range", "arange")


def _plain_key(node: cst.BaseExpression) -> str | None:
    """``m`` / ``self.m``: the dotted name of a plain name or attribute (not ``x.T``)."""
    if isinstance(node, cst.Name) or (
        isinstance(node, cst.Attribute) and node.attr.value not in ("T", "shape", "size")
    ):
        return dotted(node)
    return None


def _plain_factor(node: cst.BaseExpression) -> bool:
    """``rate * X.T`` / ``-rate * X[i].T`` / ``self.rate * X.T``: the left operand of a ``@``
    that is a plain name (never transposed, indexed or itself a product) times an array
    expression, as ``rate * X.T @ g`` parses. Two plain names (``a * b @ c``) say nothing."""
    if isinstance(node, cst.UnaryOperation):
        node = node.expression
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply)):
        return False
    left = node.left.expression if isinstance(node.left, cst.UnaryOperation) else node.left
    return (
        _plain_key(left) is not None
        and _plain_key(node.right) is None
        and isinstance(node.right, cst.Attribute | cst.Subscript | cst.Call)
    )


def _update_step(b: Binding, target: str) -> cst.BaseExpression | None:
    """The step of a descent ``P -= step`` / ``P = P - step`` (``+=`` also accumulates
    gradients, ``dB += dy * dh``: its factors are arrays)."""
    if b.value is None:
        return None
    if b.kind == "aug" and b.op == "SubtractAssign":
        return b.value
    value = b.value
    if (
        b.kind == "assign"
        and isinstance(value, cst.BinaryOperation)
        and isinstance(value.operator, cst.Subtract)
        and dotted(value.left) == target
    ):
        return value.right
    return None


def _plain_factors(step: cst.BaseExpression) -> set[str]:
    """The plain names multiplying in a step ``lr * dW`` / ``-lr * g / m``: candidates for its
    rate (a name common to the steps of two parameters is one)."""
    while isinstance(step, cst.UnaryOperation):
        step = step.expression
    if not (isinstance(step, cst.BinaryOperation) and isinstance(step.operator, cst.Multiply)):
        return set()
    out: set[str] = set()
    for side in (step.left, step.right):
        k = _plain_key(side)
        if k is not None:
            out.add(k)
        elif isinstance(side, cst.BinaryOperation | cst.UnaryOperation):
            out |= _plain_factors(side)
    return out


def _size_expression(node: cst.BaseExpression | None) -> bool:
    """``x.shape[k]``, ``len(x)``, ``float(...)``/``int(...)`` of one."""
    while (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value in ("float", "int")
        and len(node.args) == 1
    ):
        node = node.args[0].value
    if isinstance(node, cst.Call):
        return isinstance(node.func, cst.Name) and node.func.value == "len" and len(node.args) == 1
    return (
        isinstance(node, cst.Subscript)
        and isinstance(node.value, cst.Attribute)
        and node.value.attr.value == "shape"
    )


def _looks_like_rng(node: cst.BaseExpression) -> bool:
    name = dotted(node) or ""
    return name.split(".")[-1] in ("random", "rng", "rs", "random_state", "gen", "generator")


def _constant(node: cst.BaseExpression | None) -> tuple[str | None] | None:
    """A string literal or ``None``, as a 1-tuple; None for anything else."""
    if isinstance(node, cst.Name) and node.value == "None":
        return (None,)
    text = string_value(node)
    return (text,) if text is not None else None


def _assign_targets(node: cst.CSTNode) -> list[cst.BaseExpression]:
    if isinstance(node, cst.Assign):
        return [t.target for t in node.targets]
    if isinstance(node, cst.AnnAssign | cst.AugAssign):
        return [node.target]
    return []


def _key_under(target: cst.Subscript, base: str) -> cst.BaseExpression | None:
    """The key a write into ``base`` uses at its first level (``cache["A"][t] = ...`` ->
    ``"A"``), or None."""
    node: cst.BaseExpression = target
    while isinstance(node, cst.Subscript) and dotted(node.value) != base:
        node = node.value
    if not isinstance(node, cst.Subscript) or not node.slice:
        return None
    idx = node.slice[0].slice
    return idx.value if isinstance(idx, cst.Index) else None


def _string_key(node: cst.Subscript) -> str | None:
    """The constant string key of ``d["dW1"]``, else None."""
    idx = node.slice[0].slice if len(node.slice) == 1 else None
    return string_value(idx.value) if isinstance(idx, cst.Index) else None
