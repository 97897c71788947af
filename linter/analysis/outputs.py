"""Output-layer deltas read by what they are made of.

``2 * (a - y)`` is the derivative of the squared error (a − y)² with respect to a: the factor 2
is the cost's own signature, whether or not the cost itself is ever computed. When a is a
sigmoid or tanh output, the delta with respect to the pre-activation still needs σ′; a delta
that carries the 2 but not σ′ has left the output activation's derivative out.
"""

from __future__ import annotations

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import number_value
from linter.analysis.forms import Kind
from linter.analysis.model import ModuleModel


def squared_error_gradient(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope
) -> tuple[cst.BaseExpression, Kind] | None:
    """``2 * (a - y)`` (or ``(y - a) * 2``, maybe divided by a count) of a sigmoid or tanh
    output a -> (the error ``a - y`` as written, the output's activation)."""
    for _ in range(3):
        if (
            isinstance(node, cst.BinaryOperation)
            and isinstance(node.operator, cst.Divide)
            and number_value(node.left) is None
        ):
            node = node.left  # 2 * (a - y) / n
            continue
        break
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply)):
        return None
    for two, err in ((node.left, node.right), (node.right, node.left)):
        if number_value(two) != 2.0:
            continue
        parts = model.error_parts(err, scope)
        if parts is None:
            continue
        kind = model.activation_kind(parts[0], scope)
        if kind in (Kind.SIGMOID, Kind.TANH):
            return err, kind
    return None
