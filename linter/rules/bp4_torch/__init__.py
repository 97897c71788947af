"""BP4xx: PyTorch — the training loop, the loss pairing, hand-written autograd Functions, modes.

One rule per module; the registry imports every module of this package. The rules query
``linter.analysis.torch_facts`` (loop events, module output kinds, criteria, Function summaries)
and never walk the tree themselves."""
