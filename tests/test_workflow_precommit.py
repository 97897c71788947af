"""The real pre-commit, on this checkout's hooks, in a throw-away git repository.

The hook repository is a fresh git repo holding this working tree's package (pre-commit installs
it with pip into its own environment, so libcst/pydantic/numpy come from the package index).
The project repository stages a buggy file, a file with a stale suppression and an excluded
file; the lint hook must fail with the finding and its KB link, the fix hook must apply the
safe fix (and the unsafe one when asked), and afterwards the lint hook must pass.

This takes about a minute (the hook environment is installed once per run). Set
``BPLINT_PRECOMMIT_LOG`` to a file name to keep the hooks' output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
PACKAGE = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "linter", "kb")

NET = textwrap.dedent(
    """
    import numpy as np


    def backprop(W2, delta2, z1):
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
    """
).lstrip()
STALE = "import numpy as np\n\nW = np.zeros((3, 3))  # noqa: BP002 kept from an old version\n"

pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists() and shutil.which("pre-commit") is None,
    reason="pre-commit is not installed",
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(
        PRE_COMMIT_HOME=str(home),
        PRE_COMMIT_COLOR="never",
        GIT_AUTHOR_NAME="bplint tests",
        GIT_AUTHOR_EMAIL="tests@bplint.invalid",
        GIT_COMMITTER_NAME="bplint tests",
        GIT_COMMITTER_EMAIL="tests@bplint.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        NO_COLOR="1",
    )
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    r = _run(["git", *args], cwd, env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _hook_repo(dest: Path, env: dict[str, str]) -> str:
    """A git repository with this working tree's package and hooks; returns its HEAD."""
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in PACKAGE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    _git(dest, env, "init", "-q")
    _git(dest, env, "add", "-A")
    _git(dest, env, "commit", "-q", "-m", "bplint hooks under test")
    return _git(dest, env, "rev-parse", "HEAD")


def _log(name: str, r: subprocess.CompletedProcess[str]) -> str:
    text = f"$ {name}  (exit {r.returncode})\n{r.stdout}{r.stderr}\n"
    target = os.environ.get("BPLINT_PRECOMMIT_LOG")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text)
    return text


def test_pre_commit_hooks_end_to_end(tmp_path):
    env = _env(tmp_path / "pre-commit-home")
    hooks = tmp_path / "bplint-hooks"
    rev = _hook_repo(hooks, env)
    pre_commit = str(PRE_COMMIT if PRE_COMMIT.exists() else shutil.which("pre-commit"))

    project = tmp_path / "project"
    project.mkdir()
    _git(project, env, "init", "-q")
    (project / "pyproject.toml").write_text('[tool.bplint]\nextend-exclude = ["generated"]\n')
    (project / "net.py").write_text(NET)
    (project / "stale.py").write_text(STALE)
    (project / "generated").mkdir()
    (project / "generated" / "net.py").write_text(NET)
    _git(project, env, "add", "-A")

    # 1. the lint hook fails with the finding and its KB link; excluded files stay excluded
    r = _run([pre_commit, "try-repo", str(hooks), "bplint", "--ref", rev], project, env)
    out = _log("pre-commit try-repo <bplint checkout> bplint", r)
    assert r.returncode == 1, out
    assert re.search(r"^bplint\.+Failed$", r.stdout, re.M), out
    assert "net.py:5:13: BP001 `np.linalg.pinv(W2)` inverts weight `W2`" in out
    assert "= kb: https://bplint.github.io/bplint/kb/transpose-is-not-inverse/" in out
    assert "stale.py:3:23: BP900 [*] Unused `noqa` directive (unused: BP002)" in out
    assert "generated/" not in out
    # the pre-commit page shows this very output
    page = (ROOT / "docs" / "guide" / "pre-commit.md").read_text(encoding="utf-8")
    shown = [line for line in page.splitlines() if line.startswith(("net.py:5", "  = kb:"))]
    assert shown and all(line in out for line in shown)

    # 2. the fix hook applies the safe fix only, and fails because it changed a file
    r = _run([pre_commit, "try-repo", str(hooks), "bplint-fix", "--ref", rev], project, env)
    out = _log("pre-commit try-repo <bplint checkout> bplint-fix", r)
    assert r.returncode == 1, out
    assert (project / "stale.py").read_text() == STALE.replace(
        "  # noqa: BP002 kept from an old version", ""
    )
    assert (project / "net.py").read_text() == NET  # BP001's fix is unsafe
    assert "net.py:5:13: BP001" in out

    # 3. with --unsafe-fixes in the hook's args (a real .pre-commit-config.yaml), BP001 is fixed
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n"
        "      - id: bplint-fix\n        args: [--unsafe-fixes]\n"
    )
    _git(project, env, "add", "-A")
    r = _run([pre_commit, "run", "bplint-fix"], project, env)
    out = _log("pre-commit run bplint-fix  (args: [--unsafe-fixes])", r)
    assert r.returncode == 1, out  # it changed net.py: pre-commit wants it staged
    assert "W2.T @ delta2" in (project / "net.py").read_text()
    assert (project / "generated" / "net.py").read_text() == NET  # excluded: never touched

    # 4. staged, the lint hook passes
    _git(project, env, "add", "-A")
    r = _run([pre_commit, "try-repo", str(hooks), "bplint", "--ref", rev], project, env)
    out = _log("pre-commit try-repo <bplint checkout> bplint  (after the fixes)", r)
    assert r.returncode == 0, out
    assert re.search(r"^bplint\.+Passed$", r.stdout, re.M), out
