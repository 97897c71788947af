"""A regression script with mixed precision, a GradScaler and gradient accumulation over a
step counter: the loss is divided by the accumulation count before it is scaled."""

import torch
import torch.nn as nn

ACCUM_STEPS = 4
MAX_ITERS = 64


class Regressor(nn.Module):
    def __init__(self, n_in, n_hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, n_hidden), nn.GELU(), nn.Linear(n_hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


def batches(n_in, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_in, generator=g)
    while True:
        x = torch.randn(size, n_in, generator=g)
        yield x, x @ w + 0.1 * torch.randn(size, generator=g)


def main():
    model = Regressor(6, 32)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    data = batches(6, 16)
    it = 0
    while it < MAX_ITERS:
        x, y = next(data)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = nn.functional.mse_loss(model(x).float(), y)
        scaler.scale(loss / ACCUM_STEPS).backward()
        it += 1
        if it % ACCUM_STEPS == 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            print(it, loss.item())
    return model


if __name__ == "__main__":
    main()
