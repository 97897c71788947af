"""The harness every numeric test uses.

Conventions (stated once, linked from every page):

* float64 throughout, every random draw through ``rng(seed)`` (a fixed seed per draw site; a
  numeric test is run again under ``sweep(k)`` to show it holds for other draws, not one);
* centred finite differences with step ``H = 1e-5``;
* relative error ``||g - g_hat|| / (||g|| + ||g_hat||)``; a correct gradient is below
  ``RIGHT = 1e-7``, a wrong one above ``WRONG = 1e-3``;
* small networks with at least one square hidden layer (square layers hide orientation bugs);
* random upstream weights ``U`` in the cost, so a backward pass that ignores its upstream gradient
  cannot pass by accident.

Two conventions are provided: column (Nielsen, ``z = W a + b``, ``W`` is ``(n_out, n_in)``, one
example per column) and row (batch first, ``Z = X W + b``, ``W`` is ``(n_in, n_out)``).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

H = 1e-5
RIGHT = 1e-7
WRONG = 1e-3
DEFAULT_SIZES = (4, 5, 5, 3)  # the 5x5 hidden layer is square on purpose


_SWEEP: contextvars.ContextVar[int] = contextvars.ContextVar("bplint_kb_sweep", default=0)
_DRAWS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "bplint_kb_draws", default=None
)


@contextlib.contextmanager
def sweep(k: int) -> Iterator[list[int]]:
    """Run the code inside with every ``rng(seed)`` drawing stream ``k`` of that seed.

    ``k = 0`` is the published stream (``default_rng(seed)``, the numbers on the site); any other
    ``k`` gives independent draws. The yielded list collects the seeds ``rng`` was asked for, so a
    caller can tell a check that draws random numbers from one that draws none.
    """
    draws: list[int] = []
    token_k, token_d = _SWEEP.set(k), _DRAWS.set(draws)
    try:
        yield draws
    finally:
        _SWEEP.reset(token_k)
        _DRAWS.reset(token_d)


def rng(seed: int = 0) -> np.random.Generator:
    """The generator for draw site ``seed`` in the current ``sweep`` (stream 0 by default)."""
    draws = _DRAWS.get()
    if draws is not None:
        draws.append(seed)
    k = _SWEEP.get()
    return np.random.default_rng(seed if k == 0 else [seed, k])


def rel_err(g: np.ndarray, g_hat: np.ndarray) -> float:
    """Relative error ``||g - g_hat|| / (||g|| + ||g_hat||)``; 0 when both are zero."""
    g = np.asarray(g, dtype=np.float64)
    g_hat = np.asarray(g_hat, dtype=np.float64)
    if g.shape != g_hat.shape:
        raise ValueError(f"shape mismatch: {g.shape} vs {g_hat.shape}")
    denom = np.linalg.norm(g) + np.linalg.norm(g_hat)
    return 0.0 if denom == 0 else float(np.linalg.norm(g - g_hat) / denom)


def numerical_grad(f: Callable[[], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """Centred finite-difference gradient of ``f()`` with respect to ``x``.

    ``x`` is perturbed in place (and restored), so ``f`` reads it through its closure.
    """
    if x.dtype != np.float64:
        raise TypeError("finite differences here are float64 only")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def one_sided_grad(f: Callable[[], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """Forward-difference gradient (error O(h)); only for showing why centred differences win."""
    grad = np.zeros_like(x)
    f0 = f()
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        grad[i] = (f() - f0) / h  # noqa: BP503 deliberately one-sided: this shows the O(h) error
        x[i] = old
    return grad


# --- activations -------------------------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """σ'(z), evaluated at the pre-activation."""
    s = sigmoid(z)
    return s * (1.0 - s)


def softmax(z: np.ndarray, axis: int = 0) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def identity(z: np.ndarray) -> np.ndarray:
    return z


def identity_prime(z: np.ndarray) -> np.ndarray:
    return np.ones_like(z)


# --- reference networks ------------------------------------------------------------------------

Propagate = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _transpose_propagate(w: np.ndarray, delta: np.ndarray) -> np.ndarray:
    return w.T @ delta


@dataclass
class ColumnNet:
    """Nielsen's convention: ``z^l = W^l a^{l-1} + b^l``, examples are columns of ``x``.

    The cost is ``C = sum(U * (a^L - y)**2) / 2`` with random upstream weights ``U``.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    x: np.ndarray
    y: np.ndarray
    upstream: np.ndarray
    act: Callable[[np.ndarray], np.ndarray] = sigmoid
    act_prime: Callable[[np.ndarray], np.ndarray] = sigmoid_prime
    zs: list[np.ndarray] = field(default_factory=list, repr=False)
    activations: list[np.ndarray] = field(default_factory=list, repr=False)

    def forward(self) -> np.ndarray:
        a = self.x
        self.zs, self.activations = [], [a]
        for w, b in zip(self.weights, self.biases, strict=True):
            z = w @ a + b
            a = self.act(z)
            self.zs.append(z)
            self.activations.append(a)
        return a

    def cost(self) -> float:
        a = self.forward()
        return float(0.5 * np.sum(self.upstream * (a - self.y) ** 2))

    def output_grad(self) -> np.ndarray:
        """dC/da^L for the weighted quadratic cost."""
        return self.upstream * (self.activations[-1] - self.y)

    def backward(
        self, propagate: Propagate = _transpose_propagate
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Analytic gradients; ``propagate(W, delta)`` carries delta to the layer below."""
        self.forward()
        n = len(self.weights)
        dws: list[np.ndarray] = [np.empty(0)] * n
        dbs: list[np.ndarray] = [np.empty(0)] * n
        delta = self.output_grad() * self.act_prime(self.zs[-1])
        for l in range(n - 1, -1, -1):
            dws[l] = delta @ self.activations[l].T
            dbs[l] = delta.sum(axis=1, keepdims=True)
            if l > 0:
                delta = propagate(self.weights[l], delta) * self.act_prime(self.zs[l - 1])
        return dws, dbs

    def numerical(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        dws = [numerical_grad(self.cost, w) for w in self.weights]
        dbs = [numerical_grad(self.cost, b) for b in self.biases]  # noqa: BP005 false positive: a finite-difference gradient has b's shape
        return dws, dbs


def column_net(
    seed: int = 0,
    sizes: Sequence[int] = DEFAULT_SIZES,
    batch: int = 7,
    act: Callable[[np.ndarray], np.ndarray] = sigmoid,
    act_prime: Callable[[np.ndarray], np.ndarray] = sigmoid_prime,
) -> ColumnNet:
    r = rng(seed)
    weights = [r.normal(size=(m, n)) for n, m in itertools.pairwise(sizes)]
    biases = [r.normal(size=(m, 1)) for m in sizes[1:]]
    x = r.normal(size=(sizes[0], batch))
    y = r.uniform(0.05, 0.95, size=(sizes[-1], batch))
    upstream = r.uniform(0.5, 1.5, size=(sizes[-1], batch))
    return ColumnNet(weights, biases, x, y, upstream, act, act_prime)


@dataclass
class RowNet:
    """Batch-first convention: ``Z = X W + b``, ``W`` is ``(n_in, n_out)``, rows are examples.

    Hidden layers use tanh, the output is linear, the cost is ``C = sum(U * Y_hat)`` with random
    upstream weights ``U`` (so ``dC/dY_hat = U``).
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    x: np.ndarray
    upstream: np.ndarray

    def forward(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        a, inputs, zs = self.x, [], []
        for l, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            inputs.append(a)
            z = a @ w + b
            zs.append(z)
            a = z if l == len(self.weights) - 1 else np.tanh(z)
        return inputs, zs

    def cost(self) -> float:
        _, zs = self.forward()
        return float(np.sum(self.upstream * zs[-1]))

    def backward(
        self, propagate: Propagate | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``propagate(W, dZ)`` gives dC/dA of the layer below; default ``dZ @ W.T``."""
        inputs, zs = self.forward()
        n = len(self.weights)
        dws: list[np.ndarray] = [np.empty(0)] * n
        dbs: list[np.ndarray] = [np.empty(0)] * n
        dz = self.upstream
        for l in range(n - 1, -1, -1):
            dws[l] = inputs[l].T @ dz
            dbs[l] = dz.sum(axis=0)
            if l > 0:
                da = propagate(self.weights[l], dz) if propagate else dz @ self.weights[l].T
                dz = da * (1.0 - np.tanh(zs[l - 1]) ** 2)
        return dws, dbs

    def numerical(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        dws = [numerical_grad(self.cost, w) for w in self.weights]
        dbs = [numerical_grad(self.cost, b) for b in self.biases]  # noqa: BP005 false positive: a finite-difference gradient has b's shape
        return dws, dbs


def row_net(seed: int = 0, sizes: Sequence[int] = DEFAULT_SIZES, batch: int = 7) -> RowNet:
    r = rng(seed)
    weights = [r.normal(size=(n, m)) / np.sqrt(n) for n, m in itertools.pairwise(sizes)]
    biases = [r.normal(size=(m,)) * 0.1 for m in sizes[1:]]
    x = r.normal(size=(batch, sizes[0]))
    upstream = r.normal(size=(batch, sizes[-1]))
    return RowNet(weights, biases, x, upstream)


def max_rel_err(analytic: Sequence[np.ndarray], numeric: Sequence[np.ndarray]) -> float:
    """The worst relative error over a list of parameter gradients."""
    return max(rel_err(a, n) for a, n in zip(analytic, numeric, strict=True))
