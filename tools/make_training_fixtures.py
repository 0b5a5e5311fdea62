#!/usr/bin/env python3
"""Writes the fixtures of the training tests (Tests/Fixtures/training) with PyTorch.

- digits_lenet_head.npy (3, 32, 32): the first three bundled digits, scaled to [0, 1], upsampled to
  28x28 by F.interpolate(mode="bilinear", align_corners=False) and padded by 2 on each side.
- resized_crop_image.npy (7, 9, 3) HWC, and resized_crop_up.npy / resized_crop_down.npy: torchvision's
  F.resized_crop(top=1, left=2, height=4, width=5, size=(6, 8)) and (top=0, left=1, height=7, width=8,
  size=(3, 4)), bilinear, antialias=False.
- savez.npz: np.savez of a (2, 3) float64 "a", a (3, 3, 1, 2) float32 "conv/kernel" and an int32 "b";
  savez_compressed.npz: the same through np.savez_compressed (which the engine refuses, by design).
"""
import os
import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

root = os.path.join(os.path.dirname(__file__), "..")
out = os.path.join(root, "Tests", "Fixtures", "training")
os.makedirs(out, exist_ok=True)

images = np.load(os.path.join(root, "datasets", "digits", "images.npy"))[:3].astype(np.float32) / 16
x = torch.from_numpy(images)[:, None]  # NCHW
up = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
canvas = F.pad(up, (2, 2, 2, 2))[:, 0]
np.save(os.path.join(out, "digits_lenet_head.npy"), canvas.numpy().astype(np.float32))

g = torch.Generator().manual_seed(7)
image = torch.rand(7, 9, 3, generator=g)
np.save(os.path.join(out, "resized_crop_image.npy"), image.numpy())
chw = image.permute(2, 0, 1)
for name, (top, left, h, w, size) in {"up": (1, 2, 4, 5, (6, 8)), "down": (0, 1, 7, 8, (3, 4))}.items():
    y = TF.resized_crop(chw, top, left, h, w, list(size), interpolation=InterpolationMode.BILINEAR, antialias=False)
    np.save(os.path.join(out, f"resized_crop_{name}.npy"), y.permute(1, 2, 0).contiguous().numpy())
members = {"a": np.arange(6, dtype=np.float64).reshape(2, 3),
           "conv/kernel": np.linspace(-1, 1, 18, dtype=np.float32).reshape(3, 3, 1, 2),
           "b": np.array([1, 2, 3], dtype=np.int32)}
np.savez(os.path.join(out, "savez.npz"), **members)
np.savez_compressed(os.path.join(out, "savez_compressed.npz"), **members)
print("wrote", sorted(os.listdir(out)))
