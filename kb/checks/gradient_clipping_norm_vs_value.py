"""Clipping by norm rescales the whole gradient (direction kept); clipping by value clamps each
entry (direction changed). Either belongs after backward() and before step()."""

from __future__ import annotations

import numpy as np

from kb.numerics import rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

MAX_NORM, CLIP_VALUE, LR = 1.0, 0.5, 0.1


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def check() -> CheckResult:
    torch = get_torch()
    r = rng(78)
    w0 = [r.normal(size=(3, 4)), r.normal(size=4)]
    x, y = r.normal(size=(6, 3)), 10.0 * r.normal(size=(6, 4))  # large targets: large gradients

    def grads_np(w: list[np.ndarray]) -> list[np.ndarray]:
        e = x @ w[0] + w[1] - y
        return [x.T @ e, e.sum(axis=0)]  # C = ||x W + b - y||² / 2

    flat = np.concatenate([g.ravel() for g in grads_np(w0)])

    if torch is not None:
        params = [tensor(torch, w, requires_grad=True) for w in w0]
        xt, yt = tensor(torch, x), tensor(torch, y)

        def backward() -> None:
            for p in params:
                p.grad = None
            (0.5 * ((xt @ params[0] + params[1] - yt) ** 2).sum()).backward()

        backward()
        reported = float(torch.nn.utils.clip_grad_norm_(params, MAX_NORM))
        by_norm = np.concatenate([numpy(p.grad).ravel() for p in params])
        backward()
        torch.nn.utils.clip_grad_value_(params, CLIP_VALUE)
        by_value = np.concatenate([numpy(p.grad).ravel() for p in params])

        # Misplaced: clip, then backward, then step (the clip acted on the old gradients).
        opt = torch.optim.SGD(params, lr=LR)
        backward()
        before = [numpy(p) for p in params]
        torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
        opt.zero_grad()
        (0.5 * ((xt @ params[0] + params[1] - yt) ** 2).sum()).backward()
        opt.step()
        step = np.concatenate([(numpy(p) - b).ravel() for p, b in zip(params, before, strict=True)])
    else:  # numpy model of clip_grad_norm_ / clip_grad_value_ as documented
        total = float(np.linalg.norm(flat))
        reported = total
        by_norm = flat * min(1.0, MAX_NORM / (total + 1e-6))
        by_value = np.clip(flat, -CLIP_VALUE, CLIP_VALUE)
        step = -LR * flat  # the step after a clip placed before backward(): unclipped

    norm = float(np.linalg.norm(flat))
    return CheckResult(
        claim=says_which(
            "clip_grad_norm_ scales all gradients together to the given total norm and keeps "
            "their direction; clip_grad_value_ clamps entries and turns the direction. Clipping "
            "before backward() does nothing to the step that follows: it must come after "
            "backward() and before step().",
            torch,
        ),
        measurements=[
            below(
                "by norm: |total norm returned / norm measured - 1|",
                abs(reported / norm - 1.0),
                1e-12,
            ),
            below(
                "by norm: |clipped norm / max_norm - 1|",
                abs(np.linalg.norm(by_norm) / MAX_NORM - 1.0),
                1e-5,
            ),
            below("by norm: 1 - cos(clipped, original)", 1.0 - cosine(by_norm, flat), 1e-12),
            above("by value: 1 - cos(clipped, original)", 1.0 - cosine(by_value, flat), 1e-3),
            above(
                "clip before backward(): step norm / (lr · max_norm)",
                np.linalg.norm(step) / (LR * MAX_NORM),
                2.0,
            ),
        ],
    )
