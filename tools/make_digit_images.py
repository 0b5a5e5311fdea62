#!/usr/bin/env python3
"""Write the bundled digits as PNG image folders (root/<class>/<index>.png), for trying
`zoo predict`, `zoo evaluate`, `zoo features` and `zoo finetune` on real image files.

Each 8x8 digit is upsampled to 28x28 (bilinear, PyTorch's align_corners=False, as ConvZoo's
LeNet-5 canvas) and centred white-on-black in a 32x32 image: the form the shipped
weights/lenet5-digits.h5 was trained on.

    python3 tools/make_digit_images.py --task parity --train 30 --test 100 --out /tmp/parity
writes /tmp/parity/train/{even,odd} (30 each) and /tmp/parity/test/{even,odd} (100 each, other digits).
--task digits uses the ten digits as classes; --corrupt adds one truncated PNG to the training folder.
"""
import argparse
import os

import numpy as np
import torch
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "digits")


def canvas(digit):
    t = torch.tensor(digit[None, None].astype(np.float32) / 16)
    up = torch.nn.functional.interpolate(t, size=(28, 28), mode="bilinear", align_corners=False)[0, 0].numpy()
    c = np.zeros((32, 32), np.float32)
    c[2:30, 2:30] = up
    return Image.fromarray((c * 255).round().clip(0, 255).astype(np.uint8))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=["parity", "digits"], default="parity")
    p.add_argument("--train", type=int, default=30, help="training images per class")
    p.add_argument("--test", type=int, default=100, help="test images per class")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--corrupt", action="store_true", help="add a truncated PNG to the first training class")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    x = np.load(os.path.join(ROOT, "images.npy"))
    y = np.load(os.path.join(ROOT, "labels.npy"))
    name = (lambda d: "even" if d % 2 == 0 else "odd") if a.task == "parity" else str
    taken = {}
    for i in np.random.default_rng(a.seed).permutation(len(y)):
        c = name(int(y[i]))
        n = taken.get(c, 0)
        if n >= a.train + a.test:
            continue
        taken[c] = n + 1
        folder = os.path.join(a.out, "train" if n < a.train else "test", c)
        os.makedirs(folder, exist_ok=True)
        canvas(x[i]).save(os.path.join(folder, f"{i:04d}.png"))
    if a.corrupt:
        first = sorted(taken)[0]
        with open(os.path.join(a.out, "train", first, "scan-17.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")  # a PNG cut off inside its first chunk
    print({c: min(n, a.train) for c, n in sorted(taken.items())}, "training,",
          {c: max(0, n - a.train) for c, n in sorted(taken.items())}, "test images in", a.out)


if __name__ == "__main__":
    main()
