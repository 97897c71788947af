"""Read KB entries, validate their front matter and resolve every cross-reference.

Every problem is collected and reported together, each naming the file and the field, so an
author fixes a broken page in one pass. A broken reference is an error, never a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from kb.schema import Entry

# Where an entry's body shows the worked example its check module's ``example()`` computes
# (rendered at build time; an entry has the marker exactly when its check defines example()).
EXAMPLE_MARKER = "<!-- worked-example -->"

KB_ROOT = Path(__file__).resolve().parent
ENTRIES_DIR = KB_ROOT / "entries"
CHECKS_DIR = KB_ROOT / "checks"


@dataclass(frozen=True)
class Problem:
    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else str(self.path)
        return f"{where}: {self.message}"


class KBError(Exception):
    """One or more entries are invalid; ``problems`` lists each with its file and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Page:
    """A validated entry: its front matter, its Markdown body and where it came from."""

    meta: Entry
    body: str
    path: Path

    @property
    def slug(self) -> str:
        return self.meta.slug


@dataclass
class KnowledgeBase:
    pages: dict[str, Page] = field(default_factory=dict)

    def __getitem__(self, slug: str) -> Page:
        return self.pages[slug]

    def __iter__(self):
        return iter(self.pages.values())

    def __len__(self) -> int:
        return len(self.pages)

    def by_rule(self, code: str) -> list[Page]:
        return [p for p in self if code in p.meta.rules]


def split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    """Split ``---\\nYAML\\n---\\nbody``; raise KBError naming the file if it is malformed."""
    if not text.startswith("---\n"):
        raise KBError([Problem(path, "", "does not start with a '---' front-matter block")])
    end = text.find("\n---\n", 4)
    if end == -1:
        raise KBError([Problem(path, "", "front matter is not closed by a '---' line")])
    try:
        meta = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise KBError(
            [Problem(path, "", f"front matter is not valid YAML{where}: {exc}")]
        ) from None
    if not isinstance(meta, dict):
        raise KBError([Problem(path, "", "front matter must be a mapping of fields")])
    return meta, text[end + 5 :]


def _validation_problems(path: Path, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(entry)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        problems.append(Problem(path, loc, msg))
    return problems


def read_page(path: Path) -> Page:
    """Read and validate one entry file (no cross-reference checks)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KBError([Problem(path, "", "is not valid UTF-8")]) from None
    except OSError as exc:
        raise KBError([Problem(path, "", f"cannot be read: {exc.strerror}")]) from None
    meta, body = split_front_matter(text, path)
    try:
        entry = Entry.model_validate(meta)
    except ValidationError as exc:
        raise KBError(_validation_problems(path, exc)) from None
    if entry.slug != path.stem:
        raise KBError([Problem(path, "slug", f"{entry.slug!r} does not match the file name")])
    return Page(meta=entry, body=body, path=path)


def load_kb(
    entries_dir: Path = ENTRIES_DIR,
    checks_dir: Path = CHECKS_DIR,
    known_rules: Iterable[str] | None = None,
) -> KnowledgeBase:
    """Load every entry; raise KBError listing all problems, cross-references included.

    ``known_rules`` is the linter's rule registry (``kb`` never imports ``linter``); when given,
    each entry's ``rules`` must name registered codes.
    """
    problems: list[Problem] = []
    pages: dict[str, Page] = {}
    for path in sorted(entries_dir.glob("*.md")):
        try:
            page = read_page(path)
        except KBError as exc:
            problems.extend(exc.problems)
            continue
        pages[page.slug] = page

    rules = set(known_rules) if known_rules is not None else None
    former: dict[str, str] = {}
    for page in pages.values():
        meta = page.meta
        for i, slug in enumerate(meta.redirect_from):
            if slug in pages:
                problems.append(
                    Problem(page.path, f"redirect_from.{i}", f"{slug!r} is a current entry")
                )
            elif slug in former:
                problems.append(
                    Problem(
                        page.path,
                        f"redirect_from.{i}",
                        f"{slug!r} already redirects to {former[slug]!r}",
                    )
                )
            else:
                former[slug] = meta.slug
        for i, slug in enumerate(meta.see_also):
            if slug not in pages:
                problems.append(Problem(page.path, f"see_also.{i}", f"no entry {slug!r}"))
            elif slug == meta.slug:
                problems.append(Problem(page.path, f"see_also.{i}", "links to itself"))
        if rules is not None:
            for i, code in enumerate(meta.rules):
                if code not in rules:
                    problems.append(Problem(page.path, f"rules.{i}", f"no rule {code!r}"))
        if not (checks_dir / f"{meta.check}.py").is_file():
            problems.append(
                Problem(page.path, "check", f"no numeric test module kb/checks/{meta.check}.py")
            )
    if problems:
        raise KBError(problems)
    return KnowledgeBase(pages)
