"""Shared by tests/test_site.py and tests/test_browser.py: one strict site build per process.

Both test modules ask ``shared_site()`` for the build; the first call runs
``mkdocs build --strict`` into a temporary directory and later calls reuse it, so running both
modules together builds the site once.
"""

from __future__ import annotations

import functools
import html as html_lib
import os
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKS = DOCS / "hooks"
KB_DIR_ENV = "BPLINT_KB_DIR"

if str(HOOKS) not in sys.path:
    sys.path.insert(0, str(HOOKS))  # the hooks' helper package, bplint_site


@dataclass(frozen=True)
class Build:
    site: Path
    returncode: int
    log: str  # MkDocs' log (stderr)
    started: float  # time.time() when the build started
    seconds: float  # wall time
    cpu_seconds: float = 0.0  # user + system time of the build process: its cost, whatever the load

    @property
    def numeric_tests_seconds(self) -> float | None:
        """Wall time of all numeric tests at build, from the hook's log line."""
        match = re.search(r"bplint: \d+ numeric tests ran in ([0-9.]+) s", self.log)
        return float(match.group(1)) if match else None


def entries_dir() -> Path:
    """The KB entries the build uses (the hook honours the same variable)."""
    return Path(os.environ.get(KB_DIR_ENV) or ROOT / "kb" / "entries")


def mkdocs_build(dest: Path, env: dict[str, str] | None = None, strict: bool = True) -> Build:
    """Run ``mkdocs build`` (``--strict`` by default) from the repository root into ``dest``."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "-f", str(ROOT / "mkdocs.yml"), "-d", str(dest)]
    if strict:
        cmd.append("--strict")
    full_env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    started = time.time()
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Build(dest, proc.returncode, proc.stderr, started, time.perf_counter() - start, cpu)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


_shared: Build | None = None
_server: ThreadingHTTPServer | None = None
_serving = False


def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The strict build of the real site, made once per test process.

    The local server's socket is bound first and the site is built with that address as
    ``site_url`` (through ``BPLINT_SITE_URL``), as ``mkdocs serve`` does: Material's instant
    navigation only intercepts links that match the sitemap, which is written from site_url.
    """
    global _shared, _server
    if _shared is None:
        dest = tmp_path_factory.mktemp("site")
        handler = functools.partial(_QuietHandler, directory=str(dest))
        _server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        url = f"http://127.0.0.1:{_server.server_port}/"
        _shared = mkdocs_build(dest, env={"BPLINT_SITE_URL": url})
    return _shared


def serve_shared_site(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Serve the shared build on 127.0.0.1 (from the address it was built for); its base URL."""
    global _serving
    require_built(shared_site(tmp_path_factory))
    assert _server is not None
    if not _serving:
        threading.Thread(target=_server.serve_forever, daemon=True).start()
        _serving = True
    return f"http://127.0.0.1:{_server.server_port}"


def require_built(build: Build) -> Path:
    if build.returncode != 0:
        tail = "\n".join(build.log.splitlines()[-40:])
        pytest.fail(f"mkdocs build --strict failed (exit {build.returncode}):\n{tail}")
    return build.site


class _Tables(HTMLParser):
    """Rows of every <table> inside <div class="bp-measurements">, as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._depth = 0  # >0 while inside the measurements div
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_small = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and (self._depth or "bp-measurements" in classes):
            self._depth += 1
        elif self._depth and tag == "tr":
            self._row = []
        elif self._depth and tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "small":
            self._in_small = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._depth:
            self._depth -= 1
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None
        elif tag == "small":
            self._in_small = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._in_small:
            self._cell.append(data)


def measurement_rows(html: str) -> list[list[str]]:
    """``[name, value, bound, result]`` for each row of a page's "Measured at build" table."""
    parser = _Tables()
    parser.feed(html)
    return parser.rows


def h1_text(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, flags=re.DOTALL)
    assert match, "page has no <h1>"
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", match.group(1)))
    return " ".join(text.replace("¶", "").split())
