"""``bplint``: check | rules | explain | kb | verify.

Exit codes follow ruff: 0 no findings, 1 findings, 2 a usage or configuration error or a file
that could not be read or parsed. No traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from linter import __version__
from linter.config import OUTPUT_FORMATS, ConfigError, ConfigResolver, load_config_file

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
SUBCOMMANDS = ("check", "rules", "explain", "kb", "verify", "version")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 with usage, like we want
        self.print_usage(sys.stderr)
        print(f"bplint: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _codes(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bplint", description="Lint hand-written backpropagation code.")
    parser.add_argument("--version", action="version", version=f"bplint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser(
        "check",
        help="lint files and directories (default: .)",
        epilog="Colour: NO_COLOR=1 turns it off, FORCE_COLOR=1 turns it on in a pipe "
        "(NO_COLOR wins). Exit codes: 0 no findings, 1 findings, 2 usage, configuration or "
        "read errors.",
    )
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help=".py, .pyi and .ipynb files or folders to lint (default: the current folder)",
    )
    check.add_argument(
        "--select",
        type=_codes,
        metavar="CODES",
        help="only these rules: comma-separated codes, prefixes or names (replaces the config)",
    )
    check.add_argument(
        "--extend-select",
        type=_codes,
        metavar="CODES",
        help="add these rules to the selection (an exact code enables an off-by-default rule)",
    )
    check.add_argument(
        "--ignore",
        type=_codes,
        metavar="CODES",
        help="skip these rules: comma-separated codes, prefixes or names",
    )
    check.add_argument(
        "--exclude",
        type=_codes,
        metavar="PATTERNS",
        help="comma-separated glob patterns that replace the default excludes",
    )
    check.add_argument(
        "--extend-exclude",
        type=_codes,
        metavar="PATTERNS",
        help="comma-separated glob patterns to exclude on top of the default ones",
    )
    check.add_argument(
        "--force-exclude",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply excludes to files named on the command line too (pre-commit)",
    )
    check.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        metavar="FORMAT",
        help=f"how findings are printed: {', '.join(OUTPUT_FORMATS)} (default: concise)",
    )
    check.add_argument(
        "--output-file", "-o", type=Path, metavar="FILE", help="write the report to this file"
    )
    check.add_argument(
        "--config", type=Path, metavar="FILE", help="use this pyproject.toml for every file"
    )
    check.add_argument(
        "--kb-url", metavar="URL", help="base URL of the knowledge-base site in links"
    )
    check.add_argument("--fix", action="store_true", help="apply safe fixes")
    check.add_argument(
        "--unsafe-fixes",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also apply (with --fix) or show unsafe fixes",
    )
    check.add_argument(
        "--diff", action="store_true", help="print the fixes as a diff; write nothing"
    )
    check.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="exit 1 if any file was fixed, even if no finding is left",
    )
    check.add_argument("--statistics", action="store_true", help="count findings per rule")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    check.add_argument("--quiet", "-q", action="store_true", help="print findings only")
    check.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        help="worker processes (default: one per core; 1: lint in this process)",
    )
    check.add_argument(
        "--cache-dir", type=Path, help="results cache folder (default: .bplint_cache)"
    )
    check.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    check.add_argument(
        "--stdin-filename",
        type=Path,
        help="the name of the file read from stdin (path `-`), for editors",
    )

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument(
        "--output-format", choices=("text", "json"), default="text", help="how to print the list"
    )
    rules.add_argument("--all", action="store_true", help="include rules off by default")
    rules.add_argument("--kb-url", help="base URL of the knowledge-base site")

    explain = sub.add_parser(
        "explain", help="explain a rule or a KB entry, or find entries by plain words"
    )
    explain.add_argument(
        "target",
        help='rule code, rule name, KB slug, or words to search for ("why transpose")',
    )
    explain.add_argument("--kb-url", help="base URL of the knowledge-base site")

    kb = sub.add_parser("kb", help="list every KB entry (with or without a rule) and its page")
    kb.add_argument(
        "--output-format", choices=("text", "json"), default="text", help="how to print the list"
    )
    kb.add_argument("--kb-url", help="base URL of the knowledge-base site")

    verify = sub.add_parser("verify", help="run the numeric test behind a rule or KB entry")
    verify.add_argument("targets", nargs="*", help="rule codes, names or KB slugs")
    verify.add_argument("--all", action="store_true", help="run every numeric test")

    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    if argv is None:
        # The command's own process (the console script): it ends when this returns. CPython's
        # finalisation then collects garbage over everything still alive, and a run keeps the
        # syntax trees and models of up to 64 files for sibling look-ups (millions of objects,
        # none needing a finaliser): ~2.5 s of 9 s over the benchmark corpus in one process.
        # Frozen, they are left out of those collections; nothing else changes.
        import gc

        gc.freeze()
    return code


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in SUBCOMMANDS and not args_list[0].startswith("-")):
        args_list.insert(0, "check")  # `bplint path/` means `bplint check path/`
    elif args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version"):
        args_list.insert(0, "check")
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
        if args.command == "check":
            return _check(args)
        if args.command == "rules":
            return _rules(args)
        if args.command == "explain":
            return _explain(args.target, args.kb_url)
        if args.command == "kb":
            return _kb(args)
        if args.command == "verify":
            return _verify(args.targets, args.all)
        if args.command == "version":
            print(f"bplint {__version__}")
            return EXIT_OK
        parser.print_help()
        return EXIT_ERROR
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    except (ConfigError, UsageError) as exc:
        print(f"bplint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("bplint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (`bplint check | head`): not our error
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # a bug: one clear line (BPLINT_DEBUG=1 shows the traceback)
        if os.environ.get("BPLINT_DEBUG"):
            raise
        print(f"bplint: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _kb_url_flag(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise UsageError(f"--kb-url: must be an http(s) URL, got {value!r}")
    return value if value.endswith("/") else value + "/"


def _check(args: argparse.Namespace) -> int:
    from linter.report import FORMATTERS, Context
    from linter.report.text import location, statistics, statistics_text
    from linter.run import STDIN, Progress, RunOptions, lint_paths

    cli: dict = {}
    for flag in ("select", "extend_select", "ignore", "exclude", "extend_exclude"):
        value = getattr(args, flag)
        if value is None:
            continue
        if flag in ("select", "extend_select", "ignore"):
            from linter.selection import validate_selectors

            bad = validate_selectors(value)
            if bad:
                raise UsageError(f"--{flag.replace('_', '-')}: unknown rule code or name {bad!r}")
        cli["ignore_extra" if flag == "ignore" else flag] = tuple(value)
    if args.force_exclude is not None:
        cli["force_exclude"] = args.force_exclude
    if args.output_format:
        cli["output_format"] = args.output_format
    kb_url = _kb_url_flag(args.kb_url)
    if kb_url:
        cli["kb_url"] = kb_url

    cwd = Path.cwd()
    override = None
    if args.config is not None:
        if not args.config.is_file():
            raise UsageError(f"--config: no such file: {args.config}")
        override = load_config_file(args.config)
    resolver = ConfigResolver(cwd, override=override, cli=cli)

    paths = args.paths or [Path(".")]
    stdin_data = None
    if STDIN in paths:
        if args.fix and not args.diff:
            raise UsageError("--fix cannot write to stdin; use --diff to see the fixes")
        stdin_data = _read_stdin()
    elif args.stdin_filename is not None:
        raise UsageError("--stdin-filename needs `-` as the path to lint")
    for p in paths:
        if p != STDIN and not _lexists(p):
            raise UsageError(f"no such file or directory: {p}")
    first = args.stdin_filename if paths[0] == STDIN and args.stdin_filename else paths[0]
    settings = resolver.for_path(first)
    fix = None
    if args.fix or args.diff:
        from linter.engine import FixOptions

        fix = FixOptions(unsafe=args.unsafe_fixes, write=not args.diff)
    progress = Progress() if _stderr_is_terminal() and not args.quiet else None
    options = RunOptions(
        fix=fix,
        jobs=args.jobs,
        cache=not args.no_cache,
        cache_dir=args.cache_dir,
        progress=progress,
        stdin=stdin_data,
        stdin_name=args.stdin_filename,
    )
    try:
        result = lint_paths(paths, resolver, fix, options)
    finally:
        if progress is not None:
            progress.close()

    fmt = settings.output_format
    to_terminal = args.output_file is None and _is_terminal()
    color = args.output_file is None and _color_wanted(to_terminal)
    rules: Sequence = ()
    if fmt == "sarif":
        from linter.rules import ALL_RULES

        rules = ALL_RULES
    ctx = Context(
        kb_url=settings.kb_url,
        color=color,
        hyperlinks=to_terminal and color,
        unsafe_fixes=args.unsafe_fixes,
        cwd=cwd,
        rules=rules,
    )
    for err in result.errors:
        print(f"{location(err)}: error: {err.message}", file=sys.stderr)
    for warning in result.warnings:
        print(f"bplint: warning: {warning}", file=sys.stderr)
    if not args.quiet:
        for path, note in result.notes:  # on stderr in every format: not findings, exit unchanged
            print(f"{path}: note: {note}", file=sys.stderr)
    if result.files_checked == 0 and result.files_excluded:
        print("bplint: warning: every file given was excluded; nothing was linted", file=sys.stderr)

    n_fixed = sum(result.fixed.values())
    if args.diff:
        _write_stdout("".join(result.diffs), "surrogateescape")
        if not args.quiet:
            word = "finding" if n_fixed == 1 else "findings"
            print(
                f"Would fix {n_fixed} {word}." if n_fixed else "No fixes to apply.",
                file=sys.stderr,
            )
        if result.errors:
            return EXIT_ERROR
        return EXIT_FINDINGS if n_fixed and not args.exit_zero else EXIT_OK

    if args.statistics:
        if fmt in ("json", "json-lines"):
            import json

            rows = [
                {"code": code, "name": name, "count": n, "fixable": mark == "[*]"}
                for n, code, mark, name in statistics(result.findings, ctx)
            ]
            out = json.dumps(rows, indent=2) + "\n"
        else:
            out = statistics_text(result.findings, ctx)
    else:
        out = FORMATTERS[fmt](result.findings, result.errors, ctx)
    human = fmt in ("concise", "full") or (args.statistics and fmt not in ("json", "json-lines"))
    summary = _summary(result, ctx, n_fixed, args.fix) if human and not args.quiet else ""
    # A file name that is not UTF-8 is kept byte for byte in text output; JSON and SARIF (which
    # must be UTF-8) carry it as an escape. A path can also hold a lone surrogate from Python.
    errors = "backslashreplace" if fmt in ("json", "json-lines", "sarif") else "surrogateescape"
    if args.output_file is not None:
        _write_file(args.output_file, out + summary, errors)
    else:
        _write_stdout(out + summary, errors)
    if result.errors:
        return EXIT_ERROR
    if result.findings and not args.exit_zero:
        return EXIT_FINDINGS
    if n_fixed and args.exit_non_zero_on_fix:
        return EXIT_FINDINGS
    return EXIT_OK


def _read_stdin() -> bytes:
    try:
        return sys.stdin.buffer.read()
    except (OSError, AttributeError, ValueError) as exc:
        raise UsageError(f"cannot read stdin: {exc}") from None


def _encode(text: str, errors: str) -> bytes:
    return text.encode("utf-8", errors=errors)


def _write_file(path: Path, text: str, errors: str) -> None:
    """The report into ``path``, atomically: a failed write leaves the previous file intact."""
    from linter.report.write import ReportWriteError, write_report

    try:
        write_report(path, _encode(text, errors))
    except ReportWriteError as exc:
        raise UsageError(f"--output-file: {exc}") from None


def _lexists(path: Path) -> bool:
    """False only if ``path`` is not there; a path in a folder we may not search (EACCES) exists,
    and the walk reports it as unreadable (``os.path.lexists`` says False there)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def _write_stdout(text: str, errors: str) -> None:
    """Write to stdout as bytes; a reader that went away (``| head``) ends the output quietly,
    a full disk is an error."""
    if not text:
        return
    if sys.stdout is None:  # started with stdout closed (`bplint check >&-`)
        raise UsageError("cannot write the report to stdout: stdout is closed")
    try:
        buffer = sys.stdout.buffer
    except AttributeError:  # replaced by a text-only stream (tests, embedding)
        sys.stdout.write(text)
        return
    try:
        sys.stdout.flush()
        buffer.write(_encode(text, errors))
        buffer.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        raise UsageError(f"cannot write the report to stdout: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


def _summary(result, ctx, n_fixed: int, fixing: bool) -> str:
    n = len(result.findings)
    files = result.files_checked
    lines = []
    if n_fixed:
        lines.append(
            f"Found {n + n_fixed} finding{'s' if n + n_fixed != 1 else ''} "
            f"({n_fixed} fixed, {n} remaining)."
        )
    elif n:
        lines.append(f"Found {_plural(n, 'finding')} in {_plural(files, 'file')}.")
    elif not result.errors:
        lines.append(f"All checks passed ({_plural(files, 'file')}).")
    fixable = sum(1 for f in result.findings if ctx.fixable(f.fix))
    hidden = sum(1 for f in result.findings if f.fix is not None and not ctx.fixable(f.fix))
    if fixable and not fixing:
        line = f"[*] {fixable} fixable with the `--fix` option"
        if hidden:
            line += f" ({hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the "
            line += "`--unsafe-fixes` option)"
        lines.append(line + ".")
    elif hidden:
        lines.append(
            f"No fixes available ({hidden} hidden fix{'es' if hidden != 1 else ''} can be "
            "enabled with the `--unsafe-fixes` option)."
        )
    return "".join(line + "\n" for line in lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _color_wanted(to_terminal: bool) -> bool:
    """Colour for output going to stdout.

    ``NO_COLOR`` set and not empty turns it off (https://no-color.org); else ``FORCE_COLOR`` set
    and not empty turns it on, even in a pipe (https://force-color.org); else colour goes to a
    terminal whose ``TERM`` is not ``dumb``. NO_COLOR wins over FORCE_COLOR, as in CPython's own
    colour switch and rich. A report written with ``-o`` never has colour.
    """
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return to_terminal and os.environ.get("TERM") != "dumb"


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _site_kb_url(flag: str | None) -> str:
    """The KB base URL: --kb-url, else the closest [tool.bplint] kb-url, else the default."""
    kb_url = _kb_url_flag(flag)
    if kb_url:
        return kb_url
    return ConfigResolver(Path.cwd()).for_path(Path.cwd()).kb_url


def _rules(args: argparse.Namespace) -> int:
    import json

    from linter.rules import ALL_RULES

    base = _site_kb_url(args.kb_url)
    rules = ALL_RULES if args.all else [r for r in ALL_RULES if r.default_enabled]
    if args.output_format == "json":
        print(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "summary": r.summary,
                        "kb_url": None if r.meta else f"{base}kb/{r.kb}/",
                        "rule_url": f"{base}rules/{r.code}/",
                        "check": None if r.meta else r.check_name(),
                        "fix": r.fix_safety.value if r.fix_safety else None,
                        "default": "on" if r.default_enabled else "off",
                    }
                    for r in ALL_RULES
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    width = max(len(r.name) for r in rules)
    print(f"{'code':<6} {'name':<{width}}  {'on':<3} {'fix':<6} page")
    for r in rules:
        on = "yes" if r.default_enabled else "off"
        fix = r.fix_safety.value if r.fix_safety else "-"
        print(f"{r.code:<6} {r.name:<{width}}  {on:<3} {fix:<6} {base}rules/{r.code}/")
    return EXIT_OK


def _resolve(target: str):
    """A rule (by code or name) or a KB page (by slug)."""
    from linter.rules import get_rule

    rule = get_rule(target)
    if rule is not None:
        return rule, None
    from kb.load import ENTRIES_DIR, KBError, read_page

    path = ENTRIES_DIR / f"{target}.md"
    if not path.is_file():
        matches = [p for p in ENTRIES_DIR.glob("*.md") if p.stem.lower() == target.lower()]
        if not matches:
            merged = _merged_into(target)
            if merged is None:
                raise UsageError(f"no rule or KB entry named {target!r} (try `bplint rules`)")
            print(
                f"bplint: {target!r} was merged into {merged.slug!r}; showing that entry",
                file=sys.stderr,
            )
            return None, merged
        path = matches[0]
    try:
        return None, read_page(path)
    except KBError as exc:
        raise UsageError(str(exc)) from None


def _merged_into(slug: str):
    """The entry that lists ``slug`` as a former slug (``redirect_from``: merged entries)."""
    wanted = slug.lower()
    return next(
        (p for p in _kb_pages() if wanted in (old.lower() for old in p.meta.redirect_from)), None
    )


def _kb_pages() -> list:
    """Every KB entry that reads and validates; a broken one is named on stderr and skipped."""
    from kb.load import ENTRIES_DIR, KBError, read_page

    pages = []
    for path in sorted(ENTRIES_DIR.glob("*.md")):
        try:
            pages.append(read_page(path))
        except KBError as exc:
            print(f"bplint: warning: skipped a KB entry: {exc}", file=sys.stderr)
    return pages


def _search_index(pages: list):
    """The word index ``explain`` searches: each entry's fields plus the rules that link it."""
    from kb.search import Index
    from linter.rules import ALL_RULES

    docs = {}
    for page in pages:
        meta = page.meta
        rules = [r for r in ALL_RULES if r.kb == meta.slug or r.code in meta.rules]
        docs[meta.slug] = {
            "title": meta.title,
            "slug": meta.slug,
            "tags": " ".join(meta.tags),
            "question": meta.question,
            "answer": meta.answer,
            "misconception": meta.misconception,
            "extra": " ".join(f"{r.code} {r.name} {r.summary}" for r in rules),
            "body": page.body,
        }
    return Index(docs)


def _explain(target: str, kb_url: str | None = None) -> int:
    try:
        rule, page = _resolve(target)
    except UsageError:
        return _explain_words(target, kb_url)
    return _explain_one(rule, page, kb_url)


def _explain_words(query: str, kb_url: str | None, limit: int = 5) -> int:
    """``bplint explain "why transpose"``: the best entries, ranked; the first one in full."""
    base = _site_kb_url(kb_url)
    pages = {p.slug: p for p in _kb_pages()}
    result = _search_index(list(pages.values())).search(query, limit=limit)
    for word, close in result.unknown.items():
        hint = f"; did you mean {_or_list(close)}?" if close else ""
        print(f"bplint: no KB entry uses the word {word!r}{hint}", file=sys.stderr)
    if not result.hits:
        raise UsageError(
            f"no rule or KB entry matches {query!r} (`bplint kb` lists every entry, "
            "`bplint rules` every rule)"
        )
    width = max(len(h.slug) for h in result.hits)
    print(f'KB entries for "{query}", best first:')
    for i, hit in enumerate(result.hits, 1):
        print(f"  {i}. {hit.slug:<{width}}  {pages[hit.slug].meta.title}")
        print(f"     {' ' * width}  {base}kb/{hit.slug}/")
    print()
    print(f"1. {result.hits[0].slug} in full (`bplint explain SLUG` shows any of them):")
    print()
    return _explain_one(None, pages[result.hits[0].slug], kb_url)


def _or_list(items: list[str]) -> str:
    quoted = [repr(i) for i in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _kb(args: argparse.Namespace) -> int:
    """``bplint kb``: every entry, with or without a rule, and its page."""
    import json

    from linter.rules import ALL_RULES

    base = _site_kb_url(args.kb_url)
    pages = sorted(_kb_pages(), key=lambda p: p.slug)
    rows = []
    for page in pages:
        meta = page.meta
        codes = sorted(set(meta.rules) | {r.code for r in ALL_RULES if r.kb == meta.slug})
        rows.append(
            {
                "slug": meta.slug,
                "title": meta.title,
                "rules": codes,
                "check": meta.check,
                "url": f"{base}kb/{meta.slug}/",
            }
        )
    if args.output_format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    width = max((len(r["slug"]) for r in rows), default=4)
    rules_width = max((len(", ".join(r["rules"])) for r in rows), default=5)
    print(f"{'entry':<{width}}  {'rules':<{rules_width}}  page")
    for r in rows:
        codes = ", ".join(r["rules"]) or "-"
        print(f"{r['slug']:<{width}}  {codes:<{rules_width}}  {r['url']}")
    print(f"{len(rows)} entries; `bplint explain SLUG` shows one, `bplint explain WORDS` searches.")
    return EXIT_OK


def _explain_one(rule, page, kb_url: str | None = None) -> int:
    import textwrap

    from kb.load import ENTRIES_DIR, KBError, read_page

    base = _site_kb_url(kb_url)
    wrap = textwrap.TextWrapper(width=88)
    if rule is not None:
        print(f"{rule.code} {rule.name}: {rule.summary}")
        print()
        print("\n".join(wrap.wrap(f"Why is this bad? {rule.why}")))
        print()
        print("\n".join(wrap.wrap(f"Instead: {rule.instead}")))
        if rule.fix_safety:
            print(
                f"\nFix: {rule.fix_safety.value} (apply with --fix"
                f"{' --unsafe-fixes' if rule.fix_safety.value == 'unsafe' else ''})"
            )
            if rule.fix_safety_note:
                print("\n".join(wrap.wrap(rule.fix_safety_note)))
        if not rule.default_enabled:
            print(f"\nOff by default: {rule.disabled_reason}")
        if rule.meta:
            print(f"\nRule page: {base}rules/{rule.code}/")
            print("This rule is about bplint itself: no KB entry and no numeric test.")
            return EXIT_OK
        try:
            page = read_page(ENTRIES_DIR / f"{rule.kb}.md")
        except KBError:
            page = None
        if page is not None:
            print()
            print("\n".join(wrap.wrap(f"In short: {page.meta.answer}")))
        print(f"\nRule page: {base}rules/{rule.code}/")
        print(f"KB entry:  {base}kb/{rule.kb}/")
        print(f"Numeric test: {rule.check_name()} (run it: bplint verify {rule.code})")
        return EXIT_OK
    assert page is not None
    meta = page.meta
    print(meta.title)
    print()
    print("\n".join(wrap.wrap(f"Q: {meta.question}")))
    print()
    print("\n".join(wrap.wrap(f"A: {meta.answer}")))
    print()
    if meta.rules:
        print("Rules: " + ", ".join(meta.rules))
    else:
        print("\n".join(wrap.wrap(f"Not statically detectable: {meta.not_detectable}")))
    print(f"KB entry: {base}kb/{meta.slug}/")
    print(f"Numeric test: {meta.check} (run it: bplint verify {meta.slug})")
    return EXIT_OK


def _verify(targets: list[str], run_all: bool) -> int:
    from kb.load import KBError, load_kb
    from kb.verify import run_check

    checks: list[tuple[str, str]] = []
    if run_all:
        try:
            kb = load_kb()
        except KBError as exc:
            raise UsageError(str(exc)) from None
        checks = [(p.slug, p.meta.check) for p in kb]
    for target in targets:
        rule, page = _resolve(target)
        if rule is not None and rule.meta:
            raise UsageError(f"{rule.code} is about bplint itself: it has no numeric test")
        if rule is not None:
            checks.append((f"{rule.code} ({rule.kb})", rule.check_name()))
        else:
            checks.append((page.slug, page.meta.check))
    if not checks:
        raise UsageError("verify needs a rule code, a KB slug or --all")
    failed = 0
    for label, module in checks:
        try:
            run = run_check(module)
        except Exception as exc:
            print(f"{label}: ERROR: numeric test {module} could not run: {exc}")
            failed += 1
            continue
        status = "PASS" if run.result.passed else "FAIL"
        print(f"{label}: {status}  [{module}, {run.seconds * 1000:.0f} ms]")
        print(f"  claim: {run.result.claim}")
        for m in run.result.measurements:
            mark = "ok  " if m.passed else "FAIL"
            print(f"  {mark} {m.name}: {m.value:.3g} {m.relation} {m.bound:g}")
        failed += not run.result.passed
    return EXIT_FINDINGS if failed else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
