"""JSON (one array) and JSON Lines (one object per line) of findings.

Each finding: code, name, message, path, cell (notebooks: 0-based index into the notebook's
cells, else null), line, column, end_line, end_column (1-based; inside the cell for notebooks),
kb_url (null for rules with no KB entry), rule_url, check (the numeric test, or null), fix
(null, or its applicability, message and edits, as in ruff's JSON) and evidence (why it is a
finding: a list of {message, line, column, end_line, end_column, cell}).
"""

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
        "kb_url": ctx.kb_page(f.kb) if f.kb else None,
        "rule_url": ctx.rule_page(f.code),
        "check": f.check or None,
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
        "evidence": [
            {
                "message": e.message,
                "line": e.start.line,
                "column": e.start.column,
                "end_line": e.end.line,
                "end_column": e.end.column,
                "cell": e.cell,
            }
            for e in f.evidence
        ],
    }


def error_dict(e: FileError) -> dict:
    return {
        "path": str(e.path),
        "cell": getattr(e, "cell", None),
        "message": e.message,
        "line": e.line,
        "column": e.column,
    }


def as_json(findings: list[Finding], errors: list[FileError], ctx) -> str:
    # File errors go to stderr in the CLI; the document holds findings only (like ruff).
    payload = [finding_dict(f, ctx) for f in findings]
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def as_json_lines(findings: list[Finding], errors: list[FileError], ctx) -> str:
    return "".join(json.dumps(finding_dict(f, ctx), ensure_ascii=False) + "\n" for f in findings)
