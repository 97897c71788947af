"""A small GAN on 1-d data: D returns logits for BCEWithLogitsLoss, one optimizer per network."""

import torch
import torch.nn as nn

NOISE = 4


def real_batch(n=64):
    return torch.randn(n, 1) * 1.25 + 4.0


generator = nn.Sequential(nn.Linear(NOISE, 16), nn.Tanh(), nn.Linear(16, 1))
discriminator = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

bce = nn.BCEWithLogitsLoss()
opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3)

for step in range(2000):
    real = real_batch()
    fake = generator(torch.randn(64, NOISE))

    discriminator.zero_grad()
    d_real = discriminator(real)
    d_fake = discriminator(fake.detach())
    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    d_loss.backward()
    opt_d.step()

    opt_g.zero_grad()
    scores = discriminator(fake)
    g_loss = bce(scores, torch.ones_like(scores))
    g_loss.backward()
    opt_g.step()

    if step % 200 == 0:
        print(step, d_loss.item(), g_loss.item(), fake.mean().item())
