"""The linter on the zoo: nothing on the correct networks, the expected code at the expected line
on every mutant. Known misses are listed with the reason; they are strict xfails, so fixing one
makes the test say so."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from .lint_score import default_rules, lint_sources
from .mutants import MUTANTS, line_of, mutant_id, mutated_sources
from .sources import network_names, read_sources, torch_network_names

RULES = default_rules()

# Mutants the rules are known to miss, and why (measured by `python -m tests.zoo.lint_score`).
KNOWN_MISSES = {
    "BP202-nielsen_network-1": "network.py never computes its cost: no evidence of the "
    "quadratic cost, and a - y is right for cross-entropy",
    "BP202-network2_ce-1": "QuadraticCost.delta is reached through `self.cost.delta(...)`, a "
    "dynamic dispatch; the class alone does not show a sigmoid output",
    "BP301-nielsen_network-1": "the gradient's sign passes through nabla lists accumulated "
    "across calls; the chain is longer than the sign analysis follows",
    "BP303-notebook_script-1": "the constant W1 feeds W2 only through the training loop's "
    "module-level flow, which the reachability deliberately cuts at updates",
    "BP005-layers_sequential-1": "no batch evidence in the layer: no batch-size division and "
    "no other reduced bias gradient",
    "BP501-softmax_classifier-1": "the only caller stopped shifting: reported at the helper's "
    "`np.exp` instead of at the call site",
}


@cache
def original_findings(name: str) -> tuple:
    return tuple(lint_sources(read_sources(name), RULES))


@pytest.mark.parametrize("name", network_names() + torch_network_names())
def test_correct_network_has_no_findings(name):
    found = list(original_findings(name))
    assert found == [], [f"{f.path}:{f.start.line} {f.code} {f.message}" for f in found]


def _params():
    enabled = {r.code for r in RULES}
    for m in MUTANTS:
        if m.code not in enabled:
            continue
        marks = []
        if mutant_id(m) in KNOWN_MISSES:
            marks.append(pytest.mark.xfail(reason=KNOWN_MISSES[mutant_id(m)], strict=True))
        yield pytest.param(m, id=mutant_id(m), marks=marks)


@pytest.mark.parametrize("mutant", list(_params()))
def test_mutant_is_flagged_at_its_line(mutant):
    found = lint_sources(mutated_sources(mutant), RULES)
    hits = [
        f
        for f in found
        if f.code == mutant.code and str(f.path) == mutant.path and f.start.line == line_of(mutant)
    ]
    assert hits, (
        f"expected {mutant.code} at {mutant.path}:{line_of(mutant)}; got "
        f"{[(str(f.path), f.start.line, f.code) for f in found]}"
    )
    # and nothing else new: a mutation must not make other rules misfire
    original = Counter(
        (str(f.path), f.code) for f in lint_sources(read_sources(mutant.network), RULES)
    )
    # a loss-pairing defect is also reported at its other ends, each naming the mutated line
    places = {f"{Path(h.path).name}:{h.start.line}" for h in hits}
    extra = [
        f
        for f in found
        if f not in hits
        and original[(str(f.path), f.code)] == 0
        and not (f.code == mutant.code and any(p in f.message for p in places))
        and f.code not in mutant.companions
    ]
    assert not extra, [(str(f.path), f.start.line, f.code, f.message) for f in extra]


def test_every_rule_has_mutants_in_the_zoo():
    covered = {m.code for m in MUTANTS}
    missing = [r.code for r in RULES if r.code not in covered and r.code != "BP900"]
    assert not missing, missing
