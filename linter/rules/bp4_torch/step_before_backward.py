"""BP402: the optimizer steps before this iteration's backward() has filled the gradients."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{step}` runs after the gradients were cleared and before this iteration's backward(): "
    "it applies no gradient (or the previous batch's); call `backward()` first, then `step()`"
)


class StepBeforeBackward(Rule):
    """Flags an optimizer step that sees cleared gradients because backward() comes after it."""

    code = "BP402"
    prefilter = (P.BASE, P.OPTIMIZER_STEP)
    name = "step-before-backward"
    kb = "step-before-backward"
    summary = "optimizer.step() before loss.backward() in the same iteration."
    why = (
        "`step()` reads `.grad`. Placed between `zero_grad()` and `backward()`, it reads "
        "gradients that were just cleared (`None` since PyTorch 2.0, so the step does nothing), "
        "and the gradient computed by `backward()` is then thrown away by the next "
        "`zero_grad()`: the model never learns, or learns from the previous batch."
    )
    instead = "Order each iteration as `zero_grad()`, forward, `loss.backward()`, `step()`."
    known_problems = (
        "The order is read per path through the loop body (branches, nested loops and helpers "
        "of the same module); a helper from another package that might clear or fill gradients "
        "makes the rule silent."
    )
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
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.step()
                opt.zero_grad()
                loss_fn(model(x), y).backward()
            """,
            note="a rotation of the right order: each step applies the previous backward",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                if i % 4 == 0:
                    opt.zero_grad()
                (loss_fn(model(x), y) / 4).backward()
                if (i + 1) % 4 == 0:
                    opt.step()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.LBFGS(model.parameters())
            for x, y in loader:
                def closure():
                    opt.zero_grad()
                    loss = loss_fn(model(x), y)
                    loss.backward()
                    return loss
                opt.step(closure)
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            sched = torch.optim.lr_scheduler.StepLR(opt, 10)
            for epoch in range(10):
                sched.step()
                for x, y in loader:
                    opt.zero_grad()
                    loss_fn(model(x), y).backward()
                    opt.step()
            """,
            note="a scheduler's step is not an optimizer step",
        ),
        Valid(
            """
            import torch
            opt_d = torch.optim.Adam(D.parameters())
            opt_g = torch.optim.Adam(G.parameters())
            for x in loader:
                opt_d.zero_grad()
                d_loss(D(x), D(G(z).detach())).backward()
                opt_d.step()
                opt_g.zero_grad()
                g_loss(D(G(z))).backward()
                opt_g.step()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                with torch.autocast("cpu"):
                    loss = loss_fn(model(x), y)
                if torch.isfinite(loss):
                    loss.backward()
                    opt.step()
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            from helpers import clip
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                opt.step()
                loss.backward()
                clip(opt, 5.0)
            """,
            at=(7, 5),
            note="code that cannot be read, handed the optimizer after backward(), cannot undo "
            "the zero_grad() right before the step",
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                opt.step()
                loss.backward()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.Adam(model.parameters())
            for x, y in loader:
                opt.zero_grad()
                opt.step()
                loss_fn(model(x), y).backward()
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            import torch

            def train(model, loader, epochs):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
                for epoch in range(epochs):
                    for x, y in loader:
                        optimizer.zero_grad()
                        out = model(x)
                        optimizer.step()
                        loss = ((out - y) ** 2).mean()
                        loss.backward()
            """,
            at=(9, 13),
        ),
        Invalid(
            """
            import torch
            opt_g = torch.optim.Adam(G.parameters())
            for z in noise:
                G.zero_grad()
                g_loss = -D(G(z)).mean()
                opt_g.step()
                g_loss.backward()
            """,
            at=(6, 5),
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
                        self.optimizer.zero_grad()
                        loss = self.model(batch).sum()
                        self.optimizer.step()
                        loss.backward()
            """,
            at=(12, 13),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                model.zero_grad()
                loss = loss_fn(model(x), y)
                opt.step()
                loss.backward()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                for p in model.parameters():
                    p.grad = None
                loss = loss_fn(model(x), y)
                opt.step()
                loss.backward()
            """,
            at=(7, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            step = 0
            while step < 100:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                if step % 10 == 0:
                    print(loss.item())
                opt.step()
                loss.backward()
                step += 1
            """,
            at=(9, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for fault in facts(model).order_faults():
            if fault.kind == "step-before-backward":
                message = MESSAGE.format(step=model.src(fault.node))
                yield Report(fault.node, message, evidence=fault.evidence)
