"""Start-up stays lean: a run imports libcst, the analysis and a rule only when a file needs them.

The rule index (``linter.rule_index``) gives selection and the pre-filter every rule's code,
name, default and markers without importing the rules; it must always say what the rules say.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linter import prefilter, rule_index
from linter.rules import ALL_RULES

ROOT = Path(__file__).resolve().parents[1]

BUGGY = textwrap.dedent(
    """
    import numpy as np

    def backward(W2, delta2):
        return np.dot(np.linalg.inv(W2), delta2)
    """
)
NO_RULE = "import os\n\n\ndef size(path):\n    return os.path.getsize(path) + 1\n"


def test_the_index_says_what_the_rules_say():
    assert rule_index.rules() == tuple(rule_index.info_of(r) for r in ALL_RULES)
    for info, rule in zip(rule_index.rules(), ALL_RULES, strict=True):
        assert info.load() is rule
        assert prefilter.markers_of(info) == prefilter.markers_of(rule)


def test_a_missing_stale_damaged_or_unwritable_index_is_rebuilt(tmp_path, monkeypatch):
    expected = tuple(rule_index.info_of(r) for r in ALL_RULES)

    def fresh(file: Path) -> tuple[rule_index.RuleInfo, ...]:
        monkeypatch.setattr(rule_index, "FILE", file)
        monkeypatch.setattr(rule_index, "_RULES", None)
        return rule_index.rules()

    file = tmp_path / "cache" / "index.json"
    assert fresh(file) == expected  # missing: built and written
    data = json.loads(file.read_text())
    assert len(data["rules"]) == len(ALL_RULES)
    assert fresh(file) == expected  # read back
    data["rules"] = data["rules"][1:]
    data["key"] = "another build of bplint"
    file.write_text(json.dumps(data))
    assert fresh(file) == expected  # stale: rebuilt
    assert json.loads(file.read_text())["key"] != "another build of bplint"
    file.write_text('{"key": ')
    assert fresh(file) == expected  # damaged
    (tmp_path / "a-file").write_text("")
    assert fresh(tmp_path / "a-file" / "index.json") == expected  # cannot be written


def _modules_after_check(cwd: Path, *args: str) -> tuple[int, set[str]]:
    """Exit code of ``bplint check ARGS`` in a fresh interpreter, and every module it imported."""
    out = cwd.parent / f"{cwd.name}-modules.json"
    script = textwrap.dedent(
        f"""
        import json, sys
        from linter.cli import main
        try:
            code = main(["check", *{list(args)!r}])
        except SystemExit as exc:
            code = exc.code
        with open({str(out)!r}, "w") as fh:
            json.dump({{"code": code, "modules": sorted(sys.modules)}}, fh)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    data = json.loads(out.read_text())
    return data["code"], set(data["modules"])


def _rules_in(modules: set[str]) -> set[str]:
    return {m for m in modules if m.count(".") == 3 and m.startswith("linter.rules.bp")}


@pytest.fixture(scope="module", autouse=True)
def _index_built():
    rule_index.rules()  # a run after a change to bplint's sources builds it once


def test_a_file_no_rule_can_flag_loads_neither_libcst_nor_any_rule(tmp_path):
    (tmp_path / "util.py").write_text(NO_RULE)
    code, modules = _modules_after_check(tmp_path, "--no-cache", "util.py")
    assert code == 0
    assert "libcst" not in modules
    assert "linter.analysis" not in modules
    assert _rules_in(modules) == set()


def test_a_file_a_rule_can_flag_is_linted_by_every_selected_rule(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    code, modules = _modules_after_check(tmp_path, "--no-cache", "net.py")
    assert code == 1
    selected = {r.module for r in rule_index.rules() if r.default_enabled and r.code != "BP900"}
    assert _rules_in(modules) - {"linter.rules.bp9_meta.unused_noqa"} == selected


def test_a_cache_hit_loads_neither_libcst_nor_any_rule(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    first, _ = _modules_after_check(tmp_path, "net.py")
    code, modules = _modules_after_check(tmp_path, "net.py")
    assert first == code == 1
    assert "libcst" not in modules
    assert "linter.engine" not in modules
    assert _rules_in(modules) == set()


def test_a_syntax_error_in_a_file_no_rule_can_flag_is_still_reported(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    return 1\n")
    code, modules = _modules_after_check(tmp_path, "--no-cache", "broken.py")
    assert code == 2
    assert "libcst" not in modules  # CPython's compiler says so, without libcst's parser


def test_the_command_leaves_what_it_kept_out_of_the_exit_collections(tmp_path, monkeypatch):
    """Run as the command (``argv`` from ``sys.argv``), ``main`` freezes what is alive before
    the process ends, so CPython's exit collections skip the kept trees and models; called with
    arguments (as a library or a test does) it leaves the collector alone."""
    import gc

    from linter import cli

    (tmp_path / "net.py").write_text(BUGGY)
    monkeypatch.chdir(tmp_path)
    gc.unfreeze()
    try:
        assert cli.main(["check", "--no-cache", "-q", "net.py"]) == 1
        assert gc.get_freeze_count() == 0
        monkeypatch.setattr(sys, "argv", ["bplint", "check", "--no-cache", "-q", "net.py"])
        assert cli.main() == 1
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
