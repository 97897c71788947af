"""A binarised layer: straight-through sign, clipped to |x| <= 1; functional dropout by mode."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class BinarizeSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        return x.sign() * scale

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad = grad_output.clone()
        grad[x.abs() > 1] = 0
        return grad, None


class BinaryMLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out, p=0.3):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)
        self.p = p

    def forward(self, x):
        h = BinarizeSTE.apply(torch.tanh(self.fc1(x)), 1.0)
        h = F.dropout(h, self.p, training=self.training)
        return self.fc2(h)


if __name__ == "__main__":
    model = BinaryMLP(8, 32, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    for _ in range(50):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    print(loss.item(), model(x).argmax(1).eq(y).float().mean().item())
