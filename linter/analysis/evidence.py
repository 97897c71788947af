"""Evidence: the facts, with the nodes they were learnt at, that make a value a weight or a
gradient, so a finding can say why ("`self.mat` is updated here"; "`g` is the first parameter
of `backward`"). Asked only for values a rule reports, so a few lookups each are cheap.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis import names as N
from linter.analysis.collect import Scope
from linter.analysis.coupling import is_normaliser
from linter.analysis.exprs import positional_args
from linter.analysis.forms import ACTIVATION_KINDS, Form, Kind
from linter.analysis.torch_facts import Out, facts

Facts = list[tuple[cst.CSTNode, str]]


def weight_evidence(
    model: ModuleModel, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> Facts:
    """Why ``node`` is a weight: where it is updated with a step, where it is randomly
    initialised, where the forward pass multiplies a layer's input by it, or where it was
    packed or passed from such a weight (``depth``: how many such steps were taken already);
    failing all of these, that its name says so, when it does."""
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
    if not out and depth < 4:
        out = _weight_carried(model, base, scope, name, depth + 1)
    mapped = model.activation_input_weights().get(key)
    if not out and mapped is not None:
        out.append((mapped, f"`{name}` maps an activation into the next pre-activation here"))
    inverted = model.upstream_inversion(key)
    if not out and inverted is not None:
        out.append((inverted, f"`{name}` is inverted to carry the upstream gradient back here"))
    if not out:
        out = _weight_propagating(model, key, name)
    if not out and N.WEIGHT_NAME.match(N.last_part(key)):
        out.append((base, f"`{name}` is named like a weight (no update or initialisation seen)"))
    return out


def _weight_propagating(model: ModuleModel, key: str, name: str) -> Facts:
    """Why a matrix neither updated nor initialised here is a weight: the chain rule carries a
    gradient back through it (its product with the gradient is multiplied by a local
    derivative) and another product multiplies a value by it."""
    site = model.propagation_site(key)
    if site is None:
        return []
    out: Facts = [(site, f"`{name}` carries the gradient back here (times a local derivative)")]
    for use, _ in model.weight_uses():
        if use.key == key and use.matmul.node is not site:
            other = model.src(use.other)
            out.append((use.matmul.node, f"`{name}` multiplies `{other}` here"))
            break
    return out


def _weight_carried(
    model: ModuleModel, base: cst.BaseExpression, scope: Scope, name: str, depth: int
) -> Facts:
    """Why a weight that is neither updated nor initialised here is one: it is unpacked from a
    tuple the forward pass packed a weight into, or every call passes an updated matrix (a
    recursive call passing its own parameter on ends at ``depth``)."""
    packed = model.unpacked_origin(base, scope)
    if packed is not None:
        origin, home = packed
        why = weight_evidence(model, origin, home, depth)
        if why:
            return [
                (origin, f"`{name}` is unpacked from the `{model.src(origin)}` packed here"),
                *why,
            ]
    for arg, caller in model.arguments_for(base.value, scope) if isinstance(base, cst.Name) else ():
        why = weight_evidence(model, arg, caller, depth)
        if why:
            return [(arg, f"`{name}` is passed `{model.src(arg)}` here"), *why]
    return []


def applied_evidence(model: ModuleModel, target: cst.BaseExpression, scope: Scope) -> Facts:
    """The update that applies the gradient stored in ``target`` to its parameter, when this
    module makes one (``self.b -= lr * self.db`` for ``self.db = ...``)."""
    key = model.key(target, scope)
    if key is None:
        return []
    for u in model.updates():
        if any(model.key(n, u.step_scope) == key for n in _operands(u.step)):
            stmt = u.binding.stmt
            at = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else u.binding.target
            return [(at, f"`{model.src(target)}` is applied to `{u.key}` here")]
    return []


def _operands(node: cst.CSTNode) -> list[cst.BaseExpression]:
    """The names, attributes and subscripts a step multiplies (``lr * self.db``)."""
    found: list[cst.BaseExpression] = []
    todo = [node]
    while todo and len(found) < 20:
        n = todo.pop()
        if isinstance(n, cst.Name | cst.Attribute | cst.Subscript):
            found.append(n)
        elif isinstance(n, cst.BinaryOperation | cst.UnaryOperation):
            todo += n.children
    return found


def layout_evidence(model: ModuleModel, layout: str) -> Facts:
    """Where the forward pass shows how weights are stored: "out-in" when it applies W
    (``W @ a``), "in-out" when it applies W^T (``X @ W``)."""
    for use, site in model.weight_uses():
        if Role.GRAD in model.roles(use.other, site.scope):
            continue
        if ("out-in" if use.applies == "W" else "in-out") == layout:
            node = use.matmul.node
            shape = "(out, in)" if layout == "out-in" else "(in, out)"
            return [(node, f"the forward pass computes `{model.src(node)}`: weights are {shape}")]
    return []


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
        # an expression built from a gradient (``W.T @ delta``): why that gradient is one
        for inner in _names_in(base):
            if inner.value != name and model.has(inner, scope, Role.GRAD):
                return gradient_evidence(model, inner, scope)
        return []
    facts = _gradient_source(model, base, scope)
    stepped = model.step_gradient_site(scope, base.value) if not facts else None
    if stepped is not None:
        b, weight, given = stepped
        facts = [
            (
                b.target,
                f"`{name}` is the gradient of the layer's output: `{weight}`'s step multiplies "
                f"it with `{given}`, what the forward pass applies `{weight}` to",
            )
        ]
    if not facts and N.GRAD_NAME.match(base.value):
        facts = [(base, f"`{name}` is named like a gradient")]
    return facts


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []
    todo = [node]
    while todo and len(found) < 20:
        n = todo.pop()
        if isinstance(n, cst.Name):
            found.append(n)
        elif isinstance(n, cst.Attribute):
            continue  # ``self.W``: the attribute's object is not a value of its own
        else:
            todo += reversed(n.children)
    return found


def _gradient_source(model: ModuleModel, base: cst.Name, scope: Scope) -> Facts:
    name = base.value
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
        chained = model.chain_rule_site(name, scope)
        if chained is not None:
            return [
                (chained, f"`{name}` is carried by the chain rule: times a local derivative here")
            ]
        return []
    for b in bindings:
        if b.kind == "assign" and b.value is not None and model.has(b.value, scope, Role.GRAD):
            if model.error_parts(b.value, scope) is not None:
                return [(b.value, f"`{name}` is the error: the network's output minus the data")]
            return [(b.value, f"`{name}` is computed from a gradient here")]
    return []


_ACTIVATION_NAMES = {
    Kind.SIGMOID: "σ",
    Kind.TANH: "tanh",
    Kind.RELU: "ReLU",
    Kind.SOFTMAX: "softmax",
}


def _copies(
    model: ModuleModel, expr: cst.BaseExpression, home: Scope
) -> list[tuple[cst.BaseExpression, Scope]]:
    """Where the value of ``expr`` was copied from, without looking through arithmetic: a
    name's or attribute's assignments and the arguments callers pass, a dict entry's stores, an
    element's container, a local helper's return."""
    if isinstance(expr, cst.Name | cst.Attribute):
        return model.value_sources(expr, home)
    if isinstance(expr, cst.Subscript):
        stores = [(b.value, sc) for b, sc in model.value_stores(expr, home) if b.value is not None]
        return stores or [(expr.value, home)]
    if isinstance(expr, cst.Call):
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _VIEWS:
            return [(expr.func.value, home)]  # ``p.gather(1, y)``, ``p.clip(eps, 1)``
        args = positional_args(expr)
        if model.qualname(expr.func) in ("numpy.clip", "torch.clamp") and args:
            return [(args[0], home)]
        fn = model.local_function(expr.func, home)
        if fn is not None:
            return [(r, fn) for r in fn.returns]
    return []


_VIEWS = frozenset({"gather", "take", "take_along_dim", "index_select", "clip", "clamp"})


def _origin(
    model: ModuleModel,
    node: cst.BaseExpression,
    scope: Scope,
    found: Callable[[cst.BaseExpression, Scope], bool],
    expand: Callable[
        [ModuleModel, cst.BaseExpression, Scope], list[tuple[cst.BaseExpression, Scope]]
    ]
    | None = None,
    limit: int = 40,
) -> tuple[cst.BaseExpression, Scope] | None:
    """The nearest expression ``node``'s value comes from that satisfies ``found``, breadth
    first over ``expand`` (default: copies only, not arithmetic), ``limit`` steps at most:
    asked only for values a rule reports."""
    expand = expand or _copies
    todo: list[tuple[cst.BaseExpression, Scope]] = [(node, scope)]
    seen: set[tuple[cst.CSTNode, Scope]] = set()
    while todo and len(seen) < limit:
        expr, home = todo.pop(0)
        expr, _ = model.strip_transpose(expr)
        if (expr, home) in seen:
            continue
        seen.add((expr, home))
        if found(expr, home):
            return expr, home
        todo += expand(model, expr, home)
    return None


def activation_evidence(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Facts:
    """Where the activation output ``node`` holds was computed (``a = sigmoid(z)``)."""

    def applied(expr: cst.BaseExpression, home: Scope) -> bool:
        form = model.forms.form(expr, home)
        return form is not None and form.kind in ACTIVATION_KINDS

    origin = _origin(model, node, scope, applied)
    if origin is None:
        return []
    at, home = origin
    form = model.forms.form(at, home)
    kind = _ACTIVATION_NAMES.get(form.kind, "an activation") if form else "an activation"
    name = model.src(model.strip_transpose(node)[0])
    if at is node:
        return [(at, f"`{name}` applies {kind}")]
    return [(at, f"`{name}` is the output of {kind}, computed here")]


def coupled_evidence(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Facts:
    """Where the softmax or normalised vector ``node`` holds was made: every entry of it
    depends on the whole row."""

    torch = facts(model)

    def coupled(expr: cst.BaseExpression, home: Scope) -> bool:
        form = model.forms.form(expr, home)
        if (form is not None and form.kind is Kind.SOFTMAX) or is_normaliser(model, expr, home):
            return True
        if torch.uses_torch and isinstance(expr, cst.Call):
            kind = torch.kind(expr, home)  # an ``nn.Softmax`` layer's output
            return kind is not None and kind.out is Out.PROB
        return False

    origin = _origin(model, node, scope, coupled)
    if origin is None:
        return []
    at, home = origin
    name = model.src(model.strip_transpose(node)[0])
    what = "divided by its sum" if is_normaliser(model, at, home) else "a softmax"
    return [(at, f"`{name}` is {what}, made here: each entry depends on the whole row")]


def preactivation_evidence(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Facts:
    """Where the pre-activation ``node`` holds was computed: a layer's weighted input."""

    def product(expr: cst.BaseExpression, home: Scope) -> bool:
        while isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            if model.matmul(expr.right) is not None:
                return True
            expr = expr.left
        return model.matmul(expr) is not None

    origin = _origin(model, node, scope, product)
    if origin is None or origin[0] is node:
        return []
    at = origin[0]
    name = model.src(model.strip_transpose(node)[0])
    return [(at, f"`{name}` is a layer's weighted input (before its activation), computed here")]


def derivative_evidence(model: ModuleModel, form: Form) -> Facts:
    """The helper a derivative formula was reached through, when it was (``sigmoid_prime``)."""
    if form.via is None or not form.via.returns:
        return []
    formula = form.via.returns[0] if len(form.via.returns) == 1 else None
    formula = formula or model.forms.switched_return(form.via) or form.via.returns[0]
    return [(formula, f"`{form.via.name}` computes {form.kind.value} of its argument")]


def sign_evidence(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Facts:
    """The error (output minus data, or data minus output) a step is built from, found by
    following the step's value back the way ``model.sign`` does: names to their assignments,
    dict entries to what was stored under their key, helpers to their returns, and through
    the arithmetic that builds the step."""

    def error(expr: cst.BaseExpression, home: Scope) -> bool:
        return (
            isinstance(expr, cst.BinaryOperation)
            and model.output_minus_data(expr, home) is not None
        )

    origin = _origin(model, node, scope, error, expand=_operands_and_sources, limit=60)
    if origin is None:
        return []
    expr, home = origin
    parts = model.output_minus_data(expr, home)  # type: ignore[arg-type]
    assert parts is not None
    pred, target = model.src(parts[0]), model.src(parts[1])
    if parts[2] == 1:
        text = f"`{model.src(expr)}` is the network's output `{pred}` minus the data `{target}`"
    else:
        text = f"`{model.src(expr)}` is the data `{target}` minus the network's output `{pred}`"
    return [(expr, text)]


def _operands_and_sources(
    model: ModuleModel, expr: cst.BaseExpression, home: Scope
) -> list[tuple[cst.BaseExpression, Scope]]:
    """What a step's value is built from: an operation's operands, a name's assignments and
    in-place updates, a dict entry's stores and its dict, a helper's returns and a call's
    arguments."""
    if isinstance(expr, cst.BinaryOperation):
        return [(expr.left, home), (expr.right, home)]
    if isinstance(expr, cst.UnaryOperation):
        return [(expr.expression, home)]
    if isinstance(expr, cst.Name):
        owner = model.owner(expr.value, home)
        return model.value_sources(expr, home) + [
            (b.value, owner)
            for b in owner.bindings.get(expr.value, [])
            if b.kind == "aug" and b.value is not None
        ]
    if isinstance(expr, cst.Subscript):
        stores = [(b.value, sc) for b, sc in model.value_stores(expr, home) if b.value is not None]
        return [*stores, (expr.value, home)]
    if isinstance(expr, cst.Attribute):
        return model.value_sources(expr, home)
    if isinstance(expr, cst.Call):
        fn = model.local_function(expr.func, home)
        returns = [(r, fn) for r in fn.returns] if fn is not None else []
        return returns + [(a.value, home) for a in expr.args]
    return []
