#!/usr/bin/env python3
"""Writes the LeNet-5 parity fixtures that Tests/ZooTests/LeNet5ParityTests.swift reads.

Tests/Fixtures/zoo/lenet5/ (the modern form, built in Keras 3 with ConvZoo's layer names):
  input                     (2, 32, 32, 1) NHWC, uniform in [-0.1, 1.175) (the paper's input range)
  <layer>_kernel, _bias     seeded weights in Keras layout: conv HWIO, dense (in, out)
  f6, predictions           outputs for the default form (max pooling, ReLU, softmax)
  avg_tanh_f6, avg_tanh_predictions
                            the same weights with average pooling and tanh

Tests/Fixtures/zoo/lenet5-paper/ (the 1998 paper's form; no framework has it, so a PyTorch twin
below computes it). It reuses lenet5's input and its c1, c3, c5, f6 weights (C3's full kernel is
loaded as it is; the connection mask must make the missing pairs irrelevant) and adds:
  s2_coefficient, s2_bias, s4_coefficient, s4_bias, predictions_centers (10, 84), +-1
  s4, f6, predictions       outputs (s4 NHWC)
  upstream                  a fixed dLoss/d(predictions)
  input_grad, c3_kernel_grad (HWIO, masked), s2_coefficient_grad, s2_bias_grad,
  s4_coefficient_grad, s4_bias_grad, predictions_centers_grad (were the centers trainable)

Weights are drawn in float32; both references run in float64, so the expectations carry no float32
rounding of their own. Outputs are stored as float32.

Run from the repository root:  KERAS_BACKEND=torch python3 tools/make_lenet_fixtures.py
"""
import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import keras
from keras import layers

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "zoo")
F64 = torch.float64

# The paper's Table I: for each of C3's 16 maps, the S2 maps it reads (mirrored in Zoo/LeNet5.swift).
C3_CONNECTIONS = [
    [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5],
    [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5],
    [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
    [0, 1, 2, 3, 4, 5],
]


def folder(name):
    path = os.path.join(ROOT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def save(path, **arrays):
    for key, a in arrays.items():
        np.save(os.path.join(path, key + ".npy"), np.asarray(a, dtype=np.float32))


def glorot(rng, shape):
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    limit = np.sqrt(6.0 / ((shape[-2] + shape[-1]) * receptive))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def modern_keras(pooling, activation):
    pool = layers.MaxPooling2D if pooling == "max" else layers.AveragePooling2D
    inputs = keras.Input((32, 32, 1))
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(inputs)
    x = pool(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = pool(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation=activation, name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    f6 = layers.Dense(84, activation=activation, name="f6")(x)
    out = layers.Dense(10, activation="softmax", name="predictions")(f6)
    return keras.Model(inputs, [f6, out], name="lenet5")


def make_modern(rng):
    path = folder("lenet5")
    x = rng.uniform(-0.1, 1.175, size=(2, 32, 32, 1)).astype(np.float32)
    shapes = {"c1": (5, 5, 1, 6), "c3": (5, 5, 6, 16), "c5": (5, 5, 16, 120), "f6": (120, 84), "predictions": (84, 10)}
    weights = {}
    for name, shape in shapes.items():
        weights[name + "_kernel"] = glorot(rng, shape)
        # Nonzero biases, unlike Keras's initial zeros, so loading them is tested.
        weights[name + "_bias"] = rng.uniform(-0.1, 0.1, size=shape[-1]).astype(np.float32)
    save(path, input=x, **weights)
    keras.config.set_floatx("float64")
    for prefix, pooling, activation in [("", "max", "relu"), ("avg_tanh_", "average", "tanh")]:
        model = modern_keras(pooling, activation)
        for name in shapes:
            model.get_layer(name).set_weights([weights[name + "_kernel"].astype(np.float64),
                                               weights[name + "_bias"].astype(np.float64)])
        f6, predictions = model(x.astype(np.float64))
        save(path, **{prefix + "f6": keras.ops.convert_to_numpy(f6),
                      prefix + "predictions": keras.ops.convert_to_numpy(predictions)})
    return x, weights


class ScaledTanh(nn.Module):
    def forward(self, a):
        return 1.7159 * torch.tanh(a * (2.0 / 3.0))


class Subsampling(nn.Module):
    """Sum of each 2x2 window times a per-map coefficient, plus a per-map bias."""

    def __init__(self, coefficient, bias):
        super().__init__()
        self.coefficient = nn.Parameter(coefficient)
        self.bias = nn.Parameter(bias)

    def forward(self, x):
        n, c, h, w = x.shape
        sums = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).sum(dim=(3, 5))
        return sums * self.coefficient.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class MaskedConv2d(nn.Conv2d):
    """C3: a 5x5 convolution whose kernel is multiplied by Table I's fixed 0/1 mask."""

    def __init__(self, mask, **kwargs):
        super().__init__(**kwargs)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias)


class EuclideanRBF(nn.Module):
    def __init__(self, centers):
        super().__init__()
        self.centers = nn.Parameter(centers)

    def forward(self, x):
        return ((x[:, None, :] - self.centers[None, :, :]) ** 2).sum(dim=2)


class LeNet5Paper(nn.Module):
    def __init__(self, w):
        super().__init__()
        t = lambda a: torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)
        oihw = lambda k: t(k).permute(3, 2, 0, 1).contiguous()
        mask = torch.zeros(16, 6, 5, 5, dtype=F64)
        for out, ins in enumerate(C3_CONNECTIONS):
            mask[out, ins] = 1
        self.c1 = nn.Conv2d(1, 6, 5, dtype=F64)
        self.s2 = Subsampling(t(w["s2_coefficient"]), t(w["s2_bias"]))
        self.c3 = MaskedConv2d(mask, in_channels=6, out_channels=16, kernel_size=5, dtype=F64)
        self.s4 = Subsampling(t(w["s4_coefficient"]), t(w["s4_bias"]))
        self.c5 = nn.Conv2d(16, 120, 5, dtype=F64)
        self.f6 = nn.Linear(120, 84, dtype=F64)
        self.predictions = EuclideanRBF(t(w["predictions_centers"]))
        with torch.no_grad():
            for name in ["c1", "c3", "c5"]:
                getattr(self, name).weight.copy_(oihw(w[name + "_kernel"]))
                getattr(self, name).bias.copy_(t(w[name + "_bias"]))
            self.f6.weight.copy_(t(w["f6_kernel"]).T)
            self.f6.bias.copy_(t(w["f6_bias"]))
        self.squash = ScaledTanh()

    def forward(self, x):
        x = self.squash(self.c1(x))
        x = self.squash(self.s2(x))
        x = self.squash(self.c3(x))
        s4 = self.squash(self.s4(x))
        x = self.squash(self.c5(s4))
        f6 = self.squash(self.f6(x.flatten(1)))
        return s4, f6, self.predictions(f6)


def make_paper(rng, x, modern_weights):
    path = folder("lenet5-paper")
    own = {
        "s2_coefficient": rng.uniform(-0.6, 0.6, size=6).astype(np.float32),
        "s2_bias": rng.uniform(-0.6, 0.6, size=6).astype(np.float32),
        "s4_coefficient": rng.uniform(-0.6, 0.6, size=16).astype(np.float32),
        "s4_bias": rng.uniform(-0.6, 0.6, size=16).astype(np.float32),
        "predictions_centers": rng.choice([-1.0, 1.0], size=(10, 84)).astype(np.float32),
    }
    net = LeNet5Paper({**modern_weights, **own})
    xt = torch.tensor(x.astype(np.float64), dtype=F64).permute(0, 3, 1, 2).requires_grad_(True)
    s4, f6, predictions = net(xt)
    upstream = rng.uniform(-1, 1, size=(2, 10)).astype(np.float32)
    (predictions * torch.tensor(upstream.astype(np.float64), dtype=F64)).sum().backward()
    g = lambda p: p.grad.detach().numpy()
    save(path, **own, upstream=upstream,
         s4=s4.detach().permute(0, 2, 3, 1).numpy(), f6=f6.detach().numpy(), predictions=predictions.detach().numpy(),
         input_grad=xt.grad.permute(0, 2, 3, 1).numpy(),
         c3_kernel_grad=net.c3.weight.grad.permute(2, 3, 1, 0).numpy(),
         s2_coefficient_grad=g(net.s2.coefficient), s2_bias_grad=g(net.s2.bias),
         s4_coefficient_grad=g(net.s4.coefficient), s4_bias_grad=g(net.s4.bias),
         predictions_centers_grad=g(net.predictions.centers))
    masked_out = (net.c3.weight.grad * (1 - net.c3.mask)).abs().max().item()
    assert masked_out == 0, masked_out
    print("lenet5-paper: predictions", predictions.detach().numpy().round(3))


def main():
    rng = np.random.default_rng(19981101)
    x, weights = make_modern(rng)
    make_paper(rng, x, weights)
    for name in ["lenet5", "lenet5-paper"]:
        size = sum(os.path.getsize(os.path.join(ROOT, name, f)) for f in os.listdir(os.path.join(ROOT, name)))
        print(f"{name}: {len(os.listdir(os.path.join(ROOT, name)))} files, {size // 1024} KiB")


if __name__ == "__main__":
    main()
