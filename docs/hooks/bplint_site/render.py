"""Turn KB entries, rules and build-time measurements into the site's Markdown pages.

Pure functions: objects in, Markdown (or HTML) text out. Link targets are relative ``.md`` paths,
so MkDocs validates every one of them and a ``--strict`` build fails on a dangling reference.

Where pages live (source path -> URL):

* ``kb/<slug>.md`` -> ``/kb/<slug>/``, ``kb/index.md`` (by stage), ``kb/frameworks.md``;
* ``kb/figures/<slug>.svg``: the figure an entry's check draws;
* ``rules/<CODE>.md`` -> ``/rules/<CODE>/``, ``rules/index.md``;
* ``rules/<name>/index.html``: a redirect from the rule's name to its code.
"""

from __future__ import annotations

import html
import inspect
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from kb.load import EXAMPLE_MARKER  # where an entry's body shows its check's example()

if TYPE_CHECKING:
    from bplint_site.measure import Measured
    from kb.load import KnowledgeBase, Page
    from linter.rule import Example, Rule

# The order readers meet these stages in a training step; labels double as headings.
STAGES: dict[str, str] = {
    "forward": "Forward pass",
    "backward": "Backward pass",
    "loss": "Output layer and loss",
    "update": "Update and training loop",
    "gradient-check": "Gradient checking",
    "autograd": "Autograd",
    "concept": "Concepts",
}
FRAMEWORKS: dict[str, str] = {"numpy": "NumPy", "pytorch": "PyTorch", "any": "Any framework"}
FAMILIES: dict[str, str] = {
    "0": "Linear algebra and orientation",
    "1": "Activation derivatives",
    "2": "Output layer and loss",
    "3": "Update and training loop",
    "4": "PyTorch autograd",
    "5": "Numerics and gradient checks",
    "6": "Recurrent networks (BPTT)",
    "7": "Normalisation layers",
    "9": "bplint itself",
}

FIX_FLAG = "bplint check --fix"
UNSAFE_FIX_FLAG = "bplint check --fix --unsafe-fixes"


# --- small formatting helpers ------------------------------------------------------------------


def fmt_number(x: float) -> str:
    """How a measured value or bound is shown: three significant digits (``2.85e-10``)."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.3g}"


def fmt_seconds(seconds: float) -> str:
    if seconds < 0.0005:
        return "< 1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def doc(text: str) -> str:
    """A rule's docstring-like attribute, dedented and stripped."""
    return inspect.cleandoc(text) if text else ""


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


KB_SEARCH_BOOST = 2  # Material reads ``search.boost`` from a page's front matter


def front_matter(meta: Mapping[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(dict(meta), allow_unicode=True, sort_keys=False) + "---\n\n"


def fence(source: str, lang: str = "python", hl_lines: Iterable[int] = ()) -> str:
    """A fenced code block that survives backticks inside ``source``."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    ticks = "`" * max(3, longest + 1)
    lines = sorted(set(hl_lines))
    attrs = f' hl_lines="{" ".join(map(str, lines))}"' if lines else ""
    return f"{ticks}{lang}{attrs}\n{source.rstrip()}\n{ticks}"


def admonition(kind: str, title: str, body: str) -> str:
    return f'!!! {kind} "{title}"\n\n{indent(body.strip())}\n'


def md_escape(text: str) -> str:
    """Plain text safe inside Markdown inline syntax (an image's alt text, a link's label)."""
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def rule_family(code: str) -> str:
    return FAMILIES.get(code[2], "Other")


def family_anchor(code: str) -> str:
    return f"bp{code[2]}xx"


def rule_label(rule: type[Rule]) -> str:
    return f"{rule.code} {rule.name}"


def relpath(path: os.PathLike[str] | str) -> str:
    """``path`` relative to the working directory when it is below it (for messages)."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


# --- KB entry page ----------------------------------------------------------------------------


def linked_rules(page: Page, rules: Mapping[str, type[Rule]]) -> list[type[Rule]]:
    """The rules that catch this entry: those it lists, plus any rule that points at it."""
    codes = set(page.meta.rules) | {code for code, r in rules.items() if r.kb == page.slug}
    return [rules[code] for code in sorted(codes) if code in rules]


def measurements_table(measured: Measured) -> str:
    """The "Measured at build" table as raw HTML (names are plain text, never Markdown)."""
    assert measured.run is not None
    rows = []
    for m in measured.run.result.measurements:
        status = "pass" if m.passed else "FAIL"
        note = f"<br><small>{html.escape(m.note)}</small>" if m.note else ""
        rows.append(
            f'<tr class="bp-{status.lower()}">'
            f"<td>{html.escape(m.name)}{note}</td>"
            f"<td><code>{fmt_number(m.value)}</code></td>"
            f"<td>{html.escape(m.relation)} <code>{fmt_number(m.bound)}</code></td>"
            f"<td>{status}</td></tr>"
        )
    return (
        '<div class="bp-measurements">\n<table>\n'
        "<thead><tr><th>Measurement</th><th>Value</th><th>Bound</th><th>Result</th></tr></thead>\n"
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</div>"
    )


def how_to_rerun(page: Page) -> str:
    return f"Re-run it with `bplint verify {page.slug}`."


def measured_section(page: Page, measured: Measured) -> str:
    check_file = f"`kb/checks/{page.meta.check}.py`"
    parts = ["## Measured at build {#measured}", ""]
    if measured.run is None:
        parts.append(
            admonition(
                "failure",
                "The numeric test did not run",
                f"{check_file} failed at build time, so nothing on this page is backed by "
                f"numbers yet:\n\n{fence(measured.error or '', 'text')}",
            )
        )
        return "\n".join(parts)
    result = measured.run.result
    n_pass = sum(m.passed for m in result.measurements)
    n_all = len(result.measurements)
    parts += [
        f"**Claim.** {result.claim}",
        "",
        measurements_table(measured),
        "",
    ]
    if result.passed:
        verdict = f"All {n_all} measurements meet their bounds."
    else:
        verdict = f"**Only {n_pass} of {n_all} measurements meet their bounds.**"
        parts.append(
            admonition(
                "failure",
                "The numbers do not support this claim",
                "\n".join(f"- {line}" for line in measured.failures()),
            )
        )
    parts += [
        f"{verdict} {check_file} ran in {fmt_seconds(measured.run.seconds)} when this site was "
        "built (float64, fixed seeds; see [how the numeric tests work](../numeric-tests.md)). "
        + how_to_rerun(page),
        "",
    ]
    if measured.svg is not None:
        caption = html.escape(measured.figure_caption).replace("*", "&#42;").replace("_", "&#95;")
        parts += [
            '<figure markdown="span">',
            f"  ![{md_escape(measured.figure_alt)}](figures/{page.slug}.svg)",
            f"  <figcaption>{caption}</figcaption>",
            "</figure>",
            "",
        ]
    elif measured.figure_error:
        parts.append(admonition("failure", "The figure could not be drawn", measured.figure_error))
    return "\n".join(parts)


def entry_body(page: Page, measured: Measured) -> str:
    """The entry's Markdown body, its worked-example marker replaced by what the check computed."""
    body = page.body.strip()
    if EXAMPLE_MARKER not in body:
        return body
    if measured.example is not None:
        shown = measured.example.strip()
    else:
        why = measured.example_error or (
            f"kb/checks/{page.meta.check}.py defines no example() for the {EXAMPLE_MARKER} marker"
        )
        shown = admonition("failure", "The worked example could not be computed", why)
    return body.replace(EXAMPLE_MARKER, shown)


def entry_page(
    page: Page,
    measured: Measured,
    kb: KnowledgeBase,
    rules: Mapping[str, type[Rule]],
) -> str:
    """The Markdown for ``/kb/<slug>/``."""
    meta = page.meta
    mine = linked_rules(page, rules)
    frameworks = ", ".join(f"[{FRAMEWORKS[f]}](frameworks.md#{f})" for f in meta.frameworks)
    caught = (
        ", ".join(f"[{r.code}](../rules/{r.code}.md)" for r in mine)
        if mine
        else "[not statically detectable](#rules)"
    )
    out = [
        front_matter(
            {
                "title": meta.title,
                "tags": list(meta.tags),
                "source_file": relpath(page.path),
                # the entries are the answers: a reader who types an entry's words finds the
                # entry before the rule pages and guides that quote them (their examples grow)
                "search": {"boost": KB_SEARCH_BOOST},
            }
        ),
        f"# {meta.title}",
        "",
        f"*Stage:* [{STAGES[meta.stage]}](index.md#{meta.stage}) · "
        f"*Frameworks:* {frameworks} · *Linter:* {caught} · "
        "*Notation:* [conventions](../conventions.md), [identities](../identities.md)",
        "{ .bp-meta }",
        "",
        admonition("question", "The question, as it is asked", meta.question),
        admonition("failure", "The misconception", meta.misconception),
        admonition("success", "The answer", meta.answer),
        entry_body(page, measured),
        "",
        measured_section(page, measured),
        "## Linter rules {#rules}",
        "",
    ]
    if mine:
        out.append("This misconception produces code that these rules flag:\n")
        out += [
            f"- [**{r.code}** `{r.name}`](../rules/{r.code}.md): {doc(r.summary)}" for r in mine
        ]
    else:
        out.append(
            admonition(
                "info",
                "Not statically detectable",
                meta.not_detectable or "No rule covers this entry yet.",
            )
        )
    out.append("")
    if meta.see_also:
        out += ["## See also {#see-also}", ""]
        out += [f"- [{kb[slug].meta.title}]({slug}.md)" for slug in meta.see_also]
        out.append("")
    out += ["## Sources {#sources}", ""]
    out += [f"1. [{src.title}]({src.url})" for src in meta.sources]
    out += [
        "",
        "---",
        "",
        "Notation follows the [column and row conventions](../conventions.md); the identities "
        "the derivation uses are collected on the [matrix-calculus sheet](../identities.md). "
        f"This page is generated from `{relpath(page.path)}`.",
        "{ .bp-footer }",
        "",
    ]
    return "\n".join(out)


# --- rule page --------------------------------------------------------------------------------


def example_block(example: Example, *, invalid: bool, fix_safety: str | None) -> str:
    lines = [line for line, _col in example.expect] if invalid else []
    code = fence(example.source, hl_lines=lines)
    parts = []
    if invalid and example.fixed is not None:
        flag = UNSAFE_FIX_FLAG if fix_safety == "unsafe" else FIX_FLAG
        parts += [
            '===! "Flagged"',
            "",
            indent(code),
            "",
            f'=== "After `{flag}`"',
            "",
            indent(fence(example.fixed)),
            "",
        ]
    else:
        parts += [code, ""]
    if example.note:
        parts += [example.note.strip(), ""]
    return "\n".join(parts)


def split_valid(rule: type[Rule]) -> tuple[list[Example], list[Example]]:
    """The VALID examples that show the fix, and the other non-findings.

    The fix is a VALID example that is what ``--fix`` makes of an INVALID one; a rule whose fixes
    match none (or that has no fix) shows its first VALID example as the rewrite.
    """
    fixed = {ex.fixed.strip() for ex in rule.invalid if ex.fixed is not None}
    fixes = [ex for ex in rule.valid if ex.source.strip() in fixed]
    if not fixes and rule.valid:
        fixes = [rule.valid[0]]
    return fixes, [ex for ex in rule.valid if ex not in fixes]


def fix_safety_text(rule: type[Rule]) -> str:
    safety = getattr(rule.fix_safety, "value", rule.fix_safety)
    if safety is None:
        return (
            "No automatic fix. The finding says what to write instead; the rewrite depends on "
            "code bplint cannot see, so it is left to you."
        )
    note = getattr(rule, "fix_safety_note", "")
    if safety == "safe":
        text = (
            f"The fix is **safe**: `{FIX_FLAG}` applies it. It is offered only where it keeps "
            "every value the code computes; the test suite runs every safe fix on seeded inputs "
            "and compares the results with the original's."
        )
    else:
        text = (
            f"The fix is **unsafe**: it is applied only with `{UNSAFE_FIX_FLAG}`, because it "
            "changes what the code computes and bplint cannot prove the new code is what you "
            "meant. Review the diff."
        )
    return f"{text}\n\n{note}" if note else text


def is_meta(rule: type[Rule]) -> bool:
    """A rule about bplint itself (e.g. unused suppressions): no KB entry, no numeric test."""
    return bool(getattr(rule, "meta", False))


def rule_page(rule: type[Rule], entry: Page | None, measured: Measured | None) -> str:
    """The Markdown for ``/rules/<CODE>/``, in ruff's sections."""
    safety = getattr(rule.fix_safety, "value", rule.fix_safety)
    if is_meta(rule):
        kb_link = "none (a rule about bplint itself)"
    elif entry is not None:
        kb_link = f"[{entry.meta.title}](../kb/{entry.slug}.md)"
    else:
        kb_link = f"`{rule.kb}`"
    fix = {"safe": "safe", "unsafe": "unsafe"}.get(safety or "", "none")
    default = "on" if rule.default_enabled else "off"
    out = [
        front_matter({"title": rule_label(rule)}),
        f"# {rule.code} `{rule.name}`",
        "",
        f"*Family:* [{rule_family(rule.code)}](index.md#{family_anchor(rule.code)}) · "
        f"*Default:* {default} · *Fix:* {fix} · *Knowledge base:* {kb_link}",
        "{ .bp-meta }",
        "",
        "## What it does {#what-it-does}",
        "",
        doc(rule.summary),
        "",
        "## Why is this bad? {#why-is-this-bad}",
        "",
        doc(rule.why),
        "",
        "## Example {#example}",
        "",
    ]
    for example in rule.invalid:
        out.append(example_block(example, invalid=True, fix_safety=safety))
    fixes, others = split_valid(rule)
    out += ["## Use instead {#use-instead}", "", doc(rule.instead), ""]
    for example in fixes:
        out.append(example_block(example, invalid=False, fix_safety=safety))
    if others:
        out += [
            "## Not flagged {#not-flagged}",
            "",
            "Other code this rule leaves alone, on purpose (each example is one of the rule's "
            "tests):",
            "",
        ]
        for example in others:
            out.append(example_block(example, invalid=False, fix_safety=safety))
    out += ["## Fix safety {#fix-safety}", "", fix_safety_text(rule), ""]
    out += ["## Known problems {#known-problems}", ""]
    out += [doc(rule.known_problems) or "None known.", ""]
    out += ["## Numeric test {#numeric-test}", ""]
    if is_meta(rule):
        out.append(
            "None: this rule is about bplint's own directives, not about a backpropagation "
            "misconception, so there is no KB entry and nothing to measure."
        )
    elif entry is None:
        out.append(f"The KB entry `{rule.kb}` this rule points at does not exist.")
    else:
        out.append(
            f"This rule exists because of the KB entry {kb_link}. Its numeric test, "
            f"`kb/checks/{entry.meta.check}.py`, shows with finite differences that the flagged "
            "code computes a wrong gradient and the suggested code a right one."
        )
        if measured is not None and measured.run is not None:
            result = measured.run.result
            n_pass = sum(m.passed for m in result.measurements)
            out.append(
                f"\n**Claim.** {result.claim} At this build, {n_pass} of "
                f"{len(result.measurements)} measurements met their bounds "
                f"([see the numbers](../kb/{entry.slug}.md#measured))."
            )
        elif measured is not None:
            out.append(f"\nAt this build the test did not run: `{measured.error}`.")
    if not is_meta(rule):
        out += ["", "Run it yourself:", "", fence(f"bplint verify {rule.code}", "console")]
    out.append("")
    out += ["## Default {#default}", ""]
    if rule.default_enabled:
        out.append("On by default.")
    else:
        out += [
            f"Off by default: {doc(rule.disabled_reason)}",
            "",
            "Naming the rule exactly turns it on (a prefix such as `BP` does not): "
            f"`bplint check --extend-select {rule.code}`, or in `pyproject.toml`:",
            "",
            fence(f'[tool.bplint]\nextend-select = ["{rule.code}"]', "toml"),
        ]
    out += [
        "",
        "## Suppressing it {#suppressing}",
        "",
        f"Add `# noqa: {rule.code}` to the flagged line, with a reason in the comment. "
        f"Links to this page stay stable: `/rules/{rule.code}/`, and `/rules/{rule.name}/` "
        "redirects here.",
        "",
    ]
    return "\n".join(out)


def redirect_page(target: str, label: str, canonical: str) -> str:
    """A static page that sends an old URL to ``target`` (keeps the #anchor): ``/rules/<name>/``
    to ``/rules/<CODE>/``, a merged KB entry's former slug to the entry it was merged into."""
    t, c, lbl = html.escape(target), html.escape(canonical), html.escape(label)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Redirecting to {lbl}</title>
<link rel="canonical" href="{c}">
<meta name="robots" content="noindex">
<meta http-equiv="refresh" content="0; url={t}">
<script>location.replace({target!r} + location.hash);</script>
</head>
<body><p>This page moved to <a href="{t}">{lbl}</a>.</p></body>
</html>
"""


# --- indexes ----------------------------------------------------------------------------------


def rules_index(rules: Sequence[type[Rule]], kb: KnowledgeBase) -> str:
    out = [
        front_matter({"title": "Rules"}),
        "# Rules",
        "",
        f"bplint has {len(rules)} rules. Each has a stable page at `/rules/<CODE>/` (its name, "
        "`/rules/<name>/`, redirects there) that follows the same sections: what it does, why "
        "it is a bug, a flagged example, what to write instead, whether `--fix` can rewrite it, "
        "and the numeric test that proves the point. Codes are grouped by family, by hundreds.",
        "",
    ]
    by_family: dict[str, list[type[Rule]]] = {}
    for rule in rules:
        by_family.setdefault(rule.code[2], []).append(rule)
    for digit, members in sorted(by_family.items()):
        out += [
            f"## BP{digit}xx · {FAMILIES.get(digit, 'Other')} {{#bp{digit}xx}}",
            "",
            "| Code | Name | What it flags | Fix | Default | Knowledge base |",
            "|---|---|---|---|---|---|",
        ]
        for r in members:
            safety = getattr(r.fix_safety, "value", r.fix_safety) or "none"
            if is_meta(r):
                entry = "—"
            elif r.kb in kb.pages:
                entry = f"[{cell(kb[r.kb].meta.title)}](../kb/{r.kb}.md)"
            else:
                entry = f"`{r.kb}`"
            out.append(
                f"| [{r.code}]({r.code}.md) | {r.name} | {cell(doc(r.summary))}"
                f" | {safety} | {'on' if r.default_enabled else 'off'} | {entry} |"
            )
        out.append("")
    return "\n".join(out)


def _entry_item(page: Page, rules: Mapping[str, type[Rule]], prefix: str = "") -> str:
    mine = linked_rules(page, rules)
    caught = ", ".join(f"[{r.code}]({prefix}../rules/{r.code}.md)" for r in mine)
    tail = f" · {caught}" if caught else ""
    return f"- **[{page.meta.title}]({prefix}{page.slug}.md)**{tail}  \n  {page.meta.answer}"


def kb_index(kb: KnowledgeBase, rules: Mapping[str, type[Rule]]) -> str:
    pages = sorted(kb, key=lambda p: p.meta.title.lower())
    out = [
        front_matter({"title": "Knowledge base"}),
        "# Knowledge base",
        "",
        f"{len(kb)} backpropagation misconceptions, each with the question as people ask it, the "
        "wrong belief stated fairly, the short answer, a derivation, wrong and right code, and a "
        "numeric test whose numbers were measured when this site was built. Entries are grouped "
        "below by the stage of a training step where the mistake shows up; they are also listed "
        "[by framework](frameworks.md) and [by tag](../tags.md).",
        "",
    ]
    for stage, label in STAGES.items():
        members = [p for p in pages if p.meta.stage == stage]
        out += [f"## {label} {{#{stage}}}", ""]
        out += [_entry_item(p, rules) for p in members] or ["No entries yet."]
        out.append("")
    return "\n".join(out)


def frameworks_index(kb: KnowledgeBase, rules: Mapping[str, type[Rule]]) -> str:
    pages = sorted(kb, key=lambda p: p.meta.title.lower())
    out = [
        front_matter({"title": "By framework"}),
        "# Entries by framework",
        "",
        "Where the mistake is written: hand-written NumPy backward passes, PyTorch code "
        "(custom `autograd.Function`s, training loops), or any framework at all (a concept).",
        "",
    ]
    for fw, label in FRAMEWORKS.items():
        members = [p for p in pages if fw in p.meta.frameworks]
        out += [f"## {label} {{#{fw}}}", ""]
        out += [_entry_item(p, rules) for p in members] or ["No entries yet."]
        out.append("")
    return "\n".join(out)
