"""Qualified names of library callables, and the name patterns used only as tie-breakers.

Roles come from data flow first (``model.py``); these patterns decide only when the flow says
nothing, and they are deliberately narrow.
"""

from __future__ import annotations

import re

NUMPY_PREFIXES = ("numpy.", "scipy.", "torch.", "jax.numpy.", "cupy.")

INVERSE = frozenset(
    {
        "numpy.linalg.inv",
        "numpy.linalg.pinv",
        "numpy.linalg.tensorinv",
        "scipy.linalg.inv",
        "scipy.linalg.pinv",
        "scipy.linalg.pinvh",
        "torch.inverse",
        "torch.linalg.inv",
        "torch.linalg.pinv",
        "torch.pinverse",
        "jax.numpy.linalg.inv",
        "jax.numpy.linalg.pinv",
        "cupy.linalg.inv",
        "cupy.linalg.pinv",
    }
)
SOLVE = frozenset(
    {
        "numpy.linalg.solve",
        "numpy.linalg.lstsq",
        "scipy.linalg.solve",
        "scipy.linalg.lstsq",
        "torch.linalg.solve",
        "torch.linalg.lstsq",
        "torch.solve",
        "jax.numpy.linalg.solve",
    }
)
INVERSE_METHODS = frozenset({"inverse", "pinverse", "inv", "pinv"})

MATMUL = frozenset(
    {
        "numpy.dot",
        "numpy.matmul",
        "numpy.inner",
        "torch.matmul",
        "torch.mm",
        "torch.bmm",
        "jax.numpy.dot",
        "jax.numpy.matmul",
        "cupy.dot",
        "cupy.matmul",
    }
)
MATMUL_METHODS = frozenset({"dot", "matmul", "mm"})
TRANSPOSE = frozenset({"numpy.transpose", "torch.t", "jax.numpy.transpose", "cupy.transpose"})
TRANSPOSE_METHODS = frozenset({"transpose", "t"})
TRANSPOSE_ATTRS = frozenset({"T", "mT"})

RANDOM_INIT = frozenset(
    {
        "numpy.random.randn",
        "numpy.random.rand",
        "numpy.random.normal",
        "numpy.random.uniform",
        "numpy.random.random",
        "numpy.random.random_sample",
        "numpy.random.standard_normal",
        "torch.randn",
        "torch.rand",
        "torch.empty",
        "torch.nn.init.xavier_uniform_",
        "torch.nn.init.kaiming_normal_",
    }
)
RANDOM_METHODS = frozenset(
    {"randn", "rand", "normal", "uniform", "standard_normal", "random", "random_sample"}
)
CONST_INIT = frozenset(
    {"numpy.zeros", "numpy.ones", "numpy.full", "torch.zeros", "torch.ones", "torch.full"}
)

ACTIVATIONS = {
    "numpy.tanh": "tanh",
    "math.tanh": "tanh",
    "torch.tanh": "tanh",
    "torch.sigmoid": "sigmoid",
    "scipy.special.expit": "sigmoid",
    "torch.relu": "relu",
    "torch.nn.functional.relu": "relu",
    "torch.nn.functional.sigmoid": "sigmoid",
    "torch.nn.functional.softmax": "softmax",
    "torch.softmax": "softmax",
    "scipy.special.softmax": "softmax",
    "jax.nn.softmax": "softmax",
    "jax.nn.sigmoid": "sigmoid",
    "jax.nn.relu": "relu",
}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


GRAD_NAME = _rx(
    r"^(delta\w*|\w*_delta|grads?(_\w+)?|\w+_grads?|gradient\w*|nabla\w*|upstream\w*|"
    r"d(out|y|z|a|h|x|s|o|p|c|l|e)\d*(_\w+)?|d[A-Z]\w*|d_\w+|dL\w*|dC\w*|dE\w*|dloss\w*|"
    r"dscores?|dprobs?|dlogits?|dhidden\w*|doutput\w*|err(or)?s?(_\w+)?|\w+_err(or)?s?|"
    r"grad_output|grad_out|g_out)$"
)
TARGET_NAME = _rx(
    r"^(y|Y|t|targets?|labels?|y_(true|train|batch|onehot|one_hot|target|gt|label|val)\w*|"
    r"Y_\w+|yb|yt|y_|expected\w*|desired\w*|truth|ground_truth|onehot\w*|one_hot\w*)$"
)
WEIGHT_NAME = _rx(
    r"^(W|w|W_?\d+|w_?\d+|W[a-z]{1,3}\d*|w[ihoxy]{1,2}\d*|W_\w+|w_\w+|weights?\w*|\w+_weights?|kernel\w*|"
    r"theta\d*|syn\d+|V|U)$"
)
BIAS_NAME = _rx(r"^(b|b_?\d+|b[a-z]{1,2}|b_\w+|bias\w*|\w+_bias(es)?)$")
# A helper function named as an activation's derivative (``sigmoid_prime``, ``dsigmoid``,
# ``relu_derivative``, ``tanh_deriv``, ``act_prime``): function names are structure, kept when
# locals are renamed. Both an activation and a derivative marker must be in the name.
_ACT_STEM = (
    r"(sigmoid|sigm|sig|logistic|tanh|relu|lrelu|leaky_?relu|elu|selu|softplus|swish|gelu|"
    r"act|activation|activ|nonlin|nonlinearity)"
)
_DERIV_MARK = r"(prime|derivative|deriv|der|grad|gradient)"
DERIVATIVE_HELPER = re.compile(
    rf"^_?(d_?{_ACT_STEM}|{_ACT_STEM}_?{_DERIV_MARK}|{_DERIV_MARK}_?(of_)?{_ACT_STEM})$",
    re.IGNORECASE,
)
BACKWARD_FUNC = _rx(r"(backward|backprop|bprop|back_prop|bptt|_grad$|^grad_|gradient|_backward)")


def last_part(key: str) -> str:
    """``self.weights[]`` -> ``weights``; ``params['W1']`` -> ``W1``; ``Net.W2`` -> ``W2``."""
    if key.endswith(("']", '"]')):
        return key.rsplit("[", 1)[1][1:-2]
    return key.rstrip("[]").rsplit(".", 1)[-1].rstrip("[]")


WEIGHT_GRAD_NAME = _rx(
    r"^(d_?W\w*|dw\d*|d_?w_\w+|nabla_?w\w*|grads?_?[Ww]\w*|delta_?w\w*|dweights?\w*|"
    r"[Ww]\d*_grad|weights?_grads?|d[A-Z]?[Ww][a-z]{1,3}\d*)$"
)
BIAS_GRAD_NAME = _rx(
    r"^(d_?b\w*|nabla_?b\w*|grads?_?b\w*|delta_?b\w*|dbias\w*|b\d*_grad|bias(es)?_grads?)$"
)
BATCH_SIZE_NAME = _rx(r"^(m|N|n|batch_size|n_samples|num_examples|num_samples|n_examples|bs)$")
STEP_NAME = _rx(r"^(h|eps|epsilon|delta|step|step_size|dx|h_step|perturbation)$")


def target_label(target: object) -> str | None:
    """The name a gradient is stored under: ``nabla_w[-l]`` -> nabla_w, ``grads['W1']`` -> W1
    with its container (``grads['W1']`` -> "grads:W1")."""
    import libcst as cst

    from linter.analysis.exprs import dotted

    if isinstance(target, cst.Subscript):
        idx = target.slice[0].slice if target.slice else None
        base = dotted(target.value) or ""
        if isinstance(idx, cst.Index) and isinstance(idx.value, cst.SimpleString):
            return f"{base.rsplit('.', 1)[-1]}:{idx.value.evaluated_value}"
        return base.rsplit(".", 1)[-1] or None
    name = dotted(target)  # type: ignore[arg-type]
    return name.rsplit(".", 1)[-1] if name else None


# Methods of arrays, tensors, containers, strings, files and common library objects: a call
# ``x.name(...)`` on an object of unknown class is never resolved to a method of that name
# defined in the module (``ModuleModel._unique_method``).
LIBRARY_METHODS = frozenset(
    {
        "T", "all", "any", "append", "argmax", "argmin", "astype", "clear", "clip", "close",
        "copy", "count", "cumsum", "decode", "detach", "dot", "encode", "extend", "fill",
        "fit", "flatten", "format", "get", "index", "insert", "item", "items", "join", "keys",
        "load", "max", "mean", "min", "numpy", "pop", "predict", "prod", "ravel", "read",
        "remove", "repeat", "replace", "reshape", "reverse", "round", "run", "save", "score",
        "setdefault", "sort", "split", "squeeze", "std", "strip", "sum", "swapaxes", "take",
        "tolist", "transform", "transpose", "update", "values", "var", "view", "write",
    }
)  # fmt: skip
# torch methods that custom classes also define (``loss.backward()`` is a tensor's)
TORCH_METHODS = frozenset(
    {
        "apply", "backward", "cpu", "cuda", "eval", "forward", "parameters", "step", "to",
        "train", "zero_grad",
    }
)  # fmt: skip
