"""files -> parse (libcst) -> analysis -> rules -> findings.

One parse and one analysis walk per file; every selected rule queries the same model. Positions
are computed only for files that have findings. Files that cannot contain backprop code are
skipped by a cheap text pre-filter before parsing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from linter.analysis import analyze
from linter.config import ConfigResolver, Settings
from linter.ftypes import Edit, FileError, Finding, Fix, Pos, Result
from linter.rule import Rule
from linter.selection import select_rules
from linter.suppress import Noqa, find_noqa

MAX_BYTES = 4 * 1024 * 1024
SOURCE_SUFFIXES = (".py", ".pyi")
# Words without which a file cannot contain the code our rules look at.
PREFILTER = re.compile(
    r"numpy|torch|scipy|jax|cupy|backward|backprop|grad|delta|sigmoid|tanh|relu|softmax|weight",
)


class SourceError(Exception):
    """A file that cannot be linted, with a message for the user (no traceback)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def read_source(path: Path) -> str:
    """Read a file as UTF-8 text, refusing binary, non-UTF-8 and oversized files clearly."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SourceError(f"file is too large to lint ({size} bytes > {MAX_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise SourceError("binary file (contains NUL bytes), not Python source")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(f"not valid UTF-8 (byte {exc.start}, line {line})", line) from None
    return text


def parse(source: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise _syntax_error(source, exc) from None
    except RecursionError:
        raise SourceError("syntax tree too deep to parse") from None


def _syntax_error(source: str, exc: cst.ParserSyntaxError) -> SourceError:
    """Python's own message and position are clearer than the CST parser's; prefer them."""
    try:
        compile(source, "<bplint>", "exec", dont_inherit=True)
    except SyntaxError as py:
        if py.lineno is not None:
            return SourceError(f"syntax error: {py.msg}", py.lineno, py.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        pass
    msg = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
    return SourceError(f"syntax error: {msg}", exc.raw_line, exc.raw_column + 1)


@dataclass
class FileReport:
    findings: list[Finding] = field(default_factory=list)
    suppressed: int = 0
    noqa: dict[int, Noqa] = field(default_factory=dict)
    unused_noqa: list[Noqa] = field(default_factory=list)


def lint_module(
    module: cst.Module, source: str, path: Path, rules: Sequence[type[Rule]]
) -> FileReport:
    """Run ``rules`` over a parsed module; apply ``# noqa`` suppressions."""
    model = analyze(module)
    raw = []
    for rule_cls in rules:
        rule = rule_cls()
        for report in rule.query(model):
            raw.append((rule_cls, report))
    out = FileReport()
    if not raw:
        out.noqa = find_noqa(source)
        out.unused_noqa = list(out.noqa.values())
        return out
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    statements = [
        positions[n] for n in positions if isinstance(n, cst.SimpleStatementLine | cst.Decorator)
    ]
    noqa = find_noqa(source)
    seen: set[tuple[str, int, int]] = set()
    for rule_cls, report in raw:
        rng = positions[report.node]
        start = Pos(rng.start.line, rng.start.column + 1)
        end = Pos(rng.end.line, rng.end.column + 1)
        if (rule_cls.code, start.line, start.column) in seen:
            continue
        seen.add((rule_cls.code, start.line, start.column))
        lines = _statement_lines(statements, rng.start.line, rng.end.line)
        hit = next(
            (
                noqa[ln]
                for ln in lines
                if ln in noqa and noqa[ln].matches(rule_cls.code, rule_cls.name)
            ),
            None,
        )
        if hit is not None:
            hit.used.add(rule_cls.code)
            out.suppressed += 1
            continue
        fix = None
        if report.replacement is not None and rule_cls.fix_safety is not None:
            fix = Fix(
                rule_cls.fix_safety,
                report.fix_description or "Apply the suggested replacement",
                (Edit(start, end, module.code_for_node(report.replacement)),),
            )
        out.findings.append(
            Finding(
                path=path,
                code=rule_cls.code,
                name=rule_cls.name,
                message=report.message,
                start=start,
                end=end,
                kb=rule_cls.kb,
                check=rule_cls.check_name(),
                fix=fix,
            )
        )
    out.noqa = noqa
    out.unused_noqa = [n for n in noqa.values() if not n.used]
    out.findings.sort(key=lambda f: f.sort_key)
    return out


def _statement_lines(statements: list, first: int, last: int) -> range:
    """Physical lines of the innermost statement that contains lines first..last."""
    best = None
    for rng in statements:
        if rng.start.line <= first and rng.end.line >= last:
            if best is None or (rng.end.line - rng.start.line) < (best.end.line - best.start.line):
                best = rng
    if best is None:
        return range(first, last + 1)
    return range(best.start.line, best.end.line + 1)


def lint_source(source: str, path: Path, rules: Sequence[type[Rule]]) -> FileReport:
    return lint_module(parse(source), source, path, rules)


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
    for path in paths:
        if path.is_dir():
            settings = resolver.for_path(path)
            if settings.is_excluded(path) and settings.force_exclude:
                excluded += 1
                continue
            for root, dirs, files in os.walk(path):
                root_path = Path(root)
                keep = []
                for d in sorted(dirs):
                    sub = root_path / d
                    if resolver.for_path(sub).is_excluded(sub):
                        excluded += 1
                    else:
                        keep.append(d)
                dirs[:] = keep
                for name in sorted(files):
                    if not name.endswith(suffixes):
                        continue
                    file_path = root_path / name
                    file_settings = resolver.for_path(file_path)
                    if file_settings.is_excluded(file_path):
                        excluded += 1
                        continue
                    targets.append(Target(file_path, file_settings))
        else:
            settings = resolver.for_path(path)
            if settings.force_exclude and settings.is_excluded(path):
                excluded += 1
                continue
            targets.append(Target(path, settings))
    return targets, excluded


def rules_for(settings: Settings, path: Path) -> list[type[Rule]]:
    return select_rules(
        settings.select, settings.extend_select, (*settings.ignore, *settings.ignored_for(path))
    )


def lint_paths(paths: Iterable[Path], resolver: ConfigResolver) -> Result:
    targets, excluded = discover(paths, resolver)
    result = Result()
    result.files_excluded = excluded
    for target in targets:
        for item in lint_file(target):
            if isinstance(item, FileError):
                result.errors.append(item)
            else:
                result.findings.extend(item.findings)
                result.suppressed += item.suppressed
        result.files_checked += 1
    result.findings.sort(key=lambda f: f.sort_key)
    return result


def lint_file(target: Target) -> Iterator[FileReport | FileError]:
    path = target.path
    try:
        source = read_source(path)
        if not PREFILTER.search(source):
            yield FileReport()
            return
        rules = rules_for(target.settings, path)
        yield lint_source(source, path, rules)
    except SourceError as exc:
        yield FileError(path, str(exc), exc.line, exc.column)
    except Exception as exc:
        yield FileError(path, f"internal error while linting: {type(exc).__name__}: {exc}")
