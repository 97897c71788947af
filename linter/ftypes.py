"""The data types that flow through the engine, in one place (plain dataclasses: hot path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class FixSafety(StrEnum):
    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Pos:
    line: int  # 1-based
    column: int  # 1-based, like ruff's text output


@dataclass(frozen=True)
class Edit:
    """Replace the source between ``start`` and ``end`` with ``content`` (after re-parse check).

    ``expect``: the text the edit means to replace, when known; an edit whose range holds other
    text is refused rather than applied (positions computed from differently split lines).
    """

    start: Pos
    end: Pos
    content: str
    expect: str | None = None


@dataclass(frozen=True)
class Fix:
    safety: FixSafety
    description: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Evidence:
    """One fact a finding rests on, where the analysis learnt it: "updated here", "the
    gradient of the layer's output". ``cell``: the notebook cell of ``start`` (0-based)."""

    start: Pos
    end: Pos
    message: str
    cell: int | None = None


@dataclass(frozen=True)
class Finding:
    path: Path
    code: str
    name: str
    message: str
    start: Pos
    end: Pos
    kb: str  # KB slug
    check: str  # numeric test module in kb/checks
    fix: Fix | None = None
    cell: int | None = None  # notebook cell index (0-based) when linting .ipynb
    evidence: tuple[Evidence, ...] = ()  # why: the facts behind the finding, with their lines
    # The source lines a report shows around the finding, (line number, text), taken from the
    # text that was linted (or the cell), so formatters never read files.
    snippet: tuple[tuple[int, str], ...] = ()

    @property
    def sort_key(self) -> tuple:
        return (str(self.path), self.start, self.code)


@dataclass(frozen=True)
class FileError:
    """A file that could not be linted: unreadable, binary, not UTF-8, too large, bad syntax."""

    path: Path
    message: str
    line: int | None = None
    column: int | None = None


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0
    files_excluded: int = 0
    suppressed: int = 0
