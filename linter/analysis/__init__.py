"""Shared backprop analysis: one walk per module (``collect``), queried lazily (``model``)."""

from __future__ import annotations

import libcst as cst

from linter.analysis.collect import Collector, Scope, Site
from linter.analysis.model import MatMul, ModuleModel, Role, WeightUse


def analyze(module: cst.Module) -> ModuleModel:
    collector = Collector()
    module.visit(collector)
    return ModuleModel(module, collector)


__all__ = ["MatMul", "ModuleModel", "Role", "Scope", "Site", "WeightUse", "analyze"]
