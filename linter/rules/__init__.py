"""The rule registry: one rule per module, in family packages ``bp<digit>_<family>/``.

Every module of every family package is imported (sorted, so the order is stable); defining a
``Rule`` subclass registers it, so adding a rule touches one file. ``ALL_RULES`` is sorted by
code. ``get_rule`` accepts a code (``BP001``) or a name (``inverse-in-backward``),
case-insensitively for codes. Importing one rule module does not import the others: the
families are imported when ``ALL_RULES`` or ``get_rule`` is first used.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import TYPE_CHECKING

from linter.rule import Rule

_FAMILY = re.compile(r"^bp\d_[a-z0-9_]+$")


def _import_families() -> None:
    families = sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if info.ispkg and _FAMILY.match(info.name)
    )
    for family in families:
        package = importlib.import_module(f"{__name__}.{family}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if not info.ispkg and not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")


_LOADED: list[type[Rule]] | None = None
if TYPE_CHECKING:
    ALL_RULES: list[type[Rule]]


def _all_rules() -> list[type[Rule]]:
    global _LOADED
    if _LOADED is None:
        _import_families()
        ours = (r for r in Rule.registry.values() if r.__module__.startswith(f"{__name__}."))
        _LOADED = sorted(ours, key=lambda r: r.code)
    return _LOADED


def __getattr__(name: str) -> object:
    # ``ALL_RULES`` imports every rule on first use, not when a rule module (or the package) is
    # imported: the lint path imports only the rules a file can trigger (``linter.rule_index``)
    if name == "ALL_RULES":
        return _all_rules()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_rule(code_or_name: str) -> type[Rule] | None:
    key = code_or_name.strip()
    rules = _all_rules()
    return Rule.registry.get(key.upper()) or next((r for r in rules if r.name == key.lower()), None)
