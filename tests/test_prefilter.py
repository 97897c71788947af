"""The text pre-filter never skips a file a rule would flag, and does skip files no rule can."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from linter import prefilter as P
from linter.config import ConfigResolver
from linter.rule import Rule
from linter.rules import ALL_RULES
from linter.run import RunOptions, lint_paths
from tests.zoo.mutants import MUTANTS, mutant_id, mutated_sources
from tests.zoo.sources import network_names, read_sources

RULES = {r.code: r for r in ALL_RULES}
INVALID = [
    pytest.param(rule, ex, id=f"{rule.code}-{i}")
    for rule in ALL_RULES
    for i, ex in enumerate(rule.invalid)
]


@pytest.mark.parametrize(("rule", "example"), INVALID)
def test_every_invalid_example_passes_its_rules_markers(rule, example):
    assert P.could_fire(example.source, [rule]), P.markers_of(rule)
    assert P.could_fire(example.source, ALL_RULES)


@pytest.mark.parametrize(
    "mutant", [m for m in MUTANTS if m.code in RULES], ids=lambda m: mutant_id(m)
)
def test_every_zoo_mutant_passes_its_rules_markers(mutant):
    text = mutated_sources(mutant)[mutant.path]
    assert P.could_fire(text, [RULES[mutant.code]]), P.markers_of(RULES[mutant.code])


@pytest.mark.parametrize("name", network_names())
def test_zoo_findings_are_the_same_with_and_without_the_prefilter(name, tmp_path, monkeypatch):
    for rel, text in read_sources(name).items():
        dest = tmp_path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
    options = RunOptions(jobs=1, cache=False)
    rules = ("ALL",)
    resolver = ConfigResolver(tmp_path, cli={"select": rules})
    on = lint_paths([tmp_path], resolver, None, options)
    monkeypatch.setattr(P, "could_fire", lambda text, rules: True)  # off: every file parsed
    off = lint_paths([tmp_path], ConfigResolver(tmp_path, cli={"select": rules}), None, options)
    assert on.findings == off.findings
    assert on.errors == off.errors


def test_every_marker_compiles_and_every_rule_declares_some():
    for rule in ALL_RULES:
        for marker in P.markers_of(rule):
            re.compile(marker, re.MULTILINE)
        assert rule.prefilter, f"{rule.code} declares no markers: every numpy file is parsed"


def test_a_rule_without_markers_gets_the_library_words():
    class Plain(Rule):  # as a new family's rule would start out (registered only here)
        code = "BP899"
        name = "plain-test-rule"
        kb = "x"
        summary = why = instead = "x"

    try:
        assert P.markers_of(Plain) == (P.BASE,)
        assert P.could_fire("import torch\n", [Plain])
        assert not P.could_fire("print('hello')\n", [Plain])
    finally:
        del Rule.registry["BP899"]


NUMPY_UTILITY = textwrap.dedent(
    """
    import numpy as np

    def normalise(x, axis=0):
        mean = np.mean(x, axis=axis, keepdims=True)
        std = np.std(x, axis=axis, keepdims=True)
        return (x - mean) / (std + 1e-8)

    def load(path):
        return np.loadtxt(path, delimiter=",")
    """
)
# A model's raw Linear output is an end of an NLLLoss defect completed in another file, so a
# model file is read; a dataset is library code no rule can flag.
TORCH_DATASET = textwrap.dedent(
    """
    import torch

    class Pairs(torch.utils.data.Dataset):
        def __init__(self, xs, ys):
            self.xs, self.ys = xs, ys

        def __len__(self):
            return len(self.xs)

        def __getitem__(self, i):
            return torch.as_tensor(self.xs[i]), self.ys[i]
    """
)


@pytest.mark.parametrize(
    "text", [NUMPY_UTILITY, TORCH_DATASET], ids=["numpy-utility", "torch-dataset"]
)
def test_library_code_no_rule_can_flag_is_not_parsed(text):
    defaults = [r for r in ALL_RULES if r.default_enabled]
    assert re.search(P.BASE, text)  # the old filter (library words) parsed it
    assert not P.could_fire(text, defaults), [
        r.code for r in P.rules_that_could_fire(text, defaults)
    ]


def test_decorators_are_not_matrix_products():
    matmul = re.compile(P.MATMUL, re.MULTILINE)
    assert not matmul.search("@property\ndef f(self):\n    pass\n")
    assert not matmul.search("x = f()\n@torch.no_grad()\ndef g():\n    pass\n")
    for product in (
        "a @ b",
        "a@b",
        "f(x) @ W",
        "x[0] @ y",
        "h @= W",
        "(a\n     @ b)",
        "np.dot(a, b)",
    ):
        assert matmul.search(product), product


def test_skipped_files_with_syntax_errors_are_still_errors(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    return 1\n")  # no rule's markers at all
    result = lint_paths([tmp_path], ConfigResolver(tmp_path), None, RunOptions(jobs=1, cache=False))
    assert [e.path.name for e in result.errors] == ["broken.py"]


def test_prefilter_only_widens_on_unused_noqa(tmp_path: Path):
    text = "x = 1  # noqa: BP001\n"
    assert P.could_fire(text, ALL_RULES)  # BP900 must see the stale directive
    assert not P.could_fire(text, [r for r in ALL_RULES if r.code != "BP900"])
