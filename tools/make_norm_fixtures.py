#!/usr/bin/env python3
"""Writes the BatchNorm and LocalResponseNorm parity fixtures, Tests/Fixtures/layers/norm/*.npy.

The reference numbers come from the frameworks themselves: PyTorch's BatchNorm2d and
LocalResponseNorm, and Keras 3's BatchNormalization (on the torch backend; TensorFlow is not needed).
PyTorch works in NCHW; every array is written in ConvZoo's NHWC layout.

    python3 tools/make_norm_fixtures.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "layers", "norm")


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


def nhwc(t):
    """A torch NCHW tensor as an NHWC numpy array."""
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy()


def nchw(a):
    """An NHWC numpy array as a torch NCHW tensor."""
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def torch_batchnorm(rng):
    """BatchNorm2d(3, eps=1e-5, momentum=0.1): two training steps, then an evaluation."""
    c = 3
    bn = torch.nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
    beta = rng.uniform(-0.5, 0.5, c).astype(np.float32)
    mean0 = rng.uniform(-0.2, 0.2, c).astype(np.float32)
    var0 = rng.uniform(0.5, 1.5, c).astype(np.float32)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
        bn.running_mean.copy_(torch.from_numpy(mean0))
        bn.running_var.copy_(torch.from_numpy(var0))
    # Channel means and scales away from 0 and 1, so a wrong statistic cannot pass unnoticed.
    shift = np.array([0.5, -1.0, 2.0], np.float32)
    spread = np.array([1.0, 0.3, 2.5], np.float32)
    x1 = (rng.standard_normal((2, 4, 5, c)) * spread + shift).astype(np.float32)
    x2 = (rng.standard_normal((2, 4, 5, c)) * spread + shift).astype(np.float32)
    dy = rng.uniform(-1, 1, (2, 4, 5, c)).astype(np.float32)
    x3 = (rng.standard_normal((1, 3, 2, c)) * spread + shift).astype(np.float32)

    bn.train()
    bn(nchw(x1))
    xt = nchw(x2).requires_grad_(True)
    y2 = bn(xt)
    y2.backward(nchw(dy))
    bn.eval()
    with torch.no_grad():
        y3 = bn(nchw(x3))

    for name, a in [("gamma", gamma), ("beta", beta), ("running_mean0", mean0), ("running_var0", var0),
                    ("x1", x1), ("x2", x2), ("dy", dy), ("x3", x3)]:
        save("torch_bn_" + name, a)
    save("torch_bn_y2", nhwc(y2))
    save("torch_bn_dx2", nhwc(xt.grad))
    save("torch_bn_dgamma", bn.weight.grad.numpy())
    save("torch_bn_dbeta", bn.bias.grad.numpy())
    save("torch_bn_running_mean2", bn.running_mean.numpy())
    save("torch_bn_running_var2", bn.running_var.numpy())
    save("torch_bn_eval_y3", nhwc(y3))


def keras_batchnorm(rng):
    """Keras BatchNormalization(momentum=0.99, epsilon=1e-3): one training step, NHWC as is."""
    import keras

    c = 4
    layer = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3)
    layer.build((None, 3, 3, c))
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
    beta = rng.uniform(-0.5, 0.5, c).astype(np.float32)
    mean0 = rng.uniform(-0.2, 0.2, c).astype(np.float32)
    var0 = rng.uniform(0.5, 1.5, c).astype(np.float32)
    layer.set_weights([gamma, beta, mean0, var0])
    x = (rng.standard_normal((2, 3, 3, c)) * np.array([1, 0.2, 3, 0.7]) + np.array([1, -2, 0, 0.5])).astype(np.float32)
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    moving_mean, moving_var = [np.asarray(w) for w in layer.get_weights()[2:]]
    for name, a in [("gamma", gamma), ("beta", beta), ("moving_mean0", mean0), ("moving_var0", var0), ("x", x),
                    ("y", y), ("moving_mean1", moving_mean), ("moving_var1", moving_var)]:
        save("keras_bn_" + name, a)


def torch_lrn(rng, prefix, size, alpha, beta, k, scale):
    """LocalResponseNorm forward and input gradient; inputs scaled so the window sum matters."""
    lrn = torch.nn.LocalResponseNorm(size=size, alpha=alpha, beta=beta, k=k)
    x = (rng.standard_normal((2, 3, 2, 7)) * scale).astype(np.float32)
    dy = rng.uniform(-1, 1, x.shape).astype(np.float32)
    xt = nchw(x).requires_grad_(True)
    y = lrn(xt)
    y.backward(nchw(dy))
    save(prefix + "_x", x)
    save(prefix + "_dy", dy)
    save(prefix + "_y", nhwc(y))
    save(prefix + "_dx", nhwc(xt.grad))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2024)
    torch_batchnorm(rng)
    keras_batchnorm(rng)
    # AlexNet's parameters (k = 2), inputs large enough that alpha = 1e-4 moves the output.
    torch_lrn(rng, "torch_lrn5", size=5, alpha=1e-4, beta=0.75, k=2.0, scale=30.0)
    # An even window, whose asymmetric padding a symmetric implementation would get wrong.
    torch_lrn(rng, "torch_lrn4", size=4, alpha=1e-2, beta=0.6, k=1.0, scale=3.0)
    print("wrote", len(os.listdir(OUT)), "files to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
