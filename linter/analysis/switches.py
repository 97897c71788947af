"""Derivative-switch helpers: ``def act(x, derivative=False): if derivative: return D; return F``.

Real code often writes an activation and its derivative as one helper with a flag. The two
branches are read as forms of the helper's first parameter (``forms.flag_branches``), so a rule
can ask what the derivative branch computes, whoever calls it (callers may sit in other modules,
reached through an attribute the analysis cannot resolve).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope, single_value
from linter.analysis.forms import Form
from linter.analysis.model import ModuleModel


@dataclass(frozen=True)
class Switch:
    scope: Scope
    flag: str
    derivative: cst.BaseExpression  # what the helper returns with the flag on
    derivative_form: Form | None  # its form, when it is one of the first parameter
    forward_form: Form | None  # the other branch's form, likewise


def switch_helpers(model: ModuleModel) -> Iterator[Switch]:
    """Every derivative-switch helper of the module, its branches read as forms of its first
    parameter (None where a branch is not a recognised form of that parameter)."""
    for scope in model.c.scopes:
        if scope.is_module:
            continue
        found = model.forms.flag_branches(scope)
        if found is None:
            continue
        flag, _position, on, off = found
        params = [p for p in scope.params if p not in ("self", "cls")]
        yield Switch(
            scope,
            flag,
            on,
            _form_of_param(model, on, scope, params[0]),
            _form_of_param(model, off, scope, params[0]),
        )


def _form_of_param(
    model: ModuleModel, value: cst.BaseExpression, scope: Scope, param: str
) -> Form | None:
    form = model.forms.form(single_value(value, scope), scope)
    if form is not None and isinstance(form.operand, cst.Name) and form.operand.value == param:
        return form
    return None
