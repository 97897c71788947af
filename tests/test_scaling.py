"""The analysis does work proportional to the code, not to a power of it (counted, not timed).

``tests/benchmark_scale.py`` times the same inputs at full size (a 100,000-line function, a
1,000-link chain) and prints the figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from linter.analysis import coupling, derivatives, layers
from linter.analysis.collect import Collector
from linter.analysis.model import ModuleModel
from linter.analysis.treewalk import code_positions
from linter.engine import lint_source
from linter.rules import ALL_RULES
from linter.source import parse
from tests.benchmark_scale import big_module, chain, long_function

COUNTED = (
    (ModuleModel, "_binding_value_roles"),  # a binding's value read for a name's roles
    (ModuleModel, "_name_key"),  # a name's bindings read for its weight key
    (ModuleModel, "value_sources"),  # a name's bindings listed for its values
    (layers, "_pre_activation"),  # a value followed back to the activation that made it
    (ModuleModel, "_activation_kind"),  # a value followed back to its activation's kind
    (derivatives, "_activation_origin"),  # ... to the expression that computed it
    (coupling, "_coupled_output"),  # ... to a softmax or a normalised vector
)


def _counts(monkeypatch: pytest.MonkeyPatch, text: str) -> Counter[str]:
    calls: Counter[str] = Counter()
    for owner, name in COUNTED:
        real = getattr(owner, name)

        def counted(*args: object, _real=real, _name=name) -> object:
            calls[_name] += 1
            return _real(*args)

        monkeypatch.setattr(owner, name, counted)
    lint_source(text, Path("scale.py"), ALL_RULES)
    monkeypatch.undo()
    return calls


def _assert_linear(small: Counter[str], large: Counter[str], factor: int) -> None:
    for _, name in COUNTED:
        # ``factor`` times the code: at most ~``factor`` times the work (factor^2 if quadratic)
        assert large[name] <= 1.3 * factor * max(small[name], 1), (name, small, large)


def test_a_self_referential_chain_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """``delta = np.dot(W.T, delta) * 0.5`` n times: every binding of ``delta`` reads ``delta``.
    Each binding's value is read once (its own uses of ``delta`` cut short) and kept, so a
    question about any link costs what that link holds, not the chain (it was n^3 once:
    92,840 binding reads at 20 lines; then n^2: 3,382 at 20, 13,162 at 40; now 182 and 362)."""
    small = _counts(monkeypatch, chain(20))
    large = _counts(monkeypatch, chain(40))
    assert small["_binding_value_roles"] > 20  # the chain is really read
    # doubling the chain: x2 for linear work, x4 for quadratic
    assert large["_binding_value_roles"] / small["_binding_value_roles"] < 2.5, (small, large)


def test_a_long_function_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """One function with 30 weights, each rebound many times: each name's bindings are read
    once per name, not once per use (following a name back to its activation was once per
    use: 296 calls at 600 lines, 3,836 at 2,400; now 87 and 287)."""
    small = _counts(monkeypatch, long_function(600))
    large = _counts(monkeypatch, long_function(2400))
    assert small["_pre_activation"] >= 100 and small["_name_key"] >= 30, small
    assert small["_activation_kind"] >= 30 and small["_coupled_output"] >= 10, small
    _assert_linear(small, large, 4)


def test_a_big_module_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    small = _counts(monkeypatch, big_module(20_000))
    large = _counts(monkeypatch, big_module(80_000))
    assert small["_binding_value_roles"] >= 100, small
    _assert_linear(small, large, 4)


def test_the_chain_keeps_its_findings() -> None:
    """Reading a name once changes no answer: a chain in a backward pass that drops the
    transpose is still found at every link, and a correct chain at none."""
    body = "    delta = np.dot(W, delta) * 0.5\n" * 30
    text = (
        "import numpy as np\n\n\ndef train(X, W, lr):\n    a = np.tanh(W @ X)\n"
        f"    delta = a - X\n{body}    W -= lr * np.dot(delta, a.T)\n    return W\n"
    )
    flagged = lint_source(text, Path("chain.py"), ALL_RULES).findings
    correct = lint_source(chain(30), Path("chain.py"), ALL_RULES).findings
    assert correct == []
    assert {f.start.line for f in flagged if f.code == "BP002"} == set(range(7, 37))


def test_positions_are_libcsts() -> None:
    """``code_positions`` (the provider's pass alone) gives what ``MetadataWrapper.resolve``
    gives, node for node."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    module = parse(big_module(5_000) + "x = [\n    1,\n    (2 +\n     3)]  # tail\n")
    ours = code_positions(module)
    theirs = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    assert dict(ours) == dict(theirs)


def _scanned(monkeypatch: pytest.MonkeyPatch, text: str) -> Counter[str]:
    """How many scopes are read off the module's scope list, how many functions off its
    per-name function lists, and how many stores ``_stores_of`` yields, in one lint."""
    seen: Counter[str] = Counter()

    class Scopes(list):
        def __iter__(self):  # type: ignore[override]
            for s in list.__iter__(self):
                seen["scopes"] += 1
                yield s

    class Functions(dict):
        def get(self, key, default=None):  # type: ignore[override]
            found = dict.get(self, key, default)
            seen["functions"] += len(found or ())
            return found

    real_init, real_stores = Collector.__init__, ModuleModel._stores_of

    def init(self: Collector) -> None:
        real_init(self)
        self.scopes = Scopes()
        self.functions = Functions()

    def stores(self: ModuleModel, *args: object, **kwargs: object) -> Iterator[object]:
        for found in real_stores(self, *args, **kwargs):
            seen["stores"] += 1
            yield found

    monkeypatch.setattr(Collector, "__init__", init)
    monkeypatch.setattr(ModuleModel, "_stores_of", stores)
    lint_source(text, Path("scale.py"), ALL_RULES)
    monkeypatch.undo()
    return seen


def test_questions_about_one_class_do_not_scan_every_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A module of many layer classes: the scope a binding lives in, a class's methods, a
    method of a class's chain and the one class that sets an attribute are looked up in
    indexes built once, not found by reading every scope or every method of that name per
    question (quadratic in the classes: 18,982 scopes and 9,836 methods read at 20 kB,
    251,528 and 149,226 at 80 kB; now 3,298 and 268, 12,886 and 1,050)."""
    small = _scanned(monkeypatch, big_module(20_000))
    large = _scanned(monkeypatch, big_module(80_000))
    assert small["scopes"] >= 100, small  # the scope list is really read
    for what in ("scopes", "functions"):
        assert large[what] <= 1.3 * 4 * max(small[what], 1), (what, small, large)


def test_updates_by_one_gradient_list_its_stores_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``W0 -= lr * g0`` repeated through a long function: the stores of ``g0`` are the same
    for every such update, so they are listed once per name and scope, not once per update
    (every update listing every binding of its gradient was quadratic in the function: 340
    stores at 600 lines, 5,340 at 2,400; now 100 and 400)."""
    small = _scanned(monkeypatch, long_function(600))
    large = _scanned(monkeypatch, long_function(2400))
    assert small["stores"] >= 30, small
    assert large["stores"] <= 1.3 * 4 * small["stores"], (small, large)


def _bindings_read(monkeypatch: pytest.MonkeyPatch, text: str) -> int:
    """How many bindings ``value_sources`` and ``value_before`` read off the scopes' binding
    lists (in a lint of ``text``)."""
    read = [0]
    inside = [0]

    class Bindings(list):
        def __iter__(self):  # type: ignore[override]
            for b in list.__iter__(self):
                read[0] += inside[0] > 0
                yield b

    real_init = ModuleModel.__init__

    def init(self: ModuleModel, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        for sc in self.c.scopes:
            for key, found in sc.bindings.items():
                sc.bindings[key] = Bindings(found)

    def counted(real: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object, **kwargs: object) -> object:
            inside[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                inside[0] -= 1

        return run

    monkeypatch.setattr(ModuleModel, "__init__", init)
    monkeypatch.setattr(ModuleModel, "value_sources", counted(ModuleModel.value_sources))
    monkeypatch.setattr(layers, "value_before", counted(layers.value_before))
    lint_source(text, Path("scale.py"), ALL_RULES)
    monkeypatch.undo()
    return read[0]


def test_a_name_rebound_through_a_long_function_is_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where a name's value comes from (``value_sources``) and its latest assignment before a
    statement (``value_before``) read the name's bindings once per name, not once per read: a
    name assigned a thousand times in one function was a thousand reads of a thousand
    bindings (4,258 bindings read at 600 lines, 55,138 at 2,400; now 1,054 and 4,034)."""
    small = _bindings_read(monkeypatch, long_function(600))
    large = _bindings_read(monkeypatch, long_function(2400))
    assert small >= 100, small
    assert large <= 1.3 * 4 * small, (small, large)


def _texts() -> list[str]:
    """Every zoo network's and mutant's files and every rule example."""
    from tests.zoo import mutants, sources

    texts = [
        t
        for name in sources.network_names() + sources.torch_network_names()
        for t in sources.read_sources(name).values()
    ]
    texts += [mutants.apply(m) for m in mutants.MUTANTS]  # the mutated file
    texts += [e.source for r in ALL_RULES for e in (*r.valid, *r.invalid)]
    return texts


_TRICKY = '''\
# a header comment

import numpy as np  # trailing
x = 1; y = 2


@staticmethod
def f(a):
    s = """
def not_a_statement():
    pass
"""
    return a
    # indented after the block: the block's footer

# at column 0: the next statement's
class C:
    def m(self):
        if x:
            return 1
        else:
            return 2
<ws>
        # whitespace-only line above
def g():
  return 2  # another indentation
if __name__ == "__main__":
    f(1)
# the end, no newline'''.replace("<ws>", "    ")


def test_a_big_module_parsed_in_parts_is_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """A big text is parsed a few thousand lines at a time (libcst's native parser needs ~600
    bytes per source byte while it runs): the module is the whole text's, node for node, on
    the benchmark's big module and, cut after every statement, on every zoo network and
    mutant, every rule example and a text of the cases a cut must respect (comments and
    whitespace-only lines after a block, decorators, semicolons, strings, another indentation,
    no final newline); a part that would not read as a piece of the whole is not cut."""
    import libcst as cst

    from linter import source

    big = big_module(600_000)
    spans = source.statement_spans(big, source.check_syntax(big))
    assert spans is not None and len(spans) > 100
    parts = source._parse_parts(big, spans)
    assert parts is not None  # really parsed in parts
    assert parts.deep_equals(cst.parse_module(big)) and parts.code == big

    monkeypatch.setattr(source, "PARTS_MIN_BYTES", 0)
    monkeypatch.setattr(source, "PART_LINES", 1)
    cut = 0
    for text in [*_texts(), _TRICKY]:
        spans = source.statement_spans(text, source.check_syntax(text))
        whole = cst.parse_module(text)
        found = source.parse(text, checked=True, spans=spans)
        assert found.deep_equals(whole), text
        assert found.code == text
        assert (found.default_indent, found.default_newline) == (
            whole.default_indent,
            whole.default_newline,
        )
        cut += spans is not None and source._parse_parts(text, spans) is not None
    assert cut > 100  # most texts were really cut
