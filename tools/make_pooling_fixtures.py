#!/usr/bin/env python3
"""Writes the pooling fixtures in Tests/Fixtures/layers/pooling/ from PyTorch and Keras.

Run from the repository root:  KERAS_BACKEND=torch python3 tools/make_pooling_fixtures.py

Every array is float32 and NHWC (the engine's layout): inputs are made NHWC, transposed to NCHW for
torch, and the results transposed back. For case NAME the files are NAME_input.npy, NAME_output.npy
and, for backward cases, NAME_grad_output.npy (a fixed upstream gradient) and NAME_grad_input.npy.

output_sizes.npy holds rows (input, kernel, stride, dilation, pad, ceil_mode, torch_output) for
max_pool1d over a grid of settings (output 0 where torch refuses an empty output), and
conv_output_sizes.npy rows (input, kernel, stride, dilation, pad, torch_output) for conv1d.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

from pathlib import Path

import keras
import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "layers" / "pooling"
rng = np.random.default_rng(20240607)


def nhwc(shape):
    return rng.standard_normal(shape).astype(np.float32)


def to_torch(x, grad=False):
    return torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=grad)


def from_torch(t):
    return np.ascontiguousarray(t.detach().numpy().transpose(0, 2, 3, 1)).astype(np.float32)


def save(name, **arrays):
    for key, a in arrays.items():
        np.save(OUT / f"{name}_{key}.npy", np.ascontiguousarray(a, dtype=np.float32))


def torch_case(name, shape, op, backward=False):
    """Forward (and with `backward`, the input gradient for a fixed upstream gradient) of a torch op."""
    x = nhwc(shape)
    xt = to_torch(x, grad=backward)
    yt = op(xt)
    y = from_torch(yt)
    if not backward:
        save(name, input=x, output=y)
        return
    gy = nhwc(y.shape)
    yt.backward(to_torch(gy))
    save(name, input=x, output=y, grad_output=gy, grad_input=from_torch(xt.grad))


def keras_case(name, shape, layer):
    x = nhwc(shape)
    y = keras.ops.convert_to_numpy(layer(x))
    save(name, input=x, output=y.astype(np.float32))


def output_size_tables():
    pool_rows, conv_rows = [], []
    for n in range(1, 10):
        for k in range(1, 5):
            for s in range(1, 4):
                for d in (1, 2):
                    for p in range(0, 3):
                        x = torch.zeros(1, 1, n)
                        for ceil in (False, True):
                            try:
                                out = F.max_pool1d(x, k, s, p, dilation=d, ceil_mode=ceil).shape[-1]
                            except RuntimeError as e:
                                if "output size" not in str(e):
                                    continue  # settings torch rejects outright (pad > half the kernel)
                                out = 0
                            pool_rows.append((n, k, s, d, p, int(ceil), out))
                        try:
                            out = F.conv1d(x, torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1]
                        except RuntimeError:
                            out = 0
                        conv_rows.append((n, k, s, d, p, out))
    np.save(OUT / "output_sizes.npy", np.array(pool_rows, dtype=np.float32))
    np.save(OUT / "conv_output_sizes.npy", np.array(conv_rows, dtype=np.float32))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    # PyTorch pools (torchvision ResNet stem, GoogLeNet's ceil-mode pools, avg pool divisors).
    torch_case("maxpool_k3s2p1", (2, 7, 8, 3), lambda t: F.max_pool2d(t, 3, 2, 1))
    torch_case("maxpool_k3s2_ceil", (2, 6, 8, 9), lambda t: F.max_pool2d(t, 3, 2, ceil_mode=True), backward=True)
    # Channel counts of 9 and 10 run the engine's 8-lane max kernels and their scalar tails.
    # Ties everywhere (small integers): PyTorch sends each window's gradient to its first maximum.
    x = rng.integers(0, 3, (1, 5, 6, 10)).astype(np.float32)
    xt = to_torch(x, grad=True)
    yt = F.max_pool2d(xt, 3, 2, 1)
    gy = nhwc(from_torch(yt).shape)
    yt.backward(to_torch(gy))
    save("maxpool_ties", input=x, output=from_torch(yt), grad_output=gy, grad_input=from_torch(xt.grad))
    torch_case("avgpool_k3s2p1_include", (2, 7, 8, 3), lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=True))
    torch_case("avgpool_k3s2p1_exclude", (2, 7, 8, 3), lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False))
    # Ceil mode + padding + count_include_pad: the last window's divisor counts the padding but
    # not the overhang beyond it (rows 5..<7 of a 6-row input padded by 1: divisor 2*..., not 3*...).
    torch_case("avgpool_k3s2p1_ceil_include", (2, 6, 8, 3),
               lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=True), backward=True)
    # Ceil mode on an input smaller than the window: one window, clipped (rows 0..<2 of 0..<3).
    torch_case("maxpool_k3s2_ceil_small", (2, 2, 2, 3), lambda t: F.max_pool2d(t, 3, 2, ceil_mode=True))
    torch_case("avgpool_k3s2_ceil_small", (2, 2, 2, 3),
               lambda t: F.avg_pool2d(t, 3, 2, ceil_mode=True, count_include_pad=True), backward=True)
    torch_case("adaptive_5x7_to_3x2", (2, 5, 7, 3), lambda t: F.adaptive_avg_pool2d(t, (3, 2)), backward=True)
    torch_case("adaptive_13x13_to_6x6", (1, 13, 13, 2), lambda t: F.adaptive_avg_pool2d(t, (6, 6)))

    # Keras 'same' pools, stride 2, odd sizes. Pool 3 pads evenly (torch's own symmetric padding,
    # count_include_pad=False); pool 2 pads one cell at the end (edge replicated, which for a
    # 2-wide window equals ignoring the pad). Both agree with TensorFlow's rule.
    keras_case("keras_maxpool_same_p3s2", (2, 7, 9, 3), keras.layers.MaxPooling2D(3, 2, padding="same"))
    keras_case("keras_maxpool_same_p2s2", (2, 7, 9, 3), keras.layers.MaxPooling2D(2, 2, padding="same"))
    keras_case("keras_avgpool_same_p3s2", (2, 7, 9, 3), keras.layers.AveragePooling2D(3, 2, padding="same"))
    keras_case("keras_avgpool_same_p2s2", (2, 7, 9, 3), keras.layers.AveragePooling2D(2, 2, padding="same"))
    keras_case("keras_global_avg", (2, 5, 6, 4), keras.layers.GlobalAveragePooling2D())
    keras_case("keras_global_max", (2, 5, 6, 4), keras.layers.GlobalMaxPooling2D())

    # TensorFlow's 'same' average where the padding is uneven (pool 3 stride 2 on 6 rows: pad 0 top,
    # 1 bottom). Keras 3 on torch replicates the edge there, so the reference is built from torch
    # ops that implement TensorFlow's rule: sum over zero-padded windows / in-bounds cell count.
    x = nhwc((2, 6, 8, 3))
    xt = to_torch(x)
    pad = (0, 1, 0, 1)  # left, right, top, bottom
    sums = F.avg_pool2d(F.pad(xt, pad), 3, 2, divisor_override=1)
    counts = F.avg_pool2d(F.pad(torch.ones_like(xt[:, :1]), pad), 3, 2, divisor_override=1)
    save("tf_avgpool_same_uneven", input=x, output=from_torch(sums / counts))

    # Global max gradient with ties (a channel ReLU zeroed, a repeated maximum): Keras splits evenly.
    x = np.maximum(nhwc((2, 3, 4, 3)), 0)
    x[0, :, :, 1] = 0
    x[1, 0, 0, 2] = x[1, 2, 3, 2] = x[1, :, :, 2].max() + 1
    xt = torch.tensor(x, requires_grad=True)
    yt = keras.layers.GlobalMaxPooling2D()(xt)
    gy = nhwc(tuple(yt.shape))
    yt.backward(torch.tensor(gy))
    save("keras_global_max_ties", input=x, output=yt.detach().numpy(), grad_output=gy,
         grad_input=xt.grad.numpy())

    output_size_tables()
    print(f"wrote {len(list(OUT.glob('*.npy')))} files to {OUT}")


if __name__ == "__main__":
    main()
