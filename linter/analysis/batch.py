"""How a layer's backward reduces over the batch: the weight gradient X.T @ g sums the examples;
the bias gradient reduces the same g over the same axis, with sum or mean.

Within one backward both gradients come from one upstream gradient g, and both must carry the
same batch scaling: ``dW = X.T @ g`` (a sum over the batch) beside ``db = g.mean(axis=0)`` (a
mean) puts the two parameters of one layer on scales N apart, so one of them is wrong whatever
the loss did. The batch axis is read from the product itself: ``X.T @ g`` contracts axis 0 of g
(rows are examples), ``g @ X.T`` contracts axis 1 (columns are examples).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import int_value, keyword_arg, positional_args
from linter.analysis.model import ModuleModel, Role


@dataclass(frozen=True)
class MixedReduction:
    weight_grad: cst.BaseExpression  # X.T @ g, a sum over the batch
    bias_grad: cst.CSTNode  # mean(g, axis) over the same axis
    gradient: str  # g
    scope: Scope


def _reduction(model: ModuleModel, node: cst.BaseExpression) -> tuple[str, str, int] | None:
    """``np.mean(g, axis=k)`` / ``g.mean(axis=k)`` / sum likewise -> (kind, g, k)."""
    if not isinstance(node, cst.Call):
        return None
    qn = model.qualname(node.func)
    args = positional_args(node)
    target: cst.BaseExpression | None = None
    kind = None
    axis_pos = 1
    if qn in ("numpy.mean", "numpy.sum") and args:
        target, kind = args[0], qn.rsplit(".", 1)[1]
    elif (
        qn is None
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in ("mean", "sum")
    ):
        target, kind, axis_pos = node.func.value, node.func.attr.value, 0
    if not isinstance(target, cst.Name) or kind is None:
        return None
    axis = keyword_arg(node, "axis")
    if axis is None and len(args) > axis_pos:
        axis = args[axis_pos]
    k = int_value(axis)
    return (kind, target.value, k) if k in (0, 1) else None


def _batch_axis(
    model: ModuleModel, node: cst.BaseExpression, grad: str, scope: Scope
) -> int | None:
    """``X.T @ g`` -> 0, ``g @ X.T`` -> 1, where X is not a weight (the layer's input)."""
    mm = model.matmul(node)
    if mm is None:
        return None
    for g_side, x_side, axis in ((mm.right, mm.left, 0), (mm.left, mm.right, 1)):
        if not (isinstance(g_side, cst.Name) and g_side.value == grad):
            continue
        x, transposed = model.strip_transpose(x_side)
        if transposed and not model.is_weight(x, scope):
            return axis
    return None


def mixed_reductions(model: ModuleModel) -> Iterator[MixedReduction]:
    """A backward whose weight gradient sums the batch (``X.T @ g``, not divided) while its bias
    gradient averages the same g over the same axis (or the reverse: the weight gradient divided,
    the bias gradient summed)."""
    for scope in model.c.scopes:
        upstream = model.upstream_gradient_param(scope)
        if upstream is None:
            continue
        weight: dict[int, tuple[cst.BaseExpression, bool]] = {}
        bias: list[tuple[cst.BaseExpression, str, int]] = []
        for bindings in scope.bindings.values():
            for b in bindings:
                if b.kind != "assign" or b.value is None or b.loops:
                    continue
                value = b.value
                divided = False
                if isinstance(value, cst.BinaryOperation) and isinstance(
                    value.operator, cst.Divide
                ):
                    value, divided = value.left, True
                axis = _batch_axis(model, value, upstream, scope)
                if axis is not None:
                    weight[axis] = (b.value, divided)
                    continue
                red = _reduction(model, b.value)
                if red is not None and red[1] == upstream:
                    bias.append((b.value, red[0], red[2]))
        for node, kind, axis in bias:
            if axis not in weight:
                continue
            w_node, divided = weight[axis]
            if (kind == "mean" and not divided) or (kind == "sum" and divided):
                yield MixedReduction(w_node, node, upstream, scope)


def batch_axis(model: ModuleModel, scope: Scope) -> int | None:
    """The axis the examples of a batch run along in this code: 0 when rows are examples
    (samples x features), 1 when columns are (features x samples); None when the code does not
    say or says both.

    Read from the weight gradients of ``scope`` (``X.T @ g`` contracts axis 0 of the gradient,
    ``g @ X.T`` axis 1: a weight gradient sums the examples), then from the module's forward
    products (``W @ x``: examples are columns; ``x @ W`` or ``x @ W.T``: rows), then from the
    axis its other bias gradients are reduced over."""
    axes: set[int] = set()
    for b, sc in model.gradient_stores("weight"):
        if sc is scope and b.value is not None:
            axis = _contracted_axis(model, model.core_value(b.value), scope)
            if axis is not None:
                axes.add(axis)
    if len(axes) == 1:
        return axes.pop()
    axes = set()
    for use, site in model.weight_uses():
        if not model.has(use.other, site.scope, Role.GRAD):
            axes.add(1 if use.weight is use.matmul.left else 0)
    if len(axes) == 1:
        return axes.pop()
    axes = set()
    for b, _ in model.gradient_stores("bias"):
        red = _reduction(model, b.value) if b.value is not None else None
        if red is not None:
            axes.add(red[2])
    return axes.pop() if len(axes) == 1 else None


def _contracted_axis(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> int | None:
    """The axis of the gradient operand a matrix product sums over: ``X.T @ g`` -> 0,
    ``g @ X.T`` -> 1 (``g.T @ X`` -> 1, ``X @ g.T`` -> 0 ... as written)."""
    mm = model.matmul(node)
    if mm is None:
        return None
    found = None
    for side, on_left in ((mm.left, True), (mm.right, False)):
        base, transposed = model.strip_transpose(side)
        if not model.has(base, scope, Role.GRAD) or model.is_weight(base, scope):
            continue
        if found is not None:
            return None  # two gradients: not a weight gradient's product
        found = (1 if on_left else 0) if not transposed else (0 if on_left else 1)
    return found
