"""Which rules run: ruff-style prefix selection over the registry."""

from __future__ import annotations

from collections.abc import Iterable

from linter.rule import Rule


def _all() -> list[type[Rule]]:
    from linter.rules import ALL_RULES

    return ALL_RULES


def _matches(rule: type[Rule], selector: str) -> bool:
    return rule.code.startswith(selector.upper()) or rule.name == selector.lower()


def validate_selectors(selectors: Iterable[str]) -> str | None:
    """The first selector that matches no rule (``ALL`` matches everything), else None."""
    rules = _all()
    for s in selectors:
        if s.upper() == "ALL":
            continue
        if not any(_matches(r, s) for r in rules):
            return s
    return None


def select_rules(
    select: Iterable[str], extend_select: Iterable[str], ignore: Iterable[str]
) -> list[type[Rule]]:
    """Prefixes select default-on rules; an exact code or name also enables an off-by-default rule."""
    chosen: list[type[Rule]] = []
    selectors = [*select, *extend_select]
    ignores = list(ignore)
    for rule in _all():
        exact = any(s.upper() == rule.code or s.lower() == rule.name for s in selectors)
        prefix = any(s.upper() == "ALL" or _matches(rule, s) for s in selectors)
        if not (exact or (prefix and rule.default_enabled)):
            continue
        if any(_matches(rule, s) for s in ignores):
            continue
        chosen.append(rule)
    return chosen
