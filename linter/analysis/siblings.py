"""Helpers imported from a sibling module (``from .activations import sigmoid_prime``).

Learners split networks into ``activations.py`` and ``model.py``; a derivative helper's
convention (wants z or wants a) lives in the other file. When a rule needs it, the sibling is
parsed and analysed once per process (cached by path and modification time). Only modules next
to the linted file (or in its package) are read; nothing is imported or executed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from linter.source import SourceError, parse, read_source

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

MAX_SIBLING_BYTES = 512 * 1024
# Paths of the sibling modules looked at (found or not) while a file is linted: the results
# cache stores them with their hashes, so an entry is invalidated when a sibling changes.
consulted: list[str] = []


def sibling_path(importer: Path, qualified: str) -> tuple[Path, str] | None:
    """For ``.activations.sigmoid_prime`` imported in ``pkg/model.py``: (pkg/activations.py, name)."""
    module, _, name = qualified.rpartition(".")
    if not module or not name:
        return None
    dots = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    base = importer.parent
    for _ in range(max(dots - 1, 0)):
        base = base.parent
    if not parts:
        return None
    candidate = base.joinpath(*parts).with_suffix(".py")
    package = base.joinpath(*parts, "__init__.py")
    consulted.extend((str(candidate.absolute()), str(package.absolute())))
    if candidate.is_file():
        return candidate, name
    if package.is_file():
        return package, name
    return None


@lru_cache(maxsize=64)
def _load(path: Path, mtime: float) -> ModuleModel | None:
    from linter.analysis import analyze

    try:
        if path.stat().st_size > MAX_SIBLING_BYTES:
            return None
        return analyze(parse(read_source(path)), path)
    except (OSError, SourceError, RecursionError, MemoryError):
        return None


def sibling_model(path: Path) -> ModuleModel | None:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _load(path.resolve(), mtime)
