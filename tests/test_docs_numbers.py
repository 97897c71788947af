"""Numbers on the hand-written docs pages are the measured ones (or the code's own constants).

Entry and rule pages get their numbers from the numeric tests at build time. The hand-written
pages (docs/*.md, docs/guide/*.md) state a few numbers in prose; each is registered here with
where its truth comes from: a measurement of a numeric test, or a constant of the harness. A
number of that kind that is not registered fails the test, so a new one cannot slip in unchecked
(as ``1e-2`` once stood where the bound is ``1e-3``).
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from kb import numerics
from kb.load import load_kb
from kb.verify import run_check

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^([ ]*)(`{3,}).*?^\1\2[ ]*$", re.M | re.S)

# What reads as a measured or tuned number: 1e-7, 10^{-10}, 0.7, 2.2 (not an exit code, a
# 0-based index or a formula's constant 1).
MEASURED_LOOKING = re.compile(r"\d+(?:\.\d+)?e-?\d+|10\^\{-?\d+\}|(?<![\d.])\d+\.\d+(?![\d.])")
# Not measurements: versions of things.
VERSIONS = re.compile(r"(Python|SARIF|version) $")


@functools.cache
def measured(check: str) -> dict[str, float]:
    return {m.name: m.value for m in run_check(check).result.measurements}


@functools.cache
def bounds(check: str) -> dict[str, float]:
    return {m.name: m.bound for m in run_check(check).result.measurements}


def value(check: str, start: str) -> float:
    """The one measurement of ``check`` whose name starts with ``start``."""
    (v,) = [v for name, v in measured(check).items() if name.startswith(start)]
    return v


@functools.cache
def all_rel_errors() -> tuple[list[float], list[float]]:
    """Every relative error any numeric test measures: (the right code's, the wrong code's)."""
    right, wrong = [], []
    for page in load_kb():
        for m in run_check(page.meta.check).result.measurements:
            if "rel. error" in m.name:
                (right if m.relation == "<" else wrong).append(m.value)
    return right, wrong


def _median_order(values: list[float]) -> float:
    return float(np.median(np.log10(np.maximum(values, 1e-300))))


def _middle_half_from(values: list[float]) -> float:
    """10^k with k the power of ten where the middle half of ``values`` starts; it must end
    at or below 1."""
    low, high = np.percentile(values, [25, 75])
    assert high <= 1.0, f"the middle half of the wrong code's errors reaches {high:.2g}"
    return 10.0 ** math.floor(math.log10(low))


@dataclass(frozen=True)
class Claim:
    page: str  # below docs/
    pattern: str  # a regex whose groups are the numbers as the page writes them
    truth: Callable[[], tuple[float, ...]]  # what the measurements or the harness say
    how: str = "exact"  # exact | order (10^{k}: the power of ten) | about (one significant digit)


T_NOT_INV = "transpose_is_not_inverse"
GRADCHECK = "gradcheck_one_sided_or_bad_epsilon"

CLAIMS = [
    Claim(
        "guide/code-review.md",
        r"transpose version against finite differences is below `([^`]+)`, that of the inverse\s+"
        r"version above `([^`]+)`",
        lambda: (
            bounds(T_NOT_INV)["column net, W^T: rel. error of all dW"],
            bounds(T_NOT_INV)["column net, pinv(W): rel. error of dW1"],
        ),
    ),
    Claim(
        "index.md",
        r"error of about (\S+) for the `pinv` version",
        lambda: (value(T_NOT_INV, "column net, pinv(W)"),),
        "about",
    ),
    Claim(
        "index.md",
        r"relative error of \$10\^\{(-?\d+)\}\$ against one of about \$(\S+?)\$",
        lambda: (value(T_NOT_INV, "column net, W^T"), value(T_NOT_INV, "column net, pinv(W)")),
        "order,about",
    ),
    Claim("numeric-tests.md", r"with step `H = ([^`]+)`", lambda: (numerics.H,)),
    Claim(
        "conventions.md",
        r"the finite-difference step \(\$10\^\{(-?\d+)\}\$",
        lambda: (numerics.H,),
        "order",
    ),
    Claim(
        "numeric-tests.md",
        r"rounding of order \$\\varepsilon/h\$, about\s+\$10\^\{(-?\d+)\}\$ relative in float64",
        lambda: (value(GRADCHECK, "centred, h = 1e-5, float64"),),
        "order",
    ),
    Claim(
        "numeric-tests.md",
        r"below `RIGHT = ([^`]+)`; a wrong one is above\s+`WRONG = ([^`]+)`",
        lambda: (numerics.RIGHT, numerics.WRONG),
    ),
    Claim(
        "numeric-tests.md",
        r"real bugs land around\s+\$10\^\{(-?\d+)\}\$ to \$1\$, correct code around "
        r"\$10\^\{(-?\d+)\}\$",
        lambda: (
            # the middle half of the wrong code's errors lies between 10^k and 1
            _middle_half_from(all_rel_errors()[1]),
            10.0 ** _median_order(all_rel_errors()[0]),
        ),
        "order",
    ),
    Claim(
        "numeric-tests.md",
        r"\(sizes (\d)–(\d)–(\d)–(\d), a batch of (\d+)\)",
        lambda: (
            *numerics.DEFAULT_SIZES,
            inspect.signature(numerics.column_net).parameters["batch"].default,
        ),
    ),
    Claim(
        "identities.md",
        r"\\varepsilon_\{\\text\{mach\}\} \\approx (\d\.\d) \\times 10\^\{(-\d+)\}",
        lambda: (
            float(f"{np.finfo(np.float64).eps:.2g}".split("e")[0]),
            math.floor(math.log10(np.finfo(np.float64).eps)),
        ),
    ),
    Claim(
        "identities.md",
        r"\$h = 10\^\{(-?\d+)\}\$ has a total relative error around \$10\^\{(-?\d+)\}\$; a "
        r"one-sided difference only\s+around \$10\^\{(-?\d+)\}\$",
        lambda: (
            numerics.H,
            value(GRADCHECK, "centred, h = 1e-5, float64"),
            value(GRADCHECK, "one-sided, h = 1e-5, float64"),
        ),
        "order",
    ),
]


def _matches(written: str, truth: float, how: str) -> bool:
    if how == "order":  # the page writes the power of ten
        return int(written) == round(math.log10(truth))
    if how == "about":
        return float(written) == float(f"{truth:.1g}")
    return float(written) == float(truth)


def _prose(page: str) -> str:
    return FENCE.sub("", (DOCS / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c.page}:{c.pattern[:30]}")
def test_number_on_a_hand_written_page_is_the_measured_one(claim: Claim) -> None:
    match = re.search(claim.pattern, _prose(claim.page))
    assert match, f"{claim.page}: the sentence {claim.pattern!r} is gone; update this claim"
    truths = claim.truth()
    hows = claim.how.split(",")
    hows += [hows[-1]] * (len(truths) - len(hows))
    assert len(match.groups()) == len(truths)
    wrong = [
        (written, truth)
        for written, truth, how in zip(match.groups(), truths, hows, strict=True)
        if not _matches(written, truth, how)
    ]
    assert wrong == [], f"{claim.page}: written vs measured"


def test_every_measured_looking_number_on_hand_written_pages_is_registered() -> None:
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.glob("*.md"))
    pages += sorted(p.relative_to(DOCS).as_posix() for p in (DOCS / "guide").glob("*.md"))
    unregistered = []
    for page in pages:
        text = _prose(page)
        covered = [
            m.span()
            for claim in CLAIMS
            if claim.page == page
            for m in re.finditer(claim.pattern, text)
        ]
        for m in MEASURED_LOOKING.finditer(text):
            if VERSIONS.search(text[: m.start()][-9:]):
                continue
            if not any(a <= m.start() and m.end() <= b for a, b in covered):
                line = text.count("\n", 0, m.start()) + 1
                unregistered.append(f"docs/{page}: {m.group(0)!r} (prose line {line})")
    assert unregistered == []
