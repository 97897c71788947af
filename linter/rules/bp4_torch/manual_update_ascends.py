"""BP413: a hand-written update moves a parameter along its own .grad beside ones that descend."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_updates import updates
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{update}` moves `{param}` along its gradient (`.grad` points uphill), while `{other}` "
    "beside it moves against its own: this parameter climbs the loss the others descend; "
    "subtract the step (`sub_`, `-=`) or negate it"
)


class ManualUpdateAscends(Rule):
    """Flags a manual parameter update (``p.data.add_(lr * p.grad)``, ``p += lr * p.grad``
    under ``no_grad``) that adds a positive multiple of the parameter's own gradient, when in
    the same block another parameter is updated against its gradient."""

    code = "BP413"
    prefilter = (P.BASE, P.GRAD_ATTR)
    name = "manual-update-ascends"
    kb = "gradient-sign-convention"
    summary = "Manual update adds lr * p.grad (ascent) beside updates that subtract it."
    why = (
        "After `loss.backward()`, `p.grad` is ∂loss/∂p: the direction in which the loss grows. "
        "Gradient descent subtracts it, `p.data.sub_(lr * p.grad)`. Adding it climbs the loss "
        "for that parameter while the others descend, so the loss stalls or diverges."
    )
    instead = (
        "Write `p.data.sub_(lr * p.grad)`, `p.data.add_(p.grad, alpha=-lr)` or, under "
        "`torch.no_grad()`, `p -= lr * p.grad`; or use `torch.optim.SGD`."
    )
    known_problems = (
        "Only updates whose step is a product of the parameter's own `.grad` and rates of "
        "known sign are read, and only beside another update in the same block that descends: "
        "a lone ascent (an adversarial input, a reward maximised by hand) is left alone."
    )
    valid = [
        Valid(
            """
            import torch
            for _ in range(100):
                loss = ((w * x + b - y) ** 2).mean()
                loss.backward()
                w.data.sub_(lr * w.grad)
                b.data.sub_(lr * b.grad)
                w.grad.zero_()
                b.grad.zero_()
            """
        ),
        Valid(
            """
            import torch
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
                b += -lr * b.grad
            """
        ),
        Valid(
            """
            import torch
            loss.backward()
            w.data.add_(w.grad, alpha=-lr)
            b.data.add_(-lr * b.grad)
            """
        ),
        Valid(
            """
            import torch
            loss.backward()
            x_adv.data.add_(eps * x_adv.grad.sign())
            """,
            note="a lone ascent on an input (an adversarial example)",
        ),
        Valid(
            """
            import torch
            reward.backward()
            for p in params:
                p.data.add_(lr * p.grad)
            """,
            note="every update ascends: a reward maximised on purpose",
        ),
        Valid(
            """
            import torch
            loss.backward()
            w.data.sub_(lr * w.grad)
            b.data.add_(lr * (b.grad + wd * b.data))
            """,
            note="a sum in the step: the direction is not read",
        ),
        Valid(
            """
            import torch
            loss.backward()
            with torch.no_grad():
                w.sub_(lr * w.grad)
            b.data.add_(lr * b.grad)
            """,
            note="different blocks",
        ),
        Valid(
            """
            import torch
            lr = -0.01
            loss.backward()
            w.data.sub_(0.01 * w.grad)
            b.data.add_(lr * b.grad)
            """,
            note="a negative rate",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            for _ in range(100):
                loss = ((w * x + b - y) ** 2).mean()
                loss.backward()
                b.data.sub_(lr * b.grad)
                w.data.add_(lr * w.grad)
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
                b += lr * b.grad
            """,
            at=(5, 5),
        ),
        Invalid(
            """
            import torch
            loss.backward()
            w.data.add_(w.grad, alpha=-lr)
            b.data.add_(b.grad, alpha=lr)
            """,
            at=(4, 1),
        ),
        Invalid(
            """
            import torch
            loss.backward()
            self.w.data -= self.lr * self.w.grad
            self.b.data += self.lr * self.b.grad
            """,
            at=(4, 1),
        ),
        Invalid(
            """
            import torch
            loss.backward()
            w1.data.sub_(0.1 * w1.grad.data)
            w2.data.add_(0.1 * w2.grad.data)
            """,
            at=(4, 1),
        ),
        Invalid(
            """
            import torch
            loss.backward()
            w.data.sub_(w.grad * lr)
            b.data.sub_(-lr * b.grad)
            """,
            at=(4, 1),
            note="minus a negative step",
        ),
        Invalid(
            """
            import torch
            def step(w, b, lr):
                w.data.add_(lr * w.grad / 2)
                b.data.sub_(lr * b.grad / 2)
            """,
            at=(3, 5),
        ),
        Invalid(
            """
            import torch
            for epoch in range(10):
                out = model(x)
                loss = crit(out, y)
                loss.backward()
                with torch.no_grad():
                    W1 -= lr * W1.grad
                    W2 += lr * W2.grad
                    W1.grad.zero_()
                    W2.grad.zero_()
            """,
            at=(8, 9),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for up, down, evidence in updates(model).inconsistent_ascents():
            text = " ".join(model.src(up.node).split())
            other = " ".join(model.src(down.node).split())
            yield Report(
                up.node,
                MESSAGE.format(
                    update=text if len(text) <= 50 else text[:47] + "...",
                    param=up.param,
                    other=other if len(other) <= 40 else other[:37] + "...",
                ),
                evidence=evidence,
            )
