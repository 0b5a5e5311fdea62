#!/usr/bin/env python3
"""Writes the feature-pyramid and input-channel fixtures that Tests/TransferTests/PyramidTests.swift reads.

    KERAS_BACKEND=torch python3 tools/make_pyramid_fixtures.py

Both come from timm itself, on the zoo's narrow ResNet twins (Tests/Fixtures/zoo/<twin>/weights.h5,
written by make_zoo_fixtures.py and read back into PyTorch by its `load_converted`). timm builds
its ResNet at full width (its plain stem is fixed at 64 channels) and narrows it to the twin with
its own pruned-model mechanism, `adapt_model_from_string`, from the twin's weight shapes; its
module names are torchvision's, so the twin's state_dict then loads unchanged. The full timm
classifier is first checked to reproduce the twin's stored logits.

  <twin>_pyramid_input.npy, <twin>_level<i>.npy   timm.create_model(..., features_only=True): the five
      levels (act1, layer1 ... layer4) for a seeded 2x64x64x3 input, NHWC
  resnet50-keras_level<i>.npy   Keras's own twin (keras.applications code) with the outputs of
      conv1_relu and conv<s>_block<last>_out, on the same input as the resnet50 twin
  <twin>_in<N>_conv1.npy   timm's adapt_input_conv(N, conv1.weight) as ConvZoo stores a kernel (HWIO)
  <twin>_in<N>_input.npy, <twin>_in<N>_output.npy   timm.create_model(..., in_chans=N) with those
      weights: a seeded 2x32x32xN input and its logits
  pyramid.json   the levels' module names, shapes and what each file holds
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import timm
import torch
from timm.models import adapt_input_conv
from timm.models._prune import adapt_model_from_string
from torchvision.models.resnet import BasicBlock, Bottleneck

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_torchvision  # noqa: E402
import make_zoo_fixtures as twins  # noqa: E402

ZOO = os.path.join(HERE, "..", "Tests", "Fixtures", "zoo")
OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "pyramid")
CHANNELS = [1, 4]


def twin_state(name):
    """The twin's spec and its weights as a torchvision state_dict."""
    spec = json.load(open(os.path.join(ZOO, name, "spec.json")))
    blocks, bottleneck = convert_torchvision.RESNET_BLOCKS[name]
    block = Bottleneck if bottleneck else BasicBlock
    build = lambda: twins.NarrowResNet(block, blocks, spec["conv1_filters"], spec["classes"])  # noqa: E731
    model = twins.load_converted(name, build, os.path.join(ZOO, name, "weights.h5"))
    return spec, model.state_dict()


def timm_model(name, state, **kwargs):
    """timm's `name` narrowed to the widths of `state` (a twin's state_dict) and loaded with it."""
    model = timm.create_model(name, pretrained=False, num_classes=state["fc.weight"].shape[0], **kwargs)
    shapes = {k: list(v.shape) for k, v in state.items() if k.endswith(".weight")}
    if kwargs.get("in_chans", 3) != 3:
        shapes["conv1.weight"][1] = kwargs["in_chans"]
    model = adapt_model_from_string(model, "***".join(f"{k}:{v}" for k, v in shapes.items()))
    if kwargs.get("features_only"):
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    model.load_state_dict(state)
    return model.eval()


def nhwc(x):
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array, dtype=np.float32))


def pyramid(name, seed, record):
    spec, state = twin_state(name)
    full = timm_model(name, state)
    x = np.load(os.path.join(ZOO, name, "input.npy"))
    expected = np.load(os.path.join(ZOO, name, "output.npy"))
    with torch.no_grad():
        logits = full(nhwc(x)).numpy()
    assert np.abs(logits - expected).max() <= 1e-5 * max(1, np.abs(expected).max()), f"{name}: timm != twin"

    features = timm_model(name, state, features_only=True)
    x = np.random.default_rng(seed).standard_normal((2, 64, 64, 3)).astype(np.float32)
    with torch.no_grad():
        levels = [t.permute(0, 2, 3, 1).numpy() for t in features(nhwc(x))]
    save(f"{name}_pyramid_input", x)
    for i, level in enumerate(levels):
        save(f"{name}_level{i}", level)
    record[name] = {"modules": features.feature_info.module_name(), "reductions": features.feature_info.reduction(),
                    "shapes": [list(level.shape) for level in levels], "feature_class": type(features).__name__}

    for n in CHANNELS:
        adapted = adapt_input_conv(n, state["conv1.weight"].clone())
        model = timm_model(name, {**state, "conv1.weight": adapted}, in_chans=n)
        x = np.random.default_rng(seed + n).standard_normal((2, 32, 32, n)).astype(np.float32)
        with torch.no_grad():
            out = model(nhwc(x)).numpy()
        save(f"{name}_in{n}_conv1", adapted.permute(2, 3, 1, 0).numpy())
        save(f"{name}_in{n}_input", x)
        save(f"{name}_in{n}_output", out)
        record[name][f"in{n}_output_shape"] = list(out.shape)


def keras_pyramid(record):
    """resnet50-keras: Keras's own twin, tapped where the torchvision pyramid's levels are."""
    import keras

    spec = json.load(open(os.path.join(ZOO, "resnet50-keras", "spec.json")))
    model = twins.keras_resnet50(spec["channel_divisor"], spec["classes"], 64)
    model.load_weights(os.path.join(ZOO, "resnet50-keras", "weights.h5"))
    taps = ["conv1_relu"] + [f"conv{s + 2}_block{b}_out" for s, b in enumerate(spec["block_counts"])]
    probe = keras.Model(model.inputs, [model.get_layer(t).output for t in taps])
    x = np.load(os.path.join(OUT, "resnet50_pyramid_input.npy"))
    levels = [keras.ops.convert_to_numpy(v) for v in probe(x, training=False)]
    for i, level in enumerate(levels):
        save(f"resnet50-keras_level{i}", level)
    record["resnet50-keras"] = {"layers": taps, "shapes": [list(level.shape) for level in levels],
                                "input": "resnet50_pyramid_input.npy"}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    record = {"timm": timm.__version__, "channels": CHANNELS}
    pyramid("resnet18", 1818, record)
    pyramid("resnet50", 5050, record)
    keras_pyramid(record)
    with open(os.path.join(OUT, "pyramid.json"), "w") as f:
        json.dump(record, f, indent=2)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"Tests/Fixtures/pyramid: {total / 1024:.0f} KB in all")


if __name__ == "__main__":
    main()
