"""What the lint path needs to know about each rule, without importing any rule.

Importing the rules imports libcst and the whole analysis (most of a short run's time). Choosing
the rules (``--select``), the pre-filter and BP900 need only each rule's code, name, default,
markers and module: ``rules()`` reads them from an index file, and a rule is imported only when
a file passes its markers (``RuleInfo.load``). The index is built the first time by importing
every rule, and rebuilt whenever bplint's own sources change (its key is the results cache's
fingerprint: every module's size and modification time, as Python's bytecode cache does). It is
kept beside the bytecode (``linter/__pycache__``); where that cannot be written, every run
imports the rules, as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linter.rule import Rule

FILE = Path(__file__).resolve().parent / "__pycache__" / "bplint-rule-index.json"


@dataclass(frozen=True)
class RuleInfo:
    """A rule as selection and the pre-filter see it (``prefilter``: its declared markers)."""

    code: str
    name: str
    default_enabled: bool
    meta: bool
    prefilter: tuple[str, ...]
    module: str

    def load(self) -> type[Rule]:
        """The rule class (imports its module, and so the analysis it queries)."""
        import importlib

        from linter.rule import Rule

        importlib.import_module(self.module)
        return Rule.registry[self.code]


def info_of(rule: type[Rule]) -> RuleInfo:
    return RuleInfo(
        code=rule.code,
        name=rule.name,
        default_enabled=bool(rule.default_enabled),
        meta=bool(rule.meta),
        prefilter=tuple(rule.prefilter),
        module=rule.__module__,
    )


def load(rule: RuleInfo | type[Rule]) -> type[Rule]:
    """The class of a rule given by its index entry or already as a class."""
    return rule.load() if isinstance(rule, RuleInfo) else rule


_RULES: tuple[RuleInfo, ...] | None = None


def rules() -> tuple[RuleInfo, ...]:
    """Every rule, sorted by code (from the index file when it is current)."""
    global _RULES
    if _RULES is None:
        from linter.cache import fingerprint

        key = fingerprint()
        _RULES = _read(key)
        if _RULES is None:
            from linter.rules import ALL_RULES

            _RULES = tuple(info_of(r) for r in ALL_RULES)
            _write(key, _RULES)
    return _RULES


def by_code() -> dict[str, RuleInfo]:
    return {r.code: r for r in rules()}


def _read(key: str) -> tuple[RuleInfo, ...] | None:
    try:
        data = json.loads(FILE.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return tuple(
            RuleInfo(**{**entry, "prefilter": tuple(entry["prefilter"])}) for entry in data["rules"]
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, stale or damaged: rebuilt from the rules themselves


def _write(key: str, entries: tuple[RuleInfo, ...]) -> None:
    """Atomically (a concurrent run reads the old file or the new one, never half of one)."""
    import tempfile

    text = json.dumps({"key": key, "rules": [asdict(e) for e in entries]}, indent=0)
    try:
        FILE.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=FILE.parent, prefix=".rule-index-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)  # readable by every user, as bytecode is
            os.replace(tmp, FILE)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only install: the next run builds it again
