"""The results cache: one small JSON file per (file content, bplint build, rules, config) key.

A key is the SHA-256 of everything a file's results depend on: its bytes, its path, the rules
selected for it and the rule-selection config (select, extend-select, ignore, per-file-ignores),
and a fingerprint of bplint itself (version, the size and modification time of every module of the
``linter`` package, the libcst build). Results can also depend on a sibling module a helper is
imported from: the engine records every sibling path it looked at, and the entry stores the hash
of each (or that it was absent); an entry whose siblings changed is a miss. So an entry is never
stale: anything that could change the results changes the key or fails that check.

Safe under concurrent runs: an entry is written to a temporary file in the same folder and
renamed over the final name (atomic on POSIX and Windows); readers see the old entry, the new one
or none. An entry that cannot be read or decoded (truncated, edited, from another format) is
ignored and rewritten. Only results without errors are stored. Nothing here imports libcst: a
fully cached run never loads the parser.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from linter import __version__, ftypes
from linter.atomic import replace_file

FORMAT = 1
DEFAULT_DIR = ".bplint_cache"
_README = "Results cache of bplint (https://bplint.github.io/bplint/). Safe to delete.\n"


def _fingerprint() -> str:
    """bplint's own build: version plus every module's size and mtime, and libcst's build."""
    h = hashlib.sha256(f"bplint {__version__} cache {FORMAT}".encode())
    root = Path(__file__).resolve().parent
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in sorted(filenames):
            if name.endswith((".py", ".json")):
                p = os.path.join(dirpath, name)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                h.update(f"{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    try:
        import importlib.util

        spec = importlib.util.find_spec("libcst")
        origin = spec.origin if spec else None
        if origin:
            st = os.stat(origin)
            h.update(f"libcst\0{origin}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    except (ImportError, OSError, ValueError):
        pass
    return h.hexdigest()


_FINGERPRINT: str | None = None
_UNKNOWN = object()


def fingerprint() -> str:
    global _FINGERPRINT
    if _FINGERPRINT is None:
        _FINGERPRINT = _fingerprint()
    return _FINGERPRINT


def file_hash(path: Path | str) -> str | None:
    """The hash of a file's bytes; of a folder, its listing of Python files (the analysis looks
    for modules that import the linted one there, so a new one must invalidate the entry); None
    when there is neither (most sibling modules looked for do not exist: one failed open)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except IsADirectoryError:
        pass
    except OSError:
        if not os.path.isdir(path):  # Windows says PermissionError for a folder
            return None
    try:
        names = sorted(n for n in os.listdir(path) if n.endswith((".py", ".ipynb")))
    except OSError:
        return None
    return "dir:" + hashlib.sha256("\0".join(names).encode()).hexdigest()


# --- encoding: dataclasses of linter.ftypes <-> JSON ------------------------------------------


def encode(value: Any) -> Any:
    """Findings (any dataclass of ``linter.ftypes``) as JSON-able data that decodes back equal."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {"@": type(value).__name__}
        for f in fields(value):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, Enum):
        return {"@e": type(value).__name__, "v": value.value}
    if isinstance(value, tuple):
        return {"@t": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, Path):
        return {"@p": str(value)}
    if isinstance(value, dict):
        return {"@d": [[encode(k), encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(data: Any) -> Any:
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if "@" in data:
            cls = getattr(ftypes, data["@"])
            if not (isinstance(cls, type) and is_dataclass(cls)):
                raise ValueError(f"not a cached type: {data['@']}")
            return cls(**{k: decode(v) for k, v in data.items() if k != "@"})
        if "@e" in data:
            cls = getattr(ftypes, data["@e"])
            if not (isinstance(cls, type) and issubclass(cls, Enum)):
                raise ValueError(f"not a cached enum: {data['@e']}")
            return cls(data["v"])
        if "@t" in data:
            return tuple(decode(v) for v in data["@t"])
        if "@p" in data:
            return Path(data["@p"])
        if "@d" in data:
            return {decode(k): decode(v) for k, v in data["@d"]}
        raise ValueError("unknown cached object")
    return data


# --- the store ---------------------------------------------------------------------------------


class Cache:
    """Entries under ``<dir>/<fingerprint>/``; older builds' folders are removed when a new one
    is made (best effort: a concurrent run of another build simply misses)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made = False
        self.hits = self.misses = 0
        # Dependency hashes, each computed once per run (a Cache lives for one run): a module's
        # siblings are every sibling's siblings too (5,157 hashes of ~700 files on the benchmark
        # corpus). A hash is taken before the analysis that reads the file, never after: if the
        # file changes in between, the stored hash is the older one and the next run misses.
        self._hashes: dict[str, str | None] = {}

    def dep_hash(self, dep: str) -> str | None:
        known = self._hashes.get(dep, _UNKNOWN)
        if known is _UNKNOWN:
            known = self._hashes[dep] = file_hash(dep)
        return known  # type: ignore[return-value]

    def seen(self, path: Path, data: bytes) -> None:
        """``path``'s bytes were just read (for its own key): its hash as a sibling's dependency."""
        self._hashes.setdefault(os.path.abspath(path), hashlib.sha256(data).hexdigest())

    @property
    def folder(self) -> Path:
        return self.directory / fingerprint()[:24]

    @staticmethod
    def key(data: bytes, path: Path, rules: tuple[str, ...], config: tuple) -> str:
        h = hashlib.sha256(fingerprint().encode())
        h.update(repr((str(path), os.path.abspath(path), rules, config)).encode())
        h.update(b"\0")
        h.update(hashlib.sha256(data).digest())
        return h.hexdigest()

    def get(self, key: str) -> dict | None:
        try:
            with open(self.folder / f"{key}.json", "rb") as fh:
                entry = json.loads(fh.read())
            if entry.get("key") != key:
                raise ValueError("key mismatch")
            for dep, digest in entry.get("deps", []):
                if self.dep_hash(dep) != digest:
                    self.misses += 1
                    return None
            value = decode(entry["value"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
            self.misses += 1
            return None  # absent, or corrupt: ignored, rewritten after linting
        self.hits += 1
        return value

    def put(self, key: str, value: dict, deps: list[str]) -> None:
        entry = {
            "key": key,
            "deps": [[d, self.dep_hash(d)] for d in sorted(set(deps))],
            "value": encode(value),
        }
        try:
            self._prepare()
            data = json.dumps(entry, separators=(",", ":")).encode("utf-8")
            replace_file(
                self.folder / f"{key}.json", data, durable=False, prefix=".tmp-", suffix=".json"
            )
        except (OSError, TypeError, ValueError):
            pass  # a cache that cannot be written is only slower: never an error

    def _prepare(self) -> None:
        if self._made:
            return
        folder = self.folder
        if not folder.is_dir():
            self.directory.mkdir(parents=True, exist_ok=True)
            for name, text in (
                (".gitignore", "# Automatically created by bplint.\n*\n"),
                ("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# " + _README),
            ):
                target = self.directory / name
                if not target.exists():
                    try:
                        target.write_text(text, encoding="utf-8")
                    except OSError:
                        pass
            for old in self.directory.iterdir():
                if old.is_dir() and old.name != folder.name and len(old.name) == 24:
                    import shutil

                    shutil.rmtree(old, ignore_errors=True)
            folder.mkdir(exist_ok=True)
        self._made = True
