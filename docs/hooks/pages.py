"""MkDocs hook: the KB entry pages, rule pages, indexes, figures and nav, generated at build time.

Nothing it makes is written to ``docs/``: every page is a virtual ``File.generated`` and lands only
in the built site. The KB is loaded with the linter's rule registry, so an entry naming an unknown
rule, a missing see-also slug, or a malformed field aborts the build with the file and field. Each
entry's numeric test runs here; a test that fails (or crashes) is logged as an error, so
``mkdocs build --strict`` refuses to publish a claim the numbers do not support.

``BPLINT_KB_DIR`` points the hook at another entries directory (tests use it).
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]  # docs/hooks/pages.py -> repository root
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # kb and linter, also when bplint is not installed

from bplint_site.measure import Measured, measure  # noqa: E402  (docs/hooks is on sys.path)
from bplint_site.nav import build_nav  # noqa: E402
from bplint_site.render import (  # noqa: E402
    entry_page,
    frameworks_index,
    is_meta,
    kb_index,
    redirect_page,
    relpath,
    rule_page,
    rules_index,
)

from kb.load import CHECKS_DIR, ENTRIES_DIR, KBError, KnowledgeBase, load_kb  # noqa: E402

log = logging.getLogger("mkdocs.hooks.bplint")

KB_DIR_ENV = "BPLINT_KB_DIR"


@dataclass
class _Site:
    kb: KnowledgeBase
    rules: list[type]  # linter.rule.Rule subclasses, sorted by code


_site: _Site | None = None


def _load_rules() -> list[type]:
    try:
        from linter.rules import ALL_RULES
    except Exception as exc:
        raise PluginError(f"bplint: cannot import the rule registry linter.rules: {exc!r}") from exc
    return list(ALL_RULES)


def _load_kb(rules: list[type]) -> KnowledgeBase:
    entries_dir = Path(os.environ.get(KB_DIR_ENV) or ENTRIES_DIR)
    if not entries_dir.is_dir():
        raise PluginError(f"bplint: {KB_DIR_ENV}={entries_dir} is not a directory")
    try:
        return load_kb(entries_dir=entries_dir, known_rules=[r.code for r in rules])
    except KBError as exc:
        problems = "\n".join(f"  {p}" for p in exc.problems)
        raise PluginError(f"bplint: the knowledge base has errors:\n{problems}") from None


def _where(rule: type) -> str:
    try:
        return relpath(inspect.getsourcefile(rule) or rule.__module__)
    except TypeError:
        return rule.__module__


def _check_rule_links(site: _Site) -> None:
    """Rule -> KB references: a dangling one is an error, like ruff's docs generator."""
    for rule in site.rules:
        if is_meta(rule):
            continue  # about bplint itself: no KB entry by design
        where = f"{_where(rule)}: {rule.code}"
        entry = site.kb.pages.get(rule.kb)
        if entry is None:
            log.error("%s.kb: no KB entry %r", where, rule.kb)
            continue
        if entry.meta.not_detectable:
            log.warning(
                "%s.kb: points at %s, which says it is not statically detectable",
                where,
                relpath(entry.path),
            )
        check = rule.check_name()
        if check != entry.meta.check or not (CHECKS_DIR / f"{check}.py").is_file():
            log.warning(
                "%s.check_name() is %r but its KB entry's check is %r: `bplint verify %s` "
                "would not run the entry's numeric test",
                where,
                check,
                entry.meta.check,
                rule.code,
            )


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _site
    rules = _load_rules()
    _site = _Site(kb=_load_kb(rules), rules=rules)
    _check_rule_links(_site)
    config.nav = build_nav(Path(config.docs_dir), _site.kb, rules)
    return config


def _add(files: Files, config: MkDocsConfig, src_uri: str, content: str | bytes) -> None:
    existing = files.get_file_from_path(src_uri)
    if existing is not None:
        log.warning("bplint: docs/%s is replaced by a generated page; delete it", src_uri)
        files.remove(existing)
    files.append(File.generated(config, src_uri, content=content))


def _measure_all(kb: KnowledgeBase) -> dict[str, Measured]:
    start = time.perf_counter()
    measured = {page.slug: measure(page.meta.check) for page in kb}
    wall = time.perf_counter() - start
    checks = sum(m.run.seconds for m in measured.values() if m.run is not None)
    figures = sum(m.figure_seconds for m in measured.values())
    n_fig = sum(m.svg is not None for m in measured.values())
    log.info(
        "bplint: %d numeric tests ran in %.2f s (check() %.2f s, %d figures %.2f s)",
        len(measured),
        wall,
        checks,
        n_fig,
        figures,
    )
    for page in kb:
        for problem in measured[page.slug].failures():
            log.error("%s: check: %s", relpath(page.path), problem)
    return measured


def on_files(files: Files, config: MkDocsConfig) -> Files:
    if _site is None:
        raise PluginError("bplint: on_config did not run")
    kb, rules = _site.kb, _site.rules
    registry = {r.code: r for r in rules}
    measured = _measure_all(kb)

    for page in kb:
        m = measured[page.slug]
        _add(files, config, f"kb/{page.slug}.md", entry_page(page, m, kb, registry))
        if m.svg is not None:
            _add(files, config, f"kb/figures/{page.slug}.svg", m.svg)
        for old in page.meta.redirect_from:  # merged entries: old URLs keep working
            _add(
                files,
                config,
                f"kb/{old}/index.html",
                redirect_page(
                    f"../{page.slug}/",
                    page.meta.title,
                    f"{config.site_url or '/'}kb/{page.slug}/",
                ),
            )
    _add(files, config, "kb/index.md", kb_index(kb, registry))
    _add(files, config, "kb/frameworks.md", frameworks_index(kb, registry))

    _add(files, config, "rules/index.md", rules_index(rules, kb))
    for rule in rules:
        entry = kb.pages.get(rule.kb)
        _add(
            files,
            config,
            f"rules/{rule.code}.md",
            rule_page(rule, entry, measured.get(rule.kb)),
        )
        canonical = f"{config.site_url or '/'}rules/{rule.code}/"
        _add(
            files,
            config,
            f"rules/{rule.name}/index.html",
            redirect_page(f"../{rule.code}/", f"{rule.code} {rule.name}", canonical),
        )
    log.info("bplint: generated %d KB pages and %d rule pages", len(kb), len(rules))
    return files
