"""BP411: an evaluation loop under no_grad runs a model with dropout/batch norm in train mode."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_modes import modes
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "this evaluation runs `{model}` under no_grad but in training mode ({why}): dropout keeps "
    "dropping units and batch norm normalises with batch statistics and moves its running "
    "averages; call `{root}.eval()` before it (and `.train()` again before training)"
)


class EvaluationInTrainMode(Rule):
    """Flags an evaluation loop (a model called in a loop under ``torch.no_grad()`` or
    ``inference_mode``, outside any block that back-propagates) on a model whose class holds
    dropout or batch norm, or whose mode the code sets with ``.train()``, when nothing in the
    file switches it to eval mode."""

    code = "BP411"
    prefilter = (P.BASE, P.EVAL_BLOCK)
    name = "evaluation-in-train-mode"
    kb = "eval-mode-vs-no-grad"
    summary = "Validation under no_grad on a model left in training mode (no model.eval())."
    why = (
        "`torch.no_grad()` only stops recording the graph; it does not change what a layer "
        "computes. A module is in training mode from construction and after `.train()`, so "
        "without `model.eval()` its dropout layers still zero units at random and its batch-norm "
        "layers use the batch's statistics and update their running averages: the validation "
        "numbers are noisy and biased, and the saved model has changed."
    )
    instead = (
        "Call `model.eval()` before the evaluation loop and `model.train()` before training "
        "resumes; keep `torch.no_grad()` for the memory."
    )
    known_problems = (
        "The model's class is read in this file and its sibling modules (the model in "
        "`model.py`, the loop in `train.py`); a model from elsewhere counts only when the code "
        "calls `.train()` on it. Any `.eval()` the model may reach (on it, on an alias, on its "
        "submodules, or in code handed the model that cannot be read) silences the rule. A "
        "single call outside a loop is not taken for an evaluation pass."
    )
    valid = [
        Valid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)
                    self.drop = nn.Dropout(0.5)

                def forward(self, x):
                    return self.fc(self.drop(x))

            def evaluate(model, loader):
                model.eval()
                with torch.no_grad():
                    for x, y in loader:
                        out = model(x)
                model.train()

            evaluate(Net(), [])
            """
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            class Linear(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)

                def forward(self, x):
                    return self.fc(x)

            model = Linear()
            with torch.no_grad():
                for x in data:
                    print(model(x))
            """,
            note="no dropout and no batch norm: the mode changes nothing",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 2))
            model.train(False)
            with torch.no_grad():
                for x in data:
                    print(model(x))
            """,
            note="train(False) is eval()",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.bn = nn.BatchNorm1d(4)

                def forward(self, x):
                    return self.bn(x)

            model = Net()
            model.train()
            with torch.no_grad():
                samples = [model(x) for x in batch]
                for i in range(30):
                    samples.append(model(x))
            """,
            note="train() right before the sampling: deliberate (Monte Carlo dropout)",
        ),
        Valid(
            """
            import torch

            model = load_model(path)
            with torch.no_grad():
                for x in data:
                    print(model(x))
            """,
            note="an unknown object whose mode nothing in the file sets",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.drop = nn.Dropout(0.1)

                def forward(self, x):
                    return self.drop(x)

            def run(model, loader, opt):
                for x, y in loader:
                    with torch.no_grad():
                        target = model(x)
                    loss = ((model(x) - target) ** 2).mean()
                    loss.backward()
                    opt.step()

            run(Net(), [], None)
            """,
            note="the no_grad call is part of a training step, not an evaluation pass",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn
            from helpers import set_eval

            model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3))
            set_eval(model)
            with torch.no_grad():
                for x in data:
                    print(model(x))
            """,
            note="handed to code that cannot be read, which may call eval()",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
            for m in model.modules():
                m.eval()
            with torch.no_grad():
                for x in data:
                    print(model(x))
            """,
            note="eval() on the submodules",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.0))
            with torch.no_grad():
                for x in data:
                    print(model(x))
            """,
            note="dropout with p=0 does nothing in either mode",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            def freeze(m):
                m.eval()

            def evaluate(model, loader):
                with torch.no_grad():
                    for x in loader:
                        model(x)

            model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5))
            freeze(model)
            evaluate(model, [])
            """,
            note="a helper switches it to eval mode before the evaluation is called",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)
                    self.drop = nn.Dropout(0.5)

                def forward(self, x):
                    return self.fc(self.drop(x))

            def evaluate(model, loader):
                with torch.no_grad():
                    for x, y in loader:
                        out = model(x)

            evaluate(Net(), [])
            """,
            at=(14, 5),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
            with torch.no_grad():
                for x in data:
                    print(model(x))
            """,
            at=(5, 1),
        ),
        Invalid(
            """
            import torch

            def train(model, loader, opt, epochs):
                for epoch in range(epochs):
                    model.train()
                    for x, y in loader:
                        opt.zero_grad()
                        loss = model(x, y)
                        loss.backward()
                        opt.step()
                    with torch.no_grad():
                        for x, y in loader:
                            val = model(x, y)
            """,
            at=(11, 9),
            note="model of unknown class, but the code sets its mode with train()",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2))

                def forward(self, x):
                    return self.body(x)

            net = Net()

            @torch.no_grad()
            def estimate():
                total = 0.0
                for x in data:
                    total += net(x).sum().item()
                net.train()
                return total
            """,
            at=(15, 1),
            note="a no_grad-decorated function: report at its header",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.bn = nn.BatchNorm2d(3)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block = Block()

            model = Net()
            with torch.inference_mode():
                for x in data:
                    y = model(x)
            """,
            at=(15, 1),
            note="batch norm in a submodule class",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, 0.5, training=self.training)

            model = Net().to("cpu")
            model = torch.compile(model)
            with torch.no_grad():
                for x in data:
                    y = model(x)
            """,
            at=(11, 1),
            note="through wrappers that hand the same module on",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            def fit(model, loader, val_loader, opt):
                for epoch in range(10):
                    model.train()
                    for x, y in loader:
                        opt.zero_grad()
                        model(x, y).backward()
                        opt.step()
                    if epoch % 2 == 0:
                        accs = []
                        with torch.no_grad():
                            for x, y in val_loader:
                                accs.append(model(x, y))
            """,
            at=(11, 9),
            note="reported at the start of the evaluation block, where eval() belongs",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class RNN(nn.Module):
                def __init__(self, dropout):
                    super().__init__()
                    self.rnn = nn.LSTM(4, 8)
                    self.dropout = nn.Dropout(dropout)

            def test(model, batches):
                with torch.no_grad():
                    for batch in batches:
                        model.forward(batch)

            model = RNN(0.5)
            test(model, [])
            """,
            at=(11, 5),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            def evaluate(model, loader):
                with torch.no_grad():
                    for x in loader:
                        model(x)

            def predict(model, x):
                model.eval()
                return model(x)

            model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5))
            evaluate(model, [])
            predict(model, None)
            """,
            at=(5, 5),
            note="the only eval() runs after the evaluation",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for ev in modes(model).train_mode_evaluations():
            root = ev.key.split(".")[0] if not ev.key.startswith("self.") else ev.key
            yield Report(
                ev.region,
                MESSAGE.format(model=ev.key, why=ev.why, root=root),
                evidence=(
                    (
                        ev.use,
                        f"`{ev.key}` is called here under no_grad while still in training mode "
                        f"({ev.why})",
                    ),
                ),
            )
