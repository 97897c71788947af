"""The rule registry: one rule per module, in family packages ``bp<digit>_<family>/``.

Every module of every family package is imported (sorted, so the order is stable); defining a
``Rule`` subclass registers it, so adding a rule touches one file. ``ALL_RULES`` is sorted by
code. ``get_rule`` accepts a code (``BP001``) or a name (``inverse-in-backward``),
case-insensitively for codes.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

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


_import_families()

ALL_RULES: list[type[Rule]] = sorted(Rule.registry.values(), key=lambda r: r.code)
_BY_NAME = {r.name: r for r in ALL_RULES}


def get_rule(code_or_name: str) -> type[Rule] | None:
    key = code_or_name.strip()
    return Rule.registry.get(key.upper()) or _BY_NAME.get(key.lower())
