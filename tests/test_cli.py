"""The CLI end to end, through the installed entry point, on files in a temp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BUGGY = textwrap.dedent(
    """
    import numpy as np

    def backprop(W2, delta2, z1):
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
    """
).lstrip()
CLEAN = textwrap.dedent(
    """
    import numpy as np

    def backprop(W2, delta2, z1):
        return (W2.T @ delta2) * sigmoid_prime(z1)
    """
).lstrip()


def bplint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run(
        [sys.executable, "-m", "linter.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_clean_file_exits_0(tmp_path):
    (tmp_path / "net.py").write_text(CLEAN)
    r = bplint("check", "net.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "All checks passed" in r.stdout


def test_finding_exits_1_with_location_link_and_check(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    r = bplint("check", "net.py", cwd=tmp_path)
    assert r.returncode == 1
    first, second = r.stdout.splitlines()[:2]
    assert first.startswith("net.py:4:13: BP001 ")
    assert "https://bplint.github.io/bplint/kb/transpose-is-not-inverse/" in second
    assert "transpose_is_not_inverse" in second and "bplint verify BP001" in second
    assert "Traceback" not in r.stderr


def test_bare_path_means_check_and_exit_zero_flag(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    assert bplint("net.py", cwd=tmp_path).returncode == 1
    assert bplint("check", "--exit-zero", "net.py", cwd=tmp_path).returncode == 0


def test_json_output(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    r = bplint(
        "check", "--output-format", "json", "--kb-url", "https://kb.example/x", ".", cwd=tmp_path
    )
    data = json.loads(r.stdout)
    assert len(data) == 1
    f = data[0]
    assert (f["code"], f["name"], f["line"], f["column"]) == ("BP001", "inverse-in-backward", 4, 13)
    assert (f["end_line"], f["end_column"]) == (4, 31)
    assert f["kb_url"] == "https://kb.example/x/kb/transpose-is-not-inverse/"
    assert f["check"] == "transpose_is_not_inverse"
    assert f["path"] == "net.py"


def test_syntax_error_is_reported_and_other_files_still_linted(tmp_path):
    (tmp_path / "broken.py").write_text("import numpy as np\ndef f(:\n    pass\n")
    (tmp_path / "net.py").write_text(BUGGY)
    r = bplint("check", ".", cwd=tmp_path)
    assert r.returncode == 2
    assert "broken.py:2:" in r.stderr and "syntax error" in r.stderr
    assert "net.py:4:13: BP001" in r.stdout
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x00\x01numpy binary", "binary file"),
        (b"import numpy\nx = '\xff\xfe'\n", "not valid UTF-8"),
    ],
)
def test_unreadable_files_get_a_clear_error(tmp_path, content, fragment):
    (tmp_path / "bad.py").write_bytes(content)
    r = bplint("check", "bad.py", cwd=tmp_path)
    assert r.returncode == 2
    assert f"bad.py: error: {fragment}" in r.stderr or fragment in r.stderr
    assert "Traceback" not in r.stderr


def test_huge_file_is_refused_not_parsed(tmp_path):
    (tmp_path / "huge.py").write_text("import numpy as np\n" + "x = 1\n" * 800_000)
    r = bplint("check", "huge.py", cwd=tmp_path)
    assert r.returncode == 2 and "too large" in r.stderr


def test_noqa_suppresses_specific_and_bare(tmp_path):
    (tmp_path / "a.py").write_text(
        BUGGY.replace("sigmoid_prime(z1)", "sigmoid_prime(z1)  # noqa: BP001")
    )
    (tmp_path / "b.py").write_text(BUGGY.replace("sigmoid_prime(z1)", "sigmoid_prime(z1)  # noqa"))
    (tmp_path / "c.py").write_text(
        BUGGY.replace("sigmoid_prime(z1)", "sigmoid_prime(z1)  # noqa: BP002")
    )
    r = bplint("check", ".", cwd=tmp_path)
    assert r.returncode == 1
    assert "c.py:4:13: BP001" in r.stdout
    assert "a.py" not in r.stdout and "b.py" not in r.stdout


def test_config_select_ignore_exclude(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nignore = ["BP001"]\n')
    (tmp_path / "net.py").write_text(BUGGY)
    assert bplint("check", ".", cwd=tmp_path).returncode == 0
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nextend-exclude = ["gen"]\n')
    (tmp_path / "net.py").write_text(CLEAN)
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "x.py").write_text(BUGGY)
    assert bplint("check", ".", cwd=tmp_path).returncode == 0


def test_default_excludes(tmp_path):
    for d in (".venv", "build", "node_modules", ".git"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "net.py").write_text(BUGGY)
    r = bplint("check", ".", cwd=tmp_path)
    assert r.returncode == 0, r.stdout


def test_closest_config_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nignore = ["BP001"]\n')
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[tool.bplint]\nselect = ["BP"]\n')
    (sub / "net.py").write_text(BUGGY)
    (tmp_path / "top.py").write_text(BUGGY)
    r = bplint("check", ".", cwd=tmp_path)
    assert "pkg/net.py:4:13: BP001" in r.stdout
    assert "top.py" not in r.stdout


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('[tool.bplint]\nselct = ["BP"]\n', "selct: unknown key"),
        ('[tool.bplint]\nselect = "BP"\n', "select: must be a list"),
        ('[tool.bplint]\nignore = ["BP999"]\n', "unknown rule code or name 'BP999'"),
        ("[tool.bplint\n", "not valid TOML"),
    ],
)
def test_config_errors_name_file_and_key_and_exit_2(tmp_path, toml, fragment):
    (tmp_path / "pyproject.toml").write_text(toml)
    (tmp_path / "net.py").write_text(BUGGY)
    r = bplint("check", ".", cwd=tmp_path)
    assert r.returncode == 2
    assert "pyproject.toml" in r.stderr and fragment in r.stderr
    assert "Traceback" not in r.stderr


def test_usage_errors_exit_2(tmp_path):
    assert bplint("check", "missing.py", cwd=tmp_path).returncode == 2
    assert bplint("check", "--select", "XYZ", ".", cwd=tmp_path).returncode == 2
    assert bplint("explain", "no-such-thing", cwd=tmp_path).returncode == 2


def test_rules_explain_verify(tmp_path):
    r = bplint("rules", cwd=tmp_path)
    assert r.returncode == 0 and "BP001" in r.stdout and "inverse-in-backward" in r.stdout
    rules = json.loads(bplint("rules", "--output-format", "json", cwd=tmp_path).stdout)
    assert {"code", "name", "summary", "kb_url", "check", "fix", "default"} <= set(rules[0])
    r = bplint("explain", "inverse-in-backward", cwd=tmp_path)
    assert r.returncode == 0 and "transpose" in r.stdout and "bplint verify BP001" in r.stdout
    r = bplint("explain", "transpose-is-not-inverse", cwd=tmp_path)
    assert r.returncode == 0 and "Q:" in r.stdout and "BP001" in r.stdout
    r = bplint("verify", "BP001", cwd=tmp_path)
    assert r.returncode == 0 and "PASS" in r.stdout and "< 1e-07" in r.stdout


def test_bundled_example_is_found():
    root = Path(__file__).resolve().parent.parent
    r = bplint("check", "linter/examples/", cwd=root)
    assert r.returncode == 1
    assert "BP001" in r.stdout and "BP002" in r.stdout
