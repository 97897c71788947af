"""A finding says why: its evidence (the facts, with their lines) in full text, JSON and SARIF;
formatters print what they are handed and never read the files again."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from linter.config import ConfigResolver
from linter.report import FORMATTERS, Context
from linter.rules import ALL_RULES
from linter.run import lint_paths
from linter.testing import findings_for
from tests.cli_helpers import bplint

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())

# BP002 at line 15: the weight is initialised at 6, used on the layer input at 11, updated at 16;
# the gradient is backward's first parameter (line 13).
LAYER = textwrap.dedent(
    """
    import numpy as np


    class Affine:
        def __init__(self, n_in, n_out):
            self.mat = np.random.randn(n_out, n_in)
            self.offs = np.random.randn(n_out, 1)

        def forward(self, x_in):
            self.x_in = x_in
            return np.dot(self.mat, self.x_in) + self.offs

        def backward(self, out_gradient, learning_rate):
            mat_step = np.dot(out_gradient, self.x_in.T)
            back = np.dot(self.mat, out_gradient)
            self.mat -= learning_rate * mat_step
            self.offs -= learning_rate * out_gradient
            return back
    """
).lstrip()

# BP001 at line 7: W initialised at 4, updated at 8; delta (line 6) is the output minus the data.
SCRIPT = textwrap.dedent(
    """
    import numpy as np

    def backprop(x, y):
        W = np.random.randn(3, 3)
        a = W @ x
        delta = a - y
        back = np.linalg.pinv(W) @ delta
        W -= 0.1 * np.outer(delta, x)
        return back
    """
).lstrip()

LAYER_EVIDENCE = {
    (16, "`self.mat` is a parameter: updated with a step here"),
    (6, "`self.mat` is randomly initialised here"),
    (11, "`self.mat` multiplies the layer's input here"),
    (13, "`out_gradient` is the gradient of the layer's output: the first parameter of `backward`"),
}
SCRIPT_EVIDENCE = {
    (8, "`W` is a parameter: updated with a step here"),
    (4, "`W` is randomly initialised here"),
    (6, "`delta` is the error: the network's output minus the data"),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "layer.py").write_text(LAYER)
    (tmp_path / "script.py").write_text(SCRIPT)
    return tmp_path


def test_json_findings_carry_their_evidence(project):
    r = bplint("check", "--output-format", "json", "layer.py", "script.py", cwd=project)
    found = {(f["code"], f["path"], f["line"]): f for f in json.loads(r.stdout)}
    assert set(found) == {("BP002", "layer.py", 15), ("BP001", "script.py", 7)}
    for (code, _, _), finding in found.items():
        got = {(e["line"], e["message"]) for e in finding["evidence"]}
        assert got == (LAYER_EVIDENCE if code == "BP002" else SCRIPT_EVIDENCE)
        assert all(e["cell"] is None and e["column"] >= 1 for e in finding["evidence"])


def test_sarif_evidence_is_related_locations_and_valid(project):
    r = bplint("check", "--output-format", "sarif", "layer.py", "script.py", cwd=project)
    log = json.loads(r.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    for result in log["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        related = result["relatedLocations"]
        assert [loc["id"] for loc in related] == list(range(len(related)))
        assert {loc["physicalLocation"]["artifactLocation"]["uri"] for loc in related} == {uri}
        got = {
            (loc["physicalLocation"]["region"]["startLine"], loc["message"]["text"])
            for loc in related
        }
        assert got == (LAYER_EVIDENCE if result["ruleId"] == "BP002" else SCRIPT_EVIDENCE)


def test_full_text_shows_one_note_per_fact(project):
    r = bplint("check", "--output-format", "full", "layer.py", cwd=project)
    notes = [line for line in r.stdout.splitlines() if line.startswith("  = note: ")]
    assert notes == [
        "  = note: line 16: `self.mat` is a parameter: updated with a step here",
        "  = note: line 6: `self.mat` is randomly initialised here",
        "  = note: line 11: `self.mat` multiplies the layer's input here",
        "  = note: line 13: `out_gradient` is the gradient of the layer's output: the first "
        "parameter of `backward`",
    ]


def test_formatters_never_read_the_files(project):
    result = lint_paths([project / "layer.py", project / "script.py"], ConfigResolver(project))
    for name in ("layer.py", "script.py"):
        (project / name).write_text("# changed after linting\n")
    ctx = Context(cwd=project, rules=ALL_RULES)
    full = FORMATTERS["full"](result.findings, result.errors, ctx)
    assert "15 |         back = np.dot(self.mat, out_gradient)" in full
    assert "7 |     back = np.linalg.pinv(W) @ delta" in full
    assert "changed after linting" not in full


def test_notebook_evidence_names_its_cell(tmp_path):
    nb = new_notebook()
    nb.cells = [new_code_cell("import numpy as np"), new_code_cell(LAYER)]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    r = bplint("check", "--output-format", "json", "nb.ipynb", cwd=tmp_path)
    (finding,) = json.loads(r.stdout)
    assert finding["cell"] == 1 and finding["line"] == 15
    assert {(e["cell"], e["line"], e["message"]) for e in finding["evidence"]} == {
        (1, line, message) for line, message in LAYER_EVIDENCE
    }


# The unused-noqa rule's finding is its own evidence: the comment it points at. Every other
# rule is held to it (dropping a rule's evidence fails here).
WITHOUT_EVIDENCE = frozenset({"BP900"})
EXAMPLES = [
    pytest.param(rule, i, id=f"{rule.code}-invalid-{i}")
    for rule in ALL_RULES
    if rule.code not in WITHOUT_EVIDENCE
    for i in range(len(rule.invalid))
]


@pytest.mark.parametrize(("rule", "index"), EXAMPLES)
def test_every_finding_says_why(rule, index):
    """Every INVALID example's finding carries the facts that made it one, each on a line of
    the example with a sentence (the metamorphic tests rename these examples; the evidence
    must not be a name alone where the code has structure, but a name is honest evidence where
    it is all there is)."""
    example = rule.invalid[index]
    found = [f for f in findings_for(rule, example) if f.code == rule.code]
    assert found, "the INVALID example has no finding"
    lines = len(example.source.splitlines())
    for f in found:
        assert f.evidence, f"{rule.code} gives no evidence for {f.message!r}"
        for e in f.evidence:
            assert 1 <= e.start.line <= lines, e
            assert e.message.strip(), e


# PyTorch rules whose evidence was once a fragment ("forward pass", "a leaf that requires
# grad"): each fact is a sentence naming the value or statement it is about.
SENTENCE_RULES = ("BP401", "BP411", "BP414", "BP415", "BP416", "BP418", "BP420", "BP421")


@pytest.mark.parametrize(
    ("rule", "index"), [p for p in EXAMPLES if p.values[0].code in SENTENCE_RULES]
)
def test_torch_evidence_is_a_sentence_about_a_named_value(rule, index):
    for f in findings_for(rule, rule.invalid[index]):
        for e in f.evidence:
            text = e.message
            assert text.count("`") >= 2 and len(text.split()) >= 6, text
            assert text.startswith(("`", "this ")), text


def test_loss_pairing_evidence_stays_in_each_file(tmp_path):
    """The softmax in model.py, the criterion and the loss in train.py: each file's finding
    shows the ends in that file (the message names the others)."""
    (tmp_path / "model.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 3)

                def forward(self, x):
                    return torch.softmax(self.fc(x), dim=1)
            """
        ).lstrip()
    )
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn

            from model import Net

            net = Net()
            criterion = nn.CrossEntropyLoss()
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                loss = criterion(net(x), y)
                loss.backward()
                opt.step()
            """
        ).lstrip()
    )
    r = bplint("check", "--output-format", "json", "model.py", "train.py", cwd=tmp_path)
    got = {
        (f["path"], f["line"]): {(e["line"], e["message"]) for e in f["evidence"]}
        for f in json.loads(r.stdout)
        if f["code"] == "BP405"
    }
    in_train = {
        (7, "`nn.CrossEntropyLoss()` makes the criterion here"),
        (11, "`criterion(net(x), y)` computes the loss on the softmax probabilities here"),
    }
    assert got == {
        ("model.py", 11): {
            (11, "`torch.softmax(self.fc(x), dim=1)` gives softmax probabilities here")
        },
        ("train.py", 7): in_train,
        ("train.py", 11): in_train,
    }


def test_order_fault_evidence_names_the_events(tmp_path):
    (tmp_path / "loop.py").write_text(
        textwrap.dedent(
            """
            import torch
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                opt.step()
                loss.backward()
            """
        ).lstrip()
    )
    r = bplint("check", "--output-format", "full", "loop.py", cwd=tmp_path)
    notes = [line for line in r.stdout.splitlines() if line.startswith("  = note: ")]
    assert notes == [
        "  = note: line 4: `opt.zero_grad()` clears the gradients here",
        "  = note: line 7: `loss.backward()` fills them only here, after the step",
    ]
