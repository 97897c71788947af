"""Guards that keep ``--fix`` from harming a file: line breaks as the parser sees them, edits
that check what they replace, read-only files refused, hard links kept (issue 11, second part)."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from linter.engine import lint_source
from linter.fix import FixError, apply_edits, unified_diff, write_atomic
from linter.ftypes import Edit, Pos
from linter.lines import LineIndex, split_lines, split_lines_keepends
from linter.rules import ALL_RULES
from linter.suppress import removal_edit, scan
from tests.cli_helpers import bplint

# --- the issue's reproduction, exactly -----------------------------------------------------

STRAY_CR = (
    b"import numpy as np\rimport os\n\n\ndef f(x):\n    y = x + 1\n    return y  # noqa: BP001\n"
)


def test_issue_reproduction_stray_cr_fix_removes_only_the_directive(tmp_path):
    path = tmp_path / "stray_cr.py"
    path.write_bytes(STRAY_CR)
    r = bplint("check", "stray_cr.py", "--fix", cwd=tmp_path)
    assert path.read_bytes() == STRAY_CR.replace(b"  # noqa: BP001", b"")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 fixed" in r.stdout


def test_cr_only_file_fix_removes_only_the_directive(tmp_path):
    path = tmp_path / "cr_only.py"
    data = STRAY_CR.replace(b"\n", b"\r")
    path.write_bytes(data)
    r = bplint("check", "cr_only.py", "--fix", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert path.read_bytes() == data.replace(b"  # noqa: BP001", b"")


# --- one line splitter --------------------------------------------------------------------

TEXTS = [
    "a = 1\nb = 2  # noqa: BP001\n",
    "a = 1\r\nb = 2  # noqa: BP001\r\n",
    "a = 1\rb = 2  # noqa: BP001\r",
    "a = 1\rb = 2\r\n\nc = 3  # noqa: BP001\n",
    "a = 1\n\x0cb = 2\nc = 3  # noqa: BP001\n",  # a form feed is not a line break for Python
    "s = 'x\u2028y\x1cz'\nc = 3  # noqa: BP001",  # separators inside a string: one line
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_splitter_numbers_lines_as_libcst_does(text):
    module = cst.parse_module(text)
    positions = MetadataWrapper(module).resolve(PositionProvider)
    lines = split_lines(text)
    assert "".join(split_lines_keepends(text)) == text
    statements = [(n, r) for n, r in positions.items() if isinstance(n, cst.SimpleStatementLine)]
    assert len(statements) == text.count("=")
    for node, rng in statements:  # each statement is on the line libcst gives it
        code = module.code_for_node(node.body[0])
        assert lines[rng.start.line - 1].lstrip("\x0c").startswith(code)


@pytest.mark.parametrize("text", TEXTS)
def test_a_directive_is_found_on_the_line_it_is_written_on(text):
    lines = split_lines(text)
    expected = next(i for i, line in enumerate(lines, 1) if "# noqa" in line)
    assert list(scan(text).lines) == [expected]
    noqa = scan(text).lines[expected]
    assert lines[expected - 1][noqa.column - 1 :].startswith("# noqa")


PINV = (
    "import numpy as np\n\n\ndef backprop(W2, delta2):\n    return np.linalg.pinv(W2) @ delta2{}\n"
)


@pytest.mark.parametrize("eol", ["\n", "\r", "\r\n"])
@pytest.mark.parametrize("stray", [False, True])
def test_suppressions_apply_to_their_own_line_in_cr_and_mixed_files(eol, stray):
    rules = [r for r in ALL_RULES if r.code in ("BP001", "BP900")]
    text = PINV.format("  # noqa: BP001").replace("\n", eol)
    if stray:  # one stray CR early in the file shifts every later line for a \n-only scanner
        text = text.replace(eol, "\r", 1)
    report = lint_source(text, Path("x.py"), rules)
    assert report.findings == [] and report.suppressed == 1
    # a directive on the line before the finding does not reach it
    moved = text.replace("  # noqa: BP001", "").replace(
        "def backprop", "# noqa: BP001" + eol + "def backprop"
    )
    report = lint_source(moved, Path("x.py"), rules)
    assert sorted(f.code for f in report.findings) == ["BP001", "BP900"]


def test_diff_splits_lines_like_the_parser(tmp_path):
    before = "a = 1\x0cb = 2\rc = 3\n"
    after = before.replace("c = 3", "c = 4")
    diff = unified_diff(Path("x.py"), before, after)
    assert "-c = 3\n" in diff and "+c = 4\n" in diff
    assert "-a = 1\x0cb = 2\r" not in diff  # unchanged line is context, not split at \x0c


# --- edits refuse what they cannot do exactly ----------------------------------------------


def test_an_edit_past_the_end_of_its_line_is_refused():
    text = "ab\rcd\nef\n"
    assert LineIndex(text).offset(1, 3) == 2  # just past the last character: allowed
    with pytest.raises(FixError, match="past the end of line 1"):
        apply_edits(text, [Edit(Pos(1, 1), Pos(1, 5), "")])
    with pytest.raises(FixError, match="past the end"):
        apply_edits(text, [Edit(Pos(2, 4), Pos(2, 4), "x")])
    with pytest.raises(FixError, match="outside"):
        apply_edits(text, [Edit(Pos(5, 1), Pos(5, 1), "x")])
    assert apply_edits(text, [Edit(Pos(2, 3), Pos(3, 1), "")]) == "ab\rcdef\n"


def test_an_edit_that_would_replace_other_text_is_refused():
    text = "x = 1  # noqa: BP001\n"
    good = Edit(Pos(1, 6), Pos(1, 21), "", expect="  # noqa: BP001")
    assert apply_edits(text, [good]) == "x = 1\n"
    bad = Edit(Pos(1, 1), Pos(1, 16), "", expect="  # noqa: BP001")
    with pytest.raises(FixError, match="not the"):
        apply_edits(text, [bad])


@pytest.mark.parametrize(
    ("text", "after"),
    [
        ("x = 1  # noqa: BP001 reason\n", "x = 1\n"),
        ("x = 1\r# noqa: BP001\ry = 2\r", "x = 1\ry = 2\r"),
        ("x = 1\r\n# noqa: BP001\r\n", "x = 1\r\n"),
        ("x = 1  # noqa: BP001  # type: ignore\r", "x = 1  # type: ignore\r"),
        ("x = 1  # noqa: BP001, E501\r", "x = 1  # noqa: E501\r"),
    ],
)
def test_a_removal_carries_and_removes_exactly_the_directive(text, after):
    noqa = scan(text).lines[next(iter(scan(text).lines))]
    edit = removal_edit(noqa, ["BP001"], split_lines_keepends(text))
    assert edit.expect is not None and "BP001" in edit.expect
    assert apply_edits(text, [edit]) == after
    # the same edit over text where something else stands at those positions is refused
    shifted = text.replace("# noqa", "#  noqa")
    with pytest.raises(FixError):
        apply_edits(shifted, [edit])


def test_rule_fixes_carry_the_text_they_replace():
    source = textwrap.dedent(
        """
        def softmax(z):
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        """
    ).lstrip()
    rules = [r for r in ALL_RULES if r.code == "BP501"]
    (finding,) = lint_source(source, Path("x.py"), rules).findings
    assert finding.fix is not None
    assert [e.expect for e in finding.fix.edits] == ["np.exp(z)"]


# --- what a user expects of the file itself ------------------------------------------------

BUGGY = "import numpy as np\n\n\ndef f(x):\n    return x  # noqa: BP001\n"


def test_a_read_only_file_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "ro.py"
    path.write_text(BUGGY)
    path.chmod(0o444)
    r = bplint("check", "--fix", "ro.py", cwd=tmp_path)
    assert r.returncode == 2
    assert "ro.py: error: could not write the fixed file: the file is read-only" in r.stderr
    assert "Traceback" not in r.stderr
    assert path.read_text() == BUGGY and stat.S_IMODE(path.stat().st_mode) == 0o444
    # --diff still shows what the fix would be
    r = bplint("check", "--fix", "--diff", "ro.py", cwd=tmp_path)
    assert "-    return x  # noqa: BP001" in r.stdout and path.read_text() == BUGGY


def test_a_hard_linked_file_is_fixed_in_place_for_every_name(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(BUGGY)
    path.chmod(0o640)
    other = tmp_path / "other_name.py"
    os.link(path, other)
    inode = path.stat().st_ino
    r = bplint("check", "--fix", "net.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    fixed = BUGGY.replace("  # noqa: BP001", "")
    assert path.read_text() == fixed and other.read_text() == fixed
    assert path.stat().st_ino == inode == other.stat().st_ino and path.stat().st_nlink == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py", "other_name.py"]


def test_in_place_write_refuses_a_file_changed_meanwhile_and_restores_on_failure(
    tmp_path, monkeypatch
):
    path = tmp_path / "net.py"
    path.write_bytes(b"old text\n")
    os.link(path, tmp_path / "twin.py")
    with pytest.raises(FixError, match="changed on disk"):
        write_atomic(path, b"new\n", expect=b"something else\n")
    assert path.read_bytes() == b"old text\n"

    real_pwrite = os.pwrite
    calls = []

    def failing_pwrite(fd, data, pos):
        calls.append(bytes(data))
        if len(calls) == 1:  # the new text: half of it, then the disk is full
            real_pwrite(fd, bytes(data[: len(data) // 2]), pos)
            raise OSError(28, "No space left on device")
        return real_pwrite(fd, data, pos)

    monkeypatch.setattr(os, "pwrite", failing_pwrite)
    with pytest.raises(OSError):
        write_atomic(path, b"a much longer new text\n", expect=b"old text\n")
    assert path.read_bytes() == b"old text\n" == (tmp_path / "twin.py").read_bytes()
