"""BP401: a training loop steps an optimizer but never clears the gradients it steps with."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.analysis.torch_updates import updates
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{step}` runs every iteration but nothing in the loop clears the gradients of `{opt}`: "
    "backward() adds into .grad, so step k applies the sum of k gradients; call "
    "`{opt}.zero_grad()` once per step"
)

MANUAL = (
    "`{backward}` adds into {grads} every iteration and nothing in the loop clears them: each "
    "hand-written update uses the sum of all gradients so far; clear them after the update "
    "(`{p}.grad.zero_()` or `{p}.grad = None`)"
)


class GradientsNeverCleared(Rule):
    """Flags an optimizer step inside a loop that back-propagates but never zeroes gradients."""

    code = "BP401"
    prefilter = (P.BASE, f"{P.OPTIMIZER_STEP}|{P.GRAD_ATTR}")
    name = "gradients-never-cleared"
    kb = "grads-accumulate-without-zero-grad"
    summary = "Optimizer steps in a loop whose gradients are never cleared (no zero_grad())."
    why = (
        "`loss.backward()` adds into `.grad`. Without `zero_grad()` (or `p.grad = None`) in the "
        "loop, the gradient used by step k is the sum of all k gradients so far: not the "
        "gradient at the current weights, and growing with k."
    )
    instead = (
        "Call `optimizer.zero_grad()` once per step (before `backward()` or right after "
        "`step()`); for gradient accumulation, call it right after the step every k batches."
    )
    known_problems = (
        "The loop is followed through `if`/`else`, nested loops and helpers defined in the same "
        "module; a call that hands the optimizer or the model to code that cannot be read "
        "(another package) is assumed to clear them, unless it sits between `backward()` and "
        "`step()`, where clearing would leave the step nothing to apply."
    )
    valid = [
        Valid(
            """
            import torch
            w = torch.randn(3, requires_grad=True)
            for step in range(1000):
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    w -= lr * w.grad
                w.grad.zero_()
            """,
            note="hand-written update, gradient cleared after it",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.Adam(model.parameters())
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            """,
            note="zero_grad after step is the same order, one iteration earlier",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                model.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                loss = loss_fn(model(x), y) / 4
                loss.backward()
                if (i + 1) % 4 == 0:
                    opt.step()
                    opt.zero_grad()
            """,
            note="gradient accumulation: zeroed every k batches, right after the step",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(params, lr=0.1)
            for x, y in loader:
                loss = loss_fn(x @ params[0], y)
                loss.backward()
                opt.step()
                for p in params:
                    p.grad = None
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

            def train_step(x, y):
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()

            for x, y in loader:
                train_step(x, y)
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
                reset_gradients(opt)
            """,
            note="an unknown helper handed the optimizer may clear it: no finding",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                begin_step(opt)
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
            """,
            note="an unknown helper before the backward may clear the gradients: no finding",
        ),
        Valid(
            """
            from torch.nn.utils import clip_grad_norm_

            class Executor:
                def train(self, model, optimizer, scheduler, loader):
                    for x, y in loader:
                        loss = model(x, y)
                        loss.backward()
                        clip_grad_norm_(model.parameters(), 5.0)
                        self.apply_update(optimizer)
                        scheduler.step()
            """,
            note="the step after an unknown update helper, not after the clipping: not taken "
            "for an optimizer's",
        ),
        Valid(
            """
            import torch
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= 0.1 * p.grad
                        p.grad.zero_()
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
                opt.step()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.Adam(model.parameters())
            opt.zero_grad()
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
            """,
            at=(7, 5),
            note="zeroed once before the loop is not once per step",
        ),
        Invalid(
            """
            import torch

            def train(model, loader):
                opt = torch.optim.SGD(model.parameters(), lr=0.01)
                for epoch in range(10):
                    for x, y in loader:
                        out = model(x)
                        loss = ((out - y) ** 2).mean()
                        loss.backward()
                        opt.step()
            """,
            at=(10, 13),
        ),
        Invalid(
            """
            import torch
            opt_d = torch.optim.Adam(D.parameters())
            opt_g = torch.optim.Adam(G.parameters())
            for x in loader:
                D.zero_grad()
                d_loss(D(x), D(G(z))).backward()
                opt_d.step()
                g_loss(D(G(z))).backward()
                opt_g.step()
            """,
            at=(9, 5),
            note="D.zero_grad() does not clear G's gradients",
        ),
        Invalid(
            """
            import torch
            optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                loss = loss_fn(net(x), y)
                loss.backward()
                if (i + 1) % 4 == 0:
                    optimizer.step()
            """,
            at=(7, 9),
        ),
        Invalid(
            """
            import torch
            scaler = torch.cuda.amp.GradScaler()
            opt = torch.optim.AdamW(model.parameters())
            while True:
                loss = model(x, y)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            """,
            at=(7, 5),
        ),
        Invalid(
            """
            import torch

            class Trainer:
                def __init__(self, model):
                    self.model = model
                    self.opt = torch.optim.Adam(model.parameters())

                def fit(self, batches):
                    for batch in batches:
                        self.process(batch)

                def process(self, batch):
                    loss = self.model(batch).sum()
                    loss.backward()
                    self.opt.step()
            """,
            at=(15, 9),
            note="the step lives in a method the loop calls",
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss = loss_fn(model(x), y)
                print(loss.item(), model)
                loss.backward()
                opt.step()
            """,
            at=(7, 5),
        ),
        Invalid(
            """
            import torch
            w = torch.randn(3, requires_grad=True)
            b = torch.zeros(1, requires_grad=True)
            for step in range(1000):
                loss = ((x @ w + b - y) ** 2).mean()
                loss.backward()
                w.data.sub_(lr * w.grad)
                b.data.sub_(lr * b.grad)
            """,
            at=(6, 5),
            note="hand-written updates: reported at the backward that accumulates",
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.Adam(model.parameters())
            opt.zero_grad()
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                clip_gradient(opt, 0.5)
                opt.step()
            """,
            at=(8, 5),
            note="an unknown helper between backward and step keeps the gradients (clearing "
            "there would leave the step nothing to apply): it is not taken to clear them",
        ),
        Invalid(
            """
            import torch
            from torch.nn.utils import clip_grad_norm_

            class Executor:
                def train(self, model, optimizer, loader):
                    for x, y in loader:
                        loss = model(x, y)
                        loss.backward()
                        norm = clip_grad_norm_(model.parameters(), 5.0)
                        if torch.isfinite(norm):
                            optimizer.step()
            """,
            at=(11, 17),
            note="a parameter of unknown type: the step right after gradient clipping is an "
            "optimizer's",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for fault in facts(model).order_faults():
            if fault.kind == "never-cleared":
                step = model.src(fault.node)
                evidence: list[tuple[cst.CSTNode, str]] = []
                if fault.backward is not None:
                    evidence.append(
                        (
                            fault.backward,
                            f"`{_first_line(model, fault.backward)}` adds this iteration's "
                            f"gradients into the `.grad` of `{fault.optimizer}`'s parameters, on "
                            "top of the last iteration's",
                        )
                    )
                evidence.append(
                    (
                        fault.loop.node,
                        f"this loop runs `{step}` every iteration, and no path through it calls "
                        "`zero_grad()`",
                    )
                )
                yield Report(
                    fault.node,
                    MESSAGE.format(step=step, opt=fault.optimizer),
                    evidence=tuple(evidence),
                )
        for backward, ups in updates(model).uncleared_manual_loops():
            names = ", ".join(dict.fromkeys(f"`{u.param}.grad`" for u in ups))
            yield Report(
                backward,
                MANUAL.format(backward=model.src(backward), grads=names, p=ups[0].param),
                evidence=tuple(
                    (
                        u.node,
                        f"`{_first_line(model, u.node)}` updates `{u.param}` with "
                        f"`{u.param}.grad`, the sum of every iteration's gradient so far",
                    )
                    for u in ups
                ),
            )


def _first_line(model: ModuleModel, node: cst.CSTNode) -> str:
    return " ".join(model.src(node).strip().splitlines()[0].split())
