"""Gradient checks for the zoo: each network's own gradient against finite differences.

For every network there is an adapter that loads the network from *source text*, computes its
analytic gradients the way its own code does (its ``backprop``, its layer ``backward``s, or the
step its own update applies, read back as ``(before - after) / learning_rate``), and a centred
finite-difference gradient of its own cost (float64, ``H = 1e-5``). ``relative_error`` returns
the worst ``||g - g_hat|| / (||g|| + ||g_hat||)`` over all the pairs; a gradient of the wrong
shape (a bias gradient that was never summed over the batch, say) or a non-finite one counts as
``inf``. Because the source is a parameter, a mutant is checked exactly like the original.

Conventions, as in ``kb.numerics``: square layers wherever the network allows them (they hide
orientation bugs from shape errors), random upstream weights where the network's API takes an
upstream gradient, inputs kept away from ReLU kinks (asserted), fixed seeds.

Besides gradients there are three probes for the mutants that are not gradient bugs:
``hidden_units_identical`` (constant initialisation), ``stable_on_large_logits`` (softmax
numerics) and ``own_gradcheck_error`` (the network's own gradient-check utility).
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.util
import itertools
import math
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from io import StringIO

import numpy as np

from .sources import network_files, network_names, read_sources

H = 1e-5
ZERO = 1e-14  # far below finite-difference noise (~1e-11 here): "both are zero"
KINK = 1e-3  # minimum |pre-activation| in front of a ReLU, so +-H never crosses the kink

Pair = tuple[str, np.ndarray, np.ndarray]  # (label, analytic, numerical)

# --- loading networks from source text ------------------------------------------------------

_serial = itertools.count()


class _SourceImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves modules from a dict ``fullname -> (source, filename, is_package)``."""

    def __init__(self, modules: dict[str, tuple[str, str, bool]]) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        _, filename, is_package = self.modules[fullname]
        return importlib.util.spec_from_loader(
            fullname, self, origin=filename, is_package=is_package
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        source, filename, _ = self.modules[module.__name__]
        exec(compile(source, filename, "exec"), module.__dict__)


def load_sources(name: str, sources: Mapping[str, str]) -> types.ModuleType:
    """Import network ``name`` from ``sources`` under a fresh private module name.

    A one-file network becomes one module; a package becomes a package whose submodules are
    served from ``sources`` too, so its relative imports resolve to the (possibly mutated)
    text. Nothing is left in ``sys.modules`` afterwards.
    """
    root = f"_zoo_{name}_{next(_serial)}"
    modules: dict[str, tuple[str, str, bool]] = {}
    for rel, text in sources.items():
        parts = rel.removesuffix(".py").split("/")
        if len(parts) == 1:
            modules[root] = (text, f"<zoo:{rel}>", False)
        elif parts[-1] == "__init__":
            modules[root] = (text, f"<zoo:{rel}>", True)
        else:
            modules[".".join([root, *parts[1:]])] = (text, f"<zoo:{rel}>", False)
    importer = _SourceImporter(modules)
    sys.meta_path.insert(0, importer)
    try:
        return importlib.import_module(root)
    finally:
        sys.meta_path.remove(importer)
        for key in [k for k in sys.modules if k == root or k.startswith(root + ".")]:
            del sys.modules[key]


@dataclass(frozen=True)
class Source:
    """The text of one network (original or mutated) and ways to run it."""

    name: str
    files: Mapping[str, str]

    def load(self) -> types.ModuleType:
        return load_sources(self.name, self.files)

    @property
    def main_text(self) -> str:
        return self.files[network_files(self.name)[0]]


def _source(name: str, sources: Mapping[str, str] | None) -> Source:
    if name not in NETWORKS:
        raise KeyError(f"unknown network {name!r}")
    files = dict(read_sources(name))
    if sources is not None:
        unknown = set(sources) - set(files)
        if unknown:
            raise KeyError(f"{name}: no such files {sorted(unknown)}")
        files.update(sources)
    return Source(name, files)


# --- numerics -------------------------------------------------------------------------------


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """Centred differences of ``f()`` with respect to the float64 array ``x`` (perturbed in place)."""
    if x.dtype != np.float64:
        raise TypeError(f"finite differences need float64, got {x.dtype}")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_derivative(f: Callable[[float], float], x: float, h: float = H) -> float:
    """Centred difference of a function of one scalar."""
    return (f(x + h) - f(x - h)) / (2 * h)


def rel_error(g: object, g_hat: object) -> float:
    """``||g - g_hat|| / (||g|| + ||g_hat||)``; ``inf`` for a shape mismatch or non-finite values.

    Two gradients that agree to ``ZERO`` in absolute terms are both zero up to rounding (a
    softmax over identical logits, say) and count as equal: their ratio would only be noise.
    """
    a = np.asarray(g, dtype=np.float64)
    b = np.asarray(g_hat, dtype=np.float64)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.inf
    diff = float(np.linalg.norm(a - b))
    if diff <= ZERO:
        return 0.0
    return diff / float(np.linalg.norm(a) + np.linalg.norm(b))


def implied_gradient(before: object, after: object, lr: float) -> np.ndarray:
    """The gradient an update step actually applied: ``(before - after) / lr``."""
    return (np.asarray(before, dtype=np.float64) - np.asarray(after, dtype=np.float64)) / lr


def _away_from_kinks(label: str, z: np.ndarray) -> None:
    if np.min(np.abs(z)) < KINK:
        raise AssertionError(f"{label}: a ReLU input is within {KINK} of the kink; change the seed")


@contextmanager
def _quiet() -> Iterator[None]:
    """Swallow what the networks print while training; numpy warnings are left to the caller."""
    with redirect_stdout(StringIO()):
        yield


# --- adapters: one per network ----------------------------------------------------------------


def _nielsen_network(src: Source) -> list[Pair]:
    mod = src.load()
    net = mod.Network([4, 4, 4], seed=1)
    rng = np.random.default_rng(11)
    batch = [(rng.standard_normal((4, 1)), rng.uniform(0.1, 0.9, (4, 1))) for _ in range(5)]

    def cost() -> float:
        return sum(0.5 * np.sum((net.feedforward(x) - y) ** 2) for x, y in batch) / len(batch)

    params = [*net.weights, *net.biases]
    labels = [f"w{i}" for i in range(len(net.weights))] + [f"b{i}" for i in range(len(net.biases))]
    numeric = [numerical_gradient(cost, p) for p in params]
    sums = [np.zeros_like(p) for p in params]
    for x, y in batch:
        nabla_b, nabla_w = net.backprop(x, y)
        sums = [s + g for s, g in zip(sums, [*nabla_w, *nabla_b], strict=True)]
    pairs = [
        (f"backprop {k}", s / len(batch), n) for k, s, n in zip(labels, sums, numeric, strict=True)
    ]
    before = [p.copy() for p in params]
    eta = 3.0
    net.update_mini_batch(batch, eta)
    after = [*net.weights, *net.biases]
    pairs += [
        (f"update {k}", implied_gradient(b, a, eta), n)
        for k, b, a, n in zip(labels, before, after, numeric, strict=True)
    ]
    return pairs


def _nielsen_matrix(src: Source) -> list[Pair]:
    mod = src.load()
    net = mod.Network([4, 4, 4], seed=2)
    rng = np.random.default_rng(12)
    X, Y = rng.standard_normal((4, 6)), rng.uniform(0.1, 0.9, (4, 6))
    params = [*net.weights, *net.biases]
    numeric = [numerical_gradient(lambda: net.cost(X, Y), p) for p in params]
    nabla_b, nabla_w = net.backprop(X, Y)
    m = X.shape[1]
    pairs = [
        (f"backprop {i}", g / m, n)
        for i, (g, n) in enumerate(zip([*nabla_w, *nabla_b], numeric, strict=True))
    ]
    before = [p.copy() for p in params]
    eta = 2.0
    net.update_mini_batch(X, Y, eta)
    after = [*net.weights, *net.biases]
    pairs += [
        (f"update {i}", implied_gradient(b, a, eta), n)
        for i, (b, a, n) in enumerate(zip(before, after, numeric, strict=True))
    ]
    return pairs


def _network2_ce(src: Source) -> list[Pair]:
    mod = src.load()
    rng = np.random.default_rng(13)
    batch = [(rng.standard_normal((4, 1)), rng.uniform(0.05, 0.95, (4, 1))) for _ in range(5)]
    lmbda, n_train, eta = 0.5, 20, 0.5
    pairs: list[Pair] = []
    for cost_cls in (mod.CrossEntropyCost, mod.QuadraticCost):
        net = mod.Network([4, 4, 4], cost=cost_cls, seed=3)

        def cost(net: object = net, fn: Callable = cost_cls.fn) -> float:
            data = sum(fn(net.feedforward(x), y) for x, y in batch) / len(batch)
            decay = 0.5 * lmbda / n_train * sum(np.sum(w * w) for w in net.weights)
            return data + decay

        def data_cost(net: object = net, fn: Callable = cost_cls.fn) -> float:
            return sum(fn(net.feedforward(x), y) for x, y in batch) / len(batch)

        tag = cost_cls.__name__
        params = [*net.weights, *net.biases]
        numeric_data = [numerical_gradient(data_cost, p) for p in params]
        numeric = [numerical_gradient(cost, p) for p in params]
        sums = [np.zeros_like(p) for p in params]
        for x, y in batch:
            nabla_b, nabla_w = net.backprop(x, y)
            sums = [s + g for s, g in zip(sums, [*nabla_w, *nabla_b], strict=True)]
        pairs += [
            (f"{tag} backprop {i}", s / len(batch), n)
            for i, (s, n) in enumerate(zip(sums, numeric_data, strict=True))
        ]
        before = [p.copy() for p in params]
        net.update_mini_batch(batch, eta, lmbda, n_train)
        after = [*net.weights, *net.biases]
        pairs += [
            (f"{tag} update {i}", implied_gradient(b, a, eta), n)
            for i, (b, a, n) in enumerate(zip(before, after, numeric, strict=True))
        ]
    return pairs


def _cs231n_layers(src: Source) -> list[Pair]:
    mod = src.load()
    rng = np.random.default_rng(14)
    pairs: list[Pair] = []
    # each layer alone, with a random upstream gradient U
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 5)), rng.standard_normal(5)
    U = rng.standard_normal((4, 5))
    _, cache = mod.affine_forward(x, w, b)
    analytic = mod.affine_backward(U, cache)
    for label, p, g in zip(("dx", "dw", "db"), (x, w, b), analytic, strict=True):
        n = numerical_gradient(lambda: np.sum(U * mod.affine_forward(x, w, b)[0]), p)
        pairs.append((f"affine {label}", g, n))
    xr = rng.choice([-1.0, 1.0], (4, 5)) * rng.uniform(0.1, 1.0, (4, 5))
    _, cache = mod.relu_forward(xr)
    n = numerical_gradient(lambda: np.sum(U * mod.relu_forward(xr)[0]), xr)
    pairs.append(("relu dx", mod.relu_backward(U, cache), n))
    scores, labels = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    n = numerical_gradient(lambda: mod.softmax_loss(scores, labels)[0], scores)
    pairs.append(("softmax_loss dx", mod.softmax_loss(scores, labels)[1], n))
    # the whole two-layer net, square everywhere, with L2 regularisation
    net = mod.TwoLayerNet(
        input_dim=5, hidden_dim=5, num_classes=5, weight_scale=0.5, reg=0.1, seed=3
    )
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    _away_from_kinks("cs231n hidden", X @ net.params["W1"] + net.params["b1"])
    _, grads = net.loss(X, y)
    for k, p in net.params.items():
        pairs.append((f"net {k}", grads[k], numerical_gradient(lambda: net.loss(X, y)[0], p)))
    return pairs


def _rowmajor_mlp(src: Source) -> list[Pair]:
    mod = src.load()
    model = mod.MLP([4, 4, 4, 4], seed=4)
    rng = np.random.default_rng(15)
    X, U = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    model.forward(X)
    dX = model.backward(U)
    analytic = [dX, *model.dW, *model.db]
    params = [X, *model.W, *model.b]
    pairs: list[Pair] = []
    for i, (g, p) in enumerate(zip(analytic, params, strict=True)):
        pairs.append(
            (f"backward {i}", g, numerical_gradient(lambda: np.sum(U * model.forward(X)), p))
        )
    Y = rng.standard_normal((6, 4))
    numeric = [numerical_gradient(lambda: mod.mse(model.forward(X), Y), p) for p in params[1:]]
    before = [p.copy() for p in params[1:]]
    lr = 0.5
    mod.train_step(model, X, Y, lr)
    after = [*model.W, *model.b]
    pairs += [
        (f"train_step {i}", implied_gradient(b, a, lr), n)
        for i, (b, a, n) in enumerate(zip(before, after, numeric, strict=True))
    ]
    return pairs


def _softmax_classifier_setup(mod: types.ModuleType) -> tuple[tuple, np.ndarray, np.ndarray]:
    params = mod.init_params(4, 5, 4, seed=5)
    rng = np.random.default_rng(16)
    return params, rng.standard_normal((6, 4)), rng.integers(0, 4, 6)


def _softmax_classifier(src: Source) -> list[Pair]:
    mod = src.load()
    params, X, y = _softmax_classifier_setup(mod)
    _away_from_kinks("softmax_classifier hidden", X @ params[0] + params[1])
    _, grads = mod.loss_and_grads(params, X, y)
    return [
        (f"param {i}", g, numerical_gradient(lambda: mod.loss_and_grads(params, X, y)[0], p))
        for i, (g, p) in enumerate(zip(grads, params, strict=True))
    ]


def _tanh_two_layer(src: Source) -> list[Pair]:
    mod = src.load()
    params = mod.init(4, 4, 3, seed=6)
    rng = np.random.default_rng(17)
    examples = [(rng.standard_normal(4), rng.uniform(-0.9, 0.9, 3)) for _ in range(3)]
    sums: list[np.ndarray] = [np.zeros_like(p) for p in params]
    for x, y in examples:
        sums = [s + g for s, g in zip(sums, mod.backprop(params, x, y), strict=True)]
    cost = lambda: sum(mod.loss(params, x, y) for x, y in examples)  # noqa: E731
    return [
        (f"param {i}", s, numerical_gradient(cost, p))
        for i, (s, p) in enumerate(zip(sums, params, strict=True))
    ]


def _micrograd_scalar(src: Source) -> list[Pair]:
    mod = src.load()
    model = mod.MLP(3, [4, 4, 1], seed=7)
    rng = np.random.default_rng(18)
    xs = [[mod.Value(float(v)) for v in row] for row in rng.uniform(-1, 1, (4, 3))]
    ys = [float(v) for v in rng.uniform(-1, 1, 4)]
    model.zero_grad()
    mod.mse_loss(model, xs, ys).backward()

    def loss_at(v: object, value: float) -> float:
        old = v.data
        v.data = value
        out = mod.mse_loss(model, xs, ys).data
        v.data = old
        return out

    groups: list[tuple[str, list]] = []
    for i, layer in enumerate(model.layers):
        groups.append((f"layer {i} w", [w for n in layer for w in n.w]))
        groups.append((f"layer {i} b", [n.b for n in layer]))
    groups.append(("inputs", [v for row in xs for v in row]))
    pairs: list[Pair] = []
    for label, values in groups:
        analytic = np.array([v.grad for v in values])
        numeric = np.array(
            [numerical_derivative(lambda t, v=v: loss_at(v, t), v.data) for v in values]
        )
        pairs.append((label, analytic, numeric))
    return pairs


@dataclass(frozen=True)
class _Script:
    setup: types.CodeType  # module statements before the training loop
    step: types.CodeType  # the body of the training loop: one iteration
    forward: types.CodeType  # the loop body up to and including `loss = ...`
    loop_var: str


def _split_script(text: str, filename: str) -> _Script:
    """Cut a notebook-style script at its (last) module-level training loop."""
    tree = ast.parse(text)
    k = max(i for i, node in enumerate(tree.body) if isinstance(node, ast.For))
    loop = tree.body[k]
    assert isinstance(loop, ast.For) and isinstance(loop.target, ast.Name)
    j = next(
        i
        for i, st in enumerate(loop.body)
        if isinstance(st, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "loss" for t in st.targets)
    )

    def code(body: list[ast.stmt]) -> types.CodeType:
        return compile(ast.Module(body=body, type_ignores=[]), filename, "exec")

    return _Script(code(tree.body[:k]), code(loop.body), code(loop.body[: j + 1]), loop.target.id)


_NOTEBOOK_PARAMS = ("W1", "b1", "W2", "b2")


def _notebook_script(src: Source) -> list[Pair]:
    script = _split_script(src.main_text, "<zoo:notebook_script.py>")
    ns: dict = {"__name__": "_zoo_notebook_script"}
    exec(script.setup, ns)

    def cost() -> float:
        exec(script.forward, ns)
        return float(ns["loss"])

    numeric = {k: numerical_gradient(cost, ns[k]) for k in _NOTEBOOK_PARAMS}
    before = {k: ns[k].copy() for k in _NOTEBOOK_PARAMS}
    ns[script.loop_var] = 1
    with _quiet():
        exec(script.step, ns)
    lr = ns["learning_rate"]
    return [
        (f"step {k}", implied_gradient(before[k], ns[k], lr), numeric[k]) for k in _NOTEBOOK_PARAMS
    ]


def _pkg_net(src: Source) -> list[Pair]:
    pkg = src.load()
    model = pkg.Model([4, 4, 4, 4], seed=8)
    rng = np.random.default_rng(19)
    X, Y = rng.standard_normal((6, 4)), rng.uniform(0.1, 0.9, (6, 4))
    params = [*model.weights, *model.biases]
    numeric = [numerical_gradient(lambda: pkg.mse(model.predict(X), Y), p) for p in params]
    grads_W, grads_b = model.gradients(X, Y)
    pairs = [
        (f"gradients {i}", g, n)
        for i, (g, n) in enumerate(zip([*grads_W, *grads_b], numeric, strict=True))
    ]
    before = [p.copy() for p in params]
    lr = 1.0
    with _quiet():
        model.fit(X, Y, lr=lr, epochs=1)
    pairs += [
        (f"fit {i}", implied_gradient(b, a, lr), n)
        for i, (b, a, n) in enumerate(
            zip(before, [*model.weights, *model.biases], numeric, strict=True)
        )
    ]
    return pairs


_XOR_PARAMS = ("hidden_weights", "hidden_bias", "output_weights", "output_bias")


def _xor_net(src: Source) -> list[Pair]:
    mod = src.load()
    net = mod.XORNet(n_hidden=4, learning_rate=0.5, seed=1)
    X, T = mod.XOR_INPUTS, mod.XOR_TARGETS
    cost = lambda: 0.5 * np.sum((T - net.predict(X)) ** 2)  # noqa: E731
    numeric = {k: numerical_gradient(cost, getattr(net, k)) for k in _XOR_PARAMS}
    before = {k: getattr(net, k).copy() for k in _XOR_PARAMS}
    net.train_step(X, T)
    return [
        (f"train_step {k}", implied_gradient(before[k], getattr(net, k), net.lr), numeric[k])
        for k in _XOR_PARAMS
    ]


_COLUMN_PARAMS = ("wih", "who")


def _column_lambda_net(src: Source) -> list[Pair]:
    mod = src.load()
    net = mod.ColumnNet(3, 3, 3, learning_rate=0.1, seed=0)
    rng = np.random.default_rng(5)
    x, t = rng.uniform(-1.0, 1.0, 3), rng.uniform(0.1, 0.9, 3)
    cost = lambda: 0.5 * np.sum((np.array(t, ndmin=2).T - net.query(x)) ** 2)  # noqa: E731
    numeric = {k: numerical_gradient(cost, getattr(net, k)) for k in _COLUMN_PARAMS}
    before = {k: getattr(net, k).copy() for k in _COLUMN_PARAMS}
    net.train(x, t)
    return [
        (f"train {k}", implied_gradient(before[k], getattr(net, k), net.lr), numeric[k])
        for k in _COLUMN_PARAMS
    ]


def _deep_columns_setup(mod: types.ModuleType) -> tuple[dict, np.ndarray, np.ndarray]:
    params = mod.initialize_parameters_deep([4, 4, 4, 4], seed=3)
    rng = np.random.default_rng(20)
    return params, rng.standard_normal((4, 6)), rng.integers(0, 2, (4, 6)).astype(float)


def _deep_columns_dict(src: Source) -> list[Pair]:
    mod = src.load()
    params, X, Y = _deep_columns_setup(mod)
    AL, caches = mod.L_model_forward(X, params)
    for l, (_, Z) in enumerate(caches[:-1]):
        _away_from_kinks(f"deep_columns_dict Z{l + 1}", Z)
    grads = mod.L_model_backward(AL, Y, caches)
    cost = lambda: mod.compute_cost(mod.L_model_forward(X, params)[0], Y)  # noqa: E731
    numeric = {k: numerical_gradient(cost, p) for k, p in params.items()}
    pairs: list[Pair] = [(f"d{k}", grads["d" + k], numeric[k]) for k in params]
    before = {k: p.copy() for k, p in params.items()}
    lr = 0.3
    updated = mod.update_parameters(params, grads, lr)
    pairs += [
        (f"update {k}", implied_gradient(before[k], updated[k], lr), numeric[k]) for k in before
    ]
    return pairs


def _deep_loop_dict(src: Source) -> list[Pair]:
    mod = src.load()
    params = mod.init_params([4, 4, 4, 4], seed=5)
    rng = np.random.default_rng(28)
    X, Y = rng.standard_normal((4, 4)), rng.integers(0, 2, (4, 4)).astype(float)
    depth = 3
    grads = mod.backward(mod.forward(X, params, depth), Y, params, depth)
    cost = lambda: mod.cost(mod.forward(X, params, depth), Y, depth)  # noqa: E731
    numeric = {k: numerical_gradient(cost, p) for k, p in params.items()}
    pairs: list[Pair] = [(f"d{k}", grads["d" + k], numeric[k]) for k in params]
    before = {k: p.copy() for k, p in params.items()}
    lr = 0.3
    mod.update(params, grads, lr, depth)
    pairs += [
        (f"update {k}", implied_gradient(before[k], params[k], lr), numeric[k]) for k in before
    ]
    return pairs


def _layers_sequential(src: Source) -> list[Pair]:
    mod = src.load()
    rng = np.random.default_rng(21)
    model = mod.build([4, 4, 4, 4, 4], seed=9)
    dense = [layer for layer in model.layers if isinstance(layer, mod.Dense)]
    X, U = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    _away_from_kinks("layers_sequential ReLU input", dense[0].forward(X))
    params = [X, *(d.W for d in dense), *(d.b for d in dense)]
    numeric = [numerical_gradient(lambda: np.sum(U * model.forward(X)), p) for p in params]
    before = [p.copy() for p in params[1:]]
    lr = 0.5
    model.forward(X)
    dX = model.backward(U, lr)
    after = [*(d.W for d in dense), *(d.b for d in dense)]
    pairs: list[Pair] = [("backward dX", dX, numeric[0])]
    pairs += [
        (f"backward step {i}", implied_gradient(b, a, lr), n)
        for i, (b, a, n) in enumerate(zip(before, after, numeric[1:], strict=True))
    ]
    # one epoch of fit() on the mean squared error
    model = mod.build([4, 4, 4, 4, 4], seed=10)
    dense = [layer for layer in model.layers if isinstance(layer, mod.Dense)]
    Y = np.eye(4)[rng.integers(0, 4, 6)]
    _away_from_kinks("layers_sequential ReLU input", dense[0].forward(X))
    params = [*(d.W for d in dense), *(d.b for d in dense)]
    numeric = [numerical_gradient(lambda: mod.mse(Y, model.forward(X)), p) for p in params]
    before = [p.copy() for p in params]
    model.fit(X, Y, epochs=1, learning_rate=lr)
    after = [*(d.W for d in dense), *(d.b for d in dense)]
    pairs += [
        (f"fit {i}", implied_gradient(b, a, lr), n)
        for i, (b, a, n) in enumerate(zip(before, after, numeric, strict=True))
    ]
    return pairs


_RNN_PARAMS = ("Wxh", "Whh", "Why", "bh", "by")


def _rnn_setup(mod: types.ModuleType) -> tuple[dict, list[int], list[int], np.ndarray]:
    model = mod.init_model(5, 5, seed=10)
    for k in ("Wxh", "Whh", "Why"):
        model[k] *= 6.0  # recurrent terms big enough to matter at every step
    rng = np.random.default_rng(22)
    model["bh"] += 0.3 * rng.standard_normal(model["bh"].shape)
    hprev = 0.5 * rng.standard_normal((5, 1))
    return model, [0, 3, 1, 4, 2, 1], [3, 1, 4, 2, 1, 0], hprev


def _rnn_bptt(src: Source) -> list[Pair]:
    mod = src.load()
    model, inputs, targets, hprev = _rnn_setup(mod)
    _, *grads, _ = mod.loss_fun(model, inputs, targets, hprev)
    return [
        (k, g, numerical_gradient(lambda: mod.loss_fun(model, inputs, targets, hprev)[0], model[k]))
        for k, g in zip(_RNN_PARAMS, grads, strict=True)
    ]


def _rnn_layer(src: Source) -> list[Pair]:
    mod = src.load()
    net = mod.RNNRegressor(3, 4, 2)
    rng = np.random.default_rng(31)
    net.b += 0.3 * rng.standard_normal(net.b.shape)
    net.h0 = 0.5 * rng.standard_normal(net.h0.shape)  # a non-zero initial state matters at t = 0
    xs, ds = mod.make_data(n_steps=5)
    grads = net.backward(net.forward(xs), ds)
    return [
        (k, g, numerical_gradient(lambda: net.cost(xs, ds), getattr(net, k)))
        for k, g in zip(("Wx", "Wh", "b", "V"), grads, strict=True)
    ]


def _lstm_sequence(src: Source) -> list[Pair]:
    mod = src.load()
    params = mod.init_params(2, 4, 2, seed=12)
    rng = np.random.default_rng(33)
    for k in ("bi", "bo", "bg", "by"):
        params[k] = params[k] + 0.3 * rng.standard_normal(params[k].shape)
    h0, c0 = 0.5 * rng.standard_normal((4, 1)), 0.5 * rng.standard_normal((4, 1))
    xs = [rng.standard_normal((2, 1)) for _ in range(5)]
    ds = [rng.standard_normal((2, 1)) for _ in range(5)]
    grads = mod.backward(params, xs, ds, h0, c0)
    return [
        (k, grads[k], numerical_gradient(lambda: mod.cost(params, xs, ds, h0, c0), params[k]))
        for k in params
    ]


def _rnn_two_pass(src: Source) -> list[Pair]:
    mod = src.load()
    net = mod.TwoPassRNN(3, 4, 2, seed=13)
    rng = np.random.default_rng(34)
    net.b = 0.3 * rng.standard_normal(net.b.shape)
    net.h0 = 0.5 * rng.standard_normal(net.h0.shape)
    xs = [rng.standard_normal((3, 1)) for _ in range(5)]
    ds = [rng.standard_normal((2, 1)) for _ in range(5)]
    grads = net.backward(net.forward(xs), ds)
    return [
        (k, g, numerical_gradient(lambda: net.cost(xs, ds), getattr(net, k)))
        for k, g in zip(("Wx", "Wh", "b", "V"), grads, strict=True)
    ]


def _batchnorm_mlp(src: Source) -> list[Pair]:
    mod = src.load()
    net = mod.Net(4, 5, 2)
    rng = np.random.default_rng(32)
    net.bn.gamma = rng.uniform(0.5, 1.5, net.bn.gamma.shape)  # gamma away from 1 shows it
    net.bn.beta = 0.3 * rng.standard_normal(net.bn.beta.shape)
    X, T = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    grads = net.gradients(X, T)
    pairs: list[Pair] = [
        (k, g, numerical_gradient(lambda: net.cost(X, T), getattr(net, k)))
        for k, g in zip(("W1", "W2", "b2"), grads, strict=True)
    ]
    dgamma, dbeta = net.bn.dgamma.copy(), net.bn.dbeta.copy()
    pairs.append(("gamma", dgamma, numerical_gradient(lambda: net.cost(X, T), net.bn.gamma)))
    pairs.append(("beta", dbeta, numerical_gradient(lambda: net.cost(X, T), net.bn.beta)))
    return pairs


def _gradcheck_setup(mod: types.ModuleType) -> tuple[dict, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(23)
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    return mod.init_params(4, 4, 3), X, Y


def _gradcheck_training(src: Source) -> list[Pair]:
    mod = src.load()
    params, X, Y = _gradcheck_setup(mod)
    grads = mod.backprop(params, X, Y)
    numeric = {k: numerical_gradient(lambda: mod.cost(params, X, Y), p) for k, p in params.items()}
    pairs: list[Pair] = [(f"backprop {k}", grads[k], numeric[k]) for k in params]
    lr = 0.5
    with _quiet():
        trained = mod.train(X, Y, n_hidden=4, lr=lr, epochs=1, check=False)
    pairs += [
        (f"train {k}", implied_gradient(params[k], trained[k], lr), numeric[k]) for k in params
    ]
    return pairs


def _flat_vector_penalty(src: Source) -> list[Pair]:
    mod = src.load()
    rng = np.random.default_rng(29)
    sizes = (4, 5, 3)
    theta = mod.init_theta(*sizes, seed=8)
    X, Y = rng.standard_normal((6, 4)), np.eye(3)[rng.integers(0, 3, 6)]
    numeric = numerical_gradient(lambda: mod.cost(theta, X, Y, 0.3, *sizes), theta)
    # the gradient function gets a copy, as an optimiser hands it its current point
    return [("theta", mod.gradient(theta.copy(), X, Y, 0.3, *sizes), numeric)]


def _dropout_mlp_setup(src: Source) -> tuple[object, np.ndarray, np.ndarray]:
    mod = src.load()
    net = mod.DropoutMLP(4, 6, 3, keep=0.8, seed=9)
    rng = np.random.default_rng(31)
    return net, rng.standard_normal((5, 4)), rng.standard_normal((5, 3))


def _dropout_mlp(src: Source) -> list[Pair]:
    net, X, Y = _dropout_mlp_setup(src)

    def cost() -> float:
        np.random.seed(5)  # the same mask at every evaluation
        return float(net.loss(X, Y))

    cost()
    grads = net.backward()
    params = (net.W1, net.b1, net.W2, net.b2)
    return [
        (f"param {i}", g, numerical_gradient(cost, p))
        for i, (g, p) in enumerate(zip(grads, params, strict=True))
    ]


def _dropout_mlp_mean(src: Source) -> float:
    net, X, _ = _dropout_mlp_setup(src)
    test = net.hidden(X, train=False)
    np.random.seed(6)
    mean = np.mean([net.hidden(X, train=True) for _ in range(4000)], axis=0)
    return rel_error(mean, test)


def _loss_objects(src: Source) -> list[Pair]:
    mod = src.load()
    rng = np.random.default_rng(33)
    X = rng.standard_normal((5, 4))
    onehot = np.eye(3)[rng.integers(0, 3, 5)]
    soft = rng.uniform(0.05, 0.95, (5, 3))
    cases = (
        ("softmax-ce", mod.SoftmaxCrossEntropy, onehot, mod.logits_loss_and_grads),
        ("mse", mod.MeanSquaredError, soft, mod.sigmoid_loss_and_grads),
        ("bce", mod.BinaryCrossEntropy, soft, mod.sigmoid_loss_and_grads),
    )
    pairs: list[Pair] = []
    for label, make, Y, step in cases:
        net, loss = mod.Net(4, 5, 3, seed=11), make()
        params = (net.W1, net.b1, net.W2, net.b2)

        def cost(step=step, net=net, loss=loss, Y=Y) -> float:
            return float(step(net, loss, X, Y)[0])

        numeric = [numerical_gradient(cost, p) for p in params]
        _, grads = step(net, loss, X, Y)
        pairs += [
            (f"{label} param {i}", g, n)
            for i, (g, n) in enumerate(zip(grads, numeric, strict=True))
        ]
    return pairs


def _dropout_layer(src: Source) -> list[Pair]:
    mod = src.load()
    rng = np.random.default_rng(35)
    model = mod.Model(4, 6, 3, keep=0.7, seed=12)
    X, U = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))

    def cost() -> float:
        np.random.seed(7)  # the same mask at every evaluation
        return float(np.sum(U * model.forward(X)))

    cost()
    dX = model.backward(U)
    params = [X, *(d.W for d in model.dense), *(d.b for d in model.dense)]
    grads = [dX, *(d.dW for d in model.dense), *(d.db for d in model.dense)]
    return [
        (f"param {i}", g, numerical_gradient(cost, p))
        for i, (g, p) in enumerate(zip(grads, params, strict=True))
    ]


def _logistic_regression(src: Source) -> list[Pair]:
    mod = src.load()
    rng = np.random.default_rng(24)
    X, y = rng.standard_normal((8, 4)), rng.integers(0, 2, 8).astype(float)
    clf = mod.LogisticRegression(4, lr=0.5)
    clf.w = rng.standard_normal(4)
    clf.b = 0.3

    def loss_with_b(b: float) -> float:
        old, clf.b = clf.b, b
        out = clf.loss(X, y)
        clf.b = old
        return out

    numeric_w = numerical_gradient(lambda: clf.loss(X, y), clf.w)
    numeric_b = numerical_derivative(loss_with_b, clf.b)
    dw, db = clf.gradients(X, y)
    w0, b0 = clf.w.copy(), clf.b
    clf.step(X, y)
    return [
        ("gradients dw", dw, numeric_w),
        ("gradients db", db, numeric_b),
        ("step w", implied_gradient(w0, clf.w, clf.lr), numeric_w),
        ("step b", implied_gradient(b0, clf.b, clf.lr), numeric_b),
    ]


def _softmax_jacobian(src: Source) -> list[Pair]:
    mod = src.load()
    params = mod.init_params(4, 4, 4, seed=13)
    rng = np.random.default_rng(25)
    examples = [(rng.standard_normal((4, 1)), np.eye(4)[:, [k]]) for k in rng.integers(0, 4, 3)]
    sums = [np.zeros_like(p) for p in params]
    for x, y in examples:
        sums = [s + g for s, g in zip(sums, mod.backward(params, x, y), strict=True)]
    cost = lambda: sum(mod.loss(params, x, y) for x, y in examples)  # noqa: E731
    return [
        (f"param {i}", s, numerical_gradient(cost, p))
        for i, (s, p) in enumerate(zip(sums, params, strict=True))
    ]


# --- probes for the mutants that are not gradient bugs -----------------------------------------


def _columns_equal(M: np.ndarray) -> bool:
    return bool(np.allclose(M, M[:, :1], rtol=1e-12, atol=1e-12))


def _rows_equal(M: np.ndarray) -> bool:
    return bool(np.allclose(M, M[:1, :], rtol=1e-12, atol=1e-12))


def _notebook_symmetry(src: Source) -> bool:
    ns: dict = {"__name__": "_zoo_notebook_script"}
    with _quiet():
        exec(compile(src.main_text, "<zoo:notebook_script.py>", "exec"), ns)
    return _columns_equal(ns["W1"]) and _rows_equal(ns["W2"])


def _deep_columns_symmetry(src: Source) -> bool:
    mod = src.load()
    _, X, Y = _deep_columns_setup(mod)
    params = mod.L_layer_model(X, Y[:1], [4, 4, 4, 1], learning_rate=0.3, num_iterations=30)
    return _rows_equal(params["W1"]) and _columns_equal(params["W2"]) and _rows_equal(params["W2"])


def _layers_symmetry(src: Source) -> bool:
    mod = src.load()
    rng = np.random.default_rng(26)
    model = mod.build([4, 4, 4, 4, 3], seed=11)
    X, Y = rng.standard_normal((12, 4)), np.eye(3)[rng.integers(0, 3, 12)]
    model.fit(X, Y, epochs=30, learning_rate=1.0)
    dense = [layer for layer in model.layers if isinstance(layer, mod.Dense)]
    return _columns_equal(dense[0].W) and _rows_equal(dense[1].W)


def _finite(*values: object) -> bool:
    return all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in values)


def _cs231n_large(src: Source) -> bool:
    mod = src.load()
    rng = np.random.default_rng(27)
    loss, dx = mod.softmax_loss(1e4 * rng.standard_normal((6, 5)), rng.integers(0, 5, 6))
    return _finite(loss, dx)


def _softmax_classifier_large(src: Source) -> bool:
    mod = src.load()
    params, X, y = _softmax_classifier_setup(mod)
    W1, b1, W2, b2 = params
    loss, grads = mod.loss_and_grads((W1, b1, 1e4 * W2, b2), X, y)
    return _finite(loss, *grads)


def _rnn_large(src: Source) -> bool:
    mod = src.load()
    model, inputs, targets, hprev = _rnn_setup(mod)
    model["Why"] *= 1e4
    loss, *grads, h = mod.loss_fun(model, inputs, targets, hprev)
    return _finite(loss, *grads, h)


def _layers_large(src: Source) -> bool:
    mod = src.load()
    rng = np.random.default_rng(28)
    model = mod.build([4, 4, 4, 4, 4], seed=9)
    model.layers[-2].W *= 1e4
    X = rng.standard_normal((6, 4))
    out = model.forward(X)
    return _finite(out, model.backward(rng.standard_normal((6, 4)), 0.1))


def _softmax_jacobian_large(src: Source) -> bool:
    mod = src.load()
    z = np.array([[2000.0], [-1500.0], [900.0], [0.5]])
    return _finite(mod.softmax(z), mod.log_softmax(z))


def _rnn_gradcheck(src: Source) -> float:
    mod = src.load()
    model, inputs, targets, hprev = _rnn_setup(mod)
    with _quiet():
        return float(mod.grad_check(model, inputs, targets, hprev, num_checks=10))


def _gradcheck_own(src: Source) -> float:
    mod = src.load()
    params, X, Y = _gradcheck_setup(mod)
    return float(mod.gradient_check(params, X, Y))


# --- the registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZooNetwork:
    name: str
    style: str
    gradients: Callable[[Source], list[Pair]]
    symmetry: Callable[[Source], bool] | None = None
    large_logits: Callable[[Source], bool] | None = None
    own_gradcheck: Callable[[Source], float] | None = None
    dropout_mean: Callable[[Source], float] | None = None


NETWORKS: dict[str, ZooNetwork] = {
    n.name: n
    for n in (
        ZooNetwork(
            "nielsen_network", "network.py: Network class, per-example backprop", _nielsen_network
        ),
        ZooNetwork(
            "nielsen_matrix",
            "network.py with whole mini-batches as matrix columns",
            _nielsen_matrix,
        ),
        ZooNetwork(
            "network2_ce", "network2.py: cost classes with fn/delta, L2 decay", _network2_ce
        ),
        ZooNetwork(
            "cs231n_layers",
            "CS231n layer functions with caches, softmax_loss, TwoLayerNet",
            _cs231n_layers,
            large_logits=_cs231n_large,
        ),
        ZooNetwork("rowmajor_mlp", "row-major MLP class, forward(X) / backward(dY)", _rowmajor_mlp),
        ZooNetwork(
            "softmax_classifier",
            "one-hidden-layer softmax classifier, caller shifts the logits",
            _softmax_classifier,
            large_logits=_softmax_classifier_large,
        ),
        ZooNetwork(
            "tanh_two_layer", "two-layer tanh net on 1-D vectors, np.outer", _tanh_two_layer
        ),
        ZooNetwork(
            "micrograd_scalar", "micrograd-style scalar autograd and MLP", _micrograd_scalar
        ),
        ZooNetwork(
            "notebook_script",
            "notebook-style script with module-level globals and training loop",
            _notebook_script,
            symmetry=_notebook_symmetry,
        ),
        ZooNetwork("pkg_net", "package: model imports sigmoid_prime from .activations", _pkg_net),
        ZooNetwork("xor_net", "XOR net, error = y - output, += updates", _xor_net),
        ZooNetwork(
            "column_lambda_net",
            "column vectors, lambda activation, no cost computed, += updates",
            _column_lambda_net,
        ),
        ZooNetwork(
            "deep_columns_dict",
            "parameters['W1'] dict, examples in columns, caches list, dZ[Z <= 0] = 0",
            _deep_columns_dict,
            symmetry=_deep_columns_symmetry,
        ),
        ZooNetwork(
            "deep_loop_dict",
            "dicts keyed by layer number ('W' + str(i)), one backward loop, tanh hidden layers",
            _deep_loop_dict,
        ),
        ZooNetwork(
            "layers_sequential",
            "Layer objects with forward/backward(err, lr) and a Sequential",
            _layers_sequential,
            symmetry=_layers_symmetry,
            large_logits=_layers_large,
        ),
        ZooNetwork(
            "rnn_bptt",
            "vanilla RNN, BPTT with dWhh += ..., own grad_check",
            _rnn_bptt,
            large_logits=_rnn_large,
            own_gradcheck=_rnn_gradcheck,
        ),
        ZooNetwork(
            "rnn_layer",
            "RNN layer object, hidden states in a list, BPTT with h0 at t = 0",
            _rnn_layer,
        ),
        ZooNetwork(
            "lstm_sequence",
            "LSTM regressor, four gates on [h; x], BPTT carrying dh and dc, lists of states",
            _lstm_sequence,
        ),
        ZooNetwork(
            "rnn_two_pass",
            "RNN layer object, deltas stored by a backward pass, weights summed in a second loop",
            _rnn_two_pass,
        ),
        ZooNetwork(
            "batchnorm_mlp",
            "affine -> batch norm -> tanh -> affine, rows are examples",
            _batchnorm_mlp,
        ),
        ZooNetwork(
            "gradcheck_training",
            "training script with a centred-difference gradient check",
            _gradcheck_training,
            own_gradcheck=_gradcheck_own,
        ),
        ZooNetwork(
            "logistic_regression", "logistic regression unit, cross-entropy", _logistic_regression
        ),
        ZooNetwork(
            "loss_objects",
            "loss classes with forward/backward seeding a row-major net's backward",
            _loss_objects,
        ),
        ZooNetwork(
            "dropout_layer",
            "dropout layer object saving its mask for backward, between dense/tanh layers",
            _dropout_layer,
        ),
        ZooNetwork(
            "dropout_mlp",
            "row-major MLP, inverted dropout layer on the hidden units, mask kept for backward",
            _dropout_mlp,
            dropout_mean=_dropout_mlp_mean,
        ),
        ZooNetwork(
            "flat_vector_penalty",
            "scipy-style cost and gradient over a flat vector, bias columns out of the penalty",
            _flat_vector_penalty,
        ),
        ZooNetwork(
            "softmax_jacobian",
            "softmax output backpropagated through its full Jacobian",
            _softmax_jacobian,
            large_logits=_softmax_jacobian_large,
        ),
    )
}


def _check_registry() -> None:
    on_disk = set(network_names())
    if on_disk != set(NETWORKS):
        raise RuntimeError(
            f"zoo registry out of sync with networks/: {sorted(on_disk ^ set(NETWORKS))}"
        )


# --- public API ---------------------------------------------------------------------------------


def gradient_pairs(name: str, sources: Mapping[str, str] | None = None) -> list[Pair]:
    """``(label, analytic, numerical)`` for every gradient the network's code produces."""
    _check_registry()
    src = _source(name, sources)
    with np.errstate(all="ignore"):
        return NETWORKS[name].gradients(src)


def relative_errors(name: str, sources: Mapping[str, str] | None = None) -> dict[str, float]:
    """Relative error of every gradient pair, by label.

    A network that cannot even apply its own gradient (numpy raises a shape or linear-algebra
    error, e.g. ``b -= lr * db`` with an unsummed ``db``) gets one entry with an ``inf`` error.
    """
    try:
        pairs = gradient_pairs(name, sources)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return {f"raised {type(exc).__name__}: {exc}": math.inf}
    return {label: rel_error(g, n) for label, g, n in pairs}


def relative_error(name: str, sources: Mapping[str, str] | None = None) -> float:
    """The worst relative error between the network's gradients and finite differences.

    ``sources`` maps relative paths (``"xor_net.py"``, ``"pkg_net/model.py"``) to replacement
    text; files it does not name are read from disk.
    """
    return max(relative_errors(name, sources).values())


def _probe(name: str, kind: str) -> Callable[[Source], object]:
    fn = getattr(NETWORKS[name], kind)
    if fn is None:
        raise KeyError(f"network {name!r} has no {kind} probe")
    return fn


def hidden_units_identical(name: str, sources: Mapping[str, str] | None = None) -> bool:
    """Train a few steps with the network's own code; are its first hidden units still clones?"""
    fn = _probe(name, "symmetry")
    with np.errstate(all="ignore"):
        return bool(fn(_source(name, sources)))


def stable_on_large_logits(name: str, sources: Mapping[str, str] | None = None) -> bool:
    """Run the network's softmax / loss on logits of order 1e4; is everything finite?"""
    fn = _probe(name, "large_logits")
    with np.errstate(all="ignore"):
        return bool(fn(_source(name, sources)))


def own_gradcheck_error(name: str, sources: Mapping[str, str] | None = None) -> float:
    """The error the network's own gradient-check utility reports on its (correct) gradient."""
    fn = _probe(name, "own_gradcheck")
    with np.errstate(all="ignore"):
        return float(fn(_source(name, sources)))


def dropout_mean_gap(name: str, sources: Mapping[str, str] | None = None) -> float:
    """Relative gap between the mean of many training-mode dropout outputs and the test-mode
    output (inverted dropout: sampling noise only)."""
    fn = _probe(name, "dropout_mean")
    with np.errstate(all="ignore"):
        return float(fn(_source(name, sources)))


def probes(kind: str) -> Sequence[str]:
    """Names of the networks that have a probe of ``kind`` (symmetry, large_logits, own_gradcheck)."""
    return [n for n, net in NETWORKS.items() if getattr(net, kind) is not None]
