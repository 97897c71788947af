"""The terminal as a reader uses it: ``explain`` by plain words, the ``kb`` listing, the colour
switches (NO_COLOR, FORCE_COLOR) and a help text on every option. Run through the real CLI."""

from __future__ import annotations

import argparse
import json
import re
import textwrap

import pytest

from kb.load import ENTRIES_DIR, load_kb, read_page
from tests.cli_helpers import bplint

BUGGY = textwrap.dedent(
    """
    import numpy as np

    def backprop(W2, delta2, z1):
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
    """
).lstrip()
# --- explain by plain words, the KB listing ---------------------------------------------------

SEED_SLUGS = {"transpose-is-not-inverse", "transpose-does-not-move-error"}


def _ranked(stdout: str) -> list[str]:
    """The slugs of ``explain WORDS``'s ranked list, best first."""
    return re.findall(r"^  \d+\. (\S+) ", stdout, flags=re.MULTILINE)


def test_explain_takes_plain_words_ranked_and_shows_the_first(tmp_path):
    r = bplint("explain", "why transpose", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ranked = _ranked(r.stdout)
    assert 2 <= len(ranked) <= 5 and len(set(ranked)) == len(ranked)
    assert ranked[0] in SEED_SLUGS, ranked
    # The first one in full: its question, answer, and page.
    page = read_page(ENTRIES_DIR / f"{ranked[0]}.md")
    full = r.stdout.split(" in full ", 1)[1]
    assert "Q: " in full and "A: " in full
    assert f"KB entry: https://bplint.github.io/bplint/kb/{ranked[0]}/" in full
    assert page.meta.title in full
    # Every listed entry comes with its URL.
    for slug in ranked:
        assert f"https://bplint.github.io/bplint/kb/{slug}/" in r.stdout


def test_explain_words_rank_by_relevance(tmp_path):
    r = bplint("explain", "softmax jacobian", cwd=tmp_path)
    ranked = _ranked(r.stdout)
    assert ranked and all("softmax" in s or "jacobian" in s for s in ranked[:2]), ranked
    r = bplint("explain", "why transpose not inverse", cwd=tmp_path)
    assert _ranked(r.stdout)[0] == "transpose-is-not-inverse"


def test_every_entry_is_found_first_by_its_own_question():
    from kb.search import Index
    from linter.cli import _kb_pages, _search_index

    pages = _kb_pages()
    index: Index = _search_index(pages)
    missed = [
        p.slug for p in pages if index.search(p.meta.question, limit=1).hits[0].slug != p.slug
    ]
    assert missed == []


MERGED = sorted((old, p.slug) for p in load_kb() for old in p.meta.redirect_from)


@pytest.mark.parametrize(("old", "slug"), MERGED or [pytest.param("", "", marks=pytest.mark.skip)])
def test_a_merged_entry_s_old_slug_still_resolves(tmp_path, old, slug):
    """The site redirects a merged page's old URL (redirect_from); the terminal follows it too,
    whether or not the old slug is also a rule's name (a rule name resolves to the rule first)."""
    from linter.cli import _merged_into

    assert _merged_into(old).slug == slug and _merged_into(old.upper()).slug == slug
    assert _merged_into(slug) is None  # a current slug is no redirect
    r = bplint("explain", old, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(rf"^KB entry: +https://bplint.github.io/bplint/kb/{slug}/$", r.stdout, re.M)
    assert "best first" not in r.stdout  # the entry itself, not a word search
    r = bplint("verify", old, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"[{load_kb()[slug].meta.check}," in r.stdout


def test_an_old_slug_that_is_no_rule_name_resolves_to_the_merged_entry(monkeypatch, capsys):
    """The redirect path itself (today's only merged slug is also BP102's name)."""
    import linter.cli as cli
    import linter.rules

    old, slug = MERGED[0] if MERGED else pytest.skip("no merged entry")
    monkeypatch.setattr(linter.rules, "get_rule", lambda name: None)
    rule, page = cli._resolve(old)
    assert rule is None and page.slug == slug
    assert f"{old!r} was merged into {slug!r}" in capsys.readouterr().err
    with pytest.raises(cli.UsageError, match="no rule or KB entry named"):
        cli._resolve("no-such-entry-anywhere")


def test_explain_unknown_words_get_did_you_mean(tmp_path):
    r = bplint("explain", "tranpose", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "'tranpose'; did you mean 'transpose'" in r.stderr
    assert "bplint kb" in r.stderr  # where to look next
    # A typo next to a known word: the known word still finds entries, the typo gets a hint.
    r = bplint("explain", "tranpose inverse", cwd=tmp_path)
    assert r.returncode == 0 and _ranked(r.stdout)[0] == "transpose-is-not-inverse"
    assert "did you mean 'transpose'" in r.stderr
    r = bplint("explain", "qwxzv", cwd=tmp_path)
    assert r.returncode == 2 and "did you mean" not in r.stderr and "'qwxzv'" in r.stderr


def test_kb_lists_every_entry_with_its_url(tmp_path):
    kb = load_kb()
    r = bplint("kb", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:-1]}
    assert set(rows) == {p.slug for p in kb}
    for page in kb:
        row = rows[page.slug]
        assert row.endswith(f"https://bplint.github.io/bplint/kb/{page.slug}/")
        for code in page.meta.rules:
            assert code in row
    assert any(not p.meta.rules for p in kb), "no entry without a rule to show"
    listed = json.loads(bplint("kb", "--output-format", "json", cwd=tmp_path).stdout)
    assert [e["slug"] for e in listed] == sorted(p.slug for p in kb)
    by_slug = {e["slug"]: e for e in listed}
    assert all(set(kb[s].meta.rules) <= set(e["rules"]) for s, e in by_slug.items())
    r = bplint("kb", "--output-format", "json", "--kb-url", "https://kb.example/x", cwd=tmp_path)
    assert all(e["url"].startswith("https://kb.example/x/kb/") for e in json.loads(r.stdout))


# --- the terminal: colour switches, help on every option ---------------------------------------

ESC = "\x1b["


@pytest.mark.parametrize(
    ("env", "coloured"),
    [
        ({}, False),  # a pipe: no colour
        ({"FORCE_COLOR": "1"}, True),
        ({"FORCE_COLOR": "0"}, True),  # any non-empty value forces (force-color.org)
        ({"FORCE_COLOR": ""}, False),  # empty means unset
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),  # NO_COLOR wins
        ({"FORCE_COLOR": "1", "NO_COLOR": ""}, True),  # an empty NO_COLOR is not set
    ],
)
def test_force_color_and_no_color(tmp_path, env, coloured):
    (tmp_path / "net.py").write_text(BUGGY)
    r = bplint("check", "net.py", cwd=tmp_path, env=env)
    assert r.returncode == 1 and "BP001" in r.stdout
    assert (ESC in r.stdout) is coloured, r.stdout


def test_forced_colour_never_goes_into_a_report_file(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    r = bplint("check", "-o", "report.txt", "net.py", cwd=tmp_path, env={"FORCE_COLOR": "1"})
    assert r.returncode == 1 and ESC not in r.stdout
    report = (tmp_path / "report.txt").read_text()
    assert "BP001" in report and ESC not in report


def _options(parser: argparse.ArgumentParser, path: str = "bplint"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{path} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, "/".join(action.option_strings) or action.dest, action.help


def test_every_option_has_a_help_text():
    from linter.cli import build_parser

    options = list(_options(build_parser()))
    assert len([o for o in options if o[0] == "bplint check"]) >= 15
    missing = [f"{cmd} {name}" for cmd, name, text in options if not (text and text.strip())]
    assert missing == []


def test_check_help_names_the_colour_switches(tmp_path):
    r = bplint("check", "--help", cwd=tmp_path)
    assert r.returncode == 0
    assert "NO_COLOR" in r.stdout and "FORCE_COLOR" in r.stdout


# --- messages in the code's own terms ----------------------------------------------------------


def _messages(tmp_path, source: str) -> list[str]:
    (tmp_path / "net.py").write_text("import numpy as np\n" + textwrap.dedent(source))
    r = bplint("check", "net.py", cwd=tmp_path)
    return [line for line in r.stdout.splitlines() if line.startswith("net.py:")]


def test_bp002_names_the_product_to_write_not_w_transpose(tmp_path):
    row = """
        def forward(x, W):
            return np.tanh(x @ W)

        def backward(dz, W):
            return dz @ W
        """
    (msg,) = _messages(tmp_path, row)
    assert "BP002" in msg and "write `dz @ W.T`" in msg and "W^T" not in msg
    column = row.replace("x @ W", "W @ x").replace("dz @ W", "W @ dz")
    (msg,) = _messages(tmp_path, column)
    assert "write `W.T @ dz`" in msg and "W^T" not in msg


def test_bp003_says_which_operand_goes_where(tmp_path):
    (msg,) = _messages(
        tmp_path,
        """
        def train(X, y, W1, lr):
            h = np.tanh(W1 @ X)
            delta = h - y
            dW1 = X @ delta.T
            W1 -= lr * dW1
            return W1
        """,
    )
    assert "BP003" in msg and "`delta` on the left and `X` on the right (`delta @ X.T`)" in msg
    assert "gradient first" not in msg


def test_bp301_says_once_what_to_flip(tmp_path):
    msgs = _messages(
        tmp_path,
        """
        def train(X, y, W, lr):
            out = sigmoid(X @ W)
            error = y - out
            W -= lr * X.T @ (error * out * (1 - out))
            return W
        """,
    )
    (msg,) = [m for m in msgs if " BP301 " in m]
    assert "subtracts a step built from y − a" in msg
    assert "add it, or build the step from a − y" in msg and "opposite" not in msg
