"""PyTorch for the numeric tests of PyTorch entries: real torch (CPU) when it is installed.

A claim about PyTorch is measured with PyTorch. Each such check asks :func:`get_torch` for the
module; when torch is not installed (or ``BPLINT_KB_TORCH=0`` is set) it gets ``None`` and runs a
numpy model of the same computation instead, and :func:`says_which` appends to its claim which of
the two produced the numbers, so the site and ``bplint verify`` never pass a model off as PyTorch.

Importing torch takes seconds, so a check module calls :func:`preload` at import time (the
harness times ``check()`` only). Only ``kb.checks`` modules import this module; the linter never
does, and ``bplint check`` runs on machines without torch.

Every random draw still goes through ``kb.numerics.rng`` (numpy): tensors are built from numpy
arrays, so the torch run and the numpy fallback see the same data for the same seed.
"""

from __future__ import annotations

import gc
import os
from types import ModuleType
from typing import Any

import numpy as np

ENV = "BPLINT_KB_TORCH"  # "0": use the numpy fallback even when torch is installed

_torch: ModuleType | None = None
_tried = False


def preload() -> None:
    """Import torch once if it is installed (no error when it is not)."""
    global _torch, _tried
    if _tried:
        return
    _tried = True
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)  # tiny tensors; do not fight other processes for cores
    # The first backward with an explicit gradient imports sympy (seconds); pay that here,
    # outside the timed check().
    warm = torch.ones(2, dtype=torch.float64, requires_grad=True)
    (warm * warm).backward(torch.ones(2, dtype=torch.float64))
    torch.optim.AdamW([warm], lr=0.0).step()  # the first optimizer step imports more (seconds)
    # torch adds ~10^6 long-lived objects; move them out of the collector's sight so that checks
    # calling gc.collect() stay fast.
    gc.freeze()
    _torch = torch


def get_torch() -> ModuleType | None:
    """The torch module, or None when it is missing or disabled by ``BPLINT_KB_TORCH=0``."""
    if os.environ.get(ENV, "").strip() == "0":
        return None
    preload()
    return _torch


def backend(torch: ModuleType | None) -> str:
    """Which implementation produced the numbers, in words."""
    if torch is None:
        return "a numpy model of PyTorch's behaviour (torch is not installed or is disabled here)"
    return f"PyTorch {torch.__version__.split('+')[0]} on the CPU"


def says_which(claim: str, torch: ModuleType | None) -> str:
    """The claim followed by which backend measured it."""
    return f"{claim} (Measured with {backend(torch)}.)"


def tensor(torch: ModuleType, array: Any, requires_grad: bool = False, dtype: Any = None) -> Any:
    """A float64 (or ``dtype``) CPU tensor holding a copy of ``array``."""
    return torch.tensor(
        np.asarray(array), dtype=dtype or torch.float64, requires_grad=requires_grad
    )


def numpy(t: Any) -> np.ndarray:
    """A tensor's values as a float64 numpy array (detached)."""
    return t.detach().to(dtype=t.dtype).cpu().numpy().astype(np.float64)
