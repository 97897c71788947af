"""``# noqa`` handling: line-level ``# noqa`` / ``# noqa: BP001, BP002 reason`` comments.

A suppression on any physical line of the statement that contains a finding silences it, so
multi-line calls can carry the comment on their first or last line. Comments are found with
``tokenize`` (never inside strings), and only when the text mentions ``noqa`` at all.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

NOQA_RE = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>(?:[A-Z]+[0-9]+|[a-z][a-z0-9-]+)(?:[\s,]+(?:[A-Z]+[0-9]+|[a-z][a-z0-9-]+))*))?",
    re.IGNORECASE,
)
CODE_TOKEN = re.compile(r"^[A-Z]+[0-9]+$|^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")


@dataclass
class Noqa:
    line: int
    column: int
    codes: frozenset[str] | None  # None: a bare ``# noqa`` (everything)
    used: set[str] = field(default_factory=set)

    def matches(self, code: str, name: str) -> bool:
        return self.codes is None or code in self.codes or name in self.codes


def find_noqa(source: str) -> dict[int, Noqa]:
    if "noqa" not in source.lower():
        return {}
    found: dict[int, Noqa] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return {}
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        m = NOQA_RE.search(tok.string)
        if not m:
            continue
        codes = None
        if m.group("codes"):
            parts = [p for p in re.split(r"[\s,]+", m.group("codes")) if p]
            # stop at the first word that is not a code: the rest is the reason
            kept = []
            for p in parts:
                if not CODE_TOKEN.match(p) or (p.isalpha() and p.islower() and "-" not in p):
                    break
                kept.append(p.upper() if p[0].isupper() or p[:2].upper() == "BP" else p)
            codes = frozenset(kept) if kept else None
        found[tok.start[0]] = Noqa(tok.start[0], tok.start[1] + 1 + m.start(), codes)
    return found
