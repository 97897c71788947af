"""Evidence from structure when names say nothing (issue 8): a matrix the chain rule carries a
gradient back through is a weight, and a value multiplied by a local derivative is a gradient;
the finding says so, with lines, whatever the values are called."""

from __future__ import annotations

import textwrap
from pathlib import Path

from linter.engine import lint_source
from linter.rules import ALL_RULES

RULES = {r.code: r for r in ALL_RULES}

SOURCE = """
    import numpy as np


    def step_back(M, a, g):
        pre = M @ a
        return np.linalg.inv(M) @ g * a * (1 - a)
    """


def test_an_inverted_matrix_and_its_gradient_are_known_by_the_chain_rule() -> None:
    report = lint_source(textwrap.dedent(SOURCE), Path("t.py"), [RULES["BP001"]])
    assert [f.start.line for f in report.findings] == [7]
    notes = [(e.start.line, e.message) for e in report.findings[0].evidence]
    assert (7, "`M` carries the gradient back here (times a local derivative)") in notes
    assert (6, "`M` multiplies `a` here") in notes
    assert (7, "`g` is carried by the chain rule: times a local derivative here") in notes
    assert not any("named like" in m for _, m in notes)
