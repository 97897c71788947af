"""Formatters: findings -> text. One module per format; ``FORMATTERS`` maps names to them.

Every formatter is ``format(findings, errors, ctx) -> str``; ``ctx`` carries the KB base URL,
terminal capabilities, fix settings and a source reader, so no formatter reads global state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from linter.config import DEFAULT_KB_URL
from linter.ftypes import FileError, Finding, Fix, FixSafety

if TYPE_CHECKING:
    from linter.rule import Rule


class SourceLines:
    """Lines of linted files (and notebook cells), read lazily for the ``full`` format."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int | None], list[str]] = {}

    def __call__(self, path: Path, cell: int | None) -> list[str]:
        key = (str(path), cell)
        if key not in self._cache:
            self._cache[key] = self._read(path, cell)
        return self._cache[key]

    @staticmethod
    def _read(path: Path, cell: int | None) -> list[str]:
        from linter.lines import split_lines
        from linter.source import SourceError, read_source

        try:
            if cell is None:
                text = read_source(path)
            else:
                from linter.notebook import read_notebook

                text = read_notebook(path).cells_by_index().get(cell, "")
        except SourceError:
            return []
        return split_lines(text)


@dataclass(frozen=True)
class Context:
    kb_url: str = DEFAULT_KB_URL
    color: bool = False
    hyperlinks: bool = False
    show_fixes: bool = True
    unsafe_fixes: bool = False
    cwd: Path = field(default_factory=Path.cwd)
    rules: Sequence[type[Rule]] = ()  # every known rule (SARIF lists them all)
    lines: Callable[[Path, int | None], list[str]] = field(default_factory=SourceLines)

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


def _load() -> dict[str, Formatter]:
    from linter.report import github, json_format, markdown, sarif, text

    return {
        "concise": text.concise,
        "full": text.full,
        "json": json_format.as_json,
        "json-lines": json_format.as_json_lines,
        "sarif": sarif.as_sarif,
        "github": github.as_github,
        "markdown": markdown.as_markdown,
    }


FORMATTERS: dict[str, Formatter] = _load()
