"""An activation applied to its own output, as a factor of a gradient.

``df = sigmoid(f) * df`` where ``f`` is already a sigmoid output multiplies a gradient by σ(σ(z)):
the activation where its derivative belongs (a derivative switch left off, or the forward helper
called by mistake). Which activation made a value is the analysis's ``activation_kind`` (followed
through assignments, containers and call sites); that the other factor is a gradient is its role.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.exprs import factors_of
from linter.analysis.forms import Kind
from linter.analysis.model import ModuleModel, Role

_SQUASHING = (Kind.SIGMOID, Kind.TANH)


def reactivated_gradient_factors(
    model: ModuleModel,
) -> Iterator[tuple[cst.BaseExpression, cst.BaseExpression, Kind, Scope]]:
    """(the call f(a), a, f, scope) for each f(a) with a = f(z) that multiplies a gradient."""
    seen: set[cst.CSTNode] = set()
    for site in model.c.binops:
        node = site.node
        if not isinstance(node, cst.BinaryOperation) or not isinstance(node.operator, cst.Multiply):
            continue
        factors = factors_of(node)
        for factor in factors:
            f = model.forms.through_local(factor, site.scope)  # slope = sigmoid(a); g * slope
            if not isinstance(f, cst.Call | cst.BinaryOperation) or f in seen:
                continue
            form = model.forms.form(f, site.scope)
            if form is None or form.kind not in _SQUASHING:
                continue
            if model.activation_kind(form.operand, site.scope) is not form.kind:
                continue
            if not any(g is not factor and model.has(g, site.scope, Role.GRAD) for g in factors):
                continue
            seen.add(f)
            yield f, form.operand, form.kind, site.scope
