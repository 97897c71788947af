"""Run a KB entry's numeric test and draw its figure, at build time.

A check that raises, returns the wrong type or fails a bound is reported, never hidden: the page
shows what happened and the hook logs an error, so ``mkdocs build --strict`` aborts.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import time
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from kb.verify import Run, run_check

os.environ.setdefault("MPLBACKEND", "Agg")  # before any check imports pyplot

SVG_HASHSALT = "bplint"  # fixed ids inside the SVG, so a rebuild gives the same bytes


@dataclass(frozen=True)
class Measured:
    """What running one check at build time gave."""

    check: str
    run: Run | None = None
    error: str | None = None  # why the check did not produce a result
    svg: bytes | None = None  # the figure, when the check module defines figure()
    figure_alt: str = ""  # what the figure shows (the module's FIGURE_ALT), for its alt text
    figure_caption: str = ""  # its caption (FIGURE_CAPTION, else FIGURE_ALT)
    figure_error: str | None = None
    figure_seconds: float = 0.0
    example: str | None = None  # Markdown from the check module's example(), when defined
    example_error: str | None = None

    @property
    def passed(self) -> bool:
        return self.run is not None and self.run.result.passed

    def failures(self) -> list[str]:
        """One line per problem: the error, or each measurement that missed its bound."""
        if self.run is None:
            return [f"numeric test {self.check} did not run: {self.error}"]
        problems = [
            f"numeric test {self.check}: {m.name!r} = {m.value!r}, must be {m.relation} {m.bound!r}"
            for m in self.run.result.measurements
            if not m.passed
        ]
        if self.figure_error:
            problems.append(f"numeric test {self.check}: figure() failed: {self.figure_error}")
        if self.example_error:
            problems.append(f"numeric test {self.check}: example() failed: {self.example_error}")
        return problems


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line)``, pointing at the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.relpath(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def render_svg(fig: Any) -> bytes:
    """Save a matplotlib Figure as reproducible SVG (fixed hash salt, no date) and close it."""
    import matplotlib
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def figure_text(module: ModuleType) -> tuple[str, str]:
    """``(alt, caption)``: what the module's figure shows, in words.

    A figure is published only with a ``FIGURE_ALT`` that says what it shows (the axes, the
    curves, what they do), for readers who cannot see it; ``FIGURE_CAPTION`` is the point to
    take from it and defaults to the alt text.
    """
    alt = getattr(module, "FIGURE_ALT", None)
    if not isinstance(alt, str) or len(alt.split()) < 8:
        raise TypeError(
            f"{module.__name__} draws a figure but has no FIGURE_ALT: a sentence or two saying "
            "what the figure shows (axes, curves, what they do), at least 8 words"
        )
    caption = getattr(module, "FIGURE_CAPTION", None) or alt
    if not isinstance(caption, str):
        raise TypeError(f"{module.__name__}.FIGURE_CAPTION must be a string")
    return " ".join(alt.split()), " ".join(caption.split())


def _figure(module: ModuleType) -> bytes | None:
    draw = getattr(module, "figure", None)
    if draw is None:
        return None
    if not callable(draw):
        raise TypeError(f"{module.__name__}.figure is not a function")
    figure_text(module)  # no figure without words for it
    import matplotlib

    matplotlib.use("Agg", force=True)
    fig = draw()
    if not hasattr(fig, "savefig"):
        raise TypeError(f"{module.__name__}.figure() must return a matplotlib Figure")
    return render_svg(fig)


def measure(check: str, *, figures: bool = True) -> Measured:
    """Run ``kb.checks.<check>.check()`` and, if asked and defined, its ``figure()``.

    A check module imported by an earlier build in this process (``mkdocs serve``) is reloaded
    first (when it comes from a file), so an edited check is what runs.
    """
    try:
        loaded = sys.modules.get(f"kb.checks.{check}")
        if loaded is not None and getattr(loaded, "__file__", None):
            importlib.reload(loaded)
        run = run_check(check)
    except Exception as exc:  # a broken check is reported on its page and fails the build
        return Measured(check, error=describe_exception(exc))
    module = importlib.import_module(f"kb.checks.{check}")
    example, example_error = None, None
    try:
        example = _example(module)
    except Exception as exc:
        example_error = describe_exception(exc)
    if not figures:
        return Measured(check, run=run, example=example, example_error=example_error)
    start = time.perf_counter()
    try:
        svg = _figure(module)
        alt, caption = figure_text(module) if svg is not None else ("", "")
    except Exception as exc:
        return Measured(
            check,
            run=run,
            figure_error=describe_exception(exc),
            example=example,
            example_error=example_error,
        )
    return Measured(
        check,
        run=run,
        svg=svg,
        figure_alt=alt,
        figure_caption=caption,
        figure_seconds=time.perf_counter() - start,
        example=example,
        example_error=example_error,
    )


def _example(module: ModuleType) -> str | None:
    """The Markdown a check module's ``example()`` computes (a worked example with its numbers)."""
    make = getattr(module, "example", None)
    if make is None:
        return None
    if not callable(make):
        raise TypeError(f"{module.__name__}.example is not a function")
    text = make()
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"{module.__name__}.example() must return Markdown text")
    return text
