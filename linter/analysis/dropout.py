"""Dropout masks and the scale their kept units are divided by.

A mask drawn as ``U < q`` from a uniform draw ``U`` on [0, 1) keeps a unit with probability
``q`` (``np.random.binomial(1, q, ...)`` too); ``U > q`` keeps it with probability ``1 - q``.
Inverted dropout divides the kept units by that keep probability, so the expected output equals
the input. Whether ``q`` means keep or drop is a matter of names; whether the divisor is the
mask's own keep probability or its complement is not: ``(U < q) / (1 - q)`` and ``(U > q) / q``
are wrong whatever ``q`` means.

Decided from structure: the mask (written in place or bound to a name or a ``self.`` attribute
from one such expression) is a factor of a product whose divisor is, as written, the threshold
``q`` or ``1 - q`` (up to spacing and parentheses). A mask used through ``1 - mask`` or ``~mask``
(a drop mask) is not a factor, so it is never compared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import number_value, positional_args
from linter.analysis.model import ModuleModel
from linter.analysis.treewalk import walk

_UNIFORM = frozenset(
    {
        "numpy.random.rand",
        "numpy.random.random",
        "numpy.random.random_sample",
        "numpy.random.ranf",
        "numpy.random.sample",
        "torch.rand",
        "torch.rand_like",
    }
)
_UNIFORM_RANGE = frozenset({"numpy.random.uniform", "torch.Tensor.uniform_"})
_RNG_UNIFORM = frozenset({"random", "random_sample"})
_BINOMIAL = frozenset({"numpy.random.binomial"})


@dataclass(frozen=True)
class Mask:
    """A Bernoulli mask: ``node`` keeps a unit with probability ``threshold`` (or one minus it,
    when ``complement``)."""

    node: cst.BaseExpression
    threshold: cst.BaseExpression
    complement: bool


@dataclass(frozen=True)
class ScaleMismatch:
    """``mask`` is a factor of ``product``, which divides by ``divisor``: the complement of the
    mask's keep probability."""

    product: cst.CSTNode
    mask: Mask
    divisor: cst.BaseExpression
    via: cst.BaseExpression | None  # the name or attribute the mask is read through


def _norm(model: ModuleModel, node: cst.CSTNode) -> str:
    return re.sub(r"[\s()]", "", model.src(node))


def _one_minus(node: cst.BaseExpression) -> cst.BaseExpression | None:
    if (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, cst.Subtract)
        and number_value(node.left) == 1.0
    ):
        return node.right
    return None


def _latest(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, index: int
) -> tuple[cst.BaseExpression, int] | None:
    """The value a local name or a ``self.`` attribute holds at statement ``index``: the latest
    plain assignment before it (for an attribute, its only assignment in the class), with the
    index of that assignment."""
    if isinstance(node, cst.Name):
        before = [
            b
            for b in scope.bindings.get(node.value, [])
            if b.index < index and b.kind in ("assign", "aug", "for", "unpack")
        ]
        if not before or before[-1].kind != "assign" or before[-1].value is None:
            return None
        return before[-1].value, before[-1].index
    if (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == "self"
        and scope.cls
    ):
        key = f"self.{node.attr.value}"
        values = [
            (b, s)
            for s in model.c.class_scopes(scope.cls)
            for b in s.bindings.get(key, [])
            if b.kind in ("assign", "aug", "unpack")
        ]
        if len(values) != 1 or values[0][0].kind != "assign" or values[0][0].value is None:
            return None
        b = values[0][0]
        assert b.value is not None
        return b.value, b.index
    return None


def _uniform_draw(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, index: int, depth: int = 0
) -> bool:
    """A draw from the uniform distribution on [0, 1), or a name bound to one."""
    if not isinstance(node, cst.Call):
        held = _latest(model, node, scope, index) if depth == 0 else None
        return held is not None and _uniform_draw(model, held[0], scope, held[1], depth + 1)
    qn = model.qualname(node.func)
    if qn in _UNIFORM:
        return True
    args = positional_args(node)
    if qn in _UNIFORM_RANGE:
        # uniform(size=...) or uniform(0, 1, ...): the unit interval
        if any(a.keyword and a.keyword.value in ("low", "high") for a in node.args):
            return False
        if not args:
            return True
        return len(args) >= 2 and number_value(args[0]) == 0.0 and number_value(args[1]) == 1.0
    func = node.func
    return (
        qn is None
        and isinstance(func, cst.Attribute)
        and func.attr.value in _RNG_UNIFORM
        and model.is_rng(func.value)
    )


def mask_of(model: ModuleModel, node: cst.BaseExpression, scope: Scope, index: int) -> Mask | None:
    """``node`` (at statement ``index`` of ``scope``) as a Bernoulli mask: ``U < q``,
    ``(U > q).astype(float)``, ``binomial(1, q, ...)``, with ``U`` a uniform draw or a name
    bound to one."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "astype"
    ):
        node = node.func.value
    if isinstance(node, cst.Comparison) and len(node.comparisons) == 1:
        op = node.comparisons[0].operator
        right = node.comparisons[0].comparator
        below = isinstance(op, cst.LessThan | cst.LessThanEqual)
        above = isinstance(op, cst.GreaterThan | cst.GreaterThanEqual)
        if not (below or above):
            return None
        if _uniform_draw(model, node.left, scope, index):
            return Mask(node, right, complement=above)
        if _uniform_draw(model, right, scope, index):
            return Mask(node, node.left, complement=below)
        return None
    if isinstance(node, cst.Call) and model.qualname(node.func) in _BINOMIAL:
        args = positional_args(node)
        if len(args) >= 2 and number_value(args[0]) == 1.0:
            return Mask(node, args[1], complement=False)
    return None


def _chain(node: cst.BaseExpression) -> tuple[list[cst.BaseExpression], list[cst.BaseExpression]]:
    """Factors and divisors of a product chain ``a * b / c`` (parentheses unwrapped)."""
    factors: list[cst.BaseExpression] = []
    divisors: list[cst.BaseExpression] = []
    stack: list[tuple[cst.BaseExpression, bool]] = [(node, False)]
    while stack:
        n, inverted = stack.pop()
        if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Multiply):
            stack += [(n.left, inverted), (n.right, inverted)]
        elif isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Divide):
            stack += [(n.left, inverted), (n.right, not inverted)]
        elif inverted:
            divisors.append(n)
        else:
            factors.append(n)
    return factors, divisors


def _masks_in(
    model: ModuleModel, factor: cst.BaseExpression, scope: Scope, index: int, depth: int = 0
) -> Iterator[tuple[Mask, cst.BaseExpression | None]]:
    """The masks a factor is, holds, or (one assignment back) is a product with:
    ``A = A * D`` then ``A / keep``."""
    mask = mask_of(model, factor, scope, index)
    if mask is not None:
        yield mask, None
        return
    held = _latest(model, factor, scope, index)
    if held is None:
        return
    mask = mask_of(model, held[0], scope, held[1])
    if mask is not None:
        yield mask, factor
        return
    if depth == 0:
        factors, divisors = _chain(held[0])
        if len(factors) > 1 and not divisors:
            for f in factors:
                for m, _ in _masks_in(model, f, scope, held[1], depth + 1):
                    yield m, factor


def _is_complement(model: ModuleModel, mask: Mask, divisor: cst.BaseExpression) -> bool | None:
    """Whether ``divisor`` is the complement of the mask's keep probability (True), the keep
    probability itself (False), or neither as written (None)."""
    q = _norm(model, mask.threshold)
    inner = _one_minus(divisor)
    q_inner = _one_minus(mask.threshold)
    if _norm(model, divisor) == q:
        is_threshold = True
    elif (inner is not None and _norm(model, inner) == q) or (
        q_inner is not None and _norm(model, q_inner) == _norm(model, divisor)
    ):
        is_threshold = False
    else:
        return None
    return is_threshold == mask.complement


def _scaled(model: ModuleModel) -> Iterator[tuple[cst.CSTNode, list, list, Scope, int]]:
    """Every product chain with a divisor, and every ``x /= d``: (node, factors, divisors,
    scope, statement index)."""
    for site in model.c.binops:
        node = site.node
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
            factors, divisors = _chain(node)
            yield node, factors, divisors, site.scope, site.index
    for site in model.c.assigns:
        node = site.node
        if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.DivideAssign):
            yield node, [node.target], [node.value], site.scope, site.index


def scale_mismatches(model: ModuleModel) -> Iterator[ScaleMismatch]:
    """Products that divide a dropout mask by the complement of its keep probability."""
    seen: set[cst.CSTNode] = set()  # one finding per mask (its backward repeats the scale)
    for node, factors, divisors, scope, index in _scaled(model):
        for f in factors:
            for mask, via in _masks_in(model, f, scope, index):
                for d in divisors:
                    if mask.node in seen or not _is_complement(model, mask, d):
                        continue
                    seen.add(mask.node)
                    yield ScaleMismatch(node, mask, d, via)


# --- the mask reused in backward ------------------------------------------------------------------
#
# A dropout layer's forward multiplies its input by a mask it draws; its backward must multiply
# the upstream gradient by that same mask (saved by the forward, in ``self`` or in the cache it
# returns). Two ways to get it wrong, both decided from structure: the backward draws a mask of
# its own (a fresh draw, unrelated to the units the forward dropped), or it passes the upstream
# gradient on through nothing but constants, reading nothing the forward saved.

_SHAPE_ATTRS = frozenset({"shape", "ndim", "dtype", "size"})


@dataclass(frozen=True)
class MaskNotReused:
    """``node`` (a fresh draw, or a returned value) in ``backward`` does not use the mask
    ``forward_mask`` the forward applied."""

    node: cst.BaseExpression
    backward: Scope
    forward_mask: cst.BaseExpression
    fresh: bool


class _ValueReads(cst.CSTVisitor):
    """Names and ``a.b`` attributes an expression reads for their values (not for a shape)."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if node.attr.value in _SHAPE_ATTRS:
            return False
        text = _dotted_text(node)
        if text is not None:
            self.found.add(text)
        walk(node.value, self)
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else _dotted_text(func)
        if name is not None and (name.endswith("_like") or name == "len"):
            walk(func, self)
            return False
        return True

    def visit_Name(self, node: cst.Name) -> None:
        self.found.add(node.value)


def _dotted_text(node: cst.BaseExpression) -> str | None:
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _value_reads(node: cst.CSTNode) -> set[str]:
    v = _ValueReads()
    walk(node, v)
    return v.found


def _deps(fn: Scope, node: cst.CSTNode) -> set[str]:
    """What ``node`` reads, through every assignment of ``fn`` to the names it reads."""
    found = _value_reads(node)
    todo = list(found)
    while todo:
        key = todo.pop()
        for b in fn.bindings.get(key, []):
            if b.value is None or b.kind == "param":
                continue
            for k in _value_reads(b.value) - found:
                found.add(k)
                todo.append(k)
    return found


def _mask_factor(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, index: int, holders: set[str]
) -> cst.BaseExpression | None:
    """The mask ``node`` is, or that is a factor of it (as drawn, or held by a name in
    ``holders``)."""
    factors, _ = _chain(node)
    for f in factors:
        mask = mask_of(model, f, scope, index)
        if mask is not None:
            return mask.node
        held = f
        if (
            isinstance(held, cst.Call)
            and isinstance(held.func, cst.Attribute)
            and held.func.attr.value == "astype"
        ):
            held = held.func.value  # flg.astype(np.float32)
        key = _dotted_text(held)
        if key is not None and key in holders:
            return held
    return None


def _holders(
    model: ModuleModel, fn: Scope
) -> tuple[dict[str, cst.BaseExpression], list[tuple[cst.BaseExpression, cst.BaseExpression]]]:
    """The names and attributes of ``fn`` that hold a mask drawn in ``fn`` (with the draw), and
    the draws written inline in its returned values (value, draw)."""
    holders: dict[str, cst.BaseExpression] = {}
    changed = True
    while changed:
        changed = False
        for key, bindings in fn.bindings.items():
            if key in holders:
                continue
            for b in bindings:
                if b.value is None or b.kind not in ("assign", "aug"):
                    continue
                found = _mask_factor(model, b.value, fn, b.index, set(holders))
                if found is not None:
                    holders[key] = holders.get(_dotted_text(found) or "", found)
                    changed = True
                    break
    inline = []
    for r in fn.returns:
        for el in r.elements if isinstance(r, cst.Tuple) else [r]:
            value = el.value if isinstance(el, cst.Element) else el
            found = _mask_factor(model, value, fn, 10**9, set())
            if found is not None:
                inline.append((value, found))
    return holders, inline


def _applied(
    model: ModuleModel, fn: Scope, holders: dict[str, cst.BaseExpression], inline: list
) -> cst.BaseExpression | None:
    """The mask the forward multiplies its input by, where that product reaches a return."""
    params = [p for p in fn.params if p not in ("self", "cls")]
    if not params:
        return None
    x = params[0]
    if inline:
        for value, draw in inline:
            if x in _deps(fn, value):
                return draw
    returned: set[str] = set()
    for r in fn.returns:
        returned |= _deps(fn, r)
    for key, bindings in fn.bindings.items():
        for b in bindings:
            if b.value is None or b.kind not in ("assign", "aug"):
                continue
            if key not in returned and not key.startswith("self."):
                continue
            found = _mask_factor(model, b.value, fn, b.index, set(holders))
            if found is None:
                continue
            reads = _deps(fn, b.value) | ({key} if b.kind == "aug" else set())
            if x in reads or (b.kind == "aug" and key in _deps(fn, cst.Name(x)) | {x}):
                return holders.get(_dotted_text(found) or "", found)
    for r in fn.returns:
        for el in r.elements if isinstance(r, cst.Tuple) else [r]:
            value = el.value if isinstance(el, cst.Element) else el
            found = _mask_factor(model, value, fn, 10**9, set(holders))
            if found is not None and x in _deps(fn, value):
                return holders.get(_dotted_text(found) or "", found)
    return None


def _class_attrs_outside_init(model: ModuleModel, cls: str) -> tuple[set[str], set[str]]:
    """Attributes of the class chain assigned outside ``__init__`` (state), and in it."""
    chain = {cls, *(c.rsplit(".", 1)[-1] for c in model.class_chain(cls))}
    state: set[str] = set()
    init: set[str] = set()
    for s in model.c.scopes:
        if s.cls not in chain:
            continue
        for key in s.bindings:
            if key.startswith("self."):
                (init if s.name == "__init__" else state).add(key)
    return state, init


def _trivial(model: ModuleModel, ret: cst.BaseExpression) -> bool:
    if isinstance(ret, cst.Name) and ret.value == "None":
        return True
    return isinstance(ret, cst.Call) and model.qualname(ret.func) in (
        "numpy.zeros",
        "numpy.zeros_like",
    )


def _pairs(model: ModuleModel) -> Iterator[tuple[Scope, Scope, str]]:
    """(forward, backward, upstream parameter) of numpy layer classes and function pairs."""
    for fn in model.c.scopes:
        if fn.nested or not fn.returns:
            continue
        param = model.upstream_gradient_param(fn)
        if param is None:
            continue
        partners = model.forward_partners(fn)
        if partners:  # ``X_forward``/``X_backward`` functions, or methods of one class
            forward = partners[0] if len(partners) == 1 else None
        elif fn.cls is not None:
            bases = model.class_chain(fn.cls)
            if any(b.rsplit(".", 1)[-1] in ("Function", "Module") for b in bases):
                continue
            forward = model.method_in_chain(fn.cls, ("forward", "__call__"))
        else:
            forward = None
        if forward is not None and forward is not fn:
            yield forward, fn, param


def masks_not_reused(model: ModuleModel) -> Iterator[MaskNotReused]:
    """Dropout backwards that draw a new mask, or pass the gradient on without the mask."""
    for forward, backward, param in _pairs(model):
        holders, inline = _holders(model, forward)
        if not holders and not inline:
            continue
        applied = _applied(model, forward, holders, inline)
        if applied is None:
            continue
        returns = [r for r in backward.returns if not _trivial(model, r)]
        if not returns:
            continue
        fresh_holders, fresh_inline = _holders(model, backward)
        cached = {p for p in backward.params if p not in ("self", "cls", param)}
        state = set(cached)
        if backward.cls is not None:
            state |= _class_attrs_outside_init(model, backward.cls)[0]
        deps = [_deps(backward, r) for r in returns]
        fresh: list[cst.BaseExpression | None] = []
        for r, d in zip(returns, deps, strict=True):
            drawn = [fresh_holders[k] for k in sorted(d) if k in fresh_holders]
            drawn += [draw for value, draw in fresh_inline if value is r or _within(value, r)]
            fresh.append(drawn[0] if drawn else None)
        saved = {k for k in holders if k.startswith("self.")}
        reported = False
        for d, f in zip(deps, fresh, strict=True):
            if f is not None and not (d & saved):
                yield MaskNotReused(f, backward, applied, fresh=True)
                reported = True
                break
        if reported or any(f is not None for f in fresh):
            continue
        reads_state = [bool(d & state) or _unknown_attr(d, backward, model) for d in deps]
        if all(param in d for d in deps) and not any(reads_state):
            yield MaskNotReused(returns[0], backward, applied, fresh=False)


def _within(part: cst.CSTNode, whole: cst.CSTNode) -> bool:
    """``part`` is one of the elements of a returned tuple ``whole``."""
    return isinstance(whole, cst.Tuple) and any(el.value is part for el in whole.elements)


def _unknown_attr(deps: set[str], fn: Scope, model: ModuleModel) -> bool:
    """A ``self.`` attribute the class never assigns, or a method call: it may hold the mask."""
    if fn.cls is None:
        return False
    assigned, init = _class_attrs_outside_init(model, fn.cls)
    known = assigned | init
    return any(d.startswith("self.") and d not in known for d in deps)
