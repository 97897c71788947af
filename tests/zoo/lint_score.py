"""Score bplint on the zoo: per rule, true positives, false negatives and false positives.

A *true positive* is a mutant flagged with its expected code at its expected line; a *false
negative* is a mutant without that finding; a *false positive* is any finding on an original
network, and any finding on a mutant that its original does not have and that is not the
expected one. Run ``python -m tests.zoo.lint_score`` to print the table (``--all`` includes the
rules that are off by default).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from linter.engine import lint_source
from linter.ftypes import Finding
from linter.rule import Rule
from linter.rules import ALL_RULES
from linter.selection import select_rules

from .mutants import MUTANTS, line_of, mutant_id, mutated_sources
from .sources import NETWORKS_DIR, network_names, read_sources, torch_network_names


def lint_sources(sources: dict[str, str], rules: list[type[Rule]]) -> list[Finding]:
    """Lint in memory; paths are given as on disk (sibling helpers are read from there) and
    reported relative to ``networks/``."""
    found: list[Finding] = []
    for rel, text in sources.items():
        for f in lint_source(text, NETWORKS_DIR / rel, rules).findings:
            found.append(replace(f, path=Path(rel)))
    return found


def _key(f: Finding) -> tuple[str, str, str]:
    return (str(f.path), f.code, f.message)


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)


def score(rules: list[type[Rule]]) -> Score:
    s = Score()
    originals: dict[str, list[Finding]] = {}
    for name in network_names() + torch_network_names():
        found = lint_sources(read_sources(name), rules)
        originals[name] = found
        for f in found:
            s.fp[f.code] += 1
            s.false_alarms.append(f"{name}: {f.path}:{f.start.line} {f.code} {f.message}")
    enabled = {r.code for r in rules}
    for m in MUTANTS:
        found = lint_sources(mutated_sources(m), rules)
        hit = any(
            f.code == m.code and str(f.path) == m.path and f.start.line == line_of(m) for f in found
        )
        if m.code in enabled:
            if hit:
                s.tp[m.code] += 1
            else:
                s.fn[m.code] += 1
                s.misses.append(f"{mutant_id(m)} (line {line_of(m)}): {m.description}")
        before = Counter(_key(f) for f in originals[m.network])
        for f in found:
            expected = f.code == m.code and str(f.path) == m.path and f.start.line == line_of(m)
            if expected:
                continue
            k = _key(f)
            if before[k]:
                before[k] -= 1
                continue
            # a second, different finding caused by the same mutation is a false alarm
            s.fp[f.code] += 1
            s.false_alarms.append(f"{mutant_id(m)}: {f.path}:{f.start.line} {f.code} {f.message}")
    return s


def default_rules() -> list[type[Rule]]:
    return select_rules(("BP",), (), ())


def table(s: Score, rules: list[type[Rule]]) -> str:
    lines = ["| rule | name | TP | FN | FP | mutants |", "|---|---|---|---|---|---|"]
    per_code = Counter(m.code for m in MUTANTS)
    for r in rules:
        lines.append(
            f"| {r.code} | {r.name} | {s.tp[r.code]} | {s.fn[r.code]} | {s.fp[r.code]} "
            f"| {per_code[r.code]} |"
        )
    total = (sum(s.tp.values()), sum(s.fn.values()), sum(s.fp.values()))
    lines.append(f"| all | | {total[0]} | {total[1]} | {total[2]} | {len(MUTANTS)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    rules = ALL_RULES if "--all" in argv else default_rules()
    s = score(rules)
    print(table(s, rules))
    untested = sorted({m.code for m in MUTANTS} - {r.code for r in ALL_RULES})
    if untested:
        print(f"\nmutant codes with no rule yet: {', '.join(untested)}")
    if s.misses:
        print("\nfalse negatives:")
        print("\n".join(f"  {x}" for x in s.misses))
    if s.false_alarms:
        print("\nfalse positives:")
        print("\n".join(f"  {x}" for x in s.false_alarms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
