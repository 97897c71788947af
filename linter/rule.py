"""The rule base class: a rule is a small declarative class and a query over the shared analysis.

A rule declares its identity (code, name, KB slug), its documentation (ruff's sections), its
examples (which are its tests and its docs page) and ``query(model)``, which yields ``Report``s
from the facts the analysis already computed. Rules never walk the tree themselves.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import libcst as cst

from linter.ftypes import FixSafety, Pos

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel

CODE_RE = re.compile(r"^BP\d{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Example:
    """A code sample: VALID ones must give no finding, INVALID ones exactly the expected ones.

    ``expect`` lists ``(line, column)`` of each expected finding (1-based); if empty, an INVALID
    example must give at least one finding. ``fixed`` is the expected source after ``--fix``
    (with ``--unsafe-fixes`` for unsafe fixes).
    """

    code: str
    expect: tuple[tuple[int, int], ...] = ()
    fixed: str | None = None
    note: str = ""

    @property
    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")


def Valid(code: str, note: str = "") -> Example:
    return Example(code, note=note)


def Invalid(
    code: str,
    *,
    at: tuple[int, int] | list[tuple[int, int]] | None = None,
    fixed: str | None = None,
    note: str = "",
) -> Example:
    if at is None:
        expect: tuple[tuple[int, int], ...] = ()
    elif isinstance(at, tuple):
        expect = (at,)
    else:
        expect = tuple(at)
    return Example(
        code, expect=expect, fixed=textwrap.dedent(fixed).lstrip("\n") if fixed else None, note=note
    )


@dataclass(frozen=True)
class Report:
    """What a rule's query yields: the node to point at, the message, an optional fix, and the
    evidence: (node, text) pairs saying which facts of the analysis make it a finding
    ("`self.W` is updated here"); each is shown at the node's line."""

    node: cst.CSTNode
    message: str
    replacement: cst.CSTNode | None = None  # replaces ``node`` when the fix is applied
    replaces: cst.CSTNode | None = None  # what ``replacement`` replaces, if not ``node`` itself
    fix_description: str = ""
    evidence: tuple[tuple[cst.CSTNode | Pos, str], ...] = ()


class Rule:
    """Base class. Subclasses set the ClassVars and implement ``query``."""

    code: ClassVar[str]
    name: ClassVar[str]
    kb: ClassVar[str]  # KB slug; the numeric test is that entry's check
    summary: ClassVar[str]  # one line: what it flags
    why: ClassVar[str]  # "Why is this bad?"
    instead: ClassVar[str]  # what to do instead (used in the docs and in `explain`)
    known_problems: ClassVar[str] = ""
    fix_safety: ClassVar[FixSafety | None] = None
    fix_safety_note: ClassVar[str] = ""  # when the fix is offered and why it is safe (docs)
    default_enabled: ClassVar[bool] = True
    # A rule with no misconception behind it (e.g. BP900 unused-noqa): no KB entry, no numeric
    # test; its findings link the rule's own page.
    meta: ClassVar[bool] = False
    # What must occur in a file's text for ``query`` to possibly report anything: regular
    # expressions (``linter.prefilter`` names the common ones), all of which must match. A file
    # no selected rule could fire on is not parsed. Empty: ``prefilter.BASE``.
    prefilter: ClassVar[tuple[str, ...]] = ()
    disabled_reason: ClassVar[str] = ""  # why a rule is off by default
    valid: ClassVar[list[Example]] = []
    invalid: ClassVar[list[Example]] = []

    registry: ClassVar[dict[str, type[Rule]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not CODE_RE.match(cls.code):
            raise TypeError(f"{cls.__name__}: bad rule code {cls.code!r}")
        if not NAME_RE.match(cls.name):
            raise TypeError(f"{cls.__name__}: rule name {cls.name!r} is not kebab-case")
        if cls.code in Rule.registry:
            raise TypeError(f"{cls.__name__}: duplicate rule code {cls.code}")
        if not cls.default_enabled and not cls.disabled_reason:
            raise TypeError(f"{cls.__name__}: a rule off by default must say why")
        Rule.registry[cls.code] = cls

    @classmethod
    def check_name(cls) -> str:
        """The numeric test behind this rule: its KB entry's ``check`` module (by convention)."""
        return cls.kb.replace("-", "_").lower()

    def query(self, model: ModuleModel) -> Iterator[Report]:
        raise NotImplementedError
