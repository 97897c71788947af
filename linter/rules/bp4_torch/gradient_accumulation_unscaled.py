"""BP418: gradient accumulation whose loss is not divided by the number of micro-batches."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_accumulation import unscaled_accumulations
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{backward}` adds a full gradient into .grad every micro-batch, `{step}` runs once every "
    "`{k}` iterations and the loss is not divided by `{k}`: each step applies the sum of `{k}` "
    "gradients, `{k}` times the mean-gradient step (with SGD, a `{k}` times larger learning "
    "rate; Adam normalises the scale away and hides most of it); back-propagate "
    "`loss / {k}`"
)


class GradientAccumulationUnscaled(Rule):
    """Flags the ``backward()`` of an accumulation loop whose loss is not divided by k."""

    code = "BP418"
    prefilter = (P.BASE, P.OPTIMIZER_STEP, P.BACKWARD_CALL, r"%")
    name = "gradient-accumulation-unscaled"
    kb = "gradient-accumulation-unscaled"
    summary = "Gradient accumulation over k micro-batches without dividing the loss by k."
    why = (
        "`backward()` adds into `.grad`. Stepping every k micro-batches applies the sum of k "
        "mean gradients: k times the gradient of the large batch the accumulation stands for. "
        "With SGD that is a k times larger learning rate (and k times the weight-decay balance "
        "and clipping threshold); Adam divides the scale out, so most of the effect disappears "
        "there and the bug surfaces only when the optimizer or k changes."
    )
    instead = (
        "Divide the loss by the accumulation count before `backward()` "
        "(`(loss / k).backward()`, `scaler.scale(loss / k).backward()`), or divide the "
        "learning rate by k if the sum is what you mean."
    )
    known_problems = (
        "Only the `if counter % k == 0:` form is read (the step guarded by a modulo test whose "
        "counter changes in the loop); an inner `for _ in range(k)` loop of micro-batches and a "
        "step inside a helper are not. A loss is taken as scaled when it passes through any "
        "division or product, or a call handed k, or when its origin cannot be read; a learning "
        "rate divided by k is recognised when it is written in the optimizer's constructor "
        "(directly or through one name)."
    )
    valid = [
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
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            for i, (x, y) in enumerate(loader):
                loss = loss_fn(model(x), y)
                (loss / accum_steps).backward()
                if (i + 1) % accum_steps == 0:
                    opt.step()
                    opt.zero_grad()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for step, batch in enumerate(loader):
                loss = model(**batch).loss
                loss /= accum_steps
                loss.backward()
                if step % accum_steps == 0:
                    opt.step()
                    opt.zero_grad()
            """
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
            """,
            note="a step every iteration: nothing accumulates",
        ),
        Valid(
            """
            import torch
            scaler = torch.cuda.amp.GradScaler()
            opt = torch.optim.AdamW(model.parameters())
            for i, (x, y) in enumerate(loader):
                with torch.autocast("cuda"):
                    loss = loss_fn(model(x), y)
                scaler.scale(loss / k).backward()
                if (i + 1) % k == 0:
                    scaler.step(opt)
                    scaler.update()
                    opt.zero_grad()
            """
        ),
        Valid(
            """
            import torch
            k = 8
            opt = torch.optim.SGD(model.parameters(), lr=0.1 / k)
            for i, (x, y) in enumerate(loader):
                loss_fn(model(x), y).backward()
                if (i + 1) % k == 0:
                    opt.step()
                    opt.zero_grad()
            """,
            note="a sum over micro-batches matched by a learning rate divided by k",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                loss = loss_fn(model(x), y)
                loss.backward()
                if (i + 1) % k == 0:
                    for p in model.parameters():
                        p.grad /= k
                    opt.step()
                    opt.zero_grad()
            """,
            note="the summed gradient is divided by k before the step",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                if torch.isfinite(loss):
                    opt.step()
            """,
            note="a step skipped on a bad loss is not accumulation: the next zero_grad clears",
        ),
        Valid(
            """
            import torch

            class Trainer:
                def __init__(self, model, accumulate=4):
                    self.model = model
                    self.accumulate = accumulate
                    self.opt = torch.optim.SGD(model.parameters(), lr=0.1)

                def loss_of(self, batch):
                    return self.model(batch).mean() / self.accumulate

                def fit(self, batches):
                    for i, batch in enumerate(batches):
                        self.loss_of(batch).backward()
                        if (i + 1) % self.accumulate == 0:
                            self.opt.step()
                            self.opt.zero_grad()
            """,
            note="divided inside the helper that computes the loss",
        ),
        Valid(
            """
            import torch
            opt_d = torch.optim.Adam(D.parameters())
            opt_g = torch.optim.Adam(G.parameters())
            for i, x in enumerate(loader):
                opt_d.zero_grad()
                d_loss(D(x), D(G(z).detach())).backward()
                opt_d.step()
                if i % n_critic == 0:
                    opt_g.zero_grad()
                    g_loss(D(G(z))).backward()
                    opt_g.step()
            """,
            note="the generator steps every n_critic iterations, but every other iteration "
            "steps the critic: no micro-batch backs up the generator's step",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                loss = loss_fn(model(x), y)
                loss.backward()
                if (i + 1) % 4 == 0:
                    opt.step()
                    opt.zero_grad()
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            for i, (x, y) in enumerate(loader):
                loss_fn(model(x), y).backward()
                if (i + 1) % accum_steps == 0:
                    opt.step()
                    opt.zero_grad()
            """,
            at=(4, 5),
            note="Adam hides most of it, but the sum is still not the mean",
        ),
        Invalid(
            """
            import torch

            def train(model, loader, accumulation_steps=8):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
                optimizer.zero_grad()
                for step, (x, y) in enumerate(loader):
                    out = model(x)
                    loss = torch.nn.functional.cross_entropy(out, y)
                    loss.backward()
                    if (step + 1) % accumulation_steps == 0 or step + 1 == len(loader):
                        optimizer.step()
                        optimizer.zero_grad()
            """,
            at=(9, 9),
        ),
        Invalid(
            """
            import torch
            scaler = torch.cuda.amp.GradScaler()
            opt = torch.optim.AdamW(model.parameters())
            for i, (x, y) in enumerate(loader):
                with torch.autocast("cuda"):
                    loss = loss_fn(model(x), y)
                scaler.scale(loss).backward()
                if (i + 1) % k == 0:
                    scaler.step(opt)
                    scaler.update()
                    opt.zero_grad()
            """,
            at=(7, 5),
        ),
        Invalid(
            """
            import torch

            class Trainer:
                def __init__(self, model, accumulate=4):
                    self.model = model
                    self.accumulate = accumulate
                    self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

                def fit(self, batches):
                    for i, (x, y) in enumerate(batches):
                        outputs = self.model(x, labels=y)
                        loss = outputs.loss
                        loss.backward()
                        if not (i + 1) % self.accumulate:
                            self.optimizer.step()
                            self.optimizer.zero_grad()
            """,
            at=(13, 13),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            step = 0
            while step < max_steps:
                x, y = next(batches)
                out = model(x)
                loss = loss_fn(out, y) + 1e-4 * out.pow(2).mean()
                loss.backward()
                step += 1
                if step % grad_accum == 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    opt.step()
                    opt.zero_grad()
            """,
            at=(8, 5),
            note="a counter of its own; the regularisation term is not a scaling",
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for i, (x, y) in enumerate(loader):
                loss = loss_fn(model(x), y)
                loss.backward()
                if (i + 1) % 4 == 0:
                    opt.step()
                    opt.zero_grad()
                loss = loss / 4
                print(loss.item())
            """,
            at=(5, 5),
            note="divided after backward(): too late",
        ),
        Invalid(
            """
            import torch

            def train_step(model, x, y):
                loss = loss_fn(model(x), y)
                loss.backward()
                return loss.item()

            def fit(model, loader, k=4):
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                for i, (x, y) in enumerate(loader):
                    train_step(model, x, y)
                    if (i + 1) % k == 0:
                        opt.step()
                        opt.zero_grad()
            """,
            at=(5, 5),
            note="the backward in a helper the loop calls",
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1 / 8)
            for i, (x, y) in enumerate(loader):
                loss_fn(model(x), y).backward()
                if (i + 1) % 4 == 0:
                    opt.step()
                    opt.zero_grad()
            """,
            at=(4, 5),
            note="the learning rate is divided by 8, the step comes every 4",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for found in unscaled_accumulations(model):
            k = model.src(found.modulus)
            yield Report(
                found.backward,
                MESSAGE.format(
                    backward=model.src(found.backward),
                    step=model.src(found.step),
                    k=k,
                ),
                evidence=(
                    (
                        found.step,
                        f"`{model.src(found.step)}` runs here only when "
                        f"`{model.src(found.guard)}`: once every `{k}` calls of "
                        f"`{model.src(found.backward)}`",
                    ),
                ),
            )
