"""Shared backprop analysis: one walk per module (``collect``), queried lazily (``model``)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from linter.analysis.collect import Scope, Site
from linter.analysis.model import MatMul, ModuleModel, Role, WeightUse
from linter.analysis.siblings import build


def analyze(module: cst.Module, path: Path | None = None) -> ModuleModel:
    """One walk over ``module``; ``path`` lets the model read helpers from sibling modules."""
    return build(module, path)


__all__ = ["MatMul", "ModuleModel", "Role", "Scope", "Site", "WeightUse", "analyze"]
