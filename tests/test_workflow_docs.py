"""The workflow pages in docs/guide/ say true things: their examples are parsed and run.

- TOML blocks parse, and their ``[tool.bplint]`` tables pass bplint's own config validation;
- YAML blocks parse; pre-commit configs name hooks that exist, GitHub workflows call bplint
  with arguments bplint accepts;
- every ``$ bplint ...`` command runs (in a copy of the example project built from the pages'
  ``title="..."`` Python blocks) without a usage error;
- every output block marked ``<!-- output: bplint ... -->`` is exactly what bplint prints.

After an intended change of output, regenerate the marked blocks with
``python tests/test_workflow_docs.py --update``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$",
    re.MULTILINE | re.DOTALL,
)
OUTPUT_MARK = re.compile(r"<!-- output: (?P<cmd>.+?) -->\s*$")
EXPECTED_PAGES = {
    "getting-started",
    "pre-commit",
    "ci",
    "configuration",
    "suppressions",
    "output-formats",
    "code-review",
}


@dataclass(frozen=True)
class Block:
    page: str
    lang: str
    title: str | None
    body: str
    output_of: str | None  # the command whose output this block shows
    start: int  # offsets of the body in the page text, for --update
    end: int

    @property
    def id(self) -> str:
        return f"{self.page}:{self.lang}:{self.title or self.output_of or self.body[:30]!r}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = OUTPUT_MARK.match(before.strip())
        title = re.search(r'title="([^"]+)"', m.group("attrs"))
        out.append(
            Block(
                page=page.stem,
                lang=m.group("lang"),
                title=title.group(1) if title else None,
                body=m.group("body"),
                output_of=mark.group("cmd") if mark else None,
                start=m.start("body"),
                end=m.end("body"),
            )
        )
    return out


PAGES = sorted(GUIDE.glob("*.md"))
ALL = [b for p in PAGES for b in blocks(p)]


def of(lang: str) -> list:
    return [pytest.param(b, id=b.id) for b in ALL if b.lang == lang]


def example_files() -> dict[str, str]:
    """The files the pages show with a title (``net.py``, ``stale.py``): the example project."""
    return {b.title: b.body for b in ALL if b.lang == "python" and b.title}


def project(tmp_path: Path) -> Path:
    for name, body in example_files().items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


def run_bplint(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "linter.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def bplint_argv(command: str) -> list[str] | None:
    """The arguments of a ``bplint ...`` shell command (redirections and pipes dropped)."""
    words = shlex.split(command, comments=True)
    if not words or words[0] != "bplint":
        return None
    argv = []
    for w in words[1:]:
        if w in (">", ">>", "|", "&&", ";") or w.startswith((">", "|")):
            break
        argv.append(w)
    return argv


def test_the_expected_pages_exist():
    assert EXPECTED_PAGES <= {p.stem for p in PAGES}
    for page in PAGES:
        assert page.read_text(encoding="utf-8").startswith("---\ntitle: "), page.name


@pytest.mark.parametrize("block", of("toml"))
def test_toml_examples_are_valid_config(block, tmp_path):
    from linter.config import settings_from_table

    data = tomllib.loads(block.body)
    tool = data.get("tool", {})
    assert tool, "a TOML example configures a tool"
    if "bplint" in tool:
        settings = settings_from_table(tool["bplint"], tmp_path / "pyproject.toml", tmp_path)
        assert settings.source == tmp_path / "pyproject.toml"
    if "ruff" in tool:
        assert tool["ruff"]["lint"]["external"] == ["BP"]


def _hook_ids() -> set[str]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {h["id"] for h in hooks}


@pytest.mark.parametrize("block", of("yaml"))
def test_yaml_examples(block):
    from linter.cli import build_parser

    data = yaml.safe_load(block.body)
    parser = build_parser()
    if "repos" in data:  # a .pre-commit-config.yaml
        hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
        entries = {h["id"]: h["entry"] for h in hooks}
        for repo in data["repos"]:
            assert repo["repo"].endswith("/bplint") and repo["rev"]
            for hook in repo["hooks"]:
                assert hook["id"] in _hook_ids()
                argv = shlex.split(entries[hook["id"]])[1:] + hook.get("args", []) + ["x.py"]
                parser.parse_args(argv)  # exits (SystemExit) on an argument bplint rejects
        return
    assert "jobs" in data, f"{block.id}: neither a pre-commit config nor a workflow"
    on = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as True
    assert on is not None
    calls = 0
    for job in data["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                argv = bplint_argv(line)
                if argv is not None:
                    parser.parse_args(argv)
                    calls += 1
    assert calls, f"{block.id}: the workflow never runs bplint"


def _console_commands() -> list:
    out = []
    for b in ALL:
        if b.lang != "console":
            continue
        for line in b.body.splitlines():
            if line.startswith("$ "):
                argv = bplint_argv(line[2:])
                if argv is not None:
                    out.append(pytest.param(argv, id=f"{b.page}: {line[2:]}"))
    return out


@pytest.mark.parametrize("argv", _console_commands())
def test_documented_commands_run(argv, tmp_path):
    r = run_bplint(argv, project(tmp_path))
    assert r.returncode in (0, 1), f"bplint {shlex.join(argv)}: {r.returncode}\n{r.stderr}"
    assert "Traceback" not in r.stderr
    assert "error:" not in r.stderr


def _outputs() -> list:
    return [pytest.param(b, id=b.id) for b in ALL if b.output_of]


def _run_marked(block: Block, cwd: Path) -> str:
    argv = bplint_argv(block.output_of or "")
    assert argv is not None, f"{block.id}: the output mark must be a bplint command"
    r = run_bplint(argv, cwd)
    assert r.returncode in (0, 1), r.stderr
    return r.stdout


@pytest.mark.parametrize("block", _outputs())
def test_documented_output_is_real(block, tmp_path):
    got = _run_marked(block, project(tmp_path))
    assert got == block.body, (
        f"{block.id}: the page shows output bplint no longer prints; if the change is intended, "
        "run `python tests/test_workflow_docs.py --update`"
    )


def test_python_examples_parse_and_their_suppressions_are_read():
    from linter.suppress import scan

    seen = 0
    for b in ALL:
        if b.lang != "python":
            continue
        ast.parse(b.body)
        for noqa in scan(b.body).all():
            if noqa.codes:
                assert all(re.match(r"^BP\d{3}$|^[A-Z]+\d+$", c) for c in noqa.codes), noqa
                seen += 1
    assert seen >= 4


def test_ci_sarif_rule_excerpt_matches_real_output(tmp_path):
    page = GUIDE / "ci.md"
    excerpt = next(json.loads(b.body) for b in blocks(page) if b.lang == "json")
    r = run_bplint(["check", "--output-format", "sarif", "--exit-zero", "."], project(tmp_path))
    rules = json.loads(r.stdout)["runs"][0]["tool"]["driver"]["rules"]
    real = next(rule for rule in rules if rule["id"] == excerpt["id"])

    def subset(part, whole, where="rule"):
        if isinstance(part, dict):
            assert isinstance(whole, dict), where
            for key, value in part.items():
                assert key in whole, f"{where}.{key} missing"
                subset(value, whole[key], f"{where}.{key}")
        else:
            assert part == whole, f"{where}: page says {part!r}, bplint says {whole!r}"

    subset(excerpt, real)


CONFIG_ERRORS = {
    'selct = ["BP"]': "bplint: error: pyproject.toml: [tool.bplint] selct: unknown key",
    'ignore = ["BP999"]': (
        "bplint: error: pyproject.toml: [tool.bplint] ignore: unknown rule code or name 'BP999'"
    ),
    'per-file-ignores = { "tests/*" = "BP001" }': (
        "bplint: error: pyproject.toml: [tool.bplint] per-file-ignores.tests/*: "
        "must be a list of strings"
    ),
    'output-format = "xml"': (
        "bplint: error: pyproject.toml: [tool.bplint] output-format: must be one of concise, "
        "full, json, json-lines, sarif, github, markdown"
    ),
}


@pytest.mark.parametrize("body", list(CONFIG_ERRORS))
def test_documented_config_errors_are_real(body, tmp_path):
    page = (GUIDE / "configuration.md").read_text(encoding="utf-8")
    expected = CONFIG_ERRORS[body]
    assert expected in page
    (tmp_path / "pyproject.toml").write_text(f"[tool.bplint]\n{body}\n", encoding="utf-8")
    (tmp_path / "net.py").write_text("import numpy as np\n", encoding="utf-8")
    r = run_bplint(["check", "."], tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == expected


def test_documented_toml_syntax_error_is_real(tmp_path):
    page = (GUIDE / "configuration.md").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.bplint\n", encoding="utf-8")
    r = run_bplint(["check", "."], tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() in page


def test_hooks_documented_match_the_hooks_file():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    page = (GUIDE / "pre-commit.md").read_text(encoding="utf-8")
    for hook in hooks:
        assert f"| `{hook['id']}` | `{hook['entry']}` |" in page


def update() -> None:
    """Rewrite every marked output block with what bplint prints now."""
    import tempfile

    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in reversed(blocks(page)):
            if not block.output_of:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                got = _run_marked(block, project(Path(tmp)))
            text = text[: block.start] + got + text[block.end :]
        page.write_text(text, encoding="utf-8")
        print(f"updated {page.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        print(__doc__)
