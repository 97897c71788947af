"""The docs site: a strict offline build, stable URLs, and numbers that are really measured.

One ``mkdocs build --strict`` of the real site is shared by every test here (and by
tests/test_browser.py when both run in one process); the failure cases build from a temporary
copy of the KB through ``BPLINT_KB_DIR``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import types
from pathlib import Path

import pytest
import yaml

from kb import numerics
from kb.load import ENTRIES_DIR, KBError, load_kb, split_front_matter
from kb.schema import CheckResult, above, below
from kb.verify import run_check
from tests.site_helpers import (
    DOCS,
    HOOKS,
    KB_DIR_ENV,
    ROOT,
    Build,
    entries_dir,
    h1_text,
    measurement_rows,
    mkdocs_build,
    require_built,
    shared_site,
)

pytestmark = pytest.mark.site

BUILD_BUDGET_SECONDS = 60


def _entry_pages() -> list:
    try:
        return sorted(load_kb(entries_dir=entries_dir()), key=lambda p: p.slug)
    except KBError:
        return []  # the build test reports the problems; nothing to parametrize over


def _rules() -> list:
    from linter.rules import ALL_RULES

    return list(ALL_RULES)


ENTRIES = _entry_pages()
RULES = _rules()


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return shared_site(tmp_path_factory)


@pytest.fixture(scope="session")
def site(build: Build) -> Path:
    return require_built(build)


def _html(site: Path, url_path: str) -> str:
    page = site / url_path.strip("/") / "index.html"
    assert page.is_file(), f"no page at /{url_path.strip('/')}/"
    return page.read_text(encoding="utf-8")


def _load_hook(name: str) -> types.ModuleType:
    """Import one of docs/hooks/*.py the way MkDocs does (by path)."""
    spec = importlib.util.spec_from_file_location(f"bplint_test_hook_{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as MkDocs does; dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- the build --------------------------------------------------------------------------------


def test_strict_build_succeeds_within_budget(
    build: Build, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = build.numeric_tests_seconds
    with capsys.disabled():
        print(
            f"\n[site] mkdocs build --strict: {build.seconds:.1f} s wall, {build.cpu_seconds:.1f} s "
            f"CPU; numeric tests at build: "
            f"{'?' if checks is None else f'{checks:.2f} s'}"
        )
    require_built(build)
    assert checks is not None, "the hook did not report its numeric tests"
    # the budget is the build's own CPU time: the wall time also counts whatever else runs
    assert build.cpu_seconds < BUILD_BUDGET_SECONDS


def test_build_log_has_no_warnings(build: Build) -> None:
    require_built(build)
    noisy = [line for line in build.log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert noisy == []


def test_no_generated_file_is_left_in_the_repository(build: Build) -> None:
    require_built(build)
    for generated in ("docs/kb", "docs/rules", "docs/assets/vendor", "docs/generated", "site"):
        assert not (ROOT / generated).exists(), f"{generated} was written into the repository"
    touched = []
    candidates = [p for p in DOCS.rglob("*") if p.is_file()] + [p for p in ROOT.iterdir()]
    for path in candidates:
        rel = path.relative_to(ROOT)
        if {"node_modules", "__pycache__", "guide"} & set(rel.parts):
            continue  # npm's tree, bytecode, and another author's pages
        if path.stat().st_mtime >= build.started and path.is_file():
            touched.append(str(rel))
    assert touched == [], f"the build wrote into the repository: {touched}"


def test_no_remote_assets_in_any_page(site: Path) -> None:
    """Scripts, styles, images and fonts all come from the site itself (canonical links aside)."""
    tag = re.compile(r"<(?:script|link|img|source|iframe)\b[^>]*>", re.I)
    remote = re.compile(r'\b(?:src|href)="(?:https?:)?//', re.I)
    offenders = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for match in tag.finditer(text):
            element = match.group(0)
            if remote.search(element) and 'rel="canonical"' not in element:
                offenders.append(f"{page.relative_to(site)}: {element}")
    for asset in sorted(site.rglob("*.css")):
        if re.search(r"url\((['\"]?)(?:https?:)?//", asset.read_text(encoding="utf-8")):
            offenders.append(str(asset.relative_to(site)))
    assert offenders == []


def test_katex_assets_are_shipped(site: Path) -> None:
    vendor = site / "assets" / "vendor" / "katex"
    assert (vendor / "katex.min.css").is_file()
    assert (vendor / "katex.min.js").is_file()
    css = (vendor / "katex.min.css").read_text(encoding="utf-8")
    fonts = set(re.findall(r"url\(fonts/([^)]+)\)", css))
    assert fonts, "katex.min.css references no fonts"
    missing = sorted(f for f in fonts if not (vendor / "fonts" / f).is_file())
    assert missing == []


def test_search_index_keeps_tex_not_rendered_glyphs(site: Path) -> None:
    index = (site / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "katex" not in index
    docs = json.loads(index)["docs"]
    assert any("\\(" in d["text"] or "\\[" in d["text"] for d in docs), "no TeX in the index"


# --- stable URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ENTRIES, ids=lambda p: p.slug)
def test_every_entry_has_its_page(site: Path, page) -> None:
    html = _html(site, f"kb/{page.slug}")
    assert h1_text(html) == page.meta.title
    assert "../../identities/" in html, "entry page does not link the identities sheet"
    assert "../../conventions/" in html
    if page.meta.not_detectable:
        assert "Not statically detectable" in html
    for code in page.meta.rules:
        assert f'href="../../rules/{code}/"' in html


MERGED = [(old, page.slug) for page in ENTRIES for old in page.meta.redirect_from]


@pytest.mark.parametrize(("old", "slug"), MERGED, ids=[old for old, _ in MERGED])
def test_merged_entry_url_redirects_to_the_entry(site: Path, old: str, slug: str) -> None:
    redirect = _html(site, f"kb/{old}")
    assert f'http-equiv="refresh" content="0; url=../{slug}/"' in redirect
    assert (site / "kb" / old / f"../{slug}/index.html").resolve().is_file()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_every_rule_has_its_page_and_name_redirect(site: Path, rule) -> None:
    html = _html(site, f"rules/{rule.code}")
    assert h1_text(html) == f"{rule.code} {rule.name}"
    for section in ("what-it-does", "why-is-this-bad", "example", "use-instead", "fix-safety"):
        assert f'id="{section}"' in html, f"rule page lacks section #{section}"
    if getattr(rule, "meta", False):
        assert "bplint verify" not in html
    else:
        assert f"bplint verify {rule.code}" in html
    if rule.kb and (entries_dir() / f"{rule.kb}.md").is_file():
        assert f'href="../../kb/{rule.kb}/"' in html
    redirect = _html(site, f"rules/{rule.name}")
    assert f'http-equiv="refresh" content="0; url=../{rule.code}/"' in redirect
    target = (site / "rules" / rule.name / f"../{rule.code}/index.html").resolve()
    assert target.is_file()


def test_indexes_list_every_entry_and_rule(site: Path) -> None:
    by_stage = _html(site, "kb")
    by_framework = _html(site, "kb/frameworks")
    rules = _html(site, "rules")
    for page in ENTRIES:
        assert f'href="{page.slug}/"' in by_stage
        assert f'href="../{page.slug}/"' in by_framework
    for rule in RULES:
        assert f'href="{rule.code}/"' in rules


def test_navigation_lists_every_entry_and_rule(site: Path) -> None:
    home = _html(site, "")
    links = set(re.findall(r'class="md-nav__link[^"]*"[^>]*href="([^"]+)"', home))
    links |= set(re.findall(r'href="([^"]+)"[^>]*class="md-nav__link', home))
    for page in ENTRIES:
        assert f"kb/{page.slug}/" in links
    for rule in RULES:
        assert f"rules/{rule.code}/" in links


# --- measured numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("page", ENTRIES, ids=lambda p: p.slug)
def test_measured_numbers_are_what_run_check_returns(site: Path, page) -> None:
    from bplint_site.render import fmt_number

    rows = measurement_rows(_html(site, f"kb/{page.slug}"))
    result = run_check(page.meta.check).result
    expected = [
        [m.name, fmt_number(m.value), f"{m.relation} {fmt_number(m.bound)}", "pass"]
        for m in result.measurements
    ]
    assert rows == expected


def test_figures_are_shipped_and_deterministic(site: Path) -> None:
    from bplint_site.measure import measure

    drawn = 0
    for page in ENTRIES:
        first = measure(page.meta.check)
        if first.svg is None:
            continue
        drawn += 1
        svg = site / "kb" / "figures" / f"{page.slug}.svg"
        assert svg.read_bytes() == first.svg, f"{svg.name} differs from a fresh drawing"
        assert f'src="../figures/{page.slug}.svg"' in _html(site, f"kb/{page.slug}")
        assert b"<dc:date>" not in first.svg
    if drawn == 0:
        pytest.skip("no KB check defines figure() yet")


def test_numeric_tests_page_states_the_harness_constants(site: Path) -> None:
    text = _html(site, "numeric-tests")
    for name in ("H", "RIGHT", "WRONG"):
        match = re.search(rf"<code>{name} = ([0-9.e+-]+)</code>", text)
        assert match, f"the page does not state {name}"
        assert float(match.group(1)) == getattr(numerics, name)


# --- failures the build must catch ------------------------------------------------------------


def _copy_kb(tmp_path: Path) -> Path:
    copy = tmp_path / "entries"
    shutil.copytree(entries_dir(), copy)
    return copy


def _rewrite(path: Path, **changes: object) -> None:
    meta, body = split_front_matter(path.read_text(encoding="utf-8"), path)
    meta.update(changes)
    text = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{text}---\n{body}", encoding="utf-8")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stage", "backwards", "stage"),
        ("rules", ["BP999"], "rules.0: no rule 'BP999'"),
        ("see_also", ["no-such-entry"], "see_also.0: no entry 'no-such-entry'"),
    ],
)
def test_broken_entry_fails_the_strict_build(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    if not ENTRIES:
        pytest.skip("the KB itself does not load")
    copy = _copy_kb(tmp_path)
    victim = copy / f"{ENTRIES[0].slug}.md"
    changes: dict[str, object] = {field: value}
    if field == "rules":
        changes["not_detectable"] = None
    _rewrite(victim, **changes)
    if field == "rules":  # drop the now-null key so only the rule reference is wrong
        meta, body = split_front_matter(victim.read_text(encoding="utf-8"), victim)
        meta.pop("not_detectable")
        victim.write_text(f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{body}", "utf-8")
    result = mkdocs_build(tmp_path / "site", env={KB_DIR_ENV: str(copy)})
    assert result.returncode != 0
    assert str(victim) in result.log, result.log[-2000:]
    assert message in result.log, result.log[-2000:]


def test_bad_tex_fails_the_strict_build(tmp_path: Path) -> None:
    if not ENTRIES:
        pytest.skip("the KB itself does not load")
    copy = _copy_kb(tmp_path)
    victim = copy / f"{ENTRIES[0].slug}.md"
    victim.write_text(
        victim.read_text(encoding="utf-8") + "\n\nBroken: $\\fracc{a}{b}$.\n", encoding="utf-8"
    )
    result = mkdocs_build(tmp_path / "site", env={KB_DIR_ENV: str(copy)})
    assert result.returncode != 0
    assert "KaTeX cannot render '\\\\fracc{a}{b}'" in result.log, result.log[-2000:]
    assert f"{victim.name}" in result.log


def test_missing_katex_says_how_to_install_it(tmp_path: Path) -> None:
    from mkdocs.exceptions import PluginError

    katex_hook = _load_hook("katex")
    config = types.SimpleNamespace(docs_dir=str(tmp_path))
    with pytest.raises(PluginError, match=r"npm ci --prefix docs"):
        katex_hook.on_config(config)


def test_failing_numeric_test_is_logged_as_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim the numbers do not support is an ERROR in the log, so --strict aborts."""
    name = "bplint_test_failing_check"
    module = types.ModuleType(f"kb.checks.{name}")

    def check() -> CheckResult:
        return CheckResult(
            claim="A claim that the measurements below do not support.",
            measurements=[below("right one", 0.5, 1e-7), above("wrong one", 1.0, 1e-3)],
        )

    module.check = check  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"kb.checks.{name}", module)
    entry = tmp_path / "entries"
    entry.mkdir()
    source = (ENTRIES_DIR / "transpose-is-not-inverse.md").read_text(encoding="utf-8")
    meta, body = split_front_matter(source, ENTRIES_DIR / "transpose-is-not-inverse.md")
    meta.update(check=name, see_also=[])
    (entry / f"{meta['slug']}.md").write_text(
        f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{body}", encoding="utf-8"
    )
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / f"{name}.py").write_text("", encoding="utf-8")
    kb = load_kb(entries_dir=entry, checks_dir=tmp_path / "checks")

    pages_hook = _load_hook("pages")
    with caplog.at_level("INFO", logger="mkdocs.hooks.bplint"):
        measured = pages_hook._measure_all(kb)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "transpose-is-not-inverse.md: check:" in errors[0]
    assert "'right one' = 0.5, must be < 1e-07" in errors[0]

    from bplint_site.render import entry_page

    page = kb[meta["slug"]]
    text = entry_page(page, measured[page.slug], kb, {})
    assert "The numbers do not support this claim" in text
    assert 'class="bp-fail"' in text


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_page_shows_the_fix_apart_from_other_non_findings(rule) -> None:
    from bplint_site.render import rule_page, split_valid

    md = rule_page(rule, None, None)
    by_id = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^## .+? \{#([a-z-]+)\}$\n(.*?)(?=^## |\Z)", md, re.M | re.S)
    }
    fixes, others = split_valid(rule)
    assert len(fixes) + len(others) == len(rule.valid)
    assert fixes or not rule.valid
    fixed = {ex.fixed.strip() for ex in rule.invalid if ex.fixed}
    assert all(ex.source.strip() in fixed for ex in fixes) or fixes == rule.valid[:1]

    def blocks(section: str) -> list[str]:
        return re.findall(r"^(`{3,})python[^\n]*\n(.*?)\n\1$", by_id.get(section, ""), re.M | re.S)

    assert [code for _, code in blocks("use-instead")] == [ex.source.rstrip() for ex in fixes]
    assert [code for _, code in blocks("not-flagged")] == [ex.source.rstrip() for ex in others]
