"""Shared by the loss-pairing rules: where to point and how to name the evidence."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from linter.analysis import ModuleModel
from linter.analysis.torch_facts import Out, Pairing, facts


def mismatches(
    model: ModuleModel, criteria: set[str], outs: set[Out]
) -> Iterator[tuple[cst.CSTNode, Pairing, str]]:
    """Each criterion call of ``criteria`` fed a value of kind ``outs``, once per place: the
    activation (or last layer) when it is in this file, else the criterion call; with a note
    saying where the value comes from when that is elsewhere."""
    seen: set[cst.CSTNode] = set()
    for p in facts(model).pairings():
        if p.criterion not in criteria or p.kind.out not in outs:
            continue
        here = p.kind.model is model
        node = p.kind.node if here else p.call
        if node in seen:
            continue
        seen.add(node)
        if here:
            where = f"used by `{_head(model.src(p.call))}`"
        else:
            other = p.kind.model
            name = other.path.name if other.path is not None else "another module"
            where = f"`{_head(other.src(p.kind.node))}` in {name}"
        yield node, p, where


def _head(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
