"""What an expression computes, structurally: activations and their derivatives.

``form_of(expr)`` recognises the handful of formulas backprop code is made of and names the
operand they are applied to, whether written inline or through a helper function of the module
(``sigmoid_prime(z)`` whose body is ``sigmoid(z) * (1 - sigmoid(z))`` *wants z*; one whose body is
``x * (1 - x)`` *wants a*). Rules then ask the role of that operand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import libcst as cst

from linter.analysis import names as N
from linter.analysis.algebra import Algebra, output_poly
from linter.analysis.callables import application, applied_function, held_library
from linter.analysis.collect import single_value
from linter.analysis.exprs import dotted, factors_of, number_value, positional_args, string_value

if TYPE_CHECKING:
    from linter.analysis.collect import Scope
    from linter.analysis.model import ModuleModel


class Kind(StrEnum):
    SIGMOID = "sigmoid"
    TANH = "tanh"
    RELU = "relu"
    SOFTMAX = "softmax"
    EXP = "exp"
    # derivatives, named by what they must be applied to
    SIGMOID_PRIME_OF_Z = "sigmoid'(z) = s(z)(1 - s(z))"  # wants z
    OUTPUT_POLY = "x(1 - x)"  # wants a = sigmoid(z) (or softmax p: the elementwise mistake)
    TANH_PRIME_OF_Z = "1 - tanh(z)^2"  # wants z
    ONE_MINUS_SQUARE = "1 - x^2"  # wants a = tanh(z)
    STEP = "1[x > 0]"  # relu'(z); same for z and a
    LOG_SOFTMAX = "x - log(sum(exp(x)))"
    SOFTMAX_JACOBIAN = "diag(s) - s s^T"
    SOFTMAX_DIAG_OF_Z = "s(z)(1 - s(z)), s = softmax"  # the Jacobian's diagonal alone

    @property
    def is_derivative(self) -> bool:
        return self in DERIVATIVES


DERIVATIVES = frozenset(
    {
        Kind.SIGMOID_PRIME_OF_Z,
        Kind.OUTPUT_POLY,
        Kind.TANH_PRIME_OF_Z,
        Kind.ONE_MINUS_SQUARE,
        Kind.STEP,
        Kind.SOFTMAX_DIAG_OF_Z,
    }
)
ACTIVATION_KINDS = frozenset({Kind.SIGMOID, Kind.TANH, Kind.RELU, Kind.SOFTMAX})

LOG_SOFTMAX_FUNCS = frozenset(
    {"torch.nn.functional.log_softmax", "torch.log_softmax", "scipy.special.log_softmax"}
)
LOGSUMEXP_FUNCS = frozenset({"scipy.special.logsumexp", "torch.logsumexp"})
LIBRARIES = ("numpy.", "scipy.", "torch.", "math.", "jax.", "cupy.")

_HELPER_NAME = re.compile(
    r"sigm|tanh|relu|softmax|logistic|expit|prime|deriv|grad|activ|jacobian|^d_?[a-z]",
    re.IGNORECASE,
)

_NAME_KINDS = {
    "sigmoid": Kind.SIGMOID,
    "logistic": Kind.SIGMOID,
    "expit": Kind.SIGMOID,
    "tanh": Kind.TANH,
    "relu": Kind.RELU,
    "softmax": Kind.SOFTMAX,
}


@dataclass(frozen=True)
class Form:
    kind: Kind
    operand: cst.BaseExpression  # what the formula is applied to, as written at this site
    via: Scope | None = None  # the helper function, when called through one


def _same(a: cst.CSTNode, b: cst.CSTNode) -> bool:
    return a.deep_equals(b)


def _is_one(node: cst.BaseExpression) -> bool:
    return number_value(node) == 1.0


def _square_of(model: ModuleModel, node: cst.BaseExpression) -> cst.BaseExpression | None:
    """``x**2``, ``x * x``, ``np.square(x)``, ``np.power(x, 2)`` -> x."""
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Power) and number_value(node.right) == 2.0:
            return node.left
        if isinstance(node.operator, cst.Multiply) and _same(node.left, node.right):
            return node.left
    if isinstance(node, cst.Call):
        qn = model.qualname(node.func)
        args = positional_args(node)
        if qn in ("numpy.square", "torch.square") and len(args) == 1:
            return args[0]
        if qn in ("numpy.power", "torch.pow") and len(args) == 2 and number_value(args[1]) == 2.0:
            return args[0]
    return None


def one_minus(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """``1 - x`` -> x."""
    if (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, cst.Subtract)
        and _is_one(node.left)
    ):
        return node.right
    return None


def _unshifted(model: ModuleModel, node: cst.BaseExpression) -> cst.BaseExpression:
    """``x - x.max(...)`` / ``x - np.max(x, ...)`` -> x: the softmax is shift-invariant."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract):
        right = node.right
        if isinstance(right, cst.Call):
            args = positional_args(right)
            if model.qualname(right.func) in ("numpy.max", "numpy.amax", "torch.max") and args:
                if args[0].deep_equals(node.left):
                    return node.left
            func = right.func
            if isinstance(func, cst.Attribute) and func.attr.value == "max":
                if func.value.deep_equals(node.left):
                    return node.left
    return node


def _same_bare(a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    """Equal up to the parentheses around the whole expression."""
    bare = {"lpar": [], "rpar": []}
    return a.with_changes(**bare).deep_equals(b.with_changes(**bare))


def _flag_test(test: cst.BaseExpression) -> str | None:
    """``flag``, ``flag == True``, ``flag is True`` -> flag."""
    if isinstance(test, cst.Name):
        return test.value
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comp = test.comparisons[0]
        if (
            isinstance(comp.operator, cst.Equal | cst.Is)
            and isinstance(test.left, cst.Name)
            and _is_true(comp.comparator)
        ):
            return test.left.value
    return None


def sigmoid_without_minus(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """``1 / (1 + exp(v))`` with ``v`` not negated: σ(−v), a sigmoid that lost its minus sign.
    Returns the ``exp`` call."""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)):
        return None
    if number_value(node.left) != 1.0:
        return None
    den = node.right
    if not (isinstance(den, cst.BinaryOperation) and isinstance(den.operator, cst.Add)):
        return None
    for one, exp in ((den.left, den.right), (den.right, den.left)):
        if number_value(one) != 1.0 or not isinstance(exp, cst.Call):
            continue
        name = dotted(exp.func) or ""
        args = positional_args(exp)
        if name.rsplit(".", 1)[-1] != "exp" or len(args) != 1:
            continue
        if _unsigned(args[0]):
            return exp
    return None


def _unsigned(node: cst.BaseExpression) -> bool:
    """An expression with no minus sign anywhere at its top level (names, calls, products and
    sums of them): ``exp(b - x)`` or ``exp(-x + b)`` is a shifted sigmoid, not a lost minus."""
    if isinstance(node, cst.Name | cst.Attribute | cst.Subscript | cst.Call):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, cst.Add | cst.Multiply | cst.MatrixMultiply
    ):
        return all(
            _unsigned(side) or (number_value(side) or -1.0) > 0 for side in (node.left, node.right)
        ) and not all(number_value(side) is not None for side in (node.left, node.right))
    return False


def negated(node: cst.BaseExpression) -> bool:
    """``-x``, ``-1 * x``, ``x * -1.0``, ``0 - x``."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return True
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Multiply | cst.Divide):
            return any((number_value(side) or 0.0) < 0 for side in (node.left, node.right))
        if isinstance(node.operator, cst.Subtract):
            return number_value(node.left) == 0.0
    return False


def _attribute_test(test: cst.BaseExpression) -> tuple[str, str | None] | None:
    """``self.attr == 'text'`` / ``'text' == self.attr`` / ``self.attr is None`` ->
    (attr, 'text' or None)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    comp = test.comparisons[0]
    if not isinstance(comp.operator, cst.Equal | cst.Is):
        return None
    for side, other in ((test.left, comp.comparator), (comp.comparator, test.left)):
        if (
            isinstance(side, cst.Attribute)
            and isinstance(side.value, cst.Name)
            and side.value.value == "self"
        ):
            if isinstance(other, cst.Name) and other.value == "None":
                return side.attr.value, None
            text = string_value(other)
            if text is not None:
                return side.attr.value, text
    return None


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _is_true(node: cst.BaseExpression | None) -> bool:
    return (isinstance(node, cst.Name) and node.value == "True") or number_value(node) == 1.0


def _is_false(node: cst.BaseExpression | None) -> bool:
    return (isinstance(node, cst.Name) and node.value == "False") or number_value(node) == 0.0


def _returns_of(stmts: object) -> list[cst.BaseExpression]:
    out: list[cst.BaseExpression] = []
    for stmt in stmts:  # type: ignore[attr-defined]
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Return) and small.value is not None:
                    out.append(small.value)
    return out


def _only_return(stmts: object) -> cst.BaseExpression | None:
    """The returned value of a block that is one return statement."""
    stmts = list(stmts)  # type: ignore[call-overload]
    if len(stmts) != 1:
        return None
    found = _returns_of(stmts)
    return found[0] if len(found) == 1 else None


class Forms:
    """Memoised form recognition over one module model."""

    def __init__(self, model: ModuleModel) -> None:
        self.m = model
        self._helpers: dict[Scope, Kind | None] = {}
        self.algebra = Algebra(model)
        self._flags: dict[
            Scope, tuple[str, int, cst.BaseExpression, cst.BaseExpression] | None
        ] = {}

    # --- calls ---------------------------------------------------------------------------------

    def call_kind(self, call: cst.Call, scope: Scope) -> Form | None:
        """A call to a library activation or to a helper of this module with a known body."""
        args = positional_args(call)
        qn = self.m.qualname(call.func)
        if qn is None:  # self.act = np.tanh; self.act(z), acts["tanh"](z)
            qn = held_library(self.m, call.func, scope)
        if qn is None:  # np.apply_along_axis(softmax_row, 1, z): the helper's form, row by row
            applied = self._applied_kind(call, scope)
            if applied is not None:
                return applied
        if qn is not None and qn.startswith(LIBRARIES):
            kind = N.ACTIVATIONS.get(qn)
            if kind is not None and args:
                return Form(Kind(kind), args[0])
            if qn in ("numpy.exp", "torch.exp", "math.exp") and args:
                return Form(Kind.EXP, args[0])
            if qn in LOG_SOFTMAX_FUNCS and args:
                return Form(Kind.LOG_SOFTMAX, args[0])
            if qn in ("numpy.maximum", "torch.maximum", "torch.clamp_min") and len(args) == 2:
                for zero, x in ((args[0], args[1]), (args[1], args[0])):
                    if number_value(zero) == 0.0:
                        return Form(Kind.RELU, x)
            if qn in ("numpy.clip", "torch.clamp") and args:
                lo = args[1] if len(args) > 1 else None
                for a in call.args:
                    if a.keyword is not None and a.keyword.value in ("a_min", "min"):
                        lo = a.value
                hi = args[2] if len(args) > 2 else None
                if number_value(lo) == 0.0 and (
                    hi is None or (isinstance(hi, cst.Name) and hi.value == "None")
                ):
                    return Form(Kind.RELU, args[0])
            if qn in ("numpy.heaviside",) and args:
                return Form(Kind.STEP, args[0])
            if qn in ("numpy.where", "torch.where") and len(args) == 3:
                cond = args[0]
                if (
                    isinstance(cond, cst.Comparison)
                    and len(cond.comparisons) == 1
                    and isinstance(
                        cond.comparisons[0].operator, cst.GreaterThan | cst.GreaterThanEqual
                    )
                    and number_value(cond.comparisons[0].comparator) == 0.0
                ):
                    x = cond.left
                    if _is_one(args[1]) and number_value(args[2]) == 0.0:
                        return Form(Kind.STEP, x)
                    if _same(args[1], x) and number_value(args[2]) == 0.0:
                        return Form(Kind.RELU, x)
            return None
        func = call.func
        # method forms: x.clip(min=0), (x > 0).astype(float)
        if isinstance(func, cst.Attribute) and func.attr.value in ("astype", "float", "double"):
            inner = self.form(func.value, scope)
            if inner is not None and inner.kind is Kind.STEP:
                return inner
        helper = self.m.local_function(func, scope)
        if helper is not None and args:
            flagged = self.flag_call_kind(call, helper)
            if flagged is not None:
                return Form(flagged, args[0], helper)
            if self._switched_on(call, helper):
                return None  # a derivative branch we cannot read is not the activation
            kind = self.helper_kind(helper)
            if kind is not None:
                return Form(kind, args[0], helper)
        if helper is None and args and _HELPER_NAME.search(dotted(func) or ""):
            # reading a sibling module costs a parse: only for names a helper would have
            imported = self.m.imported_function(func)
            if imported is not None:
                kind = imported[0].forms.helper_kind(imported[1])
                if kind is not None:
                    return Form(kind, args[0])
        # a helper we cannot see (a method of an unknown object): its name
        name = (dotted(func) or "").rsplit(".", 1)[-1].lower()
        if args and helper is None and name in _NAME_KINDS:
            return Form(_NAME_KINDS[name], args[0])
        return None

    def _applied_kind(self, call: cst.Call, scope: Scope) -> Form | None:
        app = application(self.m, call)
        if app is None:
            return None
        fn = applied_function(self.m, app, scope)
        kind = self.helper_kind(fn) if fn is not None else None
        return Form(kind, app.array, fn) if kind is not None else None

    def helper_kind(self, fn: Scope) -> Kind | None:
        """What a one-parameter helper computes from its first parameter, from its body."""
        key = fn
        if key in self._helpers:
            return self._helpers[key]
        self._helpers[key] = None  # recursion guard
        params = [p for p in fn.params if p not in ("self", "cls")]
        kind: Kind | None = None
        returned = fn.returns[0] if len(fn.returns) == 1 else self.switched_return(fn)
        if params and returned is not None:
            ret = single_value(returned, fn)
            form = self.form(ret, fn)
            required = [p for p in params if p not in fn.param_defaults]
            if form is not None and isinstance(form.operand, cst.Name):
                if form.operand.value == params[0] and (
                    len(required) <= 1 or form.kind not in DERIVATIVES
                ):
                    kind = form.kind
        if kind is None and params and not (returned is not None and self._mirrored(returned, fn)):
            base = fn.name.lower().lstrip("_")
            if base in _NAME_KINDS:
                kind = _NAME_KINDS[base]
        self._helpers[key] = kind
        return kind

    def flag_branches(
        self, fn: Scope
    ) -> tuple[str, int, cst.BaseExpression, cst.BaseExpression] | None:
        """A helper with a derivative switch: ``def f(x, derivative=False): if derivative:
        return D; return F`` -> (flag name, its position among the arguments, D, F). The flag
        is a parameter with a ``False`` default; the test is the flag itself, ``flag == True``
        or ``flag is True``; the two returns are the branch and what follows it (or its else)."""
        if fn in self._flags:
            return self._flags[fn]
        self._flags[fn] = None
        params = [p for p in fn.params if p not in ("self", "cls")]
        if not isinstance(fn.node, cst.FunctionDef) or not isinstance(
            fn.node.body, cst.IndentedBlock
        ):
            return None
        body = fn.node.body.body
        for i, stmt in enumerate(body):
            if not isinstance(stmt, cst.If):
                continue
            flag = _flag_test(stmt.test)
            default = fn.param_defaults.get(flag or "")
            if flag is None or flag not in params[1:] or not _is_false(default):
                continue
            on = _only_return(stmt.body.body)
            if isinstance(stmt.orelse, cst.Else):
                off = _only_return(stmt.orelse.body.body)
            else:
                off = next(iter(_returns_of(body[i + 1 : i + 2])), None)
            if on is not None and off is not None:
                self._flags[fn] = (flag, params.index(flag), on, off)
            break
        return self._flags[fn]

    def _mirrored(self, returned: cst.BaseExpression, fn: Scope) -> bool:
        """The body computes σ(−x) (``1 / (1 + exp(x))``): not the sigmoid its name says."""
        return sigmoid_without_minus(single_value(returned, fn)) is not None

    def switched_return(self, fn: Scope) -> cst.BaseExpression | None:
        """What a method returns when it dispatches on an attribute that holds one value in
        every instance: ``if self.activation == 'relu': return A elif self.activation ==
        'sigmoid': return B ...`` with every layer built as ``Layer(n, m, 'sigmoid')`` returns
        B (see ``ModuleModel.attribute_constant``)."""
        if fn.cls is None or not isinstance(fn.node, cst.FunctionDef):
            return None
        if not isinstance(fn.node.body, cst.IndentedBlock):
            return None
        body = [s for s in fn.node.body.body if not _is_docstring(s)]
        for i, stmt in enumerate(body):
            if not isinstance(stmt, cst.If):
                return None
            node: cst.If | cst.Else | None = stmt
            while isinstance(node, cst.If):
                test = _attribute_test(node.test)
                if test is None:
                    return None
                attr, wanted = test
                value = self.m.attribute_constant(fn.cls, attr)
                if value is None:
                    return None
                if value[0] == wanted:
                    return _only_return(node.body.body)
                node = node.orelse
            if isinstance(node, cst.Else):
                return _only_return(node.body.body)
            rest = _returns_of(body[i + 1 : i + 2])
            return rest[0] if len(rest) == 1 else None
        return None

    def flag_call_kind(self, call: cst.Call, fn: Scope) -> Kind | None:
        """What a call of a derivative-switch helper computes from its first argument: the
        derivative branch when the call turns the flag on (``f(z, derivative=True)``,
        ``f(z, True)``), the other branch otherwise."""
        found = self.flag_branches(fn)
        if found is None:
            return None
        flag, position, on, off = found
        value: cst.BaseExpression | None = None
        for a in call.args:
            if a.keyword is not None and a.keyword.value == flag:
                value = a.value
        args = positional_args(call)
        if value is None and position < len(args):
            value = args[position]
        branch = on if _is_true(value) else off if value is None or _is_false(value) else None
        if branch is None:
            return None
        params = [p for p in fn.params if p not in ("self", "cls")]
        form = self.form(single_value(branch, fn), fn)
        if form is None:
            return None
        operand = _strip_offset(single_value(form.operand, fn))
        if isinstance(operand, cst.Name) and operand.value == params[0]:
            return form.kind
        if form.kind is Kind.OUTPUT_POLY:
            inner = self.form(self.through_local(form.operand, fn), fn)
            if (
                inner is not None
                and inner.kind is Kind.SOFTMAX
                and isinstance(inner.operand, cst.Name)
                and inner.operand.value == params[0]
            ):
                return Kind.SOFTMAX_DIAG_OF_Z
        return None

    def _switched_on(self, call: cst.Call, fn: Scope) -> bool:
        """The call turns a derivative switch of ``fn`` on."""
        found = self.flag_branches(fn)
        if found is None:
            return False
        flag, position, _on, _off = found
        for a in call.args:
            if a.keyword is not None and a.keyword.value == flag:
                return _is_true(a.value)
        args = positional_args(call)
        return position < len(args) and _is_true(args[position])

    def through_local(self, expr: cst.BaseExpression, scope: Scope) -> cst.BaseExpression:
        """The value a local name holds where it is read, when one plain assignment in
        ``scope`` is all that reaches the read: ``s = sigmoid(z); ... s`` -> ``sigmoid(z)``
        (in an ``if`` arm, the other arm's assignments do not count: ``ModuleModel.reaching``).
        Anything else, a comprehension's own variable included, is returned as it is."""
        if isinstance(expr, cst.Name):
            bs = scope.bindings.get(expr.value, [])
            if bs:
                reach = self.m.reaching(expr, scope)
                if reach is not None:
                    bs = [b for b in reach if b in bs]
            if len(bs) == 1 and bs[0].kind == "assign" and bs[0].value is not None:
                return bs[0].value
        return expr

    # --- expressions ---------------------------------------------------------------------------

    def form(self, node: cst.BaseExpression, scope: Scope) -> Form | None:
        if isinstance(node, cst.Call):
            return self.call_kind(node, scope)
        if isinstance(node, cst.Comparison):
            if (
                len(node.comparisons) == 1
                and isinstance(node.comparisons[0].operator, cst.GreaterThan | cst.GreaterThanEqual)
                and number_value(node.comparisons[0].comparator) == 0.0
            ):
                return Form(Kind.STEP, node.left)
            return None
        if not isinstance(node, cst.BinaryOperation):
            return None
        op = node.operator
        if isinstance(op, cst.Divide):
            # 1 / (1 + exp(-x))
            if _is_one(node.left) and isinstance(node.right, cst.BinaryOperation):
                den = node.right
                if isinstance(den.operator, cst.Add):
                    for one, e in ((den.left, den.right), (den.right, den.left)):
                        if _is_one(one) and isinstance(e, cst.Call):
                            f = self.call_kind(e, scope)
                            if f is not None and f.kind is Kind.EXP:
                                arg = f.operand
                                if isinstance(arg, cst.UnaryOperation) and isinstance(
                                    arg.operator, cst.Minus
                                ):
                                    return Form(Kind.SIGMOID, arg.expression)
            # exp(-x) / (1 + exp(-x))**2: σ′(x)
            sq = _square_of(self.m, node.right)
            num_form = self.call_kind(node.left, scope) if isinstance(node.left, cst.Call) else None
            if sq is not None and num_form is not None and num_form.kind is Kind.EXP:
                arg = num_form.operand
                if (
                    isinstance(arg, cst.UnaryOperation)
                    and isinstance(arg.operator, cst.Minus)
                    and isinstance(sq, cst.BinaryOperation)
                    and isinstance(sq.operator, cst.Add)
                ):
                    for one, e in ((sq.left, sq.right), (sq.right, sq.left)):
                        if _is_one(one) and isinstance(e, cst.Call) and _same_bare(e, node.left):
                            return Form(Kind.SIGMOID_PRIME_OF_Z, arg.expression)
            # (exp(x) - exp(-x)) / (exp(x) + exp(-x)): tanh
            tanh = self._tanh_quotient(node, scope)
            if tanh is not None:
                return Form(Kind.TANH, tanh)
            # exp(x) / sum(exp(x)), or e = exp(x); e / e.sum(): softmax
            num = node.left
            exp_call = self.through_local(num, scope)
            if isinstance(exp_call, cst.Call):
                f = self.call_kind(exp_call, scope)
                den = self.through_local(node.right, scope)
                if (
                    f is not None
                    and f.kind is Kind.EXP
                    and (self._is_sum_of(den, num) or self._is_sum_of(den, exp_call))
                ):
                    return Form(Kind.SOFTMAX, _unshifted(self.m, f.operand))
            return None
        if isinstance(op, cst.Multiply):
            # x * (1 - x)  /  s(x) * (1 - s(x))
            pair = self.poly_pair([node.left], [node.right], scope)
            if pair is not None:
                return pair
            # 1.0 * (x > 0)
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if _is_one(a):
                    inner = self.form(b, scope)
                    if inner is not None and inner.kind is Kind.STEP:
                        return inner
            # x * (x > 0): relu
            for a, b in ((node.left, node.right), (node.right, node.left)):
                inner = self.form(b, scope) if isinstance(b, cst.Comparison) else None
                if inner is not None and inner.kind is Kind.STEP and _same(inner.operand, a):
                    return Form(Kind.RELU, a)
            return None
        if isinstance(op, cst.Subtract) and not _is_one(node.left):
            if self._is_log_normaliser(node.right, scope):
                return Form(Kind.LOG_SOFTMAX, node.left)
            if self._is_diag(node.left) and self._is_outer(node.right):
                diag_args = positional_args(node.left)  # type: ignore[arg-type]
                if diag_args:
                    return Form(Kind.SOFTMAX_JACOBIAN, diag_args[0])
        if isinstance(op, cst.Subtract) and _is_one(node.left):
            sq = _square_of(self.m, node.right)
            if sq is not None:
                inner = self.form(self.through_local(sq, scope), scope)
                if inner is not None and inner.kind is Kind.TANH:
                    return Form(Kind.TANH_PRIME_OF_Z, inner.operand)
                return Form(Kind.ONE_MINUS_SQUARE, sq)
        if isinstance(op, cst.Subtract | cst.Add):
            return self._expanded_poly(node, scope)
        return None

    def _expanded_poly(self, node: cst.BinaryOperation, scope: Scope) -> Form | None:
        """x(1 − x) in an expanded spelling: ``x - x**2``, ``x - np.square(x)``, ``-x*x + x``."""
        poly = self.algebra.poly(node, scope, follow=False)
        found = output_poly(poly) if poly is not None else None
        if found is None or found[1] != 1:
            return None
        x = self.algebra.atom(found[0])
        inner = self.form(self.through_local(x, scope), scope)
        if inner is not None and inner.kind is Kind.SIGMOID:
            return Form(Kind.SIGMOID_PRIME_OF_Z, inner.operand)
        return Form(Kind.OUTPUT_POLY, x)

    def _tanh_quotient(self, node: cst.BinaryOperation, scope: Scope) -> cst.BaseExpression | None:
        num, den = node.left, node.right
        if not (
            isinstance(num, cst.BinaryOperation)
            and isinstance(num.operator, cst.Subtract)
            and isinstance(den, cst.BinaryOperation)
            and isinstance(den.operator, cst.Add)
        ):
            return None
        exps = []
        for side in (num.left, num.right, den.left, den.right):
            f = self.call_kind(side, scope) if isinstance(side, cst.Call) else None
            if f is None or f.kind is not Kind.EXP:
                return None
            exps.append(f.operand)
        x, neg = exps[0], exps[1]
        if not (
            isinstance(neg, cst.UnaryOperation)
            and isinstance(neg.operator, cst.Minus)
            and _same(neg.expression, x)
        ):
            return None
        if {self.m.src(exps[2]), self.m.src(exps[3])} != {self.m.src(x), self.m.src(neg)}:
            return None
        return x

    def derivative_in_product(self, node: cst.BinaryOperation, scope: Scope) -> Form | None:
        """``delta * a * (1 - a)``: a derivative pair completed by this node's right factor."""
        if not isinstance(node.operator, cst.Multiply):
            return None
        return self.poly_pair(factors_of(node.left), [node.right], scope)

    def poly_pair(
        self, firsts: list[cst.BaseExpression], seconds: list[cst.BaseExpression], scope: Scope
    ) -> Form | None:
        """``x`` in one list and ``1 - x`` in the other (either way round): x(1 − x), read as
        σ′(z) when x is itself σ(z) (directly or through a local name)."""
        for f in firsts:
            for g in seconds:
                for a, b in ((f, g), (g, f)):
                    rest = one_minus(b)
                    if rest is not None and _same(a, rest):
                        inner = self.form(self.through_local(a, scope), scope)
                        if inner is not None and inner.kind is Kind.SIGMOID:
                            return Form(Kind.SIGMOID_PRIME_OF_Z, inner.operand)
                        return Form(Kind.OUTPUT_POLY, a)
        return None

    def _is_log_normaliser(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """``np.log(np.sum(np.exp(x)))``, ``np.log(Z)`` with Z such a sum, ``logsumexp(x)``."""
        if isinstance(node, cst.Call):
            qn = self.m.qualname(node.func)
            args = positional_args(node)
            if qn in LOGSUMEXP_FUNCS:
                return True
            if qn in ("numpy.log", "torch.log") and args:
                inner = self.through_local(args[0], scope)
                return self._is_sum_of_exp(inner, scope)
        return False

    def _is_sum_of_exp(self, node: cst.BaseExpression, scope: Scope) -> bool:
        if not isinstance(node, cst.Call):
            return False
        qn = self.m.qualname(node.func)
        args = positional_args(node)
        summed = None
        if qn in ("numpy.sum", "torch.sum") and args:
            summed = args[0]
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "sum":
            summed = node.func.value
        if summed is None:
            return False
        summed = self.through_local(summed, scope)
        f = self.call_kind(summed, scope) if isinstance(summed, cst.Call) else None
        return f is not None and f.kind is Kind.EXP

    def _is_diag(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Call) and self.m.qualname(node.func) in (
            "numpy.diagflat",
            "numpy.diag",
            "torch.diag",
            "torch.diag_embed",
        )

    def _is_outer(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call) and self.m.qualname(node.func) in (
            "numpy.outer",
            "torch.outer",
        ):
            return True
        mm = self.m.matmul(node)
        return mm is not None

    def _is_sum_of(self, node: cst.BaseExpression, exp_call: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call):
            args = positional_args(node)
            qn = self.m.qualname(node.func)
            if qn in ("numpy.sum", "torch.sum") and args and _same(args[0], exp_call):
                return True
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value == "sum":
                return _same(func.value, exp_call)
        return False


def _strip_offset(node: cst.BaseExpression) -> cst.BaseExpression:
    """``x + 1e-12`` (a tiny offset against log(0) or division by 0) -> ``x``."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        for a, b in ((node.left, node.right), (node.right, node.left)):
            v = number_value(b)
            if v is not None and 0 < abs(v) < 1e-3:
                return a
    return node
