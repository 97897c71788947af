"""Pydantic models for a KB entry's front matter and for a numeric test's result.

These validate what comes from outside (the YAML front matter authors write). Unknown fields are
errors, so a typo never silently drops information from the site.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG_RE = r"^[a-z0-9]+(?:-[a-zA-Z0-9]+)*$"
RULE_CODE_RE = r"^BP\d{3}$"
MODULE_RE = r"^[a-z_][a-z0-9_]*$"

Stage = Literal["concept", "forward", "backward", "loss", "update", "gradient-check", "autograd"]
Framework = Literal["numpy", "pytorch", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Source(_Strict):
    """A primary source: the original Q&A thread, the book or paper, the official docs."""

    title: str = Field(min_length=3)
    url: str = Field(pattern=r"^https?://[^\s/$.?#][^\s]*$")


class Entry(_Strict):
    """Front matter of one KB page (``kb/entries/<slug>.md``)."""

    slug: str = Field(pattern=SLUG_RE)
    title: str = Field(min_length=5)
    question: str = Field(min_length=10, description="The question as a learner asks it.")
    misconception: str = Field(min_length=10, description="The wrong belief, stated fairly.")
    answer: str = Field(min_length=10, description="The one-sentence verdict.")
    tags: list[str] = Field(default_factory=list)
    stage: Stage
    frameworks: list[Framework] = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)
    not_detectable: str | None = Field(
        default=None, description="Why no rule can catch this statically (when `rules` is empty)."
    )
    check: str = Field(pattern=MODULE_RE, description="Module in kb/checks/ with check().")
    sources: list[Source] = Field(min_length=1)
    see_also: list[str] = Field(default_factory=list)
    redirect_from: list[str] = Field(
        default_factory=list,
        description="Former slugs of this page (merged entries); the site redirects them here.",
    )

    @field_validator("rules")
    @classmethod
    def _rule_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not re.match(RULE_CODE_RE, code):
                raise ValueError(f"{code!r} is not a rule code like BP001")
        return codes

    @field_validator("see_also", "redirect_from")
    @classmethod
    def _slugs(cls, slugs: list[str]) -> list[str]:
        for slug in slugs:
            if not re.match(SLUG_RE, slug):
                raise ValueError(f"{slug!r} is not a KB slug")
        return slugs

    @model_validator(mode="after")
    def _detectable_or_why_not(self) -> Entry:
        if self.rules and self.not_detectable:
            raise ValueError("give either `rules` or `not_detectable`, not both")
        if not self.rules and not self.not_detectable:
            raise ValueError("an entry without `rules` must say why in `not_detectable`")
        return self


class Measurement(_Strict):
    """One number a numeric test measured, with the bound it must meet."""

    name: str
    value: float
    kind: Literal["below", "above"] = Field(description="value must be below / above bound")
    bound: float
    note: str = ""

    @property
    def passed(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value < self.bound if self.kind == "below" else self.value > self.bound

    @property
    def relation(self) -> str:
        return "<" if self.kind == "below" else ">"


class CheckResult(_Strict):
    """What a numeric test returns: the claim in words and the measurements that back it."""

    claim: str = Field(min_length=10)
    measurements: list[Measurement] = Field(min_length=2)

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.measurements)

    @model_validator(mode="after")
    def _proves_and_refutes(self) -> CheckResult:
        kinds = {m.kind for m in self.measurements}
        if kinds != {"below", "above"}:
            raise ValueError(
                "a check must both prove the claim (a 'below' bound) and refute the "
                "misconception (an 'above' bound)"
            )
        return self


def below(name: str, value: float, bound: float, note: str = "") -> Measurement:
    """A measurement that must stay under ``bound`` (e.g. the right gradient's error)."""
    return Measurement(name=name, value=float(value), kind="below", bound=bound, note=note)


def above(name: str, value: float, bound: float, note: str = "") -> Measurement:
    """A measurement that must exceed ``bound`` (e.g. the misconception's gradient error)."""
    return Measurement(name=name, value=float(value), kind="above", bound=bound, note=note)
