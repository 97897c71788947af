"""A PyTorch MLP classifier: logits out, CrossEntropyLoss, the textbook loop, eval with no_grad."""

import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_classes):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(n_hidden, n_classes)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        h = self.drop(h)
        return self.out(h)


def make_data(n=256, n_in=8, n_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=g)
    w = torch.randn(n_in, n_classes, generator=g)
    y = (x @ w).argmax(dim=1)
    return list(zip(x.split(32), y.split(32)))


def evaluate(model, batches):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in batches:
            probs = torch.softmax(model(x), dim=1)
            correct += (probs.argmax(dim=1) == y).sum().item()
    model.train()
    return correct / sum(len(y) for _, y in batches)


def train(epochs=5):
    batches = make_data()
    model = MLP(8, 16, 3)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(epochs):
        running = 0.0
        for x, y in batches:
            optimizer.zero_grad()
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
            running += loss.item()
        print(epoch, running / len(batches), evaluate(model, batches))
    return model


if __name__ == "__main__":
    train()
