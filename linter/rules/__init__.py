"""The rule registry. Each family module defines small Rule classes; importing it registers them.

``ALL_RULES`` is sorted by code. ``get_rule`` accepts a code (``BP001``) or a name
(``inverse-in-backward``), case-insensitively for codes.
"""

from __future__ import annotations

import linter.rules.meta  # noqa: F401  (BP9xx: rules about bplint itself)
from linter.rule import Rule
from linter.rules import activations, linalg, numerics, output, update  # noqa: F401  (importing registers the rules)

ALL_RULES: list[type[Rule]] = sorted(Rule.registry.values(), key=lambda r: r.code)
_BY_NAME = {r.name: r for r in ALL_RULES}


def get_rule(code_or_name: str) -> type[Rule] | None:
    key = code_or_name.strip()
    return Rule.registry.get(key.upper()) or _BY_NAME.get(key.lower())
