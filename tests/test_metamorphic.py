"""Metamorphic tests: a finding must not depend on what values are called or how code is spelled.

Generated from every rule's examples and every zoo network and mutant, so they cannot be tuned
case by case:

- renaming: consistently renaming locals, parameters, data attributes and constant dict keys
  (``tests/metamorphic.py``) keeps every INVALID example and zoo mutant flagged at its line and
  every VALID example and zoo original clean;
- respelling: ``np.dot(a, b)`` -> ``a @ b`` and ``x.T`` -> ``np.transpose(x)`` changes nothing;
- structure: the same code cut into notebook cells, or with its top-level functions moved into
  a class as methods (``f(x)`` -> ``self.f(x)``), gives the same findings at the same lines.

Determinism under ``PYTHONHASHSEED`` is tested in ``test_robust.py``.

What the analysis still learns only from a name is listed below (measured with this module);
each entry is a strict xfail, so making one structural fails the test until it is removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from linter.engine import lint_source
from linter.notebook import lint_notebook, load_notebook
from linter.rules import ALL_RULES

from .metamorphic import alpha_rename, as_cells, as_methods, notebook_bytes, respell
from .zoo.lint_score import default_rules, lint_sources
from .zoo.mutants import MUTANTS, line_of, mutant_id, mutated_sources
from .zoo.sources import NETWORKS_DIR, network_names, read_sources
from .zoo.test_zoo_lint import KNOWN_MISSES

# INVALID examples whose finding still rests on a name (a gradient called ``dW``, a bias
# gradient called ``db``, a learning rate with no value in sight, ...): the snippet alone
# carries no structural evidence (no forward pass, no update, no caller).
NAME_ONLY_EXAMPLES = frozenset(
    {
        *(f"BP001-invalid-{i}" for i in (1, 6)),
        *(f"BP003-invalid-{i}" for i in (3, 5)),
        *(f"BP004-invalid-{i}" for i in (0, 4, 6)),
        *(f"BP005-invalid-{i}" for i in (1, 2, 3)),
        *(f"BP103-invalid-{i}" for i in (0,)),
        *(f"BP104-invalid-{i}" for i in (1, 2, 4, 5, 7)),
    }
)

# Zoo mutants whose finding still rests on a name, measured the same way. Mutants the rules
# miss even as written (the zoo's KNOWN_MISSES) are expected to fail renamed too, for that reason.
NAME_ONLY_MUTANTS = frozenset(
    {
        "BP005-rowmajor_mlp-1",
    }
)

RULES = [r for r in ALL_RULES if not r.meta]


def _lines(rule, source: str) -> list[int]:
    return sorted({f.start.line for f in lint_source(source, Path("example.py"), [rule]).findings})


def _invalid_cases():
    for rule in RULES:
        for i, ex in enumerate(rule.invalid):
            case_id = f"{rule.code}-invalid-{i}"
            marks = (
                [pytest.mark.xfail(strict=True, reason="the finding still rests on a name")]
                if case_id in NAME_ONLY_EXAMPLES
                else []
            )
            yield pytest.param(rule, ex, id=case_id, marks=marks)


def _valid_cases():
    for rule in RULES:
        for i, ex in enumerate(rule.valid):
            yield pytest.param(rule, ex, id=f"{rule.code}-valid-{i}")


@pytest.mark.parametrize(("rule", "example"), list(_invalid_cases()))
def test_renamed_invalid_example_keeps_its_finding(rule, example):
    want = sorted({line for line, _ in example.expect})
    assert _lines(rule, alpha_rename(example.source)) == want


@pytest.mark.parametrize(("rule", "example"), list(_valid_cases()))
def test_renamed_valid_example_stays_clean(rule, example):
    assert _lines(rule, alpha_rename(example.source)) == []


def _all_cases():
    for rule in RULES:
        for kind, examples in (("valid", rule.valid), ("invalid", rule.invalid)):
            for i, ex in enumerate(examples):
                yield pytest.param(rule, ex, id=f"{rule.code}-{kind}-{i}")


@pytest.mark.parametrize(("rule", "example"), list(_all_cases()))
def test_respelled_example_gives_the_same_lines(rule, example):
    assert _lines(rule, respell(example.source)) == _lines(rule, example.source)


def test_renaming_is_a_real_rename():
    """The rewrite must change names (or the tests above prove nothing) and keep lines."""
    changed = 0
    for rule in RULES:
        for ex in (*rule.valid, *rule.invalid):
            renamed = alpha_rename(ex.source)
            assert renamed.count("\n") == ex.source.count("\n")
            changed += renamed != ex.source
    total = sum(len(r.valid) + len(r.invalid) for r in RULES)
    assert changed >= 0.9 * total


def test_renaming_keeps_library_attributes():
    """``x.flat[...] = v`` assigns through an ndarray's attribute: it is the library's name, kept
    like an imported one; the user's own attributes are renamed."""
    source = (
        "import numpy as np\n"
        "def bump(x, i, h):\n"
        "    x.flat[i] += h\n"
        "    x.real[0] = 0\n"
        "    x.store = h\n"
        "    return x.store\n"
    )
    renamed = alpha_rename(source)
    assert ".flat[" in renamed and ".real[0]" in renamed
    assert ".store" not in renamed


ZOO_RULES = default_rules()


def _renamed(sources: dict[str, str]) -> dict[str, str]:
    return {rel: alpha_rename(text) for rel, text in sources.items()}


@pytest.mark.parametrize("name", network_names())
def test_renamed_zoo_original_stays_clean(name):
    found = lint_sources(_renamed(read_sources(name)), ZOO_RULES)
    assert [(str(f.path), f.start.line, f.code) for f in found] == []


def _mutant_cases():
    for m in MUTANTS:
        marks = (
            [pytest.mark.xfail(strict=True, reason="the finding still rests on a name")]
            if mutant_id(m) in NAME_ONLY_MUTANTS
            else [pytest.mark.xfail(strict=True, reason=f"missed as written: {why}")]
            if (why := KNOWN_MISSES.get(mutant_id(m)))
            else []
        )
        yield pytest.param(m, id=mutant_id(m), marks=marks)


@pytest.mark.parametrize("mutant", list(_mutant_cases()))
def test_renamed_zoo_mutant_keeps_its_finding(mutant):
    found = lint_sources(_renamed(mutated_sources(mutant)), ZOO_RULES)
    assert any(
        f.code == mutant.code and str(f.path) == mutant.path and f.start.line == line_of(mutant)
        for f in found
    )


# Examples whose finding is lost when their functions become methods of a class: the analysis
# follows a function but not the same code as a method (measured with ``as_methods``).
METHOD_FORM_GAPS = frozenset(
    {
        "BP411-invalid-8",  # an eval() missing in a method called on a fresh instance
        "BP501-invalid-12",  # ``np.apply_along_axis(self.exp_row, ...)``
    }
)


def _cell_lines(rules, source: str, path: Path) -> list[tuple[str, int]]:
    """Findings on ``source`` linted as a notebook of its top-level statements, mapped back to
    the source's lines."""
    cells = as_cells(source)
    report, errors = lint_notebook(load_notebook(path, notebook_bytes(cells)), rules)
    assert errors == []
    firsts = [first for first, _ in cells]
    return sorted({(f.code, firsts[f.cell] + f.start.line - 1) for f in report.findings})


def _plain(rules, source: str, path: Path) -> list[tuple[str, int]]:
    return sorted({(f.code, f.start.line) for f in lint_source(source, path, rules).findings})


@pytest.mark.parametrize(("rule", "example"), list(_all_cases()))
def test_example_as_notebook_cells_gives_the_same_lines(rule, example):
    plain = _plain([rule], example.source, Path("example.py"))
    assert _cell_lines([rule], example.source, Path("example.ipynb")) == plain


def _method_cases():
    for rule in RULES:
        for kind, examples in (("valid", rule.valid), ("invalid", rule.invalid)):
            for i, ex in enumerate(examples):
                if as_methods(ex.source) is None:
                    continue
                case_id = f"{rule.code}-{kind}-{i}"
                marks = (
                    [pytest.mark.xfail(strict=True, reason="lost when written as methods")]
                    if case_id in METHOD_FORM_GAPS
                    else []
                )
                yield pytest.param(rule, ex, id=case_id, marks=marks)


@pytest.mark.parametrize(("rule", "example"), list(_method_cases()))
def test_example_as_methods_gives_the_same_lines(rule, example):
    text, at = as_methods(example.source)
    plain = _plain([rule], example.source, Path("example.py"))
    assert _plain([rule], text, Path("example.py")) == [
        (code, line + (line >= at)) for code, line in plain
    ]


def test_the_structural_rewrites_apply_widely():
    """Enough examples take each form for the tests above to mean something."""
    examples = [ex for rule in RULES for ex in (*rule.valid, *rule.invalid)]
    methods = sum(as_methods(ex.source) is not None for ex in examples)
    assert methods >= 0.4 * len(examples)
    assert sum(len(as_cells(ex.source)) > 1 for ex in examples) >= 0.5 * len(examples)


def _single_file_cases():
    for name in network_names():
        sources = read_sources(name)
        if len(sources) == 1:
            yield pytest.param(name, sources, id=name)
    for m in MUTANTS:
        sources = mutated_sources(m)
        if len(sources) == 1:
            yield pytest.param(mutant_id(m), sources, id=mutant_id(m))


@pytest.mark.parametrize(("name", "sources"), list(_single_file_cases()))
def test_zoo_as_notebook_and_as_methods_gives_the_same_findings(name, sources):
    ((rel, text),) = sources.items()
    path = NETWORKS_DIR / rel
    plain = _plain(ZOO_RULES, text, path)
    assert _cell_lines(ZOO_RULES, text, path.with_suffix(".ipynb")) == plain
    moved = as_methods(text)
    if moved is not None:
        text, at = moved
        assert _plain(ZOO_RULES, text, path) == [(c, ln + (ln >= at)) for c, ln in plain]
