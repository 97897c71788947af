"""``bplint``: check | rules | explain | verify.

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
SUBCOMMANDS = ("check", "rules", "explain", "verify", "version")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 with usage, like we want
        self.print_usage(sys.stderr)
        print(f"bplint: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _codes(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bplint", description="Lint hand-written backpropagation code.")
    parser.add_argument("--version", action="version", version=f"bplint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser("check", help="lint files and directories (default: .)")
    check.add_argument("paths", nargs="*", type=Path)
    check.add_argument("--select", type=_codes, help="comma-separated codes or prefixes")
    check.add_argument("--extend-select", type=_codes)
    check.add_argument("--ignore", type=_codes)
    check.add_argument("--exclude", type=_codes, help="replace the exclude patterns")
    check.add_argument("--extend-exclude", type=_codes)
    check.add_argument("--force-exclude", action="store_true", default=None)
    check.add_argument("--output-format", choices=OUTPUT_FORMATS)
    check.add_argument("--config", type=Path, help="use this pyproject.toml for every file")
    check.add_argument("--kb-url", help="base URL of the knowledge-base site")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    check.add_argument("--quiet", "-q", action="store_true", help="print findings only")

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument("--output-format", choices=("text", "json"), default="text")
    rules.add_argument("--all", action="store_true", help="include rules off by default")

    explain = sub.add_parser("explain", help="explain a rule or a KB entry")
    explain.add_argument("target", help="rule code, rule name or KB slug")

    verify = sub.add_parser("verify", help="run the numeric test behind a rule or KB entry")
    verify.add_argument("targets", nargs="*", help="rule codes, names or KB slugs")
    verify.add_argument("--all", action="store_true", help="run every numeric test")

    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
            return _explain(args.target)
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
    except BrokenPipeError:
        return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from linter.engine import lint_paths
    from linter.report import FORMATTERS, Context
    from linter.report.text import location
    from linter.selection import validate_selectors

    cli: dict = {}
    for flag in ("select", "extend_select", "ignore", "exclude", "extend_exclude"):
        value = getattr(args, flag)
        if value is None:
            continue
        if flag in ("select", "extend_select", "ignore"):
            bad = validate_selectors(value)
            if bad:
                raise UsageError(f"--{flag.replace('_', '-')}: unknown rule code or name {bad!r}")
        cli["ignore_extra" if flag == "ignore" else flag] = tuple(value)
    if args.force_exclude:
        cli["force_exclude"] = True
    if args.output_format:
        cli["output_format"] = args.output_format
    if args.kb_url:
        cli["kb_url"] = args.kb_url if args.kb_url.endswith("/") else args.kb_url + "/"

    cwd = Path.cwd()
    override = None
    if args.config is not None:
        if not args.config.is_file():
            raise UsageError(f"--config: no such file: {args.config}")
        override = load_config_file(args.config)
    resolver = ConfigResolver(cwd, override=override, cli=cli)

    paths = args.paths or [Path(".")]
    for p in paths:
        if not p.exists():
            raise UsageError(f"no such file or directory: {p}")
    settings = resolver.for_path(paths[0])
    result = lint_paths(paths, resolver)

    fmt = settings.output_format
    ctx = Context(
        kb_url=settings.kb_url,
        color=_color_ok(),
        hyperlinks=_color_ok(),
    )
    for err in result.errors:
        print(f"{location(err)}: error: {err.message}", file=sys.stderr)
    out = FORMATTERS[fmt](result.findings, result.errors, ctx)
    sys.stdout.write(out)
    if fmt == "concise" and not args.quiet:
        n = len(result.findings)
        if n:
            print(f"Found {n} finding{'s' if n != 1 else ''} in {result.files_checked} files.")
        elif not result.errors:
            print(f"All checks passed ({result.files_checked} files).")
    if result.files_checked == 0 and result.files_excluded:
        print("bplint: warning: every file given was excluded; nothing was linted", file=sys.stderr)
    if result.errors:
        return EXIT_ERROR
    if result.findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _color_ok() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _rules(args: argparse.Namespace) -> int:
    import json

    from linter.config import DEFAULT_KB_URL
    from linter.rules import ALL_RULES

    rules = ALL_RULES
    if args.output_format == "json":
        print(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "summary": r.summary,
                        "kb_url": f"{DEFAULT_KB_URL}kb/{r.kb}/",
                        "rule_url": f"{DEFAULT_KB_URL}rules/{r.code}/",
                        "check": r.check_name(),
                        "fix": r.fix_safety.value if r.fix_safety else None,
                        "default": "on" if r.default_enabled else "off",
                    }
                    for r in rules
                ],
                indent=2,
            )
        )
        return EXIT_OK
    width = max(len(r.name) for r in rules)
    print(f"{'code':<6} {'name':<{width}}  {'on':<3} page")
    for r in rules:
        on = "yes" if r.default_enabled else "off"
        print(f"{r.code:<6} {r.name:<{width}}  {on:<3} {DEFAULT_KB_URL}rules/{r.code}/")
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
            raise UsageError(f"no rule or KB entry named {target!r} (try `bplint rules`)")
        path = matches[0]
    try:
        return None, read_page(path)
    except KBError as exc:
        raise UsageError(str(exc)) from None


def _explain(target: str) -> int:
    import textwrap

    from kb.load import ENTRIES_DIR, KBError, read_page
    from linter.config import DEFAULT_KB_URL

    rule, page = _resolve(target)
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
        if not rule.default_enabled:
            print(f"\nOff by default: {rule.disabled_reason}")
        try:
            page = read_page(ENTRIES_DIR / f"{rule.kb}.md")
        except KBError:
            page = None
        if page is not None:
            print()
            print("\n".join(wrap.wrap(f"In short: {page.meta.answer}")))
        print(f"\nRule page: {DEFAULT_KB_URL}rules/{rule.code}/")
        print(f"KB entry:  {DEFAULT_KB_URL}kb/{rule.kb}/")
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
    print(f"KB entry: {DEFAULT_KB_URL}kb/{meta.slug}/")
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
