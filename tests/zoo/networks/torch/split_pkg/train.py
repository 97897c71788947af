"""The training script of a two-file project: the model class comes from model.py."""

import torch
import torch.nn.functional as F
from model import Classifier


def run(batches, epochs=5):
    net = Classifier(10, 4)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    history = []
    for _ in range(epochs):
        net.train()
        for x, y in batches:
            out = net(x)
            loss = F.cross_entropy(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
    return history
