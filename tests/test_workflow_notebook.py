"""Notebooks: magics masked in place, cell positions, broken cells and files, safe round trips.

nbformat is used here only to write and validate notebooks the way Jupyter does; bplint itself
reads them with the standard library.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
    new_raw_cell,
)

from linter.notebook import json_layout
from linter.source import mask_magics
from tests.cli_helpers import bplint

INVERSE = "    return (np.linalg.pinv(W2) @ delta2) * sigmoid_prime(z1)"


# --- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "masked_lines"),
    [
        ("%matplotlib inline\nimport numpy as np\n", {1}),
        ("!pip install numpy\nx = 1\n", {1}),
        ("files = !ls\nt = %timeit -o f()\n", {1, 2}),
        ("np.linalg.inv?\n?np.dot\nobj.method??\n", {1, 2, 3}),
        ("for i in range(3):\n    %time f(i)\n", {2}),
        ("!pip install \\\n    numpy \\\n    scipy\nx = 1\n", {1, 2, 3}),
        ("%%bash\necho hi\nls (\n", {1, 2, 3}),
        ("%%time\nx = f()\n", {1}),
        ("x = (a\n     % b)\n", set()),  # a continuation line, not a magic
        ("y = (a\n     != b)\n", set()),
        ('"""Why?\n%s is a format\n"""\n', set()),  # inside a string
        ("x = 1  # is this right?\n", set()),  # a comment
        ("a = 1\n", set()),
    ],
)
def test_magics_are_masked_without_moving_anything(cell, masked_lines):
    text, masked = mask_magics(cell)
    assert set(masked) == masked_lines
    assert text.count("\n") == cell.count("\n")
    for n, (before, after) in enumerate(zip(cell.splitlines(), text.splitlines(), strict=True), 1):
        if n not in masked_lines:
            assert before == after
    compile(text, "<cell>", "exec")


def test_assignment_magics_keep_the_name_bound():
    text, _ = mask_magics("files = !ls\n")
    assert text == "files = None\n"


# --- linting ---------------------------------------------------------------------------------


def notebook(tmp_path: Path, name: str = "nb.ipynb", **extra) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python", "version": "3.11"}
    nb.metadata["custom"] = {"keep": ["me", 1, None]}
    nb.cells = [
        new_markdown_cell("# Backprop by hand\n\nWhy?", attachments={}),
        new_code_cell(
            "%matplotlib inline\nimport numpy as np\n!pip list | head",
            execution_count=1,
            outputs=[new_output("stream", name="stdout", text="numpy 2.0\n")],
        ),
        new_code_cell("%%bash\necho hi\nls (", execution_count=2),
        new_code_cell(
            "def backprop(W2, delta2, z1):\n    %time x = 1\n" + INVERSE + "\nnp.linalg.inv?\n",
            execution_count=3,
            outputs=[
                new_output(
                    "display_data",
                    data={"image/png": "iVBORw0KGgoAAAANSUhEUg==", "text/plain": "<Figure>"},
                    metadata={"image/png": {"width": 400}},
                )
            ],
            metadata={"tags": ["backprop"], "collapsed": False},
        ),
        new_raw_cell("raw text, not code"),
        new_code_cell('"""Doc: why?\n%notmagic\n"""\nfiles = !ls\nW = np.ones(3)  # noqa: BP001'),
    ]
    for cell in nb.cells:
        cell.update(extra)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_findings_name_the_cell_and_the_line_inside_it(tmp_path):
    notebook(tmp_path)
    r = bplint("check", "nb.ipynb", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("nb.ipynb:cell 4:line 3:col 13: BP001 ")
    assert lines[2].startswith("nb.ipynb:cell 6:line 5:col 17: BP900 ")
    data = json.loads(bplint("check", "--output-format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    assert [(f["code"], f["cell"], f["line"], f["column"]) for f in data] == [
        ("BP001", 3, 3, 13),
        ("BP900", 5, 5, 17),
    ]


def test_imports_in_one_cell_reach_code_in_another(tmp_path):
    nb = new_notebook()
    nb.cells = [
        new_code_cell("import numpy as np"),
        new_markdown_cell("text"),
        new_code_cell("def backprop(W2, delta2, z1):\n" + INVERSE),
    ]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    r = bplint("check", "nb.ipynb", cwd=tmp_path)
    assert "nb.ipynb:cell 3:line 2:col 13: BP001" in r.stdout


def test_a_broken_cell_is_reported_and_the_others_are_linted(tmp_path):
    nb = new_notebook()
    nb.cells = [
        new_code_cell("import numpy as np"),
        new_code_cell("def broken(:\n    pass"),
        new_code_cell("def backprop(W2, delta2, z1):\n" + INVERSE),
    ]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    r = bplint("check", "nb.ipynb", cwd=tmp_path)
    assert r.returncode == 2
    assert "nb.ipynb:cell 2:line 1:col 12: error: syntax error" in r.stderr
    assert "nb.ipynb:cell 3:line 2:col 13: BP001" in r.stdout
    assert "Traceback" not in r.stderr


def test_directories_include_notebooks_and_checkpoints_are_excluded(tmp_path):
    notebook(tmp_path)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    notebook(tmp_path / ".ipynb_checkpoints", "nb-checkpoint.ipynb")
    r = bplint("check", ".", cwd=tmp_path)
    assert "nb.ipynb:cell 4" in r.stdout and "checkpoint" not in r.stdout


def test_non_python_notebooks_are_skipped(tmp_path):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.cells = [new_code_cell("library(ggplot2)\nx <- c(1, 2)  # weights")]
    nbformat.write(nb, tmp_path / "r.ipynb")
    r = bplint("check", "r.ipynb", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"cells": [', "not a valid notebook: invalid JSON"),
        (b"[1, 2]", "the top level is not a JSON object"),
        (b'{"metadata": {}}', "no list of cells"),
        (b'{"cells": [{"cell_type": "code", "source": 3}]}', "cell 1 has a source"),
        (b'{"cells": ["x"]}', "cell 1 is not a JSON object"),
        (b'{"worksheets": [], "nbformat": 3}', "nbformat 3"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
        (b'{"cells": [], "x": "\xff"}', "not valid UTF-8"),
    ],
)
def test_broken_notebooks_get_a_clear_error(tmp_path, content, fragment):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    for args in (("check",), ("check", "--fix", "--unsafe-fixes")):
        r = bplint(*args, "bad.ipynb", cwd=tmp_path)
        assert r.returncode == 2
        assert r.stderr.startswith("bad.ipynb") and fragment in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
        assert path.read_bytes() == content


def test_huge_code_cells_are_refused(tmp_path):
    nb = new_notebook()
    nb.cells = [new_code_cell("import numpy as np\n" + "x = 1\n" * 800_000)]
    nbformat.write(nb, tmp_path / "big.ipynb")
    r = bplint("check", "big.ipynb", cwd=tmp_path)
    assert r.returncode == 2 and "too large" in r.stderr


# --- fixing ----------------------------------------------------------------------------------


def _without_sources(nb: dict, cells: set[int]) -> dict:
    nb = copy.deepcopy(nb)
    for i in cells:
        del nb["cells"][i]["source"]
    return nb


def test_fixing_a_notebook_keeps_every_cell_output_and_metadata(tmp_path):
    path = notebook(tmp_path)
    before = json.loads(path.read_text())
    r = bplint("check", "--fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert "Found 2 findings (2 fixed, 0 remaining)." in r.stdout, r.stdout + r.stderr
    after = json.loads(path.read_text())
    assert _without_sources(after, {3, 5}) == _without_sources(before, {3, 5})
    assert "".join(after["cells"][3]["source"]) == "".join(before["cells"][3]["source"]).replace(
        "np.linalg.pinv(W2)", "W2.T"
    )
    assert "".join(after["cells"][5]["source"]).endswith("W = np.ones(3)")
    nbformat.validate(nbformat.read(path, as_version=4))
    # the file is still laid out exactly as Jupyter writes it
    assert path.read_text() == nbformat.writes(nbformat.read(path, as_version=4)) + "\n"
    # and a second run changes nothing
    raw = path.read_bytes()
    r = bplint("check", "--fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert r.returncode == 0 and path.read_bytes() == raw


def test_diff_on_a_notebook_names_the_cell_and_writes_nothing(tmp_path):
    path = notebook(tmp_path)
    raw = path.read_bytes()
    r = bplint("check", "--diff", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert r.returncode == 1 and path.read_bytes() == raw
    assert "--- a/nb.ipynb (cell 4)\n+++ b/nb.ipynb (cell 4)\n" in r.stdout
    assert "+    return (W2.T @ delta2) * sigmoid_prime(z1)" in r.stdout


def test_a_layout_bplint_cannot_reproduce_is_not_rewritten(tmp_path):
    path = notebook(tmp_path)
    data = json.loads(path.read_text())
    odd = json.dumps(data, indent=2, separators=(",", " : "))  # spaces before colons
    assert json_layout(data, odd) is None
    path.write_text(odd)
    r = bplint("check", "--fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert path.read_text() == odd
    assert "JSON layout" in r.stderr and r.returncode == 1
    assert "nb.ipynb:cell 4:line 3:col 13: BP001" in r.stdout


@pytest.mark.parametrize(
    "options",
    [
        {"indent": 1, "sort_keys": True, "ensure_ascii": False},
        {"indent": 2, "sort_keys": False, "ensure_ascii": True},
        {"indent": None, "sort_keys": False, "ensure_ascii": False},
    ],
)
def test_other_common_layouts_round_trip(tmp_path, options):
    path = notebook(tmp_path)
    data = json.loads(path.read_text())
    data["cells"][0]["source"] = "Ünïcode ✓ markdown"
    path.write_text(json.dumps(data, **options))
    r = bplint("check", "--fix", "--unsafe-fixes", "nb.ipynb", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    text = path.read_text()
    after = json.loads(text)
    assert _without_sources(after, {3, 5}) == _without_sources(data, {3, 5})
    assert text == json.dumps(after, **options)  # same layout as before


_SETUP = """import numpy as np


def squash(v):
    return 1.0 / (1.0 + np.exp(-v))


def slope(s):
    return s * (1 - s)


A = np.random.randn(6, 3)
B = np.random.randn(2, 6)
inp = np.random.randn(3, 5)
out = np.random.randn(2, 5)
"""
_REDEFINED = """def slope(v):
    s = squash(v)
    return s * (1 - s)
"""


def _loop(arg: str) -> str:
    return (
        "for step in range(50):\n"
        "    pre = A @ inp\n"
        "    h = squash(pre)\n"
        "    e = B @ h - out\n"
        f"    d = (B.T @ e) * slope({arg})\n"
        "    B -= 0.1 * e @ h.T\n"
        "    A -= 0.1 * d @ inp.T\n"
    )


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("h", "pre", []),  # each cell calls the slope defined before it: right both times
        ("pre", "pre", [("BP101", 1)]),  # the first slope wants the activation
        ("h", "h", [("BP101", 3)]),  # the redefined slope applies the sigmoid itself
    ],
)
def test_a_later_cell_redefining_a_helper_does_not_change_an_earlier_cell(
    tmp_path: Path, first: str, second: str, expected: list[tuple[str, int]]
) -> None:
    """Cells run in order: a call reads the definition made before it, not the module's last
    one (issue 8: notebook cells are flow-sensitive). The same holds for a plain script."""
    nb = new_notebook()
    nb.cells = [new_code_cell(c) for c in (_SETUP, _loop(first), _REDEFINED, _loop(second))]
    nbformat.write(nb, tmp_path / "cells.ipynb")
    data = json.loads(
        bplint(
            "check", "--output-format", "json", "--exit-zero", "cells.ipynb", cwd=tmp_path
        ).stdout
    )
    assert [(f["code"], f["cell"]) for f in data] == expected
    script = "\n\n".join([_SETUP, _loop(first), _REDEFINED, _loop(second)])
    (tmp_path / "script.py").write_text(script)
    data = json.loads(
        bplint("check", "--output-format", "json", "--exit-zero", "script.py", cwd=tmp_path).stdout
    )
    assert len(data) == len(expected)
