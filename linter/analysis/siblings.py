"""Helpers imported from a sibling module (``from .activations import sigmoid_prime``), and
the modules of the same project that import the linted one.

Learners split networks into ``activations.py`` and ``model.py``; a derivative helper's
convention (wants z or wants a) lives in the other file. PyTorch projects put the model in
``model.py`` and the loss in ``train.py``: a defect with one end in each is seen from both files
(``importers``). When a rule needs it, a sibling is parsed and analysed once per process (cached
by path and modification time). Only modules next to the linted file (or in its package, or the
folder above it) are read; nothing is imported or executed. The file being linted is the text
being linted (``linting``), not what is on disk.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from linter.analysis.collect import Collector
from linter.analysis.model import ModuleModel
from linter.analysis.treewalk import walk
from linter.source import SourceError, parse, read_source

if TYPE_CHECKING:
    import libcst as cst

MAX_SIBLING_BYTES = 512 * 1024
TREES_KEPT = 64  # parsed texts kept for reuse (``shared_parse``), most recently used
MAX_IMPORTER_FILES = 200  # per folder looked at; a larger folder is not searched for importers
# Paths of the sibling modules looked at (found or not) while a file is linted: the results
# cache stores them with their hashes, so an entry is invalidated when a sibling changes.
consulted: list[str] = []


def sibling_path(importer: Path, qualified: str) -> tuple[Path, str] | None:
    """For ``.activations.sigmoid_prime`` imported in ``pkg/model.py``: (pkg/activations.py, name)."""
    module, _, name = qualified.rpartition(".")
    if not module or not name:
        return None
    # the files looked at are the same for every name of a module: looked up once per linted
    # file, and recorded as consulted at every look-up, as before
    key = (importer, module)
    known = _module_paths.get(key)
    if known is None:
        known = _module_paths[key] = _module_path(importer, module)
    looked_at, found = known
    consulted.extend(looked_at)
    return (found, name) if found is not None else None


def _module_path(importer: Path, module: str) -> tuple[tuple[str, ...], Path | None]:
    """(the paths looked at, the file of ``module`` or None) as imported from ``importer``."""
    dots = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    base = importer.parent
    for _ in range(max(dots - 1, 0)):
        base = base.parent
    if not parts:
        return (), None
    candidate = base.joinpath(*parts).with_suffix(".py")
    package = base.joinpath(*parts, "__init__.py")
    looked_at = (str(candidate.absolute()), str(package.absolute()))
    if candidate.is_file():
        return looked_at, candidate
    if package.is_file():
        return looked_at, package
    return looked_at, None


_trees: OrderedDict[str, cst.Module] = OrderedDict()


def shared_parse(
    text: str, checked: bool = False, spans: tuple[tuple[int, int], ...] | None = None
) -> cst.Module:
    """libcst's tree of ``text``, parsed once per process for the linted file and the sibling
    look-ups alike: a module linted here is often another linted file's sibling (before or
    after), and the same text gives the same tree (libcst nodes are immutable; each use builds
    its own analysis over it). Keyed by the text itself, so never stale. A text too large to
    be read as a sibling is not kept. ``checked`` as for ``linter.source.parse``; a kept tree's
    text has passed CPython's check."""
    if len(text) > MAX_SIBLING_BYTES:
        return parse(text, checked=checked, spans=spans)
    tree = _trees.get(text)
    if tree is not None:
        _trees.move_to_end(text)
        return tree
    tree = _trees[text] = parse(text, checked=checked, spans=spans)
    if len(_trees) > TREES_KEPT:
        _trees.popitem(last=False)
    return tree


def build(module: cst.Module, path: Path | None = None) -> ModuleModel:
    """One walk over ``module`` and its model, which reads helpers from the modules next to
    ``path`` (themselves built here, on demand)."""
    collector = Collector()
    walk(module, collector)
    return ModuleModel(module, collector, path, _NEIGHBOURS)


class _Siblings:
    """The ``Neighbours`` a model is built with: this module's look-ups."""

    def sibling_path(self, importer: Path, qualified: str) -> tuple[Path, str] | None:
        return sibling_path(importer, qualified)

    def sibling_model(self, path: Path) -> ModuleModel | None:
        return sibling_model(path)


_NEIGHBOURS = _Siblings()


def _load(path: Path, mtime: float) -> ModuleModel | None:
    entry = _models.get(path)
    if entry is not None and entry[0] == mtime:
        _models.move_to_end(path)
        return entry[1]
    model: ModuleModel | None = None
    try:
        if path.stat().st_size <= MAX_SIBLING_BYTES:
            model = build(shared_parse(read_source(path)), path)
    except (OSError, SourceError, RecursionError, MemoryError):
        model = None
    _keep(path, mtime, model)
    return model


def _keep(path: Path, mtime: float, model: ModuleModel | None) -> None:
    """Make ``model`` the one model of the file ``path`` (resolved) at ``mtime``."""
    before = _ever_kept.get(path)
    if before is not None:
        # answers found over the model this one replaces may point into it: recomputed
        _stale[0] = True
        if before != mtime:  # the file changed: what any model read from it is out of date
            _models.clear()
    _ever_kept[path] = mtime
    _models[path] = (mtime, model)
    _models.move_to_end(path)
    if len(_models) > MODELS_KEPT:
        _models.popitem(last=False)


def linted_model(module: cst.Module, text: str, path: Path | None) -> ModuleModel:
    """The model of the file being linted, ``module`` parsed from ``text``: the one model of
    its file in this process when ``text`` is what the file holds (a module linted earlier, or
    read as another file's sibling, is analysed once and answers for both), else its own."""
    if path is None:
        return build(module, path)
    try:
        real = resolved(path)
        stat = real.stat()
    except OSError:
        return build(module, path)
    entry = _models.get(real)
    if entry is not None and entry[0] == stat.st_mtime and entry[1] is not None:
        if entry[1].module is module:  # the same text (``shared_parse``)
            _models.move_to_end(real)
            return entry[1]
    model = build(module, path)
    if stat.st_size <= MAX_SIBLING_BYTES and _trees.get(text) is module:
        try:
            same = read_source(real) == text
        except (OSError, SourceError):
            same = False
        if same:
            _keep(real, stat.st_mtime, model)
    return model


def new_run() -> None:
    """Forget the models of an earlier run in this process (files may have changed since;
    within a run a file is taken to be as it was first read, unless its time stamp moves)."""
    _models.clear()
    _ever_kept.clear()
    _stale[0] = True


def forget_all() -> None:
    """Forget every parsed text and model of this process (tests)."""
    _trees.clear()
    new_run()


def forget(model: ModuleModel) -> None:
    """Drop ``model`` (a question on it was cut short by an error: its memos may be half
    written) so that no later file reads it."""
    for path, (_, kept) in list(_models.items()):
        if kept is model:
            del _models[path]
            _stale[0] = True


def resolved(path: Path) -> Path:
    """``path.resolve()``, looked up once per linted file (``linting`` forgets them); raises
    ``OSError`` as ``resolve`` does."""
    found = _resolved.get(path)
    if found is None:
        found = _resolved[path] = path.resolve()
    return found


def sibling_model(path: Path) -> ModuleModel | None:
    try:
        resolved_path = resolved(path)
        if resolved_path in _linting:
            return _linting[resolved_path]
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _load(resolved_path, mtime)


# --- the file being linted, and the modules that import it -------------------------------------

_linting: dict[Path, ModuleModel] = {}
# Look-ups made while one file is linted (emptied with ``linting``, so a file added or removed
# between two linted files is seen): (importer, module) -> what ``sibling_path`` found, and a
# module's importers.
_module_paths: dict[tuple[Path, str], tuple[tuple[str, ...], Path | None]] = {}
_importers: dict[ModuleModel, tuple[list[str], list[ModuleModel]]] = {}
_resolved: dict[Path, Path] = {}
# Bumped whenever the linted file changes: facts computed on sibling models for an earlier file
# may point into that file's previous tree and are recomputed (see ``torch_facts.facts``).
generation = [0]
# The models of files read in this process, most recently used last: resolved path -> (mtime,
# model or None when it cannot be read). One model per file, shared by every linted file that
# reads it as a sibling and by its own lint, so answers computed over it (``world``) stay valid.
_models: OrderedDict[Path, tuple[float, ModuleModel | None]] = OrderedDict()
MODELS_KEPT = 64
_ever_kept: dict[Path, float] = {}  # path -> mtime of its last model
_stale = [False]
# Bumped when a path's model is not the one answers computed earlier point to: a model
# replaced (read again after it was dropped, or changed on disk), or a linted text that is not
# its file's (``--stdin-filename``, a Python 2 file read through its rewrite), while it is
# linted and after. Answers about a module that depend on other modules' models (its loss
# pairings) are kept across linted files while ``world`` stays.
world = [0]
_linted_own = [False]  # the file being linted has a model of its own (not its file's)
# where the consulted paths of the file being linted start (``consulted`` is cleared per file
# by the runner, not necessarily by every caller)
consulted_start = [0]


def linting(model: ModuleModel | None) -> None:
    """Make ``model`` the module sibling look-ups return for its own path (None: no file)."""
    _linting.clear()
    _module_paths.clear()
    _importers.clear()
    _resolved.clear()
    generation[0] += 1
    consulted_start[0] = len(consulted)
    own = False
    if model is not None and model.path is not None:
        try:
            real = resolved(model.path)
            _linting[real] = model
            own = _models.get(real, (0.0, None))[1] is not model
        except OSError:
            own = True
    if _linted_own[0]:
        # answers over the kept models found while a text that is not its file's was linted
        # may have read that text: forgotten
        _models.clear()
    if own or _linted_own[0] or _stale[0]:
        world[0] += 1
        _stale[0] = False
    _linted_own[0] = own


def module_file(importer: Path, module: str) -> Path | None:
    """The file of ``module`` (``model``, ``.nets.cnn``) as imported from ``importer``."""
    found = sibling_path(importer, f"{module}._")
    return found[0] if found else None


def star_sibling(model: ModuleModel, name: str) -> ModuleModel | None:
    """The sibling module a ``from m import *`` of ``model`` takes ``name`` from."""
    if model.path is None:
        return None
    for module in model.c.star_imports:
        if module.split(".")[0] in ("torch", "numpy"):
            continue
        path = module_file(model.path, module)
        other = sibling_model(path) if path is not None else None
        if other is not None and (name in other.c.class_bases or name in other.c.functions):
            return other
    return None


def imports_of(model: ModuleModel) -> list[Path]:
    """The sibling files ``model`` imports from (``from model import Net``, ``import model``,
    ``from model import *``)."""
    if model.path is None:
        return []
    modules = set(model.c.star_imports)
    for qualified in model.c.aliases.values():
        if qualified.split(".")[0] in ("torch", "numpy", "scipy", "jax"):
            continue
        modules.add(qualified)
        modules.add(qualified.rpartition(".")[0])
    out: list[Path] = []
    for module in sorted(m for m in modules if m.strip(".")):
        path = module_file(model.path, module)
        if path is not None and path not in out:
            out.append(path)
    return out


def importers(model: ModuleModel) -> list[ModuleModel]:
    """The modules next to ``model``'s file (or in the folder above) that import it (read once
    per linted file; what was consulted is recorded at every call)."""
    known = _importers.get(model)
    if known is None:
        start = len(consulted)
        found = _find_importers(model)
        known = _importers[model] = (consulted[start:], found)
    else:
        consulted.extend(known[0])
    return list(known[1])


def _find_importers(model: ModuleModel) -> list[ModuleModel]:
    if model.path is None:
        return []
    try:
        me = resolved(model.path)
    except OSError:
        return []
    word = re.compile(rb"\b" + re.escape(me.stem.encode()) + rb"\b")
    out: list[ModuleModel] = []
    for folder in (me.parent, me.parent.parent):
        consulted.append(str(folder))  # a file added to the folder changes its listing's hash
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
        except OSError:
            continue
        if len(names) > MAX_IMPORTER_FILES:
            continue
        for name in names:
            path = folder / name
            if path == me:
                continue
            consulted.append(str(path))
            try:
                if path.stat().st_size > MAX_SIBLING_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if b"import" not in data or not word.search(data):
                continue
            other = sibling_model(path)
            if other is None:
                continue
            if any(resolved(p) == me for p in imports_of(other)):
                out.append(other)
    return out
