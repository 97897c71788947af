"""The built site as a reader sees it, in Debian's headless Chromium driven by Playwright.

Never downloads a browser: it uses ``/usr/bin/chromium`` (``apt-get install chromium``) and
skips with that instruction when it is absent, unless ``BPLINT_REQUIRE_BROWSER`` is set (CI),
where a missing browser is a failure. The site is served on 127.0.0.1 from the same strict build
tests/test_site.py uses; every page opened here must make no request to another host, log no
console error and get no HTTP error for any of its assets.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from kb.load import KBError, load_kb
from tests.site_helpers import Build, entries_dir, serve_shared_site, shared_site

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def _why_not_runnable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


_REASON = _why_not_runnable()
if _REASON and os.environ.get("BPLINT_REQUIRE_BROWSER"):
    raise RuntimeError(f"BPLINT_REQUIRE_BROWSER is set but {_REASON}")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_REASON is not None, reason=_REASON or ""),
]


def _entries() -> list:
    try:
        return sorted(load_kb(entries_dir=entries_dir()), key=lambda p: p.slug)
    except KBError:
        return []


ENTRIES = _entries()

# TeX left in the visible text: a command, a \( \[ delimiter, or a $...$ pair.
RAW_TEX_JS = r"""() => {
  const article = document.querySelector("article");
  if (!article) return "no <article>";
  const copy = article.cloneNode(true);
  copy.querySelectorAll("pre, code, script, style, .katex-mathml").forEach((e) => e.remove());
  const match = copy.textContent.match(/\\[A-Za-z]+|\\[()\[\]]|\$[^$\s][^$]*\$/);
  return match ? match[0] : null;
}"""

MATH_DONE_JS = r"""() => {
  const math = [...document.querySelectorAll("article .arithmatex")];
  return math.every((e) => e.querySelector(".katex"));
}"""

FIGURES_JS = r"""() => [...document.querySelectorAll("article img")]
  .filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.src)"""


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return shared_site(tmp_path_factory)


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return serve_shared_site(tmp_path_factory)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Reader:
    """A browser tab that records everything a reader's browser would complain about."""

    def __init__(self, context: Any, base_url: str) -> None:
        self.base = base_url
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("request", self._request)
        self.page.on("response", self._response)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _request(self, request: Any) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        if urlparse(url).hostname != "127.0.0.1":
            self.problems.append(f"off-host request: {url}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.problems.append(f"console error: {msg.text}")

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path, wait_until="load")
        self.page.locator("article h1").first.wait_for()

    def assert_reads_well(self) -> None:
        """Every formula rendered, no raw TeX, every figure loaded."""
        self.page.wait_for_function(MATH_DONE_JS)
        assert self.page.locator("article .katex-error").count() == 0
        assert self.page.evaluate(RAW_TEX_JS) is None, self.page.evaluate(RAW_TEX_JS)
        self.page.wait_for_load_state("load")
        assert self.page.evaluate(FIGURES_JS) == []

    def assert_clean(self) -> None:
        assert self.problems == []


@pytest.fixture(scope="session")
def context(browser: Any) -> Iterator[Any]:
    """One browser profile for all tests, so its HTTP cache spares reloading the theme."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    yield ctx
    ctx.close()


@pytest.fixture
def reader(context: Any, base_url: str) -> Iterator[Reader]:
    r = Reader(context, base_url)
    yield r
    r.page.close()


@pytest.mark.parametrize("page", ENTRIES, ids=lambda p: p.slug)
def test_entry_page_reads_well(reader: Reader, page: Any) -> None:
    reader.goto(f"/kb/{page.slug}/")
    assert reader.page.locator("article h1").first.inner_text().rstrip("¶ \n") == page.meta.title
    assert reader.page.locator("article .arithmatex").count() > 0, "an entry without math?"
    reader.assert_reads_well()
    assert reader.page.locator("article .bp-measurements tbody tr").count() >= 2
    reader.assert_clean()


@pytest.mark.parametrize(
    "path", ["/", "/conventions/", "/identities/", "/numeric-tests/", "/linter/", "/kb/", "/rules/"]
)
def test_hand_written_and_index_pages_read_well(reader: Reader, path: str) -> None:
    reader.goto(path)
    reader.assert_reads_well()
    reader.assert_clean()


def test_navigation_reaches_every_entry_and_rule(reader: Reader) -> None:
    from linter.rules import ALL_RULES

    reader.goto("/")
    hrefs = reader.page.eval_on_selector_all(
        "nav.md-nav--primary a.md-nav__link[href]", "links => links.map(a => a.href)"
    )
    paths = {urlparse(h).path for h in hrefs}
    missing = [f"/kb/{p.slug}/" for p in ENTRIES if f"/kb/{p.slug}/" not in paths]
    missing += [f"/rules/{r.code}/" for r in ALL_RULES if f"/rules/{r.code}/" not in paths]
    assert missing == []
    broken = []
    for href in sorted(set(hrefs)):
        try:
            with urllib.request.urlopen(href.split("#")[0], timeout=10) as response:
                assert response.status == 200
        except (OSError, AssertionError):
            broken.append(href)
    assert broken == []
    # And a nav link opens its page as a reader sees it.
    target = f"/kb/{ENTRIES[0].slug}/" if ENTRIES else "/kb/"
    link = reader.page.locator(f'nav.md-nav--primary a.md-nav__link[href$="{target[1:]}"]').first
    reader.page.goto(link.evaluate("a => a.href"))
    reader.page.wait_for_url(lambda url: urlparse(url).path == target)
    reader.assert_reads_well()
    reader.assert_clean()


def _unique_word(site: Path) -> tuple[str, str]:
    """A word on exactly one KB entry page (and whose stem is on no other page)."""
    docs = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    pages: dict[str, str] = {}
    for doc in docs:
        page = doc["location"].split("#")[0]
        pages[page] = pages.get(page, "") + " " + (doc["title"] + " " + doc["text"]).lower()
    for page in sorted(p for p in pages if p.startswith("kb/") and p.count("/") == 2):
        others = [text for other, text in pages.items() if other != page]
        # Tokenize as Material's search does (whitespace and hyphens), keep plain words only.
        tokens = {t.strip(".,;:!?()[]\"'") for t in re.split(r"[\s\-]+", pages[page])}
        words = sorted(
            (t for t in tokens if re.fullmatch(r"[a-z]{8,}", t)), key=lambda w: (-len(w), w)
        )
        for word in words:
            stem = word[: max(6, len(word) - 3)]
            if not any(stem in text for text in others):
                return word, page
    pytest.skip("no KB entry has a word of its own")


def test_search_finds_an_entry_by_a_word_only_it_contains(reader: Reader, build: Build) -> None:
    word, page = _unique_word(build.site)
    reader.goto("/")
    reader.page.click("input.md-search__input")  # focus first: bare keys are Material shortcuts
    reader.page.keyboard.type(word)
    hit = reader.page.locator("a", has=reader.page.locator("mark", has_text=word[:6])).first
    hit.wait_for()
    results = reader.page.eval_on_selector_all(
        ".md-search-result__list a", "links => links.map(a => a.href)"
    )
    assert results, f"no result for {word!r}"
    assert all(urlparse(r).path == f"/{page}" for r in results), (word, results)
    reader.assert_clean()


SEARCH_BOX = "input.md-search__input"
SEARCH_IDLE_JS = """() => /^Type to start/.test(
  document.querySelector(".md-search-result__meta").textContent.trim())"""


def _search(reader: Reader, query: str) -> list[str]:
    """The pages Material's search lists for ``query``, best first, as URL paths."""
    page = reader.page
    page.fill(SEARCH_BOX, "")
    page.press(SEARCH_BOX, "End")  # Material searches on key events, not on fill()
    page.wait_for_function(SEARCH_IDLE_JS)
    page.fill(SEARCH_BOX, query)
    page.press(SEARCH_BOX, "End")
    page.wait_for_function(f"() => !({SEARCH_IDLE_JS})()")
    hrefs = page.eval_on_selector_all(
        ".md-search-result__list > li > a", "links => links.map(a => a.href)"
    )
    return [urlparse(h).path for h in hrefs]


# Entries whose title words do not list them in the first three results. The PyTorch and
# recurrent rule pages (their words, grad_output and zero_grad) had pushed four entries out; with
# the pages added since (measured after BP418 landed) every entry is back in the first three.
# Kept as a list so a gap stays visible: the test fails when an entry is lost or found again.
NOT_IN_THE_FIRST_THREE_YET: frozenset[str] = frozenset()


def test_search_finds_every_entry_by_the_words_of_its_title(reader: Reader) -> None:
    """A reader who remembers an entry's title finds it in the first three results, for every
    entry (those added since the last run too). With Material's default boost of a page's tags
    (1000 times its title) a common tag word such as "gradient" put the same few tagged pages
    first: 46 of 60 entries came first for their own title's words, 59 of 60 with tags weighted
    as titles (mkdocs.yml)."""
    reader.goto("/")
    reader.page.click(SEARCH_BOX)  # focus first: bare keys are Material shortcuts
    reader.page.wait_for_function(
        "() => !/Initializing/.test(document.querySelector('.md-search-result__meta').textContent)"
    )
    ranks = {}
    for page in ENTRIES:
        words = " ".join(re.findall(r"[A-Za-z][A-Za-z0-9_]+", page.meta.title))
        results = _search(reader, words)
        target = f"/kb/{page.slug}/"
        ranks[page.slug] = (results.index(target) if target in results else None, words)
    far = {slug: rank for slug, rank in ranks.items() if rank[0] is None or rank[0] > 2}
    assert set(far) == NOT_IN_THE_FIRST_THREE_YET, "\n".join(
        f"{s}: {r}" for s, r in sorted(far.items())
    )
    reader.assert_clean()


def test_instant_navigation_renders_the_next_page(reader: Reader) -> None:
    start = next((p for p in ENTRIES if p.meta.see_also), None)
    if start is None:
        pytest.skip("no entry has a see-also link")
    nxt = start.meta.see_also[0]
    reader.goto(f"/kb/{start.slug}/")
    reader.page.evaluate("() => { window.__bplintMarker = 42; }")
    reader.page.locator(f'article #see-also + ul a[href$="/kb/{nxt}/"]').click()
    # navigation.tracking may append the section in view (#...) to the URL: compare paths
    reader.page.wait_for_url(lambda url: urlparse(url).path == f"/kb/{nxt}/")
    title = next(p.meta.title for p in ENTRIES if p.slug == nxt)
    reader.page.wait_for_function(  # the new article, not the old DOM
        "t => document.querySelector('article h1')?.textContent.startsWith(t)", arg=title
    )
    assert reader.page.evaluate("() => window.__bplintMarker") == 42, "a full reload happened"
    reader.assert_reads_well()
    reader.assert_clean()


def test_rule_name_redirects_to_its_code(reader: Reader) -> None:
    from linter.rules import ALL_RULES

    for rule in ALL_RULES:
        reader.page.goto(f"{reader.base}/rules/{rule.name}/#example")
        reader.page.wait_for_url(f"**/rules/{rule.code}/#example")
        reader.page.locator("article h1").first.wait_for()
        assert reader.page.locator("article h1").first.inner_text().startswith(rule.code)
    reader.assert_clean()


# --- every page, as a reader at 1280 px sees it ------------------------------------------------

# What the reader cannot see without hunting for it: an element that clips or scrolls its content
# sideways (a code comment or the end of an equation behind a scrollbar), or content that sticks
# out of the text column (Material hides the page's own horizontal overflow). Visually hidden
# copies made for screen readers (KaTeX's MathML) and SVG internals are not the reader's view.
HIDDEN_OVERFLOW_JS = r"""() => {
  const article = document.querySelector("article");
  const root = document.documentElement;
  const bleed = 0.8 * parseFloat(getComputedStyle(root).fontSize);  // Material's table bleed
  const limit = article.getBoundingClientRect().right + bleed + 1;
  const name = (e) => `<${e.tagName.toLowerCase()} class="${e.getAttribute("class") || ""}"> `
    + JSON.stringify((e.textContent || "").trim().slice(0, 50));
  const problems = [];
  for (const e of article.querySelectorAll("*")) {
    if (e.closest(".katex-mathml, svg")) continue;
    const style = getComputedStyle(e);
    if (style.display === "none" || style.visibility === "hidden") continue;
    if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && style.overflowX !== "visible") {
      problems.push(`${name(e)}: ${e.scrollWidth}px wide in ${e.clientWidth}px (${style.overflowX})`);
    }
    const box = e.getBoundingClientRect();
    if (box.width > 0 && box.right > limit) {
      problems.push(`${name(e)}: ends ${Math.round(box.right - limit)}px right of the column`);
    }
  }
  if (root.scrollWidth > root.clientWidth) problems.push(`page is ${root.scrollWidth}px wide`);
  return problems.slice(0, 5);
}"""

IMAGES_JS = r"""() => [...document.querySelectorAll("article img")].map((img) => ({
  src: img.getAttribute("src"),
  alt: img.getAttribute("alt") || "",
  caption: img.closest("figure")?.querySelector("figcaption")?.textContent.trim() || "",
}))"""

# Alt text that says where a figure came from, not what it shows.
PROVENANCE = re.compile(r"figure\(\)|\.py\b|\bdrawn (by|at)\b|\bkb/checks\b", re.IGNORECASE)


def _site_pages(site: Path) -> list[str]:
    """Every page of the build a reader can open (redirect stubs excluded), as URL paths."""
    pages = []
    for index in sorted(site.rglob("index.html")):
        rel = index.parent.relative_to(site).as_posix()
        if rel.startswith(("assets", "search")) or 'http-equiv="refresh"' in index.read_text(
            encoding="utf-8"
        ):
            continue
        pages.append("/" if rel == "." else f"/{rel}/")
    return pages


@pytest.fixture(scope="session")
def every_page(build: Build, base_url: str, context: Any) -> dict[str, dict[str, Any]]:
    """One walk over the whole site at 1280 px: hidden overflow and images of every page."""
    pages = _site_pages(build.site)
    assert len(pages) >= len(ENTRIES) + 10
    reader = Reader(context, base_url)
    seen = {}
    try:
        for path in pages:
            reader.goto(path)
            reader.page.wait_for_function(MATH_DONE_JS)
            seen[path] = {
                "overflow": reader.page.evaluate(HIDDEN_OVERFLOW_JS),
                "images": reader.page.evaluate(IMAGES_JS),
            }
    finally:
        reader.page.close()
    return seen


def test_no_page_hides_content_sideways(every_page: dict[str, dict[str, Any]]) -> None:
    hidden = {path: facts["overflow"] for path, facts in every_page.items() if facts["overflow"]}
    assert hidden == {}


# The pages with the widest content (a long tab label, the rules index, measurement tables, a
# long display equation, long code lines): at 960 px (a tablet, or a half-screen window) Material
# drops the table of contents and the column changes width. Measured: 0 of 109 pages hide
# content sideways at 960 px. At 390 px (a phone) 73 of 109 do, mostly the measurement tables,
# which Material lets scroll sideways; a phone layout is not attempted.
NARROW_PAGES = [
    "/",
    "/rules/",
    "/numeric-tests/",
    "/rules/BP403/",
    "/kb/transpose-is-not-inverse/",
    "/kb/output-derivative-missing-from-error/",
    "/kb/weight-decay-gradient/",
]


def test_the_widest_pages_hide_nothing_sideways_at_960px(browser: Any, base_url: str) -> None:
    ctx = browser.new_context(viewport={"width": 960, "height": 900})
    reader = Reader(ctx, base_url)
    hidden = {}
    try:
        for path in NARROW_PAGES:
            reader.goto(path)
            reader.page.wait_for_function(MATH_DONE_JS)
            assert reader.page.evaluate("() => window.innerWidth") == 960
            problems = reader.page.evaluate(HIDDEN_OVERFLOW_JS)
            if problems:
                hidden[path] = problems
        reader.assert_clean()
    finally:
        ctx.close()
    assert hidden == {}


def test_every_figure_says_what_it_shows(every_page: dict[str, dict[str, Any]]) -> None:
    import importlib

    images = [(path, img) for path, facts in every_page.items() for img in facts["images"]]
    bad = [
        (path, img["src"], img["alt"])
        for path, img in images
        if len(img["alt"].split()) < 8 or PROVENANCE.search(img["alt"] + " " + img["caption"])
    ]
    assert bad == []
    # Each figure a numeric test draws is on its entry's page, described by its own words.
    for page in ENTRIES:
        module = importlib.import_module(f"kb.checks.{page.meta.check}")
        if not hasattr(module, "figure"):
            continue
        alts = [img["alt"] for img in every_page[f"/kb/{page.slug}/"]["images"]]
        assert " ".join(module.FIGURE_ALT.split()) in alts, page.slug
