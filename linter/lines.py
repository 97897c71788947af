"""Lines as Python (and libcst) see them: the one line splitter of the project.

A physical line ends at ``\\r\\n``, a lone ``\\r`` or ``\\n``, nothing else. ``str.splitlines``
also breaks at form feeds, vertical tabs, ``\\x1c``-``\\x1e``, ``\\x85`` and the Unicode line and
paragraph separators, and ``io.StringIO.readline`` only at ``\\n``; either one numbers lines
differently from the parser's positions, so an edit or a suppression computed from them lands on
the wrong line. Everything that turns positions into text offsets, or text into numbered lines,
uses this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """The physical lines without their line breaks (``n`` breaks give ``n + 1`` items)."""
    return LINE_BREAK.split(text)


def split_lines_keepends(text: str) -> list[str]:
    """The physical lines with their line breaks; joined they give ``text`` back."""
    return _LINE.findall(text)


def readline_normalised(text: str) -> Iterator[str]:
    """Each physical line with its break written ``\\n`` (same count, same columns): what
    ``tokenize`` needs, since it reads a lone ``\\r`` as part of the line."""
    for line in split_lines_keepends(text):
        body = line.rstrip("\r\n")
        yield body + "\n" if len(body) != len(line) else body


class LineIndex:
    """Converts 1-based (line, column) positions into offsets of ``text``, strictly."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        self.ends: list[int] = []  # offset of each line's break (or of the end of the text)
        for m in LINE_BREAK.finditer(text):
            self.ends.append(m.start())
            self.starts.append(m.end())
        self.ends.append(len(text))

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, line: int) -> str:
        """Line ``line`` (1-based) without its break."""
        return self.text[self.starts[line - 1] : self.ends[line - 1]]

    def offset(self, line: int, column: int) -> int:
        """The offset of ``line:column`` (1-based). A column may point just past the line's
        last character (at its break), never further: raises ``ValueError`` otherwise."""
        if not 1 <= line <= len(self.starts):
            raise ValueError(f"position {line}:{column} is outside the text")
        start, end = self.starts[line - 1], self.ends[line - 1]
        if column < 1 or start + column - 1 > end:
            raise ValueError(
                f"position {line}:{column} is past the end of line {line} "
                f"({end - start} characters)"
            )
        return start + column - 1
