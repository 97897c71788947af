"""The site navigation, built at build time so nothing in it goes stale.

The KB and rule sections come from the KB and the rule registry. Workflow pages under
``docs/guide/`` are picked up as they appear (in the usual reading order when their file names
are the expected ones, alphabetically after that). Any other hand-written page lands under
"Reference", so a new page is never silently left out of the nav.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bplint_site.render import STAGES, rule_label

if TYPE_CHECKING:
    from kb.load import KnowledgeBase
    from linter.rule import Rule

GUIDE_ORDER = (
    "index",
    "getting-started",
    "installation",
    "pre-commit",
    "ci",
    "configuration",
    "suppressions",
    "fixes",
    "output-formats",
    "notebooks",
    "code-review",
)
HOME = "index.md"
LINTER = "linter.md"
TAGS = "tags.md"
REFERENCE = ("conventions.md", "identities.md", "numeric-tests.md")
SKIP_DIRS = {"hooks", "node_modules", "kb", "rules", "guide", "assets"}

NavItem = str | dict[str, Any]


def _guide_key(rel: str) -> tuple[int, str]:
    stem = Path(rel).stem
    rank = GUIDE_ORDER.index(stem) if stem in GUIDE_ORDER else len(GUIDE_ORDER)
    return (rank, rel)


def guide_pages(docs_dir: Path) -> list[str]:
    """Hand-written workflow pages under ``docs/guide/``, in reading order."""
    guide = docs_dir / "guide"
    if not guide.is_dir():
        return []
    rels = [p.relative_to(docs_dir).as_posix() for p in guide.rglob("*.md")]
    return sorted(rels, key=_guide_key)


def other_pages(docs_dir: Path) -> list[str]:
    """Hand-written pages the nav does not place by name (they go under Reference)."""
    placed = {HOME, LINTER, TAGS, *REFERENCE}
    found = []
    for path in docs_dir.rglob("*.md"):
        rel = path.relative_to(docs_dir)
        if rel.parts[0] in SKIP_DIRS or any(part.startswith(".") for part in rel.parts):
            continue
        if rel.as_posix() not in placed:
            found.append(rel.as_posix())
    return sorted(found)


def build_nav(docs_dir: Path, kb: KnowledgeBase, rules: Sequence[type[Rule]]) -> list[NavItem]:
    """The ``nav`` config: Home, Using bplint, Knowledge base, Rules, Reference, Tags."""
    using: list[NavItem] = [LINTER, *guide_pages(docs_dir)] if (docs_dir / LINTER).is_file() else []
    pages = sorted(kb, key=lambda p: p.meta.title.lower())
    stages: list[NavItem] = []
    for stage, label in STAGES.items():
        members = [f"kb/{p.slug}.md" for p in pages if p.meta.stage == stage]
        if members:
            stages.append({label: members})
    reference = [r for r in REFERENCE if (docs_dir / r).is_file()] + other_pages(docs_dir)
    nav: list[NavItem] = [{"Home": HOME}]
    if using:
        nav.append({"Using bplint": using})
    nav.append({"Knowledge base": ["kb/index.md", "kb/frameworks.md", *stages]})
    nav.append(
        {"Rules": ["rules/index.md", *[{rule_label(r): f"rules/{r.code}.md"} for r in rules]]}
    )
    if reference:
        nav.append({"Reference": reference})
    if (docs_dir / TAGS).is_file():
        nav.append({"Tags": TAGS})
    return nav
