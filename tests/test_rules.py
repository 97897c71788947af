"""Every rule's VALID and INVALID examples, parametrized over the registry."""

from __future__ import annotations

import pytest

from linter.rules import ALL_RULES
from linter.testing import check_example

CASES = [
    pytest.param(rule, ex, kind == "valid", id=f"{rule.code}-{kind}-{i}")
    for rule in ALL_RULES
    for kind, examples in (("valid", rule.valid), ("invalid", rule.invalid))
    for i, ex in enumerate(examples)
]


@pytest.mark.parametrize(("rule", "example", "valid"), CASES)
def test_example(rule, example, valid):
    problem = check_example(rule, example, valid)
    assert problem is None, f"{rule.code}: {problem}\n{example.source}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_is_documented(rule):
    least = 6 if rule.meta else 8  # backprop rules: 8 of each, decoys included
    assert len(rule.valid) >= least and len(rule.invalid) >= least
    assert rule.summary and rule.why and rule.instead
    assert all(ex.expect for ex in rule.invalid), "every INVALID example pins its position"
