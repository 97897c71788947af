"""Suppression comments: ``# noqa`` on a statement, ``# bplint: noqa`` for a whole file.

Line level (any physical line of the statement that holds the finding; ruff's syntax)::

    W_inv = np.linalg.pinv(W)  # noqa: BP001 closed-form fit, not a backward pass
    x = f(y)  # noqa                      (bare: every code, for every tool)

File level (a comment anywhere in the file, best at the top)::

    # bplint: noqa                        (skip every bplint finding in this file)
    # bplint: noqa: BP001, BP002          (only these)

Codes are separated by commas or spaces; the first word that is not a code starts the reason.
A code is letters followed by digits (``BP001``, ``E501``) or the name of a bplint rule
(``inverse-in-backward``). Only bplint's own codes (``BP`` and digits, and rule names) are ever
judged by the unused-suppression rule; other tools' codes in the same comment are left alone.

Comments are found with ``tokenize`` (never inside strings) and only when the text mentions
``noqa`` at all, so files without suppressions pay nothing. Lines are numbered as the parser
numbers them (``linter.lines``: a lone ``\r`` ends a line), so a directive applies to the line
it is written on in CR-only and mixed-ending files too.
"""

from __future__ import annotations

import re
import tokenize
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from linter.ftypes import Edit, Pos
from linter.lines import readline_normalised, split_lines

BP_CODE_RE = re.compile(r"^BP\d+$")  # the whole BP prefix is ours (ruff: external = ["BP"])
_HAS_NOQA = re.compile(r"noqa", re.IGNORECASE)
# `#`, `noqa`, an optional colon; the word must end there (`noqa-ish` is not a directive).
_LINE_RE = re.compile(r"#\s*noqa(?=$|[\s:#,])(?P<colon>\s*:)?", re.IGNORECASE)
_FILE_RE = re.compile(r"^#\s*bplint\s*:\s*noqa(?=$|[\s:#,])(?P<colon>\s*:)?", re.IGNORECASE)
_CODE_RE = re.compile(r"^[A-Za-z]+[0-9]+$")
_TOKEN_RE = re.compile(r"[^\s,#]+")


@dataclass
class Noqa:
    """One suppression directive.

    ``column``/``end_column`` delimit the directive itself (from its ``#`` to the end of its
    reason, 1-based, end exclusive) so the unused-suppression fix can remove exactly it.
    ``code_spans`` are the 0-based column ranges of each listed code in the line.
    """

    line: int
    column: int
    end_column: int
    codes: tuple[str, ...] | None  # None: every code
    file_level: bool = False
    reason: str = ""
    code_spans: tuple[tuple[int, int], ...] = ()
    own_line: bool = False  # nothing but whitespace before the comment
    used: set[str] = field(default_factory=set)

    def matches(self, code: str, name: str) -> bool:
        return self.codes is None or code in self.codes or name in self.codes


@dataclass
class Suppressions:
    lines: dict[int, Noqa] = field(default_factory=dict)
    file: list[Noqa] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lines or self.file)

    def file_match(self, code: str, name: str) -> Noqa | None:
        return next((n for n in self.file if n.matches(code, name)), None)

    def all(self) -> list[Noqa]:
        return sorted([*self.lines.values(), *self.file], key=lambda n: (n.line, n.column))


def is_bplint_code(token: str, names: Collection[str]) -> bool:
    return bool(BP_CODE_RE.match(token)) or token in names


def _parse_codes(
    text: str, offset: int, names: Collection[str]
) -> tuple[list[str], list[tuple[int, int]], int]:
    """Codes at the start of ``text``: (codes, spans shifted by ``offset``, end of the last code)."""
    codes: list[str] = []
    spans: list[tuple[int, int]] = []
    end = 0
    pos = 0
    while True:
        sep = re.match(r"[\s,]*", text[pos:])
        start = pos + (sep.end() if sep else 0)
        m = _TOKEN_RE.match(text, start)
        if not m:
            break
        word = m.group(0)
        if _CODE_RE.match(word):
            codes.append(word.upper())
        elif word.lower() in names:
            codes.append(word.lower())
        else:
            break
        spans.append((offset + m.start(), offset + m.end()))
        end = m.end()
        pos = m.end()
    return codes, spans, end


def _directive(
    comment: str, line: int, col0: int, own_line: bool, names: Collection[str]
) -> Noqa | None:
    """Parse one comment token (``col0``: its 0-based column in the line)."""
    file_m = _FILE_RE.match(comment)
    m = file_m or _LINE_RE.search(comment)
    if m is None:
        return None
    rest_start = m.end()
    # the directive runs to the next `#` (another tool's comment) or the end of the comment
    nxt = comment.find("#", rest_start)
    stop = len(comment) if nxt == -1 else nxt
    rest = comment[rest_start:stop]
    codes, spans, end = _parse_codes(rest, col0 + rest_start, names)
    if not m.group("colon") and not codes:
        codes_t: tuple[str, ...] | None = None
    elif not codes:
        codes_t = None  # a colon and no code: flake8 reads it as a bare directive
    else:
        codes_t = tuple(codes)
    reason = rest[end:].strip(" \t,:-") if codes else rest.strip(" \t,:-")
    stop_trimmed = rest_start + len(rest.rstrip())
    return Noqa(
        line=line,
        column=col0 + m.start() + 1,
        end_column=col0 + stop_trimmed + 1,
        codes=codes_t,
        file_level=file_m is not None,
        reason=reason,
        code_spans=tuple(spans) if codes else (),
        own_line=own_line,
    )


def _comments(source: str) -> Iterable[tuple[str, int, int, bool]]:
    """(text, line, 0-based column, own_line) of every comment; a line scan if tokenize fails."""
    try:
        lines = readline_normalised(source)
        for tok in tokenize.generate_tokens(lambda: next(lines, "")):
            if tok.type == tokenize.COMMENT:
                own = not tok.line[: tok.start[1]].strip()
                yield tok.string, tok.start[0], tok.start[1], own
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Only reached for text that does not tokenize (bplint parses first, so rarely):
        # fall back to a conservative scan of `#` at the start of a line.
        for i, text in enumerate(split_lines(source), 1):
            stripped = text.lstrip()
            if stripped.startswith("#"):
                yield stripped, i, len(text) - len(stripped), True


def scan(source: str, names: Collection[str] = ()) -> Suppressions:
    """Every suppression directive in ``source``. ``names``: bplint rule names accepted as codes."""
    found = Suppressions()
    if not _HAS_NOQA.search(source):
        return found
    for text, line, col0, own in _comments(source):
        if "noqa" not in text.lower():
            continue
        noqa = _directive(text, line, col0, own, names)
        if noqa is None:
            continue
        if noqa.file_level:
            found.file.append(noqa)
        else:
            found.lines[line] = noqa
    return found


def removal_edit(noqa: Noqa, drop: Collection[str], lines: Sequence[str]) -> Edit:
    """The edit that removes the codes ``drop`` from ``noqa`` (the whole directive if none stay).

    ``lines`` are the physical lines with their line breaks (``split_lines_keepends``). A
    directive alone on its line takes the line with it. Each edit carries the text it replaces,
    so it is refused, not misapplied, if positions and text ever disagree.
    """
    physical = lines[noqa.line - 1] if noqa.line <= len(lines) else ""
    line_text = physical.rstrip("\r\n")
    codes = noqa.codes or ()
    keep = [(c, span) for c, span in zip(codes, noqa.code_spans, strict=True) if c not in drop]
    if keep:
        first, last = noqa.code_spans[0][0], noqa.code_spans[-1][1]
        sep = ", " if "," in line_text[first:last] else " "
        content = sep.join(line_text[a:b] for _c, (a, b) in keep)
        return _edit(noqa.line, first, noqa.line, last, content, line_text[first:last])
    start0 = noqa.column - 1
    end0 = noqa.end_column - 1
    rest = line_text[end0:]
    if noqa.own_line and not rest.strip():
        # a comment line of its own: remove the line
        if physical != line_text:  # with its line break
            return _edit(noqa.line, 0, noqa.line + 1, 0, "", physical)
        return _edit(noqa.line, 0, noqa.line, len(line_text), "", line_text)
    if rest.strip():
        # directive, then `# type: ignore`: the other comment stays
        stop = end0 + _ws(rest)
        return _edit(noqa.line, start0, noqa.line, stop, "", line_text[start0:stop])
    # a trailing directive (with its reason) goes with the whitespace before it
    trimmed = len(line_text[:start0].rstrip())
    return _edit(noqa.line, trimmed, noqa.line, end0, "", line_text[trimmed:end0])


def _edit(line: int, col0: int, end_line: int, end_col0: int, content: str, expect: str) -> Edit:
    """An edit from 0-based columns; ``expect`` is the text it replaces (checked when applied)."""
    return Edit(Pos(line, col0 + 1), Pos(end_line, end_col0 + 1), content, expect=expect)


def _ws(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))
