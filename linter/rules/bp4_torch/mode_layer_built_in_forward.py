"""BP412: nn.Dropout / nn.BatchNorm made and applied inside a module's method (not __init__)."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_modes import modes
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{call}` builds a new {layer} on every call: it is not a registered submodule, so "
    "`model.eval()` never reaches it and it stays in training mode{extra}; create it once in "
    "`__init__` (`self.drop = nn.{layer}(...)`) and apply that"
)
EXTRA = {
    "Dropout": " (units are dropped at evaluation too)",
    "BatchNorm": " (batch statistics at evaluation, running averages never used)",
}


class ModeLayerBuiltInForward(Rule):
    """Flags a dropout or batch-norm layer constructed and applied inside a method of an
    ``nn.Module`` other than ``__init__``, and kept nowhere."""

    code = "BP412"
    prefilter = (P.BASE, P.MODE_LAYER)
    name = "mode-layer-built-in-forward"
    kb = "dropout-module-created-in-forward"
    summary = "nn.Dropout/BatchNorm created inside forward: eval() never switches it off."
    why = (
        "`model.eval()` sets `training=False` on the modules registered on the model (attributes "
        "assigned in `__init__`, `nn.Sequential` members). A layer constructed inside `forward` "
        "is a new object on every call, registered nowhere and in training mode from birth: "
        "dropout keeps dropping at evaluation, a batch norm normalises with the batch's "
        "statistics and its affine parameters (fresh each call) are never trained."
    )
    instead = (
        "Create the layer once in `__init__` (`self.drop = nn.Dropout(p)`) and call it in "
        "`forward`, or use `F.dropout(x, p, training=self.training)`."
    )
    known_problems = (
        "Only layers applied in the same method and kept nowhere are flagged: a builder method "
        "that returns or stores the layer (`self.block = self._make_block()`) is fine."
    )
    valid = [
        Valid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.drop = nn.Dropout(0.5)

                def forward(self, x):
                    return self.drop(x)
            """
        ),
        Valid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def _block(self, n):
                    return nn.Sequential(nn.Linear(n, n), nn.BatchNorm1d(n))

                def __init__(self):
                    super().__init__()
                    self.body = self._block(8)
            """,
            note="a builder that returns the layer",
        ),
        Valid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def build(self, n):
                    layers = []
                    layers.append(nn.Dropout(0.1))
                    return nn.Sequential(*layers)
            """
        ),
        Valid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x):
                    return nn.Dropout(0.0)(x)
            """,
            note="p = 0: the layer does nothing in either mode",
        ),
        Valid(
            """
            import torch.nn as nn

            def head(x):
                return nn.Dropout(0.5)(x)
            """,
            note="not a method of an nn.Module",
        ),
        Valid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def reset(self):
                    self.drop = nn.Dropout(0.3)
            """,
            note="stored on the module: registered",
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, 0.5, training=self.training)
            """
        ),
        Valid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def add_dropout(self, p):
                    drop = nn.Dropout(p)
                    self.layers.append(drop)
                    return drop
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x):
                    x = self.fc(x)
                    x = nn.Dropout(0.5)(x)
                    return self.out(x)
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x):
                    drop = nn.Dropout(p=0.3)
                    return drop(self.fc(x))
            """,
            at=(5, 16),
        ),
        Invalid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x):
                    return nn.BatchNorm1d(x.shape[1])(x)
            """,
            at=(5, 16),
        ),
        Invalid(
            """
            from torch import nn

            class Head(nn.Module):
                def forward(self, x):
                    return self.fc(nn.Dropout2d(0.2)(x))
            """,
            at=(5, 24),
        ),
        Invalid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def encode(self, x):
                    h = self.enc(x)
                    return nn.Dropout(self.p)(h)
            """,
            at=(6, 16),
            note="any method, not only forward",
        ),
        Invalid(
            """
            import torch.nn as nn

            class Base(nn.Module):
                pass

            class Net(Base):
                def forward(self, x):
                    return nn.AlphaDropout(0.1)(x)
            """,
            at=(8, 16),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x):
                    bn = nn.BatchNorm2d(16)
                    y = bn(x)
                    return torch.relu(bn(y))
            """,
            at=(6, 14),
        ),
        Invalid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x):
                    for layer in self.layers:
                        x = nn.Dropout(0.5)(layer(x))
                    return x
            """,
            at=(6, 17),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, layer, evidence in modes(model).layers_built_in_forward():
            text = " ".join(model.src(call).split())
            family = "BatchNorm" if "Norm" in layer else "Dropout"
            yield Report(
                call,
                MESSAGE.format(
                    call=text if len(text) <= 50 else text[:47] + "...",
                    layer=layer,
                    extra=EXTRA[family],
                ),
                evidence=evidence,
            )
