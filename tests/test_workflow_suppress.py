"""Suppressions: ``# noqa`` (codes, names, reasons), ``# bplint: noqa``, BP900, and ruff."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linter.engine import lint_source
from linter.rules import ALL_RULES, get_rule
from linter.suppress import scan
from tests.cli_helpers import bplint

ROOT = Path(__file__).resolve().parents[1]
BP001 = get_rule("BP001")
BP900 = get_rule("BP900")


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def codes_found(source: str, rules=None) -> list[tuple[str, int]]:
    report = lint_source(src(source), Path("net.py"), rules or ALL_RULES)
    return [(f.code, f.start.line) for f in report.findings]


BUGGY = """
import numpy as np

def backprop(W2, delta2, z1):
    return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1){comment}
"""


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("", False),
        ("  # noqa: BP001", True),
        ("  # noqa:BP001", True),
        ("  # NOQA: bp001", True),
        ("  # noqa: BP001 W2 is orthogonal by construction", True),
        ("  # noqa: BP001, E501 generated", True),
        ("  # noqa: E501 BP001", True),
        ("  # noqa: inverse-in-backward", True),
        ("  # noqa", True),
        ("  # noqa: BP002", False),
        ("  # noqa: E501", False),
        ("  # type: ignore  # noqa: BP001", True),
        ("  # noqa-ish BP001", False),
        ("  # see the noqa docs", False),
    ],
)
def test_line_noqa(comment, suppressed):
    found = codes_found(BUGGY.format(comment=comment), [BP001])
    assert (found == []) is suppressed, found


def test_reason_is_kept_apart_from_the_codes():
    noqa = scan("x = 1  # noqa: BP001, E501 closed-form fit, see #12\n").lines[1]
    assert noqa.codes == ("BP001", "E501")
    assert noqa.reason == "closed-form fit, see"
    noqa = scan("x = 1  # noqa: BP001 because W is orthogonal\n").lines[1]
    assert noqa.codes == ("BP001",) and noqa.reason == "because W is orthogonal"
    assert scan("x = 1  # noqa\n").lines[1].codes is None
    assert scan('s = "# noqa: BP001"\n').lines == {}


@pytest.mark.parametrize(
    ("code", "where"),
    [
        (
            """
            import numpy as np

            def backprop(W2, delta2, z1):
                return (  # noqa: BP001 first line of the statement
                    np.linalg.pinv(W2) @ delta2
                ) * sigmoid_prime(z1)
            """,
            "first line of a multi-line statement",
        ),
        (
            """
            import numpy as np

            def backprop(W2, delta2, z1):
                return (
                    np.linalg.pinv(W2) @ delta2
                ) * sigmoid_prime(z1)  # noqa: BP001
            """,
            "last line of a multi-line statement",
        ),
        (
            """
            import numpy as np

            def backprop(W2, delta2, z1):
                return [
                    (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
                    for _ in range(3)  # noqa: BP001
                ]
            """,
            "inside a list comprehension",
        ),
        (
            """
            import numpy as np

            def backprop(W2, deltas, z1):
                return {k: np.linalg.pinv(W2) @ deltas  # noqa: BP001
                        for k in range(2)}
            """,
            "inside a dict comprehension",
        ),
        (
            """
            import numpy as np

            def backprop(W2, delta2, z1):
                @cache(np.linalg.pinv(W2) @ delta2)  # noqa: BP001
                def f():
                    pass
                return f
            """,
            "a decorator",
        ),
        (
            """
            import numpy as np

            def backprop(W2, delta2, z1):
                if (np.linalg.pinv(W2)
                        @ delta2).sum():  # noqa: BP001
                    return 1
            """,
            "the header of a compound statement",
        ),
    ],
)
def test_noqa_on_multi_line_statements_decorators_comprehensions(code, where):
    without = src(code).replace("# noqa: BP001", "#")
    assert codes_found(without, [BP001]), f"{where}: the example must be flagged without noqa"
    assert codes_found(code, [BP001]) == [], where


def test_noqa_in_a_body_does_not_cover_the_header():
    code = """
    import numpy as np

    def backprop(W2, delta2, z1):
        if (np.linalg.pinv(W2) @ delta2).sum():
            return 1  # noqa: BP001
    """
    assert codes_found(code) == [("BP001", 4), ("BP900", 5)]


def test_noqa_on_another_statement_does_not_suppress():
    code = """
    import numpy as np

    def backprop(W2, delta2, z1):
        x = 1  # noqa: BP001
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
    """
    assert codes_found(code) == [("BP900", 4), ("BP001", 5)]


@pytest.mark.parametrize(
    ("header", "suppressed"),
    [
        ("# bplint: noqa", True),
        ("# bplint: noqa: BP001", True),
        ("# bplint: noqa: inverse-in-backward", True),
        ("#bplint:noqa:BP001,BP002", True),
        ("# bplint: noqa: BP002", False),
        ("# flake8: noqa", False),
        ("# ruff: noqa", False),
    ],
)
def test_file_level_noqa(header, suppressed):
    found = codes_found(header + "\n" + src(BUGGY.format(comment="")), [BP001])
    assert (found == []) is suppressed, found


def test_file_level_noqa_in_the_middle_of_the_file():
    code = src(BUGGY.format(comment="")) + "\n# bplint: noqa: BP001\n"
    assert codes_found(code, [BP001]) == []


# --- BP900 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x = 1  # noqa: BP001", "Unused `noqa` directive (unused: BP001)"),
        ("x = 1  # noqa: BP01", "Unused `noqa` directive (unknown: BP01)"),  # a typo
        ("x = 1  # noqa: BP999", "Unused `noqa` directive (unknown: BP999)"),
        ("x = 1  # noqa: BP001, BP999, E501", "(unused: BP001; unknown: BP999)"),
        ("x = 1  # noqa: inverse-in-backward", "(unused: inverse-in-backward)"),
        ("x = 1  # noqa", None),
        ("x = 1  # noqa: E501, F401", None),
        ("x = 1  # noqa: BP001, BP900", None),
        ("x = 1  # noqa: BP001, unused-noqa", None),
        ("# bplint: noqa: BP002", "Unused `bplint: noqa` directive (unused: BP002)"),
        ("# bplint: noqa", None),
    ],
)
def test_unused_noqa(line, message):
    code = src(BUGGY.format(comment="")) + line + "\n"
    report = lint_source(code, Path("net.py"), ALL_RULES)
    bp900 = [f for f in report.findings if f.code == "BP900"]
    if message is None:
        assert bp900 == []
    else:
        assert len(bp900) == 1 and message in bp900[0].message
        assert bp900[0].start.line == 5 and bp900[0].kb == "" and bp900[0].check == ""
        assert bp900[0].fix is not None and bp900[0].fix.safety.value == "safe"


def test_used_noqa_is_not_reported_and_non_enabled_is():
    code = src(BUGGY.format(comment="  # noqa: BP001, BP002"))
    report = lint_source(code, Path("net.py"), ALL_RULES)
    assert [(f.code, f.message) for f in report.findings] == [
        ("BP900", "Unused `noqa` directive (unused: BP002)")
    ]
    only = [r for r in ALL_RULES if r.code in ("BP001", "BP900")]
    report = lint_source(code, Path("net.py"), only)
    assert [f.message for f in report.findings] == ["Unused `noqa` directive (non-enabled: BP002)"]


def test_bp900_can_be_ignored_and_is_not_run_without_selection(tmp_path):
    (tmp_path / "net.py").write_text("import numpy as np\nx = 1  # noqa: BP001\n")
    r = bplint("check", "net.py", cwd=tmp_path)
    assert r.returncode == 1 and "BP900" in r.stdout
    assert bplint("check", "--ignore", "BP900", "net.py", cwd=tmp_path).returncode == 0
    assert bplint("check", "--select", "BP0", "net.py", cwd=tmp_path).returncode == 0
    assert bplint("check", "--select", "BP9", "net.py", cwd=tmp_path).returncode == 1


def test_unused_noqa_found_in_files_the_prefilter_would_skip(tmp_path):
    # no backprop words at all: only the suppression can be wrong
    (tmp_path / "util.py").write_text("def f():\n    return 1  # noqa: BP001\n")
    r = bplint("check", "util.py", cwd=tmp_path)
    assert r.returncode == 1 and "util.py:2:15: BP900" in r.stdout


# --- ruff coexistence ----------------------------------------------------------------------

RUFF_CLEAN = """
import numpy as np


def sigmoid_prime(z):
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s)


def backprop(W2, delta2, z1):
    return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)  # noqa: BP001 orthogonal W2
"""


def _ruff() -> str:
    exe = Path(sys.executable).parent / "ruff"
    found = str(exe) if exe.exists() else shutil.which("ruff")
    if not found:
        pytest.skip("ruff is not installed")
    return found


def _run_ruff(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_ruff(), "check", "--no-cache", "--output-format", "concise", *args, "net.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ruff_with_external_bp_leaves_our_noqa_alone(tmp_path):
    net = tmp_path / "net.py"
    net.write_text(RUFF_CLEAN.lstrip())
    # the comment is used by bplint ...
    assert bplint("check", "net.py", cwd=tmp_path).returncode == 0
    # ... without `external`, ruff calls BP001 an invalid code and its fix would delete it
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff.lint]\nextend-select = ["RUF100", "RUF102"]\n'
    )
    r = _run_ruff(tmp_path)
    assert r.returncode == 1 and "BP001" in r.stdout, r.stdout
    # ... with the documented setting, ruff reports nothing and its --fix changes nothing
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff.lint]\nextend-select = ["RUF100", "RUF102"]\nexternal = ["BP"]\n'
    )
    r = _run_ruff(tmp_path)
    assert r.returncode == 0, r.stdout
    assert "RUF100" not in r.stdout and "RUF102" not in r.stdout
    before = net.read_bytes()
    r = _run_ruff(tmp_path, "--fix")
    assert r.returncode == 0 and net.read_bytes() == before
