#!/usr/bin/env python3
"""Writes PyTorch and safetensors files of the torchvision twins, by the real writers, for the
Swift readers' parity and bad-file tests.

    python3 tools/make_foreign_fixtures.py      (after tools/make_zoo_fixtures.py)

Each twin is rebuilt exactly as tools/make_zoo_fixtures.py builds it (same seed, same
initialization), and its PyTorch output on Tests/Fixtures/zoo/<twin>/input.npy is checked to
equal that directory's output.npy, the reference the Swift tests compare against. Written to
Tests/Fixtures/foreign/:
  resnet50.pth              torch.save(state_dict) in the zip format
  resnet34-legacy.pth       torch.save(..., _use_new_zipfile_serialization=False), a checkpoint
                            {"state_dict": {"module." + key: tensor}, "epoch": 3}
  alexnet-checkpoint.pth    zip format, {"model": state_dict} with a transposed (non-contiguous)
                            classifier.6.weight stored as the transpose of a contiguous tensor
  googlenet.safetensors     safetensors.torch.save_file(state_dict)
  vgg16-bn-timm.safetensors the vgg16-bn twin under timm's VGG keys and shapes (pre_logits.fc1 a
                            (hidden, C, 7, 7) convolution, pre_logits.fc2 (hidden, hidden, 1, 1),
                            head.fc); timm's own VGG fixes 4096 hidden units, too big for a twin,
                            so the reference output is the torchvision twin's
  evil.pth                  a zip pickle whose __reduce__ calls os.system (to touch a file):
                            the reader must refuse it and create nothing
  module.pth                a whole pickled nn.Module (refused: save a state_dict)
  storage-past-record.pth   a zip whose pickle says its storage holds 1000 floats; the record has 4
  tensor-past-storage.pth   a zip whose tensor of shape (10,) views a storage of 4 floats
(the last two are written by Python's pickle and zipfile the way torch.save lays them out)
"""
import io
import os
import pickle
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_zoo_fixtures as zoo  # noqa: E402  (the twins' builders and initialization)

OUT = os.path.join(os.path.dirname(HERE), "Tests", "Fixtures", "foreign")


def resnet(name, d):
    blocks, bottleneck = zoo.convert_torchvision.RESNET_BLOCKS[name]
    block = zoo.Bottleneck if bottleneck else zoo.BasicBlock
    return lambda: zoo.NarrowResNet(block, blocks, 64 // d, zoo.CLASSES)


def vgg_bn(d, hidden):
    cfg = [v if v == "M" else v // d for v in zoo.cfgs["D"]]
    return lambda: zoo.NarrowVGG(zoo.make_layers(cfg, batch_norm=True), cfg[-2], hidden, zoo.CLASSES)


# twin -> (seed, builder, input side), as make_zoo_fixtures.TWINS makes them.
TWINS = {
    "resnet50": (50, resnet("resnet50", 32), 32),
    "resnet34": (34, resnet("resnet34", 32), 32),
    "alexnet": (7, lambda: zoo.NarrowAlexNet(16, zoo.HIDDEN, zoo.CLASSES), 63),
    "googlenet": (22, lambda: zoo.NarrowGoogLeNet(16, zoo.CLASSES), 64),
    "vgg16-bn": (1616, vgg_bn(32, 32), 64),
}


def twin(name):
    """The twin's model, initialized as make_zoo_fixtures does, after checking its output."""
    seed, build, size = TWINS[name]
    rng = np.random.default_rng(seed)
    model = build()
    calibration = torch.from_numpy(rng.standard_normal((8, 3, size, size)).astype(np.float32))
    zoo.init_torch(model, rng, calibration)
    directory = os.path.join(zoo.OUT, name)
    x = np.load(os.path.join(directory, "input.npy"))
    out, _ = zoo.run_torch(model, x, {})
    expected = np.load(os.path.join(directory, "output.npy"))
    assert np.array_equal(out, expected), f"{name}: the rebuilt twin does not give {directory}/output.npy"
    return model


class Evil:
    def __reduce__(self):
        return (os.system, ("touch convzoo-pwned",))


def lying_zip(path, numel, size):
    """A torch.save-style zip with one float32 storage of 4 elements, whose pickle claims `numel`
    elements and views them as a tensor of shape (`size`,)."""

    class Storage:  # pickled through persistent_id, as torch.save does
        pass

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel) if isinstance(obj, Storage) else None

    buffer = io.BytesIO()
    state = OrderedDict(w=(torch._utils._rebuild_tensor_v2, (Storage(), 0, (size,), (1,), False, OrderedDict())))

    class Reduced:
        def __init__(self, f, args):
            self.f, self.args = f, args

        def __reduce__(self):
            return (self.f, self.args)

    Pickler(buffer, protocol=2).dump(OrderedDict((k, Reduced(*v)) for k, v in state.items()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buffer.getvalue())
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", np.arange(4, dtype=np.float32).tobytes())
        z.writestr("archive/version", "3\n")


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    path = lambda n: os.path.join(OUT, n)  # noqa: E731

    torch.save(twin("resnet50").state_dict(), path("resnet50.pth"))

    state = {"module." + k: v for k, v in twin("resnet34").state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, path("resnet34-legacy.pth"), _use_new_zipfile_serialization=False)

    state = twin("alexnet").state_dict()
    state["classifier.6.weight"] = state["classifier.6.weight"].t().contiguous().t()
    assert not state["classifier.6.weight"].is_contiguous()
    torch.save({"model": state, "epoch": 1}, path("alexnet-checkpoint.pth"))

    save_file(twin("googlenet").state_dict(), path("googlenet.safetensors"))

    state = twin("vgg16-bn").state_dict()
    hidden, flat = state["classifier.0.weight"].shape
    channels = flat // 49
    timm = {k: v for k, v in state.items() if k.startswith("features.")}
    timm["pre_logits.fc1.weight"] = state["classifier.0.weight"].reshape(hidden, channels, 7, 7)
    timm["pre_logits.fc1.bias"] = state["classifier.0.bias"]
    timm["pre_logits.fc2.weight"] = state["classifier.3.weight"].reshape(hidden, hidden, 1, 1)
    timm["pre_logits.fc2.bias"] = state["classifier.3.bias"]
    timm["head.fc.weight"] = state["classifier.6.weight"]
    timm["head.fc.bias"] = state["classifier.6.bias"]
    save_file({k: v.contiguous() for k, v in timm.items()}, path("vgg16-bn-timm.safetensors"))

    torch.save({"conv.weight": torch.zeros(1), "payload": Evil()}, path("evil.pth"))
    torch.save(torch.nn.Linear(2, 2), path("module.pth"))
    lying_zip(path("storage-past-record.pth"), numel=1000, size=4)
    lying_zip(path("tensor-past-storage.pth"), numel=4, size=10)
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(path(name)) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
