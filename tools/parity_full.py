#!/usr/bin/env python3
"""Full-size parity: every zoo architecture against its reference framework, through real files.

For each model it builds the full-size reference with random weights (BatchNorm statistics
randomized too, so no layer is an identity), exports it the way a user would get it (Keras:
legacy `.h5` and Keras 3 `.weights.h5`; torchvision: the `state_dict` as torch.save writes it, zip
and legacy, and as safetensors.torch.save_file writes it, read by zoo as they are; torchvision's
VGG16/19 also into the zoo's vgg16/vgg19; the Caffe networks, built in PyTorch as tools/make_zoo_fixtures.py
builds their twins: a `.caffemodel` written by tools/make_caffe_fixtures.py, bvlc_alexnet-shaped
in the V1 `layers` form, bvlc_googlenet-shaped in the V2 `layer` form with its auxiliary
classifiers), runs `zoo run` on the same NHWC input, and prints the largest absolute difference
relative to the output's scale (the bar is 1e-4). The way back is checked too: `zoo convert` writes
a .safetensors of each torchvision model, which the safetensors package and PyTorch load
(load_state_dict, strict) into a fresh torchvision model that must predict what the original does;
GoogLeNet also runs with transform_input on (`--transform-input`).

    KERAS_BACKEND=torch python3 tools/parity_full.py [--models resnet50,vgg16-keras...] [--batch 2]

Needs torch, torchvision, keras (KERAS_BACKEND=torch), h5py; the zoo binary from `make build`.
Not run in CI (full-size models take minutes and gigabytes).
"""
import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np
import torch
import torchvision

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ZOO = os.path.join(ROOT, ".build", "release", "zoo")

KERAS = {
    "vgg16": "VGG16", "vgg19": "VGG19",
    "resnet50-keras": "ResNet50", "resnet101-keras": "ResNet101", "resnet152-keras": "ResNet152",
}
CAFFE = ["alexnet-caffe", "googlenet-caffe"]
TORCHVISION = {
    "alexnet": "alexnet", "vgg16-bn": "vgg16_bn", "vgg19-bn": "vgg19_bn", "googlenet": "googlenet",
    "resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50", "resnet101": "resnet101",
    "resnet152": "resnet152",
    # torchvision's VGG16/19 (no BatchNorm) load into the zoo's vgg16/vgg19.
    "vgg16-torchvision": "vgg16", "vgg19-torchvision": "vgg19",
}


def zoo_run(model, weights, x, tmp, layer=None, logits=False, extra=()):
    xin, yout = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(xin, x.astype(np.float32))
    args = [ZOO, "run", "--model", model, "--weights", weights, "--input", xin, "--out", yout, *extra]
    if layer:
        args += ["--layer", layer]
    if logits:
        args += ["--classifier-activation", "none"]
    subprocess.run(args, check=True, capture_output=True, text=True)
    return np.load(yout)


def report(name, what, ours, ref):
    scale = max(1.0, float(np.abs(ref).max()))
    diff = float(np.abs(ours - ref).max())
    ok = diff <= 1e-4 * scale
    print(f"{name:<17}{what:<31}max |diff| {diff:.3e}  scale {scale:.3g}  {'OK' if ok else 'FAIL'}", flush=True)
    return ok


def randomize_bn_torch(net, gen):
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def check_torchvision(name, batch, tmp):
    from safetensors.torch import load_file, save_file
    builder = TORCHVISION[name]
    zoo_model = name.removesuffix("-torchvision")
    gen = torch.Generator().manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    net = getattr(torchvision.models, builder)(weights=None, **kwargs).eval()
    randomize_bn_torch(net, gen)
    state = net.state_dict()
    x = torch.randn(batch, 3, 224, 224, generator=gen)
    with torch.no_grad():
        ref = net(x).numpy()
    nhwc = x.permute(0, 2, 3, 1).numpy()
    logits = zoo_model != name    # the zoo's vgg16/vgg19 end in Keras's softmax
    files = {"zip .pth": os.path.join(tmp, "m.pth"), "legacy .pth": os.path.join(tmp, "m-legacy.pth"),
             "safetensors": os.path.join(tmp, "m.safetensors")}
    torch.save(state, files["zip .pth"])
    torch.save(state, files["legacy .pth"], _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in state.items()}, files["safetensors"])
    ok = True
    for what, path in files.items():
        ok &= report(name, f"torchvision {what}", zoo_run(zoo_model, path, nhwc, tmp, logits=logits), ref)
    if name == "googlenet":
        net.transform_input = True
        with torch.no_grad():
            on = net(x).numpy()
        net.transform_input = False
        ok &= report(name, "transform_input on", zoo_run(zoo_model, files["zip .pth"], nhwc, tmp,
                                                          extra=["--transform-input"]), on)
    if zoo_model == name:
        # The way back: zoo's safetensors, loaded by the safetensors package into torchvision's model.
        written = os.path.join(tmp, "zoo.safetensors")
        subprocess.run([ZOO, "convert", files["zip .pth"], written], check=True, capture_output=True)
        fresh = getattr(torchvision.models, builder)(weights=None, **kwargs).eval()
        # strict: every key; BatchNorm fills in num_batches_tracked, which the zoo does not keep.
        fresh.load_state_dict(load_file(written), strict=True)
        with torch.no_grad():
            ok &= report(name, "PyTorch loads zoo safetensors", fresh(x).numpy(), ref)
    return ok


def check_keras(name, batch, tmp):
    import keras
    keras.utils.set_random_seed(0)
    # Logits, not softmax: with random weights the probabilities are all near 1/1000 and would hide errors.
    model = getattr(keras.applications, KERAS[name])(weights=None, classifier_activation=None)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = [w.numpy() for w in layer.weights]
            rng = np.random.default_rng(len(layer.name))
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.1, b.shape),
                               rng.normal(0, 0.1, m.shape), rng.uniform(0.5, 1.5, v.shape)])
    x = np.random.default_rng(1).normal(0, 50, (batch, 224, 224, 3)).astype(np.float32)
    ref = np.asarray(model.predict(x, verbose=0))
    ok = True
    legacy, k3 = os.path.join(tmp, "m.h5"), os.path.join(tmp, "m.weights.h5")
    model.save(legacy)
    ok &= report(name, "Keras .h5 logits", zoo_run(name, legacy, x, tmp, logits=True), ref)
    model.save_weights(k3)
    ok &= report(name, "Keras 3 .weights.h5", zoo_run(name, k3, x, tmp, logits=True), ref)
    # Files ConvZoo writes load into Keras by position (legacy) and by key (Keras 3): a fresh
    # Keras model that loads them predicts what the original does only if ConvZoo wrote its
    # layers in Keras's order (ResNet's _0_conv and _3_conv have the same shape).
    for fmt, out in (("keras-h5", os.path.join(tmp, "zoo.h5")), ("keras3", os.path.join(tmp, "zoo.weights.h5"))):
        subprocess.run([ZOO, "convert", legacy, out, "--format", fmt, "--model", name], check=True, capture_output=True)
        keras.utils.set_random_seed(7)
        fresh = getattr(keras.applications, KERAS[name])(weights=None, classifier_activation=None)
        fresh.load_weights(out)
        ok &= report(name, f"Keras loads zoo {fmt}", np.asarray(fresh.predict(x, verbose=0)), ref)
    tap = "fc2" if name.startswith("vgg") else "avg_pool"
    features = keras.Model(model.input, model.get_layer(tap).output)
    ok &= report(name, f"tap {tap}", zoo_run(name, k3, x, tmp, layer=tap), np.asarray(features.predict(x, verbose=0)))
    return ok


def check_caffe(name, batch, tmp):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import make_caffe_fixtures as writer
    import make_zoo_fixtures as twins
    rng = np.random.default_rng(0)
    if name == "alexnet-caffe":
        net, size = twins.CaffeAlexNet(1, 4096, 1000, 6), 227
        twins.init_torch(net, rng, None)
        layers = writer.alexnet_layers(net, v1=True, varied=False)
    else:
        net, size = twins.CaffeGoogLeNet(1, 1000), 224
        twins.init_torch(net, rng, None)
        layers = writer.googlenet_layers(net, d=1)
    path = os.path.join(tmp, "m.caffemodel")
    with open(path, "wb") as f:
        f.write(writer.net(name, layers))
    # Mean-subtracted pixels, the scale Caffe's LRN sees.
    x = (rng.standard_normal((batch, size, size, 3)) * 60).astype(np.float32)
    ref, _ = twins.run_torch(net.eval(), x, {})
    return report(name, "Caffe .caffemodel logits", zoo_run(name, path, x, tmp), ref)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default=",".join(list(KERAS) + list(TORCHVISION) + CAFFE))
    p.add_argument("--batch", type=int, default=2)
    a = p.parse_args()
    ok = True
    for name in a.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            check = check_keras if name in KERAS else check_caffe if name in CAFFE else check_torchvision
            ok &= check(name, a.batch, tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
