"""BP702 batchnorm-dx-ignores-batch-statistics."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.batchnorm import dx_without_batch_statistics
from linter.rule import Invalid, Report, Rule, Valid


class BatchnormDxIgnoresBatchStatistics(Rule):
    """Flags a batch-norm layer's ``dx`` with no sum over the batch of anything built from the
    upstream gradient, while its forward normalises with the batch's own mean and variance."""

    code = "BP702"
    prefilter = (P.CLASS, P.BATCH_MEAN, P.ROOT)
    name = "batchnorm-dx-ignores-batch-statistics"
    kb = "batchnorm-backward"
    summary = "Batch norm's dx treats the batch mean and variance as constants."
    why = (
        "In training mode μ and σ² are computed from the x being differentiated, so every x_i "
        "moves every output of the batch: dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)). "
        "`dx = dy * γ / σ` keeps only the direct path; the two dropped terms remove dy's mean "
        "and its component along x̂, which are not small."
    )
    instead = (
        "Use the three-term formula: `dxhat = dy * gamma; dx = inv / m * (m * dxhat - "
        "dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))`."
    )
    known_problems = (
        "The forward must normalise an input with its own batch mean (`x.mean(axis)`) and "
        "variance; a layer that only uses running statistics is left alone, as is a backward "
        "that calls helpers of the module."
    )
    valid = [
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.inv = 1.0 / np.sqrt(x.var(axis=0) + 1e-5)
                    self.xhat = (x - x.mean(axis=0)) * self.inv
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    m = dy.shape[0]
                    dxhat = dy * self.gamma
                    return self.inv / m * (m * dxhat - dxhat.sum(axis=0)
                                           - self.xhat * (dxhat * self.xhat).sum(axis=0))
            """
        ),
        Valid(
            """
            class FrozenBN:
                def forward(self, x):
                    self.xhat = (x - self.running_mean) / np.sqrt(self.running_var + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    return dy * self.gamma / np.sqrt(self.running_var + 1e-5)
            """,
            note="Running statistics are constants: the elementwise dx is right.",
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    mu = np.mean(x, axis=0)
                    self.xc = x - mu
                    self.std = np.sqrt(np.mean(self.xc ** 2, axis=0) + 1e-7)
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

                def backward(self, dy):
                    return self._backward(dy)
            """,
            note="A helper computes dx.",
        ),
        Valid(
            """
            class Standardise:
                def forward(self, x):
                    self.s = x.std()
                    return x / self.s

                def backward(self, dy):
                    return dy / self.s
            """,
            note="No scale attribute: not recognised as batch norm.",
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    g = dy * self.gamma
                    g = g - np.mean(g, axis=0) - self.xhat * np.mean(g * self.xhat, axis=0)
                    return g / self.sd
            """
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def grads(self):
                    return self.gamma * 2
            """,
            note="No parameter: nothing here is a backward.",
        ),
        Valid(
            """
            class BN:
                def forward(self, x):
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    for k in range(3):
                        dy = dy - dy.mean(axis=0)
                    return dy * self.gamma / self.sd
            """,
            note="A rebinding in a loop: the rule leaves what it cannot follow alone.",
        ),
    ]
    invalid = [
        Invalid(
            """
            class BN:
                def forward(self, x):
                    self.bvar = x.var(axis=0)
                    self.xhat = (x - x.mean(axis=0)) / np.sqrt(self.bvar + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    return dy * self.gamma / np.sqrt(self.bvar + 1e-5)
            """,
            at=(8, 16),
        ),
        Invalid(
            """
            class BatchNorm2d:
                def forward(self, X, mode):
                    if mode != "train":
                        self.x_norm = (X - self.moving_mean) / np.sqrt(self.moving_var + 1e-5)
                    else:
                        mean = X.mean(axis=(0, 2, 3), keepdims=True)
                        self.bvar = X.var(axis=(0, 2, 3), keepdims=True)
                        self.x_norm = (X - mean) / np.sqrt(self.bvar + 1e-5)
                    return self.x_norm * self.gamma + self.beta

                def backward(self, d_out):
                    d_gamma = (d_out * self.x_norm).sum(axis=(0, 2, 3), keepdims=True)
                    d_beta = d_out.sum(axis=(0, 2, 3), keepdims=True)
                    d_x = (d_out * self.gamma) / np.sqrt(self.bvar + 1e-5)
                    return d_x, [d_gamma, d_beta]
            """,
            at=(14, 9),
        ),
        Invalid(
            """
            class BN:
                def forward(self, x):
                    mu = np.mean(x, axis=0)
                    xc = x - mu
                    self.std = np.sqrt(np.mean(xc ** 2, axis=0) + 1e-7)
                    self.xn = xc / self.std
                    return self.gamma * self.xn + self.beta

                def backward(self, dout):
                    dxn = self.gamma * dout
                    dx = dxn / self.std
                    return dx
            """,
            at=(11, 9),
        ),
        Invalid(
            """
            class Norm:
                def forward(self, inp):
                    self.s = inp.std(axis=0)
                    self.h = (inp - inp.mean(axis=0)) / inp.std(axis=0)
                    return self.w * self.h + self.c

                def backward(self, up):
                    self.dw = np.sum(up * self.h, axis=0)
                    return up * self.w / self.s
            """,
            at=(9, 16),
        ),
        Invalid(
            """
            class BN:
                def forward(self, x):
                    self.inv = 1.0 / np.sqrt(x.var(axis=0) + 1e-5)
                    self.xhat = (x - x.mean(axis=0)) * self.inv
                    return self.xhat * self.gamma + self.beta

                def backward(self, g):
                    return g * self.gamma * self.inv, np.sum(g * self.xhat, axis=0)
            """,
            at=(8, 16),
        ),
        Invalid(
            """
            class BN:
                def forward(self, x, training=True):
                    if training:
                        m = x.mean(axis=0)
                        v = x.var(axis=0)
                        self.xhat = (x - m) / np.sqrt(v + 1e-5)
                        self.sd = np.sqrt(v + 1e-5)
                    return self.gamma.T * self.xhat + self.beta.T

                def backward(self, grad):
                    scaled = grad * self.gamma.T
                    return scaled / self.sd
            """,
            at=(12, 16),
        ),
        Invalid(
            """
            class LN:
                def forward(self, x):
                    mu = x.mean(axis=1, keepdims=True)
                    var = x.var(axis=1, keepdims=True)
                    self.xhat = (x - mu) / np.sqrt(var + 1e-5)
                    self.sd = np.sqrt(var + 1e-5)
                    return self.gamma * self.xhat + self.beta

                def backward(self, dy):
                    return self.gamma * dy / self.sd
            """,
            at=(10, 16),
            note="Layer norm's statistics depend on x too.",
        ),
        Invalid(
            """
            class BN:
                def forward(self, x):
                    self.x = x
                    self.bmean = np.mean(self.x, axis=0)
                    self.bvar = np.var(self.x, axis=0)
                    self.xhat = (self.x - self.bmean) / np.sqrt(self.bvar + 1e-8)
                    return self.gamma * self.xhat + self.beta

                def backward(self, d):
                    dxhat = d * self.gamma
                    dx = dxhat / np.sqrt(self.bvar + 1e-8)
                    return dx
            """,
            at=(11, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for f in dx_without_batch_statistics(model):
            yield Report(
                f.node,
                f"batch norm's dx never sums `{f.upstream}` over the batch: it treats the batch "
                f"mean and variance as constants, but both depend on x; add the terms through μ "
                f"and σ² (dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)))",
                evidence=(
                    (f.layer.xhat, "x̂ normalised with the batch's own mean and variance"),
                    (f.layer.scale, f"the output is scaled by `{f.layer.gamma}`"),
                ),
            )
