#!/usr/bin/env python3
"""Writes Caffe .caffemodel fixtures from caffe.proto's field numbers, without Caffe.

    python3 tools/make_caffe_fixtures.py

The twins are tools/make_zoo_fixtures.py's Caffe networks built in PyTorch, rebuilt here from the
same seeds (and checked to reproduce that script's Tests/Fixtures/zoo/<twin>/output.npy exactly),
so a caffemodel's expected outputs are the zoo fixture's own PyTorch outputs. Their weights are
written as Caffe stores them: convolutions (out, in/groups, kh, kw), inner products (out, in) with
fc6's input in Caffe's (C, H, W) flatten order, biases (out,). Into Tests/Fixtures/caffe/:

  alexnet-caffe.caffemodel      V2 NetParameter: `layer` (100), string types, BlobShape, packed data,
                                a train_val-like layer list (Data, ReLU, LRN, ..., Accuracy, SoftmaxWithLoss)
  alexnet-caffe-v1.caffemodel   V1 NetParameter: `layers` (2), enum types, 4-D num/channels/height/width
                                dims (fc weights (1, 1, out, in), biases (1, 1, 1, out)); conv1's weights
                                unpacked (one field per float), fc8's weights and conv3's bias as
                                `double_data`, the rest packed floats
  googlenet-caffe.caffemodel    V2, with bvlc_googlenet's `/` names and its auxiliary classifiers
                                (loss1/*, loss2/*: seeded random weights, not in the inference model)
  googlenet-caffe-predict.npy   (images, 10) float32: the googlenet twin's softmax for PREDICT_IMAGES as
                                `zoo predict` must print it: torchvision's Resize(256) and CenterCrop(224)
                                (the transform the googlenet-caffe model records), then Keras's caffe
                                preprocessing (RGB -> BGR, minus the ImageNet BGR means), by PyTorch
  bad/*.caffemodel              damaged files, weights zeroed (git compresses them to almost nothing):
    wrong-blob-count            alexnet-caffe with conv2's bias blob missing
    wrong-blob-shape            alexnet-caffe whose conv1 weights are (6, 3, 5, 5), not (6, 3, 11, 11)
    v0                          the pre-2014 V0 form: `layers { layer { name type blobs } }`
    absurd-length               a layer whose length varint says 2^62 bytes
    overlong-varint             a layer length written as an 11-byte varint
    absurd-shape                a blob shape dim of 2^40
    shape-count-mismatch        a blob whose shape says 363 values and which stores 10

Each twin file is read back by Google's protobuf runtime (message types declared here with the same
field numbers and types) and every weight compared with PyTorch's before it is written.

Field numbers (BVLC/caffe src/caffe/proto/caffe.proto): NetParameter name 1, layers 2, layer 100;
LayerParameter name 1, type 2, bottom 3, top 4, param 6, blobs 7, convolution_param 106;
V1LayerParameter layer 1 (V0), bottom 2, top 3, name 4, type 5, blobs 6, blobs_lr 7;
V0LayerParameter name 1, type 2, blobs 50; BlobProto num 1, channels 2, height 3, width 4, data 5,
shape 7, double_data 8; BlobShape dim 1 (packed).
"""
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "Tests", "Fixtures", "caffe")
ZOO = os.path.join(ROOT, "Tests", "Fixtures", "zoo")
sys.path.insert(0, HERE)
import make_zoo_fixtures as zoo  # noqa: E402  (the PyTorch builds of the Caffe networks)

# ---------------------------------------------------------------- wire format


def varint(n):
    n &= (1 << 64) - 1  # int64 negatives are 10-byte varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def length_delimited(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def integer(field, n):
    return key(field, 0) + varint(n)


def text(field, s):
    return length_delimited(field, s.encode())


def fixed_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


# ---------------------------------------------------------------- Caffe messages

V1_TYPES = {"Data": 5, "Convolution": 4, "ReLU": 18, "LRN": 15, "Pooling": 17, "InnerProduct": 14,
            "Dropout": 6, "Accuracy": 1, "SoftmaxWithLoss": 21, "Concat": 3}


def blob(values, shape, legacy=False, encoding="packed"):
    """A BlobProto, fields in number order as protobuf's C++ serializer writes them."""
    values = np.ascontiguousarray(values).reshape(-1)
    out = b""
    if legacy:  # num 1, channels 2, height 3, width 4
        for i, d in enumerate(shape, start=1):
            out += integer(i, d)
    if encoding == "packed":
        out += length_delimited(5, values.astype("<f4").tobytes())
    elif encoding == "unpacked":
        out += b"".join(fixed_float(5, v) for v in values.astype(np.float32))
    if not legacy:
        out += length_delimited(7, length_delimited(1, b"".join(varint(d) for d in shape)))
    if encoding == "double":
        out += length_delimited(8, values.astype("<f8").tobytes())
    return out


def layer_v2(name, type_, bottom, top, blobs=()):
    out = text(1, name) + text(2, type_) + text(3, bottom) + text(4, top)
    if blobs:
        # param { lr_mult: 1 decay_mult: 1 } per blob, and a convolution_param: fields to skip.
        out += b"".join(length_delimited(6, fixed_float(3, 1.0) + fixed_float(4, 1.0)) for _ in blobs)
        out += b"".join(length_delimited(7, b) for b in blobs)
        if type_ == "Convolution":
            out += length_delimited(106, integer(1, 1) + integer(5, 1))
    return length_delimited(100, out)


def layer_v1(name, type_, bottom, top, blobs=()):
    out = text(2, bottom) + text(3, top) + text(4, name) + integer(5, V1_TYPES[type_])
    out += b"".join(length_delimited(6, b) for b in blobs)
    out += b"".join(fixed_float(7, 1.0) for _ in blobs)  # blobs_lr
    return length_delimited(2, out)


def net(name, layers):
    return text(1, name) + b"".join(layers)


# ---------------------------------------------------------------- the twins' layer lists


def alexnet_layers(model, v1=False, zero=False, drop_conv2_bias=False, conv1_shape=None, varied=True):
    """bvlc_alexnet's train_val order, weights from the PyTorch twin; a V1 file with `varied` stores
    conv1's weights unpacked and fc8's weights and conv3's bias as double_data."""
    def weights(module, name):
        w = module.weight.detach().numpy().astype(np.float32)
        b = module.bias.detach().numpy().astype(np.float32)
        if zero:
            w, b = np.zeros_like(w), np.zeros_like(b)
        if name == "conv1" and conv1_shape is not None:
            w = np.zeros(conv1_shape, np.float32)
        varied_v1 = v1 and varied
        encoding_w = "unpacked" if varied_v1 and name == "conv1" else "double" if varied_v1 and name == "fc8" else "packed"
        encoding_b = "double" if varied_v1 and name == "conv3" else "packed"
        w_shape = list(w.shape) if not v1 or w.ndim == 4 else [1, 1] + list(w.shape)
        b_shape = [len(b)] if not v1 else [1, 1, 1, len(b)]
        blobs = [blob(w, w_shape, legacy=v1, encoding=encoding_w)]
        if not (drop_conv2_bias and name == "conv2"):
            blobs.append(blob(b, b_shape, legacy=v1, encoding=encoding_b))
        return blobs

    make = layer_v1 if v1 else layer_v2
    out = [make("data", "Data", "", "data")]
    previous = "data"
    for i in range(1, 6):
        conv = f"conv{i}"
        out.append(make(conv, "Convolution", previous, conv, weights(getattr(model, conv), conv)))
        out.append(make(f"relu{i}", "ReLU", conv, conv))
        previous = conv
        if i in (1, 2):
            out += [make(f"norm{i}", "LRN", conv, f"norm{i}"), make(f"pool{i}", "Pooling", f"norm{i}", f"pool{i}")]
            previous = f"pool{i}"
    out.append(make("pool5", "Pooling", "conv5", "pool5"))
    previous = "pool5"
    for fc in ["fc6", "fc7", "fc8"]:
        out.append(make(fc, "InnerProduct", previous, fc, weights(getattr(model, fc), fc)))
        previous = fc
        if fc != "fc8":
            n = fc[2]
            out += [make(f"relu{n}", "ReLU", fc, fc), make(f"drop{n}", "Dropout", fc, fc)]
    out += [make("accuracy", "Accuracy", "fc8", "accuracy"), make("loss", "SoftmaxWithLoss", "fc8", "loss")]
    return out


def conv_blobs(module):
    w = module.weight.detach().numpy().astype(np.float32)
    b = module.bias.detach().numpy().astype(np.float32)
    return [blob(w, list(w.shape)), blob(b, [len(b)])]


def auxiliary_classifier(rng, n, bottom, channels, d):
    """loss{n}/*: 5x5/3 average pool, 1x1 conv to 128, fc 1024, classifier; weights seeded random."""
    conv, fc = zoo.narrow(128, d), zoo.narrow(1024, d)
    def dense(out_features, in_features):
        return [blob(rng.standard_normal((out_features, in_features)).astype(np.float32), [out_features, in_features]),
                blob(rng.standard_normal(out_features).astype(np.float32), [out_features])]
    w = rng.standard_normal((conv, channels, 1, 1)).astype(np.float32)
    b = rng.standard_normal(conv).astype(np.float32)
    p = f"loss{n}"
    return [layer_v2(f"{p}/ave_pool", "Pooling", bottom, f"{p}/ave_pool"),
            layer_v2(f"{p}/conv", "Convolution", f"{p}/ave_pool", f"{p}/conv", [blob(w, list(w.shape)), blob(b, [conv])]),
            layer_v2(f"{p}/relu_conv", "ReLU", f"{p}/conv", f"{p}/conv"),
            layer_v2(f"{p}/fc", "InnerProduct", f"{p}/conv", f"{p}/fc", dense(fc, conv * 4 * 4)),
            layer_v2(f"{p}/relu_fc", "ReLU", f"{p}/fc", f"{p}/fc"),
            layer_v2(f"{p}/drop_fc", "Dropout", f"{p}/fc", f"{p}/fc"),
            layer_v2(f"{p}/classifier", "InnerProduct", f"{p}/fc", f"{p}/classifier", dense(zoo.CLASSES, fc)),
            layer_v2(f"{p}/loss", "SoftmaxWithLoss", f"{p}/classifier", f"{p}/loss1")]


def googlenet_layers(model, d):
    """bvlc_googlenet's train_val order and `/` names, with its two auxiliary classifiers."""
    rng = np.random.default_rng(2014)
    out = [layer_v2("data", "Data", "", "data"),
           layer_v2("conv1/7x7_s2", "Convolution", "data", "conv1/7x7_s2", conv_blobs(model.conv1_7x7_s2)),
           layer_v2("conv1/relu_7x7", "ReLU", "conv1/7x7_s2", "conv1/7x7_s2"),
           layer_v2("pool1/3x3_s2", "Pooling", "conv1/7x7_s2", "pool1/3x3_s2"),
           layer_v2("pool1/norm1", "LRN", "pool1/3x3_s2", "pool1/norm1"),
           layer_v2("conv2/3x3_reduce", "Convolution", "pool1/norm1", "conv2/3x3_reduce",
                    conv_blobs(model.conv2_3x3_reduce)),
           layer_v2("conv2/relu_3x3_reduce", "ReLU", "conv2/3x3_reduce", "conv2/3x3_reduce"),
           layer_v2("conv2/3x3", "Convolution", "conv2/3x3_reduce", "conv2/3x3", conv_blobs(model.conv2_3x3)),
           layer_v2("conv2/relu_3x3", "ReLU", "conv2/3x3", "conv2/3x3"),
           layer_v2("conv2/norm2", "LRN", "conv2/3x3", "conv2/norm2"),
           layer_v2("pool2/3x3_s2", "Pooling", "conv2/norm2", "pool2/3x3_s2")]
    previous = "pool2/3x3_s2"
    blocks = zoo.narrow_inceptions(d)
    for name, block in model.inceptions.items():
        for suffix, module in [("1x1", block.b1x1), ("3x3_reduce", block.b3x3_reduce), ("3x3", block.b3x3),
                               ("5x5_reduce", block.b5x5_reduce), ("5x5", block.b5x5)]:
            source = f"{name}/{suffix}_reduce".replace("_reduce_reduce", "_reduce") if suffix in ("3x3", "5x5") else previous
            out.append(layer_v2(f"{name}/{suffix}", "Convolution", source, f"{name}/{suffix}", conv_blobs(module)))
            out.append(layer_v2(f"{name}/relu_{suffix}", "ReLU", f"{name}/{suffix}", f"{name}/{suffix}"))
        out.append(layer_v2(f"{name}/pool", "Pooling", previous, f"{name}/pool"))
        out.append(layer_v2(f"{name}/pool_proj", "Convolution", f"{name}/pool", f"{name}/pool_proj",
                            conv_blobs(block.pool_proj)))
        out.append(layer_v2(f"{name}/relu_pool_proj", "ReLU", f"{name}/pool_proj", f"{name}/pool_proj"))
        out.append(layer_v2(f"{name}/output", "Concat", f"{name}/1x1", f"{name}/output"))
        previous = f"{name}/output"
        widths = blocks["inception" + name[len("inception_"):]]
        channels = widths[1] + widths[3] + widths[5] + widths[6]
        if name == "inception_3b":
            out.append(layer_v2("pool3/3x3_s2", "Pooling", previous, "pool3/3x3_s2"))
            previous = "pool3/3x3_s2"
        if name == "inception_4a":
            out += auxiliary_classifier(rng, 1, previous, channels, d)
        if name == "inception_4d":
            out += auxiliary_classifier(rng, 2, previous, channels, d)
        if name == "inception_4e":
            out.append(layer_v2("pool4/3x3_s2", "Pooling", previous, "pool4/3x3_s2"))
            previous = "pool4/3x3_s2"
    w = model.loss3_classifier.weight.detach().numpy().astype(np.float32)
    b = model.loss3_classifier.bias.detach().numpy().astype(np.float32)
    out += [layer_v2("pool5/7x7_s1", "Pooling", previous, "pool5/7x7_s1"),
            layer_v2("pool5/drop_7x7_s1", "Dropout", "pool5/7x7_s1", "pool5/7x7_s1"),
            layer_v2("loss3/classifier", "InnerProduct", "pool5/7x7_s1", "loss3/classifier",
                     [blob(w, list(w.shape)), blob(b, [len(b)])]),
            layer_v2("loss3/loss3", "SoftmaxWithLoss", "loss3/classifier", "loss3/loss3")]
    return out


# ---------------------------------------------------------------- independent check


def google_protobuf_classes():
    """NetParameter and its path to the blobs, declared with caffe.proto's field numbers and types
    for Google's own protobuf runtime, which then decodes what this script wrote."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    F = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(name="caffe_subset.proto", package="caffe", syntax="proto2")

    def message(name, fields):
        m = f.message_type.add(name=name)
        for field_name, number, type_, label, extra in fields:
            d = m.field.add(name=field_name, number=number, type=type_, label=label, **extra)
            if extra.get("type_name") is None and label == F.LABEL_REPEATED and type_ in (F.TYPE_FLOAT, F.TYPE_DOUBLE, F.TYPE_INT64):
                d.options.packed = field_name in ("data", "double_data", "dim")
    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    msg = lambda n: {"type_name": ".caffe." + n}
    message("BlobShape", [("dim", 1, F.TYPE_INT64, rep, {})])
    message("BlobProto", [("shape", 7, F.TYPE_MESSAGE, opt, msg("BlobShape")), ("data", 5, F.TYPE_FLOAT, rep, {}),
                          ("double_data", 8, F.TYPE_DOUBLE, rep, {}), ("num", 1, F.TYPE_INT64, opt, {}),
                          ("channels", 2, F.TYPE_INT64, opt, {}), ("height", 3, F.TYPE_INT64, opt, {}),
                          ("width", 4, F.TYPE_INT64, opt, {})])
    message("LayerParameter", [("name", 1, F.TYPE_STRING, opt, {}), ("type", 2, F.TYPE_STRING, opt, {}),
                               ("bottom", 3, F.TYPE_STRING, rep, {}), ("top", 4, F.TYPE_STRING, rep, {}),
                               ("blobs", 7, F.TYPE_MESSAGE, rep, msg("BlobProto"))])
    message("V1LayerParameter", [("bottom", 2, F.TYPE_STRING, rep, {}), ("top", 3, F.TYPE_STRING, rep, {}),
                                 ("name", 4, F.TYPE_STRING, opt, {}), ("type", 5, F.TYPE_INT32, opt, {}),
                                 ("blobs", 6, F.TYPE_MESSAGE, rep, msg("BlobProto"))])
    message("NetParameter", [("name", 1, F.TYPE_STRING, opt, {}),
                             ("layers", 2, F.TYPE_MESSAGE, rep, msg("V1LayerParameter")),
                             ("layer", 100, F.TYPE_MESSAGE, rep, msg("LayerParameter"))])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))


def check_with_google_protobuf(data, model, v1):
    """Google's parser reads the file back: names, V1 types, shapes and every weight value."""
    net = google_protobuf_classes()()
    net.ParseFromString(data)
    layers = net.layers if v1 else net.layer
    stored = {l.name: l for l in layers if len(l.blobs)}
    modules = {n: m for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    for name, layer in stored.items():
        module = modules.get(name) or modules.get("inceptions." + name.replace("/", ".b", 1)
                                                  .replace(".bpool_proj", ".pool_proj")) or modules.get(name.replace("/", "_"))
        if module is None:
            assert name.startswith(("loss1/", "loss2/")), name  # the auxiliary classifiers are random
            continue
        for blob, value in zip(layer.blobs, [module.weight, module.bias]):
            values = np.array(blob.double_data if len(blob.double_data) else blob.data, np.float32)
            dims = [blob.num, blob.channels, blob.height, blob.width] if v1 else list(blob.shape.dim)
            assert int(np.prod(dims)) == value.numel(), f"{name}: shape {dims}"
            assert np.array_equal(values, value.detach().numpy().reshape(-1).astype(np.float32)), name
    if v1:
        assert {l.type for l in layers} <= set(V1_TYPES.values())


# ---------------------------------------------------------------- output

PREDICT_IMAGES = ["images/rgb.png", "images/gray.png"]
CAFFE_BGR_MEANS = np.array([103.939, 116.779, 123.68], np.float32)


def predict_reference(model):
    """The twin's probabilities for each image through the googlenet-caffe model's pipeline."""
    from PIL import Image
    from torchvision import transforms
    crop = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    fixtures = os.path.dirname(ZOO)
    x = np.stack([np.asarray(crop(Image.open(os.path.join(fixtures, p)).convert("RGB")), np.float32)[..., ::-1]
                  - CAFFE_BGR_MEANS for p in PREDICT_IMAGES])
    logits, _ = zoo.run_torch(model, np.ascontiguousarray(x, dtype=np.float32), {})
    p = torch.softmax(torch.from_numpy(logits), 1).numpy()
    top = np.sort(p, axis=1)[:, ::-1]
    assert (top[:, :5] - top[:, 1:6]).min() > 1e-3, "top probabilities too close to print in a stable order"
    return p.astype(np.float32)


def rebuilt(name):
    """The zoo twin's PyTorch model, checked to give that fixture's own output bit for bit."""
    model, x, logits = zoo.TWINS[name](write=False)
    expected_input = np.load(os.path.join(ZOO, name, "input.npy"))
    expected = np.load(os.path.join(ZOO, name, "output.npy"))
    out = torch.softmax(torch.from_numpy(logits), 1).numpy()
    assert np.array_equal(x, expected_input), f"{name}: the rebuilt twin's input differs from the fixture's"
    assert np.array_equal(out, expected), f"{name}: the rebuilt twin's output differs from the fixture's"
    return model


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{os.path.relpath(path, ROOT)}: {len(data)} bytes")


def main():
    torch.manual_seed(0)
    alexnet = rebuilt("alexnet-caffe")
    googlenet = rebuilt("googlenet-caffe")
    for file, model, data, v1 in [
            ("alexnet-caffe.caffemodel", alexnet, net("AlexNet", alexnet_layers(alexnet)), False),
            ("alexnet-caffe-v1.caffemodel", alexnet, net("AlexNet", alexnet_layers(alexnet, v1=True)), True),
            ("googlenet-caffe.caffemodel", googlenet, net("GoogleNet", googlenet_layers(googlenet, d=16)), False)]:
        check_with_google_protobuf(data, model, v1)
        write(os.path.join(OUT, file), data)

    np.save(os.path.join(OUT, "googlenet-caffe-predict.npy"), predict_reference(googlenet))

    bad = os.path.join(OUT, "bad")
    write(os.path.join(bad, "wrong-blob-count.caffemodel"),
          net("AlexNet", alexnet_layers(alexnet, zero=True, drop_conv2_bias=True)))
    c1 = alexnet.conv1.weight.shape
    write(os.path.join(bad, "wrong-blob-shape.caffemodel"),
          net("AlexNet", alexnet_layers(alexnet, zero=True, conv1_shape=(c1[0], c1[1], 5, 5))))
    v0_layer = text(1, "conv1") + text(2, "conv") + length_delimited(50, blob(np.zeros(6), [6]))
    write(os.path.join(bad, "v0.caffemodel"),
          net("CaffeNet", [length_delimited(2, length_delimited(1, v0_layer) + text(2, "data") + text(3, "conv1"))]))
    conv1 = text(1, "conv1") + text(2, "Convolution")
    write(os.path.join(bad, "absurd-length.caffemodel"),
          text(1, "AlexNet") + key(100, 2) + varint(1 << 62) + conv1)
    write(os.path.join(bad, "overlong-varint.caffemodel"),
          text(1, "AlexNet") + key(100, 2) + bytes([0x80] * 10 + [0x01]) + conv1)
    huge = length_delimited(7, length_delimited(1, varint(1 << 40) + varint(3)))
    write(os.path.join(bad, "absurd-shape.caffemodel"),
          net("AlexNet", [length_delimited(100, conv1 + length_delimited(7, huge))]))
    mismatch = blob(np.zeros(10), [3, 11, 11])
    write(os.path.join(bad, "shape-count-mismatch.caffemodel"),
          net("AlexNet", [length_delimited(100, conv1 + length_delimited(7, mismatch))]))


if __name__ == "__main__":
    main()
