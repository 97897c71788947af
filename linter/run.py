"""files -> per file: source -> engine -> (fix): discovery and the run over files.

Every problem with one file becomes a ``FileError`` for that file (a clear line, exit 2); the
other files are still linted.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from linter.config import ConfigResolver, Settings
from linter.engine import FileOutcome, FileReport, FixOptions, lint_prepared, needs_parse
from linter.fix import fix_python_file
from linter.ftypes import FileError, Result
from linter.notebook import check_notebook
from linter.rule import Rule
from linter.selection import select_rules
from linter.source import SourceError, decode_source, prepare, read_bytes

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
DEEP_STACK_BYTES = 512 * 1024 * 1024  # reserved, not used: see on_deep_stack
DEEP_RECURSION_LIMIT = 60_000
T = TypeVar("T")

# --- discovery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    path: Path
    settings: Settings


def discover(
    paths: Iterable[Path], resolver: ConfigResolver, suffixes: tuple[str, ...] = SOURCE_SUFFIXES
) -> tuple[list[Target], int]:
    """Expand directories recursively; returns the targets and how many files were excluded.

    A file named explicitly is linted even if excluded, unless ``force-exclude`` is set (as in
    ruff, so pre-commit, which passes every staged file, still honours excludes).
    """
    targets: list[Target] = []
    excluded = 0
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            settings = resolver.for_path(path)
            if settings.force_exclude and settings.is_excluded(path):
                excluded += 1
                continue
            for root, dirs, files in os.walk(path):
                root_path = Path(root)
                keep = []
                for d in sorted(dirs):
                    sub = root_path / d
                    if resolver.for_path(sub).is_excluded(sub, below=path):
                        excluded += 1
                    else:
                        keep.append(d)
                dirs[:] = keep
                for name in sorted(files):
                    if not name.endswith(suffixes):
                        continue
                    file_path = root_path / name
                    file_settings = resolver.for_path(file_path)
                    if file_settings.is_excluded(file_path, below=path):
                        excluded += 1
                        continue
                    if file_path.resolve() not in seen:
                        seen.add(file_path.resolve())
                        targets.append(Target(file_path, file_settings))
        else:
            settings = resolver.for_path(path)
            if settings.force_exclude and settings.is_excluded(path):
                excluded += 1
                continue
            if path.resolve() not in seen:
                seen.add(path.resolve())
                targets.append(Target(path, settings))
    return targets, excluded


def rules_for(settings: Settings, path: Path) -> list[type[Rule]]:
    return select_rules(
        settings.select, settings.extend_select, (*settings.ignore, *settings.ignored_for(path))
    )


# --- running -------------------------------------------------------------------------------


@dataclass
class RunResult(Result):
    fixed: Counter[str] = field(default_factory=Counter)
    diffs: list[str] = field(default_factory=list)
    files_changed: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)


def lint_paths(
    paths: Iterable[Path], resolver: ConfigResolver, fix: FixOptions | None = None
) -> RunResult:
    targets, excluded = discover(paths, resolver)
    result = RunResult()
    result.files_excluded = excluded
    for target in targets:
        outcome = check_file(target, fix)
        result.errors.extend(outcome.errors)
        result.findings.extend(outcome.report.findings)
        result.suppressed += outcome.report.suppressed
        result.fixed.update(outcome.fixed)
        result.warnings.extend(outcome.warnings)
        result.notes.extend((target.path, note) for note in outcome.report.notes)
        if outcome.diff:
            result.diffs.append(outcome.diff)
        if outcome.fixed:
            result.files_changed += 1
        result.files_checked += 1
    result.findings.sort(key=lambda f: f.sort_key)
    return result


def lint_file(target: Target) -> FileOutcome:
    return check_file(target, None)


def check_file(target: Target, fix: FixOptions | None) -> FileOutcome:
    """Lint one file (and fix it if asked). Never raises: problems become ``FileError``s."""
    return on_deep_stack(_check_file, target, fix)


def on_deep_stack(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` on a thread with a large stack and a high recursion limit.

    libcst's visitors, code generator and metadata resolver recurse once per level of the
    syntax tree (three Python frames a level), so a 400-piece string concatenation or a
    400-branch ``elif`` chain, which CPython compiles, would exceed the default limit of 1,000
    frames. Depth is bounded by what CPython's compiler accepts (``source.check_syntax`` runs
    first), and the stack is only reserved: pages are touched as deep as the recursion goes.
    """
    box: list = []

    def run() -> None:
        try:
            box.append((True, fn(*args)))
        except BaseException as exc:  # handed to the caller's thread
            box.append((False, exc))

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size(DEEP_STACK_BYTES)
    try:
        worker = threading.Thread(target=run, name="bplint-file", daemon=True)
        sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _check_file(target: Target, fix: FixOptions | None) -> FileOutcome:
    path = target.path
    try:
        rules = rules_for(target.settings, path)
        if path.suffix == ".ipynb":
            return check_notebook(path, rules, fix)
        data = read_bytes(path)
        src = decode_source(data)
        prep = prepare(src.text)  # a file bplint cannot read is an error, even if no rule looks
        if not needs_parse(prep.text, rules):
            return FileOutcome(FileReport(notes=prep.notes))
        if fix is None or prep.python2:
            return FileOutcome(lint_prepared(prep, path, rules))
        return fix_python_file(path, data, src, rules, fix)
    except SourceError as exc:
        return FileOutcome(errors=[FileError(path, str(exc), exc.line, exc.column)])
    except (RecursionError, MemoryError) as exc:
        what = "too deeply nested" if isinstance(exc, RecursionError) else "too large"
        return FileOutcome(errors=[FileError(path, f"code {what} to analyse")])
    except Exception as exc:
        return FileOutcome(
            errors=[FileError(path, f"internal error while linting: {type(exc).__name__}: {exc}")]
        )
