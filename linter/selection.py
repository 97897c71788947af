"""Which rules run: ruff-style prefix selection over the registry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linter.rule import Rule
    from linter.rule_index import RuleInfo


def _all() -> list[type[Rule]]:
    from linter.rules import ALL_RULES

    return ALL_RULES


def _matches(rule: type[Rule] | RuleInfo, selector: str) -> bool:
    return rule.code.startswith(selector.upper()) or rule.name == selector.lower()


def validate_selectors(selectors: Iterable[str]) -> str | None:
    """The first selector that matches no rule (``ALL`` matches everything), else None."""
    from linter.rule_index import rules as indexed

    rules = indexed()  # codes and names only: no rule is imported
    for s in selectors:
        if s.upper() == "ALL":
            continue
        if not any(_matches(r, s) for r in rules):
            return s
    return None


def select_rules(
    select: Iterable[str],
    extend_select: Iterable[str],
    ignore: Iterable[str],
    pool: Sequence[type[Rule] | RuleInfo] | None = None,
) -> list[Any]:
    """Prefixes select default-on rules; an exact code or name also enables an off-by-default rule.

    ``pool``: the rules to choose from (default: every rule class; the lint path passes the
    index, ``linter.rule_index``, and imports a chosen rule only when a file can trigger it)."""
    chosen: list[Any] = []
    selectors = [*select, *extend_select]
    ignores = list(ignore)
    for rule in _all() if pool is None else pool:
        exact = any(s.upper() == rule.code or s.lower() == rule.name for s in selectors)
        prefix = any(s.upper() == "ALL" or _matches(rule, s) for s in selectors)
        if not (exact or (prefix and rule.default_enabled)):
            continue
        if any(_matches(rule, s) for s in ignores):
            continue
        chosen.append(rule)
    return chosen
