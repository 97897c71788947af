"""Writing a report to a file (``--output-file``): all of it or nothing.

A report is written to a temporary file in the target's folder and moved over the target only
when every byte is on disk, so a full disk or a quota leaves no empty or truncated report behind,
and the previous report, if any, intact. A target that is not a regular file (``/dev/null``,
``/dev/stdout``, a FIFO a reader is waiting on) is written to directly: replacing it would
destroy it. A symbolic link is followed (the link stays a link).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from linter.atomic import replace_file


class ReportWriteError(Exception):
    """The report could not be written; the message names the file and the reason."""


def write_report(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module's doc); ``ReportWriteError`` if not."""
    try:
        real = Path(os.path.realpath(path))
        try:
            st: os.stat_result | None = real.stat()
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            with open(real, "wb") as fh:
                fh.write(data)
            return
        replace_file(
            real, data, mode=stat.S_IMODE(st.st_mode) if st is not None else _default_mode()
        )
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise ReportWriteError(f"cannot write {path}: {why}") from None


def _default_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0o666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
