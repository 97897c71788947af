"""model.eval() changes what dropout and batch norm compute; torch.no_grad() stops recording the
graph. Neither does the other's job."""

from __future__ import annotations

import numpy as np

from kb.numerics import rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

D_IN, D_HID, D_OUT, BATCH, P_DROP = 4, 16, 2, 8, 0.5


class NumpyNet:
    """Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear, with PyTorch's train/eval semantics."""

    def __init__(self, w1: np.ndarray, w2: np.ndarray, r: np.random.Generator) -> None:
        self.w1, self.w2, self.r = w1, w2, r
        self.training = True
        self.running_mean = np.zeros(D_HID)
        self.running_var = np.ones(D_HID)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = x @ self.w1.T
        if self.training:
            mu, var = h.mean(axis=0), h.var(axis=0)
            n = len(h)
            self.running_mean = 0.9 * self.running_mean + 0.1 * mu
            self.running_var = 0.9 * self.running_var + 0.1 * var * n / (n - 1)
        else:
            mu, var = self.running_mean, self.running_var
        h = np.maximum((h - mu) / np.sqrt(var + 1e-5), 0.0)
        if self.training:
            h = h * (self.r.random(h.shape) >= P_DROP) / (1.0 - P_DROP)
        return h @ self.w2.T


def check() -> CheckResult:
    torch = get_torch()
    r = rng(73)
    w1 = r.normal(size=(D_HID, D_IN)) / np.sqrt(D_IN)
    w2 = r.normal(size=(D_OUT, D_HID)) / np.sqrt(D_HID)
    x = r.normal(size=(BATCH, D_IN))

    if torch is not None:
        torch.manual_seed(int(r.integers(2**31)))
        nn = torch.nn
        model = nn.Sequential(
            nn.Linear(D_IN, D_HID, bias=False),
            nn.BatchNorm1d(D_HID),
            nn.ReLU(),
            nn.Dropout(P_DROP),
            nn.Linear(D_HID, D_OUT, bias=False),
        ).double()
        with torch.no_grad():
            model[0].weight.copy_(tensor(torch, w1))
            model[4].weight.copy_(tensor(torch, w2))
        xt = tensor(torch, x)
        bn = model[1]

        with torch.no_grad():  # train mode, graph off
            before = numpy(bn.running_mean)
            a, b = numpy(model(xt)), numpy(model(xt))
            stats_moved = float(np.abs(numpy(bn.running_mean) - before).max())
            graph_off = 1.0 if model(xt).requires_grad else 0.0
        model.eval()  # eval mode, graph on
        before = numpy(bn.running_mean)
        y_eval = model(xt)
        graph_in_eval = 1.0 if y_eval.requires_grad else 0.0
        c, d = numpy(y_eval), numpy(model(xt))
        stats_in_eval = float(np.abs(numpy(bn.running_mean) - before).max())
        mean_e, var_e = numpy(bn.running_mean), numpy(bn.running_var)
    else:
        model = NumpyNet(w1, w2, r)
        before = model.running_mean.copy()
        a, b = model(x), model(x)
        stats_moved = float(np.abs(model.running_mean - before).max())
        graph_off = graph_in_eval = None  # graph recording can only be measured with torch
        model.training = False
        before = model.running_mean.copy()
        c, d = model(x), model(x)
        stats_in_eval = float(np.abs(model.running_mean - before).max())
        mean_e, var_e = model.running_mean, model.running_var

    # What eval mode must compute: running statistics, no dropout.
    h = x @ w1.T
    expected = np.maximum((h - mean_e) / np.sqrt(var_e + 1e-5), 0.0) @ w2.T

    measurements = [
        above("train mode under no_grad: max |pass 1 - pass 2|", np.abs(a - b).max(), 1e-3),
        above("train mode under no_grad: max change of BN running mean", stats_moved, 1e-3),
        below("eval mode: max |pass 1 - pass 2|", np.abs(c - d).max(), 1e-12),
        below("eval mode: max change of BN running mean", stats_in_eval, 1e-12),
        below(
            "eval mode: max |output - running-statistics forward without dropout|",
            np.abs(c - expected).max(),
            1e-12,
        ),
    ]
    if graph_off is not None and graph_in_eval is not None:
        measurements += [
            below("train mode under no_grad: output requires grad (1 = yes)", graph_off, 0.5),
            above("eval mode without no_grad: output requires grad (1 = yes)", graph_in_eval, 0.5),
        ]
    return CheckResult(
        claim=says_which(
            "torch.no_grad() only stops graph recording: in train mode under no_grad two passes "
            "over the same batch differ (dropout) and BatchNorm's running mean still moves. "
            "model.eval() switches dropout off and batch norm to its running statistics (outputs "
            "repeat exactly) but still records the graph. Evaluation wants both.",
            torch,
        ),
        measurements=measurements,
    )
