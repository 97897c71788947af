"""Where an unpacked element comes from: ``linter.analysis.elements`` and
``ModuleModel.unpacked_origin``, and what they make of a weight that travels in a cache tuple.

The layout is the course notebooks' (forward packs ``(A_prev, W, b)`` into a cache, the caches
go into a list, backward unpacks them in a helper), written here with names that say nothing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst

from linter.analysis import analyze
from linter.analysis.model import ModuleModel

CACHED = """
import numpy as np

def init(sizes):
    p = {}
    for i in range(1, len(sizes)):
        p["u" + str(i)] = np.random.randn(sizes[i], sizes[i - 1]) * 0.01
        p["v" + str(i)] = np.zeros((sizes[i], 1))
    return p

def step_fwd(q, m, c):
    r = np.dot(m, q) + c
    box = (q, m, c)
    return np.maximum(0, r), (box, r)

def run_fwd(x, p):
    store = []
    h = x
    for i in range(1, len(p) // 2 + 1):
        h, item = step_fwd(h, p["u" + str(i)], p["v" + str(i)])
        store.append(item)
    return h, store

def step_bwd(g, box):
    q, m, c = box
    k = q.shape[1]
    gm = np.dot(g, q.T) / k
    gq = np.dot(m, g)
    return gq, gm

def run_bwd(h, y, store):
    out = {}
    g = h - y
    for i in reversed(range(len(store))):
        box, r = store[i]
        g, out["u" + str(i + 1)] = step_bwd(g * (r > 0), box)
    return out

def train(x, y, p, rate=0.05):
    for _ in range(10):
        h, store = run_fwd(x, p)
        grads = run_bwd(h, y, store)
        for i in range(1, len(p) // 2 + 1):
            p["u" + str(i)] = p["u" + str(i)] - rate * grads["u" + str(i)]
    return p
"""


def _model(source: str) -> ModuleModel:
    return analyze(cst.parse_module(textwrap.dedent(source)))


def _scope(model: ModuleModel, name: str):
    return next(s for s in model.c.scopes if s.name == name)


def test_an_unpacked_name_is_followed_to_the_tuple_the_forward_pass_packed() -> None:
    model = _model(CACHED)
    bwd = _scope(model, "step_bwd")
    origin = model.unpacked_origin(cst.Name("m"), bwd)
    assert origin is not None
    node, home = origin
    assert model.src(node) == "m" and home.name == "step_fwd"
    q_node, _ = model.unpacked_origin(cst.Name("q"), bwd) or (None, None)
    assert q_node is not None and model.src(q_node) == "q"


def test_the_packed_weight_is_a_weight_and_its_neighbour_is_not() -> None:
    model = _model(CACHED)
    bwd = _scope(model, "step_bwd")
    assert model.weight_key(cst.Name("m"), bwd) is not None  # updated, random, multiplied
    assert model.weight_key(cst.Name("q"), bwd) is None  # the layer's input
    assert model.weight_key(cst.Name("c"), bwd) is None  # the bias: zeros, added


def test_the_calls_decide_over_the_forward_backward_naming_convention() -> None:
    """``step_bwd(g, box)`` pairs with ``step_fwd``, whose second returned element is
    ``(box, r)``; the calls pass ``box`` alone, so ``m`` is the packed weight, not ``r``."""
    from linter.analysis.model import Role

    model = _model(CACHED)
    bwd = _scope(model, "step_bwd")
    assert Role.PREACT not in model.roles(cst.Name("m"), bwd)
    assert Role.ACT in model.roles(cst.Name("q"), bwd)  # the layer input the forward packed


def test_an_opaque_origin_gives_no_answer() -> None:
    source = CACHED.replace("store.append(item)", "store.append(load(item))")
    model = _model(source)
    bwd = _scope(model, "step_bwd")
    assert model.unpacked_origin(cst.Name("m"), bwd) is None
    assert model.weight_key(cst.Name("m"), bwd) is None


def test_two_different_origins_give_no_single_answer() -> None:
    source = CACHED.replace("box = (q, m, c)", "box = (q, m, c) if k0 else (q, c, m)")
    model = _model(source)
    assert model.unpacked_origin(cst.Name("m"), _scope(model, "step_bwd")) is None


def test_the_untransposed_weight_in_backward_is_found_with_its_reasons() -> None:
    from linter.engine import lint_source
    from linter.rules import ALL_RULES

    rule = next(r for r in ALL_RULES if r.code == "BP002")
    source = textwrap.dedent(CACHED)
    line = source.splitlines().index("    gq = np.dot(m, g)") + 1
    found = lint_source(source, Path("cached.py"), [rule]).findings
    assert [(f.code, f.start.line) for f in found] == [("BP002", line)]
    notes = " | ".join(e.message for e in found[0].evidence)
    assert "`m` is unpacked from the `m` packed here" in notes
    assert "is a parameter: updated with a step here" in notes
    fixed = source.replace("np.dot(m, g)", "np.dot(m.T, g)")
    assert lint_source(fixed, Path("cached.py"), [rule]).findings == []


HELPER_OBJECT = """
import torch
import torch.nn as nn

class Scorer:
    def probabilities(self, h):
        return torch.softmax(h, dim=1)

    def logits(self, h):
        return h

criterion = nn.CrossEntropyLoss()
scorer = Scorer()
loss = criterion(CALL(net(x)), y)
"""


def test_a_method_called_on_an_object_of_a_local_class_returns_what_the_method_returns() -> None:
    """``scorer.probabilities(...)`` and ``Scorer().probabilities(...)`` run the class's method,
    which returns probabilities: a softmax reaches CrossEntropyLoss (BP405, reported at the
    softmax and at the criterion); through ``logits`` it does not."""
    from linter.engine import lint_source
    from linter.rules import ALL_RULES

    rule = next(r for r in ALL_RULES if r.code == "BP405")
    base = textwrap.dedent(HELPER_OBJECT)
    softmax = base.splitlines().index("        return torch.softmax(h, dim=1)") + 1

    def flagged(call: str) -> set[int]:
        source = base.replace("CALL", call)
        return {f.start.line for f in lint_source(source, Path("loop.py"), [rule]).findings}

    assert softmax in flagged("scorer.probabilities")
    assert softmax in flagged("Scorer().probabilities")
    assert flagged("scorer.logits") == set()


def test_evidence_through_a_recursive_call_ends() -> None:
    """``relay`` passes its own parameter on to itself: the weight evidence follows the
    callers, and the recursive one must not send it round for ever."""
    from linter.analysis.evidence import weight_evidence

    source = CACHED.replace(
        "def train(",
        "def relay(m, n):\n    return m if n == 0 else relay(m, n - 1)\n\ndef train(",
    ).replace("    for _ in range(10):", '    relay(p["u" + str(1)], 3)\n    for _ in range(10):')
    model = _model(source)
    relay = _scope(model, "relay")
    assert model.weight_key(cst.Name("m"), relay) is not None
    notes = [text for _, text in weight_evidence(model, cst.Name("m"), relay)]
    assert any("is passed" in t for t in notes) and any("updated with a step" in t for t in notes)
