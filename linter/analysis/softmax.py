"""Exponentials normalised by their own sum: softmax ratios and log-sum-exps.

``exp_sums(model)`` lists, once per module, every exponential whose value is summed and then
either divides the exponential (a softmax ratio) or goes under a log (a log-sum-exp), with how
each use of the exponential and of its sum looks. That decides what BP501 may offer:

- subtracting a constant ``m`` inside ``exp`` scales the exponential and its sum alike by
  ``exp(-m)``, so a ratio ``exp(z) / sum(exp(z))`` keeps its value, and nothing else does
  (a log-sum-exp moves by ``-m``, a reused sum or exponential changes outright). The shift is
  ``shift_safe`` only when every use of the exponential is the numerator of such a ratio or the
  operand of its sum, and every use of the sum is that ratio's denominator;
- a log-sum-exp written inline, ``log(sum(exp(z)))``, can be rewritten ``m + log(sum(exp(z -
  m)))`` (``lse_call``); a sum kept in a name and logged later cannot be rewritten in place.

Uses are read from a parent index of the scope, built lazily (only scopes with an exponential
that is summed pay for it). ``bounded_above_by_zero`` is the structural check for an exponential
that cannot overflow: a max-shifted value, a log-probability (``x - logsumexp(x)``), minus a
square.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.callables import application, applied_function, evaluations, returned
from linter.analysis.exprs import dotted, int_value, keyword_arg, number_value, positional_args
from linter.analysis.treewalk import walk

if TYPE_CHECKING:
    from linter.analysis.collect import Scope, Site
    from linter.analysis.model import ModuleModel

EXP = frozenset({"numpy.exp", "torch.exp", "math.exp"})
MAX = frozenset({"numpy.max", "numpy.amax", "torch.max", "numpy.nanmax", "torch.amax"})
SUM = frozenset({"numpy.sum", "torch.sum", "numpy.nansum"})
LOG = frozenset({"numpy.log", "torch.log", "math.log"})
COLLECT = frozenset({"numpy.array", "numpy.asarray", "numpy.vstack", "numpy.stack"})
RECIPROCAL = frozenset({"numpy.reciprocal", "torch.reciprocal"})
LSE = frozenset({"scipy.special.logsumexp", "torch.logsumexp", "scipy.misc.logsumexp"})
NONNEG_CALLS = frozenset(
    {"numpy.square", "numpy.abs", "numpy.absolute", "numpy.fabs", "numpy.linalg.norm", "abs"}
)

RATIO = "ratio"  # the exponential divided by its own sum
PART = "part"  # a piece of such a ratio (``e[i] / s``, ``e /= s``): normalised, not whole
LOG_OF_SUM = "log"  # the sum under a log
IN_SUM = "sum"  # the exponential as the operand of its sum
DEFINITION = "def"  # the assignment that binds the exponential or its sum
OTHER = "other"


@dataclass(frozen=True, eq=False)
class ExpSum:
    """One exponential normalised by its own sum (one per softmax, however it is spelled)."""

    exp: cst.Call  # the first exponential: where a finding points
    x: cst.BaseExpression  # its argument
    site: Site
    exps: tuple[cst.Call, ...]  # every ``exp(x)`` of the group (an inline ratio has two)
    sums: tuple[cst.Call, ...]
    uses: frozenset[str]  # the kinds of use seen (RATIO, PART, LOG_OF_SUM, IN_SUM, OTHER, ...)
    axis: cst.BaseExpression | None  # the summed axis (``None``: every axis)
    shift_safe: bool  # subtracting a max inside every exp of ``exps`` preserves all values
    ratio: cst.BinaryOperation | None = None  # an inline ``exp(x) / sum(exp(x))``
    lse_call: cst.Call | None = None  # an inline ``log(sum(exp(x)))``
    lse_alone: bool = False  # ``lse_call`` is a whole statement value: no parentheses needed
    # the call that evaluates the helper or lambda returning ``exp`` (``np.apply_along_axis(f,
    # 1, z)``), normalised where it is made; None when ``exp`` is normalised in its own scope
    evaluated: cst.Call | None = None

    @property
    def is_logsumexp(self) -> bool:
        return LOG_OF_SUM in self.uses


class _Index(cst.CSTVisitor):
    """Parents and occurrences of names and dotted attributes in one scope's subtree (its
    whitespace and tokens are no one's parent that is looked up)."""

    walk_trivia = False

    def __init__(self) -> None:
        self.parent: dict[cst.CSTNode, cst.CSTNode] = {}
        self.names: dict[str, list[cst.CSTNode]] = {}
        self._stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.parent[node] = self._stack[-1]
        self._stack.append(node)
        if isinstance(node, cst.Name | cst.Attribute):
            key = dotted(node)
            if key is not None:
                self.names.setdefault(key, []).append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._stack.pop()


def exp_sums(model: ModuleModel) -> list[ExpSum]:
    """Every exponential normalised by its own sum in the module, in source order (memoised)."""
    memo = model.__dict__.get("_exp_sums")
    if memo is None:
        memo = list(_find(model))
        model.__dict__["_exp_sums"] = memo
    return memo


def _find(model: ModuleModel) -> Iterator[ExpSum]:
    claimed: set[cst.CSTNode] = set()
    indexes: dict[Scope, _Index] = {}
    summing: set[Scope] | None = None
    for site in model.c.calls:
        call = site.node
        if not isinstance(call, cst.Call) or call in claimed:
            continue
        if model.qualname(call.func) not in EXP or not positional_args(call):
            continue
        if summing is None:
            summing = _scopes_with_sums(model)
        found = None
        if site.scope in summing:  # cheap, before any index is built
            found = _Group(model, _index(indexes, site.scope), call, site).result()
        if found is None:
            found = _evaluated(model, indexes, call, site)
        if found is not None:
            claimed.update(found.exps)
            yield found


def _index(indexes: dict[Scope, _Index], scope: Scope) -> _Index:
    index = indexes.get(scope)
    if index is None:
        index = indexes[scope] = _Index()
        walk(scope.node, index)
    return index


def _evaluated(
    model: ModuleModel, indexes: dict[Scope, _Index], call: cst.Call, site: Site
) -> ExpSum | None:
    """A helper or lambda that returns the exponential (``lambda v: np.exp(v)``), normalised
    where it is evaluated: ``e = np.apply_along_axis(f, 1, z); e / e.sum(axis=1)``."""
    fn = site.scope
    if fn.is_module or returned(fn) is not call:
        return None
    for value, scope, _array in evaluations(model, fn):
        index = _index(indexes, scope)
        value = _collected(model, index, value)
        found = _Group(model, index, call, site, value, scope).result()
        if found is not None:
            return found
    return None


def _collected(model: ModuleModel, index: _Index, value: cst.Call) -> cst.Call:
    """``np.array(list(map(f, rows)))``: the array a row-by-row evaluation is collected into."""
    for _ in range(3):
        p = index.parent.get(value)
        call = index.parent.get(p) if isinstance(p, cst.Arg) else None
        if not (isinstance(call, cst.Call) and len(call.args) == 1 and p.keyword is None):
            break
        if model.qualname(call.func) not in COLLECT and dotted(call.func) not in ("list", "tuple"):
            break
        value = call
    return value


def _scopes_with_sums(model: ModuleModel) -> set[Scope]:
    return {s.scope for s in model.c.calls if _summed_operand(model, s.node) is not None}


def _summed_operand(model: ModuleModel, node: cst.CSTNode) -> cst.BaseExpression | None:
    if not isinstance(node, cst.Call):
        return None
    if model.qualname(node.func) in SUM:
        args = positional_args(node)
        return args[0] if args else None
    if isinstance(node.func, cst.Attribute) and node.func.attr.value == "sum":
        if model.qualname(node.func) is None:
            return node.func.value
    return None


def _axis(call: cst.Call, method: bool) -> cst.BaseExpression | None:
    for name in ("axis", "dim"):
        value = keyword_arg(call, name)
        if value is not None:
            return value
    args = positional_args(call)
    at = 0 if method else 1
    return args[at] if len(args) > at else None


def _plain_sum(call: cst.Call, method: bool) -> bool:
    """A sum whose value a max shift provably keeps: the summed operand, an axis (positional or
    ``axis=``/``dim=``) and a literal ``keepdims``. ``initial=``, ``where=``, ``out=``, ``dtype=``,
    a positional ``keepdims`` or a star-argument may each change the value or the shape."""
    positional = 0
    for a in call.args:
        if a.star:
            return False
        if a.keyword is None:
            positional += 1
        elif a.keyword.value in ("keepdims", "keepdim"):
            if not (isinstance(a.value, cst.Name) and a.value.value in ("True", "False")):
                return False
        elif a.keyword.value not in ("axis", "dim"):
            return False
    return positional <= (1 if method else 2)


class _Group:
    """Collects the uses of one exponential (held in a name, or inline) and of its sums."""

    def __init__(
        self,
        model: ModuleModel,
        index: _Index,
        exp_call: cst.Call,
        site: Site,
        value: cst.Call | None = None,
        scope: Scope | None = None,
    ) -> None:
        self.model = model
        self.index = index
        self.exp = exp_call
        self.x = positional_args(exp_call)[0]
        self.site = site
        # where the exponential's value is normalised: the exp call itself in its own scope,
        # or a call that evaluates a helper returning it (``np.apply_along_axis(f, 1, z)``)
        self.value: cst.Call = exp_call if value is None else value
        self.scope: Scope = site.scope if scope is None else scope
        self.evaluated = value is not None
        self.reciprocal = False  # normalised as ``e * (1 / sum(e))``: no fix is offered
        self.reciprocal_sums: set[cst.Call] = set()
        self.evaluated_sums: set[cst.Call] = set()  # helpers evaluated on the exponential
        self.uses: set[str] = set()
        self.sums: list[cst.Call] = []
        self.exps: list[cst.Call] = [exp_call]
        self.holder: str | None = None  # the name (or dotted attribute) the exp is stored in
        self.single_binding = True
        self.ratio: cst.BinaryOperation | None = None
        self.lse_call: cst.Call | None = None

    # --- structure ------------------------------------------------------------------------------

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.index.parent.get(node)

    def climb(self, node: cst.CSTNode) -> cst.CSTNode:
        """Up through reshapes for broadcasting (``s[:, None]``, ``.reshape(-1, 1)``, ``.T``)."""
        for _ in range(4):
            p = self.parent(node)
            if isinstance(p, cst.Subscript) and p.value is node and _is_broadcast(p):
                node = p
            elif isinstance(p, cst.Attribute) and p.value is node and p.attr.value == "T":
                node = p
            elif (
                isinstance(p, cst.Attribute)
                and p.value is node
                and p.attr.value in ("reshape", "unsqueeze", "view")
                and isinstance(self.parent(p), cst.Call)
            ):
                node = self.parent(p)  # type: ignore[assignment]
            else:
                break
        return node

    def is_holder(self, node: cst.CSTNode) -> bool:
        if self.holder is not None:
            return isinstance(node, cst.Name | cst.Attribute) and dotted(node) == self.holder
        return (
            isinstance(node, cst.Call)
            and self.model.qualname(node.func) in EXP
            and bool(positional_args(node))
            and positional_args(node)[0].deep_equals(self.x)
        )

    def sum_of_holder(self, node: cst.CSTNode) -> bool:
        operand = _summed_operand(self.model, node)
        return operand is not None and self.is_holder(operand)

    def denominator_of_holder(self, node: cst.BaseExpression) -> bool:
        """``node`` (maybe reshaped) is a sum of the exponential, or a name bound once to one."""
        inner = _unwrap(node)
        if self.sum_of_holder(inner):
            return True
        if isinstance(inner, cst.Name):
            values = self._single_assign(inner.value)
            return values is not None and self.sum_of_holder(_unwrap(values))
        return False

    def _single_assign(self, name: str) -> cst.BaseExpression | None:
        bindings = self.scope.bindings.get(name, [])
        if len(bindings) == 1 and bindings[0].kind == "assign":
            return bindings[0].value
        return None

    def _own_values(
        self, name: str, read: cst.Name | None = None
    ) -> list[cst.BaseExpression] | None:
        """The values ``name`` is assigned in the scope (those that reach ``read``), leaving out
        reshapes of itself (``s = s.reshape(-1, 1)``); None when it has another kind of
        binding."""
        out = []
        own = self.scope.bindings.get(name, [])
        if read is not None:
            reaching = self.model.bindings_at(read, self.scope)
            own = [b for b in own if b in reaching]
        for b in own:
            if b.kind != "assign" or b.value is None:
                return None
            inner = _unwrap(b.value)
            if isinstance(inner, cst.Name) and inner.value == name:
                continue
            out.append(b.value)
        return out or None

    def reciprocal_of_holder_sum(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """``1 / sum(e)``, ``sum(e) ** -1``, ``np.reciprocal(sum(e))`` (maybe reshaped), a name
        bound to one, or a helper evaluated on ``e`` that returns the reciprocal of its sum."""
        inner = _unwrap(node)
        denominator = _reciprocal_operand(self.model, inner)
        if denominator is not None:
            return self.denominator_of_holder(denominator)
        if isinstance(inner, cst.Call) and self._evaluates_sum(inner) == "reciprocal":
            return True
        if isinstance(inner, cst.Name) and depth < 3:
            values = self._own_values(inner.value, inner)
            return values is not None and all(
                self.reciprocal_of_holder_sum(v, depth + 1) for v in values
            )
        return False

    def _evaluates_sum(self, call: cst.Call) -> str | None:
        """``call`` evaluates, on the exponential, a helper that returns its sum ("sum") or the
        reciprocal of its sum ("reciprocal"): ``np.apply_along_axis(lambda v: 1 / v.sum(), 1,
        e)``."""
        app = application(self.model, call)
        if app is not None:
            fn, array = applied_function(self.model, app, self.scope), app.array
        else:
            fn = self.model.local_function(call.func, self.scope)
            args = positional_args(call)
            array = args[0] if args else None
        if fn is None or array is None or not self.is_holder(array) or fn.cls is not None:
            return None
        ret = returned(fn)
        params = fn.params
        if ret is None or not params:
            return None
        kind = "sum"
        operand = _reciprocal_operand(self.model, _unwrap(ret))
        if operand is not None:
            ret, kind = _unwrap(operand), "reciprocal"
        summed = _summed_operand(self.model, ret)
        if isinstance(summed, cst.Name) and summed.value == params[0]:
            return kind
        return None

    # --- classification -------------------------------------------------------------------------

    def holder_use(self, occ: cst.CSTNode) -> str:
        p = self.parent(occ)
        if isinstance(p, cst.BinaryOperation) and isinstance(p.operator, cst.Multiply):
            other = p.right if p.left is occ else p.left if p.right is occ else None
            if other is not None and self.reciprocal_of_holder_sum(other):
                self.reciprocal = True
                return RATIO
            return OTHER
        if isinstance(p, cst.BinaryOperation) and isinstance(p.operator, cst.Divide):
            if p.left is occ and self.denominator_of_holder(p.right):
                if self.holder is None and self.ratio is None:
                    self.ratio = p
                return RATIO
            return OTHER
        if isinstance(p, cst.Subscript) and p.value is occ:
            pp = self.parent(p)
            if (
                isinstance(pp, cst.BinaryOperation)
                and isinstance(pp.operator, cst.Divide)
                and pp.left is p
                and self.denominator_of_holder(pp.right)
            ):
                return PART
            return OTHER
        summing = self._summing_call(occ, p)
        if summing is not None:
            if summing not in self.sums:
                self.sums.append(summing)
            return IN_SUM
        if isinstance(p, cst.AugAssign) and p.target is occ:
            if isinstance(p.operator, cst.DivideAssign) and self.denominator_of_holder(p.value):
                return PART
            return OTHER
        if isinstance(p, cst.AssignTarget):
            assign = self.parent(p)
            if isinstance(assign, cst.Assign) and assign.value is self.value:
                return DEFINITION
            self.single_binding = False
            return OTHER
        return OTHER

    def _summing_call(self, occ: cst.CSTNode, p: cst.CSTNode | None) -> cst.Call | None:
        if isinstance(p, cst.Arg) and p.value is occ and p.keyword is None:
            call = self.parent(p)
            if isinstance(call, cst.Call) and self.model.qualname(call.func) in SUM:
                if call.args and call.args[0] is p:
                    return call
        if isinstance(p, cst.Attribute) and p.value is occ and p.attr.value == "sum":
            call = self.parent(p)
            if isinstance(call, cst.Call) and call.func is p:
                return call
        if isinstance(p, cst.Arg) and p.value is occ and p.keyword is None:
            call = self.parent(p)
            if isinstance(call, cst.Call):
                kind = self._evaluates_sum(call)
                if kind == "reciprocal":
                    self.reciprocal_sums.add(call)
                if kind is not None:
                    self.evaluated_sums.add(call)
                    return call
        return None

    def sum_use(
        self, summed: cst.CSTNode, direct: bool = True, recip: bool = False, depth: int = 0
    ) -> str:
        """How a sum (or a read of the name holding it, ``direct=False``; ``recip``: of its
        reciprocal) is used."""
        node = self.climb(summed)
        recip = recip or summed in self.reciprocal_sums
        if not recip:
            around = _reciprocal_around(self.model, node, self.parent)
            if around is not None:
                node, recip = self.climb(around), True
        p = self.parent(node)
        if recip:
            return self._reciprocal_use(node, p, depth)
        if isinstance(p, cst.BinaryOperation) and isinstance(p.operator, cst.Divide):
            if p.right is node:
                if self.is_holder(p.left):
                    return RATIO
                if isinstance(p.left, cst.Subscript) and self.is_holder(p.left.value):
                    return PART
            return OTHER
        if isinstance(p, cst.Arg) and p.keyword is None:
            call = self.parent(p)
            if (
                isinstance(call, cst.Call)
                and self.model.qualname(call.func) in LOG
                and call.args
                and call.args[0] is p
            ):
                if direct and node is summed and self.holder is None and self.lse_call is None:
                    self.lse_call = call
                return LOG_OF_SUM
            return OTHER
        if isinstance(p, cst.AugAssign) and p.value is node:
            return PART if isinstance(p.operator, cst.DivideAssign) else OTHER
        if (
            isinstance(p, cst.Assign)
            and p.value is node
            and len(p.targets) == 1
            and isinstance(p.targets[0].target, cst.Name)
        ):
            name = p.targets[0].target.value
            if self._single_assign(name) is None:
                return OTHER
            kinds = set()
            for occ in self.index.names.get(name, []):
                if not isinstance(occ, cst.Name):
                    continue
                if isinstance(self.parent(occ), cst.AssignTarget):
                    continue  # the binding itself
                kinds.add(self.sum_use(occ, direct=False, depth=depth + 1))
            return _worst(kinds)
        return OTHER

    def _reciprocal_use(self, node: cst.CSTNode, p: cst.CSTNode | None, depth: int) -> str:
        """How the reciprocal of a sum is used: multiplying the exponential is the ratio."""
        if isinstance(p, cst.BinaryOperation) and isinstance(p.operator, cst.Multiply):
            other = p.right if p.left is node else p.left
            if self.is_holder(other):
                return RATIO
            if isinstance(other, cst.Subscript) and self.is_holder(other.value):
                return PART
            return OTHER
        if (
            isinstance(p, cst.Assign)
            and p.value is node
            and len(p.targets) == 1
            and isinstance(p.targets[0].target, cst.Name)
            and depth < 3
        ):
            name = p.targets[0].target.value
            if self._own_values(name) is None:
                return OTHER
            kinds = set()
            for occ in self.index.names.get(name, []):
                if not isinstance(occ, cst.Name) or isinstance(self.parent(occ), cst.AssignTarget):
                    continue
                kinds.add(self.sum_use(occ, direct=False, recip=True, depth=depth + 1))
            return _worst(kinds)
        return OTHER

    def _same_unit(self, occurrences: list[cst.CSTNode]) -> list[cst.CSTNode]:
        """The inline exponentials of ``x`` that make one softmax or log-sum-exp with this one.
        Each inline ``exp(x) / sum(exp(x))`` or ``log(sum(exp(x)))`` is its own defect (and its
        own fix: the shift cancels inside each ratio, the max goes back outside each log), so
        two of them on ``x``, on one line or not, are two groups; exponentials in neither are
        read together, as before."""
        units = {o: self._unit(o) for o in occurrences}  # nodes hash by identity
        if len({u for u in units.values() if u is not None}) < 2:
            return occurrences
        mine = units[self.exp]
        return [o for o in occurrences if units[o] is mine]

    def _unit(self, exp: cst.CSTNode) -> cst.CSTNode | None:
        """The inline ratio ``exp(x) / sum(exp(x))`` or log-sum-exp ``log(sum(exp(x)))`` that
        ``exp`` is part of (numerator, or operand of the sum), if any."""
        p = self.parent(exp)
        if isinstance(p, cst.BinaryOperation) and isinstance(p.operator, cst.Divide):
            if p.left is exp and self.sum_of_holder(_unwrap(p.right)):
                return p
            return None
        summing = None
        if isinstance(p, cst.Arg) and p.value is exp and p.keyword is None:
            call = self.parent(p)
            if isinstance(call, cst.Call) and self.model.qualname(call.func) in SUM:
                summing = call
        elif isinstance(p, cst.Attribute) and p.value is exp and p.attr.value == "sum":
            call = self.parent(p)
            summing = call if isinstance(call, cst.Call) and call.func is p else None
        if summing is None:
            return None
        node = self.climb(summing)
        up = self.parent(node)
        if isinstance(up, cst.BinaryOperation) and isinstance(up.operator, cst.Divide):
            return up if up.right is node and self.is_holder(up.left) else None
        if isinstance(up, cst.Arg) and up.keyword is None:
            call = self.parent(up)
            if isinstance(call, cst.Call) and self.model.qualname(call.func) in LOG:
                return call
        return None

    # --- result ---------------------------------------------------------------------------------

    def result(self) -> ExpSum | None:
        p = self.parent(self.value)
        if (
            isinstance(p, cst.Assign)
            and p.value is self.value
            and len(p.targets) == 1
            and isinstance(p.targets[0].target, cst.Name | cst.Attribute)
        ):
            self.holder = dotted(p.targets[0].target)
        occurrences: list[cst.CSTNode]
        if self.holder is not None:
            occurrences = list(self.index.names.get(self.holder, []))
            if isinstance(p, cst.Assign) and self.holder in self.scope.bindings:
                self.single_binding = len(self.scope.bindings[self.holder]) == 1
        elif self.evaluated:
            return None  # a helper's exponential is followed into a name that holds it
        else:
            occurrences = self._same_unit(
                [
                    s.node
                    for s in self.model.c.calls
                    if s.scope is self.scope and self.is_holder(s.node)
                ]
            )
            self.exps = [o for o in occurrences if isinstance(o, cst.Call)]
        holder_kinds = {self.holder_use(o) for o in occurrences if not _is_attr_part(o, self)}
        sum_kinds = {self.sum_use(s) for s in self.sums}
        uses = holder_kinds | sum_kinds
        if not uses & {RATIO, PART, LOG_OF_SUM}:
            return None
        axes = [
            None if s in self.evaluated_sums else _axis(s, self.model.qualname(s.func) not in SUM)
            for s in self.sums
        ]
        same_axis = all(
            (a is None and axes[0] is None) or (a is not None and axes[0] is not None) for a in axes
        ) and all(a is None or a.deep_equals(axes[0]) for a in axes)  # type: ignore[union-attr]
        plain = all(_plain_sum(s, self.model.qualname(s.func) not in SUM) for s in self.sums)
        shift_safe = (
            bool(self.sums)
            and plain
            and not self.evaluated
            and not self.reciprocal
            and not self.reciprocal_sums
            and same_axis
            and self.single_binding
            and holder_kinds <= {RATIO, IN_SUM, DEFINITION}
            and sum_kinds == {RATIO}
            # a name held at module level outlives the ratio (imports, later notebook cells)
            and (self.holder is None or ("." not in self.holder and not self.scope.is_module))
            and (self.holder is not None or (self.ratio is not None and len(self.exps) == 2))
        )
        lse = None
        if (
            self.lse_call is not None
            and self.holder is None
            and len(self.exps) == 1
            and len(self.sums) == 1
            and plain
            and holder_kinds == {IN_SUM}
            and sum_kinds == {LOG_OF_SUM}
        ):
            lse = self.lse_call
        return ExpSum(
            exp=self.exps[0] if self.holder is None else self.exp,
            x=self.x,
            site=self.site,
            exps=tuple(self.exps),
            sums=tuple(self.sums),
            uses=frozenset(uses),
            axis=axes[0] if axes and same_axis else None,
            shift_safe=shift_safe,
            ratio=self.ratio if shift_safe and self.holder is None else None,
            lse_call=lse,
            lse_alone=lse is not None
            and isinstance(self.parent(lse), cst.Return | cst.Assign | cst.AnnAssign),
            evaluated=self.value if self.evaluated else None,
        )


def _reciprocal_operand(model: ModuleModel, node: cst.BaseExpression) -> cst.BaseExpression | None:
    """``s`` in ``1 / s``, ``1.0 / s``, ``s ** -1``, ``np.reciprocal(s)``."""
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Divide) and number_value(node.left) == 1.0:
            return node.right
        if isinstance(node.operator, cst.Power) and number_value(node.right) == -1.0:
            return node.left
    if isinstance(node, cst.Call) and model.qualname(node.func) in RECIPROCAL:
        args = positional_args(node)
        return args[0] if len(args) == 1 else None
    return None


def _reciprocal_around(
    model: ModuleModel,
    node: cst.CSTNode,
    parent: Callable[[cst.CSTNode], cst.CSTNode | None],
) -> cst.CSTNode | None:
    """The reciprocal taken of ``node`` (``1 / node``, ``node ** -1``, ``np.reciprocal(node)``)."""
    p = parent(node)
    if isinstance(p, cst.BinaryOperation):
        if isinstance(p.operator, cst.Divide) and p.right is node and number_value(p.left) == 1.0:
            return p
        if isinstance(p.operator, cst.Power) and p.left is node and number_value(p.right) == -1.0:
            return p
        return None
    if isinstance(p, cst.Arg) and p.value is node and p.keyword is None:
        call = parent(p)
        if isinstance(call, cst.Call) and model.qualname(call.func) in RECIPROCAL:
            return call
    return None


def _is_attr_part(node: cst.CSTNode, group: _Group) -> bool:
    """``self.e`` is indexed under ``self.e`` and ``self``: skip a Name that is an attribute's
    base or its attr, and an attribute whose own base matched."""
    p = group.parent(node)
    return isinstance(p, cst.Attribute) and p.attr is node


def _worst(kinds: set[str]) -> str:
    for kind in (OTHER, LOG_OF_SUM, PART, RATIO):
        if kind in kinds:
            return kind
    return OTHER


def _is_broadcast(sub: cst.Subscript) -> bool:
    """``[:, None]``, ``[..., np.newaxis]``: indexing that only adds axes."""
    for el in sub.slice:
        idx = el.slice
        if isinstance(idx, cst.Slice):
            if idx.lower is None and idx.upper is None and idx.step is None:
                continue
            return False
        if isinstance(idx, cst.Index):
            v = idx.value
            if isinstance(v, cst.Name) and v.value == "None":
                continue
            if isinstance(v, cst.Ellipsis):
                continue
            if isinstance(v, cst.Attribute) and v.attr.value == "newaxis":
                continue
        return False
    return True


def _unwrap(node: cst.BaseExpression) -> cst.BaseExpression:
    """Down through reshapes for broadcasting to the value itself."""
    for _ in range(4):
        if isinstance(node, cst.Subscript) and _is_broadcast(node):
            node = node.value
        elif isinstance(node, cst.Attribute) and node.attr.value == "T":
            node = node.value
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ("reshape", "unsqueeze", "view")
        ):
            node = node.func.value
        elif isinstance(node, cst.Call) and dotted(node.func) in (
            "np.expand_dims",
            "numpy.expand_dims",
        ):
            node = node.args[0].value
        else:
            break
    return node


# --- values that cannot overflow ``exp`` ----------------------------------------------------------


# exp overflows float32 above 88.7 (float64 above 709.8); below this it is finite in both
_EXP_SAFE = 80.0


def exp_cannot_overflow(model: ModuleModel, x: cst.BaseExpression, scope: Scope) -> bool:
    """``exp(x)`` is finite in float32 too, by construction: ``x <= 0`` structurally, or the
    value range of ``x`` is bounded above by a moderate number (``tanh`` and ``sigmoid``
    outputs, probabilities, a clipped value)."""
    from linter.analysis.ranges import value_range

    if bounded_above_by_zero(model, x, scope):
        return True
    return value_range(model, x, scope).hi <= _EXP_SAFE


def bounded_above_by_zero(
    model: ModuleModel, x: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """``x <= 0`` by construction (a structural check until the analysis carries value ranges):
    ``z - max(z)`` (or a name bound to it, or shifted in place with ``-=``), a log-probability
    ``z - logsumexp(z)``, minus something non-negative (``-d ** 2``, ``-np.square(d) / h``)."""
    from linter.analysis.model import Role

    if depth > 4:
        return False
    if isinstance(x, cst.BinaryOperation) and isinstance(x.operator, cst.Subtract):
        right = _unwrap(x.right)
        if _is_max_or_normaliser(model, right):
            return True
        if isinstance(right, cst.Name):  # m = np.max(x, ...); np.exp(x - m)
            values = [b.value for b in model.bindings_at(right, scope) if b.kind == "assign"]
            if values and all(
                v is not None and _is_max_or_normaliser(model, _unwrap(v)) for v in values
            ):
                return True
        return False
    if isinstance(x, cst.UnaryOperation) and isinstance(x.operator, cst.Minus):
        return _nonnegative(model, x.expression, scope, depth + 1)
    if isinstance(x, cst.BinaryOperation) and isinstance(x.operator, cst.Multiply | cst.Divide):
        # (-a) * b, a * (-b) with the other factor non-negative; -d * d is minus a square
        left, right = x.left, x.right
        for neg, other in ((left, right), (right, left)):
            if not (isinstance(neg, cst.UnaryOperation) and isinstance(neg.operator, cst.Minus)):
                continue
            if isinstance(x.operator, cst.Multiply) and neg.expression.deep_equals(other):
                return True
            if _nonnegative(model, neg.expression, scope, depth + 1) and _nonnegative(
                model, other, scope, depth + 1
            ):
                return True
        return False
    if isinstance(x, cst.Name):
        bindings = model.bindings_at(x, scope)
        for b in bindings:
            if b.kind == "aug" and b.op == "SubtractAssign" and b.value is not None:
                probe = cst.BinaryOperation(x, cst.Subtract(), b.value)
                if bounded_above_by_zero(model, probe, scope, depth + 1):
                    return True
        assigns = [b for b in bindings if b.kind == "assign" and b.value is not None]
        if assigns and all(
            bounded_above_by_zero(model, b.value, scope, depth + 1)  # type: ignore[arg-type]
            for b in assigns
        ):
            return True
        return model.has(x, scope, Role.LOGPROB)
    return model.has(x, scope, Role.LOGPROB)


def _is_max_or_normaliser(model: ModuleModel, node: cst.BaseExpression) -> bool:
    """``max(z)`` in any spelling, or a log-normaliser ``logsumexp(z)`` /
    ``log(sum(exp(z)))`` / ``m + log(sum(exp(z - m)))``."""
    if isinstance(node, cst.Attribute) and node.attr.value == "values":
        node = node.value  # torch: z.max(dim=1).values
    if isinstance(node, cst.Call):
        qn = model.qualname(node.func)
        if qn in MAX or qn in LSE:
            return True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in (
            "max",
            "amax",
            "logsumexp",
        ):
            return qn is None or qn in MAX or qn in LSE
        if qn in LOG:
            args = positional_args(node)
            inner = args[0] if args else None
            operand = _summed_operand(model, inner) if inner is not None else None
            return isinstance(operand, cst.Call) and model.qualname(operand.func) in EXP
        return False
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _is_max_or_normaliser(model, node.left) and _is_max_or_normaliser(model, node.right)
    return False


def _nonnegative(model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int) -> bool:
    if depth > 6:
        return False
    if isinstance(node, cst.Integer | cst.Float):
        return not node.value.startswith("-")
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Power):
            exponent = int_value(node.right)
            return exponent is not None and exponent % 2 == 0
        if isinstance(node.operator, cst.Multiply | cst.Divide | cst.Add):
            return _nonnegative(model, node.left, scope, depth + 1) and _nonnegative(
                model, node.right, scope, depth + 1
            )
        return False
    if isinstance(node, cst.Call):
        qn = model.qualname(node.func) or dotted(node.func)
        if qn in NONNEG_CALLS:
            return True
        if qn in SUM or qn in ("numpy.mean", "torch.mean"):
            args = positional_args(node)
            return bool(args) and _nonnegative(model, args[0], scope, depth + 1)
        return False
    if isinstance(node, cst.Name):
        values = [b.value for b in model.bindings_at(node, scope) if b.kind == "assign"]
        return bool(values) and all(
            v is not None and _nonnegative(model, v, scope, depth + 1) for v in values
        )
    return False
