"""A fix marked safe never changes what the code computes: shown by running it, for every fix.

For every rule that offers fixes, every INVALID example and every generated variant below is
linted with that rule; each fix offered is applied alone, and the original and the fixed
program are both run and compared:

- **Running an example.** The source is executed in a fresh namespace holding ``np``/``numpy``
  and ``math`` (examples often leave the import out). PyTorch and SciPy spellings run on a small
  numpy stand-in (``_torch_module``: the handful of functions the examples use, defined as the
  libraries define them, e.g. ``log_softmax(x) = x - logsumexp(x)``). Names the example reads
  but never binds are given values: a called one a plain activation (``sigmoid``, ``softmax``,
  ...), any other a seeded array. Then every function the example defines is called, and every
  method of every class it defines (on an instance whose missing attributes are seeded arrays),
  in source order. Arguments are found by search: each parameter tries a matrix, a vector,
  integer labels, an index and an attribute bag, in that order, and the first combination on
  which the *original* runs is used for both programs. The search is repeated for four shape
  families ((4, 6), (5, 5), (1, 7), (6, 1)): these are the generated input variants. Everything
  the two programs produce is compared: return values, the instance's attributes after each
  method, and the module-level values.
- **Safe fixes** must give the same values, to 1e-12 relative (to the largest magnitude of the
  value compared), on every family where the original runs; then the float inputs are scaled
  by 400 (logits up to ~3,000) and wherever the original overflowed (a value finite on the
  ordinary inputs, inf or nan on these), the fixed program must be finite (where one value
  holds two defects, two log-sum-exps on one line, with every fix of the case applied). A safe fix that leaves the program's AST unchanged (a comment
  removed) is equal by construction and is not run. A safe fix on an example that cannot be
  run fails the test: a fix that cannot be shown equal is not safe.
- **Unsafe fixes** change the value on purpose (they fix a bug); they must at least run: on
  some family where the original runs, the fixed program runs too.

Variants beyond the rules' own examples are generated for the softmax family (``VARIANTS``):
every spelling of a softmax ratio, of a log-sum-exp, and the programs the issue found broken
by the old fix (a log-sum-exp inside a loss, a CS231n loss that reuses its sums, a kernel
density, the exponential of log-probabilities).
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import itertools
import math
import signal
import sys
import types
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from linter.engine import lint_source
from linter.fix import apply_edits
from linter.ftypes import Finding, FixSafety
from linter.rule import Rule
from linter.rules import ALL_RULES

FAMILIES = ((4, 6), (5, 5), (1, 7), (6, 1))
KINDS = ("matrix", "vector", "labels", "index", "bag")
EXTREME = 400.0
RTOL = 1e-12
CALL_SECONDS = 2


# --- a numpy stand-in for the torch and scipy functions the examples use ------------------------


class _Tensor(np.ndarray):
    """An ndarray with the torch method spellings the examples use."""

    def t(self) -> _Tensor:
        return self.T

    def log(self) -> _Tensor:
        return np.log(self)

    def exp(self) -> _Tensor:
        return np.exp(self)

    def sum(self, axis=None, dim=None, keepdims=False, keepdim=False, **kw):  # type: ignore[override]
        axis = dim if dim is not None else axis
        return np.ndarray.sum(self, axis=axis, keepdims=keepdims or keepdim, **kw)

    def mean(self, axis=None, dim=None, keepdims=False, keepdim=False, **kw):  # type: ignore[override]
        axis = dim if dim is not None else axis
        return np.ndarray.mean(self, axis=axis, keepdims=keepdims or keepdim, **kw)

    def gather(self, dim: int, index: np.ndarray) -> _Tensor:
        return np.take_along_axis(self, np.asarray(index, dtype=int), axis=dim)


def _logsumexp(x, axis=None, dim=None, keepdims=False, keepdim=False):
    axis = dim if dim is not None else axis
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if (keepdims or keepdim) else np.squeeze(out, axis=axis)


def _softmax(x, dim=None, axis=None, **_kw):
    axis = dim if dim is not None else (axis if axis is not None else -1)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, dim=None, axis=None, **_kw):
    axis = dim if dim is not None else (axis if axis is not None else -1)
    return x - _logsumexp(x, axis=axis, keepdims=True)


def _nll_loss(logp, target, reduction="mean"):
    picked = -np.take_along_axis(logp, np.asarray(target, dtype=int)[:, None], axis=1)[:, 0]
    return picked.mean() if reduction == "mean" else picked.sum()


def _torch_module() -> dict[str, types.ModuleType]:
    torch = types.ModuleType("torch")
    functional = types.ModuleType("torch.nn.functional")
    nn = types.ModuleType("torch.nn")
    linalg = types.ModuleType("torch.linalg")
    autograd = types.ModuleType("torch.autograd")
    for name, fn in {
        "exp": np.exp,
        "log": np.log,
        "matmul": np.matmul,
        "softmax": _softmax,
        "log_softmax": _log_softmax,
        "logsumexp": _logsumexp,
        "pinverse": np.linalg.pinv,
        "inverse": np.linalg.inv,
    }.items():
        setattr(torch, name, fn)
    torch.sum = lambda x, dim=None, keepdim=False: np.sum(x, axis=dim, keepdims=keepdim)
    linalg.inv = np.linalg.inv
    linalg.pinv = np.linalg.pinv
    functional.softmax = _softmax
    functional.log_softmax = _log_softmax
    functional.nll_loss = _nll_loss
    autograd.Function = type("Function", (), {})
    nn.functional = functional
    torch.nn, torch.linalg, torch.autograd = nn, linalg, autograd
    scipy = types.ModuleType("scipy")
    special = types.ModuleType("scipy.special")
    special.logsumexp = _logsumexp
    special.softmax = lambda x, axis=None: _softmax(x, axis=axis)
    scipy_linalg = types.ModuleType("scipy.linalg")
    scipy_linalg.inv = np.linalg.inv
    scipy_linalg.pinv = np.linalg.pinv
    scipy.special, scipy.linalg = special, scipy_linalg
    return {
        "torch": torch,
        "torch.nn": nn,
        "torch.nn.functional": functional,
        "torch.linalg": linalg,
        "torch.autograd": autograd,
        "scipy": scipy,
        "scipy.special": special,
        "scipy.linalg": scipy_linalg,
    }


# --- inputs ---------------------------------------------------------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


FREE_CALLABLES: dict[str, Callable[..., Any]] = {
    "sigmoid": _sigmoid,
    "sigmoid_prime": lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
    "sigmoid_derivative": lambda a: a * (1 - a),
    "softmax": lambda z: _softmax(z, axis=-1),
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
}


def _seed(*parts: object) -> int:
    return zlib.crc32(repr(parts).encode())


@dataclass
class Inputs:
    family: tuple[int, int]
    extreme: bool = False
    tensor: bool = False  # arrays as _Tensor (the example spells torch methods)

    def array(self, shape: tuple[int, ...], *key: object) -> np.ndarray:
        a = np.random.default_rng(_seed(self.family, shape, *key)).standard_normal(shape) * 2.0
        if self.extreme:
            a = a * EXTREME
        return a.view(_Tensor) if self.tensor else a

    def value(self, kind: str, slot: object) -> Any:
        r, c = self.family
        if kind == "matrix":
            return self.array((r, c), slot)
        if kind == "vector":
            return self.array((c,), slot)
        if kind == "labels":
            labels = np.random.default_rng(_seed(self.family, slot)).integers(0, min(r, c), r)
            return labels.view(_Tensor) if self.tensor else labels
        if kind == "index":
            return 0
        return _bag(self, slot)


def _bag(inputs: Inputs, slot: object) -> Any:
    """An object whose missing attributes are seeded matrices (``self.W``, ``ctx.x``)."""

    def missing(obj: Any, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = inputs.array(inputs.family, slot, name)
        object.__setattr__(obj, name, value)
        return value

    return type("Bag", (), {"__getattr__": missing})()


def _with_missing_attributes(cls: type, inputs: Inputs) -> type:
    def missing(obj: Any, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = inputs.array(inputs.family, cls.__name__, name)
        object.__setattr__(obj, name, value)
        return value

    return type(cls.__name__, (cls,), {"__getattr__": missing})


# --- running a program ----------------------------------------------------------------------


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout


def _call(fn: Callable[..., Any], args: list[Any]) -> Any:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CALL_SECONDS)
    try:
        with np.errstate(all="ignore"):
            return fn(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _free_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names read but bound nowhere, those of them that are called)."""
    bound: set[str] = set()
    read: set[str] = set()
    called: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
    free = read - bound - set(dir(builtins)) - {"np", "numpy", "math"}
    return free, free & called


@dataclass
class Run:
    """What one program computed, one entry per thing compared (``None``: it raised)."""

    values: dict[str, list[np.ndarray] | None] = field(default_factory=dict)


def _arrays(value: Any, depth: int = 0) -> list[np.ndarray]:
    if depth > 4:
        return []
    if isinstance(value, np.ndarray | np.generic | float | int) and not isinstance(value, bool):
        return [np.asarray(value, dtype=float)]
    if isinstance(value, list | tuple):
        return [a for v in value for a in _arrays(v, depth + 1)]
    if isinstance(value, dict):
        return [a for k in sorted(value, key=str) for a in _arrays(value[k], depth + 1)]
    if hasattr(value, "__dict__") and not isinstance(value, type | types.ModuleType):
        if callable(value):
            return []
        return _arrays(vars(value), depth + 1)
    return []


class Program:
    """An example's source, executed; its functions and methods, callable with searched args."""

    def __init__(self, source: str, inputs: Inputs) -> None:
        self.source = source
        self.inputs = inputs
        self.tree = ast.parse(source)
        self.free, self.free_called = _free_names(self.tree)

    def namespace(self) -> dict[str, Any] | None:
        ns: dict[str, Any] = {"__name__": "bplint_example", "np": np, "numpy": np, "math": math}
        for name in sorted(self.free):
            ns[name] = (
                FREE_CALLABLES.get(name, _sigmoid)
                if name in self.free_called
                else self.inputs.value("matrix", ("free", name))
            )
        try:
            _call(lambda: exec(compile(self.source, "<example>", "exec"), ns), [])
        except Exception:
            return None
        return ns

    def targets(self) -> Iterator[tuple[str, int]]:
        """(qualified name, number of parameters to fill) of each function and method."""
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef):
                yield node.name, len(node.args.args)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                        static = any(
                            isinstance(d, ast.Name) and d.id == "staticmethod"
                            for d in item.decorator_list
                        )
                        yield f"{node.name}.{item.name}", len(item.args.args) - (not static)

    def run(self, plan: dict[str, tuple[str, ...]]) -> Run:
        """Run with the argument kinds ``plan`` chose per target (module values first)."""
        out = Run()
        ns = self.namespace()
        if ns is None:
            out.values["<module>"] = None
            return out
        out.values["<module>"] = _arrays(
            {k: v for k, v in ns.items() if not k.startswith("__") and k not in self.free}
        )
        instances: dict[str, Any] = {}
        for name, _n in self.targets():
            kinds = plan.get(name)
            if kinds is None:
                continue
            out.values[name] = self._call_target(ns, instances, name, kinds)
        return out

    def _call_target(
        self, ns: dict[str, Any], instances: dict[str, Any], name: str, kinds: tuple[str, ...]
    ) -> list[np.ndarray] | None:
        args = [self.inputs.value(k, (name, i)) for i, k in enumerate(kinds)]
        try:
            if "." in name:
                cls_name, method = name.split(".")
                if cls_name not in instances:
                    cls = _with_missing_attributes(ns[cls_name], self.inputs)
                    instances[cls_name] = cls.__new__(cls)
                obj = instances[cls_name]
                result = _call(getattr(obj, method), copy.deepcopy(args))
                return _arrays(result) + _arrays(dict(vars(obj)))
            return _arrays(_call(ns[name], copy.deepcopy(args)))
        except Exception:
            return None

    def plan(self) -> dict[str, tuple[str, ...]]:
        """For each target, the first argument kinds on which it runs here."""
        chosen: dict[str, tuple[str, ...]] = {}
        if self.namespace() is None:
            return chosen
        for name, n in self.targets():
            for kinds in itertools.islice(itertools.product(KINDS, repeat=n), 400):
                trial = {**chosen, name: kinds}
                if self.run(trial).values.get(name) is not None:
                    chosen[name] = kinds
                    break
        return chosen


# --- comparing ------------------------------------------------------------------------------


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return False
    if not np.array_equal(a[~fa], b[~fb], equal_nan=True):
        return False
    if not fa.any():
        return True
    scale = max(np.max(np.abs(a[fa])), np.max(np.abs(b[fb])), np.finfo(float).tiny)
    return bool(np.max(np.abs(a[fa] - b[fb])) <= RTOL * scale)


def _finite(values: list[np.ndarray] | None) -> bool:
    return values is not None and all(np.isfinite(v).all() for v in values)


# --- what is evaluated ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    rule: type[Rule]
    source: str
    label: str


def _variants() -> list[tuple[str, str]]:
    """Softmax-family programs in every spelling, and the ones the old BP501 fix broke."""
    out: list[tuple[str, str]] = []
    sums = {
        "np.sum(E, axis=A, keepdims=True)": "np",
        "E.sum(axis=A, keepdims=True)": "method",
        "np.sum(E, A, keepdims=True)": "positional",
    }
    for (spelled, tag), axis in itertools.product(sums.items(), ("1", "-1", "0")):
        total = spelled.replace("A", axis)
        out.append(
            (
                f"ratio-{tag}-axis{axis}",
                f"def softmax(z):\n    e = np.exp(z)\n    return e / {total.replace('E', 'e')}\n",
            )
        )
        out.append(
            (
                f"inline-ratio-{tag}-axis{axis}",
                f"def softmax(z):\n    return np.exp(z) / {total.replace('E', 'np.exp(z)')}\n",
            )
        )
        out.append(
            (
                f"lse-{tag}-axis{axis}",
                f"def lse(z):\n    return np.log({total.replace('E', 'np.exp(z)')})\n",
            )
        )
        out.append(
            (
                f"lse-nokeep-{tag}-axis{axis}",
                "def lse(z):\n    return np.log("
                + total.replace("E", "np.exp(z)").replace(", keepdims=True", "")
                + ")\n",
            )
        )
    # sums whose other arguments change the value or the shape (found by an audit: the
    # log-sum-exp fix kept `initial=` and missed a positional keepdims)
    for tag, total in {
        "initial": "np.sum(E, axis=1, initial=1.0)",
        "positional-keepdims": "np.sum(E, 1, None, None, True)",
        "method-positional-keepdims": "E.sum(1, None, None, True)",
        "where": "np.sum(E, axis=1, where=z < 1.0)",
    }.items():
        out.append(
            (f"lse-{tag}", f"def lse(z):\n    return np.log({total.replace('E', 'np.exp(z)')})\n")
        )
        out.append(
            (
                f"ratio-{tag}",
                f"def softmax(z):\n    e = np.exp(z)\n    return e / {total.replace('E', 'e')}\n",
            )
        )
    out += [
        ("ratio-global", "def softmax(z):\n    e = np.exp(z)\n    return e / np.sum(e)\n"),
        (
            "ratio-broadcast",
            "def softmax(z):\n    e = np.exp(z)\n    s = np.sum(e, axis=1)\n"
            "    return e / s[:, None]\n",
        ),
        (
            "ratio-reshape",
            "def softmax(z):\n    e = np.exp(z)\n    s = e.sum(axis=1).reshape(-1, 1)\n"
            "    return e / s\n",
        ),
        (
            "ratio-of-product",
            "def softmax(x, W):\n    e = np.exp(x @ W)\n    return e / e.sum(axis=1, keepdims=True)\n",
        ),
        (
            "issue-lse-in-loss",
            "def loss(z, y):\n    return -z[y] + np.log(np.sum(np.exp(z)))\n",
        ),
        (
            "issue-lse-minus",
            "def loss(z, y):\n    return z[y] - np.log(np.sum(np.exp(z)))\n",
        ),
        (
            "issue-cs231n-reused-sums",
            "def loss(scores, y):\n"
            "    exp_scores = np.exp(scores)\n"
            "    sums = np.sum(exp_scores, axis=1, keepdims=True)\n"
            "    probs = exp_scores / sums\n"
            "    data_loss = np.mean(np.log(sums) - scores[np.arange(len(y)), y][:, None])\n"
            "    return data_loss, probs\n",
        ),
        (
            "issue-cs231n-probs-and-sum",
            "def loss(scores, y):\n"
            "    exp_scores = np.exp(scores)\n"
            "    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)\n"
            "    return probs, exp_scores\n",
        ),
        (
            "issue-kernel-density",
            "def density(x, points, h):\n"
            "    k = np.exp(-((x - points) ** 2) / (2 * h**2))\n"
            "    return np.sum(k) / len(points)\n",
        ),
        (
            "issue-kernel-normalised",
            "def weights(d):\n    k = np.exp(-(d**2))\n    return k / np.sum(k)\n",
        ),
        (
            "issue-log-probs",
            "from scipy.special import logsumexp\n\n"
            "def posterior(log_p):\n"
            "    log_norm = logsumexp(log_p)\n"
            "    p = np.exp(log_p - log_norm)\n"
            "    return p / np.sum(p)\n",
        ),
        (
            "two-lse-one-line",
            "def lse_pair(z):\n"
            "    return np.log(np.sum(np.exp(z), axis=0)) + np.log(np.sum(np.exp(z), axis=1))\n",
        ),
        (
            "two-ratios-one-line",
            "def softmaxes(z):\n"
            "    return np.exp(z) / np.sum(np.exp(z), axis=0), np.exp(z) / np.exp(z).sum()\n",
        ),
        (
            "lse-and-ratio-apart",
            "def both(z, w):\n"
            "    p = np.exp(z) / np.sum(np.exp(z))\n"
            "    return p * w + np.log(np.sum(np.exp(z)))\n",
        ),
        (
            "torch-log-softmax",
            "import torch\nimport torch.nn.functional as F\n\n"
            "def loss(logits, y):\n    return F.nll_loss(torch.log(F.softmax(logits, dim=-1)), y)\n",
        ),
        (
            "torch-log-softmax-method",
            "import torch\n\ndef logp(logits):\n    return torch.softmax(logits, dim=1).log()\n",
        ),
    ]
    return out


def _cases() -> list[Case]:
    cases = []
    fixing = [r for r in ALL_RULES if r.fix_safety is not None]
    for rule in fixing:
        for i, ex in enumerate(rule.invalid):
            cases.append(Case(rule, ex.source, f"{rule.code}-invalid-{i}"))
    softmax_rules = [r for r in fixing if r.code in ("BP501", "BP502")]
    for label, source in _variants():
        for rule in softmax_rules:
            cases.append(Case(rule, source, f"{rule.code}-variant-{label}"))
    return cases


CASES = _cases()


def _fixes(case: Case) -> list[tuple[Finding, str]]:
    report = lint_source(case.source, Path("example.py"), [case.rule])
    out = []
    for f in report.findings:
        if f.fix is not None:
            out.append((f, apply_edits(case.source, f.fix.edits)))
    return out


@dataclass
class Verdict:
    evaluated: int = 0  # fixes run and compared
    proved_by_ast: int = 0
    overflow_repaired: int = 0
    problems: list[str] = field(default_factory=list)


def _repaired_jointly(case: Case, plan: Any, extreme: Inputs, key: str) -> bool:
    """Two defects in one value (two log-sum-exps of one line): each fix alone keeps the value
    and repairs its own exponential, the other still overflows; with every fix the rule offers
    applied together, the value must be finite (and, ordinary inputs, unchanged: checked by
    ``test_joint_fixes_keep_values``)."""
    joint = _joint(case)
    if joint is None:
        return False
    return _finite(Program(joint, extreme).run(plan).values.get(key))


def _joint(case: Case) -> str | None:
    """The source with every safe fix of the case applied at once (None: fewer than two)."""
    report = lint_source(case.source, Path("example.py"), [case.rule])
    edits = [
        e
        for f in report.findings
        if f.fix is not None and f.fix.safety is FixSafety.SAFE
        for e in f.fix.edits
    ]
    fixes = sum(1 for f in report.findings if f.fix is not None)
    return apply_edits(case.source, edits) if fixes >= 2 else None


@functools.cache
def evaluate(case: Case) -> Verdict:
    """Run every fix offered on ``case`` (cached: the totals test reuses the per-case runs)."""
    verdict = Verdict()
    for finding, fixed in _fixes(case):
        where = f"{case.label}: {finding.code} fix at {finding.start.line}:{finding.start.column}"
        safe = finding.fix is not None and finding.fix.safety is FixSafety.SAFE
        if safe and ast.dump(ast.parse(case.source)) == ast.dump(ast.parse(fixed)):
            verdict.proved_by_ast += 1
            continue
        tensor = "torch" in case.source
        ran_somewhere = False
        for family in FAMILIES:
            normal = Inputs(family, tensor=tensor)
            original = Program(case.source, normal)
            plan = original.plan()
            if not plan and original.namespace() is None:
                continue
            before = original.run(plan)
            if all(v is None for v in before.values.values()):
                continue
            after = Program(fixed, normal).run(plan)
            ran = [k for k, v in before.values.items() if v is not None]
            runs_fixed = all(after.values.get(k) is not None for k in ran)
            ran_somewhere = ran_somewhere or runs_fixed
            if not safe:
                continue
            for key in ran:
                a, b = before.values[key], after.values.get(key)
                if b is None:
                    verdict.problems.append(f"{where}: `{key}` raises after the fix {family}")
                elif len(a) != len(b) or not all(map(_close, a, b)):
                    verdict.problems.append(
                        f"{where}: `{key}` computes another value after the fix {family}:\n"
                        f"  before {a}\n  after  {b}\n--- fixed source:\n{fixed}"
                    )
            extreme = Inputs(family, extreme=True, tensor=tensor)
            big_before = Program(case.source, extreme).run(plan)
            big_after = Program(fixed, extreme).run(plan)
            for key, values in big_before.values.items():
                # overflow: finite on ordinary inputs, inf or nan on large ones
                if values is None or _finite(values) or not _finite(before.values.get(key)):
                    continue
                if not _finite(big_after.values.get(key)) and not _repaired_jointly(
                    case, plan, extreme, key
                ):
                    verdict.problems.append(
                        f"{where}: `{key}` overflows before the fix and still after it {family}"
                    )
                else:
                    verdict.overflow_repaired += 1
        if ran_somewhere:
            verdict.evaluated += 1
        else:
            verdict.problems.append(
                f"{where}: {'could not be evaluated' if safe else 'the fixed code never runs'}"
                f"\n--- source:\n{case.source}"
            )
    return verdict


@pytest.fixture(autouse=True)
def _stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, module in _torch_module().items():
        monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_fix_preserves_values_when_safe_and_runs_when_unsafe(case):
    problems = evaluate(case).problems
    assert not problems, "\n".join(problems)


def test_the_evaluation_has_teeth():
    """The harness catches the old BP501 fix (shift without adding the max back) on a log-sum-exp
    and repairs overflow where it should, so a passing run above means something."""
    rule = next(r for r in ALL_RULES if r.code == "BP501")
    bad = Case(rule, "def lse(z):\n    return np.log(np.sum(np.exp(z)))\n", "teeth")
    wrong = "def lse(z):\n    return np.log(np.sum(np.exp(z - np.max(z))))\n"
    right = "def lse(z):\n    return np.max(z) + np.log(np.sum(np.exp(z - np.max(z))))\n"
    inputs = Inputs((4, 6))
    program = Program(bad.source, inputs)
    plan = program.plan()
    assert plan == {"lse": ("matrix",)}
    before = program.run(plan).values["lse"]
    assert before is not None
    assert not _close(before[0], Program(wrong, inputs).run(plan).values["lse"][0])  # type: ignore[index]
    assert _close(before[0], Program(right, inputs).run(plan).values["lse"][0])  # type: ignore[index]
    big = Inputs((4, 6), extreme=True)
    assert not _finite(Program(bad.source, big).run(plan).values["lse"])
    assert _finite(Program(right, big).run(plan).values["lse"])


def test_every_fixing_rule_is_evaluated_on_many_fixes():
    """Every rule that offers fixes has them run here, and overflow repairs were observed."""
    totals: dict[str, list[int]] = {}
    repaired = 0
    for case in CASES:
        verdict = evaluate(case)
        run, proved = totals.setdefault(case.rule.code, [0, 0])
        totals[case.rule.code] = [run + verdict.evaluated, proved + verdict.proved_by_ast]
        repaired += verdict.overflow_repaired
    print(f"fixes evaluated (run, proved by AST) per rule: {totals}; overflow repaired: {repaired}")
    assert set(totals) == {r.code for r in ALL_RULES if r.fix_safety is not None}
    assert all(sum(counts) >= 3 for counts in totals.values()), totals
    assert repaired >= 10, repaired


def test_no_logsumexp_fix_when_keepdims_is_not_a_literal():
    """`keepdims=kd` decides the sum's shape at run time; the added-back max cannot follow it
    (the old fix added a reduced max to a kept-dims log: a (3,) + (3, 1) broadcast to (3, 3))."""
    rule = next(r for r in ALL_RULES if r.code == "BP501")
    source = "def lse(z, kd):\n    return np.log(np.sum(np.exp(z), axis=1, keepdims=kd))\n"
    report = lint_source(source, Path("example.py"), [rule])
    assert [f.code for f in report.findings] == ["BP501"]
    assert report.findings[0].fix is None


@pytest.mark.parametrize(
    "body",
    [
        "return np.log(np.sum(np.exp(z), axis=0)) + np.log(np.sum(np.exp(z), axis=1))",
        "return np.exp(z) / np.sum(np.exp(z), axis=0), np.exp(z) / np.exp(z).sum()",
        "return np.exp(z) / np.sum(np.exp(z)) + np.log(np.sum(np.exp(z)))",
    ],
)
def test_two_softmaxes_of_one_value_are_two_findings(body):
    """Each softmax or log-sum-exp is its own defect, with its own column and its own fix,
    even when both exponentiate the same value on one line."""
    rule = next(r for r in ALL_RULES if r.code == "BP501")
    report = lint_source(f"def f(z):\n    {body}\n", Path("example.py"), [rule])
    found = report.findings
    assert len(found) == 2 and len({f.start.column for f in found}) == 2, found
    assert all(f.fix is not None for f in found)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.label.startswith(("BP501-variant-two", "BP501-variant-lse-and"))],
    ids=lambda c: c.label,
)
def test_joint_fixes_keep_values(case):
    """All fixes of a case applied together compute what the original computes."""
    joint = _joint(case)
    assert joint is not None
    for family in FAMILIES:
        normal = Inputs(family)
        original = Program(case.source, normal)
        plan = original.plan()
        before = original.run(plan)
        after = Program(joint, normal).run(plan)
        for key, a in before.values.items():
            if a is not None:
                b = after.values.get(key)
                assert b is not None and len(a) == len(b) and all(map(_close, a, b)), key
