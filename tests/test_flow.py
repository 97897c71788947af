"""Which bindings a read of a name sees: ``ModuleModel.reaching``.

A binding in one arm of an ``if`` does not reach a read in the other arm (nor, with a test over
unchanging names, a read in the opposite arm of a second ``if`` on the same test, nor what
follows an ``if`` whose arm returns); a loop around the ``if`` carries it round unless a plain
rebinding comes first. A comprehension's or lambda's own variable is its own.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from linter.analysis import analyze
from linter.analysis.model import ModuleModel
from linter.analysis.treewalk import walk


def _reads(source: str, name: str) -> tuple[ModuleModel, list[cst.Name]]:
    module = cst.parse_module(textwrap.dedent(source))
    model = analyze(module)
    found: list[cst.Name] = []

    class _V(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            if node.value == name:
                found.append(node)

    walk(module, _V())
    return model, found


def _seen(source: str, name: str, use: int) -> list[str]:
    """The values (as source) of the bindings the ``use``-th occurrence of ``name`` sees."""
    model, names = _reads(source, name)
    node = names[use]
    read = model.c.reads.get(node)
    assert read is not None, "the read is inside an if arm"
    return [model.src(b.value) for b in model.bindings_at(node, read.scope) if b.value]


def test_the_other_arm_of_an_if_is_not_seen() -> None:
    src = """
    def grad(z, g, multiclass):
        if multiclass:
            p = softmax(z)
            return p * g
        else:
            p = sigmoid(z)
            return p * (1 - p) * g
    """
    assert _seen(src, "p", 1) == ["softmax(z)"]  # `return p * g`
    assert _seen(src, "p", 3) == ["sigmoid(z)"]  # the first p of the else arm's return


def test_after_the_if_both_arms_are_seen() -> None:
    src = """
    def grad(z, g, multiclass):
        if multiclass:
            p = softmax(z)
        else:
            p = sigmoid(z)
        if g is not None:
            return p * (1 - p) * g
    """
    assert _seen(src, "p", 2) == ["softmax(z)", "sigmoid(z)"]


def test_a_loop_carries_a_binding_to_the_other_arm() -> None:
    src = """
    def grad(z, g):
        for step in range(3):
            if step == 0:
                p = softmax(z)
            else:
                d = p * (1 - p) * g
    """
    assert _seen(src, "p", 1) == ["softmax(z)"]


def test_unless_a_rebinding_in_the_loop_comes_first() -> None:
    src = """
    def grad(z, g, multiclass):
        for step in range(3):
            if multiclass:
                p = softmax(z)
            else:
                p = sigmoid(z)
                d = p * (1 - p) * g
    """
    assert _seen(src, "p", 2) == ["sigmoid(z)"]


def test_two_ifs_on_one_unchanging_test() -> None:
    src = """
    def grad(z, g, multiclass):
        if multiclass:
            p = softmax(z)
        else:
            p = sigmoid(z)
        if not multiclass:
            return p * (1 - p) * g
        return p * g
    """
    assert _seen(src, "p", 2) == ["sigmoid(z)"]
    assert _seen(src, "p", 4) == ["softmax(z)"]  # after `if not multiclass: return`


def test_a_test_that_changes_in_between_is_not_trusted() -> None:
    src = """
    def grad(z, g, multiclass):
        if multiclass:
            p = softmax(z)
        else:
            p = sigmoid(z)
        multiclass = g is None
        if not multiclass:
            return p * (1 - p) * g
    """
    assert _seen(src, "p", 2) == ["softmax(z)", "sigmoid(z)"]


def test_a_comprehension_variable_is_its_own() -> None:
    src = """
    def grad(z, gs, gates):
        p = softmax(z)
        return [g * p * (1 - p) for g, p in zip(gs, gates)]
    """
    model, names = _reads(src, "p")
    inner = names[1]  # `g * p` in the comprehension
    assert inner in model.c.comp_reads
    assert model.src(model.c.comp_reads[inner].value) == "zip(gs, gates)"
    assert names[0] not in model.c.comp_reads  # the function's own binding target


def test_the_outermost_iterable_is_read_outside() -> None:
    src = """
    def f(p):
        return [p * 2 for p in p]
    """
    model, names = _reads(src, "p")
    # def f(p) / p * 2 / for p / in p
    assert names[1] in model.c.comp_reads
    assert names[3] not in model.c.comp_reads


def test_a_lambda_parameter_shadows_a_comprehension_variable() -> None:
    src = """
    fs = [lambda p: p * (1 - p) for p in probs]
    """
    model, names = _reads(src, "p")
    assert not any(n in model.c.comp_reads for n in names[:3])  # the lambda's p


def test_a_per_name_answer_is_kept_per_reaching_set() -> None:
    """A question answered once per name (``per_name``) is asked apart for a read that only
    some bindings reach: the softmax arm's answer is not the sigmoid arm's."""
    from linter.analysis.coupling import coupled_output

    src = """
    def grad(z, g, multiclass):
        if multiclass:
            p = softmax(z)
            return p * g
        else:
            p = 1 / (1 + np.exp(-z))
            return p * (1 - p) * g
    """
    model, names = _reads(src, "p")
    scope = model.c.reads[names[1]].scope
    assert coupled_output(model, names[1], scope)
    assert not coupled_output(model, names[3], scope)
    assert model.activation_kind(names[1], scope) is not model.activation_kind(names[3], scope)
