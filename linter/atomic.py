"""Replacing a file's contents all at once: the one writer that fixes, reports and the cache share.

The new bytes go to a temporary file in the target's folder (same file system), which is moved
over the target with ``os.replace`` only when every byte is written, so a reader sees the old
file or the new one, never a half-written one, and a full disk leaves the old file intact and no
temporary file behind.
"""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(
    target: Path,
    data: bytes,
    *,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
    durable: bool = True,
    prefix: str | None = None,
    suffix: str = ".bplint-tmp",
) -> None:
    """Replace ``target`` (a path with no symlink left to follow) by a file holding ``data``.

    ``mode``: the new file's permission bits (``None``: the temporary file's, 0o600);
    ``owner``: ``(uid, gid)`` to give it where the process may (root keeping a file's owner);
    ``durable``: ``fsync`` before the move, so a crash cannot leave an empty file under the
    name (the cache, which can always be rebuilt, skips it); ``prefix``/``suffix``: the
    temporary file's name around mkstemp's random part (default ``.<target name>.``).
    """
    import tempfile  # only a run that writes pays for it

    fd, tmp = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}." if prefix is None else prefix, suffix=suffix
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if owner is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, *owner)
            except OSError:
                pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
