"""Paths on the command line -> the files to lint, with their settings.

Only regular files are read: a FIFO, socket or device named ``x.py`` inside a linted folder is
skipped with a warning (reading a FIFO would block forever). Symbolic links to files are followed;
a link that loops or dangles is an error naming it; links to folders are not descended (so a link
loop cannot recurse). A folder that cannot be listed is an error naming it, and the rest of the
tree is still linted. Nothing here raises for a bad path: problems become ``FileError``s.

Exclusion, as in ruff: a file or folder found while walking is skipped when it matches an exclude
pattern of its own configuration (only the part below the folder named on the command line is
matched, so ``bplint check build/`` lints ``build/``); a file named explicitly is linted even if
excluded, unless ``force-exclude`` is set (pre-commit passes every staged file).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from linter.config import ConfigResolver, Settings
from linter.ftypes import FileError

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass(frozen=True)
class Target:
    path: Path
    settings: Settings


@dataclass
class Discovery:
    targets: list[Target] = field(default_factory=list)
    excluded: int = 0
    errors: list[FileError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _why(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "broken symbolic link"
    return exc.strerror or str(exc)


def discover(
    paths: Iterable[Path], resolver: ConfigResolver, suffixes: tuple[str, ...] = SOURCE_SUFFIXES
) -> Discovery:
    """Expand folders recursively (sorted, deterministic); files named explicitly are kept."""
    out = Discovery()
    seen: set[str] = set()

    def add(path: Path, settings: Settings, real: str | None = None) -> None:
        """``real``: the file's real path, when the caller knows it (a file in a walked folder
        that is not a link: its folder's real path and its name)."""
        if real is None:
            try:
                real = os.path.realpath(path, strict=True)
            except (OSError, RuntimeError) as exc:
                why = _why(exc) if isinstance(exc, OSError) else "symbolic link loop"
                out.errors.append(FileError(path, f"cannot read file: {why}"))
                return
        if real not in seen:
            seen.add(real)
            out.targets.append(Target(path, settings))

    for path in paths:
        try:
            st = path.stat()
        except OSError as exc:
            out.errors.append(FileError(path, f"cannot read: {_why(exc)}"))
            continue
        settings = resolver.for_path(path)
        if settings.force_exclude and settings.is_excluded(path):
            out.excluded += 1
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk(path, resolver, suffixes, out, add)
        elif stat.S_ISREG(st.st_mode):
            add(path, settings)
        else:
            out.errors.append(FileError(path, f"cannot read: {_kind(st.st_mode)}, not a file"))
    return out


def _walk(
    top: Path, resolver: ConfigResolver, suffixes: tuple[str, ...], out: Discovery, add
) -> None:
    """Each folder is resolved once (its files' and subfolders' real paths are the folder's and
    their names, unless they are links), and its settings looked up once."""
    stack = [(top, top.resolve())]
    real_top = stack[0][1]
    while stack:
        folder, real_folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            out.errors.append(FileError(folder, f"cannot read folder: {_why(exc)}"))
            continue
        here: Settings | None = None  # the settings of the files in this folder
        subdirs: list[tuple[Path, Path]] = []
        for entry in entries:
            path = folder / entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = not is_link and entry.is_dir(follow_symlinks=False)
            except OSError as exc:
                out.errors.append(FileError(path, f"cannot read: {_why(exc)}"))
                continue
            if is_dir:
                real = real_folder / entry.name
                if resolver.for_dir(real).is_excluded(path, real_top, resolved=real):
                    out.excluded += 1
                else:
                    subdirs.append((path, real))
                continue
            if not entry.name.endswith(suffixes):
                continue
            try:
                mode = os.stat(path).st_mode  # follows a link to a file
            except OSError as exc:
                out.errors.append(FileError(path, f"cannot read file: {_why(exc)}"))
                continue
            if stat.S_ISDIR(mode):
                continue  # a link to a folder named like a source file: not descended
            if not stat.S_ISREG(mode):
                out.warnings.append(f"{path}: skipped: {_kind(mode)}, not a regular file")
                continue
            if is_link:  # configured and excluded where it points, as before
                settings = resolver.for_path(path)
                if settings.is_excluded(path, below=top):
                    out.excluded += 1
                    continue
                add(path, settings)
                continue
            if here is None:
                here = resolver.for_dir(real_folder)
            real = real_folder / entry.name
            if here.is_excluded(path, real_top, resolved=real):
                out.excluded += 1
                continue
            add(path, here, str(real))
        stack.extend(reversed(subdirs))
