"""BP403: zero_grad() between backward() and step() throws the fresh gradients away."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{zero}` clears the gradients backward() just computed, before `{opt}.step()` uses them: "
    "the step applies nothing; move `zero_grad()` before the forward pass or after `step()`"
)


class ZeroGradBetweenBackwardAndStep(Rule):
    """Flags zero_grad() placed after backward() and before the step that needs the gradients."""

    code = "BP403"
    prefilter = (P.BASE, P.OPTIMIZER_STEP)  # a zero can be a helper call: no word for it
    name = "zero-grad-between-backward-and-step"
    kb = "zero-grad-between-backward-and-step"
    summary = "zero_grad() between loss.backward() and optimizer.step()."
    why = (
        "`zero_grad()` sets every `.grad` to `None` (or zero). Between `backward()` and "
        "`step()` it erases the gradient the step was about to apply: plain SGD does not move, "
        "momentum and Adam keep drifting on stale state, and the loss stays flat."
    )
    instead = "Zero the gradients before the forward pass, or right after `step()`."
    known_problems = "Read per path through the loop body, as for BP402."
    valid = [
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss_fn(model(x), y).backward()
                opt.step()
                opt.zero_grad()
            """
        ),
        Valid(
            """
            import torch
            opt_d = torch.optim.Adam(D.parameters())
            opt_g = torch.optim.Adam(G.parameters())
            for x in loader:
                d_loss(D(x)).backward()
                opt_g.zero_grad()
                opt_d.step()
                opt_d.zero_grad()
                g_loss(D(G(z))).backward()
                opt_g.step()
            """,
            note="zeroing the other optimizer's gradients between them is fine",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                (loss_fn(model(x), y) / 4).backward()
                if (i + 1) % 4 == 0:
                    opt.step()
                    opt.zero_grad()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                probe = model(x).sum()
                probe.backward()
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
            """,
            note="a second backward refills the gradients before the step",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                model.zero_grad()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                with torch.no_grad():
                    val = model(x)
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.zero_grad()
                opt.step()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.Adam(model.parameters())
            for x, y in loader:
                loss_fn(model(x), y).backward()
                model.zero_grad()
                opt.step()
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            import torch

            def train(model, loader):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
                for x, y in loader:
                    loss = ((model(x) - y) ** 2).mean()
                    loss.backward()
                    optimizer.zero_grad()
                    optimizer.step()
            """,
            at=(8, 9),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(params, lr=0.1)
            for x, y in loader:
                loss_fn(x @ params[0], y).backward()
                for p in params:
                    p.grad = None
                opt.step()
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            import torch

            class Trainer:
                def __init__(self, model):
                    self.model = model
                    self.optimizer = torch.optim.Adam(model.parameters())

                def fit(self, batches):
                    for batch in batches:
                        loss = self.model(batch).sum()
                        loss.backward()
                        self.optimizer.zero_grad()
                        self.optimizer.step()
            """,
            at=(12, 13),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                (loss_fn(model(x), y) / 4).backward()
                if (i + 1) % 4 == 0:
                    opt.zero_grad()
                    opt.step()
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            import torch
            scaler = torch.cuda.amp.GradScaler()
            opt = torch.optim.AdamW(model.parameters())
            for x, y in loader:
                scaler.scale(loss_fn(model(x), y)).backward()
                opt.zero_grad()
                scaler.step(opt)
                scaler.update()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                with torch.no_grad():
                    opt.zero_grad()
                opt.step()
            """,
            at=(7, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for fault in facts(model).order_faults():
            if fault.kind == "zero-between":
                message = MESSAGE.format(zero=model.src(fault.node), opt=fault.optimizer)
                yield Report(fault.node, message, evidence=fault.evidence)
