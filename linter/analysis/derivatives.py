"""Facts about derivatives: where an activation derivative is computed, and the output-layer
factors (σ′ of the output, p(1 − p) of a softmax, the error a − y) that the BP1xx and BP2xx rules
query."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import libcst as cst

from linter.analysis import ModuleModel, Role
from linter.analysis.collect import Scope, Site
from linter.analysis.exprs import contains, dotted, factors_of, same_name
from linter.analysis.forms import DERIVATIVES, Form, Kind


class DerivativeSite(NamedTuple):
    """Where an activation derivative is computed: the node to report, the formula as applied
    there (its operand is judged in ``scope``), and the evidence when the node is a helper's
    formula judged by its call sites (``calls``: each call, with what it passes)."""

    node: cst.CSTNode
    form: Form
    scope: Scope
    evidence: tuple[tuple[cst.CSTNode, str], ...] = ()

    def operand_text(self, model: ModuleModel, side: str) -> str:
        """How a message names what the formula is evaluated at: "the activation `a`", or for
        a helper's formula judged by its calls, "the activation at every call of `f`"."""
        if self.evidence and self.form.via is not None:
            return f"{side} at every call of `{self.form.via.name}` ({len(self.evidence)} calls)"
        return f"{side} `{model.src(self.form.operand)}`"

    @property
    def at_helper(self) -> str:
        """For a helper's formula judged by its calls, where the fix goes, for a message."""
        if not self.evidence or self.form.via is None:
            return ""
        return f" (fix it in `{self.form.via.name}`: every call passes the same side)"


# What a derivative written for one side wants: z (it applies the activation itself) or a.
_WANTS = {
    Kind.SIGMOID_PRIME_OF_Z: Role.PREACT,
    Kind.TANH_PRIME_OF_Z: Role.PREACT,
    Kind.OUTPUT_POLY: Role.ACT,
    Kind.ONE_MINUS_SQUARE: Role.ACT,
}
_ACTIVATION_OF = {
    Kind.SIGMOID_PRIME_OF_Z: Kind.SIGMOID,
    Kind.OUTPUT_POLY: Kind.SIGMOID,
    Kind.TANH_PRIME_OF_Z: Kind.TANH,
    Kind.ONE_MINUS_SQUARE: Kind.TANH,
}
_SIDE_NAME = {Role.ACT: "the activation", Role.PREACT: "the pre-activation"}


def derivative_sites(model: ModuleModel) -> Iterator[DerivativeSite]:
    """Every call or expression that computes an activation derivative, outside helper bodies.

    Inside a derivative helper (``def sigmoid_prime(z): ...``) that the module calls, the formula
    is applied to the helper's own parameter; it is judged at the helper's call sites instead.
    One defect, one site: when two or more calls of a derivative helper all pass the same side
    (every one an activation, say) and the helper's body wants the other side, the helper is
    what is wrong, and its formula is the one site, with the calls as evidence. When the calls
    disagree, each call is its own site (the odd one out is the defect).

    Computed once per model (five rules ask), unless asked while a question is in progress.
    """
    found = model.lasting.get("derivatives.sites")
    if found is None:
        found = list(_derivative_sites(model))
        if model.outside_questions():
            model.lasting["derivatives.sites"] = found
    return iter(found)  # type: ignore[call-overload]


def _derivative_sites(model: ModuleModel) -> Iterator[DerivativeSite]:
    plain: list[DerivativeSite] = []
    by_helper: dict[Scope, list[DerivativeSite]] = {}
    for site, node in derivative_candidates(model):
        form = model.forms.form(node, site.scope)
        if form is None and isinstance(node, cst.BinaryOperation):
            form = model.forms.derivative_in_product(node, site.scope)
        if form is None or form.kind not in DERIVATIVES:
            continue
        scope = site.scope
        if (
            isinstance(form.operand, cst.Name)
            and form.operand.value in scope.params
            and model.forms.helper_kind(scope) in DERIVATIVES
            and model.callers(scope)
        ):
            continue
        if _in_flag_branch(model, node, scope):
            continue
        found = DerivativeSite(node, form, scope)
        if _dedicated_helper_call(model, node, form):
            by_helper.setdefault(form.via, []).append(found)  # type: ignore[arg-type]
        else:
            plain.append(found)
    yield from plain
    for helper, calls in by_helper.items():
        whole = _helper_site(model, helper, calls)
        if whole is not None:
            yield whole
        else:
            yield from calls


def _dedicated_helper_call(model: ModuleModel, node: cst.CSTNode, form: Form) -> bool:
    """A call of a one-purpose derivative helper of this module (not a flag switch), whose
    formula wants one side, z or a."""
    return (
        isinstance(node, cst.Call)
        and form.via is not None
        and form.kind in _WANTS
        and model.forms.flag_branches(form.via) is None
        and model.forms.helper_kind(form.via) is form.kind
    )


def _helper_site(
    model: ModuleModel, helper: Scope, calls: list[DerivativeSite]
) -> DerivativeSite | None:
    """The helper's formula as the one site, when every call of it (two or more, all resolved)
    passes the side its body does not want."""
    every = model.callers(helper)
    if len(calls) < 2 or len(every) != len(calls):
        return None
    wanted = _WANTS[calls[0].form.kind]
    sides = {_side(model, c.form.operand, c.scope) for c in calls}
    if len(sides) != 1:
        return None
    side = sides.pop()
    if side is None or side is wanted:
        return None
    formula = helper.returns[0] if len(helper.returns) == 1 else None
    if formula is None:
        formula = model.forms.switched_return(helper)
    if formula is None:
        return None
    activation = _ACTIVATION_OF[calls[0].form.kind]
    rep = next(
        (c for c in calls if model.activation_kind(c.form.operand, c.scope) is activation),
        calls[0],
    )
    evidence = tuple(
        (
            c.node,
            f"`{helper.name}` is called with {_SIDE_NAME[side]} `{model.src(c.form.operand)}` here",
        )
        for c in calls
    )
    return DerivativeSite(formula, rep.form, rep.scope, evidence)


def _side(model: ModuleModel, operand: cst.BaseExpression, scope: Scope) -> Role | None:
    """Which side of the activation a value is: the activation or the pre-activation (a
    softmax's probabilities, or a value that is both, are neither)."""
    roles = model.roles(operand, scope)
    if Role.PROB in roles:
        return None
    if Role.ACT in roles and Role.PREACT not in roles:
        return Role.ACT
    if Role.PREACT in roles and Role.ACT not in roles:
        return Role.PREACT
    return None


def _in_flag_branch(model: ModuleModel, node: cst.CSTNode, scope: Scope) -> bool:
    """Inside the derivative branch of a derivative-switch helper the module calls: judged at
    the calls that turn the switch on."""
    found = model.forms.flag_branches(scope)
    return found is not None and contains(found[2], node) and bool(model.callers(scope))


def derivative_candidates(model: ModuleModel) -> Iterator[tuple[Site, cst.BaseExpression]]:
    """Calls and arithmetic; a bare comparison (``z > 0``) only as a factor of a product, where
    it is a ReLU mask and not, say, a perceptron's threshold."""
    for site in (*model.c.calls, *model.c.binops):
        yield site, site.node
        node = site.node
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
            for side in (node.left, node.right):
                if isinstance(side, cst.Comparison):
                    yield site, side


def sigmoid_prime_factor(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Form | None:
    """A factor that is σ′ of the output: σ′(z) in any spelling, or a(1 − a) of a sigmoid."""
    form = model.forms.form(node, scope)
    if form is None:
        return None
    if form.kind is Kind.SIGMOID_PRIME_OF_Z:
        return form
    if form.kind is Kind.OUTPUT_POLY and not model.has(form.operand, scope, Role.PROB):
        if model.activation_kind(form.operand, scope) in (Kind.SIGMOID, None):
            return form
    return None


def softmax_poly(model: ModuleModel, node: cst.BaseExpression, scope: Scope) -> Form | None:
    """``p * (1 - p)`` of a softmax output p (the 'elementwise softmax Jacobian')."""
    form = model.forms.form(node, scope)
    if form is not None and form.kind is Kind.SOFTMAX_DIAG_OF_Z:
        return form
    if form is not None and form.kind is Kind.OUTPUT_POLY:
        if model.has(form.operand, scope, Role.PROB):
            return form
    return None


def error_products(
    model: ModuleModel,
) -> Iterator[tuple[cst.BinaryOperation, tuple, list[cst.BaseExpression], Scope]]:
    """Products whose factors include an error signal ``a - y``: (node, error, others, scope)."""
    for site in model.c.binops:
        node = site.node
        if not isinstance(node, cst.BinaryOperation) or not isinstance(node.operator, cst.Multiply):
            continue
        factors = factors_of(node, own_parens=True)
        for i, f in enumerate(factors):
            parts = model.error_parts(f, site.scope)
            if parts is not None:
                yield node, parts, factors[:i] + factors[i + 1 :], site.scope
                break


def poly_factor(model: ModuleModel, factors: list[cst.BaseExpression], scope: Scope) -> Form | None:
    """``a * (1 - a)`` as one factor, or spread over separate factors of a product chain."""
    for f in factors:
        form = model.forms.form(f, scope)
        if form is not None and form.kind in (Kind.SIGMOID_PRIME_OF_Z, Kind.OUTPUT_POLY):
            return form
    return model.forms.poly_pair(factors, factors, scope)


def sigmoid_prime_among(
    model: ModuleModel, factors: list[cst.BaseExpression], scope: Scope
) -> Form | None:
    """σ′ of a (non-softmax) output among the factors of a product chain: one factor, or
    a(1 − a) spread over several."""
    return _among(model, factors, scope, sigmoid_prime_factor, probability=False)


def softmax_poly_among(
    model: ModuleModel, factors: list[cst.BaseExpression], scope: Scope
) -> Form | None:
    """p(1 − p) of a softmax output among the factors of a product chain: one factor, or spread
    over several."""
    return _among(model, factors, scope, softmax_poly, probability=True)


def _among(
    model: ModuleModel,
    factors: list[cst.BaseExpression],
    scope: Scope,
    single: Callable[[ModuleModel, cst.BaseExpression, Scope], Form | None],
    probability: bool,
) -> Form | None:
    for f in factors:
        form = single(model, f, scope)
        if form is not None:
            return form
    form = poly_factor(model, factors, scope)
    if form is not None and model.has(form.operand, scope, Role.PROB) == probability:
        return form
    return None


_OUTPUT_SIDE = {Kind.OUTPUT_POLY: Kind.SIGMOID, Kind.ONE_MINUS_SQUARE: Kind.TANH}
_INPUT_SIDE = {Kind.SIGMOID_PRIME_OF_Z: Kind.SIGMOID, Kind.TANH_PRIME_OF_Z: Kind.TANH}


def output_derivative_of(
    model: ModuleModel, factors: list[cst.BaseExpression], output: cst.BaseExpression, scope: Scope
) -> Form | None:
    """The derivative of the activation that produced ``output`` among a product's factors:
    a(1 − a) or 1 − a² of the output itself, or σ′(z) / tanh′(z) of the pre-activation it was
    computed from (one factor, a helper call, or a(1 − a) spread over two factors)."""
    kind = model.activation_kind(output, scope)
    if kind not in (Kind.SIGMOID, Kind.TANH):
        return None
    made = model.forms.form(model.forms.through_local(output, scope), scope)
    pre = made.operand if made is not None and made.kind is kind else None
    candidates = [model.forms.form(f, scope) for f in factors]
    candidates.append(model.forms.poly_pair(factors, factors, scope))
    for form in candidates:
        if form is None:
            continue
        if _OUTPUT_SIDE.get(form.kind) is kind and form.operand.deep_equals(output):
            return form
        if _INPUT_SIDE.get(form.kind) is kind and pre is not None and form.operand.deep_equals(pre):
            return form
    return None


def output_delta_elsewhere(
    model: ModuleModel, error: cst.BaseExpression, scope: Scope
) -> cst.BinaryOperation | None:
    """A product in ``scope`` that multiplies the same error a − y by the derivative of the
    output's activation: the code's own output delta under the quadratic cost. When the raw
    error is also sent back through a weight, the two uses disagree (Rashid's pattern: the
    output weights get (t − o)·o(1 − o), the hidden layer gets Wᵀ(t − o))."""
    parts = model.error_parts(error, scope)
    if parts is None:
        return None
    output = parts[0]
    for node, (pred, _target, _sign), others, where in error_products(model):
        if where is not scope or not pred.deep_equals(output):
            continue
        if output_derivative_of(model, others, output, scope) is not None:
            return node
    return None


def raw_error_source(
    model: ModuleModel, operand: cst.BaseExpression, scope: Scope, use_index: int
) -> cst.BaseExpression | None:
    """The raw ``a - y`` (of a sigmoid/tanh output) this operand is, where it was formed:
    the operand itself, or the latest assignment to its name before this use."""
    candidates: list[cst.BaseExpression] = []
    if isinstance(operand, cst.Name):
        latest = model.latest_assign(operand.value, scope, use_index)
        if latest is not None:
            candidates.append(latest)
    else:
        candidates.append(operand)
        # ``nxt.delta`` of a list of layers: what any layer stored there, read through the
        # attribute it was copied from (``layer.delta = layer.error; layer.error = y - out``)
        for b in model.element_attr_stores(operand, scope):
            value = b.value
            key = dotted(value) if isinstance(value, cst.Attribute | cst.Name) else None
            if key is not None:
                value = model.latest_assign(key, scope, b.index) or value
            if value is not None:
                candidates.append(value)
    for value in candidates:
        parts = model.error_parts(value, scope)
        if parts is None:
            continue
        if model.activation_kind(parts[0], scope) in (Kind.SIGMOID, Kind.TANH):
            return value
    return None


def softmax_counted_twice(
    model: ModuleModel,
) -> Iterator[tuple[cst.CSTNode, cst.BaseExpression, Scope]]:
    """Where a softmax derivative is multiplied into p − y, which already is the gradient with
    respect to the logits: (a) ``error * p * (1 - p)`` in one product chain; (b) ``g *= p * (1 -
    p)`` or ``g = g * p * (1 - p)`` on an error signal; (c) a softmax Jacobian matrix applied to
    p − y. Yields the product, the statement, or the matrix product, with the softmax output p
    (a) or the error (b, c) and the scope."""
    # (a) error * p(1 - p), in one product chain
    for node, (pred, _t, _s), others, scope in error_products(model):
        if not model.has(pred, scope, Role.PROB):
            continue
        if softmax_poly_among(model, others, scope) is not None:
            yield node, pred, scope
    # (b) grad *= p * (1 - p) / grad = grad * p * (1 - p) on a seeded p - onehot
    for scope in model.c.scopes:
        for bindings in scope.bindings.values():
            for b in bindings:
                if b.value is None or b.kind not in ("aug", "assign"):
                    continue
                if b.kind == "aug" and b.op != "MultiplyAssign":
                    continue
                factors = [b.value] if b.kind == "aug" else factors_of(b.value)
                if b.kind == "assign" and not any(same_name(f, b.target) for f in factors):
                    continue
                if not model.has(b.target, scope, Role.ERROR):  # asked last: it costs most
                    continue
                others = [f for f in factors if not same_name(f, b.target)]
                if softmax_poly_among(model, others, scope) is not None:
                    node = b.stmt if b.kind == "aug" else b.value
                    at = node.body[0] if isinstance(node, cst.SimpleStatementLine) else node
                    yield at, b.target, scope
    # (c) the softmax Jacobian applied to p - y
    for mm, site in model.matmuls():
        for jac, err in ((mm.left, mm.right), (mm.right, mm.left)):
            base, _ = model.strip_transpose(jac)
            form = model.forms.form(base, site.scope)
            if form is None or form.kind is not Kind.SOFTMAX_JACOBIAN:
                continue
            parts = model.error_parts(err, site.scope)
            if parts is not None and model.has(parts[0], site.scope, Role.PROB):
                yield mm.node, err, site.scope


# --- forward / backward consistency of activations --------------------------------------------

# The activation whose derivative an output-side form is: a(1 - a) is σ's, 1 - a² is tanh's.
OUTPUT_FORM_OF = {Kind.OUTPUT_POLY: Kind.SIGMOID, Kind.ONE_MINUS_SQUARE: Kind.TANH}


def activation_origin(
    model: ModuleModel,
    node: cst.BaseExpression,
    scope: Scope,
    match: Callable[[cst.BaseExpression], bool],
    depth: int = 0,
) -> tuple[cst.BaseExpression, Scope] | None:
    """The expression ``node``'s value was computed by, when one of its sources (followed
    through assignments, attributes and returns, as ``activation_kind`` does) satisfies
    ``match``: every source that is an activation must be that one."""
    if depth > 10:
        return None
    node, _ = model.strip_transpose(node)
    if match(node):
        return node, scope
    return model.per_name(
        (activation_origin, match),
        node,
        scope,
        depth,
        lambda: _activation_origin(model, node, scope, match, depth),
    )


def _activation_origin(
    model: ModuleModel,
    node: cst.BaseExpression,
    scope: Scope,
    match: Callable[[cst.BaseExpression], bool],
    depth: int,
) -> tuple[cst.BaseExpression, Scope] | None:
    if isinstance(node, cst.Subscript):
        return activation_origin(model, node.value, scope, match, depth + 1)
    if isinstance(node, cst.Call):
        fn = model.local_function(node.func, scope)
        if fn is not None and len(fn.returns) == 1:
            return activation_origin(model, fn.returns[0], fn, match, depth + 1)
        return None
    found = [
        activation_origin(model, v, sc, match, depth + 1)
        for v, sc in model.value_sources(node, scope)
    ]
    hits = [f for f in found if f is not None]
    return hits[0] if len(hits) == 1 and len(found) == 1 else None
