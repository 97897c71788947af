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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis.exprs import dotted, int_value, keyword_arg, positional_args
from linter.analysis.treewalk import walk

if TYPE_CHECKING:
    from linter.analysis.collect import Scope, Site
    from linter.analysis.model import ModuleModel

EXP = frozenset({"numpy.exp", "torch.exp", "math.exp"})
MAX = frozenset({"numpy.max", "numpy.amax", "torch.max", "numpy.nanmax", "torch.amax"})
SUM = frozenset({"numpy.sum", "torch.sum", "numpy.nansum"})
LOG = frozenset({"numpy.log", "torch.log", "math.log"})
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
        if site.scope not in summing:  # cheap, before any index is built
            continue
        index = indexes.get(site.scope)
        if index is None:
            index = indexes[site.scope] = _Index()
            walk(site.scope.node, index)
        found = _Group(model, index, call, site).result()
        if found is not None:
            claimed.update(found.exps)
            yield found


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

    def __init__(self, model: ModuleModel, index: _Index, exp_call: cst.Call, site: Site) -> None:
        self.model = model
        self.index = index
        self.exp = exp_call
        self.x = positional_args(exp_call)[0]
        self.site = site
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
        bindings = self.site.scope.bindings.get(name, [])
        if len(bindings) == 1 and bindings[0].kind == "assign":
            return bindings[0].value
        return None

    # --- classification -------------------------------------------------------------------------

    def holder_use(self, occ: cst.CSTNode) -> str:
        p = self.parent(occ)
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
            if isinstance(assign, cst.Assign) and assign.value is self.exp:
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
        return None

    def sum_use(self, summed: cst.CSTNode, direct: bool = True) -> str:
        """How a sum (or a read of the name holding it, ``direct=False``) is used."""
        node = self.climb(summed)
        p = self.parent(node)
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
                kinds.add(self.sum_use(occ, direct=False))
            return _worst(kinds)
        return OTHER

    # --- result ---------------------------------------------------------------------------------

    def result(self) -> ExpSum | None:
        p = self.parent(self.exp)
        if (
            isinstance(p, cst.Assign)
            and p.value is self.exp
            and len(p.targets) == 1
            and isinstance(p.targets[0].target, cst.Name | cst.Attribute)
        ):
            self.holder = dotted(p.targets[0].target)
        occurrences: list[cst.CSTNode]
        if self.holder is not None:
            occurrences = list(self.index.names.get(self.holder, []))
            if isinstance(p, cst.Assign) and self.holder in self.site.scope.bindings:
                self.single_binding = len(self.site.scope.bindings[self.holder]) == 1
        else:
            occurrences = [
                s.node
                for s in self.model.c.calls
                if s.scope is self.site.scope and self.is_holder(s.node)
            ]
            self.exps = [o for o in occurrences if isinstance(o, cst.Call)]
        holder_kinds = {self.holder_use(o) for o in occurrences if not _is_attr_part(o, self)}
        sum_kinds = {self.sum_use(s) for s in self.sums}
        uses = holder_kinds | sum_kinds
        if not uses & {RATIO, PART, LOG_OF_SUM}:
            return None
        axes = [_axis(s, self.model.qualname(s.func) not in SUM) for s in self.sums]
        same_axis = all(
            (a is None and axes[0] is None) or (a is not None and axes[0] is not None) for a in axes
        ) and all(a is None or a.deep_equals(axes[0]) for a in axes)  # type: ignore[union-attr]
        plain = all(_plain_sum(s, self.model.qualname(s.func) not in SUM) for s in self.sums)
        shift_safe = (
            bool(self.sums)
            and plain
            and same_axis
            and self.single_binding
            and holder_kinds <= {RATIO, IN_SUM, DEFINITION}
            and sum_kinds == {RATIO}
            # a name held at module level outlives the ratio (imports, later notebook cells)
            and (self.holder is None or ("." not in self.holder and not self.site.scope.is_module))
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
        )


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
        # (-a) * b, a * (-b) with the other factor non-negative
        left, right = x.left, x.right
        for neg, other in ((left, right), (right, left)):
            if (
                isinstance(neg, cst.UnaryOperation)
                and isinstance(neg.operator, cst.Minus)
                and _nonnegative(model, neg.expression, scope, depth + 1)
                and _nonnegative(model, other, scope, depth + 1)
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
