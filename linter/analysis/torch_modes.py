"""Train / eval mode facts for the BP4xx rules: evaluation loops that run a model with dropout or
batch norm in training mode, dropout layers built inside ``forward``.

Read from the shared PyTorch facts (``torch_facts.facts``): which values are models (instances of
``nn.Module`` classes of this file or a sibling, through wrappers such as ``DDP(model)``), what
their classes hold (module summaries: ``nn.Dropout``/``nn.BatchNorm*`` attributes, submodule
classes, ``F.dropout``), where ``model.eval()``/``model.train()`` are called, and which blocks run
under ``torch.no_grad()``/``torch.inference_mode()``. Structure only, never names: an evaluation
is a loop that calls a model under ``no_grad``, outside any block that back-propagates.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.collect import Scope, Site
from linter.analysis.exprs import dotted, keyword_arg, positional_args
from linter.analysis.torch_facts import (
    MODE_LAYERS,
    TORCH_BUILTINS,
    Evidence,
    TorchFacts,
    facts,
    nn_name,
)
from linter.analysis.treewalk import walk

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

SDPA_FNS = {"torch.nn.functional.scaled_dot_product_attention"}
EVAL_BLOCKS = {"torch.no_grad", "torch.inference_mode"}
MAX_DEPTH = 4


@dataclass(frozen=True)
class TrainModeEval:
    """A model called in an evaluation loop under ``no_grad`` while it is in training mode."""

    region: cst.CSTNode  # the evaluation block (or function) that needs ``model.eval()`` first
    use: cst.Call  # the model call
    key: str  # the model as written at the call
    scope: Scope
    why: str  # what puts the model in training mode there


class ModeFacts:
    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self.tf: TorchFacts = facts(model)
        self.c = model.c
        self._mode_memo: dict[tuple[ModuleModel, str], bool] = {}
        self._inline: dict[str, cst.Call] = {}  # "<nn.Sequential#1>" -> the constructor call
        self._inline_tags: dict[cst.Call, str] = {}  # the constructor call -> its tag

    # --- module summaries ------------------------------------------------------------------

    def class_has_mode_layers(self, model: ModuleModel, cls: str, depth: int = 0) -> bool:
        """Does ``cls`` (of ``model``) hold dropout or batch norm, itself, through its bases, or
        through submodule classes it builds?"""
        memo = (model, cls)  # the model itself, kept alive here: an id() could be reused
        if memo in self._mode_memo:
            return self._mode_memo[memo]
        self._mode_memo[memo] = False  # a cycle is not evidence
        found = self._has_mode_layers(model, cls, depth)
        self._mode_memo[memo] = found
        return found

    def _has_mode_layers(self, model: ModuleModel, cls: str, depth: int) -> bool:
        tf = facts(model)
        if depth > MAX_DEPTH:
            return False
        if cls in self._inline:
            for call in _calls(self._inline[cls]):
                if _is_mode_layer(model, call):
                    return True
                sub = tf.class_of(call)
                if sub is not None and self.class_has_mode_layers(sub[0], sub[1], depth + 1):
                    return True
            return False
        for bindings in model.c.class_attrs.get(cls, {}).values():
            for b in bindings:
                if b.value is None:
                    continue
                for call in _calls(b.value):
                    if _is_mode_layer(model, call):
                        return True
                    sub = tf.class_of(call)
                    if sub is not None and self.class_has_mode_layers(sub[0], sub[1], depth + 1):
                        return True
        if tf.has_mode_layers(cls):  # F.dropout in its methods
            return True
        for base in model.c.class_bases.get(cls, []):
            if base in model.c.class_bases and self.class_has_mode_layers(model, base, depth + 1):
                return True
        return False

    def model_classes(
        self, key: str, scope: Scope, depth: int = 0
    ) -> set[tuple[ModuleModel, str]] | None:
        """The nn.Module classes ``key`` can be an instance of, through wrappers that hand the
        same module on (``DDP(model)``, ``torch.compile(model)``, ``model.to(dev)``) and
        class-method constructors (``Net.from_pretrained(...)``); None when any binding is
        something else."""
        if depth > MAX_DEPTH:
            return None
        found: set[tuple[ModuleModel, str]] = set()
        bindings = self.tf.bindings(key, scope)
        if not bindings:
            return None
        for b, s in bindings:
            if b.kind == "assign" and isinstance(b.value, cst.Call):
                got = self._ctor_classes(b.value, key, s, depth)
                if got is None:
                    return None
                found |= got
            elif b.kind == "param" and s.cls is None and not s.nested:
                args = self.tf.arguments(key, s)
                if not args:
                    return None
                for a, sc in args:
                    ak = dotted(a)
                    got = (
                        self._ctor_classes(a, "", sc, depth)
                        if isinstance(a, cst.Call)
                        else (self.model_classes(ak, sc, depth + 1) if ak else None)
                    )
                    if got is None:
                        return None
                    found |= got
            else:
                return None
        return found

    def _ctor_classes(
        self, value: cst.Call, key: str, scope: Scope, depth: int
    ) -> set[tuple[ModuleModel, str]] | None:
        cls = self.tf.class_of(value)
        if cls is not None:
            return {cls}
        func = value.func
        if nn_name(self.m.qualname(func)) is not None:  # nn.Sequential(...), nn.LSTM(...)
            tag = self._inline_tags.get(value)
            if tag is None:  # numbered in the order met: the node itself is the key, never id()
                tag = self._inline_tags[value] = f"<{self.m.src(func)}#{len(self._inline_tags)}>"
                self._inline[tag] = value
            return {(self.m, tag)}
        # Net.from_pretrained(...): a class method of a module class
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            owner = cst.Call(func=func.value)
            cls = self.tf.class_of(owner)
            if cls is not None:
                return {cls}
        # Net().to(device), Net().cuda(): the same module
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
            if func.attr.value in ("to", "cuda", "cpu", "double", "float", "half", "type"):
                return self._ctor_classes(func.value, key, scope, depth + 1)
        # the same module handed on: DDP(model), torch.compile(model), model.to(device)
        if key:
            if isinstance(func, cst.Attribute) and dotted(func.value) == key:
                return set()
            args = positional_args(value)
            if args and dotted(args[0]) == key:
                q = self.m.qualname(func)
                if q is not None and q.startswith("torch."):
                    return set()
        return None

    # --- evaluation in training mode -------------------------------------------------------

    def train_mode_evaluations(self) -> list[TrainModeEval]:
        if not self.tf.uses_torch:
            return []
        modes = self.tf.mode_calls()
        evals = [(k, s) for k, mode, s in modes if mode in ("eval", "either")]
        if self._unkeyed_eval():
            return []
        trains = [(k, s) for k, mode, s in modes if mode == "train"]
        out: list[TrainModeEval] = []
        seen: set[cst.CSTNode] = set()
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            key = self._model_key(call)
            if key is None or not self._under_eval_block(call):
                continue
            region = self._region(site)
            if region is None or region in seen:
                continue
            why = self._in_train_mode(key, site, evals, trains, region)
            if why is None:
                continue
            seen.add(region)
            out.append(TrainModeEval(region, call, key, site.scope, why))
        return out

    def _unkeyed_eval(self) -> bool:
        """``Net().eval()``, ``models[i].eval()``: an eval() whose receiver has no key."""
        for site in self.c.calls:
            f = site.node.func if isinstance(site.node, cst.Call) else None
            if isinstance(f, cst.Attribute) and f.attr.value in ("eval", "train"):
                if dotted(f.value) is None:
                    return True
        return False

    def _model_key(self, call: cst.Call) -> str | None:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            func = func.value
        key = dotted(func)
        if key is None or key in ("self", "super"):
            return None
        if "." in key and not (key.startswith("self.") and key.count(".") == 1):
            return None  # a method call, not a module applied
        if self.m.qualname(func) is not None:
            return None  # a library function, not a model
        return key

    def _under_eval_block(self, node: cst.CSTNode) -> bool:
        n: cst.CSTNode | None = node
        while n is not None:
            if isinstance(n, cst.With) and any(self._is_eval_item(i.item) for i in n.items):
                return True
            if isinstance(n, cst.FunctionDef):
                return any(self._is_eval_item(d.decorator) for d in n.decorators)
            n = self.tf.parent(n)
        return False

    def _is_eval_item(self, item: cst.BaseExpression) -> bool:
        return self.m.qualname(item.func if isinstance(item, cst.Call) else item) in EVAL_BLOCKS

    def _region(self, site: Site) -> cst.CSTNode | None:
        """The outermost statement around the model call (inside its function) that does not
        back-propagate: the evaluation block. It must loop (an evaluation pass over batches),
        and the model call must not sit in a block that also trains. When the whole function
        evaluates under a ``no_grad`` decorator, the function itself."""
        fn = site.scope.node
        n: cst.CSTNode | None = self.tf.parent(site.node)
        region: cst.CSTNode | None = None
        looped = False
        while n is not None and n is not fn:
            if isinstance(n, cst.BaseCompoundStatement | cst.SimpleStatementLine):
                if _trains(n):
                    break
                region = n
                if isinstance(n, cst.For | cst.While):
                    looped = True
            n = self.tf.parent(n)
        if n is fn and isinstance(fn, cst.FunctionDef) and not _trains(fn):
            if any(self._is_eval_item(d.decorator) for d in fn.decorators):
                region = fn
        if region is None or not looped:
            return None
        return region

    def _in_train_mode(
        self,
        key: str,
        site: Site,
        evals: list[tuple[str, Site]],
        trains: list[tuple[str, Site]],
        region: cst.CSTNode,
    ) -> str | None:
        """Why ``key`` is in training mode at ``site`` (None: it may not be, or mode does not
        matter for it)."""
        scope = site.scope
        classes = self.model_classes(key, scope)
        if classes is not None and classes:
            if not any(self.class_has_mode_layers(m, c) for m, c in classes):
                return None  # no dropout, no batch norm: the mode changes nothing
        own_train = [s for k, s in trains if k == key and s.scope is scope]
        if not classes and not own_train:
            return None  # an unknown object: nothing says its mode matters
        # anything that may switch it to eval mode: an eval() on it, on an alias, on a
        # submodule (m.eval() over model.modules()), or an unknown callee handed the model
        checkpoints = self._checkpoints(site, 0)
        for k, s in evals:
            if not (k == key or k.startswith(key + ".") or not self._other_model(k, s, classes)):
                continue
            for effect in self._effects(s, 0):
                if effect is None or any(_reaches(effect, c) for c in checkpoints):
                    return None
        # train() right before the call with no training in between: deliberate (Monte Carlo
        # dropout); a train() that training follows is the start of an epoch, and what ran
        # before it cannot have left the model in eval mode
        prior = [s for s in own_train if s.index < site.index]
        if prior:
            last = max(s.index for s in prior)
            if not self._trains_between(scope, last, site.index):
                return None
            if self._handed_to_unknown(key, scope, (last, site.index)):
                return None
        elif self._handed_to_unknown(key, scope, None):
            return None
        return "no `.eval()` in this file reaches it"

    def _callers(self, scope: Scope) -> list[Site] | None:
        """The call sites of ``scope``'s function in this file (None: it is not a plain
        function or method called by name here)."""
        if scope.is_module:
            return None
        out = []
        for s in self.c.calls:
            call = s.node
            if not isinstance(call, cst.Call) or s.scope is scope:
                continue
            func = call.func
            if isinstance(func, cst.Name) and func.value == scope.name and scope.cls is None:
                if self.m.local_function(func, s.scope) is scope:
                    out.append(s)
            elif (
                isinstance(func, cst.Attribute)
                and func.attr.value == scope.name
                and scope.cls is not None
                and isinstance(func.value, cst.Name)
                and func.value.value == "self"
                and s.scope.cls == scope.cls
            ):
                out.append(s)
        return out

    def _effects(self, site: Site, depth: int) -> list[Site | None]:
        """Where an ``eval()`` at ``site`` takes effect: the site itself and, for one inside a
        function, every call of that function (transitively); None: somewhere unknown."""
        out: list[Site | None] = [site]
        if site.scope.is_module:
            return out
        callers = self._callers(site.scope)
        if not callers or depth >= MAX_DEPTH:
            return [None]
        for c in callers:
            out.extend(self._effects(c, depth + 1))
        return out

    def _checkpoints(self, site: Site, depth: int) -> list[Site]:
        """The use and the calls that lead to it (its function's callers, transitively)."""
        out = [site]
        if site.scope.is_module or depth >= MAX_DEPTH:
            return out
        for c in self._callers(site.scope) or []:
            out.extend(self._checkpoints(c, depth + 1))
        return out

    def _trains_between(self, scope: Scope, start: int, end: int) -> bool:
        for s in self.c.calls:
            call = s.node
            if s.scope is scope and start <= s.index <= end and isinstance(call, cst.Call):
                if _trains(call):
                    return True
        return False

    def _other_model(
        self, key: str, site: Site, classes: set[tuple[ModuleModel, str]] | None
    ) -> bool:
        """Is ``key`` (an eval() receiver) provably a different model?"""
        if not classes:
            return False
        theirs = self.model_classes(key, site.scope)
        return bool(theirs) and not (theirs & classes)

    def _handed_to_unknown(self, key: str, scope: Scope, between: tuple[int, int] | None) -> bool:
        """Is the model handed to code that cannot be read (which may call ``eval()``)? Only
        calls of ``scope`` between two statements when ``between`` is given."""
        root = key.split(".")[0]
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if between is not None and not (
                site.scope is scope and between[0] <= site.index <= between[1]
            ):
                continue
            passed = [a.value for a in call.args if dotted(a.value) in (key, root)]
            if not passed:
                continue
            func = call.func
            q = self.m.qualname(func)
            if q is not None and q.startswith("torch."):
                continue
            if isinstance(func, cst.Name) and func.value in TORCH_BUILTINS and q is None:
                continue
            if self.m.local_function(func, site.scope) is not None:
                continue  # in this file: its eval() calls are already counted
            if isinstance(func, cst.Name) and func.value in self.c.class_bases:
                continue  # Trainer(model) of this file: counted the same way
            sibling = self.tf._sibling_function(func)
            if sibling is not None and not facts(sibling[0]).mode_calls():
                continue  # read in its own file: it switches no mode
            return True
        return False

    # --- eval mode left on inside a training loop ----------------------------------------------

    def eval_left_on(self) -> list[tuple[cst.Call, str, cst.Call]]:
        """``(call in the loop, model key, the eval() it leads to)`` for a training loop (one
        that back-propagates) in which a call switches the trained model to eval mode (directly
        or through helpers of this file) and nothing in the loop switches it back: every later
        iteration trains with dropout off and batch norm frozen."""
        if not self.tf.uses_torch:
            return []
        out: list[tuple[cst.Call, str, cst.Call]] = []
        seen: set[cst.CSTNode] = set()
        for loop in self.tf.loops():
            scope = loop.scope
            events: list[tuple[str, str | None, cst.Call, cst.Call]] = []
            for call in _calls_outside_defs(loop.node.body):
                for kind, key, leaf in self._mode_events(call, scope, {}, 0):
                    events.append((kind, key, call, leaf))
            if any(kind in ("train", "unknown") for kind, *_ in events):
                continue
            trained = self._trained_keys(loop.node.body, scope)
            backwards = [
                self._site_index(e.node)
                for e in loop.events
                if e.kind == "backward" and e.scope is scope
            ]
            first_backward = min((i for i in backwards if i is not None), default=None)
            for kind, key, call, leaf in events:
                if kind != "eval" or key is None or call in seen:
                    continue
                at = self._site_index(call)
                if first_backward is None or at is None or at <= first_backward:
                    continue  # eval() before the training step: frozen on purpose
                if self._alias(key, scope) not in trained:
                    continue
                if not self._mode_matters(self._alias(key, scope), scope):
                    continue
                seen.add(call)
                out.append((call, key, leaf))
        return out

    def _site_index(self, node: cst.CSTNode) -> int | None:
        for s in self.c.calls:
            if s.node is node:
                return s.index
        return None

    def _alias(self, key: str, scope: Scope) -> str:
        """``model = self.train()`` / ``model = self`` / ``net = net.to(dev)``: the key it
        stands for."""
        for _ in range(3):
            bindings = self.tf.bindings(key, scope)
            roots = set()
            for b, _s in bindings:
                v = b.value
                if b.kind != "assign" or v is None:
                    return key
                if isinstance(v, cst.Call) and isinstance(v.func, cst.Attribute):
                    if v.func.attr.value in ("train", "to", "cuda", "cpu", "double", "float"):
                        v = v.func.value
                k = dotted(v)
                if k is None or k == key:
                    return key
                roots.add(k)
            if len(roots) != 1:
                return key
            key = roots.pop()
        return key

    def _trained_keys(self, body: cst.CSTNode, scope: Scope) -> set[str]:
        """The models called in the loop body (``model(x)``), through aliases."""
        out = set()
        for call in _calls_outside_defs(body):
            key = self._model_key(call)
            if key is None or self._under_eval_block(call):
                continue
            up = self.tf.parent(call)
            if isinstance(up, cst.Attribute) and up.attr.value in ("detach", "data"):
                continue  # a frozen model's output (a teacher, a target network)
            out.add(self._alias(key, scope))
        return out

    def _mode_matters(self, key: str, scope: Scope) -> bool:
        if key == "self" and scope.cls is not None:
            if self.class_has_mode_layers(self.m, scope.cls):
                return True
        else:
            classes = self.model_classes(key, scope)
            if classes and any(self.class_has_mode_layers(m, c) for m, c in classes):
                return True
        return any(
            mode == "train" and self._alias(k, s.scope) == key
            for k, mode, s in self.tf.mode_calls()
        )

    def _mode_events(
        self, call: cst.Call, scope: Scope, mapping: dict[str, str], depth: int
    ) -> list[tuple[str, str | None, cst.Call]]:
        """Mode switches ``call`` performs: ``("eval" | "train", key, the call that does it)``;
        ``("unknown", None, call)`` when it hands a model to code that cannot be read."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("eval", "train"):
            key = dotted(func.value)
            if key is not None and not self.m.qualname(func):
                root, dot, rest = key.partition(".")
                key = mapping.get(root, root) + dot + rest
                if func.attr.value == "eval" and not call.args:
                    return [("eval", key, call)]
                arg = call.args[0].value if call.args else None
                if isinstance(arg, cst.Name) and arg.value == "False":
                    return [("eval", key, call)]
                return [("train", key, call)]
        helper = self.m.local_function(func, scope)
        if helper is not None and helper is not scope and depth < MAX_DEPTH:
            inner_map = self._map_args(call, helper, scope, mapping)
            found: list[tuple[str, str | None, cst.Call]] = []
            for c in _calls_outside_defs(helper.node):
                if c is call:
                    continue
                found.extend(self._mode_events(c, helper, inner_map, depth + 1))
            return found
        q = self.m.qualname(func)
        if q is not None and q.startswith("torch."):
            return []
        if isinstance(func, cst.Name) and func.value in TORCH_BUILTINS:
            return []
        handed = [dotted(a.value) for a in call.args]
        if any(k is not None and (k == "self" or self.model_classes(k, scope)) for k in handed):
            return [("unknown", None, call)]
        if isinstance(func, cst.Attribute) and dotted(func.value) == "self":
            attrs = self.c.class_attrs.get(scope.cls or "", {})
            if func.attr.value not in attrs:
                return [("unknown", None, call)]  # a method not found in this file
        return []

    def _map_args(
        self, call: cst.Call, fn: Scope, scope: Scope, mapping: dict[str, str]
    ) -> dict[str, str]:
        """The helper's ``self`` / parameters -> the caller's keys."""
        out: dict[str, str] = {}
        params = list(fn.params)
        func = call.func
        if fn.cls is not None and params and isinstance(func, cst.Attribute):
            recv = dotted(func.value)
            if recv is not None:
                out[params[0]] = mapping.get(recv, recv)
            params = params[1:]
        for p, a in zip(params, positional_args(call), strict=False):
            k = dotted(a)
            if k is not None:
                out[p] = mapping.get(k, k)
        return out

    # --- attention dropout without the module's mode -----------------------------------------

    def attention_dropout_always_on(self) -> list[tuple[cst.Call, Evidence]]:
        """``F.scaled_dot_product_attention(..., dropout_p=self.p)`` in an ``nn.Module`` method:
        the functional attention has no mode, so a rate that does not depend on
        ``self.training`` drops attention weights after ``model.eval()`` too. Evidence: where
        the rate is set, and the class being a module."""
        if not self.tf.uses_torch:
            return []
        out: list[tuple[cst.Call, Evidence]] = []
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            if self.m.qualname(call.func) not in SDPA_FNS:
                continue
            scope = site.scope
            if scope.cls is None or not self.tf.is_module_class(scope.cls):
                continue
            rate = keyword_arg(call, "dropout_p")
            if rate is None:
                args = positional_args(call)
                if len(args) < 5 or any(a.star for a in call.args):
                    continue
                rate = args[4]
            if self._rate_always_on(rate, scope, 0):
                out.append((call, self._rate_evidence(rate, scope)))
        return out

    def _rate_evidence(self, rate: cst.BaseExpression, scope: Scope) -> Evidence:
        assert scope.cls is not None
        key = dotted(rate)
        found: list[cst.BaseExpression] = []
        if key is not None and key.startswith("self."):
            found = [b.target for b in self.c.class_attrs.get(scope.cls, {}).get(key[5:], [])]
        elif key is not None:
            found = [b.target for b in scope.bindings.get(key, [])]
        text = f"`{key}` is set here, without `self.training`"
        return tuple((t, text) for t in found[:1]) + self.tf.module_class_evidence(scope.cls)

    def _rate_always_on(self, rate: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        """A non-zero literal, or ``self.attr`` / a local bound only to such (never a value that
        reads the training flag)."""
        if isinstance(rate, cst.Integer | cst.Float):
            try:
                return float(rate.value) != 0.0
            except ValueError:
                return False
        key = dotted(rate)
        if key is None or depth > 2:
            return False
        if key.startswith("self.") and key.count(".") == 1:
            if key == "self.training" or scope.cls is None:
                return False
            attrs = self.c.class_attrs.get(scope.cls, {}).get(key[5:], [])
            return all(
                b.value is not None and not _reads_training(b.value) for b in attrs
            ) and bool(attrs)
        bindings = scope.bindings.get(key, [])
        if not bindings or any(b.kind != "assign" or b.value is None for b in bindings):
            return False
        return all(self._rate_always_on(b.value, scope, depth + 1) for b in bindings if b.value)

    # --- nn.Dropout built inside forward -----------------------------------------------------

    def layers_built_in_forward(self) -> list[tuple[cst.Call, str, Evidence]]:
        """``nn.Dropout(p)(x)`` / ``nn.BatchNorm1d(n)(x)`` made and applied inside a method of
        an ``nn.Module`` (not ``__init__``): a fresh layer in training mode on every call, not
        registered as a submodule, so ``model.eval()`` never reaches it. Evidence: the method
        that runs on every call, and the class being a module."""
        if not self.tf.uses_torch:
            return []
        out: list[tuple[cst.Call, str, Evidence]] = []
        for site in self.c.calls:
            call = site.node
            assert isinstance(call, cst.Call)
            scope = site.scope
            if scope.cls is None or scope.nested or scope.name == "__init__":
                continue
            if not self.tf.is_module_class(scope.cls):
                continue
            name = _mode_layer_name(self.m, call)
            if name is None or _zero_rate(call):
                continue
            if self._applied_here(call, scope):
                evidence: Evidence = ()
                if isinstance(scope.node, cst.FunctionDef):
                    text = f"`{scope.name}` runs on every call: a new layer each time"
                    evidence = ((scope.node.name, text),)
                out.append((call, name, evidence + self.tf.module_class_evidence(scope.cls)))
        return out

    def _applied_here(self, ctor: cst.Call, scope: Scope) -> bool:
        """Is the new layer applied in ``scope`` and kept nowhere: ``nn.Dropout(p)(x)``, or
        ``drop = nn.Dropout(p)`` whose only uses are calls ``drop(x)``?"""
        parent = self.tf.parent(ctor)
        if isinstance(parent, cst.Call) and parent.func is ctor:
            return True
        if not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
            return False
        target = parent.targets[0].target
        if not isinstance(target, cst.Name):
            return False
        name = target.value
        if len(scope.bindings.get(name, [])) != 1:
            return False
        called = False
        for n in _names(scope.node):
            if n.value != name or n is target:
                continue
            up = self.tf.parent(n)
            if isinstance(up, cst.Call) and up.func is n:
                called = True
            else:
                return False  # returned, stored, appended: a builder, not a throw-away
        return called


_modes: weakref.WeakKeyDictionary[ModuleModel, ModeFacts] = weakref.WeakKeyDictionary()


def modes(model: ModuleModel) -> ModeFacts:
    found = _modes.get(model)
    if found is None:
        found = _modes[model] = ModeFacts(model)
    return found


# --- helpers ----------------------------------------------------------------------------------


def _mode_layer_name(model: ModuleModel, call: cst.Call) -> str | None:
    name = nn_name(model.qualname(call.func))
    return name if name and name.startswith(MODE_LAYERS) else None


def _is_mode_layer(model: ModuleModel, call: cst.Call) -> bool:
    return _mode_layer_name(model, call) is not None and not _zero_rate(call)


def _zero_rate(call: cst.Call) -> bool:
    """``nn.Dropout(0)`` / ``nn.Dropout(p=0.0)``: the layer does nothing in either mode."""
    p = keyword_arg(call, "p")
    args = positional_args(call)
    if p is None and args:
        p = args[0]
    if isinstance(p, cst.Integer | cst.Float):
        try:
            return float(p.value) == 0.0
        except ValueError:
            return False
    return False


def _reads_training(node: cst.CSTNode) -> bool:
    return any(
        (isinstance(n, cst.Attribute) and n.attr.value == "training")
        or (isinstance(n, cst.Name) and n.value == "training")
        for n in _nodes(node)
    )


def _nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []

    class _V(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            found.append(n)
            return True

    walk(node, _V())
    return found


def _reaches(effect: Site, checkpoint: Site) -> bool:
    """Can a mode change at ``effect`` be in force at ``checkpoint`` (same function, earlier,
    or in a loop around both)?"""
    if effect.scope is not checkpoint.scope:
        return False
    if effect.index < checkpoint.index:
        return True
    return any(loop in checkpoint.loops for loop in effect.loops)


def _trains(node: cst.CSTNode) -> bool:
    """Does ``node`` call ``.backward()`` or an optimizer-like ``.step()``?"""
    for c in _calls(node):
        if isinstance(c.func, cst.Attribute) and c.func.attr.value in ("backward", "step"):
            return True
    return False


def _calls_outside_defs(node: cst.CSTNode) -> list[cst.Call]:
    """Calls in ``node`` (a function's own body when ``node`` is a def), not in nested defs or
    lambdas."""
    found: list[cst.Call] = []
    root = node

    class _V(cst.CSTVisitor):
        def visit_FunctionDef(self, n: cst.FunctionDef) -> bool:
            return n is root

        def visit_Lambda(self, n: cst.Lambda) -> bool:
            return False

        def visit_ClassDef(self, n: cst.ClassDef) -> bool:
            return False

        def visit_Call(self, n: cst.Call) -> None:
            found.append(n)

    walk(node, _V())
    return found


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


def _calls(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            found.append(n)

    walk(node, _V())
    return found


def _names(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class _V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.append(n)

    walk(node, _V())
    return found
