"""The model of a two-file project: forward returns raw scores from an nn.Sequential."""

import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, n_in, n_classes):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_in, 32),
            nn.ReLU(),
            nn.BatchNorm1d(32),
            nn.Linear(32, n_classes),
        )

    def forward(self, x):
        return self.layers(x)
