"""Formatters: findings -> text. One module per format; ``FORMATTERS`` maps names to them.

Every formatter is ``format(findings, errors, ctx) -> str``; ``ctx`` carries the KB base URL,
terminal capabilities and fix settings, so no formatter reads global state. What a formatter
prints travels with the findings (the snippet's source lines, the evidence): none reads files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from linter.config import DEFAULT_KB_URL
from linter.ftypes import FileError, Finding, Fix, FixSafety

if TYPE_CHECKING:
    from linter.rule import Rule


@dataclass(frozen=True)
class Context:
    kb_url: str = DEFAULT_KB_URL
    color: bool = False
    hyperlinks: bool = False
    show_fixes: bool = True
    unsafe_fixes: bool = False
    cwd: Path = field(default_factory=Path.cwd)
    rules: Sequence[type[Rule]] = ()  # every known rule (SARIF lists them all)

    def kb_page(self, slug: str) -> str:
        return f"{self.kb_url}kb/{slug}/"

    def rule_page(self, code: str) -> str:
        return f"{self.kb_url}rules/{code}/"

    def link(self, f: Finding) -> str:
        """Where a finding sends the reader: its KB page, or its rule page for meta rules."""
        return self.kb_page(f.kb) if f.kb else self.rule_page(f.code)

    def fixable(self, fix: Fix | None) -> bool:
        return fix is not None and (fix.safety is FixSafety.SAFE or self.unsafe_fixes)


Formatter = Callable[[list[Finding], list[FileError], Context], str]


class _Formatters(Mapping[str, Formatter]):
    """Format name -> formatter, each module imported when its format is first asked for (a run
    prints one format: the others' imports, ``json`` and ``urllib`` among them, are not paid)."""

    _WHERE = {
        "concise": ("text", "concise"),
        "full": ("text", "full"),
        "json": ("json_format", "as_json"),
        "json-lines": ("json_format", "as_json_lines"),
        "sarif": ("sarif", "as_sarif"),
        "github": ("github", "as_github"),
        "markdown": ("markdown", "as_markdown"),
    }

    def __getitem__(self, name: str) -> Formatter:
        module, attr = self._WHERE[name]
        return getattr(import_module(f"linter.report.{module}"), attr)

    def __iter__(self) -> Iterator[str]:
        return iter(self._WHERE)

    def __len__(self) -> int:
        return len(self._WHERE)


FORMATTERS: Mapping[str, Formatter] = _Formatters()
