"""Formatters: findings -> text. One module per format; ``FORMATTERS`` maps names to them.

Every formatter is ``format(findings, errors, ctx) -> str``; ``ctx`` carries the KB base URL
and terminal capabilities so no formatter reads global state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from linter.config import DEFAULT_KB_URL
from linter.ftypes import FileError, Finding


@dataclass(frozen=True)
class Context:
    kb_url: str = DEFAULT_KB_URL
    color: bool = False
    hyperlinks: bool = False
    show_fixes: bool = True

    def kb_page(self, slug: str) -> str:
        return f"{self.kb_url}kb/{slug}/"

    def rule_page(self, code: str) -> str:
        return f"{self.kb_url}rules/{code}/"


Formatter = Callable[[list[Finding], list[FileError], Context], str]


def _load() -> dict[str, Formatter]:
    from linter.report import json_format, text

    return {
        "concise": text.concise,
        "json": json_format.as_json,
    }


FORMATTERS: dict[str, Formatter] = _load()
