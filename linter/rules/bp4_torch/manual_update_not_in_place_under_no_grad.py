"""BP421: a hand-written parameter update that is not made in place with recording off."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_updates import updates
from linter.rule import Invalid, Report, Rule, Valid

MESSAGES = {
    "in-place": (
        "`{update}` changes the leaf `{p}` in place while autograd records: PyTorch raises "
        "RuntimeError (a leaf Variable that requires grad is being used in an in-place "
        "operation) at the first step; put the update under `with torch.no_grad():` or "
        "write to `{p}.data`"
    ),
    "rebound": (
        "`{update}` makes `{p}` a new tensor that autograd records (no longer a leaf): the "
        "next backward() fills the gradient of the old leaf, `{p}.grad` is None and this "
        "line raises TypeError at the second step; update in place under "
        "`with torch.no_grad():` (`{p} -= ...`)"
    ),
    "rebound under no_grad": (
        "`{update}` under no_grad makes `{p}` a new tensor that does not require grad: "
        "`{p}.grad` is None and the next backward() raises RuntimeError (element 0 of "
        "tensors does not require grad); update in place (`{p} -= ...`) or call "
        "`{p}.requires_grad_()` after it"
    ),
    "loop variable": (
        "`{update}` binds the loop variable `{p}` to a new tensor and drops it: the "
        "parameter it came from never changes (no error, the loss stays where it is); "
        "update in place under `with torch.no_grad():` (`{p} -= ...`)"
    ),
}

EVIDENCE = {
    "in-place": "`{p}` is made here as a leaf tensor that requires grad",
    "rebound": "`{p}` is made here as a leaf tensor that requires grad",
    "rebound under no_grad": "`{p}` is made here as a leaf tensor that requires grad",
    "loop variable": "this loop binds `{p}` to each parameter in turn",
}
LOOP = "this loop binds `{p}` to each of the model's parameters in turn: leaves that require grad"


class ManualUpdateNotInPlace(Rule):
    """Flags a manual update from a parameter's own ``.grad`` that is not made in place with
    recording off: in place outside ``no_grad``, a leaf rebound in the training loop (outside
    or inside ``no_grad``), or a loop variable over ``.parameters()`` rebound."""

    code = "BP421"
    prefilter = (P.BASE, P.GRAD_ATTR)
    name = "manual-update-not-in-place-under-no-grad"
    kb = "manual-update-in-place-under-no-grad"
    summary = "Manual parameter update outside torch.no_grad(), or a rebinding, not an update."
    why = (
        "While autograd records, an update is one more operation of the graph. In place on a "
        "leaf that requires grad, PyTorch refuses it (RuntimeError at the first step); "
        "`w = w - lr * w.grad` replaces the leaf by a recorded result whose `.grad` stays "
        "None, so the second step fails; under `no_grad` the rebound tensor does not require "
        "grad and the next backward fails; `p = p - lr * p.grad` in a loop over parameters "
        "rebinds a local name and leaves the model as it was, silently."
    )
    instead = (
        "Update in place with recording off: `with torch.no_grad(): for p in "
        "model.parameters(): p -= lr * p.grad`, then clear the gradients; or use "
        "`torch.optim.SGD`."
    )
    known_problems = (
        "Only updates in the function that calls `backward()` are read (a helper that only "
        "updates may run under its caller's `no_grad`). A tensor is a leaf when it is made by "
        "a torch factory with `requires_grad=True`, `.requires_grad_()` or `nn.Parameter`, or "
        "comes from a loop over `.parameters()`; a rebinding followed by `requires_grad_()`, "
        "`retain_grad()` or another rebinding in the loop is not flagged."
    )
    valid = [
        Valid(
            """
            import torch
            w = torch.zeros(3, requires_grad=True)
            for _ in range(100):
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    w -= 0.1 * w.grad
                w.grad.zero_()
            """
        ),
        Valid(
            """
            import torch
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= lr * p.grad
                model.zero_grad()
            """
        ),
        Valid(
            """
            import torch
            w = torch.zeros(3, requires_grad=True)
            for _ in range(100):
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                w.data -= 0.1 * w.grad
                w.grad.zero_()
            """,
            note="through .data autograd does not see the write",
        ),
        Valid(
            """
            import torch
            w = torch.zeros(3, requires_grad=True)
            for _ in range(100):
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                w = (w - 0.1 * w.grad).detach().requires_grad_()
            """,
            note="rebound to a new leaf",
        ),
        Valid(
            """
            import torch

            @torch.no_grad()
            def sgd(params, lr):
                for p in params:
                    p -= lr * p.grad

            for x, y in loader:
                loss_fn(model(x), y).backward()
                sgd(model.parameters(), 0.1)
            """
        ),
        Valid(
            """
            import torch

            def sgd(params, lr):
                for p in params:
                    p -= lr * p.grad
            """,
            note="a helper with no backward: its caller may hold no_grad",
        ),
        Valid(
            """
            import torch
            w = torch.zeros(3, requires_grad=True)
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            w = w - 0.1 * w.grad
            print(w)
            """,
            note="one step, no loop: the new w is never back-propagated again",
        ),
        Valid(
            """
            import torch
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                new = []
                for p in model.parameters():
                    p = p - lr * p.grad
                    new.append(p)
                load_parameters(model, new)
            """,
            note="the new tensors are used: a functional update",
        ),
        Valid(
            """
            w = Value(0.0)
            for _ in range(100):
                loss = (w * x - y) ** 2
                loss.backward()
                w -= 0.1 * w.grad
            """,
            note="not torch",
        ),
        Valid(
            """
            import torch
            W = torch.randn(4, 1, requires_grad=True)
            for epoch in range(20):
                loss = ((x @ W - y) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    W = W - 0.01 * W.grad
                W.requires_grad_()
            """,
            note="rebound under no_grad, then made to require grad again",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            w = torch.zeros(3, requires_grad=True)
            for _ in range(100):
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                w -= 0.1 * w.grad
                w.grad.zero_()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                for p in model.parameters():
                    p -= lr * p.grad
                model.zero_grad()
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            import torch
            w = torch.randn(3, 1, requires_grad=True)
            b = torch.zeros(1, requires_grad=True)
            for epoch in range(50):
                loss = ((x @ w + b - y) ** 2).mean()
                loss.backward()
                w = w - lr * w.grad
                b = b - lr * b.grad
            """,
            at=[(7, 5), (8, 5)],
        ),
        Invalid(
            """
            import torch
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p = p - lr * p.grad
                model.zero_grad()
            """,
            at=(7, 13),
            note="a loop variable rebound: under no_grad too, nothing changes",
        ),
        Invalid(
            """
            import torch
            import torch.nn as nn
            a = nn.Parameter(torch.ones(4))
            for step in range(10):
                out = (a * x).sum()
                out.backward()
                a.sub_(0.01 * a.grad)
                a.grad = None
            """,
            at=(7, 5),
        ),
        Invalid(
            """
            import torch

            def train(model, data, lr=0.01):
                for x, y in data:
                    loss = ((model(x) - y) ** 2).mean()
                    loss.backward()
                    for name, param in model.named_parameters():
                        param.add_(-lr * param.grad)
                    model.zero_grad()
            """,
            at=(8, 13),
        ),
        Invalid(
            """
            import torch
            v = torch.randn(5).requires_grad_()
            for i in range(20):
                f = (v ** 2).sum()
                f.backward()
                v += -0.1 * v.grad
                v.grad.zero_()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                for p in model.parameters():
                    p = p - lr * p.grad
                model.zero_grad()
            """,
            at=(6, 9),
        ),
        Invalid(
            """
            import torch
            w = torch.tensor(0.0, dtype=torch.float32, requires_grad=True)
            for epoch in range(n_iters):
                l = loss(Y, forward(X))
                l.backward()
                with torch.no_grad():
                    w = w - learning_rate * w.grad
                w.grad.zero_()
            """,
            at=(7, 9),
            note="under no_grad the new w does not require grad (w.grad is None)",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for u in updates(model).tracked_updates():
            update = model.src(u.node).strip().splitlines()[0]
            yield Report(
                u.node,
                MESSAGES[u.kind].format(update=update, p=u.param),
                evidence=(
                    (
                        u.origin,
                        (LOOP if isinstance(u.origin, cst.For) else EVIDENCE[u.kind]).format(
                            p=u.param
                        ),
                    ),
                    (
                        u.backward,
                        f"`{' '.join(model.src(u.backward).split())[:40]}` fills `{u.param}.grad`"
                        " here, the gradient the update reads",
                    ),
                ),
            )
