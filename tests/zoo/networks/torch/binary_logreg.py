"""Logistic regression in PyTorch: raw scores into BCEWithLogitsLoss, sigmoid only to predict."""

import torch
import torch.nn as nn


class LogReg(nn.Module):
    def __init__(self, n_in):
        super().__init__()
        self.linear = nn.Linear(n_in, 1)

    def forward(self, x):
        return self.linear(x).squeeze(1)


def fit(x, y, epochs=100):
    model = LogReg(x.shape[1])
    loss_fn = nn.BCEWithLogitsLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(epochs):
        opt.zero_grad()
        scores = model(x)
        loss = loss_fn(scores, y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        predictions = torch.sigmoid(model(x)) > 0.5
    return model, (predictions.float() == y).float().mean().item()


if __name__ == "__main__":
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200, 3, generator=g)
    y = (x.sum(dim=1) > 0).float()
    print(fit(x, y)[1])
