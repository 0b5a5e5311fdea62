#!/usr/bin/env python3
"""Writes the zoo's parity fixtures: narrow twins of every architecture, built in the reference
framework, with their weights, a seeded input and the reference outputs.

    KERAS_BACKEND=torch python3 tools/make_zoo_fixtures.py [NAME ...]

For each twin, Tests/Fixtures/zoo/<name>/ gets
  input.npy        (2, H, W, C) float32, NHWC, already preprocessed
  output.npy       the model's output: logits for torchvision twins, softmax for Keras and Caffe ones
  tap_<layer>.npy  a named layer's output as Keras defines it (after the layer's activation),
                   NHWC when 4-D
  weights.h5       Keras legacy HDF5 (torchvision twins: written by tools/convert_torchvision.py;
                   Keras twins: written by Keras 3 itself, see below; Caffe twins: the converter's
                   writer, same layout)
  weights.weights.h5   Keras twins only: Keras 3's own `model.save_weights`
  spec.json        what the Swift test needs to build the twin: architecture, widths, classes,
                   input shape, taps and their shapes, block counts, the files

A twin has the real network's topology and layer/module names (torchvision's own classes where it
has them), with channel counts divided by a divisor (see TWINS; GoogLeNet's rounded up), 10 classes,
seeded random weights, and BatchNorm that is not the identity: running statistics calibrated on a
separate seeded batch, then perturbed, with random gamma and beta. Keras twins without BatchNorm
are rescaled layer by layer so activations keep unit spread. Everything runs in inference mode.
Caffe twins (alexnet-caffe, googlenet-caffe) take pixel-scale inputs (std 60, as Caffe's
mean-subtracted 0..255 images), the scale at which LRN matters; their output is Caffe's `prob`
softmax, with the logits as a tap. Taps named avg_pool / pool5_7x7_s1 are (N, C), as Keras's
GlobalAveragePooling2D gives them.

Sizes: random float32 weights do not compress, and HDF5's group structures cost about 2.5 KB per
layer (mostly zeros, which git compresses tenfold), so the divisors are larger than a first guess
would pick: a twin's weights stay around 100-250 KB. resnet101 (divisor 64) is made only on request.

Keras 3 refuses `model.save_weights("x.h5")` (the name must end in `.weights.h5`), but it still
writes the legacy format: `model.save("x.h5")` puts it under `model_weights/` with the function
`legacy_h5_format.save_weights_to_hdf5_group`, which this script calls on the file's root, exactly as
Keras 2's `save_weights("x.h5")` laid it out. That file is Keras 3's flavour of the legacy layout:
variable-length string attributes, weight names without `:0` (`conv1_conv/kernel`), backend "torch",
weightless layers listed with an empty (0-length float64) `weight_names`, and a
`top_level_model_weights` group. The torchvision twins' converter files give the Keras 2 flavour
(fixed-length names, `kernel:0`). Every weight file is loaded back into a fresh model here and must
reproduce the outputs exactly.
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.alexnet import AlexNet
from torchvision.models.googlenet import BasicConv2d, GoogLeNet, Inception
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.models.vgg import VGG, cfgs, make_layers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "Tests", "Fixtures", "zoo")
CONVERTER = os.path.join(HERE, "convert_torchvision.py")
sys.path.insert(0, HERE)
import convert_torchvision  # noqa: E402  (the converter's layer plans and HDF5 writer)

BATCH = 2
CLASSES = 10
HIDDEN = 64  # the 4096-unit dense layers of AlexNet and VGG


# ---------------------------------------------------------------- torchvision twins

class NarrowResNet(ResNet):
    """torchvision's ResNet with base width `width` instead of 64; forward and blocks are torchvision's."""

    def __init__(self, block, layers, width, num_classes):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # Bottleneck's inner width = planes * base_width / 64 = planes
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)


class NarrowVGG(VGG):
    """torchvision's VGG (adaptive 7x7 pool, dropout) with a narrow classifier."""

    def __init__(self, features, channels, hidden, num_classes, dropout=0.5):
        nn.Module.__init__(self)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )


class NarrowAlexNet(AlexNet):
    """torchvision's AlexNet with every channel count divided by `d`."""

    def __init__(self, d, hidden, num_classes, dropout=0.5):
        nn.Module.__init__(self)
        c = [64 // d, 192 // d, 384 // d, 256 // d, 256 // d]
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c[0], c[1], kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c[1], c[2], kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(c[4] * 6 * 6, hidden), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )


GOOGLENET_INCEPTIONS = [  # torchvision's (and the paper's) in, 1x1, 3x3red, 3x3, 5x5red, 5x5, pool_proj
    ("inception3a", 192, 64, 96, 128, 16, 32, 32), ("inception3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception4a", 480, 192, 96, 208, 16, 48, 64), ("inception4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception4c", 512, 128, 128, 256, 24, 64, 64), ("inception4d", 512, 112, 144, 288, 32, 64, 64),
    ("inception4e", 528, 256, 160, 320, 32, 128, 128), ("inception5a", 832, 256, 160, 320, 32, 128, 128),
    ("inception5b", 832, 384, 192, 384, 48, 128, 128),
]


def narrow(channels, d):
    """channels / d, rounded up: GoogLeNet's 24-channel reduces do not divide by 16."""
    return -(-channels // d)


def narrow_inceptions(d):
    """{block: (in, 1x1, 3x3red, 3x3, 5x5red, 5x5, pool_proj)} divided by d; each block's input is
    the previous block's concatenated output, so the rounding stays consistent."""
    blocks, cin = {}, narrow(192, d)
    for name, _, *widths in GOOGLENET_INCEPTIONS:
        widths = [narrow(c, d) for c in widths]
        blocks[name] = [cin] + widths
        cin = widths[0] + widths[2] + widths[4] + widths[5]
    return blocks


class NarrowGoogLeNet(GoogLeNet):
    """torchvision's GoogLeNet (BasicConv2d, Inception, forward) with channel counts divided by `d`
    (rounded up); no auxiliary classifiers, transform_input off."""

    def __init__(self, d, num_classes, dropout=0.2):
        nn.Module.__init__(self)
        self.aux_logits = False
        self.transform_input = False
        self.conv1 = BasicConv2d(3, narrow(64, d), kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(narrow(64, d), narrow(64, d), kernel_size=1)
        self.conv3 = BasicConv2d(narrow(64, d), narrow(192, d), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        blocks = narrow_inceptions(d)
        for name, *_ in GOOGLENET_INCEPTIONS:
            setattr(self, name, Inception(*blocks[name]))
            if name == "inception3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            if name == "inception4e":
                self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.aux1 = None
        self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        last = blocks["inception5b"]
        self.fc = nn.Linear(last[1] + last[3] + last[5] + last[6], num_classes)


# ---------------------------------------------------------------- Caffe twins (built in PyTorch)

class CaffeAlexNet(nn.Module):
    """Caffe bvlc_alexnet: two-group conv2/4/5, LRN after relu1 and relu2, ceil-mode pools, no padding
    in conv1, no adaptive pool. Attribute names are ConvZoo's (Caffe's) layer names."""

    def __init__(self, d, hidden, num_classes, spatial):
        super().__init__()
        c = [96 // d, 256 // d, 384 // d, 384 // d, 256 // d]
        self.conv1 = nn.Conv2d(3, c[0], 11, stride=4)
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = nn.Conv2d(c[0], c[1], 5, padding=2, groups=2)
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv3 = nn.Conv2d(c[1], c[2], 3, padding=1)
        self.conv4 = nn.Conv2d(c[2], c[3], 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(c[3], c[4], 3, padding=1, groups=2)
        self.pool5 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.fc6 = nn.Linear(c[4] * spatial * spatial, hidden)
        self.fc7 = nn.Linear(hidden, hidden)
        self.fc8 = nn.Linear(hidden, num_classes)
        self.lrn = True

    def forward(self, x):
        lrn = (lambda n, t: n(t)) if self.lrn else (lambda n, t: t)
        x = self.pool1(lrn(self.norm1, F.relu(self.conv1(x))))
        x = self.pool2(lrn(self.norm2, F.relu(self.conv2(x))))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = self.pool5(F.relu(self.conv5(x)))
        self.seen = {"pool5": nhwc(x)}
        x = F.relu(self.fc6(torch.flatten(x, 1)))
        x = F.relu(self.fc7(x))  # drop6 and drop7 are identities in inference
        self.seen["fc7"] = nhwc(x)
        return self.fc8(x)


class CaffeInception(nn.Module):
    """The paper's Inception block: real 5x5, biases, ReLU after every convolution."""

    def __init__(self, cin, ch1, ch3r, ch3, ch5r, ch5, proj):
        super().__init__()
        self.b1x1 = nn.Conv2d(cin, ch1, 1)
        self.b3x3_reduce = nn.Conv2d(cin, ch3r, 1)
        self.b3x3 = nn.Conv2d(ch3r, ch3, 3, padding=1)
        self.b5x5_reduce = nn.Conv2d(cin, ch5r, 1)
        self.b5x5 = nn.Conv2d(ch5r, ch5, 5, padding=2)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        self.pool_proj = nn.Conv2d(cin, proj, 1)

    def forward(self, x):
        a = F.relu(self.b1x1(x))
        b = F.relu(self.b3x3(F.relu(self.b3x3_reduce(x))))
        c = F.relu(self.b5x5(F.relu(self.b5x5_reduce(x))))
        d = F.relu(self.pool_proj(self.pool(x)))
        return torch.cat([a, b, c, d], 1)


class CaffeGoogLeNet(nn.Module):
    """Caffe bvlc_googlenet (Inception v1 as in the paper): LRN, no BatchNorm, ceil-mode pools,
    pool4 3x3/2. pool5 is taken as a global average (the 7x7/1 average of a 224 input)."""

    def __init__(self, d, num_classes):
        super().__init__()
        self.conv1_7x7_s2 = nn.Conv2d(3, narrow(64, d), 7, stride=2, padding=3)
        self.pool1_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.pool1_norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv2_3x3_reduce = nn.Conv2d(narrow(64, d), narrow(64, d), 1)
        self.conv2_3x3 = nn.Conv2d(narrow(64, d), narrow(192, d), 3, padding=1)
        self.conv2_norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.pool2_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inceptions = nn.ModuleDict()
        blocks = narrow_inceptions(d)
        for name, *_ in GOOGLENET_INCEPTIONS:
            self.inceptions["inception_" + name[len("inception"):]] = CaffeInception(*blocks[name])
        self.pool3_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.pool4_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        last = blocks["inception5b"]
        self.loss3_classifier = nn.Linear(last[1] + last[3] + last[5] + last[6], num_classes)
        self.lrn = True

    def forward(self, x):
        lrn = (lambda n, t: n(t)) if self.lrn else (lambda n, t: t)
        x = lrn(self.pool1_norm1, self.pool1_3x3_s2(F.relu(self.conv1_7x7_s2(x))))
        x = F.relu(self.conv2_3x3(F.relu(self.conv2_3x3_reduce(x))))
        x = self.pool2_3x3_s2(lrn(self.conv2_norm2, x))
        for name, block in self.inceptions.items():
            x = block(x)
            if name == "inception_3b":
                x = self.pool3_3x3_s2(x)
            if name == "inception_4e":
                x = self.pool4_3x3_s2(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # pool5_7x7_s1; drop 0.4 is an identity here
        self.seen = {"pool5_7x7_s1": nhwc(x)}
        return self.loss3_classifier(x)


def caffe_alexnet_layers(model):
    """(ConvZoo name, module, kind, flatten_hw) in file order."""
    layers = [(f"conv{i}", getattr(model, f"conv{i}"), "conv", None) for i in range(1, 6)]
    layers.append(("fc6", model.fc6, "dense", model.spatial))
    return layers + [("fc7", model.fc7, "dense", None), ("fc8", model.fc8, "dense", None)]


def caffe_googlenet_layers(model):
    layers = [(n, getattr(model, n), "conv", None) for n in ["conv1_7x7_s2", "conv2_3x3_reduce", "conv2_3x3"]]
    for name, block in model.inceptions.items():
        for suffix, module in [("1x1", block.b1x1), ("3x3_reduce", block.b3x3_reduce), ("3x3", block.b3x3),
                               ("5x5_reduce", block.b5x5_reduce), ("5x5", block.b5x5),
                               ("pool_proj", block.pool_proj)]:
            layers.append((f"{name}_{suffix}", module, "conv", None))
    return layers + [("loss3_classifier", model.loss3_classifier, "dense", None)]


def caffe_weights(layers):
    """The converter's layout change applied to modules ConvZoo names directly."""
    out = []
    for name, module, kind, flatten_hw in layers:
        w = module.weight.detach().numpy()
        if kind == "conv":
            kernel = convert_torchvision.conv_kernel(w, name)
        else:
            kernel = convert_torchvision.dense_kernel(w, name, (flatten_hw, flatten_hw) if flatten_hw else None)
        out.append((name, [("kernel", np.ascontiguousarray(kernel, dtype=np.float32)),
                           ("bias", module.bias.detach().numpy().astype(np.float32))]))
    return out


# ---------------------------------------------------------------- seeded weights, torch

def init_torch(model, rng, calibration):
    """He-scaled random weights, random biases, and BatchNorm that is not the identity."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                scale = np.sqrt((1.0 if module is last_linear(model) else 2.0) / fan_in)
                module.weight.copy_(torch.from_numpy(rng.standard_normal(module.weight.shape) * scale))
                if module.bias is not None:
                    module.bias.copy_(torch.from_numpy(rng.normal(0, 0.05, module.bias.shape)))
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.from_numpy(rng.uniform(0.6, 1.4, module.weight.shape)))
                module.bias.copy_(torch.from_numpy(rng.normal(0, 0.1, module.bias.shape)))
        batch_norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        if batch_norms:
            # Statistics of a real batch keep activations in range through deep stacks; the
            # perturbation keeps them from being exactly the batch's.
            model.eval()
            for m in batch_norms:
                m.train()
                m.momentum = 1.0
            model(calibration)
            for m in batch_norms:
                m.momentum = 0.1
                std = m.running_var.sqrt()
                m.running_mean.add_(torch.from_numpy(rng.normal(0, 0.2, std.shape)).float() * std)
                m.running_var.mul_(torch.from_numpy(rng.uniform(0.6, 1.6, std.shape)).float())
    model.eval()


def last_linear(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def nhwc(t):
    t = t.detach()
    return (t.permute(0, 2, 3, 1) if t.dim() == 4 else t.flatten(1)).contiguous().numpy()


def run_torch(model, x_nhwc, taps):
    """Output and {tap: NHWC array}; `taps` maps a ConvZoo name to a module whose output it is."""
    seen = {}
    hooks = [module.register_forward_hook(lambda m, i, o, n=name: seen.__setitem__(n, nhwc(o.clone())))
             for name, module in taps.items()]
    with torch.no_grad():
        out = model(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous())
    for h in hooks:
        h.remove()
    return out.numpy(), seen


# ---------------------------------------------------------------- Keras twins

def keras_resnet50(d, classes, size, blocks=(3, 4, 6, 3), name="resnet50"):
    """keras.applications ResNet50/101/152 (v1) with filters divided by `d`: Keras's own stack code."""
    import keras
    from keras import layers
    from keras.src.applications.resnet import stack_residual_blocks_v1 as stack

    inputs = keras.Input((size, size, 3), name="input_layer")
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = layers.Conv2D(64 // d, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack(x, 64 // d, blocks[0], stride1=1, name="conv2")
    x = stack(x, 128 // d, blocks[1], name="conv3")
    x = stack(x, 256 // d, blocks[2], name="conv4")
    x = stack(x, 512 // d, blocks[3], name="conv5")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def keras_vgg(blocks, d, hidden, classes, size):
    """keras.applications VGG16/VGG19 with filters divided by `d` and `hidden` dense units."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3), name="input_layer")
    x = inputs
    for b, (count, filters) in enumerate(zip(blocks, [64, 128, 256, 512, 512]), start=1):
        for c in range(1, count + 1):
            x = layers.Conv2D(filters // d, (3, 3), activation="relu", padding="same", name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden, activation="relu", name="fc1")(x)
    x = layers.Dense(hidden, activation="relu", name="fc2")(x)
    x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=f"vgg{sum(blocks) + 3}")


def keras_lenet5(classes):
    """LeNet-5's usual modern form: ReLU, max pooling, full C3, dense softmax output."""
    import keras
    from keras import layers

    inputs = keras.Input((32, 32, 1), name="input_layer")
    x = layers.Conv2D(6, 5, activation="relu", name="c1")(inputs)
    x = layers.MaxPooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="relu", name="c3")(x)
    x = layers.MaxPooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation="relu", name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation="relu", name="f6")(x)
    x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="lenet5")


def init_keras(model, rng, calibration):
    import keras
    from keras import layers

    dense_layers = [l for l in model.layers if isinstance(l, layers.Dense)]
    batch_norms = []
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.Dense)):
            kernel = layer.kernel
            fan_in = int(np.prod(kernel.shape[:-1]))
            scale = np.sqrt((1.0 if layer is dense_layers[-1] else 2.0) / fan_in)
            values = [rng.standard_normal(kernel.shape) * scale]
            if layer.use_bias:
                values.append(rng.normal(0, 0.05, layer.bias.shape))
            layer.set_weights([v.astype(np.float32) for v in values])
        elif isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape
            layer.set_weights([rng.uniform(0.6, 1.4, n).astype(np.float32), rng.normal(0, 0.1, n).astype(np.float32),
                               np.zeros(n, np.float32), np.ones(n, np.float32)])
            batch_norms.append(layer)
    if not batch_norms:
        # Narrow ReLU stacks without BatchNorm drift towards zero (VGG19 at 2 filters reached a
        # near-uniform softmax); rescale each layer, in order, so its output has unit spread.
        for layer in model.layers:
            if isinstance(layer, (layers.Conv2D, layers.Dense)) and layer is not dense_layers[-1]:
                probe = keras.Model(model.inputs, layer.output)
                spread = float(np.std(keras.ops.convert_to_numpy(probe(calibration, training=False))))
                layer.set_weights([w / spread for w in layer.get_weights()])
    else:
        for layer in batch_norms:
            layer.momentum = 0.0  # moving statistics := this batch's
        model(calibration, training=True)
        for layer in batch_norms:
            layer.momentum = 0.99
            gamma, beta, mean, var = layer.get_weights()
            std = np.sqrt(var)
            mean = mean + rng.normal(0, 0.2, mean.shape) * std
            var = var * rng.uniform(0.6, 1.6, var.shape)
            layer.set_weights([gamma, beta, mean.astype(np.float32), var.astype(np.float32)])


def run_keras(model, x, taps):
    import keras

    if not taps:
        return keras.ops.convert_to_numpy(model(x, training=False)), {}
    probe = keras.Model(model.inputs, [model.output] + [model.get_layer(t).output for t in taps])
    values = [keras.ops.convert_to_numpy(v) for v in probe(x, training=False)]
    return values[0], dict(zip(taps, values[1:]))


def save_keras_weights(model, directory, legacy=True):
    from keras.src.legacy.saving import legacy_h5_format

    model.save_weights(os.path.join(directory, "weights.weights.h5"))
    if legacy:
        with h5py.File(os.path.join(directory, "weights.h5"), "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)


# ---------------------------------------------------------------- twins

def torch_twin(name, spec, build, taps, seed, size):
    rng = np.random.default_rng(seed)
    model = build()
    calibration = torch.from_numpy(rng.standard_normal((8, 3, size, size)).astype(np.float32))
    init_torch(model, rng, calibration)
    x = rng.standard_normal((BATCH, size, size, 3)).astype(np.float32)
    out, tapped = run_torch(model, x, taps(model))
    if "avg_pool" in tapped:  # Keras's GlobalAveragePooling2D gives (N, C), not (N, 1, 1, C)
        tapped["avg_pool"] = tapped["avg_pool"].reshape(BATCH, -1)
    directory = prepare(name)
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, f"{name}.pth")
        torch.save(model.state_dict(), pth)
        weights = os.path.join(directory, "weights.h5")
        subprocess.run([sys.executable, CONVERTER, "--arch", spec["architecture"], "--state-dict", pth,
                        "--out", weights, "--input-size", str(size)], check=True)
    verify_torch_roundtrip(spec["architecture"], build, weights, x, out)
    finish(directory, spec, x, out, tapped, model_parameters(model), activation="none",
           total=model_weights(model))


def verify_torch_roundtrip(arch, build, weights, x, expected):
    """The converted file, turned back into a state_dict, gives the same logits."""
    out, _ = run_torch(load_converted(arch, build, weights), x, {})
    assert np.array_equal(out, expected), f"{weights}: round trip changes the output"


def load_converted(arch, build, weights):
    """The torchvision model `build()` with the weights of a file convert_torchvision.py wrote."""
    model = build().eval()
    state = {}
    with h5py.File(weights, "r") as f:
        plan = {layer.name: layer for layer in convert_torchvision.layer_plan(arch)}
        for name in f.attrs["layer_names"]:
            layer = plan[name.decode()]
            group = f[layer.name]
            values = {n.decode().split("/")[-1][:-2]: group[n.decode()][()] for n in group.attrs["weight_names"]}
            p = layer.prefix
            if layer.kind == "bn":
                for theirs, ours in convert_torchvision.BN_KEYS:
                    state[f"{p}.{theirs}"] = values[ours]
                state[f"{p}.num_batches_tracked"] = np.array(0)
                continue
            kernel = values["kernel"]
            if layer.kind == "conv":
                state[f"{p}.weight"] = kernel.transpose(3, 2, 0, 1)
            elif layer.flatten_hw:
                h, w = layer.flatten_hw
                c = kernel.shape[0] // (h * w)
                state[f"{p}.weight"] = kernel.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(-1, c * h * w)
            else:
                state[f"{p}.weight"] = kernel.T
            if "bias" in values:
                state[f"{p}.bias"] = values["bias"]
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    return model


def keras_twin(name, spec, build, taps, seed, size, channels=3, legacy=True):
    rng = np.random.default_rng(seed)
    model = build()
    calibration = rng.standard_normal((8, size, size, channels)).astype(np.float32)
    init_keras(model, rng, calibration)
    x = rng.standard_normal((BATCH, size, size, channels)).astype(np.float32)
    out, tapped = run_keras(model, x, taps)
    directory = prepare(name)
    save_keras_weights(model, directory, legacy)
    for file in ["weights.weights.h5"] + (["weights.h5"] if legacy else []):
        fresh = build()
        fresh.load_weights(os.path.join(directory, file))
        again, _ = run_keras(fresh, x, [])
        assert np.array_equal(again, out), f"{name}/{file}: Keras does not reload it to the same output"
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(sum(np.prod(w.shape) for w in model.weights))
    finish(directory, spec, x, out, tapped, trainable,
           activation="softmax", total=total)


def caffe_twin(name, spec, build, layers_of, seed, size, pixel_scale, write=True):
    """Writes the twin's fixtures; with write=False only returns (model, input, logits), as
    tools/make_caffe_fixtures.py rebuilds the same seeded network to store it as a caffemodel."""
    rng = np.random.default_rng(seed)
    model = build()
    init_torch(model, rng, None)
    # Caffe's inputs are mean-subtracted pixels (about +-128), the scale at which its LRN matters.
    x = (rng.standard_normal((BATCH, size, size, 3)) * pixel_scale).astype(np.float32)
    logits, _ = run_torch(model, x, {})
    with torch.no_grad():  # pixel-scale inputs give logits in the tens: a one-hot softmax tests nothing
        classifier = last_linear(model)
        spread = float(np.std(logits)) / 2.0
        classifier.weight.div_(spread)
        classifier.bias.div_(spread)
    logits, _ = run_torch(model, x, {})
    tapped = dict(model.seen)  # the forward records its taps
    if not write:
        return model, x, logits
    model.lrn = False
    without_lrn, _ = run_torch(model, x, {})
    model.lrn = True
    effect = np.abs(without_lrn - logits).max() / np.abs(logits).max()
    assert effect > 1e-2, f"{name}: LRN changes the logits by only {effect:.1e}; the test would not see it"
    tapped[spec["logits_tap"]] = logits
    out = torch.softmax(torch.from_numpy(logits), 1).numpy()
    directory = prepare(name)
    attributes = convert_torchvision.convzoo_attributes(spec["architecture"], input_size=(size, size))
    attributes.update({"convzoo_variant": "caffe", "convzoo_preprocessing": "caffe",
                       "convzoo_transform": spec["transform"]})
    del attributes["convzoo_bn_epsilon"], attributes["convzoo_transform_input"]
    convert_torchvision.write_convzoo_h5(os.path.join(directory, "weights.h5"), caffe_weights(layers_of(model)),
                                         attributes)
    spec["lrn_effect_on_logits"] = round(float(effect), 4)
    finish(directory, spec, x, out, tapped, model_parameters(model), activation="softmax",
           total=model_weights(model))


def model_parameters(model):
    """torchvision's count: learnable parameters (ConvZoo's Trainable params)."""
    return int(sum(p.numel() for p in model.parameters()))


def model_weights(model):
    """Keras's count: every weight including BatchNorm's moving statistics (ConvZoo's Total params)."""
    return int(sum(v.numel() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")))


def prepare(name):
    directory = os.path.join(OUT, "lenet5-file" if name == "lenet5" else name)  # lenet5/ holds the engine-level fixtures
    os.makedirs(directory, exist_ok=True)
    for file in os.listdir(directory):
        os.remove(os.path.join(directory, file))
    return directory


def finish(directory, spec, x, out, tapped, trainable, activation, total=None):
    np.save(os.path.join(directory, "input.npy"), x.astype(np.float32))
    np.save(os.path.join(directory, "output.npy"), out.astype(np.float32))
    for tap, value in tapped.items():
        np.save(os.path.join(directory, f"tap_{tap}.npy"), value.astype(np.float32))
    spec.update({
        "input_shape": list(x.shape),
        "output": {"shape": list(out.shape), "activation": activation},
        "taps": {tap: list(value.shape) for tap, value in tapped.items()},
        "trainable_params": trainable,
        "files": sorted(os.listdir(directory)) + ["spec.json"],
    })
    if total is not None:
        spec["total_params"] = total
    with open(os.path.join(directory, "spec.json"), "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
    stats = ", ".join(f"{k} std {np.std(v):.3g}" for k, v in list(tapped.items()))
    print(f"{os.path.basename(directory)}: {size / 1024:.0f} KB; output {list(out.shape)} "
          f"std {np.std(out):.3g}, max {np.abs(out).max():.3g}; {stats}")


def resnet_twin(name, seed, d):
    blocks, bottleneck = convert_torchvision.RESNET_BLOCKS[name]
    width = 64 // d
    block = Bottleneck if bottleneck else BasicBlock
    spec = {"name": name, "architecture": name, "reference": "torchvision", "channel_divisor": d,
            "conv1_filters": width, "stage_planes": [width, width * 2, width * 4, width * 8],
            "block": "bottleneck" if bottleneck else "basic", "expansion": block.expansion,
            "block_counts": blocks, "classes": CLASSES, "bn_epsilon": 1e-5}
    torch_twin(name, spec, lambda: NarrowResNet(block, blocks, width, CLASSES),
               lambda m: {"pool1": m.maxpool, "avg_pool": m.avgpool}, seed, 32)


def vgg_bn_twin(name, seed, d, hidden, size):
    depth = 16 if name == "vgg16-bn" else 19
    cfg = [v if v == "M" else v // d for v in cfgs["D" if depth == 16 else "E"]]
    spec = {"name": name, "architecture": name, "reference": "torchvision", "channel_divisor": d,
            "block_filters": [64 // d, 128 // d, 256 // d, 512 // d, 512 // d],
            "block_counts": [2, 2, 3, 3, 3] if depth == 16 else [2, 2, 4, 4, 4],
            "hidden_units": hidden, "classes": CLASSES, "bn_epsilon": 1e-5, "adaptive_pool": [7, 7]}
    torch_twin(name, spec, lambda: NarrowVGG(make_layers(cfg, batch_norm=True), cfg[-2], hidden, CLASSES),
               lambda m: {"fc2": m.classifier[4]}, seed, size)


def alexnet_twin(seed, d, size):
    spec = {"name": "alexnet", "architecture": "alexnet", "reference": "torchvision", "channel_divisor": d,
            "conv_filters": [64 // d, 192 // d, 384 // d, 256 // d, 256 // d], "hidden_units": HIDDEN,
            "classes": CLASSES, "adaptive_pool": [6, 6]}
    torch_twin("alexnet", spec, lambda: NarrowAlexNet(d, HIDDEN, CLASSES), lambda m: {"fc7": m.classifier[5]},
               seed, size)


def googlenet_twin(seed, d, size):
    spec = {"name": "googlenet", "architecture": "googlenet", "reference": "torchvision",
            "channel_divisor": d, "rounding": "up",
            "stem_filters": [narrow(64, d), narrow(64, d), narrow(192, d)],
            "inceptions": narrow_inceptions(d),
            "inception_fields": ["in", "1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5 (a 3x3 kernel)", "pool_proj"],
            "classes": CLASSES, "bn_epsilon": 1e-3, "transform_input": False}
    torch_twin("googlenet", spec, lambda: NarrowGoogLeNet(d, CLASSES), lambda m: {"avg_pool": m.avgpool},
               seed, size)


def resnet50_keras_twin(seed, d, depth=50):
    """The deep ones (101, 152) keep only the Keras 3 file: Keras writes ~2.5 KB of HDF5 per layer."""
    name = f"resnet{depth}-keras"
    blocks = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}[depth]
    spec = {"name": name, "architecture": name, "reference": "keras", "channel_divisor": d,
            "conv1_filters": 64 // d, "stage_filters": [64 // d, 128 // d, 256 // d, 512 // d], "expansion": 4,
            "block_counts": blocks, "classes": CLASSES, "bn_epsilon": 1.001e-5}
    keras_twin(name, spec, lambda: keras_resnet50(d, CLASSES, 32, blocks, f"resnet{depth}"),
               ["pool1_pool", "conv2_block1_out", "avg_pool"], seed, 32, legacy=depth == 50)


def vgg_keras_twin(name, seed, d, size):
    blocks = [2, 2, 3, 3, 3] if name == "vgg16" else [2, 2, 4, 4, 4]
    spec = {"name": name, "architecture": name, "reference": "keras", "channel_divisor": d,
            "block_filters": [64 // d, 128 // d, 256 // d, 512 // d, 512 // d], "block_counts": blocks,
            "hidden_units": HIDDEN, "classes": CLASSES}
    keras_twin(name, spec, lambda: keras_vgg(blocks, d, HIDDEN, CLASSES, size),
               ["block5_pool", "fc1", "fc2"], seed, size)


def lenet5_twin(seed):
    spec = {"name": "lenet5", "architecture": "lenet5", "reference": "keras", "channel_divisor": 1,
            "form": "modern: ReLU, 2x2 max pooling, full C3 connectivity, dense softmax output",
            "filters": {"c1": 6, "c3": 16, "c5": 120}, "hidden_units": 84, "classes": CLASSES}
    keras_twin("lenet5", spec, lambda: keras_lenet5(CLASSES), ["s4", "c5", "f6"], seed, 32, channels=1)


def alexnet_caffe_twin(seed, d, size, write=True):
    # pool5 output side for this input (Caffe rounds pool sizes up)
    side = size
    side = (side - 11) // 4 + 1
    for _ in range(3):
        side = -(-(side - 3) // 2) + 1
    spec = {"name": "alexnet-caffe", "architecture": "alexnet-caffe",
            "reference": "caffe bvlc_alexnet, built in PyTorch", "channel_divisor": d,
            "conv_filters": [96 // d, 256 // d, 384 // d, 384 // d, 256 // d],
            "groups": {"conv2": 2, "conv4": 2, "conv5": 2}, "lrn": {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0},
            "hidden_units": HIDDEN, "classes": CLASSES, "pool5_shape": [side, side],
            "transform": "resize256-crop227", "logits_tap": "fc8"}

    def build():
        model = CaffeAlexNet(d, HIDDEN, CLASSES, side)
        model.spatial = side
        return model

    return caffe_twin("alexnet-caffe", spec, build, caffe_alexnet_layers, seed, size, pixel_scale=60.0, write=write)


def googlenet_caffe_twin(seed, d, size, write=True):
    spec = {"name": "googlenet-caffe", "architecture": "googlenet-caffe",
            "reference": "caffe bvlc_googlenet (Inception v1 paper), built in PyTorch",
            "channel_divisor": d, "rounding": "up",
            "stem_filters": [narrow(64, d), narrow(64, d), narrow(192, d)],
            "inceptions": {"inception_" + n[len("inception"):]: v for n, v in narrow_inceptions(d).items()},
            "inception_fields": ["in", "1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj"],
            "lrn": {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0}, "pool4": "3x3/2 ceil",
            "pool5": "global average (Caffe's 7x7/1 average at 224)", "classes": CLASSES,
            "transform": "resize256-crop224", "logits_tap": "loss3_classifier"}
    return caffe_twin("googlenet-caffe", spec, lambda: CaffeGoogLeNet(d, CLASSES), caffe_googlenet_layers, seed, size,
                      pixel_scale=60.0, write=write)


# Name -> how it is made: seed, channel divisor, input side. Divisors are chosen for size: the
# random float32 weights do not compress, and HDF5 adds about 2.5 KB per layer whatever its width.
TWINS = {
    "resnet18": lambda: resnet_twin("resnet18", 18, d=16),
    "resnet34": lambda: resnet_twin("resnet34", 34, d=32),
    "resnet50": lambda: resnet_twin("resnet50", 50, d=32),
    "resnet101": lambda: resnet_twin("resnet101", 101, d=64),
    "resnet152": lambda: resnet_twin("resnet152", 152, d=64),
    "resnet50-keras": lambda: resnet50_keras_twin(5050, d=32),
    "resnet101-keras": lambda: resnet50_keras_twin(101101, d=64, depth=101),
    "resnet152-keras": lambda: resnet50_keras_twin(152152, d=64, depth=152),
    "vgg16": lambda: vgg_keras_twin("vgg16", 16, d=32, size=64),
    "vgg19": lambda: vgg_keras_twin("vgg19", 19, d=32, size=32),
    "vgg16-bn": lambda: vgg_bn_twin("vgg16-bn", 1616, d=32, hidden=32, size=64),
    "vgg19-bn": lambda: vgg_bn_twin("vgg19-bn", 1919, d=32, hidden=32, size=32),
    "googlenet": lambda: googlenet_twin(22, d=16, size=64),
    "alexnet": lambda: alexnet_twin(7, d=16, size=63),
    "lenet5": lambda: lenet5_twin(5),
    "alexnet-caffe": lambda write=True: alexnet_caffe_twin(227, d=16, size=71, write=write),
    "googlenet-caffe": lambda write=True: googlenet_caffe_twin(224, d=16, size=64, write=write),
}
DEFAULT_TWINS = list(TWINS)


def main(names):
    torch.manual_seed(0)
    for name in names or DEFAULT_TWINS:
        if name not in TWINS:
            sys.exit(f"unknown twin {name!r}; known: {', '.join(TWINS)}")
        TWINS[name]()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"Tests/Fixtures/zoo: {total / 1024:.0f} KB in all")


if __name__ == "__main__":
    main(sys.argv[1:])
