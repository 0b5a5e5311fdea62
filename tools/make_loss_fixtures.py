#!/usr/bin/env python3
"""Writes the loss fixtures of LossTests: PyTorch's value and input gradient for each loss.

Tests/Fixtures/learning/losses/<case>/ holds float32 .npy files:
  input     logits or predictions, (batch, classes)
  target    class indices (int64, (batch,)) or a target tensor of the input's shape
  loss      (1,) the mean-reduced loss, computed in float32 as torch.nn.functional does by default
  gradient  d loss / d input
The loss settings of every case are mirrored in Tests/EngineTests/LossTests.swift; change both together.

Run from the repository root:  python3 tools/make_loss_fixtures.py
"""
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "learning", "losses")


def logits(g, shape):
    x = torch.randn(shape, generator=g) * 3
    # Rows of huge logits: a naive softmax overflows on them, log-sum-exp does not.
    x[1] += 1000
    x[2] -= 500
    return x


def soft_targets(g, batch, classes):
    """Mixup-style targets: lam * onehot(a) + (1 - lam) * onehot(b)."""
    a = torch.randint(classes, (batch,), generator=g)
    b = torch.randint(classes, (batch,), generator=g)
    lam = torch.rand(batch, 1, generator=g)
    return lam * F.one_hot(a, classes).float() + (1 - lam) * F.one_hot(b, classes).float()


def cases():
    g = torch.Generator().manual_seed(7)
    x = logits(g, (6, 5))
    labels = torch.randint(5, (6,), generator=g)
    soft = soft_targets(g, 6, 5)
    yield "cross_entropy", x, labels, lambda i, t: F.cross_entropy(i, t)
    yield "cross_entropy_smoothing", x, labels, lambda i, t: F.cross_entropy(i, t, label_smoothing=0.1)
    yield "cross_entropy_soft", x, soft, lambda i, t: F.cross_entropy(i, t)
    yield "cross_entropy_soft_smoothing", x, soft, lambda i, t: F.cross_entropy(i, t, label_smoothing=0.2)
    b = torch.randn(4, 3, generator=g) * 4
    b[0, 0], b[1, 1] = 80.0, -80.0
    yield "binary_cross_entropy", b, torch.rand(4, 3, generator=g), F.binary_cross_entropy_with_logits
    yield "mse", torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g), F.mse_loss


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for name, x, target, loss_fn in cases():
        d = os.path.join(ROOT, name)
        os.makedirs(d)
        x = x.clone().requires_grad_()
        loss = loss_fn(x, target)
        loss.backward()
        np.save(os.path.join(d, "input.npy"), x.detach().numpy())
        np.save(os.path.join(d, "target.npy"), target.numpy())
        np.save(os.path.join(d, "loss.npy"), loss.detach().reshape(1).numpy())
        np.save(os.path.join(d, "gradient.npy"), x.grad.numpy())


if __name__ == "__main__":
    main()
