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
            for s in model.c.scopes
            if s.cls == scope.cls
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
