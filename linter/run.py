"""A run over files: discover -> per file (cache, or source -> engine -> fix) -> one result.

The CLI only parses arguments and prints; this module decides what is read, what comes from the
results cache (``linter.cache``) and what is linted, in this process or in a pool of worker
processes (``--jobs``). Output never depends on the number of workers: results are gathered in
discovery order and findings sorted. Every problem with one file becomes a ``FileError`` naming
it (a clear line, exit 2); the other files are still linted.

Nothing here imports libcst at module level: a run answered entirely from the cache never loads
the parser (start-up stays lean).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from linter.cache import DEFAULT_DIR, Cache
from linter.config import ConfigResolver, Settings
from linter.discovery import SOURCE_SUFFIXES, Discovery, Target, discover
from linter.ftypes import FileError, Finding, Result

if TYPE_CHECKING:
    from linter.engine import FixOptions
    from linter.rule_index import RuleInfo

__all__ = ["SOURCE_SUFFIXES", "RunOptions", "RunResult", "Target", "discover", "lint_paths"]

# A pool costs a fork and pickling per file; below this many files to analyse it does not pay.
POOL_MIN_FILES = 8
POOL_MIN_BYTES = 64 * 1024
STDIN = Path("-")
DEEP_STACK_BYTES = 512 * 1024 * 1024  # reserved, not used: see on_deep_stack
DEEP_RECURSION_LIMIT = 60_000
T = TypeVar("T")
GC_THRESHOLD = (50_000, 20, 100)  # see fewer_collections
_SMALL = 1024 * 1024  # files up to this size are read without asking the engine's limits


@dataclass(frozen=True)
class RunOptions:
    fix: FixOptions | None = None
    jobs: int | None = None  # None: one worker per core; 1: in this process
    cache: bool = True
    cache_dir: Path | None = None  # --cache-dir (overrides the config's cache-dir)
    progress: Callable[[int, int, Path], None] | None = None
    stdin: bytes | None = None  # the text of `-` (with --stdin-filename as its name)
    stdin_name: Path | None = None


@dataclass
class FileResult:
    """What one file contributes to the run (plain data: crosses process boundaries, cached)."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    suppressed: int = 0
    fixed: Counter[str] = field(default_factory=Counter)
    diff: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the file, not findings
    extra: dict[str, Any] = field(default_factory=dict)  # other per-file data


@dataclass
class RunResult(Result):
    fixed: Counter[str] = field(default_factory=Counter)
    diffs: list[str] = field(default_factory=list)
    files_changed: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)
    cache_hits: int = 0
    analysed: int = 0  # files linted in this run (not answered from the cache)


def rules_for(settings: Settings, path: Path) -> list[RuleInfo]:
    """The rules selected for ``path``, as index entries: a rule is imported only when a file
    can trigger it."""
    from linter.rule_index import rules
    from linter.selection import select_rules

    return select_rules(
        settings.select,
        settings.extend_select,
        (*settings.ignore, *settings.ignored_for(path)),
        pool=rules(),
    )


def selection_key(settings: Settings, path: Path) -> tuple:
    """Everything in the config that changes a file's results: which rules run on it."""
    return (settings.select, settings.extend_select, settings.ignore, settings.ignored_for(path))


def cache_dir_for(settings: Settings, options: RunOptions) -> Path:
    if options.cache_dir is not None:
        return options.cache_dir.absolute()
    configured = settings.cache_dir
    if configured:
        return (settings.root / configured).absolute()
    return (settings.root / DEFAULT_DIR).absolute()


# --- one file ----------------------------------------------------------------------------------


def check_file(target: Target, fix: FixOptions | None, data: bytes | None = None) -> FileResult:
    """Lint one file (and fix it if asked). Never raises: problems become ``FileError``s.

    ``data``: the file's bytes when the caller already read them (the cache key is their hash,
    so the results stored are those of exactly these bytes).
    """
    return on_deep_stack(_check_file, target, fix, data)


def on_deep_stack(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` on a thread with a large stack and a high recursion limit.

    libcst's visitors, code generator and metadata resolver recurse once per level of the
    syntax tree (three Python frames a level), so a 400-piece string concatenation or a
    400-branch ``elif`` chain, which CPython compiles, would exceed the default limit of 1,000
    frames. Depth is bounded by what CPython's compiler accepts (``source.check_syntax`` runs
    first), and the stack is only reserved: pages are touched as deep as the recursion goes.
    """
    box: list = []

    def run() -> None:
        try:
            box.append((True, fn(*args)))
        except BaseException as exc:  # handed to the caller's thread
            box.append((False, exc))

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size(DEEP_STACK_BYTES)
    try:
        worker = threading.Thread(target=run, name="bplint-file", daemon=True)
        sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _check_file(target: Target, fix: FixOptions | None, data: bytes | None) -> FileResult:
    from linter import prefilter
    from linter.source import SourceError, decode_source, prepare, read_bytes

    path = target.path
    try:
        rules = rules_for(target.settings, path)
        if path.suffix == ".ipynb":
            from linter.notebook import check_notebook, lint_notebook, load_notebook

            if data is not None and fix is None:
                from linter.engine import FileOutcome

                report, errors = lint_notebook(load_notebook(path, data), rules)
                return _result(FileOutcome(report=report, errors=errors))
            return _result(check_notebook(path, rules, fix))
        if data is None:
            data = read_bytes(path)
        src = decode_source(data)
        prep = prepare(src.text)  # a file bplint cannot read is an error, even if no rule looks
        if not prefilter.could_fire(prep.text, rules):
            return FileResult(notes=list(prep.notes))  # neither libcst nor a rule imported
        from linter.engine import FileOutcome, lint_prepared

        if fix is None or prep.python2:
            return _result(FileOutcome(lint_prepared(prep, path, rules, src.text)))
        from linter.fix import fix_python_file

        return _result(fix_python_file(path, data, src, rules, fix))
    except SourceError as exc:
        return FileResult(errors=[FileError(path, str(exc), exc.line, exc.column)])
    except (RecursionError, MemoryError) as exc:
        what = "too deeply nested" if isinstance(exc, RecursionError) else "too large"
        return FileResult(errors=[FileError(path, f"code {what} to analyse")])
    except Exception as exc:
        msg = f"internal error while linting: {type(exc).__name__}: {exc}"
        return FileResult(errors=[FileError(path, msg)])


def _result(outcome) -> FileResult:
    return FileResult(
        findings=list(outcome.report.findings),
        errors=list(outcome.errors),
        suppressed=outcome.report.suppressed,
        fixed=Counter(outcome.fixed),
        diff=outcome.diff,
        warnings=list(outcome.warnings),
        notes=list(outcome.report.notes),
    )


def _lint_recorded(
    item: tuple[Target, bytes | None, FixOptions | None],
) -> tuple[FileResult, list[str]]:
    """Lint one file and return the sibling modules the analysis looked at (cache deps)."""
    target, data, fix = item
    # the analysis (and libcst) is imported only by a file that needs it: until then no
    # sibling module was consulted
    siblings = sys.modules.get("linter.analysis.siblings")
    if siblings is not None:
        siblings.consulted.clear()
    result = check_file(target, fix, data)
    siblings = sys.modules.get("linter.analysis.siblings")
    return result, list(siblings.consulted) if siblings is not None else []


def _lint_chunk(items: list) -> list[tuple[FileResult, list[str]]]:
    return [_lint_recorded(item) for item in items]


# --- the run -----------------------------------------------------------------------------------


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The cyclic garbage collector less often while files are linted (workers inherit it).

    A syntax tree and its analysis are millions of small objects; at the default threshold
    (a young collection every 700 allocations, a full one as the heap grows) the collector
    rescans them again and again: ~20% of the CPU time of a cold run over the benchmark corpus
    (tests/benchmark_lint.py; 41 s -> 33 s in one process). Reference counting still frees
    everything acyclic at once; a young collection every 50,000 allocations bounds what cyclic
    garbage waits for it to a few megabytes.
    """
    old = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD[0], GC_THRESHOLD[1], GC_THRESHOLD[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def lint_paths(
    paths: Iterable[Path],
    resolver: ConfigResolver,
    fix: FixOptions | None = None,
    options: RunOptions | None = None,
) -> RunResult:
    options = options or RunOptions(fix=fix, cache=False, jobs=1)
    if fix is not None and options.fix is None:
        from dataclasses import replace

        options = replace(options, fix=fix)
    paths = list(paths)
    found = Discovery()
    stdin_target: Target | None = None
    if STDIN in paths:
        name = options.stdin_name or Path("stdin.py")
        settings = resolver.for_path(name)
        if settings.force_exclude and settings.is_excluded(name):
            found.excluded += 1
        else:
            stdin_target = Target(name, settings)
        paths = [p for p in paths if p != STDIN]
    if paths:
        found = _merge(found, discover(paths, resolver))
    targets = list(found.targets)
    if stdin_target is not None:
        targets.append(stdin_target)

    result = RunResult(files_excluded=found.excluded)
    result.errors.extend(found.errors)
    result.warnings.extend(found.warnings)
    with fewer_collections():
        results = _run(targets, stdin_target, options, result)
    for target, file_result in zip(targets, results, strict=True):
        result.errors.extend(file_result.errors)
        result.findings.extend(file_result.findings)
        result.suppressed += file_result.suppressed
        result.fixed.update(file_result.fixed)
        result.warnings.extend(file_result.warnings)
        result.notes.extend((target.path, note) for note in file_result.notes)
        if file_result.diff:
            result.diffs.append(file_result.diff)
        if file_result.fixed:
            result.files_changed += 1
        result.files_checked += 1
    result.findings.sort(key=lambda f: f.sort_key)
    result.errors.sort(key=lambda e: (str(e.path), e.line or 0, e.column or 0))
    return result


def _merge(a: Discovery, b: Discovery) -> Discovery:
    return Discovery(
        a.targets + b.targets, a.excluded + b.excluded, a.errors + b.errors, a.warnings + b.warnings
    )


def _run(
    targets: Sequence[Target], stdin: Target | None, options: RunOptions, result: RunResult
) -> list[FileResult]:
    """Results in the order of ``targets``: cached ones read here, the rest linted."""
    out: list[FileResult | None] = [None] * len(targets)
    pending: list[tuple[int, Target, bytes | None, str | None, Cache | None]] = []
    caches: dict[Path, Cache] = {}
    use_cache = options.cache and options.fix is None
    for i, target in enumerate(targets):
        data: bytes | None = None
        if target is stdin:
            data = options.stdin or b""
        elif use_cache or options.fix is None:
            data, error = _read(target.path)
            if error is not None:
                out[i] = FileResult(errors=[error])
                continue
        key = cache = None
        if use_cache and data is not None and target is not stdin:
            directory = cache_dir_for(target.settings, options)
            cache = caches.get(directory)
            if cache is None:
                cache = caches[directory] = Cache(directory)
            key = cache.key(
                data, target.path, selection_key(target.settings, target.path), ("lint",)
            )
            cache.seen(target.path, data)
            hit = cache.get(key)
            if hit is not None:
                out[i] = _restore(hit, target.path)
                result.cache_hits += 1
                continue
        pending.append((i, target, data, key, cache))

    result.analysed = len(pending)
    items = [(t, d, options.fix) for _, t, d, _, _ in pending]
    done = _execute(items, options)
    for (i, _target, _data, key, cache), (file_result, deps) in zip(pending, done, strict=True):
        out[i] = file_result
        if cache is not None and key is not None and not file_result.errors:
            cache.put(key, _store(file_result), deps)
    return [r if r is not None else FileResult() for r in out]


def _read(path: Path) -> tuple[bytes | None, FileError | None]:
    """The file's bytes, up to the engine's size limits (imported only for a big file, so a
    cached run does not load the engine)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(_SMALL + 1)
            if len(data) > _SMALL:
                from linter.source import MAX_BYTES, MAX_NOTEBOOK_BYTES

                limit = MAX_NOTEBOOK_BYTES if path.suffix == ".ipynb" else MAX_BYTES
                data += fh.read(limit + 1 - len(data))
                if len(data) > limit:
                    return None, FileError(path, f"file is too large to lint (> {limit} bytes)")
    except OSError as exc:
        return None, FileError(path, f"cannot read file: {exc.strerror or exc}")
    return data, None


def _execute(items: list, options: RunOptions) -> list[tuple[FileResult, list[str]]]:
    jobs = options.jobs if options.jobs is not None else default_jobs()
    total = len(items)
    size = sum(len(d) for _, d, _ in items if d is not None)
    progress = options.progress
    siblings = sys.modules.get("linter.analysis.siblings")  # loaded by an earlier run, if any
    if siblings is not None:
        siblings.new_run()  # files may have changed since
    if jobs > 1 and total >= POOL_MIN_FILES and (size >= POOL_MIN_BYTES or options.fix):
        pooled = _pooled(items, min(jobs, total), progress)
        if pooled is not None:
            return pooled
    done = []
    for n, item in enumerate(items, 1):
        done.append(_lint_recorded(item))
        if progress is not None:
            progress(n, total, item[0].path)
    return done


def _pooled(items: list, jobs: int, progress) -> list | None:
    """Lint in ``jobs`` processes, in small chunks (balanced, in order); None if no pool."""
    import concurrent.futures as cf
    import multiprocessing

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = None
    chunk = max(1, min(16, len(items) // (jobs * 4)))
    chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    try:
        pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    except (OSError, NotImplementedError, ValueError):
        return None
    with pool:
        futures = [pool.submit(_lint_chunk, c) for c in chunks]
        done = 0
        results = []
        for future, c in zip(futures, chunks, strict=True):
            results.extend(future.result())
            done += len(c)
            if progress is not None:
                progress(done, len(items), c[-1][0].path)
    return results


def _store(r: FileResult) -> dict:
    return {
        "findings": [_without_path(f) for f in r.findings],
        "suppressed": r.suppressed,
        "warnings": r.warnings,
        "notes": r.notes,
        "extra": r.extra,
    }


def _without_path(f: Finding) -> Finding:
    from dataclasses import replace

    return replace(f, path=Path())


def _restore(entry: dict, path: Path) -> FileResult:
    from dataclasses import replace

    return FileResult(
        findings=[replace(f, path=path) for f in entry["findings"]],
        suppressed=entry["suppressed"],
        warnings=list(entry["warnings"]),
        notes=list(entry["notes"]),
        extra=dict(entry["extra"]),
    )


# --- progress ----------------------------------------------------------------------------------


class Progress:
    """``[n/total] path`` on one terminal line of stderr, at most ten updates a second, for runs
    that take a while; erased when done."""

    def __init__(self, stream=None, delay: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.delay = delay
        self.last = 0.0
        self.shown = False

    def __call__(self, n: int, total: int, path: Path) -> None:
        now = time.monotonic()
        if now - self.start < self.delay or (now - self.last < 0.1 and n < total):
            return
        self.last = now
        width = 70
        name = str(path)
        if len(name) > width:
            name = "…" + name[-(width - 1) :]
        self.stream.write(f"\r\x1b[K[{n}/{total}] {name}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
