"""BP108 layer-backward-ignores-upstream."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.upstream import ignored_upstreams
from linter.rule import Invalid, Report, Rule, Valid


class LayerBackwardIgnoresUpstream(Rule):
    """Flags a numpy layer's ``backward`` whose returned gradient never depends on the upstream
    gradient it receives."""

    code = "BP108"
    prefilter = (P.BASE, P.BACKWARD_CALL)
    name = "layer-backward-ignores-upstream"
    kb = "custom-backward-ignores-grad-output"
    summary = (
        "A layer's backward returns its local derivative without the upstream gradient it "
        "was given."
    )
    why = (
        "`backward(grad)` receives dL/d(output) and must return dL/d(input): the upstream "
        "gradient times the layer's local derivative (`grad * f'(x)` for an elementwise "
        "activation, `grad @ W.T` for a dense layer). Returning the local derivative alone "
        "(`self.out * (1 - self.out)`, `self.W.T`) is right only when the upstream gradient is "
        "all ones, so every layer below this one learns from the wrong signal."
    )
    instead = "Multiply by the upstream gradient: `return grad * self.out * (1 - self.out)`."
    known_problems = (
        "Only classes with both `forward` (one required input) and `backward` are read; a "
        "module where some `.backward(...)` result is multiplied by something is left alone "
        "(its caller may apply the chain rule), and so are PyTorch modules and Functions "
        "(BP408), backward methods that return None or zeros, and upstream parameters with a "
        "default (`dout=1` at the end of a network)."
    )
    valid = [
        Valid(
            """
            class Sigmoid:
                def forward(self, x):
                    self.out = 1 / (1 + np.exp(-x))
                    return self.out

                def backward(self, dout):
                    return dout * self.out * (1 - self.out)
            """
        ),
        Valid(
            """
            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_in, n_out) * 0.1

                def forward(self, x):
                    self.x = x
                    return x @ self.W

                def backward(self, grad):
                    self.dW = self.x.T @ grad
                    return grad @ self.W.T
            """
        ),
        Valid(
            """
            class SoftmaxWithLoss:
                def forward(self, x, t):
                    self.t = t
                    self.y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
                    return -np.sum(t * np.log(self.y)) / len(x)

                def backward(self, dout):
                    return (self.y - self.t) / len(self.t)
            """,
            note="A loss layer (its forward takes the target): the end of the chain.",
        ),
        Valid(
            """
            class Tanh:
                def forward(self, x):
                    self.out = np.tanh(x)
                    return self.out

                def backward(self, dout=1):
                    return 1 - self.out ** 2
            """,
            note="A default upstream gradient: meant to be called last.",
        ),
        Valid(
            """
            class Sigmoid:
                def forward(self, z):
                    self.a = 1 / (1 + np.exp(-z))
                    return self.a

                def backward(self, z):
                    return self.a * (1 - self.a)

            def train_step(layer, z, err):
                return err * layer.backward(z)
            """,
            note="The caller multiplies the returned derivative by the gradient itself.",
        ),
        Valid(
            """
            class Rnn:
                def forward(self, xs):
                    self.xs = xs
                    return xs

                def backward(self, dh):
                    dxs = []
                    for t in reversed(range(dh.shape[0])):
                        dxs.insert(0, self.cell_backward(dh[t]))
                    return np.stack(dxs)

                def cell_backward(self, d):
                    return d
            """,
            note="The gradient reaches the result through a list it is inserted into.",
        ),
        Valid(
            """
            class StopGradient:
                def forward(self, x):
                    return x

                def backward(self, grad):
                    return np.zeros_like(grad)
            """
        ),
        Valid(
            """
            class Scale:
                def forward(self, x):
                    self.s = 2.0
                    return self.s * x

                def backward(self, grad):
                    n = grad.shape[0]
                    g = grad.reshape(n, -1)
                    return self.s * g.reshape(grad.shape)
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            class Sigmoid:
                def forward(self, x):
                    self.out = 1 / (1 + np.exp(-x))
                    return self.out

                def backward(self, dout):
                    return self.out * (1 - self.out)
            """,
            at=(7, 16),
        ),
        Invalid(
            """
            class Dense:
                def __init__(self, n_in, n_out):
                    self.W = np.random.randn(n_in, n_out) * 0.1

                def forward(self, x):
                    self.x = x
                    return x @ self.W

                def backward(self, grad):
                    self.dW = self.x.T @ grad
                    return self.W.T
            """,
            at=(11, 16),
            note="The weight gradient uses grad; the returned input gradient does not.",
        ),
        Invalid(
            """
            class ReLU:
                def forward(self, x):
                    self.mask = x > 0
                    return x * self.mask

                def backward(self, upstream):
                    dx = self.mask.astype(float)
                    return dx
            """,
            at=(8, 16),
        ),
        Invalid(
            """
            class Tanh:
                def forward(self, x):
                    self.y = np.tanh(x)
                    return self.y

                def backward(self, g):
                    n = g.shape[0]
                    local = np.ones_like(g) * (1 - self.y ** 2)
                    return local / n
            """,
            at=(9, 16),
            note="Reading the upstream gradient's shape is not using it.",
        ),
        Invalid(
            """
            class Layer:
                def forward(self, x):
                    raise NotImplementedError

                def backward(self, err, lr):
                    raise NotImplementedError

            class Sigmoid(Layer):
                def forward(self, x):
                    self.s = 1 / (1 + np.exp(-x))
                    return self.s

                def backward(self, err, lr):
                    return self.s * (1 - self.s)
            """,
            at=(14, 16),
        ),
        Invalid(
            """
            class LeakyReLU:
                def __init__(self, alpha=0.01):
                    self.alpha = alpha

                def forward(self, x):
                    self.x = x
                    return np.where(x > 0, x, self.alpha * x)

                def backward(self, d_out):
                    return np.where(self.x > 0, 1.0, self.alpha)
            """,
            at=(10, 16),
        ),
        Invalid(
            """
            class BatchNorm:
                def __init__(self, n):
                    self.gamma = np.ones(n)

                def forward(self, z):
                    self.inv = 1 / np.sqrt(z.var(axis=0) + 1e-5)
                    self.zhat = (z - z.mean(axis=0)) * self.inv
                    return self.gamma * self.zhat

                def backward(self, dout):
                    self.dgamma = np.sum(dout * self.zhat, axis=0)
                    dzhat = self.gamma * np.ones_like(dout)
                    m = dout.shape[0]
                    return self.inv / m * (m * dzhat - dzhat.sum(axis=0))
            """,
            at=(14, 16),
        ),
        Invalid(
            """
            class Softplus:
                def forward(self, x):
                    self.x = x
                    return np.log1p(np.exp(x))

                def backward(self, grad_out):
                    sig = 1 / (1 + np.exp(-self.x))
                    self.cache = sig
                    return sig
            """,
            at=(9, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for z in ignored_upstreams(model):
            yield Report(
                z.ret,
                f"`{z.fn.qualname()}` returns `{model.src(z.ret).strip()}`, which never uses "
                f"the upstream gradient `{z.param}`: backward must return `{z.param}` times the "
                "local derivative (the chain rule), not the local derivative alone",
                evidence=((z.fn.node, f"`{z.param}` receives dL/d(output) of `forward`"),),
            )
