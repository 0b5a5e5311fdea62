#!/usr/bin/env python3
"""Converts a torchvision state_dict into a ConvZoo weight file (Keras legacy HDF5).

    tools/convert_torchvision.py --arch resnet50 --state-dict resnet50.pth --out resnet50.h5

This is the one place where torchvision's layouts become ConvZoo's (the Swift side never sees OIHW):
  - Conv2d weight (out, in/groups, kh, kw)  -> kernel (kh, kw, in/groups, out)   [HWIO]
  - Linear weight (out, in)                 -> kernel (in, out)
  - the first Linear after the flatten (alexnet classifier.1, vgg classifier.0) also has its input
    rows reordered from torch's CHW flatten order to ConvZoo's HWC order; in = C*H*W with H = W = 6
    (alexnet) or 7 (vgg), the adaptive-pool sizes, and C = in / (H*W) read from the tensor
  - BatchNorm weight, bias, running_mean, running_var -> gamma, beta, moving_mean, moving_variance
  - dropped, and only these: every `num_batches_tracked`, and GoogLeNet's `aux1.*` / `aux2.*`
    (auxiliary classifiers, used in training only)
Shapes are read from the tensors, never assumed, so narrower twins of these networks convert too.
Any key the table below does not name, and any key it names that the file lacks, is an error.

The file is laid out as Keras 2's `save_weights('x.h5')` writes it at the root: attributes
`layer_names` (fixed-length bytes, in the order listed below), `backend`, `keras_version`; a group per
layer with `weight_names` (`conv1_conv/kernel:0`, ...) and the datasets at `<layer>/<layer>/kernel:0`,
float32. Weight order: conv kernel[, bias]; BatchNorm gamma, beta, moving_mean, moving_variance;
dense kernel, bias. ConvZoo attributes on the root: convzoo_architecture, convzoo_variant
("torchvision"), convzoo_preprocessing ("torch"), convzoo_resize_transform ("resize256-crop224"),
convzoo_input_size, convzoo_version, convzoo_x_bn_epsilon, convzoo_x_transform_input, and
convzoo_class_names with --classes.

torchvision key prefix -> ConvZoo layer name (file order = the order of the rows below, per block):

ResNet 18/34 (BasicBlock) and 50/101/152 (Bottleneck); block counts 18: [2,2,2,2], 34 and 50:
[3,4,6,3], 101: [3,4,23,3], 152: [3,8,36,3]
  conv1                          -> conv1_conv
  bn1                            -> conv1_bn
  layer{L}.{B}.conv{j}           -> conv{L+1}_block{B+1}_{j}_conv    j = 1, 2 (basic) or 1, 2, 3
  layer{L}.{B}.bn{j}             -> conv{L+1}_block{B+1}_{j}_bn      (bottleneck), conv then bn
  layer{L}.{B}.downsample.0      -> conv{L+1}_block{B+1}_0_conv      after the block's _j_ layers;
  layer{L}.{B}.downsample.1      -> conv{L+1}_block{B+1}_0_bn        only in block 0 (B = 0)
  fc                             -> predictions
  (torchvision's convolutions have no bias: conv layers hold only `kernel`.)

VGG 16/19, with or without BatchNorm (block conv counts 16: [2,2,3,3,3], 19: [2,2,4,4,4]); the
features.{i} indices follow from the block counts (conv[, bn], relu per conv, a max pool per block)
  features.{i} (conv c of block b)   -> block{b}_conv{c}
  features.{i+1} (its BN, _bn only)  -> block{b}_bn{c}
  classifier.0                       -> fc1 (flatten-order permuted, H = W = 7)
  classifier.3                       -> fc2
  classifier.6                       -> predictions

AlexNet
  features.0, .3, .6, .8, .10    -> conv1, conv2, conv3, conv4, conv5
  classifier.1                   -> fc6 (flatten-order permuted, H = W = 6)
  classifier.4                   -> fc7
  classifier.6                   -> fc8

GoogLeNet (X = 3a, 3b, 4a, 4b, 4c, 4d, 4e, 5a, 5b; each BasicConv2d gives a _conv then a _bn layer)
  conv1.conv, conv1.bn           -> conv1_conv, conv1_bn   (same for conv2, conv3)
  inception{X}.branch1           -> inception{X}_1x1_{conv,bn}
  inception{X}.branch2.0         -> inception{X}_3x3_reduce_{conv,bn}
  inception{X}.branch2.1         -> inception{X}_3x3_{conv,bn}
  inception{X}.branch3.0         -> inception{X}_5x5_reduce_{conv,bn}
  inception{X}.branch3.1         -> inception{X}_5x5_{conv,bn}   (a 3x3 kernel, as torchvision has it)
  inception{X}.branch4.1         -> inception{X}_pool_proj_{conv,bn}
  fc                             -> predictions
  aux1.*, aux2.*                 -> dropped
"""
import argparse
import os
import sys
import tempfile

import h5py
import numpy as np

CONVZOO_VERSION = "0.1.0"

RESNET_BLOCKS = {
    "resnet18": ([2, 2, 2, 2], False),
    "resnet34": ([3, 4, 6, 3], False),
    "resnet50": ([3, 4, 6, 3], True),
    "resnet101": ([3, 4, 23, 3], True),
    "resnet152": ([3, 8, 36, 3], True),
}
VGG_BLOCKS = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
INCEPTIONS = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
GOOGLENET_BRANCHES = [("branch1", "1x1"), ("branch2.0", "3x3_reduce"), ("branch2.1", "3x3"),
                      ("branch3.0", "5x5_reduce"), ("branch3.1", "5x5"), ("branch4.1", "pool_proj")]

# Command-line spelling -> ConvZoo's architecture name.
ARCHITECTURES = {
    "alexnet": "alexnet", "vgg16": "vgg16", "vgg19": "vgg19",
    "vgg16_bn": "vgg16-bn", "vgg16-bn": "vgg16-bn", "vgg19_bn": "vgg19-bn", "vgg19-bn": "vgg19-bn",
    "googlenet": "googlenet",
    "resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50",
    "resnet101": "resnet101", "resnet152": "resnet152",
}

# HDF5 keeps attributes in the object header, limited to 64 KiB; Keras 2 splits longer lists
# into name0, name1, ... and so do we.
HDF5_ATTRIBUTE_LIMIT = 64512


class ConversionError(Exception):
    """A state_dict that does not fit the architecture; the message names the keys."""


class Layer:
    """One ConvZoo layer: its name, kind ("conv", "bn", "dense") and torchvision key prefix."""

    def __init__(self, name, kind, prefix, flatten_hw=None):
        self.name = name
        self.kind = kind
        self.prefix = prefix
        self.flatten_hw = flatten_hw  # (H, W) of the CHW flatten feeding this dense layer


def resnet_plan(arch):
    blocks, bottleneck = RESNET_BLOCKS[arch]
    convs = 3 if bottleneck else 2
    plan = [Layer("conv1_conv", "conv", "conv1"), Layer("conv1_bn", "bn", "bn1")]
    for stage, count in enumerate(blocks, start=1):
        for block in range(count):
            torch_block = f"layer{stage}.{block}"
            name = f"conv{stage + 1}_block{block + 1}"
            for j in range(1, convs + 1):
                plan.append(Layer(f"{name}_{j}_conv", "conv", f"{torch_block}.conv{j}"))
                plan.append(Layer(f"{name}_{j}_bn", "bn", f"{torch_block}.bn{j}"))
            # torchvision projects the shortcut when the stride or the width changes: the first
            # block of every stage, except stage 1 of basic-block networks (64 -> 64, stride 1).
            if block == 0 and (bottleneck or stage > 1):
                plan.append(Layer(f"{name}_0_conv", "conv", f"{torch_block}.downsample.0"))
                plan.append(Layer(f"{name}_0_bn", "bn", f"{torch_block}.downsample.1"))
    plan.append(Layer("predictions", "dense", "fc"))
    return plan


def vgg_plan(arch):
    batch_norm = arch.endswith("-bn")
    plan = []
    index = 0
    for b, count in enumerate(VGG_BLOCKS[arch.replace("-bn", "")], start=1):
        for c in range(1, count + 1):
            plan.append(Layer(f"block{b}_conv{c}", "conv", f"features.{index}"))
            index += 1
            if batch_norm:
                plan.append(Layer(f"block{b}_bn{c}", "bn", f"features.{index}"))
                index += 1
            index += 1  # ReLU
        index += 1  # MaxPool2d
    plan.append(Layer("fc1", "dense", "classifier.0", flatten_hw=(7, 7)))
    plan.append(Layer("fc2", "dense", "classifier.3"))
    plan.append(Layer("predictions", "dense", "classifier.6"))
    return plan


def alexnet_plan():
    plan = [Layer(f"conv{n}", "conv", f"features.{i}") for n, i in enumerate([0, 3, 6, 8, 10], start=1)]
    plan.append(Layer("fc6", "dense", "classifier.1", flatten_hw=(6, 6)))
    plan.append(Layer("fc7", "dense", "classifier.4"))
    plan.append(Layer("fc8", "dense", "classifier.6"))
    return plan


def googlenet_plan():
    def basic_conv(name, prefix):
        return [Layer(f"{name}_conv", "conv", f"{prefix}.conv"), Layer(f"{name}_bn", "bn", f"{prefix}.bn")]

    plan = basic_conv("conv1", "conv1") + basic_conv("conv2", "conv2") + basic_conv("conv3", "conv3")
    for x in INCEPTIONS:
        for branch, suffix in GOOGLENET_BRANCHES:
            plan += basic_conv(f"inception{x}_{suffix}", f"inception{x}.{branch}")
    plan.append(Layer("predictions", "dense", "fc"))
    return plan


def layer_plan(arch):
    """The ConvZoo layers of `arch`, in file order, with the torchvision prefix of each."""
    if arch in RESNET_BLOCKS:
        return resnet_plan(arch)
    if arch.startswith("vgg"):
        return vgg_plan(arch)
    if arch == "alexnet":
        return alexnet_plan()
    if arch == "googlenet":
        return googlenet_plan()
    raise ConversionError(f"unknown architecture {arch!r}")


def is_dropped(arch, key):
    if key.endswith(".num_batches_tracked"):
        return True
    return arch == "googlenet" and (key.startswith("aux1.") or key.startswith("aux2."))


def conv_kernel(weight, key):
    if weight.ndim != 4:
        raise ConversionError(f"{key}: expected a 4-D conv weight (out, in, kh, kw), got shape {weight.shape}")
    return weight.transpose(2, 3, 1, 0)  # OIHW -> HWIO


def dense_kernel(weight, key, flatten_hw):
    if weight.ndim != 2:
        raise ConversionError(f"{key}: expected a 2-D linear weight (out, in), got shape {weight.shape}")
    if flatten_hw is not None:
        h, w = flatten_hw
        out_features, in_features = weight.shape
        if in_features % (h * w) != 0:
            raise ConversionError(f"{key}: in_features {in_features} is not channels x {h}x{w} "
                                  f"(the adaptive pool's output)")
        channels = in_features // (h * w)
        # torch flattens (C, H, W); ConvZoo's NHWC flatten is (H, W, C): reorder the input columns.
        weight = weight.reshape(out_features, channels, h, w).transpose(0, 2, 3, 1).reshape(out_features, in_features)
    return weight.T


def vector(tensor, key):
    if tensor.ndim != 1:
        raise ConversionError(f"{key}: expected a 1-D tensor, got shape {tensor.shape}")
    return tensor


BN_KEYS = [("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
           ("running_var", "moving_variance")]


def required_keys(layer):
    p = layer.prefix
    if layer.kind == "bn":
        return [f"{p}.{theirs}" for theirs, _ in BN_KEYS]
    return [f"{p}.weight"] + ([f"{p}.bias"] if layer.kind == "dense" else [])


def convert_layer(layer, arrays):
    """[(weight name, float32 array)] in Keras order, popping the layer's tensors from `arrays`."""
    p = layer.prefix
    if layer.kind == "conv":
        weights = [("kernel", conv_kernel(arrays.pop(f"{p}.weight"), f"{p}.weight"))]
        if f"{p}.bias" in arrays:  # torchvision's VGG and AlexNet convolutions have one, ResNet's not
            weights.append(("bias", vector(arrays.pop(f"{p}.bias"), f"{p}.bias")))
    elif layer.kind == "bn":
        weights = [(ours, vector(arrays.pop(f"{p}.{theirs}"), f"{p}.{theirs}")) for theirs, ours in BN_KEYS]
    else:
        weights = [("kernel", dense_kernel(arrays.pop(f"{p}.weight"), f"{p}.weight", layer.flatten_hw)),
                   ("bias", vector(arrays.pop(f"{p}.bias"), f"{p}.bias"))]
    return [(name, np.ascontiguousarray(value, dtype=np.float32)) for name, value in weights]


def convert_state_dict(arch, state_dict):
    """[(layer name, [(weight name, array)])] in file order; raises ConversionError on any misfit."""
    arrays = {}
    for key, value in state_dict.items():
        if not is_dropped(arch, key):
            arrays[key] = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    plan = layer_plan(arch)
    missing = [key for layer in plan for key in required_keys(layer) if key not in arrays]
    if missing:
        raise ConversionError(f"state_dict lacks {len(missing)} key(s) that {arch} needs: "
                              + ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""))
    layers = [(layer.name, convert_layer(layer, arrays)) for layer in plan]
    if arrays:
        left = sorted(arrays)
        raise ConversionError(f"state_dict has {len(left)} key(s) that {arch} does not use: "
                              + ", ".join(left[:20]) + (" ..." if len(left) > 20 else ""))
    return layers


def write_string_list(group, name, values):
    """A list of strings as fixed-length bytes, split into name0, name1, ... as Keras 2 does."""
    data = np.array([v.encode("utf8") for v in values])
    if data.nbytes <= HDF5_ATTRIBUTE_LIMIT:
        group.attrs[name] = data
        return
    chunks = 1
    while True:
        parts = np.array_split(data, chunks)
        if all(part.nbytes <= HDF5_ATTRIBUTE_LIMIT for part in parts):
            break
        chunks += 1
    for i, part in enumerate(parts):
        group.attrs[f"{name}{i}"] = part


def write_convzoo_h5(path, layers, attributes, class_names=None):
    """Writes `layers` Keras-2 style at the root, atomically (temporary file, fsync, rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=".h5", dir=directory)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            write_string_list(f, "layer_names", [name for name, _ in layers])
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"2.15.0"
            for key, value in attributes.items():
                f.attrs[key] = value.encode("utf8") if isinstance(value, str) else value
            if class_names is not None:
                write_string_list(f, "convzoo_class_names", class_names)
            for name, weights in layers:
                group = f.create_group(name)
                write_string_list(group, "weight_names", [f"{name}/{w}:0" for w, _ in weights])
                for w, value in weights:
                    group.create_dataset(f"{name}/{w}:0", data=value)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary, not the result
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def convzoo_attributes(arch, resize=256, crop=224, input_size=(224, 224), transform_input=False):
    return {
        "convzoo_architecture": arch,
        "convzoo_variant": "torchvision",
        "convzoo_preprocessing": "torch",
        "convzoo_resize_transform": f"resize{resize}-crop{crop}",
        "convzoo_input_size": np.array([input_size[0], input_size[1], 3], dtype=np.int32),
        "convzoo_version": CONVZOO_VERSION,
        # Facts beyond the common metadata are strings under convzoo_x_ (ConvZooMetadata.extra).
        "convzoo_x_bn_epsilon": "0.001" if arch == "googlenet" else "1e-05",
        "convzoo_x_transform_input": "1" if transform_input else "0",
    }


def load_state_dict(path):
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(hasattr(v, "detach") for v in state.values()):
        raise ConversionError(f"{path}: expected a state_dict (a dict of tensors, as "
                              f"torch.save(model.state_dict(), path) writes), got {type(state).__name__}")
    return state


def parse_size(text):
    parts = text.lower().split("x")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected SIZE or HxW, got {text!r}")
    return int(parts[0]), int(parts[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", required=True, choices=sorted(ARCHITECTURES))
    parser.add_argument("--state-dict", required=True, help="a .pth file holding model.state_dict()")
    parser.add_argument("--out", required=True, help="the ConvZoo .h5 file to write")
    parser.add_argument("--transform-input", action="store_true",
                        help="googlenet only: record transform_input on (torchvision's ImageNet weights set it)")
    parser.add_argument("--resize", type=int, default=256,
                        help="the evaluation transform's resize edge (232 for torchvision's V2 weights)")
    parser.add_argument("--input-size", type=parse_size, default=(224, 224),
                        help="the input size to record, SIZE or HxW (default 224)")
    parser.add_argument("--classes", help="a text file with one class name per line")
    args = parser.parse_args(argv)

    arch = ARCHITECTURES[args.arch]
    if args.transform_input and arch != "googlenet":
        parser.error("--transform-input applies to googlenet only")
    class_names = None
    if args.classes:
        with open(args.classes, encoding="utf8") as handle:
            class_names = [line.rstrip("\n") for line in handle if line.strip()]
    try:
        layers = convert_state_dict(arch, load_state_dict(args.state_dict))
        classes = layers[-1][1][0][1].shape[1]
        if class_names is not None and len(class_names) != classes:
            raise ConversionError(f"{args.classes}: {len(class_names)} class names for a {classes}-class head")
        attributes = convzoo_attributes(arch, resize=args.resize, input_size=args.input_size,
                                        transform_input=args.transform_input)
        write_convzoo_h5(args.out, layers, attributes, class_names)
    except ConversionError as error:
        print(f"convert_torchvision: {args.state_dict}: {error}", file=sys.stderr)
        return 1
    count = sum(value.size for _, weights in layers for _, value in weights)
    print(f"wrote {args.out}: {arch}, {len(layers)} layers, {count:,} weights, {classes} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
