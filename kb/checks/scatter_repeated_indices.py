"""A gather with repeated indices needs an accumulating scatter in its backward:
`dW[idx] += g` keeps one row per index, `np.add.at(dW, idx, g)` sums them."""

from __future__ import annotations

import numpy as np

from kb.numerics import RIGHT, WRONG, numerical_grad, rel_err, rng
from kb.schema import CheckResult, above, below
from kb.torch_support import get_torch, numpy, preload, says_which, tensor

preload()

VOCAB, DIM, TOKENS = 4, 3, 10  # 10 tokens from a vocabulary of 4: indices must repeat


def check() -> CheckResult:
    torch = get_torch()
    r = rng(75)
    emb = r.normal(size=(VOCAB, DIM))
    idx = r.integers(0, VOCAB, size=TOKENS)
    u = r.normal(size=(TOKENS, DIM))  # C = sum(U * E[idx])
    g = u  # dC/d(E[idx])

    fd = numerical_grad(lambda: float(np.sum(u * emb[idx])), emb)

    buffered = np.zeros_like(emb)
    buffered[idx] += g  # wrong: one write per distinct index survives
    summed = np.zeros_like(emb)
    np.add.at(summed, idx, g)  # right: unbuffered, every occurrence adds

    measurements = [
        below(
            "np.add.at(dW, idx, g): rel. error against finite differences",
            rel_err(summed, fd),
            RIGHT,
        ),
        above("dW[idx] += g: rel. error against finite differences", rel_err(buffered, fd), WRONG),
        above("repeated indices among the 10 tokens", TOKENS - len(np.unique(idx)), 0.5),
    ]
    if torch is not None:
        et = tensor(torch, emb, requires_grad=True)
        (tensor(torch, u) * et[torch.as_tensor(idx)]).sum().backward()
        measurements.append(
            below(
                "autograd of E[idx] (PyTorch): rel. error against finite differences",
                rel_err(numpy(et.grad), fd),
                RIGHT,
            )
        )
        ea = torch.zeros(VOCAB, DIM, dtype=torch.float64)
        ea.index_add_(0, torch.as_tensor(idx), tensor(torch, g))
        measurements.append(
            below(
                "index_add_ (PyTorch): rel. error against finite differences",
                rel_err(numpy(ea), fd),
                RIGHT,
            )
        )
    return CheckResult(
        claim=says_which(
            "The backward of a gather E[idx] must add the gradient of every occurrence of an index: "
            "np.add.at (or index_add_, or autograd) matches finite differences, the buffered "
            "dW[idx] += g keeps only one row per repeated index.",
            torch,
        ),
        measurements=measurements,
    )
