"""Mutation operators: each one turns a correct zoo network into a cargo-culted one.

A mutant is plain data: in file ``path`` (relative to ``networks/``) of ``network``, the exact
substring ``old`` (which must occur exactly once) is replaced once by ``new``. ``code`` is the
bplint rule that must flag the result, at ``line_of(mutant)``: the first line of the mutated
file that differs from the original. Mutations are written so that this line is where the
mistake is visible (the ``np.exp`` whose shift was dropped, the update moved ahead of the
propagation, the inserted ``*= p * (1 - p)``, ...).

How each mutant is checked numerically depends on its code (``numeric_kind``): most must fail
the gradient check that the original passes; constant initialisation must keep hidden units
identical; the softmax numerics mutants must overflow where the original stays finite; the
one-sided difference must make the network's own gradient check less accurate.

Importing this module has no side effects and needs only the standard library.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .sources import NETWORKS_DIR, network_files, read_sources, write_sources


@dataclass(frozen=True)
class Mutant:
    network: str
    path: str
    code: str
    description: str
    old: str
    new: str
    at: str = ""  # where the finding belongs when not on the first changed line (a deleted
    # zero_grad is reported at the step it leaves uncleared): a substring of one mutated line
    companions: tuple[str, ...] = ()  # codes that report the other end of the same defect
    # (retain_graph=True kept a graph that a later backward walks: BP416 and BP415)

    @property
    def numeric_kind(self) -> str:
        """gradient | symmetry | large_logits | own_gradcheck | dropout_mean (see
        ``NUMERIC_KINDS``); "torch"
        for the PyTorch mutants (their claim is measured by the rule's KB numeric test)."""
        if self.code.startswith("BP4") or self.network.startswith("torch/"):
            return "torch"
        return NUMERIC_KINDS.get(self.code, "gradient")


# Codes whose mutants are not wrong gradients, and the probe that shows what they break.
NUMERIC_KINDS = {
    "BP303": "symmetry",
    "BP501": "large_logits",
    "BP502": "large_logits",
    "BP503": "own_gradcheck",
    "BP107": "dropout_mean",
}


def _m(
    network: str,
    code: str,
    description: str,
    old: str,
    new: str,
    path: str = "",
    at: str = "",
    companions: tuple[str, ...] = (),
) -> Mutant:
    return Mutant(network, path or f"{network}.py", code, description, old, new, at, companions)


TORCH_MUTANTS: tuple[Mutant, ...] = (
    # --- torch/mlp_classifier ----------------------------------------------------------------
    _m("torch/mlp_classifier", "BP401", "zero_grad() deleted from the loop",
       "            optimizer.zero_grad()\n            logits", "            logits",
       at="optimizer.step()"),
    _m("torch/mlp_classifier", "BP421", "optimizer.step() replaced by a loop that rebinds p",
       "            optimizer.step()\n",
       "            for p in model.parameters():\n                p = p - 0.1 * p.grad\n",
       at="p = p - 0.1 * p.grad"),
    _m("torch/mlp_classifier", "BP402", "step() moved above backward()",
       "            loss.backward()\n            optimizer.step()\n",
       "            optimizer.step()\n            loss.backward()\n"),
    _m("torch/mlp_classifier", "BP403", "zero_grad() moved between backward() and step()",
       "            optimizer.zero_grad()\n            logits = model(x)\n"
       "            loss = criterion(logits, y)\n            loss.backward()\n",
       "            logits = model(x)\n            loss = criterion(logits, y)\n"
       "            loss.backward()\n            optimizer.zero_grad()\n",
       at="optimizer.zero_grad()"),
    _m("torch/mlp_classifier", "BP404", "running loss keeps the tensor",
       "running += loss.item()", "running += loss"),
    _m("torch/mlp_classifier", "BP405", "forward ends in softmax before CrossEntropyLoss",
       "        return self.out(h)", "        return torch.softmax(self.out(h), dim=1)"),
    _m("torch/mlp_classifier", "BP411", "model.eval() dropped before the no_grad evaluation",
       "    model.eval()\n", "", at="with torch.no_grad():"),
    _m("torch/mlp_classifier", "BP414", "evaluate() no longer switches back to train mode",
       "    model.train()\n    return correct", "    return correct",
       at="evaluate(model, batches))"),
    _m("torch/mlp_classifier", "BP412", "dropout layer built inside forward",
       "h = self.drop(h)", "h = nn.Dropout(0.2)(h)"),
    # --- torch/gan_loop ------------------------------------------------------------------------
    _m("torch/gan_loop", "BP401", "the generator's zero_grad() deleted",
       "    opt_g.zero_grad()\n", "", at="opt_g.step()"),
    _m("torch/gan_loop", "BP402", "the discriminator steps before its backward()",
       "    d_loss.backward()\n    opt_d.step()\n", "    opt_d.step()\n    d_loss.backward()\n"),
    _m("torch/gan_loop", "BP406", "the discriminator ends in nn.Sigmoid, the loss stays with-logits",
       "nn.LeakyReLU(0.2), nn.Linear(16, 1))", "nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())"),
    _m("torch/gan_loop", "BP415", "G's loss reuses D's output from before D's step",
       "    d_fake = discriminator(fake.detach())\n"
       "    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))\n"
       "    d_loss.backward()\n    opt_d.step()\n\n    opt_g.zero_grad()\n"
       "    scores = discriminator(fake)\n",
       "    d_fake = discriminator(fake)\n"
       "    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))\n"
       "    d_loss.backward()\n    opt_d.step()\n\n    opt_g.zero_grad()\n"
       "    scores = d_fake\n",
       at="g_loss.backward()"),
    _m("torch/gan_loop", "BP416", "retain_graph=True keeps D's graph for G's later backward",
       "    d_fake = discriminator(fake.detach())\n"
       "    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))\n"
       "    d_loss.backward()\n    opt_d.step()\n\n    opt_g.zero_grad()\n"
       "    scores = discriminator(fake)\n",
       "    d_fake = discriminator(fake)\n"
       "    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))\n"
       "    d_loss.backward(retain_graph=True)\n    opt_d.step()\n\n    opt_g.zero_grad()\n"
       "    scores = d_fake\n",
       at="retain_graph=True", companions=("BP415",)),
    # --- torch/accum_trainer -------------------------------------------------------------------
    _m("torch/accum_trainer", "BP401", "zero_grad() after the accumulated step deleted",
       "                    self.optimizer.zero_grad()\n", "", at="self.optimizer.step()"),
    _m("torch/accum_trainer", "BP403", "zero_grad() moved before the accumulated step",
       "                    self.optimizer.step()\n                    self.optimizer.zero_grad()\n",
       "                    self.optimizer.zero_grad()\n                    self.optimizer.step()\n"),
    _m("torch/accum_trainer", "BP404", "running loss keeps the tensor",
       "running += loss.detach()", "running += loss"),
    _m("torch/accum_trainer", "BP502", "log of the softmax instead of log_softmax",
       "        return F.log_softmax(self.fc(h), dim=1)",
       "        return torch.log(F.softmax(self.fc(h), dim=1))"),
    _m("torch/quantized_net", "BP502", "cross_entropy spelt as NLL of the log of the softmax",
       "        loss = F.cross_entropy(model(x), y)",
       "        loss = F.nll_loss(torch.log(F.softmax(model(x), dim=1)), y)"),
    _m("torch/accum_trainer", "BP418", "the accumulated loss no longer divided by the count",
       "loss = F.nll_loss(out, labels) / self.accumulate", "loss = F.nll_loss(out, labels)",
       at="loss.backward()"),
    _m("torch/accum_trainer", "BP407", "log_softmax dropped before NLLLoss",
       "return F.log_softmax(self.fc(h), dim=1)", "return F.softmax(self.fc(h), dim=1)"),
    # --- torch/amp_accum -----------------------------------------------------------------------
    _m("torch/amp_accum", "BP418", "the loss scaled for fp16 but not divided by the count",
       "scaler.scale(loss / ACCUM_STEPS).backward()", "scaler.scale(loss).backward()"),
    _m("torch/amp_accum", "BP401", "zero_grad() after the accumulated step deleted",
       "            opt.zero_grad(set_to_none=True)\n", "", at="scaler.step(opt)"),
    # --- torch/binary_logreg -------------------------------------------------------------------
    _m("torch/binary_logreg", "BP402", "step() moved above backward()",
       "        loss.backward()\n        opt.step()\n", "        opt.step()\n        loss.backward()\n"),
    _m("torch/binary_logreg", "BP406", "sigmoid in forward, loss stays with-logits",
       "return self.linear(x).squeeze(1)", "return torch.sigmoid(self.linear(x)).squeeze(1)"),
    # --- torch/split_pkg -----------------------------------------------------------------------
    _m("torch/split_pkg", "BP405", "softmax applied to the imported model's scores",
       "out = net(x)", "out = torch.softmax(net(x), dim=1)", "torch/split_pkg/train.py"),
    _m("torch/split_pkg", "BP405", "the model's Sequential ends in softmax; train.py's loss stays",
       "            nn.Linear(32, n_classes),\n", "            nn.Linear(32, n_classes), nn.Softmax(dim=1),\n",
       "torch/split_pkg/model.py", at="nn.Softmax(dim=1)"),
    _m("torch/split_pkg", "BP407", "nll_loss on the imported model's raw scores",
       "loss = F.cross_entropy(out, y)", "loss = F.nll_loss(out, y)", "torch/split_pkg/train.py"),
    _m("torch/split_pkg", "BP403", "zero_grad() moved between backward() and step()",
       "            optimizer.zero_grad()\n            loss.backward()\n",
       "            loss.backward()\n            optimizer.zero_grad()\n",
       "torch/split_pkg/train.py", at="optimizer.zero_grad()"),
    _m("torch/split_pkg", "BP404", "history keeps the loss tensors",
       "history.append(loss.item())", "history.append(loss)", "torch/split_pkg/train.py"),
    # --- torch/manual_sgd ---------------------------------------------------------------------
    _m("torch/manual_sgd", "BP413", "w climbs its gradient while b descends",
       "w.data.sub_(lr * w.grad)", "w.data.add_(lr * w.grad)"),
    _m("torch/manual_sgd", "BP421", "w updated in place outside no_grad (not through .data)",
       "w.data.sub_(lr * w.grad)", "w.sub_(lr * w.grad)"),
    _m("torch/manual_sgd", "BP401", "the .grad clearing after the hand-written update deleted",
       "        w.grad.zero_()\n        b.grad.zero_()\n", "", at="cost.backward()"),
    _m("torch/manual_sgd", "BP411", "validation without head.eval() (batch norm in train mode)",
       "    head.eval()\n", "", at="with torch.no_grad():"),
    _m("torch/manual_sgd", "BP412", "batch norm built inside forward",
       "torch.relu(self.bn(self.fc(x)))", "torch.relu(nn.BatchNorm1d(16)(self.fc(x)))"),
    # --- torch/functions ----------------------------------------------------------------------
    _m("torch/functions", "BP408", "Exp.backward returns the local derivative only",
       "        return grad_output * y", "        return y"),
    _m("torch/functions", "BP417", "Exp.backward passes grad_output through",
       "        return grad_output * y", "        return grad_output"),
    _m("torch/functions", "BP417", "Mul.backward passes grad_output through for b",
       "return grad_output * b, grad_output * a", "return grad_output * b, grad_output"),
    _m("torch/functions", "BP419", "Exp.backward negates the local derivative",
       "        return grad_output * y", "        return -grad_output * y"),
    _m("torch/functions", "BP420", "Exp.backward multiplies the saved output in place",
       "        return grad_output * y", "        return y.mul_(grad_output)"),
    _m("torch/functions", "BP409", "Mul.backward returns one gradient for two inputs",
       "return grad_output * b, grad_output * a", "return grad_output * b"),
    # --- torch/quantized_net -------------------------------------------------------------------
    _m("torch/quantized_net", "BP408", "straight-through backward returns ones, not grad_output",
       "grad = grad_output.clone()", "grad = torch.ones_like(grad_output)", at="return grad, None"),
    _m("torch/quantized_net", "BP417", "sign made smooth (tanh), pass-through backward",
       "        return x.sign() * scale\n\n    @staticmethod\n    def backward(ctx, grad_output):\n"
       "        (x,) = ctx.saved_tensors\n        grad = grad_output.clone()\n"
       "        grad[x.abs() > 1] = 0\n        return grad, None\n",
       "        return torch.tanh(x) * scale\n\n    @staticmethod\n    def backward(ctx, grad_output):\n"
       "        return grad_output, None\n",
       at="return grad_output, None"),
    _m("torch/quantized_net", "BP419", "sign made smooth (tanh), its derivative's sign slipped",
       "        ctx.save_for_backward(x)\n        return x.sign() * scale\n\n    @staticmethod\n"
       "    def backward(ctx, grad_output):\n        (x,) = ctx.saved_tensors\n"
       "        grad = grad_output.clone()\n        grad[x.abs() > 1] = 0\n        return grad, None\n",
       "        ctx.save_for_backward(x)\n        ctx.scale = scale\n        return torch.tanh(x) * scale\n"
       "\n    @staticmethod\n    def backward(ctx, grad_output):\n        (x,) = ctx.saved_tensors\n"
       "        grad = grad_output * (torch.tanh(x) ** 2 - 1) * ctx.scale\n        return grad, None\n",
       at="grad = grad_output * (torch.tanh(x) ** 2 - 1)"),
    _m("torch/quantized_net", "BP420", "straight-through mask written into grad_output itself",
       "grad = grad_output.clone()", "grad = grad_output", at="grad[x.abs() > 1] = 0"),
    _m("torch/quantized_net", "BP409", "None for the scale input dropped",
       "return grad, None", "return grad"),
    _m("torch/quantized_net", "BP410", "functional dropout without the module's mode",
       "h = F.dropout(h, self.p, training=self.training)", "h = F.dropout(h, self.p)"),
    _m("torch/accum_trainer", "BP410", "functional dropout always in training mode",
       "training=self.training", "training=True"),
)  # fmt: skip

MUTANTS_NUMPY: tuple[Mutant, ...] = (
    # --- nielsen_network ---------------------------------------------------------------------
    _m(
        "nielsen_network",
        "BP001",
        "undo the forward map: inverse of the next layer's weights instead of its transpose",
        "delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp",
        "delta = np.dot(np.linalg.inv(self.weights[-l + 1]), delta) * sp",
    ),
    _m(
        "nielsen_network",
        "BP002",
        "transpose dropped when propagating delta (square layers keep the shapes valid)",
        "delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp",
        "delta = np.dot(self.weights[-l + 1], delta) * sp",
    ),
    _m(
        "nielsen_network",
        "BP003",
        "hidden weight gradient as a * delta^T instead of delta * a^T",
        "nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())",
        "nabla_w[-l] = np.dot(activations[-l - 1], delta.transpose())",
    ),
    _m(
        "nielsen_network",
        "BP101",
        "sigmoid_prime(z) fed the output activation",
        "delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])",
        "delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(activations[-1])",
    ),
    _m(
        "nielsen_network",
        "BP202",
        "output delta of the quadratic cost without sigma'(z)",
        "delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])",
        "delta = self.cost_derivative(activations[-1], y)",
    ),
    _m(
        "nielsen_network",
        "BP301",
        "weights move along the gradient of (a - y): update sign flipped",
        "self.weights = [w - (eta / len(mini_batch)) * nw",
        "self.weights = [w + (eta / len(mini_batch)) * nw",
    ),
    # --- nielsen_matrix ----------------------------------------------------------------------
    _m(
        "nielsen_matrix",
        "BP005",
        "hidden bias gradient left as the (n, m) delta matrix, not summed over the batch",
        "nabla_b[-l] = np.sum(delta, axis=1, keepdims=True)",
        "nabla_b[-l] = delta",
    ),
    _m(
        "nielsen_matrix",
        "BP002",
        "transpose dropped when propagating delta",
        "delta = self.weights[-l + 1].T.dot(delta)",
        "delta = self.weights[-l + 1].dot(delta)",
    ),
    _m(
        "nielsen_matrix",
        "BP003",
        "output weight gradient in the wrong orientation (a . delta^T)",
        "nabla_w[-1] = delta.dot(activations[-2].T)",
        "nabla_w[-1] = activations[-2].dot(delta.T)",
    ),
    # --- network2_ce -------------------------------------------------------------------------
    _m(
        "network2_ce",
        "BP201",
        "cross-entropy delta 'fixed' by multiplying sigma'(z) back in",
        "        return a - y",
        "        return (a - y) * sigmoid_prime(z)",
    ),
    _m(
        "network2_ce",
        "BP202",
        "quadratic-cost delta copied from the cross-entropy one: sigma'(z) dropped",
        "return (a - y) * sigmoid_prime(z)",
        "return a - y",
    ),
    _m(
        "network2_ce",
        "BP101",
        "hidden-layer sigmoid_prime(z) fed the activation",
        "sp = sigmoid_prime(zs[-l])",
        "sp = sigmoid_prime(activations[-l])",
    ),
    # --- cs231n_layers -----------------------------------------------------------------------
    # --- cs231n_layers: the ReLU mask tested with >= 0 on the clipped output (BP111) ---------
    _m(
        "cs231n_layers",
        "BP111",
        "relu caches its output and masks with out >= 0, which is always true",
        "    cache = x\n    return out, cache\n\n\ndef relu_backward(dout, cache):\n    x = cache\n"
        "    dx = dout * (x > 0)\n    return dx\n",
        "    cache = out\n    return out, cache\n\n\ndef relu_backward(dout, cache):\n    out = cache\n"
        "    return dout * (out >= 0)\n",
        at="return dout * (out >= 0)",
    ),
    _m(
        "cs231n_layers",
        "BP001",
        "affine_backward routes dout through the pseudo-inverse of w",
        "dx = dout.dot(w.T).reshape(x.shape)",
        "dx = dout.dot(np.linalg.pinv(w)).reshape(x.shape)",
    ),
    _m(
        "cs231n_layers",
        "BP002",
        "affine_backward multiplies dout by w instead of w.T",
        "dx = dout.dot(w.T).reshape(x.shape)",
        "dx = dout.dot(w).reshape(x.shape)",
    ),
    _m(
        "cs231n_layers",
        "BP003",
        "dw = dout^T x, the transpose of the weight gradient",
        "dw = x.reshape(x.shape[0], -1).T.dot(dout)",
        "dw = dout.T.dot(x.reshape(x.shape[0], -1))",
    ),
    _m(
        "cs231n_layers",
        "BP005",
        "db = dout: the bias gradient is not summed over the batch",
        "db = np.sum(dout, axis=0)",
        "db = dout",
    ),
    _m(
        "cs231n_layers",
        "BP103",
        "relu_backward multiplies by relu(x) instead of the mask x > 0",
        "dx = dout * (x > 0)",
        "dx = dout * np.maximum(0, x)",
    ),
    _m(
        "cs231n_layers",
        "BP204",
        "softmax_loss multiplies p - y by the softmax 'derivative' p(1 - p)",
        "    dx /= N",
        "    dx *= probs * (1 - probs)  # chain rule through the softmax\n    dx /= N",
    ),
    _m(
        "cs231n_layers",
        "BP501",
        "softmax_loss exponentiates the raw scores (max-shift dropped)",
        "    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)\n"
        "    log_probs = shifted_logits - np.log(Z)",
        "    Z = np.sum(np.exp(x), axis=1, keepdims=True)\n    log_probs = x - np.log(Z)",
    ),
    # --- rowmajor_mlp ------------------------------------------------------------------------
    _m(
        "rowmajor_mlp",
        "BP002",
        "dA_prev = dZ @ W (row-major needs W.T)",
        "dA_prev = dZ @ self.W[i].T",
        "dA_prev = dZ @ self.W[i]",
    ),
    _m(
        "rowmajor_mlp",
        "BP003",
        "dW = dZ.T @ A_prev, transposed weight gradient",
        "self.dW[i] = A_prev.T @ dZ",
        "self.dW[i] = dZ.T @ A_prev",
    ),
    _m(
        "rowmajor_mlp",
        "BP005",
        "db = dZ without the sum over rows",
        "self.db[i] = dZ.sum(axis=0)",
        "self.db[i] = dZ",
    ),
    _m(
        "rowmajor_mlp",
        "BP101",
        "sigmoid derivative a(1 - a) evaluated on the pre-activation Z",
        "dZ = dA_prev * self.outputs[i - 1] * (1.0 - self.outputs[i - 1])",
        "dZ = dA_prev * self.preacts[i - 1] * (1.0 - self.preacts[i - 1])",
    ),
    # --- softmax_classifier ------------------------------------------------------------------
    _m(
        "softmax_classifier",
        "BP501",
        "caller no longer subtracts the row max before the unshifted softmax helper",
        "probs = softmax(scores - np.max(scores, axis=1, keepdims=True))",
        "probs = softmax(scores)",
    ),
    _m(
        "softmax_classifier",
        "BP204",
        "dscores = p - y, then multiplied by the softmax derivative p(1 - p)",
        "    dscores /= N",
        "    dscores *= probs * (1 - probs)\n    dscores /= N",
    ),
    _m(
        "softmax_classifier",
        "BP103",
        "ReLU backward multiplies by relu(hidden) instead of masking",
        "dhidden[hidden <= 0] = 0",
        "dhidden = dhidden * np.maximum(0, hidden)",
    ),
    _m(
        "softmax_classifier",
        "BP110",
        "ReLU backward zeroes where the ReLU output is negative: nowhere",
        "dhidden[hidden <= 0] = 0",
        "dhidden[hidden < 0] = 0",
    ),
    _m(
        "layers_sequential",
        "BP110",
        "ReLU layer caches its clipped output and masks with output >= 0: always true",
        "        self.x = x\n        return np.maximum(0, x)\n\n"
        "    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:\n"
        "        return output_error * (self.x > 0)",
        "        self.x = np.clip(x, 0, None)\n        return self.x\n\n"
        "    def backward(self, output_error: np.ndarray, learning_rate: float) -> np.ndarray:\n"
        "        return output_error * (self.x >= 0)",
        at="return output_error * (self.x >= 0)",
    ),
    # --- dropout_mlp -------------------------------------------------------------------------
    _m(
        "dropout_mlp",
        "BP107",
        "the mask compared the other way: it keeps a unit with probability 1 - keep, still / keep",
        "self.mask = np.random.rand(*self.A.shape) < self.keep",
        "self.mask = np.random.rand(*self.A.shape) > self.keep",
        at="return self.A * self.mask / self.keep",
    ),
    _m(
        "dropout_mlp",
        "BP107",
        "kept units divided by the drop probability 1 - keep",
        "return self.A * self.mask / self.keep",
        "return self.A * self.mask / (1 - self.keep)",
    ),
    _m(
        "layers_sequential",
        "BP108",
        "Tanh.backward returns the local derivative without the upstream error",
        "        return output_error * (1 - self.out**2)",
        "        return 1 - self.out**2",
    ),
    _m(
        "batchnorm_mlp",
        "BP108",
        "batch-norm backward builds dzhat from ones shaped like dout instead of dout",
        "        dzhat = dout * self.gamma",
        "        dzhat = np.ones_like(dout) * self.gamma",
        at="return dz",
    ),
    # --- loss_objects: a loss's backward that is not its forward's derivative (BP205) -------
    _m(
        "loss_objects",
        "BP205",
        "mean squared error forward with the binary cross-entropy's derivative as backward",
        "        return (pred - target) / pred.size",
        "        return (pred - target) / (pred * (1 - pred)) / pred.size",
    ),
    _m(
        "loss_objects",
        "BP205",
        "softmax cross-entropy forward with the squared error's 2(p - y) as backward",
        "        return (self.probs - self.target) / self.target.shape[0]",
        "        return 2 * (self.probs - self.target) / self.target.shape[0]",
    ),
    _m(
        "loss_objects",
        "BP205",
        "binary cross-entropy on probabilities with p - y, the gradient in the logits",
        "        return (prob - target) / (prob * (1 - prob)) / prob.size",
        "        return (target - prob) / prob.size",
    ),
    # --- dropout_layer: the mask not reused in backward (BP109) ------------------------------
    _m(
        "dropout_layer",
        "BP109",
        "dropout backward draws a new mask instead of the saved one",
        "        return grad * self.mask / self.keep",
        "        return grad * (np.random.rand(*grad.shape) < self.keep) / self.keep",
    ),
    _m(
        "dropout_layer",
        "BP109",
        "dropout backward keeps the scale and drops the mask",
        "        return grad * self.mask / self.keep",
        "        return grad / self.keep",
    ),
    # --- flat_vector_penalty -----------------------------------------------------------------
    _m(
        "flat_vector_penalty",
        "BP304",
        "the first layer's bias column zeroed on the view of theta before the forward pass",
        "    T2 = theta[k:].reshape(n_out, n_hid + 1)\n",
        "    T2 = theta[k:].reshape(n_out, n_hid + 1)\n    T1[:, 0] = 0\n",
    ),
    _m(
        "flat_vector_penalty",
        "BP304",
        "the output layer's bias column zeroed in place, between the two layers' products",
        "    A2 = np.hstack([np.ones((m, 1)), S2])\n",
        "    A2 = np.hstack([np.ones((m, 1)), S2])\n    T2[:, 0] = 0\n",
    ),
    # --- tanh_two_layer ----------------------------------------------------------------------
    _m(
        "tanh_two_layer",
        "BP102",
        "tanh derivative 1 - z**2 on the pre-activation",
        "delta1 = dh * (1 - a1**2)",
        "delta1 = dh * (1 - z1**2)",
    ),
    _m(
        "tanh_two_layer",
        "BP004",
        "np.dot of two 1-D vectors where the chain rule needs the element-wise product",
        "delta1 = dh * (1 - a1**2)",
        "delta1 = np.dot(dh, 1 - a1**2)",
    ),
    _m(
        "tanh_two_layer",
        "BP003",
        "np.outer(x, delta1): the weight gradient transposed",
        "dW1 = np.outer(delta1, x)",
        "dW1 = np.outer(x, delta1)",
    ),
    _m(
        "tanh_two_layer",
        "BP104",
        "tanh derivative evaluated at the upstream gradient",
        "delta1 = dh * (1 - a1**2)",
        "delta1 = dh * (1 - dh**2)",
    ),
    # --- micrograd_scalar --------------------------------------------------------------------
    _m(
        "micrograd_scalar",
        "BP006",
        "__add__ backward assigns self.grad instead of accumulating it",
        "self.grad += out.grad",
        "self.grad = out.grad",
    ),
    _m(
        "micrograd_scalar",
        "BP006",
        "__mul__ backward assigns self.grad instead of accumulating it",
        "self.grad += other.data * out.grad",
        "self.grad = other.data * out.grad",
    ),
    _m(
        "micrograd_scalar",
        "BP102",
        "tanh backward uses 1 - x**2 of the input instead of 1 - t**2 of the output",
        "self.grad += (1 - t**2) * out.grad",
        "self.grad += (1 - self.data**2) * out.grad",
    ),
    # --- notebook_script ---------------------------------------------------------------------
    _m(
        "notebook_script",
        "BP303",
        "both weight matrices start at the same constant",
        "W1 = rng.standard_normal((n_input, n_hidden)) * 0.5\n"
        "b1 = np.zeros((1, n_hidden))\n"
        "W2 = rng.standard_normal((n_hidden, n_output)) * 0.5",
        "W1 = np.full((n_input, n_hidden), 0.5)\n"
        "b1 = np.zeros((1, n_hidden))\n"
        "W2 = np.full((n_hidden, n_output), 0.5)",
    ),
    _m(
        "notebook_script",
        "BP302",
        "W2 is updated before it carries dz2 back to the hidden layer",
        "    da1 = dz2 @ W2.T\n"
        "    dz1 = da1 * a1 * (1 - a1)\n"
        "    dW1 = X.T @ dz1 / m\n"
        "    db1 = np.sum(dz1, axis=0, keepdims=True) / m\n"
        "\n"
        "    # gradient descent\n"
        "    W2 -= learning_rate * dW2\n"
        "    b2 -= learning_rate * db2\n",
        "    W2 -= learning_rate * dW2\n"
        "    b2 -= learning_rate * db2\n"
        "    da1 = dz2 @ W2.T\n"
        "    dz1 = da1 * a1 * (1 - a1)\n"
        "    dW1 = X.T @ dz1 / m\n"
        "    db1 = np.sum(dz1, axis=0, keepdims=True) / m\n"
        "\n"
        "    # gradient descent\n",
    ),
    _m(
        "notebook_script",
        "BP201",
        "sigma'(z2) kept in the output error of the cross-entropy",
        "dz2 = a2 - y",
        "dz2 = (a2 - y) * a2 * (1 - a2)",
    ),
    _m(
        "notebook_script",
        "BP301",
        "W1 update adds the gradient of a - y",
        "W1 -= learning_rate * dW1",
        "W1 += learning_rate * dW1",
    ),
    # --- pkg_net -----------------------------------------------------------------------------
    _m(
        "pkg_net",
        "BP101",
        "sigmoid_prime (imported from .activations, wants z) fed the activation",
        "* sigmoid_prime(zs[k - 1])",
        "* sigmoid_prime(activations[k])",
        path="pkg_net/model.py",
    ),
    _m(
        "pkg_net",
        "BP202",
        "output delta of the squared error without sigma'(z)",
        "delta = (a - Y) / n * sigmoid_prime(z)",
        "delta = (a - Y) / n",
        path="pkg_net/model.py",
    ),
    # --- xor_net -----------------------------------------------------------------------------
    _m(
        "xor_net",
        "BP301",
        "error = target - output, but the output weights are updated with -=",
        "self.output_weights += hidden_layer_output.T.dot(d_predicted_output) * self.lr",
        "self.output_weights -= hidden_layer_output.T.dot(d_predicted_output) * self.lr",
    ),
    _m(
        "xor_net",
        "BP302",
        "output weights updated before they propagate the error to the hidden layer",
        "        error_hidden_layer = d_predicted_output.dot(self.output_weights.T)\n"
        "        d_hidden_layer = error_hidden_layer * sigmoid_derivative(hidden_layer_output)\n"
        "\n"
        "        # updating weights and biases (error = target - output, hence +=)\n"
        "        self.output_weights += hidden_layer_output.T.dot(d_predicted_output) * self.lr\n",
        "        self.output_weights += hidden_layer_output.T.dot(d_predicted_output) * self.lr\n"
        "        error_hidden_layer = d_predicted_output.dot(self.output_weights.T)\n"
        "        d_hidden_layer = error_hidden_layer * sigmoid_derivative(hidden_layer_output)\n"
        "\n"
        "        # updating weights and biases (error = target - output, hence +=)\n",
    ),
    _m(
        "xor_net",
        "BP101",
        "sigmoid_derivative (wants the activation) fed the pre-activation",
        "d_predicted_output = error * sigmoid_derivative(predicted_output)",
        "d_predicted_output = error * sigmoid_derivative(output_layer_activation)",
    ),
    _m(
        "xor_net",
        "BP104",
        "sigmoid_derivative applied to the error instead of the output",
        "d_predicted_output = error * sigmoid_derivative(predicted_output)",
        "d_predicted_output = error * sigmoid_derivative(error)",
    ),
    _m(
        "xor_net",
        "BP202",
        "output delta is the raw error: sigma' dropped with the squared error",
        "d_predicted_output = error * sigmoid_derivative(predicted_output)",
        "d_predicted_output = error",
    ),
    # --- column_lambda_net -------------------------------------------------------------------
    _m(
        "column_lambda_net",
        "BP202",
        "the raw output error sent back to the hidden layer (the output update keeps o(1 - o))",
        "hidden_err = np.dot(self.who.T, out_delta)",
        "hidden_err = np.dot(self.who.T, out_err)",
    ),
    _m(
        "column_lambda_net",
        "BP002",
        "transpose dropped when the delta goes back through who",
        "hidden_err = np.dot(self.who.T, out_delta)",
        "hidden_err = np.dot(self.who, out_delta)",
    ),
    # --- deep_columns_dict -------------------------------------------------------------------
    _m(
        "deep_columns_dict",
        "BP001",
        "dA_prev solved through W instead of multiplied by W.T",
        "dA_prev = np.dot(W.T, dZ)",
        "dA_prev = np.linalg.solve(W, dZ)",
    ),
    _m(
        "deep_columns_dict",
        "BP002",
        "dA_prev = W dZ, transpose dropped",
        "dA_prev = np.dot(W.T, dZ)",
        "dA_prev = np.dot(W, dZ)",
    ),
    _m(
        "deep_columns_dict",
        "BP003",
        "dW = A_prev dZ^T, transposed weight gradient",
        "dW = 1 / m * np.dot(dZ, A_prev.T)",
        "dW = 1 / m * np.dot(A_prev, dZ.T)",
    ),
    _m(
        "deep_columns_dict",
        "BP005",
        "db = dZ / m without the sum over the columns",
        "db = 1 / m * np.sum(dZ, axis=1, keepdims=True)",
        "db = 1 / m * dZ",
    ),
    _m(
        "deep_columns_dict",
        "BP103",
        "relu_backward multiplies dA by relu(Z)",
        "    dZ = np.array(dA, copy=True)\n    dZ[Z <= 0] = 0",
        "    dZ = dA * np.maximum(0, Z)",
    ),
    _m(
        "deep_columns_dict",
        "BP303",
        "weights initialised to zeros (the biases already are)",
        'parameters["W" + str(l)] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * scale',
        'parameters["W" + str(l)] = np.zeros((layer_dims[l], layer_dims[l - 1]))',
    ),
    # --- deep_loop_dict ----------------------------------------------------------------------
    _m(
        "deep_loop_dict",
        "BP002",
        "dA = W dZ inside the backward loop, W read from the dict under a computed key",
        'dA = params["W" + str(i)].T @ dZ',
        'dA = params["W" + str(i)] @ dZ',
    ),
    _m(
        "deep_loop_dict",
        "BP003",
        "dW = A_prev dZ^T stored under a computed key",
        'grads["dW" + str(i)] = dZ @ values["A" + str(i - 1)].T / m',
        'grads["dW" + str(i)] = values["A" + str(i - 1)] @ dZ.T / m',
    ),
    _m(
        "deep_loop_dict",
        "BP004",
        "tanh derivative applied with a matrix product",
        'dZ = dA * (1 - values["A" + str(i - 1)] ** 2)',
        'dZ = dA @ (1 - values["A" + str(i - 1)] ** 2)',
    ),
    _m(
        "deep_loop_dict",
        "BP102",
        "tanh derivative 1 - x^2 taken at the pre-activation Z instead of the activation A",
        'dZ = dA * (1 - values["A" + str(i - 1)] ** 2)',
        'dZ = dA * (1 - values["Z" + str(i - 1)] ** 2)',
    ),
    _m(
        "deep_loop_dict",
        "BP005",
        "db = dZ / m without the sum over the columns",
        'grads["db" + str(i)] = np.sum(dZ, axis=1, keepdims=True) / m',
        'grads["db" + str(i)] = dZ / m',
    ),
    # --- layers_sequential: an activation's backward that is not its forward's derivative (BP111)
    _m(
        "layers_sequential",
        "BP111",
        "ReLU.backward keeps the gradient's positive entries instead of the positive inputs'",
        "        return output_error * (self.x > 0)",
        "        return np.maximum(0, output_error)",
    ),
    _m(
        "layers_sequential",
        "BP111",
        "Tanh.backward multiplies by 1 - a instead of 1 - a**2",
        "        return output_error * (1 - self.out**2)",
        "        return output_error * (1 - self.out)",
    ),
    _m(
        "layers_sequential",
        "BP111",
        "Sigmoid.backward multiplies by the output a instead of a(1 - a)",
        "        local_grad = self.out * (1 - self.out)",
        "        local_grad = self.out",
        at="return output_error * local_grad",
    ),
    # --- layers_sequential -------------------------------------------------------------------
    _m(
        "layers_sequential",
        "BP002",
        "Dense.backward returns output_error @ W instead of @ W.T",
        "input_error = output_error @ self.W.T",
        "input_error = output_error @ self.W",
    ),
    _m(
        "layers_sequential",
        "BP302",
        "Dense.backward applies its step before computing the input error with W",
        "        input_error = output_error @ self.W.T\n        self.W -= learning_rate * grad_W\n",
        "        self.W -= learning_rate * grad_W\n        input_error = output_error @ self.W.T\n",
    ),
    _m(
        "layers_sequential",
        "BP009",
        "Dense steps W with its gradient transposed: (n_out, n_in) for an (n_in, n_out) weight",
        "self.W -= learning_rate * grad_W\n",
        "self.W -= learning_rate * grad_W.T\n",
    ),
    _m(
        "layers_sequential",
        "BP005",
        "Dense bias gradient is the whole (batch, n_out) error",
        "grad_b = output_error.sum(axis=0, keepdims=True)",
        "grad_b = output_error",
    ),
    _m(
        "layers_sequential",
        "BP102",
        "Tanh.backward uses 1 - x**2 of the input",
        "return output_error * (1 - self.out**2)",
        "return output_error * (1 - self.x**2)",
    ),
    _m(
        "layers_sequential",
        "BP103",
        "ReLU.backward multiplies by relu(x)",
        "return output_error * (self.x > 0)",
        "return output_error * np.maximum(0, self.x)",
    ),
    _m(
        "layers_sequential",
        "BP104",
        "Sigmoid.backward evaluates the derivative at the incoming error",
        "local_grad = self.out * (1 - self.out)",
        "local_grad = output_error * (1 - output_error)",
    ),
    _m(
        "layers_sequential",
        "BP203",
        "Softmax.backward treats the Jacobian as diagonal, s(1 - s)",
        "return s * (output_error - np.sum(output_error * s, axis=1, keepdims=True))",
        "return output_error * s * (1 - s)",
    ),
    _m(
        "layers_sequential",
        "BP303",
        "every Dense layer starts from the same constant weights",
        "self.W = rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_in)",
        "self.W = np.full((n_in, n_out), 0.1)",
    ),
    _m(
        "layers_sequential",
        "BP501",
        "Softmax.forward exponentiates without subtracting the row max",
        "e = np.exp(x - np.max(x, axis=1, keepdims=True))",
        "e = np.exp(x)",
    ),
    # --- rnn_bptt ----------------------------------------------------------------------------
    _m(
        "rnn_bptt",
        "BP006",
        "dWhh assigned at each time step instead of accumulated over time",
        "dWhh += np.dot(dhraw, hs[t - 1].T)",
        "dWhh = np.dot(dhraw, hs[t - 1].T)",
    ),
    _m(
        "rnn_bptt",
        "BP002",
        "dhnext = Whh dhraw, transpose dropped (Whh is square)",
        "dhnext = np.dot(Whh.T, dhraw)",
        "dhnext = np.dot(Whh, dhraw)",
    ),
    _m(
        "rnn_bptt",
        "BP102",
        "tanh derivative recomputes tanh of the hidden state (tanh applied twice)",
        "dhraw = (1 - hs[t] * hs[t]) * dh",
        "dhraw = (1 - np.tanh(hs[t]) ** 2) * dh",
    ),
    _m(
        "rnn_bptt",
        "BP204",
        "dy = p - onehot, then multiplied by p(1 - p)",
        "        dy[targets[t]] -= 1  # softmax + cross-entropy: dL/dy = p - onehot(target)",
        "        dy[targets[t]] -= 1  # softmax + cross-entropy: dL/dy = p - onehot(target)\n"
        "        dy *= ps[t] * (1 - ps[t])",
    ),
    _m(
        "rnn_bptt",
        "BP501",
        "log_softmax without the max shift",
        "    v = v - np.max(v)  # shift so that exp cannot overflow\n"
        "    return v - np.log(np.sum(np.exp(v)))",
        "    return v - np.log(np.sum(np.exp(v)))",
    ),
    _m(
        "rnn_bptt",
        "BP503",
        "grad_check uses a forward difference against the unperturbed loss",
        "numeric[k] = (loss_plus - loss_minus) / (2 * delta)",
        "numeric[k] = (loss_plus - loss) / delta",
    ),
    _m(
        "rnn_bptt",
        "BP601",
        "the carry is stored under a new name, so dhnext stays zero",
        "dhnext = np.dot(Whh.T, dhraw)",
        "dhprev = np.dot(Whh.T, dhraw)",
    ),
    _m(
        "rnn_bptt",
        "BP603",
        "the backward loop starts one step short of the last step",
        "for t in reversed(range(len(inputs))):",
        "for t in range(len(inputs) - 2, -1, -1):",
    ),
    _m(
        "rnn_bptt",
        "BP604",
        "dh is carried to the previous step as it is, without Whh^T and tanh'",
        "dhnext = np.dot(Whh.T, dhraw)",
        "dhnext = dh",
    ),
    # --- lstm_sequence -----------------------------------------------------------------------
    _m(
        "lstm_sequence",
        "BP605",
        "the input gate's bias gradient takes the forget gate's delta",
        "dbi += di",
        "dbi += df",
    ),
    _m(
        "lstm_sequence",
        "BP605",
        "the output gate's bias gradient takes the candidate's delta",
        "dbo += do",
        "dbo += dg",
    ),
    _m(
        "lstm_sequence",
        "BP602",
        "the previous cell state at t = 0 is read as cs[-1], the last cell state",
        "c_prev = cs[t - 1] if t > 0 else c0",
        "c_prev = cs[t - 1]",
    ),
    _m(
        "lstm_sequence",
        "BP601",
        "the cell state's carry is stored under a new name, so dc_next stays zero",
        "dc_next = dc * fs[t]",
        "dc_prev = dc * fs[t]",
    ),
    # --- rnn_two_pass ------------------------------------------------------------------------
    _m(
        "rnn_two_pass",
        "BP606",
        "the input weight's gradient is taken from the last step's delta after the loop",
        "            dWx += np.dot(self.dzs[t], self.xs[t].T)\n"
        "            dWh += np.dot(self.dzs[t], self.h_prevs[t].T)\n"
        "            db += self.dzs[t]\n"
        "            dV += np.dot(ys[t] - ds[t], self.hs[t].T)\n",
        "            dWh += np.dot(self.dzs[t], self.h_prevs[t].T)\n"
        "            db += self.dzs[t]\n"
        "            dV += np.dot(ys[t] - ds[t], self.hs[t].T)\n"
        "        dWx = np.dot(self.dzs[-1], self.xs[-1].T)\n",
        at="dWx = np.dot(self.dzs[-1], self.xs[-1].T)",
    ),
    # --- rnn_layer ---------------------------------------------------------------------------
    _m(
        "rnn_layer",
        "BP602",
        "the previous state at t = 0 is read as hs[-1], the last state",
        "h_prev = self.hs[t - 1] if t > 0 else self.h0",
        "h_prev = self.hs[t - 1]",
    ),
    _m(
        "rnn_layer",
        "BP601",
        "the recurrent gradient is stored under a name the loop never reads",
        "dh_next = self.Wh.T @ dz",
        "dh_prev = self.Wh.T @ dz",
    ),
    # --- batchnorm_mlp -----------------------------------------------------------------------
    _m(
        "batchnorm_mlp",
        "BP701",
        "the direct term of dz uses dout where dout * gamma belongs",
        "dz = self.inv / m * (m * dzhat - total - along)",
        "dz = self.inv / m * (m * dout - total - along)",
    ),
    _m(
        "batchnorm_mlp",
        "BP702",
        "dz treats the batch mean and variance as constants",
        "dz = self.inv / m * (m * dzhat - total - along)",
        "dz = dzhat * self.inv",
    ),
    # --- gradcheck_training ------------------------------------------------------------------
    _m(
        "gradcheck_training",
        "BP503",
        "numerical_gradient becomes one-sided",
        "grad[idx] = (fxph - fxmh) / (2 * h)",
        "grad[idx] = (fxph - fx) / h",
    ),
    _m(
        "gradcheck_training",
        "BP004",
        "np.dot of two 1-D vectors instead of the Hadamard product with sigma'",
        'delta1 = (params["W2"].T @ delta2) * sigmoid_prime(z1)',
        'delta1 = np.dot(params["W2"].T @ delta2, sigmoid_prime(z1))',
    ),
    _m(
        "gradcheck_training",
        "BP101",
        "sigmoid_prime(z) fed the hidden activation h",
        'delta1 = (params["W2"].T @ delta2) * sigmoid_prime(z1)',
        'delta1 = (params["W2"].T @ delta2) * sigmoid_prime(h)',
    ),
    # --- logistic_regression -----------------------------------------------------------------
    _m(
        "logistic_regression",
        "BP201",
        "dz = (a - y) a (1 - a) with the cross-entropy loss",
        "dz = a - y",
        "dz = (a - y) * a * (1 - a)",
    ),
    _m(
        "logistic_regression",
        "BP301",
        "w += lr * dw with dz = a - y",
        "self.w -= self.lr * dw",
        "self.w += self.lr * dw",
    ),
    _m(
        "logistic_regression",
        "BP005",
        "db = dz / m: one bias gradient per example",
        "db = np.sum(dz) / m",
        "db = dz / m",
    ),
    # --- softmax_jacobian --------------------------------------------------------------------
    _m(
        "softmax_jacobian",
        "BP203",
        "softmax Jacobian reduced to its diagonal s(1 - s)",
        "return np.diagflat(s) - np.dot(s, s.T)",
        "return np.diagflat(s * (1 - s))",
    ),
    _m(
        "softmax_jacobian",
        "BP204",
        "the Jacobian applied to p - y, which already is the gradient wrt the logits",
        "dz2 = softmax_jacobian(s).T @ dL_ds",
        "dz2 = softmax_jacobian(s).T @ (s - y)",
    ),
    _m(
        "softmax_jacobian",
        "BP501",
        "softmax without the max shift",
        "e = np.exp(z - np.max(z))",
        "e = np.exp(z)",
    ),
    # --- a layer's own output in its weight gradient (BP007) ---------------------------------
    _m(
        "tanh_two_layer",
        "BP007",
        "the output weights' gradient pairs delta2 with the output instead of the hidden layer",
        "dW2 = np.outer(delta2, a1)",
        "dW2 = np.outer(delta2, y_hat)",
    ),
    _m(
        "xor_net",
        "BP007",
        "the hidden weights' gradient uses the hidden layer's output instead of the inputs",
        "self.hidden_weights += inputs.T.dot(d_hidden_layer) * self.lr",
        "self.hidden_weights += hidden_layer_output.T.dot(d_hidden_layer) * self.lr",
    ),
    # --- bias gradient averaged beside a summed weight gradient (BP008) ----------------------
    _m(
        "layers_sequential",
        "BP008",
        "Dense.backward averages the bias gradient while the weight gradient sums the batch",
        "grad_b = output_error.sum(axis=0, keepdims=True)",
        "grad_b = output_error.mean(axis=0, keepdims=True)",
    ),
    _m(
        "cs231n_layers",
        "BP008",
        "affine_backward averages db while dw sums the batch",
        "db = np.sum(dout, axis=0)",
        "db = np.mean(dout, axis=0)",
    ),
    # --- the activation again where its derivative belongs (BP106) ---------------------------
    _m(
        "layers_sequential",
        "BP106",
        "Sigmoid.backward multiplies by the sigmoid of its own output",
        "local_grad = self.out * (1 - self.out)",
        "local_grad = 1 / (1 + np.exp(-self.out))",
    ),
    _m(
        "xor_net",
        "BP106",
        "the hidden delta multiplies by sigmoid(hidden output) instead of its derivative",
        "d_hidden_layer = error_hidden_layer * sigmoid_derivative(hidden_layer_output)",
        "d_hidden_layer = error_hidden_layer * sigmoid(hidden_layer_output)",
    ),
    # --- the derivative of another function than the forward's (BP105) -----------------------
    _m(
        "xor_net",
        "BP105",
        "the sigmoid loses its minus sign (sigma(-x)); the derivative stays x * (1 - x)",
        "    return 1 / (1 + np.exp(-x))",
        "    return 1 / (1 + np.exp(x))",
    ),
    _m(
        "tanh_two_layer",
        "BP105",
        "the tanh hidden layer gets the sigmoid's derivative a * (1 - a)",
        "delta1 = dh * (1 - a1**2)",
        "delta1 = dh * a1 * (1 - a1)",
    ),
)
MUTANTS: tuple[Mutant, ...] = MUTANTS_NUMPY + TORCH_MUTANTS


def _ids() -> dict[Mutant, str]:
    seen: Counter[tuple[str, str]] = Counter()
    out = {}
    for m in MUTANTS:
        seen[m.code, m.network] += 1
        out[m] = f"{m.code}-{m.network}-{seen[m.code, m.network]}"
    return out


_IDS = _ids()


def mutant_id(m: Mutant) -> str:
    """A stable readable id such as ``BP006-micrograd_scalar-2`` (for pytest ids and tables)."""
    return _IDS[m]


def by_code(code: str) -> list[Mutant]:
    return [m for m in MUTANTS if m.code == code]


def codes() -> list[str]:
    return sorted({m.code for m in MUTANTS})


def original_text(m: Mutant) -> str:
    return (NETWORKS_DIR / m.path).read_text(encoding="utf-8")


def apply(m: Mutant) -> str:
    """The mutated text of ``m.path``; ``old`` must occur exactly once in the original."""
    text = original_text(m)
    count = text.count(m.old)
    if count != 1:
        raise AssertionError(f"{mutant_id(m)}: `old` occurs {count} times in {m.path}, expected 1")
    return text.replace(m.old, m.new, 1)


def mutated_sources(m: Mutant) -> dict[str, str]:
    """Every file of the mutant's network, the mutated one replaced (for the harness/linter)."""
    if m.path not in network_files(m.network):
        raise KeyError(f"{m.path} is not a file of network {m.network}")
    sources = read_sources(m.network)
    sources[m.path] = apply(m)
    return sources


def line_of(m: Mutant) -> int:
    """1-based line of the first line of the mutated file that differs from the original (or of
    the one mutated line holding ``m.at``)."""
    before = original_text(m).splitlines()
    after = apply(m).splitlines()
    if m.at:
        hits = [i for i, line in enumerate(after) if m.at in line]
        if len(hits) != 1:
            raise AssertionError(f"{mutant_id(m)}: `at` is on {len(hits)} lines, expected 1")
        return hits[0] + 1
    for i, (a, b) in enumerate(zip(before, after)):
        if a != b:
            return i + 1
    return min(len(before), len(after)) + 1


def write_mutant(m: Mutant, dest: Path) -> Path:
    """Write the mutant's whole network under ``dest``; return the path of the mutated file."""
    write_sources(mutated_sources(m), dest)
    return dest / m.path
