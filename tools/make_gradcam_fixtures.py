#!/usr/bin/env python3
"""Writes the Grad-CAM parity fixtures that Tests/TransferTests/GradCAMTests.swift reads.

    KERAS_BACKEND=torch python3 tools/make_gradcam_fixtures.py [lenet5-paper]

Grad-CAM as Selvaraju et al. (2017) define it, computed the usual PyTorch way (a forward hook
keeps the layer's output A, autograd gives dy_c/dA): map = ReLU(sum_k a_k A^k), a_k the spatial
mean of dy_c/dA^k, y_c the class's score before softmax. It runs on the zoo's narrow twins with
the weights of Tests/Fixtures/zoo/<twin>/ (written by make_zoo_fixtures.py), checked first to
reproduce the stored outputs:

  torchvision twins (resnet18, resnet50, vgg16-bn, alexnet, googlenet): the converter's weights.h5
      read back into torchvision's modules; scores are the logits
  vgg16 (Keras 3, softmax head): Keras loads weights.h5; the score is the predictions layer's
      pre-softmax logit, computed from fc2's output with the layer's own kernel and bias

Each layer is ConvZoo's default Grad-CAM layer for the architecture.

lenet5-paper (score: the negated RBF penalty, as ConvZoo defines it) gets trained weights instead of
a random twin, whose maps are all zero after the ReLU at c3 and s4 for every class and input and
would test nothing: make_lenet_fixtures.py's PyTorch twin of the paper's network is trained for a
few epochs on the bundled digits (datasets/digits, 8x8, on LeNet-5's 32x32 canvas: resized
bilinearly to 28x28 and centred, background -0.1 and ink 1.175 as the paper maps them) with the
cross-entropy of the softmax over the negated penalties (what `zoo finetune` trains it with), seeded.
Tests/Fixtures/gradcam/lenet5-paper/ gets the weights in ConvZoo's layout (<layer>_kernel HWIO or
(in, out), <layer>_bias, s2/s4 _coefficient and _bias, predictions_centers), input.npy (four held-out
digits), penalties.npy (the network's output on them), maps.npy (c3, each image's top class),
maps_other.npy (c3, for each image the other class with the largest maps) and spec.json.

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


def digits_on_canvas():
    """The bundled digits as the paper's 32x32 input (N, 1, 32, 32) and their labels."""
    x = np.load(os.path.join(HERE, "..", "datasets", "digits", "images.npy")).astype(np.float32)
    y = np.load(os.path.join(HERE, "..", "datasets", "digits", "labels.npy")).astype(np.int64)
    unit = torch.from_numpy(x.reshape(-1, 1, 8, 8) / 16.0)
    inner = torch.nn.functional.interpolate(unit, size=(28, 28), mode="bilinear", align_corners=False)
    canvas = torch.nn.functional.pad(inner, (2, 2, 2, 2))
    return -0.1 + 1.275 * canvas, torch.from_numpy(y)


def lenet5_paper():
    """Trains the paper's LeNet-5 twin on the digits and writes its Grad-CAM fixture (see the docstring)."""
    import make_lenet_fixtures as lenet
    out = os.path.join(OUT, "lenet5-paper")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(5)
    rng = np.random.default_rng(1998)
    # Initial weights as the paper draws them: U(-2.4/F, 2.4/F), F the unit's fan-in.
    fan_in = {"c1": 25, "c3": 25 * np.array([len(c) for c in lenet.C3_CONNECTIONS]), "c5": 400, "f6": 120}
    shapes = {"c1": (5, 5, 1, 6), "c3": (5, 5, 6, 16), "c5": (5, 5, 16, 120), "f6": (120, 84)}
    w = {}
    for name, shape in shapes.items():
        limit = 2.4 / fan_in[name]
        w[name + "_kernel"] = rng.uniform(-1, 1, size=shape) * limit
        w[name + "_bias"] = rng.uniform(-1, 1, size=shape[-1]) * limit
    for name, maps in [("s2", 6), ("s4", 16)]:
        w[name + "_coefficient"] = rng.uniform(-0.6, 0.6, size=maps)
        w[name + "_bias"] = rng.uniform(-0.6, 0.6, size=maps)
    w["predictions_centers"] = rng.choice([-1.0, 1.0], size=(10, 84))
    net = lenet.LeNet5Paper(w).float()
    net.predictions.centers.requires_grad_(False)  # the prototypes are fixed, as in ConvZoo

    x, y = digits_on_canvas()
    held_out = torch.arange(len(y)) % 5 == 0
    train_x, train_y = x[~held_out], y[~held_out]
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=2e-3)
    for epoch in range(6):
        order = torch.randperm(len(train_y))
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            _, _, penalties = net(train_x[batch])
            loss = torch.nn.functional.cross_entropy(-penalties, train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            with torch.no_grad():
                net.c3.weight.grad *= net.c3.mask
            optimizer.step()
        with torch.no_grad():
            accuracy = (net(x[held_out])[2].argmin(dim=1) == y[held_out]).float().mean().item()
        print(f"lenet5-paper: epoch {epoch + 1}, loss {loss.item():.4f}, held-out accuracy {100 * accuracy:.1f}%")

    # The trained weights as ConvZoo stores them (float32), and a float64 twin of exactly those.
    with torch.no_grad():
        net.c3.weight *= net.c3.mask
    hwio = lambda conv: conv.weight.detach().permute(2, 3, 1, 0).numpy()
    trained = {
        "c1_kernel": hwio(net.c1), "c1_bias": net.c1.bias.detach().numpy(),
        "c3_kernel": hwio(net.c3), "c3_bias": net.c3.bias.detach().numpy(),
        "c5_kernel": hwio(net.c5), "c5_bias": net.c5.bias.detach().numpy(),
        "f6_kernel": net.f6.weight.detach().T.numpy(), "f6_bias": net.f6.bias.detach().numpy(),
        "s2_coefficient": net.s2.coefficient.detach().numpy(), "s2_bias": net.s2.bias.detach().numpy(),
        "s4_coefficient": net.s4.coefficient.detach().numpy(), "s4_bias": net.s4.bias.detach().numpy(),
        "predictions_centers": net.predictions.centers.detach().numpy(),
    }
    trained = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in trained.items()}
    twin = lenet.LeNet5Paper(trained)  # float64
    # The hook sits on C3's squashing: ConvZoo's c3 is the convolution with its scaled tanh fused.
    layers = torch.nn.Sequential(twin.c1, lenet.ScaledTanh(), twin.s2, lenet.ScaledTanh(), twin.c3, lenet.ScaledTanh(),
                                 twin.s4, lenet.ScaledTanh(), twin.c5, lenet.ScaledTanh(), torch.nn.Flatten(),
                                 twin.f6, lenet.ScaledTanh(), twin.predictions)
    # Even trained, some images' top-1 maps are all zero after the ReLU (the weighted sum is negative
    # everywhere): the fixture takes the first four held-out digits of different classes whose maps are not.
    candidates = torch.nonzero(held_out).flatten()[:80]
    a, penalties = hooked(layers, layers[5], x[candidates].permute(0, 2, 3, 1).numpy(), dtype=torch.float64)
    peaks = grad_cam(a, -penalties, top1(-penalties)).reshape(len(candidates), -1).max(axis=1)
    picks, classes = [], set()
    for i, peak in zip(candidates.tolist(), peaks):
        if peak > 0 and int(y[i]) not in classes and len(picks) < 4:
            picks.append(i)
            classes.add(int(y[i]))
    zero_share = float((peaks == 0).mean())
    print(f"lenet5-paper: {100 * zero_share:.0f}% of {len(candidates)} held-out digits have all-zero top-1 maps at c3")
    sample = x[picks].permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)

    def run(classes_of):
        a, penalties = hooked(layers, layers[5], sample, dtype=torch.float64)
        return grad_cam(a, -penalties, classes_of(-penalties)), penalties

    seen = []
    maps, penalties = run(lambda scores: seen.append(top1(scores)) or seen[-1])
    other, maps_other = max(((c, run(every(c))[0]) for c in range(10) if c not in seen[0]), key=lambda p: p[1].max())
    assert (maps.reshape(len(picks), -1).max(axis=1) > 0).all(), "lenet5-paper: an all-zero top-1 map tests nothing"
    assert maps_other.max() > 0, "lenet5-paper: an all-zero map tests nothing"
    np.save(os.path.join(out, "input.npy"), sample)
    np.save(os.path.join(out, "penalties.npy"), penalties.detach().numpy().astype(np.float32))
    np.save(os.path.join(out, "maps.npy"), maps.astype(np.float32))
    np.save(os.path.join(out, "maps_other.npy"), maps_other.astype(np.float32))
    for name, value in trained.items():
        np.save(os.path.join(out, name + ".npy"), value)
    with open(os.path.join(out, "spec.json"), "w") as f:
        json.dump({"layer": "c3", "samples": picks, "labels": y[picks].tolist(), "top1": seen[0], "other": other,
                   "held_out_accuracy": round(accuracy, 4), "all_zero_top1_share": round(zero_share, 4),
                   "shape": list(maps.shape)}, f, indent=2)
        f.write("\n")
    print(f"lenet5-paper: c3 maps {list(maps.shape)}, labels {y[picks].tolist()}, top-1 {seen[0]}, "
          f"max {maps.max():.4g}; class {other} max {maps_other.max():.4g}")


def top1(scores):
    return scores.argmax(dim=1).tolist()


def every(c):
    return lambda scores: [c] * scores.shape[0]


def main():
    if sys.argv[1:] == ["lenet5-paper"]:  # only the trained LeNet-5 fixture, leaving the twins' as they are
        lenet5_paper()
        return
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
    lenet5_paper()


if __name__ == "__main__":
    main()
