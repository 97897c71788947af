"""BP406: sigmoid output fed to BCEWithLogitsLoss, which applies the sigmoid itself."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import Out, mismatches
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{act}` gives probabilities that reach a with-logits BCE loss ({where}), which applies "
    "sigmoid again: predictions are squeezed into (0.5, 0.73) and the gradient vanishes; pass "
    "the raw scores, or use BCELoss"
)


class SigmoidIntoBceWithLogits(Rule):
    """Flags sigmoid (or softmax) output passed to ``BCEWithLogitsLoss`` /
    ``binary_cross_entropy_with_logits``."""

    code = "BP406"
    prefilter = (P.BASE, P.PAIRING_END)
    name = "sigmoid-into-bce-with-logits"
    kb = "sigmoid-before-bcewithlogits"
    summary = "Sigmoid output passed to BCEWithLogitsLoss (sigmoid applied twice)."
    why = (
        "`BCEWithLogitsLoss(x, y)` is `BCELoss(sigmoid(x), y)` computed stably. Given "
        "`sigmoid(z)` it computes BCE of `sigmoid(sigmoid(z))`, which lies in (0.5, 0.73): the "
        "loss cannot reach 0 and the gradient with respect to z is a fraction of the right one."
    )
    instead = "Feed the raw scores to `BCEWithLogitsLoss`, or keep the sigmoid and use `BCELoss`."
    known_problems = "Followed like BP405: variables, forward returns, attributes, siblings."
    valid = [
        Valid(
            """
            import torch.nn as nn
            loss = nn.BCEWithLogitsLoss()(model(x), y)
            """
        ),
        Valid(
            """
            import torch
            import torch.nn as nn
            loss = nn.BCELoss()(torch.sigmoid(model(x)), y)
            """,
            note="sigmoid + BCELoss is the pair that belongs together",
        ),
        Valid(
            """
            import torch
            import torch.nn.functional as F
            logits = model(x)
            loss = F.binary_cross_entropy_with_logits(logits, y)
            pred = torch.sigmoid(logits) > 0.5
            """
        ),
        Valid(
            """
            import torch.nn as nn

            class D(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

                def forward(self, x):
                    return self.net(x)

            d = D()
            loss = nn.BCEWithLogitsLoss()(d(x), y)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            d = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
            loss = nn.BCELoss()(d(x), y)
            """
        ),
        Valid(
            """
            import torch
            import torch.nn as nn
            gate = torch.sigmoid(g(x))
            loss = nn.BCEWithLogitsLoss()(head(gate * h), y)
            """,
            note="a sigmoid gate inside the network is not the output",
        ),
        Valid(
            """
            import torch
            import torch.nn.functional as F
            with torch.no_grad():
                p = torch.sigmoid(model(x))
            loss = F.binary_cross_entropy_with_logits(model(x), y)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F
            logits = model(x).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits, y.float())
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            import torch.nn as nn
            criterion = nn.BCEWithLogitsLoss()
            loss = criterion(torch.sigmoid(model(x)), y)
            """,
            at=(4, 18),
        ),
        Invalid(
            """
            import torch
            import torch.nn.functional as F
            p = torch.sigmoid(model(x)).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(p, y)
            """,
            at=(3, 5),
        ),
        Invalid(
            """
            import torch.nn as nn
            d = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
            loss = nn.BCEWithLogitsLoss()(d(x), y)
            """,
            at=(2, 64),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class D(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 1)

                def forward(self, x):
                    return torch.sigmoid(self.fc(x))

            d = D()
            criterion = nn.BCEWithLogitsLoss()
            loss = criterion(d(x), y)
            """,
            at=[(10, 16), (13, 13)],
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class D(nn.Module):
                def __init__(self, f):
                    super().__init__()
                    self.fc = nn.Linear(4, 1)
                    self.f = f

                def forward(self, x):
                    return self.f(self.fc(x))

            d = D(f=torch.sigmoid)
            loss = nn.BCEWithLogitsLoss()(d(x), y)
            """,
            at=[(11, 16), (14, 8)],
            note="the activation is a constructor argument",
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F
            out = model(x).sigmoid()
            loss = F.binary_cross_entropy_with_logits(out, y)
            """,
            at=(3, 7),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 1)
                    self.loss = nn.BCEWithLogitsLoss()

                def forward(self, x, y):
                    out = torch.sigmoid(self.fc(x))
                    return self.loss(out, y)
            """,
            at=[(8, 21), (11, 15)],
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            def train(model, loader):
                criterion = nn.BCEWithLogitsLoss()
                for x, y in loader:
                    pred = torch.sigmoid(model(x)).view(-1)
                    loss = criterion(pred, y)
            """,
            at=(7, 16),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for m in mismatches(model, {"bce_logits"}, {Out.SIGMOID, Out.PROB}):
            message = MESSAGE.format(act=m.act, where=m.ends)
            yield Report(m.node, message, evidence=m.evidence)
