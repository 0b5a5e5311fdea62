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

Then a cross-check through another NHWC framework: narrow resnet18, resnet50, alexnet and vgg16_bn
(torchvision's own code, seeded weights, BatchNorm statistics set) are converted, loaded by name with
Keras 3's legacy-HDF5 loader into Keras models built with torchvision's semantics (explicit zero
padding, no conv bias in ResNet, BatchNorm eps 1e-5, Keras's HWC Flatten), and must give torch's
logits within 1e-4 relative. That proves the layout change itself, not only that it inverts.

    python3 tools/check_converter.py [ARCH ...]

Needs about 2 GB of memory and a few minutes for the VGGs; writes only into a temporary directory.
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
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


def keras_torchvision_resnet(blocks, bottleneck, width, classes, size):
    """A Keras model computing torchvision's ResNet (v1.5), named as the converter names layers."""
    import keras
    from keras import layers as L

    def conv_bn(x, filters, kernel, stride, name, relu=True):
        if kernel == 3:
            x = L.ZeroPadding2D(1)(x)  # torch's padding=1 (with stride 2 too: same windows)
        x = L.Conv2D(filters, kernel, strides=stride, use_bias=False, name=f"{name}_conv")(x)
        x = L.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
        return L.ReLU()(x) if relu else x

    inputs = keras.Input((size, size, 3))
    x = L.ZeroPadding2D(3)(inputs)
    x = L.Conv2D(width, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = L.ReLU()(L.BatchNormalization(epsilon=1e-5, name="conv1_bn")(x))
    x = L.MaxPooling2D(3, strides=2)(L.ZeroPadding2D(1)(x))  # zero pad = -inf pad after ReLU
    for stage, count in enumerate(blocks, start=1):
        planes = width * 2 ** (stage - 1)
        for block in range(count):
            stride = 2 if stage > 1 and block == 0 else 1
            name = f"conv{stage + 1}_block{block + 1}"
            if bottleneck:
                y = conv_bn(x, planes, 1, 1, f"{name}_1")
                y = conv_bn(y, planes, 3, stride, f"{name}_2")
                y = conv_bn(y, planes * 4, 1, 1, f"{name}_3", relu=False)
            else:
                y = conv_bn(x, planes, 3, stride, f"{name}_1")
                y = conv_bn(y, planes, 3, 1, f"{name}_2", relu=False)
            if block == 0 and (bottleneck or stage > 1):
                x = conv_bn(x, planes * (4 if bottleneck else 1), 1, stride, f"{name}_0", relu=False)
            x = L.ReLU()(L.Add()([x, y]))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(classes, name="predictions")(x))


def keras_torchvision_alexnet(filters, hidden, classes, size):
    import keras
    from keras import layers as L

    inputs = keras.Input((size, size, 3))
    x = inputs
    for n, (f, k, s, p) in enumerate(zip(filters, [11, 5, 3, 3, 3], [4, 1, 1, 1, 1], [2, 2, 1, 1, 1]), start=1):
        x = L.Conv2D(f, k, strides=s, activation="relu", name=f"conv{n}")(L.ZeroPadding2D(p)(x))
        if n in (1, 2, 5):
            x = L.MaxPooling2D(3, strides=2)(x)
    x = L.Flatten()(x)  # 6x6 at 224: torchvision's adaptive pool is the identity there
    x = L.Dense(hidden, activation="relu", name="fc6")(x)
    x = L.Dense(hidden, activation="relu", name="fc7")(x)
    return keras.Model(inputs, L.Dense(classes, name="fc8")(x))


def keras_torchvision_vgg_bn(cfg, hidden, classes, size):
    import keras
    from keras import layers as L

    inputs = keras.Input((size, size, 3))
    x, block, conv = inputs, 1, 0
    for v in cfg:
        if v == "M":
            x, block, conv = L.MaxPooling2D(2)(x), block + 1, 0
            continue
        conv += 1
        x = L.Conv2D(v, 3, padding="same", name=f"block{block}_conv{conv}")(x)
        x = L.ReLU()(L.BatchNormalization(epsilon=1e-5, name=f"block{block}_bn{conv}")(x))
    x = L.Flatten()(x)  # 7x7 at 224
    x = L.Dense(hidden, activation="relu", name="fc1")(x)
    x = L.Dense(hidden, activation="relu", name="fc2")(x)
    return keras.Model(inputs, L.Dense(classes, name="predictions")(x))


def check_through_keras(tmp):
    import keras
    import make_zoo_fixtures as twins
    from torchvision.models.resnet import BasicBlock, Bottleneck
    from torchvision.models.vgg import cfgs, make_layers

    size, classes = 224, 10
    vgg_cfg = [v if v == "M" else v // 16 for v in cfgs["D"]]
    cases = [
        ("resnet18", lambda: twins.NarrowResNet(BasicBlock, [2, 2, 2, 2], 4, classes),
         lambda: keras_torchvision_resnet([2, 2, 2, 2], False, 4, classes, size)),
        ("resnet50", lambda: twins.NarrowResNet(Bottleneck, [3, 4, 6, 3], 4, classes),
         lambda: keras_torchvision_resnet([3, 4, 6, 3], True, 4, classes, size)),
        ("alexnet", lambda: twins.NarrowAlexNet(16, 32, classes),
         lambda: keras_torchvision_alexnet([4, 12, 24, 16, 16], 32, classes, size)),
        ("vgg16_bn", lambda: twins.NarrowVGG(make_layers(vgg_cfg, batch_norm=True), vgg_cfg[-2], 32, classes),
         lambda: keras_torchvision_vgg_bn(vgg_cfg, 32, classes, size)),
    ]
    for arch, build_torch, build_keras in cases:
        rng = np.random.default_rng(len(arch))
        model = build_torch()
        twins.init_torch(model, rng, torch.from_numpy(rng.standard_normal((4, 3, size, size)).astype(np.float32)))
        x = rng.standard_normal((2, size, size, 3)).astype(np.float32)
        expected, _ = twins.run_torch(model, x, {})
        pth, out = os.path.join(tmp, f"{arch}-narrow.pth"), os.path.join(tmp, f"{arch}-narrow.h5")
        torch.save(model.state_dict(), pth)
        result = convert(arch, pth, out)
        assert result.returncode == 0, result.stderr
        reference = build_keras()
        reference.load_weights(out, by_name=True)
        with h5py.File(out) as f:
            in_file = set(read_strings(f.attrs, "layer_names"))
        weighted = {layer.name for layer in reference.layers if layer.weights}
        assert weighted == in_file, f"{arch}: Keras layers {sorted(weighted ^ in_file)[:4]} unmatched"
        got = keras.ops.convert_to_numpy(reference(x, training=False))
        error = np.abs(got - expected).max() / np.abs(expected).max()
        assert error < 1e-4, f"{arch}: Keras on the converted file differs from torch by {error:.1e}"
        print(f"OK {arch} through Keras: converted narrow model gives torch's logits (relative {error:.1e})")


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
        check_through_keras(tmp)


if __name__ == "__main__":
    main(sys.argv[1:] or list(PARAMETERS))
