"""module -> analysis -> rules -> findings (with suppressions applied).

One parse and one analysis walk per file; every selected rule queries the same model. Positions
are computed only for files that have findings. Files that cannot contain backprop code are
skipped by a cheap text pre-filter before parsing. Reading and parsing is ``linter.source``;
the run over files is ``linter.run``; notebooks (``linter.notebook``) and fixes (``linter.fix``)
build on this module, which imports neither.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange

from linter import prefilter, rule_index
from linter.analysis import siblings
from linter.analysis.treewalk import code_positions
from linter.ftypes import Edit, Evidence, FileError, Finding, Fix, FixSafety, Pos
from linter.lines import split_lines, split_lines_keepends
from linter.rule import Report, Rule
from linter.rule_index import RuleInfo
from linter.source import Prepared, SourceError, SourceText, parse, prepare
from linter.suppress import Noqa, Suppressions, is_bplint_code, removal_edit, scan

__all__ = ["SourceError", "SourceText", "parse"]  # re-exported: read them from linter.source

UNUSED_NOQA = "BP900"
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


@dataclass
class FileReport:
    findings: list[Finding] = field(default_factory=list)
    suppressed: int = 0
    suppressions: Suppressions = field(default_factory=Suppressions)
    notes: list[str] = field(
        default_factory=list
    )  # about the file, not findings ("read as Python 2")

    @property
    def unused_noqa(self) -> list[Noqa]:
        return [n for n in self.suppressions.all() if n.codes and not n.used]


def _known() -> dict[str, str]:
    """Every rule's name -> code: the index's, and any rule class defined since (tests)."""
    known = {r.name: r.code for r in rule_index.rules()}
    known.update((r.name, r.code) for r in Rule.registry.values())
    return known


def rule_names() -> frozenset[str]:
    return frozenset(_known())


def lint_module(
    module: cst.Module, source: str, path: Path, rules: Sequence[type[Rule] | RuleInfo]
) -> FileReport:
    """Run ``rules`` over a parsed module; apply suppressions; report unused ones (BP900).

    Every selected rule runs on a parsed file, even one whose own markers are absent: the
    markers are a file's pre-filter, and a rule can still fire without its name markers
    (tests/test_metamorphic.py renames the examples)."""
    rule_set = [r for r in rules if r.code != UNUSED_NOQA]
    want_unused = len(rule_set) != len(rules)
    raw = []
    runnable = [rule_index.load(r) for r in rule_set]
    if runnable:
        model = siblings.linted_model(module, source, path)
        siblings.linting(model)
        try:
            for rule_cls in runnable:
                for report in rule_cls().query(model):
                    raw.append((rule_cls, report))
        except BaseException:
            siblings.forget(model)  # its memos may be half written
            raise
        finally:
            siblings.linting(None)
    out = FileReport(suppressions=scan(source, rule_names()))
    if raw:
        _findings(module, path, raw, out)
    if want_unused and out.suppressions:
        out.findings.extend(_unused_noqa(source, path, rules, out))
    out.findings.sort(key=lambda f: f.sort_key)
    if out.findings:
        lines = split_lines(source)
        out.findings = [with_snippet(f, lines) for f in out.findings]
    return out


def with_snippet(f: Finding, lines: Sequence[str]) -> Finding:
    """``f`` with the source lines a report shows around it (the line before, the span's first
    lines), taken from ``lines``: the text that was linted, or the notebook cell."""
    first, last = f.start.line, max(f.end.line, f.start.line)
    shown = range(max(1, first - 1), min(last, first + 2, len(lines)) + 1)
    return replace(f, snippet=tuple((n, lines[n - 1]) for n in shown))


def _evidence(report: Report, positions: Mapping[cst.CSTNode, CodeRange]) -> tuple[Evidence, ...]:
    """A report's (node or position, text) evidence with positions; a node the analysis built
    (not in the file) has no position and is left out."""
    out: list[Evidence] = []
    for at, text in report.evidence:
        if isinstance(at, Pos):
            item = Evidence(at, at, text)
        else:
            rng = positions.get(at)
            if rng is None:
                continue
            start = Pos(rng.start.line, rng.start.column + 1)
            item = Evidence(start, Pos(rng.end.line, rng.end.column + 1), text)
        if item not in out:
            out.append(item)
    return tuple(out)


def _findings(module: cst.Module, path: Path, raw: list, out: FileReport) -> None:
    positions = code_positions(module)
    noqa = out.suppressions
    # the statements a line's ``noqa`` covers, only in a file that has one
    statements = _statement_ranges(positions) if noqa.lines else []
    innermost = _innermost(statements)
    seen: set[tuple[str, int, int]] = set()
    for rule_cls, report in raw:
        rng = positions[report.node]
        start = Pos(rng.start.line, rng.start.column + 1)
        end = Pos(rng.end.line, rng.end.column + 1)
        if (rule_cls.code, start.line, start.column) in seen:
            continue
        seen.add((rule_cls.code, start.line, start.column))
        hit = noqa.file_match(rule_cls.code, rule_cls.name)
        if hit is None and noqa.lines:
            lines = _statement_lines(statements, rng.start.line, rng.end.line, innermost)
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
            replaced = report.replaces or report.node
            fix_rng = positions[replaced]
            fix = Fix(
                rule_cls.fix_safety,
                report.fix_description or "Apply the suggested replacement",
                (
                    Edit(
                        Pos(fix_rng.start.line, fix_rng.start.column + 1),
                        Pos(fix_rng.end.line, fix_rng.end.column + 1),
                        module.code_for_node(report.replacement),
                        expect=module.code_for_node(replaced),
                    ),
                ),
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
                evidence=_evidence(report, positions),
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


def _innermost(statements: list[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Each line to the smallest statement range holding it (the first such in ``statements``):
    simple statements do not nest, so this costs the lines the statements span."""
    best: dict[int, tuple[int, int]] = {}
    for lo, hi in statements:
        for line in range(lo, hi + 1):
            held = best.get(line)
            if held is None or hi - lo < held[1] - held[0]:
                best[line] = (lo, hi)
    return best


def _statement_lines(
    statements: list[tuple[int, int]],
    first: int,
    last: int,
    innermost: dict[int, tuple[int, int]] | None = None,
) -> range:
    """Physical lines of the innermost statement that contains lines first..last."""
    if innermost is not None:
        # the smallest range holding ``first``, when it also holds ``last``, is the answer of
        # the scan below (any range holding both holds ``first``), found without a scan per finding
        held = innermost.get(first)
        if held is not None and held[1] >= last:
            return range(held[0], held[1] + 1)
    best = None
    for lo, hi in statements:
        if lo <= first and hi >= last and (best is None or hi - lo < best[1] - best[0]):
            best = (lo, hi)
    if best is None:
        return range(first, last + 1)
    return range(best[0], best[1] + 1)


def _unused_noqa(
    source: str, path: Path, rules: Sequence[type[Rule] | RuleInfo], report: FileReport
) -> Iterable[Finding]:
    """BP900: directives naming bplint codes that suppressed nothing, cannot, or do not exist."""
    from linter.rules.bp9_meta.unused_noqa import UnusedNoqa

    enabled = {r.code for r in rules} | {r.name for r in rules}
    by_name = _known()
    names = frozenset(by_name)
    codes = frozenset(by_name.values())
    lines: list[str] | None = None
    for noqa in report.suppressions.all():
        if not noqa.codes or UNUSED_NOQA in noqa.codes or UnusedNoqa.name in noqa.codes:
            continue  # bare (any tool's), or opted out of BP900 explicitly
        unused, disabled, unknown = [], [], []
        for code in noqa.codes:
            if not is_bplint_code(code, names):
                continue  # another tool's code: not ours to judge
            canonical = by_name.get(code, code)
            if canonical not in codes:
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
            lines = split_lines_keepends(source)
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


def _parse_and_lint(
    text: str,
    path: Path,
    rules: Sequence[type[Rule] | RuleInfo],
    spans: tuple[tuple[int, int], ...] | None = None,
) -> FileReport:
    """``lint_module(parse(text))`` without the cyclic collector walking the tree again and again.

    A parsed file is millions of objects that live until the file is done and hold no cycles
    (libcst nodes point only to their children), yet each collection of the oldest generation
    traverses them all: on a 400 kB module that was 40% of the run. The collector is off while
    the file is parsed, and everything alive then is frozen (left out of collections) while the
    file is linted; cycles the analysis makes are still collected, and all is thawed after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        # a sibling's parse, if it was one; a big text in parts (``spans``)
        module = siblings.shared_parse(text, checked=True, spans=spans)
        gc.freeze()
        if was_enabled:
            gc.enable()
        return lint_module(module, text, path, rules)
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def lint_source(source: str, path: Path, rules: Sequence[type[Rule] | RuleInfo]) -> FileReport:
    """Lint a file's text (recovered first if it is Python 2 or holds IPython syntax)."""
    return lint_prepared(prepare(source), path, rules, source)


def lint_prepared(
    prep: Prepared, path: Path, rules: Sequence[type[Rule] | RuleInfo], original: str | None = None
) -> FileReport:
    """Lint checked text; positions come back in the file's own columns, and snippets show
    the file's own lines when ``original`` (the text ``prep`` was made from) is given.

    No fix is offered in a file read as Python 2 (the fix would be computed on the rewrite) nor
    one that touches a masked IPython line.
    """
    report = _parse_and_lint(prep.text, path, rules, prep.spans)
    report.notes.extend(prep.notes)
    if prep.python2 or prep.masked:
        report.findings = [_restore(f, prep) for f in report.findings]
        if original is not None and report.findings:
            lines = split_lines(original)
            report.findings = [with_snippet(f, lines) for f in report.findings]
    return report


def _restore(f: Finding, prep: Prepared) -> Finding:
    fix = f.fix
    if prep.python2:
        fix = None
    elif fix is not None and any(
        line in prep.masked for e in fix.edits for line in range(e.start.line, e.end.line + 1)
    ):
        fix = None

    def restored(p: Pos) -> Pos:
        return Pos(p.line, prep.column(p.line, p.column))

    evidence = tuple(replace(e, start=restored(e.start), end=restored(e.end)) for e in f.evidence)
    return replace(f, start=restored(f.start), end=restored(f.end), fix=fix, evidence=evidence)


def needs_parse(source: str, rules: Sequence[type[Rule] | RuleInfo]) -> bool:
    """The cheap pre-filter: could any selected rule fire (each declares what it needs to see,
    ``Rule.prefilter``), or any suppression be unused?"""
    return prefilter.could_fire(source, rules)


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
