"""Facts about gradients as values: the products that form them, the inverses and transposes
applied to weights, whether a stored gradient was reduced over the batch, and whether it is
accumulated or overwritten. Rules in ``linter/rules/bp0_linalg`` query these."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis import names as N
from linter.analysis.collect import Binding, Scope, single_value
from linter.analysis.exprs import (
    calls_in,
    dotted,
    int_value,
    names_in,
    number_value,
    positional_args,
    target_names,
)
from linter.analysis.model import is_scalar
from linter.analysis.treewalk import walk


def product_operands(
    model: ModuleModel, node: cst.BaseExpression
) -> tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression] | None:
    """(node, left, right) for a matrix product or an outer product."""
    mm = model.matmul(node)
    if mm is not None:
        return mm.node, mm.left, mm.right
    if isinstance(node, cst.Call) and model.qualname(node.func) in ("numpy.outer", "torch.outer"):
        args = positional_args(node)
        if len(args) == 2:
            return node, args[0], args[1]
    return None


def inverted_weights(
    model: ModuleModel,
) -> Iterator[tuple[cst.Call, cst.BaseExpression, cst.BaseExpression, Scope]]:
    """(inverse call, weight, gradient, scope): a matrix product of an inverse (or
    pseudo-inverse) of a weight with a gradient, once per inverse call."""
    seen: set[cst.CSTNode] = set()
    for mm, site in model.matmuls():
        for side, other in ((mm.left, mm.right), (mm.right, mm.left)):
            inv = inverse_of_weight(model, side, site.scope)
            if inv is None or inv[0] in seen:
                continue
            if not model.has(other, site.scope, Role.GRAD):
                continue
            seen.add(inv[0])
            yield inv[0], inv[1], other, site.scope


def weight_solves(
    model: ModuleModel,
) -> Iterator[tuple[cst.Call, cst.BaseExpression, cst.BaseExpression, Scope]]:
    """(call, weight, gradient, scope): ``solve(W, g)`` (``np.linalg.solve``, ``lstsq`` ...) of
    a weight and a gradient."""
    for site in model.c.calls:
        call = site.node
        assert isinstance(call, cst.Call)
        if model.qualname(call.func) not in N.SOLVE:
            continue
        args = positional_args(call)
        if len(args) == 2 and model.is_weight(args[0], site.scope):
            if model.has(args[1], site.scope, Role.GRAD):
                yield call, args[0], args[1], site.scope


def inverse_of_weight(
    model: ModuleModel, operand: cst.BaseExpression, scope: Scope
) -> tuple[cst.Call, cst.BaseExpression] | None:
    """(the call, the weight) when ``operand`` is an inverse, pseudo-inverse or ``.I`` of a
    weight (through transposes and a local name bound to it); None otherwise."""
    node, _ = model.strip_transpose(operand)
    node = single_value(node, scope)
    node, _ = model.strip_transpose(node)
    if not isinstance(node, cst.Call):
        return None
    args = positional_args(node)
    if model.qualname(node.func) in N.INVERSE and len(args) >= 1:
        arg = args[0]
    elif (
        isinstance(node.func, cst.Attribute)
        and node.func.attr.value in N.INVERSE_METHODS
        and not args
        and model.qualname(node.func) is None
    ):
        arg = node.func.value
    else:
        return None
    return (node, arg) if model.is_weight(arg, scope) else None


def transposed_in_updates(model: ModuleModel) -> set[str]:
    """Gradient names an update applies transposed (``self.W - lr * dw.T``)."""
    found: set[str] = set()

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            if node.attr.value == "T":
                label = N.target_label(node.value)
                if label:
                    found.add(label)

    for u in model.updates():
        walk(u.step, _V())
    return found


def unreduced(
    model: ModuleModel,
    value: cst.BaseExpression,
    scope: Scope,
    depth: int = 0,
    seen: set[str] | None = None,
) -> bool:
    """The value is an upstream gradient that provably never went through a reduction: names
    are followed to their assignments; a value returned by a call or unpacked from one is
    unknown, and unknown is not a finding."""
    seen = set() if seen is None else seen
    if depth > 4:
        return True  # no reduction found along the way
    # on the stored value itself any reduction counts (``np.ones(m) @ dZ`` sums); upstream,
    # only explicit sums do: a matrix product there is the backward pass, not a batch sum
    if reduces(model, value) if depth == 0 else sums(value):
        return False
    for name in names_in(value):
        bindings = scope.bindings.get(name, [])
        if not bindings or name in seen:
            continue
        seen.add(name)
        if any(b.kind in ("unpack", "param", "for", "append") for b in bindings):
            if not model.has(cst.Name(name), scope, Role.GRAD):
                continue
            if any(b.kind == "unpack" for b in bindings):
                return False
        for b in bindings:
            if b.kind == "assign" and b.value is not None and model.has(b.value, scope, Role.GRAD):
                if isinstance(b.value, cst.Subscript | cst.Attribute):
                    return False  # ``dbat = gradients["dba"]``: formed elsewhere, unknown
                if not unreduced(model, b.value, scope, depth + 1, seen):
                    return False
    return True


# method or function names that sum or average over an axis
REDUCERS = frozenset({"sum", "mean", "einsum", "tensordot", "average", "nansum"})


def sums(value: cst.BaseExpression) -> bool:
    """Whether ``value`` calls a reducer (``sum``, ``mean``, ``einsum`` ...) anywhere."""
    for call in calls_in(value):
        func = call.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if name in REDUCERS:
            return True
    return False


def reduces(model: ModuleModel, value: cst.BaseExpression) -> bool:
    """Whether the value sums or averages somewhere (a reducing call or a matrix product)."""
    if model.matmul(model.core_value(value)) is not None or sums(value):
        return True
    return any(model.matmul(call) is not None for call in calls_in(value))


def batched(model: ModuleModel, scope: Scope, value: cst.BaseExpression) -> bool:
    """Evidence that the gradients in ``scope`` carry a batch axis."""
    # divided (or scaled) by a batch size, here or in a sibling weight gradient of the scope
    for b, sc in model.gradient_stores("weight"):
        if sc is scope and b.value is not None and scaled_by_batch(b.value, model.scale_names()):
            return True
    if scaled_by_batch(value, model.scale_names()):
        return True
    # flattening a batch: x.reshape(x.shape[0], -1)
    for site in model.c.calls:
        if site.scope is not scope:
            continue
        call = site.node
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "reshape":
            args = positional_args(call)
            if args and "shape" in model.module.code_for_node(args[0]):
                return True
    # another bias gradient of the module reduced over an axis
    for b, _ in model.gradient_stores("bias"):
        if b.value is not None and b.value is not value and reduces(model, b.value):
            return True
    return False


def scaled_by_batch(value: cst.BaseExpression, sizes: frozenset[str] = frozenset()) -> bool:
    """``g / m`` or ``g * (1 / m)``: multiplied or divided by a scalar that is not a constant
    (a batch size)."""
    node = value
    while isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, cst.Multiply | cst.Divide
    ):
        for side in (node.left, node.right):
            if is_scalar(side, sizes) and _not_constant(side):
                return True
        node = node.left
    return False


def _not_constant(node: cst.BaseExpression) -> bool:
    """Some part of ``node`` is not a number literal."""
    if isinstance(node, cst.BinaryOperation):
        return _not_constant(node.left) or _not_constant(node.right)
    return number_value(node) is None


def overwrites_accumulator(
    model: ModuleModel, key: str, b: Binding, bindings: list[Binding]
) -> Binding | None:
    """The zeroing of a weight-gradient accumulator ``key`` outside a loop, when ``b``
    plain-assigns it inside that loop (``bindings`` are all of ``key``'s bindings in the scope)
    without reading ``key`` itself: only the last iteration survives.

    The accumulator holds a weight's gradient because of what it is assigned (a store of one,
    ``gradient_stores``), or because of its shape and value: zeros shaped like a matrix
    (``np.zeros_like(W)``), then, in the loop, a product that does not read that matrix
    (``np.outer(delta, x)``, ``dh @ h.T``): a value of a weight's shape made from others."""
    if not b.loops or b.value is None or key in names_in(b.value):
        return None
    if not isinstance(b.target, cst.Name | cst.Attribute):
        return None  # ``acc[:, t] = ...`` fills one slot per iteration
    if _mentions(b.loops[-1], key) > 1:
        return None  # read (or assigned again) in the loop: each iteration's value is used
    stored = b in model.weight_gradient_bindings()
    for other in bindings:
        if other is b or other.kind != "assign" or other.value is None:
            continue
        if (
            other.index < b.index
            and b.loops[: len(other.loops)] == other.loops
            and len(other.loops) < len(b.loops)
        ):
            if stored and model.is_call_to(other.value, _ZEROS):
                return other
            if _shaped_like_a_matrix(model, other.value, b.value):
                return other
    return None


def _mentions(node: cst.CSTNode, key: str) -> int:
    """How many times the name or attribute ``key`` occurs in ``node``."""
    count = 0

    class _V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            nonlocal count
            count += n.value == key

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            nonlocal count
            if dotted(n) == key:
                count += 1
                return False
            return True

    walk(node, _V())
    return count


_ZEROS = N.CONST_INIT | {"numpy.zeros_like", "torch.zeros_like"}


def _shaped_like_a_matrix(
    model: ModuleModel, init: cst.BaseExpression, value: cst.BaseExpression
) -> bool:
    """``init`` is ``zeros_like(W)`` and ``value`` a product (matrix or outer) of values other
    than ``W``: it builds something of ``W``'s shape from other values, as a weight gradient."""
    if not model.is_call_to(init, frozenset({"numpy.zeros_like", "torch.zeros_like"})):
        return False
    assert isinstance(init, cst.Call)
    args = positional_args(init)
    like = dotted(args[0]) if args else None
    if like is None:
        return False
    core = model.core_value(value)
    mm = model.matmul(core)
    if mm is not None:
        sides = [mm.left, mm.right]
    elif model.is_call_to(core, frozenset({"numpy.outer", "torch.outer"})):
        sides = positional_args(core)  # type: ignore[arg-type]
    else:
        return False
    return len(sides) == 2 and all(dotted(model.strip_transpose(s)[0]) != like for s in sides)


def reads_grad(value: cst.BaseExpression) -> bool:
    """Whether ``value`` reads some ``.grad`` attribute (a micrograd-style backward closure)."""
    found = False

    class _V(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            nonlocal found
            if node.attr.value == "grad":
                found = True

    walk(value, _V())
    return found


def one_example(model: ModuleModel, value: cst.BaseExpression, scope: Scope) -> int | None:
    """``dout[0]`` in a layer's backward whose weight gradient sums ``dout`` over the batch
    (``x.T @ dout``): one row of the upstream gradient, i.e. one example's gradient; the row."""
    if not (isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name)):
        return None
    if value.value.value != model.upstream_gradient_param(scope) or len(value.slice) != 1:
        return None
    index = value.slice[0].slice
    if not isinstance(index, cst.Index):
        return None
    return int_value(index.value)


def summed_by_loop(b: Binding, scope: Scope) -> bool:
    """``db += g[m]`` (or ``k = dZ[m, i]; dB[...] += k``) inside ``for m in ...``: the loop adds
    one example's gradient per pass, so the loop itself is the sum over the batch."""
    if isinstance(b.value, cst.Name) and b.value.value in scope.bindings:
        # ``grads["b"] += dB`` where ``dB`` itself is filled that way
        adds = [x for x in scope.bindings[b.value.value] if x.kind == "aug"]
        if adds and all(x is not b and summed_by_loop(x, scope) for x in adds):
            return True
    if b.kind != "aug" or b.op != "AddAssign" or b.value is None or not b.loops:
        return False
    loop_vars = {
        leaf.value
        for loop in b.loops
        if isinstance(loop, cst.For)
        for leaf in target_names(loop.target)
        if isinstance(leaf, cst.Name)
    }
    value = b.value
    if isinstance(value, cst.Name):
        bound = [x for x in scope.bindings.get(value.value, []) if x.kind == "assign"]
        if len(bound) == 1 and bound[0].value is not None:
            value = bound[0].value
    if not isinstance(value, cst.Subscript):
        return False
    return any(names_in(e.slice) & loop_vars for e in value.slice)


def value_definitions(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> list[cst.CSTNode]:
    """The expression and the values its names were assigned (a few levels): where a more
    specific rule would have reported the same gradient."""
    out: list[cst.CSTNode] = [node]
    if depth > 2:
        return out
    base, _ = model.strip_transpose(node)
    for value, sc in model.value_sources(base, scope):
        out.extend(value_definitions(model, value, sc, depth + 1))
    return out
