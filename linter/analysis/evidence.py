"""Evidence: the facts, with the nodes they were learnt at, that make a value a weight or a
gradient, so a finding can say why ("`self.mat` is updated here"; "`g` is the first parameter
of `backward`"). Asked only for values a rule reports, so a few lookups each are cheap.
"""

from __future__ import annotations

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis import names as N
from linter.analysis.collect import Scope

Facts = list[tuple[cst.CSTNode, str]]


def weight_evidence(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Facts:
    """Why ``node`` is a weight: where it is updated with a step, where it is randomly
    initialised, where the forward pass multiplies a layer's input by it; failing all of these,
    that its name says so, when it does."""
    base, _ = model.strip_transpose(node)
    key = model.weight_key(base, scope)
    if key is None:
        return []
    name = model.src(base)
    out: Facts = []
    update = next((u for u in model.updates() if u.key == key), None)
    if update is not None:
        stmt = update.binding.stmt
        at = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else update.binding.target
        out.append((at, f"`{name}` is a parameter: updated with a step here"))
    init = _random_init(model, key)
    if init is not None:
        out.append((init, f"`{name}` is randomly initialised here"))
    if key in model.forward_input_weights():
        for use, site in model.weight_uses():
            if use.key == key and not model.has(use.other, site.scope, Role.GRAD):
                out.append((use.matmul.node, f"`{name}` multiplies the layer's input here"))
                break
    if not out and N.WEIGHT_NAME.match(N.last_part(key)):
        out.append((base, f"`{name}` is named like a weight (no update or initialisation seen)"))
    return out


def _random_init(model: ModuleModel, key: str) -> cst.BaseExpression | None:
    for scope in model.c.scopes:
        for bindings in scope.bindings.values():
            for b in bindings:
                if b.kind != "assign" or b.value is None:
                    continue
                if model.key(b.target, scope) == key and Role.INIT in model.roles(b.value, scope):
                    return b.value
    return None


def gradient_evidence(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Facts:
    """Where the gradient ``node`` comes from: the error (output minus data) it is, the
    upstream-gradient parameter of a layer's ``backward`` it is, or the assignment that derives
    it from a gradient."""
    base, _ = model.strip_transpose(node)
    name = model.src(base)
    if model.error_parts(base, scope) is not None and not isinstance(base, cst.Name):
        return [(base, f"`{name}` is the error: the network's output minus the data")]
    if not isinstance(base, cst.Name):
        return []
    bindings = scope.bindings.get(base.value, [])
    param = next((b for b in bindings if b.kind == "param"), None)
    if param is not None:
        if model.upstream_gradient_param(scope) == base.value:
            return [
                (
                    param.target,
                    f"`{name}` is the gradient of the layer's output: the first parameter of "
                    f"`{scope.name}`",
                )
            ]
        for call, caller in model.callers(scope):
            if any(model.has(a.value, caller, Role.GRAD) for a in call.args):
                return [(call, f"`{scope.name}` is called with a gradient here")]
        return []
    for b in bindings:
        if b.kind == "assign" and b.value is not None and model.has(b.value, scope, Role.GRAD):
            if model.error_parts(b.value, scope) is not None:
                return [(b.value, f"`{name}` is the error: the network's output minus the data")]
            return [(b.value, f"`{name}` is computed from a gradient here")]
    return []


def sign_evidence(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Facts:
    """The error (output minus data, or data minus output) a step is built from, found by
    following the step's value back the way ``model.sign`` does: names to their assignments,
    dict entries to what was stored under their key, helpers to their returns."""
    todo: list[tuple[cst.BaseExpression, Scope]] = [(node, scope)]
    seen: set[tuple[cst.CSTNode, Scope]] = set()
    while todo and len(seen) < 60:
        expr, home = todo.pop(0)
        expr, _ = model.strip_transpose(expr)
        if (expr, home) in seen:
            continue
        seen.add((expr, home))
        if isinstance(expr, cst.BinaryOperation):
            parts = model.output_minus_data(expr, home)
            if parts is not None:
                pred, target = model.src(parts[0]), model.src(parts[1])
                return [
                    (
                        expr,
                        f"`{model.src(expr)}` is the network's output `{pred}` minus the data "
                        f"`{target}`"
                        if parts[2] == 1
                        else f"`{model.src(expr)}` is the data `{target}` minus the network's "
                        f"output `{pred}`",
                    )
                ]
            todo += [(expr.left, home), (expr.right, home)]
        elif isinstance(expr, cst.UnaryOperation):
            todo.append((expr.expression, home))
        elif isinstance(expr, cst.Name):
            todo += model.value_sources(expr, home)
            owner = model.owner(expr.value, home)
            todo += [
                (b.value, owner)
                for b in owner.bindings.get(expr.value, [])
                if b.kind == "aug" and b.value is not None
            ]
        elif isinstance(expr, cst.Subscript):
            todo += [
                (b.value, sc) for b, sc in model.value_stores(expr, home) if b.value is not None
            ]
            todo.append((expr.value, home))
        elif isinstance(expr, cst.Attribute):
            todo += model.value_sources(expr, home)
        elif isinstance(expr, cst.Call):
            fn = model.local_function(expr.func, home)
            if fn is not None:
                todo += [(r, fn) for r in fn.returns]
            todo += [(a.value, home) for a in expr.args]
    return []
