"""A dropout created inside forward() (or F.dropout without training=self.training) is not
switched off by model.eval(): evaluation stays stochastic."""

from __future__ import annotations

from typing import Any

import numpy as np

from kb.numerics import rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

D_IN, D_HID, D_OUT, BATCH, P_DROP = 6, 32, 3, 16, 0.5
KINDS = ("init", "functional-training", "created-in-forward", "functional-default")


# --- a numpy model of the parts of nn.Module that matter here -----------------------------------


class NpModule:
    """nn.Module's mode handling: ``training`` starts True; ``train(mode)`` sets it on this module
    and on every submodule registered as an attribute (``eval()`` is ``train(False)``)."""

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_children", {})

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, NpModule):
            self._children[name] = value
        object.__setattr__(self, name, value)

    def train(self, mode: bool = True) -> NpModule:
        object.__setattr__(self, "training", mode)
        for child in self._children.values():
            child.train(mode)
        return self

    def eval(self) -> NpModule:
        return self.train(False)


def np_dropout(x: np.ndarray, p: float, r: np.random.Generator, training: bool = True):
    """F.dropout: ``training`` defaults to True; kept units are scaled by 1/(1 − p)."""
    if not training:
        return x
    return x * (r.random(x.shape) >= p) / (1.0 - p)


class NpDropout(NpModule):
    def __init__(self, p: float, r: np.random.Generator) -> None:
        super().__init__()
        self.p, self.r = p, r

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np_dropout(x, self.p, self.r, training=self.training)


class NpNet(NpModule):
    def __init__(self, kind: str, w1: np.ndarray, w2: np.ndarray, r: np.random.Generator):
        super().__init__()
        self.kind, self.w1, self.w2, self.r = kind, w1, w2, r
        if kind == "init":
            self.drop = NpDropout(P_DROP, r)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.maximum(x @ self.w1.T, 0.0)
        if self.kind == "init":
            h = self.drop(h)
        elif self.kind == "functional-training":
            h = np_dropout(h, P_DROP, self.r, training=self.training)
        elif self.kind == "created-in-forward":
            h = NpDropout(P_DROP, self.r)(h)  # a new module, training=True, unknown to eval()
        else:
            h = np_dropout(h, P_DROP, self.r)
        return h @ self.w2.T


# --- the same four networks in PyTorch ----------------------------------------------------------


def torch_net(torch, kind: str, w1: np.ndarray, w2: np.ndarray) -> Any:
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(D_IN, D_HID, bias=False)
            self.fc2 = nn.Linear(D_HID, D_OUT, bias=False)
            if kind == "init":
                self.drop = nn.Dropout(P_DROP)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            if kind == "init":
                h = self.drop(h)
            elif kind == "functional-training":
                h = F.dropout(h, P_DROP, training=self.training)
            elif kind == "created-in-forward":
                h = nn.Dropout(P_DROP)(h)
            else:
                h = F.dropout(h, P_DROP)
            return self.fc2(h)

    net = Net().double()
    with torch.no_grad():
        net.fc1.weight.copy_(tensor(torch, w1))
        net.fc2.weight.copy_(tensor(torch, w2))
    return net


def check() -> CheckResult:
    torch = get_torch()
    r = rng(91)
    w1 = r.normal(size=(D_HID, D_IN)) / np.sqrt(D_IN)
    w2 = r.normal(size=(D_OUT, D_HID)) / np.sqrt(D_HID)
    x = r.normal(size=(BATCH, D_IN))
    # What evaluation must compute: the network with dropout as the identity.
    expected = np.maximum(x @ w1.T, 0.0) @ w2.T
    scale = np.abs(expected).max()

    if torch is not None:
        torch.manual_seed(int(r.integers(2**31)))
        xt = tensor(torch, x)

        def passes(kind: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
            net = torch_net(torch, kind, w1, w2).train(train)
            with torch.no_grad():
                return numpy(net(xt)), numpy(net(xt))
    else:

        def passes(kind: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
            net = NpNet(kind, w1, w2, r).train(train)
            return net(x), net(x)

    spread = {}  # max |pass 1 − pass 2| in eval mode, relative to the output scale
    off = {}  # max |eval output − dropout-free output|, relative
    for kind in KINDS:
        a, b = passes(kind, train=False)
        spread[kind] = np.abs(a - b).max() / scale
        off[kind] = max(np.abs(a - expected).max(), np.abs(b - expected).max()) / scale
    a, b = passes("init", train=True)
    train_spread = np.abs(a - b).max() / scale

    return CheckResult(
        claim=says_which(
            "model.eval() switches off an nn.Dropout created in __init__ (and F.dropout given "
            "training=self.training): two evaluation passes over the same batch agree and equal "
            "the dropout-free network. An nn.Dropout constructed inside forward() is a new "
            "module in training mode on every call, and F.dropout(x, p) defaults to "
            "training=True, so after eval() both still drop units: the two passes differ.",
            torch,
        ),
        measurements=[
            below(
                "nn.Dropout made in __init__, after eval(): max |pass 1 − pass 2| / max |output|",
                spread["init"],
                1e-12,
            ),
            below(
                "nn.Dropout made in __init__, after eval(): max |output − dropout-free output| "
                "/ max |output|",
                off["init"],
                1e-12,
            ),
            below(
                "F.dropout(h, p, training=self.training), after eval(): max |output − "
                "dropout-free output| / max |output|",
                off["functional-training"],
                1e-12,
            ),
            above(
                "nn.Dropout made in __init__, train mode: max |pass 1 − pass 2| / max |output| "
                "(dropout is on while training)",
                train_spread,
                1e-2,
            ),
            above(
                "nn.Dropout(p) created in forward(), after eval(): max |pass 1 − pass 2| "
                "/ max |output|",
                spread["created-in-forward"],
                1e-2,
            ),
            above(
                "F.dropout(h, p) without training=, after eval(): max |pass 1 − pass 2| "
                "/ max |output|",
                spread["functional-default"],
                1e-2,
            ),
            above(
                "both, after eval(): smallest max |output − dropout-free output| / max |output|",
                min(off["created-in-forward"], off["functional-default"]),
                1e-2,
            ),
        ],
    )
