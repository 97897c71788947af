"""A Markdown summary for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

A headline, a table of findings per rule (linked to the rule page, with its KB entry), then every
finding with its location, message, KB link and numeric test, and any file that could not be
linted. Long lists fold into a ``<details>`` block so the comment stays readable.
"""

from __future__ import annotations

from collections import Counter

from linter.ftypes import FileError, Finding
from linter.report.text import location

FOLD_AFTER = 10


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def as_markdown(findings: list[Finding], errors: list[FileError], ctx) -> str:
    files = {str(f.path) for f in findings}
    out: list[str] = []
    if not findings and not errors:
        return "### bplint\n\nNo findings.\n"
    head = f"### bplint: {_plural(len(findings), 'finding')} in {_plural(len(files), 'file')}"
    if errors:
        head += f", {_plural(len(errors), 'file')} not linted"
    out += [head, ""]
    if findings:
        counts = Counter(f.code for f in findings)
        first = {}
        for f in findings:
            first.setdefault(f.code, f)
        out += ["| Rule | Findings | Why it is a bug |", "|---|---:|---|"]
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            f = first[code]
            why = f"[KB entry]({ctx.kb_page(f.kb)})" if f.kb else "(about bplint itself)"
            out.append(f"| [{code}]({ctx.rule_page(code)}) `{f.name}` | {n} | {why} |")
        out.append("")
        items = []
        for f in findings:
            fix = ""
            if f.fix is not None:
                fix = f" Fix ({f.fix.safety.value}): {_cell(f.fix.description)}."
            tail = (
                f" [Why]({ctx.kb_page(f.kb)}) · numeric test `{f.check}` (`bplint verify {f.code}`)"
                if f.kb
                else f" [Rule]({ctx.rule_page(f.code)})"
            )
            items.append(
                f"- `{location(f)}` **[{f.code}]({ctx.rule_page(f.code)})** "
                f"{_cell(f.message)}.{fix}{tail}"
            )
        if len(items) > FOLD_AFTER:
            out += [f"<details><summary>All {len(items)} findings</summary>", ""]
            out += items
            out += ["", "</details>"]
        else:
            out += items
        out.append("")
    if errors:
        out += ["**Not linted:**", ""]
        out += [f"- `{location(e)}`: {_cell(e.message)}" for e in errors]
        out.append("")
    return "\n".join(out)
