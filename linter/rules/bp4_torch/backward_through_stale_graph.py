"""BP415: a backward walks a forward graph whose weights an optimizer step changed since."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_updates import graphs
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`{backward}` back-propagates through `{forward}`, computed before `{step}` changed that "
    "model's weights in place: the saved activations belong to the old weights (PyTorch "
    "raises 'modified by an inplace operation', older versions return a gradient of neither); "
    "detach the output (`.detach()`) or run this backward before the step"
)


class BackwardThroughStaleGraph(Rule):
    """Flags ``loss.backward()`` in a training loop when the loss is computed (through the
    assignments of the loop) from a model's forward call made before an ``optimizer.step()``
    whose parameters include that model's, with no ``.detach()`` in between."""

    code = "BP415"
    prefilter = (P.BASE, P.BACKWARD_CALL, P.OPTIMIZER_STEP)
    name = "backward-through-stale-graph"
    kb = "backward-after-optimizer-step"
    summary = "backward() through a forward pass made before an optimizer step on that model."
    why = (
        "`optimizer.step()` changes the weights in place, while the graph of an earlier forward "
        "pass still holds activations computed with the old ones. A later backward through that "
        "graph mixes the two: it is the gradient of neither. Recent PyTorch refuses with an "
        "in-place modification error; the GAN loop that reuses the generator's output for the "
        "discriminator after the generator's step is the classic case."
    )
    instead = (
        "Feed the discriminator `fake.detach()` (it needs no gradient into the generator), or "
        "run every backward that needs the graph before the step, or recompute the forward pass."
    )
    known_problems = (
        "The loss is followed through the assignments of the loop's function; the optimizer's "
        "parameters are read from its constructor (`Adam(G.parameters())`, `chain(...)`). "
        "Forward calls in helpers, and branches between the forward, the step and the backward, "
        "are not told apart."
    )
    valid = [
        Valid(
            """
            import torch
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            for z, real in loader:
                fake = G(z)
                opt_d.zero_grad()
                d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
                d_loss.backward()
                opt_d.step()
                opt_g.zero_grad()
                g_loss = bce(D(fake), ones)
                g_loss.backward()
                opt_g.step()
            """,
            note="the textbook GAN step: D's step does not touch G, D(fake) is recomputed",
        ),
        Valid(
            """
            import torch
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            for z, real in loader:
                opt_g.zero_grad()
                fake = G(z)
                bce(D(fake), ones).backward()
                opt_g.step()
                opt_d.zero_grad()
                d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
                d_loss.backward()
                opt_d.step()
            """,
            note="generator first, then the discriminator on detached samples",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                loss = crit(model(x), y)
                loss.backward()
                opt.step()
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                out = model(x)
                opt.zero_grad()
                crit(out, y).backward()
                opt.step()
                out = model(x)
                crit(out, y).backward()
            """,
            note="the forward pass is recomputed after the step",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                feats = model(x)
                opt.zero_grad()
                crit(feats, y).backward()
                opt.step()
                probe_loss = crit(head(feats.detach()), y)
                probe_loss.backward()
            """,
            note="detached before the second backward",
        ),
        Valid(
            """
            import torch
            opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
            for x in loader:
                h = b(x)
                opt_a.zero_grad()
                a(x).sum().backward()
                opt_a.step()
                h.sum().backward()
            """,
            note="the step updates another model",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x in loader:
                out = model(x)
                value = out.item()
                opt.step()
                loss = torch.tensor(value, requires_grad=True)
                loss.backward()
            """,
            note="item() cuts the graph",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x in loader:
                opt.zero_grad()
                loss = model(x).sum()
                loss.backward(retain_graph=True)
                loss.backward()
                opt.step()
            """,
            note="both backwards before the step",
        ),
    ]
    invalid = [
        Invalid(
            """
            import torch
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            for z, real in loader:
                opt_g.zero_grad()
                fake = G(z)
                g_loss = bce(D(fake), ones)
                g_loss.backward(retain_graph=True)
                opt_g.step()
                opt_d.zero_grad()
                d_loss = bce(D(real), ones) + bce(D(fake), zeros)
                d_loss.backward()
                opt_d.step()
            """,
            at=(12, 5),
        ),
        Invalid(
            """
            import torch
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            for z, real in loader:
                fake = G(z)
                out_fake = D(fake)
                opt_d.zero_grad()
                d_loss = bce(D(real), ones) + bce(out_fake, zeros)
                d_loss.backward(retain_graph=True)
                opt_d.step()
                opt_g.zero_grad()
                g_loss = bce(out_fake, ones)
                g_loss.backward()
                opt_g.step()
            """,
            at=(13, 5),
            note="the generator loss reuses D's output from before D's step",
        ),
        Invalid(
            """
            import itertools
            import torch
            opt_g = torch.optim.Adam(itertools.chain(g_ab.parameters(), g_ba.parameters()))
            opt_d = torch.optim.Adam(d_b.parameters())
            for a, b in loader:
                opt_g.zero_grad()
                fake_b = g_ab(a)
                loss_g = gan(d_b(fake_b), True) + l1(g_ba(fake_b), a)
                loss_g.backward(retain_graph=True)
                opt_g.step()
                opt_d.zero_grad()
                loss_d = gan(d_b(b), True) + gan(d_b(fake_b), False)
                loss_d.backward()
                opt_d.step()
            """,
            at=(13, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                out = model(x)
                opt.zero_grad()
                crit(out, y).backward(retain_graph=True)
                opt.step()
                reg = out.pow(2).mean()
                reg.backward()
            """,
            at=(9, 5),
        ),
        Invalid(
            """
            import torch

            def train(G, D, loader):
                opt_g = torch.optim.Adam(G.parameters())
                opt_d = torch.optim.Adam(D.parameters())
                for z, real in loader:
                    fake = G(z)
                    g_loss = -D(fake).mean()
                    opt_g.zero_grad()
                    g_loss.backward(retain_graph=True)
                    opt_g.step()
                    d_loss = D(fake).mean() - D(real).mean()
                    opt_d.zero_grad()
                    d_loss.backward()
                    opt_d.step()
            """,
            at=(14, 9),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.Adam(net.parameters())
            for x in loader:
                h = net(x)
                first = h.sum()
                opt.zero_grad()
                first.backward(retain_graph=True)
                opt.step()
                second = (h * h).sum()
                second.backward()
            """,
            at=(10, 5),
        ),
        Invalid(
            """
            import torch
            opt_e = torch.optim.Adam(self_enc.parameters())
            for x in loader:
                code = self_enc(x)
                rec = dec(code)
                opt_e.zero_grad()
                mse(rec, x).backward(retain_graph=True)
                opt_e.step()
                total = kl(code) * beta
                total.backward()
            """,
            at=(10, 5),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            while True:
                logits = model(x)
                loss1 = crit(logits, y)
                opt.zero_grad()
                loss1.backward(retain_graph=True)
                opt.step()
                loss2 = crit(logits, y2)
                loss2.backward()
            """,
            at=(10, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        for sb in graphs(model).stale_backwards():
            yield Report(
                sb.backward,
                MESSAGE.format(
                    backward=" ".join(model.src(sb.backward).split())[:40],
                    forward=" ".join(model.src(sb.model_call).split())[:40],
                    step=" ".join(model.src(sb.step).split())[:40],
                ),
                evidence=(
                    (
                        sb.model_call,
                        f"`{_short(model, sb.model_call)}` runs the forward pass here: its graph "
                        "saves activations computed with the weights as they are now",
                    ),
                    (
                        sb.step,
                        f"`{_short(model, sb.step)}` changes those weights in place here, "
                        f"before `{_short(model, sb.backward)}` walks that graph",
                    ),
                ),
            )


def _short(model: ModuleModel, node: cst.CSTNode) -> str:
    return " ".join(model.src(node).split())[:40]
