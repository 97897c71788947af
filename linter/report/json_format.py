"""JSON: one object per finding (code, name, message, path, position, end, kb_url, check, fix)."""

from __future__ import annotations

import json

from linter.ftypes import FileError, Finding


def finding_dict(f: Finding, ctx) -> dict:
    return {
        "code": f.code,
        "name": f.name,
        "message": f.message,
        "path": str(f.path),
        "cell": f.cell,
        "line": f.start.line,
        "column": f.start.column,
        "end_line": f.end.line,
        "end_column": f.end.column,
        "kb_url": ctx.kb_page(f.kb),
        "rule_url": ctx.rule_page(f.code),
        "check": f.check,
        "fix": None
        if f.fix is None
        else {
            "applicability": f.fix.safety.value,
            "message": f.fix.description,
            "edits": [
                {
                    "content": e.content,
                    "location": {"line": e.start.line, "column": e.start.column},
                    "end_location": {"line": e.end.line, "column": e.end.column},
                }
                for e in f.fix.edits
            ],
        },
    }


def error_dict(e: FileError) -> dict:
    return {"path": str(e.path), "message": e.message, "line": e.line, "column": e.column}


def as_json(findings: list[Finding], errors: list[FileError], ctx) -> str:
    # File errors go to stderr in the CLI; the document holds findings only (like ruff).
    payload = [finding_dict(f, ctx) for f in findings]
    return json.dumps(payload, indent=2) + "\n"
