"""BP404: a loss tensor summed across iterations keeps every iteration's graph alive."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_facts import facts
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{acc}` collects the loss tensor `{loss}` itself across iterations: each one keeps its "
    "autograd history (and its device memory) alive; add `{loss}.item()` (or "
    "`{loss}.detach()`) instead"
)


class LossKeptAcrossIterations(Rule):
    """Flags ``total += loss`` (or ``losses.append(loss)``) in a loop that back-propagates
    ``loss``: the running sum is a tensor attached to every iteration's graph."""

    code = "BP404"
    prefilter = (P.BASE, P.BACKWARD_CALL)
    name = "loss-kept-across-iterations"
    kb = "loss-history-holds-graph"
    summary = "Loss tensor accumulated across iterations without .item() / .detach()."
    why = (
        "A loss is a tensor attached to the graph that produced it. Summing it into a running "
        "total makes the total a node of every iteration's graph: memory grows with the number "
        "of iterations and the logging sum is slower than a float."
    )
    instead = "Accumulate `loss.item()` (a float) or `loss.detach()`."
    known_problems = (
        "Only names that are back-propagated in the same loop count as losses; a total that is "
        "itself back-propagated (one backward over an accumulated loss) is not a finding."
    )
    valid = [
        Valid(
            """
            import torch
            total = 0.0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                total += loss.item()
            """
        ),
        Valid(
            """
            import torch
            total = 0.0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                total += loss.detach()
            """
        ),
        Valid(
            """
            import torch
            history = []
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                history.append(float(loss))
            """
        ),
        Valid(
            """
            import torch
            for batch in loader:
                total = 0
                for x, y in batch:
                    total = total + loss_fn(model(x), y)
                total.backward()
            """,
            note="the sum itself is back-propagated: accumulating the tensor is the point",
        ),
        Valid(
            """
            import torch
            running = 0.0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                running += loss.data * x.size(0)
            """
        ),
        Valid(
            """
            import torch
            total = 0
            with torch.no_grad():
                for x, y in val_loader:
                    total += loss_fn(model(x), y)
            """,
            note="no graph under no_grad (and no backward in this loop)",
        ),
        Valid(
            """
            import torch
            total = 0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                total += loss.cpu().item() * len(x)
            """
        ),
        Valid(
            """
            import torch
            for x, y in loader:
                loss = 0
                for head in heads:
                    loss += head(model(x), y)
                loss.backward()
            """
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            total = 0.0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                total += loss
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            history = []
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                history.append(loss)
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            running = 0.0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                running = running + loss * x.size(0)
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch

            def train(model, loader, opt):
                epoch_loss = 0
                for x, y in loader:
                    opt.zero_grad()
                    loss = ((model(x) - y) ** 2).mean()
                    loss.backward()
                    opt.step()
                    epoch_loss += loss
                return epoch_loss / len(loader)
            """,
            at=(10, 9),
        ),
        Invalid(
            """
            import torch
            scaler = torch.cuda.amp.GradScaler()
            seen = 0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                scaler.scale(loss).backward()
                seen += loss
            """,
            at=(7, 5),
        ),
        Invalid(
            """
            import torch
            totals = {"loss": 0}
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                totals["loss"] += loss
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch

            class Trainer:
                def fit(self, loader):
                    self.total = 0
                    for x, y in loader:
                        loss = self.model(x).sum()
                        loss.backward()
                        self.total += loss
            """,
            at=(9, 13),
        ),
        Invalid(
            """
            import torch
            total = 0
            for x, y in loader:
                loss = loss_fn(model(x), y)
                (loss / 4).backward()
                total += loss.mean()
            """,
            at=(6, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for acc in facts(model).accumulations():
            node = acc.stmt
            if isinstance(node, cst.SimpleStatementLine):
                node = node.body[0]
            yield Report(node, MESSAGE.format(acc=acc.acc, loss=acc.loss), evidence=acc.evidence)
