"""Human-readable text.

``concise`` (the default): ``path:line:col: CODE [*] message`` and a line with the KB link and
the numeric test. ``full``: the same header, then the source line with a caret under the span,
one ``= note: line N: ...`` per piece of evidence (why it is a finding), the fix (and whether
``--fix`` applies it) and the links. ``[*]`` marks a finding that ``--fix``
would fix with the current settings. Codes are terminal hyperlinks to their rule page when the
output is a terminal that allows it (never in pipes or files, never with ``NO_COLOR``).
Notebook findings read ``notebook.ipynb:cell 3:line 5:col 13``.
"""

from __future__ import annotations

from collections import Counter

from linter.ftypes import FileError, Finding, FixSafety

RESET = "\x1b[0m"
BOLD_RED = "\x1b[1;31m"
CYAN = "\x1b[36m"
DIM = "\x1b[2m"


def location(f: Finding | FileError) -> str:
    cell = getattr(f, "cell", None)
    if isinstance(f, Finding):
        line, col = f.start.line, f.start.column
    else:
        line, col = f.line, f.column
    if cell is not None:
        if line is None:
            return f"{f.path}:cell {cell + 1}"
        return f"{f.path}:cell {cell + 1}:line {line}:col {col or 1}"
    if line is None:
        return str(f.path)
    return f"{f.path}:{line}:{col or 1}"


def _paint(text: str, style: str, ctx) -> str:
    return f"{style}{text}{RESET}" if ctx.color else text


def _code(f: Finding, ctx) -> str:
    code = _paint(f.code, BOLD_RED, ctx)
    if ctx.hyperlinks:
        code = f"\x1b]8;;{ctx.rule_page(f.code)}\x1b\\{code}\x1b]8;;\x1b\\"
    return code


def _header(f: Finding, ctx) -> str:
    mark = " [*]" if ctx.fixable(f.fix) else ""
    return f"{_paint(location(f), CYAN, ctx)}: {_code(f, ctx)}{mark} {f.message}"


def _links(f: Finding, ctx) -> str:
    if not f.kb:
        return f"  = rule: {ctx.rule_page(f.code)}"
    return f"  = kb: {ctx.kb_page(f.kb)}  test: {f.check} (bplint verify {f.code})"


def concise(findings: list[Finding], errors: list[FileError], ctx) -> str:
    lines: list[str] = []  # file errors are printed to stderr by the CLI
    for f in findings:
        lines.append(_header(f, ctx))
        lines.append(_links(f, ctx))
    return "\n".join(lines) + ("\n" if lines else "")


def _snippet(f: Finding, ctx) -> list[str]:
    first, last = f.start.line, max(f.end.line, f.start.line)
    if not f.snippet or f.snippet[-1][0] < first:
        return []
    shown = [n for n, _ in f.snippet]
    width = len(str(shown[-1]))
    gutter = " " * width + " |"
    out = [_paint(gutter, DIM, ctx)]
    for n, text in f.snippet:
        out.append(f"{_paint(f'{n:>{width}} |', DIM, ctx)} {text}".rstrip())
        if n == first:
            start = min(f.start.column - 1, len(text))
            end = f.end.column - 1 if f.end.line == first else len(text)
            end = max(start + 1, min(end, len(text)))
            pad = "".join("\t" if c == "\t" else " " for c in text[:start])
            carets = _paint("^" * (end - start) + f" {f.code}", BOLD_RED, ctx)
            out.append(f"{_paint(gutter, DIM, ctx)} {pad}{carets}")
    if last > shown[-1]:
        out.append(f"{_paint(gutter, DIM, ctx)} ...")
    out.append(_paint(gutter, DIM, ctx))
    return out


def _fix_line(f: Finding, ctx) -> str | None:
    if f.fix is None or not ctx.show_fixes:
        return None
    edits = f.fix.edits
    what = f.fix.description
    if len(edits) == 1 and edits[0].content and edits[0].content not in what:
        what += f": `{edits[0].content}`"
    if ctx.fixable(f.fix) or f.fix.safety is FixSafety.SAFE:
        how = "applied by --fix"
    else:
        how = "applied only with --fix --unsafe-fixes; review the diff"
    return f"  = fix ({f.fix.safety.value}; {how}): {what}"


def _notes(f: Finding) -> list[str]:
    out = []
    for e in f.evidence:
        where = f"line {e.start.line}"
        if e.cell is not None and e.cell != f.cell:
            where = f"cell {e.cell + 1}, {where}"
        out.append(f"  = note: {where}: {e.message}")
    return out


def full(findings: list[Finding], errors: list[FileError], ctx) -> str:
    blocks: list[str] = []
    for f in findings:
        lines = [_header(f, ctx), *_snippet(f, ctx), *_notes(f)]
        fix = _fix_line(f, ctx)
        if fix:
            lines.append(fix)
        if f.kb:
            lines.append(f"  = kb: {ctx.kb_page(f.kb)}")
            lines.append(f"  = test: {f.check} (run it: bplint verify {f.code})")
        lines.append(f"  = rule: {ctx.rule_page(f.code)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def statistics(findings: list[Finding], ctx) -> list[tuple[int, str, str, str]]:
    """(count, code, fix mark, name) per rule, most frequent first (ruff's ``--statistics``)."""
    counts = Counter(f.code for f in findings)
    names = {f.code: f.name for f in findings}
    marks: dict[str, str] = {}
    for f in findings:
        mark = "[*]" if ctx.fixable(f.fix) else ("[-]" if f.fix is not None else "[ ]")
        best = marks.get(f.code, "[ ]")
        marks[f.code] = min(best, mark, key=["[*]", "[-]", "[ ]"].index)
    return [
        (n, code, marks[code], names[code])
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def statistics_text(findings: list[Finding], ctx) -> str:
    rows = statistics(findings, ctx)
    if not rows:
        return ""
    width = len(str(rows[0][0]))
    return "".join(f"{n:>{width}}\t{code}\t{mark} {name}\n" for n, code, mark, name in rows)
