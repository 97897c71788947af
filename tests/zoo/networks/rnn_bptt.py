"""A vanilla character-level RNN trained with truncated backpropagation through time.

Column vectors: x_t is one-hot (vocab_size, 1), h_t = tanh(Wxh x_t + Whh h_{t-1} + bh),
y_t = Why h_t + by, p_t = softmax(y_t), loss = sum_t -log p_t[target_t].
The recurrent weights are shared by every time step, so their gradients are summed with +=.
"""

import numpy as np


def init_model(vocab_size, hidden_size, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "Wxh": rng.standard_normal((hidden_size, vocab_size)) * 0.1,
        "Whh": rng.standard_normal((hidden_size, hidden_size)) * 0.1,
        "Why": rng.standard_normal((vocab_size, hidden_size)) * 0.1,
        "bh": np.zeros((hidden_size, 1)),
        "by": np.zeros((vocab_size, 1)),
    }


def log_softmax(v):
    v = v - np.max(v)  # shift so that exp cannot overflow
    return v - np.log(np.sum(np.exp(v)))


def loss_fun(model, inputs, targets, hprev):
    """inputs, targets: lists of integers; hprev: (hidden_size, 1) initial state.

    Returns the loss, the gradients of the five parameters and the last hidden state.
    """
    Wxh, Whh, Why, bh, by = model["Wxh"], model["Whh"], model["Why"], model["bh"], model["by"]
    vocab_size = Wxh.shape[1]
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        log_p = log_softmax(np.dot(Why, hs[t]) + by)
        ps[t] = np.exp(log_p)
        loss += -log_p[targets[t], 0]
    # backward pass through time
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # softmax + cross-entropy: dL/dy = p - onehot(target)
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext  # from the output and from the next time step
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def grad_check(model, inputs, targets, hprev, num_checks=8, delta=1e-5, seed=0):
    """Compare the analytic gradient with centred differences on a few random entries.

    Returns the worst relative error ||g - g_num|| / (||g|| + ||g_num||) over the parameters.
    """
    rng = np.random.default_rng(seed)
    loss, *grads, _ = loss_fun(model, inputs, targets, hprev)
    print(f"grad check at loss {loss:.6f}")
    worst = 0.0
    for name, dparam in zip(("Wxh", "Whh", "Why", "bh", "by"), grads):
        param = model[name]
        picked = rng.integers(param.size, size=num_checks)
        analytic, numeric = dparam.flat[picked], np.zeros(num_checks)
        for k, ri in enumerate(picked):
            old_val = param.flat[ri]
            param.flat[ri] = old_val + delta
            loss_plus = loss_fun(model, inputs, targets, hprev)[0]
            param.flat[ri] = old_val - delta
            loss_minus = loss_fun(model, inputs, targets, hprev)[0]
            param.flat[ri] = old_val
            numeric[k] = (loss_plus - loss_minus) / (2 * delta)
        denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
        worst = max(worst, np.linalg.norm(analytic - numeric) / denom if denom else 0.0)
    return worst


def train(data, vocab_size, hidden_size=16, seq_length=8, learning_rate=0.1, steps=300):
    model = init_model(vocab_size, hidden_size)
    memory = {k: np.zeros_like(v) for k, v in model.items()}  # Adagrad accumulators
    hprev = np.zeros((hidden_size, 1))
    p = 0
    for n in range(steps):
        if p + seq_length + 1 >= len(data):
            hprev, p = np.zeros((hidden_size, 1)), 0
        inputs, targets = data[p : p + seq_length], data[p + 1 : p + seq_length + 1]
        loss, *grads, hprev = loss_fun(model, inputs, targets, hprev)
        for name, dparam in zip(("Wxh", "Whh", "Why", "bh", "by"), grads):
            np.clip(dparam, -5, 5, out=dparam)  # tame exploding gradients
            memory[name] += dparam * dparam
            model[name] -= learning_rate * dparam / np.sqrt(memory[name] + 1e-8)
        p += seq_length
        if n % 100 == 0:
            print(f"step {n}: loss {loss:.3f}")
    return model


if __name__ == "__main__":
    text = "hello world, hello backprop. " * 20
    chars = sorted(set(text))
    data = [chars.index(c) for c in text]
    m = init_model(len(chars), 10)
    print("worst relative error", grad_check(m, data[:6], data[1:7], np.zeros((10, 1))))
    train(data, len(chars))
