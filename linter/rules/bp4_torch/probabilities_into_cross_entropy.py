"""BP405: softmax or sigmoid probabilities fed to CrossEntropyLoss, which wants raw scores."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import Out, mismatches
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{act}` gives {kind} that reach a cross-entropy loss ({where}), which applies log_softmax "
    "itself: the loss is computed on softmax(probabilities), its gradient shrinks and training "
    "stalls; pass the raw scores (logits)"
)


class ProbabilitiesIntoCrossEntropy(Rule):
    """Flags softmax (or sigmoid) output passed to ``nn.CrossEntropyLoss``/``F.cross_entropy``."""

    code = "BP405"
    prefilter = (P.BASE, P.PAIRING_END)
    name = "probabilities-into-cross-entropy"
    kb = "softmax-before-crossentropyloss"
    summary = "Softmax or sigmoid output passed to CrossEntropyLoss (which expects logits)."
    why = (
        "`CrossEntropyLoss` is `log_softmax` + `NLLLoss`. Given probabilities it computes "
        "softmax of values squeezed into [0, 1]: the loss can no longer approach 0 and the "
        "gradient is scaled down by the extra softmax Jacobian, so learning is slow or stalls."
    )
    instead = "Return raw scores from the model; apply softmax only for predictions or metrics."
    known_problems = (
        "The value is followed through variables, `forward` returns, `nn.Sequential` last "
        "layers, attributes, helper functions and classes imported from sibling modules; "
        "`log_softmax` before `cross_entropy` is harmless (idempotent) and not flagged."
    )
    valid = [
        Valid(
            """
            import torch.nn as nn
            criterion = nn.CrossEntropyLoss()
            logits = model(x)
            loss = criterion(logits, y)
            """
        ),
        Valid(
            """
            import torch.nn.functional as F
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            probs = F.softmax(logits, dim=1)
            acc = (probs.argmax(1) == y).float().mean()
            """,
            note="softmax used only for metrics",
        ),
        Valid(
            """
            import torch.nn.functional as F
            out = F.log_softmax(head(x), dim=1)
            loss = F.cross_entropy(out, y)
            """,
            note="log_softmax before cross_entropy is idempotent: harmless",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(10, 3)

                def forward(self, x):
                    return self.fc(x)

            net = Net()
            loss = nn.CrossEntropyLoss()(net(x), y)
            """
        ),
        Valid(
            """
            import torch
            import torch.nn as nn
            model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
            criterion = nn.CrossEntropyLoss()
            loss = criterion(model(x), y)
            pred = torch.softmax(model(x), 1)
            """
        ),
        Valid(
            """
            import torch
            import torch.nn.functional as F
            scores = q @ k.transpose(-2, -1)
            attn = torch.softmax(scores, dim=-1)
            logits = head(attn @ v)
            loss = F.cross_entropy(logits, y)
            """,
            note="softmax inside attention is not the classifier output",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn
            bce = nn.BCELoss()
            loss = bce(torch.sigmoid(model(x)), y)
            """
        ),
        Valid(
            """
            import torch
            import torch.nn as nn
            criterion = nn.CrossEntropyLoss()
            with torch.no_grad():
                probs = torch.softmax(model(x), dim=1)
                sample = torch.multinomial(probs, 1)
            loss = criterion(model(x), y)
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            import torch.nn as nn
            criterion = nn.CrossEntropyLoss()
            probs = torch.softmax(model(x), dim=1)
            loss = criterion(probs, y)
            """,
            at=(4, 9),
        ),
        Invalid(
            """
            import torch.nn.functional as F
            loss = F.cross_entropy(F.softmax(net(x), dim=1), y)
            """,
            at=(2, 24),
        ),
        Invalid(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(10, 3)
                    self.act = nn.Softmax(dim=1)

                def forward(self, x):
                    return self.act(self.fc(x))

            net = Net()
            criterion = nn.CrossEntropyLoss()
            loss = criterion(net(x), y)
            """,
            at=[(7, 20), (13, 13)],
        ),
        Invalid(
            """
            import torch.nn as nn
            model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(dim=1))
            loss = nn.CrossEntropyLoss()(model(x), y)
            """,
            at=(2, 68),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class Classifier(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Linear(8, 4)

                def forward(self, x):
                    x = self.body(x)
                    return F.softmax(x, dim=-1)

            def train(model, loader):
                loss_fn = nn.CrossEntropyLoss()
                for x, y in loader:
                    loss = loss_fn(model(x), y)

            train(Classifier(), loader)
            """,
            at=[(12, 16), (15, 15), (17, 16)],
            note="criterion made before the loop, loss computed in it: both ends are shown",
        ),
        Invalid(
            """
            import torch
            import torch.nn.functional as F
            out = torch.sigmoid(scores).view(-1, 5)
            loss = F.cross_entropy(out, target)
            """,
            at=(3, 7),
            note="sigmoid probabilities into cross-entropy",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Loss(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.ce = nn.CrossEntropyLoss()

                def forward(self, logits, y):
                    return self.ce(logits.softmax(dim=1), y)
            """,
            at=[(7, 19), (10, 24)],
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            def predict(h):
                return torch.softmax(h, dim=1)

            criterion = nn.CrossEntropyLoss()
            loss = criterion(predict(model(x)), y)
            """,
            at=[(5, 12), (7, 13)],
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn
            import pytorch_lightning as pl

            class Classifier(pl.LightningModule):
                def __init__(self, body):
                    super().__init__()
                    self.body = body
                    self.loss = nn.CrossEntropyLoss()

                def forward(self, x):
                    return torch.softmax(self.body(x), dim=1)

                def training_step(self, batch, i):
                    x, y = batch
                    return self.loss(self(x).resize(len(x), 10), y)
            """,
            at=[(9, 21), (12, 16), (16, 16)],
            note="self(x) runs this class's forward; resize keeps the values",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            def train(model, loader, opt):
                criterion = nn.CrossEntropyLoss()
                for x, y in loader:
                    opt.zero_grad()
                    loss = criterion(torch.softmax(model(x), dim=1), y)
                    loss.backward()
                    opt.step()
            """,
            at=(8, 26),
            note="softmax and loss in one statement of the loop: one finding there",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for m in mismatches(model, {"ce"}, {Out.PROB, Out.SIGMOID}):
            kind = m.pairing.kind.out.value
            message = MESSAGE.format(act=m.act, kind=kind, where=m.ends)
            yield Report(m.node, message, evidence=m.evidence)
