"""A loss whose backward is not the derivative of its forward.

A loss class pairs a forward method (``forward``, ``loss``, ``__call__``, ``fn`` ...) taking a
prediction and a target with a backward method (``backward``, ``gradient``, ``grad``,
``derivative``, ``delta`` ...) that returns the loss's gradient; a module-level ``X_forward`` /
``X_backward`` pair is read the same way. Both formulas are read into a small elementwise
expression language (the two inputs, constants, ``+ - * /``, powers, ``log``, ``exp``, sums and
means, a batch size) by following local names, ``self.`` attributes and ``self.`` helper methods
to their one assignment; anything else (indexing, branches the reading cannot resolve, unknown
calls) makes the pair unreadable and it is not judged. The forward formula is differentiated
symbolically here; the derivative and the backward formula are then compared as functions by
evaluating both expressions (never the user's code) at a few seeded points.

Precision first. A backward is accepted when it is the derivative up to a positive constant
(a missing ``1/N`` or ``2`` is a learning-rate matter), and also when it is the derivative times
an output activation's derivative written on the prediction, ``p(1 - p)`` or ``1 - p²`` (the
class returns dL/dz for a sigmoid or tanh output: BCE's ``p - y``), or, for the cross-entropy
``-y log p``, ``p - y`` (the softmax folded in). A forward that applies its own softmax or
sigmoid is differentiated through it (the softmax's Jacobian, with a one-hot target). A
symmetric loss (MSE) may be differentiated in either input, so its sign is never judged.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from linter.analysis.collect import Scope
from linter.analysis.elementwise import (
    N_VALUE,
    Expr,
    Reader,
    Unreadable,
    constant,
    derivative,
    evaluate,
    method_pairs,
    proportional,
    substitute,
    symbols,
    top_level_return,
)
from linter.analysis.exprs import number_value
from linter.analysis.model import ModuleModel

FORWARD_NAMES = ("forward", "loss", "__call__", "fn", "function", "compute", "calculate", "cost")
BACKWARD_NAMES = (
    "backward",
    "gradient",
    "grad",
    "derivative",
    "deriv",
    "prime",
    "delta",
    "backprop",
    "dloss",
)


@dataclass(frozen=True)
class LossPair:
    forward: Scope
    backward: Scope
    cls: str | None  # the concrete class the pair is read for


@dataclass(frozen=True)
class LossMismatch:
    """``node`` (what ``pair.backward`` returns) is not the derivative of ``pair.forward``'s
    loss; ``sign`` when it is the derivative with its sign flipped."""

    node: cst.BaseExpression
    pair: LossPair
    loss: str  # "mean squared error", "cross-entropy", ... or "" when not a named one
    expected: str  # the derivative, written on the forward's parameter names
    sign: bool


# --- the expression language (shared with ``actgrad``: ``elementwise``) -----------------------


def _sums_linear(e: Expr, linear: bool = True) -> bool:
    """Reductions only where the loss is linear in them: a sum of sums, scaled by constants."""
    op = e[0]
    if op in ("c", "v", "S", "G", "N"):
        return True
    if op == "sum":
        return linear and _sums_linear(e[1], linear)
    if op == "+":
        return _sums_linear(e[1], linear) and _sums_linear(e[2], linear)
    if op == "*":
        a, b = e[1], e[2]
        return _sums_linear(a, linear and constant(b)) and _sums_linear(b, linear and constant(a))
    if op == "/":
        return _sums_linear(e[1], linear and constant(e[2])) and _sums_linear(e[2], False)
    return all(_sums_linear(a, False) for a in e[1:] if isinstance(a, tuple))


class _Reader(Reader):
    """A loss's reader: a clip against log(0) reads as its argument, a softmax or sigmoid of the
    input is the symbol S or G."""


# --- pairs ---------------------------------------------------------------------------------------


def _loss_params(fn: Scope) -> list[str]:
    return [p for p in fn.params if p not in ("self", "cls") and p not in fn.param_defaults]


def _backward_slots(model: ModuleModel, fwd: Scope, bwd: Scope) -> dict[str, Expr] | None:
    """The backward's parameters as the pair's inputs: by position when it takes as many as the
    forward, by name when it takes more; the scalar upstream gradient of a loss layer
    (``backward(self, dout=1)``, or its one parameter when the inputs come through ``self``) is a
    positive scale."""
    fparams = _loss_params(fwd)
    bparams = [p for p in bwd.params if p not in ("self", "cls")]
    required = [p for p in bparams if p not in bwd.param_defaults]
    out: dict[str, Expr] = {}
    for p in bparams:
        default = number_value(bwd.param_defaults.get(p))
        if p in bwd.param_defaults:
            if default is None or default <= 0:
                return None
            out[p] = ("c", default)
    if len(required) == len(fparams):
        out.update({p: ("v", i) for i, p in enumerate(required)})
    elif set(fparams) <= set(required):
        out.update({p: ("v", fparams.index(p)) for p in fparams})
    elif len(required) == 1:
        out[required[0]] = ("N",)
    elif required:
        return None
    return out


def loss_pairs(model: ModuleModel) -> Iterator[LossPair]:
    for fwd, bwd, cls in method_pairs(model, ((FORWARD_NAMES, BACKWARD_NAMES),)):
        yield LossPair(fwd, bwd, cls)


def _read_pair(
    model: ModuleModel, pair: LossPair
) -> tuple[Expr, list[tuple[cst.BaseExpression, Expr]]] | None:
    fparams = _loss_params(pair.forward)
    if len(fparams) != 2 or len(pair.forward.returns) != 1:
        return None
    bslots = _backward_slots(model, pair.forward, pair.backward)
    if bslots is None or not pair.backward.returns:
        return None
    slots = {
        pair.forward: {p: ("v", i) for i, p in enumerate(fparams)},
        pair.backward: bslots,
    }
    if not top_level_return(pair.forward.returns[0], pair.forward):
        return None
    reader = _Reader(model, pair.cls, slots)
    returns = [r for r in pair.backward.returns if top_level_return(r, pair.backward)]
    try:
        forward = reader.read(pair.forward.returns[0], pair.forward, None)
        backs = [(r, reader.read(r, pair.backward, None)) for r in returns]
    except (Unreadable, RecursionError):
        return None
    if not _sums_linear(forward):
        return None
    return forward, backs


# --- comparing ------------------------------------------------------------------------------------

_SAMPLES = 5
_K = 4


def _batch_power(c: float) -> bool:
    """``c`` is 1/N, 1 or N: the batch size is the one constant a p - y may differ by."""
    return any(abs(c - N_VALUE**k) < 1e-9 * N_VALUE**k for k in (-1, 0, 1))


def _softmax(z: list[float]) -> list[float]:
    m = max(z)
    e = [math.exp(x - m) for x in z]
    s = math.fsum(e)
    return [x / s for x in e]


def _verdict(forward: Expr, back: Expr) -> str | None:
    """None when ``back`` is an accepted derivative of ``forward``; "sign" or "wrong"."""
    syms = symbols(forward)
    r = random.Random(20)
    acts = [s for s in syms if s[0] in ("S", "G")]
    slots = sorted(s for s in syms if s[0] == "v")
    if acts:
        if len(acts) != 1 or len(slots) != 1:
            return None
        act, target = acts[0], slots[0]
        other = ("v", 1 - target[1])
        g = derivative(forward, act)
        true_vals, dl_dp, backs, residuals = [], [], [], []
        for _ in range(_SAMPLES):
            z = [r.gauss(0.0, 1.0) for _ in range(_K)]
            if act == ("S",):
                p = _softmax(z)
                y = [0.0] * _K
                y[r.randrange(_K)] = 1.0
            else:
                p = [1 / (1 + math.exp(-x)) for x in z]
                y = [r.uniform(0.05, 0.95) for _ in range(_K)]
            env = {act: p, target: y, other: z}
            gv = evaluate(g, env, _K)
            if act == ("S",):
                dot = math.fsum(pi * gi for pi, gi in zip(p, gv, strict=True))
                dv = [pi * (gi - dot) for pi, gi in zip(p, gv, strict=True)]
            else:
                # p is the sigmoid in this branch
                dv = [gi * pi * (1 - pi) for pi, gi in zip(p, gv, strict=True)]
            true_vals.append(dv)
            dl_dp.append(gv)
            backs.append(evaluate(back, env, _K))
            residuals.append([pi - yi for pi, yi in zip(p, y, strict=True)])
        c = proportional(list(zip(backs, true_vals, strict=True)))
        if c is not None and c > 0:
            # p - y times a constant: the constant is exact (2(p - y) is the squared error's)
            exact = proportional(list(zip(true_vals, residuals, strict=True))) is None
            return None if exact or _batch_power(c) else "wrong"
        c2 = proportional(list(zip(backs, dl_dp, strict=True)))
        if c2 is not None and c2 > 0:
            return None
        return "sign" if c is not None and c < 0 else "wrong"
    if not slots:
        return None
    signs: list[float] = []
    samples = []
    for _ in range(_SAMPLES):
        env = {("v", i): [r.uniform(0.05, 0.95) for _ in range(_K)] for i in (0, 1)}
        samples.append(env)
    backs = [evaluate(back, env, _K) for env in samples]
    for v in slots:
        u = ("v", 1 - v[1])
        g = derivative(forward, v)
        gv = [evaluate(g, env, _K) for env in samples]
        forms = [gv]
        # the derivative times an output activation's derivative, written on the prediction
        forms.append(
            [
                # the comprehension's own p (a sigmoid output), not the softmax p above
                [gi * p * (1 - p) for gi, p in zip(gs, env[v], strict=True)]
                for env, gs in zip(samples, gv, strict=True)
            ]
        )
        forms.append(
            [
                [gi * (1 - p * p) for gi, p in zip(gs, env[v], strict=True)]
                for env, gs in zip(samples, gv, strict=True)
            ]
        )
        ce = [[-t / p for p, t in zip(env[v], env[u], strict=True)] for env in samples]
        c_ce = proportional(list(zip(gv, ce, strict=True)))
        if c_ce is not None and c_ce > 0:
            # -y log p: p - y is its gradient through a softmax, with the forward's own scale
            # (up to the batch size)
            shortcut = [[p - t for p, t in zip(env[v], env[u], strict=True)] for env in samples]
            c = proportional(list(zip(backs, shortcut, strict=True)))
            if c is not None and c > 0 and _batch_power(c / c_ce):
                return None
        for i, f in enumerate(forms):
            c = proportional(list(zip(backs, f, strict=True)))
            if c is not None and c > 0:
                return None
            if c is not None and i == 0:
                signs.append(c)
    return "sign" if signs else "wrong"


def _named_loss(forward: Expr) -> tuple[int, str, str] | None:
    """(slot of the prediction, the loss's name, its derivative's template) for the three
    losses backprop code writes by hand."""
    r = random.Random(21)
    samples = [
        {("v", i): [r.uniform(0.05, 0.95) for _ in range(_K)] for i in (0, 1)}
        for _ in range(_SAMPLES)
    ]
    for v in (0, 1):
        if ("v", v) not in symbols(forward):
            continue
        u = 1 - v
        g = derivative(forward, ("v", v))
        gv = [evaluate(g, env, _K) for env in samples]
        templates = (
            ("squared error", "{p} - {y}", lambda p, t: p - t),
            ("cross-entropy", "-{y} / {p}", lambda p, t: -t / p),
            (
                "binary cross-entropy",
                "({p} - {y}) / ({p} * (1 - {p}))",
                lambda p, t: (p - t) / (p * (1 - p)),
            ),
        )
        for name, text, fn in templates:
            want = [
                [fn(p, t) for p, t in zip(env[("v", v)], env[("v", u)], strict=True)]
                for env in samples
            ]
            c = proportional(list(zip(gv, want, strict=True)))
            if c is not None and c > 0:
                return v, name, text
    return None


def loss_mismatches(model: ModuleModel) -> Iterator[LossMismatch]:
    seen: set[cst.CSTNode] = set()
    for pair in loss_pairs(model):
        read = _read_pair(model, pair)
        if read is None:
            continue
        forward, backs = read
        for node, back in backs:
            if node in seen:
                continue
            try:
                verdict = _verdict(forward, back)
            except (Unreadable, ValueError, ZeroDivisionError, OverflowError):
                continue
            if verdict is None:
                continue
            if verdict == "sign" and _ascends(model):
                continue
            seen.add(node)
            loss, expected = _describe(forward, _loss_params(pair.forward))
            yield LossMismatch(node, pair, loss, expected, verdict == "sign")


def _describe(forward: Expr, fparams: list[str]) -> tuple[str, str]:
    """The loss's name and its right gradient, written on the forward's parameters."""
    acts = symbols(forward) & {("S",), ("G",)}
    act = next(iter(acts), None)
    if act is not None:
        target = next(s for s in symbols(forward) if s[0] == "v")
        forward = substitute(forward, act, ("v", 1 - target[1]))
    try:
        named = _named_loss(forward)
    except (Unreadable, ValueError, ZeroDivisionError, OverflowError):
        return "", ""
    if named is None:
        return "", ""
    v, loss, text = named
    p, y = fparams[v], fparams[1 - v]
    if act is None:
        right = f"`{text.format(p=p, y=y)}`, up to a constant factor"
        if loss == "cross-entropy":
            right += f", or `{p} - {y}` as the gradient in the logits of a softmax"
        return loss, right
    squash = "softmax" if act == ("S",) else "sigmoid"
    if (squash, loss) in (("softmax", "cross-entropy"), ("sigmoid", "binary cross-entropy")):
        return f"{squash} {loss}", f"`{squash}({p}) - {y}`, or that over the batch size"
    return f"{loss} of a {squash}", ""


def _ascends(model: ModuleModel) -> bool:
    """Some update adds its step: the module may keep the negative gradient on purpose."""
    return any(u.direction > 0 for u in model.updates())
