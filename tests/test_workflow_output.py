"""Output formats: SARIF (against the official schema), github, json-lines, markdown,
--statistics, --output-file, and terminal colours and links (tested through a real pty)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from linter.rules import ALL_RULES
from tests.cli_helpers import bplint

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
BUGGY = textwrap.dedent(
    """
    import numpy as np


    def backprop(W2, delta2, z1):
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)


    def update(W, grad, lr):
        return W - lr * grad  # noqa: BP002
    """
).lstrip()
OSC8 = "\x1b]8;;"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "net.py").write_text(BUGGY)
    sub = tmp_path / "dir with space,comma"
    sub.mkdir()
    (sub / "net.py").write_text(BUGGY)
    nb = new_notebook()
    nb.cells = [new_code_cell("import numpy as np"), new_code_cell(BUGGY.split("\n\n\n")[1])]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    (tmp_path / "broken.py").write_text("import numpy as np\ndef f(:\n")
    return tmp_path


# --- SARIF -----------------------------------------------------------------------------------


def test_sarif_is_valid_against_the_official_schema(project):
    r = bplint("check", "--output-format", "sarif", ".", cwd=project)
    assert r.returncode == 2  # broken.py
    log = json.loads(r.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert {res["ruleId"] for res in run["results"]} == {"BP001", "BP900"}
    note = run["invocations"][0]["toolExecutionNotifications"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.py"


def test_sarif_has_one_rule_entry_per_code_with_help_uri(project):
    r = bplint(
        "check",
        "--output-format",
        "sarif",
        "--kb-url",
        "https://kb.example/x",
        "net.py",
        cwd=project,
    )
    run = json.loads(r.stdout)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [r.code for r in ALL_RULES]
    for entry, rule in zip(rules, ALL_RULES, strict=True):
        assert entry["helpUri"] == f"https://kb.example/x/rules/{rule.code}/"
        assert entry["name"] == rule.name
        if rule.meta:
            assert "kb_url" not in entry["properties"]
        else:
            assert entry["properties"]["kb_url"] == f"https://kb.example/x/kb/{rule.kb}/"
            assert entry["properties"]["check"] == rule.check_name()
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    bp001 = next(res for res in run["results"] if res["ruleId"] == "BP001")
    loc = bp001["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "net.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 5, "startColumn": 13, "endLine": 5, "endColumn": 31}
    replacement = bp001["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "W2.T"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"


def test_sarif_uris_are_encoded_and_notebook_results_carry_the_cell(project):
    r = bplint("check", "--output-format", "sarif", "--exit-zero", ".", cwd=project)
    results = json.loads(r.stdout)["runs"][0]["results"]
    uris = {res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for res in results}
    assert "dir%20with%20space%2Ccomma/net.py" in uris
    nb = next(res for res in results if res["properties"].get("cell") is not None)
    assert nb["properties"]["cell"] == 1 and "fixes" not in nb
    assert nb["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_sarif_with_no_findings_is_valid(tmp_path):
    (tmp_path / "ok.py").write_text("import numpy as np\n")
    r = bplint("check", "--output-format", "sarif", ".", cwd=tmp_path)
    assert r.returncode == 0
    log = json.loads(r.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []


# --- github, json-lines, markdown ------------------------------------------------------------


def test_github_annotations_are_escaped(project):
    r = bplint("check", "--output-format", "github", "--exit-zero", ".", cwd=project)
    lines = r.stdout.splitlines()
    assert (
        "::error title=bplint (BP001),file=dir with space%2Ccomma/net.py,line=5,col=13,"
        "endLine=5,endColumn=31::dir with space,comma/net.py:5:13: BP001 "
    ) in r.stdout
    assert any(line.startswith("::warning title=bplint (BP900),file=net.py,") for line in lines)
    assert any(
        line.startswith("::error title=bplint (BP001),file=nb.ipynb::nb.ipynb:cell 2:line 2")
        for line in lines
    )
    assert any(
        line.startswith("::error title=bplint (cannot lint this file),file=broken.py,line=2")
        for line in lines
    )
    assert all(line.startswith("::") for line in lines)


def test_json_lines_match_json(project):
    full = json.loads(bplint("check", "--output-format", "json", ".", cwd=project).stdout)
    lines = bplint("check", "--output-format", "json-lines", ".", cwd=project).stdout
    assert [json.loads(line) for line in lines.splitlines()] == full
    bp900 = next(f for f in full if f["code"] == "BP900")
    assert bp900["kb_url"] is None and bp900["check"] is None
    assert bp900["rule_url"].endswith("/rules/BP900/")


def test_markdown_summary(project):
    r = bplint("check", "--output-format", "markdown", ".", cwd=project)
    md = r.stdout
    assert md.startswith("### bplint: 5 findings in 3 files, 1 file not linted\n")
    assert (
        "| [BP001](https://bplint.github.io/bplint/rules/BP001/) `inverse-in-backward` | 3 |" in md
    )
    assert "[Why](https://bplint.github.io/bplint/kb/transpose-is-not-inverse/)" in md
    assert "**Not linted:**" in md and "`broken.py:2:" in md
    for i in range(12):
        (project / f"more{i}.py").write_text(BUGGY)
    md = bplint("check", "--output-format", "markdown", ".", cwd=project).stdout
    assert "<details><summary>All 29 findings</summary>" in md
    clean = project / "clean"
    clean.mkdir()
    (clean / "ok.py").write_text("x = 1\n")
    assert bplint("check", "--output-format", "markdown", ".", cwd=clean).stdout == (
        "### bplint\n\nNo findings.\n"
    )


def test_statistics(project):
    r = bplint("check", "--statistics", "net.py", "dir with space,comma", cwd=project)
    assert r.stdout.startswith("2\tBP001\t[-] inverse-in-backward\n2\tBP900\t[*] unused-noqa\n")
    r = bplint("check", "--statistics", "--unsafe-fixes", "net.py", cwd=project)
    assert r.stdout.startswith("1\tBP001\t[*] inverse-in-backward\n")
    r = bplint("check", "--statistics", "--output-format", "json", "net.py", cwd=project)
    assert json.loads(r.stdout) == [
        {"code": "BP001", "name": "inverse-in-backward", "count": 1, "fixable": False},
        {"code": "BP900", "name": "unused-noqa", "count": 1, "fixable": True},
    ]


def test_output_file(project):
    r = bplint("check", "--output-format", "json", "-o", "out.json", "net.py", cwd=project)
    assert r.returncode == 1 and r.stdout == ""
    assert [f["code"] for f in json.loads((project / "out.json").read_text())] == [
        "BP001",
        "BP900",
    ]
    r = bplint("check", "-o", "missing-dir/out.txt", "net.py", cwd=project)
    assert r.returncode == 2 and "--output-file: cannot write" in r.stderr


def test_full_format_points_at_the_span(project):
    r = bplint("check", "--output-format", "full", "net.py", cwd=project)
    lines = r.stdout.splitlines()
    i = lines.index("5 |     return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)")
    assert lines[i + 1] == "  |             ^^^^^^^^^^^^^^^^^^ BP001"
    assert "  = fix (unsafe; applied only with --fix --unsafe-fixes; review the diff): " in r.stdout
    assert "  = test: transpose_is_not_inverse (run it: bplint verify BP001)" in lines


# --- terminal colours and links ------------------------------------------------------------


def run_in_pty(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run bplint with stdout on a pseudo-terminal; returns what the terminal received."""
    master, slave = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "linter.cli", *args],
        cwd=cwd,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**base, "TERM": "xterm-256color", **env},
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_codes_are_hyperlinks_on_a_terminal(project):
    out = run_in_pty(["check", "net.py"], project, {})
    assert f"{OSC8}https://bplint.github.io/bplint/rules/BP001/\x1b\\" in out
    assert "\x1b[1;31m" in out


def test_no_color_means_no_escapes(project):
    out = run_in_pty(["check", "net.py"], project, {"NO_COLOR": "1"})
    assert "BP001" in out and "\x1b" not in out
    out = run_in_pty(["check", "net.py"], project, {"TERM": "dumb"})
    assert "BP001" in out and "\x1b" not in out


def test_never_in_pipes_or_files(project):
    r = bplint("check", "--output-format", "full", "net.py", cwd=project)
    assert "BP001" in r.stdout and "\x1b" not in r.stdout
    out = run_in_pty(["check", "-o", "report.txt", "net.py"], project, {})
    assert "\x1b" not in (project / "report.txt").read_text()
    assert "\x1b" not in out
