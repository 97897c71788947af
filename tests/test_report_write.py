"""``--output-file`` writes its report atomically: a full disk leaves no partial file and the
previous report intact, with a clear error naming the file (issue 11)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from linter.report import write as report_write
from linter.report.write import ReportWriteError, write_report

NET = (
    "import numpy as np\n\n\ndef backprop(W2, delta2, z1):\n"
    "    return (np.linalg.pinv(W2) @ delta2) * z1\n"
)


class _FullDisk:
    """A file object whose writes fail after ``room`` bytes, as on a full disk."""

    def __init__(self, real, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.real.write(data[: self.room])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.real.close()


def _full_disk(monkeypatch, room: int = 10) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        report_write.os, "fdopen", lambda *a, **k: _FullDisk(real_fdopen(*a, **k), room)
    )


def test_a_full_disk_keeps_the_previous_report_and_leaves_no_file(tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    out.write_bytes(b"previous report\n")
    _full_disk(monkeypatch)
    with pytest.raises(ReportWriteError) as err:
        write_report(out, b"x" * 1000)
    assert str(err.value) == f"cannot write {out}: {os.strerror(errno.ENOSPC)}"
    assert out.read_bytes() == b"previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_a_full_disk_creates_no_empty_report(tmp_path, monkeypatch):
    _full_disk(monkeypatch, room=0)
    with pytest.raises(ReportWriteError):
        write_report(tmp_path / "new.txt", b"report")
    assert list(tmp_path.iterdir()) == []


def test_cli_on_a_full_disk_names_the_file_and_exits_2(tmp_path, monkeypatch, capsys):
    from linter import cli

    (tmp_path / "net.py").write_text(NET)
    (tmp_path / "out.json").write_text("[]\n")
    monkeypatch.chdir(tmp_path)
    _full_disk(monkeypatch)
    code = cli.main(["check", "--no-cache", "--output-format", "json", "-o", "out.json", "net.py"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--output-file: cannot write out.json: {os.strerror(errno.ENOSPC)}" in err
    assert "Traceback" not in err
    assert (tmp_path / "out.json").read_text() == "[]\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py", "out.json"]


def test_cli_writes_the_report_whole(tmp_path, monkeypatch, capsys):
    from linter import cli

    (tmp_path / "net.py").write_text(NET)
    (tmp_path / "out.json").write_text("old\n")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["check", "--no-cache", "--output-format", "json", "-o", "out.json", "net.py"])
    assert code == 1 and capsys.readouterr().out == ""
    assert [f["code"] for f in json.loads((tmp_path / "out.json").read_text())] == ["BP001"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py", "out.json"]


def test_mode_of_a_new_report_follows_the_umask_and_an_old_one_is_kept(tmp_path):
    old = os.umask(0o027)
    try:
        write_report(tmp_path / "new.txt", b"a")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
    kept = tmp_path / "kept.txt"
    kept.write_bytes(b"old")
    kept.chmod(0o604)
    write_report(kept, b"new")
    assert kept.read_bytes() == b"new" and stat.S_IMODE(kept.stat().st_mode) == 0o604


def test_a_symlink_stays_a_link_to_the_new_report(tmp_path):
    target = tmp_path / "real.txt"
    target.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_report(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_a_device_is_written_to_not_replaced():
    devnull = Path(os.devnull)
    write_report(devnull, b"report")
    assert stat.S_ISCHR(devnull.stat().st_mode)


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ReportWriteError, match=r"cannot write .*missing/out.txt: No such file"):
        write_report(tmp_path / "missing" / "out.txt", b"x")
