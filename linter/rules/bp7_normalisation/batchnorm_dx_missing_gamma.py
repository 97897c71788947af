"""BP701 batchnorm-dx-missing-gamma."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.batchnorm import dx_terms_without_gamma
from linter.rule import Invalid, Report, Rule, Valid


class BatchnormDxMissingGamma(Rule):
    """Flags a term of a batch-norm layer's ``dx`` built from the upstream gradient without γ."""

    code = "BP701"
    prefilter = (P.CLASS, P.BATCH_MEAN, P.ROOT)
    name = "batchnorm-dx-missing-gamma"
    kb = "batchnorm-backward"
    summary = "A term of batch norm's dx leaves out the scale γ."
    why = (
        "The layer outputs γ·x̂ + β, so every path from the output back to x passes through γ: "
        "dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)). A term built from dy alone (`dy / σ`) next "
        "to terms that carry γ is wrong as soon as γ moves away from 1, which it does after the "
        "first update."
    )
    instead = "Scale the upstream gradient by γ first (`dxhat = dy * gamma`) and build every term from it."
    known_problems = (
        "The layer is recognised by what its forward computes: `(x − mean(x, axis)) / "
        "sqrt(var + ε)` of an input, times a `self.` attribute; dx is what a method whose first "
        "parameter reaches its return gives back. A backward that calls helpers of the module "
        "is left alone."
    )
    valid = [
        Valid(
            """
            class BN:
                def __init__(self, d):
                    self.gamma = np.ones(d)
                    self.beta = np.zeros(d)

                def forward(self, x):
                    self.mu = x.mean(axis=0)
                    self.inv = 1.0 / np.sqrt(x.var(axis=0) + 1e-5)
                    self.xhat = (x - self.mu) * self.inv
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    m = dy.shape[0]
                    dxhat = dy * self.gamma
                    self.dgamma = (dy * self.xhat).sum(axis=0)
                    return self.inv / m * (m * dxhat - dxhat.sum(axis=0)
                                           - self.xhat * (dxhat * self.xhat).sum(axis=0))
            """
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    mu = np.mean(x, axis=0)
                    self.xc = x - mu
                    self.bvar = np.mean(self.xc ** 2, axis=0)
                    self.std = np.sqrt(self.bvar + 1e-7)
                    self.xn = self.xc / self.std
                    return self.gamma * self.xn + self.beta

                def backward(self, dout):
                    n = dout.shape[0]
                    dxn = self.gamma * dout
                    dxc = dxn / self.std
                    dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
                    dvar = 0.5 * dstd / self.std
                    dxc += (2.0 / n) * self.xc * dvar
                    dmu = np.sum(dxc, axis=0)
                    return dxc - dmu / n
            """
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, g):
                    dxhat = g * self.gamma
                    return (dxhat - dxhat.mean(axis=0)
                            - self.xhat * (dxhat * self.xhat).mean(axis=0)) / self.std
            """
        ),
        Valid(
            """
            class Scale:
                def forward(self, x):
                    self.x = x
                    return self.gamma * x + self.beta

                def backward(self, dy):
                    return dy / 2 + dy * 0
            """,
            note="Not a batch norm: nothing is normalised.",
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - self.running_mean) / np.sqrt(self.running_var + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    return dy / np.sqrt(self.running_var + 1e-5) + 0 * dy
            """,
            note="Running statistics, not the batch's: no batch-norm layer is recognised.",
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    dxhat = self.helper(dy)
                    return dxhat / self.std + dy / self.std
            """,
            note="A helper of the module is called: left alone.",
        ),
        Valid(
            """
            class LayerNormish:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(
                        x.var(axis=1, keepdims=True) + 1e-5)
                    return self.g * self.xhat + self.b

                def backward(self, dy):
                    d = dy * self.g
                    n = dy.shape[1]
                    return (n * d - d.sum(axis=1, keepdims=True)
                            - self.xhat * (d * self.xhat).sum(axis=1, keepdims=True)) / (n * self.s)
            """
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    dx = dy * self.gamma
                    dx = dx - dx.mean(axis=0)
                    return dx
            """,
            note="One term, which carries γ (another rule's business if it is incomplete).",
        ),
    ]
    invalid = [
        Invalid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    self.inv = 1 / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    m = dy.shape[0]
                    dxhat = dy * self.gamma
                    return (dy * self.inv
                            - dxhat.sum(axis=0) * self.inv / m
                            - self.xhat * (dxhat * self.xhat).sum(axis=0) * self.inv / m)
            """,
            at=(10, 17),
        ),
        Invalid(
            """
            class BatchNormLayer:
                def forward(self, x):
                    self.x = x
                    self.mean_x = np.mean(x, axis=0, keepdims=True)
                    self.xc = self.x - self.mean_x
                    self.var_x = np.mean(self.xc ** 2, axis=0, keepdims=True)
                    self.std_x = np.sqrt(self.var_x + 1e-7)
                    self.xn = self.xc / self.std_x
                    return self.gamma.T * self.xn + self.beta.T

                def backward(self, grads):
                    xn_grad = grads * self.gamma.T
                    var_grad = np.sum(xn_grad * self.xc * -0.5 * self.var_x ** -1.5, axis=0)
                    inv = 1 / self.std_x
                    n = self.x.shape[0]
                    mean_grad = np.sum(-xn_grad * inv, axis=0)
                    return grads * inv + var_grad * 2 * self.xc / n + mean_grad / n
            """,
            at=(17, 16),
        ),
        Invalid(
            """
            class BN:
                def forward(self, X):
                    mu = X.mean(axis=0)
                    var = X.var(axis=0)
                    self.X_norm = (X - mu) / np.sqrt(var + 1e-8)
                    self.std = np.sqrt(var + 1e-8)
                    return self.gamma * self.X_norm + self.beta

                def backward(self, dout):
                    n = dout.shape[0]
                    dX_norm = dout * self.gamma
                    dX = (n * dout - dX_norm.sum(axis=0)
                          - self.X_norm * (dX_norm * self.X_norm).sum(axis=0)) / (n * self.std)
                    return dX
            """,
            at=(12, 15),
            note="The term `n * dout`, inside a product, leaves γ out.",
        ),
        Invalid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.xhat * self.gamma + self.beta

                def backward(self, dy):
                    self.dgamma = np.sum(dy * self.xhat, axis=0)
                    m = dy.shape[0]
                    return (m * dy - dy.sum(axis=0)
                            - self.xhat * (dy * self.xhat).sum(axis=0)) / (m * self.sd)
            """,
            at=(9, 16),
            note="γ left out of dx altogether.",
        ),
        Invalid(
            """
            class Norm:
                def forward(self, inp):
                    centred = inp - np.mean(inp, axis=0)
                    self.s = np.sqrt(np.var(inp, axis=0) + 1e-5)
                    self.h = centred / np.sqrt(np.var(inp, axis=0) + 1e-5)
                    return self.w * self.h + self.c

                def backward(self, up):
                    k = up.shape[0]
                    dh = up * self.w
                    return up / self.s - dh.mean(axis=0) / self.s - self.h * (dh * self.h).mean(axis=0) / self.s
            """,
            at=(11, 16),
        ),
        Invalid(
            """
            class BN:
                def forward(self, x, train=True):
                    if train:
                        mean = x.mean(axis=(0, 2, 3), keepdims=True)
                        self.bvar = x.var(axis=(0, 2, 3), keepdims=True)
                        self.x_norm = (x - mean) / np.sqrt(self.bvar + 1e-5)
                    else:
                        self.x_norm = (x - self.mm) / np.sqrt(self.mv + 1e-5)
                    return self.x_norm * self.gamma + self.beta

                def backward(self, d_out):
                    inv = 1 / np.sqrt(self.bvar + 1e-5)
                    dxn = d_out * self.gamma
                    m = d_out.shape[0]
                    return d_out * inv - (dxn.sum(axis=(0, 2, 3), keepdims=True) / m) * inv
            """,
            at=(15, 16),
        ),
        Invalid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / x.std(axis=0)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    dxhat = dy * self.gamma
                    direct = dy / self.sd
                    return direct - dxhat.mean(axis=0) / self.sd
            """,
            at=(9, 16),
        ),
        Invalid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) * (1.0 / np.sqrt(x.var(axis=0) + 1e-5))
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    n = dy.shape[0]
                    dxhat = dy * self.gamma
                    dx = dy * self.inv + (-dxhat.sum(axis=0) - self.xhat * (dxhat * self.xhat).sum(axis=0)) * self.inv / n
                    return dx, dxhat.sum(axis=0)
            """,
            at=(9, 14),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in dx_terms_without_gamma(model):
            yield Report(
                f.node,
                f"`{model.src(f.node)}` in batch norm's dx does not carry `{f.layer.gamma}`: "
                f"the layer outputs {f.layer.gamma}·x̂ + β, so every term of dx is scaled by "
                f"it; build the terms from `{f.upstream} * {f.layer.gamma}`",
                evidence=(
                    (f.layer.xhat, "x̂ normalised with the batch's own mean and variance"),
                    (f.layer.scale, f"the output is scaled by `{f.layer.gamma}`"),
                ),
            )
