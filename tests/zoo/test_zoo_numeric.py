"""The numeric side of the zoo: correct networks pass, cargo-culted mutants fail.

Every original network's own gradients match centred finite differences of its own cost;
every gradient mutant fails that same check; the mutants that are not gradient bugs fail the
probe that shows what they do break (symmetry, overflow, a less accurate gradient check).
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

from tests.zoo import harness
from tests.zoo.mutants import (
    MUTANTS,
    NUMERIC_KINDS,
    Mutant,
    apply,
    line_of,
    mutant_id,
    mutated_sources,
    original_text,
)
from tests.zoo.sources import NETWORKS_DIR, network_files, network_names, read_sources

PASS = 1e-6  # an original must agree with finite differences to this
FAIL = 1e-3  # a gradient mutant must disagree by more than this

REQUIRED_CODES = {
    "BP001", "BP002", "BP003", "BP004", "BP005", "BP006",
    "BP101", "BP102", "BP103", "BP104",
    "BP201", "BP202", "BP203", "BP204",
    "BP301", "BP302", "BP303",
    "BP501", "BP502", "BP503",
}  # fmt: skip

NAMES = network_names()
GRADIENT_MUTANTS = [m for m in MUTANTS if m.numeric_kind == "gradient"]


def _of_kind(kind: str) -> list[Mutant]:
    return [m for m in MUTANTS if m.numeric_kind == kind]


def _ids(mutants: list[Mutant]) -> list[str]:
    return [mutant_id(m) for m in mutants]


# --- the zoo itself -------------------------------------------------------------------------------


def test_zoo_has_enough_networks_and_they_are_registered() -> None:
    assert len(NAMES) >= 16
    assert set(NAMES) == set(harness.NETWORKS)


@pytest.mark.parametrize("name", NAMES)
def test_network_size_and_syntax(name: str) -> None:
    sources = read_sources(name)
    lines = sum(len(text.splitlines()) for text in sources.values())
    assert 40 <= lines <= 150, f"{name}: {lines} lines"
    imported = set()
    for text in sources.values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add((node.module or "").split(".")[0])
    assert imported <= {"numpy", "math", "random", "__future__"}, imported  # no torch, no helpers


@pytest.mark.parametrize("name", NAMES)
def test_original_passes_gradient_check(name: str) -> None:
    errors = harness.relative_errors(name)
    worst = max(errors, key=errors.__getitem__)
    assert errors[worst] < PASS, f"{name}: {worst} has relative error {errors[worst]:.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_original_gradients_are_not_vanishing(name: str) -> None:
    # the relative error treats differences below harness.ZERO as agreement; make sure no
    # check compares gradients so small that this could hide anything
    for label, _, numeric in harness.gradient_pairs(name):
        assert np.linalg.norm(numeric) > 1e-6, f"{name}: {label} is (nearly) zero"


def test_sources_override_is_used() -> None:
    # a source text that breaks the gradient must change the verdict: the harness really
    # runs the text it is given, not the file on disk
    text = read_sources("logistic_regression")["logistic_regression.py"]
    broken = text.replace("dz = a - y", "dz = 2 * (a - y)")
    assert harness.relative_error("logistic_regression", {"logistic_regression.py": broken}) > FAIL
    assert harness.relative_error("logistic_regression") < PASS


def test_package_network_resolves_relative_imports_to_the_given_text() -> None:
    activations = read_sources("pkg_net")["pkg_net/activations.py"]
    wrong = activations.replace("return s * (1.0 - s)", "return s")
    assert wrong != activations
    assert harness.relative_error("pkg_net", {"pkg_net/activations.py": wrong}) > FAIL


def test_loading_leaves_no_modules_behind() -> None:
    import sys

    before = set(sys.modules)
    harness.relative_error("pkg_net")
    assert not {m for m in set(sys.modules) - before if m.startswith("_zoo_")}


# --- the mutants as data ----------------------------------------------------------------------------


def test_every_required_rule_has_a_mutant() -> None:
    assert REQUIRED_CODES <= {m.code for m in MUTANTS}
    assert len(MUTANTS) >= 40


def test_mutants_are_distinct() -> None:
    keys = [(m.path, m.old, m.new) for m in MUTANTS]
    assert len(keys) == len(set(keys))
    assert len({mutant_id(m) for m in MUTANTS}) == len(MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=_ids(MUTANTS))
def test_mutant_is_well_formed(mutant: Mutant) -> None:
    assert mutant.path in network_files(mutant.network)
    assert original_text(mutant).count(mutant.old) == 1
    assert mutant.old != mutant.new
    mutated = apply(mutant)
    ast.parse(mutated)  # still valid Python
    line = line_of(mutant)
    if mutant.at:  # reported away from the edit (a deleted zero_grad at the step it skips)
        assert mutant.at in mutated.splitlines()[line - 1]
        assert set(mutated_sources(mutant)) == set(network_files(mutant.network))
        return
    before, after = original_text(mutant).splitlines(), mutated.splitlines()
    assert before[: line - 1] == after[: line - 1]
    assert line > len(before) or before[line - 1] != after[line - 1]
    # the reported line lies inside the replacement
    start = original_text(mutant).index(mutant.old)
    first = original_text(mutant).count("\n", 0, start) + 1
    assert first <= line <= first + mutant.new.count("\n")
    assert set(mutated_sources(mutant)) == set(network_files(mutant.network))


def test_line_of_on_a_known_mutant() -> None:
    (m,) = [m for m in MUTANTS if mutant_id(m) == "BP002-rnn_bptt-1"]
    line = apply(m).splitlines()[line_of(m) - 1]
    assert line.strip() == "dhnext = np.dot(Whh, dhraw)"


# Rules whose mutants sit in one network only: each needs a second network that has the layer
# or loop the rule is about (another RNN, batch-norm net, GAN, hand-written torch update, custom
# Function). Listed so the gap stays visible; the test fails once a rule gains its second network
# and is still listed here, as it does for a new rule with one network that is not listed.
ONE_NETWORK_SO_FAR = frozenset(
    {
        "BP009",
        "BP107",
        "BP109",
        "BP205",
        "BP304",
        "BP413",
        "BP414",
        "BP415",
        "BP416",
        "BP603",
        "BP604",
        "BP605",
        "BP606",
        "BP701",
        "BP702",
    }
)


def test_mutants_cover_two_networks_per_rule() -> None:
    networks: dict[str, set[str]] = {}
    for m in MUTANTS:
        networks.setdefault(m.code, set()).add(m.network)
    single = {k for k, v in networks.items() if len(v) < 2}
    assert single == ONE_NETWORK_SO_FAR, {
        "one network, not listed": sorted(single - ONE_NETWORK_SO_FAR),
        "listed, now in two networks": sorted(ONE_NETWORK_SO_FAR - single),
    }


# --- the mutants, numerically ------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", GRADIENT_MUTANTS, ids=_ids(GRADIENT_MUTANTS))
def test_gradient_mutant_fails_gradient_check(mutant: Mutant) -> None:
    err = harness.relative_error(mutant.network, mutated_sources(mutant))
    assert err > FAIL, f"{mutant_id(mutant)} passes the gradient check ({err:.3g})"


SYMMETRY = _of_kind("symmetry")


@pytest.mark.parametrize("mutant", SYMMETRY, ids=_ids(SYMMETRY))
def test_constant_init_keeps_hidden_units_identical(mutant: Mutant) -> None:
    assert not harness.hidden_units_identical(mutant.network)
    assert harness.hidden_units_identical(mutant.network, mutated_sources(mutant))


LARGE_LOGITS = _of_kind("large_logits")


@pytest.mark.parametrize("mutant", LARGE_LOGITS, ids=_ids(LARGE_LOGITS))
def test_softmax_numerics_mutant_overflows_where_original_is_finite(mutant: Mutant) -> None:
    assert harness.stable_on_large_logits(mutant.network)
    assert not harness.stable_on_large_logits(mutant.network, mutated_sources(mutant))


OWN_GRADCHECK = _of_kind("own_gradcheck")


@pytest.mark.parametrize("mutant", OWN_GRADCHECK, ids=_ids(OWN_GRADCHECK))
def test_one_sided_difference_is_less_accurate(mutant: Mutant) -> None:
    centred = harness.own_gradcheck_error(mutant.network)
    one_sided = harness.own_gradcheck_error(mutant.network, mutated_sources(mutant))
    assert centred < PASS
    assert one_sided > 100 * centred, (centred, one_sided)


DROPOUT_MEAN = _of_kind("dropout_mean")


@pytest.mark.parametrize("mutant", DROPOUT_MEAN, ids=_ids(DROPOUT_MEAN))
def test_dropout_mutant_moves_the_mean_training_output(mutant: Mutant) -> None:
    # inverted dropout: the mean training output is the test output, up to sampling noise
    assert harness.dropout_mean_gap(mutant.network) < 0.02
    assert harness.dropout_mean_gap(mutant.network, mutated_sources(mutant)) > 0.2


NUMERICS = [m for m in MUTANTS if m.code.startswith("BP5") and m.numeric_kind != "torch"]


@pytest.mark.parametrize("mutant", NUMERICS, ids=_ids(NUMERICS))
def test_numerics_mutants_keep_the_gradient_right_at_ordinary_scale(mutant: Mutant) -> None:
    # what they break is numerics, not calculus: at ordinary logits the gradient is still right
    assert harness.relative_error(mutant.network, mutated_sources(mutant)) < PASS


def test_numeric_kinds_are_all_exercised() -> None:
    # "torch" mutants are measured by their rules' KB numeric tests, not by the numpy harness
    kinds = {m.numeric_kind for m in MUTANTS} - {"torch"}
    assert kinds == {"gradient", *NUMERIC_KINDS.values()}
    for kind in NUMERIC_KINDS.values():
        assert set(harness.probes(kind)) >= {m.network for m in _of_kind(kind)}


def test_networks_dir_layout() -> None:
    assert (NETWORKS_DIR / "pkg_net" / "__init__.py").is_file()
    assert network_files("pkg_net")[0] == "pkg_net/__init__.py"
