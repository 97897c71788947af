"""No crash, no hang, no silent skip: reading source (PEP 263, Python 2, IPython syntax), syntax
errors CPython would report, very deep or long code, and literals of every spelling."""

from __future__ import annotations

import codecs
import json
import textwrap
from pathlib import Path

import pytest

from linter.analysis.exprs import int_value, number_value, string_value
from linter.config import ConfigResolver
from linter.discovery import discover
from linter.engine import lint_source
from linter.rules import ALL_RULES
from linter.run import check_file
from linter.source import SourceError, decode_source, prepare, python2_to_3
from tests.cli_helpers import bplint

INVERSE = textwrap.dedent(
    """\
    import numpy as np

    def backprop(W2, delta2, z1):
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)
    """
)  # BP001 at 4:13


def _lint(text: str) -> list[tuple[str, int, int]]:
    report = lint_source(text, Path("t.py"), ALL_RULES)
    return [(f.code, f.start.line, f.start.column) for f in report.findings]


def _outcome(path: Path):
    found = discover([path], ConfigResolver(path.parent))
    return check_file(found.targets[0], None)


# --- literals and keys the analysis once crashed on --------------------------------------------

LITERALS = ["0x10", "0o17", "0b101", "1_000", "0x_ff", "3j", "1e999", "1.5e-3", "10**400", "0"]


@pytest.mark.parametrize("lit", LITERALS)
def test_every_literal_spelling_is_analysed(lit: str) -> None:
    src = textwrap.dedent(
        f"""\
        import numpy as np

        class Layer:
            def __init__(self, n):
                self.W = np.ones((n, n)) * {lit}
                self.b = np.zeros(n) + {lit}
                self.cache = {{}}

            def forward(self, x):
                self.cache[b"x"] = x
                self.cache[{lit}] = x
                return np.dot(self.W, x).swapaxes({lit}, 1) + float({lit!r})

            def backward(self, delta):
                x = self.cache[b"x"]
                self.W -= {lit} * np.dot(delta, x.T)
                return np.dot(self.W.T, delta) * -{lit}
        """
    )
    _lint(src)  # raises on an internal error
    assert _lint(src + INVERSE.replace("import numpy as np\n", "")) != []


def test_literal_values() -> None:
    import libcst as cst

    def e(s: str) -> cst.BaseExpression:
        return cst.parse_expression(s)

    assert [int_value(e(s)) for s in ("0x10", "0o17", "0b101", "1_000", "-0x_ff")] == [
        16,
        15,
        5,
        1000,
        -255,
    ]
    assert number_value(e("1e999")) == float("inf")
    assert number_value(e("- - 0x10")) == 16.0
    assert number_value(e("3j")) is None
    assert number_value(e("10" * 200)) is None  # too large for a float
    assert string_value(e("b'x'")) is None
    assert string_value(e("'W1'")) == "W1"


def test_notebook_metadata_of_any_type(tmp_path: Path) -> None:
    for meta in ("a string", {"kernelspec": "python3", "language_info": ["python"]}, None):
        nb = {
            "cells": [{"cell_type": "code", "metadata": "x", "source": INVERSE, "outputs": []}],
            "metadata": meta,
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = tmp_path / "n.ipynb"
        path.write_text(json.dumps(nb))
        out = _outcome(path)
        assert out.errors == []
        assert [f.code for f in out.findings] == ["BP001"]


# --- PEP 263 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "word"), [("latin-1", "café"), ("koi8-r", "привет"), ("cp1252", "€uro")]
)
def test_coding_cookie_is_honoured(tmp_path: Path, encoding: str, word: str) -> None:
    text = f"# -*- coding: {encoding} -*-\n# {word}\n" + INVERSE
    path = tmp_path / "enc.py"
    path.write_bytes(text.encode(encoding))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the case: not UTF-8 at all
    src = decode_source(path.read_bytes())
    assert (src.text, codecs.lookup(src.encoding).name, src.bom) == (
        text,
        codecs.lookup(encoding).name,
        False,
    )
    assert src.encode(src.text) == path.read_bytes()
    out = _outcome(path)
    assert out.errors == []
    assert [(f.code, f.start.line) for f in out.findings] == [("BP001", 6)]


def test_fix_writes_back_in_the_files_encoding(tmp_path: Path) -> None:
    path = tmp_path / "enc.py"
    text = "# coding: latin-1\nimport numpy as np\nx = 'café'  # noqa: BP001\n"
    path.write_bytes(text.encode("latin-1"))
    res = bplint("check", "--fix", "enc.py", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert path.read_bytes() == "# coding: latin-1\nimport numpy as np\nx = 'café'\n".encode(
        "latin-1"
    )


def test_bom_and_bad_cookie(tmp_path: Path) -> None:
    src = decode_source(b"\xef\xbb\xbfimport numpy as np\n")
    assert (src.text, src.bom) == ("import numpy as np\n", True)
    assert src.encode(src.text) == b"\xef\xbb\xbfimport numpy as np\n"
    with pytest.raises(SourceError, match="encoding"):
        decode_source(b"# coding: no-such-codec\nx = 1\n")
    with pytest.raises(SourceError, match=r"not valid UTF-8 \(byte 5, line 2\)"):
        decode_source(b"x=1\n#\xe9\n")


# --- syntax CPython rejects, and code it accepts however deep --------------------------------


def test_deep_nesting_is_a_syntax_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text("import numpy as np\nx = " + "(" * 1500 + ")" * 1500 + "\n")
    (tmp_path / "lists.py").write_text("import numpy as np\nx = " + "[" * 3000 + "]" * 3000 + "\n")
    (tmp_path / "ok.py").write_text(INVERSE)
    res = bplint("check", ".", cwd=tmp_path)
    assert res.returncode == 2, res.stderr  # not 139 (segfault), and ok.py still linted
    errors = res.stderr.strip().splitlines()
    assert errors == [
        "deep.py:2:205: error: syntax error: too many nested parentheses",
        "lists.py:2:205: error: syntax error: too many nested parentheses",
    ]
    assert "ok.py:4:13: BP001" in res.stdout


def test_syntax_error_in_a_file_the_prefilter_skips(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("def f(:\n    pass\n")  # no numpy: pre-filter skips it
    res = bplint("check", "plain.py", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == "plain.py:1:7: error: syntax error: invalid syntax"
    assert "All checks passed" not in res.stdout


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_attribute_set_from_a_parameter_named_cls() -> None:
    """``self.cls = cls`` in ``__init__``, dispatched on by a derivative helper: the helper's
    constant reading once looked ``cls`` up among the parameters it had just dropped."""
    text = textwrap.dedent(
        """\
        import numpy as np

        class Reader:
            def __init__(self, cls):
                self.cls = cls

            def sigmoid_prime(self, z):
                if self.cls == "a":
                    return z * (1 - z)
                return z

        def backward(r, z, g):
            return g * r.sigmoid_prime(z)
        """
    )
    assert _lint(text + INVERSE) == [("BP001", 17, 13)]


def test_long_chains_are_linted(tmp_path: Path) -> None:
    """Depth CPython accepts is not an error: libcst recurses per level, so bplint lints on a
    deep stack."""
    concat = "import numpy as np\ns = " + " + ".join(f"'p{i}'" for i in range(400)) + "\n"
    elifs = "import numpy as np\ndef f(x):\n    if x == 0:\n        return 0\n" + "".join(
        f"    elif x == {i}:\n        return {i}\n" for i in range(1, 400)
    )
    calls = "import numpy as np\ny = " + "np.tanh(" * 180 + "x" + ")" * 180 + "\n"
    for name, text in (("concat.py", concat), ("elif.py", elifs), ("calls.py", calls)):
        out = _outcome(_write(tmp_path, name, text + INVERSE))
        assert out.errors == [], name
        assert [f.code for f in out.findings] == ["BP001"], name


def test_notebook_with_500_cells(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": f"x{i} = np.dot(a, b)\n"}
        for i in range(500)
    ]
    cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "source": INVERSE})
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4}))
    out = _outcome(path)
    assert out.errors == []
    assert [(f.code, f.cell) for f in out.findings] == [("BP001", 500)]


def test_recursion_and_memory_errors_stay_in_their_file(tmp_path: Path, monkeypatch) -> None:
    import linter.engine

    def boom(prep, path, rules, original=None):
        raise MemoryError if path.name == "a.py" else RecursionError

    monkeypatch.setattr(linter.engine, "lint_prepared", boom)
    for name in ("a.py", "b.py"):
        out = _outcome(_write(tmp_path, name, INVERSE))
        what = "too large" if name == "a.py" else "too deeply nested"
        assert [e.message for e in out.errors] == [f"code {what} to analyse"]


# --- Python 2 -------------------------------------------------------------------------------

PY2 = textwrap.dedent(
    """\
    import numpy as np
    print "training"

    def backprop(W2, delta2, z1):
        try:
            print >>log, `delta2`, 0777L
        except ValueError, e:
            raise RuntimeError, "bad: %s" % e
        if W2.ndim <> 2: exec "pass"
        return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1), ur'x'
    """
)


def test_python2_rewrite_keeps_lines_and_columns() -> None:
    new, shifts = python2_to_3(PY2)  # type: ignore[misc]
    assert new.splitlines() == [
        "import numpy as np",
        'print("training")',
        "",
        "def backprop(W2, delta2, z1):",
        "    try:",
        "        print(  log, (delta2), 511  )",
        "    except ValueError as e:",
        '        raise RuntimeError( "bad: %s" % e)',
        '    if W2.ndim != 2: exec("pass")',
        "    return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1),  r'x'",
    ]
    assert set(shifts) == {2, 6, 7, 8, 9}  # the lines whose length changed
    prep = prepare(PY2)
    assert prep.python2
    assert (
        prep.column(7, len("    except ValueError as e") + 1) == len("    except ValueError, e") + 1
    )
    assert prep.column(9, 1) == 1


def test_python2_tuple_parameters_are_read() -> None:
    text = textwrap.dedent(
        """\
        def h((a, b), c=(3, 4)):
            return sorted(a.items(), key=lambda (k, v): -v), lambda ((x, y), z), w=(1, 2): x
        print h
        """
    )
    new, shifts = python2_to_3(text)  # type: ignore[misc]
    assert new.splitlines()[:2] == [
        "def h( a, b , c=(3, 4)):",
        "    return sorted(a.items(), key=lambda  k, v : -v), lambda   x, y , z , w=(1, 2): x",
    ]
    assert set(shifts) == {3}  # blanked parentheses keep every column
    assert prepare(text).python2


def test_python2_bare_tuple_after_a_list_comprehensions_in_is_parenthesised() -> None:
    text = textwrap.dedent(
        """\
        checks = [x() for x in lambda: True, lambda: False if x()]
        pairs = [(i, j) for i in 1, 2 for j in 3,4,]
        kept = [a in b, c in d], [e for e in f(g, h)]
        print checks
        """
    )
    new, shifts = python2_to_3(text)  # type: ignore[misc]
    assert new.splitlines()[:3] == [
        "checks = [x() for x in(lambda: True, lambda: False)if x()]",
        "pairs = [(i, j) for i in(1, 2)for j in(3,4,)]",
        "kept = [a in b, c in d], [e for e in f(g, h)]",
    ]
    assert set(shifts) == {2, 4}  # a space became each parenthesis except before `]`
    prep = prepare(text)
    assert prep.python2 and prep.column(
        2, len("pairs = [(i, j) for i in(1, 2)for j in(3,4,)]")
    ) == (len("pairs = [(i, j) for i in 1, 2 for j in 3,4,]"))


def test_python2_print_of_a_list_and_of_a_multiline_string() -> None:
    text = 'def show(out):\n    print [round(p, 2) for p in\n           out]\n    print """.@.\n..@"""\n'
    new, _ = python2_to_3(text)  # type: ignore[misc]
    assert new.splitlines() == [
        "def show(out):",
        "    print([round(p, 2) for p in",
        "           out])",
        '    print(""".@.',
        '..@""")',
    ]
    assert prepare(text).python2


def test_python2_file_is_read_with_a_note_and_no_fix(tmp_path: Path) -> None:
    path = _write(tmp_path, "old.py", PY2)
    res = bplint("check", "old.py", "--output-format", "json", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    found = json.loads(res.stdout)
    assert [(f["code"], f["line"], f["column"], f["fix"]) for f in found] == [
        ("BP001", 10, 13, None)
    ]
    assert res.stderr.splitlines() == [
        "old.py: note: read as Python 2 (rewritten in place to Python 3 for linting; no fixes)"
    ]
    res = bplint("check", "old.py", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert res.returncode == 1
    assert path.read_text() == PY2


def test_not_python_at_all_reports_python3s_error() -> None:
    with pytest.raises(SourceError, match="syntax error") as info:
        prepare("import numpy as np\nprint x y z\n")
    assert info.value.line == 2


def test_valid_python3_is_never_rewritten() -> None:
    text = "print(x)\nexec('1')\nx = 0o777\n"
    assert prepare(text).text == text


# --- IPython syntax in .py files ------------------------------------------------------------


def test_magics_in_a_percent_script(tmp_path: Path) -> None:
    text = "# %%\n%matplotlib inline\n!pip install numpy\nfiles = !ls\n" + INVERSE
    prep = prepare(text)
    assert prep.masked == frozenset({2, 3, 4}) and not prep.python2
    path = _write(tmp_path, "script.py", text)
    out = _outcome(path)
    assert out.errors == []
    assert [(f.code, f.start.line, f.start.column) for f in out.findings] == [("BP001", 8, 13)]


# --- determinism ------------------------------------------------------------------------------

_ZOO_DIGEST = """\
from linter.rules import ALL_RULES
from tests.zoo.lint_score import lint_sources
from tests.zoo.mutants import MUTANTS, mutant_id, mutated_sources
from tests.zoo.sources import network_names, read_sources

runs = [(n, read_sources(n)) for n in network_names()]
runs += [(mutant_id(m), mutated_sources(m)) for m in MUTANTS]
for name, sources in runs:
    for f in lint_sources(sources, ALL_RULES):
        print(name, f.path, f.code, f.start.line, f.start.column, f.message, bool(f.fix))
        for e in f.evidence:
            print("   ", e.start.line, e.start.column, e.message)
"""


def test_same_findings_under_any_hash_seed() -> None:
    """Every zoo network and mutant, linted under three hash seeds: the same findings with the
    same evidence, in the same order (BP005 once memoised on id() of nodes built on the fly,
    and its answers moved with the seed)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ZOO_DIGEST],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for seed in ("0", "1", "4242")
    ]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs[0][1][-2000:]
    assert outs[0][0].count("\n") > 50  # the mutants are flagged: there is something to compare
    assert outs[1][0] == outs[0][0]
    assert outs[2][0] == outs[0][0]


def test_valid_python_libcst_cannot_read_is_named_so(tmp_path: Path) -> None:
    """CPython accepts a parenthesised annotation target, libcst does not (the stdlib's
    test_grammar.py): the file is an error, not linted, and not called a syntax error, at the
    line libcst's message names (its own position is a line late)."""
    path = tmp_path / "ann.py"
    path.write_text("import numpy as np\n\n\ndef f(x):\n    (y): int\n    return np.dot(x, x)\n")
    r = bplint("check", "--no-cache", "ann.py", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith(
        "ann.py:5:1: error: not analysed: valid Python that bplint's parser (libcst) cannot read"
    ), r.stderr
    assert "syntax error" not in r.stderr


# --- libcst's node checks ---------------------------------------------------------------------


def _every_source() -> list[str]:
    from tests.zoo.sources import network_names, read_sources

    texts = [ex.source for rule in ALL_RULES for ex in (*rule.valid, *rule.invalid)]
    texts += [t for n in network_names() for t in read_sources(n).values()]
    return texts


def test_parse_builds_the_tree_libcst_builds() -> None:
    """``source.parse`` skips libcst's per-node checks while the parser builds the tree: the
    tree is the one ``libcst.parse_module`` gives (every rule example and zoo file)."""
    import libcst as cst

    from linter.source import parse

    texts = _every_source()
    assert len(texts) > 300
    for text in texts:
        mine, theirs = parse(text), cst.parse_module(text)
        assert mine.deep_equals(theirs)
        assert mine.code == theirs.code


def test_parse_skips_the_node_checks_and_restores_them(monkeypatch) -> None:
    import libcst as cst

    from linter.source import parse

    def refuse(self: object) -> None:
        raise cst.CSTValidationError("checked")

    monkeypatch.setattr(cst.Name, "_validate", refuse)
    assert parse("x = y + 1\n").code == "x = y + 1\n"  # no Name was checked
    with pytest.raises(cst.CSTValidationError):
        cst.Name("x")  # a node built outside a parse is checked, as libcst does
    with pytest.raises(cst.CSTValidationError):
        cst.parse_module("x = 1\n")  # and so is libcst's own parse
