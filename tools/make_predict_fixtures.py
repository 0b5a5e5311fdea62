#!/usr/bin/env python3
"""Writes the fixtures of `zoo predict` on a model that outputs logits and whose file has no class
names: PyTorch's softmax over the logits is what `zoo predict` must print, and the names are
ImageNet's (weights/imagenet_classes.txt) at the indices torch.topk gives.

    python3 tools/make_predict_fixtures.py

The model is a narrow twin of torchvision's resnet18 (make_zoo_fixtures.py's NarrowResNet, base
width 64 / DIVISOR) with a 1000-class head, seeded weights and calibrated BatchNorm as the zoo twins
have them; the head is rescaled so the logits spread enough for the top five to be far apart (a
flat softmax over 1000 classes would print 0.0010 five times). The file is written by the
converter (tools/convert_torchvision.py) without class names, recording a 32x32 input, torch
preprocessing and the transform resize36-crop32.

Each image goes through torchvision's own evaluation pipeline (PIL decode to RGB, Resize(36),
CenterCrop(32), ToTensor, Normalize with ImageNet's mean and std), as `zoo predict` runs it.

Tests/Fixtures/predict/ gets
  resnet18-1000.h5       the weights (no class names)
  probabilities.npy      (images, 1000) float32: softmax of the logits, by torch
  top5.npy               (images, 5) int64: torch.topk indices, highest first
  spec.json              the images (paths under Tests/Fixtures/), divisor, transform, the gaps
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
OUT = os.path.join(FIXTURES, "predict")
sys.path.insert(0, HERE)
import convert_torchvision  # noqa: E402
from make_zoo_fixtures import NarrowAlexNet, init_torch  # noqa: E402

ARCH = "alexnet"
DIVISOR = 64
HIDDEN = 8
CLASSES = 1000
SIZE, RESIZE = 63, 72
IMAGES = ["images/rgb.png", "images/gray.png"]
LOGIT_SPREAD = 2.5  # std of the logits over the classes, after rescaling the head
SEED = 1003


def pipeline():
    """torchvision's evaluation transform at this size, with ImageNet normalisation."""
    return transforms.Compose([
        transforms.Resize(RESIZE), transforms.CenterCrop(SIZE), transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(SEED)
    model = NarrowAlexNet(DIVISOR, HIDDEN, CLASSES)
    calibration = torch.from_numpy(rng.standard_normal((8, 3, SIZE, SIZE)).astype(np.float32))
    init_torch(model, rng, calibration)
    x = torch.stack([pipeline()(Image.open(os.path.join(FIXTURES, p)).convert("RGB")) for p in IMAGES])
    with torch.no_grad():
        logits = model(x)
        scale = LOGIT_SPREAD / float(logits.std(dim=1).mean())
        model.classifier[6].weight.mul_(scale)
        model.classifier[6].bias.mul_(scale)
        logits = model(x)
    probabilities = torch.softmax(logits, dim=1)
    top = torch.topk(probabilities, 6, dim=1)
    # The printed order must not hinge on rounding: neighbours in the top six differ clearly.
    gaps = (top.values[:, :-1] - top.values[:, 1:]).min().item()
    assert gaps > 1e-3, f"top probabilities too close ({gaps:.2e}); pick another SEED"
    assert top.values[:, 0].min().item() > 0.05, "the top class should stand out"

    os.makedirs(OUT, exist_ok=True)
    weights = os.path.join(OUT, f"{ARCH}-1000.h5")
    layers = convert_torchvision.convert_state_dict(ARCH, model.state_dict())
    attributes = convert_torchvision.convzoo_attributes(ARCH, resize=RESIZE, crop=SIZE, input_size=(SIZE, SIZE))
    convert_torchvision.write_convzoo_h5(weights, layers, attributes)  # no class names: ImageNet's apply
    np.save(os.path.join(OUT, "probabilities.npy"), probabilities.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "top5.npy"), top.indices[:, :5].numpy().astype(np.int64))
    spec = {
        "architecture": ARCH, "channel_divisor": DIVISOR, "hidden_units": HIDDEN, "classes": CLASSES,
        "transform": f"resize{RESIZE}-crop{SIZE}", "preprocessing": "torch", "images": IMAGES,
        "logit_std": LOGIT_SPREAD, "smallest_gap_in_top6": round(gaps, 6),
        "top5": top.indices[:, :5].tolist(),
        "top5_probabilities": [[round(v, 6) for v in row] for row in top.values[:, :5].tolist()],
    }
    with open(os.path.join(OUT, "spec.json"), "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"{OUT}: {size / 1024:.0f} KB; top-5 {spec['top5']} p {spec['top5_probabilities']}")


if __name__ == "__main__":
    main()
