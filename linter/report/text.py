"""Human-readable text: ``path:line:col: CODE message`` plus the KB link and the numeric test."""

from __future__ import annotations

from linter.ftypes import FileError, Finding


def location(f: Finding | FileError) -> str:
    if isinstance(f, Finding):
        if f.cell is not None:
            return f"{f.path}:cell {f.cell + 1}:{f.start.line}:{f.start.column}"
        return f"{f.path}:{f.start.line}:{f.start.column}"
    if f.line is not None:
        return f"{f.path}:{f.line}:{f.column or 1}"
    return str(f.path)


def _code(f: Finding, ctx) -> str:
    code = f.code
    if ctx.color:
        code = f"\x1b[1;31m{code}\x1b[0m"
    if ctx.hyperlinks:
        code = f"\x1b]8;;{ctx.rule_page(f.code)}\x1b\\{code}\x1b]8;;\x1b\\"
    return code


def concise(findings: list[Finding], errors: list[FileError], ctx) -> str:
    lines: list[str] = []  # file errors are printed to stderr by the CLI
    for f in findings:
        lines.append(f"{location(f)}: {_code(f, ctx)} {f.message}")
        lines.append(f"  = kb: {ctx.kb_page(f.kb)}  test: {f.check} (bplint verify {f.code})")
    return "\n".join(lines) + ("\n" if lines else "")
