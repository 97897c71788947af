"""Run a rule's VALID/INVALID examples: used by the test-suite and by `bplint rules --self-test`."""

from __future__ import annotations

from pathlib import Path

from linter.engine import lint_source
from linter.ftypes import Finding
from linter.rule import Example, Rule


def findings_for(rule: type[Rule], example: Example) -> list[Finding]:
    report = lint_source(example.source, Path("example.py"), [rule])
    return report.findings


def check_example(rule: type[Rule], example: Example, valid: bool) -> str | None:
    """None if the example behaves as declared, else a message saying how it failed."""
    found = findings_for(rule, example)
    if valid:
        if found:
            where = ", ".join(f"{f.start.line}:{f.start.column}" for f in found)
            return f"VALID example got {len(found)} finding(s) at {where}: {found[0].message}"
        return None
    if not found:
        return "INVALID example got no finding"
    if example.expect:
        got = sorted((f.start.line, f.start.column) for f in found)
        if got != sorted(example.expect):
            return f"INVALID example: expected findings at {sorted(example.expect)}, got {got}"
    return None
