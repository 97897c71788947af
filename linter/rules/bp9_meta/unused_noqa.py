"""BP900 unused-noqa."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from linter import prefilter as P
from linter.ftypes import FixSafety
from linter.rule import Invalid, Report, Rule, Valid

if TYPE_CHECKING:
    from linter.analysis.model import ModuleModel


class UnusedNoqa(Rule):
    """Flags ``# noqa`` / ``# bplint: noqa`` codes that suppress nothing.

    The engine reports it after suppressions are applied (it needs to know which directives
    were used), so ``query`` yields nothing; its examples run through the same engine.
    """

    code = "BP900"
    prefilter = (P.NOQA_CODE,)
    name = "unused-noqa"
    kb = ""
    meta = True
    summary = "A `# noqa` directive names a bplint code that suppresses nothing."
    why = (
        "Suppressions outlive the code they were written for: after a fix or a refactor the "
        "`# noqa: BP001` stays and silently hides the next real finding on that line. A code "
        "that is not enabled for the file, or that bplint does not know (a typo), never "
        "suppressed anything in the first place."
    )
    instead = (
        "Remove the stale code, or the whole comment when nothing else is left in it. Codes of "
        "other tools (`E501`, `F401`) and bare `# noqa` comments are left alone. To keep a "
        "directive on purpose, add `BP900` to it."
    )
    known_problems = (
        "A code counts as non-enabled when its rule does not run on the file (not selected, "
        "ignored, or ignored for the file by `per-file-ignores`): running bplint with a narrower "
        "`--select` than usual can report directives that are needed in the full run."
    )
    fix_safety = FixSafety.SAFE

    valid = [
        Valid(
            """
            x = compute()  # noqa: E501
            """,
            note="Another tool's code: not bplint's to judge.",
        ),
        Valid(
            """
            x = compute()  # noqa
            """,
            note="A bare `# noqa` may be for any tool.",
        ),
        Valid(
            """
            W_inv = fit(X)  # noqa: BP001, BP900 kept for the legacy path
            """,
            note="Listing BP900 keeps the directive on purpose.",
        ),
        Valid(
            """
            message = "add # noqa: BP001 to silence it"
            """,
            note="Text in a string is not a comment.",
        ),
        Valid(
            """
            # bplint: noqa
            import numpy as np
            """,
            note="A bare file-level directive turns bplint off for the file.",
        ),
        Valid(
            """
            x = compute()  # NOQA:E501,W291 long generated line
            """,
        ),
    ]
    invalid = [
        Invalid(
            """
            x = compute()  # noqa: BP001
            """,
            at=(1, 16),
            fixed="""
            x = compute()
            """,
            note="BP001 does not fire here (or is not enabled): the directive is stale.",
        ),
        Invalid(
            """
            x = compute()  # noqa: BP001, E501
            """,
            at=(1, 16),
            fixed="""
            x = compute()  # noqa: E501
            """,
            note="Only bplint's code is removed; E501 belongs to another tool.",
        ),
        Invalid(
            """
            x = compute()  # noqa: BP999
            """,
            at=(1, 16),
            fixed="""
            x = compute()
            """,
            note="An unknown code (a typo) never suppressed anything.",
        ),
        Invalid(
            """
            y = compute(
                a,
                b,
            )  # noqa: inverse-in-backward
            """,
            at=(4, 4),
            fixed="""
            y = compute(
                a,
                b,
            )
            """,
            note="Rule names count as codes.",
        ),
        Invalid(
            """
            x = compute()  # noqa: BP001 closed-form least squares  # type: ignore
            """,
            at=(1, 16),
            fixed="""
            x = compute()  # type: ignore
            """,
            note="The reason goes with the directive; other comments stay.",
        ),
        Invalid(
            """
            # bplint: noqa: BP002
            import numpy as np
            """,
            at=(1, 1),
            fixed="""
            import numpy as np
            """,
            note="File-level directives are checked too.",
        ),
    ]

    def query(self, model: ModuleModel) -> Iterator[Report]:
        return iter(())
