"""BP410: F.dropout inside an nn.Module without training=self.training stays on in eval()."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.analysis.torch_modes import modes
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{call}` drops units in evaluation too: the functional form defaults to training=True "
    "and model.eval() cannot switch it; pass `training=self.training` or use an nn.Dropout "
    "layer"
)

ATTENTION = (
    "`{call}` drops attention weights in evaluation too: its `dropout_p` does not depend on "
    "`self.training`, and the functional attention has no mode; pass "
    "`dropout_p=self.p if self.training else 0.0`"
)


class FunctionalDropoutAlwaysOn(Rule):
    """Flags ``F.dropout`` in an ``nn.Module`` method called without ``training=self.training``
    (or with ``training=True``), and ``F.scaled_dot_product_attention`` with a ``dropout_p``
    that does not read ``self.training``."""

    code = "BP410"
    prefilter = (P.BASE, P.DROPOUT)
    name = "functional-dropout-always-on"
    kb = "eval-mode-vs-no-grad"
    summary = "F.dropout in a module without training=self.training (on in eval mode too)."
    why = (
        "`model.eval()` flips `self.training` on every submodule, and `nn.Dropout` reads it. "
        "The functional `F.dropout(x, p)` does not: its `training` argument defaults to True, "
        "so validation and inference keep dropping units and scaling the rest, and the "
        "reported accuracy is noisy and too low."
    )
    instead = "Write `F.dropout(x, p, training=self.training)` or use `self.drop = nn.Dropout(p)`."
    known_problems = (
        "Only calls inside methods of classes derived from `nn.Module` are checked; an attention "
        "`dropout_p` is flagged when it is a non-zero number or a module attribute that no "
        "assignment derives from the training flag."
    )
    valid = [
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
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, p=0.3, training=self.training, inplace=False)
            """
        ),
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
            import torch.nn.functional as F

            def mlp(x, w1, w2, training):
                h = F.dropout(x @ w1, 0.5, training=training)
                return h @ w2
            """,
            note="not a module method: the caller passes the mode",
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, 0.5, self.training)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class MCDropout(nn.Module):
                def forward(self, x):
                    return F.dropout(x, 0.1, training=self.mc or self.training)
            """
        ),
        Valid(
            """
            import torch.nn.functional as F

            class Augment:
                def __call__(self, x):
                    return F.dropout(x, 0.1)
            """,
            note="not an nn.Module",
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, 0.5, training=False)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Attention(nn.Module):
                def __init__(self, p):
                    super().__init__()
                    self.p = p

                def forward(self, q, k, v):
                    p = self.p if self.training else 0.0
                    return F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, 0.5)
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, p=0.5, training=True)
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch.nn as nn
            from torch.nn.functional import dropout

            class Net(nn.Module):
                def forward(self, x):
                    return dropout(x, 0.2)
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def forward(self, x):
                    h = torch.relu(self.fc1(x))
                    h = nn.functional.dropout(h, 0.5)
                    return self.fc2(h)
            """,
            at=(7, 13),
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Block(nn.Module):
                def helper(self, x):
                    return F.dropout2d(x, 0.1)
            """,
            at=(6, 16),
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Base(nn.Module):
                pass

            class Net(Base):
                def forward(self, x):
                    return F.dropout(x)
            """,
            at=(9, 16),
        ),
        Invalid(
            """
            from torch import nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    x = F.dropout(x, 0.5, inplace=True)
                    return x
            """,
            at=(6, 13),
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Attention(nn.Module):
                def forward(self, q, k, v):
                    w = (q @ k.transpose(-2, -1)).softmax(-1)
                    w = F.dropout(w, p=self.p)
                    return w @ v
            """,
            at=(7, 13),
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Attention(nn.Module):
                def __init__(self, p):
                    super().__init__()
                    self.p = p

                def forward(self, q, k, v):
                    return F.scaled_dot_product_attention(q, k, v, dropout_p=self.p)
            """,
            at=(10, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, evidence in facts(model).dropout_always_on():
            text = " ".join(model.src(call).split())
            text = text if len(text) <= 50 else text[:47] + "..."
            yield Report(call, MESSAGE.format(call=text), evidence=evidence)
        for call, evidence in modes(model).attention_dropout_always_on():
            text = " ".join(model.src(call).split())
            text = text if len(text) <= 50 else text[:47] + "..."
            yield Report(call, ATTENTION.format(call=text), evidence=evidence)
