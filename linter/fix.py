"""Applying fixes, with ruff's tiers: ``--fix`` safe only, ``--unsafe-fixes`` the rest too.

Edits come from libcst node positions (the engine turns a rule's replacement node into an
``Edit`` over the flagged node's range, carrying the text it replaces). Positions become offsets
with the project's one line splitter (``linter.lines``, as libcst splits: ``\r\n``, ``\r``,
``\n``); an edit whose column runs past its line, or whose range holds other text than it meant
to replace, is refused. The result is parsed again by libcst before anything is written, and the
file is replaced atomically (a temporary file in the same folder, then ``os.replace``), keeping
its permission bits, line endings and BOM; a read-only file is refused, a hard-linked one is
written in place through the same inode. Fixing
repeats until nothing applicable is left (a fix can expose another), so running it twice changes
nothing the second time. A file is never left half-written: either the old bytes or the new ones.
"""

from __future__ import annotations

import difflib
import errno
import os
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from linter.atomic import replace_file
from linter.engine import FileOutcome, FileReport, FixOptions, lint_source
from linter.ftypes import Edit, FileError, Finding, Fix, FixSafety
from linter.lines import LineIndex, split_lines_keepends
from linter.source import SourceError, SourceText

if TYPE_CHECKING:
    from linter.rule import Rule

MAX_PASSES = 10


class FixError(Exception):
    """A fix that could not be applied safely; the file is left untouched."""


def applicable(fix: Fix | None, unsafe: bool) -> bool:
    return fix is not None and (fix.safety is FixSafety.SAFE or unsafe)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``.

    Refused (``FixError``, nothing applied): an edit whose position lies outside the text or
    whose column runs past the end of its line, an edit whose range does not hold the text it
    means to replace (``Edit.expect``), and overlapping edits.
    """
    index = LineIndex(text)
    spans = []
    for e in edits:
        try:
            lo = index.offset(e.start.line, e.start.column)
            hi = index.offset(e.end.line, e.end.column)
        except ValueError as exc:
            raise FixError(f"edit refused: {exc}") from None
        if e.expect is not None and text[lo:hi] != e.expect:
            raise FixError(
                f"edit refused: {e.start.line}:{e.start.column} holds {text[lo:hi]!r}, "
                f"not the {e.expect!r} it meant to replace"
            )
        spans.append((lo, hi, e.content))
    spans.sort()
    out: list[str] = []
    pos = 0
    for lo, hi, content in spans:
        if lo < pos or hi < lo:
            raise FixError("overlapping edits")
        out.append(text[pos:lo])
        out.append(content)
        pos = hi
    out.append(text[pos:])
    return "".join(out)


def choose(findings: Sequence[Finding], unsafe: bool) -> list[Finding]:
    """The applicable fixes of one pass that do not overlap (earlier findings win)."""
    chosen: list[Finding] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for f in sorted(findings, key=lambda f: (f.start, f.code)):
        if not applicable(f.fix, unsafe):
            continue
        assert f.fix is not None
        ranges = [((e.start.line, e.start.column), (e.end.line, e.end.column)) for e in f.fix.edits]
        if any(not (hi <= a or b <= lo) for lo, hi in ranges for a, b in taken):
            continue
        chosen.append(f)
        taken.extend(ranges)
    return chosen


@dataclass
class FixedText:
    text: str
    fixed: Counter[str] = field(default_factory=Counter)
    report: FileReport | None = None
    problems: list[str] = field(default_factory=list)


def fix_text(
    text: str,
    lint,  # Callable[[str], FileReport]: raises SourceError if the text does not parse
    unsafe: bool,
) -> FixedText:
    """Fix ``text`` until no applicable fix is left. ``lint`` re-parses every candidate text."""
    out = FixedText(text)
    report = lint(text)
    seen = {text}
    for _ in range(MAX_PASSES):
        chosen = choose(report.findings, unsafe)
        if not chosen:
            break
        candidate, applied, new_report = _apply_checked(out.text, chosen, lint, out.problems)
        if candidate is None:
            break
        if candidate in seen:
            out.problems.append("fixes did not converge (they undo each other); stopped")
            break
        seen.add(candidate)
        out.text, report = candidate, new_report
        out.fixed.update(f.code for f in applied)
    else:
        if choose(report.findings, unsafe):
            out.problems.append(f"fixes still pending after {MAX_PASSES} passes; stopped")
    out.report = report
    return out


def _apply_checked(text: str, chosen: list[Finding], lint, problems: list[str]):
    """Apply all chosen fixes; if the result does not parse, apply them one at a time."""
    try:
        candidate = apply_edits(text, [e for f in chosen for e in f.fix.edits])  # type: ignore[union-attr]
        return candidate, chosen, lint(candidate)
    except (FixError, SourceError):
        pass
    applied: list[Finding] = []
    current, report = text, None
    for f in chosen:
        # positions refer to the text before any fix: after one, find the finding again
        target = f if report is None else _same_finding(report.findings, f)
        if target is None or target.fix is None:
            continue
        try:
            candidate = apply_edits(current, target.fix.edits)
            new_report = lint(candidate)
        except (FixError, SourceError) as exc:
            problems.append(f"{f.code} fix at {f.start.line}:{f.start.column} not applied: {exc}")
            continue
        current, report = candidate, new_report
        applied.append(f)
    if not applied:
        return None, [], None
    return current, applied, report


def _same_finding(findings: Sequence[Finding], f: Finding) -> Finding | None:
    return next((g for g in findings if g.code == f.code and g.message == f.message), None)


# --- writing --------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes, expect: bytes | None = None) -> None:
    """Replace the contents of ``path`` with ``data``, never leaving it half-written.

    ``expect``: the bytes the fix was computed from; if the file changed meanwhile, nothing is
    written. A symlink is followed (the link stays a link). A read-only file is refused: the
    user made it so, and a fixer that rewrites it anyway surprises (``FixError``). A file with
    one name is replaced atomically (a temporary file in the same folder, then ``os.replace``),
    keeping its permission bits. A file with several hard links is written in place through the
    same inode, so every name sees the fix, as an editor saving it would do: see
    ``_write_in_place``.
    """
    real = path.resolve()
    st = real.stat()
    if not stat.S_ISREG(st.st_mode):
        raise FixError("not a regular file; not written")
    if _read_only(real, st):
        raise FixError(
            f"the file is read-only (mode {stat.filemode(st.st_mode)}); not written "
            "(make it writable to apply the fixes)"
        )
    if expect is not None and real.read_bytes() != expect:
        raise FixError("file changed on disk while it was being fixed; not written")
    if st.st_nlink > 1:
        _write_in_place(real, data, expect)
        return
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    owner = (st.st_uid, st.st_gid) if root else None  # root keeps the file's owner
    replace_file(real, data, mode=stat.S_IMODE(st.st_mode), owner=owner)


def _read_only(path: Path, st: os.stat_result) -> bool:
    """Would the user call this file read-only? (Root can write anything; a file without a
    write bit for its owner, or for anyone when root does not own it, is still read-only.)"""
    if not hasattr(os, "geteuid"):
        return not os.access(path, os.W_OK)
    euid = os.geteuid()
    if euid == st.st_uid:
        return not st.st_mode & stat.S_IWUSR
    if euid == 0:
        return not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    return not os.access(path, os.W_OK)


def _write_in_place(real: Path, data: bytes, expect: bytes | None) -> None:
    """Overwrite a hard-linked file through its inode (all its names see the new text).

    The check that the file still holds ``expect`` is repeated on the open handle; the space
    for the new bytes is reserved first where the file system can (``posix_fallocate``), so a
    full disk fails before any byte changes; if a write still fails, the old bytes are put back.
    """
    fd = os.open(real, os.O_RDWR)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        old = b"".join(chunks)
        if expect is not None and old != expect:
            raise FixError("file changed on disk while it was being fixed; not written")
        if len(data) > len(old) and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, len(data))
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise
        try:
            _overwrite(fd, data)
        except BaseException:
            try:
                _overwrite(fd, old)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def _overwrite(fd: int, data: bytes) -> None:
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        pos += os.pwrite(fd, view[pos:], pos)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def unified_diff(path: Path, before: str, after: str, label: str = "") -> str:
    name = path.as_posix() + (f" ({label})" if label else "")
    lines = difflib.unified_diff(
        split_lines_keepends(before),
        split_lines_keepends(after),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    out = []
    for line in lines:
        out.append(
            line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
        )
    return "".join(out)


def fix_python_file(
    path: Path,
    data: bytes,
    src: SourceText,
    rules: Sequence[type[Rule]],
    options: FixOptions,
) -> FileOutcome:
    result = fix_text(src.text, lambda t: lint_source(t, path, rules), options.unsafe)
    assert result.report is not None
    outcome = FileOutcome(report=result.report)
    outcome.warnings = [f"{path}: fix: {p}" for p in result.problems]
    if result.text == src.text:
        return outcome
    if options.write:
        try:
            write_atomic(path, src.encode(result.text), expect=data)
        except (OSError, FixError) as exc:
            msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            outcome.errors.append(FileError(path, f"could not write the fixed file: {msg}"))
            outcome.report = lint_source(src.text, path, rules)
            return outcome
    else:
        outcome.diff = unified_diff(path, src.text, result.text)
    outcome.fixed = result.fixed
    return outcome
