"""The cheap pass that decides which files reach libcst: regular expressions over the text.

Each rule declares what its query needs to see (``Rule.prefilter``): a tuple of markers, all of
which must occur in the text for the rule to possibly fire (a marker is a regular expression,
usually an alternation: "a matrix product", "an inverse or a solve"). A rule that declares
nothing gets ``BASE`` (the array libraries and backprop words). A file is parsed when at least
one selected rule could fire on it; every distinct marker is searched at most once per file.

A marker must be a necessary condition, never a guess: it names the library calls, operators or
name shapes the rule's query tests, generously (``inv`` also matches ``invoke``; that costs a
parse, not a finding). The test suite checks every rule's INVALID examples and the zoo's mutants
pass their rule's markers, and the benchmark compares findings with the pre-filter on and off
over a public corpus.

Known limit: a matrix product written as ``@`` at the very start of a continuation line, with
no space after it (``(a\\n@b)``), is not seen as one (it looks like a decorator).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar, Union

if TYPE_CHECKING:
    from linter.rule import Rule
    from linter.rule_index import RuleInfo

# a rule class, or its index entry (``linter.rule_index``): both have ``prefilter``
RuleLike = Union["type[Rule]", "RuleInfo"]
R = TypeVar("R", bound=RuleLike)

# Words without which a file cannot contain the code any rule looks at (``np.`` and ``F.``: the
# analysis reads the conventional aliases even where the import is not in the file).
BASE = (
    r"\b(?:numpy|torch|scipy|jax|cupy)\b|(?<![\w.])(?:np|F)\.|backward\s*\(|_backward"
    r"|backward_prop|backprop|\bsigmoid|\bsoftmax|\brelu"
)
# ``a @ b``, ``a @= b``, ``np.dot``/``x.dot``, ``matmul``, ``mm``, ``bmm``, ``inner``; a
# decorator's ``@`` (first on its line, a name right after it) is not a product.
MATMUL = r"[\w)\]}'\"][ \t]*@|^[ \t]*@[ \t(]|\b(?:dot|matmul|mm|bmm|inner)\b"
OUTER = r"\bouter\b"
INVERSE = r"inv|solve|lstsq"  # inv, pinv, inverse, pinverse, tensorinv, pinvh
SOLVE = r"solve|lstsq"
# what a derivative formula or helper is written with: 1 - x (σ′, tanh′), a comparison with 0
# (the ReLU step), heaviside, or a helper imported from a sibling module under a helper-like
# name (``from acts import sigmoid_prime``; a helper defined here shows its formula)
ONE_MINUS = r"(?<![\w.])1(?:\.0*)?\s*-(?!=)"
STEP = r">=?\s*0(?:\.0*)?(?![\w.])|heaviside"
_HELPER_WORDS = (
    r"(?:(?i:sigm|tanh|relu|softmax|logistic|expit|prime|deriv|grad|activ|jacobian)|\bd_?[a-z])"
)
HELPER_IMPORT = (
    rf"^[ \t]*from[ \t]+[\w.]+[ \t]+import[ \t]+[^#\n(]*{_HELPER_WORDS}"
    rf"|^[ \t]*from[ \t]+[\w.]+[ \t]+import[ \t]*\([^)]*{_HELPER_WORDS}"
)
DERIVATIVE = f"{ONE_MINUS}|{STEP}|{HELPER_IMPORT}"
# x(1 − x) expanded (``x - x**2``, ``x - np.square(x)``) or built over statements (``dx -= ...``)
EXPANDED_POLY = r"\*\*\s*2\b|square|power|-="
RELU_FORM = rf"maximum|clip|clamp|relu|{STEP}|{HELPER_IMPORT}"
EXP = r"\bexp\b|expit|sigmoid|softmax|logistic|logsumexp"
LOG = r"\blog"
CONST_INIT = r"zeros|ones|full"
DIVIDE = r"/"
GRADIENT_CHECK = r"(?i:grad|check|numer|finite|approx|estimate|\bd\w*_d\w+)|\]\s*=|\.append\b"
# names a weight gradient is stored under when the update is made elsewhere (WEIGHT_GRAD_NAME, or
# grads['W1'] read as dW1); otherwise the store is found from the update (``UPDATE``)
WEIGHT_GRAD = (
    r"\bd_?[A-Z]?[Ww]|\bd_?w|nabla_?w|\bgrads?_?[Ww]|delta_?w|[Ww]\d*_grad|weights?_grad"
    r"|['\"]_?[A-Z]?[Ww]"
)
# names a bias gradient is stored under (BIAS_GRAD_NAME, or grads['b1'] read as db1)
BIAS_GRAD = r"\bd_?b|nabla_?b|\bgrads?_?b|delta_?b|\bb\d*_grad|bias(?:es)?_grad|['\"]_?b"
GRAD_ATTR = r"\.grad\b"
# Where the analysis gets a gradient from at all (``Role.GRAD`` is derived from these only): a
# name in a function named for backprop, ``dscores[range(N), y] -= 1``, or a target (``y``,
# ``targets``, ``labels``...) subtracted from an output.
GRAD = (
    r"(?:def|class)\s+(?:\w*(?:backward|backprop|bprop|back_prop|bptt|gradient)|\w*_grad\b|grad_)"
    r"|-=\s*1\b"
    r"|\b(?:y|Y|t|targets?|labels?|y_\w*|Y_\w+|yb|yt|expected\w*|desired\w*|truth|ground_truth"
    r"|onehot\w*|one_hot\w*)\b"
)
# a parameter update: ``-=``/``+=`` (but not of an integer), ``w = w - step``, or a list
# comprehension ``[w - eta * nw for ...]``
UPDATE = (
    r"[-+]=(?![ \t]*\d+[ \t]*(?:#|$))"  # W -= lr * g, W -= step (not a counter: i += 1)
    r"|(?P<updated>[\w.]+(?:\[[^\]\n]*\])?)[ \t]*=[ \t]*(?P=updated)[ \t]*[-+]"  # W = W - g
    r"|\[[ \t]*[\w.]+[ \t]*[-+][^\]]*\bfor\b"  # [w - eta * nw for w, nw in ...]
)
# a literal step 0 < h < 0.1 (``1e-5``, ``0.001``, ``.01``)
SMALL_NUMBER = r"\d[eE]-\s*\d|(?<![\w.])0*\.0"
# PyTorch training loops and losses (BP4xx): the optimizer step, backward, the loss
OPTIMIZER_STEP = r"\.step\s*\("
BACKWARD_CALL = r"backward"
# An end of a loss-pairing defect (BP405-BP407): the criterion, or what makes the output (an
# activation, a linear or convolution layer, a product). The defect may be completed in another
# file, so a model file without the loss's name is read too. Known limit: a loss call whose
# criterion and input both arrive as parameters, in a file naming neither, is not an end here
# (it is still reported at the ends in the other files).
PAIRING_END = (
    r"(?i:cross_?entropy|nll|with_?logits|softmax|sigmoid|expit|linear|conv)|matmul|\bb?mm\b"
)
AUTOGRAD_FUNCTION = r"Function"  # a class based on torch.autograd.Function
# a method or function that returns a loss's gradient, by the conventions ``lossgrad`` pairs
LOSS_BACKWARD = r"def[ \t]+\w*(?:backward|grad|deriv|prime|delta|backprop|dloss|bwd)"
# a layer's backward method or function, by the conventions ``actgrad`` pairs
LAYER_BACKWARD = r"def[ \t]+\w*(?:backward|backprop|bprop|bwd|_input_grad)"
DROPOUT = r"(?i:dropout)"
# a uniform or Bernoulli draw a dropout mask is made of
UNIFORM_DRAW = r"rand|random|uniform|binomial"
# a number stored into a subscript: ``W[:, 0] = 0``, ``theta[0] = -1.0``
CONST_STORE = r"\][ \t]*=[ \t(]*[-+]?[ \t]*\.?\d"
EVAL_BLOCK = r"no_grad|inference_mode"
MODE_LAYER = r"(?i:dropout|batchnorm|instancenorm)"
NOQA_CODE = r"(?i:noqa[^\n]*?\b(?:BP\d{3}|[a-z]+-[a-z-]+))"


@lru_cache(maxsize=256)
def _compile(marker: str) -> re.Pattern[str]:
    return re.compile(marker, re.MULTILINE)


def markers_of(rule: RuleLike) -> tuple[str, ...]:
    declared = getattr(rule, "prefilter", None)
    return tuple(declared) if declared else (BASE,)


@lru_cache(maxsize=64)
def _plan(rules: tuple[RuleLike, ...]) -> tuple[tuple[str, ...], ...]:
    """One conjunction of markers per rule, duplicates dropped, cheapest first."""
    return tuple(sorted({markers_of(r) for r in rules}, key=lambda c: (len(c), c)))


def could_fire(text: str, rules: Sequence[RuleLike]) -> bool:
    """True if some rule's markers all occur in ``text`` (then the file is parsed). A marker is
    compiled when it is first searched: a file that passes stops at the first rule it passes
    (a one-file run compiles a few of the ~50 markers, not all)."""
    seen: dict[str, bool] = {}
    for conjunction in _plan(tuple(rules)):
        for marker in conjunction:
            hit = seen.get(marker)
            if hit is None:
                hit = seen[marker] = _compile(marker).search(text) is not None
            if not hit:
                break
        else:
            return True
    return False


@lru_cache(maxsize=512)
def _conjunction(rule: RuleLike) -> tuple[re.Pattern[str], ...]:
    return tuple(_compile(m) for m in markers_of(rule))


def rules_that_could_fire(text: str, rules: Sequence[R]) -> list[R]:
    """The rules whose markers all occur in ``text``, in their order: the engine runs only
    these on a parsed file. Every distinct marker is searched at most once."""
    seen: dict[re.Pattern[str], bool] = {}
    out = []
    for rule in rules:
        for pattern in _conjunction(rule):
            hit = seen.get(pattern)
            if hit is None:
                hit = seen[pattern] = pattern.search(text) is not None
            if not hit:
                break
        else:
            out.append(rule)
    return out


# a loop over time steps that sums into zero-initialised arrays (BPTT, BP6xx)
TIME_LOOP = r"\bfor\b[^\n]*\brange\b"
ZEROS = r"\bzeros"
# batch statistics and a square root or standard deviation (batch norm, BP7xx)
BATCH_MEAN = r"\bmean\b"
ROOT = r"\bsqrt\b|\bstd\b"
CLASS = r"\bclass\b"
