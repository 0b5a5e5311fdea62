#!/usr/bin/env python3
"""Checks tools/convert_torchvision.py on every full-size torchvision architecture (random weights).

For each architecture: build the torchvision model (weights=None, nothing downloaded), save its
state_dict, run the converter's command line, then read the .h5 back with h5py and check
  - the Keras-2 layout: root layer_names/backend/keras_version, weight_names per layer, datasets
    at <layer>/<layer>/<weight>:0, float32, and the ConvZoo attributes;
  - the layer order and names against the torch modules themselves (Conv2d, BatchNorm2d, Linear in
    registration order, which is network order here), named by rules written independently of the
    converter's table;
  - every value, by undoing the layout change (HWIO -> OIHW, (in, out) -> (out, in)) and comparing
    bit for bit with the torch tensor; the flattened Dense also functionally: the same pooled
    features, flattened CHW for torch and HWC for ConvZoo, give the same output;
  - the parameter count (torchvision's learnable count, issue 6's figures);
and that bad state_dicts are refused with a message naming the keys. Prints OK per architecture.

    python3 tools/check_converter.py [ARCH ...]

Needs about 2 GB of memory and a few minutes for the VGGs; writes only into a temporary directory.
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER = os.path.join(HERE, "convert_torchvision.py")

# torchvision's learnable parameter counts (issue 6); ConvZoo's Trainable params must equal them.
PARAMETERS = {
    "alexnet": 61_100_840, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg16_bn": 138_365_992, "vgg19_bn": 143_678_248, "googlenet": 6_624_904,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
}
ZOO_NAMES = {"vgg16_bn": "vgg16-bn", "vgg19_bn": "vgg19-bn"}
GOOGLENET_BRANCHES = {"branch1": "1x1", "branch2.0": "3x3_reduce", "branch2.1": "3x3",
                      "branch3.0": "5x5_reduce", "branch3.1": "5x5", "branch4.1": "pool_proj"}


def build(arch):
    if arch == "googlenet":
        # aux_logits=True so the converter must drop aux1/aux2, as in the ImageNet .pth.
        return torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    return getattr(torchvision.models, arch)(weights=None)


def expected_layers(arch, model):
    """[(ConvZoo name, torch module prefix, kind)] from the model's own modules."""
    layers = []
    vgg_block, vgg_conv = 1, 0
    alexnet_conv, fc_index = 0, 0
    for prefix, module in model.named_modules():
        if prefix.startswith("aux"):
            continue
        if isinstance(module, torch.nn.MaxPool2d) and arch.startswith("vgg"):
            vgg_block, vgg_conv = vgg_block + 1, 0
        kind = {torch.nn.Conv2d: "conv", torch.nn.BatchNorm2d: "bn", torch.nn.Linear: "dense"}.get(type(module))
        if kind is None:
            continue
        parts = prefix.split(".")
        if arch.startswith("resnet"):
            if prefix in ("conv1", "bn1"):
                name = {"conv1": "conv1_conv", "bn1": "conv1_bn"}[prefix]
            elif prefix == "fc":
                name = "predictions"
            else:
                stage, block = int(parts[0][len("layer"):]) + 1, int(parts[1]) + 1
                if parts[2] == "downsample":
                    j = 0
                else:
                    j = int(parts[2][-1])
                name = f"conv{stage}_block{block}_{j}_{kind}"
        elif arch.startswith("vgg"):
            if kind == "conv":
                vgg_conv += 1
                name = f"block{vgg_block}_conv{vgg_conv}"
            elif kind == "bn":
                name = f"block{vgg_block}_bn{vgg_conv}"
            else:
                fc_index += 1
                name = ["fc1", "fc2", "predictions"][fc_index - 1]
        elif arch == "alexnet":
            if kind == "conv":
                alexnet_conv += 1
                name = f"conv{alexnet_conv}"
            else:
                fc_index += 1
                name = f"fc{fc_index + 5}"
        else:  # googlenet
            if prefix == "fc":
                name = "predictions"
            elif parts[0].startswith("inception"):
                name = f"{parts[0]}_{GOOGLENET_BRANCHES['.'.join(parts[1:-1])]}_{kind}"
            else:
                name = f"{parts[0]}_{kind}"
        layers.append((name, prefix, kind))
    return layers


def read_strings(attrs, name):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in attrs[name]]


def check_file(arch, model, path):
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    expected = expected_layers(arch, model)
    with h5py.File(path, "r") as f:
        assert f.attrs["backend"] == b"tensorflow" or f.attrs["backend"] == "tensorflow"
        assert f.attrs["convzoo_architecture"] in (ZOO_NAMES.get(arch, arch), ZOO_NAMES.get(arch, arch).encode())
        assert f.attrs["convzoo_variant"] in ("torchvision", b"torchvision")
        assert list(f.attrs["convzoo_input_size"]) == [224, 224, 3]
        epsilon = 1e-3 if arch == "googlenet" else 1e-5
        assert f.attrs["convzoo_bn_epsilon"] == epsilon, f.attrs["convzoo_bn_epsilon"]
        names = read_strings(f.attrs, "layer_names")
        want = [name for name, _, _ in expected]
        assert names == want, f"layer order differs at {next(i for i, (a, b) in enumerate(zip(names, want + [''])) if a != b)}"
        assert sorted(f.keys()) == sorted(names), "groups are not exactly the listed layers"
        consumed, learnable = set(), 0
        for name, prefix, kind in expected:
            group = f[name]
            weight_names = read_strings(group.attrs, "weight_names")
            if kind == "conv":
                order = ["kernel", "bias"] if f"{prefix}.bias" in state else ["kernel"]
                theirs = ["weight", "bias"]
            elif kind == "bn":
                order = ["gamma", "beta", "moving_mean", "moving_variance"]
                theirs = ["weight", "bias", "running_mean", "running_var"]
            else:
                order, theirs = ["kernel", "bias"], ["weight", "bias"]
            assert weight_names == [f"{name}/{w}:0" for w in order], (name, weight_names)
            for w, t in zip(order, theirs):
                value = group[f"{name}/{w}:0"]
                assert value.dtype == np.float32, (name, w, value.dtype)
                value = value[()]
                original = state[f"{prefix}.{t}"]
                consumed.add(f"{prefix}.{t}")
                if t in ("weight", "bias"):
                    learnable += original.size
                if w == "kernel" and kind == "conv":
                    back = value.transpose(3, 2, 0, 1)
                elif w == "kernel" and prefix in ("classifier.0", "classifier.1"):
                    back = check_flatten_dense(name, prefix, value, original)
                elif w == "kernel":
                    back = value.T
                else:
                    back = value
                assert back.shape == original.shape and np.array_equal(back, original), (name, w)
    left = {k for k in state if k not in consumed and not k.endswith("num_batches_tracked")
            and not k.startswith("aux")}
    assert not left, f"keys not in the file: {sorted(left)[:5]}"
    assert learnable == PARAMETERS[arch], f"{learnable:,} learnable parameters, expected {PARAMETERS[arch]:,}"
    return len(names), learnable


def check_flatten_dense(name, prefix, kernel, weight):
    """The permuted Dense on HWC-flattened features equals torch's Linear on CHW-flattened ones."""
    hw = 6 if prefix == "classifier.1" else 7
    channels = weight.shape[1] // (hw * hw)
    features = np.random.default_rng(0).standard_normal((2, channels, hw, hw)).astype(np.float32)
    torch_out = features.reshape(2, -1) @ weight.T
    ours = features.transpose(0, 2, 3, 1).reshape(2, -1) @ kernel
    assert np.allclose(torch_out, ours, rtol=1e-4, atol=1e-4), f"{name}: flatten order differs"
    return kernel.reshape(hw, hw, channels, -1).transpose(3, 2, 0, 1).reshape(weight.shape)


def convert(arch, pth, out, *extra):
    return subprocess.run([sys.executable, CONVERTER, "--arch", arch, "--state-dict", pth, "--out", out, *extra],
                          capture_output=True, text=True)


def check_refusals(tmp):
    """Leftover, missing and wrongly shaped keys are refused with the keys named; nothing is written."""
    state = torchvision.models.resnet18(weights=None).state_dict()
    out = os.path.join(tmp, "bad.h5")
    cases = [
        ("extra", {**state, "layer5.0.conv1.weight": torch.zeros(1, 1, 1, 1)}, "layer5.0.conv1.weight"),
        ("missing", {k: v for k, v in state.items() if k != "layer2.0.downsample.1.running_var"},
         "layer2.0.downsample.1.running_var"),
        ("shape", {**state, "fc.weight": torch.zeros(10, 512, 1)}, "fc.weight"),
    ]
    for label, bad, named in cases:
        pth = os.path.join(tmp, f"{label}.pth")
        torch.save(bad, pth)
        result = convert("resnet18", pth, out)
        assert result.returncode != 0 and named in result.stderr, (label, result.stderr)
        assert not os.path.exists(out), f"{label}: a refused conversion left {out}"
    # A resnet50 file is not a resnet101 one.
    pth = os.path.join(tmp, "r50.pth")
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), pth)
    result = convert("resnet101", pth, out)
    assert result.returncode != 0 and "layer3.6.conv1.weight" in result.stderr, result.stderr
    print("OK refusals (extra, missing, misshaped keys, wrong depth)")


def main(archs):
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            model = build(arch).eval()
            pth, out = os.path.join(tmp, f"{arch}.pth"), os.path.join(tmp, f"{arch}.h5")
            torch.save(model.state_dict(), pth)
            extra = ["--transform-input"] if arch == "googlenet" else []
            result = convert(arch, pth, out, *extra)
            assert result.returncode == 0, result.stderr
            layers, learnable = check_file(arch, model, out)
            if arch == "googlenet":
                with h5py.File(out) as f:
                    assert f.attrs["convzoo_transform_input"] == 1
            print(f"OK {arch}: {layers} layers, {learnable:,} parameters")
            os.remove(pth)
            os.remove(out)
        check_refusals(tmp)


if __name__ == "__main__":
    main(sys.argv[1:] or list(PARAMETERS))
