"""Fuzzing, bounded for CI: any Python (hypothesmith) and generated backprop-shaped programs.

Every program is linted with every rule: no internal error (only a ``SourceError`` for text
CPython or libcst rejects), none over 10 s (a hang). Every fix offered on a program is applied
as ``--fix --unsafe-fixes`` would: the result parses, a second fix changes nothing, and every
line no fix touched is byte-identical (CRLF, BOM, tabs and trailing whitespace included).

The programs are a seeded corpus: each batch is generated once with a fixed hypothesis seed
(the same programs on every run and under any ``PYTHONHASHSEED``) and kept in pytest's cache
folder (``.pytest_cache/d/bplint-fuzz``), keyed by the hypothesis and hypothesmith versions and
the generator's source, so a re-run only lints. A batch is linted in this process, one program
after the other (no subprocess per program); batches are separate tests, so ``-n 2`` shares
them. Measured (CPU of one core, ``time.process_time``, under load): generating costs 90 ms a
``from_grammar`` program, 330 ms a ``from_node`` one (about half of those repeat), 5 ms a
backprop-shaped one; linting the whole corpus with its fixes 48 s (a backprop-shaped program
with its fixes ~0.15 s, a hypothesmith one ~10 ms). So a cold run (a fresh clone, as CI) costs
~5 min of CPU, 2,000 x 90 ms + 200 x 330 ms of it generation; a warm one ~50 s.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import hypothesis
import hypothesmith
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from linter.analysis import analyze
from linter.engine import FileReport, lint_source, needs_parse
from linter.fix import fix_text
from linter.rules import ALL_RULES
from linter.source import SourceError, SourceText, decode_source, parse, prepare

SLOW = 10.0  # seconds: a file taking longer counts as a hang
PATH = Path("fuzz.py")

# (strategy name, batches, programs a batch): 2,000 from_grammar + 200 from_node programs
# (~2,050 distinct), 300 backprop-shaped ones.
GRAMMAR = ("from_grammar", 8, 250)
NODE = ("from_node", 2, 100)
BACKPROP = ("backprop", 3, 100)


class Hang(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang(f"over {SLOW} s")


def _lint(text: str) -> FileReport | None:
    """Lint as bplint does; only a ``SourceError`` may escape, and only in good time (an alarm
    stops a real hang in the main thread; elsewhere the time is checked afterwards)."""
    alarm = threading.current_thread() is threading.main_thread()
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, SLOW)
    start = time.perf_counter()
    try:
        return lint_source(text, PATH, ALL_RULES)
    except SourceError:
        return None
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert time.perf_counter() - start < SLOW, text


# --- backprop-shaped programs ------------------------------------------------------------------

ACTIVATIONS = {
    "sigmoid": ("1 / (1 + np.exp(-{x}))", "{s} * (1 - {s})"),
    "tanh": ("np.tanh({x})", "1 - {s} ** 2"),
    "relu": ("np.maximum(0, {x})", "({s} > 0)"),
}
PRODUCTS = ["np.dot({a}, {b})", "{a} @ {b}", "{a}.dot({b})", "np.matmul({a}, {b})"]
TRANSPOSES = ["{w}.T", "np.transpose({w})", "{w}.transpose()", "np.linalg.pinv({w})", "{w}"]
UPDATES = ["{w} -= lr * {g}", "{w} += -lr * {g}", "{w} = {w} - lr * {g}", "{w} += lr * {g}"]
NOQA = ["", "  # noqa: BP001", "  # noqa: BP003 kept on purpose", "  # noqa"]


@st.composite
def backprop_program(draw) -> str:
    act = draw(st.sampled_from(sorted(ACTIVATIONS)))
    fwd, prime = ACTIVATIONS[act]
    prod = draw(st.sampled_from(PRODUCTS))
    lines = ["import numpy as np", ""]
    lines += [f"def {act}(x):", f"    return {fwd.format(x='x')}", ""]
    lines += [f"def {act}_prime(s):", f"    return {prime.format(s='s')}", ""]
    if draw(st.booleans()):
        lines += [
            "def softmax(z):",
            "    e = np.exp(z" + draw(st.sampled_from(["", " - np.max(z)"])) + ")",
            "    return e / e.sum(axis=1, keepdims=True)",
            "",
        ]
    n_layers = draw(st.integers(1, 3))
    style = draw(st.sampled_from(["class", "functions"]))
    if style == "class":
        lines += ["class Layer:", "    def __init__(self, n_in, n_out):"]
        scale = draw(st.sampled_from(["0.01", "np.sqrt(2.0 / n_in)", "0x1"]))
        lines += [f"        self.W = np.random.randn(n_out, n_in) * {scale}"]
        lines += ["        self.b = np.zeros((n_out, 1))", ""]
        lines += ["    def forward(self, x):", "        self.x = x"]
        lines += [f"        self.a = {act}({prod.format(a='self.W', b='x')} + self.b)"]
        lines += ["        return self.a", ""]
        lines += ["    def backward(self, delta, lr):"]
        lines += [f"        delta = delta * {act}_prime(self.a)"]
        lines += [f"        dW = {prod.format(a='delta', b='self.x.T')}"]
        wt = draw(st.sampled_from(TRANSPOSES)).format(w="self.W")
        noqa = draw(st.sampled_from(NOQA))
        lines += [f"        out = {prod.format(a=wt, b='delta')}{noqa}"]
        lines += ["        " + draw(st.sampled_from(UPDATES)).format(w="self.W", g="dW")]
        lines += ["        return out", ""]
        lines += ["def train(X, Y, epochs=10, lr=0.1):"]
        lines += [f"    layers = [Layer({i + 2}, {i + 3}) for _ in range(1)]" for i in range(1)]
        lines += ["    for epoch in range(epochs):", "        a = X"]
        lines += ["        for layer in layers:", "            a = layer.forward(a)"]
        lines += ["        delta = a - Y"]
        lines += ["        for layer in reversed(layers):"]
        lines += ["            delta = layer.backward(delta, lr)"]
    else:
        lines += ["def train(X, Y, Ws, epochs=10, lr=0.1):", "    for epoch in range(epochs):"]
        lines += ["        acts = [X]", "        for W in Ws:"]
        lines += [f"            acts.append({act}({prod.format(a='W', b='acts[-1]')}))"]
        lines += ["        delta = (acts[-1] - Y)" + f" * {act}_prime(acts[-1])"]
        for i in range(n_layers):
            wt = draw(st.sampled_from(TRANSPOSES)).format(w=f"Ws[{-1 - i}]")
            noqa = draw(st.sampled_from(NOQA))
            lines += [f"        dW{i} = {prod.format(a='delta', b=f'acts[{-2 - i}].T')}"]
            lines += [
                f"        delta = {prod.format(a=wt, b='delta')} * "
                f"{act}_prime(acts[{-2 - i}]){noqa}"
            ]
            lines += [
                "        " + draw(st.sampled_from(UPDATES)).format(w=f"Ws[{-1 - i}]", g=f"dW{i}")
            ]
        if draw(st.booleans()):
            lines += ["        loss = np.sum(np.dot(delta, 1 - acts[1] ** 2))"]
    lines += ["    return None", ""]
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.replace("    ", "\t")
    if draw(st.booleans()):
        text = text.replace("\n", "  \n", draw(st.integers(0, 5)))  # trailing whitespace
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = text.replace("\n", newline)
    bom = draw(st.booleans())
    return ("\ufeff" if bom else "") + text


STRATEGIES: dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "from_grammar": hypothesmith.from_grammar,
    "from_node": hypothesmith.from_node,
    "backprop": backprop_program,
}


def _generate(kind: str, batch: int, n: int) -> list[str]:
    out: list[str] = []

    @seed(20261201 + batch)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(STRATEGIES[kind]())
    def collect(text: str) -> None:
        out.append(text)

    collect()
    return out


def _corpus(config: pytest.Config, kind: str, batch: int, n: int) -> list[str]:
    """Batch ``batch`` of ``kind``: generated once, then read from pytest's cache folder."""
    key = hashlib.sha256(
        "\0".join(
            (
                kind,
                str(batch),
                str(n),
                hypothesis.__version__,
                version("hypothesmith"),
                # the generator is in this file: any edit here makes a new backprop corpus
                Path(__file__).read_text(encoding="utf-8") if kind == "backprop" else "",
            )
        ).encode()
    ).hexdigest()[:16]
    cache = getattr(config, "cache", None)  # None under ``-p no:cacheprovider``
    path = cache.mkdir("bplint-fuzz") / f"{kind}-{batch}-{key}.json" if cache else None
    if path is not None and path.exists():
        try:
            programs = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            programs = None
        if isinstance(programs, list) and len(programs) == n:
            return programs
    programs = _generate(kind, batch, n)
    assert len(programs) == n, (kind, batch, len(programs))
    if path is not None:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(programs), encoding="utf-8")  # surrogates escaped by json
        os.replace(tmp, path)  # atomic: xdist workers may write the same batch
    return programs


def _touched_lines(report: FileReport) -> set[int]:
    return {
        line
        for f in report.findings
        if f.fix is not None
        for e in f.fix.edits
        for line in range(e.start.line, e.end.line + 1)
    }


def _check_fixes(program: str, report: FileReport) -> bool:
    """Apply every fix (unsafe too) as ``--fix`` would; check the result. True if it changed."""
    if not any(f.fix is not None for f in report.findings):
        return False
    try:
        data = program.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (hypothesmith): no file can hold it
        return False
    src: SourceText = decode_source(data)
    linted: dict[str, FileReport] = {src.text: report}

    def lint(text: str) -> FileReport:  # each distinct text linted once
        if text not in linted:
            got = _lint(text)
            if got is None:
                raise SourceError(f"{PATH}: the fixed text does not parse")
            linted[text] = got
        return linted[text]

    result = fix_text(src.text, lint, unsafe=True)
    assert result.problems == [], (result.problems, program)
    parse(result.text)  # the fixed text is Python
    again = fix_text(result.text, lint, unsafe=True)
    assert again.text == result.text and not again.fixed, program  # idempotent
    if result.text == src.text:
        return False
    touched = _touched_lines(report)
    before = src.text.splitlines(keepends=True)
    after = result.text.splitlines(keepends=True)
    out = src.encode(result.text)
    assert out.startswith(b"\xef\xbb\xbf") == data.startswith(b"\xef\xbb\xbf")
    if "\r\n" in src.text:
        assert all(line.endswith("\r\n") for line in after[:-1])
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            changed = set(range(i1 + 1, i2 + 1)) or {i1 + 1}
            assert changed <= touched, (tag, i1, i2, program)
    return True


def _batches(spec: tuple[str, int, int]) -> list:
    kind, batches, n = spec
    return [pytest.param(kind, b, n, id=f"{kind}-{b}") for b in range(batches)]


@pytest.mark.parametrize(("kind", "batch", "n"), _batches(GRAMMAR) + _batches(NODE))
def test_any_python_program(request: pytest.FixtureRequest, kind: str, batch: int, n: int) -> None:
    programs = _corpus(request.config, kind, batch, n)
    # from_grammar's are all distinct; from_node repeats its smallest programs
    assert len(set(programs)) >= (n * 9 // 10 if kind == "from_grammar" else n // 3)
    parsed = 0
    for text in programs:
        report = _lint(text)
        if kind == "from_node":
            assert report is not None, text  # from_node writes only valid Python 3
        if report is not None:
            parsed += 1
            _check_fixes(text, report)
    assert parsed >= n // 2  # most of them really reach the analysis


@pytest.mark.parametrize(("kind", "batch", "n"), _batches(BACKPROP))
def test_backprop_programs_lint_and_fix_cleanly(
    request: pytest.FixtureRequest, kind: str, batch: int, n: int
) -> None:
    programs = _corpus(request.config, kind, batch, n)
    assert len(set(programs)) >= n * 9 // 10
    with_findings = fixed = 0
    for program in programs:
        text = decode_source(program.encode("utf-8")).text
        # really reaches the analysis: past the pre-filter, and the analysis sees its products
        assert needs_parse(prepare(text).text, ALL_RULES), program
        assert any(True for _ in analyze(parse(prepare(text).text), PATH).matmuls()), program
        report = _lint(text)
        assert report is not None, program
        with_findings += bool(report.findings)
        fixed += _check_fixes(program, report)
    # the generator really reaches the rules and their fixes
    assert with_findings >= n // 3, (with_findings, n)
    assert fixed >= n // 12, (fixed, n)
