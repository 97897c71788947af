"""MkDocs hook: render math at build time with the vendored KaTeX, and ship its CSS and fonts.

pymdownx.arithmatex (``generic: true``) leaves ``<span class="arithmatex">\\(..\\)</span>`` and
``<div class="arithmatex">\\[..\\]</div>`` in the HTML. After the search plugin has indexed a page
(so the index keeps the TeX source, not three copies of the rendered glyphs), ``on_post_page``
sends the page's formulas to one persistent ``node`` process running ``docs/node_modules/katex``
and puts the rendered HTML in place. TeX that KaTeX rejects stays as it is and is logged as a
warning, so ``mkdocs build --strict`` fails on it.

KaTeX's CSS, fonts and (for the client-side fallback in ``assets/javascripts/katex-init.js``) its
script are added to the site from ``docs/node_modules/katex/dist`` at build time; nothing is
copied into ``docs/``.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.katex")

VENDOR_URI = "assets/vendor/katex"
KATEX_ASSETS = ("katex.min.css", "katex.min.js", "fonts")

MATH_RE = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">(?P<body>.*?)</(?P=tag)>', flags=re.DOTALL
)

# One JSON array of [tex, display] per line in, one JSON array of {html} / {error} per line out.
NODE_SCRIPT = r"""
const katex = require(process.argv[1]);
const lines = require("readline").createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const out = JSON.parse(line).map(([tex, display]) => {
    try {
      return { html: katex.renderToString(tex, { displayMode: display, throwOnError: true,
                                                 strict: "ignore", output: "htmlAndMathml" }) };
    } catch (e) {
      return { error: String((e && e.message) || e) };
    }
  });
  process.stdout.write(JSON.stringify(out) + "\n");
});
"""


class KatexRenderer:
    """A ``node`` process with KaTeX loaded, rendering one batch of formulas per request."""

    def __init__(self, node: str, katex_dir: Path) -> None:
        self._proc = subprocess.Popen(
            [node, "-e", NODE_SCRIPT, str(katex_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def render(self, items: list[tuple[str, bool]]) -> list[dict[str, str]]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(items) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise PluginError(f"katex: the node renderer exited (code {self._proc.poll()})")
        results = json.loads(line)
        if len(results) != len(items):
            raise PluginError("katex: the node renderer answered a different number of formulas")
        return results

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


_renderer: KatexRenderer | None = None
_katex_dist: Path | None = None


def katex_dir(config: MkDocsConfig) -> Path:
    return Path(config.docs_dir) / "node_modules" / "katex"


def split_math(body: str) -> tuple[str, bool]:
    """The TeX inside an arithmatex element and whether it is display math."""
    tex = html.unescape(body).strip()
    if tex[:2] in ("\\[", "$$") and tex[-2:] in ("\\]", "$$"):
        return tex[2:-2].strip(), True
    if tex[:2] == "\\(" and tex[-2:] == "\\)":
        return tex[2:-2].strip(), False
    return tex.strip("$").strip(), False


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _renderer, _katex_dist
    katex = katex_dir(config)
    if not (katex / "package.json").is_file() or not (katex / "dist").is_dir():
        raise PluginError(
            f"katex: {katex} is missing. The docs render math with the vendored KaTeX: "
            "run `npm ci --prefix docs` (needs node and npm), then build again."
        )
    node = shutil.which("node")
    if node is None:
        raise PluginError("katex: `node` is not on PATH; install Node.js (>= 18) to build the docs")
    _katex_dist = katex / "dist"
    if _renderer is None or not _renderer.alive:
        _renderer = KatexRenderer(node, katex)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add KaTeX's CSS, fonts and script (and its licence) to the site."""
    assert _katex_dist is not None
    sources: list[tuple[str, Path]] = []
    for name in KATEX_ASSETS:
        path = _katex_dist / name
        if path.is_dir():
            sources += [(f"{name}/{p.name}", p) for p in sorted(path.iterdir()) if p.is_file()]
        else:
            sources.append((name, path))
    sources.append(("LICENSE", _katex_dist.parent / "LICENSE"))
    for rel, path in sources:
        src_uri = f"{VENDOR_URI}/{rel}"
        existing = files.get_file_from_path(src_uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, src_uri, abs_src_path=str(path)))
    return files


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    matches = list(MATH_RE.finditer(output))
    if not matches:
        return output
    if _renderer is None:
        raise PluginError("katex: on_config did not run")
    items = [split_math(m.group("body")) for m in matches]
    results = _renderer.render(items)
    where = page.meta.get("source_file") or page.file.src_uri
    parts: list[str] = []
    last = 0
    for match, (tex, _display), result in zip(matches, items, results, strict=True):
        parts.append(output[last : match.start()])
        if "html" in result:
            tag = match.group("tag")
            parts.append(f'<{tag} class="arithmatex">{result["html"]}</{tag}>')
        else:
            log.warning("%s: KaTeX cannot render %r: %s", where, tex, result.get("error"))
            parts.append(match.group(0))
        last = match.end()
    parts.append(output[last:])
    return "".join(parts)


def on_shutdown() -> None:
    global _renderer
    if _renderer is not None:
        _renderer.close()
        _renderer = None
