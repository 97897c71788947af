"""``[tool.bplint]`` in pyproject.toml -> ``Settings``.

The closest ``pyproject.toml`` that has a ``[tool.bplint]`` table, searching upward from each
linted file's directory, configures that file; paths in it are relative to that file's folder.
Settings are not merged with parent configs. Validation is hand-written (the lint path stays free
of pydantic for start-up time) and every error names the file and the key.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

DEFAULT_KB_URL = "https://bplint.github.io/bplint/"
DEFAULT_EXCLUDE = (
    ".bplint_cache",
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pytest_cache",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pypackages__",
    "__pycache__",
    "_build",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)
OUTPUT_FORMATS = ("concise", "full", "json", "json-lines", "sarif", "github", "markdown")


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (as users typed it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


class ConfigError(Exception):
    def __init__(self, path: Path | None, key: str, message: str) -> None:
        self.path, self.key, self.message = path, key, message
        where = f"{display_path(path)}: " if path else ""
        key_part = f"[tool.bplint] {key}: " if key else ""
        super().__init__(f"{where}{key_part}{message}")


@dataclass(frozen=True)
class Settings:
    root: Path  # folder of the config file (or the cwd without one)
    source: Path | None = None
    select: tuple[str, ...] = ("BP",)
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    output_format: str = "concise"
    kb_url: str = DEFAULT_KB_URL
    cache_dir: str | None = None  # relative to ``root``; default ``.bplint_cache``

    def is_excluded(
        self, path: Path, below: Path | None = None, *, resolved: Path | None = None
    ) -> bool:
        """True if ``path`` or one of its parents matches an exclude pattern.

        A pattern without ``/`` matches any single path component (``build``, ``*.ipynb``); a
        pattern with ``/`` matches the path relative to the config's folder, or a parent of it.
        With ``below`` (a directory named on the command line), only the part of the path under
        it is checked: ``bplint check build/`` lints ``build/`` even though ``build`` is excluded
        by default, as in ruff. ``resolved``: ``path.resolve()`` when the caller knows it (a
        folder walk resolves each folder once, not each of its files); ``below`` is then
        resolved too.
        """
        if resolved is None:
            resolved = path.resolve()
            below = below.resolve() if below is not None else None
        try:
            rel = PurePosixPath(resolved.relative_to(self._resolved_root).as_posix())
        except ValueError:
            rel = PurePosixPath(path.name)
        skip = 0
        if below is not None:
            try:
                skip = len(resolved.relative_to(below).parts)
            except ValueError:
                skip = len(rel.parts)
            skip = len(rel.parts) - skip  # components at or above `below` are not checked
        component, nested = self._exclude_patterns
        if component is not None:
            normcase = os.path.normcase
            if any(component.match(normcase(part)) for part in rel.parts[skip:]):
                return True
        if nested is not None:
            # the path and its parents, as far up as `below` (exclusive)
            candidates = [rel, *rel.parents][: max(len(rel.parts) - skip, 0)]
            if any(nested.match(os.path.normcase(c.as_posix())) for c in candidates):
                return True
        return False

    @cached_property
    def _resolved_root(self) -> Path:
        return self.root.resolve()

    @cached_property
    def _exclude_patterns(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        """The exclude patterns as two regular expressions, each matching what ``fnmatch``
        matches with any one of them: patterns for a single component, and patterns with ``/``
        (for the path relative to the config's folder)."""
        component: list[str] = []
        nested: list[str] = []
        for pattern in (*self.exclude, *self.extend_exclude):
            pat = pattern.rstrip("/")
            if not pat:
                continue
            if "/" in pat:
                nested.append(fnmatch.translate(os.path.normcase(pat.removeprefix("./"))))
            else:
                component.append(fnmatch.translate(os.path.normcase(pat)))
        return (
            re.compile("|".join(component)) if component else None,
            re.compile("|".join(nested)) if nested else None,
        )

    def ignored_for(self, path: Path, *, resolved: Path | None = None) -> tuple[str, ...]:
        if not self.per_file_ignores:
            return ()
        if resolved is None:
            resolved = path.resolve()
        try:
            rel = resolved.relative_to(self._resolved_root).as_posix()
        except ValueError:
            rel = path.name
        out: list[str] = []
        for pattern, codes in self.per_file_ignores:
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path.name, pattern):
                out.extend(codes)
        return tuple(out)


_KEYS = {
    "select": "codes",
    "extend-select": "codes",
    "ignore": "codes",
    "per-file-ignores": "table",
    "exclude": "paths",
    "extend-exclude": "paths",
    "force-exclude": "bool",
    "output-format": "format",
    "kb-url": "url",
    "cache-dir": "path",
}


def _str_list(value: object, path: Path, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, key, "must be a list of strings")
    return tuple(value)


def settings_from_table(table: dict, path: Path | None, root: Path) -> Settings:
    """Validate a ``[tool.bplint]`` table (or CLI overrides) into Settings."""
    from linter.selection import validate_selectors  # local: keeps import order acyclic

    kwargs: dict[str, object] = {"root": root, "source": path}
    for key, value in table.items():
        kind = _KEYS.get(key)
        if kind is None:
            hint = f" (did you mean {key.replace('_', '-')!r}?)" if "_" in key else ""
            raise ConfigError(path, key, f"unknown key{hint}")
        attr = key.replace("-", "_")
        if kind == "codes":
            codes = _str_list(value, path, key)
            bad = validate_selectors(codes)
            if bad:
                raise ConfigError(path, key, f"unknown rule code or name {bad!r}")
            kwargs[attr] = codes
        elif kind == "paths":
            kwargs[attr] = _str_list(value, path, key)
        elif kind == "path":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(path, key, "must be a folder path (a string)")
            kwargs[attr] = value
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(path, key, "must be true or false")
            kwargs[attr] = value
        elif kind == "format":
            if value not in OUTPUT_FORMATS:
                raise ConfigError(path, key, f"must be one of {', '.join(OUTPUT_FORMATS)}")
            kwargs[attr] = value
        elif kind == "url":
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise ConfigError(path, key, "must be an http(s) URL")
            kwargs[attr] = value if value.endswith("/") else value + "/"
        elif kind == "table":
            if not isinstance(value, dict):
                raise ConfigError(path, key, "must be a table of glob = [codes]")
            entries = []
            for glob, codes in value.items():
                codes_t = _str_list(codes, path, f"{key}.{glob}")
                bad = validate_selectors(codes_t)
                if bad:
                    raise ConfigError(path, f"{key}.{glob}", f"unknown rule code or name {bad!r}")
                entries.append((glob, codes_t))
            kwargs[attr] = tuple(entries)
    return Settings(**kwargs)  # type: ignore[arg-type]


def read_pyproject(path: Path) -> dict | None:
    """The ``[tool.bplint]`` table of a pyproject.toml, or None if it has none."""
    import tomllib  # only where there is a pyproject.toml

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "", "is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot be read: {exc.strerror}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict) or "bplint" not in tool:
        return None
    table = tool["bplint"]
    if not isinstance(table, dict):
        raise ConfigError(path, "", "[tool.bplint] must be a table")
    return table


def load_config_file(path: Path) -> Settings:
    table = read_pyproject(path)
    return settings_from_table(table or {}, path, path.parent.resolve())


@dataclass
class ConfigResolver:
    """Finds the closest configuration for each file, caching per directory."""

    cwd: Path
    override: Settings | None = None  # --config FILE: one config for every file
    cli: dict = field(default_factory=dict)  # CLI flags applied on top
    _cache: dict[Path, Settings] = field(default_factory=dict)
    _override_applied: Settings | None = None

    def for_path(self, path: Path) -> Settings:
        if self.override is not None:
            return self._overridden()
        try:
            is_dir = path.is_dir()
        except OSError:  # in a folder we may not search: its own folder's config
            is_dir = False
        directory = path.resolve() if is_dir else path.resolve().parent
        return self._for_dir(directory)

    def for_dir(self, directory: Path) -> Settings:
        """The settings of the files in ``directory`` (already resolved) and of the folder
        itself: ``for_path`` without resolving the path again."""
        if self.override is not None:
            return self._overridden()
        return self._for_dir(directory)

    def _overridden(self) -> Settings:
        if self._override_applied is None:
            assert self.override is not None
            self._override_applied = self._apply_cli(self.override)
        return self._override_applied

    def _for_dir(self, directory: Path) -> Settings:
        cached = self._cache.get(directory)
        if cached is not None:
            return cached
        candidate = directory / "pyproject.toml"
        settings: Settings | None = None
        try:
            has_config = candidate.is_file()
        except OSError:  # a folder we may not search (EACCES): reported when the walk reads it
            has_config = False
        if has_config:
            table = read_pyproject(candidate)
            if table is not None:
                settings = settings_from_table(table, candidate, directory)
        if settings is None:
            if directory.parent != directory:
                settings = self._for_dir(directory.parent)
            else:
                settings = Settings(root=self.cwd.resolve())
                settings = self._apply_cli(settings)
                self._cache[directory] = settings
                return settings
        else:
            settings = self._apply_cli(settings)
        self._cache[directory] = settings
        return settings

    def _apply_cli(self, settings: Settings) -> Settings:
        if not self.cli:
            return settings
        from dataclasses import replace

        merged = dict(self.cli)
        if "extend_select" in merged:
            merged["extend_select"] = settings.extend_select + merged["extend_select"]
        if "ignore_extra" in merged:
            merged["ignore"] = settings.ignore + merged.pop("ignore_extra")
        if "extend_exclude" in merged:
            merged["extend_exclude"] = settings.extend_exclude + merged["extend_exclude"]
        return replace(settings, **merged)
