#!/usr/bin/env python3
"""Writes the Conv2D / Dense / activation parity fixtures that ConvDenseParityTests reads.

Each case is a directory under Tests/Fixtures/layers/{conv,dense,activation}/ holding float32 .npy files:
  input       the layer input, NHWC (or (batch, features))
  kernel      Keras layout: conv HWIO (kh, kw, in / groups, out), dense (in, out)
  bias        (out), absent when the layer has none
  output      the reference forward output, NHWC
  upstream    a fixed dLoss/dOutput
  input_grad, kernel_grad (converted to the kernel's layout above), bias_grad
Activation cases hold only input, output, upstream and input_grad.

Inputs and weights are drawn in float32, then the reference runs in float64 (PyTorch, or Keras 3 on
the torch backend for Keras-only semantics such as `padding="same"`), so the stored expectations
carry no float32 rounding of their own. The layer settings of every case are mirrored in
Tests/EngineTests/ConvDenseParityTests.swift; change both together.

Run from the repository root:  KERAS_BACKEND=torch python3 tools/make_layer_fixtures.py
"""
import os
import shutil
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch
import torch.nn.functional as F
import keras

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "layers")
F64 = torch.float64


def rng_for(name):
    """A generator seeded by the case name, so adding a case never changes the others."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def uniform(rng, shape, scale=1.0):
    return rng.uniform(-scale, scale, size=shape).astype(np.float32)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=grad)


def nchw(a):
    return a.permute(0, 3, 1, 2)


def nhwc(a):
    return a.permute(0, 2, 3, 1)


def save(group, name, **arrays):
    folder = os.path.join(ROOT, group, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for key, value in arrays.items():
        if value is None:
            continue
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        np.save(os.path.join(folder, key + ".npy"), np.ascontiguousarray(value, dtype=np.float32))


def require_off_kink(name, preactivation):
    # A ReLU input within float32 noise of 0 could fall on the other side in the engine.
    closest = float(np.abs(preactivation).min())
    assert closest > 1e-4, f"{name}: a pre-activation is {closest} from the ReLU kink; pick another seed"


# --- PyTorch Conv2d -------------------------------------------------------------------------------

def torch_conv(name, batch, height, width, cin, cout, kernel, stride=1, padding=0, dilation=1, groups=1,
               bias=True, pre_pad=None):
    """nn.Conv2d (optionally after F.pad with (left, right, top, bottom)), kernel saved as HWIO."""
    rng = rng_for(name)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = uniform(rng, (batch, height, width, cin))
    w = uniform(rng, (kh, kw, cin // groups, cout), 0.5)
    b = uniform(rng, (cout,), 0.5) if bias else None

    conv = torch.nn.Conv2d(cin, cout, (kh, kw), stride=stride, padding=padding, dilation=dilation,
                           groups=groups, bias=bias, dtype=F64)
    with torch.no_grad():
        conv.weight.copy_(t64(w).permute(3, 2, 0, 1))          # HWIO -> OIHW
        if bias:
            conv.bias.copy_(t64(b))
    xt = t64(x, grad=True)
    inp = nchw(xt)
    if pre_pad is not None:
        inp = F.pad(inp, pre_pad)
    y = nhwc(conv(inp))
    upstream = uniform(rng, tuple(y.shape))
    y.backward(t64(upstream))
    save("conv", name, input=x, kernel=w, bias=b, output=y, upstream=upstream, input_grad=xt.grad,
         kernel_grad=conv.weight.grad.permute(2, 3, 1, 0), bias_grad=conv.bias.grad if bias else None)
    return x, w, b, y


# --- Keras Conv2D (torch backend, float64) ----------------------------------------------------------

def keras_conv(name, batch, height, width, cin, cout, kernel, strides, padding, activation=None, expect_pads=None):
    """Keras Conv2D. `expect_pads` (top, bottom, left, right) re-derives the output with explicit
    zero padding in plain PyTorch, so a fixture can only be written if Keras really padded that way."""
    rng = rng_for(name)
    kh, kw = kernel
    x = uniform(rng, (batch, height, width, cin))
    w = uniform(rng, (kh, kw, cin, cout), 0.5)
    b = uniform(rng, (cout,), 0.5)

    layer = keras.layers.Conv2D(cout, kernel, strides=strides, padding=padding, activation=activation,
                                dtype="float64")
    layer.build((batch, height, width, cin))
    layer.set_weights([w.astype(np.float64), b.astype(np.float64)])
    xt = t64(x, grad=True)
    y = layer(xt, training=True)
    upstream = uniform(rng, tuple(y.shape))
    y.backward(t64(upstream))

    pre = F.conv2d(nchw(t64(x)) if expect_pads is None else
                   F.pad(nchw(t64(x)), (expect_pads[2], expect_pads[3], expect_pads[0], expect_pads[1])),
                   t64(w).permute(3, 2, 0, 1), t64(b), stride=strides)
    pre = nhwc(pre).detach().numpy()
    if activation == "relu":
        require_off_kink(name, pre)
        pre = np.maximum(pre, 0)
    assert np.allclose(pre, y.detach().numpy(), rtol=0, atol=1e-12), f"{name}: Keras padded otherwise"

    save("conv", name, input=x, kernel=w, bias=b, output=y, upstream=upstream, input_grad=xt.grad,
         kernel_grad=layer.kernel.value.grad, bias_grad=layer.bias.value.grad)
    return x, w, b, y


def conv_cases():
    torch_conv("k3_s1_p1", 2, 8, 7, 3, 4, 3, padding=1)
    torch_conv("k3_s2_p1_odd", 2, 9, 9, 3, 4, 3, stride=2, padding=1)
    torch_conv("k3_s2_p1_even", 2, 8, 8, 3, 4, 3, stride=2, padding=1)
    torch_conv("k7_s2_p3_stem", 1, 17, 17, 3, 4, 7, stride=2, padding=3)
    # 16x16x32 -> 32 is just big enough (m*n*k = 64^3) that the pointwise GEMMs split across threads.
    torch_conv("k1_s1_pointwise", 1, 16, 16, 32, 32, 1)
    torch_conv("k1_s2_projection", 2, 9, 8, 4, 6, 1, stride=2)
    torch_conv("k3_d2_p2_dilated", 2, 9, 10, 3, 4, 3, padding=2, dilation=2)
    torch_conv("k5_p2_groups2", 2, 9, 9, 4, 6, 5, padding=2, groups=2)
    torch_conv("k3_s1_p1_nobias", 2, 6, 7, 3, 4, 3, padding=1, bias=False)
    # F.pad takes (left, right, top, bottom): rows get 1 above and 2 below, columns 0 left and 1 right.
    torch_conv("k3_s2_fpad_t1b2l0r1", 2, 8, 9, 3, 4, 3, stride=2, pre_pad=(0, 1, 1, 2))
    torch_conv("k11_s4_p2_alexnet", 1, 35, 35, 3, 4, 11, stride=4, padding=2)

    # Keras "same" with stride 2 on an even input pads 0 above / 1 below (TensorFlow's rule), where
    # PyTorch's padding=1 pads 1 on both sides; the two must really differ for the case to mean anything.
    x, w, b, y = keras_conv("keras_same_s2_even", 2, 8, 10, 3, 4, (3, 3), (2, 2), "same", expect_pads=(0, 1, 0, 1))
    symmetric = nhwc(F.conv2d(nchw(t64(x)), t64(w).permute(3, 2, 0, 1), t64(b), stride=2, padding=1))
    assert symmetric.shape == y.shape and not np.allclose(symmetric.detach().numpy(), y.detach().numpy(), atol=1e-3)
    keras_conv("keras_same_s2_odd", 2, 9, 7, 3, 4, (3, 3), (2, 2), "same", expect_pads=(1, 1, 1, 1))
    # An even kernel at stride 1: total padding 3 per axis, the extra pixel again at the bottom / right.
    keras_conv("keras_same_s1_k4", 2, 7, 6, 3, 4, (4, 4), (1, 1), "same", expect_pads=(1, 2, 1, 2))
    # A non-square kernel and stride catch any height / width mix-up.
    keras_conv("keras_valid_k3x2_s2x1", 2, 9, 8, 3, 4, (3, 2), (2, 1), "valid", expect_pads=(0, 0, 0, 0))
    keras_conv("keras_same_relu", 2, 6, 6, 3, 4, (3, 3), (1, 1), "same", activation="relu",
               expect_pads=(1, 1, 1, 1))


# --- Linear / Dense ---------------------------------------------------------------------------------

def torch_linear(name, batch, fin, fout):
    rng = rng_for(name)
    x = uniform(rng, (batch, fin))
    w = uniform(rng, (fin, fout), 0.5)
    b = uniform(rng, (fout,), 0.5)
    linear = torch.nn.Linear(fin, fout, dtype=F64)
    with torch.no_grad():
        linear.weight.copy_(t64(w).T)                               # (in, out) -> PyTorch's (out, in)
        linear.bias.copy_(t64(b))
    xt = t64(x, grad=True)
    y = linear(xt)
    upstream = uniform(rng, tuple(y.shape))
    y.backward(t64(upstream))
    save("dense", name, input=x, kernel=w, bias=b, output=y, upstream=upstream, input_grad=xt.grad,
         kernel_grad=linear.weight.grad.T, bias_grad=linear.bias.grad)


def keras_dense(name, batch, fin, fout, activation):
    rng = rng_for(name)
    x = uniform(rng, (batch, fin))
    w = uniform(rng, (fin, fout), 0.5)
    b = uniform(rng, (fout,), 0.5)
    layer = keras.layers.Dense(fout, activation=activation, dtype="float64")
    layer.build((batch, fin))
    layer.set_weights([w.astype(np.float64), b.astype(np.float64)])
    xt = t64(x, grad=True)
    y = layer(xt, training=True)
    if activation == "relu":
        require_off_kink(name, x.astype(np.float64) @ w.astype(np.float64) + b)
    upstream = uniform(rng, tuple(y.shape))
    y.backward(t64(upstream))
    save("dense", name, input=x, kernel=w, bias=b, output=y, upstream=upstream, input_grad=xt.grad,
         kernel_grad=layer.kernel.value.grad, bias_grad=layer.bias.value.grad)


def dense_cases():
    torch_linear("linear_batch1", 1, 12, 7)
    torch_linear("linear_batch4", 4, 12, 7)
    keras_dense("keras_relu_batch1", 1, 12, 7, "relu")
    keras_dense("keras_relu_batch4", 4, 12, 7, "relu")
    keras_dense("keras_softmax_batch1", 1, 12, 7, "softmax")
    keras_dense("keras_softmax_batch4", 4, 12, 7, "softmax")


# --- Activations ------------------------------------------------------------------------------------

ACTIVATIONS = {
    # name: (PyTorch function, the Keras layer that must agree with it)
    "relu": (torch.relu, lambda: keras.layers.ReLU(dtype="float64")),
    "sigmoid": (torch.sigmoid, lambda: keras.layers.Activation("sigmoid", dtype="float64")),
    "tanh": (torch.tanh, lambda: keras.layers.Activation("tanh", dtype="float64")),
    "leaky_relu_0.1": (lambda t: F.leaky_relu(t, 0.1),
                       lambda: keras.layers.LeakyReLU(negative_slope=0.1, dtype="float64")),
    "softmax": (lambda t: torch.softmax(t, dim=-1), lambda: keras.layers.Softmax(axis=-1, dtype="float64")),
}


def activation_cases():
    for name, (torch_fn, keras_layer) in ACTIVATIONS.items():
        rng = rng_for(name)
        x = uniform(rng, (4, 10), 3.0)
        if "relu" in name:
            require_off_kink(name, x)
        upstream = uniform(rng, (4, 10))
        grads = []
        for fn in (torch_fn, keras_layer()):
            xt = t64(x, grad=True)
            y = fn(xt)
            y.backward(t64(upstream))
            grads.append((y.detach().numpy(), xt.grad.numpy()))
        (y, dx), (ky, kdx) = grads
        assert np.allclose(y, ky, rtol=0, atol=1e-12) and np.allclose(dx, kdx, rtol=0, atol=1e-12), name
        save("activation", name, input=x, output=y, upstream=upstream, input_grad=dx)


if __name__ == "__main__":
    conv_cases()
    dense_cases()
    activation_cases()
    print("wrote fixtures under", os.path.normpath(ROOT))
