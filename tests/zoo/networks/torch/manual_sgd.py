"""Linear regression trained by hand in PyTorch: autograd for the gradients, the update and the
clearing of .grad written out, then a small dropout MLP evaluated in eval mode."""

import torch
import torch.nn as nn


def fit_line(x, y, lr=0.05, steps=200):
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        pred = x @ w + b
        cost = 0.5 * ((pred - y) ** 2).mean()
        cost.backward()
        w.data.sub_(lr * w.grad)
        b.data.sub_(lr * b.grad)
        w.grad.zero_()
        b.grad.zero_()
    return w.detach(), b.detach()


class Head(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.fc = nn.Linear(n_in, 16)
        self.bn = nn.BatchNorm1d(16)
        self.out = nn.Linear(16, n_out)

    def forward(self, x):
        return self.out(torch.relu(self.bn(self.fc(x))))


def validate(head, batches):
    head.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in batches:
            total += ((head(x) - y) ** 2).mean().item()
    head.train()
    return total / len(batches)


def fit_head(batches, epochs=3):
    head = Head(4, 1)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(epochs):
        for x, y in batches:
            opt.zero_grad()
            loss = ((head(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        print(validate(head, batches))
    return head


if __name__ == "__main__":
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.7
    print(fit_line(x, y))
    fit_head([(x[i : i + 16], y[i : i + 16, None]) for i in range(0, 64, 16)])
