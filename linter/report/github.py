"""GitHub Actions workflow commands: one ``::error`` annotation per finding and per file error.

``::error title=bplint (BP001),file=net.py,line=4,col=13,endLine=4,endColumn=31::message``.
Annotations show on the pull request's diff. Property values and messages are escaped as the
workflow-command syntax requires. Notebook findings are annotated on the file (GitHub cannot
address a line inside a cell); the cell and line are in the message.
"""

from __future__ import annotations

from linter.ftypes import FileError, Finding
from linter.report.text import location


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, props: dict[str, object], message: str) -> str:
    body = ",".join(f"{k}={_prop(str(v))}" for k, v in props.items() if v is not None)
    return f"::{level} {body}::{_data(message)}"


def as_github(findings: list[Finding], errors: list[FileError], ctx) -> str:
    lines = []
    for f in findings:
        props: dict[str, object] = {"title": f"bplint ({f.code})", "file": f.path.as_posix()}
        if f.cell is None:
            props.update(
                line=f.start.line, col=f.start.column, endLine=f.end.line, endColumn=f.end.column
            )
            if f.end.line != f.start.line:
                del props["col"], props["endColumn"]  # GitHub: columns only on a single line
        link = f"kb: {ctx.kb_page(f.kb)}" if f.kb else f"rule: {ctx.rule_page(f.code)}"
        level = "warning" if not f.kb else "error"
        lines.append(_command(level, props, f"{location(f)}: {f.code} {f.message} ({link})"))
    for e in errors:
        props = {"title": "bplint (cannot lint this file)", "file": e.path.as_posix()}
        if e.line is not None and getattr(e, "cell", None) is None:
            props.update(line=e.line, col=e.column or 1)
        lines.append(_command("error", props, f"{location(e)}: {e.message}"))
    return "".join(line + "\n" for line in lines)
