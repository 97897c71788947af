"""Closed-world facts about classes: an attribute every instance holds with one value, and a
method call on an object of unknown class resolved to the one class that defines it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from linter.analysis import analyze

LAYER = """
import numpy as np

class Layer:
    def __init__(self, n, activation="tanh"):
        self.W = np.random.randn(n, n)
        self.activation = activation

    def derivative(self, r):
        if self.activation == "sigmoid":
            return r * (1 - r)
        return 1 - r**2
"""


def _model(tail: str, torch: bool = False):
    text = ("import torch\n" if torch else "") + LAYER + textwrap.dedent(tail)
    return analyze(cst.parse_module(text), Path("m.py"))


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("a = Layer(2, 'sigmoid')\nb = Layer(3, activation='sigmoid')\n", ("sigmoid",)),
        ("a = Layer(2)\nb = Layer(3, 'tanh')\n", ("tanh",)),  # the default is a value too
        ("a = Layer(2, 'sigmoid')\nb = Layer(3, 'relu')\n", None),  # two values
        ("a = Layer(2, 'sigmoid')\na.activation = 'relu'\n", None),  # changed from outside
        ("a = Layer(2, name)\n", None),  # not a constant
        ("a = Layer(2, *args)\n", None),
        ("class Out(Layer):\n    pass\n\na = Layer(2, 'sigmoid')\n", None),  # a subclass
        ("", None),  # never built here: unknown
    ],
)
def test_attribute_constant(tail: str, expected: tuple[str] | None) -> None:
    assert _model(tail).attribute_constant("Layer", "activation") == expected


def test_switched_method_reads_the_branch_of_the_constant() -> None:
    model = _model("a = Layer(2, 'sigmoid')\n")
    fn = next(s for s in model.c.scopes if s.name == "derivative")
    assert model.src(model.forms.switched_return(fn)) == "r * (1 - r)"
    model = _model("a = Layer(2, 'tanh')\n")
    fn = next(s for s in model.c.scopes if s.name == "derivative")
    assert model.src(model.forms.switched_return(fn)) == "1 - r**2"  # the fall-through
    model = _model("a = Layer(2, 'tanh')\nb = Layer(2, 'sigmoid')\n")
    fn = next(s for s in model.c.scopes if s.name == "derivative")
    assert model.forms.switched_return(fn) is None


def _resolved(model, call_text: str):
    call = cst.parse_expression(call_text)
    assert isinstance(call, cst.Call)
    found = model.local_function(call.func, model.c.module_scope)
    return found.qualname() if found is not None else None


def test_method_of_an_unknown_object_resolves_to_the_one_class_defining_it() -> None:
    model = _model("a = Layer(2, 'sigmoid')\n")
    assert _resolved(model, "layer.derivative(z)") == "Layer.derivative"
    assert _resolved(model, "x.reshape(3)") is None  # a library method name


def test_two_classes_defining_the_method_leave_it_unresolved() -> None:
    model = _model("class Other:\n    def derivative(self, r):\n        return r\n")
    assert _resolved(model, "layer.derivative(z)") is None


def test_torch_method_names_are_the_tensors_in_a_torch_module() -> None:
    tail = "class Fn:\n    def backward(self, g):\n        return g\n"
    assert _resolved(_model(tail), "loss.backward(g)") == "Fn.backward"
    assert _resolved(_model(tail, torch=True), "loss.backward()") is None
