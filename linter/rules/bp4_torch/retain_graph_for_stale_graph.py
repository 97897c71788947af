"""BP416: retain_graph=True kept a graph only for a backward after an optimizer step."""

from __future__ import annotations

from collections.abc import Iterator

from linter import prefilter as P
from linter.analysis import ModuleModel
from linter.analysis.torch_updates import graphs
from linter.rule import Invalid, Report, Rule, Valid

MESSAGE = (
    "`retain_graph=True` here keeps the graph of `{forward}` only for `{backward}`, which runs "
    "after `{step}` changed those weights: it silences the 'backward a second time' error "
    "instead of fixing it; detach the reused output (`.detach()`) and drop retain_graph"
)


class RetainGraphForStaleGraph(Rule):
    """Flags ``backward(retain_graph=True)`` when the graph it keeps is walked again by a later
    backward after an optimizer step has changed the weights of that graph's model."""

    code = "BP416"
    prefilter = (P.BASE, r"retain_graph", P.OPTIMIZER_STEP)
    name = "retain-graph-for-stale-graph"
    kb = "retain-graph-as-fix"
    summary = "retain_graph=True used so a later backward can walk a graph made stale by step()."
    why = (
        "Without `retain_graph=True` the second backward fails with 'Trying to backward through "
        "the graph a second time'. The flag makes the error go away, but the graph it keeps was "
        "built with weights that `optimizer.step()` has since changed: the second backward is "
        "not a gradient of anything (and recent PyTorch fails with an in-place modification "
        "error instead). The reused tensor needed `.detach()`."
    )
    instead = (
        "Detach the output the second loss reuses (`D(fake.detach())`) and remove "
        "`retain_graph=True`, or compute both losses and back-propagate their sum once."
    )
    known_problems = (
        "Reported together with BP415 (at the later backward); only a kept graph that a "
        "backward after an optimizer step walks again is flagged: retain_graph for "
        "higher-order gradients or several losses before one step is fine."
    )
    valid = [
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x in loader:
                opt.zero_grad()
                out = model(x)
                out.sum().backward(retain_graph=True)
                out.pow(2).sum().backward()
                opt.step()
            """,
            note="two backwards before the step",
        ),
        Valid(
            """
            import torch
            opt_g = torch.optim.Adam(G.parameters())
            opt_d = torch.optim.Adam(D.parameters())
            for z, real in loader:
                opt_g.zero_grad()
                fake = G(z)
                bce(D(fake), ones).backward(retain_graph=True)
                opt_g.step()
                opt_d.zero_grad()
                d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
                d_loss.backward()
                opt_d.step()
            """,
            note="redundant retain_graph, but the later backward detaches",
        ),
        Valid(
            """
            import torch
            x = torch.randn(3, requires_grad=True)
            y = (x ** 3).sum()
            (g,) = torch.autograd.grad(y, x, create_graph=True)
            g.sum().backward(retain_graph=True)
            """
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                crit(model(x), y).backward(retain_graph=True)
                opt.step()
            """,
            note="kept, never walked again",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x in loader:
                out = model(x)
                opt.zero_grad()
                out.sum().backward(retain_graph=True)
                opt.step()
                out = model(x)
                out.sum().backward()
            """,
            note="recomputed",
        ),
        Valid(
            """
            import torch
            opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
            for x in loader:
                h = b(x)
                opt_a.zero_grad()
                (a(x) + h).sum().backward(retain_graph=True)
                opt_a.step()
                h.sum().backward()
            """,
            note="the stepped model is not in the graph walked again",
        ),
        Valid(
            """
            import torch
            for x in loader:
                h = rnn(x, h)
                h.sum().backward(retain_graph=True)
            """,
            note="no optimizer step here",
        ),
        Valid(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x in loader:
                out = model(x)
                opt.zero_grad()
                out.sum().backward(retain_graph=False)
                opt.step()
                out.sum().backward()
            """,
            note="not retained (BP415 reports the later backward)",
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
            at=(8, 5),
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
                bce(out_fake, ones).backward()
                opt_g.step()
            """,
            at=(9, 5),
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
            at=(9, 5),
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
                out.pow(2).mean().backward()
            """,
            at=(6, 5),
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
            at=(10, 9),
        ),
        Invalid(
            """
            import torch
            opt = torch.optim.Adam(net.parameters())
            for x in loader:
                h = net(x)
                opt.zero_grad()
                h.sum().backward(retain_graph=True)
                opt.step()
                second = (h * h).sum()
                second.backward()
            """,
            at=(6, 5),
        ),
        Invalid(
            """
            import torch
            opt_e = torch.optim.Adam(enc.parameters())
            for x in loader:
                code = enc(x)
                opt_e.zero_grad()
                mse(dec(code), x).backward(retain_graph=True)
                opt_e.step()
                (kl(code) * beta).backward()
            """,
            at=(6, 5),
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
                crit(logits, y2).backward()
            """,
            at=(7, 5),
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        done: set[object] = set()
        for sb in graphs(model).stale_backwards():
            if sb.retained is None or sb.retained in done:
                continue
            done.add(sb.retained)
            yield Report(
                sb.retained,
                MESSAGE.format(
                    forward=" ".join(model.src(sb.model_call).split())[:40],
                    backward=" ".join(model.src(sb.backward).split())[:40],
                    step=" ".join(model.src(sb.step).split())[:40],
                ),
                evidence=(
                    (
                        sb.backward,
                        f"`{' '.join(model.src(sb.backward).split())[:40]}` walks the kept graph "
                        f"of `{' '.join(model.src(sb.model_call).split())[:40]}` again here",
                    ),
                    (
                        sb.step,
                        f"`{' '.join(model.src(sb.step).split())[:40]}` changes the weights that "
                        "graph was computed with here, before that second backward",
                    ),
                ),
            )
