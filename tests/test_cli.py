"""The CLI end to end, through the installed entry point, on files in a temp dir."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_helpers import bplint

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
    assert bplint("explain", "qwxzv-vzxqw", cwd=tmp_path).returncode == 2  # no entry has it


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


# --- configuration: every key, closest file, errors ------------------------------------------

OFF_WORDS = "import numpy as np\n"


def _codes(r: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.split(": ", 2)[1].split()[0] for line in r.stdout.splitlines() if ": BP" in line]


def test_config_extend_select_and_select_by_name(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY + "x = 1  # noqa: BP002\n")
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nselect = ["BP0"]\n')
    assert _codes(bplint("check", ".", cwd=tmp_path)) == ["BP001"]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bplint]\nselect = ["BP0"]\nextend-select = ["unused-noqa"]\n'
    )
    assert _codes(bplint("check", ".", cwd=tmp_path)) == ["BP001", "BP900"]


def test_config_per_file_ignores_globs(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bplint]\nper-file-ignores = { "tests/*" = ["BP001"], "legacy_*.py" = ["BP0"] }\n'
    )
    for rel in ("tests/unit/test_net.py", "pkg/legacy_net.py", "pkg/net.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(BUGGY)
    r = bplint("check", ".", cwd=tmp_path)
    assert r.stdout.splitlines()[0].startswith("pkg/net.py:4:13: BP001")
    assert "tests/" not in r.stdout and "legacy" not in r.stdout


def test_config_exclude_replaces_the_defaults(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "net.py").write_text(BUGGY)
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "net.py").write_text(BUGGY)
    assert "gen/net.py" in bplint("check", ".", cwd=tmp_path).stdout
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nexclude = ["gen"]\n')
    r = bplint("check", ".", cwd=tmp_path)
    assert "build/net.py" in r.stdout and "gen/net.py" not in r.stdout


def test_named_folder_is_entered_even_if_excluded(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "net.py").write_text(BUGGY)
    assert bplint("check", ".", cwd=tmp_path).returncode == 0
    r = bplint("check", "build", cwd=tmp_path)
    assert r.returncode == 1 and "build/net.py:4:13: BP001" in r.stdout
    r = bplint("check", "--force-exclude", "build", cwd=tmp_path)
    assert r.returncode == 0 and "every file given was excluded" in r.stderr


def test_force_exclude_for_files_named_on_the_command_line(tmp_path):
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "net.py").write_text(BUGGY)
    (tmp_path / "net.py").write_text(CLEAN)
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nextend-exclude = ["gen"]\n')
    # named explicitly: linted, as in ruff ...
    assert bplint("check", "gen/net.py", cwd=tmp_path).returncode == 1
    # ... unless force-exclude (the pre-commit hooks pass it)
    r = bplint("check", "--force-exclude", "gen/net.py", "net.py", cwd=tmp_path)
    assert r.returncode == 0 and "warning" not in r.stderr
    r = bplint("check", "--force-exclude", "gen/net.py", cwd=tmp_path)
    assert r.returncode == 0
    assert "bplint: warning: every file given was excluded; nothing was linted" in r.stderr
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bplint]\nextend-exclude = ["gen"]\nforce-exclude = true\n'
    )
    assert bplint("check", "gen/net.py", cwd=tmp_path).returncode == 0
    assert bplint("check", "--no-force-exclude", "gen/net.py", cwd=tmp_path).returncode == 1


def test_config_output_format_and_kb_url(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bplint]\noutput-format = "json-lines"\nkb-url = "https://kb.example/team"\n'
    )
    r = bplint("check", "net.py", cwd=tmp_path)
    finding = json.loads(r.stdout.splitlines()[0])
    assert finding["kb_url"] == "https://kb.example/team/kb/transpose-is-not-inverse/"
    assert finding["rule_url"] == "https://kb.example/team/rules/BP001/"
    r = bplint("check", "--output-format", "concise", "net.py", cwd=tmp_path)
    assert "= kb: https://kb.example/team/kb/transpose-is-not-inverse/" in r.stdout


def test_config_file_flag_applies_one_file_everywhere(tmp_path):
    (tmp_path / "cfg.toml").write_text('[tool.bplint]\nignore = ["BP001"]\n')
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nselect = ["BP"]\n')
    (tmp_path / "net.py").write_text(BUGGY)
    assert bplint("check", ".", cwd=tmp_path).returncode == 1
    assert bplint("check", "--config", "cfg.toml", ".", cwd=tmp_path).returncode == 0
    r = bplint("check", "--config", "nope.toml", ".", cwd=tmp_path)
    assert r.returncode == 2 and "--config: no such file" in r.stderr


def test_a_pyproject_without_tool_bplint_is_skipped_upward(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nignore = ["BP001"]\n')
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "pkg"\n')
    (sub / "net.py").write_text(BUGGY)
    assert bplint("check", ".", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('[tool.bplint]\nextend-select = ["NOPE1"]\n', "extend-select: unknown rule code"),
        ('[tool.bplint]\nper-file-ignores = ["x"]\n', "per-file-ignores: must be a table"),
        ('[tool.bplint]\nper-file-ignores = { "a/*" = ["BP777"] }\n', "per-file-ignores.a/*"),
        ('[tool.bplint]\nexclude = "build"\n', "exclude: must be a list of strings"),
        ("[tool.bplint]\nextend-exclude = [1]\n", "extend-exclude: must be a list of strings"),
        ('[tool.bplint]\nforce-exclude = "yes"\n', "force-exclude: must be true or false"),
        ('[tool.bplint]\noutput-format = "xml"\n', "output-format: must be one of"),
        ('[tool.bplint]\nkb-url = "ftp://x"\n', "kb-url: must be an http(s) URL"),
        ('[tool.bplint]\nextend_select = ["BP"]\n', "did you mean 'extend-select'"),
        ("[tool]\nbplint = 3\n", "[tool.bplint] must be a table"),
        (b"[tool.bplint]\nselect = ['\xff']\n", "is not valid UTF-8"),
    ],
)
def test_every_config_error_names_file_and_key(tmp_path, toml, fragment):
    path = tmp_path / "pyproject.toml"
    path.write_bytes(toml if isinstance(toml, bytes) else toml.encode())
    (tmp_path / "net.py").write_text(BUGGY)
    for args in (("check", "."), ("rules",), ("check", "--fix", ".")):
        r = bplint(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stdout)
        assert r.stderr.startswith("bplint: error: pyproject.toml: ") and fragment in r.stderr
        assert "Traceback" not in r.stderr
    assert (tmp_path / "net.py").read_text() == BUGGY


def test_bad_kb_url_flag_is_a_usage_error(tmp_path):
    r = bplint("check", "--kb-url", "kb.example", ".", cwd=tmp_path)
    assert r.returncode == 2 and "--kb-url: must be an http(s) URL" in r.stderr


# --- rules / explain / verify with kb-url and meta rules -------------------------------------


def test_rules_json_index_honours_kb_url(tmp_path):
    r = bplint("rules", "--output-format", "json", "--kb-url", "https://kb.example/a", cwd=tmp_path)
    rules = {entry["code"]: entry for entry in json.loads(r.stdout)}
    assert rules["BP001"]["kb_url"] == "https://kb.example/a/kb/transpose-is-not-inverse/"
    assert rules["BP001"]["rule_url"] == "https://kb.example/a/rules/BP001/"
    assert rules["BP001"]["fix"] == "unsafe" and rules["BP001"]["default"] == "on"
    assert rules["BP900"]["kb_url"] is None and rules["BP900"]["check"] is None
    assert rules["BP900"]["fix"] == "safe"
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nkb-url = "https://kb.example/b/"\n')
    r = bplint("rules", "--output-format", "json", cwd=tmp_path)
    assert json.loads(r.stdout)[0]["rule_url"].startswith("https://kb.example/b/rules/")
    r = bplint("rules", cwd=tmp_path)
    assert "https://kb.example/b/rules/BP001/" in r.stdout
    r = bplint("explain", "BP001", cwd=tmp_path)
    assert "KB entry:  https://kb.example/b/kb/transpose-is-not-inverse/" in r.stdout


def test_meta_rule_has_no_kb_entry_and_no_numeric_test(tmp_path):
    r = bplint("explain", "unused-noqa", cwd=tmp_path)
    assert r.returncode == 0 and "no KB entry and no numeric test" in r.stdout
    assert "rules/BP900/" in r.stdout and "kb/" not in r.stdout.replace("rules/", "")
    r = bplint("verify", "BP900", cwd=tmp_path)
    assert r.returncode == 2 and "has no numeric test" in r.stderr


# --- the lint path stays lean ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--output-format", "concise"],
        ["--output-format", "full"],
        ["--output-format", "sarif"],
        ["--output-format", "github"],
        ["--output-format", "markdown"],
        ["--statistics"],
        ["--diff", "--unsafe-fixes"],
    ],
)
def test_check_imports_no_numpy_pydantic_or_mkdocs(tmp_path, args):
    (tmp_path / "net.py").write_text(BUGGY)
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    notebook = {"cells": [{**cell, "source": BUGGY}], "metadata": {}, "nbformat": 4}
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook, indent=1))
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "linter.cli", "check", *args, "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if "|" in line}
    assert {"linter.engine", "linter.notebook", "libcst"} <= imported
    heavy = {m.split(".")[0] for m in imported} & {
        "numpy",
        "pydantic",
        "mkdocs",
        "yaml",
        "kb",
        "torch",
    }
    assert heavy == set(), heavy
