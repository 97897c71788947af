"""SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps, IDE viewers).

One run; ``tool.driver.rules`` has one entry per known rule (id = code, name, descriptions,
``helpUri`` = the rule's page under the configured ``kb-url``, and the KB page and numeric test
in ``properties``); each result points at its rule by ``ruleId`` and ``ruleIndex``. Paths are
relative to ``%SRCROOT%`` (the working directory) when they are under it. Columns count Unicode
code points (``columnKind``). Notebook findings keep their cell-relative region and carry the
cell index in ``properties.cell``. A finding's evidence (why it is one) becomes its
``relatedLocations``, each with its message. Files that could not be linted become error
notifications of the invocation, which then reports ``executionSuccessful: false``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from linter import __version__
from linter.ftypes import Evidence, FileError, Finding

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def _uri(path: Path, cwd: Path) -> dict:
    absolute = path if path.is_absolute() else cwd / path
    try:
        absolute = absolute.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop: name the link itself
        absolute = Path(os.path.normpath(absolute))
    try:
        rel = absolute.relative_to(cwd.resolve())
    except (ValueError, OSError, RuntimeError):
        return {"uri": absolute.as_uri()}
    return {
        "uri": quote(rel.as_posix(), safe="/", errors="surrogateescape"),
        "uriBaseId": "%SRCROOT%",
    }


def _dir_uri(path: Path) -> str:
    uri = path.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _rule_entry(rule, ctx) -> dict:
    props: dict = {
        "fix": rule.fix_safety.value if rule.fix_safety else None,
        "default": "on" if rule.default_enabled else "off",
        "tags": ["bplint", "meta" if rule.meta else "backpropagation"],
    }
    text = markdown = rule.instead
    if not rule.meta:
        kb = ctx.kb_page(rule.kb)
        props["kb_url"] = kb
        props["check"] = rule.check_name()
        text += f"\n\nWhy, with the math and a numeric test: {kb}"
        markdown += f"\n\n[Why, with the math and a numeric test]({kb})"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.why},
        "help": {"text": text, "markdown": markdown},
        "helpUri": ctx.rule_page(rule.code),
        "defaultConfiguration": {
            "enabled": bool(rule.default_enabled),
            "level": "warning" if rule.meta else "error",
        },
        "properties": props,
    }


def _region(start_line: int, start_col: int, end_line: int, end_col: int) -> dict:
    region = {"startLine": start_line, "startColumn": start_col}
    if (end_line, end_col) > (start_line, start_col):
        region.update(endLine=end_line, endColumn=end_col)
    return region


def _result(f: Finding, index: int | None, level: str, ctx) -> dict:
    location = {
        "physicalLocation": {
            "artifactLocation": _uri(f.path, ctx.cwd),
            "region": _region(f.start.line, f.start.column, f.end.line, f.end.column),
        }
    }
    message = f.message if f.cell is None else f"{f.message} (cell {f.cell + 1})"
    result: dict = {
        "ruleId": f.code,
        "level": level,
        "message": {"text": message},
        "locations": [location],
        "properties": {"name": f.name, "rule_url": ctx.rule_page(f.code)},
    }
    if index is not None:
        result["ruleIndex"] = index
    if f.evidence:
        result["relatedLocations"] = [_related(f, i, e, ctx) for i, e in enumerate(f.evidence)]
    if f.kb:
        result["properties"]["kb_url"] = ctx.kb_page(f.kb)
        result["properties"]["check"] = f.check
    if f.cell is not None:
        result["properties"]["cell"] = f.cell
    if f.fix is not None:
        result["properties"]["fix"] = f.fix.safety.value
        if f.cell is None:  # cell-relative edits are not positions in the .ipynb file
            result["fixes"] = [
                {
                    "description": {"text": f.fix.description},
                    "artifactChanges": [
                        {
                            "artifactLocation": _uri(f.path, ctx.cwd),
                            "replacements": [
                                {
                                    "deletedRegion": {
                                        "startLine": e.start.line,
                                        "startColumn": e.start.column,
                                        "endLine": e.end.line,
                                        "endColumn": e.end.column,
                                    },
                                    "insertedContent": {"text": e.content},
                                }
                                for e in f.fix.edits
                            ],
                        }
                    ],
                }
            ]
    return result


def _related(f: Finding, i: int, e: Evidence, ctx) -> dict:
    related: dict = {
        "id": i,
        "physicalLocation": {
            "artifactLocation": _uri(f.path, ctx.cwd),
            "region": _region(e.start.line, e.start.column, e.end.line, e.end.column),
        },
        "message": {"text": e.message if e.cell is None else f"{e.message} (cell {e.cell + 1})"},
    }
    if e.cell is not None:
        related["properties"] = {"cell": e.cell}
    return related


def _notification(e: FileError, ctx) -> dict:
    note: dict = {"level": "error", "message": {"text": e.message}}
    loc: dict = {"artifactLocation": _uri(e.path, ctx.cwd)}
    if e.line is not None:
        loc["region"] = {"startLine": e.line, "startColumn": e.column or 1}
    note["locations"] = [{"physicalLocation": loc}]
    cell = getattr(e, "cell", None)
    if cell is not None:
        note["properties"] = {"cell": cell}
    return note


def as_sarif(findings: list[Finding], errors: list[FileError], ctx) -> str:
    rules = list(ctx.rules)
    index = {r.code: i for i, r in enumerate(rules)}
    meta = {r.code for r in rules if r.meta}
    results = [
        _result(f, index.get(f.code), "warning" if f.code in meta else "error", ctx)
        for f in findings
    ]
    run: dict = {
        "tool": {
            "driver": {
                "name": "bplint",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": ctx.kb_url,
                "rules": [_rule_entry(r, ctx) for r in rules],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": _dir_uri(ctx.cwd)}},
        "columnKind": "unicodeCodePoints",
        "invocations": [
            {
                "executionSuccessful": not errors,
                "toolExecutionNotifications": [_notification(e, ctx) for e in errors],
            }
        ],
        "results": results,
    }
    doc = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
