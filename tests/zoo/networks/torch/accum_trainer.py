"""A trainer class with gradient accumulation, a log_softmax head and NLLLoss."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class TextCNN(nn.Module):
    def __init__(self, vocab, dim, n_classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size=3, padding=1)
        self.fc = nn.Linear(dim, n_classes)

    def forward(self, tokens):
        h = self.embed(tokens).transpose(1, 2)
        h = F.relu(self.conv(h)).max(dim=2).values
        h = F.dropout(h, 0.2, training=self.training)
        return F.log_softmax(self.fc(h), dim=1)


class Trainer:
    def __init__(self, model, lr=1e-3, accumulate=4):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.accumulate = accumulate

    def fit(self, batches, epochs=3):
        for epoch in range(epochs):
            self.model.train()
            running = 0.0
            for i, (tokens, labels) in enumerate(batches):
                out = self.model(tokens)
                loss = F.nll_loss(out, labels) / self.accumulate
                loss.backward()
                running += loss.detach()
                if (i + 1) % self.accumulate == 0:
                    self.optimizer.step()
                    self.optimizer.zero_grad()
            print(epoch, float(running))


if __name__ == "__main__":
    g = torch.Generator().manual_seed(0)
    data = [(torch.randint(0, 50, (8, 12), generator=g), torch.randint(0, 2, (8,), generator=g))]
    Trainer(TextCNN(50, 16, 2)).fit(data * 8)
