"""BP4xx: PyTorch — the training loop, the loss pairing, hand-written autograd Functions, modes.

One rule per module; importing the package registers them all. The rules query
``linter.analysis.torch_facts`` (loop events, module output kinds, criteria, Function summaries)
and never walk the tree themselves.
"""

from linter.rules.bp4_torch import (  # noqa: F401  (importing registers the rules)
    bp401_gradients_never_cleared,
    bp402_step_before_backward,
    bp403_zero_grad_between_backward_and_step,
    bp404_loss_kept_across_iterations,
    bp405_probabilities_into_cross_entropy,
    bp406_sigmoid_into_bce_with_logits,
    bp407_nll_loss_without_log_softmax,
)
