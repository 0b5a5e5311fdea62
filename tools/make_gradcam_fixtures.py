#!/usr/bin/env python3
"""Writes the Grad-CAM parity fixtures that Tests/TransferTests/GradCAMTests.swift reads.

    KERAS_BACKEND=torch python3 tools/make_gradcam_fixtures.py

Grad-CAM as Selvaraju et al. (2017) define it, computed the usual PyTorch way (a forward hook
keeps the layer's output A, autograd gives dy_c/dA): map = ReLU(sum_k a_k A^k), a_k the spatial
mean of dy_c/dA^k, y_c the class's score before softmax. It runs on the zoo's narrow twins with
the weights of Tests/Fixtures/zoo/<twin>/ (written by make_zoo_fixtures.py), checked first to
reproduce the stored outputs:

  torchvision twins (resnet18, resnet50, vgg16-bn, alexnet, googlenet): the converter's weights.h5
      read back into torchvision's modules; scores are the logits
  vgg16 (Keras 3, softmax head): Keras loads weights.h5; the score is the predictions layer's
      pre-softmax logit, computed from fc2's output with the layer's own kernel and bias

Each layer is ConvZoo's default Grad-CAM layer for the architecture. lenet5-paper (score: the
negated RBF penalty) has no fixture: every map of its random PyTorch twin, at c3 and s4, for every
class and several inputs, is zero after the ReLU, which would test nothing; its score gradient is
gradient-checked in GradCAMTests instead.

Tests/Fixtures/gradcam/ gets, per twin: <twin>.npy, the maps for each image's top-1 class, and
<twin>_other.npy, those for one other class for every image (the one with the largest maps, since
a random twin's maps are often zero after the ReLU), float32 (images, h, w); <twin>_input.npy, the
input where it is not the twin's own (ResNet twins' 32x32 leave conv5 at 1x1); gradcam.json, the
layers and classes.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_zoo_fixtures as twins  # noqa: E402

ZOO = os.path.join(HERE, "..", "Tests", "Fixtures", "zoo")
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "gradcam")


def fixture(twin, name):
    return np.load(os.path.join(ZOO, twin, name + ".npy"))


def grad_cam(a, scores, classes, channels_last=False):
    """Maps (N, h, w) from A (N, C, h, w), or (N, h, w, C), and the scores (N, classes) it leads to."""
    picked = scores[torch.arange(len(classes)), torch.tensor(classes)].sum()
    (grad,) = torch.autograd.grad(picked, a)
    if channels_last:
        a, grad = a.permute(0, 3, 1, 2), grad.permute(0, 3, 1, 2)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * a).sum(dim=1)).detach().double().numpy()


def hooked(model, module, x_nhwc, dtype=torch.float32):
    """(A, output) of a torchvision-style model, A kept by a forward hook on `module`."""
    seen = {}
    hook = module.register_forward_hook(lambda m, i, o: seen.__setitem__("a", o))
    x = torch.tensor(x_nhwc, dtype=dtype).permute(0, 3, 1, 2).contiguous()
    out = model(x)
    hook.remove()
    return seen["a"], out


def torchvision_twin(name, build, module_of, size=None):
    """Runs on the twin's input, or on a seeded one of `size` (ResNet twins' 32x32 leave conv5 at 1x1),
    saved as <twin>_input.npy."""
    spec = json.load(open(os.path.join(ZOO, name, "spec.json")))
    model = twins.load_converted(spec["architecture"], build, os.path.join(ZOO, name, "weights.h5"))
    x = fixture(name, "input")
    _, logits = hooked(model, module_of(model), x)
    expected = fixture(name, "output")
    assert np.abs(logits.detach().numpy() - expected).max() <= 1e-5 * max(1, np.abs(expected).max()), name
    if size:
        x = np.random.default_rng(size).standard_normal((2, size, size, 3)).astype(np.float32)
        np.save(os.path.join(OUT, f"{name}_input.npy"), x)

    def run(classes_of):
        a, logits = hooked(model, module_of(model), x)
        return grad_cam(a, logits, classes_of(logits))
    return run


def keras_vgg16():
    import keras
    name = "vgg16"
    spec = json.load(open(os.path.join(ZOO, name, "spec.json")))
    x = fixture(name, "input")
    model = twins.keras_vgg(spec["block_counts"], spec["channel_divisor"], spec["hidden_units"], spec["classes"],
                            spec["input_shape"][1])
    model.load_weights(os.path.join(ZOO, name, "weights.h5"))
    inner = keras.Model(model.inputs, [model.get_layer("block5_conv3").output, model.get_layer("fc2").output])
    predictions = model.get_layer("predictions")

    def run(classes_of):
        a, features = inner(torch.from_numpy(x))
        logits = features @ predictions.kernel.value + predictions.bias.value
        assert np.allclose(torch.softmax(logits, 1).detach().cpu().numpy(), fixture(name, "output"), atol=1e-6)
        return grad_cam(a, logits, classes_of(logits), channels_last=True)
    return run


def top1(scores):
    return scores.argmax(dim=1).tolist()


def every(c):
    return lambda scores: [c] * scores.shape[0]


def main():
    from torchvision.models.resnet import BasicBlock, Bottleneck
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    cfg = [v if v == "M" else v // 32 for v in cfgs["D"]]
    runs = {
        "resnet18": ("conv5_block2_out", torchvision_twin(
            "resnet18", lambda: twins.NarrowResNet(BasicBlock, [2, 2, 2, 2], 4, 10), lambda m: m.layer4[-1], size=48)),
        "resnet50": ("conv5_block3_out", torchvision_twin(
            "resnet50", lambda: twins.NarrowResNet(Bottleneck, [3, 4, 6, 3], 2, 10), lambda m: m.layer4[-1], size=48)),
        "vgg16-bn": ("block5_relu3", torchvision_twin(
            "vgg16-bn", lambda: twins.NarrowVGG(make_layers(cfg, batch_norm=True), cfg[-2], 32, 10),
            lambda m: m.features[-2])),
        "alexnet": ("conv5", torchvision_twin(
            "alexnet", lambda: twins.NarrowAlexNet(16, twins.HIDDEN, 10), lambda m: m.features[11])),
        "googlenet": ("inception5b", torchvision_twin(
            "googlenet", lambda: twins.NarrowGoogLeNet(16, 10), lambda m: m.inception5b)),
        "vgg16": ("block5_conv3", keras_vgg16()),
    }
    index = {}
    for name, (layer, run) in runs.items():
        seen = []
        maps = run(lambda scores: seen.append(top1(scores)) or seen[-1])
        # The second fixture explains another class for every image: the one whose maps are
        # largest (random twins' maps are often all zero after the ReLU).
        other, maps_other = max(((c, run(every(c))) for c in range(10) if c not in seen[0]),
                                key=lambda pair: pair[1].max())
        assert maps_other.max() > 0, f"{name}: an all-zero map tests nothing"
        np.save(os.path.join(OUT, f"{name}.npy"), maps.astype(np.float32))
        np.save(os.path.join(OUT, f"{name}_other.npy"), maps_other.astype(np.float32))
        index[name] = {"layer": layer, "top1": seen[0], "other": other, "shape": list(maps.shape)}
        print(f"{name}: {layer} maps {list(maps.shape)}, top-1 {seen[0]}, max {maps.max():.4g}; "
              f"class {other} max {maps_other.max():.4g}")
    with open(os.path.join(OUT, "gradcam.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
