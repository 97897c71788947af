"""Jupyter notebooks (``.ipynb``), linted natively: no nbformat, no IPython, only the stdlib.

The code cells are joined into one module (so an import in cell 1 resolves a call in cell 5) with
a cell map that sends every line back to its cell. IPython syntax is masked line by line without
moving anything: ``%line`` magics, ``!shell`` commands, ``x = !cmd`` / ``x = %magic``
assignments and ``obj?`` / ``?obj`` help become ``pass`` (or ``x = None``) on the same line, and
a cell magic (``%%bash``, ``%%html`` ...) blanks its whole cell (``%%time``, ``%%timeit``,
``%%capture``, ``%%prun`` keep their Python body). Automagics (``ls`` without ``%``) are not
recognised. A candidate is masked only at the start of a logical line, so ``%`` in a
continuation line or a ``?`` in a docstring are left alone.

A cell that does not parse is reported (with its cell and line) and left out; the other cells
are still linted. Findings carry the cell index (0-based, over all cells of the notebook, as in
the JSON) and a line and column inside that cell.

Fixes are applied to the cells' own text and the notebook is written back only if it round-trips:
its JSON layout is recognised (re-serialising the untouched notebook gives the same bytes), and
after the edit every cell, output and metadata field except the fixed sources is unchanged.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linter.engine import (
    FileOutcome,
    FileReport,
    FixOptions,
    lint_module,
    needs_parse,
    with_snippet,
)
from linter.fix import FixError, apply_edits, choose, unified_diff, write_atomic
from linter.ftypes import Evidence, FileError, Finding, Fix, Pos
from linter.source import (
    MAX_BYTES,
    MAX_NOTEBOOK_BYTES,
    SourceError,
    check_syntax,
    mask_magics,
    parse,
    read_bytes,
    split_lines,
)

if TYPE_CHECKING:
    from linter.rule import Rule

MAX_PASSES = 10
_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # IPython runs top-level `await`


@dataclass(frozen=True)
class NotebookError(FileError):
    """A problem in one cell (``cell``: 0-based index among all cells), or in the notebook."""

    cell: int | None = None


@dataclass
class CodeCell:
    index: int  # position in the notebook's "cells" list
    source: str  # the cell's text as stored (joined if stored as a list of lines)
    text: str = ""  # masked, ends with a line break; what the parser sees
    first_line: int = 1  # 1-based line of the cell's first line in the joined module
    n_lines: int = 0
    masked: frozenset[int] = frozenset()  # cell-relative lines that were masked
    broken: bool = False


@dataclass
class Notebook:
    path: Path
    raw: bytes
    data: dict[str, Any]
    cells: list[CodeCell] = field(default_factory=list)
    skipped: str = ""  # why nothing is linted (a non-Python kernel)

    def cells_by_index(self) -> dict[int, str]:
        return {c.index: c.source for c in self.cells}


# --- reading ---------------------------------------------------------------------------------


def _source_of(cell: dict[str, Any], index: int) -> str:
    src = cell.get("source", "")
    if isinstance(src, str):
        return src
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    raise SourceError(f"not a valid notebook: cell {index + 1} has a source that is not text")


def load_notebook(path: Path, raw: bytes) -> Notebook:
    if b"\x00" in raw:
        raise SourceError("binary file (contains NUL bytes), not a notebook")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"not a valid notebook: invalid JSON: {exc.msg}"
        raise SourceError(msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise SourceError("not a valid notebook: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise SourceError("not a valid notebook: the top level is not a JSON object")
    if "worksheets" in data and "cells" not in data:
        raise SourceError("nbformat 3 notebooks are not supported; upgrade it with nbconvert")
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise SourceError("not a valid notebook: no list of cells")
    nb = Notebook(path, raw, data)
    meta = _dict(data.get("metadata"))  # any metadata field may be anything: read, never trust
    lang = _dict(meta.get("language_info")).get("name") or _dict(meta.get("kernelspec")).get(
        "language"
    )
    if isinstance(lang, str) and lang.lower() not in ("python", "python3", "ipython", "ipython3"):
        nb.skipped = f"kernel language is {lang!r}"
        return nb
    total = 0
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise SourceError(f"not a valid notebook: cell {i + 1} is not a JSON object")
        if cell.get("cell_type") != "code":
            continue
        source = _source_of(cell, i)
        total += len(source)
        if total > MAX_BYTES:
            raise SourceError(f"code cells are too large to lint (> {MAX_BYTES} characters)")
        nb.cells.append(CodeCell(i, source))
    return nb


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_notebook(path: Path) -> Notebook:
    return load_notebook(path, read_bytes(path, MAX_NOTEBOOK_BYTES))


# --- linting -----------------------------------------------------------------------------------


def _cell_error(path: Path, cell: CodeCell, exc: SourceError, line: int | None) -> NotebookError:
    return NotebookError(path, str(exc), line, exc.column, cell=cell.index)


def prepare(nb: Notebook) -> tuple[str, list[NotebookError]]:
    """Mask, check each cell on its own, and join the good ones: (module text, cell errors)."""
    errors: list[NotebookError] = []
    parts: list[str] = []
    line = 1
    for cell in nb.cells:
        text, masked = mask_magics(cell.source)
        if text and not text.endswith(("\n", "\r")):
            text += "\n"
        cell.masked, cell.broken = masked, False
        try:
            check_syntax(text, _AWAIT)
        except SourceError as exc:
            cell.broken = True
            errors.append(_cell_error(nb.path, cell, exc, exc.line))
        n = len(split_lines(text))
        if cell.broken:
            text = "\n" * n  # keep the line numbering, drop the code
        cell.text, cell.first_line, cell.n_lines = text, line, n
        parts.append(text)
        line += n
    return "".join(parts), errors


def _cell_at(nb: Notebook, line: int) -> CodeCell | None:
    firsts = [c.first_line for c in nb.cells]
    i = bisect_right(firsts, line) - 1
    while i >= 0 and nb.cells[i].n_lines == 0:
        i -= 1
    if i < 0:
        return None
    cell = nb.cells[i]
    return cell if line < cell.first_line + cell.n_lines else None


def _parse_joined(nb: Notebook, joined: str, errors: list[NotebookError]):
    """libcst-parse the joined cells; a cell the CST parser rejects is dropped and reported."""
    for _ in range(len(nb.cells) + 1):
        try:
            return parse(joined, checked=True), joined  # cells were compiled one by one
        except SourceError as exc:
            cell = _cell_at(nb, exc.line or 0)
            if cell is None or cell.broken:
                raise
            cell.broken = True
            rel = (exc.line or cell.first_line) - cell.first_line + 1
            errors.append(_cell_error(nb.path, cell, exc, rel))
            lines = split_lines(joined)
            blank = ["\n"] * cell.n_lines
            lines[cell.first_line - 1 : cell.first_line - 1 + cell.n_lines] = blank
            joined = "".join(lines)
    raise SourceError("could not parse the notebook's code cells")


def _to_cell(nb: Notebook, f: Finding) -> Finding | None:
    cell = _cell_at(nb, f.start.line)
    if cell is None:
        return None
    base = cell.first_line - 1
    fix = f.fix
    if fix is not None:
        edits = []
        for e in fix.edits:
            s, t = e.start.line - base, e.end.line - base
            inside = 1 <= s <= cell.n_lines and (
                1 <= t <= cell.n_lines or (t == cell.n_lines + 1 and e.end.column == 1)
            )
            touched = set(range(s, t + 1))
            if not inside or touched & cell.masked:
                edits = None
                break
            edits.append(
                dataclasses.replace(e, start=Pos(s, e.start.column), end=Pos(t, e.end.column))
            )
        fix = None if edits is None else Fix(fix.safety, fix.description, tuple(edits))
    end_line = min(f.end.line - base, cell.n_lines)
    found = Finding(
        path=f.path,
        code=f.code,
        name=f.name,
        message=f.message,
        start=Pos(f.start.line - base, f.start.column),
        end=Pos(end_line, f.end.column),
        kb=f.kb,
        check=f.check,
        fix=fix,
        cell=cell.index,
        evidence=tuple(e for e in (_evidence_to_cell(nb, e) for e in f.evidence) if e is not None),
    )
    return with_snippet(found, split_lines(cell.source))


def _evidence_to_cell(nb: Notebook, e: Evidence) -> Evidence | None:
    """Evidence at a line of the joined cells -> at its line in its own cell."""
    cell = _cell_at(nb, e.start.line)
    if cell is None:
        return None
    base = cell.first_line - 1
    end = Pos(min(e.end.line - base, cell.n_lines), e.end.column)
    return Evidence(Pos(e.start.line - base, e.start.column), end, e.message, cell=cell.index)


def lint_notebook(nb: Notebook, rules: Sequence[type[Rule]]) -> tuple[FileReport, list[FileError]]:
    if nb.skipped or not nb.cells:
        return FileReport(), []
    joined, errors = prepare(nb)
    if not needs_parse(joined, rules):
        return FileReport(), list(errors)
    module, joined = _parse_joined(nb, joined, errors)
    report = lint_module(module, joined, nb.path, rules)
    report.findings = [g for g in (_to_cell(nb, f) for f in report.findings) if g is not None]
    report.findings.sort(key=lambda f: (f.cell or 0, f.start, f.code))
    return report, list(errors)


# --- fixing ------------------------------------------------------------------------------------


def json_layout(data: Any, text: str) -> dict[str, Any] | None:
    """The ``json.dumps`` options that reproduce ``text`` exactly, or None."""
    for indent in (1, 2, 4, None, "\t", 3):
        for sort_keys in (True, False):
            for ensure_ascii in (False, True):
                opts: dict[str, Any] = {
                    "indent": indent,
                    "sort_keys": sort_keys,
                    "ensure_ascii": ensure_ascii,
                    "separators": (",", ": ") if indent is not None else (", ", ": "),
                }
                out = json.dumps(data, **opts)
                if text in (out, out + "\n", out + "\r\n"):
                    opts["newline"] = text[len(out) :]
                    return opts
    return None


def _dump(data: Any, layout: dict[str, Any]) -> str:
    opts = {k: v for k, v in layout.items() if k != "newline"}
    return json.dumps(data, **opts) + layout["newline"]


def _set_source(cell: dict[str, Any], text: str) -> None:
    if isinstance(cell.get("source"), list):
        cell["source"] = split_lines(text)
    else:
        cell["source"] = text


def _without_sources(data: dict[str, Any], changed: set[int]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for i in changed:
        out["cells"][i].pop("source", None)
    return out


def fix_notebook(
    nb: Notebook, rules: Sequence[type[Rule]], options: FixOptions
) -> tuple[FileOutcome, bytes | None]:
    """Fix until stable; returns the outcome and the new bytes (None if nothing changed)."""
    report, errors = lint_notebook(nb, rules)
    outcome = FileOutcome(report=report, errors=list(errors))
    if nb.skipped:
        return outcome, None
    text = nb.raw.decode("utf-8-sig")
    bom = nb.raw.startswith(b"\xef\xbb\xbf")
    layout = json_layout(nb.data, text)
    sources = {c.index: c.source for c in nb.cells}
    fixed: Counter[str] = Counter()
    current = nb
    seen = {tuple(sorted(sources.items()))}
    for _ in range(MAX_PASSES):
        chosen = choose(report.findings, options.unsafe)
        if not chosen:
            break
        if layout is None:
            outcome.warnings.append(
                f"{nb.path}: fix: not applied: the notebook's JSON layout is not one bplint can "
                "write back byte for byte; fix it by hand"
            )
            return outcome, None
        new_sources = dict(sources)
        try:
            for index in {f.cell for f in chosen}:
                edits = [e for f in chosen if f.cell == index for e in f.fix.edits]  # type: ignore[union-attr]
                new_sources[index] = apply_edits(sources[index], edits)  # type: ignore[index]
        except FixError as exc:
            outcome.warnings.append(f"{nb.path}: fix: not applied: {exc}")
            break
        key = tuple(sorted(new_sources.items()))
        if key in seen:
            break
        seen.add(key)
        candidate = _rebuilt(nb, new_sources)
        new_report, new_errors = lint_notebook(candidate, rules)
        if len(new_errors) > len(errors):
            outcome.warnings.append(f"{nb.path}: fix: not applied: it broke a cell")
            break
        sources, current, report, errors = new_sources, candidate, new_report, new_errors
        fixed.update(f.code for f in chosen)
    if current is nb:
        return outcome, None
    assert layout is not None
    data = copy.deepcopy(nb.data)
    changed = {i for i, s in sources.items() if s != nb.cells_by_index()[i]}
    for i in changed:
        _set_source(data["cells"][i], sources[i])
    new_text = _dump(data, layout)
    problem = _round_trip_problem(nb.data, new_text, sources, changed)
    if problem:
        outcome.warnings.append(f"{nb.path}: fix: not applied: {problem}")
        return outcome, None
    outcome.report, outcome.errors, outcome.fixed = report, list(errors), fixed
    if not options.write:
        old = nb.cells_by_index()
        outcome.diff = "".join(
            unified_diff(nb.path, old[i], sources[i], label=f"cell {i + 1}")
            for i in sorted(changed)
        )
    return outcome, (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")


def _rebuilt(nb: Notebook, sources: dict[int, str]) -> Notebook:
    cells = [CodeCell(c.index, sources[c.index]) for c in nb.cells]
    return Notebook(nb.path, nb.raw, nb.data, cells)


def _round_trip_problem(
    original: dict[str, Any], new_text: str, sources: dict[int, str], changed: set[int]
) -> str:
    """Why writing ``new_text`` would lose something (empty if nothing is lost)."""
    try:
        new = json.loads(new_text)
    except json.JSONDecodeError as exc:  # pragma: no cover - json.dumps output always loads
        return f"the rewritten notebook is not valid JSON ({exc.msg})"
    if len(new.get("cells", [])) != len(original.get("cells", [])):
        return "the rewritten notebook has a different number of cells"
    if _without_sources(new, changed) != _without_sources(original, changed):
        return "the rewrite would change outputs, metadata or other cells"
    for i in changed:
        got = new["cells"][i]["source"]
        got = "".join(got) if isinstance(got, list) else got
        if got != sources[i]:
            return f"cell {i + 1}'s source did not survive the rewrite"
    return ""


def check_notebook(path: Path, rules: Sequence[type[Rule]], fix: FixOptions | None) -> FileOutcome:
    nb = read_notebook(path)
    if fix is None:
        report, errors = lint_notebook(nb, rules)
        return FileOutcome(report=report, errors=errors)
    outcome, new_bytes = fix_notebook(nb, rules, fix)
    if new_bytes is not None and fix.write:
        try:
            write_atomic(path, new_bytes, expect=nb.raw)
        except (OSError, FixError) as exc:
            msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            report, errors = lint_notebook(nb, rules)
            return FileOutcome(
                report=report,
                errors=[*errors, FileError(path, f"could not write the fixed notebook: {msg}")],
            )
    return outcome
