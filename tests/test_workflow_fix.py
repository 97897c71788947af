"""Fixes: ruff's tiers, --diff, idempotence, atomic writes, and files that must not be harmed."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from linter.engine import FileReport, SourceError, lint_source, parse
from linter.fix import FixError, apply_edits, fix_text, write_atomic
from linter.ftypes import Edit, Finding, Fix, FixSafety, Pos
from linter.rules import ALL_RULES
from tests.cli_helpers import bplint

BUGGY = textwrap.dedent(
    """
    import numpy as np


    def backprop(W2, delta2, z1):
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)


    def update(W, grad, lr):
        return W - lr * grad  # noqa: BP002
    """
).lstrip()
SAFE_FIXED = BUGGY.replace("  # noqa: BP002", "")
ALL_FIXED = SAFE_FIXED.replace("np.linalg.pinv(W2)", "W2.T")


def test_fix_applies_safe_fixes_only(tmp_path):
    net = tmp_path / "net.py"
    net.write_text(BUGGY)
    r = bplint("check", "--fix", "net.py", cwd=tmp_path)
    assert net.read_text() == SAFE_FIXED
    assert r.returncode == 1  # BP001 is left: its fix is unsafe
    assert "net.py:5:13: BP001" in r.stdout and "BP900" not in r.stdout
    assert "Found 2 findings (1 fixed, 1 remaining)." in r.stdout
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option" in r.stdout


def test_unsafe_fixes_apply_the_rest(tmp_path):
    net = tmp_path / "net.py"
    net.write_text(BUGGY)
    r = bplint("check", "--fix", "--unsafe-fixes", "net.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert net.read_text() == ALL_FIXED
    assert "Found 2 findings (2 fixed, 0 remaining)." in r.stdout


def test_fixing_twice_changes_nothing_the_second_time(tmp_path):
    net = tmp_path / "net.py"
    net.write_text(BUGGY)
    bplint("check", "--fix", "--unsafe-fixes", "net.py", cwd=tmp_path)
    first = net.read_bytes()
    mtime = net.stat().st_mtime_ns
    r = bplint("check", "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix", "net.py", cwd=tmp_path)
    assert r.returncode == 0 and "All checks passed" in r.stdout
    assert net.read_bytes() == first and net.stat().st_mtime_ns == mtime


def test_diff_prints_and_writes_nothing(tmp_path):
    net = tmp_path / "net.py"
    net.write_text(BUGGY)
    r = bplint("check", "--diff", "net.py", cwd=tmp_path)
    assert net.read_text() == BUGGY
    assert r.returncode == 1
    assert r.stdout.startswith("--- a/net.py\n+++ b/net.py\n")
    assert "-    return W - lr * grad  # noqa: BP002\n+    return W - lr * grad\n" in r.stdout
    assert "pinv" not in r.stdout.split("@@", 2)[2].replace("-    return (np.linalg", "")
    assert "Would fix 1 finding." in r.stderr
    r = bplint("check", "--diff", "--unsafe-fixes", "net.py", cwd=tmp_path)
    assert "+    return (W2.T @ delta2) * sigmoid_prime(z1)\n" in r.stdout
    assert net.read_text() == BUGGY
    net.write_text(ALL_FIXED)
    r = bplint("check", "--diff", "net.py", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""


def test_exit_non_zero_on_fix(tmp_path):
    net = tmp_path / "net.py"
    net.write_text(BUGGY)
    r = bplint("check", "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix", ".", cwd=tmp_path)
    assert r.returncode == 1 and net.read_text() == ALL_FIXED
    net.write_text(BUGGY)
    r = bplint("check", "--fix", "--unsafe-fixes", ".", cwd=tmp_path)
    assert r.returncode == 0


def test_permissions_line_endings_and_bom_are_kept(tmp_path):
    net = tmp_path / "net.py"
    net.write_bytes(b"\xef\xbb\xbf" + BUGGY.replace("\n", "\r\n").encode())
    net.chmod(0o640)
    r = bplint("check", "--fix", "--unsafe-fixes", "net.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert net.read_bytes() == b"\xef\xbb\xbf" + ALL_FIXED.replace("\n", "\r\n").encode()
    assert stat.S_IMODE(net.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]  # no temp file left


def test_a_symlink_stays_a_symlink(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(BUGGY)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    r = bplint("check", "--fix", "--unsafe-fixes", "--force-exclude", "link.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert link.is_symlink() and real.read_text() == ALL_FIXED


def test_only_fixable_findings_change_and_others_are_reported(tmp_path):
    (tmp_path / "a.py").write_text(BUGGY)
    (tmp_path / "b.py").write_text("import numpy as np\nx = np.zeros(3)  # noqa: BP001\n")
    (tmp_path / "broken.py").write_text("import numpy as np\ndef f(:\n")
    r = bplint("check", "--fix", ".", cwd=tmp_path)
    assert r.returncode == 2  # broken.py could not be parsed
    assert "broken.py:2:" in r.stderr
    assert (tmp_path / "b.py").read_text() == "import numpy as np\nx = np.zeros(3)\n"
    assert (tmp_path / "broken.py").read_text() == "import numpy as np\ndef f(:\n"
    assert "a.py:5:13: BP001" in r.stdout


# --- the machinery, directly ------------------------------------------------------------------


def test_apply_edits_positions_and_overlaps():
    text = "ab\r\ncd\nef"
    assert apply_edits(text, [Edit(Pos(2, 1), Pos(2, 3), "XY")]) == "ab\r\nXY\nef"
    assert apply_edits(text, [Edit(Pos(1, 2), Pos(3, 2), "-")]) == "a-f"
    assert apply_edits(text, [Edit(Pos(3, 3), Pos(3, 3), "!")]) == "ab\r\ncd\nef!"
    with pytest.raises(FixError):
        apply_edits(text, [Edit(Pos(1, 1), Pos(2, 2), ""), Edit(Pos(2, 1), Pos(2, 3), "")])
    with pytest.raises(FixError):
        apply_edits(text, [Edit(Pos(9, 1), Pos(9, 2), "")])


def _fake_lint(replacements: dict[str, str]):
    """A linter that flags each key and offers the value as its (safe) fix, parsing first."""

    def lint(text: str) -> FileReport:
        parse(text)  # raises SourceError like the real engine does
        findings = []
        for line_no, line in enumerate(text.splitlines(), 1):
            for old, new in replacements.items():
                col = line.find(old)
                if col >= 0:
                    start, end = Pos(line_no, col + 1), Pos(line_no, col + 1 + len(old))
                    fix = Fix(FixSafety.SAFE, "replace", (Edit(start, end, new),))
                    findings.append(
                        Finding(Path("x.py"), "BP999", "fake", old, start, end, "", "", fix)
                    )
        return FileReport(findings=findings)

    return lint


def test_a_fix_that_breaks_the_syntax_is_not_applied_and_the_others_are():
    text = "a = bad_one\nb = good_one\n"
    out = fix_text(text, _fake_lint({"bad_one": "(", "good_one": "fine"}), unsafe=False)
    assert out.text == "a = bad_one\nb = fine\n"
    assert out.fixed["BP999"] == 1
    assert any("not applied" in p and "syntax error" in p for p in out.problems)


def test_fixes_that_undo_each_other_stop():
    out = fix_text("x = ping\n", _fake_lint({"ping": "pong", "pong": "ping"}), unsafe=False)
    assert out.text in ("x = ping\n", "x = pong\n")
    assert out.problems and "converge" in out.problems[0]


def test_write_atomic_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "net.py"
    target.write_bytes(b"old\n")

    def boom(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, b"new\n", expect=b"old\n")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["net.py"]


def test_write_atomic_refuses_a_file_changed_meanwhile(tmp_path):
    target = tmp_path / "net.py"
    target.write_bytes(b"edited by someone else\n")
    with pytest.raises(FixError):
        write_atomic(target, b"new\n", expect=b"what we read\n")
    assert target.read_bytes() == b"edited by someone else\n"


def test_a_file_that_cannot_be_written_is_an_error_and_stays_intact(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root can write into a read-only folder")
    sub = tmp_path / "ro"
    sub.mkdir()
    net = sub / "net.py"
    net.write_text(BUGGY)
    sub.chmod(0o555)
    try:
        r = bplint("check", "--fix", "net.py", cwd=sub)
    finally:
        sub.chmod(0o755)
    assert r.returncode == 2 and "could not write the fixed file" in r.stderr
    assert net.read_text() == BUGGY


FIXED_EXAMPLES = [
    pytest.param(rule, ex, id=f"{rule.code}-invalid-{i}")
    for rule in ALL_RULES
    for i, ex in enumerate(rule.invalid)
    if ex.fixed is not None
]


@pytest.mark.parametrize(("rule", "example"), FIXED_EXAMPLES)
def test_every_documented_fix_gives_the_documented_code_and_is_idempotent(rule, example):
    def lint(text: str) -> FileReport:
        return lint_source(text, Path("example.py"), [rule])

    out = fix_text(example.source, lint, unsafe=True)
    assert out.problems == []
    assert out.text == example.fixed
    again = fix_text(out.text, lint, unsafe=True)
    assert again.text == out.text and not again.fixed


def test_safe_only_leaves_unsafe_fixes():
    rule = next(r for r in ALL_RULES if r.fix_safety is FixSafety.UNSAFE)
    ex = next(e for e in rule.invalid if e.fixed is not None)
    out = fix_text(ex.source, lambda t: lint_source(t, Path("x.py"), [rule]), unsafe=False)
    assert out.text == ex.source and not out.fixed


def test_source_error_is_what_a_bad_parse_raises():
    with pytest.raises(SourceError):
        parse("def f(:\n")


def test_a_failed_write_is_an_error_and_the_file_stays_intact(tmp_path, monkeypatch, capsys):
    from linter import cli

    net = tmp_path / "net.py"
    net.write_text(BUGGY)
    monkeypatch.chdir(tmp_path)

    def no_space(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    code = cli.main(["check", "--fix", "--unsafe-fixes", "net.py"])
    out = capsys.readouterr()
    assert code == 2
    assert "net.py: error: could not write the fixed file: No space left on device" in out.err
    assert net.read_text() == BUGGY
    assert [p.name for p in tmp_path.iterdir()] == ["net.py"]
    # nothing was fixed, so both findings are still reported
    assert "net.py:5:13: BP001" in out.out and "net.py:9:27: BP900" in out.out
