"""BP407: NLLLoss fed raw scores or probabilities instead of log-probabilities."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import Out, mismatches
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{act}` gives {kind} that reach NLLLoss ({where}), which expects log-probabilities: it "
    "returns -x[y], unbounded below for raw scores; apply log_softmax (or use "
    "CrossEntropyLoss on the raw scores)"
)


class NllLossWithoutLogSoftmax(Rule):
    """Flags ``NLLLoss``/``F.nll_loss`` applied to raw scores or softmax probabilities."""

    code = "BP407"
    prefilter = (P.BASE, P.PAIRING_END)
    name = "nll-loss-without-log-softmax"
    kb = "nll-loss-without-log-softmax"
    summary = "NLLLoss on raw scores or probabilities (log_softmax missing)."
    why = (
        "`NLLLoss(x, y)` is just `-x[y]` averaged: it is the cross-entropy only when x holds "
        "log-probabilities. On raw scores it rewards making the true class's score large "
        "without bound (the loss goes to -inf); on probabilities its gradient is -1/N on the "
        "true class whatever the prediction, not p - y."
    )
    instead = (
        "End the model with `log_softmax` (`nn.LogSoftmax(dim=1)`), or drop the activation and "
        "use `CrossEntropyLoss` on the raw scores."
    )
    known_problems = (
        "Raw scores are recognised when the value comes from a linear or convolution layer "
        "(directly, as a model's last layer or `forward` return); unknown values are not flagged."
    )
    valid = [
        Valid(
            """
            import torch.nn.functional as F
            out = F.log_softmax(fc(x), dim=1)
            loss = F.nll_loss(out, y)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
            loss = nn.NLLLoss()(model(x), y)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 3)

                def forward(self, x):
                    return F.log_softmax(self.fc(x), dim=-1)

            net = Net()
            loss = F.nll_loss(net(x), y)
            """
        ),
        Valid(
            """
            import torch
            import torch.nn as nn
            probs = torch.softmax(logits, dim=1)
            loss = nn.NLLLoss()(torch.log(probs + 1e-9), y)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            fc = nn.Linear(4, 3)
            loss = nn.CrossEntropyLoss()(fc(x), y)
            """
        ),
        Valid(
            """
            import torch.nn.functional as F
            loss = F.nll_loss(model(x), y)
            """,
            note="what model returns is unknown here: no finding",
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F
            head = nn.Linear(4, 3)
            loss = F.nll_loss(head(x).log_softmax(dim=1), y)
            """
        ),
        Valid(
            """
            import torch.nn as nn
            import torch.nn.functional as F
            logp = F.log_softmax(nn.Linear(4, 3)(x), dim=1).view(-1, 3)
            loss = nn.NLLLoss(reduction="sum")(logp, y)
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch.nn as nn
            model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
            loss = nn.NLLLoss()(model(x), y)
            """,
            at=(2, 51),
        ),
        Invalid(
            """
            import torch.nn as nn
            model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
            loss = nn.NLLLoss()(model(x), y)
            """,
            at=(2, 40),
        ),
        Invalid(
            """
            import torch.nn.functional as F
            out = F.softmax(fc(x), dim=1)
            loss = F.nll_loss(out, y)
            """,
            at=(2, 7),
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 3)

                def forward(self, x):
                    return self.fc(x)

            net = Net()
            loss = F.nll_loss(net(x), y)
            """,
            at=[(7, 19), (13, 8)],
        ),
        Invalid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 3)
                    self.loss_op = nn.NLLLoss()

                def forward(self, x):
                    return self.fc(x)

            def train(model, loader):
                for x, y in loader:
                    loss = model.loss_op(model(x), y)

            train(Net(), loader)
            """,
            at=[(6, 19), (14, 16)],
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F
            fc = nn.Linear(4, 3)
            loss = F.nll_loss(fc(x), y)
            """,
            at=(3, 6),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn
            criterion = nn.NLLLoss()
            probs = torch.softmax(logits, dim=1)
            loss = criterion(probs, y)
            """,
            at=(4, 9),
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 3)

                def forward(self, x):
                    return F.softmax(self.fc(x), dim=1)

            net = Net()
            loss = nn.NLLLoss()(net(x), y)
            """,
            at=[(10, 16), (13, 8)],
        ),
        Invalid(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class D(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 10)

                def forward(self, x):
                    return F.softmax(self.fc(x), dim=1)

            net = D()
            criterion = nn.NLLLoss()
            for x, y in loader:
                loss_real = criterion(net(x), y)
                loss_fake = criterion(net(g(z)), c)
                (loss_real + loss_fake).backward()
            """,
            at=[(10, 16), (13, 13), (15, 17), (16, 17)],
            note="criterion made once, two losses in the training loop: each loss call is an end",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for m in mismatches(model, {"nll"}, {Out.RAW, Out.PROB, Out.SIGMOID}):
            kind = m.pairing.kind.out.value
            message = MESSAGE.format(act=m.act, kind=kind, where=m.ends)
            yield Report(m.node, message, evidence=m.evidence)
