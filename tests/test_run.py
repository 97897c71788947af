"""The run over files: discovery on hostile trees, the results cache, workers, stdin, output."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linter import cache as cache_mod
from linter.config import ConfigResolver
from linter.discovery import discover
from linter.rules import ALL_RULES
from linter.run import Progress, RunOptions, lint_paths
from tests.cli_helpers import bplint

BUGGY = textwrap.dedent(
    """
    import numpy as np

    def backprop(W2, delta2, z1):
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
    """
).lstrip()
NOT_ML = "def add(a, b):\n    return a + b\n"
ROOT = Path(__file__).resolve().parent.parent


def run(paths, cwd: Path, **options):
    options.setdefault("jobs", 1)
    return lint_paths(paths, ConfigResolver(cwd), options.get("fix"), RunOptions(**options))


def fingerprint(result) -> list[tuple]:
    return [(str(f.path), f.code, f.start, f.end, f.message, f.fix) for f in result.findings]


# --- discovery ---------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_named_like_source_is_skipped_not_read(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    os.mkfifo(tmp_path / "pipe.py")  # reading it would block forever: no writer
    r = bplint("check", ".", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "net.py:4:13: BP001" in r.stdout
    assert "pipe.py: skipped: a FIFO" in r.stderr
    assert "Traceback" not in r.stderr


def test_symlink_loops_are_errors_naming_the_link(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    (tmp_path / "loop.py").symlink_to("loop.py")
    (tmp_path / "a.py").symlink_to("b.py")
    (tmp_path / "b.py").symlink_to("a.py")
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "up").symlink_to("..")  # a folder loop: links to folders are not descended
    (sub / "dangling.py").symlink_to("missing.py")
    r = bplint("check", ".", cwd=tmp_path)
    assert r.returncode == 2
    assert "net.py:4:13: BP001" in r.stdout
    for name, why in (
        ("loop.py", "symbolic link loop"),
        ("a.py", "symbolic link loop"),
        ("b.py", "symbolic link loop"),
        ("pkg/dangling.py", "broken symbolic link"),
    ):
        assert f"{name}: error: cannot read file: {why}" in r.stderr, r.stderr
    assert r.stdout.count(": BP001 ") == 1  # net.py once, not again through pkg/up
    assert "Traceback" not in r.stderr
    sarif = bplint("check", ".", "--output-format", "sarif", cwd=tmp_path)
    assert sarif.returncode == 2 and "Traceback" not in sarif.stderr
    notes = json.loads(sarif.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes} >= {
        "loop.py",
        "a.py",
    }


def test_unreadable_folder_is_an_error_and_the_rest_is_linted(tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text(BUGGY)
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text(BUGGY)
    real_scandir = os.scandir

    def scandir(path):  # as a non-root user gets from a chmod 000 folder
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discover([tmp_path], ConfigResolver(tmp_path))
    assert [t.path.name for t in found.targets] == ["net.py"]
    assert [(e.path, e.message) for e in found.errors] == [
        (locked, "cannot read folder: Permission denied")
    ]
    result = run([tmp_path], tmp_path)
    assert [f.code for f in result.findings] == ["BP001"]
    assert len(result.errors) == 1


def _as_non_root() -> list[str] | None:
    """A command prefix that runs bplint without the power to read any folder: nothing for a
    non-root user; as root, `setpriv` dropping the two capabilities that bypass permissions."""
    if os.name != "posix":
        return None
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    probe = subprocess.run(
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "true"],
        capture_output=True,
    )
    return (
        None
        if probe.returncode
        else ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    )


@pytest.mark.skipif(_as_non_root() is None, reason="cannot run without permission bypass")
def test_unreadable_folder_for_real(tmp_path):
    """A chmod 000 folder, walked into and named on the command line: one clear error each, the
    rest linted (it was an internal error: the config lookup stat'ed `locked/pyproject.toml`;
    and `locked/x.py` on the command line was 'no such file or directory')."""
    (tmp_path / "net.py").write_text(BUGGY)
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "x.py").write_text(BUGGY)
    prefix = _as_non_root() or []

    def check(*args):
        return subprocess.run(
            [*prefix, sys.executable, "-m", "linter.cli", "check", "--no-cache", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )

    locked.chmod(0)
    try:
        walked = check(".")
        named = check("locked/x.py", "net.py")
    finally:
        locked.chmod(0o755)
    assert walked.returncode == 2
    assert walked.stderr == "locked: error: cannot read folder: Permission denied\n"
    assert "net.py:4:13: BP001" in walked.stdout
    assert named.returncode == 2
    assert named.stderr == "locked/x.py: error: cannot read: Permission denied\n"
    assert "net.py:4:13: BP001" in named.stdout


def test_excludes_keep_their_meaning(tmp_path):
    for rel in ("a.py", "build/b.py", "keep/c.py", "skip/d.py", ".bplint_cache/e.py"):
        p = tmp_path / rel
        p.parent.mkdir(exist_ok=True)
        p.write_text(BUGGY)
    (tmp_path / "pyproject.toml").write_text('[tool.bplint]\nextend-exclude = ["skip"]\n')
    found = discover([tmp_path], ConfigResolver(tmp_path))
    assert sorted(t.path.relative_to(tmp_path).as_posix() for t in found.targets) == [
        "a.py",
        "keep/c.py",
    ]
    named = discover([tmp_path / "build"], ConfigResolver(tmp_path))  # named: linted
    assert [t.path.name for t in named.targets] == ["b.py"]


def _excluded_by_fnmatch(settings, path: Path, below: Path | None) -> bool:
    """The exclude rule as written before it was compiled: each pattern, fnmatch, one by one."""
    import fnmatch
    from pathlib import PurePosixPath

    resolved = path.resolve()
    try:
        rel = PurePosixPath(resolved.relative_to(settings.root.resolve()).as_posix())
    except ValueError:
        rel = PurePosixPath(path.name)
    skip = 0
    if below is not None:
        try:
            skip = len(resolved.relative_to(below.resolve()).parts)
        except ValueError:
            skip = len(rel.parts)
        skip = len(rel.parts) - skip
    candidates = [rel, *rel.parents][: max(len(rel.parts) - skip, 0)]
    for pattern in (*settings.exclude, *settings.extend_exclude):
        pat = pattern.rstrip("/")
        if not pat:
            continue
        if "/" in pat:
            pat = pat.removeprefix("./")
            if any(fnmatch.fnmatch(c.as_posix(), pat) for c in candidates):
                return True
        elif any(fnmatch.fnmatch(part, pat) for part in rel.parts[skip:]):
            return True
    return False


def test_a_walk_excludes_what_each_pattern_excludes(tmp_path):
    """The walk resolves each folder once and matches all patterns at once: every file and
    folder it meets is excluded exactly when some pattern, matched alone, excludes it (nested
    configs, a link to a file elsewhere, patterns with and without /, globs, a folder named on
    the command line below an excluded one)."""
    rels = [
        "a.py", "build/b.py", "keep/c.py", "keep/deep/gen_x.py", "keep/deep/y.py",
        "skip/d.py", "notes.ipynb", "sub/proj/e.py", "sub/proj/out/f.py", "sub/proj/g.py",
        "data/raw/h.py", "data/clean/i.py", "x[1]/j.py", "other/k.py",
    ]  # fmt: skip
    for rel in rels:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(NOT_ML)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bplint]\nextend-exclude = ["skip/", "gen_*.py", "*.ipynb", "./data/raw", '
        '"keep/*/y.py", "x[[]1]"]\n'
    )
    (tmp_path / "sub" / "proj" / "pyproject.toml").write_text(
        '[tool.bplint]\nexclude = ["out", "g.py"]\n'
    )
    (tmp_path / "keep" / "link.py").symlink_to(tmp_path / "sub" / "proj" / "g.py")
    for top in (tmp_path, tmp_path / "sub", tmp_path / "build", tmp_path / "data"):
        resolver = ConfigResolver(tmp_path)
        expected = set()
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                sub = here / d
                if not _excluded_by_fnmatch(resolver.for_path(sub), sub, top):
                    keep.append(d)
            dirnames[:] = keep
            for name in filenames:
                f = here / name
                if f.suffix in (".py", ".ipynb") and not _excluded_by_fnmatch(
                    resolver.for_path(f), f, top
                ):
                    expected.add(f)
        found = discover([top], ConfigResolver(tmp_path))
        assert {t.path for t in found.targets} == expected, top
        assert found.excluded > 0 or top.name in ("build", "data")
    linked = {t.path.name for t in discover([tmp_path / "keep"], ConfigResolver(tmp_path)).targets}
    assert linked == {"c.py"}  # link.py is g.py of sub/proj, excluded by that config


# --- output robustness ---------------------------------------------------------------------------

NON_UTF8 = b"r\xe9seau.py"  # latin-1 "réseau.py"


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 file names")
def test_non_utf8_file_name_in_every_output(tmp_path):
    target = os.path.join(os.fsencode(tmp_path), NON_UTF8)
    with open(target, "wb") as fh:
        fh.write(BUGGY.encode())
    r = subprocess.run(
        [sys.executable, "-m", "linter.cli", "check", "."], cwd=tmp_path, capture_output=True
    )
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert r.stdout.startswith(NON_UTF8 + b":4:13: BP001")  # the name as the file system has it
    for fmt in ("sarif", "json", "json-lines", "github", "markdown", "full"):
        out = tmp_path / f"out.{fmt}"
        r = bplint("check", ".", "--output-format", fmt, "-o", str(out), cwd=tmp_path)
        assert r.returncode == 1, (fmt, r.stderr)
        assert "Traceback" not in r.stderr
        data = out.read_bytes()
        if fmt == "sarif":
            doc = json.loads(data.decode("utf-8"))
            loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
            assert loc["artifactLocation"]["uri"] == "r%E9seau.py"
        elif fmt == "json":
            assert json.loads(data.decode("utf-8"))[0]["path"].endswith("r\udce9seau.py")


def test_closed_stdout_is_not_a_crash(tmp_path):
    for i in range(40):
        (tmp_path / f"net{i}.py").write_text(BUGGY)
    r = subprocess.run(
        f"{sys.executable} -m linter.cli check . | head -c0",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr
    assert "BrokenPipe" not in r.stderr


def test_stdout_closed_before_start_is_a_clear_error(tmp_path):
    """`bplint check >&-`: Python starts with sys.stdout = None; the report cannot be written,
    which is said in one line (it was 'internal error: AttributeError')."""
    (tmp_path / "net.py").write_text(BUGGY)
    for fmt in ("concise", "sarif"):
        r = subprocess.run(
            f"{sys.executable} -m linter.cli check . --output-format {fmt} >&-",
            shell=True,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2, r.stderr
        assert r.stderr == "bplint: error: cannot write the report to stdout: stdout is closed\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_full_disk_is_a_clear_error(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    r = bplint("check", ".", "-o", "/dev/full", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().endswith(
        "bplint: error: --output-file: cannot write /dev/full: No space left on device"
    )
    assert "Traceback" not in r.stderr
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [sys.executable, "-m", "linter.cli", "check", "."],
            cwd=tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert r.returncode == 2
    assert "cannot write the report to stdout: No space left on device" in r.stderr
    assert "Traceback" not in r.stderr


# --- stdin -------------------------------------------------------------------------------------


def test_stdin_filename(tmp_path):
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[tool.bplint]\nignore = ["BP002"]\n')
    r = subprocess.run(
        [sys.executable, "-m", "linter.cli", "check", "-", "--stdin-filename", "pkg/net.py"],
        input=BUGGY,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith("pkg/net.py:4:13: BP001 ")
    assert not (sub / "net.py").exists()
    full = subprocess.run(
        [
            sys.executable,
            "-m",
            "linter.cli",
            "check",
            "-",
            "--stdin-filename",
            "new.py",
            "--output-format=full",
        ],
        input=BUGGY,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "return (np.linalg.pinv(W2) @ delta2)" in full.stdout  # lines from stdin, not disk
    diff = subprocess.run(
        [sys.executable, "-m", "linter.cli", "check", "-", "--diff", "--unsafe-fixes"],
        input=BUGGY,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "+    return (W2.T @ delta2)" in diff.stdout, diff.stdout + diff.stderr
    refused = bplint("check", "x.py", "--stdin-filename", "x.py", cwd=tmp_path)
    assert refused.returncode == 2 and "needs `-`" in refused.stderr


# --- cache -------------------------------------------------------------------------------------


def test_cache_hit_round_trips_findings_exactly(tmp_path):
    """Every rule's INVALID examples and the zoo: a warm run gives the very same findings."""
    src = tmp_path / "src"
    src.mkdir()
    n = 0
    for rule in ALL_RULES:
        for ex in rule.invalid:
            (src / f"{rule.code}_{n}.py").write_text(ex.source)
            n += 1
    zoo = ROOT / "tests" / "zoo" / "networks"
    for p in zoo.rglob("*.py"):
        dest = src / "zoo" / p.relative_to(zoo)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(p.read_bytes())
    cache_dir = tmp_path / "cache"
    cold = run([src], tmp_path, cache_dir=cache_dir)
    warm = run([src], tmp_path, cache_dir=cache_dir)
    nocache = run([src], tmp_path, cache=False)
    assert cold.cache_hits == 0 and cold.analysed == cold.files_checked
    assert warm.cache_hits == warm.files_checked and warm.analysed == 0
    assert cold.findings == warm.findings == nocache.findings
    assert any(f.fix is not None for f in warm.findings)
    assert (cold.suppressed, cold.errors) == (warm.suppressed, warm.errors)


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "net.py").write_text(BUGGY)
    (tmp_path / "util.py").write_text(NOT_ML)
    return tmp_path


def test_cache_invalidated_by_content_rules_config_and_version(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    first = run([root], root)  # default dir: .bplint_cache next to the config (here: cwd)
    assert (root / ".bplint_cache" / "CACHEDIR.TAG").is_file()
    assert run([root], root).cache_hits == 2
    # content
    (root / "net.py").write_text(BUGGY + "\n")
    again = run([root], root)
    assert (again.cache_hits, again.analysed) == (1, 1)
    assert fingerprint(again) == fingerprint(first)
    (root / "net.py").write_text(BUGGY.replace("np.linalg.pinv(W2)", "W2.T"))
    assert run([root], root).findings == []
    (root / "net.py").write_text(BUGGY)
    assert run([root], root).cache_hits == 2  # back to content already seen
    # rules (select) and config (ignore in pyproject.toml)
    resolver = ConfigResolver(root, cli={"select": ("BP002",)})
    selected = lint_paths([root], resolver, None, RunOptions(jobs=1))
    assert (selected.analysed, selected.findings) == (2, [])
    (root / "pyproject.toml").write_text('[tool.bplint]\nignore = ["BP001"]\n')
    ignored = run([root], root)
    assert (ignored.analysed, ignored.findings) == (2, [])
    (root / "pyproject.toml").unlink()
    # bplint's version (or any change to its code)
    monkeypatch.setattr(cache_mod, "_FINGERPRINT", "0" * 64)
    other = run([root], root)
    assert other.analysed == 2 and fingerprint(other) == fingerprint(first)
    assert sorted(p.name for p in (root / ".bplint_cache").iterdir() if p.is_dir()) == ["0" * 24]


def test_cache_invalidated_by_a_sibling_helper(tmp_path):
    """``sigmoid_prime`` from a sibling module decides BP101: a change there re-lints net.py."""
    (tmp_path / "acts.py").write_text(
        "import numpy as np\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n\n"
        "def sigmoid_prime(z):\n    return sigmoid(z) * (1 - sigmoid(z))\n"
    )
    (tmp_path / "net.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from acts import sigmoid, sigmoid_prime

            def backprop(W1, W2, x, y):
                z1 = W1 @ x
                a1 = sigmoid(z1)
                a2 = sigmoid(W2 @ a1)
                delta2 = (a2 - y) * sigmoid_prime(a2)
                delta1 = (W2.T @ delta2) * sigmoid_prime(a1)
                return np.outer(delta1, x), np.outer(delta2, a1)
            """
        ).lstrip()
    )
    nocache = run([tmp_path / "net.py"], tmp_path, cache=False)
    assert [f.code for f in nocache.findings], "the example must depend on the sibling"
    cold = run([tmp_path / "net.py"], tmp_path)
    assert cold.findings == nocache.findings
    entry = next((tmp_path / ".bplint_cache").rglob("*.json"))
    assert "acts.py" in entry.read_text()
    assert run([tmp_path / "net.py"], tmp_path).cache_hits == 1
    (tmp_path / "acts.py").write_text(
        "import numpy as np\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n\n"
        "def sigmoid_prime(a):\n    return a * (1 - a)\n"
    )
    changed = run([tmp_path / "net.py"], tmp_path)
    assert changed.cache_hits == 0
    assert changed.findings == run([tmp_path / "net.py"], tmp_path, cache=False).findings
    assert changed.findings != cold.findings


def test_corrupt_cache_entries_are_ignored(tmp_path):
    root = _tree(tmp_path)
    first = run([root], root)
    entries = list((root / ".bplint_cache").rglob("*.json"))
    assert len(entries) == 2
    garbage = [b"", b"{", b'{"key": "x"}', b"\x00\xff" * 10, b'{"key": 1, "value": {"@": "os"}}']
    for entry, bad in zip(entries, garbage, strict=False):
        entry.write_bytes(bad)
    healed = run([root], root)
    assert healed.analysed == 2 and fingerprint(healed) == fingerprint(first)
    assert run([root], root).cache_hits == 2  # rewritten


def test_wrong_entry_under_the_right_name_is_ignored(tmp_path):
    root = _tree(tmp_path)
    run([root], root)
    a, b = sorted((root / ".bplint_cache").rglob("*.json"))
    a_text = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(a_text)
    swapped = run([root], root)
    assert swapped.analysed == 2 and [f.code for f in swapped.findings] == ["BP001"]


def test_concurrent_runs_share_a_cache(tmp_path):
    for i in range(12):
        (tmp_path / f"net{i}.py").write_text(BUGGY.replace("W2", f"W{i + 2}"))
    cmd = [sys.executable, "-m", "linter.cli", "check", ".", "--output-format", "json"]
    procs = [
        subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 1 for p in procs), [e for _, e in outs]
    assert len({o for o, _ in outs}) == 1
    assert all(b"Traceback" not in e for _, e in outs)
    assert not list((tmp_path / ".bplint_cache").rglob(".tmp-*"))
    warm = bplint(*cmd[3:], cwd=tmp_path)
    assert warm.stdout.encode() == outs[0][0]


def test_no_cache_and_cache_dir(tmp_path):
    root = _tree(tmp_path)
    r = bplint("check", ".", "--no-cache", cwd=root)
    assert r.returncode == 1 and not (root / ".bplint_cache").exists()
    r = bplint("check", ".", "--cache-dir", "elsewhere", cwd=root)
    assert r.returncode == 1 and (root / "elsewhere" / "CACHEDIR.TAG").is_file()
    (root / "pyproject.toml").write_text('[tool.bplint]\ncache-dir = "build/bp"\n')
    r = bplint("check", ".", cwd=root)
    assert r.returncode == 1 and (root / "build" / "bp" / "CACHEDIR.TAG").is_file()
    (root / "pyproject.toml").write_text("[tool.bplint]\ncache-dir = 3\n")
    bad = bplint("check", ".", cwd=root)
    assert bad.returncode == 2 and "cache-dir: must be a folder path" in bad.stderr


def test_fix_bypasses_the_cache(tmp_path):
    (tmp_path / "net.py").write_text(BUGGY)
    run([tmp_path], tmp_path)  # cached: one unsafe-fixable BP001
    from linter.engine import FixOptions

    fixed = run([tmp_path], tmp_path, fix=FixOptions(unsafe=True))
    assert sum(fixed.fixed.values()) == 1 and fixed.cache_hits == 0
    assert "W2.T @ delta2" in (tmp_path / "net.py").read_text()
    assert run([tmp_path], tmp_path).findings == []


# --- workers -----------------------------------------------------------------------------------


def test_jobs_give_the_same_output_as_one_process(tmp_path, monkeypatch):
    import linter.run as run_mod

    monkeypatch.setattr(run_mod, "POOL_MIN_BYTES", 0)
    src = tmp_path / "src"
    src.mkdir()
    n = 0
    for rule in ALL_RULES:
        for ex in [*rule.invalid, *rule.valid]:
            (src / f"f{n:03}.py").write_text(ex.source)
            n += 1
    (src / "broken.py").write_text("def f(:\n")
    one = run([src], tmp_path, jobs=1, cache=False)
    many = run([src], tmp_path, jobs=3, cache=False)
    assert fingerprint(one) == fingerprint(many) and one.errors == many.errors
    assert [f.path.name for f in many.findings] == sorted(f.path.name for f in many.findings)
    small = tmp_path / "small"  # through the CLI: 12 files of 6 kB, enough for the pool
    small.mkdir()
    padding = "# " + "x" * 70 + "\n"
    for i, rule in enumerate(ALL_RULES[:12]):
        (small / f"f{i:02}.py").write_text(rule.invalid[0].source + padding * 80)
    r1 = bplint("check", "small", "--no-cache", "-j", "1", cwd=tmp_path)
    r2 = bplint("check", "small", "--no-cache", "-j", "2", cwd=tmp_path)
    assert r1.returncode == 1 and ": BP" in r1.stdout
    assert (r1.returncode, r1.stdout, r1.stderr) == (r2.returncode, r2.stdout, r2.stderr)
    bad = bplint("check", "src", "-j", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "must be at least 1" in bad.stderr


def test_progress_only_after_a_delay_and_erased():
    import io

    stream = io.StringIO()
    p = Progress(stream, delay=0.0)
    p(1, 3, Path("a.py"))
    p(3, 3, Path("c.py"))
    p.close()
    out = stream.getvalue()
    assert "[1/3] a.py" in out and "[3/3] c.py" in out and out.endswith("\r\x1b[K")
    quiet = io.StringIO()
    slow = Progress(quiet, delay=60.0)
    slow(1, 2, Path("a.py"))
    slow.close()
    assert quiet.getvalue() == ""


def test_cache_invalidated_by_a_new_importer(tmp_path):
    """model.py's forward ends in softmax; whether that is a finding there depends on a module
    that imports the model and feeds it to CrossEntropyLoss: adding that file re-lints model.py,
    and changing its loss to NLLLoss-with-log drops the finding."""
    (tmp_path / "model.py").write_text(
        textwrap.dedent(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 3)

                def forward(self, x):
                    return torch.softmax(self.fc(x), dim=1)
            """
        ).lstrip()
    )
    alone = run([tmp_path / "model.py"], tmp_path)
    assert alone.findings == []
    train = textwrap.dedent(
        """
        import torch.nn as nn
        from model import Net

        def fit(loader):
            net = Net()
            criterion = nn.CrossEntropyLoss()
            for x, y in loader:
                loss = criterion(net(x), y)
                loss.backward()
        """
    ).lstrip()
    (tmp_path / "train.py").write_text(train)
    paired = run([tmp_path / "model.py"], tmp_path)
    assert paired.cache_hits == 0
    assert [(f.code, f.start.line) for f in paired.findings] == [("BP405", 10)]
    assert "train.py:6" in paired.findings[0].message
    assert run([tmp_path / "model.py"], tmp_path).cache_hits == 1
    (tmp_path / "train.py").write_text(train.replace("nn.CrossEntropyLoss()", "nn.MSELoss()"))
    changed = run([tmp_path / "model.py"], tmp_path)
    assert (changed.cache_hits, changed.findings) == (0, [])


def test_collector_runs_less_often_while_linting_and_is_restored(tmp_path, monkeypatch):
    import gc

    import linter.run as run_mod

    (tmp_path / "a.py").write_text(
        "import numpy as np\n\n\ndef f(W, x):\n    return np.dot(W, x)\n"
    )
    seen = []
    real = run_mod.check_file

    def spy(target, fix, data=None):
        seen.append(gc.get_threshold())
        return real(target, fix, data)

    monkeypatch.setattr(run_mod, "check_file", spy)
    before = gc.get_threshold()
    lint_paths([tmp_path], ConfigResolver(tmp_path), None, RunOptions(jobs=1, cache=False))
    assert seen == [run_mod.GC_THRESHOLD]
    assert gc.get_threshold() == before != run_mod.GC_THRESHOLD


_MODEL = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=1)
"""
_TRAIN = """\
import torch.nn as nn
from model import Net


def train(loader, opt):
    net = Net()
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        opt.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        opt.step()
"""


def test_a_linted_file_and_its_sibling_look_up_share_one_parse(tmp_path, monkeypatch):
    """model.py is linted and read as train.py's sibling: one parse of each text, and the same
    findings as when nothing is shared."""
    import libcst

    from linter.analysis import siblings

    (tmp_path / "model.py").write_text(_MODEL)
    (tmp_path / "train.py").write_text(_TRAIN)
    parsed: list[str] = []
    real = libcst.parse_module

    def counting(text, *args, **kwargs):
        parsed.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(libcst, "parse_module", counting)

    def run() -> list[tuple]:
        siblings.forget_all()
        parsed.clear()
        options = RunOptions(jobs=1, cache=False)
        result = lint_paths([tmp_path], ConfigResolver(tmp_path), None, options)
        return [(f.path.name, f.code, f.start, f.message) for f in result.findings]

    shared = run()
    assert sorted(parsed) == sorted([_MODEL, _TRAIN])
    monkeypatch.setattr(siblings, "TREES_KEPT", 0)
    alone = run()
    assert parsed.count(_MODEL) >= 2  # without sharing, the sibling is parsed again
    assert shared == alone
    assert {name for name, code, *_ in shared if code == "BP405"} == {"model.py", "train.py"}


_DATA = """\
import torch


def load():
    return torch.zeros(4, 4), torch.zeros(4, dtype=torch.long)
"""
_TRAIN_WITH_HELPER = """\
import torch.nn as nn
from data import load
from model import Net
from utils.misc import helper


def train(opt):
    net = Net()
    criterion = nn.CrossEntropyLoss()
    x, y = load()
    loss = criterion(helper(net(x)), y)
    loss = criterion(net(x), y)
    loss.backward()
    opt.step()
"""


def test_one_model_per_file_and_loss_pairings_kept_across_files(tmp_path, monkeypatch):
    """Each file is analysed once per process, whether it is linted or read as a sibling. The
    loss pairings of train.py are worked out while data.py is linted (train.py imports it) and
    read again for model.py: model.py's findings, and the sibling files its cache entry depends
    on (utils/misc.py, looked at only for those pairings), are what they are when it is linted
    alone."""
    from linter.analysis import siblings

    (tmp_path / "data.py").write_text(_DATA)
    (tmp_path / "model.py").write_text(_MODEL)
    (tmp_path / "train.py").write_text(_TRAIN_WITH_HELPER)
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "misc.py").write_text("def helper(t):\n    return t\n")
    built: list[str] = []
    real = siblings.build

    def counting(module, path=None):
        built.append(Path(path).name)
        return real(module, path)

    monkeypatch.setattr(siblings, "build", counting)

    def deps(cache_dir: Path) -> dict[str, list[str]]:
        out = {}
        for entry in cache_dir.rglob("*.json"):
            found = [d for d, _ in json.loads(entry.read_text())["deps"]]
            out[entry.name] = sorted(os.path.relpath(d, tmp_path) for d in found)
        return out

    siblings.forget_all()
    alone = run([tmp_path / "model.py"], tmp_path, cache_dir=tmp_path / "c1")
    assert [f.code for f in alone.findings] == ["BP405"]
    (key, alone_deps), *_ = deps(tmp_path / "c1").items()
    assert os.path.join("utils", "misc.py") in alone_deps
    siblings.forget_all()
    built.clear()
    together = run([tmp_path], tmp_path, cache_dir=tmp_path / "c2")
    assert sorted(built) == ["data.py", "misc.py", "model.py", "train.py"]
    assert [t for t in fingerprint(together) if t[0].endswith("model.py")] == fingerprint(alone)
    together_deps = deps(tmp_path / "c2")[key]
    assert set(alone_deps) <= set(together_deps)
