"""files -> parse (libcst) -> analysis -> rules -> findings (-> fixes).

One parse and one analysis walk per file; every selected rule queries the same model. Positions
are computed only for files that have findings. Files that cannot contain backprop code are
skipped by a cheap text pre-filter before parsing. Notebooks (``.ipynb``) go through
``linter.notebook``, which joins their code cells into one module and maps positions back.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from linter.analysis import analyze
from linter.config import ConfigResolver, Settings
from linter.ftypes import Edit, FileError, Finding, Fix, FixSafety, Pos, Result
from linter.rule import Rule
from linter.selection import select_rules
from linter.suppress import Noqa, Suppressions, is_bplint_code, removal_edit, scan

MAX_BYTES = 4 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  # outputs (images) make notebooks big; code is capped apart
SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
UNUSED_NOQA = "BP900"
# Words without which a file cannot contain the code our rules look at.
PREFILTER = re.compile(
    r"\b(?:numpy|torch|scipy|jax|cupy)\b|backward\s*\(|_backward|backward_prop|backprop"
    r"|\bsigmoid|\bsoftmax|\brelu"
)
_BP_NOQA = re.compile(r"noqa[^\n]*?\b(?:BP\d{3}|[a-z]+-[a-z-]+)", re.IGNORECASE)
_STATEMENTS = (cst.SimpleStatementLine, cst.Decorator)
_COMPOUND = (
    cst.If,
    cst.For,
    cst.While,
    cst.With,
    cst.Try,
    cst.TryStar,
    cst.FunctionDef,
    cst.ClassDef,
    cst.Match,
)


class SourceError(Exception):
    """A file that cannot be linted, with a message for the user (no traceback)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line, self.column = line, column


@dataclass(frozen=True)
class SourceText:
    text: str
    bom: bool = False  # written back when a fix rewrites the file

    def encode(self, text: str) -> bytes:
        return ("\ufeff" if self.bom else "").encode() + text.encode("utf-8")


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise SourceError(f"file is too large to lint ({size} bytes > {limit})")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None


def decode_source(data: bytes) -> SourceText:
    """UTF-8 text, refusing binary and non-UTF-8 data clearly; line endings are kept as they are."""
    if b"\x00" in data:
        raise SourceError("binary file (contains NUL bytes), not Python source")
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3:].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + (3 if bom else 0)
        line = data[:at].count(b"\n") + 1
        raise SourceError(f"not valid UTF-8 (byte {at}, line {line})", line) from None
    return SourceText(text, bom)


def read_source(path: Path) -> str:
    """Read a file as UTF-8 text, refusing binary, non-UTF-8 and oversized files clearly."""
    return decode_source(read_bytes(path)).text


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
    suppressions: Suppressions = field(default_factory=Suppressions)

    @property
    def unused_noqa(self) -> list[Noqa]:
        return [n for n in self.suppressions.all() if n.codes and not n.used]


def rule_names() -> frozenset[str]:
    return frozenset(r.name for r in Rule.registry.values())


def lint_module(
    module: cst.Module, source: str, path: Path, rules: Sequence[type[Rule]]
) -> FileReport:
    """Run ``rules`` over a parsed module; apply suppressions; report unused ones (BP900)."""
    rule_set = [r for r in rules if r.code != UNUSED_NOQA]
    want_unused = len(rule_set) != len(rules)
    raw = []
    if rule_set:
        model = analyze(module, path)
        for rule_cls in rule_set:
            for report in rule_cls().query(model):
                raw.append((rule_cls, report))
    out = FileReport(suppressions=scan(source, rule_names()))
    if raw:
        _findings(module, path, raw, out)
    if want_unused and out.suppressions:
        out.findings.extend(_unused_noqa(source, path, rules, out))
    out.findings.sort(key=lambda f: f.sort_key)
    return out


def _findings(module: cst.Module, path: Path, raw: list, out: FileReport) -> None:
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    statements = _statement_ranges(positions)
    noqa = out.suppressions
    seen: set[tuple[str, int, int]] = set()
    for rule_cls, report in raw:
        rng = positions[report.node]
        start = Pos(rng.start.line, rng.start.column + 1)
        end = Pos(rng.end.line, rng.end.column + 1)
        if (rule_cls.code, start.line, start.column) in seen:
            continue
        seen.add((rule_cls.code, start.line, start.column))
        hit = noqa.file_match(rule_cls.code, rule_cls.name)
        if hit is None:
            lines = _statement_lines(statements, rng.start.line, rng.end.line)
            hit = next(
                (
                    noqa.lines[ln]
                    for ln in lines
                    if ln in noqa.lines and noqa.lines[ln].matches(rule_cls.code, rule_cls.name)
                ),
                None,
            )
        if hit is not None:
            hit.used.add(rule_cls.code)
            hit.used.add(rule_cls.name)
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
                kb="" if rule_cls.meta else rule_cls.kb,
                check="" if rule_cls.meta else rule_cls.check_name(),
                fix=fix,
            )
        )


def _statement_ranges(positions: dict) -> list[tuple[int, int]]:
    """Line ranges a suppression covers: simple statements, decorators, compound headers."""
    ranges = []
    for node, rng in positions.items():
        if isinstance(node, _STATEMENTS):
            ranges.append((rng.start.line, rng.end.line))
        elif isinstance(node, _COMPOUND):
            body = getattr(node, "body", None)
            if isinstance(body, cst.BaseSuite) and body in positions:
                # the header: from the keyword to the line of the colon
                header_end = positions[body].start.line
                if isinstance(body, cst.IndentedBlock):
                    header_end = max(rng.start.line, header_end - 1)
                start = rng.start.line
                if isinstance(node, cst.FunctionDef | cst.ClassDef) and node.decorators:
                    start = positions[node.decorators[-1]].end.line + 1
                ranges.append((start, header_end))
    return ranges


def _statement_lines(statements: list[tuple[int, int]], first: int, last: int) -> range:
    """Physical lines of the innermost statement that contains lines first..last."""
    best = None
    for lo, hi in statements:
        if lo <= first and hi >= last and (best is None or hi - lo < best[1] - best[0]):
            best = (lo, hi)
    if best is None:
        return range(first, last + 1)
    return range(best[0], best[1] + 1)


def _unused_noqa(
    source: str, path: Path, rules: Sequence[type[Rule]], report: FileReport
) -> Iterable[Finding]:
    """BP900: directives naming bplint codes that suppressed nothing, cannot, or do not exist."""
    from linter.rules.meta import UnusedNoqa

    enabled = {r.code for r in rules} | {r.name for r in rules}
    names = rule_names()
    by_name = {r.name: r.code for r in Rule.registry.values()}
    lines: list[str] | None = None
    for noqa in report.suppressions.all():
        if not noqa.codes or UNUSED_NOQA in noqa.codes or UnusedNoqa.name in noqa.codes:
            continue  # bare (any tool's), or opted out of BP900 explicitly
        unused, disabled, unknown = [], [], []
        for code in noqa.codes:
            if not is_bplint_code(code, names):
                continue  # another tool's code: not ours to judge
            canonical = by_name.get(code, code)
            if canonical not in Rule.registry:
                unknown.append(code)
            elif code in noqa.used or canonical in noqa.used:
                continue
            elif canonical not in enabled:
                disabled.append(code)
            else:
                unused.append(code)
        drop = [*unused, *disabled, *unknown]
        if not drop:
            continue
        parts = [
            f"{label}: {', '.join(codes)}"
            for label, codes in (
                ("unused", unused),
                ("non-enabled", disabled),
                ("unknown", unknown),
            )
            if codes
        ]
        kind = "`bplint: noqa`" if noqa.file_level else "`noqa`"
        if lines is None:
            lines = re.split(r"\r\n|\r|\n", source)
        edit = removal_edit(noqa, drop, lines)
        what = "Remove the unused codes" if len(drop) < len(noqa.codes) else "Remove the directive"
        yield Finding(
            path=path,
            code=UnusedNoqa.code,
            name=UnusedNoqa.name,
            message=f"Unused {kind} directive ({'; '.join(parts)})",
            start=Pos(noqa.line, noqa.column),
            end=Pos(noqa.line, noqa.end_column),
            kb="",
            check="",
            fix=Fix(FixSafety.SAFE, what, (edit,)),
        )


def lint_source(source: str, path: Path, rules: Sequence[type[Rule]]) -> FileReport:
    return lint_module(parse(source), source, path, rules)


def needs_parse(source: str, rules: Sequence[type[Rule]]) -> bool:
    """The cheap pre-filter: could any rule fire, or any suppression be unused?"""
    if PREFILTER.search(source):
        return True
    return any(r.code == UNUSED_NOQA for r in rules) and bool(_BP_NOQA.search(source))


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


@dataclass(frozen=True)
class FixOptions:
    unsafe: bool = False
    write: bool = True  # False: --diff (compute, show, never write)


@dataclass
class FileOutcome:
    report: FileReport = field(default_factory=FileReport)
    errors: list[FileError] = field(default_factory=list)
    fixed: Counter[str] = field(default_factory=Counter)
    diff: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunResult(Result):
    fixed: Counter[str] = field(default_factory=Counter)
    diffs: list[str] = field(default_factory=list)
    files_changed: int = 0
    warnings: list[str] = field(default_factory=list)


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
    path = target.path
    try:
        rules = rules_for(target.settings, path)
        if path.suffix == ".ipynb":
            from linter.notebook import check_notebook

            return check_notebook(path, rules, fix)
        data = read_bytes(path)
        src = decode_source(data)
        if not needs_parse(src.text, rules):
            return FileOutcome()
        if fix is None:
            return FileOutcome(lint_source(src.text, path, rules))
        from linter.fix import fix_python_file

        return fix_python_file(path, data, src, rules, fix)
    except SourceError as exc:
        return FileOutcome(errors=[FileError(path, str(exc), exc.line, exc.column)])
    except RecursionError:
        return FileOutcome(errors=[FileError(path, "code nested too deeply to analyse")])
    except Exception as exc:
        return FileOutcome(
            errors=[FileError(path, f"internal error while linting: {type(exc).__name__}: {exc}")]
        )
