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


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_has_its_own_module_in_its_family(rule):
    # linter.rules.bp0_linalg.inverse_in_backward holds BP001 inverse-in-backward and nothing else
    *package, family, module = rule.__module__.split(".")
    assert package == ["linter", "rules"]
    assert family.startswith(f"bp{rule.code[2]}_"), f"{rule.code} is in family {family}"
    assert module == rule.name.replace("-", "_")
    siblings = [r for r in ALL_RULES if r.__module__ == rule.__module__]
    assert siblings == [rule]


def test_registry_imports_every_rule_module():
    import pkgutil

    import linter.rules

    modules = {
        f"linter.rules.{family.name}.{m.name}"
        for family in pkgutil.iter_modules(linter.rules.__path__)
        if family.ispkg
        for m in pkgutil.iter_modules([f"{linter.rules.__path__[0]}/{family.name}"])
    }
    assert modules == {r.__module__ for r in ALL_RULES}
