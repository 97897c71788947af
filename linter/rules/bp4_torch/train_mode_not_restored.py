"""BP414: validation inside the training loop switches the model to eval mode for good."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_modes import modes
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{call}` leaves `{model}` in eval mode (`{leaf}`) and nothing in this training loop "
    "calls `.train()` again: every later iteration trains with dropout off and batch norm "
    "frozen; call `{model}.train()` after it (or at the top of each epoch)"
)


class TrainModeNotRestored(Rule):
    """Flags a call inside a loop that back-propagates which switches the trained model to eval
    mode (itself, or through helpers of this file such as ``evaluate()``), when no call in the
    loop switches it back."""

    code = "BP414"
    prefilter = (P.BASE, P.BACKWARD_CALL, r"\.eval\s*\(|\.train\s*\(")
    name = "train-mode-not-restored"
    kb = "eval-mode-vs-no-grad"
    summary = "Validation in the epoch loop calls eval() and the loop never calls train() again."
    why = (
        "`model.eval()` is a switch, not a scope: it stays until `model.train()`. A validation "
        "step inside the epoch loop that calls `eval()` and never switches back leaves every "
        "later epoch training with dropout off (no regularisation) and batch norm using and "
        "freezing its running statistics, so the training differs from the first epoch's."
    )
    instead = (
        "Call `model.train()` at the top of each epoch (or right after validation); keep the "
        "`eval()` inside the validation function."
    )
    known_problems = (
        "The switches are followed through functions and methods of this file; a call that "
        "hands the model to code that cannot be read may switch it back, and silences the rule. "
        "The model must hold dropout or batch norm, or the code must set its mode with "
        "`.train()`."
    )
    valid = [
        Valid(
            """
            import torch

            def validate(model, loader):
                model.eval()
                with torch.no_grad():
                    return sum(model(x).sum() for x in loader)

            def fit(model, loader, opt):
                for epoch in range(10):
                    model.train()
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                    validate(model, loader)
            """
        ),
        Valid(
            """
            import torch

            def validate(model, loader):
                model.eval()
                with torch.no_grad():
                    out = [model(x) for x in loader]
                model.train()
                return out

            def fit(model, loader, opt):
                model.train()
                for epoch in range(10):
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                    validate(model, loader)
            """,
            note="the validation switches back itself",
        ),
        Valid(
            """
            import torch
            from tools import evaluate

            def fit(model, loader, opt):
                model.train()
                for epoch in range(10):
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                    evaluate(model)
            """,
            note="code that cannot be read may switch back",
        ),
        Valid(
            """
            import torch

            def fit(model, teacher, loader, opt):
                model.train()
                teacher.train()
                for x in loader:
                    teacher.eval()
                    opt.zero_grad()
                    loss = (model(x) - teacher(x).detach()).pow(2).sum()
                    loss.backward()
                    opt.step()
            """,
            note="eval() on a frozen model whose output is detached: not the one trained",
        ),
        Valid(
            """
            import torch

            def fit(model, loader, opt):
                model.train()
                for epoch in range(10):
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                model.eval()
            """,
            note="eval() after the training loop",
        ),
        Valid(
            """
            import torch

            def fit(model, loader, opt):
                model.train()
                for epoch in range(10):
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                    model.eval()
                    check(model)
                    model.train(True)
            """
        ),
        Valid(
            """
            import torch

            class Trainer:
                def run(self, loader):
                    for x in loader:
                        self.opt.zero_grad()
                        self.net(x).sum().backward()
                        self.opt.step()
                        self.log()

                def log(self):
                    print("step")
            """
        ),
        Valid(
            """
            import torch

            def fit(model, loader, opt):
                for epoch in range(10):
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                    model.eval()
            """,
            note="nothing says the mode matters (no train(), unknown class)",
        ),
        Valid(
            """
            import torch
            import torch.nn as nn

            net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            net.train()
            for x in batches:
                net.eval()
                opt.zero_grad()
                net(x).sum().backward()
                opt.step()
            """,
            note="eval() before the training step in every iteration: batch norm frozen on purpose",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch

            def validate(model, loader):
                model.eval()
                with torch.no_grad():
                    return sum(model(x).sum() for x in loader)

            def fit(model, loader, opt):
                model.train()
                for epoch in range(10):
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                    validate(model, loader)
            """,
            at=(15, 9),
        ),
        Invalid(
            """
            import torch

            def fit(model, loader, opt):
                model.train()
                for epoch in range(10):
                    for x in loader:
                        opt.zero_grad()
                        model(x).sum().backward()
                        opt.step()
                    model.eval()
            """,
            at=(10, 9),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 1)
                    self.drop = nn.Dropout(0.3)

                def forward(self, x):
                    return self.fc(self.drop(x))

                def predict(self, x):
                    self.eval()
                    with torch.no_grad():
                        return self(x)

                def fit(self, loader, opt):
                    model = self.train()
                    for epoch in range(5):
                        for x in loader:
                            opt.zero_grad()
                            model(x).sum().backward()
                            opt.step()
                        self.predict(x)
            """,
            at=(25, 13),
            note="through a method and an alias of self",
        ),
        Invalid(
            """
            import torch

            def score(net):
                net.train(False)
                return 0.0

            def fit(net, loader, opt):
                net.train()
                for x in loader:
                    opt.zero_grad()
                    net(x).sum().backward()
                    opt.step()
                    score(net)
            """,
            at=(13, 9),
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn

            net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            for epoch in range(3):
                for x in batches:
                    opt.zero_grad()
                    net(x).sum().backward()
                    opt.step()
                net.eval()
                print(net(x).mean())
            """,
            at=(11, 5),
            note="batch norm in the model, no train() at all",
        ),
        Invalid(
            """
            import torch

            def evaluate(model):
                inner(model)

            def inner(m):
                m.eval()

            def fit(model, loader, opt):
                model.train()
                for x in loader:
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                    evaluate(model)
            """,
            at=(15, 9),
            note="two helpers deep",
        ),
        Invalid(
            """
            import torch

            def fit(model, loader, opt, validate_every):
                model.train()
                for step, x in enumerate(loader):
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                    if step % validate_every == 0:
                        model.eval()
                        with torch.no_grad():
                            print(model(x))
            """,
            at=(10, 13),
        ),
        Invalid(
            """
            import torch

            class Trainer:
                def __init__(self, model, opt):
                    self.model, self.opt = model, opt

                def validate(self):
                    self.model.eval()

                def run(self, loader):
                    self.model.train()
                    for x in loader:
                        self.opt.zero_grad()
                        self.model(x).sum().backward()
                        self.opt.step()
                        self.validate()
            """,
            at=(16, 13),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for call, key, leaf in modes(model).eval_left_on():
            text = " ".join(model.src(call).split())
            yield Report(
                call,
                MESSAGE.format(
                    call=text if len(text) <= 50 else text[:47] + "...",
                    model=key,
                    leaf=" ".join(model.src(leaf).split())[:40],
                ),
                evidence=(
                    (
                        leaf,
                        f"`{' '.join(model.src(leaf).split())[:40]}` switches `{key}` to eval "
                        "mode here, and nothing in the training loop calls `.train()` again",
                    ),
                ),
            )
